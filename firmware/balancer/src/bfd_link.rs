//! The BFD sessions to the BGP neighbors as one tokio task (RFC 5881, single hop): it
//! owns every `bfd::Session`, one sending socket per session (bound to the neighbor's
//! source address and a port from 49152–65535, TTL 255, connected to the neighbor's port
//! 3784) and one receiving socket per address family on port 3784, whose packets it
//! hands to the session their Your Discriminator names (or, while that is zero, the
//! session of the sender's address). The sessions decide everything; this file only
//! moves packets and time, and publishes each session's state on a watch for its BGP
//! peer task.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket as StdUdpSocket};
use std::num::NonZeroU32;
use std::os::fd::AsRawFd;
use std::time::SystemTime;

use bfd::{Action, Diag, Event, Session, Settings, State};
use nix::sys::socket::{self, sockopt, ControlMessageOwned, MsgFlags, SockaddrStorage};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// Sessions one box runs: one per BGP neighbor at most.
const MAX_SESSIONS: usize = config::keepalived::MAX_BGP_NEIGHBORS;
/// A control packet is 24 bytes; a little room shows an oversized one as what it is.
const READ_SIZE: usize = 64;

/// One session to run: to `peer` from `local`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub peer: IpAddr,
    pub local: IpAddr,
    pub settings: Settings,
}

/// What a session looks like now, for its BGP peer task and the status file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BfdStatus {
    pub state: State,
    pub remote_state: State,
    /// Why the session last left Up (our diag).
    pub diag: Diag,
    pub since: SystemTime,
    /// The negotiated intervals, microseconds: ours between packets, and the time
    /// without a packet after which the session goes down.
    pub tx_interval_us: u64,
    pub detection_us: u64,
    pub counters: bfd::Counters,
    /// Why it does not run (a socket could not be opened).
    pub problem: Option<String>,
}

impl BfdStatus {
    fn new() -> BfdStatus {
        BfdStatus {
            state: State::Down,
            remote_state: State::Down,
            diag: Diag::NONE,
            since: SystemTime::now(),
            tx_interval_us: 0,
            detection_us: 0,
            counters: bfd::Counters::default(),
            problem: None,
        }
    }
}

enum Msg {
    Add(Spec, watch::Sender<BfdStatus>),
    Start(IpAddr),
    Remove(IpAddr),
}

/// What a session added but not started says.
const WAITING: &str = "starts once the BGP session is established";

/// The BGP task's end of the BFD task.
pub struct Handle {
    tx: mpsc::Sender<Msg>,
}

impl Handle {
    pub fn start() -> Handle {
        let (tx, rx) = mpsc::channel(MAX_SESSIONS);
        tokio::spawn(run(rx));
        Handle { tx }
    }

    /// Sets up the session to `spec.peer` (replacing one there was) without starting
    /// it; its state comes on the watch.
    pub async fn add(&self, spec: Spec) -> watch::Receiver<BfdStatus> {
        let (status, rx) = watch::channel(BfdStatus::new());
        let _ = self.tx.send(Msg::Add(spec, status)).await;
        rx
    }

    /// Starts the session to `peer` once its BGP session is up. Before, the router's
    /// BFD session may not be the one it keeps: FRR's bfdd makes a new one (a new
    /// discriminator, state Down) when bgpd's session comes up, which would take an Up
    /// session of ours Down (RFC 5880 §6.8.6) and with it the BGP session just made.
    pub async fn start_session(&self, peer: IpAddr) {
        let _ = self.tx.send(Msg::Start(peer)).await;
    }

    pub async fn remove(&self, peer: IpAddr) {
        let _ = self.tx.send(Msg::Remove(peer)).await;
    }
}

struct Running {
    spec: Spec,
    /// [`Handle::start_session`] came: the session sends and takes packets.
    started: bool,
    session: Session,
    socket: Option<StdUdpSocket>,
    status: watch::Sender<BfdStatus>,
}

struct Task {
    sessions: BTreeMap<IpAddr, Running>,
    v4: Option<UdpSocket>,
    v6: Option<UdpSocket>,
    /// Distinct random values (the state of std's hasher is random per process).
    random: std::collections::hash_map::RandomState,
    draws: u64,
}

impl Task {
    fn random(&mut self) -> u64 {
        use std::hash::BuildHasher;
        self.draws += 1;
        self.random.hash_one(self.draws)
    }

    /// A discriminator that is random, non-zero and not in use (RFC 5880 §6.8.1).
    fn discriminator(&mut self) -> NonZeroU32 {
        loop {
            let d = self.random() as u32;
            if let Some(d) = NonZeroU32::new(d) {
                if !self
                    .sessions
                    .values()
                    .any(|r| r.session.local_discriminator() == d.get())
                {
                    return d;
                }
            }
        }
    }

    fn add(&mut self, spec: Spec, status: watch::Sender<BfdStatus>) {
        if !self.sessions.contains_key(&spec.peer) && self.sessions.len() >= MAX_SESSIONS {
            log::warn!(
                "BFD {}: more than {MAX_SESSIONS} sessions: not started",
                spec.peer
            );
            return;
        }
        let mut problem = None;
        let v4 = spec.peer.is_ipv4();
        let listening = if v4 { &mut self.v4 } else { &mut self.v6 };
        if listening.is_none() {
            match listen(v4) {
                Ok(s) => *listening = Some(s),
                Err(e) => problem = Some(format!("listening on port {}: {e}", bfd::PORT)),
            }
        }
        let port = 49152 + (self.random() % 16384) as u16;
        let socket = match sender(&spec, port) {
            Ok(s) => Some(s),
            Err(e) => {
                problem.get_or_insert(format!("sending from {}: {e}", spec.local));
                None
            }
        };
        if let Some(p) = &problem {
            log::error!("BFD {}: not running: {p}", spec.peer);
        }
        let seed = self.random();
        let discriminator = self.discriminator();
        let session = Session::new(spec.settings, discriminator, seed);
        status.send_modify(|s| s.problem = Some(problem.unwrap_or_else(|| WAITING.into())));
        self.sessions.insert(
            spec.peer,
            Running {
                spec,
                started: false,
                session,
                socket,
                status,
            },
        );
    }

    fn start(&mut self, peer: IpAddr) {
        let Some(r) = self.sessions.get_mut(&peer) else {
            return;
        };
        if std::mem::replace(&mut r.started, true) {
            return;
        }
        r.status.send_modify(|s| {
            if s.problem.as_deref() == Some(WAITING) {
                s.problem = None;
            }
        });
        let actions = r.session.handle(Event::Start, std::time::Instant::now());
        self.perform(peer, actions);
    }

    /// Does what one session said, and publishes it.
    fn perform(&mut self, peer: IpAddr, actions: Vec<Action>) {
        let Some(r) = self.sessions.get_mut(&peer) else {
            return;
        };
        for action in actions {
            match action {
                Action::Send(bytes) => {
                    if let Some(s) = &r.socket {
                        // A lost packet is what BFD is made for: a full buffer drops one.
                        if let Err(e) = s.send(&bytes) {
                            if e.kind() != io::ErrorKind::WouldBlock {
                                log::debug!("BFD {peer}: sending: {e}");
                            }
                        }
                    }
                }
                Action::State { from, to, diag } => {
                    if from == State::Up {
                        log::warn!(
                            "BFD {peer}: session down ({from} -> {to}, diag {diag}, the peer's state {}, detection time {} ms)",
                            r.session.remote_state(),
                            r.session.detection_time().as_millis()
                        );
                    } else if to == State::Up {
                        log::info!(
                            "BFD {peer}: session up (our discriminator {:#x}, the peer's {:#x})",
                            r.session.local_discriminator(),
                            r.session.remote_discriminator()
                        );
                    } else {
                        log::debug!("BFD {peer}: {from} -> {to} ({diag})");
                    }
                }
                Action::Dropped(why) => log::debug!("BFD {peer}: packet dropped: {why}"),
            }
        }
        let s = &r.session;
        r.status.send_if_modified(|had| {
            let mut next = BfdStatus {
                state: s.state(),
                remote_state: s.remote_state(),
                diag: s.local_diag(),
                since: had.since,
                tx_interval_us: s.tx_interval().as_micros() as u64,
                detection_us: if s.state() == State::Up {
                    s.detection_time().as_micros() as u64
                } else {
                    0
                },
                counters: s.counters(),
                problem: had.problem.clone(),
            };
            if next.state != had.state {
                next.since = SystemTime::now();
            }
            let changed = *had != next;
            *had = next;
            changed
        });
    }

    /// A packet from `from`: to the session its Your Discriminator names, else to the
    /// session of that address (RFC 5880 §6.8.6, RFC 5881 §3).
    fn received(&mut self, bytes: &[u8], from: IpAddr, ttl: u8) {
        let your = match bytes.get(8..12) {
            Some(b) => u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            None => 0,
        };
        let peer = if your != 0 {
            self.sessions
                .iter()
                .find(|(_, r)| r.session.local_discriminator() == your)
                .map(|(a, _)| *a)
        } else {
            self.sessions.contains_key(&from).then_some(from)
        };
        let Some(peer) = peer.filter(|p| self.sessions.get(p).is_some_and(|r| r.started)) else {
            log::debug!(
                "BFD: a packet from {from} for no running session (discriminator {your:#x})"
            );
            return;
        };
        let now = std::time::Instant::now();
        let r = self.sessions.get_mut(&peer).expect("found above");
        let actions = r
            .session
            .handle(Event::Received { packet: bytes, ttl }, now);
        self.perform(peer, actions);
    }

    fn timers(&mut self) {
        let now = std::time::Instant::now();
        let due: Vec<IpAddr> = self
            .sessions
            .iter()
            .filter(|(_, r)| r.session.next_deadline().is_some_and(|d| d <= now))
            .map(|(a, _)| *a)
            .collect();
        for peer in due {
            if let Some(r) = self.sessions.get_mut(&peer) {
                let actions = r.session.handle(Event::Timer, now);
                self.perform(peer, actions);
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.sessions
            .values()
            .filter_map(|r| r.session.next_deadline())
            .min()
            .map(Instant::from_std)
    }
}

async fn run(mut rx: mpsc::Receiver<Msg>) {
    let mut t = Task {
        sessions: BTreeMap::new(),
        v4: None,
        v6: None,
        random: Default::default(),
        draws: 0,
    };
    let mut buf4 = [0u8; READ_SIZE];
    let mut buf6 = [0u8; READ_SIZE];
    loop {
        let deadline = t.next_deadline();
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(Msg::Add(spec, status)) => {
                    if let Some(old) = t.sessions.remove(&spec.peer) {
                        log::info!("BFD {}: settings changed, session restarts", old.spec.peer);
                    }
                    t.add(spec, status)
                }
                Some(Msg::Start(peer)) => t.start(peer),
                Some(Msg::Remove(peer)) => {
                    if let Some(mut r) = t.sessions.remove(&peer) {
                        // Tell the router it is on purpose (RFC 5880 §6.8.16): AdminDown.
                        let out = r.session.handle(Event::AdminDown, std::time::Instant::now());
                        for a in out {
                            if let (Action::Send(b), Some(s)) = (a, &r.socket) {
                                let _ = s.send(&b);
                            }
                        }
                    }
                }
                None => return,
            },
            () = sleep_until(deadline) => t.timers(),
            r = receive(&t.v4, &mut buf4) => match r {
                Ok((n, from, ttl)) => t.received(&buf4[..n], from, ttl),
                Err(e) => log::debug!("BFD: receiving (IPv4): {e}"),
            },
            r = receive(&t.v6, &mut buf6) => match r {
                Ok((n, from, ttl)) => t.received(&buf6[..n], from, ttl),
                Err(e) => log::debug!("BFD: receiving (IPv6): {e}"),
            },
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The receiving socket of one family on port 3784, with the TTL / hop limit of each
/// packet asked for (RFC 5881 §5 needs it: only 255 is accepted).
fn listen(v4: bool) -> io::Result<UdpSocket> {
    let (domain, any) = if v4 {
        (Domain::IPV4, IpAddr::from(Ipv4Addr::UNSPECIFIED))
    } else {
        (Domain::IPV6, IpAddr::from(Ipv6Addr::UNSPECIFIED))
    };
    let s = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    if v4 {
        socket::setsockopt(&s, sockopt::Ipv4RecvTtl, &true)?;
    } else {
        s.set_only_v6(true)?;
        socket::setsockopt(&s, sockopt::Ipv6RecvHopLimit, &true)?;
    }
    s.set_reuse_address(true)?;
    s.set_nonblocking(true)?;
    s.bind(&SocketAddr::new(any, bfd::PORT).into())?;
    UdpSocket::from_std(s.into())
}

/// One session's sending socket: from its source address and `port` (or the next free
/// port of the range), TTL 255, to the neighbor's port 3784 (RFC 5881 §4, §5).
fn sender(spec: &Spec, port: u16) -> io::Result<StdUdpSocket> {
    let domain = if spec.peer.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let s = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    if spec.peer.is_ipv4() {
        s.set_ttl_v4(u32::from(bfd::TTL))?;
    } else {
        s.set_unicast_hops_v6(u32::from(bfd::TTL))?;
    }
    s.set_nonblocking(true)?;
    let mut last = None;
    // A bounded search from a random start: the range holds 16384 ports.
    for i in 0..64u16 {
        let p = 49152 + (port - 49152 + i * 211) % 16384;
        match s.bind(&SocketAddr::new(spec.local, p).into()) {
            Ok(()) => {
                last = None;
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    if let Some(e) = last {
        return Err(e);
    }
    s.connect(&SocketAddr::new(spec.peer, bfd::PORT).into())?;
    Ok(s.into())
}

/// One datagram with its sender and TTL / hop limit (0 when the kernel gave none).
async fn receive(socket: &Option<UdpSocket>, buf: &mut [u8]) -> io::Result<(usize, IpAddr, u8)> {
    let Some(socket) = socket else {
        return std::future::pending().await;
    };
    socket
        .async_io(Interest::READABLE, || {
            let mut iov = [io::IoSliceMut::new(buf)];
            let mut cmsg = nix::cmsg_space!(libc::c_int);
            let msg = socket::recvmsg::<SockaddrStorage>(
                socket.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::empty(),
            )
            .map_err(io::Error::from)?;
            let mut ttl = 0u8;
            for c in msg.cmsgs().map_err(io::Error::from)? {
                match c {
                    ControlMessageOwned::Ipv4Ttl(t) | ControlMessageOwned::Ipv6HopLimit(t) => {
                        ttl = u8::try_from(t).unwrap_or(0)
                    }
                    _ => {}
                }
            }
            let from = msg
                .address
                .and_then(|a: SockaddrStorage| {
                    a.as_sockaddr_in()
                        .map(|v4| IpAddr::from(v4.ip()))
                        .or_else(|| a.as_sockaddr_in6().map(|v6| IpAddr::from(v6.ip())))
                })
                .ok_or_else(|| io::Error::other("no sender address"))?;
            Ok((msg.bytes, from, ttl))
        })
        .await
}
