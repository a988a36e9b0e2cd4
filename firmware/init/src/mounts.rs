//! The file systems every later step needs.

use nix::mount::{mount, MsFlags};
use nix::sys::stat::Mode;

struct Mount {
    source: &'static str,
    target: &'static str,
    fstype: &'static str,
    flags: MsFlags,
    data: Option<&'static str>,
}

const MOUNTS: [Mount; 5] = [
    Mount {
        source: "proc",
        target: "/proc",
        fstype: "proc",
        flags: MsFlags::MS_NOSUID
            .union(MsFlags::MS_NODEV)
            .union(MsFlags::MS_NOEXEC),
        data: None,
    },
    Mount {
        source: "sysfs",
        target: "/sys",
        fstype: "sysfs",
        flags: MsFlags::MS_NOSUID
            .union(MsFlags::MS_NODEV)
            .union(MsFlags::MS_NOEXEC),
        data: None,
    },
    Mount {
        source: "devtmpfs",
        target: "/dev",
        fstype: "devtmpfs",
        flags: MsFlags::MS_NOSUID,
        data: Some("mode=0755"),
    },
    Mount {
        source: "tmpfs",
        target: "/run",
        fstype: "tmpfs",
        flags: MsFlags::MS_NOSUID.union(MsFlags::MS_NODEV),
        data: Some("mode=0755,size=16m"),
    },
    Mount {
        source: "tmpfs",
        target: "/tmp",
        fstype: "tmpfs",
        flags: MsFlags::MS_NOSUID.union(MsFlags::MS_NODEV),
        data: Some("mode=1777,size=16m"),
    },
];

/// Mounts proc, sys, devtmpfs, /run and /tmp. A failure is logged and the rest goes on:
/// PID 1 must come up far enough to offer its console whatever happens.
pub fn mount_all() {
    for m in &MOUNTS {
        let _ = nix::unistd::mkdir(m.target, Mode::from_bits_truncate(0o755));
        if let Err(e) = mount(Some(m.source), m.target, Some(m.fstype), m.flags, m.data) {
            if e != nix::errno::Errno::EBUSY {
                log::error!("mounting {} on {}: {}", m.fstype, m.target, e.desc());
            }
        }
    }
}
