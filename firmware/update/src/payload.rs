//! The update file: one slot's files with the board and version they are for.
//!
//! Layout (integers little-endian):
//!
//! ```text
//! 0      8  magic "LVSFWUPD"
//! 8      2  format version (1)
//! 10     2  header length H, from byte 0 to the first file's first byte
//! 12     1  board name length, then the name (ASCII)
//!        1  image version length, then the version (ASCII)
//!        1  file count N, then N times: 1 name length, the name, 8 file length
//! H         the files' bytes, one after the other in header order
//! end-32 32 SHA-256 over every byte before it
//! ```
//!
//! The files are exactly `vmlinuz`, `initrd` and `version` (the version file is the
//! image version and a newline), so that an update can never leave a slot half-filled.
//! Reading streams (an update is 10 to 20 MB): [`unpack`] hands each file's bytes to a
//! sink as they come and checks the digest at the end; a caller verifies once with a
//! sink that keeps nothing, then unpacks for real.

use std::fmt;
use std::io::{self, Read, Write};

use ring::digest::{Context, SHA256, SHA256_OUTPUT_LEN};

pub const MAGIC: &[u8; 8] = b"LVSFWUPD";
pub const FORMAT: u16 = 1;
/// The files of a slot, in the order they are packed.
pub const FILES: [&str; 3] = ["vmlinuz", "initrd", "version"];
/// A header longer than this is damage, not a payload.
const MAX_HEADER: usize = 4096;
/// Read and hash in pieces of this size.
const CHUNK: usize = 64 << 10;

/// What an update file says it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub board: String,
    pub version: String,
    pub files: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub len: u64,
}

impl Manifest {
    /// The whole file's length: header, files, digest.
    pub fn total_len(&self) -> u64 {
        header_bytes(self).len() as u64
            + self.files.iter().map(|f| f.len).sum::<u64>()
            + SHA256_OUTPUT_LEN as u64
    }
}

#[derive(Debug)]
pub enum Error {
    NotAnUpdate,
    NewerFormat(u16),
    /// The header does not read: what is wrong with it.
    BadHeader(String),
    WrongBoard {
        payload: String,
        running: String,
    },
    /// The file ends early: in which part, and how many bytes were missing.
    Truncated {
        part: String,
        missing: u64,
    },
    TrailingBytes,
    Checksum,
    /// Reading the input or the sink failed.
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
            Error::NewerFormat(v) => write!(
                f,
                "update format {v} is newer than this firmware reads (format {FORMAT})"
            ),
            Error::BadHeader(why) => write!(f, "damaged header: {why}"),
            Error::WrongBoard { payload, running } => write!(
                f,
                "built for board \"{payload}\", but this is board \"{running}\""
            ),
            Error::Truncated { part, missing } => {
                let unit = if *missing == 1 { "byte" } else { "bytes" };
                write!(f, "truncated: {part} is {missing} {unit} short")
            }
            Error::TrailingBytes => write!(f, "damaged: there are bytes after the checksum"),
            Error::Checksum => write!(
                f,
                "checksum mismatch: the file is damaged (SHA-256 differs)"
            ),
            Error::Io(e) => write!(f, "{e}"),
            Error::Pack(why) => write!(f, "{why}"),
        }
    }
}

impl std::error::Error for Error {}

fn check_name(what: &str, value: &str) -> Result<(), Error> {
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
    let mut h = Vec::with_capacity(64);
    h.extend_from_slice(MAGIC);
    h.extend_from_slice(&FORMAT.to_le_bytes());
    h.extend_from_slice(&[0, 0]);
    for s in [&m.board, &m.version] {
        h.push(s.len() as u8);
        h.extend_from_slice(s.as_bytes());
    }
    h.push(m.files.len() as u8);
    for e in &m.files {
        h.push(e.name.len() as u8);
        h.extend_from_slice(e.name.as_bytes());
        h.extend_from_slice(&e.len.to_le_bytes());
    }
    let len = h.len() as u16;
    h[10..12].copy_from_slice(&len.to_le_bytes());
    h
}

/// A file to pack: its length, and where its bytes come from.
pub struct Source<'a> {
    pub len: u64,
    pub reader: &'a mut dyn Read,
}

/// Writes an update for `board` at `version` with the slot's kernel and initrd; the
/// version file is made from `version`. A source shorter than its stated length is an
/// error (the output is then incomplete: write it to a temporary name).
pub fn pack(
    out: &mut dyn Write,
    board: &str,
    version: &str,
    kernel: Source,
    initrd: Source,
) -> Result<Manifest, Error> {
    check_name("board", board)?;
    check_name("version", version)?;
    let version_file = format!("{version}\n");
    let manifest = Manifest {
        board: board.into(),
        version: version.into(),
        files: vec![
            Entry {
                name: FILES[0].into(),
                len: kernel.len,
            },
            Entry {
                name: FILES[1].into(),
                len: initrd.len,
            },
            Entry {
                name: FILES[2].into(),
                len: version_file.len() as u64,
            },
        ],
    };
    let mut hash = Context::new(&SHA256);
    let mut put = |bytes: &[u8]| -> Result<(), Error> {
        hash.update(bytes);
        out.write_all(bytes).map_err(Error::Io)
    };
    put(&header_bytes(&manifest))?;
    let mut version_reader = version_file.as_bytes();
    let sources: [(&str, u64, &mut dyn Read); 3] = [
        ("vmlinuz", kernel.len, kernel.reader),
        ("initrd", initrd.len, initrd.reader),
        ("version", version_file.len() as u64, &mut version_reader),
    ];
    let mut buf = vec![0u8; CHUNK];
    for (name, len, reader) in sources {
        let mut left = len;
        while left > 0 {
            let want = left.min(CHUNK as u64) as usize;
            let n = reader.read(&mut buf[..want]).map_err(Error::Io)?;
            if n == 0 {
                return Err(Error::Pack(format!(
                    "{name} ended {left} bytes before its stated length {len}"
                )));
            }
            put(&buf[..n])?;
            left -= n as u64;
        }
    }
    let digest = hash.finish();
    out.write_all(digest.as_ref()).map_err(Error::Io)?;
    Ok(manifest)
}

/// Reads exactly `buf.len()` bytes; `Truncated` names `part` when the input ends first.
fn read_exact(input: &mut dyn Read, buf: &mut [u8], part: &str) -> Result<(), Error> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => {
                return Err(Error::Truncated {
                    part: part.into(),
                    missing: (buf.len() - got) as u64,
                })
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::Io(e)),
        }
    }
    Ok(())
}

/// Reads the header, checked as far as it can be without the rest of the file.
pub fn read_header(input: &mut dyn Read) -> Result<(Manifest, Vec<u8>), Error> {
    let mut fixed = [0u8; 12];
    read_exact(input, &mut fixed, "the header")?;
    if &fixed[..8] != MAGIC {
        return Err(Error::NotAnUpdate);
    }
    let format = u16::from_le_bytes([fixed[8], fixed[9]]);
    if format != FORMAT {
        return Err(Error::NewerFormat(format));
    }
    let len = usize::from(u16::from_le_bytes([fixed[10], fixed[11]]));
    if !(12..=MAX_HEADER).contains(&len) {
        return Err(Error::BadHeader(format!("header length {len}")));
    }
    let mut header = fixed.to_vec();
    header.resize(len, 0);
    read_exact(input, &mut header[12..], "the header")?;
    let manifest = parse_header(&header[12..])?;
    Ok((manifest, header))
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

    fn text(&mut self, what: &str) -> Result<String, Error> {
        let n = usize::from(self.take(1, what)?[0]);
        let bytes = self.take(n, what)?;
        std::str::from_utf8(bytes)
            .ok()
            .filter(|s| check_name(what, s).is_ok())
            .map(str::to_string)
            .ok_or_else(|| Error::BadHeader(format!("the {what} is not a plain name")))
    }
}

fn parse_header(rest: &[u8]) -> Result<Manifest, Error> {
    let mut c = Cursor { rest };
    let board = c.text("board name")?;
    let version = c.text("image version")?;
    let count = usize::from(c.take(1, "file count")?[0]);
    let mut files = Vec::new();
    for _ in 0..count {
        let name = c.text("file name")?;
        let mut len = [0u8; 8];
        len.copy_from_slice(c.take(8, "file length")?);
        files.push(Entry {
            name,
            len: u64::from_le_bytes(len),
        });
    }
    if !c.rest.is_empty() {
        return Err(Error::BadHeader("bytes after the file list".into()));
    }
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    if names != FILES {
        return Err(Error::BadHeader(format!(
            "the files are {names:?}; an update holds exactly {FILES:?}"
        )));
    }
    Ok(Manifest {
        board,
        version,
        files,
    })
}

/// Reads a whole update from `input`, handing each file's bytes to `sink` (file
/// index, bytes) in order, and checks the SHA-256 at the end. With `board`, an update
/// for another board is refused before any file byte reaches the sink. The sink has
/// seen unchecked bytes when the checksum then fails: verify first with a sink that
/// keeps nothing, or discard what it wrote.
pub fn unpack(
    input: &mut dyn Read,
    board: Option<&str>,
    sink: &mut dyn FnMut(usize, &[u8]) -> io::Result<()>,
) -> Result<Manifest, Error> {
    let (manifest, header) = read_header(input)?;
    if let Some(running) = board {
        if manifest.board != running {
            return Err(Error::WrongBoard {
                payload: manifest.board,
                running: running.into(),
            });
        }
    }
    let mut hash = Context::new(&SHA256);
    hash.update(&header);
    let mut buf = vec![0u8; CHUNK];
    let mut version_file = Vec::new();
    for (index, entry) in manifest.files.iter().enumerate() {
        let mut left = entry.len;
        while left > 0 {
            let want = left.min(CHUNK as u64) as usize;
            let n = match input.read(&mut buf[..want]) {
                Ok(0) => {
                    return Err(Error::Truncated {
                        part: format!("file {}", entry.name),
                        missing: left,
                    })
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::Io(e)),
            };
            hash.update(&buf[..n]);
            if entry.name == "version" && version_file.len() < 256 {
                version_file.extend_from_slice(&buf[..n]);
            }
            sink(index, &buf[..n]).map_err(Error::Io)?;
            left -= n as u64;
        }
    }
    let mut stored = [0u8; SHA256_OUTPUT_LEN];
    read_exact(input, &mut stored, "the checksum")?;
    let mut extra = [0u8; 1];
    if read_exact(input, &mut extra, "").is_ok() {
        return Err(Error::TrailingBytes);
    }
    if hash.finish().as_ref() != stored {
        return Err(Error::Checksum);
    }
    // Checked last: only now are the bytes known to be what was packed.
    if version_file != format!("{}\n", manifest.version).as_bytes() {
        return Err(Error::BadHeader(
            "the version file does not say the header's version".into(),
        ));
    }
    Ok(manifest)
}

/// [`unpack`] with a sink that keeps nothing: is this a whole, undamaged update?
pub fn verify(input: &mut dyn Read, board: Option<&str>) -> Result<Manifest, Error> {
    unpack(input, board, &mut |_, _| Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packed(board: &str, version: &str, kernel: &[u8], initrd: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let (mut k, mut i) = (kernel, initrd);
        pack(
            &mut out,
            board,
            version,
            Source {
                len: kernel.len() as u64,
                reader: &mut k,
            },
            Source {
                len: initrd.len() as u64,
                reader: &mut i,
            },
        )
        .unwrap();
        out
    }

    fn unpacked(bytes: &[u8], board: Option<&str>) -> Result<(Manifest, [Vec<u8>; 3]), Error> {
        let mut files: [Vec<u8>; 3] = Default::default();
        let mut input = bytes;
        let m = unpack(&mut input, board, &mut |i, b| {
            files[i].extend_from_slice(b);
            Ok(())
        })?;
        Ok((m, files))
    }

    #[test]
    fn a_packed_update_unpacks_to_the_same_files() {
        let kernel: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let bytes = packed("qemu-x86_64", "1.2.0", &kernel, b"cpio");
        let (m, files) = unpacked(&bytes, Some("qemu-x86_64")).unwrap();
        assert_eq!(m.board, "qemu-x86_64");
        assert_eq!(m.version, "1.2.0");
        assert_eq!(files[0], kernel);
        assert_eq!(files[1], b"cpio");
        assert_eq!(files[2], b"1.2.0\n");
        assert_eq!(m.total_len(), bytes.len() as u64);
    }

    #[test]
    fn the_layout_is_as_documented() {
        let bytes = packed("b", "v1", b"K", b"II");
        let mut expected = b"LVSFWUPD\x01\x00".to_vec();
        let header_len: u16 = 12 + 2 + 3 + 1 + (1 + 7 + 8) + (1 + 6 + 8) + (1 + 7 + 8);
        expected.extend_from_slice(&header_len.to_le_bytes());
        expected.extend_from_slice(b"\x01b\x02v1\x03");
        expected.extend_from_slice(b"\x07vmlinuz\x01\0\0\0\0\0\0\0");
        expected.extend_from_slice(b"\x06initrd\x02\0\0\0\0\0\0\0");
        expected.extend_from_slice(b"\x07version\x03\0\0\0\0\0\0\0");
        expected.extend_from_slice(b"KIIv1\n");
        let digest = ring::digest::digest(&SHA256, &expected);
        expected.extend_from_slice(digest.as_ref());
        assert_eq!(bytes, expected);
    }

    #[test]
    fn another_boards_update_is_refused_naming_both() {
        let bytes = packed("pc-x86_64", "2", b"K", b"I");
        let mut reached_sink = false;
        let err = unpack(&mut &bytes[..], Some("qemu-x86_64"), &mut |_, _| {
            reached_sink = true;
            Ok(())
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "built for board \"pc-x86_64\", but this is board \"qemu-x86_64\""
        );
        assert!(!reached_sink);
    }

    #[test]
    fn damage_anywhere_is_found() {
        let bytes = packed("b", "2", b"kernel", b"initrd");
        for at in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x40;
            assert!(verify(&mut &damaged[..], None).is_err(), "byte {at}");
        }
        let mut flipped = bytes.clone();
        let last_file_byte = bytes.len() - 33;
        flipped[last_file_byte] ^= 1;
        assert_eq!(
            verify(&mut &flipped[..], None).unwrap_err().to_string(),
            "checksum mismatch: the file is damaged (SHA-256 differs)"
        );
    }

    #[test]
    fn truncation_says_where_and_how_much() {
        let bytes = packed("b", "2", b"kernel", b"initrd");
        let cut = |n: usize| verify(&mut &bytes[..n], None).unwrap_err().to_string();
        assert_eq!(cut(5), "truncated: the header is 7 bytes short");
        let header = bytes.len() - 32 - 6 - 6 - 2;
        assert_eq!(cut(header + 2), "truncated: file vmlinuz is 4 bytes short");
        assert_eq!(
            cut(bytes.len() - 1),
            "truncated: the checksum is 1 byte short"
        );
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            verify(&mut &longer[..], None).unwrap_err().to_string(),
            "damaged: there are bytes after the checksum"
        );
    }

    #[test]
    fn other_files_and_formats_are_named() {
        let err = verify(&mut &b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0"[..], None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "not an lvsfw update file (it does not start with \"LVSFWUPD\")"
        );
        let mut newer = packed("b", "2", b"k", b"i");
        newer[8] = 2;
        assert_eq!(
            verify(&mut &newer[..], None).unwrap_err().to_string(),
            "update format 2 is newer than this firmware reads (format 1)"
        );
    }

    #[test]
    fn pack_refuses_odd_names_and_short_sources() {
        let mut out = Vec::new();
        let err = pack(
            &mut out,
            "b",
            "1 2",
            Source {
                len: 1,
                reader: &mut &b"k"[..],
            },
            Source {
                len: 1,
                reader: &mut &b"i"[..],
            },
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "version \"1 2\": use 1 to 64 of A-Z a-z 0-9 . _ + -"
        );
        let err = pack(
            &mut out,
            "b",
            "1",
            Source {
                len: 5,
                reader: &mut &b"k"[..],
            },
            Source {
                len: 1,
                reader: &mut &b"i"[..],
            },
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "vmlinuz ended 4 bytes before its stated length 5"
        );
    }
}
