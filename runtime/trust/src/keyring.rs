//! Trusted public keys from a directory, as opkg keeps usign keys in `/etc/opkg/keys`: each
//! file named by its key number in hex (what `usign -F` prints) or ending in `.pub` (what
//! signify and `wasi-hw keygen` write) is a trusted key; other files (a README) are ignored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::files::read_public_key;
use crate::keys::{KeyNumber, PublicKey};

/// One trusted key and the file it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedKey {
    pub key: PublicKey,
    pub file: PathBuf,
}

/// The trusted keys, by key number.
#[derive(Clone, Debug, Default)]
pub struct Keyring {
    dir: PathBuf,
    dir_missing: bool,
    keys: BTreeMap<KeyNumber, TrustedKey>,
}

impl Keyring {
    /// Loads every key file in `dir`. A directory that does not exist is an empty keyring
    /// (nothing signed verifies; the error then says the directory is missing). A key file
    /// that does not parse is an error rather than skipped: a trusted key silently lost is
    /// a failure that would only show later, as "unknown key".
    pub fn load(dir: &Path) -> Result<Keyring, Error> {
        let mut ring = Keyring {
            dir: dir.to_path_buf(),
            ..Default::default()
        };
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                ring.dir_missing = true;
                return Ok(ring);
            }
            Err(e) => {
                return Err(Error::Keyring {
                    dir: dir.to_path_buf(),
                    reason: e.to_string(),
                })
            }
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| is_key_file_name(p) && p.is_file())
            .collect();
        paths.sort();
        for path in paths {
            let (key, _comment) = read_public_key(&path)?;
            let named = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(KeyNumber::from_hex);
            if named.is_some_and(|n| n != key.number) {
                return Err(Error::Keyring {
                    dir: dir.to_path_buf(),
                    reason: format!(
                        "{} holds key {}, not the key its name says",
                        path.display(),
                        key.number
                    ),
                });
            }
            ring.add(TrustedKey { key, file: path })?;
        }
        log::debug!("{} trusted keys in {}", ring.keys.len(), dir.display());
        Ok(ring)
    }

    /// Adds a key (two different keys under one key number are refused: which one a
    /// signature means would be ambiguous; the same key twice is fine).
    pub fn add(&mut self, trusted: TrustedKey) -> Result<(), Error> {
        if let Some(old) = self.keys.get(&trusted.key.number) {
            if old.key != trusted.key {
                return Err(Error::Keyring {
                    dir: self.dir.clone(),
                    reason: format!(
                        "{} and {} are different keys with the same key number {}",
                        old.file.display(),
                        trusted.file.display(),
                        trusted.key.number
                    ),
                });
            }
            return Ok(());
        }
        self.keys.insert(trusted.key.number, trusted);
        Ok(())
    }

    pub fn get(&self, number: KeyNumber) -> Option<&TrustedKey> {
        self.keys.get(&number)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The directory the keys came from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn dir_missing(&self) -> bool {
        self.dir_missing
    }
}

fn is_key_file_name(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    name.ends_with(".pub") || KeyNumber::from_hex(name).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::write_key_pair;

    #[test]
    fn keys_are_found_by_pub_suffix_or_key_number_and_other_files_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        std::fs::create_dir(&keys).unwrap();
        let a = write_key_pair(&keys.join("a.pub"), &dir.path().join("a.sec"), "a").unwrap();
        // usign style: the file named by the key number.
        let tmp_pub = dir.path().join("b.pub");
        let b = write_key_pair(&tmp_pub, &dir.path().join("b.sec"), "b").unwrap();
        std::fs::copy(&tmp_pub, keys.join(b.number.to_string())).unwrap();
        std::fs::write(keys.join("README"), "trusted keys go here\n").unwrap();
        let ring = Keyring::load(&keys).unwrap();
        assert_eq!(ring.len(), 2);
        assert_eq!(ring.get(a.number).unwrap().key, a.public_key());
        assert_eq!(
            ring.get(b.number).unwrap().file,
            keys.join(b.number.to_string())
        );

        // A key file under another key's number is refused.
        std::fs::copy(&tmp_pub, keys.join(a.number.to_string())).unwrap();
        let err = Keyring::load(&keys).unwrap_err().to_string();
        assert!(err.contains("not the key its name says"), "{err}");
        std::fs::remove_file(keys.join(a.number.to_string())).unwrap();

        // A broken key file is an error naming it.
        std::fs::write(keys.join("broken.pub"), "untrusted comment: x\nRWQ=\n").unwrap();
        let err = Keyring::load(&keys).unwrap_err().to_string();
        assert!(err.contains("broken.pub"), "{err}");
    }

    #[test]
    fn a_missing_directory_is_an_empty_keyring() {
        let ring = Keyring::load(Path::new("/nonexistent/wasi-hw/keys")).unwrap();
        assert!(ring.is_empty());
        assert!(ring.dir_missing());
    }
}
