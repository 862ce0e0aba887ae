//! The binary contents of signify/usign files (the base64 line), as signify's `pubkey`,
//! `enckey` and `sig` structures: all start with the algorithm `Ed` and an 8-byte key
//! number that ties a signature to the key that made it.

use std::fmt;

use ed25519_compact as ed;

const ALGORITHM: &[u8; 2] = b"Ed";
/// signify's key derivation for passphrases (bcrypt_pbkdf); with 0 rounds, no passphrase.
const KDF_ALGORITHM: &[u8; 2] = b"BK";

/// The 8 random bytes that name a key pair; shown as 16 hex digits, which is also the file
/// name usign and opkg give a trusted key (`usign -F` prints it).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyNumber(pub [u8; 8]);

impl fmt::Display for KeyNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for KeyNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyNumber({self})")
    }
}

impl KeyNumber {
    /// Parses 16 hex digits (a usign key file name).
    pub fn from_hex(s: &str) -> Option<KeyNumber> {
        if s.len() != 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut n = [0u8; 8];
        for (i, byte) in n.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(KeyNumber(n))
    }
}

/// A public key: `Ed`, key number, 32-byte Ed25519 key (42 bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    pub number: KeyNumber,
    pub key: [u8; 32],
}

/// An unencrypted secret key: `Ed` `BK`, kdf rounds 0, salt, checksum (first 8 bytes of the
/// SHA-512 of the secret key), key number, 64-byte Ed25519 secret key (seed and public key).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey {
    pub number: KeyNumber,
    salt: [u8; 16],
    key: [u8; 64],
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", self.number)
    }
}

/// A signature: `Ed`, key number, 64-byte Ed25519 signature (74 bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    pub number: KeyNumber,
    pub signature: [u8; 64],
}

fn check_algorithm(bytes: &[u8], len: usize, what: &str) -> Result<(), String> {
    if bytes.len() != len {
        return Err(format!(
            "{} bytes where a {what} has {len} (not a signify/usign {what})",
            bytes.len()
        ));
    }
    if &bytes[..2] != ALGORITHM {
        return Err(format!(
            "algorithm {:?}, not Ed25519 (\"Ed\")",
            String::from_utf8_lossy(&bytes[..2])
        ));
    }
    Ok(())
}

fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    bytes.try_into().expect("length checked by the caller")
}

impl PublicKey {
    pub const LEN: usize = 42;

    pub fn from_bytes(bytes: &[u8]) -> Result<PublicKey, String> {
        check_algorithm(bytes, Self::LEN, "public key")?;
        Ok(PublicKey {
            number: KeyNumber(array(&bytes[2..10])),
            key: array(&bytes[10..42]),
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        [&ALGORITHM[..], &self.number.0, &self.key].concat()
    }

    /// Whether `signature` is this key's signature of `message` (the key numbers must match
    /// too: a signature names the key that made it).
    pub fn verifies(&self, message: &[u8], signature: &Signature) -> bool {
        signature.number == self.number
            && ed::PublicKey::new(self.key)
                .verify(message, &ed::Signature::new(signature.signature))
                .is_ok()
    }
}

impl SecretKey {
    pub const LEN: usize = 104;

    /// A new key pair from 32 random bytes of seed, 8 of key number and 16 of salt (the salt
    /// is unused without a passphrase; signify writes a random one all the same).
    pub fn from_random(seed: [u8; 32], number: [u8; 8], salt: [u8; 16]) -> SecretKey {
        let pair = ed::KeyPair::from_seed(ed::Seed::new(seed));
        SecretKey {
            number: KeyNumber(number),
            salt,
            key: *pair.sk,
        }
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<SecretKey, String> {
        check_algorithm(bytes, Self::LEN, "secret key")?;
        if &bytes[2..4] != KDF_ALGORITHM {
            return Err(format!(
                "key derivation {:?}, not signify's \"BK\"",
                String::from_utf8_lossy(&bytes[2..4])
            ));
        }
        let rounds = u32::from_be_bytes(array(&bytes[4..8]));
        if rounds != 0 {
            return Err(format!(
                "protected by a passphrase ({rounds} kdf rounds); wasi-hw reads only keys without \
                 one: make one with `wasi-hw keygen` or `signify-openbsd -G -n`"
            ));
        }
        let key: [u8; 64] = array(&bytes[40..104]);
        if bytes[24..32] != checksum(&key) {
            return Err("checksum mismatch: the secret key is corrupt".into());
        }
        // The second half is the public key: a key whose halves disagree signs nothing
        // anyone can verify.
        let pair = ed::KeyPair::from_seed(ed::Seed::new(array(&key[..32])));
        if pair.pk[..] != key[32..] {
            return Err("its public half does not belong to its seed: corrupt".into());
        }
        Ok(SecretKey {
            number: KeyNumber(array(&bytes[32..40])),
            salt: array(&bytes[8..24]),
            key,
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        [
            &ALGORITHM[..],
            KDF_ALGORITHM,
            &0u32.to_be_bytes(),
            &self.salt,
            &checksum(&self.key),
            &self.number.0,
            &self.key,
        ]
        .concat()
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            number: self.number,
            key: array(&self.key[32..]),
        }
    }

    /// Signs `message` (deterministic Ed25519, as signify and usign do).
    pub fn sign(&self, message: &[u8]) -> Signature {
        let sig = ed::SecretKey::new(self.key).sign(message, None);
        Signature {
            number: self.number,
            signature: *sig,
        }
    }
}

fn checksum(key: &[u8; 64]) -> [u8; 8] {
    array(&ed::sha512::Hash::hash(key)[..8])
}

impl Signature {
    pub const LEN: usize = 74;

    pub fn from_bytes(bytes: &[u8]) -> Result<Signature, String> {
        check_algorithm(bytes, Self::LEN, "signature")?;
        Ok(Signature {
            number: KeyNumber(array(&bytes[2..10])),
            signature: array(&bytes[10..74]),
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        [&ALGORITHM[..], &self.number.0, &self.signature].concat()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SecretKey {
        SecretKey::from_random([7; 32], [1, 2, 3, 4, 5, 6, 7, 8], [9; 16])
    }

    #[test]
    fn key_numbers_are_16_hex_digits_both_ways() {
        let n = KeyNumber([0x4a, 0x92, 0x7b, 0x31, 0x24, 0xcb, 0x75, 0xbe]);
        assert_eq!(n.to_string(), "4a927b3124cb75be");
        assert_eq!(KeyNumber::from_hex("4a927b3124cb75be"), Some(n));
        assert_eq!(KeyNumber::from_hex("4A927B3124CB75BE"), Some(n));
        assert_eq!(KeyNumber::from_hex("4a927b3124cb75b"), None);
        assert_eq!(KeyNumber::from_hex("4a927b3124cb75bg"), None);
        assert_eq!(KeyNumber::from_hex("+a927b3124cb75be"), None);
    }

    #[test]
    fn a_signature_verifies_only_for_its_message_and_key() {
        let sk = key();
        let pk = sk.public_key();
        let sig = sk.sign(b"module bytes");
        assert!(pk.verifies(b"module bytes", &sig));
        assert!(!pk.verifies(b"module bytez", &sig));
        let mut flipped = sig.clone();
        flipped.signature[10] ^= 1;
        assert!(!pk.verifies(b"module bytes", &flipped));
        // Same Ed25519 key under another key number: refused, the number is part of it.
        let mut renumbered = sig.clone();
        renumbered.number.0[0] ^= 1;
        assert!(!pk.verifies(b"module bytes", &renumbered));
        let other = SecretKey::from_random([8; 32], [1, 2, 3, 4, 5, 6, 7, 8], [9; 16]);
        assert!(!other.public_key().verifies(b"module bytes", &sig));
    }

    #[test]
    fn binary_forms_round_trip_and_have_signify_lengths() {
        let sk = key();
        let bytes = sk.to_bytes();
        assert_eq!(bytes.len(), SecretKey::LEN);
        assert_eq!(&bytes[..4], b"EdBK");
        assert_eq!(SecretKey::from_bytes(&bytes).unwrap(), sk);
        let pk = sk.public_key().to_bytes();
        assert_eq!(pk.len(), PublicKey::LEN);
        assert_eq!(PublicKey::from_bytes(&pk).unwrap(), sk.public_key());
        let sig = sk.sign(b"x");
        assert_eq!(Signature::from_bytes(&sig.to_bytes()).unwrap(), sig);
    }

    #[test]
    fn bad_secret_keys_are_refused_with_the_reason() {
        let good = key().to_bytes();
        let with = |i: usize, v: u8| {
            let mut b = good.clone();
            b[i] = v;
            SecretKey::from_bytes(&b).unwrap_err()
        };
        assert!(with(7, 42).contains("passphrase (42 kdf rounds)"));
        assert!(with(0, b'X').contains("not Ed25519"));
        assert!(with(3, b'X').contains("not signify's"));
        assert!(with(24, good[24] ^ 1).contains("checksum"));
        assert!(SecretKey::from_bytes(&good[..100])
            .unwrap_err()
            .contains("100 bytes"));
        // A consistent checksum over a seed whose public half is another key's.
        let mut key = key();
        key.key[40] ^= 1;
        assert!(SecretKey::from_bytes(&key.to_bytes())
            .unwrap_err()
            .contains("public half"));
    }
}
