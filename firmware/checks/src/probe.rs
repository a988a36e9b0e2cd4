//! One probe over the network: a TCP connect from `bindto`, and for HTTP_GET/SSL_GET one
//! GET of one URL, judged by [`crate::response`]. Every step has a deadline, so a probe
//! always ends, with a [`ProbeResult`].
//!
//! Timeouts, after keepalived (check_http.c, check_ssl.c): the connect, and the TLS
//! handshake with it, within `connect_timeout`; sending the request, and each read of the
//! response, within `connect_timeout` again. lvsfw adds one bound of its own: the whole
//! exchange ends within [`EXCHANGE_LIMIT_FACTOR`] × `connect_timeout`, so that a server that
//! trickles a byte now and then cannot hold a probe slot for minutes.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{timeout_at, Instant};

use crate::outcome::{Failure, Passed, Phase, ProbeResult};
use crate::request;
use crate::response::{Progress, ResponseCheck};
use crate::spec::{CheckKind, CheckSpec, HttpCheck};

/// The whole probe, connect to verdict, ends within this many `connect_timeout`s.
pub const EXCHANGE_LIMIT_FACTOR: u32 = 3;
/// One read's buffer; keepalived reads 4 KiB at a time too.
const READ_CHUNK: usize = 4096;

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
    pub async fn run(&self, spec: &CheckSpec, url: Option<usize>) -> ProbeResult {
        match self.probe(spec, url).await {
            Ok(passed) => ProbeResult::Passed(passed),
            Err(failure) => ProbeResult::Failed(failure),
        }
    }

    async fn probe(&self, spec: &CheckSpec, url: Option<usize>) -> Result<Passed, Failure> {
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
        let Some(url) = http.urls.get(index) else {
            return Err(Failure::Malformed("HTTP check without a URL".into()));
        };
        let exchange = Exchange {
            request: request::build(http, url, spec.connect_to).into_bytes(),
            check: ResponseCheck::new(url),
            step: timeout,
            limit,
        };
        // Boxed: the HTTP and TLS states are large, and without a box every probe's
        // task, TCP_CHECK's included, would be allocated and moved at their size.
        if !http.tls {
            return Box::pin(exchange.run(stream)).await;
        }
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
    request: Vec<u8>,
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
            stream.write_all(&self.request).await?;
            stream.flush().await
        };
        match timeout_at(self.deadline(), send).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return Err(io_failure(Phase::Request, error)),
            Err(_) => return Err(self.timeout(Phase::Request)),
        }
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            let read = match timeout_at(self.deadline(), stream.read(&mut buf)).await {
                Ok(Ok(read)) => read,
                // A TLS peer that closes without close_notify: the end of the stream, as
                // for keepalived, which shuts its own side down quietly too.
                Ok(Err(error)) if error.kind() == io::ErrorKind::UnexpectedEof => 0,
                Ok(Err(error)) => return Err(io_failure(Phase::Response, error)),
                Err(_) => return Err(self.timeout(Phase::Response)),
            };
            if read == 0 {
                return self.check.end();
            }
            if let Progress::Done(verdict) = self.check.feed(&buf[..read]) {
                return verdict;
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

fn io_failure(phase: Phase, error: io::Error) -> Failure {
    Failure::Io {
        phase,
        error: error.to_string(),
    }
}
