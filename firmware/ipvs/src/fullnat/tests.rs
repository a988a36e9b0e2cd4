use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::*;
use crate::attr;

/// (type, flags, family, sequence, payload after the nfgenmsg) of each message.
fn messages(bytes: &[u8]) -> Vec<(u16, u16, u8, u32, Vec<u8>)> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let len = u32::from_ne_bytes(rest[0..4].try_into().unwrap()) as usize;
        assert!(len >= 20 && len <= rest.len(), "message length {len}");
        assert_eq!(len % 4, 0, "messages are 4-byte aligned");
        out.push((
            u16::from_ne_bytes([rest[4], rest[5]]),
            u16::from_ne_bytes([rest[6], rest[7]]),
            rest[16],
            u32::from_ne_bytes(rest[8..12].try_into().unwrap()),
            rest[20..len].to_vec(),
        ));
        rest = &rest[len..];
    }
    out
}

fn attribute(payload: &[u8], kind: u16) -> Vec<u8> {
    attr::iter(payload)
        .map(Result::unwrap)
        .find(|(k, _)| *k == kind)
        .map(|(_, v)| v.to_vec())
        .unwrap_or_else(|| panic!("no attribute {kind}"))
}

/// The rule's expressions as (name, data) in order.
fn rule_expressions(payload: &[u8]) -> Vec<(String, Vec<u8>)> {
    let list = attribute(payload, NFTA_RULE_EXPRESSIONS);
    attr::iter(&list)
        .map(|e| {
            let (kind, elem) = e.unwrap();
            assert_eq!(kind, NFTA_LIST_ELEM);
            let name = attr::string_of(&attribute(elem, NFTA_EXPR_NAME));
            (name, attribute(elem, NFTA_EXPR_DATA))
        })
        .collect()
}

fn compared(data: &[u8]) -> Vec<u8> {
    attribute(&attribute(data, NFTA_CMP_DATA), NFTA_DATA_VALUE)
}

fn ct_key(data: &[u8]) -> (u32, u8) {
    let key = u32::from_be_bytes(attribute(data, NFTA_CT_KEY).try_into().unwrap());
    (key, attribute(data, NFTA_CT_DIRECTION)[0])
}

const TCP_80: ServiceKey = ServiceKey::Addr {
    protocol: Protocol::Tcp,
    addr: IpAddr::V4(Ipv4Addr::new(192, 168, 0, 100)),
    port: 80,
};

#[test]
fn no_rules_is_a_batch_that_only_removes_the_table() {
    let (bytes, acked) = transaction(&[], 100);
    let kinds: Vec<u16> = messages(&bytes).iter().map(|m| m.0).collect();
    let table = NFNL_SUBSYS_NFTABLES << 8;
    assert_eq!(
        kinds,
        [
            NFNL_MSG_BATCH_BEGIN,
            table | NFT_MSG_NEWTABLE,
            table | NFT_MSG_DELTABLE,
            NFNL_MSG_BATCH_END
        ]
    );
    // The table's create and delete are acknowledged, the batch's frame is not.
    assert_eq!(acked, [102, 103]);
    for m in messages(&bytes)
        .iter()
        .filter(|m| m.0 >> 8 == NFNL_SUBSYS_NFTABLES)
    {
        assert_eq!(m.2, NFPROTO_INET);
        assert_eq!(attr::string_of(&attribute(&m.4, NFTA_TABLE_NAME)), "lvsfw");
    }
    // The frame names the subsystem in res_id, big-endian.
    assert_eq!(&bytes[18..20], &NFNL_SUBSYS_NFTABLES.to_be_bytes());
}

#[test]
fn a_service_is_a_nat_chain_on_postrouting_with_one_masquerade_rule() {
    let rule = SourceNat {
        service: TCP_80,
        real_server: None,
    };
    let (bytes, acked) = transaction(&[rule], 0);
    let all = messages(&bytes);
    assert_eq!(all.len(), 7);
    assert_eq!(acked.len(), 5);
    let chain = &all[4];
    assert_eq!(chain.0 & 0xff, NFT_MSG_NEWCHAIN);
    assert_eq!(
        attr::string_of(&attribute(&chain.4, NFTA_CHAIN_TYPE)),
        "nat"
    );
    let hook = attribute(&chain.4, NFTA_CHAIN_HOOK);
    assert_eq!(attribute(&hook, NFTA_HOOK_HOOKNUM), 4u32.to_be_bytes());
    assert_eq!(attribute(&hook, NFTA_HOOK_PRIORITY), 100u32.to_be_bytes());
    let rule = &all[5];
    assert_eq!(rule.0 & 0xff, NFT_MSG_NEWRULE);
    assert_ne!(rule.1 & NLM_F_APPEND, 0);
    let exprs = rule_expressions(&rule.4);
    let names: Vec<&str> = exprs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["ct", "cmp", "ct", "cmp", "ct", "cmp", "masq"]);
    assert_eq!(ct_key(&exprs[0].1), (NFT_CT_DST_IP, ORIGINAL));
    assert_eq!(compared(&exprs[1].1), [192, 168, 0, 100]);
    assert_eq!(ct_key(&exprs[2].1), (NFT_CT_PROTOCOL, ORIGINAL));
    assert_eq!(compared(&exprs[3].1), [6]);
    assert_eq!(ct_key(&exprs[4].1), (NFT_CT_PROTO_DST, ORIGINAL));
    assert_eq!(compared(&exprs[5].1), [0, 80]);
}

#[test]
fn a_real_server_of_its_own_is_matched_on_the_reply_side_and_ipv6_uses_the_v6_keys() {
    let rule = SourceNat {
        service: ServiceKey::Addr {
            protocol: Protocol::Udp,
            addr: IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x100)),
            port: 0,
        },
        real_server: Some(("fd01::5".parse().unwrap(), 8053)),
    };
    let (bytes, _) = transaction(&[rule], 0);
    let exprs = rule_expressions(&messages(&bytes)[5].4);
    let names: Vec<&str> = exprs.iter().map(|(n, _)| n.as_str()).collect();
    // Port 0: every port, so no port match on the original side.
    assert_eq!(
        names,
        ["ct", "cmp", "ct", "cmp", "ct", "cmp", "ct", "cmp", "masq"]
    );
    assert_eq!(ct_key(&exprs[0].1), (NFT_CT_DST_IP6, ORIGINAL));
    assert_eq!(compared(&exprs[1].1).len(), 16);
    assert_eq!(compared(&exprs[3].1), [17]);
    assert_eq!(ct_key(&exprs[4].1), (NFT_CT_SRC_IP6, REPLY));
    assert_eq!(ct_key(&exprs[6].1), (NFT_CT_PROTO_SRC, REPLY));
    assert_eq!(compared(&exprs[7].1), 8053u16.to_be_bytes());
}

#[test]
fn a_firewall_mark_service_matches_the_family_and_the_mark() {
    let rule = SourceNat {
        service: ServiceKey::Fwmark {
            ipv6: false,
            mark: 7,
        },
        real_server: None,
    };
    let (bytes, _) = transaction(&[rule], 0);
    let exprs = rule_expressions(&messages(&bytes)[5].4);
    let names: Vec<&str> = exprs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["meta", "cmp", "meta", "cmp", "masq"]);
    assert_eq!(compared(&exprs[1].1), [NFPROTO_IPV4]);
    assert_eq!(compared(&exprs[3].1), 7u32.to_ne_bytes());
}

#[test]
fn too_many_rules_are_refused_before_any_socket() {
    let rules = vec![
        SourceNat {
            service: TCP_80,
            real_server: None
        };
        MAX_RULES + 1
    ];
    let e = apply(&rules).unwrap_err();
    assert!(e.to_string().contains("at most 4096"), "{e}");
}
