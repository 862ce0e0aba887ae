//! Footprint: stripped binary sizes and peak RSS.

use crate::common::*;

pub(crate) fn stripped_size(
    runner: &mut Runner,
    bin: &Path,
    strip: &str,
    dir: &Path,
) -> Result<u64> {
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

pub(crate) fn footprint(o: &Opts, runner: &mut Runner, rep: &mut Report) -> Result<()> {
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
            "`wasi-hw`, runtime only, static (scripts/cross/build.sh armv7)",
            p.armv7_cli(),
            "armv7",
            "arm-linux-gnueabihf-strip",
        ),
        (
            "`wasi-hw`, runtime only, static (scripts/cross/build.sh aarch64)",
            p.gateway_cli("aarch64"),
            "aarch64",
            "aarch64-linux-gnu-strip",
        ),
        (
            "`wasi-hw`, runtime only, static (scripts/cross/build.sh mipsel)",
            p.gateway_cli("mipsel"),
            "mipsel",
            "mipsel-linux-gnu-strip",
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
        if label.contains("static (scripts/cross/build.sh") {
            let mib = size as f64 / (1024.0 * 1024.0);
            rep.target(
                &format!("stripped static runtime ≤ 2 MiB on {arch} (issue 17; goal 1.2 MiB)"),
                format!("{} MiB", num(mib)),
                mib <= 2.0,
                || format!("over by {} MiB", num(mib - 2.0)),
            );
        }
        t.row(vec![label.into(), arch.into(), bytes(size), libs]);
    }
    let mut text = t.to_markdown();
    let mut m = Table::new(&["guest module", "size"]);
    for (name, path) in [
        ("temp-sensor.wasm", p.guest("temp-sensor", "wasm")),
        ("temp-sensor.aot (x86_64)", p.guest("temp-sensor", "aot")),
        ("temp-sensor.armv7.aot", p.guest("temp-sensor", "armv7.aot")),
        (
            "temp-sensor.aarch64.aot",
            p.guest("temp-sensor", "aarch64.aot"),
        ),
        (
            "temp-sensor.mipsel.aot",
            p.guest("temp-sensor", "mipsel.aot"),
        ),
        ("temp-sensor.cwasm (wasmtime)", p.guest_cwasm("temp-sensor")),
    ] {
        if let Ok(md) = std::fs::metadata(&path) {
            if name == "temp-sensor.aot (x86_64)" {
                let kb = md.len() as f64 / 1000.0;
                rep.target(
                    "temp-sensor `.aot` ≤ 100 KB (x86_64; issue 13)",
                    format!("{} KB", num(kb)),
                    kb <= 100.0,
                    || format!("over by {} KB", num(kb - 100.0)),
                );
            }
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
