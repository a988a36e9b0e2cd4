//! The update file: one slot's files with the board and version they are for, signed.
//!
//! Layout, format 2 (integers little-endian):
//!
//! ```text
//! 0      8  magic "LVSFWUPD"
//! 8      2  format (2; format 1 was checksummed, not signed, and is refused)
//! 10     2  header length H: bytes 0..H are what the signature covers
//! 12        1 length + board name (ASCII)
//!           1 length + image version (MAJOR.MINOR.PATCH-BUILD[-LABEL], see version.rs)
//!           1 length + floor: the lowest version a box takes after it runs this one;
//!             empty for none
//!           1 key count K, then K times: 1 length + key name, 32 Ed25519 public key:
//!             the keys the firmware inside trusts (the next keys, for a rotation)
//!           1 file count N (3), then N times: 1 length + file name, 8 file length,
//!             32 SHA-256 of the file
//!           8 id of the signing key (first 8 bytes of the SHA-256 of its public key)
//! H      64 Ed25519 signature of bytes 0..H by that key
//! H+64      the files' bytes, one after the other in header order; nothing after
//! ```
//!
//! The signature covers the header and, through the files' SHA-256 in it, every byte:
//! so a reader knows who signed the update, for which board and version, before it
//! takes any file byte ([`crate::verify`]), and knows each file good when its last
//! byte has come. The files are exactly `vmlinuz`, `initrd` and `version` (the image
//! version and a newline), so an update can never leave a slot half-filled.

use std::fmt;
use std::io::{self, Read, Seek, SeekFrom, Write};

use ring::digest::{Context, SHA256};

use crate::keys::{KeyId, Keyring, SigningKey, TrustedKey, PUBLIC_LEN, SIGNATURE_LEN};
use crate::version::Version;

pub const MAGIC: &[u8; 8] = b"LVSFWUPD";
pub const FORMAT: u16 = 2;
/// Checksummed only: what this firmware refuses as unsigned.
pub const UNSIGNED_FORMAT: u16 = 1;
/// The files of a slot, in the order they are packed.
pub const FILES: [&str; 3] = ["vmlinuz", "initrd", "version"];
/// A header longer than this is damage, not a payload.
pub const MAX_HEADER: usize = 4096;
/// The largest update a box takes: a slot is 11 to 17 MB, and the largest board's ESP
/// (both slots and grub) is 40 MiB.
pub const MAX_LEN: u64 = 48 << 20;
/// Read and hash in pieces of this size.
pub const CHUNK: usize = 64 << 10;
const DIGEST_LEN: usize = 32;

/// What an update file says it holds (all of it covered by the signature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub board: String,
    pub version: Version,
    pub floor: Option<Version>,
    /// The keys the firmware inside trusts.
    pub keys: Keyring,
    pub files: Vec<Entry>,
    pub signer: KeyId,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub len: u64,
    pub sha256: [u8; DIGEST_LEN],
}

impl Manifest {
    /// The whole file's length: header, signature, files.
    pub fn total_len(&self) -> u64 {
        header_bytes(self).len() as u64
            + SIGNATURE_LEN as u64
            + self.files.iter().map(|f| f.len).sum::<u64>()
    }
}

/// Why an update is refused (or cannot be packed). Every message says what is wrong in
/// words an operator can act on.
#[derive(Debug)]
pub enum Error {
    NotAnUpdate,
    Unsigned,
    NewerFormat(u16),
    /// The header does not read: what is wrong with it.
    BadHeader(String),
    /// This firmware was built with no trusted key.
    NoTrustedKeys,
    /// Signed by this key, which is not among these (the firmware's keys).
    UnknownKey(KeyId, String),
    BadSignature(TrustedKey),
    WrongBoard {
        payload: String,
        running: String,
    },
    TooBig {
        len: u64,
        max: u64,
    },
    Older {
        payload: Version,
        running: Version,
    },
    BelowFloor {
        payload: Version,
        floor: Version,
    },
    /// This file's bytes are not what was signed.
    Tampered(String),
    /// The file ends early: in which part, and how many bytes were missing.
    Truncated {
        part: String,
        missing: u64,
    },
    TrailingBytes,
    /// Reading the input or writing the sink failed.
    Io(io::Error),
    /// Packing: what is wrong with the arguments.
    Pack(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotAnUpdate => write!(
                f,
                "not an lvsfw update file (it does not start with \"LVSFWUPD\")"
            ),
            Error::Unsigned => write!(
                f,
                "unsigned: an update of format {UNSIGNED_FORMAT} is only checksummed; \
                 this firmware installs signed updates (format {FORMAT}) only"
            ),
            Error::NewerFormat(v) => write!(
                f,
                "update format {v} is not one this firmware reads (format {FORMAT})"
            ),
            Error::BadHeader(why) => write!(f, "damaged header: {why}"),
            Error::NoTrustedKeys => write!(
                f,
                "this firmware trusts no signing key (it was built without LVSFW_TRUSTED_KEYS), \
                 so it installs no update"
            ),
            Error::UnknownKey(id, trusted) => write!(
                f,
                "signed by key {id}, which this firmware does not trust (it trusts {trusted})"
            ),
            Error::BadSignature(key) => write!(
                f,
                "the signature does not verify with key {key}: the file was changed after \
                 it was signed, or is damaged"
            ),
            Error::WrongBoard { payload, running } => write!(
                f,
                "built for board \"{payload}\", but this is board \"{running}\""
            ),
            Error::TooBig { len, max } => {
                write!(f, "too big: {len} bytes; an update is at most {max} bytes")
            }
            // The console, the page and the API all show this text: it names each one's way.
            Error::Older { payload, running } => write!(
                f,
                "version {payload} is older than the running version {running}; to go back \
                 on purpose, allow a downgrade (update --allow-downgrade FILE at the console, \
                 the box \"Take an older version\" on the page, ?allow_downgrade=yes on PUT \
                 /api/update)"
            ),
            Error::BelowFloor { payload, floor } => write!(
                f,
                "version {payload} is below {floor}, the lowest version this box may run \
                 (raised by an earlier update); not even an allowed downgrade installs it"
            ),
            Error::Tampered(file) => write!(
                f,
                "file {file} is not what was signed (its SHA-256 differs): the update is \
                 damaged or was changed"
            ),
            Error::Truncated { part, missing } => {
                let unit = if *missing == 1 { "byte" } else { "bytes" };
                write!(f, "truncated: {part} is {missing} {unit} short")
            }
            Error::TrailingBytes => write!(f, "damaged: there are bytes after the last file"),
            Error::Io(e) => write!(f, "{e}"),
            Error::Pack(why) => write!(f, "{why}"),
        }
    }
}

impl std::error::Error for Error {}

/// Board, file and key names: 1 to 64 of `A-Z a-z 0-9 . _ + -`.
pub(crate) fn check_name(what: &str, value: &str) -> Result<(), Error> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::Pack(format!(
            "{what} \"{value}\": use 1 to 64 of A-Z a-z 0-9 . _ + -"
        )))
    }
}

fn header_bytes(m: &Manifest) -> Vec<u8> {
    let mut h = Vec::with_capacity(256);
    h.extend_from_slice(MAGIC);
    h.extend_from_slice(&FORMAT.to_le_bytes());
    h.extend_from_slice(&[0, 0]);
    let floor = m.floor.as_ref().map(Version::as_str).unwrap_or("");
    for s in [m.board.as_str(), m.version.as_str(), floor] {
        h.push(s.len() as u8);
        h.extend_from_slice(s.as_bytes());
    }
    h.push(m.keys.keys().len() as u8);
    for k in m.keys.keys() {
        h.push(k.name.len() as u8);
        h.extend_from_slice(k.name.as_bytes());
        h.extend_from_slice(&k.public);
    }
    h.push(m.files.len() as u8);
    for e in &m.files {
        h.push(e.name.len() as u8);
        h.extend_from_slice(e.name.as_bytes());
        h.extend_from_slice(&e.len.to_le_bytes());
        h.extend_from_slice(&e.sha256);
    }
    h.extend_from_slice(&m.signer.0);
    let len = h.len() as u16;
    h[10..12].copy_from_slice(&len.to_le_bytes());
    h
}

/// A file to pack: its length, and its bytes, read twice (hashed, then copied).
pub struct Source<'a> {
    pub len: u64,
    pub reader: &'a mut dyn ReadSeek,
}

pub trait ReadSeek: Read + Seek {}
impl<T: Read + Seek> ReadSeek for T {}

/// What an update is for, besides its files.
pub struct Spec<'a> {
    pub board: &'a str,
    pub version: &'a Version,
    pub floor: Option<&'a Version>,
    /// The keys the firmware inside trusts.
    pub keys: &'a Keyring,
}

/// Hashes `len` bytes of `reader` in pieces, handing each to `sink`.
fn copy_hashed(
    name: &str,
    len: u64,
    reader: &mut dyn Read,
    sink: &mut dyn FnMut(&[u8]) -> Result<(), Error>,
) -> Result<[u8; DIGEST_LEN], Error> {
    let mut hash = Context::new(&SHA256);
    let mut buf = vec![0u8; CHUNK];
    let mut left = len;
    while left > 0 {
        let want = left.min(CHUNK as u64) as usize;
        let n = reader.read(&mut buf[..want]).map_err(Error::Io)?;
        if n == 0 {
            return Err(Error::Pack(format!(
                "{name} ended {left} bytes before its stated length {len}"
            )));
        }
        hash.update(&buf[..n]);
        sink(&buf[..n])?;
        left -= n as u64;
    }
    let mut digest = [0u8; DIGEST_LEN];
    digest.copy_from_slice(hash.finish().as_ref());
    Ok(digest)
}

/// What [`pack`] wrote.
#[derive(Debug)]
pub struct Packed {
    pub manifest: Manifest,
    /// The header and its signature: what a slot keeps beside its files.
    pub signed_header: Vec<u8>,
}

/// Writes an update of the slot's kernel and initrd, signed with `key`; the version
/// file is made from the version. Each source is read twice: hashed for the header,
/// then copied, and a source that changed in between is an error (the output is then
/// incomplete: write it to a temporary name).
pub fn pack(
    out: &mut dyn Write,
    spec: &Spec,
    kernel: Source,
    initrd: Source,
    key: &SigningKey,
) -> Result<Packed, Error> {
    check_name("board", spec.board)?;
    if let Some(floor) = spec.floor {
        if spec.version.is_older_than(floor) {
            return Err(Error::Pack(format!(
                "the floor {floor} is above the update's own version {}",
                spec.version
            )));
        }
    }
    if spec.keys.is_empty() {
        return Err(Error::Pack(
            "the firmware inside trusts no key: a box running it could never be updated again"
                .into(),
        ));
    }
    let version_file = format!("{}\n", spec.version);
    let mut version_reader = io::Cursor::new(version_file.as_bytes());
    let mut sources: [(&str, u64, &mut dyn ReadSeek); 3] = [
        (FILES[0], kernel.len, kernel.reader),
        (FILES[1], initrd.len, initrd.reader),
        (FILES[2], version_file.len() as u64, &mut version_reader),
    ];
    let mut files = Vec::new();
    for (name, len, reader) in sources.iter_mut() {
        if *len == 0 {
            return Err(Error::Pack(format!("{name} is empty")));
        }
        let start = reader.stream_position().map_err(Error::Io)?;
        let sha256 = copy_hashed(name, *len, reader, &mut |_| Ok(()))?;
        reader.seek(SeekFrom::Start(start)).map_err(Error::Io)?;
        files.push(Entry {
            name: name.to_string(),
            len: *len,
            sha256,
        });
    }
    let manifest = Manifest {
        board: spec.board.into(),
        version: spec.version.clone(),
        floor: spec.floor.cloned(),
        keys: spec.keys.clone(),
        files,
        signer: key.id(),
    };
    let header = header_bytes(&manifest);
    if header.len() > MAX_HEADER {
        return Err(Error::Pack(format!(
            "the header needs {} bytes; at most {MAX_HEADER}",
            header.len()
        )));
    }
    let mut signed_header = header.clone();
    signed_header.extend_from_slice(&key.sign(&header));
    out.write_all(&signed_header).map_err(Error::Io)?;
    for ((name, len, reader), entry) in sources.iter_mut().zip(&manifest.files) {
        let copied = copy_hashed(name, *len, reader, &mut |bytes| {
            out.write_all(bytes).map_err(Error::Io)
        })?;
        if copied != entry.sha256 {
            return Err(Error::Pack(format!("{name} changed while it was packed")));
        }
    }
    Ok(Packed {
        manifest,
        signed_header,
    })
}

/// The fixed start of a header: its length H, once magic and format are right.
pub(crate) fn header_len(fixed: &[u8; 12]) -> Result<usize, Error> {
    if &fixed[..8] != MAGIC {
        return Err(Error::NotAnUpdate);
    }
    match u16::from_le_bytes([fixed[8], fixed[9]]) {
        FORMAT => {}
        UNSIGNED_FORMAT => return Err(Error::Unsigned),
        other => return Err(Error::NewerFormat(other)),
    }
    let len = usize::from(u16::from_le_bytes([fixed[10], fixed[11]]));
    if !(12..=MAX_HEADER).contains(&len) {
        return Err(Error::BadHeader(format!("header length {len}")));
    }
    Ok(len)
}

/// The whole file's length as its header says, read from the start of an update (a
/// disk holding one is longer by the rest of its last sector). Nothing is verified.
pub fn read_total_len(input: &mut dyn Read) -> Result<u64, Error> {
    let mut fixed = [0u8; 12];
    input.read_exact(&mut fixed).map_err(Error::Io)?;
    let mut header = fixed.to_vec();
    header.resize(header_len(&fixed)?, 0);
    input.read_exact(&mut header[12..]).map_err(Error::Io)?;
    Ok(parse_header(&header)?.total_len())
}

/// The header after its fixed part, read front to back.
struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], Error> {
        if self.rest.len() < n {
            return Err(Error::BadHeader(format!("it ends inside the {what}")));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], Error> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    fn text(&mut self, what: &str) -> Result<String, Error> {
        let n = usize::from(self.take(1, what)?[0]);
        let bytes = self.take(n, what)?;
        std::str::from_utf8(bytes)
            .map(str::to_string)
            .map_err(|_| Error::BadHeader(format!("the {what} is not text")))
    }

    fn name(&mut self, what: &str) -> Result<String, Error> {
        let text = self.text(what)?;
        check_name(what, &text)
            .map(|()| text)
            .map_err(|_| Error::BadHeader(format!("the {what} is not a plain name")))
    }
}

/// Parses a whole header (bytes 0..H, as [`header_len`] measured them).
pub(crate) fn parse_header(header: &[u8]) -> Result<Manifest, Error> {
    let mut c = Cursor {
        rest: header.get(12..).unwrap_or_default(),
    };
    let board = c.name("board name")?;
    let version = Version::parse(&c.text("image version")?).map_err(Error::BadHeader)?;
    let floor_text = c.text("floor")?;
    let floor = if floor_text.is_empty() {
        None
    } else {
        Some(Version::parse(&floor_text).map_err(Error::BadHeader)?)
    };
    let key_count = usize::from(c.take(1, "key count")?[0]);
    let mut keys = Vec::new();
    for _ in 0..key_count {
        let name = c.name("key name")?;
        let public = c.array::<PUBLIC_LEN>("public key")?;
        keys.push(TrustedKey { name, public });
    }
    let keys = Keyring::new(keys).map_err(|e| Error::BadHeader(format!("the keys: {e}")))?;
    let count = usize::from(c.take(1, "file count")?[0]);
    let mut files = Vec::new();
    for _ in 0..count {
        let name = c.name("file name")?;
        let len = u64::from_le_bytes(c.array::<8>("file length")?);
        let sha256 = c.array::<DIGEST_LEN>("file digest")?;
        files.push(Entry { name, len, sha256 });
    }
    let signer = KeyId(c.array::<8>("key id")?);
    if !c.rest.is_empty() {
        return Err(Error::BadHeader("bytes after the key id".into()));
    }
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    if names != FILES {
        return Err(Error::BadHeader(format!(
            "the files are {names:?}; an update holds exactly {FILES:?}"
        )));
    }
    if let Some(empty) = files.iter().find(|f| f.len == 0) {
        return Err(Error::BadHeader(format!("file {} is empty", empty.name)));
    }
    if files
        .iter()
        .try_fold(0u64, |sum, f| sum.checked_add(f.len))
        .is_none()
    {
        return Err(Error::BadHeader("the file lengths overflow".into()));
    }
    if keys.is_empty() {
        return Err(Error::BadHeader(
            "the firmware inside trusts no key (it could never be updated again)".into(),
        ));
    }
    if let Some(floor) = &floor {
        if version.is_older_than(floor) {
            return Err(Error::BadHeader(format!(
                "the floor {floor} is above the update's own version {version}"
            )));
        }
    }
    Ok(Manifest {
        board,
        version,
        floor,
        keys,
        files,
        signer,
    })
}

#[cfg(test)]
mod tests;
