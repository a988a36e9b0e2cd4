//! Route health injection: one task beside the VRRP tasks owns a `bgp_peer` per
//! neighbor of the `bgp` block and tells each which prefixes to announce — those this
//! box is ready to serve ([`plan::judge`]), from the real servers' health (the watch the
//! LVS task publishes) and what the balancer says of the box (in service, links, drain).
//!
//! ```text
//!  Balancer ── mpsc Msg (Configure, Serving, Links, Drain, Stop) ──► bgp task
//!  lvs task ── watch health ─────────────────────────────────────────►   │
//!                          mpsc Command (Announce, Withdraw, Stop)  ◄────┤ one per neighbor
//!                          watch PeerStatus ─────────────────────────►   │
//!                                  status file (show bgp, the page) ◄────┘
//! ```
//!
//! A withdraw is graceful (RFC 8326): the session re-announces the route with the
//! GRACEFUL_SHUTDOWN community and withdraws it `graceful_shutdown_time` later. On
//! [`Msg::Stop`] (SIGTERM: power-off, reboot) every prefix is withdrawn so, and the
//! sessions end with a Cease once the wait is over.

pub mod plan;
pub mod status;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bgp::Prefix;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::bfd_link;
use crate::bgp_peer::{self, Command, Peer, PeerStatus};
use crate::lvs::ServerHealth;
use plan::{PeerSpec, Plan};

/// The most the stop waits for graceful shutdown: PID 1 gives the balancer 5 s.
pub const STOP_WAIT: Duration = Duration::from_secs(4);
/// How long the sessions get, together, to send their Cease and close.
const PEER_STOP_WAIT: Duration = Duration::from_millis(500);
/// How often the status file is brought up to date with the sessions.
const STATUS_EVERY: Duration = Duration::from_secs(1);
/// How long a BGP session is up before its BFD session starts.
const BFD_AFTER: Duration = Duration::from_secs(1);
/// Commands waiting for one peer task (it takes them as fast as they come).
const PEER_QUEUE: usize = 64;

pub enum Msg {
    /// The configuration's plan; `None`: no `bgp` block (every session ends).
    Configure(Option<Plan>),
    /// keepalived.conf's virtual servers are in service.
    Serving(bool),
    /// Whether the links are up, as the caller knows it (`lvsfw run` on a host: yes).
    Links(bool),
    /// Links the task looks at itself every second (the appliance: ext and int), up
    /// meaning administratively up with a carrier, as keepalived's track_interface.
    WatchLinks(Vec<String>),
    Drain(bool),
    /// Withdraw everything gracefully, end the sessions, then answer.
    Stop(oneshot::Sender<()>),
}

/// The balancer's end of the task.
pub struct Handle {
    tx: mpsc::Sender<Msg>,
}

impl Handle {
    /// Starts the task; it writes its status to `status_path`.
    pub fn start(health: watch::Receiver<Arc<Vec<ServerHealth>>>, status_path: PathBuf) -> Handle {
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(run(rx, health, status_path));
        Handle { tx }
    }

    pub async fn send(&self, msg: Msg) {
        let _ = self.tx.send(msg).await;
    }

    /// Graceful shutdown of every session; returns when they have ended (at most
    /// [`STOP_WAIT`] and a little).
    pub async fn stop(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Stop(done)).await.is_ok() {
            let _ = tokio::time::timeout(STOP_WAIT + Duration::from_secs(1), wait).await;
        }
    }
}

struct Running {
    spec: PeerSpec,
    commands: mpsc::Sender<Command>,
    status: watch::Receiver<PeerStatus>,
    task: JoinHandle<()>,
    /// What this peer was told to announce.
    wanted: BTreeSet<Prefix>,
    /// Its BFD session was started (once the BGP session had been up a moment).
    bfd_started: bool,
}

struct Task {
    plan: Option<Plan>,
    peers: BTreeMap<IpAddr, Running>,
    state: plan::Box,
    health: watch::Receiver<Arc<Vec<ServerHealth>>>,
    judged: Vec<(Prefix, bool, String)>,
    /// The links of [`Msg::WatchLinks`] and the probe that reads them.
    watch: Vec<String>,
    probe: Option<netif::link_probe::LinkProbe>,
    status_path: PathBuf,
    written: Option<::status::bgp::BgpStatus>,
    /// The BFD sessions' task, started with the first neighbor that has `bfd`.
    bfd: Option<bfd_link::Handle>,
}

async fn run(
    mut rx: mpsc::Receiver<Msg>,
    health: watch::Receiver<Arc<Vec<ServerHealth>>>,
    status_path: PathBuf,
) {
    let mut t = Task {
        plan: None,
        peers: BTreeMap::new(),
        // Nothing is known at the start: nothing is announced until the balancer says.
        state: plan::Box {
            serving: false,
            links_up: false,
            drained: false,
        },
        health,
        judged: Vec::new(),
        watch: Vec::new(),
        probe: None,
        status_path,
        written: None,
        bfd: None,
    };
    let mut tick = tokio::time::interval(STATUS_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(Msg::Configure(plan)) => t.configure(plan).await,
                Some(Msg::Serving(on)) => t.state.serving = on,
                Some(Msg::Links(up)) => t.state.links_up = up,
                Some(Msg::WatchLinks(names)) => {
                    if t.probe.is_none() {
                        t.probe = netif::link_probe::LinkProbe::new()
                            .map_err(|e| log::error!("BGP: cannot look at the links: {e}"))
                            .ok();
                    }
                    t.watch = names;
                    t.look_at_links();
                }
                Some(Msg::Drain(on)) => {
                    if on != t.state.drained {
                        log::warn!("BGP: {}", if on { "drained: every prefix withdrawn, existing flows still served" } else { "drain ended: prefixes announced again as they are ready" });
                    }
                    t.state.drained = on;
                }
                Some(Msg::Stop(done)) => {
                    t.stop().await;
                    let _ = done.send(());
                    return;
                }
                None => {
                    t.stop().await;
                    return;
                }
            },
            Ok(()) = t.health.changed() => {}
            _ = tick.tick() => {
                t.start_bfd().await;
                if !t.look_at_links() {
                    t.write_status();
                    continue;
                }
            }
        }
        t.announce().await;
        t.write_status();
    }
}

impl Task {
    /// Sessions that are gone or changed end; new ones start. An unchanged one keeps
    /// its session and its routes.
    async fn configure(&mut self, plan: Option<Plan>) {
        let running: BTreeMap<IpAddr, &PeerSpec> =
            self.peers.iter().map(|(a, r)| (*a, &r.spec)).collect();
        let wanted = plan.as_ref().map_or(&[][..], |p| p.peers.as_slice());
        let (gone, specs) = plan::changes(&running, wanted);
        for address in gone {
            if let Some(r) = self.peers.remove(&address) {
                log::info!("BGP neighbor {address}: removed or changed; its session ends");
                let _ = r.commands.send(Command::Stop).await;
                if let (Some(_), Some(b)) = (&r.spec.bfd, &self.bfd) {
                    b.remove(address).await;
                }
            }
        }
        for spec in specs {
            let address = spec.address;
            let (commands, rx) = mpsc::channel(PEER_QUEUE);
            let (status_tx, status) = watch::channel(PeerStatus::new());
            let bfd = match spec.bfd {
                Some(settings) => {
                    let link = self.bfd.get_or_insert_with(bfd_link::Handle::start);
                    let bfd_spec = bfd_link::Spec {
                        peer: address,
                        local: spec.local,
                        settings,
                    };
                    Some(link.add(bfd_spec).await)
                }
                None => None,
            };
            let peer = Peer {
                address,
                port: spec.port,
                local: Some(spec.local),
                settings: spec.settings.clone(),
                password: spec.password.clone(),
                bfd,
            };
            let task = tokio::spawn(bgp_peer::run(peer, rx, status_tx));
            self.peers.insert(
                address,
                Running {
                    spec,
                    commands,
                    status,
                    task,
                    wanted: BTreeSet::new(),
                    bfd_started: false,
                },
            );
        }
        self.plan = plan;
    }

    /// Starts the BFD session of each peer whose BGP session has been Established for
    /// [`BFD_AFTER`]: see [`bfd_link::Handle::start_session`] for why not before.
    async fn start_bfd(&mut self) {
        let Some(link) = &self.bfd else {
            return;
        };
        let now = std::time::SystemTime::now();
        for (address, r) in &mut self.peers {
            if r.bfd_started || r.spec.bfd.is_none() {
                continue;
            }
            let up_for = r
                .status
                .borrow()
                .established_since
                .and_then(|t| now.duration_since(t).ok());
            if up_for.is_some_and(|d| d >= BFD_AFTER) {
                link.start_session(*address).await;
                r.bfd_started = true;
            }
        }
    }

    /// The watched links read again; true when whether they are all up changed.
    fn look_at_links(&mut self) -> bool {
        if self.watch.is_empty() {
            return false;
        }
        let up = self
            .probe
            .as_ref()
            .is_some_and(|p| self.watch.iter().all(|name| p.is_up(name)));
        if up == self.state.links_up {
            return false;
        }
        if !up {
            log::warn!(
                "BGP: {} not all up: nothing is announced",
                self.watch.join(" and ")
            );
        }
        self.state.links_up = up;
        true
    }

    /// Judges every prefix and tells each peer what changed.
    async fn announce(&mut self) {
        let Some(plan) = &self.plan else {
            self.judged.clear();
            return;
        };
        let health = self.health.borrow().clone();
        let judged = plan::judge(&plan.announce, plan.quorum, &health, self.state);
        for (p, ready, why) in &judged {
            let was = self.judged.iter().find(|(q, ..)| q == p).map(|j| j.1);
            if was != Some(*ready) && (was.is_some() || *ready) {
                log::info!(
                    "BGP {p}: {} ({why})",
                    if *ready { "announced" } else { "withdrawn" }
                );
            }
        }
        let ready: BTreeSet<Prefix> = judged.iter().filter(|j| j.1).map(|j| j.0).collect();
        self.judged = judged;
        for r in self.peers.values_mut() {
            send_changes(r, &ready).await;
        }
    }

    async fn stop(&mut self) {
        let wait = self.plan.as_ref().map_or(Duration::ZERO, |p| p.graceful);
        let mut any = false;
        for r in self.peers.values_mut() {
            any |= !r.wanted.is_empty();
            send_changes(r, &BTreeSet::new()).await;
        }
        if any && !wait.is_zero() {
            if wait > STOP_WAIT {
                log::warn!(
                    "BGP: graceful_shutdown_time {} s is cut to {} s at stop",
                    wait.as_secs_f64(),
                    STOP_WAIT.as_secs()
                );
            }
            log::info!("BGP: every prefix withdrawn with graceful shutdown (RFC 8326)");
            // A little more than the session's own wait, so that its withdraw goes out
            // before the Cease.
            tokio::time::sleep(wait.min(STOP_WAIT) + Duration::from_millis(100)).await;
        }
        // Every session is told at once and waited for together: with 16 neighbors the
        // stop still fits in PID 1's grace.
        let peers = std::mem::take(&mut self.peers);
        for r in peers.values() {
            let _ = r.commands.send(Command::Stop).await;
        }
        // The routers are told the BFD sessions end on purpose (AdminDown).
        if let Some(b) = &self.bfd {
            for (address, r) in &peers {
                if r.spec.bfd.is_some() {
                    b.remove(*address).await;
                }
            }
        }
        let deadline = tokio::time::Instant::now() + PEER_STOP_WAIT;
        for (_, r) in peers {
            let _ = tokio::time::timeout_at(deadline, r.task).await;
        }
        let _ = std::fs::remove_file(&self.status_path);
    }

    fn write_status(&mut self) {
        let Some(plan) = &self.plan else {
            if self.written.take().is_some() {
                let _ = std::fs::remove_file(&self.status_path);
            }
            return;
        };
        let peers: Vec<(&PeerSpec, PeerStatus)> = self
            .peers
            .values()
            .map(|r| (&r.spec, r.status.borrow().clone()))
            .collect();
        let now = status::snapshot(plan, &peers, &self.judged, self.state.drained);
        if self.written.as_ref() != Some(&now) {
            if let Err(e) = status::write(&self.status_path, &now) {
                log::warn!("{}: {e}", self.status_path.display());
            }
            self.written = Some(now);
        }
    }
}

async fn send_changes(r: &mut Running, ready: &BTreeSet<Prefix>) {
    for p in ready.difference(&r.wanted) {
        let _ = r.commands.send(Command::Announce(*p)).await;
    }
    for p in r.wanted.difference(ready) {
        let _ = r.commands.send(Command::Withdraw(*p)).await;
    }
    r.wanted.clone_from(ready);
}
