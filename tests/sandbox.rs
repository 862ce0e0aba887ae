//! `run --user` and `run --seccomp`: the guest works as before inside the filter, and after
//! the switch the host keeps what it opened as root but can open nothing more that only
//! root may. The filter's refusals themselves are tested in runtime/sandbox/tests.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn guest(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("target/guests/{name}.wasm"));
    assert!(
        p.exists(),
        "{} missing: run scripts/build-guests.sh",
        p.display()
    );
    p
}

fn run(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_wasi-hw"))
        .arg("run")
        .args(args)
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    assert!(out.status.code().is_some(), "died from a signal: {out:?}");
    out
}

/// The temp-sensor driver on the simulated bus, with `options` before the module.
fn run_sensor(options: &[&str]) -> Output {
    let sensor = guest("temp-sensor");
    let sensor = sensor.to_str().unwrap();
    let driver = [
        "--i2c", "sim:0x48", sensor, "--bus", "sim", "--addr", "0x48",
    ];
    run(&[options, &driver[..]].concat())
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
}

#[test]
fn guests_run_the_same_inside_the_seccomp_filter() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("note"), "in the filter\n").unwrap();
    let dir = format!("{}::/data", tmp.path().display());
    let hello = guest("hello");
    for mode in [&["--interp"][..], &[]] {
        let mut args = vec!["--seccomp", "--dir", &dir];
        args.extend_from_slice(mode);
        args.extend([
            hello.to_str().unwrap(),
            "--cat",
            "/data/note",
            "--exit",
            "7",
        ]);
        let o = run(&args);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(7), "{mode:?}: {err}");
        assert!(out.contains("file /data/note: in the filter"), "{out}");
        assert!(err.contains("seccomp filter on"), "{err}");
    }
    let o = run_sensor(&["--seccomp"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("temperature: 23.50 C"), "{out}");
}

#[test]
fn after_switching_user_root_only_files_are_refused_and_granted_devices_still_work() {
    let hello = guest("hello");
    let tmp = tempfile::tempdir().unwrap();
    let private = tmp.path().join("private");
    let open = tmp.path().join("open");
    for (dir, mode) in [(&private, 0o700), (&open, 0o755)] {
        std::fs::create_dir(dir).unwrap();
        std::fs::write(dir.join("f"), "readable by all\n").unwrap();
        std::fs::set_permissions(dir.join("f"), std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let cat = |dir: &Path| {
        let d = format!("{}::/d", dir.display());
        let args = ["--user", "nobody:nogroup", "--seccomp", "--dir", &d];
        run(&[&args[..], &[hello.to_str().unwrap(), "--cat", "/d/f"]].concat())
    };
    if !is_root() {
        let (_, err) = text(&cat(&open));
        assert!(err.contains("needs root"), "{err}");
        return;
    }
    let o = cat(&open);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("file /d/f: readable by all"), "{out}");
    assert!(err.contains("running as nobody"), "{err}");
    // The directory was opened as root, but looking a name up in it is nobody's now.
    let o = cat(&private);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot read /d/f"), "{err}");
    // A bus is opened before the switch; so are the granted USB devices present.
    let o = run_sensor(&["--user", "nobody:nogroup"]);
    assert!(o.status.success(), "{}", text(&o).1);
    let storage = guest("usb-storage");
    let o = run(&[
        "--user",
        "nobody:nogroup",
        "--seccomp",
        "--usb",
        "sim",
        storage.to_str().unwrap(),
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("000001f0  f0 f1"), "{out}");
    let o = run(&["--user", "nosuchuser", hello.to_str().unwrap()]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(err.contains("user nosuchuser: no such user"), "{err}");
}
