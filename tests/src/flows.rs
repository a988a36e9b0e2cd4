//! Long-lived TCP flows for the scale-out lab (issue 18): echo servers on the real
//! servers that answer with their own name, and a set of client flows that each send a
//! short line every second or two and wait for its echo, so that a test can count the
//! flows an event broke and see which real server each flow reached.
//!
//! Sockets are opened inside the lab's namespaces ([`Host::in_netns`]) and then driven
//! from threads of this process (a socket stays in the namespace it was made in). Every
//! thread has a small stack and ends on the stop flag or at its deadline; every read
//! has a timeout; the number of connections a server takes is bounded.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::command::Error;
use crate::lab::Host;

/// Threads of this module: mostly asleep in a read or a sleep.
const STACK: usize = 64 * 1024;
/// Connections one echo server serves at once (flows and health checks).
const MAX_CONNECTIONS: usize = 4096;
/// The longest line a flow or a server reads.
const MAX_LINE: usize = 256;

/// An echo server: every line it reads it sends back as `NAME LINE`.
pub struct EchoServer {
    stop: Arc<AtomicBool>,
    pub connections: Arc<AtomicUsize>,
}

impl EchoServer {
    /// Listens on `bind` inside `host`'s namespace (the socket is made there) and serves
    /// until dropped, answering as `name`.
    pub fn start(host: &Host, bind: SocketAddr, name: &str) -> Result<EchoServer, Error> {
        let listener = host.in_netns(|| TcpListener::bind(bind))??;
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(AtomicUsize::new(0));
        let (s, c, name) = (stop.clone(), connections.clone(), name.to_string());
        std::thread::Builder::new()
            .name(format!("echo-{name}"))
            .stack_size(STACK)
            .spawn(move || accept_loop(listener, s, c, name))?;
        Ok(EchoServer { stop, connections })
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn accept_loop(listener: TcpListener, stop: Arc<AtomicBool>, live: Arc<AtomicUsize>, name: String) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) if live.load(Ordering::SeqCst) < MAX_CONNECTIONS => {
                live.fetch_add(1, Ordering::SeqCst);
                let (stop, live2, name) = (stop.clone(), live.clone(), name.clone());
                let spawned = std::thread::Builder::new()
                    .stack_size(STACK)
                    .spawn(move || {
                        echo(stream, &stop, &name);
                        live2.fetch_sub(1, Ordering::SeqCst);
                    });
                if spawned.is_err() {
                    live.fetch_sub(1, Ordering::SeqCst);
                }
            }
            // Over the bound: closed at once.
            Ok(_) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

fn echo(stream: TcpStream, stop: &AtomicBool, name: &str) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let Ok(mut out) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    while !stop.load(Ordering::SeqCst) {
        match reader.read_line(&mut line) {
            Ok(0) => return,
            Ok(_) if line.ends_with('\n') => {
                if out.write_all(format!("{name} {line}").as_bytes()).is_err() {
                    return;
                }
                line.clear();
            }
            Ok(_) if line.len() > MAX_LINE => return,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
    }
}

/// How a flow ended, if it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Broken {
    /// The connection was reset or closed by the other side, or a write failed.
    Reset(String),
    /// No echo within the echo timeout.
    Timeout,
    /// The echo came from another real server than the flow's first (cannot happen on
    /// one TCP connection unless something is badly wrong).
    Moved(String),
}

/// One flow's record.
#[derive(Debug, Clone, Default)]
pub struct FlowState {
    /// The real server that answered its first line.
    pub server: Option<String>,
    /// Echoes received.
    pub echoes: u64,
    pub last_echo: Option<Instant>,
    /// The longest wait for an echo so far, and when that echo came.
    pub longest_wait: Duration,
    pub broken: Option<(Instant, Broken)>,
}

/// Client flows, each on a thread of its own, sending `i seq\n` every period.
pub struct Flows {
    stop: Arc<AtomicBool>,
    pub states: Arc<Mutex<Vec<FlowState>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

/// How the flows behave.
#[derive(Debug, Clone, Copy)]
pub struct FlowSpec {
    pub count: usize,
    /// Flow `i` is sent from this source port + `i` (fixed ports: the same flows hash
    /// the same way, at the router and at the boxes, in every run).
    pub first_port: u16,
    /// Each flow sends every `period` plus up to `period` more (spread by its index).
    pub period: Duration,
    /// A flow without its echo for this long is broken.
    pub echo_timeout: Duration,
    /// Every flow stops by then at the latest.
    pub lifetime: Duration,
}

impl Flows {
    /// Opens `spec.count` connections from `client`'s address `source` to `to` (opened in
    /// its namespace, at most `connect_limit` for all of them) and starts their threads.
    pub fn start(
        client: &Host,
        source: std::net::IpAddr,
        to: SocketAddr,
        spec: FlowSpec,
        connect_limit: Duration,
    ) -> Result<Flows, Error> {
        let streams: Vec<TcpStream> = client.in_netns(|| {
            let deadline = Instant::now() + connect_limit;
            let mut streams = Vec::with_capacity(spec.count);
            for i in 0..spec.count {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Error(format!(
                        "{} of {} flows connected within {connect_limit:?}",
                        i, spec.count
                    )));
                }
                let port = spec.first_port.checked_add(i as u16).ok_or_else(|| {
                    Error(format!(
                        "flow {i}: past the last port from {}",
                        spec.first_port
                    ))
                })?;
                let from = SocketAddr::new(source, port);
                streams.push(connect_from(from, to, left.min(Duration::from_secs(5)))?);
            }
            Ok(streams)
        })??;
        let stop = Arc::new(AtomicBool::new(false));
        let states = Arc::new(Mutex::new(vec![FlowState::default(); spec.count]));
        let started = Instant::now();
        let mut threads = Vec::with_capacity(spec.count);
        for (i, stream) in streams.into_iter().enumerate() {
            let (stop, states) = (stop.clone(), states.clone());
            let offset = spec
                .period
                .mul_f64((i * 7919 % spec.count) as f64 / spec.count as f64);
            threads.push(
                std::thread::Builder::new()
                    .stack_size(STACK)
                    .spawn(move || {
                        run_flow(i, stream, spec, offset, started, &stop, &states);
                    })?,
            );
        }
        Ok(Flows {
            stop,
            states,
            threads,
        })
    }

    pub fn snapshot(&self) -> Vec<FlowState> {
        self.states.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Flows broken so far.
    pub fn broken(&self) -> usize {
        self.snapshot()
            .iter()
            .filter(|f| f.broken.is_some())
            .count()
    }

    /// Waits until every flow not broken has had an echo after `since`; how long after
    /// `since` the last of them came.
    pub fn all_echoed_after(&self, since: Instant, limit: Duration) -> Result<Duration, Error> {
        let mut latest = Duration::ZERO;
        crate::bgp_peers::wait_until(limit, "every live flow echoed again", || {
            let mut done = true;
            latest = Duration::ZERO;
            for s in self.snapshot().iter().filter(|s| s.broken.is_none()) {
                match s.last_echo {
                    Some(t) if t > since => latest = latest.max(t - since),
                    _ => done = false,
                }
            }
            done
        })?;
        Ok(latest)
    }

    /// Stops every flow (each closes its connection) and waits for the threads.
    pub fn stop(mut self) -> Vec<FlowState> {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        self.snapshot()
    }
}

impl Drop for Flows {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn run_flow(
    i: usize,
    stream: TcpStream,
    spec: FlowSpec,
    offset: Duration,
    started: Instant,
    stop: &AtomicBool,
    states: &Mutex<Vec<FlowState>>,
) {
    let record = |f: &dyn Fn(&mut FlowState)| {
        if let Ok(mut s) = states.lock() {
            f(&mut s[i]);
        }
    };
    let broken = |why: Broken| record(&|s| s.broken = Some((Instant::now(), why.clone())));
    let Ok(mut out) = stream.try_clone() else {
        broken(Broken::Reset("try_clone".into()));
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(250)));
    let mut reader = BufReader::new(stream);
    let period = spec.period + offset;
    let mut next = started + offset;
    let mut seq = 0u64;
    let mut server: Option<String> = None;
    while !stop.load(Ordering::SeqCst) && started.elapsed() < spec.lifetime {
        // Wait for the next send, a quarter of a second at a time (the stop flag).
        let now = Instant::now();
        if now < next {
            std::thread::sleep((next - now).min(Duration::from_millis(250)));
            continue;
        }
        next += period;
        seq += 1;
        let sent = Instant::now();
        if let Err(e) = out.write_all(format!("{i} {seq}\n").as_bytes()) {
            broken(Broken::Reset(format!("write: {e}")));
            return;
        }
        let mut line = String::new();
        loop {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            match reader.read_line(&mut line) {
                Ok(0) => {
                    broken(Broken::Reset("closed by the other side".into()));
                    return;
                }
                Ok(_) if line.ends_with('\n') => break,
                Ok(_) if line.len() > MAX_LINE => {
                    broken(Broken::Reset("overlong line".into()));
                    return;
                }
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    if sent.elapsed() >= spec.echo_timeout {
                        broken(Broken::Timeout);
                        let _ = out.shutdown(Shutdown::Both);
                        return;
                    }
                }
                Err(e) => {
                    broken(Broken::Reset(format!("read: {e}")));
                    return;
                }
            }
        }
        if !line.ends_with('\n') {
            break;
        }
        let name = line.split_whitespace().next().unwrap_or("").to_string();
        let waited = sent.elapsed();
        match &server {
            Some(first) if *first != name => {
                broken(Broken::Moved(format!("{first} then {name}")));
                return;
            }
            Some(_) => {}
            None => server = Some(name.clone()),
        }
        record(&|s| {
            s.server.get_or_insert_with(|| name.clone());
            s.echoes += 1;
            s.last_echo = Some(Instant::now());
            if waited > s.longest_wait {
                s.longest_wait = waited;
            }
        });
        // A flow that fell behind (a long wait) sends its next line at once.
        if next < Instant::now() {
            next = Instant::now();
        }
    }
}

/// Opens one connection from `client`'s `source` port to `to`, sends a line, and returns
/// the name of the real server that echoed it; then resets the connection (no
/// TIME_WAIT, so that the same 5-tuple can be sent again at once through another box).
pub fn which_server(
    client: &Host,
    source: SocketAddr,
    to: SocketAddr,
    limit: Duration,
) -> Result<String, Error> {
    let stream = client.in_netns(|| connect_from(source, to, limit))??;
    stream.set_read_timeout(Some(limit))?;
    let mut out = stream.try_clone()?;
    out.write_all(b"which\n")?;
    let mut line = String::new();
    let mut reader = BufReader::new(stream.try_clone()?);
    reader
        .read_line(&mut line)
        .map_err(|e| Error(format!("{source} → {to}: no echo: {e}")))?;
    reset_on_close(&stream)?;
    drop(reader);
    drop(out);
    drop(stream);
    line.split_whitespace()
        .next()
        .map(str::to_string)
        .ok_or_else(|| Error(format!("{source} → {to}: an empty echo")))
}

/// SO_LINGER 0: the close sends a reset and leaves no TIME_WAIT, so that the same
/// 5-tuple can be used again at once, and thousands of short connections leave nothing.
pub(crate) fn reset_on_close(stream: &TcpStream) -> Result<(), Error> {
    nix::sys::socket::setsockopt(
        stream,
        nix::sys::socket::sockopt::Linger,
        &nix::libc::linger {
            l_onoff: 1,
            l_linger: 0,
        },
    )
    .map_err(|e| Error(format!("SO_LINGER: {e}")))
}

/// A TCP connection from a fixed source address and port.
fn connect_from(source: SocketAddr, to: SocketAddr, limit: Duration) -> Result<TcpStream, Error> {
    use nix::sys::socket::{
        bind, connect, setsockopt, socket, sockopt, AddressFamily, SockFlag, SockType, SockaddrIn,
    };
    use std::os::fd::AsRawFd;
    let (SocketAddr::V4(src), SocketAddr::V4(dst)) = (source, to) else {
        return Err(Error("IPv4 only".into()));
    };
    let fd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| Error(format!("socket: {e}")))?;
    setsockopt(&fd, sockopt::ReuseAddr, &true).map_err(|e| Error(format!("SO_REUSEADDR: {e}")))?;
    bind(fd.as_raw_fd(), &SockaddrIn::from(src)).map_err(|e| Error(format!("bind {src}: {e}")))?;
    let stream = TcpStream::from(fd);
    // connect(2) blocks up to the kernel's SYN retries; bound it with a send timeout,
    // which connect honours (SO_SNDTIMEO).
    stream.set_write_timeout(Some(limit))?;
    connect(stream.as_raw_fd(), &SockaddrIn::from(dst))
        .map_err(|e| Error(format!("connect {src} → {dst}: {e}")))?;
    stream.set_write_timeout(None)?;
    Ok(stream)
}
