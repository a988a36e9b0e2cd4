//! One BGP peer as a tokio task: it owns the TCP connection (connect-only, to port 179)
//! and a `bgp::Session`, and feeds the session what happens (bytes read, timers,
//! commands) and does what it says (connect, write, close, log). The session decides
//! everything; this file only moves bytes and time.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use bgp::{Action, Event, Prefix, Session, Settings, State};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::bfd_link::BfdStatus;

/// The port a BGP speaker listens on (RFC 4271 §8.2.1.2); we only connect to it.
pub const PORT: u16 = 179;
/// A write that takes longer than this (the peer stopped reading and the socket's
/// buffer is full) ends the connection: the session then restarts as after a close.
const WRITE_LIMIT: Duration = Duration::from_secs(5);
/// One read is at most one largest message (RFC 4271 §4.1): the session's own buffer
/// holds less than a message plus one read.
const READ_SIZE: usize = bgp::wire::MAX_MESSAGE;

pub enum Command {
    Announce(Prefix),
    Withdraw(Prefix),
    /// Cease/Administrative Shutdown to the peer, and the task ends.
    Stop,
}

pub struct Peer {
    pub address: IpAddr,
    pub port: u16,
    /// The local address to connect from; the kernel picks one when `None`.
    pub local: Option<IpAddr>,
    pub settings: Settings,
    /// The session's TCP-MD5 key (RFC 2385), set on the socket before connecting.
    pub password: Option<config::keepalived::Md5Password>,
    /// The BFD session to the peer, when one is configured: going down after having
    /// been up resets the BGP session (RFC 5882 §4.3). As FRR without `bfd strict`, the
    /// BGP session does not wait for BFD to come up.
    pub bfd: Option<watch::Receiver<BfdStatus>>,
}

/// What the session looks like now, for `show bgp`, the page and /metrics: published
/// after every batch of the session's actions (only when something changed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStatus {
    pub state: State,
    /// When the session last changed state (wall clock, for the page).
    pub since: SystemTime,
    /// Since when it is Established.
    pub established_since: Option<SystemTime>,
    /// What the peer has from us, and whether each is tagged GRACEFUL_SHUTDOWN.
    pub advertised: Vec<(Prefix, bool)>,
    /// The last NOTIFICATION sent or received: who sent it, what it said, when.
    pub last_notification: Option<(String, SystemTime)>,
    pub counters: bgp::session::Counters,
    pub bfd: Option<BfdStatus>,
    /// Why the last connection attempt failed (cleared by one that succeeds): a router
    /// that is down, or a TCP-MD5 key the kernel did not take.
    pub last_error: Option<String>,
}

impl PeerStatus {
    pub fn new() -> PeerStatus {
        PeerStatus {
            state: State::Idle,
            since: SystemTime::now(),
            established_since: None,
            advertised: Vec::new(),
            last_notification: None,
            counters: Default::default(),
            bfd: None,
            last_error: None,
        }
    }
}

impl Default for PeerStatus {
    fn default() -> Self {
        PeerStatus::new()
    }
}

type Connecting = Pin<Box<dyn Future<Output = io::Result<TcpStream>> + Send>>;

/// A router that is down is retried every ConnectRetryTime (or IdleHoldTime) for as long
/// as it stays down: the same line each time would fill the console. A line that repeats
/// the one before is counted instead, and the count is logged with the next new line.
#[derive(Default)]
struct Repeats {
    last: String,
    count: u32,
}

impl Repeats {
    fn info(&mut self, line: String) {
        if line == self.last {
            self.count = self.count.saturating_add(1);
            return;
        }
        self.flush();
        log::info!("{line}");
        self.last = line;
    }

    /// Before any other line: how often the last one was left out.
    fn flush(&mut self) {
        if self.count > 0 {
            log::info!("(the line before repeated {} more times)", self.count);
        }
        self.count = 0;
        self.last.clear();
    }
}

/// What woke the task.
enum Input {
    Command(Option<Command>),
    Timer,
    Connected(io::Result<TcpStream>),
    Read(io::Result<usize>),
    /// The BFD session's state changed (or its task is gone).
    Bfd(Option<BfdStatus>),
}

/// Runs the peer until [`Command::Stop`] or until `commands` is closed; what the
/// session looks like goes out on `status`.
pub async fn run(
    mut peer: Peer,
    mut commands: mpsc::Receiver<Command>,
    status: watch::Sender<PeerStatus>,
) {
    let who = format!("peer {}", peer.address);
    let mut session = Session::new(peer.settings.clone());
    let mut buf = vec![0u8; READ_SIZE];
    let mut notified: Option<(String, SystemTime)> = None;
    let mut last_error: Option<String> = None;
    let mut bfd = peer.bfd.take();
    let mut wire = Wire {
        peer,
        conn: None,
        connecting: None,
        quiet: Repeats::default(),
    };
    let mut bfd_now: Option<BfdStatus> = bfd.as_ref().map(|b| b.borrow().clone());
    let mut actions = session.handle(Event::Start, std::time::Instant::now());
    loop {
        // Doing an action can produce an event (a failed write closes the connection).
        while !actions.is_empty() {
            let mut closed = false;
            for action in &actions {
                match action {
                    Action::NotificationSent(n, why) => {
                        notified = Some((format!("sent {n}: {why}"), SystemTime::now()))
                    }
                    Action::NotificationReceived(n) => {
                        notified = Some((format!("received {n}"), SystemTime::now()))
                    }
                    _ => {}
                }
            }
            for action in actions.drain(..) {
                closed |= wire.perform(action, &who, &session).await;
            }
            if closed {
                wire.conn = None;
                actions = session.handle(Event::Closed, std::time::Instant::now());
            }
        }
        publish(&status, &session, &mut notified, &bfd_now, &last_error);
        let deadline = session.next_deadline().map(Instant::from_std);
        let input = tokio::select! {
            c = commands.recv() => Input::Command(c),
            () = sleep_until(deadline) => Input::Timer,
            r = finish_connect(&mut wire.connecting) => Input::Connected(r),
            r = read_some(&mut wire.conn, &mut buf) => Input::Read(r),
            b = bfd_changed(&mut bfd) => Input::Bfd(b),
        };
        let now = std::time::Instant::now();
        actions = match input {
            Input::Command(Some(Command::Announce(p))) => session.handle(Event::Announce(p), now),
            Input::Command(Some(Command::Withdraw(p))) => session.handle(Event::Withdraw(p), now),
            Input::Command(Some(Command::Stop) | None) => {
                let stop = session.handle(Event::Stop, now);
                for action in stop {
                    wire.perform(action, &who, &session).await;
                }
                publish(&status, &session, &mut notified, &bfd_now, &last_error);
                return;
            }
            Input::Timer => session.handle(Event::Timer, now),
            Input::Bfd(None) => {
                bfd = None;
                Vec::new()
            }
            Input::Bfd(Some(b)) => {
                let was_up = bfd_now.as_ref().is_some_and(|o| o.state == bfd::State::Up);
                let down = was_up && b.state != bfd::State::Up;
                // The router saying AdminDown is maintenance, not a failure: the BGP
                // session is left to its own timers (RFC 5882 §3.2).
                let admin = b.remote_state == bfd::State::AdminDown;
                bfd_now = Some(b.clone());
                if down && !admin {
                    wire.quiet.flush();
                    log::warn!(
                        "{who}: BFD session down ({}): BGP session reset (was {})",
                        b.diag,
                        session.state()
                    );
                    session.handle(Event::BfdDown, now)
                } else {
                    if down {
                        log::info!("{who}: BFD: the router set its session AdminDown; the BGP session is kept");
                    }
                    Vec::new()
                }
            }
            Input::Connected(r) => {
                wire.connecting = None;
                match r {
                    Ok(stream) => {
                        last_error = None;
                        let _ = stream.set_nodelay(true);
                        wire.conn = Some(stream);
                        session.handle(Event::Connected, now)
                    }
                    Err(e) => {
                        let why = format!("connecting to port {}: {e}", wire.peer.port);
                        wire.quiet.info(format!("{who}: {why}"));
                        last_error = Some(why);
                        session.handle(Event::Closed, now)
                    }
                }
            }
            Input::Read(Ok(n)) if n > 0 => session.handle(Event::Received(&buf[..n]), now),
            Input::Read(r) => {
                if let Err(e) = r {
                    wire.quiet.info(format!("{who}: reading: {e}"));
                }
                wire.conn = None;
                session.handle(Event::Closed, now)
            }
        };
    }
}

/// The session as [`PeerStatus`], sent when it differs from the last one.
fn publish(
    status: &watch::Sender<PeerStatus>,
    session: &Session,
    notified: &mut Option<(String, SystemTime)>,
    bfd: &Option<BfdStatus>,
    last_error: &Option<String>,
) {
    let now_std = std::time::Instant::now();
    let wall = SystemTime::now();
    status.send_if_modified(|had| {
        let mut next = PeerStatus {
            state: session.state(),
            since: had.since,
            established_since: session
                .established_at()
                .map(|at| wall - now_std.saturating_duration_since(at)),
            advertised: session.advertised().map(|(p, g)| (*p, *g)).collect(),
            last_notification: notified.clone().or_else(|| had.last_notification.clone()),
            counters: session.counters(),
            bfd: bfd.clone(),
            last_error: last_error.clone(),
        };
        if next.state != had.state {
            next.since = wall;
        }
        // The same instant read twice differs by the time between: keep the first.
        if let (Some(a), Some(b)) = (had.established_since, next.established_since) {
            if a.duration_since(b).unwrap_or_else(|e| e.duration()) < Duration::from_secs(1) {
                next.established_since = Some(a);
            }
        }
        let changed = *had != next;
        *had = next;
        changed
    });
    *notified = None;
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The BFD session's next state; `None` once its task has gone (then never again).
async fn bfd_changed(bfd: &mut Option<watch::Receiver<BfdStatus>>) -> Option<BfdStatus> {
    match bfd {
        Some(rx) => match rx.changed().await {
            Ok(()) => Some(rx.borrow_and_update().clone()),
            Err(_) => None,
        },
        None => std::future::pending().await,
    }
}

async fn finish_connect(connecting: &mut Option<Connecting>) -> io::Result<TcpStream> {
    match connecting {
        Some(fut) => fut.await,
        None => std::future::pending().await,
    }
}

async fn read_some(conn: &mut Option<TcpStream>, buf: &mut [u8]) -> io::Result<usize> {
    match conn {
        Some(stream) => stream.read(buf).await,
        None => std::future::pending().await,
    }
}

fn connect(peer: &Peer) -> Connecting {
    let remote = SocketAddr::new(peer.address, peer.port);
    let local = peer.local;
    let password = peer.password.clone();
    Box::pin(async move {
        let socket = if remote.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        // Before connect(): the router drops an unsigned SYN.
        if let Some(p) = &password {
            crate::tcp_md5::set_key(&socket, remote.ip(), p.reveal().as_bytes())?;
        }
        if let Some(local) = local {
            socket.bind(SocketAddr::new(local, 0))?;
        }
        socket.connect(remote).await
    })
}

/// The peer's connection as the session's actions left it: the TCP stream once
/// connected, the attempt while connecting, and the log's repeat counter.
struct Wire {
    peer: Peer,
    conn: Option<TcpStream>,
    connecting: Option<Connecting>,
    quiet: Repeats,
}

impl Wire {
    /// Does one action; true if the connection broke while writing.
    async fn perform(&mut self, action: Action, who: &str, session: &Session) -> bool {
        let Wire {
            peer,
            conn,
            connecting,
            quiet,
        } = self;
        match action {
            Action::Connect => *connecting = Some(connect(peer)),
            Action::Disconnect => {
                *connecting = None;
                if let Some(mut stream) = conn.take() {
                    let _ = stream.shutdown().await;
                }
            }
            Action::Send(bytes) => {
                let Some(stream) = conn.as_mut() else {
                    return false;
                };
                match tokio::time::timeout(WRITE_LIMIT, stream.write_all(&bytes)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        log::warn!("{who}: writing: {e}");
                        return true;
                    }
                    Err(_) => {
                        log::warn!("{who}: a write did not finish within {WRITE_LIMIT:?}");
                        return true;
                    }
                }
            }
            Action::State { from, to } => {
                if to == State::Established {
                    quiet.flush();
                    let n = session.negotiated();
                    let hold = n.map_or(0, |n| n.hold_time);
                    let keepalive = n.map_or(0, |n| n.keepalive);
                    let yes = |b: bool| if b { "yes" } else { "no" };
                    log::info!(
                        "{who}: session up (AS {}, hold time {hold} s, keepalive {keepalive} s, IPv4 unicast {}, IPv6 unicast {})",
                        session.settings().remote_as,
                        yes(n.is_some_and(|n| n.ipv4)),
                        yes(n.is_some_and(|n| n.ipv6)),
                    );
                } else if from == State::Established {
                    log::warn!("{who}: session down ({from} -> {to})");
                } else {
                    log::debug!("{who}: {from} -> {to}");
                }
            }
            Action::NotificationSent(n, why) => {
                quiet.flush();
                log::warn!("{who}: sent NOTIFICATION {n}: {why}")
            }
            Action::NotificationReceived(n) => {
                quiet.flush();
                log::warn!("{who} sent NOTIFICATION {n}")
            }
            Action::Note(text) => quiet.info(format!("{who}: {text}")),
        }
        false
    }
}
