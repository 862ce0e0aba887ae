//! The handle table of an instance's resources (`own<i2c>`, `own<transfer>`, ...), as the
//! component model keeps one per instance.
//!
//! The rule, the same for every interface: a handle value is never reused within a table.
//! Handles count up from 1; 0 and `u32::MAX` are never handed out. A guest that keeps a stale
//! handle after dropping its resource gets "unknown handle", never someone else's resource.
//! Lookups are typed: a handle of another resource type is a distinct error. A table holds
//! at most [`ResourceTable::limit`] live resources.

use std::any::Any;
use std::fmt;

use crate::error::Trap;

/// A resource type a guest can hold handles to. `KIND` is its WIT name, for messages.
pub trait Resource: 'static {
    const KIND: &'static str;
}

/// Why a resource could not be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableError {
    /// As many resources are live as the table allows.
    Full { limit: usize },
    /// Every handle value has been handed out once.
    Exhausted,
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TableError::Full { limit } => write!(f, "resource table full ({limit} live resources)"),
            TableError::Exhausted => f.write_str("handle space exhausted"),
        }
    }
}

impl std::error::Error for TableError {}

struct Entry {
    handle: u32,
    kind: &'static str,
    value: Box<dyn Any>,
}

/// Live resources by handle. Handles only grow, so the entries stay sorted by handle and a
/// lookup is a binary search over the few live ones: no hashing on the host-call path.
pub struct ResourceTable {
    entries: Vec<Entry>,
    next: u32,
    limit: usize,
}

impl Default for ResourceTable {
    fn default() -> Self {
        ResourceTable::new(ResourceTable::DEFAULT_LIMIT)
    }
}

impl ResourceTable {
    /// Live resources per table unless the embedder says otherwise.
    pub const DEFAULT_LIMIT: usize = 4096;

    /// An empty table that holds at most `limit` live resources.
    pub fn new(limit: usize) -> Self {
        ResourceTable {
            entries: Vec::new(),
            next: 1,
            limit,
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Live resources.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds `value`; returns its new handle.
    pub fn push<T: Resource>(&mut self, value: T) -> Result<u32, TableError> {
        if self.entries.len() >= self.limit {
            return Err(TableError::Full { limit: self.limit });
        }
        if self.next == u32::MAX {
            return Err(TableError::Exhausted);
        }
        let handle = self.next;
        self.next += 1;
        self.entries.push(Entry {
            handle,
            kind: T::KIND,
            value: Box::new(value),
        });
        Ok(handle)
    }

    fn position(&self, handle: u32) -> Option<usize> {
        self.entries
            .binary_search_by_key(&handle, |e| e.handle)
            .ok()
    }

    /// The error for `handle` when it is not a live `T`.
    fn bad<T: Resource>(&self, handle: u32) -> Trap {
        match self.kind_of(handle) {
            Some(found) => Trap::new(format!("handle {handle} is a {found}, not a {}", T::KIND)),
            None => Trap::new(format!("unknown {} handle {handle}", T::KIND)),
        }
    }

    /// The resource type (`KIND`) behind `handle`, if it is live.
    pub fn kind_of(&self, handle: u32) -> Option<&'static str> {
        self.position(handle).map(|i| self.entries[i].kind)
    }

    pub fn get<T: Resource>(&self, handle: u32) -> Result<&T, Trap> {
        self.position(handle)
            .and_then(|i| self.entries[i].value.downcast_ref())
            .ok_or_else(|| self.bad::<T>(handle))
    }

    pub fn get_mut<T: Resource>(&mut self, handle: u32) -> Result<&mut T, Trap> {
        match self.position(handle) {
            Some(i) if self.entries[i].value.is::<T>() => Ok(self.entries[i]
                .value
                .downcast_mut()
                .expect("type checked above")),
            _ => Err(self.bad::<T>(handle)),
        }
    }

    /// Removes the `T` behind `handle` and returns it (a `[resource-drop]`, or an `own<T>`
    /// argument moving to the host).
    pub fn delete<T: Resource>(&mut self, handle: u32) -> Result<T, Trap> {
        match self.position(handle) {
            Some(i) if self.entries[i].value.is::<T>() => {
                let e = self.entries.remove(i);
                Ok(*e.value.downcast().expect("type checked above"))
            }
            _ => Err(self.bad::<T>(handle)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Bus(u8);
    impl Resource for Bus {
        const KIND: &'static str = "i2c";
    }
    struct Delay;
    impl Resource for Delay {
        const KIND: &'static str = "delay";
    }

    #[test]
    fn handles_start_at_one_and_are_never_reused() {
        let mut t = ResourceTable::default();
        let a = t.push(Bus(1)).unwrap();
        let b = t.push(Delay).unwrap();
        assert_eq!((a, b), (1, 2));
        assert_eq!(t.delete::<Bus>(a).unwrap().0, 1);
        let c = t.push(Bus(3)).unwrap();
        assert_eq!(c, 3, "a freed handle number does not come back");
        assert_eq!(
            t.get::<Bus>(a).err().unwrap().message(),
            "unknown i2c handle 1"
        );
        assert!(t.delete::<Bus>(a).is_err(), "double drop is detected");
        assert!(t.get::<Bus>(0).is_err());
        assert_eq!(t.len(), 2);
        t.get_mut::<Bus>(c).unwrap().0 = 9;
        assert_eq!(t.get::<Bus>(c).unwrap().0, 9);
    }

    #[test]
    fn lookups_are_typed() {
        let mut t = ResourceTable::default();
        let d = t.push(Delay).unwrap();
        let b = t.push(Bus(0)).unwrap();
        assert_eq!(
            t.get::<Bus>(d).err().unwrap().message(),
            "handle 1 is a delay, not a i2c"
        );
        assert_eq!(
            t.delete::<Delay>(b).err().unwrap().message(),
            "handle 2 is a i2c, not a delay"
        );
        assert!(t.get_mut::<Delay>(b).is_err());
        assert_eq!(t.kind_of(b), Some("i2c"));
        assert_eq!(t.len(), 2, "a failed typed delete removes nothing");
    }

    #[test]
    fn limit_and_exhaustion_are_errors() {
        let mut t = ResourceTable::new(2);
        t.push(Delay).unwrap();
        let b = t.push(Delay).unwrap();
        assert_eq!(t.push(Delay), Err(TableError::Full { limit: 2 }));
        t.delete::<Delay>(b).unwrap();
        t.push(Delay).unwrap();

        let mut t = ResourceTable {
            next: u32::MAX - 1,
            ..ResourceTable::default()
        };
        assert_eq!(t.push(Delay), Ok(u32::MAX - 1));
        assert_eq!(t.push(Delay), Err(TableError::Exhausted));
        assert_eq!(TableError::Exhausted.to_string(), "handle space exhausted");
    }
}
