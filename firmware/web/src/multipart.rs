//! A `multipart/form-data` body (RFC 7578) read as it arrives, for a file upload that is
//! never held whole: the file part's bytes go to a sink piece by piece, the other parts
//! (small form fields) are kept within a bound, for the sink to read (a CSRF token, a
//! checkbox) before the file's first byte.
//!
//! The framing is RFC 2046 section 5.1.1: each part starts after a line
//! `--BOUNDARY`, the last part ends at `--BOUNDARY--`; a part is its header lines, an
//! empty line, then its content up to the CRLF that precedes the next delimiter.

use memchr::memmem;

/// The header lines of one part, in bytes, at most.
const MAX_PART_HEAD: usize = 2048;
/// A part that is not the file (a form field), in bytes, at most.
const MAX_FIELD: usize = 4096;
/// RFC 2046 section 5.1.1: a boundary is 1 to 70 characters.
const MAX_BOUNDARY: usize = 70;
/// Form fields besides the file, at most.
const MAX_FIELDS: usize = 16;

/// The form fields read so far: name and value (text; invalid UTF-8 replaced).
#[derive(Debug, Default)]
pub struct Fields(Vec<(String, Vec<u8>)>);

impl Fields {
    /// The value of the first field called `name`.
    pub fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }
}

/// Where the file's bytes go: the fields before it, and the next bytes of the file.
pub type FileSink<'a> = dyn FnMut(&Fields, &[u8]) -> Result<(), String> + 'a;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the first delimiter (a preamble is allowed and ignored).
    Preamble,
    /// Just after a delimiter: `--` ends the body, CRLF starts a part.
    AfterDelimiter,
    PartHead,
    /// A part's content; `file` when it is the part that is streamed.
    Content {
        file: bool,
    },
    /// After the closing delimiter: the rest is ignored.
    Epilogue,
}

pub struct Multipart {
    /// CRLF `--` BOUNDARY: what ends a part's content.
    delimiter: Vec<u8>,
    /// The form field whose content is the file.
    file_field: String,
    state: State,
    /// Bytes not yet judged: at most a delimiter's length plus one pushed piece.
    pending: Vec<u8>,
    fields: Fields,
    files: u32,
}

impl Multipart {
    /// A reader for a body whose Content-Type is `content_type`; the part named
    /// `file_field` is the file. `Err`: not multipart/form-data with a usable boundary.
    pub fn new(content_type: &str, file_field: &str) -> Result<Multipart, String> {
        let mut parts = content_type.split(';');
        let kind = parts.next().unwrap_or("").trim();
        if !kind.eq_ignore_ascii_case("multipart/form-data") {
            return Err(format!(
                "the upload must be sent as multipart/form-data, not \"{kind}\""
            ));
        }
        let boundary = parts
            .filter_map(|p| p.split_once('='))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("boundary"))
            .map(|(_, value)| value.trim().trim_matches('"'))
            .ok_or("the multipart/form-data upload names no boundary")?;
        if boundary.is_empty() || boundary.len() > MAX_BOUNDARY {
            return Err(format!(
                "the multipart boundary must be 1 to {MAX_BOUNDARY} characters long"
            ));
        }
        let mut delimiter = b"\r\n--".to_vec();
        delimiter.extend_from_slice(boundary.as_bytes());
        Ok(Multipart {
            delimiter,
            file_field: file_field.into(),
            state: State::Preamble,
            // The first delimiter may start the body: as if a line ended before it.
            pending: b"\r\n".to_vec(),
            fields: Fields::default(),
            files: 0,
        })
    }

    /// The next bytes of the body; the file's bytes among them go to `file`, whose
    /// error stops the reading and is returned.
    pub fn push(&mut self, bytes: &[u8], file: &mut FileSink) -> Result<(), String> {
        if self.state == State::Epilogue {
            return Ok(());
        }
        self.pending.extend_from_slice(bytes);
        loop {
            match self.state {
                State::Epilogue => {
                    self.pending.clear();
                    return Ok(());
                }
                State::Preamble | State::Content { .. } => {
                    let found = memmem::find(&self.pending, &self.delimiter);
                    // What cannot be the start of a delimiter is decided now.
                    let decided = match found {
                        Some(at) => at,
                        None => self.pending.len().saturating_sub(self.delimiter.len() - 1),
                    };
                    self.content(decided, file)?;
                    self.pending.drain(..decided);
                    if found.is_none() {
                        return Ok(());
                    }
                    self.pending.drain(..self.delimiter.len());
                    self.state = State::AfterDelimiter;
                }
                State::AfterDelimiter => {
                    if self.pending.len() < 2 {
                        return Ok(());
                    }
                    if self.pending.starts_with(b"--") {
                        self.state = State::Epilogue;
                    } else {
                        // Transport padding (spaces, tabs) may precede the line end.
                        let padding = self
                            .pending
                            .iter()
                            .take_while(|b| **b == b' ' || **b == b'\t')
                            .count();
                        if padding > 64 {
                            return Err(
                                "malformed multipart body: a delimiter line is too long".into()
                            );
                        }
                        if self.pending.len() < padding + 2 {
                            return Ok(());
                        }
                        if &self.pending[padding..padding + 2] != b"\r\n" {
                            return Err("malformed multipart body: a delimiter is not followed by a line end".into());
                        }
                        self.pending.drain(..padding + 2);
                        self.state = State::PartHead;
                    }
                }
                State::PartHead => {
                    let Some(end) = memmem::find(&self.pending, b"\r\n\r\n") else {
                        if self.pending.len() > MAX_PART_HEAD {
                            return Err(format!(
                                "malformed multipart body: a part's header lines exceed {MAX_PART_HEAD} bytes"
                            ));
                        }
                        return Ok(());
                    };
                    let head = String::from_utf8_lossy(&self.pending[..end]).into_owned();
                    self.pending.drain(..end + 4);
                    let name = field_name(&head).unwrap_or_default();
                    let is_file = name == self.file_field;
                    if is_file {
                        self.files += 1;
                        if self.files > 1 {
                            return Err(format!(
                                "the upload has more than one \"{}\" part",
                                self.file_field
                            ));
                        }
                    } else {
                        if self.fields.0.len() >= MAX_FIELDS {
                            return Err(format!(
                                "the upload has more than {MAX_FIELDS} form fields"
                            ));
                        }
                        self.fields.0.push((name, Vec::new()));
                    }
                    self.state = State::Content { file: is_file };
                }
            }
        }
    }

    /// The first `len` pending bytes are content of the current part (or preamble).
    fn content(&mut self, len: usize, file: &mut FileSink) -> Result<(), String> {
        match self.state {
            State::Content { file: true } if len > 0 => file(&self.fields, &self.pending[..len]),
            State::Content { file: false } => {
                let Some((_, value)) = self.fields.0.last_mut() else {
                    return Ok(());
                };
                if value.len() + len > MAX_FIELD {
                    return Err(format!(
                        "the upload has a form field larger than {MAX_FIELD} bytes"
                    ));
                }
                value.extend_from_slice(&self.pending[..len]);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The form fields read so far.
    pub fn fields(&self) -> &Fields {
        &self.fields
    }

    /// The body ended: it must have closed its last part and held the file.
    pub fn finish(&self) -> Result<(), String> {
        if self.state != State::Epilogue {
            return Err("the upload ended before its last part did (cut off?)".into());
        }
        if self.files == 0 {
            return Err(format!("the upload holds no \"{}\" file", self.file_field));
        }
        Ok(())
    }
}

/// The `name` of a part's `Content-Disposition: form-data; name="..."` line.
fn field_name(head: &str) -> Option<String> {
    let line = head.split("\r\n").find(|l| {
        l.split_once(':')
            .is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case("content-disposition"))
    })?;
    let (_, value) = line.split_once(':')?;
    value
        .split(';')
        .filter_map(|p| p.split_once('='))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case("name"))
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
}

#[cfg(test)]
mod tests;
