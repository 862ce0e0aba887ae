//! USB bulk loopback on the simulated device: round trips and throughput, native vs wasi-hw.

use crate::common::*;

/// USB bulk loopback: runs when the USB bench guest and the native USB mode exist.
pub(crate) fn usb(o: &Opts, runner: &mut Runner, rep: &mut Report) -> Result<()> {
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
            rep.target(
                "USB bulk throughput ≥ 90 % of native (simulated device, 64 KiB chunks; issue 13)",
                format!("{} %", num(pct)),
                pct >= 90.0,
                || format!("short by {} points", num(90.0 - pct)),
            );
        }
    }
    rep.sections.insert("usb".into(), t.to_markdown());
    Ok(())
}
