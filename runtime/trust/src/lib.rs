//! Signed modules: an `.aot` file is native code, so the sandbox holds only if it came from a
//! trusted compiler. This crate reads and writes the Ed25519 key and signature files of
//! OpenBSD's signify and OpenWrt's usign (the format OpenWrt signs its package feeds with),
//! keeps a [`Keyring`] of trusted public keys from a directory (like opkg's keys directory),
//! and decides with a [`Policy`] whether a module may be loaded.
//!
//! What a signature proves: the Ed25519 signature in `FILE.sig` is over the exact bytes of
//! `FILE` and was made by the secret key whose key number it names. The comment line of a key
//! or signature file is not signed ("untrusted comment"): it is only ever used as a hint in
//! error messages (which file a signature says it was made for), never to accept a file.

mod cache;
mod error;
mod files;
mod keyring;
mod keys;
mod policy;

pub use cache::{default_cache_dir, FileStamp};
pub use error::Error;
pub use files::{
    read_public_key, read_secret_key, read_signature, sign_file, signature_path, signature_text,
    write_key_pair,
};
pub use keyring::{Keyring, TrustedKey};
pub use keys::{KeyNumber, PublicKey, SecretKey, Signature};
pub use policy::{verify_detached, verify_file, Policy, Verdict, Verified, DEFAULT_KEYS_DIR};
