//! The text form of signify/usign files: `untrusted comment: ...` on the first line, the
//! base64 of the binary form on the second.

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use crate::error::Error;
use crate::keys::{PublicKey, SecretKey, Signature};

const COMMENT_HEADER: &str = "untrusted comment: ";
/// signify's limit for the comment line.
const COMMENT_MAX: usize = 1024;

/// A file's comment (without the header) and decoded binary form.
pub(crate) struct B64File {
    pub comment: String,
    pub bytes: Vec<u8>,
}

pub(crate) fn parse(text: &[u8]) -> Result<B64File, String> {
    let text = std::str::from_utf8(text).map_err(|_| "not text".to_string())?;
    let mut lines = text.split('\n');
    let comment = lines
        .next()
        .and_then(|l| l.strip_prefix(COMMENT_HEADER))
        .ok_or_else(|| format!("the first line does not start with {COMMENT_HEADER:?}"))?;
    let data = lines
        .next()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.is_empty())
        .ok_or("no base64 line after the comment")?;
    // signify -e puts the message after the signature: not a detached signature.
    if lines.any(|l| !l.is_empty()) {
        return Err("text after the base64 line (an embedded signature, signify -e?)".into());
    }
    let bytes = BASE64
        .decode(data)
        .map_err(|e| format!("the second line is not base64 ({e})"))?;
    Ok(B64File {
        comment: comment.trim_end_matches('\r').to_string(),
        bytes,
    })
}

pub(crate) fn format(comment: &str, bytes: &[u8]) -> Result<String, String> {
    if comment.contains('\n') || comment.len() > COMMENT_MAX {
        return Err(format!(
            "a comment is one line of at most {COMMENT_MAX} bytes"
        ));
    }
    Ok(format!(
        "{COMMENT_HEADER}{comment}\n{}\n",
        BASE64.encode(bytes)
    ))
}

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn read_parsed<T>(
    path: &Path,
    from_bytes: impl Fn(&[u8]) -> Result<T, String>,
) -> Result<(T, String), Error> {
    let malformed = |reason: String| Error::Malformed {
        path: path.to_path_buf(),
        reason,
    };
    let file = parse(&read(path)?).map_err(malformed)?;
    let value = from_bytes(&file.bytes).map_err(malformed)?;
    Ok((value, file.comment))
}

/// Reads a public key file (`.pub`); returns the key and its comment.
pub fn read_public_key(path: &Path) -> Result<(PublicKey, String), Error> {
    read_parsed(path, PublicKey::from_bytes)
}

/// Reads an unencrypted secret key file (`.sec`); a passphrase-protected one is refused.
pub fn read_secret_key(path: &Path) -> Result<SecretKey, Error> {
    read_parsed(path, SecretKey::from_bytes).map(|(key, _)| key)
}

/// Reads a detached signature file; returns the signature and its comment.
pub fn read_signature(path: &Path) -> Result<(Signature, String), Error> {
    read_parsed(path, Signature::from_bytes)
}

/// The signature and comment of the text of a detached signature file.
pub(crate) fn parse_signature(text: &[u8]) -> Result<(Signature, String), String> {
    let file = parse(text)?;
    Ok((Signature::from_bytes(&file.bytes)?, file.comment))
}

/// The text of `NAME.sig` for a file called `name` with contents `bytes`: what
/// [`sign_file`] writes, for bytes that are not in a file (a module about to be pushed).
pub fn signature_text(name: &str, bytes: &[u8], key: &SecretKey) -> Result<String, Error> {
    let comment = format!("{name} {}{}", crate::policy::SIGNED_BY, key.number);
    format(&comment, &key.sign(bytes).to_bytes()).map_err(Error::Comment)
}

/// Where the detached signature of `module` is: the same path with `.sig` appended.
pub fn signature_path(module: &Path) -> PathBuf {
    let mut p = module.as_os_str().to_owned();
    p.push(".sig");
    PathBuf::from(p)
}

/// Makes a new key pair (randomness from the kernel) and writes both files, refusing to
/// replace existing ones; the secret key file is readable by its owner only (0600).
/// `comment` goes into both files as signify does it: "COMMENT public key" and "COMMENT
/// secret key".
pub fn write_key_pair(public: &Path, secret: &Path, comment: &str) -> Result<SecretKey, Error> {
    let key = SecretKey::from_random(random()?, random()?, random()?);
    let text = |kind: &str, bytes: &[u8]| {
        format(&format!("{comment} {kind} key"), bytes).map_err(Error::Comment)
    };
    let secret_text = text("secret", &key.to_bytes())?;
    let public_text = text("public", &key.public_key().to_bytes())?;
    for path in [public, secret] {
        if path.exists() {
            return Err(Error::Exists(path.to_path_buf()));
        }
    }
    write_new(secret, &secret_text, 0o600)?;
    write_new(public, &public_text, 0o644)?;
    Ok(key)
}

/// Writes `FILE.sig` for `file`'s bytes (replacing an older one), with a comment that
/// names the key and the file: "NAME signed by key KEYNUM" (usign writes "signed by key
/// KEYNUM"; the file name lets a mismatch be explained, see [`crate::verify_file`]).
pub fn sign_file(file: &Path, key: &SecretKey) -> Result<PathBuf, Error> {
    let bytes = read(file)?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let text = signature_text(&name, &bytes, key)?;
    let sig = signature_path(file);
    std::fs::write(&sig, text).map_err(|source| Error::Write {
        path: sig.clone(),
        source,
    })?;
    Ok(sig)
}

fn write_new(path: &Path, text: &str, mode: u32) -> Result<(), Error> {
    let write_error = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(write_error)?;
    f.write_all(text.as_bytes()).map_err(write_error)
}

/// Random bytes from the kernel's generator (keys are made on development machines, where
/// it is seeded long before anyone runs keygen).
fn random<const N: usize>() -> Result<[u8; N], Error> {
    let path = Path::new("/dev/urandom");
    let mut buf = [0u8; N];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn text_form_round_trips_and_bad_text_says_what_is_wrong() {
        let text = format("a key", b"Ed0123456789").unwrap();
        assert_eq!(text, "untrusted comment: a key\nRWQwMTIzNDU2Nzg5\n");
        let parsed = parse(text.as_bytes()).unwrap();
        assert_eq!(parsed.comment, "a key");
        assert_eq!(parsed.bytes, b"Ed0123456789");
        // Without the final newline, and with CRLF line ends.
        assert!(parse(text.trim_end().as_bytes()).is_ok());
        assert_eq!(
            parse(text.replace('\n', "\r\n").as_bytes()).unwrap().bytes,
            b"Ed0123456789"
        );
        let err = |t: &str| parse(t.as_bytes()).err().unwrap();
        assert!(err("comment: x\nRWQ=\n").contains("first line"));
        assert!(err("untrusted comment: x").contains("no base64 line"));
        assert!(err("untrusted comment: x\n").contains("no base64 line"));
        assert!(err("untrusted comment: x\n!!!\n").contains("not base64"));
        assert!(err("untrusted comment: x\nRWQ=\nhello\n").contains("embedded"));
        assert!(parse(b"untrusted comment: \xff\nRWQ=\n").is_err());
        assert!(format("two\nlines", b"").is_err());
        assert!(format(&"x".repeat(1025), b"").is_err());
    }

    #[test]
    fn key_pairs_are_written_once_with_a_private_secret_key() {
        let dir = tempfile::tempdir().unwrap();
        let (public, secret) = (dir.path().join("k.pub"), dir.path().join("k.sec"));
        let key = write_key_pair(&public, &secret, "test").unwrap();
        let mode = std::fs::metadata(&secret).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(read_secret_key(&secret).unwrap(), key);
        let (pk, comment) = read_public_key(&public).unwrap();
        assert_eq!(pk, key.public_key());
        assert_eq!(comment, "test public key");
        assert!(matches!(
            write_key_pair(&public, &dir.path().join("other.sec"), "test"),
            Err(Error::Exists(_))
        ));
        // Two key pairs differ (randomness is used).
        let key2 =
            write_key_pair(&dir.path().join("2.pub"), &dir.path().join("2.sec"), "x").unwrap();
        assert_ne!(key.number, key2.number);
        assert_ne!(key.public_key().key, key2.public_key().key);
    }

    #[test]
    fn a_signed_file_verifies_and_its_comment_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let key = SecretKey::from_random([3; 32], [4; 8], [5; 16]);
        let file = dir.path().join("m.aot");
        std::fs::write(&file, b"\0aot module").unwrap();
        let sig_path = sign_file(&file, &key).unwrap();
        assert_eq!(sig_path, dir.path().join("m.aot.sig"));
        let (sig, comment) = read_signature(&sig_path).unwrap();
        assert_eq!(comment, format!("m.aot signed by key {}", key.number));
        assert!(key.public_key().verifies(b"\0aot module", &sig));
    }
}
