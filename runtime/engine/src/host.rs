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

/// A Rust type that is one core-wasm value of a host function: which [`ValType`] it is, and
/// how it sits in a raw native's 64-bit slot (32-bit values in the low half).
pub trait WasmTy: Sized + 'static {
    const TYPE: ValType;
    fn from_slot(slot: u64) -> Self;
    fn into_slot(self) -> u64;
}

impl WasmTy for u32 {
    const TYPE: ValType = ValType::I32;
    fn from_slot(slot: u64) -> Self {
        slot as u32
    }
    fn into_slot(self) -> u64 {
        u64::from(self)
    }
}

/// A `u8` parameter is its flat `i32` lifted as the canonical ABI does: the low 8 bits.
impl WasmTy for u8 {
    const TYPE: ValType = ValType::I32;
    fn from_slot(slot: u64) -> Self {
        slot as u8
    }
    fn into_slot(self) -> u64 {
        u64::from(self)
    }
}

/// A `u16` parameter: the low 16 bits of its flat `i32` (canonical ABI lift).
impl WasmTy for u16 {
    const TYPE: ValType = ValType::I32;
    fn from_slot(slot: u64) -> Self {
        slot as u16
    }
    fn into_slot(self) -> u64 {
        u64::from(self)
    }
}

impl WasmTy for i32 {
    const TYPE: ValType = ValType::I32;
    fn from_slot(slot: u64) -> Self {
        slot as u32 as i32
    }
    fn into_slot(self) -> u64 {
        u64::from(self as u32)
    }
}

impl WasmTy for u64 {
    const TYPE: ValType = ValType::I64;
    fn from_slot(slot: u64) -> Self {
        slot
    }
    fn into_slot(self) -> u64 {
        self
    }
}

impl WasmTy for i64 {
    const TYPE: ValType = ValType::I64;
    fn from_slot(slot: u64) -> Self {
        slot as i64
    }
    fn into_slot(self) -> u64 {
        self as u64
    }
}

impl WasmTy for f32 {
    const TYPE: ValType = ValType::F32;
    fn from_slot(slot: u64) -> Self {
        f32::from_bits(slot as u32)
    }
    fn into_slot(self) -> u64 {
        u64::from(self.to_bits())
    }
}

impl WasmTy for f64 {
    const TYPE: ValType = ValType::F64;
    fn from_slot(slot: u64) -> Self {
        f64::from_bits(slot)
    }
    fn into_slot(self) -> u64 {
        self.to_bits()
    }
}

/// What a typed host function returns: nothing, or one core-wasm value.
pub trait WasmRet: 'static {
    const TYPES: &'static [ValType];
    fn store(self, results: &mut [u64]);
}

impl WasmRet for () {
    const TYPES: &'static [ValType] = &[];
    fn store(self, _: &mut [u64]) {}
}

impl<T: WasmTy> WasmRet for T {
    const TYPES: &'static [ValType] = &[T::TYPE];
    fn store(self, results: &mut [u64]) {
        results[0] = self.into_slot();
    }
}

/// A closure `Fn(&mut Caller, P1, .., Pn) -> Result<R, Trap>` with [`WasmTy`] parameters and
/// a [`WasmRet`] result: its wasm signature follows from its types
/// ([`HostModule::func_wrap`]).
pub trait IntoHostFunc<Params, R>: Send + Sync + 'static {
    /// The parameter types, in order.
    const PARAMS: &'static [ValType];
    /// The result types (none or one).
    const RESULTS: &'static [ValType];
    /// The slot-level body the trampoline calls.
    fn into_host_func(self) -> Box<HostFunc>;
}

macro_rules! into_host_func {
    ($($p:ident)*) => {
        #[allow(non_snake_case)]
        impl<F, R, $($p,)*> IntoHostFunc<($($p,)*), R> for F
        where
            F: Fn(&mut Caller<'_>, $($p),*) -> Result<R, Trap> + Send + Sync + 'static,
            R: WasmRet,
            $($p: WasmTy,)*
        {
            const PARAMS: &'static [ValType] = &[$($p::TYPE),*];
            const RESULTS: &'static [ValType] = R::TYPES;
            fn into_host_func(self) -> Box<HostFunc> {
                Box::new(move |caller, args, results| {
                    // The trampoline passes exactly one slot per parameter.
                    #[allow(unused_variables, unused_mut)]
                    let mut slots = args.iter().copied();
                    $(let $p = $p::from_slot(slots.next().unwrap_or(0));)*
                    self(caller, $($p),*)?.store(results);
                    Ok(())
                })
            }
        }
    };
}

into_host_func!();
into_host_func!(P1);
into_host_func!(P1 P2);
into_host_func!(P1 P2 P3);
into_host_func!(P1 P2 P3 P4);
into_host_func!(P1 P2 P3 P4 P5);
into_host_func!(P1 P2 P3 P4 P5 P6);
into_host_func!(P1 P2 P3 P4 P5 P6 P7);
into_host_func!(P1 P2 P3 P4 P5 P6 P7 P8);
into_host_func!(P1 P2 P3 P4 P5 P6 P7 P8 P9);
into_host_func!(P1 P2 P3 P4 P5 P6 P7 P8 P9 P10);
into_host_func!(P1 P2 P3 P4 P5 P6 P7 P8 P9 P10 P11);
into_host_func!(P1 P2 P3 P4 P5 P6 P7 P8 P9 P10 P11 P12);

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

    /// Adds a typed function: its wasm signature comes from the closure's parameter and
    /// result types, e.g. `|c: &mut Caller<'_>, this: u32, len: u64| -> Result<(), Trap>`
    /// is `(i32 i64)`. An `Err` or a panic traps.
    pub fn func_wrap<P, R, F: IntoHostFunc<P, R>>(self, name: &str, func: F) -> Self {
        self.push(name, F::PARAMS, F::RESULTS, func.into_host_func())
    }

    /// Adds a function over raw slots, with the signature given separately (for code that
    /// builds host functions at run time). Panics if more than one result is given (core
    /// wasm MVP natives).
    pub fn func<F>(self, name: &str, params: &[ValType], results: &[ValType], func: F) -> Self
    where
        F: Fn(&mut Caller<'_>, &[u64], &mut [u64]) -> Result<(), Trap> + Send + Sync + 'static,
    {
        self.push(name, params, results, Box::new(func))
    }

    /// The functions added so far: `(name, WAMR signature)`, e.g. `("[method]i2c.read",
    /// "(iiIi)")`, in the order they were added (for tests against the WIT).
    pub fn functions(&self) -> impl Iterator<Item = (&str, &str)> {
        self.funcs
            .iter()
            .map(|(n, sig, _)| (n.as_str(), sig.as_str()))
    }

    /// Calls function `name` directly with raw argument slots, as WAMR would, on a caller
    /// of the embedder's choosing (a [`crate::PlainInstance`]: tests and fuzzing without
    /// WAMR). Returns the result slot, if the function has one. Unlike a call from wasm, a
    /// panic is not caught: a fuzzer reports it.
    pub fn call(
        &self,
        name: &str,
        caller: &mut Caller<'_>,
        args: &[u64],
    ) -> Result<Option<u64>, Trap> {
        let Some((_, _, entry)) = self.funcs.iter().find(|(n, _, _)| n == name) else {
            return Err(Trap::new(format!("{}: no function {name}", self.name)));
        };
        if args.len() != entry.n_params {
            return Err(Trap::new(format!(
                "{}: {} arguments, not {}",
                entry.name,
                entry.n_params,
                args.len()
            )));
        }
        let mut results = [0u64; 1];
        (entry.func)(caller, args, &mut results[..entry.n_results])?;
        Ok((entry.n_results == 1).then_some(results[0]))
    }

    /// Each function's name and parameter count, in the order they were added.
    pub fn arities(&self) -> impl Iterator<Item = (&str, usize)> {
        self.funcs.iter().map(|(n, _, e)| (n.as_str(), e.n_params))
    }

    fn push(
        mut self,
        name: &str,
        params: &[ValType],
        results: &[ValType],
        func: Box<HostFunc>,
    ) -> Self {
        assert!(
            results.len() <= 1,
            "host function {name}: at most one result"
        );
        let mut sig: String = String::from("(");
        sig.extend(params.iter().map(|t| t.letter()));
        sig.push(')');
        sig.extend(results.iter().map(|t| t.letter()));
        let entry = FuncEntry {
            func,
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
        // A stop requested from another thread takes effect here, before the call touches
        // anything: an instance is only ever stopped between host calls.
        if caller.is_interrupted() {
            return Err(Trap::new(crate::INTERRUPTED));
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_the_closure_types() {
        let m = HostModule::new("test:host/typed")
            .func_wrap("none", |_: &mut Caller<'_>| -> Result<(), Trap> { Ok(()) })
            .func_wrap(
                "read",
                |_: &mut Caller<'_>,
                 _this: u32,
                 _addr: u32,
                 _len: u64,
                 _ret: u32|
                 -> Result<(), Trap> { Ok(()) },
            )
            .func_wrap(
                "mix",
                |_: &mut Caller<'_>, _a: i32, _b: i64, _c: f32, _d: f64| -> Result<f64, Trap> {
                    Ok(0.0)
                },
            )
            .func("raw", &[ValType::I32], &[ValType::I64], |_, _, _| Ok(()));
        let sigs: Vec<_> = m.functions().collect();
        assert_eq!(
            sigs,
            [
                ("none", "()"),
                ("read", "(iiIi)"),
                ("mix", "(iIfF)F"),
                ("raw", "(i)I")
            ]
        );
    }

    #[test]
    fn slots_convert_both_ways() {
        assert_eq!(i32::from_slot(0xffff_ffff), -1);
        assert_eq!(
            i32::from_slot(0x1_0000_0005),
            5,
            "only the low 32 bits of an i32 slot"
        );
        assert_eq!((-1i32).into_slot(), 0xffff_ffff);
        assert_eq!(u32::from_slot(0xdead_beef_0000_0007), 7);
        assert_eq!(
            u8::from_slot(0x1ff),
            0xff,
            "canonical ABI lift of a u8: low 8 bits"
        );
        assert_eq!(u16::from_slot(0x1_2345), 0x2345);
        assert_eq!(i64::from_slot(u64::MAX), -1);
        assert_eq!(f32::from_slot(u64::from(1.5f32.to_bits())), 1.5);
        assert_eq!(2.25f64.into_slot(), 2.25f64.to_bits());
        let mut r = [0u64];
        7u32.store(&mut r);
        assert_eq!(r, [7]);
        ().store(&mut []);
    }
}
