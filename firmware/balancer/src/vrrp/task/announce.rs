//! A group's gratuitous ARPs and unsolicited NAs, with keepalived's timing (see
//! [`super::super::spec::GarpTiming`]): on becoming master, again after
//! `garp_master_delay`, every `garp_master_refresh` while master, and when a master
//! hears a lower priority; paced by `vrrp_garp_interval` / `vrrp_gna_interval`.

use std::time::Instant;

use super::GroupTask;

impl GroupTask {
    /// Action::Announce: the member just became master.
    pub(super) fn became_master(&mut self, i: usize) {
        let now = Instant::now();
        let m = &mut self.members[i];
        let garp = m.spec.garp;
        m.second_garp_at = (!garp.delay.is_zero()).then(|| now + garp.delay);
        m.refresh_at = garp.refresh.map(|every| now + every);
        self.announce(i, garp.repeat, now);
    }

    /// Action::AnnounceLowerPriority: keepalived's garp_lower_prio_repeat, and again
    /// after garp_lower_prio_delay. keepalived starts one delayed round per lower advert
    /// heard; here a lower advert moves the one pending round, so a lower master that
    /// goes on advertising costs one burst per advert, not two.
    pub(super) fn heard_lower_priority(&mut self, i: usize) {
        let now = Instant::now();
        let garp = self.members[i].spec.garp;
        if garp.lower_prio_repeat == 0 {
            return;
        }
        self.announce(i, garp.lower_prio_repeat, now);
        if !garp.lower_prio_delay.is_zero() {
            self.members[i].lower_prio_garp_at = Some(now + garp.lower_prio_delay);
        }
    }

    /// The member is no longer master: nothing more to announce.
    pub(super) fn left_master(&mut self, i: usize) {
        let m = &mut self.members[i];
        m.second_garp_at = None;
        m.refresh_at = None;
        m.lower_prio_garp_at = None;
        self.pacer.cancel(i);
    }

    /// The announcement timers that have come, and what the pacer lets out now.
    pub(super) fn garp_timers(&mut self, now: Instant) {
        for i in 0..self.members.len() {
            let m = &mut self.members[i];
            let garp = m.spec.garp;
            if m.second_garp_at.is_some_and(|t| t <= now) {
                m.second_garp_at = None;
                self.announce(i, garp.repeat, now);
            }
            let m = &mut self.members[i];
            if m.refresh_at.is_some_and(|t| t <= now) {
                m.refresh_at = garp.refresh.map(|every| now + every);
                self.announce(i, garp.refresh_repeat, now);
            }
            let m = &mut self.members[i];
            if m.lower_prio_garp_at.is_some_and(|t| t <= now) {
                m.lower_prio_garp_at = None;
                self.announce(i, garp.lower_prio_repeat, now);
            }
        }
        self.send_due(now);
    }

    /// A master whose VIP's interface changed its MAC (a bond that failed over to a
    /// member with its own MAC) says so at once: otherwise the segment keeps sending to
    /// the old MAC until its caches age out (keepalived issue #2298).
    pub(super) fn follow_macs(&mut self) {
        let now = Instant::now();
        for i in 0..self.members.len() {
            let m = &self.members[i];
            let moved: Vec<u32> = m
                .announcers
                .iter()
                .filter_map(|(index, a)| a.mac_changed().map(|_| *index))
                .collect();
            let master = self.group.members()[i].state() == vrrp::State::Master;
            if master && !moved.is_empty() {
                let name = m
                    .spec
                    .vips
                    .iter()
                    .find(|v| moved.contains(&v.ifindex))
                    .map_or("an interface", |v| v.ifname.as_str());
                log::info!(
                    "{}: the MAC of {name} changed; announcing the virtual addresses again",
                    m.spec.name
                );
                let rounds = m.spec.garp.repeat;
                self.announce_on(i, rounds, Some(&moved), now);
            }
        }
    }

    /// `rounds` gratuitous ARPs / unsolicited NAs for every VIP of member `i`, through
    /// the pacer.
    fn announce(&mut self, i: usize, rounds: u32, now: Instant) {
        self.announce_on(i, rounds, None, now);
    }

    /// [`GroupTask::announce`] for the VIPs on the interfaces `only` names (all: `None`).
    fn announce_on(&mut self, i: usize, rounds: u32, only: Option<&[u32]>, now: Instant) {
        let m = &self.members[i];
        let mut full = false;
        for _ in 0..rounds {
            for vip in m
                .spec
                .vips
                .iter()
                .filter(|v| only.is_none_or(|o| o.contains(&v.ifindex)))
            {
                full |= !self.pacer.push(i, vip.ifindex, vip.prefix.addr);
            }
        }
        if full {
            log::warn!(
                "{}: too many announcements waiting (vrrp_garp_interval); some were dropped",
                m.spec.name
            );
        }
        self.send_due(now);
    }

    fn send_due(&mut self, now: Instant) {
        for (i, ifindex, address) in self.pacer.due(now) {
            let m = &self.members[i];
            let Some((_, announcer)) = m.announcers.iter().find(|(ix, _)| *ix == ifindex) else {
                continue;
            };
            if let Err(e) = announcer.announce(address) {
                log::warn!("{}: announcing {address}: {e}", m.spec.name);
            }
        }
    }
}
