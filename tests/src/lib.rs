//! The lab every system test uses: network namespaces with the bridges `ext`, `int` and
//! `mgmt`, host namespaces for clients and real servers, and lvsfw appliances booted in
//! QEMU (software emulation) on tap devices in those bridges, their serial console and
//! monitor on unix sockets.
//!
//! Everything a lab makes is removed when it is dropped, also when a test panics:
//! appliances are killed by PID, spawned programs too, then the namespaces are deleted,
//! which removes every veth and tap in them. Nothing in a lab has a route out of it.

pub mod addr_watch;
mod appliance;
pub mod bench_results;
pub mod bgp_peers;
pub mod bird_router;
pub mod browser;
pub mod churn;
mod command;
mod console;
mod cpio;
pub mod disk_image;
pub mod ecmp_router;
pub mod flows;
pub mod host_program;
pub mod http;
mod lab;
mod moments;
pub mod netns;
pub mod pcap;
pub mod peers;
pub mod pinned;
pub mod prober;
pub mod programs;
pub mod seed;
pub mod updates;

pub use appliance::{machine as qemu_machine, Appliance, ApplianceSpec, Boot};
pub use command::{run, Error};
pub use console::Console;
pub use lab::{Host, Lab, Net};
pub use moments::Moments;

/// Where `scripts/build-image qemu-x86_64` left the kernel and initramfs.
pub fn image_dir() -> std::path::PathBuf {
    match std::env::var_os("LVSFW_OUT") {
        Some(dir) => dir.into(),
        None => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../out/qemu-x86_64"),
    }
}

/// The lab's two networks as DESIGN.md gives them (192.168.0.0/24 outside,
/// 192.168.33.0/24 inside), as keepalived-style configurations name them.
pub mod addresses {
    pub const VIP: &str = "192.168.0.100";
    pub const LB1_EXT: &str = "192.168.0.101";
    pub const LB2_EXT: &str = "192.168.0.102";
    pub const CLIENT: &str = "192.168.0.50";
    pub const GATEWAY_VIP: &str = "192.168.33.10";
    pub const LB1_INT: &str = "192.168.33.20";
    pub const LB2_INT: &str = "192.168.33.21";
    pub const RS1: &str = "192.168.33.11";
    pub const RS2: &str = "192.168.33.12";

    /// The same networks over IPv6 (issue 17's dual-stack lab): fd00::/64 outside,
    /// fd00:33::/64 inside, fd00:2::/64 for management, the same last numbers.
    pub const VIP6: &str = "fd00::100";
    pub const LB1_EXT6: &str = "fd00::101";
    pub const LB2_EXT6: &str = "fd00::102";
    pub const CLIENT6: &str = "fd00::50";
    pub const GATEWAY_VIP6: &str = "fd00:33::10";
    pub const LB1_INT6: &str = "fd00:33::20";
    pub const LB2_INT6: &str = "fd00:33::21";
    pub const RS1_6: &str = "fd00:33::11";
    pub const RS2_6: &str = "fd00:33::12";
    pub const LB1_MGMT6: &str = "fd00:2::16";
    pub const LB2_MGMT6: &str = "fd00:2::15";
    pub const ADMIN6: &str = "fd00:2::50";
}
