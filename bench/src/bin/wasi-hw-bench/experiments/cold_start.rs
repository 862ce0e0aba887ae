//! Whole-process cold start of the temp-sensor driver: native, wasi-hw (AOT, interpreter), wasmtime.

use crate::common::*;

pub(crate) fn cold_start(
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
    let aot = pick("aot").or_else(|| pick("aot-llvm"));
    let native_rss_mb = pick("native")
        .map(|c| c.3.median / 1024.0)
        .unwrap_or(f64::NAN);
    if let Some((_, label, wall, rss)) = aot {
        let r = wall.median / native.median;
        rep.target(
            "whole-process cold start ≤ 1.2× native (issue 13)",
            format!("{label}: {}×", num(r)),
            r <= 1.2,
            || format!("over by {}×", num(r - 1.2)),
        );
        let mb = rss.median / 1024.0;
        rep.target(
            "peak RSS of a cold sensor run ≤ 2 MiB on x86_64 (issue 13)",
            format!(
                "{label}: {} MiB (native driver: {} MiB)",
                num(mb),
                num(native_rss_mb)
            ),
            mb <= 2.0,
            || format!("over by {} MiB", num(mb - 2.0)),
        );
    }
    plots.push(("coldstart.png".into(), chart));
    Ok(())
}
