//! New TCP connections at a steady cadence from one lab host, each sending one line,
//! reading its echo and closing with a reset (no TIME_WAIT): what a drained box must stop
//! receiving while the long-lived flows of [`crate::flows`] must not notice. Which box a
//! new connection reached is read from a capture of the SYNs ([`crate::pcap::Capture`]),
//! not from here: this side only counts the connections that failed.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::command::Error;
use crate::lab::Host;

/// No churn runs longer than this, whatever its caller does.
const LIMIT: Duration = Duration::from_secs(300);
/// One connection's connect and echo, each.
const TIMEOUT: Duration = Duration::from_secs(3);
/// Failures kept word for word (the rest are only counted).
const KEPT: usize = 10;

#[derive(Debug, Clone, Default)]
pub struct ChurnReport {
    pub opened: u64,
    pub failed: u64,
    /// The first failures, each with its reason.
    pub failures: Vec<String>,
}

pub struct Churn {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<ChurnReport>>,
}

impl Churn {
    /// Starts opening a connection to `to` from `host` every `every` (or as fast as the
    /// path answers, if slower).
    pub fn start(host: &Host, to: SocketAddr, every: Duration) -> Result<Churn, Error> {
        let namespace = crate::netns::Namespace::open(host)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                let mut report = ChurnReport::default();
                // Only this thread moves, and it lives for the churn.
                if let Err(e) = namespace.enter() {
                    report.failed += 1;
                    report.failures.push(e.0);
                    return report;
                }
                let started = Instant::now();
                let mut next = started;
                while !flag.load(Ordering::SeqCst) && started.elapsed() < LIMIT {
                    let now = Instant::now();
                    if now < next {
                        std::thread::sleep(next - now);
                        continue;
                    }
                    next += every;
                    if next < Instant::now() {
                        next = Instant::now();
                    }
                    report.opened += 1;
                    if let Err(e) = one_connection(to) {
                        report.failed += 1;
                        if report.failures.len() < KEPT {
                            report
                                .failures
                                .push(format!("connection {}: {e}", report.opened));
                        }
                    }
                }
                report
            })?;
        Ok(Churn {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops and says how it went.
    pub fn finish(mut self) -> ChurnReport {
        self.stop.store(true, Ordering::SeqCst);
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for Churn {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn one_connection(to: SocketAddr) -> Result<(), Error> {
    let stream = TcpStream::connect_timeout(&to, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    (&stream).write_all(b"churn\n")?;
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line)?;
    if !line.ends_with('\n') {
        return Err(Error(format!("{to}: no echo")));
    }
    crate::flows::reset_on_close(&stream)
}
