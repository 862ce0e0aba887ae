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

mod common;
mod experiments;

use common::*;
use experiments::*;

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
    resident(&o, &mut runner, &mut rep)?;
    cycles(&o, &mut rep)?;
    phases(&o, &mut runner, &mut rep, &mut plots)?;
    host_calls(&o, &mut runner, &mut rep, &mut plots)?;
    usb(&o, &mut runner, &mut rep)?;
    in_vm(&o, &mut rep)?;
    footprint(&o, &mut runner, &mut rep)?;
    profile(&o, &mut runner, &mut rep)?;
    rep.sections.insert("paper".into(), paper_section(&rep));

    let mut t = Table::new(&["target", "measured", "verdict", "by how much"]);
    for row in &rep.targets {
        t.row(row.to_vec());
    }
    if !rep
        .targets
        .iter()
        .any(|r| r[0].starts_with("USB bulk throughput"))
    {
        t.row(vec![
            "USB bulk throughput ≥ 90 % of native (simulated device; issue 13)".into(),
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
