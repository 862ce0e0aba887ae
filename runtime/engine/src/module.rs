use std::ffi::{c_char, CStr};
use std::sync::Arc;

use wasi_hw_wamr_sys as sys;

use crate::engine::{ensure_thread_env, Engine};
use crate::error::Error;
use crate::module_file::{Bytes, ModuleFile};
use crate::target::Target;

const WASM_MAGIC: &[u8; 4] = b"\0asm";
const AOT_MAGIC: &[u8; 4] = b"\0aot";
/// The AOT format version WAMR 2.4.3 reads and writes.
pub const AOT_VERSION: u32 = 6;

/// What a module file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModuleKind {
    /// WebAssembly bytecode, run by the fast interpreter.
    Wasm,
    /// WAMR AOT-compiled native code.
    Aot,
}

impl ModuleKind {
    /// Detects the kind from the magic number.
    pub fn detect(bytes: &[u8]) -> Option<ModuleKind> {
        match bytes.get(..4) {
            Some(m) if m == WASM_MAGIC => Some(ModuleKind::Wasm),
            Some(m) if m == AOT_MAGIC => Some(ModuleKind::Aot),
            _ => None,
        }
    }
}

/// Kind of an import or export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExternKind {
    Func,
    Table,
    Memory,
    Global,
}

/// One import or export of a loaded module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportExport {
    /// Import module name (empty for exports).
    pub module: String,
    pub name: String,
    pub kind: ExternKind,
    /// For imports: whether the runtime provides it.
    pub linked: bool,
}

/// Target information from an AOT file's header (read without loading it, so it also works
/// for files built for another architecture).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AotInfo {
    pub version: u32,
    /// WAMR's target name, e.g. `x86_64`, `armv7`, `thumbv7`, `aarch64v8`.
    pub arch: String,
    pub e_machine: u16,
    pub is_64_bit: bool,
    pub little_endian: bool,
    pub feature_flags: u64,
}

impl AotInfo {
    /// Whether this runtime build can run the code: same format version, same target.
    /// The error says how to get a file it can run.
    pub fn check_runnable(&self) -> Result<(), Error> {
        if self.version != AOT_VERSION {
            return Err(Error::AotVersion(self.version));
        }
        let host = Target::host();
        if host.map(Target::wamr_arch) != Some(self.arch.as_str()) {
            return Err(Error::AotTarget {
                found: self.arch.clone(),
                host: host.map_or("unknown", Target::name),
            });
        }
        Ok(())
    }

    /// Parses the header: magic, version, then the target-info section (type 0).
    pub fn parse(bytes: &[u8]) -> Option<AotInfo> {
        if ModuleKind::detect(bytes)? != ModuleKind::Aot {
            return None;
        }
        let u16_at = |o: usize| {
            bytes
                .get(o..o + 2)
                .map(|b| u16::from_le_bytes([b[0], b[1]]))
        };
        let u32_at = |o: usize| {
            bytes
                .get(o..o + 4)
                .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
        };
        let u64_at = |o: usize| {
            bytes
                .get(o..o + 8)
                .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
        };
        let version = u32_at(4)?;
        if u32_at(8)? != 0 {
            return None; // first section must be target info
        }
        let t = 16; // section content: after section type and size
        let bin_type = u16_at(t)?;
        let e_machine = u16_at(t + 6)?;
        let feature_flags = u64_at(t + 16)?;
        let arch_raw = bytes.get(t + 32..t + 48)?;
        let end = arch_raw
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(arch_raw.len());
        Some(AotInfo {
            version,
            arch: String::from_utf8_lossy(&arch_raw[..end]).into_owned(),
            e_machine,
            is_64_bit: bin_type & 2 != 0,
            little_endian: bin_type & 1 == 0,
            feature_flags,
        })
    }
}

/// AOT section types in the order WAMR 2.4.3 requires them (`aot_runtime.h`), then any
/// number of custom sections (type 100).
const AOT_SECTIONS: [&str; 6] = [
    "target info",
    "init data",
    "text",
    "function",
    "export",
    "relocation",
];
const AOT_SECTION_CUSTOM: u32 = 100;
/// The target-info section's fixed size (bin/abi/e_type, e_machine, e_version, e_flags,
/// feature flags, reserved, 16-byte arch name).
const AOT_TARGET_INFO_SIZE: u32 = 48;

/// Walks an `.aot` file's section headers (`u32 type, u32 size`, each header 4-aligned, as
/// WAMR reads them) and refuses, with one line saying where, a file whose sections run past
/// its end, are of an unknown type or out of order, or that ends before the last required
/// section. WAMR checks much of this while it parses; doing it first means a truncated or
/// cut-and-spliced file never reaches the loader's pointer arithmetic.
pub fn check_aot_sections(bytes: &[u8]) -> Result<(), Error> {
    let layout = |msg: String| Error::AotLayout(msg);
    let len = bytes.len();
    let u32_at = |o: usize| {
        bytes
            .get(o..o + 4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
    };
    if len < 8 || ModuleKind::detect(bytes) != Some(ModuleKind::Aot) {
        return Err(Error::AotHeader);
    }
    let mut offset = 8;
    let mut next_required = 0usize;
    while offset < len {
        offset = (offset + 3) & !3;
        let (Some(kind), Some(size)) = (u32_at(offset), u32_at(offset + 4)) else {
            return Err(layout(format!(
                "a section header at offset {offset} is cut off by the end of the file ({len} bytes)"
            )));
        };
        let name = match kind {
            AOT_SECTION_CUSTOM => "custom",
            k if (k as usize) < AOT_SECTIONS.len() => AOT_SECTIONS[k as usize],
            k => {
                return Err(layout(format!(
                    "unknown section type {k} at offset {offset}"
                )))
            }
        };
        if kind != AOT_SECTION_CUSTOM {
            if kind as usize != next_required {
                let expected = AOT_SECTIONS.get(next_required).copied().unwrap_or("custom");
                return Err(layout(format!(
                    "{name} section at offset {offset} where the {expected} section belongs"
                )));
            }
            next_required += 1;
        } else if next_required < AOT_SECTIONS.len() {
            return Err(layout(format!(
                "custom section at offset {offset} before the {} section",
                AOT_SECTIONS[next_required]
            )));
        }
        if kind == 0 && size != AOT_TARGET_INFO_SIZE {
            return Err(layout(format!(
                "target info section of {size} bytes (it has {AOT_TARGET_INFO_SIZE})"
            )));
        }
        let body = offset + 8;
        if size as usize > len - body {
            return Err(layout(format!(
                "{name} section at offset {offset} claims {size} bytes, but the file has {} after its header",
                len - body
            )));
        }
        offset = body + size as usize;
    }
    if next_required < AOT_SECTIONS.len() {
        return Err(layout(format!(
            "the file ends ({len} bytes) before the {} section",
            AOT_SECTIONS[next_required]
        )));
    }
    Ok(())
}

/// WAMR's raw custom-section kind inside an `.aot` custom section.
const AOT_CUSTOM_SECTION_RAW: u32 = 0;

/// The raw custom sections of an `.aot` file (name, contents), in file order: WAMR's
/// format (`u32 kind = 0, u16 name length with NUL, name, NUL, contents`), which its
/// loader skips unless built to keep custom sections. Malformed ones are left out; call
/// [`check_aot_sections`] first for a file that may be damaged.
pub fn aot_custom_sections(bytes: &[u8]) -> Vec<(&str, &[u8])> {
    let mut out = Vec::new();
    let u32_at = |o: usize| {
        bytes
            .get(o..o + 4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
    };
    let mut offset = 8;
    while offset < bytes.len() {
        offset = (offset + 3) & !3;
        let (Some(kind), Some(size)) = (u32_at(offset), u32_at(offset + 4)) else {
            break;
        };
        let body = offset + 8;
        let Some(section) = bytes.get(body..body.saturating_add(size as usize)) else {
            break;
        };
        if kind == AOT_SECTION_CUSTOM && section.len() >= 6 {
            let sub = u32::from_le_bytes(section[..4].try_into().expect("4 bytes"));
            let name_len = usize::from(u16::from_le_bytes([section[4], section[5]]));
            if sub == AOT_CUSTOM_SECTION_RAW && name_len >= 1 && section.len() >= 6 + name_len {
                let name = &section[6..6 + name_len - 1];
                if let Ok(name) = std::str::from_utf8(name) {
                    out.push((name, &section[6 + name_len..]));
                }
            }
        }
        offset = body + size as usize;
    }
    out
}

/// Appends a raw custom section to an `.aot` file, in the format [`aot_custom_sections`]
/// reads and WAMR's own compiler writes (`--emit-custom-sections`).
pub fn append_aot_custom_section(
    aot: &mut Vec<u8>,
    name: &str,
    contents: &[u8],
) -> Result<(), Error> {
    let name_len = u16::try_from(name.len() + 1)
        .ok()
        .filter(|n| *n <= i16::MAX as u16)
        .ok_or_else(|| Error::AotLayout(format!("custom section name of {} bytes", name.len())))?;
    let size = u32::try_from(4 + 2 + name.len() + 1 + contents.len())
        .map_err(|_| Error::AotLayout(format!("custom section `{name}` larger than 4 GiB")))?;
    aot.resize(aot.len().next_multiple_of(4), 0);
    aot.extend(AOT_SECTION_CUSTOM.to_le_bytes());
    aot.extend(size.to_le_bytes());
    aot.extend(AOT_CUSTOM_SECTION_RAW.to_le_bytes());
    aot.extend(name_len.to_le_bytes());
    aot.extend(name.as_bytes());
    aot.push(0);
    aot.extend(contents);
    Ok(())
}

pub(crate) struct ModuleInner {
    pub(crate) raw: sys::wasm_module_t,
    // A .wasm's bytes: WAMR may point into (and modify) them until unload, so they are kept
    // here, never moved. `None` for an .aot, loaded freeable.
    _bytes: Option<Box<[u8]>>,
    pub(crate) kind: ModuleKind,
    /// WAMR's WASI arguments live on the module and are consumed by instantiation: serialise.
    pub(crate) instantiate_lock: std::sync::Mutex<()>,
}

// SAFETY: a loaded WAMR module is immutable after load except for the WASI arguments, whose
// set-then-instantiate sequence is serialised by `instantiate_lock`.
unsafe impl Send for ModuleInner {}
// SAFETY: see above.
unsafe impl Sync for ModuleInner {}

impl Drop for ModuleInner {
    fn drop(&mut self) {
        // SAFETY: the last Arc is gone, so no instance of this module remains.
        unsafe { sys::wasm_runtime_unload(self.raw) };
    }
}

/// A loaded module (`.wasm` or `.aot`), ready to be instantiated any number of times.
#[derive(Clone)]
pub struct Module {
    pub(crate) inner: Arc<ModuleInner>,
}

pub(crate) fn c_str(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: WAMR hands out NUL-terminated strings that live as long as the module.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

fn kind_of(k: sys::wasm_import_export_kind_t) -> ExternKind {
    match k {
        sys::WASM_IMPORT_EXPORT_KIND_FUNC => ExternKind::Func,
        sys::WASM_IMPORT_EXPORT_KIND_TABLE => ExternKind::Table,
        sys::WASM_IMPORT_EXPORT_KIND_MEMORY => ExternKind::Memory,
        _ => ExternKind::Global,
    }
}

impl Module {
    /// Loads a module from `.wasm` or `.aot` bytes (detected by magic number). Host modules
    /// it imports must be registered on the engine first; an import nobody provides is an
    /// error here rather than a trap later.
    pub fn new(engine: &Engine, bytes: impl Into<Vec<u8>>) -> Result<Module, Error> {
        Self::from_file(engine, ModuleFile::new(bytes)?)
    }

    /// [`Module::new`] for a file whose kind is already known.
    pub fn from_file(_engine: &Engine, file: ModuleFile) -> Result<Module, Error> {
        let module = Self::load_file(file)?;
        if let Some(missing) = module
            .imports()
            .into_iter()
            .find(|i| i.kind == ExternKind::Func && !i.linked)
        {
            return Err(Error::MissingImport {
                module: missing.module,
                name: missing.name,
            });
        }
        Ok(module)
    }

    /// Like [`Module::new`] but accepts unresolved function imports (calling one traps);
    /// used by `inspect`.
    pub fn load_unchecked(bytes: impl Into<Vec<u8>>) -> Result<Module, Error> {
        Self::load_file(ModuleFile::new(bytes)?)
    }

    fn load_file(file: ModuleFile) -> Result<Module, Error> {
        ensure_thread_env();
        let (kind, bytes) = file.into_parts();
        // An .aot is loaded "freeable": the loader copies what it keeps (code, data
        // segments, names) once, and the file's bytes (read or mapped) go right after the
        // load (with the flag-ordering fix in wasi-hw-wamr-sys's patches). The interpreter
        // keeps pointing into a .wasm's bytes (function bodies), so those stay with the
        // module, boxed before the load (turning a Vec into a Box may move it).
        let freeable = kind == ModuleKind::Aot;
        match kind {
            ModuleKind::Aot => check_aot_sections(bytes.as_slice())?,
            ModuleKind::Wasm => crate::check_wasm_sections(bytes.as_slice())?,
        }
        let mut bytes = match bytes {
            Bytes::Mapped(m) if freeable => Bytes::Mapped(m),
            other => Bytes::Boxed(other.into_vec().into_boxed_slice()),
        };
        let len = u32::try_from(bytes.len()).map_err(|_| Error::TooLarge(bytes.len()))?;
        let args = sys::LoadArgs {
            wasm_binary_freeable: freeable,
            ..Default::default()
        };
        let mut err = [0 as c_char; 256];
        // SAFETY: `bytes` is writable (a heap buffer or a private copy-on-write mapping)
        // and `len` long; a kept buffer moves into ModuleInner (a Box, never moved again)
        // and lives until after wasm_runtime_unload; a freeable one is not used by WAMR
        // after the call. `args` outlives the call; the error buffer is 256 bytes.
        let raw = unsafe {
            sys::wasm_runtime_load_ex(
                bytes.as_mut_ptr(),
                len,
                &args,
                err.as_mut_ptr(),
                err.len() as u32,
            )
        };
        if raw.is_null() {
            return Err(Error::Load(c_str(err.as_ptr())));
        }
        log::debug!("loaded {kind:?} module ({len} bytes)");
        let kept = match bytes {
            Bytes::Boxed(b) if !freeable => Some(b),
            _ => None, // dropped (unmapped or freed) here
        };
        Ok(Module {
            inner: Arc::new(ModuleInner {
                raw,
                _bytes: kept,
                kind,
                instantiate_lock: Default::default(),
            }),
        })
    }

    pub fn kind(&self) -> ModuleKind {
        self.inner.kind
    }

    pub fn imports(&self) -> Vec<ImportExport> {
        let raw = self.inner.raw;
        // SAFETY: `raw` is a live module; indices are within the reported count.
        let n = unsafe { sys::wasm_runtime_get_import_count(raw) };
        (0..n)
            .map(|i| {
                let mut t = sys::wasm_import_t::default();
                // SAFETY: as above; WAMR fills `t` with pointers owned by the module.
                unsafe { sys::wasm_runtime_get_import_type(raw, i, &mut t) };
                ImportExport {
                    module: c_str(t.module_name),
                    name: c_str(t.name),
                    kind: kind_of(t.kind),
                    linked: t.linked,
                }
            })
            .collect()
    }

    pub fn exports(&self) -> Vec<ImportExport> {
        let raw = self.inner.raw;
        // SAFETY: `raw` is a live module; indices are within the reported count.
        let n = unsafe { sys::wasm_runtime_get_export_count(raw) };
        (0..n)
            .map(|i| {
                let mut t = sys::wasm_export_t::default();
                // SAFETY: as above.
                unsafe { sys::wasm_runtime_get_export_type(raw, i, &mut t) };
                ImportExport {
                    module: String::new(),
                    name: c_str(t.name),
                    kind: kind_of(t.kind),
                    linked: true,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_magic() {
        assert_eq!(
            ModuleKind::detect(b"\0asm\x01\0\0\0"),
            Some(ModuleKind::Wasm)
        );
        assert_eq!(
            ModuleKind::detect(b"\0aot\x06\0\0\0"),
            Some(ModuleKind::Aot)
        );
        assert_eq!(ModuleKind::detect(b"\x7fELF"), None);
        assert_eq!(ModuleKind::detect(b"\0a"), None);
    }

    /// A well-formed AOT layout: the six sections with small bodies (the export section's
    /// odd size makes the next header need alignment, as in real files), then a custom one.
    fn aot_layout() -> Vec<u8> {
        let mut f = b"\0aot\x06\0\0\0".to_vec();
        for (kind, size) in [
            (0u32, 48u32),
            (1, 8),
            (2, 16),
            (3, 4),
            (4, 7),
            (5, 12),
            (100, 3),
        ] {
            while !f.len().is_multiple_of(4) {
                f.push(0);
            }
            f.extend(kind.to_le_bytes());
            f.extend(size.to_le_bytes());
            f.extend(std::iter::repeat_n(0xab, size as usize));
        }
        f
    }

    fn layout_error(bytes: &[u8]) -> String {
        match check_aot_sections(bytes) {
            Err(Error::AotLayout(msg)) => msg,
            other => panic!("expected a layout error, got {other:?}"),
        }
    }

    #[test]
    fn aot_sections_are_walked_to_the_end_of_the_file() {
        let good = aot_layout();
        check_aot_sections(&good).unwrap();
        // Cut anywhere inside the sections: refused (a cut right after a section that is
        // not the last required one too).
        for cut in (9..good.len()).filter(|&c| c != good.len() - 11) {
            assert!(check_aot_sections(&good[..cut]).is_err(), "cut at {cut}");
        }
        // Without the custom section (its header at len - 11): still complete.
        check_aot_sections(&good[..good.len() - 11]).unwrap();
        assert!(layout_error(&good[..131]).contains("before the relocation section"));
        assert!(layout_error(&good[..100]).contains("claims"));
        assert!(matches!(
            check_aot_sections(b"\0aot"),
            Err(Error::AotHeader)
        ));
    }

    #[test]
    fn aot_section_sizes_types_and_order_are_checked() {
        let good = aot_layout();
        let with_u32 = |offset: usize, v: u32| {
            let mut b = good.clone();
            b[offset..offset + 4].copy_from_slice(&v.to_le_bytes());
            b
        };
        // The init data section's header is at 8 + 8 + 48 = 64.
        let huge = layout_error(&with_u32(68, u32::MAX));
        assert!(
            huge.contains("init data section at offset 64 claims 4294967295 bytes"),
            "{huge}"
        );
        assert!(layout_error(&with_u32(64, 7)).contains("unknown section type 7 at offset 64"));
        assert!(layout_error(&with_u32(64, 2))
            .contains("text section at offset 64 where the init data"));
        assert!(layout_error(&with_u32(64, 100)).contains("custom section at offset 64 before"));
        assert!(layout_error(&with_u32(8, 1)).contains("where the target info section belongs"));
        assert!(layout_error(&with_u32(12, 47)).contains("target info section of 47 bytes"));
    }

    #[test]
    fn aot_info_rejects_truncated_header() {
        assert_eq!(AotInfo::parse(b"\0aot\x06\0\0\0"), None);
        let file = ModuleFile::new(b"\0aot\x06\0\0\0".to_vec()).unwrap();
        assert!(matches!(file.aot_info(), Err(Error::AotHeader)));
        assert!(matches!(
            ModuleFile::new(b"\x7fELF".to_vec()),
            Err(Error::NotAModule)
        ));
    }

    #[test]
    fn aot_of_another_target_or_version_is_not_runnable() {
        let host = Target::host().unwrap();
        let info = |version, arch: &str| AotInfo {
            version,
            arch: arch.to_string(),
            e_machine: 0,
            is_64_bit: true,
            little_endian: true,
            feature_flags: 0,
        };
        assert!(info(AOT_VERSION, host.wamr_arch()).check_runnable().is_ok());
        let other = Target::ALL.into_iter().find(|t| *t != host).unwrap();
        let err = info(AOT_VERSION, other.wamr_arch())
            .check_runnable()
            .unwrap_err();
        assert!(
            err.to_string().contains(&format!("--target {host}")),
            "{err}"
        );
        let err = info(5, host.wamr_arch()).check_runnable().unwrap_err();
        assert!(err.to_string().contains("version 5"), "{err}");
    }
}
