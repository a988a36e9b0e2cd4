//! FNAT ("full NAT", the name DPVS and Alibaba's LVS give it): IPVS forwards in NAT mode
//! and netfilter rewrites the source to the box's own address on the way to the real
//! server, so that the reply comes back to this box whatever the real server's gateway
//! is. Several boxes behind a router's ECMP need that when the real servers cannot
//! decapsulate a tunnel; the price is the client's address, which the real server no
//! longer sees.
//!
//! Mainline IPVS has no source NAT of its own: with `net.ipv4.vs.conntrack = 1` its
//! connections have conntrack entries, and a `masquerade` in a nat chain on the
//! postrouting hook rewrites them (as kube-proxy's IPVS mode does). The rules match the
//! connection's original destination (the virtual service) in conntrack, so they catch
//! exactly what IPVS forwards for that service, and nothing else the box sends.
//!
//! One nf_tables table, `inet lvsfw`, is ours: it is replaced whole in one transaction
//! (a batch: the kernel applies all of it or none), created and deleted in the same
//! batch first so that the delete never fails for a table that is not there.
//! Message layout: include/uapi/linux/netfilter/nf_tables.h and nfnetlink.h.

use std::net::IpAddr;

use netlink_packet_core::Emitable;

use crate::attr::{Attr, Value};
use crate::model::{Protocol, ServiceKey};

/// Our table's name in the kernel (`nft list table inet lvsfw`).
pub const TABLE: &str = "lvsfw";
const CHAIN: &str = "postrouting";

/// A virtual service whose connections leave with the box's address as their source;
/// with a `real_server`, only the connections it was given (a real server with its own
/// `lvs_method FNAT` in a service of another kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SourceNat {
    pub service: ServiceKey,
    pub real_server: Option<(IpAddr, u16)>,
}

const NETLINK_NETFILTER: isize = 12;
const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
const NFNL_MSG_BATCH_END: u16 = 0x11;
const NFT_MSG_NEWTABLE: u16 = 0;
const NFT_MSG_DELTABLE: u16 = 2;
const NFT_MSG_NEWCHAIN: u16 = 3;
const NFT_MSG_NEWRULE: u16 = 6;
const NFPROTO_UNSPEC: u8 = 0;
const NFPROTO_INET: u8 = 1;
const NFPROTO_IPV4: u8 = 2;
const NFPROTO_IPV6: u8 = 10;

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_APPEND: u16 = 0x800;
const NLMSG_ERROR: u16 = 2;

const NFTA_TABLE_NAME: u16 = 1;
const NFTA_CHAIN_TABLE: u16 = 1;
const NFTA_CHAIN_NAME: u16 = 3;
const NFTA_CHAIN_HOOK: u16 = 4;
const NFTA_CHAIN_POLICY: u16 = 5;
const NFTA_CHAIN_TYPE: u16 = 7;
const NFTA_HOOK_HOOKNUM: u16 = 1;
const NFTA_HOOK_PRIORITY: u16 = 2;
const NFTA_RULE_TABLE: u16 = 1;
const NFTA_RULE_CHAIN: u16 = 2;
const NFTA_RULE_EXPRESSIONS: u16 = 4;
const NFTA_LIST_ELEM: u16 = 1;
const NFTA_EXPR_NAME: u16 = 1;
const NFTA_EXPR_DATA: u16 = 2;
const NFTA_CT_DREG: u16 = 1;
const NFTA_CT_KEY: u16 = 2;
const NFTA_CT_DIRECTION: u16 = 3;
const NFTA_META_DREG: u16 = 1;
const NFTA_META_KEY: u16 = 2;
const NFTA_CMP_SREG: u16 = 1;
const NFTA_CMP_OP: u16 = 2;
const NFTA_CMP_DATA: u16 = 3;
const NFTA_DATA_VALUE: u16 = 1;

const NF_INET_POST_ROUTING: u32 = 4;
/// NF_IP_PRI_NAT_SRC, nft's `srcnat`.
const PRIORITY_SRCNAT: u32 = 100;
const NF_ACCEPT: u32 = 1;
const NFT_REG_1: u32 = 1;
const NFT_CMP_EQ: u32 = 0;
const NFT_META_MARK: u32 = 3;
const NFT_META_NFPROTO: u32 = 15;
const NFT_CT_PROTOCOL: u32 = 10;
const NFT_CT_PROTO_SRC: u32 = 11;
const NFT_CT_PROTO_DST: u32 = 12;
const NFT_CT_SRC_IP: u32 = 19;
const NFT_CT_DST_IP: u32 = 20;
const NFT_CT_SRC_IP6: u32 = 21;
const NFT_CT_DST_IP6: u32 = 22;
const ORIGINAL: u8 = 0;
const REPLY: u8 = 1;

/// A batch of netlink messages, each with its own sequence number.
struct Batch {
    bytes: Vec<u8>,
    sequence: u32,
    /// Sequence numbers of the messages that asked for an acknowledgement.
    acked: Vec<u32>,
}

impl Batch {
    fn message(&mut self, kind: u16, flags: u16, family: u8, res_id: u16, attrs: &[Attr]) {
        let payload = attrs.buffer_len();
        let len = 16 + 4 + payload;
        self.sequence = self.sequence.wrapping_add(1);
        if flags & NLM_F_ACK != 0 {
            self.acked.push(self.sequence);
        }
        self.bytes.extend_from_slice(&(len as u32).to_ne_bytes());
        self.bytes.extend_from_slice(&kind.to_ne_bytes());
        self.bytes.extend_from_slice(&flags.to_ne_bytes());
        self.bytes.extend_from_slice(&self.sequence.to_ne_bytes());
        self.bytes.extend_from_slice(&0u32.to_ne_bytes());
        self.bytes.extend_from_slice(&[family, 0]);
        self.bytes.extend_from_slice(&res_id.to_be_bytes());
        let start = self.bytes.len();
        self.bytes.resize(start + payload, 0);
        attrs.emit(&mut self.bytes[start..]);
    }

    fn nftables(&mut self, msg: u16, flags: u16, attrs: &[Attr]) {
        let kind = (NFNL_SUBSYS_NFTABLES << 8) | msg;
        self.message(
            kind,
            NLM_F_REQUEST | NLM_F_ACK | flags,
            NFPROTO_INET,
            0,
            attrs,
        );
    }
}

fn text(kind: u16, s: &str) -> Attr {
    Attr::new(kind, Value::Str(s.to_string()))
}

fn be32(kind: u16, v: u32) -> Attr {
    Attr::new(kind, Value::Be32(v))
}

fn expression(name: &str, data: Vec<Attr>) -> Attr {
    Attr::new(
        NFTA_LIST_ELEM,
        Value::Nested(vec![
            text(NFTA_EXPR_NAME, name),
            Attr::new(NFTA_EXPR_DATA, Value::Nested(data)),
        ]),
    )
}

/// Loads a conntrack field of the packet's connection into register 1.
fn ct(key: u32, direction: u8) -> Attr {
    expression(
        "ct",
        vec![
            be32(NFTA_CT_DREG, NFT_REG_1),
            be32(NFTA_CT_KEY, key),
            Attr::new(NFTA_CT_DIRECTION, Value::U8(direction)),
        ],
    )
}

fn meta(key: u32) -> Attr {
    expression(
        "meta",
        vec![be32(NFTA_META_DREG, NFT_REG_1), be32(NFTA_META_KEY, key)],
    )
}

/// Register 1 equals `value`, or the rule ends here.
fn equals(value: Vec<u8>) -> Attr {
    expression(
        "cmp",
        vec![
            be32(NFTA_CMP_SREG, NFT_REG_1),
            be32(NFTA_CMP_OP, NFT_CMP_EQ),
            Attr::new(
                NFTA_CMP_DATA,
                Value::Nested(vec![Attr::new(NFTA_DATA_VALUE, Value::Bytes(value))]),
            ),
        ],
    )
}

fn address(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

fn protocol_number(p: Protocol) -> u8 {
    match p {
        Protocol::Tcp => 6,
        Protocol::Udp => 17,
        Protocol::Sctp => 132,
    }
}

/// The rule's expressions: the connection's original destination is the service (and
/// its reply comes from the real server, when one is named), then `masquerade`.
fn expressions(rule: &SourceNat) -> Vec<Attr> {
    let mut list = Vec::new();
    let ipv6 = rule.service.is_ipv6();
    let (src_ip, dst_ip) = if ipv6 {
        (NFT_CT_SRC_IP6, NFT_CT_DST_IP6)
    } else {
        (NFT_CT_SRC_IP, NFT_CT_DST_IP)
    };
    match rule.service {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            list.push(ct(dst_ip, ORIGINAL));
            list.push(equals(address(addr)));
            list.push(ct(NFT_CT_PROTOCOL, ORIGINAL));
            list.push(equals(vec![protocol_number(protocol)]));
            // Port 0 is a service of every port (persistence across ports).
            if port != 0 {
                list.push(ct(NFT_CT_PROTO_DST, ORIGINAL));
                list.push(equals(port.to_be_bytes().to_vec()));
            }
        }
        ServiceKey::Fwmark { mark, .. } => {
            list.push(meta(NFT_META_NFPROTO));
            list.push(equals(vec![if ipv6 { NFPROTO_IPV6 } else { NFPROTO_IPV4 }]));
            // The mark register holds the mark in the host's byte order.
            list.push(meta(NFT_META_MARK));
            list.push(equals(mark.to_ne_bytes().to_vec()));
        }
    }
    if let Some((ip, port)) = rule.real_server {
        list.push(ct(src_ip, REPLY));
        list.push(equals(address(ip)));
        if port != 0 {
            list.push(ct(NFT_CT_PROTO_SRC, REPLY));
            list.push(equals(port.to_be_bytes().to_vec()));
        }
    }
    list.push(expression("masq", Vec::new()));
    list
}

/// The transaction that makes our table hold exactly `rules` (none: no table at all).
/// Returns its bytes and the sequence numbers the kernel will acknowledge.
pub fn transaction(rules: &[SourceNat], first_sequence: u32) -> (Vec<u8>, Vec<u32>) {
    let mut batch = Batch {
        bytes: Vec::new(),
        sequence: first_sequence,
        acked: Vec::new(),
    };
    let subsystem = NFNL_SUBSYS_NFTABLES;
    batch.message(
        NFNL_MSG_BATCH_BEGIN,
        NLM_F_REQUEST,
        NFPROTO_UNSPEC,
        subsystem,
        &[],
    );
    let table = [text(NFTA_TABLE_NAME, TABLE)];
    batch.nftables(NFT_MSG_NEWTABLE, NLM_F_CREATE, &table);
    batch.nftables(NFT_MSG_DELTABLE, 0, &table);
    if !rules.is_empty() {
        batch.nftables(NFT_MSG_NEWTABLE, NLM_F_CREATE, &table);
        batch.nftables(
            NFT_MSG_NEWCHAIN,
            NLM_F_CREATE,
            &[
                text(NFTA_CHAIN_TABLE, TABLE),
                text(NFTA_CHAIN_NAME, CHAIN),
                Attr::new(
                    NFTA_CHAIN_HOOK,
                    Value::Nested(vec![
                        be32(NFTA_HOOK_HOOKNUM, NF_INET_POST_ROUTING),
                        be32(NFTA_HOOK_PRIORITY, PRIORITY_SRCNAT),
                    ]),
                ),
                be32(NFTA_CHAIN_POLICY, NF_ACCEPT),
                text(NFTA_CHAIN_TYPE, "nat"),
            ],
        );
        for rule in rules {
            batch.nftables(
                NFT_MSG_NEWRULE,
                NLM_F_CREATE | NLM_F_APPEND,
                &[
                    text(NFTA_RULE_TABLE, TABLE),
                    text(NFTA_RULE_CHAIN, CHAIN),
                    Attr::new(NFTA_RULE_EXPRESSIONS, Value::Nested(expressions(rule))),
                ],
            );
        }
    }
    batch.message(
        NFNL_MSG_BATCH_END,
        NLM_F_REQUEST,
        NFPROTO_UNSPEC,
        subsystem,
        &[],
    );
    (batch.bytes, batch.acked)
}

mod kernel;
pub use kernel::{apply, MAX_RULES};

#[cfg(test)]
mod tests;
