//! The documented layout, byte for byte, and what pack refuses.

use super::*;

#[test]
fn the_layout_is_as_documented() {
    let key = SigningKey::from_seed(&[1; 32]);
    let keys = Keyring::new(vec![TrustedKey {
        name: "k1".into(),
        public: key.public(),
    }])
    .unwrap();
    let version = Version::parse("1.0.0-2").unwrap();
    let floor = Version::parse("0.9.0-0").unwrap();
    let mut out = Vec::new();
    pack(
        &mut out,
        &Spec {
            board: "b",
            version: &version,
            floor: Some(&floor),
            keys: &keys,
        },
        Source {
            len: 1,
            reader: &mut io::Cursor::new(b"K"),
        },
        Source {
            len: 2,
            reader: &mut io::Cursor::new(b"II"),
        },
        &key,
    )
    .unwrap();
    let sha = |b: &[u8]| ring::digest::digest(&SHA256, b).as_ref().to_vec();
    let mut expected = b"LVSFWUPD\x02\x00".to_vec();
    let header_len: u16 = 12
        + 2
        + 8
        + 8
        + (1 + 1 + 2 + 32)
        + 1
        + (1 + 7 + 8 + 32)
        + (1 + 6 + 8 + 32)
        + (1 + 7 + 8 + 32)
        + 8;
    expected.extend_from_slice(&header_len.to_le_bytes());
    expected.extend_from_slice(b"\x01b\x071.0.0-2\x070.9.0-0");
    expected.extend_from_slice(b"\x01\x02k1");
    expected.extend_from_slice(&key.public());
    expected.extend_from_slice(b"\x03\x07vmlinuz\x01\0\0\0\0\0\0\0");
    expected.extend_from_slice(&sha(b"K"));
    expected.extend_from_slice(b"\x06initrd\x02\0\0\0\0\0\0\0");
    expected.extend_from_slice(&sha(b"II"));
    expected.extend_from_slice(b"\x07version\x08\0\0\0\0\0\0\0");
    expected.extend_from_slice(&sha(b"1.0.0-2\n"));
    expected.extend_from_slice(&key.id().0);
    assert_eq!(expected.len(), usize::from(header_len));
    let signature = key.sign(&expected);
    expected.extend_from_slice(&signature);
    expected.extend_from_slice(b"KII1.0.0-2\n");
    assert_eq!(out, expected);
    let manifest = parse_header(&out[..usize::from(header_len)]).unwrap();
    assert_eq!(manifest.total_len(), out.len() as u64);
    assert_eq!(manifest.floor, Some(floor));
}

#[test]
fn pack_refuses_what_a_box_could_not_use() {
    let key = SigningKey::from_seed(&[1; 32]);
    let v1 = Version::parse("1.0.0-1").unwrap();
    let v2 = Version::parse("2.0.0-1").unwrap();
    let keys = Keyring::new(vec![TrustedKey {
        name: "k1".into(),
        public: key.public(),
    }])
    .unwrap();
    let try_pack = |spec: &Spec, kernel: &[u8], kernel_len: u64| {
        pack(
            &mut Vec::new(),
            spec,
            Source {
                len: kernel_len,
                reader: &mut io::Cursor::new(kernel),
            },
            Source {
                len: 1,
                reader: &mut io::Cursor::new(b"i"),
            },
            &key,
        )
        .unwrap_err()
        .to_string()
    };
    let spec = Spec {
        board: "b",
        version: &v1,
        floor: None,
        keys: &keys,
    };
    assert_eq!(
        try_pack(&spec, b"k", 5),
        "vmlinuz ended 4 bytes before its stated length 5"
    );
    assert_eq!(try_pack(&spec, b"", 0), "vmlinuz is empty");
    let above = Spec {
        floor: Some(&v2),
        ..spec
    };
    assert_eq!(
        try_pack(&above, b"k", 1),
        "the floor 2.0.0-1 is above the update's own version 1.0.0-1"
    );
    let none = Keyring::default();
    let trusts_nothing = Spec {
        keys: &none,
        ..spec
    };
    assert!(try_pack(&trusts_nothing, b"k", 1).contains("could never be updated again"));
    let odd = Spec {
        board: "a b",
        ..spec
    };
    assert_eq!(
        try_pack(&odd, b"k", 1),
        "board \"a b\": use 1 to 64 of A-Z a-z 0-9 . _ + -"
    );
}
