//! What the fuzz targets share: one WAMR runtime per process, and loading, instantiating
//! and (for modules known to terminate) running a module with every failure an error.

use std::os::fd::AsRawFd;
use std::sync::OnceLock;

use wasi_hw_engine::{Engine, Instance, InstanceConfig, Module, Val};

/// Linear memory cap for fuzzed modules (16 MiB): a module may ask for 4 GiB.
const MAX_MEMORY_PAGES: u32 = 256;

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::new().expect("WAMR initialises"))
}

fn dev_null() -> i32 {
    static NULL: OnceLock<std::fs::File> = OnceLock::new();
    NULL.get_or_init(|| {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .expect("/dev/null")
    })
    .as_raw_fd()
}

/// Loads `wasm` for the interpreter and instantiates it (which runs its start function);
/// with `run`, also calls every exported function with zero arguments of its type. Every
/// outcome but a crash or a hang is fine: errors and traps are what bad input should get.
pub fn load_and_instantiate(wasm: &[u8], run: bool) {
    let Ok(module) = Module::new(engine(), wasm.to_vec()) else {
        return;
    };
    let mut config = InstanceConfig {
        max_memory_pages: MAX_MEMORY_PAGES,
        ..Default::default()
    };
    config.wasi.stdio = [None, Some(dev_null()), Some(dev_null())];
    let Ok(mut instance) = Instance::new(&module, &config) else {
        return;
    };
    if run {
        for (name, params) in exported_funcs(wasm) {
            // A trap leaves the instance unusable for further calls in WAMR: stop there.
            if instance.call(&name, &params).is_err() {
                break;
            }
        }
    }
}

/// What calling every export of an instance gave, in order: each call's results (floats as
/// their bits, so NaNs compare) or trap message, up to and including the first trap; then
/// the linear memory's bytes, hashed.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    pub calls: Vec<(String, Result<Vec<u64>, String>)>,
    pub memory: u64,
}

/// Instantiates `module` (built from `wasm`, for the interpreter or AOT) as
/// [`load_and_instantiate`] does, then calls every export: the [`Outcome`], or `None` if
/// instantiation failed (its start function trapped, or memory could not be had).
pub fn run_exports(module: &Module, wasm: &[u8]) -> Option<Outcome> {
    let mut config = InstanceConfig {
        max_memory_pages: MAX_MEMORY_PAGES,
        ..Default::default()
    };
    config.wasi.stdio = [None, Some(dev_null()), Some(dev_null())];
    let mut instance = Instance::new(module, &config).ok()?;
    let mut calls = Vec::new();
    for (name, params) in exported_funcs(wasm) {
        let result = instance.call(&name, &params).map(|vals| {
            vals.iter()
                .map(|v| match *v {
                    Val::I32(x) => x as u32 as u64,
                    Val::I64(x) => x as u64,
                    Val::F32(x) => u64::from(x.to_bits()),
                    Val::F64(x) => x.to_bits(),
                })
                .collect()
        });
        let trapped = result.is_err();
        calls.push((name, result.map_err(|e| e.to_string())));
        if trapped {
            break;
        }
    }
    let caller = instance.caller();
    let bytes = caller
        .read(0, caller.memory_size() as u32)
        .unwrap_or_default();
    Some(Outcome {
        calls,
        memory: memory_hash(&bytes),
    })
}

/// The hash [`Outcome::memory`] holds.
pub fn memory_hash(bytes: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// The linear memory cap of [`run_exports`], in bytes (other engines get the same).
pub const MAX_MEMORY_BYTES: usize = MAX_MEMORY_PAGES as usize * 65536;

/// A valid module from wasm-smith: the MVP plus what WAMR runs here (no SIMD, threads, GC,
/// exceptions, tail calls, 64-bit or multiple memories), no imports, every item exported,
/// each loop and call bounded by fuel so that it terminates. With `canonical_nans` every
/// float result is a canonical NaN (the differential target: NaN bits are not specified).
pub fn smith_module(
    u: &mut arbitrary::Unstructured<'_>,
    canonical_nans: bool,
) -> arbitrary::Result<Vec<u8>> {
    let config = wasm_smith::Config {
        simd_enabled: false,
        relaxed_simd_enabled: false,
        threads_enabled: false,
        gc_enabled: false,
        exceptions_enabled: false,
        tail_call_enabled: false,
        memory64_enabled: false,
        multi_value_enabled: true,
        bulk_memory_enabled: true,
        reference_types_enabled: false,
        max_memories: 1,
        max_tables: 1,
        max_memory32_bytes: 1 << 24,
        max_imports: 0,
        export_everything: true,
        canonicalize_nans: canonical_nans,
        ..Default::default()
    };
    let mut module = wasm_smith::Module::new(config, u)?;
    module
        .ensure_termination(10_000)
        .map_err(|_| arbitrary::Error::IncorrectFormat)?;
    Ok(module.to_bytes())
}

/// The WAMR runtime of this process (registering nothing: fuzzed modules import nothing).
pub fn shared_engine() -> &'static Engine {
    engine()
}

/// Each exported function's name with zero arguments of its parameter types (only for
/// modules whose types wasmparser reads; others export nothing to call).
pub fn exported_funcs(wasm: &[u8]) -> Vec<(String, Vec<Val>)> {
    use wasmparser::{Payload, TypeRef, ValType};
    let mut types: Vec<Option<Vec<ValType>>> = Vec::new();
    let mut funcs: Vec<u32> = Vec::new();
    let mut exports = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let Ok(payload) = payload else {
            return Vec::new();
        };
        match payload {
            Payload::TypeSection(r) => {
                for group in r.into_iter_err_on_gc_types() {
                    let Ok(f) = group else { return Vec::new() };
                    types.push(Some(f.params().to_vec()));
                }
            }
            Payload::ImportSection(r) => {
                for import in r.into_imports() {
                    let Ok(import) = import else {
                        return Vec::new();
                    };
                    if let TypeRef::Func(t) = import.ty {
                        funcs.push(t);
                    }
                }
            }
            Payload::FunctionSection(r) => {
                for t in r {
                    let Ok(t) = t else { return Vec::new() };
                    funcs.push(t);
                }
            }
            Payload::ExportSection(r) => {
                for e in r {
                    let Ok(e) = e else { return Vec::new() };
                    if e.kind == wasmparser::ExternalKind::Func {
                        exports.push((e.name.to_string(), e.index));
                    }
                }
            }
            _ => {}
        }
    }
    exports
        .into_iter()
        .filter_map(|(name, index)| {
            let params = types.get(*funcs.get(index as usize)? as usize)?.as_ref()?;
            let zeros = params
                .iter()
                .map(|t| match t {
                    ValType::I32 => Some(Val::I32(0)),
                    ValType::I64 => Some(Val::I64(0)),
                    ValType::F32 => Some(Val::F32(0.0)),
                    ValType::F64 => Some(Val::F64(0.0)),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()?;
            Some((name, zeros))
        })
        .collect()
}

/// The input of a natives target: initial linear memory, what the guest's `cabi_realloc`
/// answers (then a bump allocator), and the host calls to make.
#[derive(Debug, arbitrary::Arbitrary)]
pub struct NativeCalls {
    memory: Vec<u8>,
    reallocs: Vec<u32>,
    calls: Vec<NativeCall>,
}

#[derive(Debug, arbitrary::Arbitrary)]
struct NativeCall {
    func: u8,
    args: [u64; 12],
}

/// Linear memory of a natives target: one page; pointers are drawn to land in it often.
const NATIVE_PAGES: u32 = 1;

/// Every function of `modules` with its parameter count, made once per target.
pub struct Natives {
    modules: Vec<wasi_hw_engine::HostModule>,
    funcs: Vec<(usize, String, usize)>,
}

impl Natives {
    pub fn new(modules: Vec<wasi_hw_engine::HostModule>) -> Natives {
        let funcs = modules
            .iter()
            .enumerate()
            .flat_map(|(i, m)| m.arities().map(move |(n, a)| (i, n.to_string(), a)))
            .collect();
        Natives { modules, funcs }
    }

    /// Runs up to 64 of the input's calls against `plain` (its memory overwritten by the
    /// input's, its `cabi_realloc` answering from the input first). `adjust` may tame an
    /// argument that would make a call sleep (it gets the function name and the slots).
    pub fn drive(
        &self,
        mut plain: wasi_hw_engine::PlainInstance,
        input: NativeCalls,
        adjust: impl Fn(&str, &mut [u64]),
    ) {
        let n = input.memory.len().min(plain.memory.len());
        plain.memory[..n].copy_from_slice(&input.memory[..n]);
        let mut answers = input.reallocs.into_iter();
        let mut bump = std::mem::replace(&mut plain.realloc, Box::new(|_, _| None));
        plain.realloc = Box::new(move |align, size| match answers.next() {
            Some(p) => Some(p),
            None => bump(align, size),
        });
        for call in input.calls.iter().take(64) {
            let (module, name, arity) = &self.funcs[call.func as usize % self.funcs.len()];
            let mut args: Vec<u64> = call.args[..*arity].iter().map(|&a| slot(a)).collect();
            adjust(name, &mut args);
            let _ = self.modules[*module].call(name, &mut plain.caller(), &args);
        }
    }
}

/// A slot from the input: usually a small value (a handle, a discriminant, a length) or an
/// address near linear memory, sometimes anything.
fn slot(raw: u64) -> u64 {
    match raw & 3 {
        0 => (raw >> 2) % 16,
        1 => (raw >> 2) % (u64::from(NATIVE_PAGES) * 65536 + 64),
        _ => raw >> 2,
    }
}

/// A fresh plain instance of the natives targets' size.
pub fn plain_instance() -> wasi_hw_engine::PlainInstance {
    wasi_hw_engine::PlainInstance::new(NATIVE_PAGES)
}
