//! The status page's BGP section: each neighbor with its state and uptime, what it has
//! from us and its last NOTIFICATION; each prefix with why it is (not) announced.

use serde::Serialize;

use super::{duration_text, utc};
use crate::backend::BgpStatus;

#[derive(Serialize)]
pub(super) struct BgpView {
    title: String,
    drained: bool,
    neighbors: Vec<NeighborView>,
    prefixes: Vec<PrefixView>,
}

#[derive(Serialize)]
struct NeighborView {
    address: String,
    remote_as: u32,
    state: String,
    /// `up 1 h 2 min` or `Idle since ...`.
    since: String,
    advertised: String,
    notification: String,
    updates: String,
    /// `Up, detection 900 ms` or `-` without BFD.
    bfd: String,
}

#[derive(Serialize)]
struct PrefixView {
    prefix: String,
    ready: &'static str,
    why: String,
}

pub(super) fn view(s: &BgpStatus, now_ms: u64) -> BgpView {
    let ago = |ms: u64| duration_text(now_ms.saturating_sub(ms) / 1000);
    BgpView {
        title: format!("AS {}, router id {}", s.local_as, s.router_id),
        drained: s.drained,
        neighbors: s
            .neighbors
            .iter()
            .map(|n| NeighborView {
                address: n.address.clone(),
                remote_as: n.remote_as,
                state: n.state.clone(),
                since: match n.established_since_ms {
                    Some(ms) => format!("up {} (since {})", ago(ms), utc(ms)),
                    None => format!("{} ago ({})", ago(n.since_ms), utc(n.since_ms)),
                },
                advertised: if n.advertised.is_empty() {
                    "-".into()
                } else {
                    n.advertised.join(", ")
                },
                notification: match (&n.last_notification, n.last_notification_ms) {
                    (Some(text), Some(ms)) => format!("{text} ({} ago)", ago(ms)),
                    (Some(text), None) => text.clone(),
                    _ => "-".into(),
                },
                updates: format!("{} / {}", n.updates_sent, n.updates_received),
                bfd: match &n.bfd {
                    None => "-".into(),
                    Some(b) if b.problem.is_some() => {
                        format!("not running: {}", b.problem.as_deref().unwrap_or(""))
                    }
                    Some(b) if b.state == "Up" => format!(
                        "Up {} (detection {} ms, up {} times)",
                        ago(b.since_ms),
                        b.detection_us / 1000,
                        b.up_transitions
                    ),
                    Some(b) => format!(
                        "{} {} (last: {}, up {} times)",
                        b.state,
                        ago(b.since_ms),
                        b.diag,
                        b.up_transitions
                    ),
                },
            })
            .collect(),
        prefixes: s
            .prefixes
            .iter()
            .map(|p| PrefixView {
                prefix: p.prefix.clone(),
                ready: if p.ready { "announced" } else { "withdrawn" },
                why: p.why.clone(),
            })
            .collect(),
    }
}
