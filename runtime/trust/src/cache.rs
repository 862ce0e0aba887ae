//! The cache of verified modules: checking a signature hashes the whole module with
//! SHA-512 (~0.5 ms for a 224 KB `.aot` on x86_64, tens of ms on a 32-bit router CPU), at
//! every cold start. Once a module file has verified, an entry records that file (device,
//! inode, size, mtime, ctime), a 128-bit XXH3 of its bytes, the trusted key and the
//! signature; a later start with all of them unchanged skips the SHA-512.
//!
//! Why this is sound:
//! - It is used only for a file that nobody but root or this process's user can change (the
//!   caller says so with a [`FileStamp`]): any write to it by anyone moves its ctime, which
//!   no one but root can set back. A file written in the last seconds is not recorded, so a
//!   second write within the same timestamp tick cannot hide behind the first one's entry.
//! - XXH3 is not a cryptographic hash and does not need to be: it catches what changes a
//!   file without a write (flash bit rot, a torn page), where nobody chooses the bytes.
//! - The signature file's and the key's bytes are part of the entry: a new signature, or a
//!   key no longer trusted (or replaced under the same number), is a miss.
//! - The cache directory and each entry must be owned by root or this user and writable by
//!   nobody else; an entry that is not exactly what the current file, signature and key
//!   give is a miss (there is nothing to parse: the expected entry is built and compared).
//!
//! The cache is best effort: a directory that cannot be made or written only costs the full
//! check (logged at debug level).

use std::fs::Metadata;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::keyring::TrustedKey;
use crate::keys::Signature;

const MAGIC: &[u8; 8] = b"WHVC\x01\0\0\0";
/// A file whose ctime is this recent is verified but not recorded (see the module docs).
const SETTLE: Duration = Duration::from_secs(2);

/// Where `wasi-hw run` keeps its cache unless told otherwise: `/var/cache/wasi-hw/verified`
/// for root (on OpenWrt `/var` is a tmpfs), else under `$XDG_CACHE_HOME` or `~/.cache`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if rustix::process::geteuid().is_root() {
        return Some(PathBuf::from("/var/cache/wasi-hw/verified"));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))?;
    Some(base.join("wasi-hw/verified"))
}

/// The identity and change times of a module file, from the `fstat` of the file its bytes
/// were read from. Make one only for a file that only root or this user can change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileStamp {
    pub fn of(meta: &Metadata) -> FileStamp {
        FileStamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// The same file as if its last change was `secs` seconds earlier (tests cannot set a
    /// ctime).
    #[cfg(test)]
    pub(crate) fn aged(self, secs: i64) -> FileStamp {
        FileStamp {
            ctime: (self.ctime.0 - secs, self.ctime.1),
            ..self
        }
    }

    /// Whether the file changed long enough ago (its ctime before `now - SETTLE`).
    fn settled(&self, now: SystemTime) -> bool {
        let Ok(since_epoch) = now.duration_since(SystemTime::UNIX_EPOCH) else {
            return false;
        };
        let ctime = Duration::new(self.ctime.0.max(0) as u64, self.ctime.1.max(0) as u32);
        self.ctime.0 >= 0 && ctime + SETTLE < since_epoch
    }
}

/// A cache directory that passed the ownership check.
pub(crate) struct VerifiedCache {
    dir: PathBuf,
}

impl VerifiedCache {
    /// The cache in `dir`, made (mode 0700) if missing; `None` if it cannot be made or
    /// someone other than root or this user could change it.
    pub(crate) fn open(dir: &Path) -> Option<VerifiedCache> {
        if let Err(e) = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
        {
            log::debug!("verified-module cache {}: {e}; not used", dir.display());
            return None;
        }
        match std::fs::symlink_metadata(dir) {
            Ok(m) if m.is_dir() && owner_only(&m) => Some(VerifiedCache {
                dir: dir.to_path_buf(),
            }),
            _ => {
                log::warn!(
                    "verified-module cache {}: not a directory that only root or this user \
                     can change; not used",
                    dir.display()
                );
                None
            }
        }
    }

    fn entry_path(&self, stamp: &FileStamp) -> PathBuf {
        self.dir
            .join(format!("{:x}-{:x}.verified", stamp.dev, stamp.ino))
    }

    /// Whether the cache holds `expected`: this exact file, with these bytes, verified
    /// with this signature by this key.
    pub(crate) fn holds(&self, expected: &Entry) -> bool {
        let path = self.entry_path(&expected.stamp);
        let Ok(mut file) = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&path)
        else {
            return false;
        };
        let trusted = file
            .metadata()
            .is_ok_and(|m| m.is_file() && owner_only(&m) && m.len() == expected.bytes.len() as u64);
        if !trusted {
            log::debug!("{}: not an entry this user trusts; ignored", path.display());
            return false;
        }
        let mut stored = Vec::with_capacity(expected.bytes.len());
        file.read_to_end(&mut stored).is_ok() && stored == expected.bytes
    }

    /// Records a successful verification (replacing an older entry for the file), unless
    /// the file changed too recently to be told apart from a next change.
    pub(crate) fn record(&self, entry: &Entry) {
        let stamp = &entry.stamp;
        if !stamp.settled(SystemTime::now()) {
            log::debug!("module changed in the last {SETTLE:?}: verification not cached");
            return;
        }
        let path = self.entry_path(stamp);
        let tmp = self.dir.join(format!(
            ".{:x}-{:x}.{}.tmp",
            stamp.dev,
            stamp.ino,
            std::process::id()
        ));
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| f.write_all(&entry.bytes))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            log::debug!("cannot record {}: {e}", path.display());
        }
    }
}

/// Owned by root or this user, and not writable by group or others.
fn owner_only(meta: &Metadata) -> bool {
    let euid = rustix::process::geteuid().as_raw();
    (meta.uid() == 0 || meta.uid() == euid) && meta.mode() & 0o022 == 0
}

/// The entry for a file: every field that must be unchanged, in a fixed layout (built once
/// per check, then compared with the stored one or written).
pub(crate) struct Entry {
    stamp: FileStamp,
    bytes: Vec<u8>,
}

impl Entry {
    pub(crate) fn new(
        stamp: &FileStamp,
        module: &[u8],
        signature: &Signature,
        key: &TrustedKey,
    ) -> Entry {
        let mut e = Vec::with_capacity(200);
        e.extend_from_slice(MAGIC);
        for v in [stamp.dev, stamp.ino, stamp.size] {
            e.extend_from_slice(&v.to_le_bytes());
        }
        for v in [stamp.mtime.0, stamp.mtime.1, stamp.ctime.0, stamp.ctime.1] {
            e.extend_from_slice(&v.to_le_bytes());
        }
        e.extend_from_slice(&(module.len() as u64).to_le_bytes());
        e.extend_from_slice(&xxhash_rust::xxh3::xxh3_128(module).to_le_bytes());
        e.extend_from_slice(&key.key.to_bytes());
        e.extend_from_slice(&signature.to_bytes());
        Entry {
            stamp: *stamp,
            bytes: e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SecretKey;
    use std::os::unix::fs::PermissionsExt;

    struct Fixture {
        _dir: tempfile::TempDir,
        cache: VerifiedCache,
        key: TrustedKey,
        signature: Signature,
        stamp: FileStamp,
    }

    const BYTES: &[u8] = b"\0aot module bytes";

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let cache = VerifiedCache::open(&dir.path().join("cache")).unwrap();
        let secret = SecretKey::from_random([1; 32], [2; 8], [3; 16]);
        let module = dir.path().join("m.aot");
        std::fs::write(&module, BYTES).unwrap();
        // As if written a minute ago (settled).
        let stamp = FileStamp::of(&std::fs::metadata(&module).unwrap()).aged(60);
        Fixture {
            cache,
            key: TrustedKey {
                key: secret.public_key(),
                file: dir.path().join("k.pub"),
            },
            signature: secret.sign(BYTES),
            stamp,
            _dir: dir,
        }
    }

    #[test]
    fn a_recorded_verification_holds_for_the_same_file_only() {
        let f = fixture();
        assert!(!f
            .cache
            .holds(&Entry::new(&f.stamp, BYTES, &f.signature, &f.key)));
        f.cache
            .record(&Entry::new(&f.stamp, BYTES, &f.signature, &f.key));
        assert!(f
            .cache
            .holds(&Entry::new(&f.stamp, BYTES, &f.signature, &f.key)));

        // A flipped bit without a write (same stamp): the XXH3 differs.
        let mut rotted = BYTES.to_vec();
        rotted[5] ^= 0x10;
        assert!(!f
            .cache
            .holds(&Entry::new(&f.stamp, &rotted, &f.signature, &f.key)));
        // A write (ctime moves), another inode, another size.
        for changed in [
            FileStamp {
                ctime: (f.stamp.ctime.0, f.stamp.ctime.1 + 1),
                ..f.stamp
            },
            FileStamp {
                mtime: (f.stamp.mtime.0 + 1, f.stamp.mtime.1),
                ..f.stamp
            },
            FileStamp {
                size: f.stamp.size + 1,
                ..f.stamp
            },
        ] {
            assert!(!f
                .cache
                .holds(&Entry::new(&changed, BYTES, &f.signature, &f.key)));
        }
        // Another signature, or another key under the same number.
        let other = SecretKey::from_random([9; 32], [2; 8], [3; 16]);
        assert!(!f
            .cache
            .holds(&Entry::new(&f.stamp, BYTES, &other.sign(BYTES), &f.key)));
        let replaced = TrustedKey {
            key: other.public_key(),
            ..f.key.clone()
        };
        assert!(!f
            .cache
            .holds(&Entry::new(&f.stamp, BYTES, &f.signature, &replaced)));
    }

    #[test]
    fn a_file_changed_just_now_is_not_recorded() {
        let mut f = fixture();
        f.stamp = f.stamp.aged(-60);
        f.cache
            .record(&Entry::new(&f.stamp, BYTES, &f.signature, &f.key));
        assert!(!f
            .cache
            .holds(&Entry::new(&f.stamp, BYTES, &f.signature, &f.key)));
        assert_eq!(std::fs::read_dir(&f.cache.dir).unwrap().count(), 0);
    }

    #[test]
    fn entries_and_directories_others_can_write_are_not_trusted() {
        let f = fixture();
        f.cache
            .record(&Entry::new(&f.stamp, BYTES, &f.signature, &f.key));
        let entry = f.cache.entry_path(&f.stamp);
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o622)).unwrap();
        assert!(!f
            .cache
            .holds(&Entry::new(&f.stamp, BYTES, &f.signature, &f.key)));
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(f
            .cache
            .holds(&Entry::new(&f.stamp, BYTES, &f.signature, &f.key)));
        // A truncated or garbled entry is a miss, not an error.
        std::fs::write(&entry, b"WHVC").unwrap();
        assert!(!f
            .cache
            .holds(&Entry::new(&f.stamp, BYTES, &f.signature, &f.key)));

        std::fs::set_permissions(&f.cache.dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(VerifiedCache::open(&f.cache.dir).is_none());
    }
}
