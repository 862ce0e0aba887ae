//! The machine the report was measured on.

use crate::common::*;

pub(crate) fn machine(runner: &mut Runner, o: &Opts) -> Result<String> {
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
