//! Modules loaded once and shared: every instance of a driver, and every driver that names
//! the same file with the same contents, uses one loaded module.

use std::collections::HashMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use wasi_hw_engine::{Engine, Module, ModuleFile, ModuleKind};

/// Turns a `.wasm` into an `.aot` for this host (the CLI passes its AOT compiler; a
/// gateway build has none and interprets `.wasm`).
pub type Compile = fn(ModuleFile) -> Result<ModuleFile>;

/// A loaded module and where it came from.
pub struct LoadedModule {
    pub path: PathBuf,
    /// SHA-256 of the file as read, hex.
    pub digest: String,
    pub module: Module,
    /// The functions its component-type section describes (for `invoke = "..."`).
    pub exports: Vec<wasi_hw_invoke::Func>,
}

pub struct ModuleCache {
    engine: Engine,
    compile: Option<Compile>,
    trust: wasi_hw_trust::Policy,
    // One load at a time: registering natives (WAMR's global symbol list) must not overlap
    // another load reading that list.
    loaded: Mutex<HashMap<(PathBuf, String, bool), Weak<LoadedModule>>>,
}

impl ModuleCache {
    pub fn new(
        engine: Engine,
        compile: Option<Compile>,
        trust: wasi_hw_trust::Policy,
    ) -> ModuleCache {
        ModuleCache {
            engine,
            compile,
            trust,
            loaded: Mutex::new(HashMap::new()),
        }
    }

    /// Reads, checks (signature by a trusted key, target, headers) and loads `path`, or
    /// returns the module already loaded from the same bytes. Every import must be
    /// provided: a module that would fail at its first call is refused here, before it
    /// replaces anything.
    pub fn load(&self, path: &Path, interp: bool) -> Result<Arc<LoadedModule>> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        let file = wasi_hw_wiring::read_module_trusted(path, &self.trust)?;
        let digest = hex(&Sha256::digest(file.bytes()));
        let key = (path.to_path_buf(), digest.clone(), interp);
        if let Some(m) = loaded.get(&key).and_then(Weak::upgrade) {
            return Ok(m);
        }
        wasi_hw_wiring::register_for(&self.engine, &file)
            .with_context(|| path.display().to_string())?;
        // Before the load, which frees an .aot's bytes.
        let exports = wasi_hw_invoke::exports_of(file.bytes(), file.kind())
            .with_context(|| path.display().to_string())?;
        let file = match (file.kind(), interp, self.compile) {
            (ModuleKind::Wasm, false, Some(compile)) => {
                compile(file).with_context(|| format!("compiling {}", path.display()))?
            }
            (ModuleKind::Aot, true, _) => bail!(
                "{}: interp = true needs a .wasm module; this one is AOT-compiled",
                path.display()
            ),
            _ => file,
        };
        let module =
            Module::from_file(&self.engine, file).with_context(|| path.display().to_string())?;
        let m = Arc::new(LoadedModule {
            path: path.to_path_buf(),
            digest,
            module,
            exports,
        });
        loaded.retain(|_, w| w.strong_count() > 0);
        loaded.insert(key, Arc::downgrade(&m));
        log::info!("loaded {} (sha256 {})", path.display(), &m.digest[..16]);
        Ok(m)
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_hex() {
        assert_eq!(
            hex(&Sha256::digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
