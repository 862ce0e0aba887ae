//! The seed paper's published figures beside ours.

use crate::common::*;

pub(crate) fn paper_section(rep: &Report) -> String {
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
