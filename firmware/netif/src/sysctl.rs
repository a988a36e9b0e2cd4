//! The kernel settings an LVS-NAT director needs.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use config::Config;

/// A sysctl by its dotted name and the value it should hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sysctl {
    pub name: String,
    pub value: &'static str,
}

impl Sysctl {
    fn new(name: impl Into<String>, value: &'static str) -> Sysctl {
        Sysctl {
            name: name.into(),
            value,
        }
    }

    /// Where it lives under a procfs root (normally `/proc/sys`).
    pub fn path(&self, proc_sys: &Path) -> PathBuf {
        proc_sys.join(self.name.replace('.', "/"))
    }
}

/// Room for 16,384 neighbours, kept without garbage collection up to 4,096: a generous
/// bound over the model's real servers that stays a few MiB at most.
const NEIGHBOUR_TABLE: [(&str, &str); 3] = [
    ("gc_thresh1", "4096"),
    ("gc_thresh2", "8192"),
    ("gc_thresh3", "16384"),
];

fn neighbour_table(family: &str) -> impl Iterator<Item = Sysctl> + '_ {
    NEIGHBOUR_TABLE
        .into_iter()
        .map(move |(name, value)| Sysctl::new(format!("net.{family}.neigh.default.{name}"), value))
}

/// What the configuration needs from the kernel:
/// - forwarding, since in NAT mode every reply from a real server passes through us;
/// - no ICMP redirects: the real servers route through us on purpose, and a redirect
///   would tell them to bypass the director and break the NAT;
/// - a neighbour table for thousands of real servers on one link: the kernel's default
///   hard limit (gc_thresh3) is 1,024 entries, and past it connections to the others
///   fail ("neighbour table overflow"); measured with 2,000 real servers checked in the
///   VM, keepalived's checks failing alike on a stock kernel.
pub fn wanted(config: &Config) -> Vec<Sysctl> {
    let mut list = vec![
        Sysctl::new("net.ipv4.ip_forward", "1"),
        Sysctl::new("net.ipv4.conf.all.send_redirects", "0"),
        Sysctl::new("net.ipv4.conf.default.send_redirects", "0"),
    ];
    list.extend(neighbour_table("ipv4"));
    let has_v6 = config
        .interfaces
        .iter()
        .flat_map(|i| &i.addresses)
        .any(|p| p.addr.is_ipv6());
    if has_v6 {
        list.push(Sysctl::new("net.ipv6.conf.all.forwarding", "1"));
        list.extend(neighbour_table("ipv6"));
    }
    list
}

/// Writes the settings that differ; returns the names it changed.
pub fn apply(proc_sys: &Path, wanted: &[Sysctl]) -> io::Result<Vec<String>> {
    let mut changed = Vec::new();
    for sysctl in wanted {
        let path = sysctl.path(proc_sys);
        let current = fs::read_to_string(&path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", sysctl.name)))?;
        if current.trim() != sysctl.value {
            fs::write(&path, sysctl.value)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", sysctl.name)))?;
            changed.push(sysctl.name.clone());
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarding_always_and_ipv6_only_when_configured() {
        let v4 = config::native::from_json(
            r#"{"interfaces": [{"role": "ext", "addresses": ["192.168.0.101/24"]}]}"#,
        )
        .unwrap();
        let names: Vec<String> = wanted(&v4).into_iter().map(|s| s.name).collect();
        assert!(names.contains(&"net.ipv4.ip_forward".to_string()));
        assert!(wanted(&v4)
            .iter()
            .any(|s| s.name == "net.ipv4.neigh.default.gc_thresh3" && s.value == "16384"));
        assert!(!names.iter().any(|n| n.starts_with("net.ipv6")));
        let v6 = config::native::from_json(
            r#"{"interfaces": [{"role": "ext", "addresses": ["fd00::1/64"]}]}"#,
        )
        .unwrap();
        assert!(wanted(&v6)
            .iter()
            .any(|s| s.name == "net.ipv6.conf.all.forwarding"));
        assert!(wanted(&v6)
            .iter()
            .any(|s| s.name == "net.ipv6.neigh.default.gc_thresh3"));
    }

    #[test]
    fn writes_only_what_differs() {
        let dir = tempfile::tempdir().unwrap();
        let fwd = dir.path().join("net/ipv4/ip_forward");
        fs::create_dir_all(fwd.parent().unwrap()).unwrap();
        fs::write(&fwd, "0\n").unwrap();
        let redirects = dir.path().join("net/ipv4/conf/all/send_redirects");
        fs::create_dir_all(redirects.parent().unwrap()).unwrap();
        fs::write(&redirects, "0\n").unwrap();
        let list = vec![
            Sysctl::new("net.ipv4.ip_forward", "1"),
            Sysctl::new("net.ipv4.conf.all.send_redirects", "0"),
        ];
        assert_eq!(
            apply(dir.path(), &list).unwrap(),
            vec!["net.ipv4.ip_forward"]
        );
        assert_eq!(fs::read_to_string(&fwd).unwrap(), "1");
        assert_eq!(apply(dir.path(), &list).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn a_missing_sysctl_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = apply(dir.path(), &[Sysctl::new("net.ipv4.ip_forward", "1")]).unwrap_err();
        assert!(
            err.to_string().starts_with("net.ipv4.ip_forward: "),
            "{err}"
        );
    }
}
