//! A module file's bytes and kind, detected once: read into the heap, or, for an `.aot`
//! that nobody but root or this process's user can change, mapped for the length of the
//! load instead of copied (the loader copies what it keeps, then the mapping goes).
//!
//! Why the ownership rule: a mapped file that another user truncates or rewrites during
//! the load would crash the host (SIGBUS) or change the code being loaded. Whoever could do
//! that (root, the runtime's own user) can already replace the runtime itself.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;

use crate::error::Error;
use crate::module::{AotInfo, ModuleKind};

/// A module file's bytes with their kind, detected once (from the magic number).
#[derive(Debug)]
pub struct ModuleFile {
    kind: ModuleKind,
    bytes: Bytes,
    /// The file's `fstat`, when only root or this user can change it (see `open`).
    owner_only: Option<std::fs::Metadata>,
}

impl ModuleFile {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<ModuleFile, Error> {
        let bytes = bytes.into();
        let kind = ModuleKind::detect(&bytes).ok_or(Error::NotAModule)?;
        Ok(ModuleFile {
            kind,
            bytes: Bytes::Heap(bytes),
            owner_only: None,
        })
    }

    /// Opens a module file: a trusted `.aot` (see the module docs) is mapped, anything
    /// else is read.
    pub fn open(path: &Path) -> Result<ModuleFile, Error> {
        let read_error =
            |e: std::io::Error| Error::Read(format!("cannot read {}: {e}", path.display()));
        let file = File::open(path).map_err(read_error)?;
        let meta = file.metadata().map_err(read_error)?;
        let mut magic = [0u8; 4];
        let is_aot = meta.is_file()
            && file.read_exact_at(&mut magic, 0).is_ok()
            && ModuleKind::detect(&magic) == Some(ModuleKind::Aot);
        let owner_only = meta.is_file() && only_trusted_users_can_change(path, &meta);
        if is_aot && owner_only && u32::try_from(meta.len()).is_ok() {
            if let Some(mapping) = Mapping::new(&file, meta.len() as usize) {
                log::debug!("mapped {} ({} bytes)", path.display(), meta.len());
                return Ok(ModuleFile {
                    kind: ModuleKind::Aot,
                    bytes: Bytes::Mapped(mapping),
                    owner_only: Some(meta),
                });
            }
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        (&file).read_to_end(&mut bytes).map_err(read_error)?;
        let mut module = ModuleFile::new(bytes)?;
        module.owner_only = owner_only.then_some(meta);
        Ok(module)
    }

    /// The `fstat` of the file the bytes came from, if nobody but root or this process's
    /// user can change that file or a directory above it (what the signature check may
    /// cache on, see `wasi_hw_trust::FileStamp`).
    pub fn owner_only_metadata(&self) -> Option<&std::fs::Metadata> {
        self.owner_only.as_ref()
    }

    pub fn kind(&self) -> ModuleKind {
        self.kind
    }

    pub fn bytes(&self) -> &[u8] {
        self.bytes.as_slice()
    }

    /// Whether the bytes are a mapping of the file (rather than a copy).
    pub fn is_mapped(&self) -> bool {
        matches!(self.bytes, Bytes::Mapped(_))
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes.into_vec()
    }

    /// The `.aot` header, `None` for a `.wasm` (an error for a truncated `.aot`).
    pub fn aot_info(&self) -> Result<Option<AotInfo>, Error> {
        match self.kind {
            ModuleKind::Wasm => Ok(None),
            ModuleKind::Aot => AotInfo::parse(self.bytes())
                .map(Some)
                .ok_or(Error::AotHeader),
        }
    }

    pub(crate) fn into_parts(self) -> (ModuleKind, Bytes) {
        (self.kind, self.bytes)
    }
}

/// The file, and every directory above it, can be changed only by root or by this
/// process's effective user: owned by one of them, and not writable by group or others.
fn only_trusted_users_can_change(path: &Path, meta: &std::fs::Metadata) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    let trusted =
        |m: &std::fs::Metadata| (m.uid() == 0 || m.uid() == euid) && m.mode() & 0o022 == 0;
    if !trusted(meta) {
        return false;
    }
    let Ok(full) = path.canonicalize() else {
        return false;
    };
    full.ancestors()
        .skip(1)
        .all(|dir| std::fs::metadata(dir).is_ok_and(|m| trusted(&m)))
}

/// Module bytes in one of the forms the loader takes.
#[derive(Debug)]
pub(crate) enum Bytes {
    Heap(Vec<u8>),
    Boxed(Box<[u8]>),
    Mapped(Mapping),
}

impl Bytes {
    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Heap(v) => v,
            Bytes::Boxed(b) => b,
            Bytes::Mapped(m) => m.as_slice(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.as_slice().len()
    }

    pub(crate) fn as_mut_ptr(&mut self) -> *mut u8 {
        match self {
            Bytes::Heap(v) => v.as_mut_ptr(),
            Bytes::Boxed(b) => b.as_mut_ptr(),
            Bytes::Mapped(m) => m.ptr,
        }
    }

    pub(crate) fn into_vec(self) -> Vec<u8> {
        match self {
            Bytes::Heap(v) => v,
            Bytes::Boxed(b) => b.into_vec(),
            Bytes::Mapped(m) => m.as_slice().to_vec(),
        }
    }
}

/// A private, copy-on-write mapping of a whole file (writes, should the loader make any,
/// never reach the file).
#[derive(Debug)]
pub(crate) struct Mapping {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the mapping is private to this value and only reachable through it.
unsafe impl Send for Mapping {}
// SAFETY: shared access only reads.
unsafe impl Sync for Mapping {}

impl Mapping {
    fn new(file: &File, len: usize) -> Option<Mapping> {
        use std::os::fd::AsRawFd;
        if len == 0 {
            return None;
        }
        // SAFETY: a fresh private mapping of `len` bytes of an open file; the result is
        // checked before use and owned by the returned value.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        (ptr != libc::MAP_FAILED).then(|| Mapping {
            ptr: ptr.cast(),
            len,
        })
    }

    fn as_slice(&self) -> &[u8] {
        // SAFETY: `ptr` maps `len` readable bytes for as long as `self` lives.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly what mmap returned and nothing refers to the
        // mapping any more (the loader does not keep pointers into a freeable buffer).
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const TINY_AOT: &[u8] = b"\0aot\x06\0\0\0";

    /// A directory for the test whose every ancestor only root or we can change, if there
    /// is one (the home directory usually; /tmp never is).
    fn trusted_dir() -> Option<std::path::PathBuf> {
        let euid = our_euid();
        let candidates = [
            std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cache")),
            Some(std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target")),
        ];
        candidates.into_iter().flatten().find(|d| {
            d.canonicalize().is_ok_and(|d| {
                d.ancestors().all(|a| {
                    std::fs::metadata(a)
                        .is_ok_and(|m| (m.uid() == 0 || m.uid() == euid) && m.mode() & 0o022 == 0)
                })
            })
        })
    }

    fn our_euid() -> u32 {
        // The owner of a file we just created is our effective user.
        let probe = std::env::temp_dir().join(format!("wasi-hw-euid-{}", std::process::id()));
        std::fs::write(&probe, b"").unwrap();
        let uid = std::fs::metadata(&probe).unwrap().uid();
        std::fs::remove_file(&probe).unwrap();
        uid
    }

    #[test]
    fn a_trusted_aot_is_mapped_and_anything_else_read() {
        let Some(base) = trusted_dir() else {
            eprintln!("no directory only root or this user can change: mapping not tested");
            return;
        };
        let dir = base.join(format!("wasi-hw-mf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let aot = dir.join("m.aot");
        std::fs::write(&aot, TINY_AOT).unwrap();
        std::fs::set_permissions(&aot, std::fs::Permissions::from_mode(0o644)).unwrap();
        let wasm = dir.join("m.wasm");
        std::fs::write(&wasm, b"\0asm\x01\0\0\0").unwrap();

        let f = ModuleFile::open(&aot).unwrap();
        assert_eq!(f.kind(), ModuleKind::Aot);
        assert_eq!(f.bytes(), TINY_AOT);
        assert!(f.is_mapped());
        let ino = |m: Option<&std::fs::Metadata>| m.map(|m| m.ino());
        let aot_ino = std::fs::metadata(&aot).unwrap().ino();
        assert_eq!(ino(f.owner_only_metadata()), Some(aot_ino));
        let w = ModuleFile::open(&wasm).unwrap();
        assert_eq!(w.kind(), ModuleKind::Wasm);
        assert!(!w.is_mapped());
        // Read, but still a file only we can change (the signature check may cache it).
        assert!(w.owner_only_metadata().is_some());

        // A file others may write is read, even in a trusted place.
        std::fs::set_permissions(&aot, std::fs::Permissions::from_mode(0o666)).unwrap();
        let f = ModuleFile::open(&aot).unwrap();
        assert!(!f.is_mapped() && f.owner_only_metadata().is_none());
        std::fs::set_permissions(&aot, std::fs::Permissions::from_mode(0o644)).unwrap();
        // So is one below a directory others may write.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let f = ModuleFile::open(&aot).unwrap();
        assert!(!f.is_mapped() && f.owner_only_metadata().is_none());
        assert_eq!(ModuleFile::open(&aot).unwrap().into_bytes(), TINY_AOT);

        assert!(matches!(
            ModuleFile::open(&dir.join("missing.aot")),
            Err(Error::Read(_))
        ));
        std::fs::write(&aot, b"garbage!").unwrap();
        assert!(matches!(ModuleFile::open(&aot), Err(Error::NotAModule)));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_directory_is_not_a_module() {
        assert!(ModuleFile::open(Path::new("/")).is_err());
    }

    #[test]
    fn an_aot_below_a_world_writable_directory_is_read() {
        // The temp dir (/tmp: mode 1777) lets others replace files: never mapped.
        let dir = std::env::temp_dir().join(format!("wasi-hw-mf-tmp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let aot = dir.join("m.aot");
        std::fs::write(&aot, TINY_AOT).unwrap();
        let world_writable_above = std::env::temp_dir()
            .canonicalize()
            .unwrap()
            .ancestors()
            .any(|d| std::fs::metadata(d).unwrap().mode() & 0o022 != 0);
        let f = ModuleFile::open(&aot).unwrap();
        assert_eq!(f.bytes(), TINY_AOT);
        if world_writable_above {
            assert!(!f.is_mapped());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
