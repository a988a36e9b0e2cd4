//! `lvsfw ping ADDRESS [COUNT]`: ICMP echo requests on a raw socket, one a second, each
//! answered within a second or counted lost; at most [`MAX_COUNT`], so the console's
//! `ping` always ends by itself.

use std::io::Write;
use std::mem::MaybeUninit;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use checks::icmp;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

pub const DEFAULT_COUNT: u16 = 4;
pub const MAX_COUNT: u16 = 10;
const WAIT: Duration = Duration::from_secs(1);
const PAYLOAD: &[u8] = b"lvsfw ping lvsfw ping lvsfw ping lvsfw ping lvsfw ping ";

/// An echo request with our payload (the packet format is `checks::icmp`'s, shared with
/// PING_CHECK).
fn request(v6: bool, id: u16, seq: u16) -> Vec<u8> {
    let mut packet = [0u8; icmp::HEADER_LEN + PAYLOAD.len()];
    let len = icmp::write_request(&mut packet, v6, id, seq, PAYLOAD).unwrap_or(0);
    packet[..len].to_vec()
}

/// The sequence number of an echo reply to `id`, if `received` is one.
fn reply_sequence(v6: bool, received: &[u8], id: u16) -> Option<u16> {
    icmp::parse_reply(v6, received)
        .filter(|reply| reply.id == id)
        .map(|reply| reply.seq)
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
