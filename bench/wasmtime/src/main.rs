//! `bench-wasmtime`: the wasmtime side of the wasi-hw benchmarks.
//!
//! ```text
//! bench-wasmtime MODULE.wasm|MODULE.cwasm [-- GUEST ARGS...]   run a guest (timed phases)
//! bench-wasmtime precompile IN.wasm OUT.cwasm                  compile ahead of time
//! ```
//! Runs the same core-module guests as `wasi-hw` (WASI preview 1 + the canonical-ABI
//! WASI-I2C imports), with host functions equivalent to `wasi_hw_i2c`'s: a handle table,
//! the grant check (`I2cPolicy`, `sim:0x48`), size limits, and the canonical-ABI layer of
//! wasi-hw itself (`wasi_hw_engine::cabi`: checked guest memory, lists returned through the
//! guest's `cabi_realloc`), on the same `SimBus`. After the
//! guest's output it prints the phase line `bench-engine` prints:
//! `phase=wasmtime-jit|wasmtime-aot ... init_us=.. load_us=.. instantiate_us=.. run_us=..`.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

// wasmtime 48 has its own error type (not anyhow's); host functions must return it.
use wasi_hw_i2c::abi;
use wasi_hw_i2c::{ErrorCode, I2cBus, Operation, SimBus};
use wasi_hw_policy::i2c::I2cPolicy;
use wasi_hw_engine::cabi::{self, GuestMemory};
use wasi_hw_engine::Trap;
use wasmtime::error::Context;
use wasmtime::{bail, format_err as anyhow, Result};
use wasmtime::{Caller, Config, Engine, Extern, Linker, Memory, Module, Store};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::{I32Exit, WasiCtxBuilder};

/// Same per-call limit as `wasi_hw_i2c::Limits::default()`.
const MAX_TRANSFER: u64 = 64 * 1024;
const MAX_OPERATIONS: u32 = 256;

enum Resource {
    I2c { bus: usize },
    Delay,
}

/// Per-store host state: WASI and the I2C handle table.
struct Host {
    wasi: WasiP1Ctx,
    policy: I2cPolicy,
    buses: Vec<(String, SimBus)>,
    resources: HashMap<u32, Resource>,
    next_handle: u32,
}

impl Host {
    fn new_handle(&mut self, r: Resource) -> Result<u32> {
        if self.next_handle == u32::MAX {
            bail!("handle space exhausted");
        }
        let h = self.next_handle;
        self.next_handle += 1;
        self.resources.insert(h, r);
        Ok(h)
    }

    fn bus_of(&self, handle: u32) -> Result<usize> {
        match self.resources.get(&handle) {
            Some(Resource::I2c { bus }) => Ok(*bus),
            _ => bail!("unknown i2c handle {handle}"),
        }
    }

    fn run(
        &mut self,
        bus: usize,
        address: u16,
        ops: &mut [Operation<'_>],
    ) -> Result<(), ErrorCode> {
        let (name, b) = &mut self.buses[bus];
        if !self.policy.allows(name, address) {
            return Err(ErrorCode::Other);
        }
        b.transaction(address, ops)
    }
}

/// The guest's memory as wasi-hw's canonical-ABI layer sees it. Only the wasmtime glue
/// is here; the checks (return areas, what `cabi_realloc` returns) and the list lowering
/// are `wasi_hw_engine::cabi` and `wasi_hw_i2c::abi`, the same code the WAMR natives run.
struct Guest<'a, 'c> {
    caller: &'a mut Caller<'c, Host>,
    memory: Memory,
}

impl<'a, 'c> Guest<'a, 'c> {
    fn new(caller: &'a mut Caller<'c, Host>) -> Result<Self> {
        match caller.get_export("memory") {
            Some(Extern::Memory(memory)) => Ok(Guest { caller, memory }),
            _ => bail!("guest exports no memory"),
        }
    }

    fn read(&self, ptr: u32, len: u32) -> Result<Vec<u8>> {
        self.check_range(ptr, len).map_err(trap)?;
        let start = ptr as usize;
        Ok(self.memory.data(&*self.caller)[start..start + len as usize].to_vec())
    }
}

impl GuestMemory for Guest<'_, '_> {
    fn memory_size(&self) -> u64 {
        self.memory.data_size(&*self.caller) as u64
    }

    fn write(&mut self, ptr: u32, bytes: &[u8]) -> Result<(), Trap> {
        let len = u32::try_from(bytes.len()).map_err(|_| Trap::new("write over 4 GiB"))?;
        self.check_range(ptr, len)?;
        let start = ptr as usize;
        self.memory.data_mut(&mut *self.caller)[start..start + bytes.len()].copy_from_slice(bytes);
        Ok(())
    }

    /// Looked up on every call, as wasi-hw did before caching it.
    fn call_realloc(&mut self, align: u32, size: u32) -> Result<u32, Trap> {
        let f = match self.caller.get_export("cabi_realloc") {
            Some(Extern::Func(f)) => f
                .typed::<(i32, i32, i32, i32), i32>(&*self.caller)
                .map_err(|e| Trap::new(format!("cabi_realloc: {e}")))?,
            _ => return Err(Trap::new("guest does not export cabi_realloc")),
        };
        f.call(&mut *self.caller, (0, 0, align as i32, size as i32))
            .map(|p| p as u32)
            .map_err(|e| Trap::new(format!("cabi_realloc({size}) failed: {e}")))
    }
}

fn trap(t: Trap) -> wasmtime::Error {
    anyhow!("{t}")
}

fn read_guest(caller: &mut Caller<'_, Host>, ptr: u32, len: u32) -> Result<Vec<u8>> {
    Guest::new(caller)?.read(ptr, len)
}

fn write_guest(caller: &mut Caller<'_, Host>, ptr: u32, bytes: &[u8]) -> Result<()> {
    Guest::new(caller)?.write(ptr, bytes).map_err(trap)
}

fn check_retptr(caller: &mut Caller<'_, Host>, retptr: u32, size: u32, align: u32) -> Result<()> {
    cabi::check_area(&Guest::new(caller)?, retptr, (size, align)).map_err(trap)
}

fn store_list_result(
    caller: &mut Caller<'_, Host>,
    retptr: u32,
    r: Result<Vec<u8>, ErrorCode>,
) -> Result<()> {
    abi::store_list_result(&mut Guest::new(caller)?, retptr, r).map_err(trap)
}

fn add_i2c(linker: &mut Linker<Host>) -> Result<()> {
    const I2C: &str = wasi_hw_i2c::I2C_MODULE;
    linker.func_wrap(
        I2C,
        "[method]i2c.read",
        |mut c: Caller<'_, Host>, handle: i32, address: i32, len: i64, retptr: i32| -> Result<()> {
            let bus = c.data().bus_of(handle as u32)?;
            check_retptr(
                &mut c,
                retptr as u32,
                abi::RESULT_LIST_SIZE,
                abi::RESULT_LIST_ALIGN,
            )?;
            let len = len as u64;
            let r = if len > MAX_TRANSFER {
                Err(ErrorCode::Other)
            } else {
                let mut buf = vec![0u8; len as usize];
                c.data_mut()
                    .run(bus, address as u16, &mut [Operation::Read(&mut buf)])
                    .map(|()| buf)
            };
            store_list_result(&mut c, retptr as u32, r)
        },
    )?;
    linker.func_wrap(
        I2C,
        "[method]i2c.write",
        |mut c: Caller<'_, Host>,
         handle: i32,
         address: i32,
         ptr: i32,
         len: i32,
         retptr: i32|
         -> Result<()> {
            let bus = c.data().bus_of(handle as u32)?;
            check_retptr(
                &mut c,
                retptr as u32,
                abi::RESULT_UNIT_SIZE,
                abi::RESULT_UNIT_ALIGN,
            )?;
            let r = if u64::from(len as u32) > MAX_TRANSFER {
                Err(ErrorCode::Other)
            } else {
                let data = read_guest(&mut c, ptr as u32, len as u32)?;
                c.data_mut()
                    .run(bus, address as u16, &mut [Operation::Write(&data)])
            };
            write_guest(&mut c, retptr as u32, &abi::result_unit(r))
        },
    )?;
    linker.func_wrap(
        I2C,
        "[method]i2c.write-read",
        |mut c: Caller<'_, Host>,
         handle: i32,
         address: i32,
         ptr: i32,
         len: i32,
         read_len: i64,
         retptr: i32|
         -> Result<()> {
            let bus = c.data().bus_of(handle as u32)?;
            check_retptr(
                &mut c,
                retptr as u32,
                abi::RESULT_LIST_SIZE,
                abi::RESULT_LIST_ALIGN,
            )?;
            let read_len = read_len as u64;
            let r = if u64::from(len as u32).saturating_add(read_len) > MAX_TRANSFER {
                Err(ErrorCode::Other)
            } else {
                let data = read_guest(&mut c, ptr as u32, len as u32)?;
                let mut buf = vec![0u8; read_len as usize];
                c.data_mut()
                    .run(
                        bus,
                        address as u16,
                        &mut [Operation::Write(&data), Operation::Read(&mut buf)],
                    )
                    .map(|()| buf)
            };
            store_list_result(&mut c, retptr as u32, r)
        },
    )?;
    linker.func_wrap(
        I2C,
        "[method]i2c.transaction",
        |mut c: Caller<'_, Host>,
         handle: i32,
         address: i32,
         ops_ptr: i32,
         ops_len: i32,
         retptr: i32|
         -> Result<()> {
            let bus = c.data().bus_of(handle as u32)?;
            let retptr = retptr as u32;
            check_retptr(
                &mut c,
                retptr,
                abi::RESULT_LIST_SIZE,
                abi::RESULT_LIST_ALIGN,
            )?;
            let ops_len = ops_len as u32;
            if ops_len > MAX_OPERATIONS {
                return write_guest(&mut c, retptr, &abi::result_list_err(ErrorCode::Other));
            }
            let raw = read_guest(&mut c, ops_ptr as u32, ops_len * abi::OPERATION_SIZE)?;
            let ops = abi::decode_operations(&raw).map_err(|i| anyhow!("invalid operation {i}"))?;
            let total = ops.iter().fold(0u64, |a, op| {
                a.saturating_add(match op {
                    abi::RawOperation::Read(n) => *n,
                    abi::RawOperation::Write { len, .. } => u64::from(*len),
                })
            });
            if total > MAX_TRANSFER {
                return write_guest(&mut c, retptr, &abi::result_list_err(ErrorCode::Other));
            }
            // (is_read, buffer)
            let mut owned: Vec<(bool, Vec<u8>)> = Vec::with_capacity(ops.len());
            for op in &ops {
                owned.push(match *op {
                    abi::RawOperation::Read(n) => (true, vec![0u8; n as usize]),
                    abi::RawOperation::Write { ptr, len } => (false, read_guest(&mut c, ptr, len)?),
                });
            }
            let r = {
                let mut bus_ops: Vec<Operation<'_>> = owned
                    .iter_mut()
                    .map(|(read, b)| {
                        if *read {
                            Operation::Read(b.as_mut_slice())
                        } else {
                            Operation::Write(b.as_slice())
                        }
                    })
                    .collect();
                c.data_mut().run(bus, address as u16, &mut bus_ops)
            };
            if let Err(e) = r {
                return write_guest(&mut c, retptr, &abi::result_list_err(e));
            }
            let per_operation = owned
                .iter()
                .map(|(read, b)| if *read { b.as_slice() } else { &[][..] });
            abi::store_transaction_result(&mut Guest::new(&mut c)?, retptr, per_operation)
                .map_err(trap)
        },
    )?;
    linker.func_wrap(
        I2C,
        "[resource-drop]i2c",
        |mut c: Caller<'_, Host>, handle: i32| -> Result<()> {
            c.data().bus_of(handle as u32)?;
            c.data_mut().resources.remove(&(handle as u32));
            Ok(())
        },
    )?;
    const DELAY: &str = wasi_hw_i2c::DELAY_MODULE;
    linker.func_wrap(
        DELAY,
        "[method]delay.delay-ns",
        |c: Caller<'_, Host>, handle: i32, ns: i32| -> Result<()> {
            if !matches!(
                c.data().resources.get(&(handle as u32)),
                Some(Resource::Delay)
            ) {
                bail!("unknown delay handle {handle}");
            }
            std::thread::sleep(Duration::from_nanos(u64::from(ns as u32)));
            Ok(())
        },
    )?;
    linker.func_wrap(
        DELAY,
        "[resource-drop]delay",
        |mut c: Caller<'_, Host>, handle: i32| -> Result<()> {
            match c.data_mut().resources.remove(&(handle as u32)) {
                Some(Resource::Delay) => Ok(()),
                _ => bail!("unknown delay handle {handle}"),
            }
        },
    )?;
    const BUSES: &str = wasi_hw_i2c::BUSES_MODULE;
    linker.func_wrap(
        BUSES,
        "open-i2c",
        |mut c: Caller<'_, Host>, ptr: i32, len: i32, retptr: i32| -> Result<()> {
            let retptr = retptr as u32;
            check_retptr(
                &mut c,
                retptr,
                abi::RESULT_HANDLE_SIZE,
                abi::RESULT_HANDLE_ALIGN,
            )?;
            let name = String::from_utf8(read_guest(&mut c, ptr as u32, len as u32)?)
                .map_err(|_| anyhow!("open-i2c: bus name is not valid UTF-8"))?;
            let h = c.data_mut();
            let r = match h.buses.iter().position(|(n, _)| *n == name) {
                Some(bus) if h.policy.allows_bus(&name) => h
                    .new_handle(Resource::I2c { bus })
                    .map_err(|_| ErrorCode::Other),
                _ => Err(ErrorCode::Other),
            };
            write_guest(&mut c, retptr, &abi::result_handle(r))
        },
    )?;
    linker.func_wrap(
        BUSES,
        "open-delay",
        |mut c: Caller<'_, Host>| -> Result<i32> {
            Ok(c.data_mut().new_handle(Resource::Delay)? as i32)
        },
    )?;
    Ok(())
}

fn run_guest(path: &str, guest_args: Vec<String>, start: Instant) -> Result<i32> {
    let us = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e6;
    let precompiled = path.ends_with(".cwasm");
    let t0 = Instant::now();
    let engine = Engine::new(&Config::new())?;
    let mut linker: Linker<Host> = Linker::new(&engine);
    wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |h: &mut Host| &mut h.wasi)?;
    add_i2c(&mut linker)?;
    let t1 = Instant::now();
    let bytes = if precompiled {
        Vec::new()
    } else {
        std::fs::read(path).with_context(|| format!("reading {path}"))?
    };
    let t2 = Instant::now();
    let module = if precompiled {
        // SAFETY: the .cwasm was produced by `bench-wasmtime precompile` with this same
        // wasmtime build (scripts/bench.sh makes both); wasmtime also checks the header's
        // version and configuration and refuses a mismatch.
        unsafe { Module::deserialize_file(&engine, path)? }
    } else {
        Module::new(&engine, &bytes)?
    };
    let t3 = Instant::now();
    let program = std::path::Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut args = vec![program];
    args.extend(guest_args);
    let wasi = WasiCtxBuilder::new().inherit_stdio().args(&args).build_p1();
    let policy = I2cPolicy::from_grants(&["sim:0x48"])?;
    let host = Host {
        wasi,
        policy,
        buses: vec![("sim".to_string(), SimBus::with_default_devices())],
        resources: HashMap::new(),
        next_handle: 1,
    };
    let mut store = Store::new(&engine, host);
    let instance = linker.instantiate(&mut store, &module)?;
    let start_fn = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
    let t4 = Instant::now();
    let code = match start_fn.call(&mut store, ()) {
        Ok(()) => 0,
        Err(e) => match e.downcast_ref::<I32Exit>() {
            Some(exit) => exit.0,
            None => return Err(e),
        },
    };
    let t5 = Instant::now();
    println!(
        "phase={} hw_bound_check=1 init_us={:.2} register_us=0 read_us={:.2} load_us={:.2} instantiate_us={:.2} run_us={:.2} total_us={:.2} exit={code}",
        if precompiled { "wasmtime-aot" } else { "wasmtime-jit" },
        us(t0, t1),
        us(t1, t2),
        us(t2, t3),
        us(t3, t4),
        us(t4, t5),
        us(start, t5),
    );
    Ok(code)
}

fn precompile(input: &str, output: &str) -> Result<()> {
    let engine = Engine::new(&Config::new())?;
    let wasm = std::fs::read(input).with_context(|| format!("reading {input}"))?;
    let bytes = engine.precompile_module(&wasm)?;
    std::fs::write(output, bytes).with_context(|| format!("writing {output}"))?;
    Ok(())
}

fn run(start: Instant) -> Result<i32> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("precompile") if args.len() == 3 => precompile(&args[1], &args[2]).map(|()| 0),
        Some(m) if !m.starts_with('-') => {
            let path = args.remove(0);
            let guest_args = match args.first().map(String::as_str) {
                Some("--") => args.split_off(1),
                None => Vec::new(),
                Some(a) => bail!("unexpected argument {a:?} (guest arguments go after --)"),
            };
            run_guest(&path, guest_args, start)
        }
        _ => bail!("usage: bench-wasmtime MODULE [-- ARGS...] | bench-wasmtime precompile IN.wasm OUT.cwasm"),
    }
}

fn main() -> ExitCode {
    let start = Instant::now();
    match run(start) {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("bench-wasmtime: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
