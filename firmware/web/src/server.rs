//! The HTTP server: listeners on the management addresses, one task per connection,
//! every wait bounded in time and every buffer in size.
//!
//! Handlers are synchronous and may take long (a password hash, a netlink dump, a large
//! keepalived.conf), so each request runs on tokio's blocking pool, a few at a time; the
//! balancer's own thread only moves bytes. A connection that breaks a limit gets one
//! short answer (400, 408, 413, 431, 501, 503) and is closed; nothing else happens.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::timeout;

use crate::client::Client;
use crate::http::{self, Head, Method, Reject, Request, Response};
use crate::tls::{self, Tls};

/// What answers requests: [`crate::App`] in the firmware, a stub in tests.
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, request: Request) -> Response;

    /// Whether a body larger than [`ServerLimits::small_body`] may be read for this
    /// head (it then holds part of the shared budget while it comes in); the answer to
    /// give if not. Asked before any of the body is read.
    fn admits_large_body(&self, head: &Head) -> Result<(), Response> {
        let _ = head;
        Ok(())
    }

    /// Whether this request's body is taken as a stream (an update upload, larger than
    /// memory may hold): a sink for it, or the answer that refuses it, decided on the head
    /// alone; `None`: the body is read whole and [`Handler::handle`] answers. Blocking is
    /// allowed (it runs on the blocking pool).
    fn streams_body(&self, request: &Request) -> Option<Result<Box<dyn BodySink>, Response>> {
        let _ = request;
        None
    }
}

/// A request body taken as it arrives, never held whole. Dropped before
/// [`BodySink::finish`] (the client broke off, a limit was hit), it abandons what it did.
pub trait BodySink: Send {
    /// The next bytes of the body (blocking allowed); `Err`: refused, with the answer.
    fn push(&mut self, bytes: &[u8]) -> Result<(), Response>;
    /// The whole body arrived: the answer.
    fn finish(self: Box<Self>) -> Response;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    pub http: http::Limits,
    /// Open connections; one more is answered 503 and closed.
    pub max_connections: usize,
    /// Open connections of one client (an address, an IPv6 /64): one client cannot
    /// hold every connection while others wait.
    pub max_connections_per_client: usize,
    /// A body up to this size is read without asking (a login, a form); a larger one
    /// only when the handler admits it, within the shared `body_budget`.
    pub small_body: usize,
    /// From the first byte of a request to the end of its head (slow clients).
    pub head_timeout: Duration,
    /// To receive the whole body once the head is in.
    pub body_timeout: Duration,
    /// A streamed body (an update upload): the longest wait for its next bytes, and
    /// the whole of it.
    pub stream_idle_timeout: Duration,
    pub stream_timeout: Duration,
    /// An open connection with no request in progress.
    pub idle_timeout: Duration,
    /// To hand the answer to a client that does not read.
    pub write_timeout: Duration,
    /// Requests on one connection before it is closed.
    pub max_requests_per_connection: u32,
    /// Bodies of all connections held in memory at once, in bytes.
    pub body_budget: usize,
    /// Requests handled at the same time (threads of the blocking pool).
    pub handlers_at_once: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            http: http::Limits::default(),
            max_connections: 64,
            max_connections_per_client: 8,
            small_body: 64 * 1024,
            head_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            stream_idle_timeout: Duration::from_secs(30),
            stream_timeout: Duration::from_secs(600),
            idle_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            max_requests_per_connection: 1000,
            body_budget: 8 * 1024 * 1024,
            handlers_at_once: 4,
        }
    }
}

/// Where to listen: an address and, on the appliance, the NIC it must arrive on
/// (`SO_BINDTODEVICE`), so that a packet for that address coming in on `ext` is not
/// answered; and whether connections there speak TLS.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Listen {
    pub addr: SocketAddr,
    pub device: Option<String>,
    pub scheme: Scheme,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scheme {
    Https,
    /// Plain HTTP: the page answers only with a redirect to HTTPS there.
    Http,
}

impl std::fmt::Display for Listen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = match self.scheme {
            Scheme::Https => "https",
            Scheme::Http => "http",
        };
        match &self.device {
            Some(d) => write!(f, "{scheme}://{} on {d}", self.addr),
            None => write!(f, "{scheme}://{}", self.addr),
        }
    }
}

/// What all connections share.
pub struct Shared {
    handler: Arc<dyn Handler>,
    limits: ServerLimits,
    connections: Arc<Semaphore>,
    /// Open connections per client.
    clients: Mutex<HashMap<Client, usize>>,
    body_budget: Arc<Semaphore>,
    handlers: Arc<Semaphore>,
    tls: Tls,
}

impl Shared {
    /// `tls`: the server configuration HTTPS listeners use, as it changes.
    pub fn new(handler: Arc<dyn Handler>, limits: ServerLimits, tls: Tls) -> Arc<Shared> {
        Arc::new(Shared {
            handler,
            limits,
            tls,
            connections: Arc::new(Semaphore::new(limits.max_connections)),
            clients: Mutex::new(HashMap::new()),
            body_budget: Arc::new(Semaphore::new(limits.body_budget)),
            handlers: Arc::new(Semaphore::new(limits.handlers_at_once.max(1))),
        })
    }
}

/// One open connection of a client, given back when dropped.
struct ClientSlot {
    shared: Arc<Shared>,
    client: Client,
}

impl Shared {
    /// A connection slot for `peer`'s client, if it has fewer than its share open.
    fn client_slot(self: &Arc<Self>, peer: IpAddr) -> Option<ClientSlot> {
        let client = Client::of(peer);
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        let open = clients.entry(client).or_insert(0);
        if *open >= self.limits.max_connections_per_client.max(1) {
            return None;
        }
        *open += 1;
        Some(ClientSlot {
            shared: self.clone(),
            client,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut clients = self
            .shared
            .clients
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(open) = clients.get_mut(&self.client) {
            *open -= 1;
            if *open == 0 {
                clients.remove(&self.client);
            }
        }
    }
}

/// Serves on the addresses `listen` holds until it closes, binding again whenever it
/// changes (the management address was changed and applied). Connections already open
/// are served to their end.
pub async fn serve(mut listen: watch::Receiver<Vec<Listen>>, shared: Arc<Shared>) {
    loop {
        let wanted = listen.borrow_and_update().clone();
        let tasks: Vec<JoinHandle<()>> = wanted
            .iter()
            .map(|l| tokio::spawn(listen_on(l.clone(), shared.clone())))
            .collect();
        if wanted.is_empty() {
            log::warn!("web: no management address to listen on; the page is not served");
        }
        let changed = listen.changed().await;
        for task in tasks {
            task.abort();
        }
        if changed.is_err() {
            return;
        }
    }
}

/// How soon a failed bind is tried again (the address may not be up yet).
const BIND_RETRY: Duration = Duration::from_secs(5);
/// A new IPv6 address cannot be bound while the kernel checks that nobody else has it
/// (duplicate address detection, a second or two after its link comes up): it is tried
/// this often, without a word, for up to BIND_RETRY.
const DAD_RETRY: Duration = Duration::from_millis(250);

async fn listen_on(listen: Listen, shared: Arc<Shared>) {
    let mut said = false;
    let started = tokio::time::Instant::now();
    let listener = loop {
        match bind(&listen) {
            Ok(l) => break l,
            Err(e)
                if e.kind() == std::io::ErrorKind::AddrNotAvailable
                    && started.elapsed() < BIND_RETRY =>
            {
                tokio::time::sleep(DAD_RETRY).await;
            }
            Err(e) => {
                if !said {
                    log::error!("web: cannot listen on {listen}: {e}; trying again every 5 s");
                    said = true;
                }
                tokio::time::sleep(BIND_RETRY).await;
            }
        }
    };
    log::info!("web: listening on {listen}");
    accept_loop(listener, shared, listen.scheme).await;
}

fn bind(listen: &Listen) -> std::io::Result<TcpListener> {
    let socket = match listen.addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    if let Some(device) = &listen.device {
        socket.bind_device(Some(device.as_bytes()))?;
    }
    socket.bind(listen.addr)?;
    socket.listen(64)
}

/// Accepts connections on `listener` for ever; each one is served by a task of its own.
pub async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, scheme: Scheme) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: wait rather than spin.
                log::error!("web: accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(client) = shared.client_slot(peer.ip()) else {
            refuse_busy(
                stream,
                scheme,
                "too many connections from your address; close some",
            );
            continue;
        };
        let Ok(permit) = shared.connections.clone().try_acquire_owned() else {
            refuse_busy(stream, scheme, "too many connections; try again");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().ok().map(|a| a.ip());
        let shared = shared.clone();
        tokio::spawn(async move {
            match scheme {
                // One serving loop for both (boxed), not one copy of it per stream type.
                Scheme::Http => {
                    let stream: Box<dyn Io> = Box::new(stream);
                    serve_connection(stream, peer.ip(), local, false, &shared).await
                }
                Scheme::Https => {
                    let limit = shared.limits.head_timeout;
                    match tls::handshake(stream, &shared.tls, limit).await {
                        Ok(stream) => {
                            let stream: Box<dyn Io> = Box::new(stream);
                            serve_connection(stream, peer.ip(), local, true, &shared).await
                        }
                        Err(e) => log::info!("web: {peer}: {e}"),
                    }
                }
            }
            drop(permit);
            drop(client);
        });
    }
}

/// A connection's byte stream: TCP, or TLS over TCP.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Too many connections: one non-blocking attempt at a 503, then the socket is closed;
/// on the TLS port it is only closed (a plain answer would be garbage to a TLS client,
/// and a handshake is what the refusal spares).
/// Not logged: a client opening connections by the hundred would fill the log.
fn refuse_busy(stream: TcpStream, scheme: Scheme, why: &str) {
    if scheme == Scheme::Https {
        return;
    }
    let response = Response::text(503, format!("{why}\n"));
    let mut bytes = response.encode_head(false);
    bytes.extend_from_slice(&response.body);
    let _ = stream.try_write(&bytes);
}

/// Serves requests on one connection until it closes, breaks a limit or says
/// `Connection: close`, then closes it (a TLS stream with its close_notify). Generic
/// over the stream so that tests run it on a pipe; `secure`: it is a TLS stream.
pub async fn serve_connection<S>(
    mut stream: S,
    peer: IpAddr,
    local: Option<IpAddr>,
    secure: bool,
    shared: &Shared,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    serve_requests(&mut stream, peer, local, secure, shared).await;
    let _ = timeout(shared.limits.write_timeout, stream.shutdown()).await;
}

async fn serve_requests<S>(
    stream: &mut S,
    peer: IpAddr,
    local: Option<IpAddr>,
    secure: bool,
    shared: &Shared,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let limits = &shared.limits;
    let mut buf: Vec<u8> = Vec::with_capacity(2048);
    for served in 0..limits.max_requests_per_connection {
        let head = match read_head(stream, &mut buf, limits).await {
            Ok(Some(head)) => head,
            Ok(None) => return,
            Err(reject) => {
                log::info!("web: {peer}: {} {}", reject.status, reject.message);
                let _ = write_response(stream, &reject.response(), false, false, limits).await;
                return;
            }
        };
        let (head, used) = head;
        buf.drain(..used);
        let keep_alive = head.keep_alive && served + 1 < limits.max_requests_per_connection;
        let request = Request {
            head,
            body: Vec::new(),
            peer,
            local,
            secure,
        };
        let request = match upload::take(stream, &mut buf, request, shared).await {
            upload::Taken::Answered(response, whole) => {
                let keep_alive = keep_alive && whole;
                if write_response(stream, &response, keep_alive, false, limits)
                    .await
                    .is_err()
                    || !keep_alive
                {
                    return;
                }
                continue;
            }
            upload::Taken::NotStreamed(request) => request,
        };
        let head = request.head;
        if head.content_length > limits.http.max_body {
            let reject = http::Reject::too_large(head.content_length, limits.http.max_body);
            log::info!("web: {peer}: {} {}", reject.status, reject.message);
            let _ = write_response(stream, &reject.response(), false, false, limits).await;
            return;
        }
        // A large body is held in memory only when the handler admits it (the page: a
        // logged-in session) and within the shared budget, so that clients announcing
        // large bodies cannot keep a login from being read.
        let mut _budget = None;
        if head.content_length > limits.small_body {
            if let Err(refused) = shared.handler.admits_large_body(&head) {
                let _ = write_response(stream, &refused, false, false, limits).await;
                return;
            }
            let Ok(permit) = shared
                .body_budget
                .try_acquire_many(u32::try_from(head.content_length).unwrap_or(u32::MAX))
            else {
                let busy = Response::text(503, "busy with other uploads; try again\n".into());
                let _ = write_response(stream, &busy, false, false, limits).await;
                return;
            };
            _budget = Some(permit);
        }
        let body = match read_body(stream, &mut buf, head.content_length, limits).await {
            Ok(body) => body,
            Err(reject) => {
                log::info!("web: {peer}: {} {}", reject.status, reject.message);
                let _ = write_response(stream, &reject.response(), false, false, limits).await;
                return;
            }
        };
        let is_head = head.method == Method::Head;
        let request = Request {
            head,
            body,
            peer,
            local,
            secure,
        };
        let response = handle(shared, request).await;
        drop(_budget);
        if write_response(stream, &response, keep_alive, is_head, limits)
            .await
            .is_err()
            || !keep_alive
        {
            return;
        }
    }
}

/// Runs the handler on the blocking pool; a panic in it is a 500, never a crash.
async fn handle(shared: &Shared, request: Request) -> Response {
    let Ok(_permit) = shared.handlers.acquire().await else {
        return Response::text(503, "shutting down\n".into());
    };
    let handler = shared.handler.clone();
    let what = format!("{} {}", request.head.method_text, request.head.path);
    match tokio::task::spawn_blocking(move || handler.handle(request)).await {
        Ok(response) => response,
        Err(e) => {
            log::error!("web: {what}: the handler failed: {e}");
            Response::text(500, "internal error; see the log\n".into())
        }
    }
}

/// Reads until a whole head is in `buf`: `Ok(None)` when the client closed (or stayed
/// idle) between requests.
async fn read_head<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    limits: &ServerLimits,
) -> Result<Option<(Head, usize)>, Reject> {
    // Between requests the client may stay silent up to the idle timeout.
    if buf.is_empty() {
        match timeout(limits.idle_timeout, read_some(stream, buf)).await {
            Err(_) | Ok(Ok(0)) | Ok(Err(_)) => return Ok(None),
            Ok(Ok(_)) => {}
        }
    }
    let head = async {
        loop {
            if let Some(parsed) = http::parse_head(buf, &limits.http)? {
                return Ok(Some(parsed));
            }
            match read_some(stream, buf).await {
                Ok(0) | Err(_) => return Ok(None),
                Ok(_) => {}
            }
        }
    };
    match timeout(limits.head_timeout, head).await {
        Ok(result) => result,
        Err(_) => Err(not_in_time("head", limits.head_timeout)),
    }
}

async fn read_body<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    length: usize,
    limits: &ServerLimits,
) -> Result<Vec<u8>, Reject> {
    let fill = async {
        while buf.len() < length {
            match read_some(stream, buf).await {
                Ok(0) | Err(_) => {
                    return Err(Reject {
                        status: 400,
                        message: format!(
                            "malformed request: the body ended after {} of {length} bytes",
                            buf.len()
                        ),
                    })
                }
                Ok(_) => {}
            }
        }
        Ok(())
    };
    match timeout(limits.body_timeout, fill).await {
        Ok(Ok(())) => Ok(buf.drain(..length).collect()),
        Ok(Err(reject)) => Err(reject),
        Err(_) => Err(not_in_time("body", limits.body_timeout)),
    }
}

/// 408: the request's `part` did not arrive within `limit`.
fn not_in_time(part: &str, limit: Duration) -> Reject {
    Reject {
        status: 408,
        message: format!(
            "the request {part} did not arrive within {} s",
            limit.as_secs()
        ),
    }
}

/// Appends what the stream has (at most 16 KiB at a time) to `buf`.
async fn read_some<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
) -> std::io::Result<usize> {
    let mut chunk = [0u8; 16 * 1024];
    let n = stream.read(&mut chunk).await?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

async fn write_response<S: AsyncWrite + Unpin>(
    stream: &mut S,
    response: &Response,
    keep_alive: bool,
    head_only: bool,
    limits: &ServerLimits,
) -> std::io::Result<()> {
    let mut bytes = response.encode_head(keep_alive);
    if !head_only {
        bytes.extend_from_slice(&response.body);
    }
    match timeout(limits.write_timeout, async {
        stream.write_all(&bytes).await?;
        stream.flush().await
    })
    .await
    {
        Ok(result) => result,
        Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
    }
}

mod upload;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tls_tests;
#[cfg(test)]
mod upload_tests;
