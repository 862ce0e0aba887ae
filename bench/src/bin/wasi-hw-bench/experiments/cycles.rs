//! The leak check: thousands of read/load/instantiate/run/drop cycles of the sensor driver
//! in one process (`bench-engine --cycles`), AOT and interpreted, with the process's RSS
//! along the way.

use crate::common::*;

pub(crate) fn cycles(o: &Opts, rep: &mut Report) -> Result<()> {
    let p = &o.paths;
    let n: u64 = if o.smoke { 500 } else { 10_000 };
    let mut text = String::new();
    let mut worst = f64::MIN;
    let mut aot_points = Vec::new();
    for (kind, module) in [
        ("AOT", p.p("target/guests/temp-sensor.aot")),
        ("interpreted", p.p("target/guests/temp-sensor.wasm")),
    ] {
        let out = Command::new(p.engine())
            .arg("--cycles")
            .arg(n.to_string())
            .arg(&module)
            .args(["--", "--bus", "sim"])
            .output()
            .context("bench-engine --cycles")?;
        if !out.status.success() {
            bail!(
                "bench-engine --cycles ({kind}): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let points: Vec<(f64, f64)> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let (c, r) = l.strip_prefix("cycle=")?.split_once(" rss_kib=")?;
                Some((c.parse().ok()?, r.parse().ok()?))
            })
            .collect();
        let last = *points.last().context("no RSS samples")?;
        // Growth after the first tenth (allocator and page-cache warm-up before it).
        let warm = points
            .iter()
            .find(|pt| pt.0 >= n as f64 / 10.0)
            .copied()
            .unwrap_or(points[0]);
        let growth = last.1 - warm.1;
        worst = worst.max(growth);
        let _ = writeln!(
            text,
            "- {kind}: RSS {} KiB after the first cycle, {} KiB after {}, {} KiB after {} \
             ({growth:+} KiB after warm-up)",
            num(points[0].1),
            num(warm.1),
            warm.0,
            num(last.1),
            last.0
        );
        if kind == "AOT" {
            aot_points = points;
        }
    }
    rep.target(
        &format!("flat RSS over {n} load/instantiate/run/drop cycles in one process"),
        format!("worst growth after warm-up {worst:+} KiB (AOT and interpreted)"),
        worst <= 64.0,
        || format!("{worst:+} KiB"),
    );
    let _ = writeln!(text, "\n![RSS over load/run cycles](plots/cycles-rss.png)");
    LineChart {
        title: "bench-engine --cycles: RSS over read/load/instantiate/run/drop cycles (AOT)".into(),
        x_unit: "cycles".into(),
        y_unit: "RSS, KiB".into(),
        points: aot_points,
    }
    .draw_png(&o.out.join("plots/cycles-rss.png"), 1000)?;
    rep.sections.insert("cycles".into(), text);
    Ok(())
}
