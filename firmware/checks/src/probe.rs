//! One probe over the network: a TCP connect from `bindto`, and for SSL_GET one GET of one
//! URL over TLS, judged by [`crate::response`], for SMTP_CHECK the dialogue of
//! [`crate::smtp`]. Every step has a deadline, so a probe always ends, with a
//! [`ProbeResult`]. TCP_CHECK and HTTP_GET go through [`crate::streams`], PING_CHECK,
//! UDP_CHECK and DNS_CHECK through [`crate::datagram`]; [`Prober::run_prepared`] runs any
//! kind.
//!
//! Timeouts, after keepalived (check_http.c, check_ssl.c): the connect, and the TLS
//! handshake with it, within `connect_timeout`; sending the request, and each read of the
//! response, within `connect_timeout` again. lvsfw adds one bound of its own: the whole
//! exchange ends within [`EXCHANGE_LIMIT_FACTOR`] × `connect_timeout`, so that a server that
//! trickles a byte now and then cannot hold a probe slot for minutes.

use std::cell::RefCell;
use std::future::poll_fn;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{timeout_at, Instant};

use crate::outcome::{Failure, Passed, Phase, ProbeResult};
use crate::regex_check::CompiledRegex;
use crate::request;
use crate::response::{Progress, ResponseCheck};
use crate::smtp::{self, Dialogue, Next};
use crate::spec::{CheckKind, CheckSpec, HttpCheck, Url};

/// The whole probe, connect to verdict, ends within this many `connect_timeout`s.
pub const EXCHANGE_LIMIT_FACTOR: u32 = 3;
/// The most one read takes (keepalived reads 4 KiB at a time).
const READ_CHUNK: usize = 16 * 1024;

thread_local! {
    /// One read buffer for all the probes of a thread. Each read is judged within the
    /// poll that made it, so no probe holds the buffer across an await, and a probe
    /// allocates no buffer of its own: at thousands of probes a second, per-probe buffers
    /// made musl's allocator map and unmap pages all the time, and the page faults that
    /// follow were the largest single cost of an HTTP_GET probe in the VM.
    static READ_BUFFER: RefCell<Box<[u8]>> = RefCell::new(vec![0; READ_CHUNK].into_boxed_slice());
}

/// What every probe of one check needs and that does not change between its probes,
/// built once when the check is set rather than at each probe.
#[derive(Debug, Clone)]
pub struct PreparedCheck {
    pub spec: CheckSpec,
    /// What a probe sends, byte for byte: for HTTP_GET/SSL_GET the request of each URL;
    /// UDP_CHECK's datagram; DNS_CHECK's query (each probe puts its own id in); SMTP_CHECK's
    /// HELO command.
    requests: Vec<Box<[u8]>>,
    /// HTTP_GET/SSL_GET: each URL's `regex`, compiled.
    regexes: Vec<Option<CompiledRegex>>,
}

impl PreparedCheck {
    /// Prepares a validated spec (a `regex` that does not compile is left out here:
    /// [`CheckSpec::validate`] refuses it first).
    pub fn new(spec: CheckSpec) -> Self {
        let boxed = |bytes: Vec<u8>| vec![bytes.into_boxed_slice()];
        let (requests, regexes) = match &spec.kind {
            CheckKind::Tcp | CheckKind::Ping => (Vec::new(), Vec::new()),
            CheckKind::Http(http) => {
                let requests = http
                    .urls
                    .iter()
                    .map(|url| {
                        let request = request::build(http, url, spec.connect_to);
                        request.into_bytes().into_boxed_slice()
                    })
                    .collect();
                // Nothing at all for the usual check without a regex: thousands of checks
                // each holding room for one would be megabytes.
                let regexes = if http.urls.iter().any(|url| url.regex.is_some()) {
                    let compile =
                        |url: &crate::spec::Url| url.regex.as_ref().and_then(|r| r.compile().ok());
                    http.urls.iter().map(compile).collect()
                } else {
                    Vec::new()
                };
                (requests, regexes)
            }
            CheckKind::Udp(udp) => (boxed(udp.datagram().to_vec()), Vec::new()),
            CheckKind::Dns(dns) => (boxed(dns.query()), Vec::new()),
            CheckKind::Smtp(smtp) => (boxed(smtp.helo_command()), Vec::new()),
        };
        PreparedCheck {
            spec,
            requests,
            regexes,
        }
    }

    /// The request of URL `index` (HTTP), or the one thing a probe of the other kinds
    /// sends (index 0).
    pub fn request(&self, index: usize) -> Option<&[u8]> {
        self.requests.get(index).map(|r| &r[..])
    }

    /// HTTP_GET/SSL_GET: URL `index` and its compiled regex, if it has one.
    pub fn url(&self, index: usize) -> Result<(&Url, Option<&CompiledRegex>), Failure> {
        let CheckKind::Http(http) = &self.spec.kind else {
            return Err(Failure::Internal("an HTTP probe of another check".into()));
        };
        let Some(url) = http.urls.get(index) else {
            return Err(Failure::Malformed("HTTP check without a URL".into()));
        };
        let regex = self.regexes.get(index).and_then(Option::as_ref);
        if url.regex.is_some() && regex.is_none() {
            return Err(Failure::Internal("the url's regex did not compile".into()));
        }
        Ok((url, regex))
    }
}

/// Two preparations are the same when their specs are: the rest is made from the spec.
impl PartialEq for PreparedCheck {
    fn eq(&self, other: &Self) -> bool {
        self.spec == other.spec
    }
}

impl Eq for PreparedCheck {}

/// What probes share: the TLS client configuration (built once; it is not small).
#[derive(Clone)]
pub struct Prober {
    #[cfg(feature = "tls")]
    tls: crate::tls::TlsConnector,
}

impl Default for Prober {
    fn default() -> Self {
        Self::new()
    }
}

impl Prober {
    pub fn new() -> Self {
        Prober {
            #[cfg(feature = "tls")]
            tls: crate::tls::connector(),
        }
    }

    /// Runs one probe of `spec`; `url` is the index the checker asked for (HTTP only).
    /// Prepares the check for this probe alone: the scheduler prepares each check once.
    pub async fn run(&self, spec: &CheckSpec, url: Option<usize>) -> ProbeResult {
        self.run_prepared(&PreparedCheck::new(spec.clone()), url)
            .await
    }

    /// [`Prober::run`] for a check prepared once for all its probes.
    pub async fn run_prepared(&self, check: &PreparedCheck, url: Option<usize>) -> ProbeResult {
        match &check.spec.kind {
            // The scheduler runs these on its own epoll set and shared sockets; one alone
            // gets an epoll set or sockets of its own.
            CheckKind::Tcp => crate::streams::probe_once(check, url).await,
            CheckKind::Http(http) if !http.tls => crate::streams::probe_once(check, url).await,
            CheckKind::Ping | CheckKind::Udp(_) | CheckKind::Dns(_) => {
                crate::datagram::probe_once(check).await
            }
            CheckKind::Http(_) | CheckKind::Smtp(_) => match self.probe(check, url).await {
                Ok(passed) => ProbeResult::Passed(passed),
                Err(failure) => ProbeResult::Failed(failure),
            },
        }
    }

    /// SSL_GET and SMTP_CHECK: a TCP connection, then the TLS exchange or the dialogue.
    async fn probe(&self, check: &PreparedCheck, url: Option<usize>) -> Result<Passed, Failure> {
        let spec = &check.spec;
        let timeout = spec.timing.connect_timeout;
        let start = Instant::now();
        let connect_deadline = start + timeout;
        let limit = start + timeout.saturating_mul(EXCHANGE_LIMIT_FACTOR);
        let stream = connect(spec.connect_to, spec.bindto, timeout, connect_deadline).await?;
        let http = match &spec.kind {
            CheckKind::Http(http) => http,
            CheckKind::Smtp(_) => {
                let helo = check.request(0).unwrap_or_default();
                return smtp_dialogue(stream, helo, timeout, limit).await;
            }
            _ => return Err(Failure::Internal("not a check over a tokio stream".into())),
        };
        let index = url.unwrap_or(0);
        let (url, regex) = check.url(index)?;
        let Some(request) = check.request(index) else {
            return Err(Failure::Malformed("HTTP check without a URL".into()));
        };
        let exchange = Exchange {
            request,
            check: ResponseCheck::new(url, regex),
            steps: Steps {
                step: timeout,
                limit,
            },
        };
        // Boxed: the TLS state is large, and SMTP_CHECK's tasks would otherwise be
        // allocated at its size too.
        Box::pin(self.tls_exchange(
            stream,
            http,
            url,
            spec.connect_to.ip(),
            connect_deadline,
            exchange,
        ))
        .await
    }

    #[cfg(feature = "tls")]
    async fn tls_exchange(
        &self,
        stream: TcpStream,
        http: &HttpCheck,
        url: &crate::spec::Url,
        ip: IpAddr,
        connect_deadline: Instant,
        exchange: Exchange<'_>,
    ) -> Result<Passed, Failure> {
        let name = crate::tls::server_name(request::sni_name(http, url), ip);
        let step = exchange.steps.step;
        let handshake = self.tls.connect(name, stream);
        let stream = match timeout_at(connect_deadline, handshake).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => return Err(Failure::Tls(error.to_string())),
            Err(_) => {
                return Err(Failure::Timeout {
                    phase: Phase::Handshake,
                    after: step,
                })
            }
        };
        let mut stream = stream;
        let verdict = exchange.run(&mut stream).await;
        if http.tls_compliant || url.tls_compliant {
            // `tls_compliant`: the close_notify alert, then the TCP close (keepalived's
            // default is a quiet shutdown). What the server makes of it does not change
            // the verdict, as keepalived ignores SSL_shutdown's result too.
            let _ = timeout_at(Instant::now() + step, stream.shutdown()).await;
        }
        verdict
    }

    #[cfg(not(feature = "tls"))]
    async fn tls_exchange(
        &self,
        _stream: TcpStream,
        _http: &HttpCheck,
        _url: &crate::spec::Url,
        _ip: IpAddr,
        _connect_deadline: Instant,
        _exchange: Exchange<'_>,
    ) -> Result<Passed, Failure> {
        Err(Failure::TlsUnavailable)
    }
}

/// A TCP connection to `to`, from `bindto` if given, within `timeout`.
async fn connect(
    to: SocketAddr,
    bindto: Option<IpAddr>,
    timeout: Duration,
    deadline: Instant,
) -> Result<TcpStream, Failure> {
    let socket = tcp_socket(to, bindto)?;
    let socket = TcpSocket::from_std_stream(std::net::TcpStream::from(socket));
    match timeout_at(deadline, socket.connect(to)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(error)) => Err(connect_failure(error)),
        Err(_) => Err(Failure::ConnectTimeout(timeout)),
    }
}

/// A non-blocking TCP socket for a connection to `to`, from `bindto` if given.
pub(crate) fn tcp_socket(
    to: SocketAddr,
    bindto: Option<IpAddr>,
) -> Result<socket2::Socket, Failure> {
    let domain = match to {
        SocketAddr::V4(_) => socket2::Domain::IPV4,
        SocketAddr::V6(_) => socket2::Domain::IPV6,
    };
    let kind = socket2::Type::STREAM.nonblocking();
    let socket = socket2::Socket::new(domain, kind, Some(socket2::Protocol::TCP))
        .map_err(|error| Failure::Connect(error.to_string()))?;
    if let Some(addr) = bindto {
        // Let connect() pick the source port, per destination: a bind to port 0 would take
        // one from the host's whole ephemeral range for each probe.
        let _ = nix::sys::socket::setsockopt(
            &socket,
            nix::sys::socket::sockopt::IpBindAddressNoPort,
            &true,
        );
        socket
            .bind(&SocketAddr::new(addr, 0).into())
            .map_err(|error| Failure::Bind {
                addr,
                error: error.to_string(),
            })?;
    }
    Ok(socket)
}

/// A connect that failed: refused (RST to our SYN), or another reason.
pub(crate) fn connect_failure(error: io::Error) -> Failure {
    if error.kind() == io::ErrorKind::ConnectionRefused {
        Failure::Refused
    } else {
        Failure::Connect(error.to_string())
    }
}

/// One request and its response on a connected stream (plain or TLS).
struct Exchange<'a> {
    request: &'a [u8],
    check: ResponseCheck<'a>,
    steps: Steps,
}

impl Exchange<'_> {
    async fn run<S>(mut self, stream: &mut S) -> Result<Passed, Failure>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let send = async {
            stream.write_all(self.request).await?;
            stream.flush().await
        };
        match timeout_at(self.steps.next(), send).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return Err(io_failure(Phase::Request, error)),
            Err(_) => return Err(self.steps.timeout(Phase::Request)),
        }
        loop {
            let deadline = self.steps.next();
            let check = &mut self.check;
            let read = poll_fn(|cx| read_and_feed(&mut *stream, cx, |data| check.feed(data)));
            match timeout_at(deadline, read).await {
                Ok(Ok(Some(Progress::Done(verdict)))) => return verdict,
                Ok(Ok(Some(Progress::More))) => {}
                Ok(Ok(None)) => return self.check.end(),
                // A TLS peer that closes without close_notify: the end of the stream, as
                // for keepalived, which shuts its own side down quietly too.
                Ok(Err(error)) if error.kind() == io::ErrorKind::UnexpectedEof => {
                    return self.check.end()
                }
                Ok(Err(error)) => return Err(io_failure(Phase::Response, error)),
                Err(_) => return Err(self.steps.timeout(Phase::Response)),
            }
        }
    }
}

/// The deadlines of an exchange's steps: each within `step`, all by `limit`.
#[derive(Clone, Copy)]
pub(crate) struct Steps {
    pub(crate) step: Duration,
    pub(crate) limit: Instant,
}

impl Steps {
    /// The deadline of a step starting now.
    pub(crate) fn next(&self) -> Instant {
        (Instant::now() + self.step).min(self.limit)
    }

    pub(crate) fn timeout(&self, phase: Phase) -> Failure {
        if Instant::now() >= self.limit {
            Failure::TooSlow {
                limit: self.step.saturating_mul(EXCHANGE_LIMIT_FACTOR),
            }
        } else {
            Failure::Timeout {
                phase,
                after: self.step,
            }
        }
    }
}

/// `f` with the thread's [`READ_BUFFER`], for a read that is judged before it is let go.
pub(crate) fn with_read_buffer<R>(f: impl FnOnce(&mut [u8]) -> R) -> R {
    READ_BUFFER.with_borrow_mut(|buffer| f(buffer))
}

/// One read into the thread's [`READ_BUFFER`], handed to `feed` before the buffer is let
/// go; `None` at the end of the stream.
fn read_and_feed<S, R>(
    stream: &mut S,
    cx: &mut Context<'_>,
    feed: impl FnOnce(&[u8]) -> R,
) -> Poll<io::Result<Option<R>>>
where
    S: AsyncRead + Unpin,
{
    with_read_buffer(|buffer| {
        let mut read = ReadBuf::new(buffer);
        match Pin::new(stream).poll_read(cx, &mut read) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Ready(Ok(())) if read.filled().is_empty() => Poll::Ready(Ok(None)),
            Poll::Ready(Ok(())) => Poll::Ready(Ok(Some(feed(read.filled())))),
        }
    })
}

/// SMTP_CHECK's dialogue on a connected stream: each read and write within `step`, the
/// whole by `limit`.
async fn smtp_dialogue(
    mut stream: TcpStream,
    helo: &[u8],
    step: Duration,
    limit: Instant,
) -> Result<Passed, Failure> {
    let steps = Steps { step, limit };
    let mut dialogue = Dialogue::new();
    loop {
        let read = poll_fn(|cx| read_and_feed(&mut stream, cx, |data| dialogue.feed(data)));
        let line = match timeout_at(steps.next(), read).await {
            Ok(Ok(Some(Next::Read))) => continue,
            Ok(Ok(Some(Next::Done(verdict)))) => return verdict,
            Ok(Ok(Some(Next::SendHelo))) => helo,
            Ok(Ok(Some(Next::SendQuit))) => smtp::QUIT,
            Ok(Ok(None)) => return dialogue.end(),
            Ok(Err(error)) => return Err(io_failure(Phase::Response, error)),
            Err(_) => return Err(steps.timeout(Phase::Response)),
        };
        match timeout_at(steps.next(), stream.write_all(line)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return Err(io_failure(Phase::Request, error)),
            Err(_) => return Err(steps.timeout(Phase::Request)),
        }
    }
}

fn io_failure(phase: Phase, error: io::Error) -> Failure {
    Failure::Io {
        phase,
        error: error.to_string(),
    }
}
