//! TCP_CHECK and HTTP_GET probes as state machines on one epoll set of their own, driven
//! by the scheduler's task: a probe is a socket and a few fields in a table, with no task,
//! waker, timer entry or channel message of its own.
//!
//! Why: at 2,000 probes a second, tokio's per-task bookkeeping (spawn, waker, the
//! registration and its removal, a timer entry per timeout) and the result's trip back
//! over a channel were most of the balancer's own time per probe (stop 12's profile).
//! Here a probe costs the system calls keepalived makes too (socket, connect, epoll_ctl,
//! getsockopt, write, read, close) and one table entry; the epoll set is registered with
//! tokio once, readiness for all probes comes in one batch, and the timeouts of all of
//! them are one heap, looked at on the scheduler's ticks.
//!
//! The verdicts are those of [`crate::Prober`], which runs SSL_GET and SMTP_CHECK (and any
//! one probe alone); the probe tests check that both give the same answers. The HTTP
//! response is judged by the same sans-IO [`crate::response`] code.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use mio::net::TcpStream;
use mio::{Events, Interest, Token};
use tokio::io::unix::AsyncFd;
use tokio::time::Instant;

use crate::outcome::{Failure, Passed, Phase, ProbeResult};
use crate::probe::{connect_failure, tcp_socket, PreparedCheck, Steps, EXCHANGE_LIMIT_FACTOR};
use crate::response::{Progress, ResponseCheck, ResponseState};
use crate::spec::CheckKind;

/// Readiness events taken from the epoll set in one call.
const EVENTS: usize = 256;

/// The probes in flight and their epoll set. `T` tags each probe's result.
pub struct Streams<T> {
    epoll: AsyncFd<mio::Poll>,
    events: Events,
    probes: Vec<Option<StreamProbe<T>>>,
    free: Vec<usize>,
    /// (deadline, slot, serial), earliest first: one entry per probe, pushed when it
    /// starts. A probe's deadline only moves later (each step has its own); its entry is
    /// pushed again with the new one when the old comes due, and an ended probe's entry is
    /// dropped then. At thousands of probes a second, an entry per step would keep tens of
    /// thousands of stale ones (a megabyte) until their times came.
    deadlines: BinaryHeap<Reverse<(Instant, usize, u32)>>,
    next_serial: u32,
    /// Results not yet taken by [`Streams::take_finished`].
    finished: Vec<(T, ProbeResult)>,
    /// The readiness of one batch of events: (token, readable, writable).
    ready: Vec<(Token, bool, bool)>,
}

struct StreamProbe<T> {
    token: T,
    serial: u32,
    check: Arc<PreparedCheck>,
    /// HTTP_GET: the URL fetched.
    url: usize,
    stream: TcpStream,
    state: State,
    /// The current step's deadline (connect, request or one read).
    deadline: Instant,
    steps: Steps,
    /// Edge-triggered readiness seen and not yet used up.
    readable: bool,
    writable: bool,
}

enum State {
    Connecting,
    Sending {
        written: usize,
    },
    Receiving(ResponseState),
    /// The verdict is out; waiting for the server's FIN before closing (see
    /// [`StreamProbe::drain`]).
    Draining {
        drained: usize,
    },
}

/// What a probe reads after its verdict before it closes anyway.
const MAX_DRAIN: usize = 64 * 1024;

/// What handling a probe's readiness came to.
enum Step {
    /// Wait for more readiness (or the deadline).
    Wait,
    /// The verdict; the socket is closed.
    Done(Result<Passed, Failure>),
    /// The verdict, with the response still open: drain it to the server's close.
    Judged(Result<Passed, Failure>),
    /// Drained: close without a further verdict.
    Closed,
}

impl<T: Copy> Streams<T> {
    pub fn new() -> io::Result<Self> {
        let poll = mio::Poll::new()?;
        // SAFETY: mio::Poll owns its epoll descriptor, which stays open and the same
        // until the AsyncFd, its only owner, is dropped.
        let epoll = unsafe { AsyncFd::register_with_interest(poll, tokio::io::Interest::READABLE) }
            .map_err(|e| e.into_parts().1)?;
        Ok(Streams {
            epoll,
            events: Events::with_capacity(EVENTS),
            probes: Vec::new(),
            free: Vec::new(),
            deadlines: BinaryHeap::new(),
            next_serial: 0,
            finished: Vec::new(),
            ready: Vec::with_capacity(EVENTS),
        })
    }

    /// Starts one TCP_CHECK or plain HTTP_GET probe of `check` (URL `url`); its result is
    /// among [`Streams::take_finished`] once it has one, within the probe's deadlines as
    /// long as [`Streams::expire`] is called when [`Streams::next_deadline`] says.
    pub fn start(&mut self, check: Arc<PreparedCheck>, url: Option<usize>, token: T) {
        let now = Instant::now();
        let timeout = check.spec.timing.connect_timeout;
        let stream = match connect(&check) {
            Ok(stream) => stream,
            Err(failure) => {
                self.finished.push((token, ProbeResult::Failed(failure)));
                return;
            }
        };
        let slot = self.free.pop().unwrap_or_else(|| {
            self.probes.push(None);
            self.probes.len() - 1
        });
        let serial = self.next_serial;
        self.next_serial = self.next_serial.wrapping_add(1);
        let mut probe = StreamProbe {
            token,
            serial,
            url: url.unwrap_or(0),
            check,
            stream,
            state: State::Connecting,
            deadline: now + timeout,
            steps: Steps {
                step: timeout,
                limit: now + timeout.saturating_mul(EXCHANGE_LIMIT_FACTOR),
            },
            readable: false,
            writable: false,
        };
        let interest = Interest::READABLE | Interest::WRITABLE;
        let registered = self.epoll.get_ref().registry().register(
            &mut probe.stream,
            token_of(slot, serial),
            interest,
        );
        if let Err(error) = registered {
            self.free.push(slot);
            let failure = Failure::Connect(format!("epoll: {error}"));
            self.finished
                .push((probe.token, ProbeResult::Failed(failure)));
            return;
        }
        self.deadlines.push(Reverse((probe.deadline, slot, serial)));
        self.probes[slot] = Some(probe);
    }

    /// Handles what readiness the epoll set has; `Ready` when there are results to take.
    pub fn poll_events(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if !self.finished.is_empty() {
                return Poll::Ready(());
            }
            let mut guard = match self.epoll.poll_read_ready_mut(cx) {
                Poll::Ready(Ok(guard)) => guard,
                // The epoll set cannot fail to be polled; should it, nothing is lost: the
                // probes' deadlines still end them.
                Poll::Ready(Err(_)) | Poll::Pending => return Poll::Pending,
            };
            let polled = guard
                .get_inner_mut()
                .poll(&mut self.events, Some(Duration::ZERO));
            self.ready.clear();
            self.ready.extend(self.events.iter().map(|event| {
                let error = event.is_error();
                (
                    event.token(),
                    event.is_readable() || event.is_read_closed() || error,
                    event.is_writable() || event.is_write_closed() || error,
                )
            }));
            // A full batch may have more behind it: poll again before waiting.
            if polled.is_err() || self.ready.len() < EVENTS {
                guard.clear_ready();
            }
            drop(guard);
            for index in 0..self.ready.len() {
                let (token, readable, writable) = self.ready[index];
                self.on_ready(token, readable, writable);
            }
        }
    }

    /// The results so far, into `out`.
    pub fn take_finished(&mut self, out: &mut Vec<(T, ProbeResult)>) {
        out.append(&mut self.finished);
    }

    /// Ends every probe whose current step has passed its deadline by `now`.
    pub fn expire(&mut self, now: Instant) {
        while let Some(Reverse((deadline, slot, serial))) = self.deadlines.peek().copied() {
            if deadline > now {
                return;
            }
            self.deadlines.pop();
            let Some(probe) = self.probes.get(slot).and_then(Option::as_ref) else {
                continue;
            };
            if probe.serial != serial {
                continue;
            }
            if probe.deadline > deadline {
                // The probe moved on to a later step: its deadline is further out.
                self.deadlines.push(Reverse((probe.deadline, slot, serial)));
                continue;
            }
            let failure = match probe.state {
                State::Connecting => Failure::ConnectTimeout(probe.steps.step),
                State::Sending { .. } => probe.steps.timeout(Phase::Request),
                State::Receiving(_) => probe.steps.timeout(Phase::Response),
                // The server did not close in time: we do.
                State::Draining { .. } => {
                    self.close(slot);
                    continue;
                }
            };
            self.end(slot, Err(failure));
        }
    }

    /// When [`Streams::expire`] has something to do next.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.peek().map(|Reverse((due, _, _))| *due)
    }

    /// Probes in flight.
    pub fn len(&self) -> usize {
        self.probes.len() - self.free.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn on_ready(&mut self, token: Token, readable: bool, writable: bool) {
        let (slot, serial) = slot_of(token);
        let Some(probe) = self.probes.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        if probe.serial != serial {
            return;
        }
        probe.readable |= readable;
        probe.writable |= writable;
        match probe.advance() {
            Step::Done(verdict) => self.end(slot, verdict),
            Step::Judged(verdict) => {
                self.finished.push((probe.token, result(verdict)));
                probe.state = State::Draining { drained: 0 };
                // What came with the verdict, the FIN perhaps, is read now: the socket is
                // edge-triggered, and no new edge comes for data already there.
                if let Step::Closed = probe.advance() {
                    self.close(slot);
                    return;
                }
                probe.deadline = Instant::now() + probe.steps.step;
            }
            Step::Closed => {
                self.close(slot);
            }
            Step::Wait => {}
        }
    }

    /// The probe in `slot` ends with `verdict`: its socket is closed (a FIN, as when a
    /// tokio stream is dropped; closing also takes it out of the epoll set).
    fn end(&mut self, slot: usize, verdict: Result<Passed, Failure>) {
        if let Some(probe) = self.close(slot) {
            self.finished.push((probe.token, result(verdict)));
        }
    }

    /// Closes the socket of the probe in `slot` and frees its place.
    fn close(&mut self, slot: usize) -> Option<StreamProbe<T>> {
        let probe = self.probes.get_mut(slot).and_then(Option::take)?;
        self.free.push(slot);
        Some(probe)
    }
}

fn result(verdict: Result<Passed, Failure>) -> ProbeResult {
    match verdict {
        Ok(passed) => ProbeResult::Passed(passed),
        Err(failure) => ProbeResult::Failed(failure),
    }
}

impl<T> StreamProbe<T> {
    /// Goes as far as the readiness seen allows.
    fn advance(&mut self) -> Step {
        loop {
            let step = match &mut self.state {
                State::Connecting if self.writable => self.connected(),
                State::Sending { .. } if self.writable => self.send(),
                State::Receiving(_) if self.readable => self.receive(),
                State::Draining { .. } if self.readable => Some(self.drain()),
                _ => return Step::Wait,
            };
            match step {
                // The state moved on: try the next one with what readiness there is.
                None => continue,
                Some(step) => return step,
            }
        }
    }

    /// The connect has finished, one way or the other.
    fn connected(&mut self) -> Option<Step> {
        match self.stream.take_error() {
            Ok(Some(error)) | Err(error) => return Some(Step::Done(Err(connect_failure(error)))),
            Ok(None) => {}
        }
        // On Linux a connecting TCP socket is writable only once connected (tcp_poll
        // reports no EPOLLOUT in SYN_SENT) and a failed one has its error: no
        // getpeername() to rule out a spurious wake-up, as portable code would make.
        if matches!(self.check.spec.kind, CheckKind::Tcp) {
            return Some(Step::Done(Ok(Passed::Connected)));
        }
        self.state = State::Sending { written: 0 };
        self.deadline = self.steps.next();
        None
    }

    fn send(&mut self) -> Option<Step> {
        let State::Sending { written } = &mut self.state else {
            return Some(Step::Wait);
        };
        let request = self.check.request(self.url).unwrap_or_default();
        while *written < request.len() {
            match self.stream.write(&request[*written..]) {
                Ok(0) => {
                    return Some(Step::Done(Err(io_failure(
                        Phase::Request,
                        io::ErrorKind::WriteZero.into(),
                    ))))
                }
                Ok(n) => *written += n,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.writable = false;
                    return Some(Step::Wait);
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Some(Step::Done(Err(io_failure(Phase::Request, error)))),
            }
        }
        self.state = State::Receiving(ResponseState::default());
        self.deadline = self.steps.next();
        None
    }

    /// Reads until the verdict, the end of the stream or no more data for now.
    fn receive(&mut self) -> Option<Step> {
        let State::Receiving(state) = &mut self.state else {
            return Some(Step::Wait);
        };
        let (url, regex) = match self.check.url(self.url) {
            Ok(found) => found,
            Err(failure) => return Some(Step::Done(Err(failure))),
        };
        let mut response = ResponseCheck::resume(url, regex, std::mem::take(state));
        let step = loop {
            let read = crate::probe::with_read_buffer(|buffer| match self.stream.read(buffer) {
                Ok(0) => Ok(None),
                Ok(n) => Ok(Some(response.feed(&buffer[..n]))),
                Err(error) => Err(error),
            });
            match read {
                Ok(Some(Progress::Done(verdict))) => break Step::Judged(verdict),
                Ok(Some(Progress::More)) => {}
                Ok(None) => break Step::Done(response.end()),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                    // Data came: the next read has a step of its own.
                    self.deadline = self.steps.next();
                    break Step::Wait;
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => break Step::Done(Err(io_failure(Phase::Response, error))),
            }
        };
        *state = response.pause();
        Some(step)
    }

    /// Reads and drops what the server still sends after the verdict, up to its close
    /// ([`MAX_DRAIN`] at most). keepalived reads every response to the end of the stream;
    /// waiting for the server's FIN the same way leaves TIME_WAIT with the server, where
    /// keepalived leaves it, rather than with the balancer, whose kernel would otherwise
    /// keep (and at 2,000 probes a second overflow) a TIME_WAIT socket per probe.
    fn drain(&mut self) -> Step {
        let State::Draining { drained } = &mut self.state else {
            return Step::Wait;
        };
        loop {
            let read = crate::probe::with_read_buffer(|buffer| self.stream.read(buffer));
            match read {
                Ok(0) => return Step::Closed,
                Ok(n) => {
                    *drained += n;
                    if *drained > MAX_DRAIN {
                        return Step::Closed;
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                    return Step::Wait;
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Step::Closed,
            }
        }
    }
}

/// A non-blocking connect to the check's address, from `bindto` if given.
fn connect(check: &PreparedCheck) -> Result<TcpStream, Failure> {
    let spec = &check.spec;
    let socket = tcp_socket(spec.connect_to, spec.bindto)?;
    match socket.connect(&spec.connect_to.into()) {
        Ok(()) => {}
        Err(error) if error.raw_os_error() == Some(nix::libc::EINPROGRESS) => {}
        Err(error) => return Err(connect_failure(error)),
    }
    Ok(TcpStream::from_std(std::net::TcpStream::from(socket)))
}

fn io_failure(phase: Phase, error: io::Error) -> Failure {
    Failure::Io {
        phase,
        error: error.to_string(),
    }
}

/// The epoll token of a probe: its slot, and its serial so that a reused slot is not
/// mistaken for the probe before it.
fn token_of(slot: usize, serial: u32) -> Token {
    Token((slot << 32) | serial as usize)
}

fn slot_of(token: Token) -> (usize, u32) {
    (token.0 >> 32, token.0 as u32)
}

/// One probe alone, on an epoll set of its own (the probe tests compare it with
/// [`crate::Prober::run`]); it returns once the probe has closed its socket, as the
/// scheduler's do after their verdict.
pub async fn probe_once(check: &PreparedCheck, url: Option<usize>) -> ProbeResult {
    let mut streams = match Streams::new() {
        Ok(streams) => streams,
        Err(error) => return ProbeResult::Failed(Failure::Internal(format!("epoll: {error}"))),
    };
    streams.start(Arc::new(check.clone()), url, ());
    let mut finished = Vec::new();
    loop {
        streams.take_finished(&mut finished);
        if !finished.is_empty() && streams.is_empty() {
            return finished.swap_remove(0).1;
        }
        let wake = streams.next_deadline();
        tokio::select! {
            () = std::future::poll_fn(|cx| streams.poll_events(cx)) => {}
            () = tokio::time::sleep_until(wake.unwrap_or_else(Instant::now)), if wake.is_some() => {
                streams.expire(Instant::now());
            }
        }
    }
}
