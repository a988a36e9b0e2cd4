//! A router that spreads flows over several balancers by ECMP (issue 18's scale-out
//! lab): FRR's zebra and bgpd from Debian in a lab namespace, bgpd with multipath, zebra
//! installing what bgpd chose into the namespace's kernel, and the kernel hashing each
//! flow over the next hops by its addresses and ports (`fib_multipath_hash_policy` 1);
//! with BFD, FRR's bfdd too (bgpd reaches it through zebra). BIRD 2 is the other such
//! router ([`crate::bird_router`]); the namespace's setup and the kernel's next hops are
//! the same for both ([`route_by_flow`], [`kernel_next_hops`]).
//!
//! zebra insists that the user it runs as is in FRR's `frrvty` group, which root is
//! not; the daemons run as Debian's `frr` user (which is), keeping the capabilities
//! they need. Their files live in a folder of the lab's, open to that user.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use crate::bgp_peers::wait_until;
use crate::command::Error;
use crate::lab::{Host, Lab};

pub struct EcmpRouter {
    pub host: Host,
    pub zebra: u32,
    pub bgpd: u32,
    pub bfdd: Option<u32>,
    dir: PathBuf,
}

impl EcmpRouter {
    /// Starts zebra, then bgpd with `bgpd_conf`, in `host`'s namespace, after making it
    /// a router that spreads flows ([`route_by_flow`]).
    pub fn start(lab: &mut Lab, host: &Host, bgpd_conf: &str) -> Result<EcmpRouter, Error> {
        EcmpRouter::start_with_bfd(lab, host, bgpd_conf, None)
    }

    /// The same, with bfdd started from `bfdd_conf` (its profiles) before bgpd.
    pub fn start_with_bfd(
        lab: &mut Lab,
        host: &Host,
        bgpd_conf: &str,
        bfdd_conf: Option<&str>,
    ) -> Result<EcmpRouter, Error> {
        route_by_flow(host)?;
        let dir = lab.dir.join(format!("frr-{}", host.name));
        std::fs::create_dir_all(&dir)?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777))?;
        let zebra_conf = dir.join("zebra.conf");
        std::fs::write(&zebra_conf, "hostname router\nlog stdout informational\n")?;
        let bgpd_path = dir.join("bgpd.conf");
        std::fs::write(&bgpd_path, bgpd_conf)?;
        let p = |name: &str| dir.join(name).to_string_lossy().into_owned();
        let zserv = p("zserv.api");
        let vty = dir.to_string_lossy().into_owned();
        let common = |conf: String, pid: String| -> Vec<String> {
            [
                "-u",
                "frr",
                "-g",
                "frr",
                "-f",
                &conf,
                "-i",
                &pid,
                "-z",
                &zserv,
                "--vty_socket",
                &vty,
                "-A",
                "127.0.0.1",
                "-P",
                "0",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect()
        };
        let mut args = vec!["/usr/lib/frr/zebra".to_string()];
        args.extend(common(p("zebra.conf"), p("zebra.pid")));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let zebra = lab.spawn(host, &args, &format!("{}-zebra", host.name))?;
        let zserv_path = dir.join("zserv.api");
        wait_until(Duration::from_secs(10), "zebra's zserv socket", || {
            zserv_path.exists()
        })?;
        let bfdd = match bfdd_conf {
            Some(conf) => {
                std::fs::write(dir.join("bfdd.conf"), conf)?;
                let mut args = vec!["/usr/lib/frr/bfdd".to_string()];
                args.extend(common(p("bfdd.conf"), p("bfdd.pid")));
                args.extend(["--bfdctl".into(), p("bfdd.sock")]);
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let bfdd = lab.spawn(host, &args, &format!("{}-bfdd", host.name))?;
                let vty = dir.join("bfdd.vty");
                wait_until(Duration::from_secs(10), "bfdd's vty socket", || {
                    vty.exists()
                })?;
                Some(bfdd)
            }
            None => None,
        };
        let mut args = vec!["/usr/lib/frr/bgpd".to_string()];
        args.extend(common(p("bgpd.conf"), p("bgpd.pid")));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let bgpd = lab.spawn(host, &args, &format!("{}-bgpd", host.name))?;
        let vty_path = dir.join("bgpd.vty");
        wait_until(Duration::from_secs(10), "bgpd's vty socket", || {
            vty_path.exists()
        })?;
        Ok(EcmpRouter {
            host: host.clone(),
            zebra,
            bgpd,
            bfdd,
            dir,
        })
    }

    /// Its daemons' PIDs, zebra first.
    pub fn pids(&self) -> Vec<u32> {
        [Some(self.zebra), self.bfdd, Some(self.bgpd)]
            .into_iter()
            .flatten()
            .collect()
    }

    /// `vtysh -c` each command; the output.
    pub fn vtysh(&self, commands: &[&str]) -> String {
        let vty = self.dir.to_string_lossy();
        let mut args = vec!["vtysh", "--vty_socket", &vty];
        for c in commands {
            args.extend_from_slice(&["-c", c]);
        }
        self.host
            .output(&args)
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// The next hops the namespace's kernel has for `prefix`, as [`kernel_next_hops`].
    pub fn next_hops(&self, prefix: &str) -> Vec<String> {
        kernel_next_hops(&self.host, prefix)
    }
}

/// Makes `host`'s namespace a router that spreads flows over a multipath route: forwarding
/// on, the multipath hash over addresses and ports (`fib_multipath_hash_policy` 1, so each
/// TCP flow keeps its path), and no reverse-path filter (the real servers' replies come in
/// on another interface than the VIP's route). Whatever routing daemon fills the FIB.
pub fn route_by_flow(host: &Host) -> Result<(), Error> {
    for (key, value) in [
        ("net.ipv4.ip_forward", "1"),
        ("net.ipv4.fib_multipath_hash_policy", "1"),
        ("net.ipv4.conf.all.rp_filter", "0"),
        ("net.ipv4.conf.default.rp_filter", "0"),
    ] {
        host.run(&["sysctl", "-qw", &format!("{key}={value}")])?;
    }
    Ok(())
}

/// The next hops `host`'s kernel has for `prefix` (`ip route show`: one `via` for a single
/// path, a `nexthop via` each for a multipath route), sorted; empty when it has no such route.
pub fn kernel_next_hops(host: &Host, prefix: &str) -> Vec<String> {
    let Ok(out) = host.output(&["ip", "-4", "route", "show", prefix]) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut hops: Vec<String> = Vec::new();
    let mut words = text.split_whitespace();
    while let Some(w) = words.next() {
        if w == "via" {
            if let Some(hop) = words.next() {
                hops.push(hop.to_string());
            }
        }
    }
    hops.sort();
    hops.dedup();
    hops
}
