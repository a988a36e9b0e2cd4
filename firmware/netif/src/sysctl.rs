//! The kernel settings an LVS-NAT director needs.

use std::borrow::Cow;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use config::Config;

/// A sysctl by its dotted name and the value it should hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sysctl {
    pub name: String,
    /// Its file under the procfs root: the name's dots as slashes, except within an
    /// interface name (`ext.10` is one VLAN interface).
    file: PathBuf,
    pub value: Cow<'static, str>,
}

impl Sysctl {
    fn new(name: impl Into<String>, value: &'static str) -> Sysctl {
        let name = name.into();
        Sysctl {
            file: PathBuf::from(name.replace('.', "/")),
            name,
            value: Cow::Borrowed(value),
        }
    }

    /// `net.FAMILY.conf.INTERFACE.KEY`.
    pub fn interface(
        family: &str,
        interface: &str,
        key: &str,
        value: impl Into<Cow<'static, str>>,
    ) -> Sysctl {
        Sysctl {
            name: format!("net.{family}.conf.{interface}.{key}"),
            file: ["net", family, "conf", interface, key].iter().collect(),
            value: value.into(),
        }
    }

    /// Where it lives under a procfs root (normally `/proc/sys`).
    pub fn path(&self, proc_sys: &Path) -> PathBuf {
        proc_sys.join(&self.file)
    }

    /// What the kernel holds now, trimmed.
    pub fn read(&self, proc_sys: &Path) -> io::Result<String> {
        fs::read_to_string(self.path(proc_sys))
            .map(|v| v.trim().to_string())
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.name)))
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
///   VM, keepalived's checks failing alike on a stock kernel;
/// - no routes or addresses from the network: IPv6 router advertisements are ignored on
///   every interface (`interfaces` are the kernel's names under net/ipv6/conf) unless
///   the configuration asks for them on a role, and ICMP redirects are not taken, so
///   that nobody on a link can install a route on the box.
pub fn wanted(config: &Config, interfaces: &[String]) -> Vec<Sysctl> {
    let mut list = vec![
        Sysctl::new("net.ipv4.ip_forward", "1"),
        Sysctl::new("net.ipv4.conf.all.send_redirects", "0"),
        Sysctl::new("net.ipv4.conf.default.send_redirects", "0"),
        Sysctl::new("net.ipv4.conf.all.accept_redirects", "0"),
        Sysctl::new("net.ipv4.conf.default.accept_redirects", "0"),
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
    // Without IPv6 in the kernel there is nothing to listen to RAs.
    let v6_interfaces = if interfaces.is_empty() {
        &[][..]
    } else {
        &["all", "default"][..]
    };
    for interface in v6_interfaces
        .iter()
        .copied()
        .chain(interfaces.iter().map(String::as_str))
    {
        let asked = config
            .interfaces
            .iter()
            .any(|i| i.accept_ra && i.role.name() == interface);
        // With forwarding on, the kernel takes RAs only at 2 (Documentation/networking/ip-sysctl).
        let accept_ra = match (asked, has_v6) {
            (false, _) => "0",
            (true, false) => "1",
            (true, true) => "2",
        };
        list.push(Sysctl::interface("ipv6", interface, "accept_ra", accept_ra));
        list.push(Sysctl::interface(
            "ipv6",
            interface,
            "accept_redirects",
            "0",
        ));
    }
    list
}

/// The interfaces the kernel has IPv6 settings for (`net/ipv6/conf/*` but `all` and
/// `default`); none without IPv6.
pub fn ipv6_interfaces(proc_sys: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(proc_sys.join("net/ipv6/conf"))
        .map(|dir| {
            dir.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n != "all" && n != "default")
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Whether the kernel forwards IPv6 on `interface` (`net.ipv6.conf.IF.forwarding`);
/// false when it cannot say.
pub fn ipv6_forwarding(proc_sys: &Path, interface: &str) -> bool {
    let sysctl = Sysctl::interface("ipv6", interface, "forwarding", "1");
    fs::read_to_string(sysctl.path(proc_sys)).is_ok_and(|v| v.trim() == sysctl.value)
}

/// Writes the settings that differ; returns the names it changed.
pub fn apply(proc_sys: &Path, wanted: &[Sysctl]) -> io::Result<Vec<String>> {
    let mut changed = Vec::new();
    for sysctl in wanted {
        let path = sysctl.path(proc_sys);
        if sysctl.read(proc_sys)? != sysctl.value {
            fs::write(&path, sysctl.value.as_bytes())
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
        let names: Vec<String> = wanted(&v4, &[]).into_iter().map(|s| s.name).collect();
        assert!(names.contains(&"net.ipv4.ip_forward".to_string()));
        assert!(wanted(&v4, &[])
            .iter()
            .any(|s| s.name == "net.ipv4.neigh.default.gc_thresh3" && s.value == "16384"));
        assert!(!names.iter().any(|n| n.starts_with("net.ipv6")));
        let v6 = config::native::from_json(
            r#"{"interfaces": [{"role": "ext", "addresses": ["fd00::1/64"]}]}"#,
        )
        .unwrap();
        assert!(wanted(&v6, &[])
            .iter()
            .any(|s| s.name == "net.ipv6.conf.all.forwarding"));
        assert!(wanted(&v6, &[])
            .iter()
            .any(|s| s.name == "net.ipv6.neigh.default.gc_thresh3"));
    }

    #[test]
    fn router_advertisements_and_redirects_are_ignored_unless_a_role_asks() {
        let config = config::native::from_json(
            r#"{"interfaces": [{"role": "ext", "addresses": ["192.168.0.101/24"]},
                {"role": "mgmt", "addresses": ["10.0.2.15/24"], "accept_ra": true}]}"#,
        )
        .unwrap();
        let names = [
            "ext".to_string(),
            "lo".into(),
            "mgmt".into(),
            "int.10".into(),
        ];
        let list = wanted(&config, &names);
        let value = |name: &str| {
            list.iter()
                .find(|s| s.name == name)
                .unwrap_or_else(|| panic!("{name} not set"))
                .value
                .clone()
        };
        for interface in ["all", "default", "ext", "lo", "int.10"] {
            assert_eq!(value(&format!("net.ipv6.conf.{interface}.accept_ra")), "0");
            assert_eq!(
                value(&format!("net.ipv6.conf.{interface}.accept_redirects")),
                "0"
            );
        }
        assert_eq!(value("net.ipv6.conf.mgmt.accept_ra"), "1");
        assert_eq!(value("net.ipv4.conf.all.accept_redirects"), "0");
        // A VLAN interface's name keeps its dot in the file's path.
        let vlan = list
            .iter()
            .find(|s| s.name == "net.ipv6.conf.int.10.accept_ra")
            .unwrap();
        assert_eq!(
            vlan.path(Path::new("/proc/sys")),
            Path::new("/proc/sys/net/ipv6/conf/int.10/accept_ra")
        );
        // With IPv6 forwarding on, asking means 2.
        let v6 = config::native::from_json(
            r#"{"interfaces": [{"role": "mgmt", "addresses": ["fd00::1/64"], "accept_ra": true}]}"#,
        )
        .unwrap();
        assert!(wanted(&v6, &names)
            .iter()
            .any(|s| s.name == "net.ipv6.conf.mgmt.accept_ra" && s.value == "2"));
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
