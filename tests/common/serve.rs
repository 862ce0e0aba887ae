//! A `wasi-hw serve` process for tests: temporary config and socket, driven through the
//! real `wasi-hw ctl` client.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn cli() -> Command {
    Command::new(env!("CARGO_BIN_EXE_wasi-hw"))
}

/// A running `wasi-hw serve`, killed when dropped.
pub struct Serve {
    child: Option<Child>,
    /// The host's stdout and stderr, read as they come (as procd's logd would).
    output: Option<[std::thread::JoinHandle<String>; 2]>,
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    pub config: PathBuf,
}

impl Serve {
    pub fn start(drivers: &str) -> Serve {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("ctl.sock");
        let config = dir.path().join("drivers.toml");
        write_config(&config, &socket, drivers);
        let mut child = cli()
            .args(["serve", "--config"])
            .arg(&config)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let drain = |mut r: Box<dyn std::io::Read + Send>| {
            std::thread::spawn(move || {
                let mut s = String::new();
                let _ = r.read_to_string(&mut s);
                s
            })
        };
        let output = [
            drain(Box::new(child.stdout.take().unwrap())),
            drain(Box::new(child.stderr.take().unwrap())),
        ];
        let serve = Serve {
            child: Some(child),
            output: Some(output),
            dir,
            socket,
            config,
        };
        let t = Instant::now();
        while UnixStream::connect(&serve.socket).is_err() {
            assert!(t.elapsed() < Duration::from_secs(20), "serve did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        serve
    }

    pub fn ctl(&self, args: &[&str]) -> Output {
        cli()
            .arg("ctl")
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap()
    }

    /// `ctl` that must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.ctl(args);
        assert!(
            o.status.success(),
            "ctl {args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// `ctl` that must fail with exit 1; its stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let o = self.ctl(args);
        assert_eq!(o.status.code(), Some(1), "ctl {args:?} should fail: {o:?}");
        String::from_utf8_lossy(&o.stderr).into_owned()
    }

    pub fn status(&self, name: &str) -> serde_json::Value {
        let out = self.ok(&["--json", "status", name]);
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["status"].clone()
    }

    /// The host's open descriptors once the control connections of earlier `ctl` calls
    /// are closed (only the listening socket left).
    pub fn open_fds(&self) -> usize {
        let t = Instant::now();
        loop {
            let links: Vec<String> = std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
                .unwrap()
                .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .map(|l| l.display().to_string())
                .collect();
            let sockets = links.iter().filter(|l| l.starts_with("socket:")).count();
            if sockets <= 1 || t.elapsed() > Duration::from_secs(5) {
                return links.len();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub fn wait_for(&self, what: &str, mut cond: impl FnMut(&Serve) -> bool) {
        let t = Instant::now();
        while !cond(self) {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "timed out waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then the host's stdout and stderr.
    pub fn stop(mut self) -> (String, String) {
        let _ = Command::new("kill").arg(self.pid().to_string()).status();
        let status = self.child.take().unwrap().wait().unwrap();
        let [out, err] = self.output.take().unwrap();
        let (out, err) = (out.join().unwrap(), err.join().unwrap());
        assert!(status.success(), "serve exited with {status:?}: {err}");
        (out, err)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn write_config(config: &Path, socket: &Path, drivers: &str) {
    std::fs::write(
        config,
        format!(
            "[host]\nsocket = {:?}\n\n{drivers}",
            socket.display().to_string()
        ),
    )
    .unwrap();
}
