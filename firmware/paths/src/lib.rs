//! The filesystem contract: every file lvsfw keeps under `/etc/lvsfw` (the configuration
//! in service and what the image brings) and `/run/lvsfw` (state between processes, gone
//! at reboot), named once, each with who writes it and who reads it, and the one way a
//! file is replaced whole ([`write_atomic`]).
//!
//! PID 1, the balancer and the command-line front ends are separate processes that talk
//! through these files; naming them here (and not in whichever module happens to write
//! one) lets each of them use a file without reaching into another's module for a path.
//! No dependency beyond std, so every crate of the firmware can use it.

mod atomic;

pub use atomic::{write_atomic, write_secret, MAX_LEN};

/// The configuration in service and the image's own files (an initramfs: the running
/// configuration is saved to disk by `config save`, not by living here).
pub const ETC_DIR: &str = "/etc/lvsfw";
/// State shared between PID 1, the balancer and the front ends (tmpfs); PID 1 makes it.
pub const RUN_DIR: &str = "/run/lvsfw";

// --- /etc/lvsfw ---------------------------------------------------------------------

/// The board file (NIC roles, console, hostname). Written by the image build; read by
/// PID 1 (start the balancer, console), the balancer, `config` (ops) and `update`.
pub const BOARD: &str = "/etc/lvsfw/board.conf";
/// The native configuration in service. Written by the image build (factory) and by ops
/// (`config apply`, restore at boot, the page); read by the balancer and ops.
pub const CONFIG_JSON: &str = "/etc/lvsfw/config.json";
/// The keepalived.conf in service, when there is one. Written and read as
/// [`CONFIG_JSON`].
pub const KEEPALIVED_CONF: &str = "/etc/lvsfw/keepalived.conf";
/// The image's version. Written by the image build; read by `show version`, `update`
/// and the page (slots).
pub const VERSION: &str = "/etc/lvsfw/version";
/// The page's certificates and keys (own.key, own.crt, installed.key, installed.crt;
/// mode 0700, files 0600). Written by ops (first boot, `certificate install`, restore);
/// read by the balancer's page and ops.
pub const TLS_DIR: &str = "/etc/lvsfw/tls";
/// Present only in a test image (`LVSFW_TEST_BREAK_BALANCER=1 scripts/build-image`):
/// written by the image build; read by the balancer, which then fails at start.
pub const TEST_BREAK_BALANCER: &str = "/etc/lvsfw/test-break-balancer";

// --- /run/lvsfw ---------------------------------------------------------------------

/// The staged native configuration. Written and read by ops (`config` at the console).
pub const CANDIDATE_JSON: &str = "/run/lvsfw/candidate.json";
/// The staged keepalived.conf. Written by ops (`config import`, `config edit`); read by
/// ops.
pub const CANDIDATE_CONF: &str = "/run/lvsfw/candidate.conf";
/// The running configuration's digest when the candidate was started. Written and read
/// by ops (`config apply` refuses a candidate the running configuration moved on from).
pub const CANDIDATE_BASE: &str = "/run/lvsfw/candidate.base";
/// Who staged what in the candidate, a line each (at most 20). Written by ops (every
/// staged change, console or page); read by the page's pending-changes line.
pub const CANDIDATE_CHANGES: &str = "/run/lvsfw/candidate.changes";
/// The digest of what a reboot would bring back. Written by ops (`config save`, restore
/// at boot); read by ops (whether the running configuration is saved).
pub const SAVED_DIGEST: &str = "/run/lvsfw/saved.sha256";
/// A change waiting for its confirmation. Written by ops (`config apply confirm`, the
/// page); read by ops, PID 1 (`show config`) and the page.
pub const ROLLBACK: &str = "/run/lvsfw/rollback.json";
/// Why the saved configuration did not come back at boot. Written by `config restore`
/// (and PID 1 when the restore did not finish); read by PID 1 (the recovery prompt) and
/// the page, which stays closed while it exists (what runs is not the operator's).
pub const RESTORE_FAILED: &str = "/run/lvsfw/restore-failed";
/// First-boot setup's defaults (address, gateway, hostname, VLAN; a line each). Written
/// by `config restore`/`config login`; read by PID 1 (the setup dialogue).
pub const SETUP_DEFAULTS: &str = "/run/lvsfw/setup.defaults";
/// Where the EFI system partition is mounted read-only. Mounted by the slot code
/// (`update`, `show version`, the boot trial); read by the same.
pub const ESP_MOUNT: &str = "/run/lvsfw/esp";
/// One update at a time: locked (flock) by `update`.
pub const UPDATE_LOCK: &str = "/run/lvsfw/update.lock";
/// A keepalived.conf pasted at the console. Written by PID 1; read by `config import`.
pub const PASTED_CONF: &str = "/run/lvsfw/pasted.conf";
/// A certificate and key pasted at the console. Written by PID 1; read by
/// `certificate install`.
pub const PASTED_CERTIFICATE: &str = "/run/lvsfw/pasted-certificate.pem";
/// The audit datagram socket. Bound by PID 1; every front end sends to it.
pub const AUDIT_SOCKET: &str = "/run/lvsfw/audit.sock";
/// The audit trail as shown. Written by PID 1; read by `show audit` and the page.
pub const AUDIT: &str = "/run/lvsfw/audit";
/// The balancer's control socket. Served by the balancer; `config` connects to it (reload).
pub const BALANCER_SOCKET: &str = "/run/lvsfw/balancer.sock";
/// `starting` or `ready`, rewritten about once a second. Written by the balancer; read by
/// PID 1 (boot-slot trial, watchdog).
pub const HEARTBEAT: &str = "/run/lvsfw/heartbeat";
/// What is configured but does not run, a line each (empty: everything runs). Written
/// by the balancer whenever it changes; read by PID 1 (`show status`).
pub const NOT_RUNNING: &str = "/run/lvsfw/not-running";
/// The balancer's time status. Written by the balancer's time task; read by PID 1
/// (`show time`).
pub const TIME: &str = "/run/lvsfw/time";
/// The VRRP instances' state. Written by the balancer's VRRP (and `lvsfw run`); read by
/// the page.
pub const VRRP_STATUS: &str = "/run/lvsfw/vrrp.json";
/// The BGP speaker's neighbors and prefixes. Written by the balancer's BGP task (and
/// `lvsfw run`); read by `show bgp` (`lvsfw bgp status`) and the page.
pub const BGP_STATUS: &str = "/run/lvsfw/bgp.json";
/// Present while the box is drained (every BGP prefix withdrawn, flows still served):
/// written and removed by ops (`drain`, the page's Drain); read by the balancer on the
/// reload that follows. In /run, so that a reboot ends a drain.
pub const DRAIN: &str = "/run/lvsfw/drain";
/// The IPVS services lvsfw made, so a restarted balancer removes only its own. Written
/// and read by the balancer's IPVS worker (and `lvsfw run`).
pub const IPVS_OWNED: &str = "/run/lvsfw/ipvs.owned";
/// The links, addresses and routes lvsfw made (same reason). Written and read by the
/// balancer's interfaces.
pub const NETIF_OWNED: &str = "/run/lvsfw/netif.owned";

/// Every path above, for the checks below and for anyone listing them.
pub const ALL: &[&str] = &[
    BOARD,
    CONFIG_JSON,
    KEEPALIVED_CONF,
    VERSION,
    TLS_DIR,
    TEST_BREAK_BALANCER,
    CANDIDATE_JSON,
    CANDIDATE_CONF,
    CANDIDATE_BASE,
    CANDIDATE_CHANGES,
    SAVED_DIGEST,
    ROLLBACK,
    RESTORE_FAILED,
    SETUP_DEFAULTS,
    ESP_MOUNT,
    UPDATE_LOCK,
    PASTED_CONF,
    PASTED_CERTIFICATE,
    AUDIT_SOCKET,
    AUDIT,
    BALANCER_SOCKET,
    HEARTBEAT,
    NOT_RUNNING,
    TIME,
    VRRP_STATUS,
    BGP_STATUS,
    DRAIN,
    IPVS_OWNED,
    NETIF_OWNED,
];

/// The image's modprobe for the kernel's own module requests: a symlink to /init (the
/// binary answers as `modprobe`, cli/modprobe.rs). Written by the image build; named in
/// /proc/sys/kernel/modprobe by PID 1 once its start is done. Not the kernel's default
/// /sbin/modprobe: during the start the kernel asks for modules that nothing here has
/// (the crypto API, at the first module's signature check), and each ask would start
/// the binary anew and wait for it.
pub const MODPROBE: &str = "/lib/lvsfw/modprobe";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_is_directly_under_one_of_the_two_directories_and_named_once() {
        for path in ALL {
            let parent = std::path::Path::new(path).parent().unwrap();
            assert!(
                parent == std::path::Path::new(ETC_DIR) || parent == std::path::Path::new(RUN_DIR),
                "{path}"
            );
        }
        let mut sorted = ALL.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ALL.len());
    }
}
