//! One sync group (or lone instance) on the wire: the pure [`SyncGroup`] of the `vrrp`
//! crate, fed by its members' sockets, their timers and their links' state, with its
//! actions carried out on the kernel.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use netif::announce::Announcer;
use netif::kernel::Kernel;
use netif::vrrp_socket::{Received, VrrpSocket, GROUP_V4, GROUP_V6};
use netif::Op;
use tokio::sync::{mpsc, watch};
use vrrp::ah::{self, AhError, Seal};
use vrrp::packet::{Auth, Error as PacketError, Version};
use vrrp::{Action, Event, Instance, Invalid, Packet, Repr, State, SyncGroup};

use super::link::LinkProbe;
use super::spec::{GroupSpec, MemberSpec};
use super::status::{self, InstanceStatus};
use super::timer::Deadline;

/// How often tracked links are looked at. keepalived learns of a link change from
/// netlink at once; 100 ms of polling is well inside one advert interval.
const LINK_POLL: Duration = Duration::from_millis(100);
/// Counters reach the status file at most this often; state changes at once.
const STATUS_EVERY: Duration = Duration::from_secs(1);
/// Received packets waiting for the group task.
const RECEIVE_QUEUE: usize = 256;

/// Every instance's status, shared by the group tasks and written to one file.
pub struct Board {
    path: std::path::PathBuf,
    entries: Mutex<Vec<InstanceStatus>>,
    /// Each instance's state word, for what follows VRRP (the IPVS sync daemon).
    states: watch::Sender<Vec<(String, String)>>,
}

impl Board {
    pub fn new(path: std::path::PathBuf) -> Arc<Board> {
        Arc::new(Board {
            path,
            entries: Mutex::new(Vec::new()),
            states: watch::Sender::new(Vec::new()),
        })
    }

    pub fn states(&self) -> watch::Receiver<Vec<(String, String)>> {
        self.states.subscribe()
    }

    pub fn update(&self, fresh: Vec<InstanceStatus>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        for entry in fresh {
            match entries.iter_mut().find(|e| e.name == entry.name) {
                Some(old) => *old = entry,
                None => entries.push(entry),
            }
        }
        let states: Vec<(String, String)> = entries
            .iter()
            .map(|e| (e.name.clone(), e.state.clone()))
            .collect();
        self.states.send_if_modified(|old| {
            let changed = *old != states;
            *old = states;
            changed
        });
        let file = status::StatusFile {
            pid: std::process::id(),
            written_ms: status::unix_ms(SystemTime::now()),
            instances: entries.clone(),
        };
        if let Err(e) = status::write(&self.path, &file) {
            log::warn!("{}: {e}", self.path.display());
        }
    }

    /// The process is stopping: the file goes, so nobody reads a stale MASTER.
    pub fn remove(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

struct Member {
    spec: MemberSpec,
    socket: Arc<VrrpSocket>,
    announcers: Vec<(u32, Announcer)>,
    second_garp_at: Option<Instant>,
    refresh_at: Option<Instant>,
    link_up: bool,
    ip_id: u16,
}

pub struct GroupTask {
    name: Option<String>,
    group: SyncGroup,
    members: Vec<Member>,
    kernel: Kernel,
    probe: LinkProbe,
    board: Arc<Board>,
    /// Each member's state and master as last written: a change is written at once.
    published: Vec<(State, Option<IpAddr>)>,
}

impl GroupTask {
    pub fn open(spec: GroupSpec, kernel: Kernel, board: Arc<Board>) -> std::io::Result<GroupTask> {
        let probe = LinkProbe::new()?;
        let mut members = Vec::new();
        let mut instances = Vec::new();
        for m in spec.members {
            let socket = VrrpSocket::open_with(
                &m.ifname,
                m.ifindex,
                m.settings.primary_ip,
                m.unicast_peers.is_empty(),
                m.ah_key.is_some(),
            )
            .map_err(|e| context(e, format!("{}: VRRP socket on {}", m.name, m.ifname)))?;
            let mut announcers: Vec<(u32, Announcer)> = Vec::new();
            for vip in &m.vips {
                if announcers.iter().any(|(index, _)| *index == vip.ifindex) {
                    continue;
                }
                let mac = probe
                    .mac(&vip.ifname)
                    .map_err(|e| context(e, format!("{}: MAC of {}", m.name, vip.ifname)))?;
                // Unsolicited NAs go out from the link-local address, which an IPv6
                // instance has as its primary address on its own interface.
                let link_local = match m.settings.primary_ip {
                    IpAddr::V6(v6) if vip.ifindex == m.ifindex => Some(v6),
                    _ => None,
                };
                let announcer = Announcer::open(&vip.ifname, vip.ifindex, mac, link_local)
                    .map_err(|e| context(e, format!("{}: announcer on {}", m.name, vip.ifname)))?;
                announcers.push((vip.ifindex, announcer));
            }
            instances.push(Instance::new(m.settings.clone()));
            members.push(Member {
                socket: Arc::new(socket),
                announcers,
                second_garp_at: None,
                refresh_at: None,
                link_up: true,
                ip_id: 0,
                spec: m,
            });
        }
        Ok(GroupTask {
            name: spec.name,
            group: SyncGroup::new(instances),
            members,
            kernel,
            probe,
            board,
            published: Vec::new(),
        })
    }

    /// Runs until `stop` changes, then leaves as RFC 5798 §6.4.3 asks: priority 0 from
    /// every master, virtual addresses removed.
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
            self.remove_addresses(i).await;
        }
        for m in self.members.iter_mut() {
            m.link_up = m.spec.track.iter().all(|(name, _)| self.probe.is_up(name));
            if !m.link_up {
                log::warn!(
                    "{}: {} is down",
                    m.spec.name,
                    down_list(&self.probe, &m.spec)
                );
            }
        }
        let actions = self.group.start(Instant::now());
        self.carry_out(actions).await;
        for i in 0..self.members.len() {
            if !self.members[i].link_up {
                let actions = self.group.handle(i, Event::Fault(true), Instant::now());
                self.carry_out(actions).await;
            }
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
                _ = sleep => self.on_timer().await,
                _ = links.tick() => self.poll_links().await,
                _ = publish.tick() => self.publish(),
                _ = stop.changed() => break,
            }
        }
        let actions = self.group.shutdown(Instant::now());
        self.carry_out(actions).await;
        for reader in readers {
            reader.abort();
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let garps = self
            .members
            .iter()
            .flat_map(|m| [m.second_garp_at, m.refresh_at])
            .flatten();
        self.group.next_deadline().into_iter().chain(garps).min()
    }

    async fn on_timer(&mut self) {
        let now = Instant::now();
        for i in 0..self.members.len() {
            let m = &mut self.members[i];
            if m.second_garp_at.is_some_and(|t| t <= now) {
                m.second_garp_at = None;
                self.announce(i, self.members[i].spec.garp.repeat);
            }
            let m = &mut self.members[i];
            if m.refresh_at.is_some_and(|t| t <= now) {
                m.refresh_at = m.spec.garp.refresh.map(|every| now + every);
                // keepalived's vrrp_garp_master_refresh_repeat defaults to 1.
                self.announce(i, 1);
            }
        }
        let actions = self.group.timer(now);
        self.carry_out(actions).await;
    }

    async fn poll_links(&mut self) {
        for i in 0..self.members.len() {
            let up = self.members[i]
                .spec
                .track
                .iter()
                .all(|(name, _)| self.probe.is_up(name));
            if up != self.members[i].link_up {
                self.members[i].link_up = up;
                let m = &self.members[i].spec;
                if up {
                    log::info!("{}: tracked interfaces are up again", m.name);
                } else {
                    log::warn!("{}: {} went down", m.name, down_list(&self.probe, m));
                }
                let actions = self.group.handle(i, Event::Fault(!up), Instant::now());
                self.carry_out(actions).await;
            }
        }
    }

    async fn on_packet(&mut self, i: usize, packet: Received) {
        let spec = &self.members[i].spec;
        // Every instance's socket on an interface sees every VRRP packet there: a packet
        // for another VRID we run is simply not ours; one for a VRID nobody here runs
        // is counted (RFC 5798 §7.1 item 4).
        let vrid = match &spec.ah_key {
            Some(_) => ah_vrid(&packet.datagram),
            None => packet.payload.get(1).copied(),
        };
        if let Some(vrid) = vrid {
            if vrid != spec.settings.vrid {
                if !spec.vrids_here.contains(&vrid) {
                    self.invalid(i, Invalid::Vrid, &packet, "VRID not configured here")
                        .await;
                }
                return;
            }
        }
        let (payload, src, dst, ttl, ah_seq) = match &spec.ah_key {
            Some(key) => match ah::open_v4(&packet.datagram, key, !spec.unicast_peers.is_empty()) {
                Ok(opened) => (
                    opened.vrrp.to_vec(),
                    IpAddr::V4(opened.src),
                    IpAddr::V4(opened.dst),
                    opened.ttl,
                    Some(opened.seq),
                ),
                Err(AhError::NextHeader(_)) => return,
                Err(e @ (AhError::Truncated | AhError::NotAh)) => {
                    let why = e.to_string();
                    return self.invalid(i, Invalid::Length, &packet, &why).await;
                }
                Err(e @ (AhError::Icv | AhError::Spi)) => {
                    let why = e.to_string();
                    return self.invalid(i, Invalid::Auth, &packet, &why).await;
                }
            },
            None => (
                packet.payload.clone(),
                packet.src,
                packet.dst,
                packet.ttl,
                None,
            ),
        };
        let parsed = Packet::new_checked(&payload[..], src.is_ipv6())
            .and_then(|p| Repr::parse(&p, src, dst, spec.checksum));
        match parsed {
            Ok(advert) => {
                let event = Event::Advert {
                    src,
                    ttl,
                    advert: &advert,
                    ah_seq,
                };
                let actions = self.group.handle(i, event, Instant::now());
                self.carry_out(actions).await;
            }
            Err(e) => {
                let why = match e {
                    PacketError::Truncated | PacketError::Family => Invalid::Length,
                    PacketError::Version(_) => Invalid::Version,
                    PacketError::Type(_) => Invalid::Type,
                    PacketError::Checksum => Invalid::Checksum,
                };
                self.invalid(i, why, &packet, &e.to_string()).await;
            }
        }
    }

    async fn invalid(&mut self, i: usize, why: Invalid, packet: &Received, text: &str) {
        log::debug!(
            "{}: dropped a packet from {}: {text}",
            self.members[i].spec.name,
            packet.src
        );
        let actions = self.group.handle(i, Event::Invalid(why), Instant::now());
        self.carry_out(actions).await;
    }

    async fn carry_out(&mut self, actions: Vec<(usize, Action)>) {
        for (i, action) in actions {
            match action {
                Action::Send { priority, ah_seq } => self.send(i, priority, ah_seq),
                Action::AddAddresses => self.add_addresses(i).await,
                Action::RemoveAddresses => self.remove_addresses(i).await,
                Action::Announce => {
                    let now = Instant::now();
                    let m = &mut self.members[i];
                    m.second_garp_at = Some(now + m.spec.garp.delay);
                    m.refresh_at = m.spec.garp.refresh.map(|every| now + every);
                    self.announce(i, self.members[i].spec.garp.repeat);
                }
                // The spec's lower-priority announcements come with the next change.
                Action::AnnounceLowerPriority => {}
                Action::Transition { from, to } => {
                    let group = self
                        .name
                        .as_ref()
                        .map(|g| format!(" (sync group {g})"))
                        .unwrap_or_default();
                    log::info!(
                        "{}: {} -> {}{group}",
                        self.members[i].spec.name,
                        status::state_name(from),
                        status::state_name(to)
                    );
                    if to != State::Master {
                        self.members[i].second_garp_at = None;
                        self.members[i].refresh_at = None;
                    }
                }
            }
        }
        let now: Vec<(State, Option<IpAddr>)> = self
            .group
            .members()
            .iter()
            .map(|m| (m.state(), m.master_ip()))
            .collect();
        if now != self.published {
            self.publish();
        }
    }

    fn publish(&mut self) {
        self.published = self
            .group
            .members()
            .iter()
            .map(|m| (m.state(), m.master_ip()))
            .collect();
        let now_instant = Instant::now();
        let now = SystemTime::now();
        let entries = self
            .group
            .members()
            .iter()
            .zip(&self.members)
            .map(|(instance, m)| {
                let s = instance.settings();
                InstanceStatus {
                    name: m.spec.name.clone(),
                    sync_group: self.name.clone(),
                    interface: m.spec.ifname.clone(),
                    vrid: s.vrid,
                    version: match s.version {
                        Version::V2 => 2,
                        Version::V3 => 3,
                    },
                    state: status::state_name(instance.state()).into(),
                    priority: s.priority,
                    master: instance.master_ip(),
                    since_ms: instance
                        .since()
                        .map(|t| status::unix_ms(now - now_instant.saturating_duration_since(t))),
                    adverts_sent: instance.adverts_sent,
                    adverts_received: instance.adverts_received,
                    became_master: instance.became_master,
                    drops: instance.drops.into(),
                    reason: None,
                }
            })
            .collect();
        self.board.update(entries);
    }

    fn send(&mut self, i: usize, priority: u8, ah_seq: Option<u32>) {
        let m = &mut self.members[i];
        let s = &m.spec.settings;
        let advert = Repr {
            version: s.version,
            vrid: s.vrid,
            priority,
            advert_int_cs: (s.advert_int.as_millis() / 10)
                .min(u128::from(vrrp::packet::MAX_ADVERT_INT_CS)) as u16,
            auth: s.auth,
            addresses: s.addresses.clone(),
        };
        let unicast = !m.spec.unicast_peers.is_empty();
        let destinations: Vec<IpAddr> = if unicast {
            m.spec.unicast_peers.clone()
        } else if s.primary_ip.is_ipv6() {
            vec![IpAddr::V6(GROUP_V6)]
        } else {
            vec![IpAddr::V4(GROUP_V4)]
        };
        // One IP identification per advertisement, as keepalived (never 0: the kernel
        // would replace it after the AH ICV was computed over it).
        m.ip_id = m.ip_id.wrapping_add(1).max(1);
        for dst in destinations {
            let bytes = match (&m.spec.ah_key, s.primary_ip, dst) {
                (Some(key), IpAddr::V4(src), IpAddr::V4(dst4)) => {
                    debug_assert_eq!(s.auth, Auth::Ah);
                    let seal = Seal {
                        src,
                        dst: dst4,
                        ip_id: m.ip_id,
                        seq: ah_seq.unwrap_or(0),
                        unicast,
                    };
                    ah::emit_v4(&advert, &seal, key)
                }
                _ => {
                    let mut buffer = vec![0u8; advert.buffer_len()];
                    advert
                        .emit(&mut buffer, s.primary_ip, dst, m.spec.checksum)
                        .map(|n| {
                            buffer.truncate(n);
                            buffer
                        })
                }
            };
            let sent = bytes
                .map_err(|e| e.to_string())
                .and_then(|b| m.socket.send(&b, dst).map_err(|e| e.to_string()));
            if let Err(e) = sent {
                // keepalived too stays quiet about a priority-0 advert on a dead link.
                if priority != 0 || m.link_up {
                    log::error!("{}: sending to {dst}: {e}", m.spec.name);
                }
            }
        }
    }

    async fn add_addresses(&self, i: usize) {
        for vip in &self.members[i].spec.vips {
            let op = Op::AddAddress {
                index: vip.ifindex,
                prefix: vip.prefix,
            };
            if let Err(e) = self.kernel.apply(&op).await {
                log::error!("{}: {e}", self.members[i].spec.name);
            }
        }
    }

    async fn remove_addresses(&self, i: usize) {
        let Ok(actual) = self.kernel.read().await else {
            return;
        };
        for vip in &self.members[i].spec.vips {
            let present = actual
                .links
                .iter()
                .any(|l| l.index == vip.ifindex && l.addresses.contains(&vip.prefix));
            if present {
                let op = Op::DelAddress {
                    index: vip.ifindex,
                    prefix: vip.prefix,
                };
                if let Err(e) = self.kernel.apply(&op).await {
                    log::error!("{}: {e}", self.members[i].spec.name);
                }
            }
        }
    }

    /// `rounds` gratuitous ARPs / unsolicited NAs for every VIP of member `i`.
    fn announce(&self, i: usize, rounds: u32) {
        let m = &self.members[i];
        for _ in 0..rounds {
            for vip in &m.spec.vips {
                let Some((_, announcer)) = m.announcers.iter().find(|(ix, _)| *ix == vip.ifindex)
                else {
                    continue;
                };
                if let Err(e) = announcer.announce(vip.prefix.addr) {
                    log::warn!("{}: announcing {}: {e}", m.spec.name, vip.prefix.addr);
                }
            }
        }
    }
}

/// The VRID inside an AH datagram, read before the ICV is checked (each instance has its
/// own key, so the ICV says nothing about another instance's packets).
fn ah_vrid(datagram: &[u8]) -> Option<u8> {
    let ihl = usize::from(datagram.first()? & 0x0f) * 4;
    datagram.get(ihl + ah::AH_LEN + 1).copied()
}

fn down_list(probe: &LinkProbe, spec: &MemberSpec) -> String {
    let down: Vec<&str> = spec
        .track
        .iter()
        .filter(|(name, _)| !probe.is_up(name))
        .map(|(name, _)| name.as_str())
        .collect();
    if down.is_empty() {
        "a tracked interface".into()
    } else {
        down.join(", ")
    }
}

fn context(e: std::io::Error, what: String) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{what}: {e}"))
}
