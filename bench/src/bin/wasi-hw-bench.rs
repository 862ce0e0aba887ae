//! `wasi-hw-bench`: runs every benchmark variant side by side (interleaved rounds) and
//! writes the report: `README.md` (from `bench/report-template.md`), `plots/*.png`, and
//! the raw samples as TSV. Driven by `scripts/bench.sh`, which builds the binaries first.
//!
//! ```text
//! wasi-hw-bench [--smoke] [--root DIR] [--out DIR] [--raw FILE] [--rounds N]
//!               [--vm-log MACHINE=CONSOLE_LOG]...
//! ```
//! `--vm-log` adds the in-VM results (scripts/vm/tests/bench.sh, run by scripts/bench.sh)
//! from that VM's console log.
//! Variants are found at fixed paths under the root (see [`Paths`]); the optional ones
//! (runtime-only and hw-bound-check builds, wasmtime, armv7) are skipped when absent and
//! always in `--smoke` mode, which also uses few iterations.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, Context, Result};
use wasi_hw_bench::paper;
use wasi_hw_bench::parse::{
    callgrind_collected, callgrind_inclusive, find_record, mib_per_s, ns_per_op, Record,
};
use wasi_hw_bench::plot::{Bar, BarChart};
use wasi_hw_bench::proc::{Outcome, Runner};
use wasi_hw_bench::report::{bytes, fill_template, num, percent, spread, times, Table};
use wasi_hw_bench::stats::{ratio, rotation, Summary};
use wasi_hw_bench::vm;

/// Where scripts/bench.sh puts what it builds.
struct Paths {
    root: PathBuf,
    /// `--no-wasmtime`: leave wasmtime out even if it was built.
    no_wasmtime: bool,
}

impl Paths {
    fn p(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
    fn native(&self) -> PathBuf {
        self.p("target/release/bench-native")
    }
    fn engine(&self) -> PathBuf {
        self.p("target/release/bench-engine")
    }
    /// The CLI as `cargo build --release` makes it (with the LLVM AOT compiler linked).
    fn cli_full(&self) -> PathBuf {
        self.p("target/release/wasi-hw")
    }
    /// The runtime-only CLI (`--no-default-features`): what a gateway runs.
    fn cli_gw(&self) -> PathBuf {
        self.p("target/bench/gw/release/wasi-hw")
    }
    fn cli_hwbc(&self) -> PathBuf {
        self.p("target/bench/hwbc/release/wasi-hw")
    }
    fn engine_hwbc(&self) -> PathBuf {
        self.p("target/bench/hwbc/release/bench-engine")
    }
    fn wasmtime(&self) -> PathBuf {
        if self.no_wasmtime {
            // A path that never exists: every wasmtime variant is skipped.
            return self.p("target/bench/wasmtime/disabled");
        }
        self.p("target/bench/wasmtime/release/bench-wasmtime")
    }
    fn armv7_cli(&self) -> PathBuf {
        self.p("target/armv7/wasi-hw")
    }
    fn guest(&self, name: &str, ext: &str) -> PathBuf {
        self.p(&format!("target/guests/{name}.{ext}"))
    }
    /// AOT without software bounds checks, for the hw-bound-check runtime only.
    fn guest_nobc(&self, name: &str) -> PathBuf {
        self.p(&format!("target/bench/guests/{name}.nobc.aot"))
    }
    fn guest_cwasm(&self, name: &str) -> PathBuf {
        self.p(&format!("target/bench/guests/{name}.cwasm"))
    }
}

struct Opts {
    smoke: bool,
    paths: Paths,
    out: PathBuf,
    raw: PathBuf,
    rounds: Option<usize>,
    /// (machine, console log of its in-VM benchmark run)
    vm_logs: Vec<(String, PathBuf)>,
}

fn parse_args() -> Result<Opts> {
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
struct Variant {
    key: &'static str,
    label: &'static str,
    argv: Vec<OsString>,
}

impl Variant {
    fn new(key: &'static str, label: &'static str, program: &Path, args: &[&dyn AsRefOs]) -> Self {
        let mut argv = vec![program.as_os_str().to_owned()];
        argv.extend(args.iter().map(|a| a.os()));
        Variant { key, label, argv }
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.argv[0]);
        c.args(&self.argv[1..]);
        // The measured programs log at their default (warn) level only.
        c.env_remove("RUST_LOG");
        c
    }

    fn shell_line(&self) -> String {
        self.argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Arguments are strings or paths.
trait AsRefOs {
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
struct Series {
    variant: Variant,
    runs: Vec<Outcome>,
}

/// Runs `rounds` interleaved rounds (after `warmup` discarded ones) of every variant;
/// `check` validates each run (exit status, expected output).
fn measure(
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

fn ok_exit(_: &Variant, o: &Outcome) -> Result<()> {
    if !o.success() {
        bail!("failed");
    }
    Ok(())
}

fn summary_of(values: impl Iterator<Item = f64>) -> Option<Summary> {
    Summary::of(&values.collect::<Vec<_>>())
}

/// Everything the report needs, collected as the experiments run.
#[derive(Default)]
struct Report {
    sections: BTreeMap<String, String>,
    raw: String,
    /// (key, wall summary ms, rss summary KiB) of the cold-start runs.
    cold: Vec<(String, String, Summary, Summary)>,
    targets: Vec<[String; 4]>,
    notes: Vec<String>,
}

impl Report {
    fn raw_rows(
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

fn exists(p: &Path) -> bool {
    p.is_file()
}

const TEMP_ARGS: [&str; 4] = ["--bus", "sim", "--addr", "0x48"];

fn cold_start(
    o: &Opts,
    runner: &mut Runner,
    rep: &mut Report,
    plots: &mut Vec<(String, BarChart)>,
) -> Result<()> {
    let p = &o.paths;
    let aot = p.guest("temp-sensor", "aot");
    let wasm = p.guest("temp-sensor", "wasm");
    let grant = "--i2c";
    let mut v = vec![Variant::new(
        "native",
        "native (tmp1x2 on SimBus)",
        &p.native(),
        &[
            &"temp",
            &TEMP_ARGS[0],
            &TEMP_ARGS[1],
            &TEMP_ARGS[2],
            &TEMP_ARGS[3],
        ],
    )];
    let wasi_hw = |key, label, cli: &Path, interp: bool, module: &PathBuf| {
        let mut args: Vec<&dyn AsRefOs> = vec![&"run", &grant, &"sim:0x48"];
        if interp {
            args.push(&"--interp");
        }
        args.push(module);
        args.push(&"--");
        for a in &TEMP_ARGS {
            args.push(a);
        }
        Variant::new(key, label, cli, &args)
    };
    let full_only = o.smoke || !exists(&p.cli_gw());
    if !full_only {
        v.push(wasi_hw("aot", "wasi-hw AOT", &p.cli_gw(), false, &aot));
        v.push(wasi_hw(
            "interp",
            "wasi-hw interpreter",
            &p.cli_gw(),
            true,
            &wasm,
        ));
    }
    if !o.smoke && exists(&p.cli_hwbc()) && exists(&p.guest_nobc("temp-sensor")) {
        v.push(wasi_hw(
            "aot-hwbc",
            "wasi-hw AOT, hw bounds checks",
            &p.cli_hwbc(),
            false,
            &p.guest_nobc("temp-sensor"),
        ));
    }
    v.push(wasi_hw(
        "aot-llvm",
        "wasi-hw AOT, CLI with LLVM linked",
        &p.cli_full(),
        false,
        &aot,
    ));
    if full_only {
        v.push(wasi_hw(
            "interp-llvm",
            "wasi-hw interpreter, CLI with LLVM linked",
            &p.cli_full(),
            true,
            &wasm,
        ));
    }
    if !o.smoke && exists(&p.wasmtime()) {
        let mut args: Vec<&dyn AsRefOs> = vec![&wasm, &"--"];
        for a in &TEMP_ARGS {
            args.push(a);
        }
        v.push(Variant::new(
            "wasmtime-jit",
            "wasmtime, compile on load",
            &p.wasmtime(),
            &args,
        ));
        let cwasm = p.guest_cwasm("temp-sensor");
        if exists(&cwasm) {
            args[0] = &cwasm;
            v.push(Variant::new(
                "wasmtime-aot",
                "wasmtime, precompiled .cwasm",
                &p.wasmtime(),
                &args,
            ));
        }
    }
    let rounds = o.rounds.unwrap_or(if o.smoke { 5 } else { 200 });
    eprintln!("cold start: {} variants x {rounds} rounds", v.len());
    let check = |_: &Variant, out: &Outcome| {
        if !out.success() || !out.stdout.contains("temperature: 23.50 C") {
            bail!("no temperature reading");
        }
        Ok(())
    };
    let series = measure(runner, &v, rounds, 2, &check)?;
    rep.raw_rows("cold-start", &series, &|_| None);

    let native = summary_of(series[0].runs.iter().map(|r| r.wall_ns as f64 * 1e-6))
        .context("no native runs")?;
    let mut t = Table::new(&[
        "variant",
        "wall time, ms: median (p10–p90)",
        "IQR, ms",
        "ratio to native",
        "peak RSS, KiB: median",
        "n",
    ]);
    let mut chart = BarChart {
        title: "Whole-process cold start: exec → first I2C reading → exit".into(),
        unit: "ms (median, whisker p10–p90), log scale".into(),
        bars: vec![],
        log: true,
    };
    for s in &series {
        let wall = summary_of(s.runs.iter().map(|r| r.wall_ns as f64 * 1e-6)).context("no runs")?;
        let rss = summary_of(s.runs.iter().map(|r| r.max_rss_kib as f64)).context("no runs")?;
        t.row(vec![
            s.variant.label.to_string(),
            spread(&wall),
            num(wall.iqr()),
            times(ratio(wall.median, native.median)),
            num(rss.median),
            wall.n.to_string(),
        ]);
        chart.bars.push(Bar {
            label: s.variant.label.to_string(),
            summary: wall,
        });
        rep.cold.push((
            s.variant.key.to_string(),
            s.variant.label.to_string(),
            wall,
            rss,
        ));
    }
    let mut text = t.to_markdown();
    text.push_str("\nCommands (one run each per round, rounds interleaved):\n\n```\n");
    for s in &series {
        let _ = writeln!(
            text,
            "{}",
            s.variant
                .shell_line()
                .replace(&*o.paths.root.to_string_lossy(), ".")
        );
    }
    text.push_str("```\n");
    rep.sections.insert("coldstart".into(), text);

    // Target: whole-process cold start ≤ 1.2× native (the deployed, runtime-only CLI).
    let pick = |k: &str| rep.cold.iter().find(|c| c.0 == k).cloned();
    if let Some((_, label, wall, _)) = pick("aot").or_else(|| pick("aot-llvm")) {
        let r = wall.median / native.median;
        rep.targets.push([
            "whole-process cold start ≤ 1.2× native".into(),
            format!("{label}: {}×", num(r)),
            verdict(r <= 1.2),
            if r <= 1.2 {
                String::new()
            } else {
                format!("over by {}×", num(r - 1.2))
            },
        ]);
    }
    if let Some((_, label, _, rss)) = pick("aot").or_else(|| pick("aot-llvm")) {
        let mb = rss.median / 1024.0;
        rep.targets.push([
            "peak RSS ≤ 2 MB (MiB here)".into(),
            format!(
                "{label}: {} MiB (native driver: {} MiB)",
                num(mb),
                num(pick("native")
                    .map(|c| c.3.median / 1024.0)
                    .unwrap_or(f64::NAN))
            ),
            verdict(mb <= 2.0),
            if mb <= 2.0 {
                String::new()
            } else {
                format!("over by {} MiB", num(mb - 2.0))
            },
        ]);
    }
    plots.push(("coldstart.png".into(), chart));
    Ok(())
}

fn verdict(met: bool) -> String {
    if met { "met" } else { "missed" }.into()
}

const PHASES: [(&str, &str); 6] = [
    ("init_us", "runtime init"),
    ("register_us", "register natives"),
    ("read_us", "read file"),
    ("load_us", "load"),
    ("instantiate_us", "instantiate"),
    ("run_us", "first call (_start)"),
];

fn phases(
    o: &Opts,
    runner: &mut Runner,
    rep: &mut Report,
    plots: &mut Vec<(String, BarChart)>,
) -> Result<()> {
    let p = &o.paths;
    let temp = |args: &mut Vec<&dyn AsRefOs>| {
        args.push(&"--");
        for a in &TEMP_ARGS {
            args.push(a);
        }
    };
    let mut v = Vec::new();
    let mut native_args: Vec<&dyn AsRefOs> = vec![&"temp"];
    for a in &TEMP_ARGS {
        native_args.push(a);
    }
    v.push(Variant::new("native", "native", &p.native(), &native_args));
    let aot = p.guest("temp-sensor", "aot");
    let wasm = p.guest("temp-sensor", "wasm");
    let mut a: Vec<&dyn AsRefOs> = vec![&aot];
    temp(&mut a);
    v.push(Variant::new("aot", "wasi-hw AOT", &p.engine(), &a));
    let mut a: Vec<&dyn AsRefOs> = vec![&wasm];
    temp(&mut a);
    v.push(Variant::new(
        "interp",
        "wasi-hw interpreter",
        &p.engine(),
        &a,
    ));
    let nobc = p.guest_nobc("temp-sensor");
    if !o.smoke && exists(&p.engine_hwbc()) && exists(&nobc) {
        let mut a: Vec<&dyn AsRefOs> = vec![&nobc];
        temp(&mut a);
        v.push(Variant::new(
            "aot-hwbc",
            "wasi-hw AOT, hw bounds checks",
            &p.engine_hwbc(),
            &a,
        ));
        let mut a: Vec<&dyn AsRefOs> = vec![&wasm];
        temp(&mut a);
        v.push(Variant::new(
            "interp-hwbc",
            "wasi-hw interpreter, hw bounds checks",
            &p.engine_hwbc(),
            &a,
        ));
    }
    let cwasm = p.guest_cwasm("temp-sensor");
    if !o.smoke && exists(&p.wasmtime()) {
        let mut a: Vec<&dyn AsRefOs> = vec![&wasm];
        temp(&mut a);
        v.push(Variant::new(
            "wasmtime-jit",
            "wasmtime, compile on load",
            &p.wasmtime(),
            &a,
        ));
        if exists(&cwasm) {
            let mut a: Vec<&dyn AsRefOs> = vec![&cwasm];
            temp(&mut a);
            v.push(Variant::new(
                "wasmtime-aot",
                "wasmtime, precompiled",
                &p.wasmtime(),
                &a,
            ));
        }
    }
    let rounds = o.rounds.unwrap_or(if o.smoke { 5 } else { 200 });
    eprintln!("in-process phases: {} variants x {rounds} rounds", v.len());
    let check = |_: &Variant, out: &Outcome| {
        if !out.success() || find_record(&out.stdout, "exit", "0").is_none() {
            bail!("no phase line");
        }
        Ok(())
    };
    let series = measure(runner, &v, rounds, 2, &check)?;
    let phase_rec = |out: &Outcome| find_record(&out.stdout, "exit", "0").expect("checked");
    rep.raw_rows("phases-total-us", &series, &|out| {
        phase_rec(out).f64("total_us")
    });

    let mut header = vec!["variant"];
    header.extend(PHASES.iter().map(|(_, h)| *h));
    header.extend(["sum, µs", "main → exit of run, µs"]);
    let mut t = Table::new(&header);
    let mut chart = BarChart {
        title: "In-process: runtime init + load + instantiate + first call".into(),
        unit: "µs (median of the per-run sum, whisker p10–p90), log scale".into(),
        bars: vec![],
        log: true,
    };
    let mut sums = BTreeMap::new();
    for s in &series {
        let recs: Vec<Record> = s.runs.iter().map(phase_rec).collect();
        let mut row = vec![s.variant.label.to_string()];
        for (k, _) in PHASES {
            row.push(match summary_of(recs.iter().filter_map(|r| r.f64(k))) {
                Some(sm) => num(sm.median),
                None => "–".into(),
            });
        }
        let sum = summary_of(
            recs.iter()
                .map(|r| PHASES.iter().filter_map(|(k, _)| r.f64(k)).sum::<f64>()),
        )
        .context("no phase sums")?;
        let total =
            summary_of(recs.iter().filter_map(|r| r.f64("total_us"))).context("no totals")?;
        row.push(spread(&sum));
        row.push(num(total.median));
        t.row(row);
        chart.bars.push(Bar {
            label: s.variant.label.to_string(),
            summary: sum,
        });
        sums.insert(s.variant.key, sum);
    }
    rep.sections.insert("phases".into(), t.to_markdown());
    if let Some(sum) = sums.get("aot") {
        let met = sum.median <= 100.0;
        rep.targets.push([
            "in-process init + load + instantiate + first call ≤ 100 µs (AOT sensor driver)".into(),
            format!("{} µs", num(sum.median)),
            verdict(met),
            if met {
                String::new()
            } else {
                format!("over by {} µs", num(sum.median - 100.0))
            },
        ]);
    }
    plots.push(("phases.png".into(), chart));
    Ok(())
}

fn host_calls(
    o: &Opts,
    runner: &mut Runner,
    rep: &mut Report,
    plots: &mut Vec<(String, BarChart)>,
) -> Result<()> {
    let p = &o.paths;
    let reads = if o.smoke { 2_000 } else { 50_000 };
    let reads_s = reads.to_string();
    let warm = (reads / 10).to_string();
    let bench_args: Vec<&dyn AsRefOs> = vec![
        &"--bus",
        &"sim",
        &"--addr",
        &"0x48",
        &"--reads",
        &reads_s,
        &"--warmup",
        &warm,
    ];
    let mut v = Vec::new();
    let mut a: Vec<&dyn AsRefOs> = vec![&"i2c-bench"];
    a.extend(bench_args.iter().copied());
    v.push(Variant::new("native", "native", &p.native(), &a));
    let aot = p.guest("i2c-bench", "aot");
    let wasm = p.guest("i2c-bench", "wasm");
    let nobc = p.guest_nobc("i2c-bench");
    let cwasm = p.guest_cwasm("i2c-bench");
    let with = |m: &PathBuf| {
        let mut a: Vec<&dyn AsRefOs> = vec![];
        a.push(m);
        a.push(&"--");
        a.extend(bench_args.iter().copied());
        a.iter().map(|x| x.os()).collect::<Vec<_>>()
    };
    let mk = |key, label, prog: &Path, args: Vec<OsString>| {
        let mut argv = vec![prog.as_os_str().to_owned()];
        argv.extend(args);
        Variant { key, label, argv }
    };
    v.push(mk("aot", "wasi-hw AOT", &p.engine(), with(&aot)));
    v.push(mk(
        "interp",
        "wasi-hw interpreter",
        &p.engine(),
        with(&wasm),
    ));
    if !o.smoke && exists(&p.engine_hwbc()) && exists(&nobc) {
        v.push(mk(
            "aot-hwbc",
            "wasi-hw AOT, hw bounds checks",
            &p.engine_hwbc(),
            with(&nobc),
        ));
    }
    if !o.smoke && exists(&p.wasmtime()) && exists(&cwasm) {
        v.push(mk(
            "wasmtime",
            "wasmtime (precompiled)",
            &p.wasmtime(),
            with(&cwasm),
        ));
    }
    let rounds = o
        .rounds
        .map(|r| r.clamp(3, 31))
        .unwrap_or(if o.smoke { 3 } else { 21 });
    eprintln!(
        "host calls: {} variants x {rounds} rounds x {reads} reads",
        v.len()
    );
    let check = |_: &Variant, out: &Outcome| {
        let r = find_record(&out.stdout, "bench", "i2c-read");
        match r {
            Some(r) if out.success() && r.u64("ops").is_some() => Ok(()),
            _ => bail!("no bench line"),
        }
    };
    let series = measure(runner, &v, rounds, 1, &check)?;
    let rec = |out: &Outcome| find_record(&out.stdout, "bench", "i2c-read").expect("checked");
    rep.raw_rows("i2c-read-ns", &series, &|out| ns_per_op(&rec(out)));
    let checksums: Vec<Option<u64>> = series
        .iter()
        .map(|s| rec(&s.runs[0]).u64("checksum"))
        .collect();
    if checksums.windows(2).any(|w| w[0] != w[1]) {
        bail!("host-call benchmark: variants read different data (checksums {checksums:?})");
    }
    let native =
        summary_of(series[0].runs.iter().filter_map(|r| ns_per_op(&rec(r)))).context("native")?;
    let mut t = Table::new(&[
        "variant",
        "ns per 2-byte read: median (p10–p90)",
        "over native, ns",
        "ratio to native",
        "peak RSS, KiB",
    ]);
    let mut chart = BarChart {
        title: format!("Host call: one 2-byte I2C read on the simulated bus ({reads} per run)"),
        unit: "ns per read (median, whisker p10–p90), log scale".into(),
        bars: vec![],
        log: true,
    };
    for s in &series {
        let ns = summary_of(s.runs.iter().filter_map(|r| ns_per_op(&rec(r)))).context("ns")?;
        let rss = summary_of(s.runs.iter().map(|r| r.max_rss_kib as f64)).context("rss")?;
        let over = ns.median - native.median;
        t.row(vec![
            s.variant.label.to_string(),
            spread(&ns),
            if s.variant.key == "native" {
                "–".into()
            } else {
                num(over)
            },
            times(ratio(ns.median, native.median)),
            num(rss.median),
        ]);
        if s.variant.key == "aot" {
            rep.targets.push([
                "per host call ≤ 100 ns over native (AOT)".into(),
                format!("+{} ns", num(over)),
                verdict(over <= 100.0),
                if over <= 100.0 {
                    String::new()
                } else {
                    format!("over by {} ns", num(over - 100.0))
                },
            ]);
        }
        chart.bars.push(Bar {
            label: s.variant.label.to_string(),
            summary: ns,
        });
    }
    rep.sections.insert("hostcall".into(), t.to_markdown());
    plots.push(("hostcall.png".into(), chart));
    Ok(())
}

/// USB bulk loopback: runs when the USB bench guest and the native USB mode exist.
fn usb(o: &Opts, runner: &mut Runner, rep: &mut Report) -> Result<()> {
    let p = &o.paths;
    let guest = p.guest("usb-bench", "aot");
    let probe = runner.run(Command::new(p.native()).args(["usb-rtt", "--reads", "1"]))?;
    if !exists(&guest) || !probe.success() {
        rep.sections.insert(
            "usb".into(),
            "Not measured in this run: the WASI-USB bench guest (`usb-bench`) or the native USB \
             mode of `bench-native` is not built yet."
                .into(),
        );
        rep.notes
            .push("USB bulk loopback not measured (no usb-bench guest yet)".into());
        return Ok(());
    }
    let rounds = o
        .rounds
        .map(|r| r.clamp(3, 31))
        .unwrap_or(if o.smoke { 3 } else { 21 });
    let mut t = Table::new(&[
        "benchmark",
        "native",
        "wasi-hw AOT",
        "wasi-hw vs native",
        "runtime time per round trip, µs",
    ]);
    let (few, many) = if o.smoke {
        ("200", "200")
    } else {
        ("5000", "2000")
    };
    for (mode, n, size, metric) in [
        ("usb-rtt", few, "32", "µs per 32-byte round trip"),
        ("usb-stream", many, "512", "MiB/s, 512-byte chunks"),
        ("usb-stream", many, "65536", "MiB/s, 64 KiB chunks"),
    ] {
        let native = Variant::new(
            "native",
            "native",
            &p.native(),
            &[&mode, &"--reads", &n, &"--size", &size],
        );
        let wasm = Variant::new(
            "aot",
            "wasi-hw AOT",
            &p.engine(),
            &[
                &guest, &"--usb", &"sim", &"--", &mode, &"--reads", &n, &"--size", &size,
            ],
        );
        let series = measure(runner, &[native, wasm], rounds, 1, &ok_exit)?;
        let rec = |out: &Outcome| find_record(&out.stdout, "bench", mode);
        let val = |out: &Outcome| {
            let r = rec(out)?;
            if mode == "usb-rtt" {
                ns_per_op(&r).map(|x| x / 1000.0)
            } else {
                mib_per_s(&r)
            }
        };
        rep.raw_rows(&format!("{mode}-{size}"), &series, &val);
        let s: Vec<Summary> = series
            .iter()
            .map(|s| summary_of(s.runs.iter().filter_map(val)).context("usb"))
            .collect::<Result<_>>()?;
        // What the runtime adds to one round trip: difference of the median times per op.
        let per_op: Vec<Summary> = series
            .iter()
            .map(|s| summary_of(s.runs.iter().filter_map(|o| ns_per_op(&rec(o)?))).context("usb"))
            .collect::<Result<_>>()?;
        let added_us = (per_op[1].median - per_op[0].median) / 1000.0;
        let r = ratio(s[1].median, s[0].median);
        t.row(vec![
            metric.into(),
            spread(&s[0]),
            spread(&s[1]),
            percent(r),
            num(added_us),
        ]);
        if mode == "usb-stream" && size == "65536" {
            let pct = r.unwrap_or(0.0) * 100.0;
            rep.targets.push([
                "USB bulk throughput ≥ 98 % of native (simulated device, 64 KiB chunks)".into(),
                format!("{} %", num(pct)),
                verdict(pct >= 98.0),
                if pct >= 98.0 {
                    String::new()
                } else {
                    format!("short by {} points", num(98.0 - pct))
                },
            ]);
        }
    }
    rep.sections.insert("usb".into(), t.to_markdown());
    Ok(())
}

/// The in-VM results: cold start against the kernel's I2C drivers and USB mass storage on
/// QEMU's usb-storage, parsed from the console logs scripts/bench.sh passes in.
fn in_vm(o: &Opts, rep: &mut Report) -> Result<()> {
    if o.vm_logs.is_empty() {
        rep.sections.insert(
            "vm".into(),
            "Not measured in this run (`scripts/bench.sh --no-vm`, or `--smoke` without `--vm`)."
                .into(),
        );
        rep.notes.push("in-VM benchmarks not run".into());
        return Ok(());
    }
    let mut samples = Vec::new();
    for (machine, log) in &o.vm_logs {
        let text = std::fs::read(log).with_context(|| format!("reading {}", log.display()))?;
        let found = vm::parse_console(&String::from_utf8_lossy(&text));
        if !found.iter().any(|s| &s.machine == machine) {
            bail!("{}: no vmbench results for {machine}", log.display());
        }
        samples.extend(found);
    }
    for s in &samples {
        let _ = writeln!(
            rep.raw,
            "vm-{}-{}\t{}\t{}\t{}\t{}\t{}",
            s.machine,
            s.experiment,
            s.variant,
            s.round,
            s.record
                .f64("wall_us")
                .map(|us| (us * 1000.0).round().to_string())
                .unwrap_or_default(),
            s.record.get("max_rss_kib").unwrap_or_default(),
            s.value().map(|v| v.to_string()).unwrap_or_default()
        );
    }
    let series = vm::summarise(&samples);
    let find = |m: &str, e: &str, v: &str| {
        series
            .iter()
            .find(|s| s.machine == m && s.experiment == e && s.variant == v)
    };
    let label = |v: &str| -> String {
        match v {
            "native" => "native (bench-native, static)",
            "aot" => "wasi-hw AOT",
            "interp" => "wasi-hw interpreter",
            other => other,
        }
        .into()
    };
    let device = |m: &str| match m {
        "raspi2b" => "QEMU tmp105 on i2c-bcm2835",
        "x86_64" => "i2c-stub (i801 has no tmp105)",
        _ => "?",
    };
    let mut cold = Table::new(&[
        "machine",
        "sensor",
        "variant",
        "wall time, ms: median (p10–p90)",
        "ratio to native",
        "peak RSS, KiB: median",
        "n",
    ]);
    let mut usb = Table::new(&[
        "machine",
        "benchmark",
        "native",
        "wasi-hw AOT",
        "wasi-hw vs native",
        "runtime time per command, µs",
    ]);
    for s in &series {
        let native = find(&s.machine, &s.experiment, "native");
        let r = native.and_then(|n| ratio(s.value.median, n.value.median));
        if s.experiment == "cold-start" {
            cold.row(vec![
                s.machine.clone(),
                device(&s.machine).into(),
                label(&s.variant),
                spread(&s.value),
                times(r),
                s.rss_kib.map(|r| num(r.median)).unwrap_or_default(),
                s.value.n.to_string(),
            ]);
        } else if s.variant == "aot" {
            let Some(native) = native else { continue };
            let metric = match s.experiment.as_str() {
                "storage-rtt" => "µs per TEST UNIT READY (31 B OUT + 13 B IN)",
                "storage-read" => "MiB/s, READ(10) of 64 KiB",
                other => other,
            };
            let added = match (s.per_op_us, native.per_op_us) {
                (Some(a), Some(n)) => num(a.median - n.median),
                _ => "–".into(),
            };
            usb.row(vec![
                s.machine.clone(),
                metric.into(),
                spread(&native.value),
                spread(&s.value),
                percent(r),
                added,
            ]);
        }
    }
    let mut text = String::new();
    if !cold.is_empty() {
        text.push_str("Cold start, whole process (`temp-sensor`, one reading of 25.50 C set by the host):\n\n");
        text.push_str(&cold.to_markdown());
    }
    if !usb.is_empty() {
        text.push_str("\nUSB mass storage (QEMU `usb-storage`, 1 MiB disk, kernel driver unbound for the run):\n\n");
        text.push_str(&usb.to_markdown());
    }
    rep.sections.insert("vm".into(), text);
    Ok(())
}

fn stripped_size(runner: &mut Runner, bin: &Path, strip: &str, dir: &Path) -> Result<u64> {
    let name = bin
        .strip_prefix(
            dir.parent()
                .and_then(Path::parent)
                .unwrap_or(Path::new("/")),
        )
        .unwrap_or(bin)
        .to_string_lossy()
        .replace('/', "_");
    let dst = dir.join(name);
    std::fs::copy(bin, &dst).with_context(|| format!("copying {}", bin.display()))?;
    let out = runner.run(Command::new(strip).arg(&dst))?;
    if !out.success() {
        bail!("{strip} {}: {}", dst.display(), out.stderr);
    }
    Ok(std::fs::metadata(&dst)?.len())
}

fn footprint(o: &Opts, runner: &mut Runner, rep: &mut Report) -> Result<()> {
    let p = &o.paths;
    let dir = p.p("target/bench/stripped");
    std::fs::create_dir_all(&dir)?;
    let mut t = Table::new(&["binary", "arch", "stripped size", "dynamic libraries"]);
    let bins: Vec<(&str, PathBuf, &str, &str)> = vec![
        (
            "native driver (`bench-native`, SimBus + tmp1x2)",
            p.native(),
            "x86_64",
            "strip",
        ),
        (
            "`wasi-hw`, runtime only (`--no-default-features`)",
            p.cli_gw(),
            "x86_64",
            "strip",
        ),
        (
            "`wasi-hw`, runtime only, hw bounds checks",
            p.cli_hwbc(),
            "x86_64",
            "strip",
        ),
        (
            "`wasi-hw` with the AOT compiler (default features)",
            p.cli_full(),
            "x86_64",
            "strip",
        ),
        (
            "`bench-wasmtime` (wasmtime + WASI + I2C host)",
            p.wasmtime(),
            "x86_64",
            "strip",
        ),
        (
            "`wasi-hw`, runtime only, static (scripts/cross-armv7.sh)",
            p.armv7_cli(),
            "armv7",
            "arm-linux-gnueabihf-strip",
        ),
    ];
    for (label, bin, arch, strip) in bins {
        if !exists(&bin) {
            continue;
        }
        let size = stripped_size(runner, &bin, strip, &dir)?;
        let libs = if arch == "x86_64" {
            let out = runner.run(Command::new("ldd").arg(&bin))?;
            out.stdout
                .lines()
                .filter_map(|l| l.split_whitespace().next())
                .filter(|l| !l.starts_with("linux-vdso") && !l.starts_with('/'))
                .map(|l| l.split(".so").next().unwrap_or(l).to_string())
                .collect::<Vec<_>>()
                .join(", ")
        } else {
            "static".into()
        };
        t.row(vec![label.into(), arch.into(), bytes(size), libs]);
    }
    let mut text = t.to_markdown();
    let mut m = Table::new(&["guest module", "size"]);
    for (name, path) in [
        ("temp-sensor.wasm", p.guest("temp-sensor", "wasm")),
        ("temp-sensor.aot (x86_64)", p.guest("temp-sensor", "aot")),
        ("temp-sensor.armv7.aot", p.guest("temp-sensor", "armv7.aot")),
        ("temp-sensor.cwasm (wasmtime)", p.guest_cwasm("temp-sensor")),
    ] {
        if let Ok(md) = std::fs::metadata(&path) {
            m.row(vec![name.into(), bytes(md.len())]);
        }
    }
    text.push('\n');
    text.push_str(&m.to_markdown());
    rep.sections.insert("footprint".into(), text);

    let mut r = Table::new(&[
        "variant",
        "peak RSS of one cold driver run, KiB: median (p10–p90)",
    ]);
    for (_, label, _, rss) in &rep.cold {
        r.row(vec![label.clone(), spread(rss)]);
    }
    rep.sections.insert("rss".into(), r.to_markdown());
    Ok(())
}

/// Steps of a wasi-hw cold run, as (label, functions to look for in callgrind's inclusive
/// counts; the first one present is used).
const STEPS: &[(&str, &[&str])] = &[
    ("dynamic loader (before main)", &["_dl_start"]),
    ("main thread stack bounds (pthread_getattr_np parses /proc/self/maps; Rust std and WAMR each ask once)", &["pthread_getattr_np@@GLIBC_2.32", "pthread_getattr_np"]),
    ("WAMR runtime init (wasm_runtime_full_init)", &["wasm_runtime_full_init"]),
    ("command-line parsing (clap)", &["clap_builder::builder::command::Command::_do_parse"]),
    ("WASI-I2C native registration", &["wasi_hw_i2c::register"]),
    ("WASI-USB native registration (only for modules that name wasi:usb)", &["wasi_hw_usb::register"]),
    ("module load (wasm_runtime_load)", &["wasm_runtime_load"]),
    ("  of which AOT relocations (load_relocation_section)", &["load_relocation_section"]),
    ("instantiate (wasm_runtime_instantiate)", &["wasm_runtime_instantiate"]),
    ("execution environment (wasm_runtime_create_exec_env)", &["wasm_runtime_create_exec_env"]),
    ("first call: the driver's _start (wasm_runtime_call_wasm_a)", &["wasm_runtime_call_wasm_a"]),
];

/// Instruction counts of one cold run per variant under callgrind (deterministic, unlike
/// wall time on a shared machine), and where the wasi-hw runs spend them.
fn profile(o: &Opts, runner: &mut Runner, rep: &mut Report) -> Result<()> {
    let p = &o.paths;
    let usable = matches!(
        runner.run(Command::new("valgrind").arg("--version")),
        Ok(out) if out.success()
    );
    if o.smoke || !usable {
        rep.sections.insert(
            "profile".into(),
            "Not measured in this run (`--smoke`, or valgrind is not installed).".into(),
        );
        return Ok(());
    }
    let dir = p.p("target/bench/callgrind");
    std::fs::create_dir_all(&dir)?;
    let aot = p.guest("temp-sensor", "aot");
    let wasm = p.guest("temp-sensor", "wasm");
    let temp_args = || TEMP_ARGS.iter().map(OsString::from);
    let cli_run = |cli: PathBuf, interp: bool, m: &PathBuf| -> Vec<OsString> {
        let mut v: Vec<OsString> =
            vec![cli.into(), "run".into(), "--i2c".into(), "sim:0x48".into()];
        if interp {
            v.push("--interp".into());
        }
        v.push(m.into());
        v.push("--".into());
        v.extend(temp_args());
        v
    };
    let gw = if exists(&p.cli_gw()) {
        p.cli_gw()
    } else {
        p.cli_full()
    };
    let mut cmds: Vec<(&str, &str, Vec<OsString>)> = vec![
        (
            "native",
            "native",
            [p.native().into_os_string(), "temp".into()]
                .into_iter()
                .chain(temp_args())
                .collect(),
        ),
        ("aot", "wasi-hw AOT", cli_run(gw.clone(), false, &aot)),
        ("interp", "wasi-hw interpreter", cli_run(gw, true, &wasm)),
        (
            "aot-llvm",
            "wasi-hw AOT, CLI with LLVM linked",
            cli_run(p.cli_full(), false, &aot),
        ),
    ];
    let cwasm = p.guest_cwasm("temp-sensor");
    if exists(&p.wasmtime()) && exists(&cwasm) {
        let v = [
            p.wasmtime().into_os_string(),
            cwasm.into_os_string(),
            "--".into(),
        ]
        .into_iter()
        .chain(temp_args())
        .collect();
        cmds.push(("wasmtime-aot", "wasmtime, precompiled", v));
    }
    let mut t = Table::new(&["command", "instructions (callgrind Ir)", "ratio to native"]);
    let mut native = None;
    // key → (total, inclusive counts per function)
    type Profile = (u64, Vec<(u64, String)>);
    let mut annotated: BTreeMap<&str, Profile> = BTreeMap::new();
    for (key, label, argv) in &cmds {
        let out_file = dir.join(format!("{key}.out"));
        let mut out_arg = OsString::from("--callgrind-out-file=");
        out_arg.push(&out_file);
        let out = runner.run(
            Command::new("valgrind")
                .args(["--tool=callgrind"])
                .arg(&out_arg)
                .arg("--")
                .args(argv),
        )?;
        if !out.success() {
            // e.g. wasmtime refuses its .cwasm under valgrind, whose virtual CPU lacks
            // some of the host's features: report it instead of failing the whole run.
            let why = out
                .stderr
                .lines()
                .find(|l| !l.starts_with("==") && !l.trim().is_empty())
                .unwrap_or("failed");
            // The innermost cause: the last `: `-separated part of the error chain.
            let why = why.rsplit(": ").next().unwrap_or(why).to_string();
            t.row(vec![
                (*label).into(),
                format!("did not run under valgrind: {why}"),
                "–".into(),
            ]);
            continue;
        }
        let total = callgrind_collected(&out.stderr).context("callgrind output")?;
        let base = *native.get_or_insert(total as f64);
        t.row(vec![
            (*label).into(),
            total.to_string(),
            times(ratio(total as f64, base)),
        ]);
        if *key == "aot" || *key == "interp" {
            let ann = runner.run(
                Command::new("callgrind_annotate")
                    .args(["--inclusive=yes", "--threshold=100"])
                    .arg(&out_file),
            )?;
            annotated.insert(key, (total, callgrind_inclusive(&ann.stdout)));
        }
    }
    let mut text = t.to_markdown();
    text.push_str("\nWhere the wasi-hw runs spend them (inclusive counts of the function named in each step):\n\n");
    let mut b = Table::new(&[
        "step",
        "AOT: instructions",
        "AOT: share",
        "interpreter: instructions",
        "interpreter: share",
    ]);
    for (label, funcs) in STEPS {
        let mut row = vec![(*label).to_string()];
        for key in ["aot", "interp"] {
            let found = annotated.get(key).and_then(|(total, lines)| {
                funcs.iter().find_map(|f| {
                    lines
                        .iter()
                        .find(|(_, name)| name == f)
                        .map(|(n, _)| (*n, *total))
                })
            });
            match found {
                Some((n, total)) => {
                    row.push(n.to_string());
                    row.push(format!("{} %", num(n as f64 * 100.0 / total as f64)));
                }
                None => row.extend(["–".to_string(), "–".to_string()]),
            }
        }
        b.row(row);
    }
    text.push_str(&b.to_markdown());
    rep.sections.insert("profile".into(), text);
    Ok(())
}

fn machine(runner: &mut Runner, o: &Opts) -> Result<String> {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_default();
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .map(|kib| format!("{} GiB", num(kib as f64 / 1048576.0)))
        .unwrap_or_default();
    let rustc = runner
        .run(Command::new("rustc").arg("-V"))
        .map(|o| o.stdout.trim().to_string())
        .unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    let mut t = Table::new(&["", ""]);
    t.row(vec![
        "CPU".into(),
        format!("{cpu} ({cores} cores available)"),
    ]);
    t.row(vec!["memory".into(), mem]);
    t.row(vec![
        "OS, kernel".into(),
        format!("{os}, Linux {}", kernel.trim()),
    ]);
    t.row(vec!["Rust".into(), rustc]);
    t.row(vec!["load average at start".into(), load]);
    t.row(vec![
        "mode".into(),
        if o.smoke {
            "smoke (few iterations)".into()
        } else {
            "full".to_string()
        },
    ]);
    Ok(t.to_markdown())
}

fn paper_section(rep: &Report) -> String {
    let mut t = Table::new(&[
        "experiment",
        "variant",
        "paper",
        "paper vs native",
        "here",
        "here vs native",
    ]);
    let cold = |k: &str| rep.cold.iter().find(|c| c.0 == k).map(|c| c.2.median);
    let native = cold("native");
    let here = |k: &str| match (cold(k), native) {
        (Some(v), Some(n)) => (format!("{} ms", num(v)), times(ratio(v, n))),
        _ => ("not measured".into(), "–".into()),
    };
    for f in paper::I2C_COLD_START
        .iter()
        .filter(|f| f.experiment.starts_with("I2C"))
    {
        let (h, hr) = match f.variant {
            "native" => here("native"),
            "WAMR interpreter" => here("interp"),
            "wasmtime, compile on load" => here("wasmtime-jit"),
            "wasmtime, precompiled" => here("wasmtime-aot"),
            _ => ("–".into(), "–".into()),
        };
        t.row(vec![
            f.experiment.into(),
            f.variant.into(),
            format!("{} {}", num(f.value), f.unit),
            times(Some(f.ratio_to_native())),
            h,
            hr,
        ]);
    }
    let (h, hr) = here("aot");
    t.row(vec![
        "(not in the paper)".into(),
        "WAMR AOT (wasi-hw)".into(),
        "–".into(),
        "–".into(),
        h,
        hr,
    ]);
    for f in paper::I2C_COLD_START
        .iter()
        .filter(|f| !f.experiment.starts_with("I2C"))
    {
        t.row(vec![
            f.experiment.into(),
            f.variant.into(),
            format!("{} {}", num(f.value), f.unit),
            times(Some(f.ratio_to_native())),
            "–".into(),
            "–".into(),
        ]);
    }
    let mut u = Table::new(&["experiment (paper)", "native", "wasm", "difference"]);
    for f in paper::USB {
        u.row(vec![
            f.experiment.into(),
            format!("{} {}", num(f.native), f.unit),
            format!("{} {}", num(f.value), f.unit),
            percent(Some(f.ratio_to_native())),
        ]);
    }
    format!("{}\n{}", t.to_markdown(), u.to_markdown())
}

fn run() -> Result<()> {
    let o = parse_args()?;
    let p = &o.paths;
    for (what, path) in [
        ("bench-native", p.native()),
        ("bench-engine", p.engine()),
        ("wasi-hw", p.cli_full()),
        ("temp-sensor.aot", p.guest("temp-sensor", "aot")),
        ("i2c-bench.aot", p.guest("i2c-bench", "aot")),
    ] {
        if !exists(&path) {
            bail!(
                "{what} not found at {}: run scripts/bench.sh (it builds everything first)",
                path.display()
            );
        }
    }
    let template_path = p.p("bench/report-template.md");
    let template = std::fs::read_to_string(&template_path)
        .with_context(|| format!("reading {}", template_path.display()))?;
    std::fs::create_dir_all(o.out.join("plots"))?;
    let mut runner = Runner::new()?;
    let mut rep = Report::default();
    let mut plots = Vec::new();
    rep.sections
        .insert("machine".into(), machine(&mut runner, &o)?);
    cold_start(&o, &mut runner, &mut rep, &mut plots)?;
    phases(&o, &mut runner, &mut rep, &mut plots)?;
    host_calls(&o, &mut runner, &mut rep, &mut plots)?;
    usb(&o, &mut runner, &mut rep)?;
    in_vm(&o, &mut rep)?;
    footprint(&o, &mut runner, &mut rep)?;
    profile(&o, &mut runner, &mut rep)?;
    rep.sections.insert("paper".into(), paper_section(&rep));

    let mut t = Table::new(&["target (issue 7)", "measured", "verdict", "by how much"]);
    for row in &rep.targets {
        t.row(row.to_vec());
    }
    if !rep.targets.iter().any(|r| r[0].starts_with("USB")) {
        t.row(vec![
            "USB bulk throughput ≥ 98 % of native".into(),
            "not measured".into(),
            "–".into(),
            String::new(),
        ]);
    }
    rep.sections.insert("targets".into(), t.to_markdown());

    for (file, chart) in &plots {
        chart.draw_png(&o.out.join("plots").join(file), 1000)?;
    }
    let readme = fill_template(&template, &rep.sections).map_err(anyhow::Error::msg)?;
    std::fs::write(o.out.join("README.md"), readme)?;
    let mut raw = String::from("experiment\tvariant\tround\twall_ns\tmax_rss_kib\tvalue\n");
    raw.push_str(&rep.raw);
    if let Some(dir) = o.raw.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&o.raw, raw)?;
    for n in &rep.notes {
        eprintln!("note: {n}");
    }
    eprintln!(
        "wrote {} and {} plots; raw samples in {}",
        o.out.join("README.md").display(),
        plots.len(),
        o.raw.display()
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wasi-hw-bench: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
