//! PING_CHECK, UDP_CHECK and DNS_CHECK probes: one datagram out and one back, on a few
//! sockets shared by all checks, without a task or a socket per probe.
//!
//! A probe is an entry in a table of pending probes, keyed by where its answer will come
//! from: an echo sequence number on a raw ICMP socket, or the server's address and port on
//! a UDP socket. One receiver task per socket judges what arrives against the table. A
//! second probe to the same server and port while one is pending (the same real server in
//! two virtual servers) goes out on another UDP socket, so that an answer is never
//! ambiguous. Timeouts and sends that found the socket buffer full are driven by the
//! owner ([`Datagrams::expire`], [`Datagrams::flush`]), on the scheduler's ticks.
//!
//! Every started probe gives exactly one result on the channel given to [`Datagrams::new`],
//! unless it is forgotten first.
//!
//! One difference from keepalived's socket per probe: a UDP_CHECK reply that comes after
//! its probe timed out, while the next probe to that server is out, counts for the next
//! one (DNS_CHECK's ids tell them apart; a late reply is still a sign of life).

mod sockets;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::dns;
use crate::icmp;
use crate::outcome::{Failure, Passed, ProbeResult, Unreachable};
use crate::probe::PreparedCheck;
use crate::random::Jitter;
use crate::spec::CheckKind;

/// Datagrams read in one turn of a receiver before it lets other tasks run.
const BATCH: usize = 256;
/// The largest datagram a receiver reads (a UDP payload is at most 65,507 bytes).
const RECEIVE_BUFFER: usize = 64 * 1024;
/// How soon a send that found the socket buffer full is tried again.
pub const RESEND_AFTER: Duration = Duration::from_millis(10);

/// A probe as the table knows it: which socket, and what its answer carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    socket: usize,
    tag: Tag,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Tag {
    /// An echo request's sequence number.
    Echo(u16),
    /// The server a UDP datagram went to.
    Peer(IpAddr, u16),
}

/// A started probe, for [`Datagrams::forget`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Started {
    key: Key,
    serial: u64,
}

struct Pending<T> {
    token: T,
    check: Arc<PreparedCheck>,
    serial: u64,
    /// DNS_CHECK: the id of the query.
    dns_id: u16,
    /// Whether the datagram has gone out (else it waits in `unsent`).
    sent: bool,
}

type Table<T> = HashMap<Key, Pending<T>>;
type Results<T> = mpsc::UnboundedSender<(T, ProbeResult)>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SocketKind {
    echo: bool,
    v6: bool,
    bindto: Option<IpAddr>,
}

struct Socket {
    kind: SocketKind,
    io: Arc<AsyncFd<UdpSocket>>,
    /// Echo sockets: the identifier of our requests, and the next sequence number.
    echo_id: u16,
    next_seq: u16,
}

/// The pending datagram probes and their sockets; results go to the channel `results`.
pub struct Datagrams<T> {
    table: Arc<Mutex<Table<T>>>,
    sockets: Vec<Socket>,
    receivers: Vec<JoinHandle<()>>,
    results: Results<T>,
    /// (deadline, serial, key), earliest first; entries of finished probes are skipped.
    timeouts: BinaryHeap<Reverse<(Instant, u64, Key)>>,
    unsent: VecDeque<(Key, u64)>,
    next_serial: u64,
    jitter: Jitter,
    echo_payload: [u8; icmp::CHECK_PAYLOAD_LEN],
}

impl<T: Copy + Send + 'static> Datagrams<T> {
    pub fn new(results: Results<T>) -> Self {
        Datagrams {
            table: Arc::new(Mutex::new(HashMap::new())),
            sockets: Vec::new(),
            receivers: Vec::new(),
            results,
            timeouts: BinaryHeap::new(),
            unsent: VecDeque::new(),
            next_serial: 0,
            jitter: Jitter::new(),
            echo_payload: icmp::check_payload(),
        }
    }

    /// Sends one probe of `check` (PING_CHECK, UDP_CHECK or DNS_CHECK); its result comes on
    /// the channel tagged `token`, within `connect_timeout` (once [`Datagrams::expire`]
    /// is called then).
    pub fn start(&mut self, check: Arc<PreparedCheck>, token: T) -> Started {
        let serial = self.next_serial;
        self.next_serial += 1;
        let spec = &check.spec;
        let to = spec.connect_to;
        let kind = SocketKind {
            echo: matches!(spec.kind, CheckKind::Ping),
            v6: to.is_ipv6(),
            bindto: spec.bindto,
        };
        let deadline = Instant::now() + spec.timing.connect_timeout;
        let socket = match self.socket_for(kind, to) {
            Ok(socket) => socket,
            Err(error) => {
                let failure = Failure::Send(format!("no socket: {error}"));
                let _ = self.results.send((token, ProbeResult::Failed(failure)));
                // A key no probe has: forgetting it does nothing.
                let key = Key {
                    socket: usize::MAX,
                    tag: Tag::Echo(0),
                };
                return Started { key, serial };
            }
        };
        let tag = match kind.echo {
            true => Tag::Echo(self.next_seq(socket)),
            false => Tag::Peer(to.ip(), to.port()),
        };
        let key = Key { socket, tag };
        let dns_id = match spec.kind {
            CheckKind::Dns(_) => self.jitter.next_u32() as u16,
            _ => 0,
        };
        let pending = Pending {
            token,
            check,
            serial,
            dns_id,
            sent: false,
        };
        lock(&self.table).insert(key, pending);
        self.timeouts.push(Reverse((deadline, serial, key)));
        self.unsent.push_back((key, serial));
        self.flush();
        Started { key, serial }
    }

    /// Drops a pending probe without a result (its checker is gone); true if it was
    /// pending, false if its result is already on the channel.
    pub fn forget(&mut self, started: Started) -> bool {
        let mut table = lock(&self.table);
        if table
            .get(&started.key)
            .is_some_and(|p| p.serial == started.serial)
        {
            table.remove(&started.key);
            true
        } else {
            false
        }
    }

    /// Gives the result of every probe whose `connect_timeout` has passed by `now`.
    pub fn expire(&mut self, now: Instant) {
        while let Some(Reverse((deadline, serial, key))) = self.timeouts.peek().copied() {
            if deadline > now {
                return;
            }
            self.timeouts.pop();
            let mut table = lock(&self.table);
            if table.get(&key).is_none_or(|p| p.serial != serial) {
                continue;
            }
            let Some(pending) = table.remove(&key) else {
                continue;
            };
            drop(table);
            let after = pending.check.spec.timing.connect_timeout;
            let verdict = match &pending.check.spec.kind {
                _ if !pending.sent => Err(Failure::Send(format!(
                    "the socket's buffer stayed full for {}",
                    crate::outcome::Seconds(after)
                ))),
                CheckKind::Udp(udp) => udp.judge_silence(after),
                _ => Err(Failure::NoReply(after)),
            };
            let _ = self.results.send((pending.token, result(verdict)));
        }
    }

    /// Sends what found a socket's buffer full before, in order, until one does again.
    pub fn flush(&mut self) {
        while let Some(&(key, serial)) = self.unsent.front() {
            let mut table = lock(&self.table);
            let Some(pending) = table.get_mut(&key).filter(|p| p.serial == serial) else {
                drop(table);
                self.unsent.pop_front();
                continue;
            };
            let socket = &self.sockets[key.socket];
            match send(socket, key, pending, &self.echo_payload) {
                Ok(()) => pending.sent = true,
                Err(error) if is_full(&error) => return,
                Err(error) => {
                    if let Some(pending) = table.remove(&key) {
                        let failure = Failure::Send(error.to_string());
                        let _ = self
                            .results
                            .send((pending.token, ProbeResult::Failed(failure)));
                    }
                }
            }
            drop(table);
            self.unsent.pop_front();
        }
    }

    /// When to call [`Datagrams::expire`] and [`Datagrams::flush`] next.
    pub fn next_wake(&self) -> Option<Instant> {
        let timeout = self.timeouts.peek().map(|Reverse((due, _, _))| *due);
        let resend = (!self.unsent.is_empty()).then(|| Instant::now() + RESEND_AFTER);
        match (timeout, resend) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Probes pending now.
    pub fn pending(&self) -> usize {
        lock(&self.table).len()
    }

    /// A socket of `kind` on which no probe to `to` is pending; made if there is none.
    fn socket_for(&mut self, kind: SocketKind, to: SocketAddr) -> io::Result<usize> {
        let table = lock(&self.table);
        let free = self.sockets.iter().enumerate().position(|(index, socket)| {
            socket.kind == kind
                && (kind.echo
                    || !table.contains_key(&Key {
                        socket: index,
                        tag: Tag::Peer(to.ip(), to.port()),
                    }))
        });
        drop(table);
        if let Some(index) = free {
            return Ok(index);
        }
        let socket = match kind.echo {
            true => sockets::echo_socket(kind.v6, kind.bindto)?,
            false => sockets::udp_socket(kind.v6, kind.bindto)?,
        };
        let interest = match kind.echo {
            true => Interest::READABLE,
            // ICMP errors on the error queue raise only EPOLLERR.
            false => Interest::READABLE | Interest::ERROR,
        };
        // SAFETY: the UdpSocket owns its descriptor, which stays open and the same until
        // the AsyncFd, its only owner, is dropped.
        let registered = unsafe { AsyncFd::register_with_interest(socket, interest) };
        let io = Arc::new(registered.map_err(|e| e.into_parts().1)?);
        let index = self.sockets.len();
        let echo_id = self.jitter.next_u32() as u16;
        let receiver = Receiver {
            index,
            kind,
            echo_id,
            io: io.clone(),
            table: self.table.clone(),
            results: self.results.clone(),
        };
        self.receivers.push(tokio::spawn(receiver.run(interest)));
        self.sockets.push(Socket {
            kind,
            io,
            echo_id,
            next_seq: 0,
        });
        Ok(index)
    }

    /// The next echo sequence number of `socket` that no pending probe has.
    fn next_seq(&mut self, socket: usize) -> u16 {
        let table = lock(&self.table);
        let state = &mut self.sockets[socket];
        for _ in 0..=u16::MAX {
            state.next_seq = state.next_seq.wrapping_add(1);
            let key = Key {
                socket,
                tag: Tag::Echo(state.next_seq),
            };
            if !table.contains_key(&key) {
                break;
            }
        }
        state.next_seq
    }
}

impl<T> Drop for Datagrams<T> {
    fn drop(&mut self) {
        for receiver in &self.receivers {
            receiver.abort();
        }
    }
}

fn lock<T>(table: &Mutex<T>) -> MutexGuard<'_, T> {
    // A receiver that panicked holding the lock left a table that is still consistent
    // (each change is one insert or remove).
    table
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn result(verdict: Result<Passed, Failure>) -> ProbeResult {
    match verdict {
        Ok(passed) => ProbeResult::Passed(passed),
        Err(failure) => ProbeResult::Failed(failure),
    }
}

/// The socket buffer is full (or the qdisc's queue): try again shortly.
fn is_full(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::WouldBlock || error.raw_os_error() == Some(nix::libc::ENOBUFS)
}

/// Sends the datagram of `pending` on `socket`.
fn send<T>(socket: &Socket, key: Key, pending: &Pending<T>, echo_payload: &[u8]) -> io::Result<()> {
    let spec = &pending.check.spec;
    let to = spec.connect_to;
    let mut buffer = [0u8; dns::MAX_QUERY];
    let datagram: &[u8] = match (&spec.kind, key.tag) {
        (CheckKind::Ping, Tag::Echo(seq)) => {
            let len =
                icmp::write_request(&mut buffer, to.is_ipv6(), socket.echo_id, seq, echo_payload)
                    .ok_or_else(|| io::Error::other("echo request larger than its buffer"))?;
            &buffer[..len]
        }
        (CheckKind::Dns(_), _) => {
            let query = pending.check.request(0).unwrap_or_default();
            let query_buffer = buffer
                .get_mut(..query.len())
                .ok_or_else(|| io::Error::other("DNS query larger than its buffer"))?;
            query_buffer.copy_from_slice(query);
            dns::set_id(query_buffer, pending.dns_id);
            query_buffer
        }
        _ => pending.check.request(0).unwrap_or_default(),
    };
    let destination = match key.tag {
        // A raw socket has no ports; IPv6 wants 0 (or the protocol) there.
        Tag::Echo(_) => SocketAddr::new(to.ip(), 0),
        Tag::Peer(ip, port) => SocketAddr::new(ip, port),
    };
    let attempt = || socket.io.get_ref().send_to(datagram, destination);
    match attempt() {
        Ok(_) => Ok(()),
        // An ICMP error about another server, not yet read from the error queue, is
        // reported by the next call on the socket (sk_err), which clears it: this send
        // has not been tried yet.
        Err(error) if is_async_icmp_error(&error) => attempt().map(|_| ()),
        Err(error) => Err(error),
    }
}

/// The errors an earlier ICMP message leaves on a socket for its next call.
fn is_async_icmp_error(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(nix::libc::ECONNREFUSED | nix::libc::EHOSTUNREACH | nix::libc::ENETUNREACH)
    )
}

/// Reads one socket and judges what comes against the table.
struct Receiver<T> {
    index: usize,
    kind: SocketKind,
    echo_id: u16,
    io: Arc<AsyncFd<UdpSocket>>,
    table: Arc<Mutex<Table<T>>>,
    results: Results<T>,
}

impl<T: Copy> Receiver<T> {
    async fn run(self, interest: Interest) {
        let mut buffer = vec![0u8; RECEIVE_BUFFER].into_boxed_slice();
        loop {
            let Ok(mut ready) = self.io.ready(interest).await else {
                return;
            };
            let mut drained = self.read_datagrams(&mut buffer);
            if !self.kind.echo {
                drained &= self.read_errors();
            }
            if drained {
                ready.clear_ready();
            } else {
                drop(ready);
                tokio::task::yield_now().await;
            }
        }
    }

    /// Reads up to [`BATCH`] datagrams; true if the socket had no more.
    fn read_datagrams(&self, buffer: &mut [u8]) -> bool {
        let mut errors = 0;
        for _ in 0..BATCH {
            match self.io.get_ref().recv_from(buffer) {
                Ok((len, from)) => self.on_datagram(&buffer[..len], from),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return true,
                // An ICMP error reported in passing (sk_err) is cleared by the call that
                // reports it; its details are on the error queue, and the datagrams
                // behind it are still to be read. An error that does not go away is
                // left for the next readiness rather than spun on.
                Err(_) => {
                    errors += 1;
                    if errors > 2 {
                        return true;
                    }
                }
            }
        }
        false
    }

    /// Reads up to [`BATCH`] queued ICMP errors; true if there were no more.
    fn read_errors(&self) -> bool {
        for _ in 0..BATCH {
            match sockets::next_error(self.io.get_ref(), self.kind.v6) {
                Ok(Some(error)) => {
                    if let Some(code) = error.unreachable {
                        let tag = Tag::Peer(error.to.ip(), error.to.port());
                        let unreachable = Unreachable { v6: error.v6, code };
                        self.finish(tag, |_| Some(Err(Failure::Unreachable(unreachable))));
                    }
                }
                Ok(None) | Err(_) => return true,
            }
        }
        false
    }

    fn on_datagram(&self, datagram: &[u8], from: SocketAddr) {
        if self.kind.echo {
            let Some(reply) = icmp::parse_reply(self.kind.v6, datagram) else {
                return;
            };
            if reply.id != self.echo_id {
                return;
            }
            self.finish(Tag::Echo(reply.seq), |pending| {
                // The reply must come from the server pinged.
                (pending.check.spec.connect_to.ip() == from.ip()).then_some(Ok(Passed::Echo))
            });
            return;
        }
        self.finish(
            Tag::Peer(from.ip(), from.port()),
            |pending| match &pending.check.spec.kind {
                CheckKind::Udp(udp) => Some(udp.judge_reply(datagram)),
                CheckKind::Dns(_) => match dns::judge(pending.dns_id, datagram) {
                    dns::Response::Ignored => None,
                    dns::Response::Judged(verdict) => Some(verdict),
                },
                _ => None,
            },
        );
    }

    /// Gives the pending probe with `tag` the verdict `judge` makes, if it makes one.
    fn finish(&self, tag: Tag, judge: impl FnOnce(&Pending<T>) -> Option<Result<Passed, Failure>>) {
        let key = Key {
            socket: self.index,
            tag,
        };
        let mut table = lock(&self.table);
        let Some(pending) = table.get(&key).filter(|p| p.sent) else {
            return;
        };
        let Some(verdict) = judge(pending) else {
            return;
        };
        let token = pending.token;
        table.remove(&key);
        drop(table);
        let _ = self.results.send((token, result(verdict)));
    }
}

/// One probe of `check` alone, on sockets of its own (for [`crate::Prober::run`]).
pub async fn probe_once(check: &PreparedCheck) -> ProbeResult {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut datagrams = Datagrams::new(tx);
    datagrams.start(Arc::new(check.clone()), ());
    loop {
        let wake = datagrams
            .next_wake()
            .unwrap_or_else(|| Instant::now() + RESEND_AFTER);
        tokio::select! {
            done = rx.recv() => {
                return done.map_or_else(
                    || ProbeResult::Failed(Failure::Internal("the datagram probe vanished".into())),
                    |(_, result)| result,
                );
            }
            () = tokio::time::sleep_until(wake) => {
                datagrams.flush();
                datagrams.expire(Instant::now());
            }
        }
    }
}

#[cfg(test)]
mod tests;
