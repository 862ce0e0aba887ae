//! Stopping a running instance from another thread, at a point where no device is left
//! mid-transaction: between host calls.
//!
//! [`Interrupt::request`] makes the instance's next host call trap with [`INTERRUPTED`]
//! instead of running (a call already in progress completes), and wakes a host call that
//! is sleeping through [`crate::Caller::sleep`] (the I2C `delay`), which then traps the
//! same way. Guest code that never calls the host is not reached by this: see
//! `Instance::interrupt` for what WAMR offers there.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

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
}

impl Interrupt {
    /// Asks the instance to stop at its next host call; wakes it if it is sleeping in one.
    pub fn request(&self) {
        *self.lock() = true;
        self.inner.wake.notify_all();
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
