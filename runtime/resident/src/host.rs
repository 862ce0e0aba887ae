//! The resident host: WAMR initialised once, each module loaded once, every configured
//! driver supervised in its own thread, and the control requests that act on them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{Context, Result};
use wasi_hw_engine::Engine;

use crate::config::{Config, DriverConfig};
use crate::driver::Driver;
use crate::modules::{Compile, ModuleCache};
use crate::output::Sink;
use crate::protocol::{Reply, Request};
use crate::watchdog::Watchdog;

/// How the host is built (what the CLI decides, not the config file).
#[derive(Clone, Copy, Default)]
pub struct HostOptions {
    /// The AOT compiler for `.wasm` drivers (none: interpret them).
    pub compile: Option<Compile>,
    /// Development only: load `.aot` files without checking their signatures, whatever
    /// the configuration says.
    pub allow_unsigned: bool,
}

pub struct ResidentHost {
    config_path: PathBuf,
    config: Mutex<Config>,
    modules: ModuleCache,
    sink: Sink,
    watchdog: Watchdog,
    drivers: Mutex<BTreeMap<String, Arc<Driver>>>,
    /// The host will switch user: drivers open their granted USB devices at set-up.
    usb_up_front: bool,
    /// Drivers that could not be set up, with why (shown by `list`/`status`).
    broken: Mutex<BTreeMap<String, String>>,
    /// The thread that follows registry tags (`follow = ...`).
    #[cfg(feature = "fleet")]
    rollout: Mutex<Option<crate::rollout::Rollout>>,
}

impl ResidentHost {
    /// Reads the configuration and starts every driver in it. A driver whose module or
    /// devices cannot be set up is reported (and listed as `failed`); the others run.
    pub fn start(config_path: &Path, options: HostOptions) -> Result<Arc<ResidentHost>> {
        let config = Config::read(config_path)?;
        let engine = Engine::new().context("initialising WAMR")?;
        // Every library registered up front: later loads (updates, reloads) then never
        // register natives while another driver's module is being loaded.
        wasi_hw_wiring::register_all(&engine)?;
        let host = Arc::new(ResidentHost {
            config_path: config_path.to_path_buf(),
            modules: ModuleCache::new(engine, options.compile, {
                let mut trust = config.host.trust_policy();
                trust.allow_unsigned |= options.allow_unsigned;
                trust
            }),
            sink: Sink::start(config.host.log, publisher(&config)?)?,
            watchdog: Watchdog::start().context("cannot start the watchdog thread")?,
            drivers: Mutex::new(BTreeMap::new()),
            usb_up_front: config.host.user.is_some(),
            broken: Mutex::new(BTreeMap::new()),
            #[cfg(feature = "fleet")]
            rollout: Mutex::new(None),
            config: Mutex::new(config.clone()),
        });
        for d in &config.drivers {
            host.add_driver(d.clone());
        }
        #[cfg(feature = "fleet")]
        {
            *lock(&host.rollout) = Some(crate::rollout::Rollout::start(Arc::downgrade(&host))?);
        }
        Ok(host)
    }

    pub fn socket_path(&self) -> PathBuf {
        lock(&self.config).host.socket.clone()
    }

    fn add_driver(&self, config: DriverConfig) {
        let name = config.name.clone();
        let line = config.line;
        let set_up = self
            .modules
            .load(&config.module, config.interp)
            .and_then(|m| {
                let usb_now = self.usb_up_front;
                Driver::start(config, m, &self.sink, &self.watchdog, usb_now)
            });
        match set_up {
            Ok(driver) => {
                lock(&self.broken).remove(&name);
                lock(&self.drivers).insert(name, Arc::new(driver));
            }
            Err(e) => {
                let why = format!("{e:#}");
                log::error!(
                    "{}:{line}: driver {name}: {why}",
                    self.config_path.display()
                );
                lock(&self.broken).insert(name, why);
            }
        }
    }

    /// Answers one control request.
    pub fn handle(&self, request: Request) -> Reply {
        let result = match request {
            Request::List => Ok(self.list()),
            Request::Status { name } => self.with_driver(&name, |d| {
                Ok(Reply {
                    ok: true,
                    status: Some(d.status()),
                    ..Reply::default()
                })
            }),
            Request::Start { name } => {
                self.with_driver(&name, |d| Ok(Reply::message(d.start_running())))
            }
            Request::Stop { name } => self.with_driver(&name, |d| d.stop().map(Reply::message)),
            Request::Restart { name } => {
                self.with_driver(&name, |d| d.restart().map(Reply::message))
            }
            Request::Reload => self.reload().map(Reply::message),
            Request::Update { name, module } => self.update(&name, &module),
            Request::Invoke { name, args } => self.with_driver(&name, |d| {
                Ok(Reply {
                    ok: true,
                    run: Some(d.invoke(args)?),
                    ..Reply::default()
                })
            }),
        };
        result.unwrap_or_else(|e| Reply::error(format!("{e:#}")))
    }

    fn list(&self) -> Reply {
        let mut all: Vec<_> = lock(&self.drivers).values().map(|d| d.status()).collect();
        for (name, why) in lock(&self.broken).iter() {
            all.push(crate::protocol::DriverStatus {
                name: name.clone(),
                state: "failed".into(),
                last_exit: Some(format!("not set up: {why}")),
                ..Default::default()
            });
        }
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Reply {
            ok: true,
            drivers: Some(all),
            ..Reply::default()
        }
    }

    fn with_driver(&self, name: &str, f: impl FnOnce(&Driver) -> Result<Reply>) -> Result<Reply> {
        // Not under the map's lock while `f` runs: a stop or an invoke can take a while,
        // and other requests go on meanwhile.
        let driver = lock(&self.drivers).get(name).cloned();
        match driver {
            Some(d) => f(&d),
            None => match lock(&self.broken).get(name) {
                Some(why) => anyhow::bail!("driver {name:?} is not set up: {why}"),
                None => anyhow::bail!("no driver named {name:?}"),
            },
        }
    }

    /// Loads and link-checks the new module before the running driver is touched; on any
    /// error the old one keeps running and the reply says why.
    fn update(&self, name: &str, module: &Path) -> Result<Reply> {
        let (interp, dirs) = {
            let drivers = lock(&self.drivers);
            let d = drivers
                .get(name)
                .with_context(|| format!("no driver named {name:?}"))?;
            (d.config().interp, d.config().preopens())
        };
        let hosts: Vec<&Path> = dirs.iter().map(|(h, _)| h.as_path()).collect();
        wasi_hw_wiring::refuse_module_in_preopens(module, &hosts)
            .with_context(|| format!("update of {name} refused; the running module stays"))?;
        let loaded = self
            .modules
            .load(module, interp)
            .with_context(|| format!("update of {name} refused; the running module stays"))?;
        self.with_driver(name, |d| d.update(loaded).map(Reply::message))
    }

    /// Re-reads the configuration: new drivers start, removed ones stop, changed ones
    /// restart with the new settings, unchanged ones keep running untouched. A file that
    /// does not parse changes nothing.
    pub fn reload(&self) -> Result<String> {
        let new = Config::read(&self.config_path)
            .context("reload refused; the running drivers are unchanged")?;
        let mut started = Vec::new();
        let mut stopped = Vec::new();
        let mut restarted = Vec::new();
        let old = lock(&self.config).clone();
        for d in &old.drivers {
            let keep = new.driver(&d.name).is_some_and(|n| n.same_as(d));
            if !keep {
                let removed = lock(&self.drivers).remove(&d.name);
                if let Some(driver) = removed {
                    driver.shutdown();
                }
                lock(&self.broken).remove(&d.name);
                if new.driver(&d.name).is_some() {
                    restarted.push(d.name.clone());
                } else {
                    stopped.push(d.name.clone());
                }
            }
        }
        let mut updated = Vec::new();
        for d in &new.drivers {
            let unchanged = old.driver(&d.name).is_some_and(|o| o.same_as(d));
            if unchanged {
                // Same settings, but the module file may have been replaced in place: that
                // is a hot update (checked first, rolled back on failure), not a restart.
                if let Some(msg) = self.update_if_replaced(d) {
                    updated.push(msg);
                }
            } else {
                if old.driver(&d.name).is_none() {
                    started.push(d.name.clone());
                }
                self.add_driver(d.clone());
            }
        }
        if new.host != old.host {
            log::warn!("reload: [host] changes take effect at the next start");
        }
        *lock(&self.config) = new;
        Ok(format!(
            "reloaded: {} started, {} stopped, {} restarted, {} updated, others unchanged",
            list_or_none(&started),
            list_or_none(&stopped),
            list_or_none(&restarted),
            list_or_none(&updated)
        ))
    }

    /// Hot-updates a driver whose configured module file now has other contents; `None`
    /// when it is the same (or the new file is refused: logged, the old module stays).
    fn update_if_replaced(&self, d: &DriverConfig) -> Option<String> {
        let driver = lock(&self.drivers).get(&d.name).cloned()?;
        let loaded = match self.modules.load(&d.module, d.interp) {
            Ok(m) => m,
            Err(e) => {
                log::error!(
                    "reload: {}: new module refused, the running one stays: {e:#}",
                    d.name
                );
                return None;
            }
        };
        // Compared with the file as last loaded from the configuration, not with what
        // runs: a `ctl update` to another file is not undone by a reload.
        if loaded.digest == driver.configured_digest(None) {
            return None;
        }
        let digest = loaded.digest.clone();
        match driver.update(loaded) {
            Ok(_) => {
                driver.configured_digest(Some(digest));
                Some(d.name.clone())
            }
            Err(e) => {
                log::error!("reload: {e:#}");
                None
            }
        }
    }

    /// Stops every driver (between host calls) and ends their threads.
    pub fn shutdown(&self) {
        // No roll-out starts while the drivers stop.
        #[cfg(feature = "fleet")]
        drop(lock(&self.rollout).take());
        let drivers = std::mem::take(&mut *lock(&self.drivers));
        for (_, d) in drivers {
            d.shutdown();
            // Dropping the driver closes its output pipes and passes on what is left.
        }
        self.sink.flush(std::time::Duration::from_secs(2));
    }
}

/// What the roll-out thread asks of the host.
#[cfg(feature = "fleet")]
impl ResidentHost {
    /// The configuration now in force.
    pub(crate) fn config_snapshot(&self) -> Config {
        lock(&self.config).clone()
    }

    pub(crate) fn keys_dir(&self) -> PathBuf {
        lock(&self.config).host.keys.clone()
    }

    /// SHA-256 (hex) of the module a driver runs now.
    pub(crate) fn driver_digest(&self, name: &str) -> Result<String> {
        self.with_driver(name, |d| {
            Ok(Reply {
                status: Some(d.status()),
                ..Reply::default()
            })
        })
        .map(|r| r.status.map(|s| s.digest).unwrap_or_default())
    }

    pub(crate) fn note(&self, name: &str, event: String) {
        match lock(&self.drivers).get(name) {
            Some(d) => d.note(event),
            None => log::info!("{name}: {event}"),
        }
    }

    /// A hot update as `ctl update` does it; the message of its reply.
    pub(crate) fn update_driver(&self, name: &str, module: &Path) -> Result<String> {
        self.update(name, module)
            .map(|r| r.message.unwrap_or_default())
    }

    /// The module file now holds what runs: a reload must not update to it again.
    pub(crate) fn set_configured_digest(&self, name: &str, digest: String) {
        if let Some(d) = lock(&self.drivers).get(name) {
            d.configured_digest(Some(digest));
        }
    }
}

/// The MQTT publisher of `[host.mqtt]`, if configured.
#[cfg(feature = "mqtt")]
fn publisher(config: &Config) -> Result<Option<crate::output::Publish>> {
    let Some(mqtt) = &config.host.mqtt else {
        return Ok(None);
    };
    let mqtt = crate::mqtt::Mqtt::start(mqtt)?;
    Ok(Some(Box::new(move |suffix, payload, retain| {
        mqtt.publish(suffix, payload, retain)
    })))
}

#[cfg(not(feature = "mqtt"))]
fn publisher(_: &Config) -> Result<Option<crate::output::Publish>> {
    Ok(None) // Config::parse refuses [host.mqtt] in this build
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
