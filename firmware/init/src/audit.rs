//! PID 1 owns the audit trail (see [`logger::audit`]): it takes lines from its own queue
//! and from the datagram socket, stamps them with the wall clock, keeps them in their
//! ring, logs them (source `audit`, so to syslog too), writes the ring for the page and
//! `show audit`, and appends each to the configuration partition's audit area.
//!
//! PID 1 must not block: an append only tries the partition's lock, and a line that
//! finds a save in progress waits (bounded) for the next turn.

use std::collections::VecDeque;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use logger::audit::Ring;

/// Datagrams read per turn of the loop.
const READ_PER_TURN: usize = 64;
/// Lines waiting for the partition; beyond this the oldest are not persisted (they
/// stay in the ring and the log).
const MAX_UNPERSISTED: usize = 64;
const RETRY: Duration = Duration::from_millis(200);

pub struct Audit {
    socket: Option<UnixDatagram>,
    ring: Ring,
    store: Option<store::Store>,
    unpersisted: VecDeque<String>,
    retry_at: Option<Instant>,
    changed: bool,
}

/// `2026-12-05T00:20:30Z`.
fn stamp(now: SystemTime) -> String {
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let c = ::status::time::Civil::from_unix(secs);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

impl Audit {
    /// The socket; the partition comes later ([`Audit::attach_store`]).
    pub fn open() -> Audit {
        let _ = std::fs::create_dir_all(paths::RUN_DIR);
        let _ = std::fs::remove_file(paths::AUDIT_SOCKET);
        let socket = UnixDatagram::bind(paths::AUDIT_SOCKET)
            .and_then(|s| {
                s.set_nonblocking(true)?;
                Ok(s)
            })
            .map_err(|e| {
                log::error!(
                    "audit socket {}: {e}; only PID 1's own lines are audited",
                    paths::AUDIT_SOCKET
                )
            })
            .ok();
        Audit {
            socket,
            ring: Ring::default(),
            store: None,
            unpersisted: VecDeque::new(),
            retry_at: None,
            changed: true,
        }
    }

    /// Once the configuration disk is known (after the restore): the lines persisted
    /// before this boot come first in the ring.
    pub fn attach_store(&mut self) {
        match ops::disk::open() {
            Ok(store) => {
                match store.audit_entries() {
                    Ok(entries) => {
                        // The lines persisted before this boot, then this boot's so far.
                        let mut ring = Ring::default();
                        for e in entries {
                            ring.push(e.text);
                        }
                        for line in self.ring.text().lines() {
                            ring.push(line.to_string());
                        }
                        self.ring = ring;
                        self.changed = true;
                    }
                    Err(e) => log::warn!("audit trail: reading the persisted lines: {e}"),
                }
                self.store = Some(store);
            }
            Err(e) => log::info!("audit trail: kept in memory only ({e})"),
        }
    }

    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.socket.as_ref().map(|s| s.as_fd())
    }

    /// Takes new lines (PID 1's own and the socket's), persists what it can, and
    /// rewrites the shown ring when it changed.
    pub fn collect(&mut self) {
        let mut lines = logger::audit::take_local();
        if let Some(socket) = &self.socket {
            let mut buf = [0u8; 1024];
            for _ in 0..READ_PER_TURN {
                match socket.recv(&mut buf) {
                    Ok(n) => {
                        lines.push(logger::audit::one_line(&String::from_utf8_lossy(&buf[..n])))
                    }
                    Err(_) => break,
                }
            }
        }
        for line in lines {
            self.add(&line);
        }
        if self.retry_at.is_none_or(|at| at <= Instant::now()) {
            self.persist(Duration::ZERO);
        }
        if std::mem::take(&mut self.changed) {
            let _ = paths::write_atomic(Path::new(paths::AUDIT), self.ring.text().as_bytes(), true);
        }
    }

    fn add(&mut self, line: &str) {
        if line.is_empty() {
            return;
        }
        let stamped = format!("{} {line}", stamp(SystemTime::now()));
        logger::write_as("audit", log::Level::Info, line);
        self.ring.push(stamped.clone());
        self.changed = true;
        if self.store.is_some() {
            if self.unpersisted.len() >= MAX_UNPERSISTED {
                self.unpersisted.pop_front();
            }
            self.unpersisted.push_back(stamped);
        }
    }

    /// Appends the waiting lines; `wait` > 0 only at shutdown.
    pub fn persist(&mut self, wait: Duration) {
        let Some(store) = &self.store else { return };
        self.retry_at = None;
        while let Some(line) = self.unpersisted.front() {
            match store.audit_append(line, wait) {
                Ok(_) => {
                    self.unpersisted.pop_front();
                }
                Err(store::Error::WouldBlock) => {
                    self.retry_at = Some(Instant::now() + RETRY);
                    return;
                }
                Err(e) => {
                    log::warn!("audit trail: not persisted: {e}");
                    self.unpersisted.pop_front();
                }
            }
        }
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.retry_at
    }

    pub fn shown(&self) -> String {
        self.ring.text()
    }
}
