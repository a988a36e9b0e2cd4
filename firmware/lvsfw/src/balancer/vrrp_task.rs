//! One VRRP instance on the wire: the pure state machine of the `vrrp` crate, fed by
//! its socket and its timer, with its actions carried out on the kernel.

// Not started yet: the balancer starts these once the keepalived.conf reader (issue 3)
// gives it virtual servers and VRRP instances. Until then only the tests use them.
#![allow(dead_code)]

use std::net::IpAddr;
use std::time::{Duration, Instant};

use config::IpPrefix;
use netif::announce::Announcer;
use netif::kernel::Kernel;
use netif::vrrp_socket::{VrrpSocket, GROUP_V4, GROUP_V6};
use netif::Op;
use tokio::sync::watch;
use vrrp::{Action, ChecksumMode, Event, Instance, Packet, Repr, Settings, State};

/// A virtual address and the interface it lives on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vip {
    pub prefix: IpPrefix,
    pub ifname: String,
    pub ifindex: u32,
}

/// keepalived's gratuitous ARP timing on becoming master: `repeat` at once, and
/// `repeat` again after `delay` (vrrp_garp_master_delay 5, vrrp_garp_master_repeat 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GarpTiming {
    pub delay: Duration,
    pub repeat: u32,
}

impl Default for GarpTiming {
    fn default() -> Self {
        GarpTiming {
            delay: Duration::from_secs(5),
            repeat: 5,
        }
    }
}

#[derive(Debug, Clone)]
pub struct VrrpSpec {
    pub name: String,
    pub settings: Settings,
    pub ifname: String,
    pub ifindex: u32,
    pub checksum: ChecksumMode,
    /// keepalived's unicast_peer; empty means multicast.
    pub unicast_peers: Vec<IpAddr>,
    pub vips: Vec<Vip>,
    pub garp: GarpTiming,
}

/// What the page, the console and /metrics show of one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrrpStatus {
    pub name: String,
    pub state: State,
    pub priority: u8,
    pub master: Option<IpAddr>,
    pub since: Option<Instant>,
    pub adverts_sent: u64,
    pub adverts_received: u64,
    pub became_master: u64,
    pub packet_errors: u64,
    pub drops: vrrp::DropCounters,
}

pub struct VrrpTask {
    spec: VrrpSpec,
    instance: Instance,
    socket: VrrpSocket,
    announcers: Vec<(String, Announcer)>,
    kernel: Kernel,
    second_garp_at: Option<Instant>,
    packet_errors: u64,
}

impl VrrpTask {
    pub fn open(spec: VrrpSpec, kernel: Kernel) -> std::io::Result<VrrpTask> {
        let multicast = spec.unicast_peers.is_empty();
        let socket = VrrpSocket::open(
            &spec.ifname,
            spec.ifindex,
            spec.settings.primary_ip,
            multicast,
        )?;
        let mut announcers = Vec::new();
        for vip in &spec.vips {
            if announcers.iter().any(|(name, _)| *name == vip.ifname) {
                continue;
            }
            let mac = read_mac(&vip.ifname)?;
            announcers.push((
                vip.ifname.clone(),
                Announcer::open(&vip.ifname, vip.ifindex, mac, None)?,
            ));
        }
        Ok(VrrpTask {
            instance: Instance::new(spec.settings.clone()),
            spec,
            socket,
            announcers,
            kernel,
            second_garp_at: None,
            packet_errors: 0,
        })
    }

    fn status(&self) -> VrrpStatus {
        VrrpStatus {
            name: self.spec.name.clone(),
            state: self.instance.state(),
            priority: self.spec.settings.priority,
            master: self.instance.master_ip(),
            since: self.instance.since(),
            adverts_sent: self.instance.adverts_sent,
            adverts_received: self.instance.adverts_received,
            became_master: self.instance.became_master,
            packet_errors: self.packet_errors,
            drops: self.instance.drops,
        }
    }

    /// Runs until `stop` turns true, then leaves as RFC 5798 asks (priority 0, VIPs gone).
    pub async fn run(mut self, status: watch::Sender<VrrpStatus>, mut stop: watch::Receiver<bool>) {
        // A balancer that crashed as master left its VIPs behind; a new one starts as
        // backup and must not hold them.
        self.remove_addresses().await;
        self.step(Event::Startup, &status).await;
        loop {
            let deadline = [self.instance.next_deadline(), self.second_garp_at]
                .into_iter()
                .flatten()
                .min();
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                received = self.socket.recv() => match received {
                    Ok(packet) => self.on_packet(packet, &status).await,
                    Err(e) => {
                        log::error!("{}: receiving: {e}", self.spec.name);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                _ = sleep => {
                    let now = Instant::now();
                    if self.second_garp_at.is_some_and(|t| t <= now) {
                        self.second_garp_at = None;
                        self.announce();
                    }
                    self.step(Event::Timer, &status).await;
                }
                _ = stop.changed() => break,
            }
        }
        self.step(Event::Shutdown, &status).await;
    }

    async fn on_packet(
        &mut self,
        packet: netif::vrrp_socket::Received,
        status: &watch::Sender<VrrpStatus>,
    ) {
        let parsed = Packet::new_checked(&packet.payload[..], packet.src.is_ipv6())
            .and_then(|p| Repr::parse(&p, packet.src, packet.dst, self.spec.checksum));
        match parsed {
            Ok(advert) if advert.vrid == self.spec.settings.vrid => {
                let event = Event::Advert {
                    src: packet.src,
                    ttl: packet.ttl,
                    advert: &advert,
                };
                self.step(event, status).await;
            }
            // Another router's VRID on the same segment: not for us, not an error.
            Ok(_) => {}
            Err(e) => {
                self.packet_errors += 1;
                log::debug!(
                    "{}: dropped a packet from {}: {e}",
                    self.spec.name,
                    packet.src
                );
            }
        }
    }

    async fn step(&mut self, event: Event<'_>, status: &watch::Sender<VrrpStatus>) {
        let actions = self.instance.handle(event, Instant::now());
        for action in actions {
            match action {
                Action::Send { priority } => self.send(priority),
                Action::AddAddresses => self.add_addresses().await,
                Action::RemoveAddresses => self.remove_addresses().await,
                Action::Announce => {
                    self.announce();
                    self.second_garp_at = Some(Instant::now() + self.spec.garp.delay);
                }
                Action::Transition { from, to } => {
                    log::info!("{}: {from:?} -> {to:?}", self.spec.name);
                    if to != State::Master {
                        self.second_garp_at = None;
                    }
                }
            }
        }
        status.send_replace(self.status());
    }

    fn send(&self, priority: u8) {
        let s = &self.spec.settings;
        let advert = Repr {
            version: s.version,
            vrid: s.vrid,
            priority,
            advert_int_cs: (s.advert_int.as_millis() / 10)
                .min(u128::from(vrrp::packet::MAX_ADVERT_INT_CS)) as u16,
            auth: s.auth,
            addresses: s.addresses.clone(),
        };
        let destinations: Vec<IpAddr> = if self.spec.unicast_peers.is_empty() {
            vec![if s.primary_ip.is_ipv6() {
                IpAddr::V6(GROUP_V6)
            } else {
                IpAddr::V4(GROUP_V4)
            }]
        } else {
            self.spec.unicast_peers.clone()
        };
        let mut buffer = vec![0u8; advert.buffer_len()];
        for dst in destinations {
            let sent = advert
                .emit(&mut buffer, s.primary_ip, dst, self.spec.checksum)
                .map_err(|e| e.to_string())
                .and_then(|n| {
                    self.socket
                        .send(&buffer[..n], dst)
                        .map_err(|e| e.to_string())
                });
            if let Err(e) = sent {
                log::error!("{}: sending to {dst}: {e}", self.spec.name);
            }
        }
    }

    async fn add_addresses(&self) {
        for vip in &self.spec.vips {
            let op = Op::AddAddress {
                index: vip.ifindex,
                prefix: vip.prefix,
            };
            if let Err(e) = self.kernel.apply(&op).await {
                log::error!("{}: {e}", self.spec.name);
            }
        }
    }

    async fn remove_addresses(&self) {
        let Ok(actual) = self.kernel.read().await else {
            return;
        };
        for vip in &self.spec.vips {
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
                    log::error!("{}: {e}", self.spec.name);
                }
            }
        }
    }

    fn announce(&self) {
        for _ in 0..self.spec.garp.repeat {
            for vip in &self.spec.vips {
                let Some((_, announcer)) = self.announcers.iter().find(|(n, _)| *n == vip.ifname)
                else {
                    continue;
                };
                if let Err(e) = announcer.announce(vip.prefix.addr) {
                    log::warn!("{}: announcing {}: {e}", self.spec.name, vip.prefix.addr);
                }
            }
        }
    }
}

fn read_mac(ifname: &str) -> std::io::Result<[u8; 6]> {
    let text = std::fs::read_to_string(format!("/sys/class/net/{ifname}/address"))?;
    let mut mac = [0u8; 6];
    for (byte, part) in mac.iter_mut().zip(text.trim().split(':')) {
        *byte = u8::from_str_radix(part, 16)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    }
    Ok(mac)
}
