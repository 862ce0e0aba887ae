//! sha256 content digests: blobs and manifests are addressed by them, and every byte pulled
//! is checked against the digest it was asked for before anything else looks at it.

use anyhow::{bail, Result};
use sha2::{Digest as _, Sha256};

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in hash {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Fails unless `bytes` have the digest `expected` (only sha256, the algorithm registries
/// and the image spec require; anything else is refused rather than trusted unchecked).
pub fn check(expected: &str, bytes: &[u8], what: &str) -> Result<()> {
    if !expected.starts_with("sha256:") {
        bail!("{what}: digest {expected} is not sha256 (the only algorithm checked)");
    }
    let actual = sha256(bytes);
    if actual != expected {
        bail!("{what}: content does not match its digest (expected {expected}, got {actual}): refused");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digest() {
        assert_eq!(
            sha256(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn mismatch_and_other_algorithms_are_refused() {
        let d = sha256(b"abc");
        check(&d, b"abc", "blob").unwrap();
        let e = check(&d, b"abd", "blob").unwrap_err().to_string();
        assert!(e.contains("does not match"), "{e}");
        let e = check("sha512:00", b"abc", "blob").unwrap_err().to_string();
        assert!(e.contains("not sha256"), "{e}");
    }
}
