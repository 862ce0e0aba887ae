//! The host's configuration file (TOML): a `[host]` table and one `[[driver]]` table per
//! driver. Every error names the file and the line.
//!
//! ```toml
//! [host]
//! socket = "/var/run/wasi-hw.sock"
//!
//! [[driver]]
//! name = "temp"
//! module = "/usr/lib/wasi-hw/temp-sensor.aot"
//! args = ["--bus", "/dev/i2c-1"]
//! i2c = ["/dev/i2c-1:0x48"]
//! every_ms = 60000
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use wasi_hw_wiring::Grants;

/// Where the control socket is by default (`/var/run` exists on OpenWrt and, as a link to
/// `/run`, on Debian).
pub const DEFAULT_SOCKET: &str = "/var/run/wasi-hw.sock";

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file it was read from (relative module paths are relative to its directory).
    pub path: PathBuf,
    pub host: HostConfig,
    pub drivers: Vec<DriverConfig>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    /// The `wasi-hw ctl` socket.
    #[serde(default = "default_socket")]
    pub socket: PathBuf,
    /// Where drivers' output lines go.
    #[serde(default)]
    pub log: LogTarget,
    /// Trusted public keys: every `.aot` (and, with `require_signed_wasm`, every `.wasm`)
    /// must have a `.sig` by one of them, checked before it is loaded or swapped in.
    #[serde(default = "default_keys")]
    pub keys: PathBuf,
    /// Development only: load `.aot` files without checking their signatures.
    #[serde(default)]
    pub allow_unsigned: bool,
    #[serde(default)]
    pub require_signed_wasm: bool,
    /// Once the drivers' devices and the control socket are open, run as this user
    /// (`USER[:GROUP]`, names or numbers; the host must start as root). Drivers a reload
    /// adds, and USB devices plugged in later, then need that user's access.
    #[serde(default)]
    pub user: Option<String>,
    /// Then install the seccomp filter (`wasi_hw_sandbox::seccomp`).
    #[serde(default)]
    pub seccomp: bool,
    /// Publish drivers' output, events and states to an MQTT broker.
    #[serde(default)]
    pub mqtt: Option<MqttConfig>,
}

/// `[host.mqtt]`: see the `mqtt` module for what is published and how.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttConfig {
    /// `HOST[:PORT]` (port 1883 by default).
    pub broker: String,
    /// Topic prefix; the default is `wasi-hw/<host name>`.
    #[serde(default)]
    pub topic: Option<String>,
    /// Client id (the broker keeps its session); the default is `wasi-hw-<host name>`.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Messages kept while the broker is away; beyond, the oldest are dropped (counted).
    #[serde(default = "default_mqtt_buffer")]
    pub buffer: usize,
    #[serde(default)]
    pub username: Option<String>,
    /// A file holding the password (not the config file, which is often world-readable).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
}

fn default_mqtt_buffer() -> usize {
    1000
}

impl MqttConfig {
    fn check(&self, seccomp: bool) -> std::result::Result<(), String> {
        if cfg!(not(feature = "mqtt")) {
            return Err("this build has no MQTT client (cargo feature `mqtt`)".into());
        }
        if seccomp {
            return Err("MQTT needs network sockets, which `seccomp` refuses".into());
        }
        if self.broker.is_empty() {
            return Err("broker is HOST[:PORT]".into());
        }
        if let Some(t) = &self.topic {
            if t.is_empty()
                || t.starts_with('/')
                || t.ends_with('/')
                || t.contains(['+', '#', '\0'])
            {
                return Err(format!(
                    "topic {t:?}: a topic name without wildcards or empty levels at its ends"
                ));
            }
        }
        if self.buffer == 0 {
            return Err("buffer must be at least 1".into());
        }
        Ok(())
    }
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            socket: default_socket(),
            log: LogTarget::default(),
            keys: default_keys(),
            allow_unsigned: false,
            require_signed_wasm: false,
            user: None,
            seccomp: false,
            mqtt: None,
        }
    }
}

impl HostConfig {
    /// What the host gives up once set up (`user`, `seccomp`).
    pub fn sandbox(&self) -> Result<wasi_hw_sandbox::Sandbox> {
        let user = self
            .user
            .as_deref()
            .map(str::parse)
            .transpose()
            .context("[host] user")?;
        Ok(wasi_hw_sandbox::Sandbox {
            user,
            seccomp: self.seccomp,
        })
    }

    pub fn trust_policy(&self) -> wasi_hw_trust::Policy {
        wasi_hw_trust::Policy {
            keys_dir: self.keys.clone(),
            allow_unsigned: self.allow_unsigned,
            require_signed_wasm: self.require_signed_wasm,
            // Each module is verified once per load of a long-running host.
            cache_dir: None,
        }
    }
}

fn default_keys() -> PathBuf {
    PathBuf::from(wasi_hw_trust::DEFAULT_KEYS_DIR)
}

fn default_socket() -> PathBuf {
    PathBuf::from(DEFAULT_SOCKET)
}

/// Where each line a driver writes goes, tagged with the driver's name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogTarget {
    /// The host's own stdout (driver stdout) and stderr (driver stderr).
    #[default]
    Stdio,
    /// The system log (`/dev/log`: procd's logd on OpenWrt, journald elsewhere).
    Syslog,
}

/// What happens when a long-running driver's instance ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    Never,
    /// After a trap or a non-zero exit (the default).
    #[default]
    OnFailure,
    /// After any end, also a clean exit.
    Always,
}

/// One `[[driver]]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriverConfig {
    pub name: String,
    /// A `.wasm` or `.aot` file.
    pub module: PathBuf,
    /// Arguments after the program name.
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Preopened directories, `HOST` or `HOST::GUEST`.
    #[serde(default)]
    pub dirs: Vec<String>,
    /// `--i2c` grants, e.g. `/dev/i2c-1:0x48`.
    #[serde(default)]
    pub i2c: Vec<String>,
    /// `--usb` grants, e.g. `0781:5567`.
    #[serde(default)]
    pub usb: Vec<String>,
    /// A grants file (`i2c ...` / `usb ...` lines), as for `run --grants`.
    #[serde(default)]
    pub grants: Option<PathBuf>,
    #[serde(default)]
    pub restart: RestartPolicy,
    /// First restart delay; doubled after each failure up to `backoff_max_ms`.
    #[serde(default = "default_backoff_ms")]
    pub backoff_ms: u64,
    #[serde(default = "default_backoff_max_ms")]
    pub backoff_max_ms: u64,
    /// Call this export instead of `_start`, as `wasi-hw run --invoke` does (e.g.
    /// `hts#get-temperature(i2c("/dev/i2c-1"))`); the result is a line of the driver's
    /// output, and an `err` result counts as a failed run.
    #[serde(default)]
    pub invoke: Option<String>,
    /// Run `_start` as a fresh instance every this many ms instead of keeping one running.
    #[serde(default)]
    pub every_ms: Option<u64>,
    /// Start with the host (else only on `ctl start` or `ctl invoke`).
    #[serde(default = "yes")]
    pub autostart: bool,
    /// After a hot update: a trap or non-zero exit within this window rolls back.
    #[serde(default = "default_health_window_ms")]
    pub health_window_ms: u64,
    /// Wall-clock limit of one run of a driver that is not kept running: a scheduled run,
    /// an `invoke`, or a driver with `restart = "never"`.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Cap on the driver's linear memory, KiB (rounded up to 64 KiB pages).
    #[serde(default)]
    pub max_memory_kib: Option<u32>,
    /// Cap on the live handles of one instance in each of its I2C and USB handle tables
    /// (buses, delays, devices, device handles, transfers); more is an error to the guest.
    #[serde(default)]
    pub max_handles: Option<usize>,
    /// Execution stack in bytes (0: the engine's default for the module's kind).
    #[serde(default)]
    pub stack_size: u32,
    /// Interpret a `.wasm` module (gateway builds always interpret `.wasm`).
    #[serde(default)]
    pub interp: bool,
    /// Follow an OCI registry tag, `REGISTRY/REPOSITORY:TAG`: when it moves to a new
    /// digest, the build for this gateway's platform is pulled, verified, hot-updated (the
    /// health window rolls a failing one back) and, once healthy, installed as `module`.
    #[serde(default)]
    pub follow: Option<String>,
    /// How often the followed tag is looked at, in seconds.
    #[serde(default = "default_follow_every_s")]
    pub follow_every_s: u64,
    /// Reach that registry over plain HTTP (a lab network); logins come from the auth
    /// files of `skopeo login`/`docker login` of the host's user.
    #[serde(default)]
    pub follow_plain_http: bool,
    /// The line of the `[[driver]]` header, for messages (not compared on reload).
    #[serde(skip)]
    pub line: usize,
}

fn default_backoff_ms() -> u64 {
    100
}
fn default_backoff_max_ms() -> u64 {
    30_000
}
fn default_follow_every_s() -> u64 {
    300
}
fn default_health_window_ms() -> u64 {
    2_000
}
fn yes() -> bool {
    true
}

impl DriverConfig {
    /// The grants of `i2c`, `usb` and the grants file together.
    pub fn grants(&self) -> Result<Grants> {
        let mut grants = Grants {
            i2c: self.i2c.clone(),
            usb: self.usb.clone(),
        };
        if let Some(file) = &self.grants {
            grants.add_file(file)?;
        }
        Ok(grants)
    }

    /// The wall-clock limit of an instance started by the driver's own thread (a kept-
    /// running driver has none: it is meant to run for ever).
    pub fn run_limit(&self) -> Option<Duration> {
        let one_shot = self.every_ms.is_some() || self.restart == RestartPolicy::Never;
        self.timeout_ms
            .filter(|_| one_shot)
            .map(Duration::from_millis)
    }

    pub fn schedule(&self) -> Option<Duration> {
        self.every_ms.map(Duration::from_millis)
    }

    /// The same driver, ignoring where in the file it is.
    pub fn same_as(&self, other: &DriverConfig) -> bool {
        DriverConfig {
            line: 0,
            ..self.clone()
        } == DriverConfig {
            line: 0,
            ..other.clone()
        }
    }

    /// Preopens as (host, guest) pairs.
    pub fn preopens(&self) -> Vec<(PathBuf, String)> {
        self.dirs
            .iter()
            .map(|d| wasi_hw_wiring::parse_preopen(d))
            .collect()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    host: HostConfig,
    #[serde(default)]
    driver: Vec<toml::Spanned<DriverConfig>>,
}

/// A `follow` reference is usable by this build and this host.
#[cfg(feature = "fleet")]
fn check_follow(follow: &str, seccomp: bool) -> std::result::Result<(), String> {
    use std::str::FromStr;
    if seccomp {
        // The filter allows Unix sockets only: a registry is out of reach.
        return Err("follow needs network sockets, which `[host] seccomp` refuses".into());
    }
    let r = wasi_hw_fleet::Reference::from_str(follow)
        .map_err(|e| format!("follow: {follow:?} is not REGISTRY/REPOSITORY:TAG ({e})"))?;
    if r.digest().is_some() {
        return Err(format!(
            "follow: {follow:?} names a digest, which never moves: follow a tag"
        ));
    }
    Ok(())
}

#[cfg(not(feature = "fleet"))]
fn check_follow(_: &str, _: bool) -> std::result::Result<(), String> {
    Err("follow: this build has no registry client (cargo feature `fleet`)".into())
}

impl Config {
    pub fn read(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Config::parse(path, &text)
    }

    /// Parses and checks a configuration; `path` is for messages and relative paths.
    pub fn parse(path: &Path, text: &str) -> Result<Config> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(0, |s| line_of(text, s.start));
            anyhow::anyhow!("{}:{line}: {}", path.display(), e.message().trim_end())
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        if let Some(mqtt) = &raw.host.mqtt {
            mqtt.check(raw.host.seccomp)
                .map_err(|e| anyhow::anyhow!("{}: [host.mqtt]: {e}", path.display()))?;
        }
        let mut drivers: Vec<DriverConfig> = Vec::new();
        for spanned in raw.driver {
            let line = line_of(text, spanned.span().start);
            let mut d = spanned.into_inner();
            d.line = line;
            let at = |msg: String| {
                anyhow::anyhow!("{}:{line}: driver {:?}: {msg}", path.display(), d.name)
            };
            if d.name.is_empty()
                || !d
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                bail!(
                    "{}:{line}: driver name {:?}: use letters, digits, `-`, `_` and `.`",
                    path.display(),
                    d.name
                );
            }
            if let Some(first) = drivers.iter().find(|o| o.name == d.name) {
                return Err(at(format!("defined twice (first at line {})", first.line)));
            }
            if d.module.is_relative() {
                d.module = base.join(&d.module);
            }
            if let Some(g) = &d.grants {
                if g.is_relative() {
                    d.grants = Some(base.join(g));
                }
            }
            wasi_hw_policy::i2c::I2cPolicy::from_grants(&d.i2c)
                .map_err(|e| at(format!("i2c: {e}")))?;
            wasi_hw_policy::usb::UsbPolicy::from_grants(&d.usb)
                .map_err(|e| at(format!("usb: {e}")))?;
            if d.max_memory_kib == Some(0) {
                return Err(at("max_memory_kib must be at least 64".into()));
            }
            if d.max_handles == Some(0) {
                return Err(at("max_handles must be at least 1".into()));
            }
            if d.every_ms == Some(0) {
                return Err(at("every_ms must be at least 1".into()));
            }
            if d.backoff_ms == 0 || d.backoff_max_ms < d.backoff_ms {
                return Err(at("need 0 < backoff_ms <= backoff_max_ms".into()));
            }
            if let Some(follow) = &d.follow {
                check_follow(follow, raw.host.seccomp).map_err(at)?;
                if d.follow_every_s == 0 {
                    return Err(at("follow_every_s must be at least 1".into()));
                }
            }
            for k in d.env.keys() {
                if k.is_empty() || k.contains('=') {
                    return Err(at(format!("env: bad variable name {k:?}")));
                }
            }
            drivers.push(d);
        }
        Ok(Config {
            path: path.to_path_buf(),
            host: raw.host,
            drivers,
        })
    }

    pub fn driver(&self, name: &str) -> Option<&DriverConfig> {
        self.drivers.iter().find(|d| d.name == name)
    }
}

/// 1-based line of byte offset `at`.
fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config> {
        Config::parse(Path::new("/etc/wasi-hw/drivers.toml"), text)
    }

    #[test]
    fn a_full_driver_table() {
        let c = parse(
            r#"
[host]
socket = "/tmp/x.sock"

[[driver]]
name = "temp"
module = "temp-sensor.aot"
args = ["--bus", "sim"]
env = { A = "1" }
i2c = ["sim:0x48"]
every_ms = 1000
timeout_ms = 500

[[driver]]
name = "lcd"
module = "/opt/lcd.wasm"
restart = "always"
autostart = false
"#,
        )
        .unwrap();
        assert_eq!(c.host.socket, PathBuf::from("/tmp/x.sock"));
        assert_eq!(c.drivers.len(), 2);
        let t = &c.drivers[0];
        assert_eq!(t.module, PathBuf::from("/etc/wasi-hw/temp-sensor.aot"));
        assert_eq!(t.schedule(), Some(Duration::from_millis(1000)));
        assert_eq!(t.restart, RestartPolicy::OnFailure);
        assert_eq!(t.line, 5);
        assert_eq!(t.env.get("A").map(String::as_str), Some("1"));
        let l = c.driver("lcd").unwrap();
        assert_eq!(
            (l.restart, l.autostart, l.line),
            (RestartPolicy::Always, false, 14)
        );
        assert!(t.same_as(&DriverConfig {
            line: 99,
            ..t.clone()
        }));
        assert!(!t.same_as(l));
    }

    #[test]
    fn errors_name_file_and_line() {
        let cases = [
            ("[[driver]]\nname = \"a\"\nmodule = 3\n", ":3:"),
            ("[[driver]]\nname = \"a\"\nmodule = \"x\"\nbogus = 1\n", ":4:"),
            ("[[driver]]\nname = \"a\"\n", ":1:"),
            (
                "[[driver]]\nname = \"a\"\nmodule = \"x\"\n\n[[driver]]\nname = \"a\"\nmodule = \"y\"\n",
                ":5: driver \"a\": defined twice (first at line 1)",
            ),
            (
                "[[driver]]\nname = \"a\"\nmodule = \"x\"\ni2c = [\"sim\"]\n",
                ":1: driver \"a\": i2c:",
            ),
            ("[[driver]]\nname = \"a b\"\nmodule = \"x\"\n", ":1: driver name"),
            (
                "[[driver]]\nname = \"a\"\nmodule = \"x\"\nrestart = \"sometimes\"\n",
                ":4:",
            ),
            ("[[driver]]\nname = \"a\"\nmodule = \"x\"\nevery_ms = 0\n", "every_ms"),
            ("[host]\nsocket = \n", ":2:"),
        ];
        for (text, want) in cases {
            let err = format!("{:#}", parse(text).unwrap_err());
            assert!(
                err.starts_with("/etc/wasi-hw/drivers.toml:") && err.contains(want),
                "{text:?}: {err}"
            );
        }
    }

    #[test]
    fn defaults() {
        let c = parse("").unwrap();
        assert_eq!(c.host.socket, PathBuf::from(DEFAULT_SOCKET));
        assert!(c.drivers.is_empty());
        let c = parse("[[driver]]\nname = \"a\"\nmodule = \"/x.aot\"\n").unwrap();
        let d = &c.drivers[0];
        assert!(d.autostart && d.every_ms.is_none() && d.backoff_ms == 100);
        assert_eq!(d.preopens(), vec![]);
    }
}
