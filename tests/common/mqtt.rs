//! An MQTT broker (Debian's mosquitto, persistence on) and subscriber (mosquitto_sub, a
//! persistent QoS 1 session) for tests, on loopback.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A loopback port for a test server, below Linux's ephemeral range (32768-) so that no
/// outgoing connection takes it while its server restarts, and never the same twice in
/// this process (two tests' servers would otherwise meet on one port).
pub fn free_port() -> u16 {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let base = 20000 + (std::process::id() % 600) * 20;
    loop {
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let port = (base + n % 12000) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
        assert!(n < 12000, "no free port");
    }
}

pub struct Broker {
    child: Option<Child>,
    config: PathBuf,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Broker {
    pub fn start() -> Broker {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = dir.path().join("mosquitto.conf");
        // `user root`: started as root, mosquitto would otherwise switch to its own user,
        // which cannot write its session store into this test's directory (no effect when
        // not started as root).
        std::fs::write(
            &config,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\nlog_dest none\nuser root\n",
                dir.path().display()
            ),
        )
        .unwrap();
        let mut broker = Broker {
            child: None,
            config,
            port,
            _dir: dir,
        };
        broker.up();
        broker
    }

    pub fn up(&mut self) {
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto (scripts/setup.sh)");
        self.child = Some(child);
        let t = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "mosquitto did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM (mosquitto saves its sessions), and wait for it to end.
    pub fn down(&mut self) {
        let mut child = self.child.take().unwrap();
        let _ = Command::new("kill").arg(child.id().to_string()).status();
        child.wait().unwrap();
    }

    pub fn broker(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// What mosquitto_sub received: (topic, JSON payload) in order.
pub struct Subscriber {
    child: Child,
    got: Arc<Mutex<Vec<(String, serde_json::Value)>>>,
}

impl Subscriber {
    pub fn start(broker: &Broker, topic: &str) -> Subscriber {
        let mut child = Command::new("mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &broker.port.to_string()])
            // One client id per subscriber: the broker disconnects a second one with the same.
            .args(["-i", &format!("sub-{}", topic.replace('/', "-"))])
            .args(["-c", "-q", "1", "-v", "-t"])
            .arg(format!("{topic}/#"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto_sub (scripts/setup.sh)");
        let got = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().unwrap();
        std::thread::spawn({
            let got = Arc::clone(&got);
            move || {
                for line in std::io::BufReader::new(out).lines() {
                    let Ok(line) = line else { return };
                    let (topic, payload) = line.split_once(' ').unwrap_or((&line, ""));
                    let json = serde_json::from_str(payload).unwrap_or(serde_json::Value::Null);
                    got.lock().unwrap().push((topic.to_string(), json));
                }
            }
        });
        let sub = Subscriber { child, got };
        // Subscribed once a probe comes back.
        let t = Instant::now();
        while !sub.any(|t, _| t.ends_with("/probe")) {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "mosquitto_sub did not subscribe"
            );
            let _ = Command::new("mosquitto_pub")
                .args(["-h", "127.0.0.1", "-p", &broker.port.to_string(), "-q", "1"])
                .args(["-t", &format!("{topic}/probe"), "-m", "{}"])
                .status();
            std::thread::sleep(Duration::from_millis(100));
        }
        sub
    }

    pub fn any(&self, f: impl Fn(&str, &serde_json::Value) -> bool) -> bool {
        self.got.lock().unwrap().iter().any(|(t, p)| f(t, p))
    }

    /// Payloads on `topic`, one per sequence number (QoS 1 may deliver one twice).
    pub fn by_seq(&self, topic: &str) -> BTreeMap<u64, serde_json::Value> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, _)| t == topic)
            .map(|(_, p)| (p["seq"].as_u64().unwrap(), p.clone()))
            .collect()
    }

    /// The sum of the drop counts the host published.
    pub fn dropped(&self, host_topic: &str) -> u64 {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, _)| t == host_topic)
            .map(|(_, p)| p["dropped"].as_u64().unwrap())
            .sum()
    }

    pub fn wait_for(&self, what: &str, cond: impl Fn(&Subscriber) -> bool) {
        let t = Instant::now();
        while !cond(self) {
            if t.elapsed() > Duration::from_secs(40) {
                let got = self.got.lock().unwrap();
                let summary: Vec<String> = got.iter().map(|(t, p)| format!("{t} {p}")).collect();
                panic!(
                    "timed out waiting for {what}; received:\n{}",
                    summary.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
