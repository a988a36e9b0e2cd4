//! Remote syslog's shell in PID 1: the sockets. Every log line PID 1 sees is offered
//! ([`Forwarder::offer`]); each configured server takes what its levels let through into
//! its own bounded queue ([`wire::Queue`]), and [`Forwarder::pump`] sends what
//! the sockets take right now: everything is non-blocking, so a server that is
//! unreachable, or accepts TCP and never reads, fills its queue (then the oldest lines
//! go, counted) and costs PID 1 nothing else. TCP reconnects with a doubling delay.
//!
//! The servers come from the running configuration (`syslog` in config.json), looked at
//! every [`LOOK_EVERY`] and read again when the file changed.

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use config::syslog::{SyslogServer, Transport};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::backoff::Backoff;
use wire::{format, frame, parse_line, Queue};

mod wire;

const LOOK_EVERY: Duration = Duration::from_secs(5);
/// A TCP connect that has not completed by then is given up (and tried again later).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How soon the loop comes back while a queue has lines and a socket might take them.
const PUMP_AGAIN: Duration = Duration::from_millis(200);
/// Dropped lines are reported at most this often (the report is a log line too).
const REPORT_EVERY: Duration = Duration::from_secs(60);
/// Messages sent per server per turn, so one busy server cannot hold the loop.
const SEND_PER_TURN: usize = 256;

enum Link {
    Udp(UdpSocket),
    Connecting(Socket, Instant),
    Tcp(Socket),
    Down(Instant),
}

struct Server {
    spec: SyslogServer,
    queue: Queue,
    link: Link,
    backoff: Backoff,
    dropped_said: u64,
    report_at: Instant,
}

pub struct Forwarder {
    running_json: PathBuf,
    seen: Option<(SystemTime, u64)>,
    next_look: Instant,
    servers: Vec<Server>,
    hostname: String,
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

impl Server {
    fn new(spec: SyslogServer, now: Instant) -> Server {
        let mut server = Server {
            spec,
            queue: Queue::default(),
            link: Link::Down(now),
            backoff: Backoff::new(
                Duration::from_secs(1),
                Duration::from_secs(60),
                Duration::from_secs(60),
            ),
            dropped_said: 0,
            // The first drop is said at once, later ones at most every REPORT_EVERY.
            report_at: now,
        };
        server.open(now);
        server
    }

    fn address(&self) -> SocketAddr {
        SocketAddr::new(self.spec.address, self.spec.port)
    }

    fn open(&mut self, now: Instant) {
        let to = self.address();
        self.queue.resend_whole();
        self.link = match self.spec.transport {
            Transport::Udp => {
                let bind: SocketAddr = if to.is_ipv4() {
                    "0.0.0.0:0".parse().expect("an address")
                } else {
                    "[::]:0".parse().expect("an address")
                };
                match UdpSocket::bind(bind).and_then(|s| {
                    s.set_nonblocking(true)?;
                    s.connect(to)?;
                    Ok(s)
                }) {
                    Ok(s) => Link::Udp(s),
                    Err(e) => {
                        log::warn!("syslog: {to} (udp): {e}");
                        Link::Down(now + self.backoff.after_exit(Duration::ZERO))
                    }
                }
            }
            Transport::Tcp => {
                let socket =
                    Socket::new(Domain::for_address(to), Type::STREAM, Some(Protocol::TCP))
                        .and_then(|s| {
                            s.set_nonblocking(true)?;
                            s.set_cloexec(true)?;
                            Ok(s)
                        });
                match socket {
                    Ok(s) => match s.connect(&SockAddr::from(to)) {
                        Ok(()) => Link::Tcp(s),
                        Err(e) if e.raw_os_error() == Some(nix::libc::EINPROGRESS) => {
                            Link::Connecting(s, now)
                        }
                        Err(e) => self.down(now, &e.to_string()),
                    },
                    Err(e) => self.down(now, &e.to_string()),
                }
            }
        };
    }

    fn down(&mut self, now: Instant, why: &str) -> Link {
        let delay = self.backoff.after_exit(Duration::ZERO);
        log::warn!(
            "syslog: {} (tcp): {why}; trying again in {} s ({} lines waiting)",
            self.address(),
            delay.as_secs(),
            self.queue.len()
        );
        self.queue.resend_whole();
        Link::Down(now + delay)
    }

    /// Sends what the socket takes now.
    fn pump(&mut self, now: Instant) {
        match &self.link {
            Link::Down(at) if *at <= now => self.open(now),
            Link::Connecting(s, since) => match (s.take_error(), s.peer_addr()) {
                (Ok(Some(e)), _) | (Err(e), _) => self.link = self.down(now, &e.to_string()),
                (Ok(None), Ok(_)) => {
                    self.backoff = Backoff::new(
                        Duration::from_secs(1),
                        Duration::from_secs(60),
                        Duration::from_secs(60),
                    );
                    let Link::Connecting(s, _) = std::mem::replace(&mut self.link, Link::Down(now))
                    else {
                        unreachable!()
                    };
                    log::info!("syslog: connected to {} (tcp)", self.address());
                    self.link = Link::Tcp(s);
                }
                (Ok(None), Err(_)) if now.duration_since(*since) >= CONNECT_TIMEOUT => {
                    self.link = self.down(now, "no answer to the connect");
                }
                _ => {}
            },
            _ => {}
        }
        for _ in 0..SEND_PER_TURN {
            let Some(message) = self.queue.front() else {
                break;
            };
            match &self.link {
                Link::Udp(s) => {
                    // A datagram that cannot go now (no route, no buffer) is dropped:
                    // UDP syslog makes no promise, and the queue must move.
                    if let Err(e) = s.send(message) {
                        if e.kind() == ErrorKind::WouldBlock {
                            break;
                        }
                        self.queue.dropped += 1;
                    }
                    self.queue.pop();
                }
                Link::Tcp(s) => {
                    let unsent = self.queue.unsent().unwrap_or_default();
                    match s.send_with_flags(unsent, nix::libc::MSG_NOSIGNAL) {
                        Ok(n) => self.queue.advance(n),
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) => {
                            // The message half sent is sent again whole on the next
                            // connection (a receiver sees one broken frame at most).
                            self.link = self.down(now, &e.to_string());
                            break;
                        }
                    }
                }
                _ => break,
            }
        }
        if self.queue.dropped > self.dropped_said && self.report_at <= now {
            log::warn!(
                "syslog: {} lines to {} dropped (it does not take them fast enough)",
                self.queue.dropped - self.dropped_said,
                self.address()
            );
            self.dropped_said = self.queue.dropped;
            self.report_at = now + REPORT_EVERY;
        }
    }

    /// When this server needs the loop again.
    fn deadline(&self, now: Instant) -> Option<Instant> {
        match &self.link {
            Link::Down(at) => Some(*at),
            Link::Connecting(..) => Some(now + PUMP_AGAIN),
            _ if !self.queue.is_empty() => Some(now + PUMP_AGAIN),
            _ => None,
        }
    }
}

impl Forwarder {
    pub fn new(running_json: PathBuf) -> Forwarder {
        Forwarder {
            running_json,
            seen: None,
            next_look: Instant::now(),
            servers: Vec::new(),
            hostname: String::new(),
        }
    }

    /// Reads the servers again when config.json changed.
    fn look(&mut self, now: Instant) {
        self.next_look = now + LOOK_EVERY;
        // The balancer names the box after PID 1 started, and again on a change.
        self.hostname = nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default();
        let stamp = std::fs::metadata(&self.running_json)
            .ok()
            .and_then(|m| Some((m.modified().ok()?, m.len())));
        if stamp == self.seen {
            return;
        }
        self.seen = stamp;
        let specs = std::fs::read_to_string(&self.running_json)
            .ok()
            .and_then(|text| config::native::from_json(&text).ok())
            .map(|c| c.syslog)
            .unwrap_or_default();
        let old: Vec<SyslogServer> = self.servers.iter().map(|s| s.spec.clone()).collect();
        if old == specs {
            return;
        }
        // Servers that stay keep their queue and connection.
        let mut kept: Vec<Server> = Vec::new();
        for spec in specs {
            match self.servers.iter().position(|s| s.spec == spec) {
                Some(i) => kept.push(self.servers.swap_remove(i)),
                None => {
                    log::info!(
                        "syslog: sending to {} ({:?}, facility {})",
                        SocketAddr::new(spec.address, spec.port),
                        spec.transport,
                        spec.facility
                    );
                    kept.push(Server::new(spec, now))
                }
            }
        }
        self.servers = kept;
    }

    /// A log line (as the console shows it): queued for every server that wants it.
    pub fn offer(&mut self, line: &str) {
        if self.servers.is_empty() {
            return;
        }
        let Some(parsed) = parse_line(line) else {
            return;
        };
        let at = now_micros();
        let pid = std::process::id();
        for server in &mut self.servers {
            if server.spec.wants(parsed.source, parsed.severity) {
                let message = format(server.spec.facility, &parsed, at, &self.hostname, pid);
                server.queue.push(match server.spec.transport {
                    Transport::Udp => message.into_bytes(),
                    Transport::Tcp => frame(&message),
                });
            }
        }
    }

    /// Sends what the sockets take now; looks at the configuration when due.
    pub fn pump(&mut self) {
        let now = Instant::now();
        if self.next_look <= now {
            self.look(now);
        }
        for server in &mut self.servers {
            server.pump(now);
        }
    }

    /// When [`Forwarder::pump`] has something to do.
    pub fn deadline(&self) -> Instant {
        let now = Instant::now();
        self.servers
            .iter()
            .filter_map(|s| s.deadline(now))
            .fold(self.next_look, Instant::min)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TCP server that accepts and never reads, and a UDP port nobody listens on: the
    /// forwarder connects, fills what the sockets take, then drops the oldest lines and
    /// counts them; every pump returns (the sockets are non-blocking).
    #[test]
    fn a_server_that_never_reads_costs_a_bounded_queue() {
        let dir = tempfile::tempdir().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let tcp_port = listener.local_addr().unwrap().port();
        let dead_udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let udp_port = dead_udp.local_addr().unwrap().port();
        drop(dead_udp);
        let path = dir.path().join("config.json");
        std::fs::write(
            &path,
            format!(
                r#"{{"syslog": [{{"server": "127.0.0.1", "protocol": "tcp", "port": {tcp_port}}},
                    {{"server": "127.0.0.1", "port": {udp_port}}}]}}"#
            ),
        )
        .unwrap();
        let mut f = Forwarder::new(path);
        f.pump();
        assert_eq!(f.servers.len(), 2);
        let (_held, _) = listener.accept().unwrap();
        for _ in 0..100 {
            f.pump();
            if matches!(f.servers[0].link, Link::Tcp(_)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(matches!(f.servers[0].link, Link::Tcp(_)), "not connected");
        let line = format!(
            "[ 1.0] balancer: VI_1: BACKUP -> MASTER {}\n",
            "x".repeat(200)
        );
        for _ in 0..50_000 {
            f.offer(&line);
            f.pump();
        }
        let tcp = &f.servers[0];
        assert!(tcp.queue.len() <= Queue::MAX_LINES);
        assert!(tcp.queue.bytes() <= Queue::MAX_BYTES);
        assert!(
            tcp.queue.dropped > 0,
            "nothing dropped: the kernel took 50,000 lines?"
        );
        assert!(
            matches!(tcp.link, Link::Tcp(_)),
            "the stuck connection was given up"
        );
        // The UDP server is not there: lines go (or are dropped), nothing waits.
        assert!(f.servers[1].queue.len() < SEND_PER_TURN);
    }
}
