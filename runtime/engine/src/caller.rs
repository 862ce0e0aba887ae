use std::any::{Any, TypeId};
use std::ffi::CString;

use wasi_hw_wamr_sys as sys;

use crate::error::Trap;

/// Per-instance host state, one value per type (e.g. the I2C handle table, the USB state).
///
/// A handful of entries at most, looked up on every host call: a short vector scanned by
/// `TypeId` is cheaper than hashing (SipHash) the key each time.
#[derive(Default)]
pub struct Extensions {
    entries: Vec<(TypeId, Box<dyn Any>)>,
    /// Checked on every host call (see [`crate::Interrupt`]): a field, not an entry.
    pub(crate) interrupt: crate::Interrupt,
}

impl Extensions {
    fn position<T: 'static>(&self) -> Option<usize> {
        let id = TypeId::of::<T>();
        self.entries.iter().position(|(k, _)| *k == id)
    }

    pub fn insert<T: 'static>(&mut self, value: T) -> Option<T> {
        match self.position::<T>() {
            Some(i) => {
                let old = std::mem::replace(&mut self.entries[i].1, Box::new(value));
                old.downcast().ok().map(|b| *b)
            }
            None => {
                self.entries.push((TypeId::of::<T>(), Box::new(value)));
                None
            }
        }
    }

    pub fn get<T: 'static>(&self) -> Option<&T> {
        self.entries[self.position::<T>()?].1.downcast_ref()
    }

    pub fn get_mut<T: 'static>(&mut self) -> Option<&mut T> {
        let i = self.position::<T>()?;
        self.entries[i].1.downcast_mut()
    }

    pub fn remove<T: 'static>(&mut self) -> Option<T> {
        let i = self.position::<T>()?;
        self.entries.swap_remove(i).1.downcast().ok().map(|b| *b)
    }
}

/// The instance's `cabi_realloc`, looked up and type-checked once (kept in its Extensions).
struct ReallocFn(sys::wasm_function_inst_t);

/// The view a host function has of the calling instance: its linear memory (every access
/// bounds-checked), its host state, and its `cabi_realloc` export.
///
/// Holds raw handles, not references: a host function may call back into the guest
/// (`realloc`), which may call another host function that builds its own `Caller`.
pub struct Caller<'a> {
    exec_env: sys::wasm_exec_env_t,
    inst: sys::wasm_module_inst_t,
    /// Set instead of the WAMR handles for a caller over a [`PlainInstance`].
    plain: Option<std::ptr::NonNull<PlainInstance>>,
    /// Linear memory (base, size) as last read. Only guest code can grow (and so move) it,
    /// so the cache is dropped whenever this Caller runs guest code (`realloc`).
    memory: std::cell::Cell<Option<(*mut u8, u64)>>,
    _marker: std::marker::PhantomData<&'a mut ()>,
}

/// An instance without WAMR: a plain byte vector as linear memory, host state, and a
/// stand-in for the guest's `cabi_realloc`. For driving host functions directly
/// ([`crate::HostModule::call`]) from tests and fuzz targets, with every guest pointer
/// checked exactly as for a WAMR instance.
pub struct PlainInstance {
    pub memory: Vec<u8>,
    pub extensions: Extensions,
    /// What the guest's `cabi_realloc(0, 0, align, size)` returns; `None` is a trap in it.
    #[allow(clippy::type_complexity)]
    pub realloc: Box<dyn FnMut(u32, u32) -> Option<u32>>,
}

impl PlainInstance {
    /// `pages` of zeroed memory, no host state, and a bump allocator from the middle of
    /// memory upwards (`None` when it is full).
    pub fn new(pages: u32) -> PlainInstance {
        let size = pages as usize * 65536;
        let mut next = (size / 2) as u64;
        PlainInstance {
            memory: vec![0; size],
            extensions: Extensions::default(),
            realloc: Box::new(move |align, len| {
                let align = u64::from(align.max(1));
                let start = next.div_ceil(align) * align;
                let end = start + u64::from(len);
                (end <= size as u64).then(|| {
                    next = end;
                    start as u32
                })
            }),
        }
    }

    /// The instance's stop handle: once requested, a host call that would block (a
    /// delay, a USB wait) returns at once, as for a stopped guest.
    pub fn interrupt(&self) -> crate::Interrupt {
        self.extensions.interrupt.clone()
    }

    /// A caller over this instance for one host call.
    pub fn caller(&mut self) -> Caller<'_> {
        Caller {
            exec_env: std::ptr::null_mut(),
            inst: std::ptr::null_mut(),
            plain: Some(std::ptr::NonNull::from(self)),
            memory: std::cell::Cell::new(None),
            _marker: std::marker::PhantomData,
        }
    }
}

/// Raises `msg` as the current wasm exception of the instance behind `exec_env`.
pub(crate) fn raise(exec_env: sys::wasm_exec_env_t, msg: &str) {
    let msg = CString::new(msg.replace('\0', " ")).expect("NULs replaced");
    // SAFETY: exec_env is the live env of the current native call; WAMR copies the message.
    unsafe {
        let inst = sys::wasm_runtime_get_module_inst(exec_env);
        sys::wasm_runtime_set_exception(inst, msg.as_ptr());
    }
}

impl Caller<'_> {
    pub(crate) fn from_exec_env(exec_env: sys::wasm_exec_env_t) -> Self {
        // SAFETY: exec_env is the live env WAMR passed to the native.
        let inst = unsafe { sys::wasm_runtime_get_module_inst(exec_env) };
        Caller {
            exec_env,
            inst,
            plain: None,
            memory: std::cell::Cell::new(None),
            _marker: std::marker::PhantomData,
        }
    }

    /// The plain instance behind this caller, if it is one, as a raw pointer: each use
    /// borrows one field only (memory, extensions, realloc), never the whole instance, so
    /// that a base pointer taken from the memory stays valid across the other uses. It comes
    /// from the `&mut PlainInstance` that `PlainInstance::caller` borrowed for this Caller's
    /// lifetime, so it is live and not aliased outside the Caller.
    fn plain(&self) -> Option<*mut PlainInstance> {
        self.plain.map(std::ptr::NonNull::as_ptr)
    }

    /// The instance's host state of type `T`, if the embedder installed one.
    pub fn data<T: 'static>(&mut self) -> Option<&mut T> {
        self.extensions()?.get_mut::<T>()
    }

    /// Sleeps the calling instance for `duration`; traps with [`crate::INTERRUPTED`] if the
    /// embedder asks it to stop meanwhile ([`crate::Instance::interrupt`]).
    pub fn sleep(&mut self, duration: std::time::Duration) -> Result<(), Trap> {
        match self.extensions() {
            Some(ext) if !ext.interrupt.sleep(duration) => Err(Trap::new(crate::INTERRUPTED)),
            Some(_) => Ok(()),
            None => {
                std::thread::sleep(duration);
                Ok(())
            }
        }
    }

    /// The instance's stop handle, for a host call that blocks otherwise than in
    /// [`Caller::sleep`] (e.g. a USB transfer wait) to watch.
    pub fn interrupt(&mut self) -> Option<crate::Interrupt> {
        self.extensions().map(|ext| ext.interrupt.clone())
    }

    /// Whether the embedder asked this instance to stop.
    pub(crate) fn is_interrupted(&mut self) -> bool {
        self.extensions()
            .is_some_and(|ext| ext.interrupt.is_requested())
    }

    fn extensions(&mut self) -> Option<&mut Extensions> {
        if let Some(p) = self.plain() {
            // SAFETY: see `plain`; the &mut (of this field only) is tied to `&mut self`.
            return Some(unsafe { &mut (*p).extensions });
        }
        // SAFETY: user data is either null or the `Extensions` box owned by the Instance,
        // which outlives every call into it; the &mut is tied to `&mut self`.
        let ext = unsafe { sys::wasm_runtime_get_user_data(self.exec_env) as *mut Extensions };
        if ext.is_null() {
            return None;
        }
        // SAFETY: see above; no other reference to the extensions is live during a host call
        // (outer callers hold raw pointers only).
        Some(unsafe { &mut *ext })
    }

    /// The current linear memory as (base, size). Re-read on every access because guest
    /// code (e.g. `cabi_realloc`) may grow and move it.
    fn memory(&self) -> (*mut u8, u64) {
        if let Some(m) = self.memory.get() {
            return m;
        }
        if let Some(p) = self.plain() {
            // SAFETY: see `plain`; only the memory field is borrowed, for this statement.
            let m = unsafe { ((*p).memory.as_mut_ptr(), (*p).memory.len() as u64) };
            self.memory.set(Some(m));
            return m;
        }
        // SAFETY: `inst` is live for the duration of the native call.
        let m = unsafe {
            let mem = sys::wasm_runtime_get_default_memory(self.inst);
            if mem.is_null() {
                return (std::ptr::null_mut(), 0);
            }
            let base = sys::wasm_memory_get_base_address(mem) as *mut u8;
            let pages = sys::wasm_memory_get_cur_page_count(mem);
            let page = sys::wasm_memory_get_bytes_per_page(mem);
            (base, pages * page)
        };
        self.memory.set(Some(m));
        m
    }

    /// Size of the guest's linear memory in bytes.
    pub fn memory_size(&self) -> u64 {
        self.memory().1
    }

    fn check(&self, ptr: u32, len: u64) -> Result<*mut u8, Trap> {
        let (base, size) = self.memory();
        let end = u64::from(ptr).checked_add(len);
        match end {
            Some(end) if end <= size && !base.is_null() => {
                // SAFETY: ptr + len <= memory size, so the offset stays inside the allocation.
                Ok(unsafe { base.add(ptr as usize) })
            }
            _ => Err(crate::cabi::out_of_bounds(ptr, len, size)),
        }
    }

    /// Traps unless `[ptr, ptr+len)` lies inside linear memory; copies nothing (for checking
    /// a canonical-ABI return area before any side effect).
    pub fn check_range(&self, ptr: u32, len: u32) -> Result<(), Trap> {
        self.check(ptr, u64::from(len)).map(drop)
    }

    /// Copies `len` bytes from guest memory at `ptr`.
    pub fn read(&self, ptr: u32, len: u32) -> Result<Vec<u8>, Trap> {
        let p = self.check(ptr, u64::from(len))?;
        // SAFETY: `check` proved [ptr, ptr+len) lies inside linear memory.
        Ok(unsafe { std::slice::from_raw_parts(p, len as usize) }.to_vec())
    }

    /// Copies `bytes` into guest memory at `ptr`.
    pub fn write(&mut self, ptr: u32, bytes: &[u8]) -> Result<(), Trap> {
        let p = self.check(ptr, bytes.len() as u64)?;
        // SAFETY: `check` proved the destination lies inside linear memory; source is host memory.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len()) };
        Ok(())
    }

    pub fn read_u8(&self, ptr: u32) -> Result<u8, Trap> {
        Ok(self.read(ptr, 1)?[0])
    }

    pub fn write_u32(&mut self, ptr: u32, v: u32) -> Result<(), Trap> {
        self.write(ptr, &v.to_le_bytes())
    }

    pub fn write_u64(&mut self, ptr: u32, v: u64) -> Result<(), Trap> {
        self.write(ptr, &v.to_le_bytes())
    }

    /// Allocates `size` bytes aligned to `align` in guest memory through the guest's exported
    /// `cabi_realloc(0, 0, align, size)` (canonical ABI), and checks the result
    /// ([`crate::cabi::GuestMemory::alloc`]).
    pub fn realloc(&mut self, align: u32, size: u32) -> Result<u32, Trap> {
        crate::cabi::GuestMemory::alloc(self, align, size)
    }

    /// The raw `cabi_realloc` call behind [`Caller::realloc`].
    pub(crate) fn call_guest_realloc(&mut self, align: u32, size: u32) -> Result<u32, Trap> {
        if let Some(p) = self.plain() {
            // SAFETY: see `plain`; only the realloc field is borrowed, for this call.
            let ptr = unsafe { ((*p).realloc)(align, size) };
            self.memory.set(None);
            return ptr.ok_or_else(|| Trap::new(format!("cabi_realloc({size}) failed")));
        }
        let func = self.realloc_fn()?;
        let mut argv = [0u32, 0, align, size];
        // SAFETY: cabi_realloc's signature is (i32 i32 i32 i32) -> i32 (checked when it was
        // looked up); argv has 4 cells and receives the single i32 result in argv[0].
        // Re-entering the guest from a native with the same exec env is supported by WAMR.
        let ok = unsafe { sys::wasm_runtime_call_wasm(self.exec_env, func, 4, argv.as_mut_ptr()) };
        // The guest allocator may have grown (moved) linear memory.
        self.memory.set(None);
        if !ok {
            // The exception (e.g. a trap inside the guest allocator) stays set and aborts the call.
            return Err(Trap::new(format!(
                "cabi_realloc({size}) failed: {}",
                self.exception()
            )));
        }
        Ok(argv[0])
    }

    /// The guest's `cabi_realloc`, looked up by name and type-checked on first use, then
    /// cached in the instance's extensions (a name lookup and four type queries per returned
    /// list were a large share of a host call).
    fn realloc_fn(&mut self) -> Result<sys::wasm_function_inst_t, Trap> {
        if let Some(f) = self.data::<ReallocFn>() {
            return Ok(f.0);
        }
        let name = c"cabi_realloc";
        // SAFETY: `inst` is live; the name is a valid C string.
        let func = unsafe { sys::wasm_runtime_lookup_function(self.inst, name.as_ptr()) };
        if func.is_null() {
            return Err(Trap::new(
                "guest does not export cabi_realloc, needed to return lists",
            ));
        }
        let mut params = [0u8; 4];
        let mut result = [0u8; 1];
        // SAFETY: the counts are checked before the type arrays (sized for the expected
        // signature) are filled.
        let well_typed = unsafe {
            sys::wasm_func_get_param_count(func, self.inst) == 4
                && sys::wasm_func_get_result_count(func, self.inst) == 1
                && {
                    sys::wasm_func_get_param_types(func, self.inst, params.as_mut_ptr());
                    sys::wasm_func_get_result_types(func, self.inst, result.as_mut_ptr());
                    true
                }
        };
        let i32_kind = sys::WASM_I32 as u8;
        if !well_typed || params.iter().chain(&result).any(|&k| k != i32_kind) {
            return Err(Trap::new(
                "guest's cabi_realloc has the wrong signature (want (i32 i32 i32 i32) -> i32)",
            ));
        }
        // The function instance lives as long as the module instance, which owns the
        // extensions this is stored in.
        if let Some(ext) = self.extensions() {
            ext.insert(ReallocFn(func));
        }
        Ok(func)
    }

    fn exception(&self) -> String {
        // SAFETY: `inst` is live; WAMR returns null or a NUL-terminated string it owns.
        unsafe {
            let p = sys::wasm_runtime_get_exception(self.inst);
            if p.is_null() {
                String::new()
            } else {
                std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_instance_checks_pointers_and_allocates_like_a_guest() {
        let module = crate::HostModule::new("test:plain/mem")
            .func_wrap(
                "copy",
                |c: &mut Caller<'_>, from: u32, len: u32| -> Result<u32, Trap> {
                    let bytes = c.read(from, len)?;
                    let to = c.realloc(1, len)?;
                    c.write(to, &bytes)?;
                    Ok(to)
                },
            )
            .func_wrap("count", |c: &mut Caller<'_>| -> Result<u32, Trap> {
                let n = c.data::<u32>().ok_or_else(|| Trap::new("no state"))?;
                *n += 1;
                Ok(*n)
            });
        let mut plain = PlainInstance::new(1);
        plain.memory[..3].copy_from_slice(b"abc");
        plain.extensions.insert(41u32);
        let to = module
            .call("copy", &mut plain.caller(), &[0, 3])
            .unwrap()
            .unwrap();
        assert_eq!(to, 32768, "the bump allocator starts mid-memory");
        assert_eq!(&plain.memory[32768..32771], b"abc");
        assert_eq!(
            module.call("count", &mut plain.caller(), &[]).unwrap(),
            Some(42)
        );
        // Out of bounds: a trap, nothing read.
        let err = module
            .call("copy", &mut plain.caller(), &[65535, 2])
            .unwrap_err();
        assert!(err.message().contains("out of bounds"), "{err:?}");
        // A guest allocator that answers with a wild pointer: the write is refused.
        plain.realloc = Box::new(|_, _| Some(u32::MAX - 1));
        assert!(module.call("copy", &mut plain.caller(), &[0, 3]).is_err());
        plain.realloc = Box::new(|_, _| None);
        let err = module
            .call("copy", &mut plain.caller(), &[0, 3])
            .unwrap_err();
        assert!(err.message().contains("cabi_realloc(3) failed"), "{err:?}");
        assert!(module.call("copy", &mut plain.caller(), &[0]).is_err());
        assert!(module.call("nope", &mut plain.caller(), &[]).is_err());
        assert_eq!(
            module.arities().collect::<Vec<_>>(),
            [("copy", 2), ("count", 0)]
        );
    }

    #[test]
    fn extensions_hold_one_value_per_type() {
        let mut e = Extensions::default();
        assert_eq!(e.insert(1u32), None);
        assert_eq!(e.insert("a"), None);
        assert_eq!(e.insert(2u32), Some(1));
        assert_eq!(e.get::<u32>(), Some(&2));
        *e.get_mut::<&str>().unwrap() = "b";
        assert_eq!(e.remove::<&str>(), Some("b"));
        assert_eq!(e.get::<&str>(), None);
        assert_eq!(e.remove::<u64>(), None);
        assert_eq!(e.get::<u32>(), Some(&2));
    }
}
