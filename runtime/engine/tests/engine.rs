//! Engine tests with WAT guests (interpreter). AOT variants live in the root crate's tests,
//! which have the compiler.

use wasi_hw_engine::{
    Caller, Engine, Error, HostModule, Instance, InstanceConfig, Module, ModuleKind, Trap, Val,
};

fn module(wat: &str) -> Module {
    let engine = Engine::new().unwrap();
    Module::new(&engine, wat::parse_str(wat).unwrap()).unwrap()
}

fn instance(wat: &str) -> Instance {
    Instance::new(&module(wat), &InstanceConfig::default()).unwrap()
}

#[test]
fn calls_an_export_with_typed_values() {
    let mut inst = instance(
        r#"(module (func (export "add") (param i32 i64) (result i64)
              local.get 0 i64.extend_i32_s local.get 1 i64.add))"#,
    );
    assert_eq!(
        inst.call("add", &[Val::I32(-2), Val::I64(10)]).unwrap(),
        vec![Val::I64(8)]
    );
    assert!(matches!(
        inst.call("add", &[Val::I32(1)]),
        Err(Error::Signature { .. })
    ));
    assert!(matches!(
        inst.call("add", &[Val::I64(1), Val::I64(1)]),
        Err(Error::Signature { .. })
    ));
    assert!(matches!(
        inst.call("nope", &[]),
        Err(Error::MissingExport(_))
    ));
}

#[test]
fn load_past_memory_traps_and_instance_survives() {
    let mut inst = instance(
        r#"(module (memory 1)
             (func (export "peek") (param i32) (result i32) local.get 0 i32.load))"#,
    );
    assert_eq!(
        inst.call("peek", &[Val::I32(65532)]).unwrap(),
        vec![Val::I32(0)]
    );
    let err = inst.call("peek", &[Val::I32(65533)]).unwrap_err();
    assert!(
        err.to_string().contains("out of bounds memory access"),
        "{err}"
    );
    let err = inst.call("peek", &[Val::I32(-1)]).unwrap_err();
    assert!(err.to_string().contains("out of bounds"), "{err}");
    // The exception was cleared: the instance is still usable.
    assert_eq!(
        inst.call("peek", &[Val::I32(0)]).unwrap(),
        vec![Val::I32(0)]
    );
}

#[test]
fn rejects_garbage_and_truncated_modules() {
    let engine = Engine::new().unwrap();
    assert!(matches!(
        Module::new(&engine, b"hello world".to_vec()),
        Err(Error::NotAModule)
    ));
    let good = wat::parse_str(r#"(module (func (export "f") (result i32) i32.const 7))"#).unwrap();
    for cut in [4, 6, 10, good.len() - 1] {
        let err = Module::new(&engine, good[..cut].to_vec())
            .err()
            .expect("truncated module must fail");
        assert!(matches!(err, Error::Load(_)), "cut at {cut}: {err}");
    }
    let mut corrupt = good.clone();
    corrupt[9] = 0x7f; // section id out of range
    assert!(matches!(Module::new(&engine, corrupt), Err(Error::Load(_))));
    assert_eq!(Module::new(&engine, good).unwrap().kind(), ModuleKind::Wasm);
}

#[test]
fn missing_import_is_reported_by_name() {
    let engine = Engine::new().unwrap();
    let bytes = wat::parse_str(r#"(module (import "nowhere" "thing" (func)))"#).unwrap();
    match Module::new(&engine, bytes) {
        Err(Error::MissingImport { module, name }) => {
            assert_eq!((module.as_str(), name.as_str()), ("nowhere", "thing"))
        }
        other => panic!("expected MissingImport, got {:?}", other.err()),
    }
}

struct Counter(u64);

#[test]
fn host_functions_see_memory_state_and_can_trap() {
    let engine = Engine::new().unwrap();
    engine
        .register_host_module(
            HostModule::new("test:host/engine")
                // sum(ptr, len) -> i64: adds up guest bytes, counting calls in host state.
                .func_wrap(
                    "sum",
                    |caller: &mut Caller<'_>, ptr: u32, len: u32| -> Result<u64, Trap> {
                        let bytes = caller.read(ptr, len)?;
                        caller
                            .data::<Counter>()
                            .ok_or_else(|| Trap::new("no counter"))?
                            .0 += 1;
                        Ok(bytes.iter().map(|&b| u64::from(b)).sum())
                    },
                )
                // wide(i32, i32, i64, i32): the armv7 problem signature, echoed back to memory.
                .func_wrap(
                    "wide",
                    |caller: &mut Caller<'_>,
                     a: u32,
                     b: u32,
                     c: u64,
                     out: u32|
                     -> Result<(), Trap> {
                        caller.write_u32(out, a)?;
                        caller.write_u32(out + 4, b)?;
                        caller.write_u64(out + 8, c)
                    },
                ),
        )
        .unwrap();
    let m = Module::new(
        &engine,
        wat::parse_str(
            r#"(module
              (import "test:host/engine" "sum" (func $sum (param i32 i32) (result i64)))
              (import "test:host/engine" "wide" (func $wide (param i32 i32 i64 i32)))
              (memory (export "memory") 1)
              (data (i32.const 16) "\01\02\03\04")
              (func (export "sum") (param i32 i32) (result i64) local.get 0 local.get 1 call $sum)
              (func (export "wide") (result i64)
                 i32.const 11 i32.const 22 i64.const 0x1122334455667788 i32.const 64 call $wide
                 (i64.add (i64.load (i32.const 64)) (i64.load (i32.const 72)))))"#,
        )
        .unwrap(),
    )
    .unwrap();
    let mut inst = Instance::new(&m, &InstanceConfig::default()).unwrap();
    inst.extensions_mut().insert(Counter(0));
    assert_eq!(
        inst.call("sum", &[Val::I32(16), Val::I32(4)]).unwrap(),
        vec![Val::I64(10)]
    );
    assert_eq!(
        inst.call("wide", &[]).unwrap(),
        vec![Val::I64(11 + (22 << 32) + 0x1122334455667788)]
    );
    // A length running past the end of memory traps with a clear message; host alive.
    let err = inst
        .call("sum", &[Val::I32(65530), Val::I32(7)])
        .unwrap_err();
    assert!(err.to_string().contains("out of bounds"), "{err}");
    let err = inst.call("sum", &[Val::I32(0), Val::I32(-1)]).unwrap_err();
    assert!(err.to_string().contains("out of bounds"), "{err}");
    assert_eq!(
        inst.call("sum", &[Val::I32(16), Val::I32(2)]).unwrap(),
        vec![Val::I64(3)]
    );
    assert_eq!(inst.extensions().get::<Counter>().unwrap().0, 2);
}

#[test]
fn wasi_command_gets_args_env_and_exit_code() {
    // args_sizes_get → argc; environ_sizes_get → envc; exit code = argc * 10 + envc.
    let m = module(
        r#"(module
          (import "wasi_snapshot_preview1" "args_sizes_get" (func $args (param i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "environ_sizes_get" (func $envs (param i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
          (memory (export "memory") 1)
          (func (export "_start")
            (drop (call $args (i32.const 0) (i32.const 4)))
            (drop (call $envs (i32.const 8) (i32.const 12)))
            (call $exit (i32.add (i32.mul (i32.load (i32.const 0)) (i32.const 10)) (i32.load (i32.const 8))))))"#,
    );
    let mut config = InstanceConfig::default();
    config.wasi.args = vec!["prog".into(), "a".into(), "b".into()];
    config.wasi.env = vec![("X".into(), "1".into())];
    let mut inst = Instance::new(&m, &config).unwrap();
    assert_eq!(inst.run_main().unwrap(), 31);
}

/// `cabi_realloc` is looked up once and then reused, and a realloc that grows linear memory
/// is seen by the host: writes past the old end land in the new pages.
#[test]
fn realloc_is_reused_and_sees_grown_memory() {
    let engine = Engine::new().unwrap();
    engine
        .register_host_module(HostModule::new("test:host/realloc").func_wrap(
            "fill",
            |c: &mut Caller<'_>, len: u32| -> Result<u32, Trap> {
                let size = c.memory_size() as u32;
                // Touch memory first, so the pre-realloc size is what the caller saw.
                c.write(size - 1, &[1])?;
                let p = c.realloc(1, len)?;
                c.write(p, &vec![0xab; len as usize])?;
                Ok(p)
            },
        ))
        .unwrap();
    // Each cabi_realloc grows memory by one page and returns the start of the new page.
    let wat = r#"(module
        (import "test:host/realloc" "fill" (func $fill (param i32) (result i32)))
        (memory (export "memory") 1)
        (global $calls (mut i32) (i32.const 0))
        (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
            global.get $calls i32.const 1 i32.add global.set $calls
            i32.const 1 memory.grow i32.const 65536 i32.mul)
        (func (export "calls") (result i32) global.get $calls)
        (func (export "run") (param i32) (result i32 i32)
            (local $p i32)
            local.get 0 call $fill local.set $p
            local.get $p
            local.get $p local.get 0 i32.add i32.const 1 i32.sub i32.load8_u))"#;
    let module = Module::new(&engine, wat::parse_str(wat).unwrap()).unwrap();
    let mut inst = Instance::new(&module, &InstanceConfig::default()).unwrap();
    for (i, len) in [100i32, 65536].into_iter().enumerate() {
        let r = inst.call("run", &[Val::I32(len)]).unwrap();
        assert_eq!(r, vec![Val::I32(65536 * (i as i32 + 1)), Val::I32(0xab)]);
    }
    assert_eq!(inst.call("calls", &[]).unwrap(), vec![Val::I32(2)]);
}

/// Blocks with parameters and several results, of odd counts and mixed widths: the
/// interpreter copies them with scratch arrays that were once misaligned (a SIGBUS on
/// MIPS, which the cross-compiled run of this test under qemu-mipsel catches).
#[test]
fn blocks_with_params_and_multi_value_results() {
    let mut inst = instance(
        r#"(module (func (export "f") (param i32 i64 i32) (result i32 i64 i32)
              local.get 0 local.get 1 local.get 2
              (block (param i32 i64 i32) (result i32 i64 i32))
              (if (param i32 i64 i32) (result i32 i64 i32) (i32.const 1)
                (then) (else))
              (loop (param i32 i64 i32) (result i32 i64 i32))
              (block (param i32 i64 i32) (result i32 i64 i32)
                local.set 2 i64.const 7 i64.add local.get 2 i32.const 1 i32.add)))"#,
    );
    assert_eq!(
        inst.call("f", &[Val::I32(-3), Val::I64(1 << 40), Val::I32(9)])
            .unwrap(),
        vec![Val::I32(-3), Val::I64((1 << 40) + 7), Val::I32(10)]
    );
}
