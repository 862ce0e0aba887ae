//! Differential execution: a wasm-smith module (fuel-bounded, canonical NaNs, no imports)
//! runs in WAMR's interpreter and as AOT code from the project's compiler (x86_64, as
//! `wasi-hw run` compiles a .wasm); instantiation, every export's results or trap, and the
//! final linear memory must agree. A trap both modes give may be worded differently, so
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

fuzz_target!(|m: Smith| {
    let Ok(interp) = Module::new(shared_engine(), m.0.clone()) else {
        return;
    };
    let opts = wasi_hw_aotc::CompileOptions::new(Target::X86_64);
    let aot = wasi_hw_aotc::compile(&m.0, &opts)
        .unwrap_or_else(|e| panic!("the interpreter loads it, the compiler refuses it: {e:#}"));
    let aot = Module::new(shared_engine(), aot).expect("a freshly compiled .aot loads");
    let (a, b) = (run_exports(&interp, &m.0), run_exports(&aot, &m.0));
    match (&a, &b) {
        (Some(a), Some(b)) => {
            let (ca, ma) = comparable(a);
            let (cb, mb) = comparable(b);
            let n = ca.len().min(cb.len());
            assert_eq!(ca[..n], cb[..n], "interpreter {a:?} vs AOT {b:?}");
            if let (Some(ma), Some(mb)) = (ma, mb) {
                assert_eq!(ca.len(), cb.len(), "interpreter {a:?} vs AOT {b:?}");
                assert_eq!(
                    ma, mb,
                    "linear memory differs: interpreter {a:?} vs AOT {b:?}"
                );
            }
        }
        (None, None) => {}
        _ => panic!("instantiation differs: interpreter {a:?} vs AOT {b:?}"),
    }
});
