//! Roll-out: drivers with `follow = "REGISTRY/REPOSITORY:TAG"` are updated when the tag
//! moves. One thread looks at each followed tag every `follow_every_s`; a new digest is
//! pulled for this gateway's platform (digests and the `.aot`'s CPU checked, its signature
//! verified against the host's keys) into a staging file beside the module, hot-updated
//! through the same path as `ctl update` (loaded and link-checked first; the old module
//! keeps running on any error), and watched for the driver's health window. A module still
//! running after it is installed as the configured `module` (atomic renames), so a restart
//! of the host keeps it; one that was rolled back is deleted and its digest is not tried
//! again until the tag moves on. Every outcome is an event of the driver (`ctl status`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use sha2::{Digest as _, Sha256};
use wasi_hw_fleet::{Reference, Registry, Want};
use wasi_hw_trust::Keyring;

use crate::config::DriverConfig;
use crate::host::ResidentHost;
use crate::modules::hex;

/// How often the thread wakes to see which tags are due.
const TICK: Duration = Duration::from_millis(250);
/// Beyond the health window, the time a rollback takes to be seen in the status.
const SETTLE: Duration = Duration::from_millis(500);

/// The roll-out thread; stopped (and joined) on drop.
pub(crate) struct Rollout {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// What is known of one followed tag.
#[derive(Default)]
struct Followed {
    next: Option<Instant>,
    /// The digest the tag had when last acted on (installed, or already running).
    seen: Option<String>,
    /// Digests whose module was refused or rolled back.
    refused: BTreeSet<String>,
    /// The last error, reported once rather than at every poll.
    last_error: Option<String>,
}

impl Rollout {
    pub fn start(host: Weak<ResidentHost>) -> Result<Rollout> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let thread = std::thread::Builder::new()
            .name("rollout".into())
            .spawn({
                let stop = Arc::clone(&stop);
                move || run(host, &stop)
            })
            .context("cannot start the roll-out thread")?;
        Ok(Rollout {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Rollout {
    fn drop(&mut self) {
        *lock(&self.stop.0) = true;
        self.stop.1.notify_all();
        if let Some(t) = self.thread.take() {
            // Not from the thread itself (it may hold the last reference to the host).
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }
}

fn run(host: Weak<ResidentHost>, stop: &(Mutex<bool>, Condvar)) {
    let mut followed: BTreeMap<String, Followed> = BTreeMap::new();
    while !sleep(stop, TICK) {
        let Some(host) = host.upgrade() else { return };
        let drivers: Vec<DriverConfig> = host
            .config_snapshot()
            .drivers
            .into_iter()
            .filter(|d| d.follow.is_some())
            .collect();
        followed.retain(|name, _| drivers.iter().any(|d| &d.name == name));
        for d in drivers {
            let f = followed.entry(d.name.clone()).or_default();
            let now = Instant::now();
            if f.next.is_some_and(|next| now < next) {
                continue;
            }
            f.next = Some(now + Duration::from_secs(d.follow_every_s));
            match follow_once(&host, &d, f, stop) {
                Ok(Some(event)) => {
                    f.last_error = None;
                    host.note(&d.name, event);
                }
                Ok(None) => f.last_error = None,
                Err(e) => {
                    let why = format!("roll-out: {e:#}");
                    if f.last_error.as_ref() != Some(&why) {
                        log::warn!("{}: {why}", d.name);
                        host.note(&d.name, why.clone());
                        f.last_error = Some(why);
                    }
                }
            }
        }
    }
}

/// Sleeps up to `d`; true once stopping.
fn sleep(stop: &(Mutex<bool>, Condvar), d: Duration) -> bool {
    let guard = lock(&stop.0);
    let (guard, _) = stop
        .1
        .wait_timeout_while(guard, d, |stopping| !*stopping)
        .unwrap_or_else(|e| e.into_inner());
    *guard
}

/// One look at a followed tag; an event when something was done.
fn follow_once(
    host: &ResidentHost,
    d: &DriverConfig,
    f: &mut Followed,
    stop: &(Mutex<bool>, Condvar),
) -> Result<Option<String>> {
    let follow = d.follow.as_deref().expect("filtered");
    let reference = Reference::from_str(follow).with_context(|| format!("follow = {follow:?}"))?;
    let repo = reference.repository();
    let tag = reference.tag().unwrap_or("latest");
    let mut registry = Registry::new(
        &reference,
        &wasi_hw_fleet::Options {
            plain_http: d.follow_plain_http,
            credentials: None,
        },
    )?;
    let top = wasi_hw_fleet::resolve(&mut registry, repo, tag)
        .with_context(|| format!("looking at {follow}"))?;
    if f.seen.as_deref() == Some(top.as_str()) || f.refused.contains(&top) {
        return Ok(None);
    }
    let platform = wasi_hw_fleet::host_platform();
    let want = platform.map_or(Want::Portable, Want::Native);
    let keyring = Keyring::load(&host.keys_dir())?;
    // By digest: what is pulled is what was resolved, even if the tag moves meanwhile.
    let fetched = wasi_hw_fleet::fetch(&mut registry, repo, &top, &want, &keyring, |_| {
        d.module.clone()
    })
    .with_context(|| format!("pulling {follow}@{top}"))?;
    let new = hex(&Sha256::digest(&fetched.pulled.module.bytes));
    let running = host.driver_digest(&d.name)?;
    if new == running {
        log::info!("{}: {follow} is {top}, already running", d.name);
        f.seen = Some(top);
        return Ok(None);
    }
    let staged = staging_path(&d.module);
    wasi_hw_fleet::install(&staged, &fetched.pulled.module)?;
    if let Err(e) = host.update_driver(&d.name, &staged) {
        remove(&staged);
        f.refused.insert(top.clone());
        return Err(e.context(format!("update to {follow}@{top} refused")));
    }
    if sleep(stop, Duration::from_millis(d.health_window_ms) + SETTLE) {
        // The host is stopping: the staged module is not known good; the next start
        // runs the configured one and looks at the tag again.
        remove(&staged);
        return Ok(None);
    }
    if host.driver_digest(&d.name)? != new {
        remove(&staged);
        f.refused.insert(top.clone());
        return Ok(Some(format!(
            "roll-out of {follow}@{} rolled back: it failed within the health window",
            short(&top)
        )));
    }
    wasi_hw_fleet::promote(&staged, &d.module)
        .with_context(|| format!("installing {follow}@{top} as {}", d.module.display()))?;
    host.set_configured_digest(&d.name, new.clone());
    f.seen = Some(top.clone());
    Ok(Some(format!(
        "rolled out {follow}@{} ({}, {}): {} -> {}",
        short(&top),
        fetched.from,
        fetched.pulled.module.name,
        &running[..12],
        &new[..12]
    )))
}

/// `.NAME.rollout` beside the module: same directory, so the final rename is atomic.
fn staging_path(module: &Path) -> PathBuf {
    let name = module
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    module.with_file_name(format!(".{name}.rollout"))
}

fn remove(staged: &Path) {
    let _ = std::fs::remove_file(staged);
    let mut sig = staged.as_os_str().to_owned();
    sig.push(".sig");
    let _ = std::fs::remove_file(PathBuf::from(sig));
}

fn short(digest: &str) -> &str {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    &digest[..digest.len() - hex.len() + hex.len().min(12)]
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_is_a_hidden_file_beside_the_module() {
        assert_eq!(
            staging_path(Path::new("/usr/lib/wasi-hw/sensor.aot")),
            Path::new("/usr/lib/wasi-hw/.sensor.aot.rollout")
        );
        assert_eq!(short("sha256:0123456789abcdef"), "sha256:0123456789ab");
    }
}
