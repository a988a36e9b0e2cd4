//! One sync group (or lone instance) on the wire: the pure [`SyncGroup`] of the `vrrp`
//! crate, fed by its members' sockets, their timers, their tracked links and
//! vrrp_scripts, with its actions carried out on the kernel.

use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use netif::announce::Announcer;
use netif::kernel::Kernel;
use netif::link_probe::LinkProbe;
use netif::vmac::Vmac;
use netif::vrrp_socket::{Endpoint, Received, VrrpSocket};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use vrrp::packet::Version;
use vrrp::{Action, Event, Instance, State, SyncGroup};

use super::board::Board;
use super::pacer::Pacer;
use super::scripts::Scripts;
use super::spec::{AutoPriority, GroupSpec, MemberSpec};
use super::status::{self, VrrpState};
use super::timer::Deadline;
use super::tracking::{Object, Reading, Tracking};

mod announce;
mod receive;
mod routes;
mod wire;

/// How often tracked links are looked at. keepalived learns of a link change from
/// netlink at once; 100 ms of polling is well inside one advert interval.
const LINK_POLL: Duration = Duration::from_millis(100);
/// Counters reach the status file at most this often; state changes at once.
const STATUS_EVERY: Duration = Duration::from_secs(1);
/// Received packets waiting for the group task.
const RECEIVE_QUEUE: usize = 256;
/// vrrp_script readings waiting for the group task (they change rarely).
const SCRIPT_QUEUE: usize = 64;
/// Where the macvlans' settings live.
const PROC_SYS: &str = "/proc/sys";

/// When this process started its first VRRP group: keepalived's vrrp_startup_delay
/// counts from the daemon's start, not from a reload.
fn process_start() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

struct Member {
    spec: MemberSpec,
    socket: Arc<VrrpSocket>,
    announcers: Vec<(u32, Announcer)>,
    second_garp_at: Option<Instant>,
    refresh_at: Option<Instant>,
    lower_prio_garp_at: Option<Instant>,
    tracking: Tracking,
    /// What the state machine was last told: in FAULT by tracking, and the priority.
    faulted: bool,
    priority: u8,
    ip_id: u16,
    /// The last advert could not be sent (said once until one is sent again).
    send_failing: bool,
}

pub struct GroupTask {
    name: Option<String>,
    group: SyncGroup,
    members: Vec<Member>,
    kernel: Kernel,
    probe: LinkProbe,
    board: Arc<Board>,
    /// Each member's state and master as last written: a change is written at once.
    published: Vec<(State, Option<IpAddr>, u8)>,
    pacer: Pacer,
    /// The macvlans this group made (keepalived's use_vmac), removed when it stops.
    vmacs: Vec<Vmac>,
    scripts: mpsc::Receiver<(String, Reading)>,
    forwarders: Vec<JoinHandle<()>>,
    startup_delay: Duration,
    auto_priority: Option<AutoPriority>,
}

impl GroupTask {
    /// Makes the group's macvlans, opens its sockets and follows its vrrp_scripts; on
    /// failure nothing it made stays.
    pub async fn open(
        spec: GroupSpec,
        kernel: Kernel,
        board: Arc<Board>,
        scripts: &Scripts,
    ) -> std::io::Result<GroupTask> {
        let mut vmacs = Vec::new();
        let opened = Self::open_members(spec.members, &kernel, scripts, &mut vmacs).await;
        let members = match opened {
            Ok(members) => members,
            Err(e) => {
                for vmac in &vmacs {
                    let _ = kernel.remove_vmac(vmac, Path::new(PROC_SYS)).await;
                }
                return Err(e);
            }
        };
        let (tx, rx) = mpsc::channel(SCRIPT_QUEUE);
        let mut forwarders = Vec::new();
        let mut followed: Vec<&str> = Vec::new();
        for m in &members {
            for t in m.tracking.tracked() {
                let Object::Script(name) = &t.object else {
                    continue;
                };
                if followed.contains(&name.as_str()) {
                    continue;
                }
                followed.push(name);
                if let Some(readings) = scripts.subscribe(name) {
                    forwarders.push(tokio::spawn(forward(name.clone(), readings, tx.clone())));
                }
            }
        }
        let instances = members
            .iter()
            .map(|m| Instance::new(m.spec.settings.clone()))
            .collect();
        let pacer = members
            .first()
            .map_or(Pacer::new(Duration::ZERO, Duration::ZERO), |m| {
                Pacer::new(m.spec.garp.interval, m.spec.garp.na_interval)
            });
        Ok(GroupTask {
            name: spec.name,
            group: SyncGroup::new(instances),
            members,
            kernel,
            probe: LinkProbe::new()?,
            board,
            published: Vec::new(),
            pacer,
            vmacs,
            scripts: rx,
            forwarders,
            startup_delay: spec.startup_delay,
            auto_priority: spec.auto_priority,
        })
    }

    async fn open_members(
        specs: Vec<MemberSpec>,
        kernel: &Kernel,
        scripts: &Scripts,
        made: &mut Vec<Vmac>,
    ) -> std::io::Result<Vec<Member>> {
        let mut members = Vec::new();
        for mut m in specs {
            let mut indices = Vec::new();
            for vmac in &m.vmacs {
                let index = kernel
                    .ensure_vmac(vmac, Path::new(PROC_SYS))
                    .await
                    .map_err(|e| context(e, format!("{}: use_vmac", m.name)))?;
                made.push(vmac.clone());
                indices.push(index);
            }
            for vip in &mut m.vips {
                if let Some(n) = vip.vmac {
                    vip.ifindex = indices[n];
                    vip.ifname = m.vmacs[n].name.clone();
                }
            }
            // keepalived sends through the macvlan unless vmac_xmit_base.
            let (ifname, ifindex) = match (m.vmacs.first(), m.xmit_base) {
                (Some(vmac), false) => (vmac.name.clone(), indices[0]),
                _ => (m.ifname.clone(), m.ifindex),
            };
            let socket = VrrpSocket::open_with(&Endpoint {
                ifname: &ifname,
                ifindex,
                local: m.settings.primary_ip,
                group: m.group,
                ah: m.ah_key.is_some(),
                unicast_ttl: m.unicast_ttl,
            })
            .map_err(|e| context(e, format!("{}: VRRP socket on {ifname}", m.name)))?;
            let mut announcers: Vec<(u32, Announcer)> = Vec::new();
            for vip in &m.vips {
                if announcers.iter().any(|(index, _)| *index == vip.ifindex) {
                    continue;
                }
                let announcer = Announcer::open(&vip.ifname, vip.ifindex)
                    .map_err(|e| context(e, format!("{}: announcer on {}", m.name, vip.ifname)))?;
                announcers.push((vip.ifindex, announcer));
            }
            let mut tracking = Tracking::new(m.settings.priority, m.track.clone(), m.fault.clone());
            for t in m.track.iter() {
                if let Object::Script(name) = &t.object {
                    if let Some(readings) = scripts.subscribe(name) {
                        let now = *readings.borrow();
                        tracking.set(&t.object, now);
                    }
                }
            }
            for warning in &m.warnings {
                log::warn!("{}: {warning}", m.name);
            }
            members.push(Member {
                socket: Arc::new(socket),
                announcers,
                second_garp_at: None,
                refresh_at: None,
                lower_prio_garp_at: None,
                priority: m.settings.priority,
                faulted: false,
                tracking,
                ip_id: 0,
                send_failing: false,
                spec: m,
            });
        }
        Ok(members)
    }

    /// Runs until `stop` changes, then leaves as RFC 5798 §6.4.3 asks: priority 0 from
    /// every master, virtual addresses removed, and the macvlans it made with them.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let (packets_tx, mut packets) = mpsc::channel::<(usize, Received)>(RECEIVE_QUEUE);
        let mut readers = Vec::new();
        for (i, m) in self.members.iter().enumerate() {
            let socket = m.socket.clone();
            let tx = packets_tx.clone();
            let name = m.spec.name.clone();
            readers.push(tokio::spawn(async move {
                loop {
                    match socket.recv().await {
                        Ok(packet) => {
                            if tx.send((i, packet)).await.is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            log::error!("{name}: receiving: {e}");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
            }));
        }
        // A balancer that crashed as master left its VIPs behind; a new one starts as
        // backup and must not hold them.
        for i in 0..self.members.len() {
            self.remove_routes(i).await;
            self.remove_addresses(i).await;
        }
        let now = Instant::now();
        for i in 0..self.members.len() {
            self.read_links(i);
            // The priority tracking gives, before the instance starts (keepalived's
            // initialise_tracking_priorities).
            let m = &mut self.members[i];
            let priority = m.tracking.priority();
            if priority != m.priority {
                m.priority = priority;
                log::info!("{}: effective priority {priority}", m.spec.name);
                self.group.handle(i, Event::Priority(priority), now);
            }
        }
        let until = process_start() + self.startup_delay;
        if !self.startup_delay.is_zero() && until > now {
            log::info!(
                "VRRP: no takeover for {} ms (vrrp_startup_delay)",
                (until - now).as_millis()
            );
            self.group.delay_start(until);
        }
        let actions = self.group.start(now);
        self.carry_out(actions).await;
        for i in 0..self.members.len() {
            self.retrack(i).await;
        }
        self.publish();
        let mut links = tokio::time::interval(LINK_POLL);
        let mut publish = tokio::time::interval(STATUS_EVERY);
        let timer = match Deadline::new() {
            Ok(timer) => Some(timer),
            Err(e) => {
                log::warn!("timerfd: {e}; VRRP timers use tokio's (1 ms ticks)");
                None
            }
        };
        loop {
            let deadline = self.next_deadline();
            let sleep = async {
                match (deadline, &timer) {
                    (Some(at), Some(timer)) => {
                        if let Err(e) = timer.until(at).await {
                            log::warn!("timerfd: {e}");
                            tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await
                        }
                    }
                    (Some(at), None) => {
                        tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await
                    }
                    (None, _) => std::future::pending().await,
                }
            };
            tokio::select! {
                Some((i, packet)) = packets.recv() => self.on_packet(i, packet).await,
                _ = sleep => self.on_timer(deadline).await,
                _ = links.tick() => self.poll_links().await,
                Some((name, reading)) = self.scripts.recv() => self.on_script(&name, reading).await,
                _ = publish.tick() => self.publish(),
                _ = stop.changed() => break,
            }
        }
        let actions = self.group.shutdown(Instant::now());
        self.carry_out(actions).await;
        for reader in readers {
            reader.abort();
        }
        for forwarder in &self.forwarders {
            forwarder.abort();
        }
        for vmac in &self.vmacs {
            if let Err(e) = self.kernel.remove_vmac(vmac, Path::new(PROC_SYS)).await {
                log::warn!("{e}");
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let garps = self
            .members
            .iter()
            .flat_map(|m| [m.second_garp_at, m.refresh_at, m.lower_prio_garp_at])
            .flatten();
        self.group
            .next_deadline()
            .into_iter()
            .chain(garps)
            .chain(self.pacer.next_deadline())
            .min()
    }

    async fn on_timer(&mut self, deadline: Option<Instant>) {
        let now = Instant::now();
        if let (Some(auto), Some(at)) = (&self.auto_priority, deadline) {
            super::realtime::timer_fired_late(now.saturating_duration_since(at), auto);
        }
        self.garp_timers(now);
        let actions = self.group.timer(now);
        self.carry_out(actions).await;
    }

    /// Reads every tracked link of member `i`; whether any changed.
    fn read_links(&mut self, i: usize) -> bool {
        let m = &mut self.members[i];
        let mut changed = false;
        let links: Vec<(String, u32)> = m
            .spec
            .tracked_links()
            .map(|(name, index)| (name.to_string(), index))
            .collect();
        for (name, index) in links {
            let up = self.probe.is_up(&name);
            let reading = if up { Reading::Up } else { Reading::Down };
            if m.tracking.set(
                &Object::Link {
                    name: name.clone(),
                    index,
                },
                reading,
            ) {
                let word = if up { "came up" } else { "went down" };
                log::info!("{}: tracked interface {name} {word}", m.spec.name);
                changed = true;
            }
        }
        changed
    }

    async fn poll_links(&mut self) {
        self.follow_macs();
        for i in 0..self.members.len() {
            if self.read_links(i) {
                self.retrack(i).await;
            }
        }
    }

    async fn on_script(&mut self, name: &str, reading: Reading) {
        let object = Object::Script(name.to_string());
        for i in 0..self.members.len() {
            if self.members[i].tracking.set(&object, reading) {
                self.retrack(i).await;
            }
        }
    }

    /// Tells the state machine what tracking makes of member `i` now: its effective
    /// priority, and FAULT or not.
    async fn retrack(&mut self, i: usize) {
        let now = Instant::now();
        let m = &mut self.members[i];
        let priority = m.tracking.priority();
        if priority != m.priority {
            log::info!(
                "{}: changing effective priority from {} to {priority}",
                m.spec.name,
                m.priority
            );
            m.priority = priority;
            let actions = self.group.handle(i, Event::Priority(priority), now);
            self.carry_out(actions).await;
        }
        let m = &mut self.members[i];
        let fault = m.tracking.fault();
        if fault.is_some() != m.faulted {
            match &fault {
                Some(why) => log::warn!("{}: FAULT: {why}", m.spec.name),
                None => log::info!("{}: tracked objects are up again", m.spec.name),
            }
            m.faulted = fault.is_some();
            let actions = self.group.handle(i, Event::Fault(fault.is_some()), now);
            self.carry_out(actions).await;
        }
    }

    async fn carry_out(&mut self, actions: Vec<(usize, Action)>) {
        for (i, action) in actions {
            match action {
                Action::Send { priority, ah_seq } => self.send(i, priority, ah_seq),
                // Routes after the addresses (one may use a VIP as its source), and
                // out before them.
                Action::AddAddresses => {
                    self.add_addresses(i).await;
                    self.add_routes(i).await;
                }
                Action::RemoveAddresses => {
                    self.remove_routes(i).await;
                    self.remove_addresses(i).await;
                }
                Action::Announce => self.became_master(i),
                Action::AnnounceLowerPriority => self.heard_lower_priority(i),
                Action::Transition { from, to } => {
                    let group = self
                        .name
                        .as_ref()
                        .map(|g| format!(" (sync group {g})"))
                        .unwrap_or_default();
                    log::info!(
                        "{}: {} -> {}{group}",
                        self.members[i].spec.name,
                        VrrpState::from(from),
                        VrrpState::from(to)
                    );
                    if to != State::Master {
                        self.left_master(i);
                    }
                }
            }
        }
        if self.snapshot() != self.published {
            self.publish();
        }
    }

    /// What the status file shows at once when it changes: state, master, priority.
    fn snapshot(&self) -> Vec<(State, Option<IpAddr>, u8)> {
        self.group
            .members()
            .iter()
            .map(|m| (m.state(), m.master_ip(), m.priority()))
            .collect()
    }

    fn publish(&mut self) {
        self.published = self.snapshot();
        let now_instant = Instant::now();
        let now = SystemTime::now();
        let entries = self
            .group
            .members()
            .iter()
            .zip(&self.members)
            .map(|(instance, m)| {
                let s = instance.settings();
                status::Instance {
                    name: m.spec.name.clone(),
                    sync_group: self.name.clone(),
                    interface: m.spec.ifname.clone(),
                    vrid: s.vrid,
                    version: match s.version {
                        Version::V2 => 2,
                        Version::V3 => 3,
                    },
                    state: instance.state().into(),
                    priority: instance.priority(),
                    master: instance.master_ip(),
                    since_ms: instance
                        .since()
                        .map(|t| status::unix_ms(now - now_instant.saturating_duration_since(t))),
                    adverts_sent: instance.adverts_sent,
                    adverts_received: instance.adverts_received,
                    became_master: instance.became_master,
                    drops: instance.drops.into(),
                    reason: None,
                    fault: m
                        .tracking
                        .fault()
                        .filter(|_| instance.state() == State::Fault),
                }
            })
            .collect();
        self.board.update(entries);
    }
}

/// Hands every reading of one vrrp_script to the group task, the current one first.
async fn forward(
    name: String,
    mut readings: watch::Receiver<Reading>,
    to: mpsc::Sender<(String, Reading)>,
) {
    loop {
        let now = *readings.borrow_and_update();
        if to.send((name.clone(), now)).await.is_err() {
            return;
        }
        if readings.changed().await.is_err() {
            return;
        }
    }
}

fn context(e: std::io::Error, what: String) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{what}: {e}"))
}
