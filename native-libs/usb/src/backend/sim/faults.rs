//! Fault injection for the simulated USB devices: every Nth transfer (control, bulk or
//! interrupt, counted across the devices of one simulated world) fails the way a real
//! device or bus makes it fail, so that tests can check what the guest is told.
//!
//! A plan is comma-separated `KIND=EVERY` items, e.g. `stall=7,timeout=11,overflow=13,
//! disconnect=50`:
//! - `stall=N`: the endpoint halts (`pipe`; a bulk or interrupt endpoint stays halted
//!   until the guest clears it, a control endpoint recovers at the next SETUP);
//! - `timeout=N`: the device never answers (`timeout`; OUT data is not delivered);
//! - `overflow=N`: the device babbles: sends more than asked (`overflow`; IN transfers
//!   only, an OUT transfer in that slot goes through);
//! - `disconnect=N`: the device is unplugged during the transfer (`no-device`, and every
//!   later use of it).

use crate::error::UsbError;

/// A kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum UsbFault {
    Stall,
    Timeout,
    Overflow,
    Disconnect,
}

impl UsbFault {
    /// The transfer's result.
    pub fn error(self) -> UsbError {
        match self {
            UsbFault::Stall => UsbError::Pipe,
            UsbFault::Timeout => UsbError::Timeout,
            UsbFault::Overflow => UsbError::Overflow,
            UsbFault::Disconnect => UsbError::NoDevice,
        }
    }
}

/// One injected fault: which transfer (counted from 1 since the plan was set) and what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InjectedUsb {
    pub transfer: u64,
    pub endpoint: u8,
    pub fault: UsbFault,
}

/// The faults to inject and the transfer counter that places them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsbFaultPlan {
    every: Vec<(UsbFault, u64)>,
    transfers: u64,
    injected: Vec<InjectedUsb>,
}

impl UsbFaultPlan {
    /// Parses a plan (see the module documentation); one clear error for a bad item.
    pub fn parse(spec: &str) -> Result<UsbFaultPlan, String> {
        let mut plan = UsbFaultPlan::default();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (kind, value) = item
                .split_once('=')
                .ok_or_else(|| format!("fault plan item {item:?}: expected KIND=EVERY"))?;
            let fault = match kind {
                "stall" => UsbFault::Stall,
                "timeout" => UsbFault::Timeout,
                "overflow" => UsbFault::Overflow,
                "disconnect" => UsbFault::Disconnect,
                _ => {
                    return Err(format!(
                        "fault plan item {item:?}: unknown kind {kind:?} (stall, timeout, \
                         overflow, disconnect)"
                    ))
                }
            };
            match value.parse::<u64>() {
                Ok(n) if n > 0 => plan.every.push((fault, n)),
                _ => {
                    return Err(format!(
                        "fault plan item {item:?}: {value:?} is not a count >= 1"
                    ))
                }
            }
        }
        Ok(plan)
    }

    /// Every fault injected so far, in order.
    pub fn injected(&self) -> &[InjectedUsb] {
        &self.injected
    }

    /// A transfer on `endpoint` is submitted: the fault it meets, if any (the first item
    /// of the plan that falls on it).
    pub(super) fn on_transfer(&mut self, endpoint: u8, is_in: bool) -> Option<UsbFault> {
        self.transfers += 1;
        let t = self.transfers;
        let fault = self
            .every
            .iter()
            .filter(|(f, _)| is_in || *f != UsbFault::Overflow)
            .find(|(_, n)| t.checked_rem(*n) == Some(0))
            .map(|(f, _)| *f)?;
        self.injected.push(InjectedUsb {
            transfer: t,
            endpoint,
            fault,
        });
        Some(fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_parse_place_faults_and_skip_overflow_on_out() {
        let mut p = UsbFaultPlan::parse("stall=3, overflow=2").unwrap();
        let got: Vec<Option<UsbFault>> = [true, false, true, true]
            .iter()
            .map(|&is_in| p.on_transfer(0x81, is_in))
            .collect();
        assert_eq!(
            got,
            [None, None, Some(UsbFault::Stall), Some(UsbFault::Overflow)]
        );
        assert_eq!(p.injected().len(), 2);
        for (bad, says) in [
            ("stall", "expected KIND=EVERY"),
            ("stall=0", "not a count"),
            ("melt=3", "unknown kind"),
        ] {
            let e = UsbFaultPlan::parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
