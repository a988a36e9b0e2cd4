//! ICMP and ICMPv6 echo, the packets of PING_CHECK and of the console's `ping`: the request
//! to send and the reply to wait for (RFC 792 "Echo or Echo Reply Message", RFC 4443 §4.1
//! and §4.2). No I/O.
//!
//! Both are read from and written to raw sockets: an IPv4 raw socket hands over the IP
//! header with each packet, an IPv6 one does not (RFC 3542 §3), and the kernel fills in the
//! ICMPv6 checksum itself (RFC 3542 §3.1), but not the ICMPv4 one.

/// type, code, checksum, identifier, sequence number.
pub const HEADER_LEN: usize = 8;
pub const ECHO_REQUEST_V4: u8 = 8;
pub const ECHO_REPLY_V4: u8 = 0;
pub const ECHO_REQUEST_V6: u8 = 128;
pub const ECHO_REPLY_V6: u8 = 129;

/// The data of PING_CHECK's echo requests: keepalived sends 128 bytes after the header.
pub const CHECK_PAYLOAD_LEN: usize = 128;
/// The largest request [`write_request`] is asked to build here.
pub const MAX_REQUEST: usize = HEADER_LEN + CHECK_PAYLOAD_LEN;

/// The Internet checksum (RFC 1071) of `bytes`.
pub fn checksum(bytes: &[u8]) -> u16 {
    let mut chunks = bytes.chunks_exact(2);
    let mut sum: u32 = chunks
        .by_ref()
        .map(|pair| u32::from(u16::from_be_bytes([pair[0], pair[1]])))
        .sum();
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Writes an echo request with `payload` into the start of `out` and returns its length
/// (`None` if `out` is too small). The ICMPv4 checksum is filled in; ICMPv6's is left 0
/// for the kernel.
pub fn write_request(out: &mut [u8], v6: bool, id: u16, seq: u16, payload: &[u8]) -> Option<usize> {
    let len = HEADER_LEN + payload.len();
    let packet = out.get_mut(..len)?;
    packet[0] = if v6 { ECHO_REQUEST_V6 } else { ECHO_REQUEST_V4 };
    packet[1] = 0;
    packet[2..4].fill(0);
    packet[4..6].copy_from_slice(&id.to_be_bytes());
    packet[6..8].copy_from_slice(&seq.to_be_bytes());
    packet[HEADER_LEN..].copy_from_slice(payload);
    if !v6 {
        let sum = checksum(packet);
        packet[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    Some(len)
}

/// The identifier and sequence number of an echo reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EchoReply {
    pub id: u16,
    pub seq: u16,
}

/// The echo reply in what a raw socket of this family received, if it is one.
pub fn parse_reply(v6: bool, received: &[u8]) -> Option<EchoReply> {
    let icmp = if v6 {
        received
    } else {
        // IHL counts 32-bit words (RFC 791 §3.1); anything under 5 is not IPv4.
        let ihl = usize::from(received.first()? & 0x0f);
        if ihl < 5 {
            return None;
        }
        received.get(ihl * 4..)?
    };
    let reply_type = if v6 { ECHO_REPLY_V6 } else { ECHO_REPLY_V4 };
    if icmp.len() < HEADER_LEN || icmp[0] != reply_type || icmp[1] != 0 {
        return None;
    }
    Some(EchoReply {
        id: u16::from_be_bytes([icmp[4], icmp[5]]),
        seq: u16::from_be_bytes([icmp[6], icmp[7]]),
    })
}

/// PING_CHECK's payload: text of our own, like keepalived's "keepalived check - " filler,
/// so that a capture shows what sent it.
pub fn check_payload() -> [u8; CHECK_PAYLOAD_LEN] {
    let text = b"lvsfw PING_CHECK ";
    std::array::from_fn(|i| text[i % text.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(v6: bool, id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
        let mut out = [0u8; 256];
        let len = write_request(&mut out, v6, id, seq, payload).unwrap();
        out[..len].to_vec()
    }

    #[test]
    fn an_ipv4_request_carries_a_valid_checksum() {
        let p = request(false, 0x1234, 7, b"abc");
        assert_eq!(&p[..2], &[ECHO_REQUEST_V4, 0]);
        assert_eq!(&p[4..8], &[0x12, 0x34, 0, 7]);
        assert_eq!(&p[8..], b"abc");
        // The checksum over a packet including its checksum is 0 (RFC 1071), also for an
        // odd length.
        assert_eq!(checksum(&p), 0);
        let even = request(false, 0xffff, 0xffff, b"ab");
        assert_eq!(checksum(&even), 0);
    }

    #[test]
    fn the_checksum_of_rfc_1071s_example() {
        // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2, so the checksum is 220d.
        assert_eq!(
            checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0x220d
        );
    }

    #[test]
    fn an_ipv6_request_leaves_the_checksum_to_the_kernel() {
        let p = request(true, 1, 2, b"x");
        assert_eq!(p, [ECHO_REQUEST_V6, 0, 0, 0, 0, 1, 0, 2, b'x']);
        let mut small = [0u8; 8];
        assert_eq!(write_request(&mut small, true, 1, 2, b"x"), None);
    }

    #[test]
    fn replies_are_recognised_by_type_behind_the_ipv4_header() {
        let mut v4 = vec![0x45];
        v4.resize(20, 0);
        v4.extend_from_slice(&[ECHO_REPLY_V4, 0, 0, 0, 0x12, 0x34, 0, 7]);
        assert_eq!(
            parse_reply(false, &v4),
            Some(EchoReply { id: 0x1234, seq: 7 })
        );
        // An IPv4 header with options (IHL 6).
        let mut options = vec![0x46];
        options.resize(24, 0);
        options.extend_from_slice(&[ECHO_REPLY_V4, 0, 0, 0, 0, 9, 0, 1]);
        assert_eq!(
            parse_reply(false, &options),
            Some(EchoReply { id: 9, seq: 1 })
        );
        // Our own request, seen on the raw socket over loopback, is not a reply.
        let mut own = vec![0x45];
        own.resize(20, 0);
        own.extend_from_slice(&request(false, 0x1234, 7, b""));
        assert_eq!(parse_reply(false, &own), None);
        assert_eq!(
            parse_reply(true, &[ECHO_REPLY_V6, 0, 0, 0, 0, 1, 0, 2]),
            Some(EchoReply { id: 1, seq: 2 })
        );
        // Truncated, a nonzero code, a bad IHL.
        assert_eq!(parse_reply(true, &[ECHO_REPLY_V6, 0, 0, 0, 0, 1, 0]), None);
        assert_eq!(
            parse_reply(true, &[ECHO_REPLY_V6, 1, 0, 0, 0, 1, 0, 2]),
            None
        );
        assert_eq!(parse_reply(false, &[0x41, 0, 0, 0]), None);
        assert_eq!(parse_reply(false, &[]), None);
    }

    #[test]
    fn the_check_payload_is_keepalived_sized_text() {
        let payload = check_payload();
        assert_eq!(payload.len(), 128);
        assert!(payload.starts_with(b"lvsfw PING_CHECK lvsfw"));
    }
}
