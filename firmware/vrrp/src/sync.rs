//! keepalived's `vrrp_sync_group`: instances that move together, so that the external
//! VIP and the internal gateway VIP are always on the same box. Pure, like [`Instance`].
//!
//! keepalived's rules (vrrp_sync.c), which RFC 5798 does not have:
//! - a member goes MASTER only when every other member wants to as well (its own
//!   master-down timer ran out); until then it re-arms its timer and waits as backup,
//!   "to avoid thrashing". When one goes MASTER, the others follow at once.
//! - when one member leaves MASTER for BACKUP (a better master appeared), the others
//!   leave MASTER too, without a priority-0 advert.
//! - when one member enters FAULT (a tracked interface went down), all do, and masters
//!   send priority 0; the group leaves FAULT only when no member has a fault of its own.
//! - when a master member hears a lower priority and announces its addresses again
//!   (garp_lower_prio_repeat), the other masters of the group announce theirs too.
//!
//! An instance outside any group is a group of one: every rule above is then void.

use std::time::Instant;

use crate::instance::{Action, Event, Instance, State};

#[derive(Debug, Clone)]
pub struct SyncGroup {
    members: Vec<Instance>,
    /// Which members have a fault of their own (not one the group imposed).
    own_fault: Vec<bool>,
}

impl SyncGroup {
    pub fn new(members: Vec<Instance>) -> SyncGroup {
        let own_fault = vec![false; members.len()];
        SyncGroup { members, own_fault }
    }

    pub fn members(&self) -> &[Instance] {
        &self.members
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.members.iter().filter_map(|m| m.next_deadline()).min()
    }

    /// keepalived's `vrrp_startup_delay` for every member: see [`Instance::delay_start`].
    pub fn delay_start(&mut self, at: Instant) {
        for m in &mut self.members {
            m.delay_start(at);
        }
    }

    /// Starts every member; actions are tagged with the member they belong to. An
    /// address owner (priority 255) is master at once and takes its group along.
    pub fn start(&mut self, now: Instant) -> Vec<(usize, Action)> {
        let mut out = Vec::new();
        for i in 0..self.members.len() {
            self.run(i, Event::Startup, now, &mut out);
        }
        if let Some(master) = self.members.iter().position(|m| m.state() == State::Master) {
            self.others(master, Event::Sync(State::Master), now, &mut out);
        }
        out
    }

    /// Stops every member (priority 0 from masters, addresses removed).
    pub fn shutdown(&mut self, now: Instant) -> Vec<(usize, Action)> {
        let mut out = Vec::new();
        for (i, m) in self.members.iter_mut().enumerate() {
            out.extend(m.handle(Event::Shutdown, now).into_iter().map(|a| (i, a)));
        }
        out
    }

    /// Runs every member whose deadline has come.
    pub fn timer(&mut self, now: Instant) -> Vec<(usize, Action)> {
        let mut out = Vec::new();
        for i in 0..self.members.len() {
            if self.members[i].next_deadline().is_some_and(|t| t <= now) {
                out.extend(self.handle(i, Event::Timer, now));
            }
        }
        out
    }

    pub fn handle(
        &mut self,
        member: usize,
        event: Event<'_>,
        now: Instant,
    ) -> Vec<(usize, Action)> {
        let mut out = Vec::new();
        match event {
            Event::Fault(true) => {
                let first = !self.own_fault.contains(&true);
                self.own_fault[member] = true;
                self.run(member, Event::Fault(true), now, &mut out);
                if first {
                    self.others(member, Event::Sync(State::Fault), now, &mut out);
                }
            }
            Event::Fault(false) => {
                self.own_fault[member] = false;
                if !self.own_fault.contains(&true) {
                    self.run(member, Event::Fault(false), now, &mut out);
                    self.others(member, Event::Sync(State::Backup), now, &mut out);
                }
            }
            Event::Timer if self.members[member].master_down_due(now) && !self.ready(member) => {
                self.members[member].defer_takeover(now);
            }
            event => {
                let before = self.members[member].state();
                self.run(member, event, now, &mut out);
                self.follow(member, before, now, &mut out);
                if out.contains(&(member, Action::AnnounceLowerPriority)) {
                    // keepalived (vrrp_state_master_rx): every other member announces
                    // too; only a master has addresses to announce.
                    for (i, m) in self.members.iter().enumerate() {
                        if i != member && m.state() == State::Master {
                            out.push((i, Action::AnnounceLowerPriority));
                        }
                    }
                }
            }
        }
        out
    }

    /// The others follow a member that went MASTER, or left MASTER for BACKUP.
    fn follow(
        &mut self,
        member: usize,
        before: State,
        now: Instant,
        out: &mut Vec<(usize, Action)>,
    ) {
        let after = self.members[member].state();
        if before == after {
            return;
        }
        match (before, after) {
            (_, State::Master) => self.others(member, Event::Sync(State::Master), now, out),
            (State::Master, State::Backup) => {
                self.others(member, Event::Sync(State::Backup), now, out)
            }
            _ => {}
        }
    }

    /// Whether `member` may go MASTER: every other member is master or wants to be.
    fn ready(&self, member: usize) -> bool {
        self.members
            .iter()
            .enumerate()
            .all(|(i, m)| i == member || m.state() == State::Master || m.wants_master())
    }

    fn run(
        &mut self,
        member: usize,
        event: Event<'_>,
        now: Instant,
        out: &mut Vec<(usize, Action)>,
    ) {
        out.extend(
            self.members[member]
                .handle(event, now)
                .into_iter()
                .map(|a| (member, a)),
        );
    }

    fn others(
        &mut self,
        member: usize,
        event: Event<'_>,
        now: Instant,
        out: &mut Vec<(usize, Action)>,
    ) {
        for i in 0..self.members.len() {
            if i != member {
                self.run(i, event, now, out);
            }
        }
    }
}

#[cfg(test)]
mod tests;
