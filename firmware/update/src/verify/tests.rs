//! Every refusal of the issue (unsigned, unknown key, a bit flipped anywhere, truncated,
//! another board, older, below the floor, too big) and a key rotation, on small signed
//! updates made with fixed test keys.

use super::*;
use crate::testing::{key, keyring, Update};

const BOARD: &str = "qemu-x86_64";

fn v(text: &str) -> Version {
    Version::parse(text).unwrap()
}

/// What reached the sink, as text: `accepted`, `data F N` (bytes), `verified F`.
fn run(bytes: &[u8], policy: Policy, piece: usize) -> (Result<Accepted, Error>, Vec<String>) {
    let mut seen = Vec::new();
    let mut verifier = Verifier::new(policy);
    let mut sink = |e: Event| {
        seen.push(match e {
            Event::Accepted(_) => "accepted".to_string(),
            Event::Data { file, bytes } => format!("data {file} {}", bytes.len()),
            Event::FileVerified(file) => format!("verified {file}"),
        });
        Ok(())
    };
    for chunk in bytes.chunks(piece.max(1)) {
        if let Err(e) = verifier.push(chunk, &mut sink) {
            return (Err(e), seen);
        }
    }
    (verifier.finish(), seen)
}

fn refusal(bytes: &[u8], policy: Policy) -> (String, Vec<String>) {
    let (result, seen) = run(bytes, policy, 4096);
    (result.unwrap_err().to_string(), seen)
}

fn with(keys: &Keyring, running: &Version) -> Policy {
    Policy {
        keys: keys.clone(),
        board: Some(BOARD.into()),
        running: Some(running.clone()),
        floor: None,
        allow_downgrade: false,
        max_len: payload::MAX_LEN,
    }
}

#[test]
fn a_signed_update_is_handed_on_file_by_file_in_pieces_of_any_size() {
    let update = Update {
        kernel: (0..200_000u32).map(|i| (i % 251) as u8).collect(),
        version: "1.2.0-7-gabc".into(),
        ..Update::default()
    };
    let bytes = update.bytes();
    let keys = keyring(&[1]);
    let running = v("1.0.0-1");
    for piece in [1, 7, 4096, bytes.len()] {
        let mut files: [Vec<u8>; 3] = Default::default();
        let mut order = Vec::new();
        let accepted = read(&mut &bytes[..], with(&keys, &running), &mut |e| {
            match e {
                Event::Accepted(a) => order.push(format!("accepted {}", a.manifest.version)),
                Event::Data { file, bytes } => files[file].extend_from_slice(bytes),
                Event::FileVerified(file) => {
                    order.push(format!("verified {file} after {}", files[file].len()))
                }
            }
            Ok(())
        });
        let accepted = accepted.unwrap();
        assert_eq!(files[0], update.kernel, "piece {piece}");
        assert_eq!(files[1], b"initrd");
        assert_eq!(files[2], b"1.2.0-7-gabc\n");
        assert_eq!(
            order,
            [
                "accepted 1.2.0-7-gabc",
                "verified 0 after 200000",
                "verified 1 after 6",
                "verified 2 after 13"
            ]
        );
        assert_eq!(accepted.signer.name, "key1");
        assert_eq!(accepted.manifest.total_len(), bytes.len() as u64);
        // Pushed piece by piece it is the same.
        let (pushed, _) = run(&bytes, with(&keys, &running), piece);
        assert_eq!(pushed.unwrap(), accepted);
    }
}

/// A format-1 update (checksummed, not signed), as the firmware before signing made it.
fn format_1(board: &str, version: &str) -> Vec<u8> {
    let mut bytes = b"LVSFWUPD\x01\x00".to_vec();
    let mut header = Vec::new();
    for s in [board, version] {
        header.push(s.len() as u8);
        header.extend_from_slice(s.as_bytes());
    }
    header.push(3);
    let version_file = format!("{version}\n");
    for (name, len) in [
        ("vmlinuz", 1u64),
        ("initrd", 1),
        ("version", version_file.len() as u64),
    ] {
        header.push(name.len() as u8);
        header.extend_from_slice(name.as_bytes());
        header.extend_from_slice(&len.to_le_bytes());
    }
    bytes.extend_from_slice(&((12 + header.len()) as u16).to_le_bytes());
    bytes.extend_from_slice(&header);
    bytes.extend_from_slice(b"ki");
    bytes.extend_from_slice(version_file.as_bytes());
    let digest = ring::digest::digest(&SHA256, &bytes);
    bytes.extend_from_slice(digest.as_ref());
    bytes
}

#[test]
fn an_unsigned_update_is_refused_before_anything_reaches_the_sink() {
    let keys = keyring(&[1]);
    let running = v("1.0.0-1");
    let (err, seen) = refusal(&format_1(BOARD, "2.0.0-1"), with(&keys, &running));
    assert_eq!(
        err,
        "unsigned: an update of format 1 is only checksummed; this firmware installs \
         signed updates (format 2) only"
    );
    assert!(seen.is_empty(), "{seen:?}");
    let (err, _) = refusal(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0", with(&keys, &running));
    assert_eq!(
        err,
        "not an lvsfw update file (it does not start with \"LVSFWUPD\")"
    );
}

#[test]
fn a_key_this_firmware_does_not_trust_is_refused_naming_both() {
    let bytes = Update {
        signer: 2,
        carries: vec![2],
        ..Update::default()
    }
    .bytes();
    let keys = keyring(&[1]);
    let running = v("1.0.0-1");
    let (err, seen) = refusal(&bytes, with(&keys, &running));
    assert_eq!(
        err,
        format!(
            "signed by key {}, which this firmware does not trust (it trusts key1 ({}))",
            key(2).id(),
            key(1).id()
        )
    );
    assert!(seen.is_empty(), "{seen:?}");
    let none = Keyring::default();
    let (err, _) = refusal(&bytes, with(&none, &running));
    assert!(
        err.starts_with("this firmware trusts no signing key"),
        "{err}"
    );
}

#[test]
fn one_bit_flipped_anywhere_is_refused_and_a_header_flip_reaches_no_sink() {
    let update = Update {
        version: "2.0.0-1".into(),
        floor: Some("1.0.0-0".into()),
        carries: vec![1, 2],
        ..Update::default()
    };
    let bytes = update.bytes();
    let signed_len = bytes.len() - update.kernel.len() - update.initrd.len() - 8;
    let keys = keyring(&[1, 2]);
    let running = v("1.0.0-1");
    assert!(run(&bytes, with(&keys, &running), 4096).0.is_ok());
    for at in 0..bytes.len() {
        for bit in 0..8 {
            let mut flipped = bytes.clone();
            flipped[at] ^= 1 << bit;
            let (result, seen) = run(&flipped, with(&keys, &running), 4096);
            let err = result.expect_err(&format!("byte {at} bit {bit} went through"));
            if at < signed_len {
                assert!(seen.is_empty(), "byte {at} bit {bit}: {err}: {seen:?}");
            } else {
                let in_files = at - signed_len;
                let file = if in_files < update.kernel.len() {
                    0
                } else if in_files < update.kernel.len() + update.initrd.len() {
                    1
                } else {
                    2
                };
                assert_eq!(
                    err.to_string(),
                    format!(
                        "file {} is not what was signed (its SHA-256 differs): the update is \
                         damaged or was changed",
                        FILES[file]
                    ),
                    "byte {at} bit {bit}"
                );
                assert!(
                    !seen.contains(&format!("verified {file}")),
                    "byte {at} bit {bit}: {seen:?}"
                );
            }
        }
    }
    // The signature itself: the message names the key.
    let mut flipped = bytes.clone();
    flipped[signed_len - 1] ^= 1;
    let (err, _) = refusal(&flipped, with(&keys, &running));
    assert_eq!(
        err,
        format!(
            "the signature does not verify with key key1 ({}): the file was changed after it \
             was signed, or is damaged",
            key(1).id()
        )
    );
}

#[test]
fn a_cut_anywhere_is_refused_and_says_where() {
    let bytes = Update::default().bytes();
    let keys = keyring(&[1]);
    let running = v("1.0.0-1");
    for cut in 0..bytes.len() {
        let (result, seen) = run(&bytes[..cut], with(&keys, &running), 4096);
        let err = result.expect_err(&format!("cut at {cut} went through"));
        assert!(
            err.to_string().starts_with("truncated: "),
            "cut {cut}: {err}"
        );
        assert!(!seen.contains(&"verified 2".to_string()), "cut {cut}");
    }
    let cut = |n: usize| refusal(&bytes[..n], with(&keys, &running)).0;
    assert_eq!(cut(5), "truncated: the header is 7 bytes short");
    let files_start = bytes.len() - 6 - 6 - 8;
    assert_eq!(
        cut(files_start - 1),
        "truncated: the header is 1 byte short"
    );
    assert_eq!(
        cut(files_start + 2),
        "truncated: file vmlinuz is 4 bytes short"
    );
    assert_eq!(
        cut(bytes.len() - 1),
        "truncated: file version is 1 byte short"
    );
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(
        refusal(&longer, with(&keys, &running)).0,
        "damaged: there are bytes after the last file"
    );
}

#[test]
fn another_board_and_too_big_are_refused_before_any_file_byte() {
    let keys = keyring(&[1]);
    let running = v("1.0.0-1");
    let bytes = Update {
        board: "pc-x86_64".into(),
        ..Update::default()
    }
    .bytes();
    let (err, seen) = refusal(&bytes, with(&keys, &running));
    assert_eq!(
        err,
        "built for board \"pc-x86_64\", but this is board \"qemu-x86_64\""
    );
    assert!(seen.is_empty());

    let bytes = Update::default().bytes();
    let small = Policy {
        max_len: bytes.len() as u64 - 1,
        ..with(&keys, &running)
    };
    let (err, seen) = refusal(&bytes, small);
    assert_eq!(
        err,
        format!(
            "too big: {} bytes; an update is at most {} bytes",
            bytes.len(),
            bytes.len() - 1
        )
    );
    assert!(seen.is_empty());
    // A build host checks any board, any version.
    let host = Policy {
        board: None,
        running: None,
        ..with(&keys, &running)
    };
    let other = Update {
        board: "pc-x86_64".into(),
        version: "0.0.1-0".into(),
        ..Update::default()
    };
    assert!(verify(&mut &other.bytes()[..], host).is_ok());
}

#[test]
fn older_is_refused_unless_allowed_and_below_the_floor_never() {
    let keys = keyring(&[1]);
    let running = v("1.0.0-5-gabc");
    let older = Update {
        version: "1.0.0-4-gdef".into(),
        ..Update::default()
    }
    .bytes();
    let (err, seen) = refusal(&older, with(&keys, &running));
    assert_eq!(
        err,
        "version 1.0.0-4-gdef is older than the running version 1.0.0-5-gabc; to go back on \
         purpose, allow a downgrade (update --allow-downgrade FILE at the console, the box \
         \"Take an older version\" on the page, ?allow_downgrade=yes on PUT /api/update)"
    );
    assert!(seen.is_empty());
    let allowed = Policy {
        allow_downgrade: true,
        ..with(&keys, &running)
    };
    assert!(verify(&mut &older[..], allowed.clone()).is_ok());
    // The same version again (another label) is not older: a slot can be rewritten.
    let same = Update {
        version: "1.0.0-5-gother".into(),
        ..Update::default()
    }
    .bytes();
    assert!(verify(&mut &same[..], with(&keys, &running)).is_ok());

    let floor = v("1.0.0-5");
    let floored = Policy {
        floor: Some(floor),
        ..allowed
    };
    let (err, seen) = refusal(&older, floored);
    assert_eq!(
        err,
        "version 1.0.0-4-gdef is below 1.0.0-5, the lowest version this box may run (raised \
         by an earlier update); not even an allowed downgrade installs it"
    );
    assert!(seen.is_empty());
}

#[test]
fn an_update_raises_the_floor_and_never_lowers_it() {
    let keys = keyring(&[1]);
    let running = v("1.0.0-1");
    let floor_after = |payload_floor: Option<&str>, box_floor: Option<&str>| {
        let bytes = Update {
            version: "3.0.0-1".into(),
            floor: payload_floor.map(str::to_string),
            ..Update::default()
        }
        .bytes();
        let box_floor = box_floor.map(v);
        let policy = Policy {
            floor: box_floor,
            ..with(&keys, &running)
        };
        verify(&mut &bytes[..], policy)
            .unwrap()
            .floor_after
            .map(|f| f.to_string())
    };
    assert_eq!(floor_after(None, None), None);
    assert_eq!(
        floor_after(Some("2.0.0-0"), None).as_deref(),
        Some("2.0.0-0")
    );
    assert_eq!(
        floor_after(Some("2.0.0-0"), Some("1.0.0-0")).as_deref(),
        Some("2.0.0-0")
    );
    assert_eq!(
        floor_after(Some("1.0.0-0"), Some("2.0.0-0")).as_deref(),
        Some("2.0.0-0")
    );
    assert_eq!(
        floor_after(None, Some("2.0.0-0")).as_deref(),
        Some("2.0.0-0")
    );
}

#[test]
fn a_key_is_rotated_by_an_update_that_carries_the_next() {
    let running = v("1.0.0-1");
    // The box trusts keys 1 and 2. An update signed with key 2 carries the keys {2, 3}.
    let box_keys = keyring(&[1, 2]);
    let rotation = Update {
        version: "1.1.0-1".into(),
        signer: 2,
        carries: vec![2, 3],
        ..Update::default()
    }
    .bytes();
    let installed = verify(&mut &rotation[..], with(&box_keys, &running)).unwrap();
    assert_eq!(installed.signer.name, "key2");
    // The box now runs that firmware, which trusts what the update carried.
    let new_keys = installed.manifest.keys.clone();
    assert_eq!(new_keys, keyring(&[2, 3]));
    let new_running = installed.manifest.version.clone();
    let by_3 = Update {
        version: "1.2.0-1".into(),
        signer: 3,
        carries: vec![3],
        ..Update::default()
    }
    .bytes();
    assert!(verify(&mut &by_3[..], with(&box_keys, &new_running)).is_err());
    let accepted = verify(&mut &by_3[..], with(&new_keys, &new_running)).unwrap();
    assert_eq!(accepted.signer.name, "key3");
    // Key 1 was rotated out.
    let by_1 = Update {
        version: "1.2.0-1".into(),
        signer: 1,
        ..Update::default()
    }
    .bytes();
    let (err, _) = refusal(&by_1, with(&new_keys, &new_running));
    assert!(err.contains("which this firmware does not trust"), "{err}");
}

#[test]
fn a_kept_signed_header_opens_again_with_its_signer() {
    let bytes = Update::default().bytes();
    let keys = keyring(&[1]);
    let running = v("1.0.0-1");
    let accepted = verify(&mut &bytes[..], with(&keys, &running)).unwrap();
    let (manifest, signer) = open_signed(&accepted.signed_header, &keys).unwrap();
    assert_eq!(manifest, accepted.manifest);
    assert_eq!(signer.name, "key1");
    let mut short = accepted.signed_header.clone();
    short.pop();
    assert!(open_signed(&short, &keys).is_err());
}
