use std::cell::Cell;
use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use wasi_hw_wamr_sys as sys;

use crate::error::Error;
use crate::host::HostModule;

/// WAMR's runtime is process-global: it is initialised once and never torn down (tearing
/// it down while another thread still holds a module would free memory under it).
static RUNTIME: OnceLock<Result<(), ()>> = OnceLock::new();

/// Native registration mutates WAMR's global symbol list; it is not thread-safe.
static REGISTERED: Mutex<Option<HashSet<String>>> = Mutex::new(None);

thread_local! {
    static THREAD_ENV: Cell<bool> = const { Cell::new(false) };
}

/// Handle to the process-wide WAMR runtime. Cheap to clone; all clones share one runtime.
#[derive(Clone, Debug)]
pub struct Engine {
    _private: (),
}

impl Engine {
    /// Initialises WAMR on first use (system allocator, no built-in natives beyond
    /// libc-wasi/libc-builtin).
    pub fn new() -> Result<Engine, Error> {
        let ok = RUNTIME.get_or_init(|| {
            let mut args = sys::RuntimeInitArgs {
                mem_alloc_type: sys::Alloc_With_System_Allocator,
                ..Default::default()
            };
            // SAFETY: `args` is a fully initialised RuntimeInitArgs; OnceLock runs this once.
            let ok = unsafe { sys::wasm_runtime_full_init(&mut args) };
            if ok {
                log::debug!("WAMR runtime initialised");
                Ok(())
            } else {
                Err(())
            }
        });
        if ok.is_err() {
            return Err(Error::Init);
        }
        ensure_thread_env();
        Ok(Engine { _private: () })
    }

    /// Registers a module of host functions. WAMR resolves imports when a module is loaded,
    /// so register before [`crate::Module::new`]. Registering the same module name twice is
    /// a no-op (natives are process-global and live for the rest of the process).
    pub fn register_host_module(&self, module: HostModule) -> Result<(), Error> {
        let mut guard = REGISTERED.lock().unwrap_or_else(|e| e.into_inner());
        let names = guard.get_or_insert_with(HashSet::new);
        if names.contains(module.name()) {
            return Ok(());
        }
        let name = module.name().to_string();
        module.register()?;
        log::debug!("registered host module {name}");
        names.insert(name);
        Ok(())
    }
}

/// WAMR wants every thread that runs wasm to set up its thread environment once.
pub(crate) fn ensure_thread_env() {
    THREAD_ENV.with(|done| {
        if !done.get() {
            // SAFETY: called after runtime init, once per thread.
            unsafe { sys::wasm_runtime_init_thread_env() };
            done.set(true);
        }
    });
}
