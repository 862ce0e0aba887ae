//! One configured driver: its open devices, its output pumps, and the thread that runs its
//! instances (kept running under a restart policy, or a fresh one every period), swaps in
//! an updated module between host calls, and rolls an update back when the new module
//! fails within its health window.

use std::collections::VecDeque;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use wasi_hw_engine::{Error, Instance, InstanceConfig, Interrupt};
use wasi_hw_wiring::{Devices, Grants};

use crate::config::{DriverConfig, RestartPolicy};
use crate::modules::LoadedModule;
use crate::output::{Capture, LinePump, Sink, Status, Stream};
use crate::protocol::{BusStatus, DriverStatus, RunResult, UsbDeviceStatus};
use crate::watchdog::Watchdog;

/// How long `stop` waits for an instance to reach its next host call.
const STOP_WAIT: Duration = Duration::from_secs(5);
/// Events kept for `status`.
const EVENTS: usize = 16;

/// How one instance ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Exited(i32),
    Trapped(String),
    /// Stopped by the host between host calls (stop, restart, update, shutdown).
    Interrupted,
    TimedOut(Duration),
    /// Could not be started (instantiation, grants).
    NotStarted(String),
}

impl Outcome {
    fn failed(&self) -> bool {
        !matches!(self, Outcome::Exited(0) | Outcome::Interrupted)
    }

    fn describe(&self) -> String {
        match self {
            Outcome::Exited(c) => format!("exit {c}"),
            Outcome::Trapped(t) => format!("trap: {t}"),
            Outcome::Interrupted => "stopped by the host".into(),
            Outcome::TimedOut(d) => format!("timed out after {} ms", d.as_millis()),
            Outcome::NotStarted(e) => format!("not started: {e}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wanted {
    Run,
    Stop,
    /// The driver is being removed: the thread ends.
    Exit,
}

/// The driver's state, shared by its thread and the control side.
struct Slot {
    wanted: Wanted,
    /// Run a scheduled driver now (start, restart).
    run_now: bool,
    module: Arc<LoadedModule>,
    /// An update waiting for the running instance to stop.
    pending: Option<Arc<LoadedModule>>,
    /// The module before the last update, while its health window lasts.
    previous: Option<(Arc<LoadedModule>, Instant)>,
    /// The running instance's stop handle.
    running: Option<Interrupt>,
    started: Option<Instant>,
    state: &'static str,
    backoff: Duration,
    retry_at: Option<Instant>,
    runs: u64,
    restarts: u64,
    /// Bumped each time a new module is put in place.
    swaps: u64,
    last_exit: Option<String>,
    events: VecDeque<String>,
    /// Where events and state changes are published (MQTT), and the driver's name there.
    sink: Sink,
    name: Arc<str>,
}

impl Slot {
    fn event(&mut self, name: &str, what: String) {
        log::info!("{name}: {what}");
        self.sink.status(&self.name, Status::Event, what.clone());
        if self.events.len() == EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(what);
    }

    fn set_state(&mut self, state: &'static str) {
        if self.state != state {
            self.state = state;
            self.sink
                .status(&self.name, Status::State, state.to_string());
        }
    }
}

pub(crate) struct Shared {
    pub name: String,
    pub config: DriverConfig,
    grants: Grants,
    devices: Devices,
    stdin: std::fs::File,
    stdout: LinePump,
    stderr: LinePump,
    /// Where an `invoke` export's result line goes (with the driver's stdout lines).
    sink: Sink,
    watchdog: Watchdog,
    slot: Mutex<Slot>,
    changed: Condvar,
}

pub struct Driver {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// The digest of the configured module file when it was last loaded from the config
    /// (a `ctl update` to another file does not change it).
    configured_digest: Mutex<String>,
}

impl Driver {
    /// Opens the driver's devices and starts its thread (which starts an instance at once
    /// if `autostart`). `module` is loaded already: a driver never starts half set up.
    /// `usb_now`: open the granted USB devices now too (the host will switch user).
    pub fn start(
        config: DriverConfig,
        module: Arc<LoadedModule>,
        sink: &Sink,
        watchdog: &Watchdog,
        usb_now: bool,
    ) -> Result<Driver> {
        let name = config.name.clone();
        let digest = module.digest.clone();
        let grants = config.grants()?;
        let mut devices = Devices::open(&grants)?;
        if usb_now {
            devices.open_usb_now()?;
        }
        if let Some(n) = config.max_handles {
            devices = devices.with_max_handles(n);
        }
        for (host, _) in config.preopens() {
            if !host.is_dir() {
                anyhow::bail!("dirs: {} is not a directory", host.display());
            }
            wasi_hw_wiring::refuse_module_in_preopens(&module.path, &[&host])?;
        }
        let shared = Arc::new(Shared {
            stdin: std::fs::File::open("/dev/null").context("/dev/null")?,
            stdout: LinePump::start(&name, Stream::Stdout, sink.clone())?,
            stderr: LinePump::start(&name, Stream::Stderr, sink.clone())?,
            sink: sink.clone(),
            watchdog: watchdog.clone(),
            slot: Mutex::new(Slot {
                wanted: if config.autostart {
                    Wanted::Run
                } else {
                    Wanted::Stop
                },
                run_now: config.autostart,
                module,
                pending: None,
                previous: None,
                running: None,
                started: None,
                state: "stopped",
                backoff: Duration::from_millis(config.backoff_ms),
                retry_at: None,
                runs: 0,
                restarts: 0,
                swaps: 0,
                last_exit: None,
                events: VecDeque::new(),
                sink: sink.clone(),
                name: Arc::from(name.as_str()),
            }),
            changed: Condvar::new(),
            name: name.clone(),
            config,
            grants,
            devices,
        });
        let thread = std::thread::Builder::new()
            .name(name.clone())
            .spawn({
                let shared = Arc::clone(&shared);
                move || shared.supervise()
            })
            .with_context(|| format!("cannot start the thread of driver {name}"))?;
        Ok(Driver {
            shared,
            thread: Mutex::new(Some(thread)),
            configured_digest: Mutex::new(digest),
        })
    }

    pub fn config(&self) -> &DriverConfig {
        &self.shared.config
    }

    pub fn status(&self) -> DriverStatus {
        self.shared.status()
    }

    /// Records an event of the driver (shown by `status`), e.g. a roll-out's outcome.
    #[cfg(feature = "fleet")]
    pub fn note(&self, event: String) {
        self.shared.lock().event(&self.shared.name, event);
    }

    /// See [`Driver::configured_digest`]; `set` replaces it.
    pub fn configured_digest(&self, set: Option<String>) -> String {
        let mut d = self
            .configured_digest
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(new) = set {
            *d = new;
        }
        d.clone()
    }

    pub fn start_running(&self) -> String {
        let mut s = self.shared.lock();
        s.wanted = Wanted::Run;
        s.run_now = true;
        s.retry_at = None;
        s.backoff = Duration::from_millis(self.shared.config.backoff_ms);
        self.shared.changed.notify_all();
        if s.running.is_some() {
            format!("{} is already running", self.shared.name)
        } else {
            format!("started {}", self.shared.name)
        }
    }

    /// Stops the running instance (between host calls) and keeps it stopped.
    pub fn stop(&self) -> Result<String> {
        let s = self.shared.lock();
        let s = self.shared.stop_locked(s, Wanted::Stop)?;
        drop(s);
        Ok(format!("stopped {}", self.shared.name))
    }

    /// Stops the running instance (between host calls) and starts a fresh one on the same
    /// devices (USB claims are kept across, as for an update).
    pub fn restart(&self) -> Result<String> {
        let mut s = self.shared.lock();
        if s.running.is_none() {
            drop(s);
            self.start_running();
            return Ok(format!("restarted {}", self.shared.name));
        }
        let runs = s.runs;
        s.wanted = Wanted::Run;
        if let Some(i) = &s.running {
            i.request();
        }
        self.shared.changed.notify_all();
        // The supervisor starts the next instance as soon as this one is stopped.
        drop(
            self.shared
                .wait_until(s, |s| s.runs != runs, "it restarts at its next one")?,
        );
        Ok(format!("restarted {}", self.shared.name))
    }

    /// Puts `module` in place of the running one: the old instance is stopped at its next
    /// host call and the new one starts on the same open devices. Returns once the new
    /// module is in place (a scheduled or stopped driver takes it for its next run).
    pub fn update(&self, module: Arc<LoadedModule>) -> Result<String> {
        let mut s = self.shared.lock();
        let from = s.module.digest.clone();
        let to = module.digest.clone();
        let swaps = s.swaps;
        if s.running.is_none() {
            self.shared.swap_locked(&mut s, module);
        } else {
            s.pending = Some(module);
            if let Some(i) = &s.running {
                i.request();
            }
            self.shared.changed.notify_all();
            // Still in guest code after the wait: the update applies when it next calls
            // the host or ends.
            drop(self.shared.wait_until(
                s,
                |s| s.swaps != swaps,
                "the update is queued and applies when it does",
            )?);
        }
        Ok(format!(
            "updated {}: {} -> {}",
            self.shared.name,
            &from[..12],
            &to[..12]
        ))
    }

    /// Runs the driver once now in a fresh instance on the calling thread, with its output
    /// captured (scheduled and stopped drivers; a running long-lived driver is refused).
    pub fn invoke(&self, args: Option<Vec<String>>) -> Result<RunResult> {
        let module = {
            let s = self.shared.lock();
            if s.running.is_some() && self.shared.config.every_ms.is_none() {
                anyhow::bail!(
                    "{} is running (a long-lived driver); invoke runs scheduled or stopped drivers",
                    self.shared.name
                );
            }
            Arc::clone(&s.module)
        };
        let out = Capture::new("stdout")?;
        let err = Capture::new("stderr")?;
        let args = args.unwrap_or_else(|| self.shared.config.args.clone());
        let t = Instant::now();
        let (outcome, result) = self.shared.run_instance(
            &module,
            &args,
            [self.shared.stdin.as_raw_fd(), out.fd(), err.fd()],
            self.shared.config.timeout_ms.map(Duration::from_millis),
            |_| {},
        );
        let micros = t.elapsed().as_micros() as u64;
        if self.shared.lock().wanted != Wanted::Run {
            // Nothing runs after it: USB devices it left open go back to the system.
            self.shared.devices.release_usb();
        }
        let (exit_code, trap) = match &outcome {
            Outcome::Exited(c) => (Some(*c), None),
            other => (None, Some(other.describe())),
        };
        let mut stdout = out.contents();
        if let Some(line) = result {
            stdout.push_str(&line);
            stdout.push('\n');
        }
        Ok(RunResult {
            stdout,
            stderr: err.contents(),
            exit_code,
            trap,
            micros,
        })
    }

    /// Stops the instance and ends the thread (the driver is removed or the host exits).
    pub fn shutdown(&self) {
        let s = self.shared.lock();
        match self.shared.stop_locked(s, Wanted::Exit) {
            Ok(s) => drop(s),
            Err(e) => log::warn!("{e}"),
        }
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = thread {
            if self.shared.lock().running.is_none() {
                let _ = t.join();
            }
            // else: a guest spinning without host calls; its thread is left to the exit.
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait<'a>(&self, guard: MutexGuard<'a, Slot>, timeout: Duration) -> MutexGuard<'a, Slot> {
        self.changed
            .wait_timeout(guard, timeout)
            .unwrap_or_else(|e| e.into_inner())
            .0
    }

    fn stop_locked<'a>(
        &'a self,
        mut s: MutexGuard<'a, Slot>,
        wanted: Wanted,
    ) -> Result<MutexGuard<'a, Slot>> {
        s.wanted = wanted;
        s.run_now = false;
        if let Some(i) = &s.running {
            i.request();
        }
        self.changed.notify_all();
        self.wait_until(s, |s| s.running.is_none(), "it stops at its next one")
    }

    /// Waits up to [`STOP_WAIT`] for `done`; past it, the error says the instance has not
    /// reached a host call (or a stop check) and then `what_then`.
    fn wait_until<'a>(
        &'a self,
        mut s: MutexGuard<'a, Slot>,
        done: impl Fn(&Slot) -> bool,
        what_then: &str,
    ) -> Result<MutexGuard<'a, Slot>> {
        let deadline = Instant::now() + STOP_WAIT;
        while !done(&s) {
            let now = Instant::now();
            if now >= deadline {
                anyhow::bail!(
                    "{}: the instance has not reached a host call in {} s; {what_then}",
                    self.name,
                    STOP_WAIT.as_secs()
                );
            }
            s = self.wait(s, deadline - now);
        }
        Ok(s)
    }

    /// Puts `module` in place; no instance of the driver is running.
    fn swap_locked(&self, s: &mut Slot, module: Arc<LoadedModule>) {
        self.devices.mark_handover();
        let old = std::mem::replace(&mut s.module, module);
        let what = format!(
            "update: {} -> {} ({})",
            &old.digest[..12],
            &s.module.digest[..12],
            s.module.path.display()
        );
        s.previous = Some((old, Instant::now()));
        s.swaps += 1;
        s.event(&self.name, what);
        self.changed.notify_all();
    }

    fn status(&self) -> DriverStatus {
        let lost = self.devices.i2c_lost();
        let s = self.lock();
        DriverStatus {
            name: self.name.clone(),
            state: s.state.to_string(),
            module: s.module.path.display().to_string(),
            digest: s.module.digest.clone(),
            runs: s.runs,
            restarts: s.restarts,
            last_exit: s.last_exit.clone(),
            uptime_ms: s.started.map(|t| t.elapsed().as_millis() as u64),
            every_ms: self.config.every_ms,
            buses: self
                .devices
                .i2c_stats()
                .into_iter()
                .map(|(name, st)| BusStatus {
                    lost: lost.contains(&name),
                    name,
                    transactions: st.completed,
                    in_flight: st.begun.saturating_sub(st.completed),
                    failed: st.failed,
                    last_error: st.last_error.map(|e| e.to_string()),
                })
                .collect(),
            usb: self
                .devices
                .usb_devices()
                .into_iter()
                .map(|d| UsbDeviceStatus {
                    device: d.label,
                    state: d.state.to_string(),
                    handoffs: d.handoffs,
                })
                .collect(),
            update_gap_us: self.devices.handover_gap().map(|d| d.as_micros() as u64),
            events: s.events.iter().cloned().collect(),
        }
    }

    /// Instantiates `module` on this thread with the driver's devices, tells `started` its
    /// stop handle, and runs `_start` or the configured `invoke` export (stopped after
    /// `limit`, if given); returns how it ended and the export's result, as WAVE text.
    fn run_instance(
        &self,
        module: &LoadedModule,
        args: &[String],
        stdio: [RawFd; 3],
        limit: Option<Duration>,
        started: impl FnOnce(Interrupt),
    ) -> (Outcome, Option<String>) {
        let call = match &self.config.invoke {
            Some(text) => match wasi_hw_invoke::Call::parse(text, &module.exports) {
                Ok(call) => Some(call),
                Err(e) => return (Outcome::NotStarted(format!("invoke: {e:#}")), None),
            },
            None => None,
        };
        let c = &self.config;
        let mut config = InstanceConfig {
            stack_size: c.stack_size,
            max_memory_pages: c.max_memory_kib.map_or(0, wasi_hw_engine::pages_for_kib),
            ..Default::default()
        };
        config.wasi.set_command(&module.path, args);
        config.wasi.env = c.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        config.wasi.preopens = c.preopens();
        config.wasi.stdio = stdio.map(Some);
        let mut instance = match Instance::new(&module.module, &config) {
            Ok(i) => i,
            Err(e) => return (Outcome::NotStarted(e.to_string()), None),
        };
        if let Err(e) = self.devices.install(&mut instance, &self.grants) {
            return (Outcome::NotStarted(format!("{e:#}")), None);
        }
        let interrupt = instance.interrupt();
        let _timer = limit.map(|d| self.watchdog.arm(Instant::now() + d, interrupt.clone()));
        started(interrupt.clone());
        let t = Instant::now();
        let mut returned = None;
        let result = match &call {
            None => instance.run_main(),
            Some(call) => {
                match wasi_hw_invoke::invoke(
                    &mut instance,
                    call,
                    &mut wasi_hw_invoke::handles::make,
                ) {
                    Ok(r) => {
                        returned = r.text;
                        Ok(i32::from(r.is_err))
                    }
                    Err(e) => Err(Error::Trap(format!("{e:#}"))),
                }
            }
        };
        // However it ended once asked to stop (a trap at its next host call, or its own
        // exit after a cancelled transfer wait), it was stopped.
        if interrupt.is_requested() {
            let outcome = match limit {
                Some(d) if t.elapsed() >= d => Outcome::TimedOut(d),
                _ => Outcome::Interrupted,
            };
            return (outcome, None);
        }
        let outcome = match result {
            Ok(code) => Outcome::Exited(code),
            Err(Error::Trap(msg)) => Outcome::Trapped(msg),
            Err(e) => Outcome::Trapped(e.to_string()),
        };
        (outcome, returned)
    }

    /// The driver's thread: waits for something to run, runs it, decides what comes next.
    fn supervise(self: Arc<Self>) {
        let every = self.config.schedule();
        let mut next_tick = Instant::now();
        loop {
            // Wait until an instance should run.
            let module = {
                let mut s = self.lock();
                loop {
                    match s.wanted {
                        Wanted::Exit => return,
                        Wanted::Stop => {
                            if s.state == "running" || s.state == "waiting" || s.state == "backoff"
                            {
                                s.set_state("stopped");
                            }
                        }
                        Wanted::Run => {
                            let now = Instant::now();
                            // An update whose old instance just stopped: the new module
                            // starts at once, on the same devices.
                            if let Some(new) = s.pending.take() {
                                self.swap_locked(&mut s, new);
                                s.run_now = true;
                            }
                            if s.run_now {
                                s.run_now = false;
                                next_tick = now;
                                break;
                            }
                            match (every, s.retry_at) {
                                (Some(_), _) if now >= next_tick => break,
                                (Some(_), _) => s.set_state("waiting"),
                                (None, Some(at)) if now >= at => break,
                                (None, Some(_)) => s.set_state("backoff"),
                                (None, None) => s.set_state("exited"),
                            }
                        }
                    }
                    if let Some(new) = s.pending.take() {
                        self.swap_locked(&mut s, new);
                    }
                    let wake = match (s.wanted, every, s.retry_at) {
                        (Wanted::Run, Some(_), _) => next_tick,
                        (Wanted::Run, None, Some(at)) => at,
                        _ => Instant::now() + Duration::from_secs(3600),
                    };
                    let timeout = wake.saturating_duration_since(Instant::now());
                    s = self.wait(s, timeout);
                }
                s.retry_at = None;
                s.set_state("running");
                s.runs += 1;
                Arc::clone(&s.module)
            };

            let started_at = Instant::now();
            let args = self.config.args.clone();
            let (outcome, result) = self.run_instance(
                &module,
                &args,
                [self.stdin.as_raw_fd(), self.stdout.fd(), self.stderr.fd()],
                self.config.run_limit(),
                |interrupt| {
                    let mut s = self.lock();
                    s.started = Some(Instant::now());
                    // A stop or an update that came while the instance was being created.
                    if s.wanted != Wanted::Run
                        || s.pending.is_some()
                        || !Arc::ptr_eq(&s.module, &module)
                    {
                        interrupt.request();
                    }
                    s.running = Some(interrupt);
                },
            );

            if let Some(line) = result {
                self.sink
                    .line(&Arc::from(self.name.as_str()), Stream::Stdout, line);
            }
            let mut s = self.lock();
            s.running = None;
            s.started = None;
            if outcome != Outcome::Interrupted || s.pending.is_none() {
                s.last_exit = Some(outcome.describe());
            }
            if let Outcome::NotStarted(e) | Outcome::Trapped(e) = &outcome {
                log::warn!("{}: {}", self.name, e);
            }
            self.changed.notify_all();
            if outcome.failed() {
                let what = outcome.describe();
                let window = Duration::from_millis(self.config.health_window_ms);
                if s.previous
                    .as_ref()
                    .is_some_and(|(_, at)| at.elapsed() > window)
                {
                    s.previous = None; // the update proved itself; let the old module go
                }
                let rollback = s.previous.is_some();
                if rollback && s.pending.is_none() {
                    let (old, _) = s.previous.take().expect("checked");
                    let bad = std::mem::replace(&mut s.module, old);
                    s.swaps += 1;
                    let ev = format!(
                        "rollback: {} failed within the health window ({what}); back to {}",
                        &bad.digest[..12],
                        &s.module.digest[..12]
                    );
                    log::warn!("{}: {ev}", self.name);
                    s.event(&self.name, ev);
                    s.run_now = s.wanted == Wanted::Run;
                    continue;
                }
                s.event(&self.name, what);
            }
            if s.wanted != Wanted::Run && s.pending.is_none() {
                // Stopped for good: kept USB devices go back to the system.
                self.devices.release_usb();
            }
            if s.wanted != Wanted::Run || s.pending.is_some() {
                continue;
            }
            if outcome == Outcome::Interrupted {
                // Stopped for a module put in place while it was starting: run that one.
                s.run_now = true;
                continue;
            }
            if let Some(period) = every {
                // Fixed rate from the run's start; a run longer than the period is followed
                // at once by the next.
                next_tick = started_at + period;
                continue;
            }
            let restart = match self.config.restart {
                RestartPolicy::Never => false,
                RestartPolicy::OnFailure => outcome.failed(),
                RestartPolicy::Always => true,
            };
            if !restart {
                s.set_state(if outcome.failed() { "failed" } else { "exited" });
                s.wanted = Wanted::Stop;
                self.devices.release_usb();
                continue;
            }
            // An instance that ran for longer than the longest backoff was healthy: start
            // counting from the first delay again.
            let max = Duration::from_millis(self.config.backoff_max_ms);
            if started_at.elapsed() >= max {
                s.backoff = Duration::from_millis(self.config.backoff_ms);
            }
            s.retry_at = Some(Instant::now() + s.backoff);
            s.restarts += 1;
            s.backoff = (s.backoff * 2).min(max);
        }
    }
}
