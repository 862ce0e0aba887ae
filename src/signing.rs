//! `wasi-hw keygen`, `sign` and `verify`, and the signature options of `run`: a thin layer
//! over `wasi-hw-trust`. The files are signify's and usign's: `signify-openbsd -V` verifies
//! what `wasi-hw sign` writes, and `wasi-hw verify` what `signify-openbsd -S` writes.
//! `keygen` and `sign` are in the build with the compiler, where modules are made; a
//! gateway build only verifies (and so carries no signing code: ~40 KB less).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use wasi_hw_trust::{Keyring, Policy, DEFAULT_KEYS_DIR};

/// The signature options of `run`.
#[derive(Args, Debug, Clone)]
pub struct TrustArgs {
    /// Directory of trusted public keys (`*.pub`, or files named by key number as usign
    /// names them).
    #[arg(long = "keys", value_name = "DIR", default_value = DEFAULT_KEYS_DIR)]
    pub keys_dir: PathBuf,
    /// Run an .aot without checking its signature (development only: its native code is
    /// not sandboxed if it did not come from a trusted compiler). Logged as a warning.
    #[arg(long, conflicts_with = "require_signature")]
    pub allow_unsigned: bool,
    /// Require a trusted signature for a .wasm too (an .aot always needs one).
    #[arg(long)]
    pub require_signature: bool,
    /// Where verified modules are remembered, so that a later start of the same unchanged
    /// file (same inode, size, mtime and ctime, same XXH3 of its bytes, same signature and
    /// key) skips the SHA-512 of the signature check. Only for files nobody but root or
    /// this user can change. Default: /var/cache/wasi-hw/verified for root, else
    /// $XDG_CACHE_HOME/wasi-hw/verified (or ~/.cache/...).
    #[arg(long, value_name = "DIR", conflicts_with = "no_verify_cache")]
    pub verify_cache: Option<PathBuf>,
    /// Check every signature in full, remembering nothing.
    #[arg(long)]
    pub no_verify_cache: bool,
}

impl TrustArgs {
    pub fn policy(&self) -> Policy {
        let cache_dir = if self.no_verify_cache {
            None
        } else {
            self.verify_cache
                .clone()
                .or_else(wasi_hw_trust::default_cache_dir)
        };
        Policy {
            keys_dir: self.keys_dir.clone(),
            allow_unsigned: self.allow_unsigned,
            require_signed_wasm: self.require_signature,
            cache_dir,
        }
    }
}

#[cfg(feature = "aot-compiler")]
#[derive(Args, Debug)]
pub struct KeygenArgs {
    /// Public key file to write (trust it by copying it into the keys directory).
    #[arg(short = 'p', value_name = "KEY.pub")]
    pub public: PathBuf,
    /// Secret key file to write (mode 0600, without a passphrase).
    #[arg(short = 's', value_name = "KEY.sec")]
    pub secret: PathBuf,
    /// Comment for both files ("COMMENT public key", "COMMENT secret key").
    #[arg(short = 'c', value_name = "COMMENT", default_value = "wasi-hw")]
    pub comment: String,
}

#[cfg(feature = "aot-compiler")]
#[derive(Args, Debug)]
pub struct SignArgs {
    /// Secret key file (signify or `wasi-hw keygen`, without a passphrase).
    #[arg(short = 's', value_name = "KEY.sec")]
    pub secret: PathBuf,
    /// Files to sign; each gets FILE.sig beside it.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Directory of trusted public keys.
    #[arg(long = "keys", value_name = "DIR", default_value = DEFAULT_KEYS_DIR)]
    pub keys_dir: PathBuf,
    /// Files whose FILE.sig to verify.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

#[cfg(feature = "aot-compiler")]
pub fn keygen(args: &KeygenArgs) -> Result<String> {
    let key = wasi_hw_trust::write_key_pair(&args.public, &args.secret, &args.comment)?;
    Ok(format!(
        "key {}: public key {}, secret key {}\n",
        key.number,
        args.public.display(),
        args.secret.display()
    ))
}

#[cfg(feature = "aot-compiler")]
pub fn sign(args: &SignArgs) -> Result<String> {
    let key = wasi_hw_trust::read_secret_key(&args.secret)?;
    let mut out = String::new();
    for file in &args.files {
        let sig = wasi_hw_trust::sign_file(file, &key)?;
        out += &format!("{}: signed with key {}\n", sig.display(), key.number);
    }
    Ok(out)
}

pub fn verify(args: &VerifyArgs) -> Result<String> {
    let keyring = Keyring::load(&args.keys_dir)?;
    let mut out = String::new();
    for file in &args.files {
        out += &verify_one(file, &keyring)?;
    }
    Ok(out)
}

fn verify_one(file: &Path, keyring: &Keyring) -> Result<String> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let verified = wasi_hw_trust::verify_file(file, &bytes, false, keyring)?;
    Ok(format!(
        "{}: signature verified (key {}, {})\n",
        file.display(),
        verified.key,
        verified.key_file.display()
    ))
}
