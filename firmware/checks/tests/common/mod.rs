//! Real servers on 127.0.0.1 for the probe and scheduler tests. Every server task is aborted
//! when its handle is dropped, and every wait has a bound.

#![allow(dead_code)] // each test file uses a different part

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;

/// The longest any test waits for anything.
pub const PATIENCE: Duration = Duration::from_secs(10);
/// A request larger than this is not a health check.
const MAX_REQUEST: usize = 8 * 1024;

/// What a canned server does with each connection.
#[derive(Clone)]
pub enum Behaviour {
    /// Reads the request, writes this, closes.
    Answer(Vec<u8>),
    /// Reads the request and never answers (the connection stays open).
    Silent,
    /// Closes right after accepting.
    Hangup,
    /// Writes this right after accepting, without reading, then closes.
    Greet(Vec<u8>),
    /// Answers with whatever the closure makes at the time of the request.
    Dynamic(Arc<dyn Fn() -> Vec<u8> + Send + Sync>),
    /// Waits this long after the request, then answers.
    Slow(Duration, Vec<u8>),
}

/// A server task that stops when dropped, with what it saw.
pub struct Server {
    pub addr: SocketAddr,
    pub seen: Arc<Seen>,
    task: JoinHandle<()>,
}

#[derive(Default)]
pub struct Seen {
    /// Every request, as bytes, in order.
    pub requests: Mutex<Vec<Vec<u8>>>,
    /// Source address of every connection.
    pub peers: Mutex<Vec<SocketAddr>>,
    pub connections: AtomicUsize,
    /// Connections open at once now, and the most ever. A connection counts as open until
    /// the server starts its answer: the client cannot be done before that, so the count
    /// never exceeds the client's own.
    pub open: AtomicUsize,
    pub max_open: AtomicUsize,
}

impl Server {
    pub fn from_parts(addr: SocketAddr, seen: Arc<Seen>, task: JoinHandle<()>) -> Self {
        Server { addr, seen, task }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn http_response(status: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.0 {status}\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A plain HTTP (or TCP) server on 127.0.0.1.
pub async fn serve(behaviour: Behaviour) -> Server {
    serve_on("127.0.0.1:0".parse().unwrap(), behaviour).await
}

pub async fn serve_on(addr: SocketAddr, behaviour: Behaviour) -> Server {
    let listener = TcpListener::bind(addr).await.expect("bind on loopback");
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let task = tokio::spawn(accept_loop(listener, seen.clone(), move |stream| {
        let behaviour = behaviour.clone();
        async move { Some((Box::new(stream) as Box<dyn Stream>, behaviour)) }
    }));
    Server { addr, seen, task }
}

pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Accepts connections for ever; `wrap` turns each into the stream to talk on (a TLS
/// handshake, say) and the behaviour to apply, or None to drop it.
pub async fn accept_loop<F, Fut>(listener: TcpListener, seen: Arc<Seen>, wrap: F)
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Option<(Box<dyn Stream>, Behaviour)>> + Send + 'static,
{
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        seen.connections.fetch_add(1, Ordering::SeqCst);
        seen.peers.lock().unwrap().push(peer);
        let open = seen.open.fetch_add(1, Ordering::SeqCst) + 1;
        seen.max_open.fetch_max(open, Ordering::SeqCst);
        let seen = seen.clone();
        let connection = wrap(stream);
        tokio::spawn(async move {
            let mut open = Open {
                count: &seen.open,
                closed: false,
            };
            if let Some((stream, behaviour)) = connection.await {
                talk(stream, behaviour, &seen, &mut open).await;
            }
        });
    }
}

/// Decrements the open count once, when the answer starts or the connection ends.
struct Open<'a> {
    count: &'a AtomicUsize,
    closed: bool,
}

impl Open<'_> {
    fn close(&mut self) {
        if !self.closed {
            self.closed = true;
            self.count.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.close();
    }
}

async fn talk(mut stream: Box<dyn Stream>, behaviour: Behaviour, seen: &Seen, open: &mut Open<'_>) {
    match &behaviour {
        Behaviour::Hangup => return,
        Behaviour::Greet(bytes) => {
            let _ = stream.write_all(bytes).await;
            // Give the peer time to read it before the close (bounded by the test's life).
            tokio::time::sleep(PATIENCE).await;
            return;
        }
        _ => {}
    }
    let request = read_request(&mut stream).await;
    seen.requests.lock().unwrap().push(request);
    let answer = match behaviour {
        Behaviour::Answer(bytes) => bytes,
        Behaviour::Dynamic(make) => make(),
        Behaviour::Slow(delay, bytes) => {
            tokio::time::sleep(delay).await;
            bytes
        }
        Behaviour::Silent => {
            // Hold the connection until the prober gives up (and this task is aborted).
            tokio::time::sleep(PATIENCE).await;
            return;
        }
        Behaviour::Hangup | Behaviour::Greet(_) => unreachable!("handled above"),
    };
    open.close();
    let _ = stream.write_all(&answer).await;
    let _ = stream.shutdown().await;
}

/// Reads up to the blank line that ends a request's header (bounded in size and time).
async fn read_request(stream: &mut Box<dyn Stream>) -> Vec<u8> {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    let read = async {
        while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < MAX_REQUEST {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        }
    };
    let _ = tokio::time::timeout(PATIENCE, read).await;
    request
}

/// A port on which nothing listens: bound, then closed again.
pub async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

/// A listener whose accept queue is full and never drained: the kernel drops further SYNs,
/// so a connect to it times out. Holds its sockets while alive.
pub struct Blackhole {
    pub addr: SocketAddr,
    _listener: TcpListener,
    _fillers: Vec<TcpStream>,
}

pub async fn blackhole() -> Blackhole {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    // Fill the queue: connects that complete while the queue has room, until one hangs.
    let mut fillers = Vec::new();
    for _ in 0..8 {
        match tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => fillers.push(stream),
            _ => break,
        }
    }
    Blackhole {
        addr,
        _listener: listener,
        _fillers: fillers,
    }
}

/// Runs `test` on a thread of its own in a new network namespace, with `lo` up and then
/// each of `ip_commands` (`ip` arguments) applied. The namespace is the thread's alone and
/// ends with it, also when the test fails. Needs root.
pub fn in_new_netns<F, Fut, T>(ip_commands: &[&str], test: F) -> T
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T>,
    T: Send + 'static,
{
    let commands: Vec<String> = std::iter::once("link set lo up")
        .chain(ip_commands.iter().copied())
        .map(str::to_owned)
        .collect();
    std::thread::spawn(move || {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
            .expect("a network namespace of the test's own (needs root)");
        for command in &commands {
            let status = std::process::Command::new("ip")
                .args(command.split_whitespace())
                .status()
                .expect("running ip");
            assert!(status.success(), "ip {command}");
        }
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(test())
    })
    .join()
    .expect("the test's thread")
}
