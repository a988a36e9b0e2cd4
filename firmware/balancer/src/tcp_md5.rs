//! TCP-MD5 signatures (RFC 2385) on a socket, as BGP routers require them with
//! `neighbor X password S`: Linux's `setsockopt(TCP_MD5SIG)` with the peer's address and
//! the key, set before connect() so that the SYN is signed too. The kernel then signs
//! every segment to that address and drops every unsigned or wrongly signed one.

use std::io;
use std::net::IpAddr;
use std::os::fd::AsRawFd;

/// The kernel's TCP_MD5SIG_MAXKEYLEN (include/uapi/linux/tcp.h).
pub const MAX_KEY: usize = 80;

/// `struct sockaddr_storage`'s size: the first field of `struct tcp_md5sig`.
const ADDR_SIZE: usize = 128;
/// `struct tcp_md5sig` (include/uapi/linux/tcp.h): `tcpm_addr` (a sockaddr_storage),
/// `tcpm_flags` (u8), `tcpm_prefixlen` (u8), `tcpm_keylen` (u16), `tcpm_ifindex` (int),
/// `tcpm_key[80]`. Plain TCP_MD5SIG reads only the address, the key length and the key.
const SIZE: usize = ADDR_SIZE + 1 + 1 + 2 + 4 + MAX_KEY;
const KEYLEN_AT: usize = ADDR_SIZE + 2;
const KEY_AT: usize = ADDR_SIZE + 8;

// The layout above is the kernel's only if libc agrees on the address part.
const _: () = assert!(std::mem::size_of::<libc::sockaddr_storage>() == ADDR_SIZE);

/// `struct tcp_md5sig` for `peer` and `key`, as bytes in the kernel's layout. The
/// address is a `sockaddr_in` or `sockaddr_in6` with port 0 (the kernel ignores it).
fn tcp_md5sig(peer: IpAddr, key: &[u8]) -> io::Result<Aligned> {
    if key.is_empty() || key.len() > MAX_KEY {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("a TCP-MD5 key has 1 to {MAX_KEY} bytes"),
        ));
    }
    let mut b = Aligned([0u8; SIZE]);
    let raw = &mut b.0;
    match peer {
        IpAddr::V4(a) => {
            raw[0..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
            // sin_port (2..4) stays 0; sin_addr is in network order.
            raw[4..8].copy_from_slice(&a.octets());
        }
        IpAddr::V6(a) => {
            raw[0..2].copy_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
            // sin6_port (2..4) and sin6_flowinfo (4..8) stay 0; sin6_scope_id too.
            raw[8..24].copy_from_slice(&a.octets());
        }
    }
    raw[KEYLEN_AT..KEYLEN_AT + 2].copy_from_slice(&(key.len() as u16).to_ne_bytes());
    raw[KEY_AT..KEY_AT + key.len()].copy_from_slice(key);
    Ok(b)
}

/// The struct's bytes, aligned as the kernel's struct is (sockaddr_storage: 8).
#[repr(C, align(8))]
struct Aligned([u8; SIZE]);

/// Signs every segment between `socket` and `peer` with `key`; before connect().
/// The error says what failed and never holds the key.
pub fn set_key(socket: &impl AsRawFd, peer: IpAddr, key: &[u8]) -> io::Result<()> {
    let sig = tcp_md5sig(peer, key)?;
    // SAFETY: `sig` is a live, initialised buffer of exactly `SIZE` bytes laid out as
    // the kernel's `struct tcp_md5sig` (checked above and by the tests), the length
    // passed is its size, and the kernel only reads it during the call. The fd is
    // borrowed from a socket that outlives the call.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_MD5SIG,
            sig.0.as_ptr().cast::<libc::c_void>(),
            SIZE as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        let e = io::Error::last_os_error();
        Err(io::Error::new(
            e.kind(),
            format!("setting the TCP-MD5 key (TCP_MD5SIG) for {peer}: {e}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_struct_has_the_kernel_s_layout() {
        // 216 bytes: what sizeof(struct tcp_md5sig) is on every Linux architecture.
        assert_eq!(SIZE, 216);
        assert_eq!(std::mem::align_of::<Aligned>(), 8);
        let b = tcp_md5sig("192.0.2.1".parse().unwrap(), b"key").unwrap().0;
        assert_eq!(u16::from_ne_bytes([b[0], b[1]]), libc::AF_INET as u16);
        assert_eq!(&b[4..8], &[192, 0, 2, 1]);
        assert_eq!(u16::from_ne_bytes([b[130], b[131]]), 3);
        assert_eq!(&b[136..139], b"key");
        assert!(b[139..].iter().all(|&x| x == 0));
        let b = tcp_md5sig("2001:db8::1".parse().unwrap(), &[b'k'; 80])
            .unwrap()
            .0;
        assert_eq!(u16::from_ne_bytes([b[0], b[1]]), libc::AF_INET6 as u16);
        assert_eq!(b[8..10], [0x20, 0x01]);
        assert_eq!(b[23], 1);
        assert_eq!(u16::from_ne_bytes([b[130], b[131]]), 80);
        assert!(tcp_md5sig("192.0.2.1".parse().unwrap(), &[b'k'; 81]).is_err());
        assert!(tcp_md5sig("192.0.2.1".parse().unwrap(), b"").is_err());
    }

    #[test]
    fn the_kernel_takes_the_key_for_both_families() {
        // Needs a kernel with CONFIG_TCP_MD5SIG (Debian's and the image's have it).
        for (socket, peer) in [
            (std::net::TcpListener::bind("127.0.0.1:0"), "127.0.0.2"),
            (std::net::TcpListener::bind("[::1]:0"), "::2"),
        ] {
            let Ok(socket) = socket else { continue }; // no IPv6 in this sandbox
            set_key(&socket, peer.parse().unwrap(), b"s3cret").unwrap();
            let e = set_key(&socket, "10.0.0.1".parse().unwrap(), &[b'k'; 81]).unwrap_err();
            assert!(!e.to_string().contains("kkk"), "{e}");
        }
        // What the kernel refuses (here an IPv6 peer on an IPv4 socket) is said, without
        // the key.
        let v4 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let e = set_key(&v4, "::2".parse().unwrap(), b"s3cret-never-shown").unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("setting the TCP-MD5 key (TCP_MD5SIG) for ::2: "),
            "{text}"
        );
        assert!(!text.contains("s3cret"), "{text}");
    }
}
