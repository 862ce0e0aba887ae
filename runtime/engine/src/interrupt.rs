//! Stopping a running instance from another thread, at a point where no device is left
//! mid-transaction: between host calls.
//!
//! [`Interrupt::request`] makes the instance's next host call trap with [`INTERRUPTED`]
//! instead of running (a call already in progress completes), and wakes a host call that
//! is sleeping through [`crate::Caller::sleep`] (the I2C `delay`), which then traps the
//! same way. AOT code in a loop that makes no host call is reached too: wasi-hw-aotc
//! compiles WAMR's suspend check points into every module, and a request sets the
//! instance's terminate flag, so the code returns at its next loop back-edge or call.
//! (The interpreter has no such check points without WAMR's thread manager.)

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use wasi_hw_wamr_sys as sys;

/// The trap message of an interrupted instance.
pub const INTERRUPTED: &str = "interrupted by the host";

/// A cloneable, thread-safe handle on one instance's stop request.
#[derive(Clone, Debug, Default)]
pub struct Interrupt {
    inner: Arc<State>,
}

#[derive(Debug, Default)]
struct State {
    requested: Mutex<bool>,
    wake: Condvar,
    /// The running instance's exec env while it exists (cleared before it is destroyed,
    /// under this lock, so a request never touches a freed one).
    exec_env: Mutex<Option<ExecEnv>>,
}

#[derive(Debug, Clone, Copy)]
struct ExecEnv(sys::wasm_exec_env_t);

// SAFETY: the pointer is only used for wasi_hw_request_terminate, an atomic OR on the exec
// env's flags word, which WAMR designed to be set from another thread.
unsafe impl Send for ExecEnv {}

impl Interrupt {
    /// Asks the instance to stop at its next host call; wakes it if it is sleeping in one.
    pub fn request(&self) {
        *self.lock() = true;
        self.inner.wake.notify_all();
        let env = self
            .inner
            .exec_env
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(ExecEnv(env)) = *env {
            // SAFETY: `env` is live: Instance::drop clears it under this lock before
            // destroying it.
            unsafe { sys::wasi_hw_request_terminate(env) };
        }
    }

    /// Ties the handle to a live exec env (`Some`) or unties it before the env is
    /// destroyed (`None`).
    pub(crate) fn attach(&self, exec_env: Option<sys::wasm_exec_env_t>) {
        let requested = self.is_requested();
        let mut env = self
            .inner
            .exec_env
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *env = exec_env.map(ExecEnv);
        if let (Some(ExecEnv(e)), true) = (*env, requested) {
            // SAFETY: `e` was just handed over as live by the Instance that owns it.
            unsafe { sys::wasi_hw_request_terminate(e) };
        }
    }

    pub fn is_requested(&self) -> bool {
        *self.lock()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, bool> {
        self.inner
            .requested
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Sleeps for `duration` unless a stop is requested first; `false` when interrupted.
    pub fn sleep(&self, duration: Duration) -> bool {
        let deadline = Instant::now() + duration;
        let mut requested = self.lock();
        loop {
            if *requested {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            requested = self
                .inner
                .wake
                .wait_timeout(requested, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_wakes_a_sleeper_at_once() {
        let interrupt = Interrupt::default();
        let other = interrupt.clone();
        let t = Instant::now();
        let sleeper = std::thread::spawn(move || other.sleep(Duration::from_secs(30)));
        std::thread::sleep(Duration::from_millis(20));
        interrupt.request();
        assert!(!sleeper.join().unwrap());
        assert!(t.elapsed() < Duration::from_secs(10));
        assert!(interrupt.is_requested());
        // Once requested, a new sleep returns at once.
        assert!(!interrupt.sleep(Duration::from_secs(30)));
    }

    #[test]
    fn an_uninterrupted_sleep_lasts_its_duration() {
        let interrupt = Interrupt::default();
        let t = Instant::now();
        assert!(interrupt.sleep(Duration::from_millis(5)));
        assert!(t.elapsed() >= Duration::from_millis(5));
    }
}
