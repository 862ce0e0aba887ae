//! The in-VM results (scripts/vm/tests/bench.sh), parsed from the VM console logs.

use crate::common::*;

/// The in-VM results: cold start against the kernel's I2C drivers and USB mass storage on
/// QEMU's usb-storage, parsed from the console logs scripts/bench.sh passes in.
pub(crate) fn in_vm(o: &Opts, rep: &mut Report) -> Result<()> {
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
        "raspi2b" | "raspi3b" => "QEMU tmp105 on i2c-bcm2835",
        "x86_64" => "i2c-stub (i801 has no tmp105)",
        "malta" => "QEMU i2c-ddc (EDID) on i2c-piix4",
        _ => "?",
    };
    // The gateway arch each VM runs.
    let machine = |m: &str| match m {
        "raspi2b" => "raspi2b (armv7)".to_string(),
        "raspi3b" => "raspi3b (aarch64)".to_string(),
        "malta" => "malta (mipsel)".to_string(),
        other => other.to_string(),
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
            if s.machine == "raspi2b" && s.variant == "aot" {
                if let Some(rss) = s.rss_kib {
                    let mib = rss.median / 1024.0;
                    rep.target(
                        "peak RSS of a cold sensor run ≤ 1.5 MiB on armv7 (raspi2b VM, AOT; issue 13)",
                        format!("{} MiB", num(mib)),
                        mib <= 1.5,
                        || format!("over by {} MiB", num(mib - 1.5)),
                    );
                }
            }
            cold.row(vec![
                machine(&s.machine),
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
            if s.machine == "x86_64" && s.experiment == "storage-read" {
                let pct = r.unwrap_or(0.0) * 100.0;
                rep.target(
                    "USB bulk READ(10) 64 KiB ≥ 98 % of native in the VM (real usbfs; issue 13)",
                    format!("{} %", num(pct)),
                    pct >= 98.0,
                    || format!("short by {} points", num(98.0 - pct)),
                );
            }
            let added = match (s.per_op_us, native.per_op_us) {
                (Some(a), Some(n)) => num(a.median - n.median),
                _ => "–".into(),
            };
            usb.row(vec![
                machine(&s.machine),
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
        text.push_str(
            "Cold start, whole process (`temp-sensor`, one reading: 25.50 C set by the host; \
             on malta 1.94 C, its EDID's bytes):\n\n",
        );
        text.push_str(&cold.to_markdown());
    }
    if !usb.is_empty() {
        text.push_str("\nUSB mass storage (QEMU `usb-storage`, 1 MiB disk, kernel driver unbound for the run):\n\n");
        text.push_str(&usb.to_markdown());
    }
    rep.sections.insert("vm".into(), text);
    Ok(())
}
