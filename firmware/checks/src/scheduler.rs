//! Runs every checker of the balancer in one task: one heap of deadlines, one timer, at
//! most `max_in_flight` probes at a time, each probe a short tokio task. Health changes go
//! out on an mpsc channel; checks are added, changed and removed through a [`Handle`].
//!
//! One task and one heap rather than one sleeping task per real server: the idle cost is
//! one timer entry in total, and the bound on open sockets is in one place.
//!
//! A probe task hands its result back on an unbounded channel that the scheduler drains
//! in one turn, rather than through a `JoinSet`: at thousands of probes a second the set's
//! per-task bookkeeping (an entry, a lock, a map from task to checker) was a measurable
//! share of the balancer's user time. A panicking probe still reports, as a failure.
//!
//! Most probes are no tasks at all. TCP_CHECK and HTTP_GET probes are state machines on
//! an epoll set of the scheduler's own ([`Streams`]), polled in its task; only SSL_GET and
//! SMTP_CHECK probes are tasks. PING_CHECK, UDP_CHECK and DNS_CHECK probes go out on
//! shared sockets ([`Datagrams`]), whose receivers hand their results back on a channel.
//! Those hold no socket of their own, so `max_in_flight` does not count them; each
//! checker has at most one probe out, which bounds them.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::future::{poll_fn, Future};
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::checker::{Action, Checker, Event, Health, Transition};
use crate::datagram::{Datagrams, Started};

use crate::streams::Streams;

/// A finished probe: its checker's (slot, generation), and what it found.
type ProbeDone = ((usize, u64), ProbeResult);
use crate::outcome::{Failure, ProbeResult};
use crate::probe::{PreparedCheck, Prober};
use crate::random::Jitter;
use crate::spec::{CheckKind, CheckSpec, SpecError};

/// Probes in flight at once by default: sockets open at once, well under the usual
/// 1024-descriptor limit. A probe that finds every slot taken starts when one frees.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 512;
/// Commands queued toward the scheduler before [`Handle`] calls wait.
pub const COMMAND_QUEUE: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Probes (open sockets) at once. keepalived has no such bound; when every slot is
    /// taken, a due probe starts late, when one frees, rather than opening more sockets.
    pub max_in_flight: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
        }
    }
}

/// A health change of one checker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report<Id> {
    pub id: Id,
    pub health: Health,
    /// What was probed and what it found, e.g. `HTTP_GET 192.168.33.11:80/: HTTP status
    /// 503, expected 200-299 (4 attempts)`.
    pub reason: String,
    /// False when the first result only confirms the state the server started in.
    pub changed: bool,
}

enum Command<Id> {
    Set { id: Id, spec: Box<CheckSpec> },
    Remove { id: Id },
}

/// Adds, changes and removes checks of a running [`Scheduler`]; cheap to clone.
pub struct Handle<Id> {
    commands: mpsc::Sender<Command<Id>>,
    counters: Arc<Counters>,
}

impl<Id> Clone for Handle<Id> {
    fn clone(&self) -> Self {
        Handle {
            commands: self.commands.clone(),
            counters: self.counters.clone(),
        }
    }
}

/// What the scheduler is doing, for status pages and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub checkers: usize,
    pub in_flight: usize,
    /// Probes started since the scheduler was made.
    pub probes_started: u64,
}

#[derive(Debug, Default)]
struct Counters {
    checkers: AtomicUsize,
    in_flight: AtomicUsize,
    probes_started: AtomicU64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandleError {
    Invalid(SpecError),
    /// The scheduler has stopped.
    Stopped,
}

impl fmt::Display for HandleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandleError::Invalid(error) => write!(f, "invalid check: {error}"),
            HandleError::Stopped => f.write_str("the health-check scheduler has stopped"),
        }
    }
}

impl std::error::Error for HandleError {}

impl<Id> Handle<Id> {
    /// Starts checking `id` with `spec`, or changes its check.
    ///
    /// A new check starts up (down with `alpha`) and is reported only when that changes.
    /// Setting the same spec again changes nothing; a different spec restarts the checker
    /// from its current health (one failure takes it down, one full pass brings it up).
    pub async fn set(&self, id: Id, spec: CheckSpec) -> Result<(), HandleError> {
        spec.validate().map_err(HandleError::Invalid)?;
        self.commands
            .send(Command::Set {
                id,
                spec: Box::new(spec),
            })
            .await
            .map_err(|_| HandleError::Stopped)
    }

    pub fn stats(&self) -> Stats {
        Stats {
            checkers: self.counters.checkers.load(Ordering::Relaxed),
            in_flight: self.counters.in_flight.load(Ordering::Relaxed),
            probes_started: self.counters.probes_started.load(Ordering::Relaxed),
        }
    }

    /// Stops checking `id`; a probe still out is forgotten.
    pub async fn remove(&self, id: Id) -> Result<(), HandleError> {
        self.commands
            .send(Command::Remove { id })
            .await
            .map_err(|_| HandleError::Stopped)
    }
}

struct Entry<Id> {
    id: Id,
    check: Arc<PreparedCheck>,
    checker: Checker,
    /// Unique per (re)start of a checker: stale deadlines and results carry an old one.
    generation: u64,
    /// The datagram probe out now, if any.
    datagram: Option<Started>,
}

/// A deadline in the heap: (when, slot, generation), earliest first.
type Deadline = Reverse<(Instant, usize, u64)>;

/// The checkers and the probes in flight. Build with [`Scheduler::new`], run with
/// [`Scheduler::run`].
pub struct Scheduler<Id> {
    limits: Limits,
    commands: mpsc::Receiver<Command<Id>>,
    slots: Vec<Option<Entry<Id>>>,
    free: Vec<usize>,
    by_id: HashMap<Id, usize>,
    deadlines: BinaryHeap<Deadline>,
    /// Probe tasks started whose result has not come back yet (stale ones included: their
    /// sockets are still open).
    in_flight: usize,
    done_tx: mpsc::UnboundedSender<ProbeDone>,
    done_rx: mpsc::UnboundedReceiver<ProbeDone>,
    /// TCP_CHECK and HTTP_GET probes; made when the scheduler runs (it registers with the
    /// runtime). Without it (no epoll set to be had) they run as tasks.
    streams: Option<Streams<(usize, u64)>>,
    datagrams: Datagrams<(usize, u64)>,
    datagrams_rx: mpsc::UnboundedReceiver<ProbeDone>,
    /// Datagram probes started whose result has not come back, nor been forgotten.
    datagrams_in_flight: usize,
    next_generation: u64,
    jitter: Jitter,
    prober: Prober,
    counters: Arc<Counters>,
}

impl<Id> Scheduler<Id>
where
    Id: Clone + Eq + Hash + Send + 'static,
{
    pub fn new(limits: Limits) -> (Self, Handle<Id>) {
        let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
        let counters = Arc::new(Counters::default());
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let (datagrams_tx, datagrams_rx) = mpsc::unbounded_channel();
        let scheduler = Scheduler {
            limits: Limits {
                max_in_flight: limits.max_in_flight.max(1),
            },
            commands: rx,
            slots: Vec::new(),
            free: Vec::new(),
            by_id: HashMap::new(),
            deadlines: BinaryHeap::new(),
            in_flight: 0,
            done_tx,
            done_rx,
            streams: None,
            datagrams: Datagrams::new(datagrams_tx),
            datagrams_rx,
            datagrams_in_flight: 0,
            next_generation: 0,
            jitter: Jitter::new(),
            prober: Prober::new(),
            counters: counters.clone(),
        };
        let handle = Handle {
            commands: tx,
            counters,
        };
        (scheduler, handle)
    }

    /// Checks until every [`Handle`] is dropped or `reports` is closed.
    ///
    /// Each report is sent with `send().await`: a receiver that does not keep up holds the
    /// checking back rather than losing a health change. Changes are rare (two per server
    /// outage), so a queue of a few dozen is plenty.
    pub async fn run(mut self, reports: mpsc::Sender<Report<Id>>) {
        let epoch = Instant::now();
        let sleep = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(sleep);
        self.streams = Streams::new().ok();
        let mut finished = Vec::new();
        let mut datagrams_finished = Vec::new();
        loop {
            let now = Instant::now();
            // Timeouts and resends first: their results are there for this turn.
            self.datagrams.expire(now);
            self.datagrams.flush();
            if let Some(streams) = &mut self.streams {
                streams.expire(now);
            }
            self.start_due_probes(now);
            self.publish_counts();
            let next_probe = if self.in_flight < self.limits.max_in_flight {
                self.deadlines.peek().map(|Reverse((due, _, _))| *due)
            } else {
                None
            };
            let wake = [
                next_probe,
                self.datagrams.next_wake(),
                self.streams.as_ref().and_then(Streams::next_deadline),
            ]
            .into_iter()
            .flatten()
            .min()
            .map(|due| wake_tick(due, epoch));
            if let Some(due) = wake {
                if sleep.deadline() != due {
                    sleep.as_mut().reset(due);
                }
            }
            let streams = &mut self.streams;
            tokio::select! {
                // Every probe that has finished is taken in this one turn: thousands
                // finish each second, and a turn of the select costs more than one.
                // The scheduler holds a sender itself, so the channel never closes.
                _ = self.done_rx.recv_many(&mut finished, usize::MAX) => {
                    self.in_flight = self.in_flight.saturating_sub(finished.len());
                }
                () = poll_fn(|cx| match streams {
                    Some(streams) => streams.poll_events(cx),
                    None => Poll::Pending,
                }) => {
                    if let Some(streams) = &mut self.streams {
                        let before = finished.len();
                        streams.take_finished(&mut finished);
                        self.in_flight = self.in_flight.saturating_sub(finished.len() - before);
                    }
                }
                _ = self.datagrams_rx.recv_many(&mut datagrams_finished, usize::MAX) => {
                    self.datagrams_in_flight =
                        self.datagrams_in_flight.saturating_sub(datagrams_finished.len());
                }
                command = self.commands.recv() => match command {
                    Some(Command::Set { id, spec }) => self.set(id, spec),
                    Some(Command::Remove { id }) => self.remove(&id),
                    None => return,
                },
                () = &mut sleep, if wake.is_some() => {}
            }
            for ((slot, generation), result) in
                finished.drain(..).chain(datagrams_finished.drain(..))
            {
                if let Some(report) = self.finish_probe(slot, generation, result) {
                    if reports.send(report).await.is_err() {
                        return;
                    }
                }
            }
        }
    }

    fn start_due_probes(&mut self, now: Instant) {
        loop {
            let Some(Reverse((due, slot, generation))) = self.deadlines.peek().copied() else {
                return;
            };
            if due > now {
                return;
            }
            let saturated = self.in_flight >= self.limits.max_in_flight;
            let Some(datagram) = self
                .live_entry(slot, generation)
                .map(|entry| entry.check.spec.kind.is_datagram())
            else {
                self.deadlines.pop();
                continue;
            };
            if saturated && !datagram {
                // Starts when a probe task ends; the deadlines behind it wait too.
                return;
            }
            self.deadlines.pop();
            let Some(entry) = self.live_entry(slot, generation) else {
                continue;
            };
            let Some(Action::Probe(probe)) = entry.checker.on_event(Event::Timer, now.into_std())
            else {
                continue;
            };
            let check = entry.check.clone();
            self.counters.probes_started.fetch_add(1, Ordering::Relaxed);
            if datagram {
                let started = self.datagrams.start(check, (slot, generation));
                if let Some(entry) = self.live_entry(slot, generation) {
                    entry.datagram = Some(started);
                }
                self.datagrams_in_flight += 1;
                continue;
            }
            self.in_flight += 1;
            let on_streams = match &check.spec.kind {
                CheckKind::Tcp => true,
                CheckKind::Http(http) => !http.tls,
                _ => false,
            };
            if let (true, Some(streams)) = (on_streams, &mut self.streams) {
                streams.start(check, probe.url, (slot, generation));
                continue;
            }
            let prober = self.prober.clone();
            let answer = Answer {
                to: Some(self.done_tx.clone()),
                slot,
                generation,
            };
            spawn_probe(
                async move { prober.run_prepared(&check, probe.url).await },
                answer,
            );
        }
    }

    fn publish_counts(&self) {
        let counters = &self.counters;
        counters.checkers.store(self.by_id.len(), Ordering::Relaxed);
        counters
            .in_flight
            .store(self.in_flight + self.datagrams_in_flight, Ordering::Relaxed);
    }

    fn finish_probe(
        &mut self,
        slot: usize,
        generation: u64,
        result: ProbeResult,
    ) -> Option<Report<Id>> {
        let now = Instant::now();
        let entry = self.live_entry(slot, generation)?;
        // Its probe is over, whichever way it ran.
        entry.datagram = None;
        let action = entry
            .checker
            .on_event(Event::Probed(result), now.into_std());
        let deadline = entry.checker.next_deadline().map(Instant::from_std);
        let report = match action {
            Some(Action::Report(transition)) => Some(Report {
                id: entry.id.clone(),
                health: transition.health,
                reason: describe(&entry.check.spec, &transition),
                changed: transition.changed,
            }),
            _ => None,
        };
        if let Some(due) = deadline {
            self.deadlines.push(Reverse((due, slot, generation)));
        }
        report
    }

    fn live_entry(&mut self, slot: usize, generation: u64) -> Option<&mut Entry<Id>> {
        self.slots
            .get_mut(slot)?
            .as_mut()
            .filter(|entry| entry.generation == generation)
    }

    fn set(&mut self, id: Id, spec: Box<CheckSpec>) {
        if spec.validate().is_err() {
            // Handle::set refuses these before they get here.
            return;
        }
        let now = Instant::now().into_std();
        let random = self.jitter.next_u32();
        let generation = self.next_generation;
        self.next_generation += 1;
        let slot = match self.by_id.get(&id) {
            Some(&slot) => {
                let Some(old) = self.slots[slot].as_ref() else {
                    return;
                };
                if old.check.spec == *spec {
                    return;
                }
                let checker = Checker::resume(&spec, now, random, old.checker.health());
                self.forget_datagram(slot);
                self.slots[slot] = Some(Entry {
                    id,
                    check: Arc::new(PreparedCheck::new(*spec)),
                    checker,
                    generation,
                    datagram: None,
                });
                slot
            }
            None => {
                let entry = Entry {
                    id: id.clone(),
                    checker: Checker::new(&spec, now, random),
                    check: Arc::new(PreparedCheck::new(*spec)),
                    generation,
                    datagram: None,
                };
                let slot = match self.free.pop() {
                    Some(slot) => {
                        self.slots[slot] = Some(entry);
                        slot
                    }
                    None => {
                        self.slots.push(Some(entry));
                        self.slots.len() - 1
                    }
                };
                self.by_id.insert(id, slot);
                slot
            }
        };
        if let Some(entry) = &self.slots[slot] {
            if let Some(due) = entry.checker.next_deadline() {
                self.deadlines
                    .push(Reverse((Instant::from_std(due), slot, generation)));
            }
        }
    }

    fn remove(&mut self, id: &Id) {
        if let Some(slot) = self.by_id.remove(id) {
            // Its heap entry and any probe task's result are now stale and will be skipped.
            self.forget_datagram(slot);
            self.slots[slot] = None;
            self.free.push(slot);
        }
    }

    /// A datagram probe of the checker in `slot` that is still out is dropped: its
    /// checker is going, and nothing else would end it.
    fn forget_datagram(&mut self, slot: usize) {
        let started = self
            .slots
            .get_mut(slot)
            .and_then(Option::as_mut)
            .and_then(|entry| entry.datagram.take());
        if let Some(started) = started {
            if self.datagrams.forget(started) {
                self.datagrams_in_flight = self.datagrams_in_flight.saturating_sub(1);
            }
        }
    }
}

/// The scheduler wakes on ticks of this length: the probes due within one tick start
/// together, at its end, rather than each on a wake-up of its own. At 2,000 servers with
/// `delay_loop 1` that is 100 wake-ups a second instead of up to 2,000; a probe starts at
/// most this late, which keepalived's timings (seconds) do not notice.
pub const WAKE_TICK: Duration = Duration::from_millis(10);

/// The end of the [`WAKE_TICK`] (counted from `epoch`) in which `due` falls.
fn wake_tick(due: Instant, epoch: Instant) -> Instant {
    let tick = WAKE_TICK.as_nanos();
    let since = due.saturating_duration_since(epoch).as_nanos();
    let ticks = since.div_ceil(tick);
    epoch + Duration::from_nanos(u64::try_from(ticks * tick).unwrap_or(u64::MAX))
}

/// Runs `probe` as a task of its own and hands its result to `answer`.
fn spawn_probe<F>(probe: F, mut answer: Answer)
where
    F: Future<Output = ProbeResult> + Send + 'static,
{
    tokio::spawn(async move {
        let result = probe.await;
        answer.send(result);
    });
}

/// Where a probe task sends its result. Dropped without a result (the probe panicked, or
/// its task was cancelled), it sends a failure, so that the checker does not wait for
/// ever and the probe's place under `max_in_flight` is given back.
struct Answer {
    to: Option<mpsc::UnboundedSender<ProbeDone>>,
    slot: usize,
    generation: u64,
}

impl Answer {
    fn send(&mut self, result: ProbeResult) {
        if let Some(to) = self.to.take() {
            // A scheduler that has stopped no longer wants it.
            let _ = to.send(((self.slot, self.generation), result));
        }
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        if self.to.is_some() {
            let failure = Failure::Internal("the probe task ended without a result".into());
            self.send(ProbeResult::Failed(failure));
        }
    }
}

/// `HTTP_GET 192.168.33.11:80/health: <cause>`, `TCP_CHECK 192.168.33.11:80: <cause>`,
/// `PING_CHECK 192.168.33.11: <cause>`.
fn describe(spec: &CheckSpec, transition: &Transition) -> String {
    let path = match (&spec.kind, transition.url) {
        (CheckKind::Http(http), Some(index)) => http
            .urls
            .get(index)
            .map(|url| url.path.as_str())
            .unwrap_or(""),
        _ => "",
    };
    let target = match spec.kind {
        // No port to name.
        CheckKind::Ping => spec.connect_to.ip().to_string(),
        _ => spec.connect_to.to_string(),
    };
    format!("{} {target}{path}: {}", spec.kind_name(), transition.cause)
}

#[cfg(test)]
mod tests;
