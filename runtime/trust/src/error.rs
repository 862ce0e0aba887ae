use std::path::PathBuf;

use crate::keys::KeyNumber;

/// Why a key, a signature or a module was refused; each is one line that names the file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} already exists; not replacing a key", .0.display())]
    Exists(PathBuf),
    #[error("{0}")]
    Comment(String),
    /// A key or signature file that is not one (or a secret key with a passphrase).
    #[error("{}: {reason}", path.display())]
    Malformed { path: PathBuf, reason: String },
    #[error("{}: not signed: {} is missing (sign it with `wasi-hw sign -s KEY.sec FILE`{})",
        module.display(), signature.display(), if *native { "; --allow-unsigned runs it unchecked, for development only" } else { "" })]
    Unsigned {
        module: PathBuf,
        signature: PathBuf,
        /// Whether the module is native code (an `.aot`): then --allow-unsigned is mentioned.
        native: bool,
    },
    #[error("{}: signed by key {key}, which is not trusted: no such key in {}{}",
        module.display(), keys_dir.display(), if *keys_dir_missing { " (the directory does not exist)" } else { "" })]
    UnknownKey {
        module: PathBuf,
        key: KeyNumber,
        keys_dir: PathBuf,
        keys_dir_missing: bool,
    },
    #[error("{}: bad signature: {} (key {key}) {}", module.display(), signature.display(),
        match made_for { Some(other) => format!("was made for another file, {other}, says its comment"),
                         None => "does not match the file's contents (changed or corrupt)".into() })]
    BadSignature {
        module: PathBuf,
        signature: PathBuf,
        key: KeyNumber,
        /// The file the signature's (unsigned) comment names, when it names another one.
        made_for: Option<String>,
    },
    #[error("keys directory {}: {reason}", dir.display())]
    Keyring { dir: PathBuf, reason: String },
}
