//! Judging an HTTP response as it arrives, chunk by chunk: status line and headers with
//! httparse, then the body counted and, if the URL has a `digest`, hashed with MD5, and
//! if it has a `regex`, kept (up to [`MAX_REGEX_BODY`]) and matched at its end. No I/O:
//! the shell feeds what it reads and calls [`ResponseCheck::end`] at end of stream.
//!
//! keepalived (check_http.c `http_process_response`, `http_handle_response`) hashes the
//! raw bytes after the header, up to Content-Length if the header gives one, else to the
//! end of the stream (no chunked decoding: `genhash` hashes the same bytes), and judges the
//! status only at the end, then the digest, then the regex. lvsfw judges a wrong status as soon as the header is in (the
//! verdict is the same, it only comes sooner), and stops at Content-Length instead of
//! waiting for the server to close.

use md5::{Digest, Md5};

use crate::outcome::{Failure, Passed};
use crate::regex_check::{CompiledRegex, MAX_REGEX_BODY};
use crate::spec::Url;

/// The status line and headers must fit in this (keepalived reads them into 4 KiB).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
pub const MAX_HEADERS: usize = 64;
/// A body to digest longer than this fails the probe: the bound on what one probe reads.
pub const MAX_DIGEST_BODY: u64 = 1024 * 1024;
/// Without a digest only the status (and a regex, in as much of the body) matters; after
/// this much body the probe is judged without reading the rest.
pub const MAX_PLAIN_BODY: u64 = MAX_REGEX_BODY as u64;

/// The verdict so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Feed more (or call [`ResponseCheck::end`] at end of stream).
    More,
    Done(Result<Passed, Failure>),
}

/// One response being judged against one `url` block.
pub struct ResponseCheck<'a> {
    url: &'a Url,
    /// The URL's `regex`, compiled.
    regex: Option<&'a CompiledRegex>,
    state: State,
}

/// What a [`ResponseCheck`] has seen so far, without the URL it judges against: for a
/// probe that keeps its state between reads where it cannot keep a borrow of its check
/// ([`crate::streams`]).
pub struct ResponseState(State);

impl Default for ResponseState {
    fn default() -> Self {
        ResponseState(State::Head(Vec::new()))
    }
}

enum State {
    Head(Vec<u8>),
    Body(Body),
    Judged,
}

struct Body {
    status: u16,
    /// Body bytes still expected per Content-Length.
    remaining: Option<u64>,
    received: u64,
    md5: Option<Md5>,
    /// With a regex: the first [`MAX_REGEX_BODY`] bytes of the body. Only such a probe
    /// allocates for its body.
    kept: Option<Vec<u8>>,
}

impl<'a> ResponseCheck<'a> {
    /// `regex` is the URL's `regex` compiled (the check refuses a URL with a regex and
    /// none given here).
    pub fn new(url: &'a Url, regex: Option<&'a CompiledRegex>) -> Self {
        Self::resume(url, regex, ResponseState::default())
    }

    /// Goes on from `state`, which [`ResponseCheck::pause`] left, against the same URL.
    pub fn resume(url: &'a Url, regex: Option<&'a CompiledRegex>, state: ResponseState) -> Self {
        ResponseCheck {
            url,
            regex,
            state: state.0,
        }
    }

    /// What has been seen so far, for [`ResponseCheck::resume`].
    pub fn pause(self) -> ResponseState {
        ResponseState(self.state)
    }

    /// Takes the next bytes of the stream. Once this returns [`Progress::Done`] the rest
    /// of the stream does not matter.
    pub fn feed(&mut self, data: &[u8]) -> Progress {
        match &mut self.state {
            // The whole header nearly always comes in the first read: judged where it
            // lies, it costs no copy and no allocation.
            State::Head(head) if head.is_empty() => {
                match parse_head(&data[..data.len().min(MAX_HEADER_BYTES)]) {
                    Ok(Some(head_info)) => {
                        let len = head_info.len;
                        self.start_body(head_info, &data[len..])
                    }
                    Ok(None) => self.feed_head(data),
                    Err(failure) => self.judge(Err(failure)),
                }
            }
            State::Head(_) => self.feed_head(data),
            State::Body(_) => self.feed_body(data),
            State::Judged => Progress::More,
        }
    }

    /// A header that comes in pieces is gathered, up to [`MAX_HEADER_BYTES`].
    fn feed_head(&mut self, data: &[u8]) -> Progress {
        let State::Head(head) = &mut self.state else {
            return Progress::More;
        };
        let room = MAX_HEADER_BYTES - head.len();
        let take = data.len().min(room);
        head.extend_from_slice(&data[..take]);
        match parse_head(head) {
            Ok(None) if head.len() == MAX_HEADER_BYTES => {
                self.judge(Err(Failure::HeaderTooLarge {
                    limit: MAX_HEADER_BYTES,
                }))
            }
            Ok(None) => Progress::More,
            Err(failure) => self.judge(Err(failure)),
            Ok(Some(head_info)) => {
                // The body bytes that came with the header, and any that did not fit in
                // the header buffer.
                let mut first = head[head_info.len..].to_vec();
                first.extend_from_slice(&data[take..]);
                self.start_body(head_info, &first)
            }
        }
    }

    /// The header is in: a status outside the set fails now, else the body begins.
    fn start_body(&mut self, head_info: HeadInfo, first: &[u8]) -> Progress {
        if !self.url.status_codes.contains(head_info.status) {
            return self.judge(Err(Failure::Status {
                got: head_info.status,
                expected: self.url.status_codes,
            }));
        }
        self.state = State::Body(Body {
            status: head_info.status,
            remaining: head_info.content_length,
            received: 0,
            md5: self.url.digest.map(|_| Md5::new()),
            kept: self.regex.map(|_| Vec::new()),
        });
        self.feed_body(first)
    }

    /// The stream ended: the verdict on what came.
    pub fn end(&mut self) -> Result<Passed, Failure> {
        match std::mem::replace(&mut self.state, State::Judged) {
            State::Head(head) if head.is_empty() => Err(Failure::NoResponse),
            State::Head(_) => Err(Failure::TruncatedHeader),
            State::Body(body) => self.verdict(body, true),
            // Callers stop at Done; should one call end anyway, it is no pass.
            State::Judged => Err(Failure::NoResponse),
        }
    }

    fn feed_body(&mut self, data: &[u8]) -> Progress {
        let State::Body(body) = &mut self.state else {
            return Progress::More;
        };
        let counted = match body.remaining {
            Some(remaining) => data
                .len()
                .min(usize::try_from(remaining).unwrap_or(usize::MAX)),
            None => data.len(),
        };
        if let Some(remaining) = &mut body.remaining {
            *remaining -= counted as u64;
        }
        body.received += counted as u64;
        if let Some(md5) = &mut body.md5 {
            if body.received > MAX_DIGEST_BODY {
                return self.judge(Err(Failure::BodyTooLarge {
                    limit: MAX_DIGEST_BODY as usize,
                }));
            }
            md5.update(&data[..counted]);
        }
        if let Some(kept) = &mut body.kept {
            let room = MAX_REGEX_BODY - kept.len();
            kept.extend_from_slice(&data[..counted.min(room)]);
        }
        let complete = body.remaining == Some(0);
        let enough = body.md5.is_none() && body.received >= MAX_PLAIN_BODY;
        if complete || enough {
            let State::Body(body) = std::mem::replace(&mut self.state, State::Judged) else {
                unreachable!("matched above");
            };
            let verdict = self.verdict(body, complete);
            return Progress::Done(verdict);
        }
        Progress::More
    }

    /// `whole`: the body has ended (end of stream or Content-Length), rather than been
    /// read far enough.
    fn verdict(&self, body: Body, whole: bool) -> Result<Passed, Failure> {
        if let (Some(md5), Some(expected)) = (body.md5, self.url.digest) {
            let got: [u8; 16] = md5.finalize().into();
            if got != expected {
                return Err(Failure::Digest { got, expected });
            }
        }
        if let Some(regex) = self.regex {
            let kept = body.kept.as_deref().unwrap_or_default();
            // Body beyond what was kept: a regex that has not matched yet is undecided.
            let truncated = !whole || body.received > kept.len() as u64;
            regex.judge(kept, truncated)?;
        }
        Ok(Passed::Http {
            status: body.status,
        })
    }

    fn judge(&mut self, verdict: Result<Passed, Failure>) -> Progress {
        self.state = State::Judged;
        Progress::Done(verdict)
    }
}

struct HeadInfo {
    len: usize,
    status: u16,
    content_length: Option<u64>,
}

/// `Ok(None)` while the header is incomplete.
fn parse_head(bytes: &[u8]) -> Result<Option<HeadInfo>, Failure> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(bytes) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(error) => return Err(Failure::Malformed(error.to_string())),
    };
    let status = response
        .code
        .ok_or_else(|| Failure::Malformed("no status code".into()))?;
    // A Content-Length that does not parse is ignored, as keepalived ignores it: read to
    // the end of the stream.
    let content_length = response
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| std::str::from_utf8(h.value).ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    Ok(Some(HeadInfo {
        len,
        status,
        content_length,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StatusCodes;

    fn md5_of(data: &[u8]) -> [u8; 16] {
        Md5::digest(data).into()
    }

    /// Feeds `response` in pieces of `step` bytes, then ends the stream if still undecided.
    fn judge(url: &Url, response: &[u8], step: usize) -> Result<Passed, Failure> {
        let mut check = ResponseCheck::new(url, None);
        for piece in response.chunks(step) {
            if let Progress::Done(verdict) = check.feed(piece) {
                return verdict;
            }
        }
        check.end()
    }

    fn ok_200() -> Result<Passed, Failure> {
        Ok(Passed::Http { status: 200 })
    }

    const HELLO: &[u8] =
        b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html><h1>Hello Docker1</h1></html>";

    #[test]
    fn a_2xx_passes_by_default_in_any_chunking() {
        let url = Url::new("/");
        for step in [1, 2, 7, 1000] {
            assert_eq!(judge(&url, HELLO, step), ok_200(), "step {step}");
        }
    }

    #[test]
    fn a_status_outside_the_set_fails_as_soon_as_the_header_is_in() {
        let url = Url::new("/");
        let mut check = ResponseCheck::new(&url, None);
        let verdict = check.feed(b"HTTP/1.1 503 Service Unavailable\r\n\r\n");
        let expected = StatusCodes::default();
        assert_eq!(
            verdict,
            Progress::Done(Err(Failure::Status { got: 503, expected }))
        );
    }

    #[test]
    fn status_code_set_from_the_url_is_used() {
        let mut url = Url::new("/");
        url.status_codes = StatusCodes::from_ranges([503..=503]).unwrap();
        assert_eq!(
            judge(&url, b"HTTP/1.0 503 Nope\r\n\r\n", 5),
            Ok(Passed::Http { status: 503 })
        );
        assert!(matches!(
            judge(&url, b"HTTP/1.0 200 OK\r\n\r\n", 5),
            Err(Failure::Status { got: 200, .. })
        ));
    }

    #[test]
    fn digest_is_the_md5_of_the_body_to_the_end_of_the_stream() {
        let body = b"<html><h1>Hello Docker1</h1></html>";
        let mut url = Url::new("/");
        url.digest = Some(md5_of(body));
        for step in [1, 3, 1000] {
            assert_eq!(judge(&url, HELLO, step), ok_200(), "step {step}");
        }
        url.digest = Some(md5_of(b"something else"));
        assert_eq!(
            judge(&url, HELLO, 1000),
            Err(Failure::Digest {
                got: md5_of(body),
                expected: md5_of(b"something else")
            })
        );
    }

    #[test]
    fn digest_stops_at_content_length_and_decides_without_end_of_stream() {
        let mut url = Url::new("/");
        url.digest = Some(md5_of(b"hello"));
        let mut check = ResponseCheck::new(&url, None);
        assert_eq!(
            check.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel"),
            Progress::More
        );
        // Bytes beyond Content-Length are not hashed.
        assert_eq!(check.feed(b"lo trailing junk"), Progress::Done(ok_200()));
    }

    #[test]
    fn the_known_digest_of_an_empty_body() {
        // genhash prints d41d8cd98f00b204e9800998ecf8427e for an empty page.
        let mut url = Url::new("/");
        url.digest = Some([
            0xd4, 0x1d, 0x8c, 0xd9, 0x8f, 0x00, 0xb2, 0x04, 0xe9, 0x80, 0x09, 0x98, 0xec, 0xf8,
            0x42, 0x7e,
        ]);
        assert_eq!(judge(&url, b"HTTP/1.0 200 OK\r\n\r\n", 4), ok_200());
        assert_eq!(
            judge(&url, b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 100),
            ok_200()
        );
    }

    #[test]
    fn a_body_to_digest_beyond_the_cap_fails() {
        let mut url = Url::new("/");
        url.digest = Some([0; 16]);
        let mut check = ResponseCheck::new(&url, None);
        assert_eq!(check.feed(b"HTTP/1.0 200 OK\r\n\r\n"), Progress::More);
        let chunk = vec![b'x'; 64 * 1024];
        let mut fed = 0u64;
        let verdict = loop {
            fed += chunk.len() as u64;
            assert!(fed <= 2 * MAX_DIGEST_BODY, "no verdict after {fed} bytes");
            if let Progress::Done(verdict) = check.feed(&chunk) {
                break verdict;
            }
        };
        assert_eq!(
            verdict,
            Err(Failure::BodyTooLarge {
                limit: MAX_DIGEST_BODY as usize
            })
        );
        assert_eq!(fed, MAX_DIGEST_BODY + chunk.len() as u64);
    }

    #[test]
    fn without_digest_a_long_body_passes_after_the_plain_cap() {
        let url = Url::new("/");
        let mut check = ResponseCheck::new(&url, None);
        assert_eq!(check.feed(b"HTTP/1.0 200 OK\r\n\r\n"), Progress::More);
        assert_eq!(
            check.feed(&vec![b'x'; MAX_PLAIN_BODY as usize - 1]),
            Progress::More
        );
        assert_eq!(check.feed(b"x"), Progress::Done(ok_200()));
    }

    #[test]
    fn end_of_stream_before_a_complete_header_fails() {
        let url = Url::new("/");
        assert_eq!(judge(&url, b"", 1), Err(Failure::NoResponse));
        assert_eq!(
            judge(&url, b"HTTP/1.0 200 OK\r\nServer: x\r\n", 4),
            Err(Failure::TruncatedHeader)
        );
    }

    #[test]
    fn garbage_and_oversized_headers_fail() {
        let url = Url::new("/");
        assert!(matches!(
            judge(&url, b"SSH-2.0-OpenSSH_9.2\r\n", 100),
            Err(Failure::Malformed(_))
        ));
        let mut huge = b"HTTP/1.0 200 OK\r\nX: ".to_vec();
        huge.extend(std::iter::repeat_n(b'a', MAX_HEADER_BYTES));
        assert_eq!(
            judge(&url, &huge, 4096),
            Err(Failure::HeaderTooLarge {
                limit: MAX_HEADER_BYTES
            })
        );
    }

    #[test]
    fn a_bad_content_length_is_ignored_and_the_stream_read_to_its_end() {
        let mut url = Url::new("/");
        url.digest = Some(md5_of(b"abc"));
        assert_eq!(
            judge(&url, b"HTTP/1.0 200 OK\r\nContent-Length: x\r\n\r\nabc", 2),
            ok_200()
        );
    }

    fn judge_regex(url: &Url, response: &[u8], step: usize) -> Result<Passed, Failure> {
        let regex = url.regex.as_ref().unwrap().compile().unwrap();
        let mut check = ResponseCheck::new(url, Some(&regex));
        for piece in response.chunks(step) {
            if let Progress::Done(verdict) = check.feed(piece) {
                return verdict;
            }
        }
        check.end()
    }

    fn with_regex(regex: crate::regex_check::RegexCheck) -> Url {
        let mut url = Url::new("/");
        url.regex = Some(regex);
        url
    }

    #[test]
    fn a_regex_is_matched_against_the_body_only_after_status_and_digest() {
        let url = with_regex(crate::regex_check::RegexCheck::new("Hello Docker[0-9]"));
        for step in [1, 5, 1000] {
            assert_eq!(judge_regex(&url, HELLO, step), ok_200(), "step {step}");
        }
        // The header is not the body: "text/html" is not there to match.
        let url = with_regex(crate::regex_check::RegexCheck::new("text/html"));
        assert!(matches!(
            judge_regex(&url, HELLO, 7),
            Err(Failure::Regex { matched: false, .. })
        ));
        // A wrong status fails as a status, before the body is looked at.
        let response = b"HTTP/1.0 500 Oops\r\n\r\nHello Docker1";
        let url = with_regex(crate::regex_check::RegexCheck::new("Hello"));
        assert!(matches!(
            judge_regex(&url, response, 100),
            Err(Failure::Status { got: 500, .. })
        ));
    }

    #[test]
    fn a_regex_sees_the_body_up_to_content_length() {
        let url = with_regex(crate::regex_check::RegexCheck::new("junk"));
        let response = b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhellojunk";
        assert!(matches!(
            judge_regex(&url, response, 3),
            Err(Failure::Regex { matched: false, .. })
        ));
    }

    #[test]
    fn a_regex_over_a_long_body_is_decided_by_its_first_part() {
        let mut long = b"HTTP/1.0 200 OK\r\n\r\nstatus=ok ".to_vec();
        long.extend(std::iter::repeat_n(b'x', MAX_REGEX_BODY * 2));
        let url = with_regex(crate::regex_check::RegexCheck::new("status=ok"));
        assert_eq!(judge_regex(&url, &long, 4096), ok_200());
        let url = with_regex(crate::regex_check::RegexCheck::new("status=down"));
        assert_eq!(
            judge_regex(&url, &long, 4096),
            Err(Failure::BodyTooLarge {
                limit: MAX_REGEX_BODY
            })
        );
        // A body that ends within the limit is judged whole.
        let short = b"HTTP/1.0 200 OK\r\n\r\nstatus=ok";
        assert!(matches!(
            judge_regex(&url, short, 4096),
            Err(Failure::Regex { matched: false, .. })
        ));
    }
}
