//! The kernel's own module requests. A kernel that needs a module it does not have
//! (request_module: the IPVS scheduler an `ipvsadm -A ... -s dh` names, the IPVS
//! netlink family, a VLAN's link type) runs `MODPROBE -q -- NAME` (kernel/module/kmod.c),
//! NAME a module or an alias. The image's modprobe (paths::MODPROBE, which PID 1 names
//! in /proc/sys/kernel/modprobe once it has started) is this binary: it loads what NAME
//! means among the board's modules, the only ones the image has, with the board's
//! options. A NAME that means none of them is refused quietly, as
//! `modprobe -q` refuses a module it does not have; the kernel asks for many such (a
//! network protocol family, a crypto algorithm it has built in under another name).

use super::{normalize, ModulesDep};

/// NAME, when `args` (after the program's own name) are what the kernel passes.
pub fn requested_name(args: &[String]) -> Option<&str> {
    match args {
        [quiet, end, name] if quiet == "-q" && end == "--" && !name.is_empty() => Some(name),
        _ => None,
    }
}

/// The board's modules `name` means: that module, else every module with that exact
/// alias in modules.alias; only those the board lists.
pub fn meant(dep: &ModulesDep, board: &[String], name: &str) -> Vec<String> {
    dep.resolve(name)
        .into_iter()
        .filter(|module| board.iter().any(|b| normalize(b) == *module))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn only_the_kernels_own_form_is_a_request() {
        assert_eq!(
            requested_name(&args(&["-q", "--", "ip_vs_dh"])),
            Some("ip_vs_dh")
        );
        for other in [
            &["ip_vs_dh"][..],
            &["-q", "ip_vs_dh"],
            &["-r", "--", "ip_vs_dh"],
            &["-q", "--", ""],
            &["-q", "--", "a", "b"],
            &[],
        ] {
            assert_eq!(requested_name(&args(other)), None, "{other:?}");
        }
    }

    const DEP: &str = "\
kernel/net/netfilter/ipvs/ip_vs_dh.ko: kernel/net/netfilter/ipvs/ip_vs.ko
kernel/net/netfilter/ipvs/ip_vs.ko:
kernel/net/8021q/8021q.ko:
kernel/drivers/net/dummy.ko:
";
    const ALIAS: &str = "\
alias net_pf_16_proto_16_family_IPVS ip_vs
alias net-pf-16-proto-16-family-IPVS ip_vs
alias rtnl-link-vlan 8021q
alias rtnl-link-dummy dummy
";

    fn dep() -> ModulesDep {
        ModulesDep::parse(DEP, "").with_soft_dependencies("", ALIAS)
    }

    #[test]
    fn a_request_by_name_or_alias_means_the_boards_module() {
        let board = args(&["ip_vs", "ip_vs_dh", "8021q"]);
        assert_eq!(meant(&dep(), &board, "ip_vs_dh"), ["ip_vs_dh"]);
        assert_eq!(meant(&dep(), &board, "ip_vs-dh"), ["ip_vs_dh"]);
        assert_eq!(
            meant(&dep(), &board, "net-pf-16-proto-16-family-IPVS"),
            ["ip_vs"]
        );
        assert_eq!(meant(&dep(), &board, "rtnl-link-vlan"), ["8021q"]);
    }

    #[test]
    fn what_the_board_does_not_list_is_never_meant() {
        let board = args(&["ip_vs"]);
        // In the image's modules.dep, but not the board's: not loaded for the kernel.
        assert!(meant(&dep(), &board, "rtnl-link-dummy").is_empty());
        assert!(meant(&dep(), &board, "ip_vs_dh").is_empty());
        // Neither a module nor an alias.
        assert!(meant(&dep(), &board, "net-pf-38").is_empty());
        assert!(meant(&dep(), &board, "../../../tmp/evil").is_empty());
    }
}
