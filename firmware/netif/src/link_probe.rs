//! Link state and MAC address by ioctl on a datagram socket: cheap enough to poll for
//! track_interface, and always about the caller's network namespace (sysfs shows the
//! namespace of whoever mounted it).

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::libc;
use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};

// The ioctl request number is a c_ulong in glibc and a c_int in musl: `as _` fits both.
pub struct LinkProbe {
    socket: OwnedFd,
}

fn request(name: &str) -> io::Result<libc::ifreq> {
    // SAFETY: ifreq is plain data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= req.ifr_name.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "interface name",
        ));
    }
    for (dst, src) in req.ifr_name.iter_mut().zip(bytes) {
        *dst = *src as libc::c_char;
    }
    Ok(req)
}

impl LinkProbe {
    pub fn new() -> io::Result<LinkProbe> {
        let socket = socket(
            AddressFamily::Inet,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .map_err(io::Error::from)?;
        Ok(LinkProbe { socket })
    }

    /// keepalived's notion of a usable interface: administratively up with a carrier
    /// (IFF_UP and IFF_RUNNING). A link that no longer exists is down.
    pub fn is_up(&self, name: &str) -> bool {
        let Ok(mut req) = request(name) else {
            return false;
        };
        // SAFETY: SIOCGIFFLAGS reads into the ifreq we own, of the size the kernel expects.
        let rc = unsafe { libc::ioctl(self.socket.as_raw_fd(), libc::SIOCGIFFLAGS as _, &mut req) };
        if rc < 0 {
            return false;
        }
        // SAFETY: after SIOCGIFFLAGS the union holds ifru_flags.
        let flags = i32::from(unsafe { req.ifr_ifru.ifru_flags });
        flags & libc::IFF_UP != 0 && flags & libc::IFF_RUNNING != 0
    }

    pub fn mac(&self, name: &str) -> io::Result<[u8; 6]> {
        let mut req = request(name)?;
        // SAFETY: SIOCGIFHWADDR reads into the ifreq we own.
        let rc =
            unsafe { libc::ioctl(self.socket.as_raw_fd(), libc::SIOCGIFHWADDR as _, &mut req) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: after SIOCGIFHWADDR the union holds ifru_hwaddr.
        let data = unsafe { req.ifr_ifru.ifru_hwaddr.sa_data };
        let mut mac = [0u8; 6];
        for (dst, src) in mac.iter_mut().zip(data.iter()) {
            *dst = *src as u8;
        }
        Ok(mac)
    }
}
