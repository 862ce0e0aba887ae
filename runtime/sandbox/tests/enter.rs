//! The user switch and the filter for real. Both are one-way for the whole process, so
//! each test runs its checks in a child: the test binary again, with `CHILD` naming the
//! test, and reads what the child printed.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use wasi_hw_sandbox::{Sandbox, UserSpec};

const CHILD: &str = "WASI_HW_SANDBOX_CHILD";

/// In the child: true (run the checks). In the parent: runs the child and returns its
/// stdout, after checking it exited cleanly.
fn child_output(test: &str, env: &[(&str, &str)]) -> Result<String, bool> {
    if std::env::var(CHILD).as_deref() == Ok(test) {
        return Err(true);
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, test)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "child failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(stdout)
}

fn line<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        // The first line follows libtest's "test NAME ... ".
        .find_map(|l| l.split_once(key).map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("no {key:?} in {out}"))
}

#[test]
fn refused_calls_fail_with_eperm_and_the_process_goes_on() {
    let out = match child_output("refused_calls_fail_with_eperm_and_the_process_goes_on", &[]) {
        Ok(out) => out,
        Err(_) => {
            let sandbox = Sandbox {
                user: None,
                seccomp: true,
            };
            let entered = sandbox.enter(None).expect("filter installed");
            println!("entered: {entered}");
            let status = std::fs::read_to_string("/proc/self/status").unwrap();
            let mode = status.lines().find(|l| l.starts_with("Seccomp:")).unwrap();
            println!("mode: {}", mode.split_whitespace().nth(1).unwrap());
            let spawn = Command::new("/bin/true").status();
            println!("spawn: {:?}", spawn.map_err(|e| e.raw_os_error()));
            let tcp = std::net::TcpListener::bind("127.0.0.1:0");
            println!("tcp: {:?}", tcp.map(|_| ()).map_err(|e| e.raw_os_error()));
            let unix = std::os::unix::net::UnixDatagram::unbound();
            println!("unix: {:?}", unix.map(|_| ()).map_err(|e| e.raw_os_error()));
            let thread = std::thread::Builder::new()
                .name("in-filter".into())
                .spawn(|| 42)
                .map(|t| t.join().unwrap());
            println!("thread: {:?}", thread.map_err(|e| e.raw_os_error()));
            let file = std::fs::read("/proc/self/cmdline").map(|b| !b.is_empty());
            println!("file: {:?}", file.map_err(|e| e.raw_os_error()));
            return;
        }
    };
    assert!(
        line(&out, "entered: ").contains("seccomp filter on"),
        "{out}"
    );
    assert_eq!(line(&out, "mode: "), "2", "SECCOMP_MODE_FILTER");
    let eperm = format!("Err(Some({}))", libc::EPERM);
    assert_eq!(line(&out, "spawn: "), eperm, "no new processes");
    assert_eq!(line(&out, "tcp: "), eperm, "no network sockets");
    assert_eq!(line(&out, "unix: "), "Ok(())", "Unix-domain sockets stay");
    assert_eq!(line(&out, "thread: "), "Ok(42)", "threads stay");
    assert_eq!(line(&out, "file: "), "Ok(true)", "files stay");
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn after_the_switch_root_s_files_and_root_itself_are_out_of_reach() {
    const TEST: &str = "after_the_switch_root_s_files_and_root_itself_are_out_of_reach";
    if std::env::var(CHILD).as_deref() == Ok(TEST) {
        let secret = format!("{}/secret", std::env::var("SECRET_DIR").unwrap());
        // What the host opened before the switch (its granted devices) stays usable.
        let opened_before = std::fs::File::open(&secret);
        let sandbox = Sandbox {
            user: Some("nobody:nogroup".parse().unwrap()),
            seccomp: true,
        };
        let ids = sandbox.resolve().unwrap();
        println!(
            "entered: {}",
            sandbox.enter(ids.as_ref()).expect("switched")
        );
        // SAFETY: getuid/getgid/setuid take and return integers.
        let (uid, gid, back) = unsafe { (libc::getuid(), libc::getgid(), libc::setuid(0)) };
        println!("ids: {uid} {gid} {back}");
        let after = std::fs::File::open(&secret);
        println!(
            "after: {:?}",
            after.map(|_| ()).map_err(|e| e.raw_os_error())
        );
        let mut text = String::new();
        let read = opened_before.and_then(|mut f| f.read_to_string(&mut text));
        println!("before: {:?} {text}", read.map_err(|e| e.raw_os_error()));
        return;
    }
    let spec: UserSpec = "nobody:nogroup".parse().unwrap();
    let ids = spec.resolve_system().unwrap();
    if !is_root() {
        // Switching user needs root (CI runs as root); without it, the refusal is the test.
        let sandbox = Sandbox {
            user: Some(spec),
            seccomp: false,
        };
        let err = format!("{:#}", sandbox.enter(Some(&ids)).unwrap_err());
        assert!(err.contains("needs root"), "{err}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "root only").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = child_output(TEST, &[("SECRET_DIR", dir.path().to_str().unwrap())]).unwrap();
    assert!(
        line(&out, "entered: ").contains("running as nobody"),
        "{out}"
    );
    assert_eq!(line(&out, "ids: "), format!("{} {} -1", ids.uid, ids.gid));
    let eacces = format!("Err(Some({}))", libc::EACCES);
    assert_eq!(
        line(&out, "after: "),
        eacces,
        "root's file, opened after the switch"
    );
    assert_eq!(
        line(&out, "before: "),
        "Ok(9) root only",
        "opened before the switch"
    );
}
