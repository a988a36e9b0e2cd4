//! The kernel's IPVS settings (`net.ipv4.vs.*`) the configuration decides. The `bgp`
//! block's `sloppy_tcp` and `sloppy_sctp`: with several boxes behind a router's ECMP, a flow whose SYN went to
//! one box reaches another when a box is added or removed; without these, IPVS there
//! drops its first packet as one of no connection it knows. `conntrack`, on while a
//! virtual server uses FNAT: IPVS keeps conntrack entries for its connections only then,
//! and netfilter rewrites only connections it tracks. Desired state: each is 1
//! while configured and 0 otherwise (also after it is taken out), written only when the
//! kernel holds something else. The files exist once `ip_vs` is loaded.

use std::path::Path;

use config::keepalived::Keepalived;

/// The sysctls under /proc/sys, and the value each should hold for `k`.
pub fn wanted(k: &Keepalived) -> [(&'static str, &'static str); 3] {
    let on = |b: bool| if b { "1" } else { "0" };
    let (tcp, sctp) = k
        .bgp
        .as_ref()
        .map_or((false, false), |b| (b.sloppy_tcp, b.sloppy_sctp));
    [
        ("net/ipv4/vs/sloppy_tcp", on(tcp)),
        ("net/ipv4/vs/sloppy_sctp", on(sctp)),
        ("net/ipv4/vs/conntrack", on(super::source_nat::used(k))),
    ]
}

/// Writes under `proc_sys` what differs from `wanted`; the sysctls changed (dotted), or
/// an error naming the one that could not be read or written. A missing file (no IPVS
/// in the kernel) is an error only when a 1 is wanted there.
pub fn apply(proc_sys: &Path, wanted: &[(&str, &str)]) -> Result<Vec<String>, String> {
    let mut changed = Vec::new();
    for (file, value) in wanted {
        let path = proc_sys.join(file);
        let name = file.replace('/', ".");
        let now = match std::fs::read_to_string(&path) {
            Ok(now) => now,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && *value == "0" => continue,
            Err(e) => return Err(format!("{name}: {e}")),
        };
        if now.trim() != *value {
            std::fs::write(&path, value).map_err(|e| format!("{name}: {e}"))?;
            changed.push(format!("{name} = {value}"));
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_bgp(tcp: bool, sctp: bool) -> Keepalived {
        let mut bgp = config::keepalived::Bgp::new(65001);
        bgp.sloppy_tcp = tcp;
        bgp.sloppy_sctp = sctp;
        Keepalived {
            bgp: Some(bgp),
            ..Keepalived::default()
        }
    }

    #[test]
    fn set_when_configured_back_to_0_when_taken_out_and_written_only_when_different() {
        let dir = std::env::temp_dir().join(format!("lvsfw-sloppy-{}", std::process::id()));
        let vs = dir.join("net/ipv4/vs");
        std::fs::create_dir_all(&vs).unwrap();
        std::fs::write(vs.join("sloppy_tcp"), "0\n").unwrap();
        std::fs::write(vs.join("sloppy_sctp"), "0\n").unwrap();

        let changed = apply(&dir, &wanted(&with_bgp(true, false))).unwrap();
        assert_eq!(changed, vec!["net.ipv4.vs.sloppy_tcp = 1"]);
        assert_eq!(std::fs::read_to_string(vs.join("sloppy_tcp")).unwrap(), "1");
        // Again: the kernel holds it already.
        assert!(apply(&dir, &wanted(&with_bgp(true, false)))
            .unwrap()
            .is_empty());
        // Taken out (no bgp block at all): back to 0.
        let changed = apply(&dir, &wanted(&Keepalived::default())).unwrap();
        assert_eq!(changed, vec!["net.ipv4.vs.sloppy_tcp = 0"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn conntrack_is_on_only_while_a_virtual_server_uses_fnat() {
        let text = "virtual_server 192.168.0.100 80 {\n lb_kind FNAT\n protocol TCP\n\
                    real_server 10.0.0.1 80 {\n }\n}\n";
        let fnat = config::keepalived::read_text(text, "k.conf")
            .unwrap()
            .config;
        assert!(wanted(&fnat).contains(&("net/ipv4/vs/conntrack", "1")));
        let nat = config::keepalived::read_text(&text.replace("FNAT", "NAT"), "k.conf")
            .unwrap()
            .config;
        assert!(wanted(&nat).contains(&("net/ipv4/vs/conntrack", "0")));
    }

    #[test]
    fn without_ipvs_only_a_wanted_1_is_an_error() {
        let dir = std::env::temp_dir().join(format!("lvsfw-sloppy-none-{}", std::process::id()));
        assert!(apply(&dir, &wanted(&Keepalived::default()))
            .unwrap()
            .is_empty());
        let e = apply(&dir, &wanted(&with_bgp(false, true))).unwrap_err();
        assert!(e.starts_with("net.ipv4.vs.sloppy_sctp: "), "{e}");
    }
}
