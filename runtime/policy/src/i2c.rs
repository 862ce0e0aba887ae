//! I2C grants: which buses and which device addresses a module may touch.
//!
//! Nothing is granted by default. A grant names one bus and an explicit address set:
//!
//! ```text
//! GRANT   := BUS ":" ADDRS
//! BUS     := "sim" | a device path such as "/dev/i2c-1"   (anything without a trailing ":ADDRS")
//! ADDRS   := "*" | ITEM ("," ITEM)*
//! ITEM    := ADDR | ADDR "-" ADDR                          (inclusive range)
//! ADDR    := hex "0x48" | decimal "72"                     (7-bit: 0x00..=0x7f)
//! ```
//!
//! `*` means every ordinary 7-bit address, 0x08..=0x77. The reserved addresses (0x00 general
//! call, which every device on the bus may act on, 0x01-0x07 and 0x78-0x7f for CBUS, HS-mode and
//! 10-bit addressing) are only granted when listed explicitly: a wildcard must not let a driver
//! broadcast to every chip on the bus. 10-bit addresses are not grantable.
//!
//! A bare bus name (`sim`, `/dev/i2c-1`) is rejected: the address list is required so that an
//! operator always states what the driver may talk to.
//!
//! Grants for the same bus merge. Grants files (`i2c BUS:ADDRS` lines beside `usb` ones) are
//! read by `wasi_hw_wiring::Grants`.

use std::collections::BTreeSet;
use std::fmt;

/// Lowest address a wildcard grant covers (0x00-0x07 are reserved).
pub const WILDCARD_FIRST: u16 = 0x08;
/// Highest address a wildcard grant covers (0x78-0x7f are reserved).
pub const WILDCARD_LAST: u16 = 0x77;
/// Highest 7-bit address.
pub const MAX_7BIT: u16 = 0x7f;

/// Why a grant string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum I2cGrantError {
    #[error("i2c grant {0:?}: missing address list (write BUS:0x48,0x50 or BUS:* — nothing is granted by default)")]
    MissingAddresses(String),
    #[error("i2c grant {0:?}: empty bus name")]
    EmptyBus(String),
    #[error(
        "i2c grant {grant:?}: bad address {item:?} (expected 0x00..=0x7f, hex 0x.. or decimal)"
    )]
    BadAddress { grant: String, item: String },
    #[error("i2c grant {grant:?}: empty range {item:?}")]
    EmptyRange { grant: String, item: String },
}

/// The addresses granted on one bus.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddressSet {
    /// `*` was given: 0x08..=0x77.
    wildcard: bool,
    /// Explicitly listed addresses (may include reserved ones).
    listed: BTreeSet<u16>,
}

impl AddressSet {
    /// Every ordinary 7-bit address (what `*` means).
    pub fn wildcard() -> Self {
        AddressSet {
            wildcard: true,
            listed: BTreeSet::new(),
        }
    }

    /// Exactly these addresses. Addresses above 0x7f are ignored (never grantable).
    pub fn only(addrs: impl IntoIterator<Item = u16>) -> Self {
        AddressSet {
            wildcard: false,
            listed: addrs.into_iter().filter(|a| *a <= MAX_7BIT).collect(),
        }
    }

    pub fn contains(&self, addr: u16) -> bool {
        (self.wildcard && (WILDCARD_FIRST..=WILDCARD_LAST).contains(&addr))
            || self.listed.contains(&addr)
    }

    pub fn is_empty(&self) -> bool {
        !self.wildcard && self.listed.is_empty()
    }

    fn merge(&mut self, other: &AddressSet) {
        self.wildcard |= other.wildcard;
        self.listed.extend(other.listed.iter().copied());
    }
}

impl fmt::Display for AddressSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        if self.wildcard {
            f.write_str("*")?;
            first = false;
        }
        for a in &self.listed {
            if !first {
                f.write_str(",")?;
            }
            write!(f, "{a:#04x}")?;
            first = false;
        }
        Ok(())
    }
}

/// One bus and the addresses granted on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct I2cGrant {
    pub bus: String,
    pub addresses: AddressSet,
}

impl I2cGrant {
    /// Parses `BUS:ADDRS` (see the module documentation).
    pub fn parse(s: &str) -> Result<Self, I2cGrantError> {
        let s = s.trim();
        // rsplit: the address list never contains ':', a bus path might.
        let (bus, addrs) = s
            .rsplit_once(':')
            .ok_or_else(|| I2cGrantError::MissingAddresses(s.to_string()))?;
        let bus = bus.trim();
        if bus.is_empty() {
            return Err(I2cGrantError::EmptyBus(s.to_string()));
        }
        let addrs = addrs.trim();
        if addrs.is_empty() {
            return Err(I2cGrantError::MissingAddresses(s.to_string()));
        }
        let mut set = AddressSet::default();
        for item in addrs.split(',') {
            let item = item.trim();
            if item == "*" {
                set.wildcard = true;
                continue;
            }
            let bad = || I2cGrantError::BadAddress {
                grant: s.to_string(),
                item: item.to_string(),
            };
            match item.split_once('-') {
                Some((lo, hi)) => {
                    let lo = parse_addr(lo).ok_or_else(bad)?;
                    let hi = parse_addr(hi).ok_or_else(bad)?;
                    if lo > hi {
                        return Err(I2cGrantError::EmptyRange {
                            grant: s.to_string(),
                            item: item.to_string(),
                        });
                    }
                    set.listed.extend(lo..=hi);
                }
                None => {
                    set.listed.insert(parse_addr(item).ok_or_else(bad)?);
                }
            }
        }
        Ok(I2cGrant {
            bus: bus.to_string(),
            addresses: set,
        })
    }
}

impl fmt::Display for I2cGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.bus, self.addresses)
    }
}

fn parse_addr(s: &str) -> Option<u16> {
    let s = s.trim();
    let v = if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u16::from_str_radix(hex, 16).ok()?
    } else {
        s.parse::<u16>().ok()?
    };
    (v <= MAX_7BIT).then_some(v)
}

/// The set of I2C grants for one module instance. Empty (deny everything) by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct I2cPolicy {
    // Vec keeps the grant order (the first granted bus is the default bus).
    grants: Vec<I2cGrant>,
}

impl I2cPolicy {
    /// A policy that grants nothing.
    pub fn deny_all() -> Self {
        Self::default()
    }

    /// Parses CLI grant strings such as `/dev/i2c-1:0x48,0x50` or `sim:*`.
    pub fn from_grants<S: AsRef<str>>(grants: &[S]) -> Result<Self, I2cGrantError> {
        let mut p = Self::default();
        for g in grants {
            p.grant(I2cGrant::parse(g.as_ref())?);
        }
        Ok(p)
    }

    /// Adds a grant; grants for the same bus merge.
    pub fn grant(&mut self, g: I2cGrant) {
        match self.grants.iter_mut().find(|e| e.bus == g.bus) {
            Some(existing) => existing.addresses.merge(&g.addresses),
            None => self.grants.push(g),
        }
    }

    /// May the module talk to `addr` on `bus`?
    pub fn allows(&self, bus: &str, addr: u16) -> bool {
        self.grants
            .iter()
            .any(|g| g.bus == bus && g.addresses.contains(addr))
    }

    /// Is anything granted on `bus` (i.e. may the module open it at all)?
    pub fn allows_bus(&self, bus: &str) -> bool {
        self.grants
            .iter()
            .any(|g| g.bus == bus && !g.addresses.is_empty())
    }

    /// The granted bus names, in grant order.
    pub fn buses(&self) -> impl Iterator<Item = &str> {
        self.grants.iter().map(|g| g.bus.as_str())
    }

    pub fn grants(&self) -> &[I2cGrant] {
        &self.grants
    }

    pub fn is_empty(&self) -> bool {
        self.grants.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_denies_everything() {
        let p = I2cPolicy::deny_all();
        assert!(!p.allows("sim", 0x48));
        assert!(!p.allows_bus("sim"));
        assert!(p.is_empty());
    }

    #[test]
    fn explicit_list() {
        let p = I2cPolicy::from_grants(&["/dev/i2c-1:0x48,0x50"]).unwrap();
        assert!(p.allows("/dev/i2c-1", 0x48));
        assert!(p.allows("/dev/i2c-1", 0x50));
        assert!(!p.allows("/dev/i2c-1", 0x49));
        assert!(!p.allows("/dev/i2c-0", 0x48));
        assert!(!p.allows("sim", 0x48));
        assert!(p.allows_bus("/dev/i2c-1"));
        assert!(!p.allows_bus("/dev/i2c-0"));
    }

    #[test]
    fn decimal_ranges_and_uppercase_hex() {
        let p = I2cPolicy::from_grants(&["sim:72, 0X50-0x53"]).unwrap();
        assert!(p.allows("sim", 0x48));
        for a in 0x50..=0x53 {
            assert!(p.allows("sim", a));
        }
        assert!(!p.allows("sim", 0x54));
        assert!(!p.allows("sim", 0x4f));
    }

    #[test]
    fn wildcard_excludes_reserved_addresses() {
        let p = I2cPolicy::from_grants(&["sim:*"]).unwrap();
        assert!(p.allows("sim", 0x08));
        assert!(p.allows("sim", 0x77));
        assert!(
            !p.allows("sim", 0x00),
            "general call must be listed explicitly"
        );
        assert!(!p.allows("sim", 0x07));
        assert!(!p.allows("sim", 0x78));
        assert!(!p.allows("sim", 0x7f));
        assert!(
            !p.allows("sim", 0x100),
            "10-bit addresses are never granted"
        );
        let p = I2cPolicy::from_grants(&["sim:*,0x00"]).unwrap();
        assert!(p.allows("sim", 0x00));
    }

    #[test]
    fn bare_bus_is_rejected() {
        assert_eq!(
            I2cGrant::parse("sim"),
            Err(I2cGrantError::MissingAddresses("sim".into()))
        );
        assert!(matches!(
            I2cGrant::parse("/dev/i2c-1:"),
            Err(I2cGrantError::MissingAddresses(_))
        ));
        assert!(matches!(
            I2cGrant::parse(":0x48"),
            Err(I2cGrantError::EmptyBus(_))
        ));
    }

    #[test]
    fn bad_addresses_are_rejected() {
        for g in [
            "sim:0x80",
            "sim:0x48,",
            "sim:abc",
            "sim:0x",
            "sim:-1",
            "sim:128",
        ] {
            assert!(
                matches!(I2cGrant::parse(g), Err(I2cGrantError::BadAddress { .. })),
                "{g} should be rejected: {:?}",
                I2cGrant::parse(g)
            );
        }
        assert!(matches!(
            I2cGrant::parse("sim:0x57-0x50"),
            Err(I2cGrantError::EmptyRange { .. })
        ));
    }

    #[test]
    fn grants_merge_and_keep_order() {
        let p = I2cPolicy::from_grants(&["sim:0x48", "/dev/i2c-1:0x20", "sim:0x50"]).unwrap();
        assert_eq!(p.buses().collect::<Vec<_>>(), vec!["sim", "/dev/i2c-1"]);
        assert!(p.allows("sim", 0x48) && p.allows("sim", 0x50));
        assert!(!p.allows("/dev/i2c-1", 0x48));
        assert_eq!(p.grants()[0].to_string(), "sim:0x48,0x50");
    }

    #[test]
    fn bus_path_with_colon_uses_last_colon() {
        let g = I2cGrant::parse("/dev/by-name:x:0x10").unwrap();
        assert_eq!(g.bus, "/dev/by-name:x");
        assert!(g.addresses.contains(0x10));
    }

    #[test]
    fn display_round_trips() {
        let g = I2cGrant::parse("sim:*,0x00,0x48").unwrap();
        assert_eq!(I2cGrant::parse(&g.to_string()).unwrap(), g);
    }
}
