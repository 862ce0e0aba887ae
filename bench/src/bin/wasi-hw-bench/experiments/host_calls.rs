//! Host-call cost: 2-byte I2C reads in a loop, native vs wasi-hw (and wasmtime).

use crate::common::*;

pub(crate) fn host_calls(
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
            rep.target(
                "per host call ≤ 50 ns over native (AOT, 2-byte read; issue 13)",
                format!("+{} ns", num(over)),
                over <= 50.0,
                || format!("over by {} ns", num(over - 50.0)),
            );
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
