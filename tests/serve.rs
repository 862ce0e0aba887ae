//! `wasi-hw serve` and `wasi-hw ctl` end to end: a real host process with a temporary
//! config and socket, driven through the real client.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::serve::{cli, write_config, Serve};

fn guest(file: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/guests")
        .join(file);
    assert!(
        p.exists(),
        "{} missing: run scripts/build-guests.sh",
        p.display()
    );
    p
}

fn temp_driver(name: &str, extra: &str) -> String {
    format!(
        "[[driver]]\nname = {name:?}\nmodule = {:?}\nargs = [\"--bus\", \"sim\", \"--count\", \"100000000\", \"--interval-ms\", \"1\"]\ni2c = [\"sim:0x48\"]\n{extra}\n",
        guest("temp-sensor.aot").display().to_string()
    )
}

fn wat_module(dir: &Path, name: &str, wat: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, wat::parse_str(wat).unwrap()).unwrap();
    p
}

const TRAPS: &str = r#"(module (memory (export "memory") 1)
  (func (export "_start") unreachable))"#;

#[test]
fn every_ctl_verb() {
    let sensor = guest("temp-sensor.aot").display().to_string();
    let serve = Serve::start(&format!(
        "{}\n[[driver]]\nname = \"sample\"\nmodule = {sensor:?}\nargs = [\"--bus\", \"sim\"]\ni2c = [\"sim:0x48\"]\nevery_ms = 50\n\n\
         [[driver]]\nname = \"manual\"\nmodule = {sensor:?}\nargs = [\"--bus\", \"sim\"]\ni2c = [\"sim:0x48\"]\nautostart = false\nrestart = \"never\"\n",
        temp_driver("loop", "")
    ));
    let list = serve.ok(&["list"]);
    assert!(
        list.contains("loop") && list.contains("sample") && list.contains("manual"),
        "{list}"
    );

    let s = serve.status("loop");
    assert_eq!(s["state"], "running");
    assert_eq!(s["runs"], 1);
    assert_eq!(s["digest"].as_str().unwrap().len(), 64);
    serve.wait_for("sample to run again", |s| {
        s.status("sample")["runs"].as_u64() >= Some(3)
    });
    assert_eq!(serve.status("sample")["last_exit"], "exit 0");
    assert_eq!(serve.status("manual")["state"], "stopped");

    // invoke: the output and the exit code come back to the caller.
    let o = serve.ctl(&["invoke", "manual"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "temperature: 23.50 C\n");
    let o = serve.ctl(&["invoke", "manual", "--", "--bus", "sim", "--addr", "0x49"]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("temp-sensor: error"),
        "{o:?}"
    );
    let err = serve.fails(&["invoke", "loop"]);
    assert!(err.contains("long-lived"), "{err}");

    // start / stop / restart.
    assert!(serve.ok(&["start", "manual"]).contains("started manual"));
    serve.wait_for("manual to exit", |s| {
        s.status("manual")["state"] == "exited"
    });
    assert!(serve.ok(&["stop", "loop"]).contains("stopped loop"));
    assert_eq!(serve.status("loop")["state"], "stopped");
    assert_eq!(serve.status("loop")["last_exit"], "stopped by the host");
    serve.ok(&["start", "loop"]);
    serve.wait_for("loop to run", |s| s.status("loop")["state"] == "running");
    serve.ok(&["restart", "loop"]);
    serve.wait_for("loop to run again", |s| s.status("loop")["runs"] == 3);
    let bus = &serve.status("loop")["buses"][0];
    assert_eq!(bus["failed"].as_u64(), Some(0), "{bus}");

    // update, to another build of the same driver.
    let out = serve.ok(&[
        "update",
        "loop",
        &guest("temp-sensor.wasm").display().to_string(),
    ]);
    assert!(out.starts_with("updated loop: "), "{out}");
    let s = serve.status("loop");
    assert!(
        s["module"].as_str().unwrap().ends_with("temp-sensor.wasm"),
        "{s}"
    );

    // unknown drivers and bad requests.
    assert!(serve
        .fails(&["status", "nope"])
        .contains("no driver named \"nope\""));
    assert!(serve.fails(&["stop", "nope"]).contains("no driver named"));
    let mut raw = UnixStream::connect(&serve.socket).unwrap();
    raw.write_all(b"{\"cmd\":\"explode\"}\nnot json\n{\"cmd\":\"list\"}\n")
        .unwrap();
    let mut lines = BufReader::new(raw).lines();
    for _ in 0..2 {
        let reply: serde_json::Value =
            serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
        assert_eq!(reply["ok"], false);
        assert!(
            reply["error"].as_str().unwrap().starts_with("bad request"),
            "{reply}"
        );
    }
    let reply: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(reply["ok"], true, "the connection survives bad lines");

    // reload: `sample` removed, `manual` changed, `loop` untouched, `extra` added.
    let runs = serve.status("loop")["runs"].clone();
    write_config(
        &serve.config,
        &serve.socket,
        &format!(
            "{}\n[[driver]]\nname = \"manual\"\nmodule = {sensor:?}\nargs = [\"--bus\", \"sim\", \"--count\", \"2\"]\ni2c = [\"sim:0x48\"]\nautostart = false\n\n{}",
            temp_driver("loop", ""),
            temp_driver("extra", "")
        ),
    );
    let out = serve.ok(&["reload"]);
    assert!(
        out.contains("extra started")
            && out.contains("sample stopped")
            && out.contains("manual restarted"),
        "{out}"
    );
    assert_eq!(
        serve.status("loop")["runs"],
        runs,
        "an unchanged driver keeps running"
    );
    assert!(serve
        .fails(&["status", "sample"])
        .contains("no driver named"));
    assert_eq!(
        String::from_utf8_lossy(&serve.ctl(&["invoke", "manual"]).stdout),
        "temperature: 23.50 C\ntemperature: 23.50 C\n"
    );

    let (stdout, _) = serve.stop();
    assert!(
        stdout.lines().any(|l| l == "loop: temperature: 23.50 C"),
        "{stdout}"
    );
    assert!(stdout.lines().any(|l| l == "sample: temperature: 23.50 C"));
}

#[test]
fn a_hundred_updates_under_a_1khz_read_loop_lose_no_transaction_and_no_fd() {
    let serve = Serve::start(&temp_driver("loop", ""));
    let builds = [guest("temp-sensor.wasm"), guest("temp-sensor.aot")];
    // Both builds loaded once, so the fd count below is the steady state.
    for b in &builds {
        serve.ok(&["update", "loop", &b.display().to_string()]);
    }
    let fds = serve.open_fds();
    for i in 0..100 {
        let out = serve.ok(&["update", "loop", &builds[i % 2].display().to_string()]);
        assert!(out.starts_with("updated loop"), "{out}");
    }
    let s = serve.status("loop");
    assert_eq!(s["state"], "running");
    assert_eq!(s["runs"], 103, "{s}");
    // Stopped (between host calls) first: while it runs, one transaction may be on the wire.
    serve.ok(&["stop", "loop"]);
    let s = serve.status("loop");
    let bus = &s["buses"][0];
    assert_eq!(bus["in_flight"], 0, "a transaction was cut short: {s}");
    assert_eq!(bus["failed"], 0, "{s}");
    assert!(bus["transactions"].as_u64().unwrap() > 100, "{s}");
    assert_eq!(serve.open_fds(), fds, "fds leaked across updates");
    let (stdout, stderr) = serve.stop();
    let readings: Vec<&str> = stdout.lines().collect();
    assert!(readings.len() > 100);
    assert!(
        readings.iter().all(|l| *l == "loop: temperature: 23.50 C"),
        "every reading before and after each update is right: {stdout}{stderr}"
    );
}

#[test]
fn a_bad_update_is_refused_and_the_old_driver_keeps_running() {
    let data = tempfile::tempdir().unwrap();
    let serve = Serve::start(&temp_driver(
        "loop",
        &format!("dirs = [{:?}]", data.path().display().to_string()),
    ));
    let dir = serve.dir.path();
    let before = serve.status("loop");

    let corrupt = dir.join("corrupt.aot");
    let mut bytes = std::fs::read(guest("temp-sensor.aot")).unwrap();
    bytes.truncate(bytes.len() / 3);
    std::fs::write(&corrupt, &bytes).unwrap();
    let missing_import = wat_module(
        dir,
        "missing.wasm",
        r#"(module (import "wasi:i2c/i2c@0.2.0-draft" "[method]i2c.frobnicate" (func))
           (memory (export "memory") 1) (func (export "_start")))"#,
    );
    let armv7 = dir.join("armv7.aot");
    let o = cli()
        .args(["compile", "--target", "armv7", "-o"])
        .arg(&armv7)
        .arg(guest("temp-sensor.wasm"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    let unsigned = dir.join("unsigned.aot");
    std::fs::copy(guest("temp-sensor.aot"), &unsigned).unwrap();
    let tampered = dir.join("tampered.aot");
    let mut bytes = std::fs::read(guest("temp-sensor.aot")).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 1;
    std::fs::write(&tampered, &bytes).unwrap();
    std::fs::copy(guest("temp-sensor.aot.sig"), dir.join("tampered.aot.sig")).unwrap();
    // A signed module inside a directory the driver may write to.
    let inside = data.path().join("inside.aot");
    std::fs::copy(guest("temp-sensor.aot"), &inside).unwrap();
    std::fs::copy(
        guest("temp-sensor.aot.sig"),
        data.path().join("inside.aot.sig"),
    )
    .unwrap();
    let cases = [
        (inside, "rewrite its own code"),
        (unsigned, "unsigned.aot.sig"),
        (tampered, "tampered.aot"),
        (corrupt, "corrupt.aot"),
        (armv7, "armv7"),
        (missing_import, "frobnicate"),
        (dir.join("absent.aot"), "absent.aot"),
    ];
    for (file, want) in cases {
        let err = serve.fails(&["update", "loop", &file.display().to_string()]);
        assert!(
            err.contains("update of loop refused; the running module stays"),
            "{err}"
        );
        assert!(err.contains(want), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    let after = serve.status("loop");
    assert_eq!(after["state"], "running");
    assert_eq!(after["digest"], before["digest"]);
    assert_eq!(after["runs"], 1, "the old instance was never stopped");
}

#[test]
fn a_trapping_driver_backs_off_while_another_is_unaffected() {
    let dir = tempfile::tempdir().unwrap();
    let traps = wat_module(dir.path(), "traps.wasm", TRAPS);
    let serve = Serve::start(&format!(
        "{}\n[[driver]]\nname = \"crashy\"\nmodule = {:?}\nbackoff_ms = 50\nbackoff_max_ms = 400\n",
        temp_driver("loop", ""),
        traps.display().to_string()
    ));
    serve.wait_for("restarts", |s| {
        s.status("crashy")["restarts"].as_u64() >= Some(4)
    });
    let t = Instant::now();
    let before = serve.status("crashy")["restarts"].as_u64().unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    let during = serve.status("crashy")["restarts"].as_u64().unwrap() - before;
    // At the 400 ms cap about 3 restarts fit in 1.2 s; without backoff there would be
    // thousands.
    assert!(during <= 6, "{during} restarts in {:?}", t.elapsed());
    let c = serve.status("crashy");
    assert!(c["last_exit"].as_str().unwrap().starts_with("trap:"), "{c}");
    let l = serve.status("loop");
    assert_eq!(
        (l["state"].as_str(), l["runs"].as_u64()),
        (Some("running"), Some(1))
    );
}

#[test]
fn a_failing_update_is_rolled_back_within_the_health_window() {
    let dir = tempfile::tempdir().unwrap();
    let exits = wat_module(dir.path(), "exits3.wasm", common::EXITS_3);
    let serve = Serve::start(&temp_driver("loop", "health_window_ms = 10000"));
    let good = serve.status("loop")["digest"].clone();
    serve.ok(&["update", "loop", &exits.display().to_string()]);
    serve.wait_for("rollback", |s| {
        s.status("loop")["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e.as_str().unwrap().starts_with("rollback:"))
    });
    serve.wait_for("the old module to run again", |s| {
        s.status("loop")["state"] == "running"
    });
    let s = serve.status("loop");
    assert_eq!(s["digest"], good, "{s}");
    assert!(s["module"].as_str().unwrap().ends_with("temp-sensor.aot"));
}

#[test]
fn config_errors_name_file_and_line_and_a_bad_reload_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(
        &config,
        "[[driver]]\nname = \"x\"\nmodule = \"/x.aot\"\nrestart = \"sometimes\"\n",
    )
    .unwrap();
    let o = cli()
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("{}:4:", config.display())), "{err}");

    let serve = Serve::start(&temp_driver("loop", ""));
    std::fs::write(&serve.config, "[[driver]]\nname = \"loop\"\nbogus = 1\n").unwrap();
    let err = serve.fails(&["reload"]);
    assert!(
        err.contains("reload refused") && err.contains("drivers.toml:"),
        "{err}"
    );
    let s = serve.status("loop");
    assert_eq!(
        (s["state"].as_str(), s["runs"].as_u64()),
        (Some("running"), Some(1))
    );
}

#[test]
fn a_client_killed_mid_request_leaves_the_host_healthy() {
    let dir = tempfile::tempdir().unwrap();
    let serve = Serve::start(&format!(
        "[[driver]]\nname = \"slow\"\nmodule = {:?}\nargs = [\"--bus\", \"sim\", \"--count\", \"20\", \"--interval-ms\", \"50\"]\ni2c = [\"sim:0x48\"]\nautostart = false\n",
        guest("temp-sensor.aot").display().to_string()
    ));
    let _ = dir;
    for _ in 0..3 {
        let mut client = cli()
            .arg("ctl")
            .arg("--socket")
            .arg(&serve.socket)
            .args(["invoke", "slow"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(150));
        client.kill().unwrap(); // SIGKILL, mid-run
        client.wait().unwrap();
    }
    // A half-written request from a client that then vanishes.
    let mut raw = UnixStream::connect(&serve.socket).unwrap();
    raw.write_all(b"{\"cmd\":\"sta").unwrap();
    drop(raw);
    assert!(serve.ok(&["list"]).contains("slow"));
    let o = serve.ctl(&["invoke", "slow", "--", "--bus", "sim"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "temperature: 23.50 C\n");
}

#[test]
fn a_driver_spinning_in_guest_code_is_stopped_and_updated() {
    let dir = tempfile::tempdir().unwrap();
    // No host call ever: only the suspend check points the AOT compiler adds reach it.
    let spins = wat_module(dir.path(), "spins.wasm", common::SPINS);
    let serve = Serve::start(&format!(
        "[[driver]]\nname = \"spin\"\nmodule = {0:?}\n\n\
         [[driver]]\nname = \"spin-interp\"\nmodule = {0:?}\ninterp = true\n",
        spins.display().to_string()
    ));
    // The interpreter's own suspend checks (at branches) stop it the same way.
    serve.wait_for("spin-interp to run", |s| {
        s.status("spin-interp")["state"] == "running"
    });
    std::thread::sleep(Duration::from_millis(100));
    assert!(serve
        .ok(&["stop", "spin-interp"])
        .contains("stopped spin-interp"));
    assert_eq!(
        serve.status("spin-interp")["last_exit"],
        "stopped by the host"
    );
    serve.wait_for("spin to run", |s| s.status("spin")["state"] == "running");
    assert!(serve.ok(&["stop", "spin"]).contains("stopped spin"));
    assert_eq!(serve.status("spin")["last_exit"], "stopped by the host");
    serve.ok(&["start", "spin"]);
    serve.wait_for("spin to run again", |s| s.status("spin")["runs"] == 2);
    let out = serve.ok(&["update", "spin", &guest("hello.aot").display().to_string()]);
    assert!(out.starts_with("updated spin"), "{out}");
    serve.wait_for("hello to finish", |s| s.status("spin")["state"] == "exited");
    assert_eq!(serve.status("spin")["last_exit"], "exit 0");
}

#[test]
fn limits_memory_and_wall_time_per_driver() {
    let dir = tempfile::tempdir().unwrap();
    // Exits 0 if growing by 100 pages (6.4 MiB) is refused, 1 if it is granted.
    let grows = wat_module(
        dir.path(),
        "grows.wasm",
        r#"(module
             (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
             (memory (export "memory") 1)
             (func (export "_start")
               (call $exit (i32.ne (memory.grow (i32.const 100)) (i32.const -1)))))"#,
    );
    // Opens ten delay handles and keeps them.
    let opens = wat_module(dir.path(), "opens.wasm", common::OPENS_10_DELAYS);
    let capped = |name: &str, module: &Path, extra: &str| {
        format!(
            "[[driver]]\nname = {name:?}\nmodule = {:?}\nautostart = false\n{extra}\n",
            module.display().to_string()
        )
    };
    let serve = Serve::start(&format!(
        "{}{}{}{}[[driver]]\nname = \"slow\"\nmodule = {:?}\nargs = [\"--bus\", \"sim\", \"--count\", \"1000\", \"--interval-ms\", \"10\"]\ni2c = [\"sim:0x48\"]\nautostart = false\ntimeout_ms = 200\n",
        capped("capped", &grows, "max_memory_kib = 1024"),
        capped("free", &grows, ""),
        capped("few-handles", &opens, "max_handles = 5"),
        capped("many-handles", &opens, ""),
        guest("temp-sensor.aot").display().to_string()
    ));
    assert_eq!(serve.ctl(&["invoke", "capped"]).status.code(), Some(0));
    assert_eq!(serve.ctl(&["invoke", "free"]).status.code(), Some(1));
    let err = serve.fails(&["invoke", "few-handles"]);
    assert!(
        err.contains("open-delay"),
        "the sixth handle is refused: {err}"
    );
    assert_eq!(
        serve.ctl(&["invoke", "many-handles"]).status.code(),
        Some(0)
    );
    let t = Instant::now();
    let err = serve.fails(&["invoke", "slow"]);
    assert!(err.contains("timed out after 200 ms"), "{err}");
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[test]
fn reload_hot_updates_a_module_replaced_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("driver.aot");
    // Each module with its signature (by the development key the set-up trusts).
    let install = |from: &str, to: &Path| {
        std::fs::copy(guest(from), to).unwrap();
        std::fs::copy(guest(&format!("{from}.sig")), to.with_extension("aot.sig")).unwrap();
    };
    install("temp-sensor.aot", &module);
    let serve = Serve::start(&format!(
        "[[driver]]\nname = \"loop\"\nmodule = {:?}\nargs = [\"--bus\", \"sim\", \"--count\", \"100000000\", \"--interval-ms\", \"1\"]\ni2c = [\"sim:0x48\"]\n",
        module.display().to_string()
    ));
    let before = serve.status("loop");
    // Unchanged file: nothing happens.
    assert!(serve.ok(&["reload"]).contains("none updated"));
    assert_eq!(serve.status("loop")["runs"], 1);
    // Replaced as opkg does it (a new file renamed over the old one).
    let next = dir.path().join("next.aot");
    install("hello.aot", &next);
    std::fs::rename(
        next.with_extension("aot.sig"),
        module.with_extension("aot.sig"),
    )
    .unwrap();
    std::fs::rename(&next, &module).unwrap();
    let out = serve.ok(&["reload"]);
    assert!(out.contains("loop updated"), "{out}");
    let after = serve.status("loop");
    assert_ne!(after["digest"], before["digest"]);
    assert!(
        after["events"][0].as_str().unwrap().starts_with("update:"),
        "{after}"
    );
}

#[test]
fn usb_claims_are_handed_to_the_updated_driver_and_released_when_it_stops() {
    // The simulated mouse gives 1024 reports, then NAKs: the driver ends up blocked in an
    // interrupt transfer wait, holding interface 1 (its kernel driver detached).
    let serve = Serve::start(&format!(
        "[[driver]]\nname = \"mouse\"\nmodule = {:?}\nargs = [\"--count\", \"100000\", \"--timeout\", \"600000\"]\nusb = [\"sim\"]\nmax_handles = 64\n",
        guest("hid.aot").display().to_string()
    ));
    let usb = |s: &serde_json::Value| s["usb"].as_array().cloned().unwrap_or_default();
    serve.wait_for("the mouse to be opened", |s| {
        usb(&s.status("mouse")).len() == 1
    });
    let out = serve.ok(&["update", "mouse", &guest("hid.wasm").display().to_string()]);
    assert!(out.starts_with("updated mouse"), "{out}");
    serve.wait_for("the new instance to take the device", |s| {
        usb(&s.status("mouse"))
            .first()
            .is_some_and(|d| d["state"] == "in use" && d["handoffs"] == 1)
    });
    serve.ok(&["restart", "mouse"]);
    serve.wait_for("the restarted instance to take the device", |s| {
        usb(&s.status("mouse"))
            .first()
            .is_some_and(|d| d["state"] == "in use" && d["handoffs"] == 2)
    });
    let text = serve.ok(&["status", "mouse"]);
    assert!(
        text.contains("usb 1209:0001 bus 1 port 1: in use, handed over 2 time(s)"),
        "{text}"
    );
    serve.ok(&["stop", "mouse"]);
    let s = serve.status("mouse");
    assert!(usb(&s).is_empty(), "released when stopped: {s}");
    assert_eq!(s["runs"], 3);
    let (stdout, stderr) = serve.stop();
    assert!(
        stdout.lines().filter(|l| l.starts_with("mouse: ")).count() >= 1024,
        "{stdout}{stderr}"
    );
    // Every instance found the device.
    assert_eq!(
        stderr.matches("mouse: hid: boot mouse").count(),
        3,
        "{stderr}"
    );
}

#[test]
fn a_driver_asleep_in_wasi_poll_oneoff_is_woken_and_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let sleeps = wat_module(dir.path(), "sleeps.wasm", common::SLEEPS_60S);
    let serve = Serve::start(&format!(
        "[[driver]]\nname = \"sleeper\"\nmodule = {:?}\nrestart = \"never\"\n",
        sleeps.display().to_string()
    ));
    serve.wait_for("the driver to run", |s| {
        s.status("sleeper")["state"] == "running"
    });
    std::thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    assert_eq!(serve.ok(&["stop", "sleeper"]).trim(), "stopped sleeper");
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "took {:?}",
        t.elapsed()
    );
    let s = serve.status("sleeper");
    assert_eq!(s["last_exit"], "stopped by the host", "{s}");
}

#[test]
fn drivers_can_be_export_calls_with_host_made_handles() {
    let serve = Serve::start(&format!(
        "[[driver]]\nname = \"temperature\"\nmodule = {:?}\ni2c = [\"sim:0x5f\"]\nautostart = false\ninvoke = 'hts#get-temperature(i2c(\"sim\"))'\n\
         [[driver]]\nname = \"wrong\"\nmodule = {:?}\ni2c = [\"sim:0x5f\"]\nautostart = false\ninvoke = 'get-pressure(i2c)'\n",
        guest("hts-reader.aot").display().to_string(),
        guest("hts-reader.wasm").display().to_string(),
    ));
    let out = serve.ok(&["invoke", "temperature"]);
    assert!(out.contains("ok(\"23.5 °C\")"), "{out}");
    let err = serve.fails(&["invoke", "wrong"]);
    assert!(
        err.contains("invoke: the module exports no function `get-pressure`"),
        "{err}"
    );
}

#[test]
fn a_sandboxed_host_updates_and_invokes_as_its_user_inside_the_filter() {
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    // Switching user needs root (CI is root); the filter does not.
    let user = if root {
        "user = \"nobody:nogroup\"\n"
    } else {
        ""
    };
    let serve = Serve::start(&format!(
        "{user}seccomp = true\n\n{}\n[[driver]]\nname = \"storage\"\nmodule = {:?}\nusb = [\"sim\"]\nautostart = false\n",
        temp_driver("temp", ""),
        guest("usb-storage.aot").display().to_string()
    ));
    serve.wait_for("the sensor to run", |s| {
        s.status("temp")["state"] == "running"
    });
    let proc_status = std::fs::read_to_string(format!("/proc/{}/status", serve.pid())).unwrap();
    let field = |name: &str| {
        proc_status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap()
    };
    assert_eq!(field("Seccomp:"), "2", "filter mode");
    if root {
        assert_eq!(field("Uid:"), "65534 65534 65534 65534");
        assert_eq!(field("Groups:"), "");
    }
    // A hot update compiles and loads code inside the filter; invoke runs a USB driver
    // whose devices were opened before the switch.
    let out = serve.ok(&[
        "update",
        "temp",
        &guest("temp-sensor.wasm").display().to_string(),
    ]);
    assert!(out.starts_with("updated temp"), "{out}");
    let out = serve.ok(&["invoke", "storage"]);
    assert!(out.contains("000001f0  f0 f1 f2 f3"), "{out}");
    serve.wait_for("the updated sensor to run", |s| {
        s.status("temp")["runs"] == 2 && s.status("temp")["state"] == "running"
    });
    serve.stop();
}
