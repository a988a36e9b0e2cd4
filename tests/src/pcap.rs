//! Reads what `tcpdump -w` wrote (the classic pcap format: a 24-byte file header, then
//! a 16-byte header per frame) and picks out VRRP advertisements (IPv4 and IPv6) and
//! the announcements of a takeover: gratuitous ARP and unsolicited neighbour adverts.
//! A file still being written may end in half a frame; that frame is left out.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::command::Error;
use crate::lab::{Host, Lab, Net};

const MAGIC_MICROS: u32 = 0xa1b2_c3d4;
const MAGIC_NANOS: u32 = 0xa1b2_3c4d;
const LINKTYPE_ETHERNET: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub at: SystemTime,
    pub data: Vec<u8>,
}

/// Every whole Ethernet frame in `bytes`.
pub fn frames(bytes: &[u8]) -> Result<Vec<Frame>, Error> {
    let header = bytes
        .get(..24)
        .ok_or_else(|| Error("pcap: shorter than its header".into()))?;
    let magic_le = u32::from_le_bytes(header[..4].try_into().unwrap_or_default());
    let magic_be = u32::from_be_bytes(header[..4].try_into().unwrap_or_default());
    let (little, nanos) = match (magic_le, magic_be) {
        (MAGIC_MICROS, _) => (true, false),
        (MAGIC_NANOS, _) => (true, true),
        (_, MAGIC_MICROS) => (false, false),
        (_, MAGIC_NANOS) => (false, true),
        _ => return Err(Error(format!("pcap: unknown magic {magic_le:#x}"))),
    };
    let word = |b: &[u8], i: usize| -> u32 {
        let four: [u8; 4] = b[i..i + 4].try_into().unwrap_or_default();
        if little {
            u32::from_le_bytes(four)
        } else {
            u32::from_be_bytes(four)
        }
    };
    let linktype = word(header, 20) & 0x0fff_ffff;
    if linktype != LINKTYPE_ETHERNET {
        return Err(Error(format!("pcap: link type {linktype}, not Ethernet")));
    }
    let mut out = Vec::new();
    let mut offset = 24;
    while let Some(record) = bytes.get(offset..offset + 16) {
        let (secs, fraction, captured) = (word(record, 0), word(record, 4), word(record, 8));
        let start = offset + 16;
        let Some(data) = bytes.get(start..start + captured as usize) else {
            break;
        };
        let fraction = if nanos {
            Duration::from_nanos(u64::from(fraction))
        } else {
            Duration::from_micros(u64::from(fraction))
        };
        out.push(Frame {
            at: SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(secs)) + fraction,
            data: data.to_vec(),
        });
        offset = start + captured as usize;
    }
    Ok(out)
}

/// "52:54:00:01:00:10" as six bytes.
pub fn parse_mac(text: &str) -> Result<[u8; 6], Error> {
    let mut mac = [0u8; 6];
    let parts: Vec<&str> = text.split(':').collect();
    if parts.len() != 6 {
        return Err(Error(format!("{text:?} is not a MAC")));
    }
    for (byte, part) in mac.iter_mut().zip(parts) {
        *byte = u8::from_str_radix(part, 16).map_err(|_| Error(format!("{text:?}")))?;
    }
    Ok(mac)
}

/// One VRRP advertisement seen on the wire, IPv4 or IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advert {
    pub at: SystemTime,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit: 255 on the wire (RFC 5798 §5.1.1.3, §5.1.2.3).
    pub hop_limit: u8,
    pub version: u8,
    pub vrid: u8,
    pub priority: u8,
}

/// One ARP packet whose sender and target address are the same: a gratuitous ARP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Garp {
    pub at: SystemTime,
    pub address: Ipv4Addr,
    pub mac: [u8; 6],
}

/// One ICMPv6 neighbour advertisement (RFC 4861 §4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeighbourAdvert {
    pub at: SystemTime,
    /// The Ethernet source: the MAC the frame really left from.
    pub frame_src: [u8; 6],
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub hop_limit: u8,
    pub router: bool,
    pub solicited: bool,
    pub override_flag: bool,
    pub target: Ipv6Addr,
    /// The target link-layer address option, if present.
    pub lladdr: Option<[u8; 6]>,
}

/// The IP packet in an Ethernet frame (one 802.1Q tag skipped): IPv4, or IPv6 without
/// extension headers (VRRP and neighbour discovery carry none).
struct Ip<'a> {
    protocol: u8,
    src: IpAddr,
    dst: IpAddr,
    hop_limit: u8,
    payload: &'a [u8],
}

fn ip(frame: &[u8]) -> Option<Ip<'_>> {
    let (ethertype, rest) = ethertype(frame)?;
    match ethertype {
        0x0800 => {
            let ihl = usize::from(rest.first()? & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([*rest.get(2)?, *rest.get(3)?]));
            let four = |at: usize| -> Option<Ipv4Addr> {
                let b: [u8; 4] = rest.get(at..at + 4)?.try_into().ok()?;
                Some(Ipv4Addr::from(b))
            };
            Some(Ip {
                protocol: *rest.get(9)?,
                src: IpAddr::V4(four(12)?),
                dst: IpAddr::V4(four(16)?),
                hop_limit: *rest.get(8)?,
                payload: rest.get(ihl..total.min(rest.len()))?,
            })
        }
        0x86dd => {
            let len = usize::from(u16::from_be_bytes([*rest.get(4)?, *rest.get(5)?]));
            let sixteen = |at: usize| -> Option<Ipv6Addr> {
                let b: [u8; 16] = rest.get(at..at + 16)?.try_into().ok()?;
                Some(Ipv6Addr::from(b))
            };
            Some(Ip {
                protocol: *rest.get(6)?,
                src: IpAddr::V6(sixteen(8)?),
                dst: IpAddr::V6(sixteen(24)?),
                hop_limit: *rest.get(7)?,
                payload: rest.get(40..(40 + len).min(rest.len()))?,
            })
        }
        _ => None,
    }
}

fn ethertype(frame: &[u8]) -> Option<(u16, &[u8])> {
    let kind = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    if kind == 0x8100 {
        let inner = u16::from_be_bytes([*frame.get(16)?, *frame.get(17)?]);
        return Some((inner, frame.get(18..)?));
    }
    Some((kind, frame.get(14..)?))
}

/// The VRRP advertisements (IP protocol 112, v2 or v3, IPv4 or IPv6) among `frames`.
pub fn adverts(frames: &[Frame]) -> Vec<Advert> {
    frames
        .iter()
        .filter_map(|f| {
            let ip = ip(&f.data)?;
            if ip.protocol != 112 || ip.payload.len() < 8 {
                return None;
            }
            Some(Advert {
                at: f.at,
                src: ip.src,
                dst: ip.dst,
                hop_limit: ip.hop_limit,
                version: ip.payload[0] >> 4,
                vrid: ip.payload[1],
                priority: ip.payload[2],
            })
        })
        .collect()
}

/// The gratuitous ARPs (requests or replies) among `frames`.
pub fn garps(frames: &[Frame]) -> Vec<Garp> {
    frames
        .iter()
        .filter_map(|f| {
            let (kind, arp) = ethertype(&f.data)?;
            if kind != 0x0806 || arp.len() < 28 {
                return None;
            }
            let sender = Ipv4Addr::new(arp[14], arp[15], arp[16], arp[17]);
            let target = Ipv4Addr::new(arp[24], arp[25], arp[26], arp[27]);
            if sender != target {
                return None;
            }
            Some(Garp {
                at: f.at,
                address: sender,
                mac: arp[8..14].try_into().ok()?,
            })
        })
        .collect()
}

/// The ICMPv6 neighbour advertisements (type 136) among `frames`.
pub fn neighbour_adverts(frames: &[Frame]) -> Vec<NeighbourAdvert> {
    frames
        .iter()
        .filter_map(|f| {
            let ip = ip(&f.data)?;
            let (IpAddr::V6(src), IpAddr::V6(dst)) = (ip.src, ip.dst) else {
                return None;
            };
            let icmp = ip.payload;
            if ip.protocol != 58 || icmp.len() < 24 || icmp[0] != 136 {
                return None;
            }
            let target: [u8; 16] = icmp[8..24].try_into().ok()?;
            // Options: type, length in units of 8 bytes, data; 2 is the target's MAC.
            let mut lladdr = None;
            let mut options = &icmp[24..];
            while options.len() >= 8 {
                let len = usize::from(options[1]) * 8;
                if len == 0 || len > options.len() {
                    break;
                }
                if options[0] == 2 {
                    lladdr = options[2..8].try_into().ok();
                }
                options = &options[len..];
            }
            Some(NeighbourAdvert {
                at: f.at,
                frame_src: f.data.get(6..12)?.try_into().ok()?,
                src,
                dst,
                hop_limit: ip.hop_limit,
                router: icmp[4] & 0x80 != 0,
                solicited: icmp[4] & 0x40 != 0,
                override_flag: icmp[4] & 0x20 != 0,
                target: Ipv6Addr::from(target),
                lladdr,
            })
        })
        .collect()
}

/// tcpdump writing one bridge of a lab to a file, nanosecond stamps, each packet at once.
pub struct Capture {
    pub path: PathBuf,
}

impl Capture {
    /// Starts tcpdump on `net`'s bridge in the lab's switch namespace with a pcap
    /// `filter`, and waits until it listens. It runs until the lab is dropped.
    pub fn start(lab: &mut Lab, net: Net, name: &str, filter: &str) -> Result<Capture, Error> {
        let path = lab.dir.join(format!("{name}.pcap"));
        let switch = Host {
            name: "switch".into(),
            namespace: lab.switch.clone(),
            address: String::new(),
        };
        let file = path.to_string_lossy().into_owned();
        lab.spawn(
            &switch,
            &[
                "tcpdump",
                "-i",
                net.bridge(),
                "-n",
                "-U",
                "--immediate-mode",
                "-Z",
                "root",
                "--time-stamp-precision=nano",
                "-w",
                &file,
                filter,
            ],
            name,
        )?;
        lab.wait_log(name, "listening on", Duration::from_secs(10))?;
        Ok(Capture { path })
    }

    /// Every whole frame captured so far.
    pub fn frames(&self) -> Result<Vec<Frame>, Error> {
        frames(&std::fs::read(&self.path)?)
    }

    /// When each frame captured so far was sent to Ethernet address `mac`.
    pub fn times_to(&self, mac: [u8; 6]) -> Result<Vec<SystemTime>, Error> {
        Ok(self
            .frames()?
            .into_iter()
            .filter(|f| f.data.get(..6) == Some(&mac[..]))
            .map(|f| f.at)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(secs: u32, nanos: u32, data: &[u8]) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend_from_slice(&secs.to_le_bytes());
        r.extend_from_slice(&nanos.to_le_bytes());
        r.extend_from_slice(&(data.len() as u32).to_le_bytes());
        r.extend_from_slice(&(data.len() as u32).to_le_bytes());
        r.extend_from_slice(data);
        r
    }

    fn vrrp_frame(src: [u8; 4], priority: u8) -> Vec<u8> {
        let mut f = vec![0x01, 0x00, 0x5e, 0, 0, 0x12, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
        let vrrp = [0x31, 51, priority, 1, 0, 10, 0, 0, 192, 168, 0, 100];
        let total = (20 + vrrp.len()) as u16;
        f.extend_from_slice(&[0x45, 0xc0]);
        f.extend_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0, 0, 255, 112, 0, 0]);
        f.extend_from_slice(&src);
        f.extend_from_slice(&[224, 0, 0, 18]);
        f.extend_from_slice(&vrrp);
        // Ethernet padding to 60 bytes, beyond the IP total length.
        f.resize(60, 0);
        f
    }

    fn garp_frame() -> Vec<u8> {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[2, 0, 0, 0, 0, 2, 0x08, 0x06]);
        f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
        f.extend_from_slice(&[2, 0, 0, 0, 0, 2, 192, 168, 0, 100]);
        f.extend_from_slice(&[0; 6]);
        f.extend_from_slice(&[192, 168, 0, 100]);
        f
    }

    #[test]
    fn reads_adverts_and_garps_with_nanosecond_stamps() {
        let mut file = Vec::new();
        file.extend_from_slice(&MAGIC_NANOS.to_le_bytes());
        file.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        file.extend_from_slice(&262_144u32.to_le_bytes());
        file.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        file.extend_from_slice(&record(
            1_700_000_000,
            5,
            &vrrp_frame([192, 168, 0, 101], 150),
        ));
        file.extend_from_slice(&record(1_700_000_001, 7, &garp_frame()));
        // Half a record, as a capture still running leaves it.
        let half = record(1_700_000_002, 0, &vrrp_frame([192, 168, 0, 102], 100));
        file.extend_from_slice(&half[..30]);

        let frames = frames(&file).unwrap();
        assert_eq!(frames.len(), 2);
        let t0 = SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 5);
        assert_eq!(
            adverts(&frames),
            vec![Advert {
                at: t0,
                src: IpAddr::from([192, 168, 0, 101]),
                dst: IpAddr::from([224, 0, 0, 18]),
                hop_limit: 255,
                version: 3,
                vrid: 51,
                priority: 150
            }]
        );
        assert_eq!(
            garps(&frames),
            vec![Garp {
                at: SystemTime::UNIX_EPOCH + Duration::new(1_700_000_001, 7),
                address: Ipv4Addr::new(192, 168, 0, 100),
                mac: [2, 0, 0, 0, 0, 2]
            }]
        );
        assert!(super::frames(&file[..10]).is_err());
    }

    /// An IPv6 frame from `src` to `dst` with hop limit 255 carrying `payload` of
    /// protocol `next`.
    fn ipv6_frame(mac: [u8; 6], src: Ipv6Addr, dst: Ipv6Addr, next: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0x33, 0x33, 0, 0, 0, 0x12];
        f.extend_from_slice(&mac);
        f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
        f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        f.extend_from_slice(&[next, 255]);
        f.extend_from_slice(&src.octets());
        f.extend_from_slice(&dst.octets());
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn reads_ipv6_adverts_and_neighbour_advertisements() {
        let mac = [2, 0, 0, 0, 0, 2];
        let link_local: Ipv6Addr = "fe80::2".parse().unwrap();
        let vip: Ipv6Addr = "fd00::100".parse().unwrap();
        let mut vrrp = vec![0x31, 51, 150, 1, 0, 10, 0, 0];
        vrrp.extend_from_slice(&vip.octets());
        let group: Ipv6Addr = "ff02::12".parse().unwrap();
        let all_nodes: Ipv6Addr = "ff02::1".parse().unwrap();
        let mut na = vec![136, 0, 0, 0, 0xa0, 0, 0, 0];
        na.extend_from_slice(&vip.octets());
        na.extend_from_slice(&[2, 1]);
        na.extend_from_slice(&mac);
        let mut file = Vec::new();
        file.extend_from_slice(&MAGIC_NANOS.to_le_bytes());
        file.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        file.extend_from_slice(&262_144u32.to_le_bytes());
        file.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        file.extend_from_slice(&record(
            1,
            0,
            &ipv6_frame(mac, link_local, group, 112, &vrrp),
        ));
        file.extend_from_slice(&record(2, 0, &ipv6_frame(mac, vip, all_nodes, 58, &na)));
        let frames = frames(&file).unwrap();
        assert_eq!(
            adverts(&frames),
            vec![Advert {
                at: SystemTime::UNIX_EPOCH + Duration::from_secs(1),
                src: IpAddr::V6(link_local),
                dst: IpAddr::V6(group),
                hop_limit: 255,
                version: 3,
                vrid: 51,
                priority: 150
            }]
        );
        assert_eq!(
            neighbour_adverts(&frames),
            vec![NeighbourAdvert {
                at: SystemTime::UNIX_EPOCH + Duration::from_secs(2),
                frame_src: mac,
                src: vip,
                dst: all_nodes,
                hop_limit: 255,
                router: true,
                solicited: false,
                override_flag: true,
                target: vip,
                lladdr: Some(mac),
            }]
        );
    }
}
