use std::ffi::{c_char, CString};
use std::path::PathBuf;

use wasi_hw_wamr_sys as sys;

use crate::caller::Extensions;
use crate::engine::ensure_thread_env;
use crate::error::Error;
use crate::module::{c_str, Module, ModuleKind};

/// WASI preview1 context of an instance.
#[derive(Clone, Debug, Default)]
pub struct WasiConfig {
    /// `argv`, including the program name at index 0.
    pub args: Vec<String>,
    /// `KEY=VALUE` pairs.
    pub env: Vec<(String, String)>,
    /// Preopened directories as (host path, guest path).
    pub preopens: Vec<(PathBuf, String)>,
    /// Host file descriptors for the guest's stdin, stdout and stderr; `None` inherits ours.
    /// The descriptors must stay open for the instance's lifetime.
    pub stdio: [Option<std::os::fd::RawFd>; 3],
}

impl WasiConfig {
    /// `argv` of a command: the module's file name as program name, then `args`.
    pub fn set_command(&mut self, module: &std::path::Path, args: &[String]) {
        let program = module
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.args = std::iter::once(program)
            .chain(args.iter().cloned())
            .collect();
    }
}

/// 64 KiB wasm pages holding `kib` KiB (at least one): a memory cap given in KiB.
pub fn pages_for_kib(kib: u32) -> u32 {
    kib.div_ceil(64).max(1)
}

/// The interpreter's default execution stack.
pub const INTERP_STACK_SIZE: u32 = 64 * 1024;
/// The default execution stack of AOT code (what WAMR's own `iwasm` uses).
pub const AOT_STACK_SIZE: u32 = 16 * 1024;

/// How an instance is created.
#[derive(Clone, Debug, Default)]
pub struct InstanceConfig {
    pub wasi: WasiConfig,
    /// Stack of the execution environment in bytes; 0 (the default) picks one for the
    /// module's kind: [`INTERP_STACK_SIZE`] for the interpreter, whose operand stack and
    /// frames live there, [`AOT_STACK_SIZE`] for AOT code, whose frames are on the native
    /// stack. WAMR zeroes the whole area for every instance, so 64 KiB for AOT code cost
    /// ~20 µs of each start (16 fresh pages) for nothing.
    pub stack_size: u32,
    /// Host-managed app heap inside linear memory (used by libc-builtin's malloc); WASI
    /// guests bring their own allocator, so 0 is a sound default.
    pub heap_size: u32,
    /// Cap on linear memory in 64 KiB pages (0: the module's own maximum). `memory.grow`
    /// past it fails as the module sees it (-1); a module whose initial memory is larger
    /// is refused (WAMR would raise the cap to it).
    pub max_memory_pages: u32,
}

/// A core-wasm value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Val {
    I32(i32),
    I64(i64),
    F32(f32),
    F64(f64),
}

impl Val {
    fn to_raw(self) -> sys::wasm_val_t {
        let mut v = sys::wasm_val_t::default();
        match self {
            Val::I32(x) => {
                v.kind = sys::WASM_I32 as u8;
                v.of.i32_ = x;
            }
            Val::I64(x) => {
                v.kind = sys::WASM_I64 as u8;
                v.of.i64_ = x;
            }
            Val::F32(x) => {
                v.kind = sys::WASM_F32 as u8;
                v.of.f32_ = x;
            }
            Val::F64(x) => {
                v.kind = sys::WASM_F64 as u8;
                v.of.f64_ = x;
            }
        }
        v
    }

    fn from_raw(v: &sys::wasm_val_t) -> Option<Val> {
        // SAFETY: the union member read is the one `kind` says WAMR wrote.
        unsafe {
            match u32::from(v.kind) {
                sys::WASM_I32 => Some(Val::I32(v.of.i32_)),
                sys::WASM_I64 => Some(Val::I64(v.of.i64_)),
                sys::WASM_F32 => Some(Val::F32(v.of.f32_)),
                sys::WASM_F64 => Some(Val::F64(v.of.f64_)),
                _ => None,
            }
        }
    }
}

/// An instantiated module with its WASI context, execution environment and host state.
pub struct Instance {
    raw: sys::wasm_module_inst_t,
    exec_env: sys::wasm_exec_env_t,
    // Boxed so the pointer given to WAMR as user data stays put.
    extensions: Box<Extensions>,
    module: Module,
}

/// WAMR's "inherit" marker is -1.
fn fd(f: Option<std::os::fd::RawFd>) -> i64 {
    f.map_or(-1, i64::from)
}

fn cstring(s: &str) -> Result<CString, Error> {
    CString::new(s).map_err(|_| Error::Nul(s.to_string()))
}

impl Instance {
    pub fn new(module: &Module, config: &InstanceConfig) -> Result<Instance, Error> {
        ensure_thread_env();
        let stack_size = match (config.stack_size, module.kind()) {
            (0, ModuleKind::Aot) => AOT_STACK_SIZE,
            (0, ModuleKind::Wasm) => INTERP_STACK_SIZE,
            (n, _) => n,
        };
        let wasi = &config.wasi;
        let args: Vec<CString> = wasi
            .args
            .iter()
            .map(|a| cstring(a))
            .collect::<Result<_, _>>()?;
        let env: Vec<CString> = wasi
            .env
            .iter()
            .map(|(k, v)| cstring(&format!("{k}={v}")))
            .collect::<Result<_, _>>()?;
        let maps: Vec<CString> = wasi
            .preopens
            .iter()
            .map(|(host, guest)| cstring(&format!("{guest}::{}", host.display())))
            .collect::<Result<_, _>>()?;
        let mut argv: Vec<*mut c_char> = args.iter().map(|a| a.as_ptr() as *mut c_char).collect();
        let envp: Vec<*const c_char> = env.iter().map(|e| e.as_ptr()).collect();
        let mapp: Vec<*const c_char> = maps.iter().map(|m| m.as_ptr()).collect();

        let raw = {
            let _guard = module
                .inner
                .instantiate_lock
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let mut err = [0 as c_char; 256];
            // SAFETY: the pointer arrays and the strings they point to live until after
            // wasm_runtime_instantiate, which copies them into the instance's WASI context;
            // the lock keeps another thread from replacing them in between.
            let raw = unsafe {
                sys::wasm_runtime_set_wasi_args_ex(
                    module.inner.raw,
                    std::ptr::null_mut(),
                    0,
                    if mapp.is_empty() {
                        std::ptr::null_mut()
                    } else {
                        mapp.as_ptr() as *mut _
                    },
                    mapp.len() as u32,
                    if envp.is_empty() {
                        std::ptr::null_mut()
                    } else {
                        envp.as_ptr() as *mut _
                    },
                    envp.len() as u32,
                    if argv.is_empty() {
                        std::ptr::null_mut()
                    } else {
                        argv.as_mut_ptr()
                    },
                    argv.len() as i32,
                    fd(wasi.stdio[0]),
                    fd(wasi.stdio[1]),
                    fd(wasi.stdio[2]),
                );
                let args = sys::InstantiationArgs {
                    default_stack_size: stack_size,
                    host_managed_heap_size: config.heap_size,
                    max_memory_pages: config.max_memory_pages,
                };
                sys::wasm_runtime_instantiate_ex(
                    module.inner.raw,
                    &args,
                    err.as_mut_ptr(),
                    err.len() as u32,
                )
            };
            if raw.is_null() {
                return Err(Error::Instantiate(c_str(err.as_ptr())));
            }
            raw
        };
        if config.max_memory_pages != 0 {
            // SAFETY: `raw` is a fresh instance; a null memory means the module has none.
            let pages = unsafe {
                let mem = sys::wasm_runtime_get_default_memory(raw);
                if mem.is_null() {
                    0
                } else {
                    sys::wasm_memory_get_cur_page_count(mem)
                }
            };
            if pages > u64::from(config.max_memory_pages) {
                // SAFETY: `raw` has no exec env and is not used afterwards.
                unsafe { sys::wasm_runtime_deinstantiate(raw) };
                return Err(Error::Instantiate(format!(
                    "the module starts with {pages} pages of linear memory, over the limit of {} \
                     ({} KiB)",
                    config.max_memory_pages,
                    u64::from(config.max_memory_pages) * 64
                )));
            }
        }
        // SAFETY: `raw` is a fresh instance.
        let exec_env = unsafe { sys::wasm_runtime_create_exec_env(raw, stack_size) };
        if exec_env.is_null() {
            // SAFETY: `raw` has no exec env and is not used afterwards.
            unsafe { sys::wasm_runtime_deinstantiate(raw) };
            return Err(Error::Instantiate(
                "cannot create execution environment".into(),
            ));
        }
        let mut extensions = Box::<Extensions>::default();
        // SAFETY: the boxed Extensions outlives the exec env (both dropped in Instance::drop,
        // exec env first).
        unsafe {
            sys::wasm_runtime_set_user_data(exec_env, &mut *extensions as *mut Extensions as *mut _)
        };
        extensions.interrupt.attach(Some(exec_env));
        log::debug!("instantiated {:?} module", module.kind());
        Ok(Instance {
            raw,
            exec_env,
            extensions,
            module: module.clone(),
        })
    }

    pub fn module(&self) -> &Module {
        &self.module
    }

    /// Per-instance host state, reachable from host functions via `Caller::data`.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.extensions
    }

    /// A handle another thread can use to stop this instance between host calls
    /// ([`Interrupt::request`](crate::Interrupt::request)); the call running then returns
    /// `Error::Trap` with [`INTERRUPTED`](crate::INTERRUPTED). AOT code (compiled by
    /// wasi-hw-aotc) in a loop without host calls stops at its next loop back-edge or call;
    /// interpreted code in such a loop keeps running until it calls the host.
    pub fn interrupt(&self) -> crate::Interrupt {
        self.extensions.interrupt.clone()
    }

    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    fn lookup(&self, name: &str) -> Result<sys::wasm_function_inst_t, Error> {
        let c = cstring(name)?;
        // SAFETY: live instance, valid C string.
        let f = unsafe { sys::wasm_runtime_lookup_function(self.raw, c.as_ptr()) };
        if f.is_null() {
            Err(Error::MissingExport(name.to_string()))
        } else {
            Ok(f)
        }
    }

    fn take_exception(&self) -> String {
        // SAFETY: live instance; WAMR returns null or a NUL-terminated string it owns.
        let msg = c_str(unsafe { sys::wasm_runtime_get_exception(self.raw) });
        // SAFETY: live instance.
        unsafe { sys::wasm_runtime_clear_exception(self.raw) };
        msg.strip_prefix("Exception: ")
            .map(str::to_string)
            .unwrap_or(msg)
    }

    /// A host's view of this instance between calls (memory, host state, `cabi_realloc`),
    /// as a host function gets it: for lowering arguments and lifting results of
    /// [`Instance::call`].
    pub fn caller(&mut self) -> crate::Caller<'_> {
        ensure_thread_env();
        crate::Caller::from_exec_env(self.exec_env)
    }

    /// Calls an exported function. Arguments are checked against its type.
    pub fn call(&mut self, name: &str, args: &[Val]) -> Result<Vec<Val>, Error> {
        ensure_thread_env();
        let func = self.lookup(name)?;
        // SAFETY: live function of this instance.
        let (np, nr) = unsafe {
            (
                sys::wasm_func_get_param_count(func, self.raw),
                sys::wasm_func_get_result_count(func, self.raw),
            )
        };
        if np as usize != args.len() {
            return Err(Error::Signature {
                func: name.into(),
                msg: format!("expected {np} arguments, got {}", args.len()),
            });
        }
        let mut ptypes = vec![0u8; np as usize];
        let mut rtypes = vec![0u8; nr as usize];
        // SAFETY: the arrays have exactly the reported number of entries.
        unsafe {
            sys::wasm_func_get_param_types(func, self.raw, ptypes.as_mut_ptr());
            sys::wasm_func_get_result_types(func, self.raw, rtypes.as_mut_ptr());
        }
        let mut raw_args: Vec<sys::wasm_val_t> = args.iter().map(|a| a.to_raw()).collect();
        if let Some(i) = raw_args.iter().zip(&ptypes).position(|(a, t)| a.kind != *t) {
            return Err(Error::Signature {
                func: name.into(),
                msg: format!("argument {i} has the wrong type"),
            });
        }
        let mut results = vec![sys::wasm_val_t::default(); nr as usize];
        for (r, t) in results.iter_mut().zip(&rtypes) {
            r.kind = *t;
        }
        // SAFETY: argument and result arrays match the function's type (checked above).
        let ok = unsafe {
            sys::wasm_runtime_call_wasm_a(
                self.exec_env,
                func,
                nr,
                results.as_mut_ptr(),
                np,
                raw_args.as_mut_ptr(),
            )
        };
        if !ok {
            return Err(Error::Trap(self.take_exception()));
        }
        // AOT code stopped at a suspend check point returns as if it had finished, with
        // zeroed results and no exception.
        if self.extensions.interrupt.is_requested() {
            return Err(Error::Trap(crate::INTERRUPTED.into()));
        }
        results
            .iter()
            .map(|r| Val::from_raw(r).ok_or_else(|| Error::Trap("unsupported result type".into())))
            .collect()
    }

    /// Runs a WASI command (`_start`) and returns its exit code (`proc_exit` or 0).
    pub fn run_main(&mut self) -> Result<i32, Error> {
        match self.call("_start", &[]) {
            Ok(_) => Ok(0),
            // WAMR reports proc_exit as this exception; the code is kept on the instance.
            Err(Error::Trap(msg)) if msg.contains("wasi proc exit") => {
                // SAFETY: live instance.
                Ok(unsafe { sys::wasm_runtime_get_wasi_exit_code(self.raw) } as i32)
            }
            Err(e) => Err(e),
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.extensions.interrupt.attach(None);
        // SAFETY: exec env and instance were created in `new` and are destroyed once, exec
        // env first; the module (held by `self.module`) is still loaded.
        unsafe {
            sys::wasm_runtime_destroy_exec_env(self.exec_env);
            sys::wasm_runtime_deinstantiate(self.raw);
        }
    }
}
