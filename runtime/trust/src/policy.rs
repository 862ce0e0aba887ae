//! Which modules must be signed, and the check of one module's detached signature.

use std::path::{Path, PathBuf};

use crate::cache::{Entry, FileStamp, VerifiedCache};
use crate::error::Error;
use crate::files::{read_signature, signature_path};
use crate::keyring::Keyring;
use crate::keys::{KeyNumber, Signature};

/// Where trusted keys are by default (like opkg's `/etc/opkg/keys`).
pub const DEFAULT_KEYS_DIR: &str = "/etc/wasi-hw/keys";

/// What usign writes in a signature's comment before the key number; `wasi-hw sign` puts
/// the file name in front of it.
pub(crate) const SIGNED_BY: &str = "signed by key ";

/// The load policy: an `.aot` is native code and must be signed by a trusted key unless
/// `allow_unsigned` (a development setting); a `.wasm` is checked by the loader and runs
/// sandboxed, so its signature is required only when `require_signed_wasm`. With a
/// `cache_dir`, a verification is remembered for files only root or this user can change
/// (see [`Policy::check_file`] and the cache's docs).
#[derive(Clone, Debug)]
pub struct Policy {
    pub keys_dir: PathBuf,
    pub allow_unsigned: bool,
    pub require_signed_wasm: bool,
    pub cache_dir: Option<PathBuf>,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            keys_dir: PathBuf::from(DEFAULT_KEYS_DIR),
            allow_unsigned: false,
            require_signed_wasm: false,
            cache_dir: None,
        }
    }
}

/// A signature that verified: by this trusted key, from this file of the keys directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub key: KeyNumber,
    pub key_file: PathBuf,
}

/// The outcome of a check that let the module through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Verified(Verified),
    /// A `.wasm` under a policy that does not require its signature: not checked.
    NotRequired,
    /// Not checked because the policy allows unsigned modules.
    Unchecked,
}

impl Policy {
    /// Decides whether `module` (whose bytes, as they will be loaded, are `bytes`; `native`
    /// for an `.aot`) may be loaded, reading `module.sig` and the keys directory if needed.
    pub fn check(&self, module: &Path, bytes: &[u8], native: bool) -> Result<Verdict, Error> {
        self.check_file(module, bytes, native, None)
    }

    /// [`Policy::check`], for a file whose `stamp` (from the `fstat` of the file `bytes`
    /// were read from) the caller gives only if nobody but root or this user can change
    /// it: then the policy's cache may remember the verification and skip the SHA-512 of a
    /// later check of the same unchanged file.
    pub fn check_file(
        &self,
        module: &Path,
        bytes: &[u8],
        native: bool,
        stamp: Option<FileStamp>,
    ) -> Result<Verdict, Error> {
        if self.allow_unsigned {
            if native {
                log::warn!(
                    "{}: signature not checked (--allow-unsigned): its native code runs in \
                     this process unverified",
                    module.display()
                );
            }
            return Ok(Verdict::Unchecked);
        }
        if !native && !self.require_signed_wasm {
            log::debug!("{}: .wasm signature not required", module.display());
            return Ok(Verdict::NotRequired);
        }
        let keyring = Keyring::load(&self.keys_dir)?;
        let cache = stamp
            .zip(self.cache_dir.as_deref())
            .and_then(|(stamp, dir)| Some((stamp, VerifiedCache::open(dir)?)));
        verify(module, bytes, native, &keyring, cache.as_ref()).map(Verdict::Verified)
    }
}

/// Verifies `module.sig` against `bytes` (the module's contents as read once, so that what
/// is verified is exactly what is loaded) with a key of `keyring`.
pub fn verify_file(
    module: &Path,
    bytes: &[u8],
    native: bool,
    keyring: &Keyring,
) -> Result<Verified, Error> {
    verify(module, bytes, native, keyring, None)
}

fn verify(
    module: &Path,
    bytes: &[u8],
    native: bool,
    keyring: &Keyring,
    cache: Option<&(FileStamp, VerifiedCache)>,
) -> Result<Verified, Error> {
    let sig_path = signature_path(module);
    if !sig_path.exists() {
        return Err(Error::Unsigned {
            module: module.to_path_buf(),
            signature: sig_path,
            native,
        });
    }
    let (signature, comment) = read_signature(&sig_path)?;
    check_signature(
        module, &sig_path, &signature, &comment, bytes, keyring, cache,
    )
}

/// Verifies `bytes` against a detached signature given as the text of a `.sig` file (one
/// that came over the network, say, before anything is written): errors name `module` and
/// the `.sig` it would be installed as.
pub fn verify_detached(
    module: &Path,
    bytes: &[u8],
    signature_text: &[u8],
    keyring: &Keyring,
) -> Result<Verified, Error> {
    let sig_path = signature_path(module);
    let (signature, comment) =
        crate::files::parse_signature(signature_text).map_err(|reason| Error::Malformed {
            path: sig_path.clone(),
            reason,
        })?;
    check_signature(
        module, &sig_path, &signature, &comment, bytes, keyring, None,
    )
}

fn check_signature(
    module: &Path,
    sig_path: &Path,
    signature: &Signature,
    comment: &str,
    bytes: &[u8],
    keyring: &Keyring,
    cache: Option<&(FileStamp, VerifiedCache)>,
) -> Result<Verified, Error> {
    let Some(trusted) = keyring.get(signature.number) else {
        return Err(Error::UnknownKey {
            module: module.to_path_buf(),
            key: signature.number,
            keys_dir: keyring.dir().to_path_buf(),
            keys_dir_missing: keyring.dir_missing(),
        });
    };
    let verified = Verified {
        key: signature.number,
        key_file: trusted.file.clone(),
    };
    let entry = cache.map(|(stamp, cache)| (cache, Entry::new(stamp, bytes, signature, trusted)));
    if let Some((cache, entry)) = &entry {
        if cache.holds(entry) {
            log::debug!(
                "{}: verified earlier, unchanged since (key {})",
                module.display(),
                signature.number
            );
            return Ok(verified);
        }
    }
    if !trusted.key.verifies(bytes, signature) {
        return Err(Error::BadSignature {
            module: module.to_path_buf(),
            signature: sig_path.to_path_buf(),
            key: signature.number,
            made_for: named_file(comment).filter(|named| {
                module.file_name().and_then(|n| n.to_str()) != Some(named.as_str())
            }),
        });
    }
    log::debug!(
        "{}: signed by trusted key {} ({})",
        module.display(),
        signature.number,
        trusted.file.display()
    );
    if let Some((cache, entry)) = &entry {
        cache.record(entry);
    }
    Ok(verified)
}

/// The file a `wasi-hw sign` comment ("NAME signed by key KEYNUM") names. signify's
/// comments name the public key ("verify with KEY.pub"), usign's only the key number
/// ("signed by key KEYNUM"): for those, no file is named.
fn named_file(comment: &str) -> Option<String> {
    let (name, _) = comment.rsplit_once(&format!(" {SIGNED_BY}"))?;
    (!name.is_empty()).then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::{sign_file, write_key_pair};

    struct Fixture {
        dir: tempfile::TempDir,
        key: crate::SecretKey,
    }

    impl Fixture {
        fn new() -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir(dir.path().join("keys")).unwrap();
            let key = write_key_pair(
                &dir.path().join("keys/dev.pub"),
                &dir.path().join("dev.sec"),
                "dev",
            )
            .unwrap();
            Fixture { dir, key }
        }

        fn policy(&self) -> Policy {
            Policy {
                keys_dir: self.dir.path().join("keys"),
                ..Policy::default()
            }
        }

        fn module(&self, name: &str, bytes: &[u8], signed: bool) -> PathBuf {
            let path = self.dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            if signed {
                sign_file(&path, &self.key).unwrap();
            }
            path
        }
    }

    #[test]
    fn a_signed_module_passes_and_a_changed_byte_fails() {
        let f = Fixture::new();
        let m = f.module("m.aot", b"\0aot code", true);
        assert_eq!(
            f.policy().check(&m, b"\0aot code", true).unwrap(),
            Verdict::Verified(Verified {
                key: f.key.number,
                key_file: f.dir.path().join("keys/dev.pub")
            })
        );
        let err = f.policy().check(&m, b"\0aot codf", true).unwrap_err();
        assert!(
            matches!(err, Error::BadSignature { made_for: None, .. }),
            "{err}"
        );
        assert!(err
            .to_string()
            .contains("does not match the file's contents"));
    }

    #[test]
    fn a_cached_verification_needs_the_same_bytes_signature_and_trusted_key() {
        let f = Fixture::new();
        let m = f.module("m.aot", b"\0aot code", true);
        let cache = f.dir.path().join("cache");
        let policy = Policy {
            cache_dir: Some(cache.clone()),
            ..f.policy()
        };
        let stamp = || Some(FileStamp::of(&std::fs::metadata(&m).unwrap()).aged(60));
        let entries = || std::fs::read_dir(&cache).map_or(0, |d| d.count());
        // Without a stamp (a file others could change) nothing is remembered.
        assert!(policy.check_file(&m, b"\0aot code", true, None).is_ok());
        assert_eq!(entries(), 0);
        assert!(policy.check_file(&m, b"\0aot code", true, stamp()).is_ok());
        assert_eq!(entries(), 1);
        assert!(matches!(
            policy.check_file(&m, b"\0aot code", true, stamp()),
            Ok(Verdict::Verified(_))
        ));
        // The same stamp with other bytes (changed without a write): checked in full.
        assert!(matches!(
            policy.check_file(&m, b"\0aot codf", true, stamp()),
            Err(Error::BadSignature { .. })
        ));
        // The key no longer trusted: refused although the entry is there.
        let untrusting = Policy {
            keys_dir: f.dir.path().join("no-keys"),
            ..policy.clone()
        };
        assert!(matches!(
            untrusting.check_file(&m, b"\0aot code", true, stamp()),
            Err(Error::UnknownKey { .. })
        ));
        // The signature file gone: refused.
        std::fs::remove_file(signature_path(&m)).unwrap();
        assert!(matches!(
            policy.check_file(&m, b"\0aot code", true, stamp()),
            Err(Error::Unsigned { .. })
        ));
    }

    #[test]
    fn an_unsigned_aot_is_refused_unless_allowed_and_wasm_only_when_required() {
        let f = Fixture::new();
        let aot = f.module("m.aot", b"\0aot", false);
        let err = f
            .policy()
            .check(&aot, b"\0aot", true)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("m.aot.sig is missing") && err.contains("--allow-unsigned"),
            "{err}"
        );
        let allowed = Policy {
            allow_unsigned: true,
            ..f.policy()
        };
        assert_eq!(
            allowed.check(&aot, b"\0aot", true).unwrap(),
            Verdict::Unchecked
        );

        let wasm = f.module("m.wasm", b"\0asm", false);
        assert_eq!(
            f.policy().check(&wasm, b"\0asm", false).unwrap(),
            Verdict::NotRequired
        );
        let strict = Policy {
            require_signed_wasm: true,
            ..f.policy()
        };
        let err = strict
            .check(&wasm, b"\0asm", false)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("m.wasm.sig is missing") && !err.contains("--allow-unsigned"),
            "{err}"
        );
        let signed = f.module("s.wasm", b"\0asm", true);
        assert!(matches!(
            strict.check(&signed, b"\0asm", false).unwrap(),
            Verdict::Verified(_)
        ));
    }

    #[test]
    fn an_unknown_key_names_the_key_and_the_directory() {
        let f = Fixture::new();
        let m = f.module("m.aot", b"\0aot", true);
        let other = Policy {
            keys_dir: f.dir.path().join("no-such-dir"),
            ..f.policy()
        };
        let err = other.check(&m, b"\0aot", true).unwrap_err().to_string();
        assert!(
            err.contains(&format!("signed by key {}", f.key.number))
                && err.contains("no-such-dir (the directory does not exist)"),
            "{err}"
        );
    }

    #[test]
    fn a_signature_copied_from_another_file_says_which_file_it_was_for() {
        let f = Fixture::new();
        f.module("a.aot", b"\0aot a", true);
        let b = f.module("b.aot", b"\0aot b", false);
        std::fs::copy(f.dir.path().join("a.aot.sig"), signature_path(&b)).unwrap();
        let err = f.policy().check(&b, b"\0aot b", true).unwrap_err();
        assert!(
            err.to_string()
                .contains("was made for another file, a.aot, says its comment"),
            "{err}"
        );
        // The comment is only a hint: the same file under a new name still verifies.
        let renamed = f.dir.path().join("renamed.aot");
        std::fs::copy(f.dir.path().join("a.aot"), &renamed).unwrap();
        std::fs::copy(f.dir.path().join("a.aot.sig"), signature_path(&renamed)).unwrap();
        assert!(f.policy().check(&renamed, b"\0aot a", true).is_ok());
    }

    #[test]
    fn a_malformed_signature_file_is_named() {
        let f = Fixture::new();
        let m = f.module("m.aot", b"\0aot", false);
        std::fs::write(signature_path(&m), "untrusted comment: x\nnot base64!\n").unwrap();
        let err = f
            .policy()
            .check(&m, b"\0aot", true)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("m.aot.sig: the second line is not base64"),
            "{err}"
        );
    }

    #[test]
    fn comments_name_a_file_only_in_wasi_hw_form() {
        assert_eq!(
            named_file("m.aot signed by key 0011223344556677").as_deref(),
            Some("m.aot")
        );
        assert_eq!(named_file("signed by key 0011223344556677"), None);
        assert_eq!(named_file("verify with dev.pub"), None);
    }
}
