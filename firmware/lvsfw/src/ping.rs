//! `lvsfw ping ADDRESS [COUNT]`: ICMP echo requests on a raw socket, one a second, each
//! answered within a second or counted lost; at most [`MAX_COUNT`], so the console's
//! `ping` always ends by itself.

use std::io::Write;
use std::mem::MaybeUninit;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

pub const DEFAULT_COUNT: u16 = 4;
pub const MAX_COUNT: u16 = 10;
const WAIT: Duration = Duration::from_secs(1);
const PAYLOAD: &[u8] = b"lvsfw ping lvsfw ping lvsfw ping lvsfw ping lvsfw ping ";

/// RFC 1071 checksum.
fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An echo request: type, code, checksum (the kernel fills it in for ICMPv6), id, sequence.
pub fn request(v6: bool, id: u16, seq: u16) -> Vec<u8> {
    let mut packet = vec![if v6 { 128 } else { 8 }, 0, 0, 0];
    packet.extend_from_slice(&id.to_be_bytes());
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(PAYLOAD);
    if !v6 {
        let sum = checksum(&packet);
        packet[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    packet
}

/// The sequence number of an echo reply to `id`, if `received` is one. An IPv4 raw socket
/// hands over the IP header too; an IPv6 one does not.
pub fn reply_sequence(v6: bool, received: &[u8], id: u16) -> Option<u16> {
    let icmp = if v6 {
        received
    } else {
        let header_len = usize::from(received.first()? & 0x0f) * 4;
        received.get(header_len..)?
    };
    let reply_type = if v6 { 129 } else { 0 };
    if icmp.len() < 8 || icmp[0] != reply_type || icmp[1] != 0 {
        return None;
    }
    if u16::from_be_bytes([icmp[4], icmp[5]]) != id {
        return None;
    }
    Some(u16::from_be_bytes([icmp[6], icmp[7]]))
}

pub fn run(args: &[String]) -> ExitCode {
    let (address, count) = match args {
        [a] => (a, DEFAULT_COUNT),
        [a, n] => match n.parse::<u16>() {
            Ok(n) if (1..=MAX_COUNT).contains(&n) => (a, n),
            _ => {
                eprintln!("ping: COUNT is from 1 to {MAX_COUNT}");
                return ExitCode::from(2);
            }
        },
        _ => {
            eprintln!("usage: lvsfw ping ADDRESS [COUNT]");
            return ExitCode::from(2);
        }
    };
    let Ok(address) = address.parse::<IpAddr>() else {
        eprintln!("ping: \"{address}\" is not an IPv4 or IPv6 address");
        return ExitCode::from(2);
    };
    match ping(address, count) {
        Ok(0) => ExitCode::FAILURE,
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            println!("ping {address}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Sends `count` requests; returns how many were answered.
fn ping(address: IpAddr, count: u16) -> std::io::Result<u16> {
    let v6 = address.is_ipv6();
    let socket = if v6 {
        Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6))?
    } else {
        Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4))?
    };
    let to = SockAddr::from(SocketAddr::new(address, 0));
    let id = (std::process::id() & 0xffff) as u16;
    let mut out = std::io::stdout();
    let _ = writeln!(out, "PING {address}: {count} requests, 1 s apart");
    let mut received = 0u16;
    let mut times = Vec::new();
    for seq in 1..=count {
        let sent = Instant::now();
        if let Err(e) = socket.send_to(&request(v6, id, seq), &to) {
            let _ = writeln!(out, "seq {seq}: not sent: {e}");
        } else {
            match wait_reply(&socket, v6, id, seq, sent + WAIT)? {
                Some(took) => {
                    received += 1;
                    times.push(took);
                    let _ = writeln!(
                        out,
                        "reply from {address}: seq {seq} time {:.2} ms",
                        took.as_secs_f64() * 1000.0
                    );
                }
                None => {
                    let _ = writeln!(out, "seq {seq}: no reply within {} s", WAIT.as_secs());
                }
            }
        }
        if seq < count {
            std::thread::sleep((sent + WAIT).saturating_duration_since(Instant::now()));
        }
    }
    let loss = 100 * u32::from(count - received) / u32::from(count);
    let _ = write!(
        out,
        "--- {address}: {count} sent, {received} received, {loss}% loss"
    );
    if let (Some(min), Some(max)) = (times.iter().min(), times.iter().max()) {
        let avg = times.iter().sum::<Duration>() / times.len() as u32;
        let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
        let _ = write!(
            out,
            ", time min/avg/max {:.2}/{:.2}/{:.2} ms",
            ms(min),
            ms(&avg),
            ms(max)
        );
    }
    let _ = writeln!(out);
    Ok(received)
}

fn wait_reply(
    socket: &Socket,
    v6: bool,
    id: u16,
    seq: u16,
    deadline: Instant,
) -> std::io::Result<Option<Duration>> {
    let started = deadline - WAIT;
    let mut buf = [MaybeUninit::<u8>::uninit(); 2048];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        socket.set_read_timeout(Some(left))?;
        match socket.recv(&mut buf) {
            Ok(n) => {
                // SAFETY: recv initialized the first n bytes.
                let bytes: Vec<u8> = buf[..n]
                    .iter()
                    .map(|b| unsafe { b.assume_init() })
                    .collect();
                if reply_sequence(v6, &bytes, id) == Some(seq) {
                    return Ok(Some(started.elapsed()));
                }
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return Ok(None)
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv4_request_carries_a_valid_checksum() {
        let p = request(false, 0x1234, 7);
        assert_eq!(&p[..2], &[8, 0]);
        assert_eq!(&p[4..8], &[0x12, 0x34, 0, 7]);
        // The checksum over a packet including its checksum is 0.
        assert_eq!(checksum(&p), 0);
        assert_eq!(request(true, 1, 1)[0], 128);
    }

    #[test]
    fn replies_are_matched_by_id_and_type() {
        // An IPv4 header of 20 bytes, then an echo reply.
        let mut v4 = vec![0x45];
        v4.resize(20, 0);
        v4.extend_from_slice(&[0, 0, 0, 0, 0x12, 0x34, 0, 7]);
        assert_eq!(reply_sequence(false, &v4, 0x1234), Some(7));
        assert_eq!(reply_sequence(false, &v4, 0x1235), None);
        // Our own request, seen on the raw socket, is not a reply.
        let mut own = vec![0x45];
        own.resize(20, 0);
        own.extend_from_slice(&request(false, 0x1234, 7));
        assert_eq!(reply_sequence(false, &own, 0x1234), None);
        assert_eq!(
            reply_sequence(true, &[129, 0, 0, 0, 0, 1, 0, 2], 1),
            Some(2)
        );
        assert_eq!(reply_sequence(false, &[0x4f], 1), None);
        assert_eq!(reply_sequence(true, &[], 1), None);
    }
}
