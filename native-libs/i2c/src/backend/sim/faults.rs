//! Fault injection for the simulated bus: a plan of faults tied to what goes over the
//! wire (every Nth START, data byte or transaction), so that a test can make a driver meet
//! NACKs, I/O errors, timeouts, lost arbitration and a device that disappears, and check
//! what the guest was told against what was injected.
//!
//! A plan is written as comma-separated `KIND=EVERY` items, e.g.
//! `nack-addr=13,nack-data=7,eio=40/3,timeout=50,arbitration=60,vanish=200`:
//! - `nack-addr=N`: every Nth address byte (each START) is not acknowledged;
//! - `nack-data=N`: every Nth data byte the master writes is not acknowledged (the device
//!   never receives it; the bytes before it, it did);
//! - `eio=N/L`: every Nth transaction starts a burst of L transactions the adapter fails
//!   with an I/O error before anything is on the wire (`bus`);
//! - `timeout=N`: every Nth transaction times out in the adapter (`other`);
//! - `arbitration=N`: every Nth transaction loses arbitration (`arbitration-loss`);
//! - `vanish=N`: at the Nth transaction the addressed device disappears mid-transaction
//!   (at its first data byte, or at the address if there is none) and NACKs from then on.

use std::collections::BTreeSet;

use crate::backend::{ErrorCode, NoAcknowledgeSource};

/// A kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    NackAddress,
    NackData,
    Bus,
    Timeout,
    ArbitrationLoss,
    Vanish,
}

impl Fault {
    /// What the master (and so the guest) sees (a device that vanishes before its address
    /// byte is an address NACK instead).
    pub fn error(self) -> ErrorCode {
        match self {
            Fault::NackAddress => ErrorCode::NoAcknowledge(NoAcknowledgeSource::Address),
            Fault::NackData | Fault::Vanish => ErrorCode::NoAcknowledge(NoAcknowledgeSource::Data),
            Fault::Bus => ErrorCode::Bus,
            Fault::Timeout => ErrorCode::Other,
            Fault::ArbitrationLoss => ErrorCode::ArbitrationLoss,
        }
    }
}

/// One injected fault: which transaction (counted from 1 since the plan was set), what,
/// and the error the master got for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Injected {
    pub transaction: u64,
    pub address: u16,
    pub fault: Fault,
    pub error: ErrorCode,
}

/// The faults to inject and the counters that place them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultPlan {
    nack_addr: Option<u64>,
    nack_data: Option<u64>,
    eio: Option<(u64, u64)>,
    timeout: Option<u64>,
    arbitration: Option<u64>,
    vanish: Option<u64>,
    // Counters.
    starts: u64,
    data_bytes: u64,
    transactions: u64,
    eio_left: u64,
    /// Devices that have vanished.
    gone: BTreeSet<u16>,
    injected: Vec<Injected>,
}

impl FaultPlan {
    /// Parses a plan (see the module documentation); one clear error for a bad item.
    pub fn parse(spec: &str) -> Result<FaultPlan, String> {
        let mut plan = FaultPlan::default();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (kind, value) = item
                .split_once('=')
                .ok_or_else(|| format!("fault plan item {item:?}: expected KIND=EVERY"))?;
            let every = |v: &str| -> Result<u64, String> {
                match v.parse::<u64>() {
                    Ok(n) if n > 0 => Ok(n),
                    _ => Err(format!(
                        "fault plan item {item:?}: {v:?} is not a count >= 1"
                    )),
                }
            };
            match kind {
                "nack-addr" => plan.nack_addr = Some(every(value)?),
                "nack-data" => plan.nack_data = Some(every(value)?),
                "eio" => {
                    let (n, l) = value.split_once('/').unwrap_or((value, "1"));
                    plan.eio = Some((every(n)?, every(l)?));
                }
                "timeout" => plan.timeout = Some(every(value)?),
                "arbitration" => plan.arbitration = Some(every(value)?),
                "vanish" => plan.vanish = Some(every(value)?),
                _ => {
                    return Err(format!(
                        "fault plan item {item:?}: unknown kind {kind:?} (nack-addr, nack-data, \
                         eio, timeout, arbitration, vanish)"
                    ))
                }
            }
        }
        Ok(plan)
    }

    /// Every fault injected so far, in order.
    pub fn injected(&self) -> &[Injected] {
        &self.injected
    }

    fn hit(every: Option<u64>, count: u64) -> bool {
        every.is_some_and(|n| count.checked_rem(n) == Some(0))
    }

    fn record(&mut self, address: u16, fault: Fault) -> ErrorCode {
        self.record_as(address, fault, fault.error())
    }

    fn record_as(&mut self, address: u16, fault: Fault, error: ErrorCode) -> ErrorCode {
        self.injected.push(Injected {
            transaction: self.transactions,
            address,
            fault,
            error,
        });
        error
    }

    /// A transaction to `address` begins: a fault of the adapter, before the wire.
    pub(super) fn begin(&mut self, address: u16) -> Option<ErrorCode> {
        self.transactions += 1;
        let t = self.transactions;
        if self.eio_left > 0 {
            self.eio_left -= 1;
            return Some(self.record(address, Fault::Bus));
        }
        if let Some((n, len)) = self.eio {
            if t.checked_rem(n) == Some(0) {
                self.eio_left = len - 1;
                return Some(self.record(address, Fault::Bus));
            }
        }
        if Self::hit(self.timeout, t) {
            return Some(self.record(address, Fault::Timeout));
        }
        if Self::hit(self.arbitration, t) {
            return Some(self.record(address, Fault::ArbitrationLoss));
        }
        None
    }

    /// Whether this transaction is the one its device vanishes in (at its first data byte
    /// or, with none, its address).
    pub(super) fn vanishes_now(&self) -> bool {
        Self::hit(self.vanish, self.transactions)
    }

    /// An address byte goes on the wire: `Some` NACKs it.
    pub(super) fn start(&mut self, address: u16, vanish_here: bool) -> Option<ErrorCode> {
        if self.gone.contains(&address) {
            // Gone before this transaction: nobody answers (not counted as injected again).
            return Some(ErrorCode::NoAcknowledge(NoAcknowledgeSource::Address));
        }
        if vanish_here {
            self.gone.insert(address);
            return Some(self.record_as(
                address,
                Fault::Vanish,
                ErrorCode::NoAcknowledge(NoAcknowledgeSource::Address),
            ));
        }
        self.starts += 1;
        if Self::hit(self.nack_addr, self.starts) {
            return Some(self.record(address, Fault::NackAddress));
        }
        None
    }

    /// A data byte the master writes: `Some` NACKs it (the device does not get it).
    pub(super) fn data(&mut self, address: u16, vanish_here: bool) -> Option<ErrorCode> {
        if vanish_here {
            self.gone.insert(address);
            return Some(self.record(address, Fault::Vanish));
        }
        self.data_bytes += 1;
        if Self::hit(self.nack_data, self.data_bytes) {
            return Some(self.record(address, Fault::NackData));
        }
        None
    }

    /// Whether `address` has vanished.
    pub fn is_gone(&self, address: u16) -> bool {
        self.gone.contains(&address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_parse_and_bad_items_say_why() {
        let p = FaultPlan::parse(
            "nack-addr=13, nack-data=7,eio=40/3,timeout=50,arbitration=60,vanish=200",
        )
        .unwrap();
        assert_eq!(p.eio, Some((40, 3)));
        assert_eq!(p.vanish, Some(200));
        assert_eq!(FaultPlan::parse("").unwrap(), FaultPlan::default());
        for (bad, says) in [
            ("nack-addr", "expected KIND=EVERY"),
            ("nack-addr=0", "not a count"),
            ("eio=4/x", "not a count"),
            ("melt=3", "unknown kind"),
        ] {
            let e = FaultPlan::parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn an_eio_burst_fails_consecutive_transactions() {
        let mut p = FaultPlan::parse("eio=3/2").unwrap();
        let outcomes: Vec<bool> = (0..8).map(|_| p.begin(0x50).is_some()).collect();
        assert_eq!(
            outcomes,
            [false, false, true, true, false, true, true, false]
        );
        assert!(p.injected().iter().all(|i| i.fault == Fault::Bus));
    }
}
