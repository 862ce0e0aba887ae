//! A bus that outlives the instances using it: the resident host opens a driver's buses
//! once and hands the same open bus to each new instance of the driver (after a restart or
//! a hot update), so no other process can take the device in between and no instance
//! change happens inside a transaction.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{ErrorCode, I2cBus, Operation};

/// One open bus shared by every clone: one transaction at a time, with counters.
#[derive(Clone)]
pub struct SharedBus {
    inner: Arc<Inner>,
}

struct Inner {
    bus: Mutex<Wire>,
    /// Behind a lock of its own, not the bus's: stats never wait for a transaction on
    /// the wire. (Not atomics: 32-bit MIPS has no 64-bit ones.)
    counts: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    begun: u64,
    completed: u64,
    failed: u64,
    last_error: Option<ErrorCode>,
}

/// The bus and what is timed under its lock.
struct Wire {
    bus: Box<dyn I2cBus>,
    last_end: Option<Instant>,
    /// Armed by [`SharedBus::mark_handover`]: the old user's last transaction end and the
    /// new user's first transaction start.
    handover: Option<(Option<Instant>, Option<Instant>)>,
}

/// What went over a shared bus since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BusStats {
    /// Transactions handed to the backend.
    pub begun: u64,
    /// Transactions the backend returned from (with or without an error). `begun -
    /// completed` is the number in progress: a transaction cut short by an instance
    /// change would show up here as one that never completes.
    pub completed: u64,
    /// Of the completed ones, those that failed (NACK, bus error, ...).
    pub failed: u64,
    pub last_error: Option<ErrorCode>,
}

impl SharedBus {
    pub fn new(bus: impl I2cBus + 'static) -> SharedBus {
        SharedBus {
            inner: Arc::new(Inner {
                bus: Mutex::new(Wire {
                    bus: Box::new(bus),
                    last_end: None,
                    handover: None,
                }),
                counts: Mutex::new(Counts::default()),
            }),
        }
    }

    /// Marks a change of user (no transaction in progress): the next transaction's start
    /// minus the last one's end becomes [`SharedBus::handover_gap`].
    pub fn mark_handover(&self) {
        let mut w = self.inner.bus.lock().unwrap_or_else(|e| e.into_inner());
        w.handover = Some((w.last_end, None));
    }

    /// The idle time of the bus across the last marked change of user: last transaction of
    /// the old user → first of the new (`None` until both happened).
    pub fn handover_gap(&self) -> Option<Duration> {
        let w = self.inner.bus.lock().unwrap_or_else(|e| e.into_inner());
        match w.handover {
            Some((Some(end), Some(start))) => Some(start.saturating_duration_since(end)),
            _ => None,
        }
    }

    pub fn stats(&self) -> BusStats {
        // `begun` is counted before a transaction and `completed` after: `begun -
        // completed` is 1 while a transaction is on the wire.
        let c = self.counts();
        BusStats {
            begun: c.begun,
            completed: c.completed,
            failed: c.failed,
            last_error: c.last_error,
        }
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.inner.counts.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl I2cBus for SharedBus {
    fn transaction(&mut self, address: u16, ops: &mut [Operation<'_>]) -> Result<(), ErrorCode> {
        // A panic in another user's transaction leaves the bus usable: the backend's own
        // state is per call.
        let mut w = self.inner.bus.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, first @ None)) = &mut w.handover {
            *first = Some(Instant::now());
        }
        self.counts().begun += 1;
        let r = w.bus.transaction(address, ops);
        w.last_end = Some(Instant::now());
        let mut c = self.counts();
        if let Err(e) = r {
            c.failed += 1;
            c.last_error = Some(e);
        }
        c.completed += 1;
        r
    }

    fn displays(&self) -> Vec<(u16, String)> {
        let w = self.inner.bus.lock().unwrap_or_else(|e| e.into_inner());
        w.bus.displays()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::sim::SimBus;
    use crate::backend::NoAcknowledgeSource;

    #[test]
    fn clones_share_one_bus_and_its_counters() {
        let sim = SimBus::with_default_devices();
        let mut a = SharedBus::new(sim.clone());
        let mut b = a.clone();
        let mut t = [0u8; 2];
        a.write_read(0x48, &[0], &mut t).unwrap();
        assert_eq!(t, [0x17, 0x80]);
        assert_eq!(
            b.read(0x11, &mut t),
            Err(ErrorCode::NoAcknowledge(NoAcknowledgeSource::Address))
        );
        let s = a.stats();
        assert_eq!((s.begun, s.completed, s.failed), (2, 2, 1));
        assert_eq!(
            s.last_error,
            Some(ErrorCode::NoAcknowledge(NoAcknowledgeSource::Address))
        );
        assert_eq!(sim.traffic().transactions, 2);
    }

    #[test]
    fn the_handover_gap_spans_last_old_to_first_new_transaction() {
        let mut bus = SharedBus::new(SimBus::with_default_devices());
        let mut t = [0u8; 2];
        bus.write_read(0x48, &[0], &mut t).unwrap();
        bus.mark_handover();
        assert_eq!(bus.handover_gap(), None);
        std::thread::sleep(Duration::from_millis(5));
        bus.write_read(0x48, &[0], &mut t).unwrap();
        let gap = bus.handover_gap().unwrap();
        assert!(gap >= Duration::from_millis(5), "{gap:?}");
        // Later transactions do not move it.
        bus.write_read(0x48, &[0], &mut t).unwrap();
        assert_eq!(bus.handover_gap(), Some(gap));
    }
}
