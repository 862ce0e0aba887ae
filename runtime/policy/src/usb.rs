//! USB grants: which devices (and which of their interfaces) a module may see and open.
//!
//! Nothing is granted by default: without a grant, `list-devices` returns an empty list.
//! Each `--usb` value is one of:
//!
//! ```text
//! VALUE    := "sim" | GRANT
//! GRANT    := ID ":" ID [ "@" LOCATION ] ( ":if" NUM )*
//! ID       := 1-4 hex digits | "*"                    (vendor id, product id)
//! LOCATION := BUS "-" PORT ( "." PORT )*              (Linux sysfs naming, e.g. 1-2.3)
//! NUM      := decimal 0..=255
//! ```
//!
//! - `sim` selects the simulated backend (in-process device models, no hardware). Alone it
//!   grants every simulated device; together with GRANTs only the granted simulated devices
//!   are visible. Without `sim`, grants apply to the real USB backend (nusb).
//! - `0781:5567` grants every device with that vendor/product id; `0781:*` every device of
//!   the vendor; `*:*` every device (an explicit choice, never a default).
//! - `0781:5567@1-2.3` grants it only on bus 1, port chain 2.3 (as in `/sys/bus/usb/devices/1-2.3`).
//! - `0781:5567:if0:if1` restricts the grant to interfaces 0 and 1: other interfaces cannot be
//!   claimed, their kernel drivers cannot be detached, control requests addressed to them are
//!   refused, and device-wide state changes (set-configuration, reset-device) are refused too,
//!   because they would affect the interfaces not granted.
//!
//! Grants matching the same device merge: the device is visible if any grant matches, and the
//! allowed interfaces are the union (a grant without `:if` allows the whole device).

use std::collections::BTreeSet;
use std::fmt;

/// Why a `--usb` value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsbGrantError {
    #[error("usb grant {0:?}: expected VID:PID (hex, e.g. 0781:5567), optionally @BUS-PORT[.PORT] and :ifN, or `sim`")]
    Syntax(String),
    #[error("usb grant {grant:?}: bad {what} {item:?}")]
    Bad {
        grant: String,
        what: &'static str,
        item: String,
    },
}

/// Which backend serves the module's USB imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UsbBackendKind {
    /// The host's USB devices (nusb over Linux usbfs).
    #[default]
    Host,
    /// The in-process simulated devices.
    Sim,
}

/// A bus number and hub port chain, e.g. `1-2.3` is bus 1, port 2 of the root hub, then
/// port 3 of the hub behind it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UsbLocation {
    pub bus: u8,
    pub ports: Vec<u8>,
}

impl fmt::Display for UsbLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-", self.bus)?;
        for (i, p) in self.ports.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

/// One parsed grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsbGrant {
    /// `None` = any vendor (`*`).
    pub vendor: Option<u16>,
    /// `None` = any product (`*`).
    pub product: Option<u16>,
    pub location: Option<UsbLocation>,
    /// `None` = every interface.
    pub interfaces: Option<BTreeSet<u8>>,
}

/// What the policy needs to know about a device to decide.
#[derive(Debug, Clone, Copy)]
pub struct DeviceIdentity<'a> {
    pub vendor: u16,
    pub product: u16,
    pub bus: u8,
    pub ports: &'a [u8],
}

/// What a module may do with a visible device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceAccess {
    /// The whole device.
    All,
    /// Only these interfaces; device-wide changes are refused.
    Interfaces(BTreeSet<u8>),
}

impl DeviceAccess {
    pub fn interface_allowed(&self, interface: u8) -> bool {
        match self {
            DeviceAccess::All => true,
            DeviceAccess::Interfaces(set) => set.contains(&interface),
        }
    }

    /// Device-wide operations (set-configuration, reset) need the whole device.
    pub fn whole_device(&self) -> bool {
        matches!(self, DeviceAccess::All)
    }
}

impl UsbGrant {
    pub fn matches(&self, dev: &DeviceIdentity<'_>) -> bool {
        self.vendor.is_none_or(|v| v == dev.vendor)
            && self.product.is_none_or(|p| p == dev.product)
            && self
                .location
                .as_ref()
                .is_none_or(|l| l.bus == dev.bus && l.ports == dev.ports)
    }

    /// Parses one grant (not `sim`).
    pub fn parse(grant: &str) -> Result<UsbGrant, UsbGrantError> {
        let syntax = || UsbGrantError::Syntax(grant.to_string());
        let bad = |what: &'static str, item: &str| UsbGrantError::Bad {
            grant: grant.to_string(),
            what,
            item: item.to_string(),
        };
        let mut parts = grant.split(':');
        let vid = parts.next().ok_or_else(syntax)?;
        let pid_loc = parts.next().ok_or_else(syntax)?;
        let (pid, loc) = match pid_loc.split_once('@') {
            Some((p, l)) => (p, Some(l)),
            None => (pid_loc, None),
        };
        let vendor = parse_id(vid).ok_or_else(|| bad("vendor id", vid))?;
        let product = parse_id(pid).ok_or_else(|| bad("product id", pid))?;
        let location = match loc {
            None => None,
            Some(l) => Some(parse_location(l).ok_or_else(|| bad("location", l))?),
        };
        let mut interfaces: Option<BTreeSet<u8>> = None;
        for part in parts {
            let num = part.strip_prefix("if").ok_or_else(syntax)?;
            let n = parse_dec_u8(num).ok_or_else(|| bad("interface number", part))?;
            interfaces.get_or_insert_with(BTreeSet::new).insert(n);
        }
        Ok(UsbGrant {
            vendor,
            product,
            location,
            interfaces,
        })
    }
}

fn parse_id(s: &str) -> Option<Option<u16>> {
    if s == "*" {
        return Some(None);
    }
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u16::from_str_radix(s, 16).ok().map(Some)
}

fn parse_dec_u8(s: &str) -> Option<u8> {
    if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_location(s: &str) -> Option<UsbLocation> {
    let (bus, ports) = s.split_once('-')?;
    let bus = parse_dec_u8(bus)?;
    let ports = ports
        .split('.')
        .map(parse_dec_u8)
        .collect::<Option<Vec<u8>>>()?;
    // USB allows at most 7 tiers, so a chain has at most 7 hops; port 0 does not exist.
    if ports.is_empty() || ports.len() > 7 || ports.contains(&0) {
        return None;
    }
    Some(UsbLocation { bus, ports })
}

/// All USB grants of one module.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UsbPolicy {
    backend: UsbBackendKind,
    /// `sim` given: the simulated backend, and all its devices if no grant narrows it.
    sim: bool,
    grants: Vec<UsbGrant>,
}

impl UsbPolicy {
    /// Nothing granted.
    pub fn deny_all() -> UsbPolicy {
        UsbPolicy::default()
    }

    /// Parses the values of every `--usb` option.
    pub fn from_grants<S: AsRef<str>>(values: &[S]) -> Result<UsbPolicy, UsbGrantError> {
        let mut policy = UsbPolicy::deny_all();
        for v in values {
            policy.add(v.as_ref())?;
        }
        Ok(policy)
    }

    /// Adds one `--usb` value.
    pub fn add(&mut self, value: &str) -> Result<(), UsbGrantError> {
        let value = value.trim();
        if value == "sim" {
            self.sim = true;
            self.backend = UsbBackendKind::Sim;
        } else {
            self.grants.push(UsbGrant::parse(value)?);
        }
        Ok(())
    }

    pub fn backend(&self) -> UsbBackendKind {
        self.backend
    }

    /// True when no device can be visible.
    pub fn is_empty(&self) -> bool {
        !self.sim && self.grants.is_empty()
    }

    pub fn grants(&self) -> &[UsbGrant] {
        &self.grants
    }

    /// `None` if the device is invisible to the module, else what it may do with it.
    pub fn device_access(&self, dev: &DeviceIdentity<'_>) -> Option<DeviceAccess> {
        if self.sim && self.grants.is_empty() {
            return Some(DeviceAccess::All);
        }
        let mut allowed: Option<BTreeSet<u8>> = None;
        let mut any = false;
        for g in self.grants.iter().filter(|g| g.matches(dev)) {
            any = true;
            match &g.interfaces {
                None => return Some(DeviceAccess::All),
                Some(set) => allowed.get_or_insert_with(BTreeSet::new).extend(set),
            }
        }
        if any {
            Some(DeviceAccess::Interfaces(allowed.unwrap_or_default()))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(vendor: u16, product: u16, bus: u8, ports: &[u8]) -> DeviceIdentity<'_> {
        DeviceIdentity {
            vendor,
            product,
            bus,
            ports,
        }
    }

    #[test]
    fn nothing_by_default() {
        let p = UsbPolicy::from_grants::<&str>(&[]).unwrap();
        assert!(p.is_empty());
        assert_eq!(p.backend(), UsbBackendKind::Host);
        assert_eq!(p.device_access(&dev(0x0781, 0x5567, 1, &[2])), None);
    }

    #[test]
    fn vid_pid_grant() {
        let p = UsbPolicy::from_grants(&["0781:5567"]).unwrap();
        assert_eq!(p.backend(), UsbBackendKind::Host);
        assert_eq!(
            p.device_access(&dev(0x0781, 0x5567, 3, &[1, 4])),
            Some(DeviceAccess::All)
        );
        assert_eq!(p.device_access(&dev(0x0781, 0x5568, 3, &[1])), None);
        assert_eq!(p.device_access(&dev(0x0782, 0x5567, 3, &[1])), None);
    }

    #[test]
    fn hex_is_case_insensitive_and_short_ids_work() {
        let p = UsbPolicy::from_grants(&["AbC:1"]).unwrap();
        assert!(p.device_access(&dev(0x0abc, 0x0001, 1, &[1])).is_some());
    }

    #[test]
    fn wildcards() {
        let p = UsbPolicy::from_grants(&["0781:*"]).unwrap();
        assert!(p.device_access(&dev(0x0781, 0x1234, 1, &[1])).is_some());
        assert!(p.device_access(&dev(0x0782, 0x1234, 1, &[1])).is_none());
        let all = UsbPolicy::from_grants(&["*:*"]).unwrap();
        assert!(all.device_access(&dev(1, 2, 3, &[4])).is_some());
    }

    #[test]
    fn location_grant() {
        let p = UsbPolicy::from_grants(&["0781:5567@1-2.3"]).unwrap();
        assert_eq!(
            p.grants()[0].location,
            Some(UsbLocation {
                bus: 1,
                ports: vec![2, 3]
            })
        );
        assert!(p.device_access(&dev(0x0781, 0x5567, 1, &[2, 3])).is_some());
        assert!(p.device_access(&dev(0x0781, 0x5567, 1, &[2])).is_none());
        assert!(p.device_access(&dev(0x0781, 0x5567, 2, &[2, 3])).is_none());
        assert_eq!(
            p.grants()[0].location.as_ref().unwrap().to_string(),
            "1-2.3"
        );
    }

    #[test]
    fn interface_grants_merge() {
        let p = UsbPolicy::from_grants(&["0781:5567:if0", "0781:5567@1-2:if2:if3"]).unwrap();
        let a = p.device_access(&dev(0x0781, 0x5567, 1, &[2])).unwrap();
        assert_eq!(a, DeviceAccess::Interfaces([0, 2, 3].into_iter().collect()));
        assert!(a.interface_allowed(0) && a.interface_allowed(3) && !a.interface_allowed(1));
        assert!(!a.whole_device());
        // Elsewhere only the first grant matches.
        let b = p.device_access(&dev(0x0781, 0x5567, 1, &[3])).unwrap();
        assert_eq!(b, DeviceAccess::Interfaces([0].into_iter().collect()));
        // A whole-device grant wins over interface grants.
        let q = UsbPolicy::from_grants(&["0781:5567:if0", "0781:5567"]).unwrap();
        assert_eq!(
            q.device_access(&dev(0x0781, 0x5567, 1, &[2])),
            Some(DeviceAccess::All)
        );
    }

    #[test]
    fn sim_alone_grants_all_sim_devices_and_grants_narrow_it() {
        let p = UsbPolicy::from_grants(&["sim"]).unwrap();
        assert_eq!(p.backend(), UsbBackendKind::Sim);
        assert!(!p.is_empty());
        assert_eq!(
            p.device_access(&dev(0x1209, 0x0001, 1, &[1])),
            Some(DeviceAccess::All)
        );
        let q = UsbPolicy::from_grants(&["sim", "1209:0002"]).unwrap();
        assert_eq!(q.backend(), UsbBackendKind::Sim);
        assert!(q.device_access(&dev(0x1209, 0x0001, 1, &[1])).is_none());
        assert!(q.device_access(&dev(0x1209, 0x0002, 1, &[2])).is_some());
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "0781",
            "0781:",
            ":5567",
            "12345:1",
            "g781:5567",
            "0781:5567@",
            "0781:5567@1",
            "0781:5567@1-",
            "0781:5567@1-0",
            "0781:5567@x-1",
            "0781:5567@1-2.",
            "0781:5567:0",
            "0781:5567:if",
            "0781:5567:if256",
            "0781:5567:ifx",
            "0781:5567@1-1.1.1.1.1.1.1.1",
            "-1:2",
            "+1:2",
        ] {
            assert!(UsbPolicy::from_grants(&[bad]).is_err(), "accepted {bad:?}");
        }
    }
}
