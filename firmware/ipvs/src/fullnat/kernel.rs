//! The netlink side of FNAT: one transaction written to the kernel's nf_tables and its
//! answers read, bounded by a receive timeout. What the transaction holds is the pure
//! part, in the parent module.

use std::io;
use std::time::Duration;

use netlink_sys::{Socket, SocketAddr};

use super::{transaction, SourceNat, NETLINK_NETFILTER, NLMSG_ERROR};

/// At most this many rules: one transaction is one write to the socket.
pub const MAX_RULES: usize = 4096;
const RECEIVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Makes the kernel's `inet lvsfw` table hold exactly `rules`. The error says what the
/// kernel refused (errno); the table is then as it was before.
pub fn apply(rules: &[SourceNat]) -> io::Result<()> {
    if rules.len() > MAX_RULES {
        return Err(io::Error::other(format!(
            "{} FNAT rules, at most {MAX_RULES}",
            rules.len()
        )));
    }
    let mut socket = Socket::new(NETLINK_NETFILTER)?;
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;
    crate::client::set_receive_timeout(&socket, RECEIVE_TIMEOUT)?;
    let (bytes, mut waiting) = transaction(rules, std::process::id().wrapping_mul(65536));
    socket.send(&bytes, 0)?;
    let mut buffer = vec![0u8; 64 * 1024];
    // Each acknowledged message gets one answer; every read is bounded by the timeout.
    while !waiting.is_empty() {
        let n = socket.recv(&mut &mut buffer[..], 0)?;
        let mut rest = &buffer[..n];
        while rest.len() >= 16 {
            let len = u32::from_ne_bytes(rest[0..4].try_into().unwrap_or_default()) as usize;
            let kind = u16::from_ne_bytes([rest[4], rest[5]]);
            let sequence = u32::from_ne_bytes(rest[8..12].try_into().unwrap_or_default());
            if len < 16 || len > rest.len() {
                return Err(io::Error::other("nf_tables: a malformed answer"));
            }
            if kind == NLMSG_ERROR && len >= 20 {
                let code = i32::from_ne_bytes(rest[16..20].try_into().unwrap_or_default());
                if code != 0 {
                    return Err(io::Error::other(format!(
                        "nf_tables refused the FNAT table: {}",
                        io::Error::from_raw_os_error(-code)
                    )));
                }
                waiting.retain(|s| *s != sequence);
            }
            rest = &rest[len.next_multiple_of(4).min(rest.len())..];
        }
    }
    Ok(())
}
