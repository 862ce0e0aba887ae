//! What every experiment shares: the paths of the measured programs, the options, the
//! variants and their interleaved measurement, and the report being built.

pub(crate) use std::collections::BTreeMap;
pub(crate) use std::ffi::OsString;
pub(crate) use std::fmt::Write as _;
pub(crate) use std::path::{Path, PathBuf};
pub(crate) use std::process::{Command, ExitCode};

pub(crate) use anyhow::{bail, Context, Result};
pub(crate) use wasi_hw_bench::paper;
pub(crate) use wasi_hw_bench::parse::{
    callgrind_collected, callgrind_inclusive, find_record, mib_per_s, ns_per_op, Record,
};
pub(crate) use wasi_hw_bench::plot::{Bar, BarChart, LineChart};
pub(crate) use wasi_hw_bench::proc::{Outcome, Runner};
pub(crate) use wasi_hw_bench::report::{bytes, fill_template, num, percent, spread, times, Table};
pub(crate) use wasi_hw_bench::stats::{ratio, rotation, Summary};
pub(crate) use wasi_hw_bench::vm;

/// Where scripts/bench.sh puts what it builds.
pub(crate) struct Paths {
    pub(crate) root: PathBuf,
    /// `--no-wasmtime`: leave wasmtime out even if it was built.
    pub(crate) no_wasmtime: bool,
}

impl Paths {
    pub(crate) fn p(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
    pub(crate) fn native(&self) -> PathBuf {
        self.p("target/release/bench-native")
    }
    pub(crate) fn engine(&self) -> PathBuf {
        self.p("target/release/bench-engine")
    }
    /// The CLI as `cargo build --release` makes it (with the LLVM AOT compiler linked).
    pub(crate) fn cli_full(&self) -> PathBuf {
        self.p("target/release/wasi-hw")
    }
    /// The runtime-only CLI (`--no-default-features`): what a gateway runs.
    pub(crate) fn cli_gw(&self) -> PathBuf {
        self.p("target/bench/gw/release/wasi-hw")
    }
    pub(crate) fn cli_hwbc(&self) -> PathBuf {
        self.p("target/bench/hwbc/release/wasi-hw")
    }
    pub(crate) fn engine_hwbc(&self) -> PathBuf {
        self.p("target/bench/hwbc/release/bench-engine")
    }
    pub(crate) fn wasmtime(&self) -> PathBuf {
        if self.no_wasmtime {
            // A path that never exists: every wasmtime variant is skipped.
            return self.p("target/bench/wasmtime/disabled");
        }
        self.p("target/bench/wasmtime/release/bench-wasmtime")
    }
    pub(crate) fn armv7_cli(&self) -> PathBuf {
        self.gateway_cli("armv7")
    }
    /// The static runtime-only build of a gateway arch (scripts/cross/build.sh ARCH).
    pub(crate) fn gateway_cli(&self, arch: &str) -> PathBuf {
        self.p(&format!("target/{arch}/wasi-hw"))
    }
    pub(crate) fn guest(&self, name: &str, ext: &str) -> PathBuf {
        self.p(&format!("target/guests/{name}.{ext}"))
    }
    /// AOT without software bounds checks, for the hw-bound-check runtime only.
    pub(crate) fn guest_nobc(&self, name: &str) -> PathBuf {
        self.p(&format!("target/bench/guests/{name}.nobc.aot"))
    }
    pub(crate) fn guest_cwasm(&self, name: &str) -> PathBuf {
        self.p(&format!("target/bench/guests/{name}.cwasm"))
    }
}

pub(crate) struct Opts {
    pub(crate) smoke: bool,
    pub(crate) paths: Paths,
    pub(crate) out: PathBuf,
    pub(crate) raw: PathBuf,
    pub(crate) rounds: Option<usize>,
    /// (machine, console log of its in-VM benchmark run)
    pub(crate) vm_logs: Vec<(String, PathBuf)>,
}

pub(crate) fn parse_args() -> Result<Opts> {
    let mut smoke = false;
    let mut root = None;
    let mut out = None;
    let mut raw = None;
    let mut rounds = None;
    let mut no_wasmtime = false;
    let mut vm_logs = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = |n: &str| args.next().with_context(|| format!("{n} needs a value"));
        match a.as_str() {
            "--smoke" => smoke = true,
            "--no-wasmtime" => no_wasmtime = true,
            "--root" => root = Some(PathBuf::from(val("--root")?)),
            "--out" => out = Some(PathBuf::from(val("--out")?)),
            "--raw" => raw = Some(PathBuf::from(val("--raw")?)),
            "--rounds" => rounds = Some(val("--rounds")?.parse().context("--rounds")?),
            "--vm-log" => {
                let v = val("--vm-log")?;
                let (m, f) = v
                    .split_once('=')
                    .with_context(|| format!("--vm-log {v}: expected MACHINE=FILE"))?;
                vm_logs.push((m.to_string(), PathBuf::from(f)));
            }
            "-h" | "--help" => {
                println!("usage: wasi-hw-bench [--smoke] [--no-wasmtime] [--root DIR] [--out DIR] [--raw FILE] [--rounds N] [--vm-log MACHINE=FILE]...");
                std::process::exit(0);
            }
            _ => bail!("unexpected argument {a:?}"),
        }
    }
    let root = match root {
        Some(r) => r,
        None => std::env::current_dir()?,
    };
    let out = out.unwrap_or_else(|| {
        if smoke {
            root.join("target/bench/smoke")
        } else {
            root.join("bench")
        }
    });
    // Raw samples are build output: they stay under target/.
    let raw = raw.unwrap_or_else(|| {
        root.join(if smoke {
            "target/bench/smoke/samples.tsv"
        } else {
            "target/bench/samples.tsv"
        })
    });
    Ok(Opts {
        smoke,
        paths: Paths { root, no_wasmtime },
        out,
        raw,
        rounds,
        vm_logs,
    })
}

/// One way of running a workload.
#[derive(Clone)]
pub(crate) struct Variant {
    pub(crate) key: &'static str,
    pub(crate) label: &'static str,
    pub(crate) argv: Vec<OsString>,
}

impl Variant {
    pub(crate) fn new(
        key: &'static str,
        label: &'static str,
        program: &Path,
        args: &[&dyn AsRefOs],
    ) -> Self {
        let mut argv = vec![program.as_os_str().to_owned()];
        argv.extend(args.iter().map(|a| a.os()));
        Variant { key, label, argv }
    }

    pub(crate) fn command(&self) -> Command {
        let mut c = Command::new(&self.argv[0]);
        c.args(&self.argv[1..]);
        // The measured programs log at their default (warn) level only.
        c.env_remove("RUST_LOG");
        c
    }

    pub(crate) fn shell_line(&self) -> String {
        self.argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Arguments are strings or paths.
pub(crate) trait AsRefOs {
    fn os(&self) -> OsString;
}
impl AsRefOs for &str {
    fn os(&self) -> OsString {
        OsString::from(*self)
    }
}
impl AsRefOs for PathBuf {
    fn os(&self) -> OsString {
        self.as_os_str().to_owned()
    }
}
impl AsRefOs for String {
    fn os(&self) -> OsString {
        OsString::from(self)
    }
}

/// Samples of one variant in one experiment.
pub(crate) struct Series {
    pub(crate) variant: Variant,
    pub(crate) runs: Vec<Outcome>,
}

/// Runs `rounds` interleaved rounds (after `warmup` discarded ones) of every variant;
/// `check` validates each run (exit status, expected output).
pub(crate) fn measure(
    runner: &mut Runner,
    variants: &[Variant],
    rounds: usize,
    warmup: usize,
    check: &dyn Fn(&Variant, &Outcome) -> Result<()>,
) -> Result<Vec<Series>> {
    let mut series: Vec<Series> = variants
        .iter()
        .map(|v| Series {
            variant: v.clone(),
            runs: Vec::with_capacity(rounds),
        })
        .collect();
    for round in 0..warmup + rounds {
        for i in rotation(round, variants.len()) {
            let v = &variants[i];
            let o = runner.run(&mut v.command())?;
            check(v, &o).with_context(|| {
                format!(
                    "{} ({}): exit {}, stdout {:?}, stderr {:?}",
                    v.label,
                    v.shell_line(),
                    o.status,
                    o.stdout,
                    o.stderr
                )
            })?;
            if round >= warmup {
                series[i].runs.push(o);
            }
        }
    }
    Ok(series)
}

pub(crate) fn ok_exit(_: &Variant, o: &Outcome) -> Result<()> {
    if !o.success() {
        bail!("failed");
    }
    Ok(())
}

pub(crate) fn summary_of(values: impl Iterator<Item = f64>) -> Option<Summary> {
    Summary::of(&values.collect::<Vec<_>>())
}

/// Everything the report needs, collected as the experiments run.
#[derive(Default)]
pub(crate) struct Report {
    pub(crate) sections: BTreeMap<String, String>,
    pub(crate) raw: String,
    /// (key, wall summary ms, rss summary KiB) of the cold-start runs.
    pub(crate) cold: Vec<(String, String, Summary, Summary)>,
    pub(crate) targets: Vec<[String; 4]>,
    pub(crate) notes: Vec<String>,
}

impl Report {
    /// One row of the targets table: what was asked, what was measured, met or missed,
    /// and by how much it was missed (`gap`, only asked when missed).
    pub(crate) fn target(
        &mut self,
        name: &str,
        measured: String,
        met: bool,
        gap: impl FnOnce() -> String,
    ) {
        let gap = if met { String::new() } else { gap() };
        self.targets
            .push([name.to_string(), measured, verdict(met), gap]);
    }

    pub(crate) fn raw_rows(
        &mut self,
        experiment: &str,
        series: &[Series],
        value: &dyn Fn(&Outcome) -> Option<f64>,
    ) {
        for s in series {
            for (i, o) in s.runs.iter().enumerate() {
                let _ = writeln!(
                    self.raw,
                    "{experiment}\t{}\t{i}\t{}\t{}\t{}",
                    s.variant.key,
                    o.wall_ns,
                    o.max_rss_kib,
                    value(o).map(|v| v.to_string()).unwrap_or_default()
                );
            }
        }
    }
}

pub(crate) fn exists(p: &Path) -> bool {
    p.is_file()
}

pub(crate) const TEMP_ARGS: [&str; 4] = ["--bus", "sim", "--addr", "0x48"];

pub(crate) fn verdict(met: bool) -> String {
    if met { "met" } else { "missed" }.into()
}
