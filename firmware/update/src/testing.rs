//! Signed updates for tests, this crate's and the firmware's: keys from fixed seeds
//! (key `n` is the seed `[n; 32]`), named `keyN`.

use std::io::Cursor;

use crate::keys::{Keyring, SigningKey, TrustedKey};
use crate::payload::{pack, Source, Spec};
use crate::version::Version;

pub fn key(n: u8) -> SigningKey {
    SigningKey::from_seed(&[n; 32])
}

/// Key `n` as `openssl genpkey -algorithm ed25519` writes a key file (PKCS#8 PEM), made
/// here so that no private key is ever committed: RFC 8410's fixed DER prefix, then the
/// seed.
pub fn pkcs8_pem(n: u8) -> String {
    use base64::Engine as _;
    // SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.112 }, OCTET STRING { OCTET STRING (32) } }
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(&[n; 32]);
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let label = "PRIVATE KEY";
    format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n")
}

/// The keys `ns`, named `keyN`.
pub fn keyring(ns: &[u8]) -> Keyring {
    Keyring::new(
        ns.iter()
            .map(|&n| TrustedKey {
                name: format!("key{n}"),
                public: key(n).public(),
            })
            .collect(),
    )
    .expect("distinct test keys")
}

/// An update to pack; [`Default`] is board `qemu-x86_64`, version `1.0.0-1`, signed by
/// key 1 and carrying the keys {1}.
#[derive(Clone)]
pub struct Update {
    pub board: String,
    pub version: String,
    pub floor: Option<String>,
    pub signer: u8,
    pub carries: Vec<u8>,
    pub kernel: Vec<u8>,
    pub initrd: Vec<u8>,
}

impl Default for Update {
    fn default() -> Update {
        Update {
            board: "qemu-x86_64".into(),
            version: "1.0.0-1".into(),
            floor: None,
            signer: 1,
            carries: vec![1],
            kernel: b"kernel".to_vec(),
            initrd: b"initrd".to_vec(),
        }
    }
}

impl Update {
    pub fn bytes(&self) -> Vec<u8> {
        let version = Version::parse(&self.version).expect("test version");
        let floor = self
            .floor
            .as_deref()
            .map(|f| Version::parse(f).expect("test floor"));
        let mut out = Vec::new();
        pack(
            &mut out,
            &Spec {
                board: &self.board,
                version: &version,
                floor: floor.as_ref(),
                keys: &keyring(&self.carries),
            },
            Source {
                len: self.kernel.len() as u64,
                reader: &mut Cursor::new(&self.kernel),
            },
            Source {
                len: self.initrd.len() as u64,
                reader: &mut Cursor::new(&self.initrd),
            },
            &key(self.signer),
        )
        .expect("packing a test update");
        out
    }
}
