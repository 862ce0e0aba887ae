//! Differential execution: a wasm-smith module (fuel-bounded, canonical NaNs, no imports)
//! runs in WAMR's interpreter and as AOT code from the project's compiler (x86_64, as
//! `wasi-hw run` compiles a .wasm) and, built with `--features wasmtime`
//! (`scripts/fuzz.sh --wasmtime`), in wasmtime; instantiation, every export's results or
//! trap, and the final linear memory must agree. A trap both modes give may be worded differently, so
//! only its presence is compared; stack exhaustion is where they differ by design (the
//! interpreter's wasm stack against the native stack), so a run where either exhausts its
//! stack is compared up to that call only.
#![no_main]

use libfuzzer_sys::arbitrary::{Arbitrary, Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use wasi_hw_engine::{Module, Target};
use wasi_hw_fuzz::{run_exports, shared_engine, Outcome};

#[derive(Debug)]
struct Smith(Vec<u8>);

impl<'a> Arbitrary<'a> for Smith {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Smith> {
        wasi_hw_fuzz::smith_module(u, true).map(Smith)
    }
}

fn stack_exhausted(msg: &str) -> bool {
    msg.contains("stack overflow") || msg.contains("stack exhausted")
}

/// The outcome with each trap reduced to "trapped", cut after a stack exhaustion.
fn comparable(o: &Outcome) -> (Vec<(String, Option<Vec<u64>>)>, Option<u64>) {
    let mut calls = Vec::new();
    for (name, r) in &o.calls {
        if let Err(msg) = r {
            if stack_exhausted(msg) {
                return (calls, None);
            }
        }
        calls.push((name.clone(), r.as_ref().ok().cloned()));
    }
    (calls, Some(o.memory))
}

/// Panics unless `a` and `b` (outcomes of engines named `what`) agree.
fn agree(what: &str, a: &Option<Outcome>, b: &Option<Outcome>) {
    match (a, b) {
        (Some(a), Some(b)) => {
            let (ca, ma) = comparable(a);
            let (cb, mb) = comparable(b);
            let n = ca.len().min(cb.len());
            assert_eq!(ca[..n], cb[..n], "{what}: {a:?} vs {b:?}");
            if let (Some(ma), Some(mb)) = (ma, mb) {
                assert_eq!(ca.len(), cb.len(), "{what}: {a:?} vs {b:?}");
                assert_eq!(ma, mb, "{what}: linear memory differs: {a:?} vs {b:?}");
            }
        }
        (None, None) => {}
        _ => panic!("{what}: instantiation differs: {a:?} vs {b:?}"),
    }
}

#[cfg(feature = "wasmtime")]
mod wasmtime_leg {
    use std::sync::OnceLock;

    use wasi_hw_engine::Val;
    use wasi_hw_fuzz::{exported_funcs, memory_hash, Outcome, MAX_MEMORY_BYTES};
    use wasmtime::{Engine, Instance, Module, Store, StoreLimits, StoreLimitsBuilder};

    fn engine() -> &'static Engine {
        static ENGINE: OnceLock<Engine> = OnceLock::new();
        ENGINE.get_or_init(Engine::default)
    }

    /// The module in wasmtime, exports called as [`wasi_hw_fuzz::run_exports`] does (the
    /// same memory cap); `None` if it does not load or instantiate.
    pub fn run(wasm: &[u8]) -> Option<Outcome> {
        let module = Module::new(engine(), wasm).ok()?;
        let limits = StoreLimitsBuilder::new()
            .memory_size(MAX_MEMORY_BYTES)
            .build();
        let mut store: Store<StoreLimits> = Store::new(engine(), limits);
        store.limiter(|l| l);
        let instance = Instance::new(&mut store, &module, &[]).ok()?;
        let mut calls = Vec::new();
        for (name, params) in exported_funcs(wasm) {
            let func = instance.get_func(&mut store, &name)?;
            let params: Vec<wasmtime::Val> = params
                .iter()
                .map(|p| match *p {
                    Val::I32(x) => wasmtime::Val::I32(x),
                    Val::I64(x) => wasmtime::Val::I64(x),
                    Val::F32(x) => wasmtime::Val::F32(x.to_bits()),
                    Val::F64(x) => wasmtime::Val::F64(x.to_bits()),
                })
                .collect();
            let n = func.ty(&store).results().len();
            let mut results = vec![wasmtime::Val::I32(0); n];
            let r = func.call(&mut store, &params, &mut results).map(|()| {
                results
                    .iter()
                    .map(|v| match *v {
                        wasmtime::Val::I32(x) => x as u32 as u64,
                        wasmtime::Val::I64(x) => x as u64,
                        wasmtime::Val::F32(bits) => u64::from(bits),
                        wasmtime::Val::F64(bits) => bits,
                        _ => u64::MAX,
                    })
                    .collect()
            });
            let trapped = r.is_err();
            calls.push((name, r.map_err(|e| format!("{e:#}"))));
            if trapped {
                break;
            }
        }
        let memory = instance.exports(&mut store).find_map(|e| e.into_memory());
        let memory = memory.map_or_else(|| memory_hash(&[]), |m| memory_hash(m.data(&store)));
        Some(Outcome { calls, memory })
    }
}

fuzz_target!(|m: Smith| {
    let Ok(interp) = Module::new(shared_engine(), m.0.clone()) else {
        return;
    };
    let opts = wasi_hw_aotc::CompileOptions::new(Target::X86_64);
    let aot = wasi_hw_aotc::compile(&m.0, &opts)
        .unwrap_or_else(|e| panic!("the interpreter loads it, the compiler refuses it: {e:#}"));
    let aot = Module::new(shared_engine(), aot).expect("a freshly compiled .aot loads");
    let interp = run_exports(&interp, &m.0);
    agree("interpreter vs AOT", &interp, &run_exports(&aot, &m.0));
    #[cfg(feature = "wasmtime")]
    agree("interpreter vs wasmtime", &interp, &wasmtime_leg::run(&m.0));
});
