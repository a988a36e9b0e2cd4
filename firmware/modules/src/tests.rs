//! The module rules' unit tests: load order, rounds, soft dependencies, what is left to load.

use super::*;

const DEP: &str = "\
kernel/net/netfilter/ipvs/ip_vs_rr.ko: kernel/net/netfilter/ipvs/ip_vs.ko kernel/net/netfilter/nf_conntrack.ko kernel/lib/libcrc32c.ko
kernel/net/netfilter/ipvs/ip_vs.ko: kernel/net/netfilter/nf_conntrack.ko kernel/lib/libcrc32c.ko
kernel/net/netfilter/nf_conntrack.ko: kernel/lib/libcrc32c.ko
kernel/lib/libcrc32c.ko:
kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
";

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn paths(order: Vec<Load>) -> Vec<String> {
    order.into_iter().map(|load| load.path).collect()
}

#[test]
fn pid1_loads_drivers_first_vlans_bonds_the_power_button_and_vfat_later_and_never_ipvs() {
    let board = strings(&[
        "virtio_pci",
        "virtio_net",
        "virtio_blk",
        "vfat",
        "nls_cp437",
        "button",
        "evdev",
        "ip_vs",
        "ip_vs_rr",
        "ip_vs_pe_sip",
        "8021q",
        "bonding",
        "i6300esb",
        "nft_masq",
    ]);
    assert_eq!(
        in_round(&board, Round::First),
        strings(&["virtio_pci", "virtio_net", "virtio_blk", "i6300esb"])
    );
    assert_eq!(
        in_round(&board, Round::Later),
        strings(&["vfat", "nls_cp437", "button", "evdev", "8021q", "bonding"])
    );
    assert_eq!(
        in_round(&board, Round::OnDemand),
        strings(&["ip_vs", "ip_vs_rr", "ip_vs_pe_sip", "nft_masq"])
    );
    // Every module is in one round: the image (modules-closure) and PID 1 agree.
    let mut both = in_round(&board, Round::First);
    both.extend(in_round(&board, Round::Later));
    both.extend(in_round(&board, Round::OnDemand));
    both.sort();
    let mut all = board.clone();
    all.sort();
    assert_eq!(both, all);
}

#[test]
fn the_ipvs_modules_are_those_the_virtual_servers_name() {
    assert_eq!(ipvs_modules([]), strings(&["ip_vs"]));
    assert_eq!(
        ipvs_modules([("wlc", None), ("rr", Some("sip")), ("wlc", None)]),
        strings(&["ip_vs", "ip_vs_wlc", "ip_vs_rr", "ip_vs_pe_sip"])
    );
}

#[test]
fn dependencies_come_first_and_once() {
    let dep = ModulesDep::parse(DEP, "kernel/drivers/tty/serial/8250/8250.ko\n");
    assert_eq!(
        paths(
            dep.load_order(&strings(&["ip_vs", "ip_vs-rr", "virtio_net", "8250"]))
                .unwrap()
        ),
        strings(&[
            "kernel/lib/libcrc32c.ko",
            "kernel/net/netfilter/nf_conntrack.ko",
            "kernel/net/netfilter/ipvs/ip_vs.ko",
            "kernel/net/netfilter/ipvs/ip_vs_rr.ko",
            "kernel/net/core/failover.ko",
            "kernel/drivers/net/net_failover.ko",
            "kernel/drivers/net/virtio_net.ko",
        ])
    );
}

#[test]
fn unknown_modules_are_named() {
    let dep = ModulesDep::parse(DEP, "");
    assert_eq!(
        dep.load_order(&strings(&["ip_vs", "e1000e", "igb"]))
            .unwrap_err(),
        "not in modules.dep: e1000e, igb"
    );
}

#[test]
fn compressed_module_names_are_recognised() {
    let dep = ModulesDep::parse("kernel/a/foo-bar.ko.xz:\n", "");
    assert_eq!(
        paths(dep.load_order(&strings(&["foo_bar"])).unwrap()),
        strings(&["kernel/a/foo-bar.ko.xz"])
    );
}

/// As Debian's generic kernel has them (6.1): libcrc32c asks for crc32c, which two
/// modules provide; r8169 asks for its PHY driver by name.
const SOFT_DEP: &str = "\
kernel/net/netfilter/ipvs/ip_vs.ko: kernel/net/netfilter/nf_conntrack.ko kernel/lib/libcrc32c.ko
kernel/net/netfilter/nf_conntrack.ko: kernel/lib/libcrc32c.ko
kernel/lib/libcrc32c.ko:
kernel/arch/x86/crypto/crc32c-intel.ko:
kernel/crypto/crc32c_generic.ko:
kernel/drivers/net/ethernet/realtek/r8169.ko: kernel/drivers/net/phy/libphy.ko
kernel/drivers/net/phy/realtek.ko: kernel/drivers/net/phy/libphy.ko
kernel/drivers/net/phy/libphy.ko:
";
const SOFTDEP: &str = "\
# Soft dependencies extracted from modules themselves.
softdep libcrc32c pre: crc32c
softdep r8169 pre: realtek
softdep crc_t10dif pre: crct10dif
softdep ext4 pre: crypto-crc32c post: nothing
";
const ALIAS: &str = "\
# Aliases extracted from modules themselves.
alias crypto-crc32c crc32c_intel
alias crc32c crc32c_intel
alias crypto-crc32c crc32c_generic
alias crc32c crc32c_generic
alias pci:v000010ECd00008168sv*sd*bc*sc*i* r8169
";

fn soft() -> ModulesDep {
    ModulesDep::parse(SOFT_DEP, "").with_soft_dependencies(SOFTDEP, ALIAS)
}

fn load(path: &str, optional: bool) -> Load {
    Load {
        path: path.into(),
        optional,
    }
}

#[test]
fn a_soft_dependency_by_alias_loads_every_provider_first_and_may_fail() {
    assert_eq!(
        soft().load_order(&strings(&["ip_vs"])).unwrap(),
        vec![
            load("kernel/arch/x86/crypto/crc32c-intel.ko", true),
            load("kernel/crypto/crc32c_generic.ko", true),
            load("kernel/lib/libcrc32c.ko", false),
            load("kernel/net/netfilter/nf_conntrack.ko", false),
            load("kernel/net/netfilter/ipvs/ip_vs.ko", false),
        ]
    );
}

#[test]
fn what_the_kernel_has_is_not_loaded_again_nor_the_soft_dependencies_of_it() {
    let order = soft().load_order(&strings(&["ip_vs"])).unwrap();
    // libcrc32c's soft dependencies (crc32c_intel, crc32c_generic) go with it.
    let have = ["libcrc32c", "nf_conntrack"];
    assert_eq!(
        still_to_load(order.clone(), |name| have.contains(&name)),
        vec![load("kernel/net/netfilter/ipvs/ip_vs.ko", false)]
    );
    // The generic crc32c loaded, libcrc32c not: it and its other provider still go.
    assert_eq!(
        still_to_load(order.clone(), |name| name == "crc32c_generic"),
        vec![
            load("kernel/arch/x86/crypto/crc32c-intel.ko", true),
            load("kernel/lib/libcrc32c.ko", false),
            load("kernel/net/netfilter/nf_conntrack.ko", false),
            load("kernel/net/netfilter/ipvs/ip_vs.ko", false),
        ]
    );
    // Nothing loaded yet: all of it, the soft dependencies first as before.
    assert_eq!(still_to_load(order.clone(), |_| false), order);
}

#[test]
fn a_soft_dependency_by_module_name_comes_with_its_own_dependencies() {
    assert_eq!(
        soft().load_order(&strings(&["r8169"])).unwrap(),
        vec![
            load("kernel/drivers/net/phy/libphy.ko", false),
            load("kernel/drivers/net/phy/realtek.ko", true),
            load("kernel/drivers/net/ethernet/realtek/r8169.ko", false),
        ]
    );
}

#[test]
fn a_soft_dependency_also_wanted_outright_is_not_optional() {
    let order = soft()
        .load_order(&strings(&["ip_vs", "crc32c_generic"]))
        .unwrap();
    assert!(order.contains(&load("kernel/crypto/crc32c_generic.ko", false)));
    assert!(order.contains(&load("kernel/arch/x86/crypto/crc32c-intel.ko", true)));
    assert_eq!(order.len(), 5, "{order:?}");
}

#[test]
fn soft_dependencies_the_kernel_has_not_as_modules_are_skipped() {
    // crc_t10dif's crct10dif is neither a module nor an alias here (built in, say).
    let dep =
        ModulesDep::parse("kernel/lib/crc-t10dif.ko:\n", "").with_soft_dependencies(SOFTDEP, ALIAS);
    assert_eq!(
        dep.load_order(&strings(&["crc_t10dif"])).unwrap(),
        vec![load("kernel/lib/crc-t10dif.ko", false)]
    );
}

#[test]
fn without_softdep_files_nothing_changes() {
    let dep = ModulesDep::parse(SOFT_DEP, "");
    assert_eq!(
        paths(dep.load_order(&strings(&["ip_vs"])).unwrap()),
        strings(&[
            "kernel/lib/libcrc32c.ko",
            "kernel/net/netfilter/nf_conntrack.ko",
            "kernel/net/netfilter/ipvs/ip_vs.ko",
        ])
    );
}
