//! Who may sign an update: Ed25519 keys.
//!
//! The keys a firmware trusts are compiled into it ([`Keyring::compiled`], from the file
//! `LVSFW_TRUSTED_KEYS` names at build time: see build.rs). An update carries the list its
//! own firmware trusts, so a key is rotated by an update signed with a key the box trusts
//! now and carrying the next one; once the box runs it, updates signed with the next key
//! are accepted and a key left out of the list no longer is.
//!
//! A key is known by its id: the first 8 bytes of the SHA-256 of its public key, shown
//! as 16 hex digits, and by the name its trusted-keys file gives it.

use std::fmt;

use ring::signature::{Ed25519KeyPair, KeyPair as _, UnparsedPublicKey, ED25519};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::PrivatePkcs8KeyDer;

pub const PUBLIC_LEN: usize = 32;
pub const SIGNATURE_LEN: usize = 64;
/// At most this many trusted keys (rotation needs two or three).
pub const MAX_KEYS: usize = 16;

/// The compiled-in keys, as build.rs wrote them.
const COMPILED: &[(&str, [u8; PUBLIC_LEN])] =
    include!(concat!(env!("OUT_DIR"), "/trusted_keys.rs"));

/// First 8 bytes of the SHA-256 of a public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(pub [u8; 8]);

impl KeyId {
    pub fn of(public: &[u8; PUBLIC_LEN]) -> KeyId {
        let digest = ring::digest::digest(&ring::digest::SHA256, public);
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest.as_ref()[..8]);
        KeyId(id)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKey {
    pub name: String,
    pub public: [u8; PUBLIC_LEN],
}

impl TrustedKey {
    pub fn id(&self) -> KeyId {
        KeyId::of(&self.public)
    }

    /// Whether `signature` is this key's over `message`.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, &self.public[..])
            .verify(message, signature)
            .is_ok()
    }
}

impl fmt::Display for TrustedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.id())
    }
}

/// The keys one firmware trusts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Keyring {
    keys: Vec<TrustedKey>,
}

impl Keyring {
    /// Names are 1 to 64 of `A-Z a-z 0-9 . _ + -`; no name or key twice; at most
    /// [`MAX_KEYS`].
    pub fn new(keys: Vec<TrustedKey>) -> Result<Keyring, String> {
        if keys.len() > MAX_KEYS {
            return Err(format!("{} keys; at most {MAX_KEYS}", keys.len()));
        }
        for (i, key) in keys.iter().enumerate() {
            crate::payload::check_name("key name", &key.name).map_err(|e| e.to_string())?;
            if keys[..i]
                .iter()
                .any(|k| k.name == key.name || k.public == key.public)
            {
                return Err(format!("key {} is listed twice", key.name));
            }
        }
        Ok(Keyring { keys })
    }

    /// The keys compiled into this firmware.
    pub fn compiled() -> Keyring {
        Keyring {
            keys: COMPILED
                .iter()
                .map(|(name, public)| TrustedKey {
                    name: name.to_string(),
                    public: *public,
                })
                .collect(),
        }
    }

    pub fn find(&self, id: KeyId) -> Option<&TrustedKey> {
        self.keys.iter().find(|k| k.id() == id)
    }

    pub fn keys(&self) -> &[TrustedKey] {
        &self.keys
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl fmt::Display for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.keys.is_empty() {
            return f.write_str("no key");
        }
        for (i, key) in self.keys.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{key}")?;
        }
        Ok(())
    }
}

/// A private key that signs updates (on the build host only; never in an image).
pub struct SigningKey {
    pair: Ed25519KeyPair,
}

impl SigningKey {
    /// A PKCS#8 Ed25519 key, PEM or DER, as `openssl genpkey -algorithm ed25519` writes
    /// it. The error never shows the key's bytes.
    pub fn from_pkcs8(bytes: &[u8]) -> Result<SigningKey, String> {
        let pem;
        let der = if bytes.starts_with(b"-----BEGIN") {
            pem = PrivatePkcs8KeyDer::from_pem_slice(bytes).map_err(|_| {
                "not a PEM \"PRIVATE KEY\" (PKCS#8); make one with `openssl genpkey -algorithm ed25519`"
                    .to_string()
            })?;
            pem.secret_pkcs8_der()
        } else {
            bytes
        };
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map_err(|e| format!("not an Ed25519 private key in PKCS#8 ({e})"))?;
        Ok(SigningKey { pair })
    }

    /// A key from a 32-byte seed: for tests, which need fixed keys.
    pub fn from_seed(seed: &[u8; 32]) -> SigningKey {
        SigningKey {
            pair: Ed25519KeyPair::from_seed_unchecked(seed).expect("any 32 bytes are a seed"),
        }
    }

    pub fn public(&self) -> [u8; PUBLIC_LEN] {
        let mut public = [0u8; PUBLIC_LEN];
        public.copy_from_slice(self.pair.public_key().as_ref());
        public
    }

    pub fn id(&self) -> KeyId {
        KeyId::of(&self.public())
    }

    pub fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        let mut signature = [0u8; SIGNATURE_LEN];
        signature.copy_from_slice(self.pair.sign(message).as_ref());
        signature
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seed [7; 32] in PKCS#8 PEM, as `openssl pkey -outform PEM` writes it: a key
    /// nobody uses (its bytes are in the name), in the form an operator's key file has.
    fn seed_7_pem() -> String {
        crate::testing::pkcs8_pem(7)
    }
    /// Its public key, as `openssl pkey -pubout` gives it (the last 32 bytes of the DER).
    const SEED_7_PUBLIC: &str = "ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c";

    #[test]
    fn an_openssl_key_loads_as_pem_and_der_and_signs() {
        let key = SigningKey::from_pkcs8(seed_7_pem().as_bytes()).unwrap();
        assert_eq!(key.public(), SigningKey::from_seed(&[7; 32]).public());
        let public: String = key.public().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(public, SEED_7_PUBLIC);
        let der = PrivatePkcs8KeyDer::from_pem_slice(seed_7_pem().as_bytes()).unwrap();
        let same = SigningKey::from_pkcs8(der.secret_pkcs8_der()).unwrap();
        assert_eq!(key.public(), same.public());
        let trusted = TrustedKey {
            name: "k".into(),
            public: key.public(),
        };
        let signature = key.sign(b"header");
        assert!(trusted.verifies(b"header", &signature));
        assert!(!trusted.verifies(b"headeR", &signature));
    }

    #[test]
    fn a_bad_key_file_says_what_it_is_not() {
        let err =
            SigningKey::from_pkcs8(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
                .err()
                .unwrap();
        assert!(err.starts_with("not a PEM \"PRIVATE KEY\""), "{err}");
        let err = SigningKey::from_pkcs8(&[0x30, 0x03, 1, 2, 3])
            .err()
            .unwrap();
        assert!(err.starts_with("not an Ed25519 private key"), "{err}");
    }

    #[test]
    fn a_keyring_refuses_a_key_twice_and_finds_by_id() {
        let one = SigningKey::from_seed(&[1; 32]);
        let key = |name: &str, k: &SigningKey| TrustedKey {
            name: name.into(),
            public: k.public(),
        };
        let ring = Keyring::new(vec![key("one", &one)]).unwrap();
        assert_eq!(ring.find(one.id()).unwrap().name, "one");
        assert_eq!(ring.find(SigningKey::from_seed(&[2; 32]).id()), None);
        let err = Keyring::new(vec![key("one", &one), key("again", &one)]).unwrap_err();
        assert_eq!(err, "key again is listed twice");
        let err = Keyring::new(vec![key("a b", &one)]).unwrap_err();
        assert!(err.starts_with("key name \"a b\""), "{err}");
    }
}
