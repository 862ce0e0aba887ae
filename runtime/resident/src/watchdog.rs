//! Wall-clock limits: one thread that interrupts runs whose deadline passed.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use wasi_hw_engine::Interrupt;

#[derive(Clone)]
pub struct Watchdog {
    inner: Arc<(Mutex<Armed>, Condvar)>,
}

#[derive(Default)]
struct Armed {
    next_id: u64,
    timers: Vec<(Instant, u64, Interrupt)>,
}

/// Disarms its timer when dropped.
pub struct Timer {
    watchdog: Watchdog,
    id: u64,
}

impl Drop for Timer {
    fn drop(&mut self) {
        let (armed, _) = &*self.watchdog.inner;
        let mut armed = armed.lock().unwrap_or_else(|e| e.into_inner());
        armed.timers.retain(|t| t.1 != self.id);
    }
}

impl Watchdog {
    pub fn start() -> std::io::Result<Watchdog> {
        let w = Watchdog {
            inner: Arc::new((Mutex::new(Armed::default()), Condvar::new())),
        };
        let inner = Arc::clone(&w.inner);
        std::thread::Builder::new()
            .name("watchdog".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                let (armed, cv) = &*inner;
                let mut guard = armed.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    let now = Instant::now();
                    guard.timers.retain(|(at, _, interrupt)| {
                        if *at <= now {
                            interrupt.request();
                            false
                        } else {
                            true
                        }
                    });
                    let next = guard.timers.iter().map(|t| t.0).min();
                    guard = match next {
                        Some(at) => {
                            cv.wait_timeout(guard, at - now)
                                .unwrap_or_else(|e| e.into_inner())
                                .0
                        }
                        None => cv.wait(guard).unwrap_or_else(|e| e.into_inner()),
                    };
                }
            })?;
        Ok(w)
    }

    /// Interrupts `interrupt` at `deadline` unless the returned timer is dropped first.
    pub fn arm(&self, deadline: Instant, interrupt: Interrupt) -> Timer {
        let (armed, cv) = &*self.inner;
        let mut a = armed.lock().unwrap_or_else(|e| e.into_inner());
        a.next_id += 1;
        let id = a.next_id;
        a.timers.push((deadline, id, interrupt));
        cv.notify_all();
        Timer {
            watchdog: self.clone(),
            id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn fires_at_the_deadline_unless_disarmed() {
        let w = Watchdog::start().unwrap();
        let fired = Interrupt::default();
        let kept = Interrupt::default();
        let _t1 = w.arm(Instant::now() + Duration::from_millis(10), fired.clone());
        let t2 = w.arm(Instant::now() + Duration::from_millis(20), kept.clone());
        drop(t2);
        assert!(!fired.sleep(Duration::from_secs(20)));
        std::thread::sleep(Duration::from_millis(30));
        assert!(!kept.is_requested());
    }
}
