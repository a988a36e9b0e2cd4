//! UPDATE messages (RFC 4271 §4.3): the ones we send (announce, withdraw, for IPv4 in
//! the message body and for IPv6 in MP_REACH_NLRI / MP_UNREACH_NLRI, RFC 4760 §3-§4),
//! and the checks of the ones we receive (RFC 4271 §6.3 as revised by RFC 7606). We
//! install no route, so a received UPDATE comes down to counts and, at worst, the
//! NOTIFICATION that ends the session.

use std::net::IpAddr;

use super::{
    finish, header, Prefix, WireError, AFI_IPV4, AFI_IPV6, AS_TRANS, HEADER_LEN, MAX_MESSAGE,
    SAFI_UNICAST, UPDATE,
};
use crate::notify;

// Attribute flags (RFC 4271 §4.3).
const OPTIONAL: u8 = 0x80;
const TRANSITIVE: u8 = 0x40;
const EXTENDED: u8 = 0x10;
// Attribute type codes (RFC 4271 §5, RFC 1997, RFC 4760).
const ORIGIN: u8 = 1;
const AS_PATH: u8 = 2;
const NEXT_HOP: u8 = 3;
const MED: u8 = 4;
const LOCAL_PREF: u8 = 5;
const ATOMIC_AGGREGATE: u8 = 6;
const AGGREGATOR: u8 = 7;
const COMMUNITIES: u8 = 8;
const MP_REACH: u8 = 14;
const MP_UNREACH: u8 = 15;
/// AS4_PATH (RFC 6793 §3): the real numbers beside an AS_PATH an OLD speaker reads.
const AS4_PATH: u8 = 17;
/// ORIGIN IGP (RFC 4271 §5.1.1): the VIPs are ours.
const ORIGIN_IGP: u8 = 0;
const AS_SEQUENCE: u8 = 2;
/// The well-known GRACEFUL_SHUTDOWN community 65535:0 (RFC 8326 §4).
pub const GRACEFUL_SHUTDOWN: u32 = 0xffff_0000;

/// The path attributes of the routes we announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes {
    /// Our AS for eBGP (prepended, RFC 4271 §5.1.2); `None` for iBGP: an empty AS_PATH.
    pub prepend_as: Option<u32>,
    /// LOCAL_PREF, sent to internal peers only (RFC 4271 §5.1.5).
    pub local_pref: Option<u32>,
    /// Tag the routes GRACEFUL_SHUTDOWN before they are withdrawn (RFC 8326 §4).
    pub graceful_shutdown: bool,
    /// Our address on the session, or the IPv6 address to use for IPv6 routes.
    pub next_hop: IpAddr,
    /// The peer has the 4-octet AS capability (a NEW speaker, RFC 6793 §2); without it
    /// AS_PATH carries 2-octet numbers.
    pub four_octet_as: bool,
}

fn attribute(out: &mut Vec<u8>, flags: u8, kind: u8, value: &[u8]) {
    // The Extended Length bit only where one octet cannot hold the length (RFC 4271 §4.3).
    if value.len() > 255 {
        out.extend_from_slice(&[flags | EXTENDED, kind]);
        out.extend_from_slice(&(value.len() as u16).to_be_bytes());
    } else {
        out.extend_from_slice(&[flags, kind, value.len() as u8]);
    }
    out.extend_from_slice(value);
}

/// ORIGIN, AS_PATH, LOCAL_PREF and COMMUNITIES, common to both families. AS_PATH holds
/// 4-octet numbers for a NEW peer (RFC 6793 §4.1); for an OLD one 2-octet numbers, an
/// AS above 65535 as AS_TRANS there and itself in AS4_PATH (§4.2.2).
fn common_attributes(attrs: &Attributes) -> Vec<u8> {
    let mut out = Vec::with_capacity(40);
    attribute(&mut out, TRANSITIVE, ORIGIN, &[ORIGIN_IGP]);
    let sequence = |octets: &[u8]| [&[AS_SEQUENCE, 1][..], octets].concat();
    match attrs.prepend_as {
        Some(asn) if attrs.four_octet_as => {
            attribute(&mut out, TRANSITIVE, AS_PATH, &sequence(&asn.to_be_bytes()));
        }
        Some(asn) => {
            let two = u16::try_from(asn).unwrap_or(AS_TRANS);
            attribute(&mut out, TRANSITIVE, AS_PATH, &sequence(&two.to_be_bytes()));
            if u16::try_from(asn).is_err() {
                let as4 = sequence(&asn.to_be_bytes());
                attribute(&mut out, OPTIONAL | TRANSITIVE, AS4_PATH, &as4);
            }
        }
        // An internal peer gets an empty AS_PATH (RFC 4271 §5.1.2 b).
        None => attribute(&mut out, TRANSITIVE, AS_PATH, &[]),
    }
    if let Some(pref) = attrs.local_pref {
        attribute(&mut out, TRANSITIVE, LOCAL_PREF, &pref.to_be_bytes());
    }
    if attrs.graceful_shutdown {
        attribute(
            &mut out,
            OPTIONAL | TRANSITIVE,
            COMMUNITIES,
            &GRACEFUL_SHUTDOWN.to_be_bytes(),
        );
    }
    out
}

/// One UPDATE: withdrawn IPv4 routes, path attributes, IPv4 NLRI (RFC 4271 §4.3).
fn message(withdrawn: &[u8], attrs: &[u8], nlri: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + 4 + withdrawn.len() + attrs.len() + nlri.len());
    header(&mut out, UPDATE);
    out.extend_from_slice(&(withdrawn.len() as u16).to_be_bytes());
    out.extend_from_slice(withdrawn);
    out.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    out.extend_from_slice(attrs);
    out.extend_from_slice(nlri);
    finish(&mut out, 0);
    out
}

/// Splits prefixes into NLRI blocks of at most `room` octets each.
fn blocks(prefixes: &[Prefix], room: usize) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut block = Vec::new();
    for p in prefixes {
        if !block.is_empty() && block.len() + p.wire_len() > room {
            out.push(std::mem::take(&mut block));
        }
        p.emit(&mut block);
    }
    if !block.is_empty() {
        out.push(block);
    }
    out
}

/// The largest an MP attribute's header can be: flags, type, 2-octet length.
const MP_ATTR_HEAD: usize = 4;

/// UPDATEs announcing `prefixes` (all of one family) with `attrs`, each at most 4096
/// octets. An IPv6 next hop that is not IPv6 yields nothing: the caller checks first.
pub fn announce(prefixes: &[Prefix], attrs: &Attributes) -> Vec<Vec<u8>> {
    let common = common_attributes(attrs);
    let fixed = HEADER_LEN + 4;
    match (prefixes.first().map(Prefix::is_ipv4), attrs.next_hop) {
        (None, _) => Vec::new(),
        (Some(true), IpAddr::V4(nh)) => {
            let mut attrs_v4 = common;
            attribute(&mut attrs_v4, TRANSITIVE, NEXT_HOP, &nh.octets());
            let room = MAX_MESSAGE - fixed - attrs_v4.len();
            blocks(prefixes, room)
                .iter()
                .map(|nlri| message(&[], &attrs_v4, nlri))
                .collect()
        }
        (Some(false), IpAddr::V6(nh)) => {
            // AFI, SAFI, next-hop length and address, reserved octet (RFC 4760 §3).
            let mut head = Vec::with_capacity(21);
            head.extend_from_slice(&AFI_IPV6.to_be_bytes());
            head.extend_from_slice(&[SAFI_UNICAST, 16]);
            head.extend_from_slice(&nh.octets());
            head.push(0);
            let room = MAX_MESSAGE - fixed - common.len() - MP_ATTR_HEAD - head.len();
            blocks(prefixes, room)
                .iter()
                .map(|nlri| {
                    let mut value = head.clone();
                    value.extend_from_slice(nlri);
                    // MP_REACH_NLRI first: RFC 7606 §5.1 asks senders to put it there.
                    let mut attrs = Vec::with_capacity(value.len() + common.len() + 4);
                    attribute(&mut attrs, OPTIONAL, MP_REACH, &value);
                    attrs.extend_from_slice(&common);
                    message(&[], &attrs, &[])
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

/// UPDATEs withdrawing `prefixes` (all of one family): IPv4 in the Withdrawn Routes
/// field (RFC 4271 §4.3), IPv6 in an MP_UNREACH_NLRI alone (RFC 4760 §4).
pub fn withdraw(prefixes: &[Prefix]) -> Vec<Vec<u8>> {
    let fixed = HEADER_LEN + 4;
    match prefixes.first().map(Prefix::is_ipv4) {
        None => Vec::new(),
        Some(true) => blocks(prefixes, MAX_MESSAGE - fixed)
            .iter()
            .map(|w| message(w, &[], &[]))
            .collect(),
        Some(false) => {
            let mut head = AFI_IPV6.to_be_bytes().to_vec();
            head.push(SAFI_UNICAST);
            blocks(prefixes, MAX_MESSAGE - fixed - MP_ATTR_HEAD - head.len())
                .iter()
                .map(|w| {
                    let mut value = head.clone();
                    value.extend_from_slice(w);
                    let mut attrs = Vec::with_capacity(value.len() + 4);
                    attribute(&mut attrs, OPTIONAL, MP_UNREACH, &value);
                    message(&[], &attrs, &[])
                })
                .collect()
        }
    }
}

/// What a valid UPDATE from the peer carried. Nothing of it is kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Received {
    pub announced: usize,
    pub withdrawn: usize,
    /// The routes announced are to be treated as withdrawn (RFC 7606 §2): this says why.
    /// For a speaker that installs nothing, that is a log line and a count.
    pub treat_as_withdraw: Option<String>,
}

fn update_error(subcode: u8, detail: impl Into<String>) -> WireError {
    WireError::new(notify::UPDATE, subcode, &[], detail)
}

/// Counts the prefixes of an NLRI field (RFC 4271 §4.3); one that is cut short or
/// longer than its family allows is an Invalid Network Field (RFC 4271 §6.3, RFC 7606 §5.3).
fn count_prefixes(mut nlri: &[u8], max_bits: u8, field: &str) -> Result<usize, WireError> {
    let mut n = 0;
    while let [bits, rest @ ..] = nlri {
        let octets = usize::from(*bits).div_ceil(8);
        if *bits > max_bits || rest.len() < octets {
            return Err(update_error(
                notify::INVALID_NETWORK_FIELD,
                format!(
                    "{field}: prefix length {bits} with {} octets left",
                    rest.len()
                ),
            ));
        }
        nlri = &rest[octets..];
        n += 1;
    }
    Ok(n)
}

/// The family of an MP attribute's AFI/SAFI, as the longest prefix it allows; `None`
/// for families we did not offer, whose NLRI we skip (RFC 4760 §6 leaves them to us).
fn family_bits(afi: u16, safi: u8) -> Option<u8> {
    match (afi, safi) {
        (AFI_IPV4, SAFI_UNICAST) => Some(32),
        (AFI_IPV6, SAFI_UNICAST) => Some(128),
        _ => None,
    }
}

/// Checks a received UPDATE that [`super::frame`] delimited, from a NEW speaker.
pub fn check(msg: &[u8]) -> Result<Received, WireError> {
    check_from(msg, true)
}

/// The same, from a peer with (NEW) or without (OLD) the 4-octet AS capability: its
/// AS_PATH numbers are 4 or 2 octets long (RFC 6793 §4).
pub fn check_from(msg: &[u8], four_octet_as: bool) -> Result<Received, WireError> {
    let as_octets = if four_octet_as { 4 } else { 2 };
    let body = &msg[HEADER_LEN..];
    let malformed = |what: &str| update_error(notify::MALFORMED_ATTRIBUTE_LIST, what.to_string());
    // The two length fields must fit the message (RFC 4271 §6.3, first paragraph).
    let wlen = usize::from(u16::from_be_bytes([body[0], body[1]]));
    let withdrawn = body
        .get(2..2 + wlen)
        .ok_or_else(|| malformed("withdrawn routes length overruns the message"))?;
    let alen_at = 2 + wlen;
    let alen = body
        .get(alen_at..alen_at + 2)
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        .ok_or_else(|| malformed("no room for the path attribute length"))?;
    let attrs = body
        .get(alen_at + 2..alen_at + 2 + alen)
        .ok_or_else(|| malformed("path attribute length overruns the message"))?;
    let nlri = &body[alen_at + 2 + alen..];
    let mut got = Received {
        withdrawn: count_prefixes(withdrawn, 32, "withdrawn routes")?,
        announced: count_prefixes(nlri, 32, "NLRI")?,
        treat_as_withdraw: None,
    };
    let mut seen = [false; 256];
    let mut rest = attrs;
    while !rest.is_empty() {
        let (flags, kind, value, next) = split_attribute(rest)?;
        rest = next;
        // A repeated MP attribute ends the session, any other repeat is ignored (RFC 7606 §3 g).
        if std::mem::replace(&mut seen[usize::from(kind)], true) {
            if matches!(kind, MP_REACH | MP_UNREACH) {
                return Err(malformed("MP_REACH_NLRI or MP_UNREACH_NLRI twice"));
            }
            continue;
        }
        if let Some(why) = check_attribute(flags, kind, value, as_octets, &mut got)? {
            got.treat_as_withdraw.get_or_insert(why);
        }
    }
    // Routes need ORIGIN and AS_PATH, and IPv4 NLRI in the body a NEXT_HOP (RFC 4271
    // §5; a missing one is treat-as-withdraw, RFC 7606 §3 d).
    let reach = got.announced > 0 || seen[usize::from(MP_REACH)];
    for (kind, needed, name) in [
        (ORIGIN, reach, "ORIGIN"),
        (AS_PATH, reach, "AS_PATH"),
        (NEXT_HOP, !nlri.is_empty(), "NEXT_HOP"),
    ] {
        if needed && !seen[usize::from(kind)] {
            got.treat_as_withdraw
                .get_or_insert(format!("no {name} attribute"));
        }
    }
    Ok(got)
}

type Split<'a> = (u8, u8, &'a [u8], &'a [u8]);

/// One attribute's flags, type and value, and what follows it. An attribute that
/// overruns the list ends the session: past it, the NLRI of MP_REACH_NLRI cannot be
/// found with certainty (RFC 7606 §4 allows treat-as-withdraw only when it can).
fn split_attribute(list: &[u8]) -> Result<Split<'_>, WireError> {
    let cut = || {
        update_error(
            notify::MALFORMED_ATTRIBUTE_LIST,
            "a path attribute overruns the attribute list",
        )
    };
    let (flags, kind) = match list {
        [f, k, ..] => (*f, *k),
        _ => return Err(cut()),
    };
    let (head, len) = if flags & EXTENDED != 0 {
        let b = list.get(2..4).ok_or_else(cut)?;
        (4, usize::from(u16::from_be_bytes([b[0], b[1]])))
    } else {
        (3, usize::from(*list.get(2).ok_or_else(cut)?))
    };
    let value = list.get(head..head + len).ok_or_else(cut)?;
    Ok((flags, kind, value, &list[head + len..]))
}

/// Checks one attribute: `Ok(Some(why))` is treat-as-withdraw, `Err` ends the session.
fn check_attribute(
    flags: u8,
    kind: u8,
    value: &[u8],
    as_octets: usize,
    got: &mut Received,
) -> Result<Option<String>, WireError> {
    let well_known = matches!(
        kind,
        ORIGIN | AS_PATH | NEXT_HOP | LOCAL_PREF | ATOMIC_AGGREGATE
    );
    let known =
        well_known || matches!(kind, MED | AGGREGATOR | COMMUNITIES | MP_REACH | MP_UNREACH);
    if !known {
        // An unknown optional attribute is fine to ignore; an unknown well-known one is
        // an error (RFC 4271 §6.3).
        if flags & OPTIONAL == 0 {
            let data = [flags, kind];
            return Err(WireError::new(
                notify::UPDATE,
                notify::UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE,
                &data,
                format!("unknown well-known attribute type {kind}"),
            ));
        }
        return Ok(None);
    }
    // Well-known attributes are transitive and not optional (RFC 4271 §5); a flags error
    // is handled as the attribute's own error (RFC 7606 §3 c).
    let flags_ok = if well_known {
        flags & (OPTIONAL | TRANSITIVE) == TRANSITIVE
    } else {
        flags & OPTIONAL != 0
    };
    let bad = |what: String| Ok(Some(what));
    match kind {
        MP_REACH | MP_UNREACH => return check_mp(kind, value, got).map(|()| None),
        _ if !flags_ok => return bad(format!("attribute {kind} with flags {flags:#04x}")),
        // ORIGIN, NEXT_HOP, MED, LOCAL_PREF: fixed sizes and ORIGIN's three values
        // (RFC 7606 §7.1, §7.3-§7.5: treat-as-withdraw).
        ORIGIN if value.len() != 1 || value[0] > 2 => return bad(format!("ORIGIN {value:02x?}")),
        NEXT_HOP | MED | LOCAL_PREF if value.len() != 4 => {
            return bad(format!("attribute {kind} of {} octets", value.len()))
        }
        AS_PATH => return Ok(check_as_path(value, as_octets).err()),
        // COMMUNITIES: a non-zero multiple of four octets (RFC 7606 §7.8).
        COMMUNITIES if value.is_empty() || !value.len().is_multiple_of(4) => {
            return bad(format!("COMMUNITIES of {} octets", value.len()))
        }
        // ATOMIC_AGGREGATE and AGGREGATOR errors discard the attribute alone (RFC 7606
        // §7.6-§7.7), which for us is nothing at all.
        _ => {}
    }
    Ok(None)
}

/// AS_PATH segments (RFC 4271 §4.3; numbers of `as_octets`, 4 from a NEW speaker, RFC
/// 6793 §4.1): a known type, a non-zero count, and exactly the octets the counts say
/// (RFC 7606 §7.2).
fn check_as_path(mut path: &[u8], as_octets: usize) -> Result<(), String> {
    while let [kind, count, rest @ ..] = path {
        let len = usize::from(*count) * as_octets;
        if !(1..=4).contains(kind) || *count == 0 || rest.len() < len {
            return Err(format!(
                "malformed AS_PATH segment (type {kind}, {count} ASes)"
            ));
        }
        path = &rest[len..];
    }
    match path {
        [] => Ok(()),
        _ => Err("AS_PATH ends in the middle of a segment".to_string()),
    }
}

/// MP_REACH_NLRI (RFC 4760 §3) or MP_UNREACH_NLRI (§4). Their errors end the session
/// (RFC 7606 §5.3, §7.11: we cannot tell which routes they carried).
fn check_mp(kind: u8, value: &[u8], got: &mut Received) -> Result<(), WireError> {
    let err = |what: &str| update_error(notify::OPTIONAL_ATTRIBUTE_ERROR, what.to_string());
    let (afi, safi, nlri) = if kind == MP_REACH {
        let [a, b, safi, nh_len, ref rest @ ..] = *value else {
            return Err(err("MP_REACH_NLRI is cut short"));
        };
        let nh_len = usize::from(nh_len);
        // The next hop, then a reserved octet.
        let nlri = rest
            .get(nh_len + 1..)
            .ok_or_else(|| err("MP_REACH_NLRI next hop overruns it"))?;
        (u16::from_be_bytes([a, b]), safi, nlri)
    } else {
        let [a, b, safi, ref nlri @ ..] = *value else {
            return Err(err("MP_UNREACH_NLRI is cut short"));
        };
        (u16::from_be_bytes([a, b]), safi, nlri)
    };
    let Some(bits) = family_bits(afi, safi) else {
        return Ok(());
    };
    let n = count_prefixes(
        nlri,
        bits,
        if kind == MP_REACH {
            "MP_REACH_NLRI"
        } else {
            "MP_UNREACH_NLRI"
        },
    )?;
    if kind == MP_REACH {
        got.announced += n;
    } else {
        got.withdrawn += n;
    }
    Ok(())
}
