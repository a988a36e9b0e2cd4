//! Reads what `tcpdump -w` wrote (the classic pcap format: a 24-byte file header, then
//! a 16-byte header per frame) and picks out VRRP advertisements and ARP announcements.
//! A file still being written may end in half a frame; that frame is left out.

use std::net::Ipv4Addr;
use std::time::{Duration, SystemTime};

use crate::command::Error;

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

/// One VRRP advertisement seen on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advert {
    pub at: SystemTime,
    pub src: Ipv4Addr,
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

/// The IPv4 packet in an Ethernet frame (one 802.1Q tag skipped), as its payload and
/// protocol number and its source, or None.
fn ipv4(frame: &[u8]) -> Option<(u8, Ipv4Addr, &[u8])> {
    let (ethertype, rest) = ethertype(frame)?;
    if ethertype != 0x0800 {
        return None;
    }
    let ihl = usize::from(rest.first()? & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([*rest.get(2)?, *rest.get(3)?]));
    let protocol = *rest.get(9)?;
    let src = Ipv4Addr::new(
        *rest.get(12)?,
        *rest.get(13)?,
        *rest.get(14)?,
        *rest.get(15)?,
    );
    Some((protocol, src, rest.get(ihl..total.min(rest.len()))?))
}

fn ethertype(frame: &[u8]) -> Option<(u16, &[u8])> {
    let kind = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    if kind == 0x8100 {
        let inner = u16::from_be_bytes([*frame.get(16)?, *frame.get(17)?]);
        return Some((inner, frame.get(18..)?));
    }
    Some((kind, frame.get(14..)?))
}

/// The VRRP advertisements (IP protocol 112, v2 or v3) among `frames`.
pub fn adverts(frames: &[Frame]) -> Vec<Advert> {
    frames
        .iter()
        .filter_map(|f| {
            let (protocol, src, vrrp) = ipv4(&f.data)?;
            if protocol != 112 || vrrp.len() < 8 {
                return None;
            }
            Some(Advert {
                at: f.at,
                src,
                version: vrrp[0] >> 4,
                vrid: vrrp[1],
                priority: vrrp[2],
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
                src: Ipv4Addr::new(192, 168, 0, 101),
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
}
