//! A client's view of a service address: ICMP (or ICMPv6) echo requests at a fixed
//! cadence from a lab namespace, and the time each reply arrived. Unlike iputils ping,
//! which slows to one request per 10 ms while replies are missing, the cadence never
//! changes, so the longest silence is measured to within one interval at both ends.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use nix::sys::socket::{
    recv, recvfrom, sendto, setsockopt, socket, sockopt, AddressFamily, MsgFlags, SockFlag,
    SockProtocol, SockType, SockaddrIn6, SockaddrStorage,
};
use nix::sys::time::{TimeVal, TimeValLike};

use crate::command::Error;
use crate::lab::Host;

/// No probe runs longer than this, whatever its caller does.
const LIMIT: Duration = Duration::from_secs(120);
const ECHO_REQUEST_V4: u8 = 8;
const ECHO_REPLY_V4: u8 = 0;
const ECHO_REQUEST_V6: u8 = 128;
const ECHO_REPLY_V6: u8 = 129;

/// One answered request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    pub seq: u16,
    pub at: SystemTime,
}

pub struct Prober {
    replies: Arc<Mutex<Vec<Reply>>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Prober {
    /// Starts probing `target` (IPv4 or IPv6) from `host` every `every`.
    pub fn start(host: &Host, target: IpAddr, every: Duration) -> Result<Prober, Error> {
        let (family, protocol) = match target {
            IpAddr::V4(_) => (AddressFamily::Inet, SockProtocol::Icmp),
            IpAddr::V6(_) => (AddressFamily::Inet6, SockProtocol::IcmpV6),
        };
        let socket = crate::netns::within(host, || {
            socket(family, SockType::Raw, SockFlag::SOCK_CLOEXEC, protocol)
        })?
        .map_err(|e| Error(format!("ICMP socket in {}: {e}", host.name)))?;
        setsockopt(&socket, sockopt::ReceiveTimeout, &TimeVal::milliseconds(20))
            .map_err(|e| Error(format!("SO_RCVTIMEO: {e}")))?;
        let socket = Arc::new(socket);
        let replies = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let id = (std::process::id() & 0xffff) as u16;
        let receiver = {
            let (socket, replies, stop) = (socket.clone(), replies.clone(), stop.clone());
            std::thread::spawn(move || receive(&socket, id, target, &replies, &stop))
        };
        let sender = {
            let (socket, stop) = (socket.clone(), stop.clone());
            std::thread::spawn(move || send(&socket, id, target, every, &stop))
        };
        Ok(Prober {
            replies,
            stop,
            threads: vec![sender, receiver],
        })
    }

    /// Stops and returns every reply, in the order they arrived.
    pub fn finish(mut self) -> Vec<Reply> {
        self.halt();
        std::mem::take(&mut *self.replies.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Prober {
    fn drop(&mut self) {
        self.halt();
    }
}

fn send(socket: &OwnedFd, id: u16, target: IpAddr, every: Duration, stop: &AtomicBool) {
    let to = SockaddrStorage::from(SocketAddr::new(target, 0));
    let began = Instant::now();
    let mut next = began;
    let mut seq: u16 = 0;
    while !stop.load(Ordering::SeqCst) && began.elapsed() < LIMIT {
        let mut request = [0u8; 16];
        request[4..6].copy_from_slice(&id.to_be_bytes());
        request[6..8].copy_from_slice(&seq.to_be_bytes());
        if target.is_ipv4() {
            request[0] = ECHO_REQUEST_V4;
            let sum = !checksum(&request);
            request[2..4].copy_from_slice(&sum.to_be_bytes());
        } else {
            // The kernel computes an ICMPv6 checksum itself (RFC 3542 §3.1).
            request[0] = ECHO_REQUEST_V6;
        }
        // Unreachable for a moment (no neighbour yet) is part of what is measured.
        let _ = sendto(socket.as_raw_fd(), &request, &to, MsgFlags::empty());
        seq = seq.wrapping_add(1);
        // Absolute deadlines: a late wake-up does not shift the ones after it.
        next += every;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else {
            next = now;
        }
    }
}

fn receive(
    socket: &OwnedFd,
    id: u16,
    target: IpAddr,
    replies: &Mutex<Vec<Reply>>,
    stop: &AtomicBool,
) {
    let mut buffer = [0u8; 1500];
    let began = Instant::now();
    while !stop.load(Ordering::SeqCst) && began.elapsed() < LIMIT + Duration::from_secs(1) {
        let seq = match target {
            IpAddr::V4(target) => {
                let Ok(n) = recv(socket.as_raw_fd(), &mut buffer, MsgFlags::empty()) else {
                    continue;
                };
                echo_reply(&buffer[..n], id, target)
            }
            // An ICMPv6 raw socket gives the message alone; the source comes apart.
            IpAddr::V6(target) => {
                let Ok((n, Some(from))) = recvfrom::<SockaddrIn6>(socket.as_raw_fd(), &mut buffer)
                else {
                    continue;
                };
                echo_reply_v6(&buffer[..n], id).filter(|_| from.ip() == target)
            }
        };
        let at = SystemTime::now();
        if let Some(seq) = seq {
            replies
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(Reply { seq, at });
        }
    }
}

/// The sequence number of an echo reply from `from` to our `id`, given the IPv4 datagram.
fn echo_reply(datagram: &[u8], id: u16, from: Ipv4Addr) -> Option<u16> {
    let ihl = usize::from(datagram.first()? & 0x0f) * 4;
    let src = Ipv4Addr::new(
        *datagram.get(12)?,
        *datagram.get(13)?,
        *datagram.get(14)?,
        *datagram.get(15)?,
    );
    let icmp = datagram.get(ihl..ihl + 8)?;
    (src == from).then_some(())?;
    echo_id_seq(icmp, ECHO_REPLY_V4, id)
}

/// The sequence number of an ICMPv6 echo reply to our `id`, given the ICMPv6 message.
fn echo_reply_v6(icmp: &[u8], id: u16) -> Option<u16> {
    echo_id_seq(icmp, ECHO_REPLY_V6, id)
}

fn echo_id_seq(icmp: &[u8], reply_type: u8, id: u16) -> Option<u16> {
    let icmp = icmp.get(..8)?;
    let reply_id = u16::from_be_bytes([icmp[4], icmp[5]]);
    (icmp[0] == reply_type && reply_id == id).then(|| u16::from_be_bytes([icmp[6], icmp[7]]))
}

fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in bytes.chunks(2) {
        sum += u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// The longest time between two consecutive replies, the later one after `after`: the
/// last reply before the silence and the first one after it.
pub fn longest_silence(replies: &[Reply], after: SystemTime) -> Option<(SystemTime, SystemTime)> {
    replies
        .windows(2)
        .filter(|w| w[1].at > after)
        .filter_map(|w| Some((w[1].at.duration_since(w[0].at).ok()?, (w[0].at, w[1].at))))
        .max_by_key(|(gap, _)| *gap)
        .map(|(_, span)| span)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_our_echo_replies() {
        let vip = Ipv4Addr::new(192, 168, 0, 100);
        let mut d = vec![
            0x45, 0, 0, 36, 0, 0, 0, 0, 64, 1, 0, 0, 192, 168, 0, 100, 192, 168, 0, 50,
        ];
        d.extend_from_slice(&[0, 0, 0, 0, 0x12, 0x34, 0, 7]);
        assert_eq!(echo_reply(&d, 0x1234, vip), Some(7));
        assert_eq!(echo_reply(&d, 0x1235, vip), None);
        assert_eq!(
            echo_reply(&d, 0x1234, Ipv4Addr::new(192, 168, 0, 101)),
            None
        );
        d[20] = 8; // our own request, looped back
        assert_eq!(echo_reply(&d, 0x1234, vip), None);
        assert_eq!(echo_reply(&d[..24], 0x1234, vip), None);
    }

    #[test]
    fn reads_only_our_icmpv6_echo_replies() {
        let reply = [129, 0, 0xab, 0xcd, 0x12, 0x34, 0, 9];
        assert_eq!(echo_reply_v6(&reply, 0x1234), Some(9));
        assert_eq!(echo_reply_v6(&reply, 0x1235), None);
        let mut request = reply;
        request[0] = 128;
        assert_eq!(echo_reply_v6(&request, 0x1234), None);
        assert_eq!(echo_reply_v6(&reply[..7], 0x1234), None);
    }

    #[test]
    fn checksum_of_an_echo_request() {
        // RFC 1071's example words sum to 0xddf2 before the complement.
        let words = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum(&words), 0xddf2);
    }

    #[test]
    fn longest_silence_after_a_moment() {
        let t = |ms| SystemTime::UNIX_EPOCH + Duration::from_millis(ms);
        let r: Vec<Reply> = [0, 2, 4, 60, 62, 200, 202]
            .iter()
            .map(|&ms| Reply { seq: 0, at: t(ms) })
            .collect();
        assert_eq!(longest_silence(&r, t(0)), Some((t(62), t(200))));
        assert_eq!(longest_silence(&r, t(201)), Some((t(200), t(202))));
        assert_eq!(longest_silence(&r[..1], t(0)), None);
    }
}
