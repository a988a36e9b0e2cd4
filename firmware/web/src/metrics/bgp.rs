//! The BGP speaker's families: each neighbor's session and counters, each prefix's
//! readiness, the drain.

use super::Out;
use crate::backend::{BfdNeighborStatus, BgpNeighborStatus, BgpStatus};

/// A counter family: its name, its help, and where each neighbor keeps it.
type Counter = (&'static str, &'static str, fn(&BgpNeighborStatus) -> u64);
/// The same for a neighbor's BFD session.
type BfdCounter = (&'static str, &'static str, fn(&BfdNeighborStatus) -> u64);

/// RFC 4271's states in the order of §8.2.2, 1 to 6 (0: not known).
fn state_number(state: &str) -> u8 {
    match state {
        "Idle" => 1,
        "Connect" => 2,
        "Active" => 3,
        "OpenSent" => 4,
        "OpenConfirm" => 5,
        "Established" => 6,
        _ => 0,
    }
}

pub(super) fn render(o: &mut Out, s: &BgpStatus) {
    o.family(
        "lvsfw_bgp_drained",
        "gauge",
        "1 while the box is drained (every BGP prefix withdrawn).",
    );
    o.sample("lvsfw_bgp_drained", &[], u8::from(s.drained));
    o.family(
        "lvsfw_bgp_session_state",
        "gauge",
        "BGP session state: 1 Idle, 2 Connect, 3 Active, 4 OpenSent, 5 OpenConfirm, 6 Established.",
    );
    for n in &s.neighbors {
        o.sample(
            "lvsfw_bgp_session_state",
            &[("neighbor", &n.address), ("state", &n.state)],
            state_number(&n.state),
        );
    }
    o.family(
        "lvsfw_bgp_established_since_seconds",
        "gauge",
        "When the BGP session came up, in seconds since the epoch (absent: not up).",
    );
    for n in &s.neighbors {
        if let Some(ms) = n.established_since_ms {
            o.sample(
                "lvsfw_bgp_established_since_seconds",
                &[("neighbor", &n.address)],
                ms / 1000,
            );
        }
    }
    o.family(
        "lvsfw_bgp_advertised_prefixes",
        "gauge",
        "Prefixes the neighbor has from this box now.",
    );
    for n in &s.neighbors {
        o.sample(
            "lvsfw_bgp_advertised_prefixes",
            &[("neighbor", &n.address)],
            n.advertised.len(),
        );
    }
    let counters: [Counter; 5] = [
        ("lvsfw_bgp_updates_sent_total", "UPDATEs sent.", |n| {
            n.updates_sent
        }),
        (
            "lvsfw_bgp_updates_received_total",
            "UPDATEs received (validated, discarded).",
            |n| n.updates_received,
        ),
        (
            "lvsfw_bgp_notifications_sent_total",
            "NOTIFICATIONs sent.",
            |n| n.notifications_sent,
        ),
        (
            "lvsfw_bgp_notifications_received_total",
            "NOTIFICATIONs received.",
            |n| n.notifications_received,
        ),
        (
            "lvsfw_bgp_established_total",
            "Times the session came up.",
            |n| n.established,
        ),
    ];
    for (name, help, value) in counters {
        o.family(name, "counter", help);
        for n in &s.neighbors {
            o.sample(name, &[("neighbor", &n.address)], value(n));
        }
    }
    bfd(o, s);
    o.family(
        "lvsfw_bgp_prefix_ready",
        "gauge",
        "1 while the box is ready to serve the prefix and announces it.",
    );
    for p in &s.prefixes {
        o.sample(
            "lvsfw_bgp_prefix_ready",
            &[("prefix", &p.prefix)],
            u8::from(p.ready),
        );
    }
}

/// The BFD sessions of the neighbors that have one (RFC 5880): no family without one.
fn bfd(o: &mut Out, s: &BgpStatus) {
    let with: Vec<_> = s
        .neighbors
        .iter()
        .filter_map(|n| n.bfd.as_ref().map(|b| (n.address.as_str(), b)))
        .collect();
    if with.is_empty() {
        return;
    }
    o.family(
        "lvsfw_bfd_session_state",
        "gauge",
        "BFD session state as on the wire (RFC 5880 §4.1): 0 AdminDown, 1 Down, 2 Init, 3 Up.",
    );
    for (a, b) in &with {
        let n = match b.state.as_str() {
            "AdminDown" => 0,
            "Down" => 1,
            "Init" => 2,
            _ => 3,
        };
        o.sample(
            "lvsfw_bfd_session_state",
            &[("neighbor", a), ("state", &b.state)],
            n,
        );
    }
    o.family(
        "lvsfw_bfd_detection_time_seconds",
        "gauge",
        "The negotiated detection time while Up (0: not Up).",
    );
    for (a, b) in &with {
        let secs = b.detection_us as f64 / 1e6;
        o.sample("lvsfw_bfd_detection_time_seconds", &[("neighbor", a)], secs);
    }
    let counters: [BfdCounter; 4] = [
        (
            "lvsfw_bfd_up_transitions_total",
            "Times the BFD session came up.",
            |b| b.up_transitions,
        ),
        (
            "lvsfw_bfd_down_transitions_total",
            "Times the BFD session went down after being up.",
            |b| b.down_transitions,
        ),
        (
            "lvsfw_bfd_packets_received_total",
            "BFD control packets accepted.",
            |b| b.received,
        ),
        (
            "lvsfw_bfd_packets_sent_total",
            "BFD control packets sent.",
            |b| b.sent,
        ),
    ];
    for (name, help, value) in counters {
        o.family(name, "counter", help);
        for (a, b) in &with {
            o.sample(name, &[("neighbor", a)], value(b));
        }
    }
    o.family(
        "lvsfw_bfd_packets_dropped_total",
        "counter",
        "BFD control packets dropped, by the rule of RFC 5880 §6.8.6 / RFC 5881 §5 they broke.",
    );
    for (a, b) in &with {
        for (why, count) in &b.dropped {
            o.sample(
                "lvsfw_bfd_packets_dropped_total",
                &[("neighbor", a), ("reason", why)],
                count,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::backend::{
        BfdNeighborStatus, BgpNeighborStatus, BgpPrefixStatus, BgpStatus, Status,
    };

    #[test]
    fn sessions_counters_and_prefixes_are_families() {
        let status = Status {
            bgp: Some(BgpStatus {
                local_as: 65001,
                router_id: "192.0.2.1".into(),
                drained: true,
                neighbors: vec![BgpNeighborStatus {
                    address: "192.0.2.254".into(),
                    remote_as: 65000,
                    state: "Established".into(),
                    established_since_ms: Some(5_000),
                    advertised: vec!["192.0.2.10/32".into()],
                    updates_sent: 4,
                    bfd: Some(BfdNeighborStatus {
                        state: "Up".into(),
                        detection_us: 900_000,
                        up_transitions: 2,
                        dropped: vec![("ttl".into(), 3)],
                        ..BfdNeighborStatus::default()
                    }),
                    ..BgpNeighborStatus::default()
                }],
                prefixes: vec![BgpPrefixStatus {
                    prefix: "192.0.2.10/32".into(),
                    ready: false,
                    why: "drained".into(),
                }],
            }),
            ..Status::default()
        };
        let text = crate::metrics::render(&status);
        for line in [
            "lvsfw_bgp_drained 1",
            "lvsfw_bgp_session_state{neighbor=\"192.0.2.254\",state=\"Established\"} 6",
            "lvsfw_bgp_established_since_seconds{neighbor=\"192.0.2.254\"} 5",
            "lvsfw_bgp_advertised_prefixes{neighbor=\"192.0.2.254\"} 1",
            "lvsfw_bgp_updates_sent_total{neighbor=\"192.0.2.254\"} 4",
            "lvsfw_bgp_prefix_ready{prefix=\"192.0.2.10/32\"} 0",
            "lvsfw_bfd_session_state{neighbor=\"192.0.2.254\",state=\"Up\"} 3",
            "lvsfw_bfd_detection_time_seconds{neighbor=\"192.0.2.254\"} 0.9",
            "lvsfw_bfd_up_transitions_total{neighbor=\"192.0.2.254\"} 2",
            "lvsfw_bfd_packets_dropped_total{neighbor=\"192.0.2.254\",reason=\"ttl\"} 3",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in:\n{text}");
        }
        assert!(!crate::metrics::render(&Status::default()).contains("lvsfw_bgp"));
    }
}
