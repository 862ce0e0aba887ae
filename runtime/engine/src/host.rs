use std::ffi::CString;
use std::panic::{catch_unwind, AssertUnwindSafe};

use wasi_hw_wamr_sys as sys;

use crate::caller::Caller;
use crate::error::{Error, Trap};

/// Core-wasm value types of host function parameters and results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValType {
    I32,
    I64,
    F32,
    F64,
}

impl ValType {
    fn letter(self) -> char {
        match self {
            ValType::I32 => 'i',
            ValType::I64 => 'I',
            ValType::F32 => 'f',
            ValType::F64 => 'F',
        }
    }
}

/// A host function body. `args` holds one 64-bit slot per parameter (an i32 is in the low
/// 32 bits); the function writes its results (at most one) into `results`.
pub type HostFunc =
    dyn Fn(&mut Caller<'_>, &[u64], &mut [u64]) -> Result<(), Trap> + Send + Sync + 'static;

struct FuncEntry {
    func: Box<HostFunc>,
    n_params: usize,
    n_results: usize,
    name: String,
}

/// A named module of host functions, registered with WAMR as raw natives.
///
/// Raw natives receive their arguments as 64-bit slots, which sidesteps WAMR 2.4.3's
/// argument marshalling bug for `(i32 i32 i64 i32)` natives on armv7 hard-float, and lets
/// us validate every guest pointer ourselves.
pub struct HostModule {
    name: String,
    funcs: Vec<(String, String, FuncEntry)>,
}

impl HostModule {
    pub fn new(name: impl Into<String>) -> HostModule {
        HostModule {
            name: name.into(),
            funcs: Vec::new(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Adds a function. Panics if more than one result is given (core wasm MVP natives).
    pub fn func<F>(mut self, name: &str, params: &[ValType], results: &[ValType], func: F) -> Self
    where
        F: Fn(&mut Caller<'_>, &[u64], &mut [u64]) -> Result<(), Trap> + Send + Sync + 'static,
    {
        assert!(
            results.len() <= 1,
            "host function {name}: at most one result"
        );
        let mut sig: String = String::from("(");
        sig.extend(params.iter().map(|t| t.letter()));
        sig.push(')');
        sig.extend(results.iter().map(|t| t.letter()));
        let entry = FuncEntry {
            func: Box::new(func),
            n_params: params.len(),
            n_results: results.len(),
            name: format!("{}::{name}", self.name),
        };
        self.funcs.push((name.to_string(), sig, entry));
        self
    }

    /// Hands the symbol table to WAMR. Everything it points to is leaked on purpose: WAMR
    /// keeps the pointers for the rest of the process.
    pub(crate) fn register(self) -> Result<(), Error> {
        let module_name =
            CString::new(self.name.clone()).map_err(|_| Error::Nul(self.name.clone()))?;
        let mut symbols = Vec::with_capacity(self.funcs.len());
        for (name, sig, entry) in self.funcs {
            let symbol = CString::new(name.clone()).map_err(|_| Error::Nul(name))?;
            let signature = CString::new(sig).expect("signature has no NUL");
            let entry: &'static FuncEntry = Box::leak(Box::new(entry));
            symbols.push(sys::NativeSymbol {
                symbol: symbol.into_raw(),
                func_ptr: trampoline as *mut std::ffi::c_void,
                signature: signature.into_raw(),
                attachment: entry as *const FuncEntry as *mut std::ffi::c_void,
            });
        }
        let symbols: &'static mut [sys::NativeSymbol] = symbols.leak();
        let module_name = module_name.into_raw();
        // SAFETY: name and symbol table are leaked, so they outlive WAMR's use of them; the
        // caller (Engine::register_host_module) serialises registrations.
        let ok = unsafe {
            sys::wasm_runtime_register_natives_raw(
                module_name,
                symbols.as_mut_ptr(),
                symbols.len() as u32,
            )
        };
        if ok {
            Ok(())
        } else {
            Err(Error::Register(self.name))
        }
    }
}

/// The single raw native behind every host function: finds the Rust closure through the
/// symbol's attachment and runs it, turning an error or a panic into a wasm trap.
unsafe extern "C" fn trampoline(exec_env: sys::wasm_exec_env_t, args: *mut u64) {
    // SAFETY: WAMR passes the attachment registered with this symbol: a leaked FuncEntry.
    let entry =
        unsafe { &*(sys::wasm_runtime_get_function_attachment(exec_env) as *const FuncEntry) };
    let slots = entry.n_params.max(entry.n_results);
    // SAFETY: WAMR's raw calling convention gives one u64 slot per parameter (and the first
    // slot for the result); we copy out, so no aliasing with the guest's stack remains.
    let raw = unsafe { std::slice::from_raw_parts(args, entry.n_params) };
    // Copied to the stack for the usual handful of parameters: no allocation per call.
    let mut inline = [0u64; 16];
    let heap: Vec<u64>;
    let params: &[u64] = if raw.len() <= inline.len() {
        inline[..raw.len()].copy_from_slice(raw);
        &inline[..raw.len()]
    } else {
        heap = raw.to_vec();
        &heap
    };
    let mut results = [0u64; 1];
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut caller = Caller::from_exec_env(exec_env);
        (entry.func)(&mut caller, params, &mut results[..entry.n_results])
    }));
    let trap = match outcome {
        Ok(Ok(())) => {
            if entry.n_results == 1 && slots >= 1 {
                // SAFETY: `args` has at least one slot when the function returns a value.
                unsafe { *args = results[0] };
            }
            return;
        }
        Ok(Err(trap)) => trap,
        Err(_) => Trap::new(format!("host function {} panicked", entry.name)),
    };
    log::debug!("host function {} trapped: {trap}", entry.name);
    crate::caller::raise(exec_env, trap.message());
}
