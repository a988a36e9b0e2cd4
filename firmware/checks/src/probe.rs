//! One probe over the network: a TCP connect from `bindto`, and for HTTP_GET/SSL_GET one
//! GET of one URL, judged by [`crate::response`]. Every step has a deadline, so a probe
//! always ends, with a [`ProbeResult`].
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
use crate::request;
use crate::response::{Progress, ResponseCheck};
use crate::spec::{CheckKind, CheckSpec, HttpCheck};

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedCheck {
    pub spec: CheckSpec,
    /// HTTP_GET/SSL_GET: the request for each URL, byte for byte.
    requests: Vec<Box<[u8]>>,
}

impl PreparedCheck {
    pub fn new(spec: CheckSpec) -> Self {
        let requests = match &spec.kind {
            CheckKind::Tcp => Vec::new(),
            CheckKind::Http(http) => http
                .urls
                .iter()
                .map(|url| {
                    request::build(http, url, spec.connect_to)
                        .into_bytes()
                        .into_boxed_slice()
                })
                .collect(),
        };
        PreparedCheck { spec, requests }
    }
}

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

    /// TCP_CHECK's probe: the handshake within `connect_timeout` is the whole check. A
    /// future of its own, so that the tasks of TCP_CHECK probes stay small.
    pub async fn connect_only(&self, spec: &CheckSpec) -> ProbeResult {
        let timeout = spec.timing.connect_timeout;
        let deadline = Instant::now() + timeout;
        match connect(spec.connect_to, spec.bindto, timeout, deadline).await {
            // Dropping the stream closes it with a FIN.
            Ok(_) => ProbeResult::Passed(Passed::Connected),
            Err(failure) => ProbeResult::Failed(failure),
        }
    }

    /// [`Prober::run`] for a check prepared once for all its probes.
    pub async fn run_prepared(&self, check: &PreparedCheck, url: Option<usize>) -> ProbeResult {
        match self.probe(check, url).await {
            Ok(passed) => ProbeResult::Passed(passed),
            Err(failure) => ProbeResult::Failed(failure),
        }
    }

    async fn probe(&self, check: &PreparedCheck, url: Option<usize>) -> Result<Passed, Failure> {
        let spec = &check.spec;
        let timeout = spec.timing.connect_timeout;
        let start = Instant::now();
        let connect_deadline = start + timeout;
        let limit = start + timeout.saturating_mul(EXCHANGE_LIMIT_FACTOR);
        let stream = connect(spec.connect_to, spec.bindto, timeout, connect_deadline).await?;
        let http = match &spec.kind {
            // TCP_CHECK: the handshake is the whole check; dropping closes with a FIN.
            CheckKind::Tcp => return Ok(Passed::Connected),
            CheckKind::Http(http) => http,
        };
        let index = url.unwrap_or(0).min(http.urls.len().saturating_sub(1));
        let (Some(url), Some(request)) = (http.urls.get(index), check.requests.get(index)) else {
            return Err(Failure::Malformed("HTTP check without a URL".into()));
        };
        let exchange = Exchange {
            request,
            check: ResponseCheck::new(url),
            step: timeout,
            limit,
        };
        if !http.tls {
            return exchange.run(stream).await;
        }
        // Boxed: the TLS state is large, and without a box every plain HTTP_GET probe's
        // task would be allocated at its size too.
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
        let handshake = self.tls.connect(name, stream);
        let stream = match timeout_at(connect_deadline, handshake).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => return Err(Failure::Tls(error.to_string())),
            Err(_) => {
                return Err(Failure::Timeout {
                    phase: Phase::Handshake,
                    after: exchange.step,
                })
            }
        };
        exchange.run(stream).await
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
    let socket = match to {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
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
            .bind(SocketAddr::new(addr, 0))
            .map_err(|error| Failure::Bind {
                addr,
                error: error.to_string(),
            })?;
    }
    match timeout_at(deadline, socket.connect(to)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(error)) if error.kind() == io::ErrorKind::ConnectionRefused => Err(Failure::Refused),
        Ok(Err(error)) => Err(Failure::Connect(error.to_string())),
        Err(_) => Err(Failure::ConnectTimeout(timeout)),
    }
}

/// One request and its response on a connected stream (plain or TLS).
struct Exchange<'a> {
    request: &'a [u8],
    check: ResponseCheck<'a>,
    /// Each write or read must finish within this.
    step: Duration,
    /// And the whole exchange by this.
    limit: Instant,
}

impl Exchange<'_> {
    async fn run<S>(mut self, mut stream: S) -> Result<Passed, Failure>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let send = async {
            stream.write_all(self.request).await?;
            stream.flush().await
        };
        match timeout_at(self.deadline(), send).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return Err(io_failure(Phase::Request, error)),
            Err(_) => return Err(self.timeout(Phase::Request)),
        }
        loop {
            let deadline = self.deadline();
            let read = poll_fn(|cx| read_and_judge(&mut stream, &mut self.check, cx));
            match timeout_at(deadline, read).await {
                Ok(Ok(Read::Judged(Progress::Done(verdict)))) => return verdict,
                Ok(Ok(Read::Judged(Progress::More))) => {}
                Ok(Ok(Read::End)) => return self.check.end(),
                // A TLS peer that closes without close_notify: the end of the stream, as
                // for keepalived, which shuts its own side down quietly too.
                Ok(Err(error)) if error.kind() == io::ErrorKind::UnexpectedEof => {
                    return self.check.end()
                }
                Ok(Err(error)) => return Err(io_failure(Phase::Response, error)),
                Err(_) => return Err(self.timeout(Phase::Response)),
            }
        }
    }

    fn deadline(&self) -> Instant {
        (Instant::now() + self.step).min(self.limit)
    }

    fn timeout(&self, phase: Phase) -> Failure {
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

/// What one read brought.
enum Read {
    Judged(Progress),
    End,
}

/// One read into the thread's [`READ_BUFFER`], judged before the buffer is let go.
fn read_and_judge<S>(
    stream: &mut S,
    check: &mut ResponseCheck<'_>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<Read>>
where
    S: AsyncRead + Unpin,
{
    READ_BUFFER.with_borrow_mut(|buffer| {
        let mut read = ReadBuf::new(buffer);
        match Pin::new(stream).poll_read(cx, &mut read) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Ready(Ok(())) if read.filled().is_empty() => Poll::Ready(Ok(Read::End)),
            Poll::Ready(Ok(())) => Poll::Ready(Ok(Read::Judged(check.feed(read.filled())))),
        }
    })
}

fn io_failure(phase: Phase, error: io::Error) -> Failure {
    Failure::Io {
        phase,
        error: error.to_string(),
    }
}
