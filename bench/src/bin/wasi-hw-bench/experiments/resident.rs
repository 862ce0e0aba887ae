//! The resident host (`wasi-hw serve`): the warm path next to the cold one, the gap of a
//! hot update under a 1 kHz read loop, the memory of each extra idle driver, and fds and
//! RSS over thousands of scheduled runs.

use std::os::unix::net::UnixStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use wasi_hw_resident::control;
use wasi_hw_resident::protocol::{DriverStatus, Request};

use crate::common::*;

/// A `wasi-hw serve` in a temporary directory, killed when dropped.
struct Host {
    child: Child,
    socket: PathBuf,
    dir: PathBuf,
}

impl Host {
    fn start(cli: &Path, name: &str, drivers: &str) -> Result<Host> {
        let dir = std::env::temp_dir().join(format!("wasi-hw-bench-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let socket = dir.join("ctl.sock");
        let config = dir.join("drivers.toml");
        std::fs::write(
            &config,
            format!(
                "[host]\nsocket = {:?}\n\n{drivers}",
                socket.display().to_string()
            ),
        )?;
        let child = Command::new(cli)
            .args(["serve", "--config"])
            .arg(&config)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {} serve", cli.display()))?;
        let host = Host { child, socket, dir };
        let t = Instant::now();
        while UnixStream::connect(&host.socket).is_err() {
            if t.elapsed() > Duration::from_secs(20) {
                bail!("wasi-hw serve did not open its socket");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(host)
    }

    fn ask(&self, r: &Request) -> Result<wasi_hw_resident::protocol::Reply> {
        let reply = control::request(&self.socket, r)?;
        if !reply.ok {
            bail!("{r:?}: {}", reply.error.unwrap_or_default());
        }
        Ok(reply)
    }

    fn status(&self, name: &str) -> Result<DriverStatus> {
        self.ask(&Request::Status { name: name.into() })?
            .status
            .context("no status in the reply")
    }

    fn wait_running(&self, names: &[String]) -> Result<()> {
        let t = Instant::now();
        for n in names {
            while self.status(n)?.state != "running" {
                if t.elapsed() > Duration::from_secs(30) {
                    bail!("{n} did not start");
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        Ok(())
    }

    fn rss_kib(&self) -> Result<u64> {
        proc_field(self.child.id(), "VmRSS:")
    }

    fn fds(&self) -> Result<usize> {
        Ok(std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))?.count())
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn proc_field(pid: u32, field: &str) -> Result<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no {field} in /proc/{pid}/status"))
}

fn driver(name: &str, module: &Path, args: &[&str], extra: &str) -> String {
    let args: Vec<String> = args.iter().map(|a| format!("{a:?}")).collect();
    format!(
        "[[driver]]\nname = {name:?}\nmodule = {:?}\nargs = [{}]\ni2c = [\"sim:0x48\"]\n{extra}\n",
        module.display().to_string(),
        args.join(", ")
    )
}

pub(crate) fn resident(o: &Opts, runner: &mut Runner, rep: &mut Report) -> Result<()> {
    let p = &o.paths;
    // The gateway's runtime-only CLI when it was built (full runs), else the dev CLI.
    let cli = if exists(&p.cli_gw()) {
        p.cli_gw()
    } else {
        p.cli_full()
    };
    let aot = p.guest("temp-sensor", "aot");
    let mut text = String::new();
    let mut t = Table::new(&["path", "median", "p10–p90", "n"]);

    // 1. Warm invoke: request → reply timed in the client, one connection per request
    // (as `wasi-hw ctl` makes it).
    let host = Host::start(
        &cli,
        "invoke",
        &driver("temp", &aot, &TEMP_ARGS, "autostart = false"),
    )?;
    let invoke = Request::Invoke {
        name: "temp".into(),
        args: None,
    };
    let rounds = o.rounds.unwrap_or(if o.smoke { 20 } else { 1000 });
    let mut warm = Vec::with_capacity(rounds);
    for i in 0..rounds + 10 {
        let t0 = Instant::now();
        let reply = host.ask(&invoke)?;
        let us = t0.elapsed().as_secs_f64() * 1e6;
        let run = reply.run.context("no run in the reply")?;
        if run.exit_code != Some(0) || !run.stdout.contains("temperature: 23.50 C") {
            bail!("warm invoke: {run:?}");
        }
        if i >= 10 {
            warm.push(us);
        }
    }
    let warm = Summary::of(&warm).context("no warm invokes")?;
    t.row(vec![
        "warm: `invoke` request → reply, in the client (µs)".into(),
        num(warm.median),
        format!("{}–{}", num(warm.p10), num(warm.p90)),
        warm.n.to_string(),
    ]);
    rep.target(
        "warm invoke of the sensor driver ≤ 100 µs (request → reply)",
        format!("{} µs median, p90 {} µs", num(warm.median), num(warm.p90)),
        warm.median <= 100.0,
        || format!("over by {} µs", num(warm.median - 100.0)),
    );

    // 2. The whole `wasi-hw ctl invoke` process against the native driver's cold start.
    let native = Variant::new(
        "native",
        "native driver, cold process",
        &p.native(),
        &[
            &"temp",
            &TEMP_ARGS[0],
            &TEMP_ARGS[1],
            &TEMP_ARGS[2],
            &TEMP_ARGS[3],
        ],
    );
    let socket = host.socket.display().to_string();
    let ctl = Variant::new(
        "ctl-invoke",
        "`wasi-hw ctl invoke`, whole process",
        &cli,
        &[&"ctl", &"--socket", &socket, &"invoke", &"temp"],
    );
    let cold_rounds = o.rounds.unwrap_or(if o.smoke { 5 } else { 200 });
    let check = |_: &Variant, out: &Outcome| {
        if !out.success() || !out.stdout.contains("temperature: 23.50 C") {
            bail!("no temperature reading");
        }
        Ok(())
    };
    let series = measure(runner, &[native, ctl], cold_rounds, 2, &check)?;
    rep.raw_rows("resident-invoke", &series, &|_| None);
    let ms = |s: &Series| summary_of(s.runs.iter().map(|r| r.wall_ns as f64 * 1e-6));
    let (n, c) = (
        ms(&series[0]).context("no runs")?,
        ms(&series[1]).context("no runs")?,
    );
    for (label, s) in [
        ("cold: native driver, whole process (ms)", &n),
        ("warm: `wasi-hw ctl invoke`, whole process (ms)", &c),
    ] {
        t.row(vec![
            label.into(),
            num(s.median),
            format!("{}–{}", num(s.p10), num(s.p90)),
            s.n.to_string(),
        ]);
    }
    if let Some(cold) = rep.cold.iter().find(|r| r.0 == "aot" || r.0 == "aot-llvm") {
        t.row(vec![
            format!("cold: {}, whole process (ms)", cold.1),
            num(cold.2.median),
            format!("{}–{}", num(cold.2.p10), num(cold.2.p90)),
            cold.2.n.to_string(),
        ]);
    }
    let r = c.median / n.median;
    rep.target(
        "`wasi-hw ctl invoke` process ≤ 1.1× the native driver's cold start",
        format!("{}× ({} vs {} ms)", num(r), num(c.median), num(n.median)),
        r <= 1.1,
        || format!("over by {}×", num(r - 1.1)),
    );
    drop(host);
    text.push_str(&t.to_markdown());

    // 3. Hot updates under a 1 kHz read loop: the bus idle time across each swap.
    // Built and signed by scripts/bench.sh.
    let second = p.p("target/bench/guests/temp-sensor.o2.aot");
    if !exists(&second) {
        bail!(
            "{} missing: run scripts/bench.sh (it builds everything first)",
            second.display()
        );
    }
    let host = Host::start(
        &cli,
        "update",
        &driver(
            "loop",
            &aot,
            &[
                "--bus",
                "sim",
                "--count",
                "1000000000",
                "--interval-ms",
                "1",
            ],
            "",
        ),
    )?;
    host.wait_running(&["loop".into()])?;
    let updates = if o.smoke { 10 } else { 100 };
    let builds = [second.clone(), aot.clone()];
    let mut gaps = Vec::with_capacity(updates);
    for i in 0..updates {
        let before = host.status("loop")?.runs;
        host.ask(&Request::Update {
            name: "loop".into(),
            module: builds[i % 2].clone(),
        })?;
        let t0 = Instant::now();
        loop {
            let s = host.status("loop")?;
            if s.runs > before {
                if let Some(us) = s.update_gap_us {
                    gaps.push(us as f64 / 1000.0);
                    break;
                }
            }
            if t0.elapsed() > Duration::from_secs(10) {
                bail!("update {i}: no transaction of the new instance");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let s = host.status("loop")?;
    let bus = s.buses.first().context("no bus in the status")?;
    let (in_flight, failed) = (bus.in_flight, bus.failed);
    drop(host);
    let g = Summary::of(&gaps).context("no updates")?;
    let _ = writeln!(
        text,
        "\n{updates} hot updates of a driver reading the sensor every 1 ms, alternating two \
         builds (`-O3` and `-O2`): bus idle time from the old instance's last transaction \
         to the new one's first, measured by the host: median {} ms, p90 {} ms, max {} ms; \
         {} transactions failed and {} were left in flight.",
        num(g.median),
        num(g.p90),
        num(g.max),
        failed,
        in_flight
    );
    rep.target(
        "update gap ≤ 5 ms, zero failed or half-done transactions (100 updates, 1 kHz loop)",
        format!(
            "max {} ms (median {}), {failed} failed, {in_flight} half-done",
            num(g.max),
            num(g.median)
        ),
        g.max <= 5.0 && failed == 0 && in_flight == 0,
        || format!("max over by {} ms", num(g.max - 5.0)),
    );

    // 4. RSS of each extra idle driver: 8 in one host against 1.
    let idle = |n: usize| -> String {
        (0..n)
            .map(|i| {
                driver(
                    &format!("idle{i}"),
                    &aot,
                    &[
                        "--bus",
                        "sim",
                        "--count",
                        "1000000000",
                        "--interval-ms",
                        "1000",
                    ],
                    "",
                )
            })
            .collect()
    };
    let mut rss = Vec::new();
    for n in [1usize, 8] {
        let host = Host::start(&cli, &format!("idle{n}"), &idle(n))?;
        let names: Vec<String> = (0..n).map(|i| format!("idle{i}")).collect();
        host.wait_running(&names)?;
        std::thread::sleep(Duration::from_millis(300));
        rss.push(host.rss_kib()? as f64);
    }
    let per = (rss[1] - rss[0]) / 7.0;
    let _ = writeln!(
        text,
        "\nIdle drivers (each a running instance asleep in `delay`): host RSS {} KiB with \
         1, {} KiB with 8: {} KiB per extra driver.",
        num(rss[0]),
        num(rss[1]),
        num(per)
    );
    rep.target(
        "each extra idle sensor driver ≤ 300 KiB RSS (8 drivers vs 1)",
        format!("{} KiB", num(per)),
        per <= 300.0,
        || format!("over by {} KiB", num(per - 300.0)),
    );

    // 5. fds and RSS over many scheduled runs.
    let total = if o.smoke { 300 } else { 10_000 };
    let host = Host::start(
        &cli,
        "scheduled",
        &driver("tick", &aot, &TEMP_ARGS, "every_ms = 1"),
    )?;
    let mut points = Vec::new();
    let mut fds = Vec::new();
    let t0 = Instant::now();
    loop {
        let runs = host.status("tick")?.runs;
        points.push((runs as f64, host.rss_kib()? as f64));
        fds.push((runs, host.fds()?));
        if runs >= total {
            break;
        }
        if t0.elapsed() > Duration::from_secs(120) {
            bail!("scheduled runs: only {runs} of {total} in 120 s");
        }
        std::thread::sleep(Duration::from_millis(if o.smoke { 50 } else { 200 }));
    }
    let s = host.status("tick")?;
    drop(host);
    if s.last_exit.as_deref() != Some("exit 0") {
        bail!("scheduled runs: last exit {:?}", s.last_exit);
    }
    // Growth after the first tenth (allocator and page-cache warm-up before it).
    let warm_at = points
        .iter()
        .find(|p| p.0 >= total as f64 / 10.0)
        .copied()
        .unwrap_or(points[0]);
    let last = *points.last().expect("at least one sample");
    let growth = last.1 - warm_at.1;
    let (fd_first, fd_last) = (fds[fds.len() / 10].1, fds[fds.len() - 1].1);
    let _ = writeln!(
        text,
        "\n{} scheduled runs (a fresh instance of the sensor driver every 1 ms): RSS {} KiB \
         after {} runs, {} KiB after {}; open fds {fd_first} → {fd_last}.\n\n\
         ![RSS over scheduled runs](plots/resident-rss.png)",
        last.0,
        num(warm_at.1),
        warm_at.0,
        num(last.1),
        last.0
    );
    rep.target(
        "no fd, handle or memory growth over 10 000 scheduled runs",
        format!(
            "{} runs: RSS {:+} KiB after warm-up, fds {fd_first} → {fd_last}",
            last.0, growth
        ),
        growth <= 64.0 && fd_last <= fd_first,
        || format!("RSS {growth:+} KiB, fds {fd_first} → {fd_last}"),
    );
    LineChart {
        title: "wasi-hw serve: RSS over scheduled runs (one instance per run)".into(),
        x_unit: "runs".into(),
        y_unit: "RSS, KiB".into(),
        points,
    }
    .draw_png(&o.out.join("plots/resident-rss.png"), 1000)?;
    rep.sections.insert("resident".into(), text);
    Ok(())
}
