//! `wasi-hw coldstart`: runs a module N times as fresh processes (`wasi-hw run --timings`)
//! and prints the median and p90 of each phase and of the whole process, optionally beside
//! a native command run as many times, interleaved, as a ratio. Meant for the gateway
//! itself: a user measures their own driver's start on their own router.

use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::timings;

#[derive(Args, Debug)]
pub struct ColdstartArgs {
    /// How many runs of each.
    #[arg(short = 'n', long, default_value_t = 20)]
    pub runs: usize,
    /// A native command to compare with, e.g. `--native "/usr/bin/sensor --once"`
    /// (split at spaces; run as many times as the module, interleaved).
    #[arg(long, value_name = "COMMAND")]
    pub native: Option<String>,
    /// What `wasi-hw run` gets: grants, options, the module and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub run_args: Vec<String>,
}

/// Median and 90th percentile of `values` (sorted in place).
fn median_p90(values: &mut [f64]) -> (f64, f64) {
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.9))
}

/// Runs `program args` with its output discarded; the wall time in µs and its stderr.
fn timed(program: &str, args: &[String]) -> Result<(f64, String, bool)> {
    let start = Instant::now();
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("cannot run {program}"))?;
    let us = start.elapsed().as_secs_f64() * 1e6;
    Ok((
        us,
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.success(),
    ))
}

pub fn coldstart(args: ColdstartArgs) -> Result<String> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let me = std::env::current_exe().context("cannot find this binary")?;
    let me = me.to_string_lossy().into_owned();
    let mut run = vec!["run".to_string(), "--timings".to_string()];
    run.extend(args.run_args.iter().cloned());
    let native: Option<Vec<String>> = args
        .native
        .as_ref()
        .map(|c| c.split_whitespace().map(str::to_string).collect());
    if native.as_ref().is_some_and(Vec::is_empty) {
        bail!("--native needs a command");
    }

    let mut phases: Vec<(String, Vec<f64>)> = Vec::new();
    let mut process = Vec::new();
    let mut native_process = Vec::new();
    for i in 0..args.runs {
        let (us, stderr, ok) = timed(&me, &run)?;
        let Some(fields) = stderr.lines().find_map(timings::parse) else {
            let last = stderr.lines().last().unwrap_or("no output");
            bail!("run {} failed: {last}", i + 1);
        };
        if !ok {
            log::info!("run {}: the guest exited with a failure status", i + 1);
        }
        process.push(us);
        for (name, v) in fields {
            match phases.iter_mut().find(|(n, _)| *n == name) {
                Some((_, values)) => values.push(v),
                None => phases.push((name, vec![v])),
            }
        }
        if let Some(cmd) = &native {
            let (us, _, _) = timed(&cmd[0], &cmd[1..])?;
            native_process.push(us);
        }
    }

    let mut out = format!("{} runs of `wasi-hw {}`\n", args.runs, run.join(" "));
    out.push_str(&format!(
        "{:<14} {:>11} {:>11}\n",
        "phase", "median_us", "p90_us"
    ));
    for (name, values) in &mut phases {
        let (m, p) = median_p90(values);
        out.push_str(&format!("{name:<14} {m:>11.1} {p:>11.1}\n"));
    }
    let (pm, pp) = median_p90(&mut process);
    out.push_str(&format!("{:<14} {pm:>11.1} {pp:>11.1}\n", "process"));
    if !native_process.is_empty() {
        let (nm, np) = median_p90(&mut native_process);
        out.push_str(&format!("{:<14} {nm:>11.1} {np:>11.1}\n", "native"));
        out.push_str(&format!(
            "ratio          {:>10.2}x (process medians)\n",
            pm / nm
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_p90() {
        let mut v: Vec<f64> = (1..=10).rev().map(f64::from).collect();
        assert_eq!(median_p90(&mut v), (6.0, 9.0));
        assert_eq!(median_p90(&mut [3.0]), (3.0, 3.0));
    }
}
