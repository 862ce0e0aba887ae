//! The canonical ABI as host functions of a core module see it (WAMR has no component
//! model): return areas checked whole before any side effect, lists lowered into memory the
//! guest allocates with its `cabi_realloc`, and the `list<T>` / `result<..>` encodings.
//! Every native library uses these; the type-specific layouts (records, variants of one
//! interface) stay with the library, built from these pieces.
//!
//! The helpers take a [`GuestMemory`]: the [`Caller`] in a host function, a plain buffer in
//! unit tests of layout code.

use crate::caller::Caller;
use crate::error::Trap;

/// Guest linear memory: what the canonical-ABI helpers need of it.
pub trait GuestMemory {
    /// Size in bytes.
    fn memory_size(&self) -> u64;
    /// Copies `bytes` to `ptr`, or traps when they do not fit in memory.
    fn write(&mut self, ptr: u32, bytes: &[u8]) -> Result<(), Trap>;
    /// Calls the guest's `cabi_realloc(0, 0, align, size)` and returns what it returned,
    /// unchecked: [`GuestMemory::alloc`] checks it.
    fn call_realloc(&mut self, align: u32, size: u32) -> Result<u32, Trap>;

    /// A fresh guest allocation of `size` bytes: no call for an empty one (the canonical
    /// ABI never allocates those; any aligned pointer works), else the guest allocator's
    /// pointer, trapping unless it is aligned and the whole allocation lies in memory.
    fn alloc(&mut self, align: u32, size: u32) -> Result<u32, Trap> {
        if size == 0 {
            return Ok(align.max(1));
        }
        let ptr = self.call_realloc(align, size)?;
        if !ptr.is_multiple_of(align.max(1)) {
            return Err(Trap::new(format!(
                "cabi_realloc returned misaligned pointer {ptr:#x}"
            )));
        }
        self.check_range(ptr, size)?;
        Ok(ptr)
    }

    /// Traps unless `[ptr, ptr+len)` lies in linear memory (copies nothing).
    fn check_range(&self, ptr: u32, len: u32) -> Result<(), Trap> {
        let size = self.memory_size();
        if u64::from(ptr) + u64::from(len) > size {
            return Err(out_of_bounds(ptr, u64::from(len), size));
        }
        Ok(())
    }
}

/// The trap for a guest buffer outside linear memory.
pub(crate) fn out_of_bounds(ptr: u32, len: u64, size: u64) -> Trap {
    Trap::new(format!(
        "out of bounds memory access: guest buffer {ptr:#x}+{len} outside linear memory of {size} bytes"
    ))
}

impl GuestMemory for Caller<'_> {
    fn memory_size(&self) -> u64 {
        Caller::memory_size(self)
    }
    fn write(&mut self, ptr: u32, bytes: &[u8]) -> Result<(), Trap> {
        Caller::write(self, ptr, bytes)
    }
    fn call_realloc(&mut self, align: u32, size: u32) -> Result<u32, Trap> {
        self.call_guest_realloc(align, size)
    }
    fn check_range(&self, ptr: u32, len: u32) -> Result<(), Trap> {
        Caller::check_range(self, ptr, len)
    }
}

/// Size and alignment of a type in memory, e.g. a return area.
pub type Layout = (u32, u32);

/// `list<T>` in memory: pointer, element count.
pub const LIST: Layout = (8, 4);

/// Traps unless the return area at `ptr` is aligned and lies in linear memory, as the
/// canonical ABI requires; call it before any device traffic, so that a bad pointer never
/// follows a side effect.
pub fn check_area(mem: &dyn GuestMemory, ptr: u32, (size, align): Layout) -> Result<(), Trap> {
    if !ptr.is_multiple_of(align.max(1)) {
        return Err(Trap::new(format!(
            "misaligned return pointer {ptr:#x} (needs {align}-byte alignment)"
        )));
    }
    mem.check_range(ptr, size)
}

/// Allocates `count` elements of `size` bytes aligned to `align` (an empty list calls no
/// allocator).
pub fn alloc_array(
    mem: &mut dyn GuestMemory,
    count: usize,
    size: u32,
    align: u32,
) -> Result<u32, Trap> {
    let bytes = u32::try_from(count)
        .ok()
        .and_then(|c| c.checked_mul(size))
        .ok_or_else(|| Trap::new("list too large for a 32-bit guest"))?;
    mem.alloc(align, bytes)
}

/// Lowers a `list<u8>`: copies `data` into a fresh guest allocation; (pointer, length).
pub fn lower_bytes(mem: &mut dyn GuestMemory, data: &[u8]) -> Result<(u32, u32), Trap> {
    lower_array(mem, data, 1, 1)
}

/// Lowers a list of fixed-size elements already encoded back to back; (pointer, count).
pub fn lower_array(
    mem: &mut dyn GuestMemory,
    encoded: &[u8],
    elem_size: u32,
    align: u32,
) -> Result<(u32, u32), Trap> {
    let count = encoded.len() / elem_size.max(1) as usize;
    let ptr = alloc_array(mem, count, elem_size, align)?;
    mem.write(ptr, encoded)?;
    Ok((ptr, count as u32))
}

/// A `list<T>` as it lies in memory.
pub fn encode_list((ptr, len): (u32, u32)) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[0..4].copy_from_slice(&ptr.to_le_bytes());
    b[4..8].copy_from_slice(&len.to_le_bytes());
    b
}

/// `result<T, E>` in a return area of `N` bytes: the discriminant (0 ok, 1 err) at offset
/// 0, the case's payload at `payload_at` (the maximum alignment of T and E).
pub fn encode_result<const N: usize>(ok: bool, payload_at: usize, payload: &[u8]) -> [u8; N] {
    let mut b = [0u8; N];
    b[0] = u8::from(!ok);
    b[payload_at..payload_at + payload.len()].copy_from_slice(payload);
    b
}

/// A linear memory in a `Vec` with a bump allocator from offset 1024, for unit tests of
/// layout code outside an instance. Records every allocation as (pointer, align, size).
pub struct BufferMemory {
    pub bytes: Vec<u8>,
    pub next: u32,
    pub allocs: Vec<(u32, u32, u32)>,
}

impl BufferMemory {
    pub fn new(size: usize) -> BufferMemory {
        BufferMemory {
            bytes: vec![0; size],
            next: 1024,
            allocs: Vec::new(),
        }
    }
    pub fn u8(&self, at: u32) -> u8 {
        self.bytes[at as usize]
    }
    pub fn u16(&self, at: u32) -> u16 {
        u16::from_le_bytes([self.u8(at), self.u8(at + 1)])
    }
    pub fn u32(&self, at: u32) -> u32 {
        u32::from_le_bytes(self.bytes[at as usize..at as usize + 4].try_into().unwrap())
    }
}

impl GuestMemory for BufferMemory {
    fn memory_size(&self) -> u64 {
        self.bytes.len() as u64
    }
    fn write(&mut self, ptr: u32, bytes: &[u8]) -> Result<(), Trap> {
        self.check_range(ptr, bytes.len() as u32)?;
        self.bytes[ptr as usize..ptr as usize + bytes.len()].copy_from_slice(bytes);
        Ok(())
    }
    fn call_realloc(&mut self, align: u32, size: u32) -> Result<u32, Trap> {
        let p = self.next.next_multiple_of(align.max(1));
        self.next = p + size;
        self.allocs.push((p, align, size));
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_areas_are_checked_whole_and_aligned() {
        let mem = BufferMemory::new(64);
        assert!(check_area(&mem, 52, (12, 4)).is_ok());
        assert!(check_area(&mem, 56, (12, 4))
            .unwrap_err()
            .message()
            .contains("out of bounds"));
        assert!(check_area(&mem, 2, (8, 4))
            .unwrap_err()
            .message()
            .contains("misaligned"));
        assert!(
            check_area(&mem, u32::MAX - 3, (8, 1)).is_err(),
            "no wrap-around"
        );
    }

    /// A guest allocator that returns whatever pointer it was given.
    struct WildAllocator(u32);

    impl GuestMemory for WildAllocator {
        fn memory_size(&self) -> u64 {
            4096
        }
        fn write(&mut self, _: u32, _: &[u8]) -> Result<(), Trap> {
            Ok(())
        }
        fn call_realloc(&mut self, _: u32, _: u32) -> Result<u32, Trap> {
            Ok(self.0)
        }
    }

    #[test]
    fn what_the_guest_allocator_returns_is_checked() {
        assert_eq!(WildAllocator(64).alloc(4, 16).unwrap(), 64);
        let misaligned = WildAllocator(66).alloc(4, 16).unwrap_err();
        assert!(misaligned.message().contains("misaligned"), "{misaligned}");
        let outside = WildAllocator(4088).alloc(4, 16).unwrap_err();
        assert!(outside.message().contains("out of bounds"), "{outside}");
        // An empty allocation calls nothing, whatever the allocator would return.
        assert_eq!(WildAllocator(u32::MAX).alloc(4, 0).unwrap(), 4);
    }

    #[test]
    fn lists_are_lowered_through_the_allocator() {
        let mut mem = BufferMemory::new(2048);
        mem.next = 1025;
        assert_eq!(lower_bytes(&mut mem, b"abc").unwrap(), (1025, 3));
        assert_eq!(&mem.bytes[1025..1028], b"abc");
        // Two 4-byte elements, 4-aligned: after the 3 bytes at 1025..1028, at 1028.
        assert_eq!(
            lower_array(&mut mem, &[1, 0, 0, 0, 2, 0, 0, 0], 4, 4).unwrap(),
            (1028, 2)
        );
        assert_eq!(mem.allocs, [(1025, 1, 3), (1028, 4, 8)]);
        assert_eq!(lower_bytes(&mut mem, &[]).unwrap(), (1, 0), "no allocation");
        assert!(
            lower_bytes(&mut mem, &[0; 4096]).is_err(),
            "allocation outside memory traps"
        );
        assert_eq!(encode_list((0x10, 3)), [0x10, 0, 0, 0, 3, 0, 0, 0]);
        assert_eq!(encode_result::<8>(false, 4, &[7]), [1, 0, 0, 0, 7, 0, 0, 0]);
        assert_eq!(encode_result::<3>(true, 1, &[]), [0, 0, 0]);
    }
}
