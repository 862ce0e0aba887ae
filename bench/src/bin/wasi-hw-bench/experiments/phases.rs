//! In-process start, phase by phase (bench-engine): init, register, read, load, instantiate, first call.

use crate::common::*;

pub(crate) const PHASES: [(&str, &str); 6] = [
    ("init_us", "runtime init"),
    ("register_us", "register natives"),
    ("read_us", "read file"),
    ("load_us", "load"),
    ("instantiate_us", "instantiate"),
    ("run_us", "first call (_start)"),
];

pub(crate) fn phases(
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
        rep.target(
            "in-process init + load + instantiate + first call ≤ 100 µs (AOT sensor driver; issue 13, stretch 60)",
            format!("{} µs", num(sum.median)),
            met,
            || format!("over by {} µs", num(sum.median - 100.0)),
        );
    }
    plots.push(("phases.png".into(), chart));
    Ok(())
}
