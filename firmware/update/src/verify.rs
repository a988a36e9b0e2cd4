//! Checking an update as its bytes come, the one verifier for every way an update
//! arrives (a file, a disk, an upload) and for `lvsfw update --verify` on a build host.
//!
//! The bytes are pushed in pieces of any size ([`Verifier::push`]). The header and its
//! signature come first: nothing reaches the sink until they verify with a key this
//! firmware trusts and the update passes the box's [`Policy`] (board, size, version,
//! floor). Then every file byte is handed on as it comes while it is hashed, and each
//! file is reported good only when its last byte has come and its SHA-256 is the signed
//! one. So a sink may write the bytes where they go, but must keep them apart (`.new`)
//! until [`Verifier::finish`] says the whole update verified. There is no switch that
//! turns any of this off.

use std::io::{self, Read};

use ring::digest::{Context, SHA256};

use crate::keys::{Keyring, TrustedKey, SIGNATURE_LEN};
use crate::payload::{self, Error, Manifest, CHUNK, FILES};
use crate::version::Version;

/// What the box asks of an update, besides a trusted signature.
#[derive(Debug, Clone)]
pub struct Policy {
    pub keys: Keyring,
    /// This box's board; `None` on a build host (any board).
    pub board: Option<String>,
    /// The running version; `None`: no downgrade check (a build host).
    pub running: Option<Version>,
    /// The lowest version this box may take (grubenv `min_version`).
    pub floor: Option<Version>,
    /// The operator said so: an older version than the running one is taken (never one
    /// below the floor).
    pub allow_downgrade: bool,
    pub max_len: u64,
}

/// An update whose header and signature verified and that passed the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub manifest: Manifest,
    pub signer: TrustedKey,
    /// Header and signature as they came: kept beside a slot, they say who signed it.
    pub signed_header: Vec<u8>,
    /// The floor once this update is installed: the higher of the box's and the update's.
    pub floor_after: Option<Version>,
}

/// What the sink is told, in this order: `Accepted` once, then for each file its
/// `Data` and its `FileVerified`.
#[derive(Debug)]
pub enum Event<'a> {
    Accepted(&'a Accepted),
    Data { file: usize, bytes: &'a [u8] },
    FileVerified(usize),
}

enum State {
    /// Collecting the header and signature (bytes so far; how many are needed, once known).
    Head(Vec<u8>, Option<usize>),
    /// In file `file`, `left` bytes to come (hashed into [`Verifier`]'s `hash`).
    Files {
        file: usize,
        left: u64,
        version_file: Vec<u8>,
    },
    Done,
    Refused,
}

pub struct Verifier {
    policy: Policy,
    state: State,
    accepted: Option<Accepted>,
    /// The SHA-256 of the file being read.
    hash: Context,
}

/// Checks a header with its signature (`bytes` = header + signature, nothing more)
/// against `keys`: the manifest and the key that signed it.
pub fn open_signed(bytes: &[u8], keys: &Keyring) -> Result<(Manifest, TrustedKey), Error> {
    let mut fixed = [0u8; 12];
    let Some(start) = bytes.get(..12) else {
        return Err(Error::Truncated {
            part: "the header".into(),
            missing: (12 - bytes.len()) as u64,
        });
    };
    fixed.copy_from_slice(start);
    let header_len = payload::header_len(&fixed)?;
    if bytes.len() != header_len + SIGNATURE_LEN {
        return Err(Error::BadHeader(format!(
            "{} bytes of header and signature; the header says {}",
            bytes.len(),
            header_len + SIGNATURE_LEN
        )));
    }
    let (header, signature) = bytes.split_at(header_len);
    let manifest = payload::parse_header(header)?;
    if keys.is_empty() {
        return Err(Error::NoTrustedKeys);
    }
    let key = keys
        .find(manifest.signer)
        .ok_or_else(|| Error::UnknownKey(manifest.signer, keys.to_string()))?;
    if !key.verifies(header, signature) {
        return Err(Error::BadSignature(key.clone()));
    }
    Ok((manifest, key.clone()))
}

impl Policy {
    fn judge(&self, bytes: &[u8]) -> Result<Accepted, Error> {
        let (manifest, signer) = open_signed(bytes, &self.keys)?;
        if let Some(running) = &self.board {
            if manifest.board != *running {
                return Err(Error::WrongBoard {
                    payload: manifest.board,
                    running: running.clone(),
                });
            }
        }
        let len = manifest.total_len();
        if len > self.max_len {
            return Err(Error::TooBig {
                len,
                max: self.max_len,
            });
        }
        if let Some(floor) = &self.floor {
            if manifest.version.is_older_than(floor) {
                return Err(Error::BelowFloor {
                    payload: manifest.version,
                    floor: floor.clone(),
                });
            }
        }
        if let Some(running) = &self.running {
            if manifest.version.is_older_than(running) && !self.allow_downgrade {
                return Err(Error::Older {
                    payload: manifest.version,
                    running: running.clone(),
                });
            }
        }
        let floor_after = match (&self.floor, &manifest.floor) {
            (Some(box_floor), Some(new)) if new.is_older_than(box_floor) => Some(box_floor.clone()),
            (_, Some(new)) => Some(new.clone()),
            (box_floor, None) => box_floor.clone(),
        };
        Ok(Accepted {
            manifest,
            signer,
            signed_header: bytes.to_vec(),
            floor_after,
        })
    }
}

impl Verifier {
    pub fn new(policy: Policy) -> Verifier {
        Verifier {
            policy,
            state: State::Head(Vec::new(), None),
            accepted: None,
            hash: Context::new(&SHA256),
        }
    }

    /// The next bytes of the update. A refusal is final: the verifier takes nothing more.
    pub fn push(
        &mut self,
        bytes: &[u8],
        sink: &mut dyn FnMut(Event) -> io::Result<()>,
    ) -> Result<(), Error> {
        let result = self.take(bytes, sink);
        if result.is_err() {
            self.state = State::Refused;
        }
        result
    }

    fn take(
        &mut self,
        mut bytes: &[u8],
        sink: &mut dyn FnMut(Event) -> io::Result<()>,
    ) -> Result<(), Error> {
        while !bytes.is_empty() {
            match &mut self.state {
                State::Head(buf, need) => {
                    let want = need.unwrap_or(12);
                    let n = (want - buf.len()).min(bytes.len());
                    buf.extend_from_slice(&bytes[..n]);
                    bytes = &bytes[n..];
                    if buf.len() < want {
                        continue;
                    }
                    if need.is_none() {
                        let mut fixed = [0u8; 12];
                        fixed.copy_from_slice(buf);
                        *need = Some(payload::header_len(&fixed)? + SIGNATURE_LEN);
                        continue;
                    }
                    let accepted = self.policy.judge(buf)?;
                    sink(Event::Accepted(&accepted)).map_err(Error::Io)?;
                    self.state = State::Files {
                        file: 0,
                        left: accepted.manifest.files[0].len,
                        version_file: Vec::new(),
                    };
                    self.accepted = Some(accepted);
                }
                State::Files {
                    file,
                    left,
                    version_file,
                } => {
                    let n = (*left).min(bytes.len() as u64) as usize;
                    let (piece, rest) = bytes.split_at(n);
                    bytes = rest;
                    self.hash.update(piece);
                    if FILES[*file] == "version" && version_file.len() + n <= 256 {
                        version_file.extend_from_slice(piece);
                    }
                    sink(Event::Data {
                        file: *file,
                        bytes: piece,
                    })
                    .map_err(Error::Io)?;
                    *left -= n as u64;
                    if *left > 0 {
                        continue;
                    }
                    let manifest = &self.accepted.as_ref().expect("accepted").manifest;
                    let entry = &manifest.files[*file];
                    let digest = std::mem::replace(&mut self.hash, Context::new(&SHA256)).finish();
                    if digest.as_ref() != entry.sha256 {
                        return Err(Error::Tampered(entry.name.clone()));
                    }
                    if entry.name == "version"
                        && *version_file != format!("{}\n", manifest.version).as_bytes()
                    {
                        return Err(Error::BadHeader(
                            "the version file does not say the header's version".into(),
                        ));
                    }
                    sink(Event::FileVerified(*file)).map_err(Error::Io)?;
                    *file += 1;
                    match manifest.files.get(*file) {
                        Some(next) => *left = next.len,
                        None => self.state = State::Done,
                    }
                }
                State::Done => return Err(Error::TrailingBytes),
                State::Refused => {
                    return Err(Error::Io(io::Error::other(
                        "the update was refused already",
                    )))
                }
            }
        }
        Ok(())
    }

    /// The header, once it verified and passed the policy.
    pub fn accepted(&self) -> Option<&Accepted> {
        self.accepted.as_ref()
    }

    /// The input ended: the update, if it all came and all verified.
    pub fn finish(self) -> Result<Accepted, Error> {
        match self.state {
            State::Done => Ok(self.accepted.expect("accepted before done")),
            State::Head(buf, need) => Err(Error::Truncated {
                part: "the header".into(),
                missing: (need.unwrap_or(12) - buf.len()) as u64,
            }),
            State::Files { file, left, .. } => Err(Error::Truncated {
                part: format!("file {}", FILES[file]),
                missing: left,
            }),
            State::Refused => Err(Error::Io(io::Error::other(
                "the update was refused already",
            ))),
        }
    }
}

/// Reads `input` to its end through a [`Verifier`].
pub fn read(
    input: &mut dyn Read,
    policy: Policy,
    sink: &mut dyn FnMut(Event) -> io::Result<()>,
) -> Result<Accepted, Error> {
    let mut verifier = Verifier::new(policy);
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => return verifier.finish(),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::Io(e)),
        };
        verifier.push(&buf[..n], sink)?;
    }
}

/// [`read`] with a sink that keeps nothing: is this a whole update the policy takes?
pub fn verify(input: &mut dyn Read, policy: Policy) -> Result<Accepted, Error> {
    read(input, policy, &mut |_| Ok(()))
}

#[cfg(test)]
mod tests;
