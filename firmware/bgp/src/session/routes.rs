//! What the peer has from us: announcing, withdrawing, and the graceful-shutdown wait
//! between the two (RFC 8326).

use std::time::Instant;

use super::{Action, Session, State};
use crate::wire::update;
use crate::wire::Prefix;

impl Session {
    pub(super) fn announce(&mut self, prefix: Prefix, out: &mut Vec<Action>) {
        self.desired.insert(prefix);
        self.draining.remove(&prefix);
        if self.state == State::Established && self.sent.get(&prefix) != Some(&false) {
            // New, or tagged GRACEFUL_SHUTDOWN: an UPDATE without the tag replaces it.
            self.send_routes(&[prefix], false, out);
        }
    }

    pub(super) fn withdraw(&mut self, prefix: Prefix, now: Instant, out: &mut Vec<Action>) {
        self.desired.remove(&prefix);
        if self.state != State::Established || !self.sent.contains_key(&prefix) {
            return;
        }
        let wait = self.settings.graceful_shutdown;
        if wait.is_zero() {
            self.send_withdraw(&[prefix], out);
        } else if !self.draining.contains_key(&prefix) {
            // Tag it GRACEFUL_SHUTDOWN so the routers move traffic to the other paths,
            // and withdraw it when they had the time (RFC 8326 §4, §5).
            self.send_routes(&[prefix], true, out);
            self.draining.insert(prefix, now + wait);
        }
    }

    /// On entering Established: every desired prefix (RFC 4271 §9.1.3: the routes we
    /// choose to advertise go to a new peer).
    pub(super) fn announce_all(&mut self, now: Instant, out: &mut Vec<Action>) {
        let all: Vec<Prefix> = self.desired.iter().copied().collect();
        self.send_routes(&all, false, out);
        self.restart_keepalive(now);
    }

    pub(super) fn drain_due(&mut self, now: Instant, out: &mut Vec<Action>) {
        let due: Vec<Prefix> = self
            .draining
            .iter()
            .filter(|(_, &at)| at <= now)
            .map(|(p, _)| *p)
            .collect();
        if due.is_empty() {
            return;
        }
        for p in &due {
            self.draining.remove(p);
        }
        self.send_withdraw(&due, out);
        self.restart_keepalive(now);
    }

    /// UPDATEs announcing `prefixes`, per family, to the families the peer took and
    /// with a next hop we have.
    fn send_routes(&mut self, prefixes: &[Prefix], graceful_shutdown: bool, out: &mut Vec<Action>) {
        let Some(n) = self.negotiated.clone() else {
            return;
        };
        for v4 in [true, false] {
            let family: Vec<Prefix> = prefixes
                .iter()
                .filter(|p| p.is_ipv4() == v4)
                .copied()
                .collect();
            if family.is_empty() {
                continue;
            }
            let name = if v4 { "IPv4" } else { "IPv6" };
            if !(if v4 { n.ipv4 } else { n.ipv6 }) {
                out.push(Action::Note(format!(
                    "not announcing {} {name} prefixes: the peer did not offer {name} unicast",
                    family.len()
                )));
                continue;
            }
            let Some(attrs) = self.attributes(graceful_shutdown, v4) else {
                out.push(Action::Note(format!(
                    "not announcing {} {name} prefixes: no {name} next hop",
                    family.len()
                )));
                continue;
            };
            for msg in update::announce(&family, &attrs) {
                self.counters.updates_sent += 1;
                out.push(Action::Send(msg));
            }
            for p in family {
                self.sent.insert(p, graceful_shutdown);
            }
        }
    }

    fn send_withdraw(&mut self, prefixes: &[Prefix], out: &mut Vec<Action>) {
        for v4 in [true, false] {
            let family: Vec<Prefix> = prefixes
                .iter()
                .filter(|p| p.is_ipv4() == v4 && self.sent.contains_key(p))
                .copied()
                .collect();
            for msg in update::withdraw(&family) {
                self.counters.updates_sent += 1;
                out.push(Action::Send(msg));
            }
            for p in &family {
                self.sent.remove(p);
            }
        }
    }
}
