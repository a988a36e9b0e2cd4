//! keepalived's `vrrp_garp_interval` and `vrrp_gna_interval`, pure: the gratuitous ARPs
//! (and unsolicited NAs) of one group wait in a queue and leave one interface at most
//! one per interval, so that a switch that polices ARP does not drop a burst. With no
//! interval (keepalived's default) everything leaves at once.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Announcements waiting, beyond which new ones are dropped (and the drop logged): the
/// longest legitimate burst is a few rounds of a few hundred VIPs.
pub const QUEUE: usize = 4096;

#[derive(Debug, Clone)]
pub struct Pacer {
    arp: Duration,
    na: Duration,
    /// (member, interface index, address), in the order asked.
    waiting: VecDeque<(usize, u32, IpAddr)>,
    /// Per interface and family: when the next one may leave.
    next: Vec<((u32, bool), Instant)>,
}

impl Pacer {
    pub fn new(arp: Duration, na: Duration) -> Pacer {
        Pacer {
            arp,
            na,
            waiting: VecDeque::new(),
            next: Vec::new(),
        }
    }

    /// Queues one announcement of `address` on interface `ifindex` for `member`; false
    /// when the queue is full.
    pub fn push(&mut self, member: usize, ifindex: u32, address: IpAddr) -> bool {
        if self.waiting.len() >= QUEUE {
            return false;
        }
        self.waiting.push_back((member, ifindex, address));
        true
    }

    /// Forgets what `member` still had waiting (it left MASTER).
    pub fn cancel(&mut self, member: usize) {
        self.waiting.retain(|(m, _, _)| *m != member);
    }

    /// What may leave now, in order; each interface's next slot moves on by its interval.
    pub fn due(&mut self, now: Instant) -> Vec<(usize, u32, IpAddr)> {
        let mut out = Vec::new();
        let mut held = VecDeque::new();
        while let Some((member, ifindex, address)) = self.waiting.pop_front() {
            let key = (ifindex, address.is_ipv6());
            let interval = if address.is_ipv6() { self.na } else { self.arp };
            let slot = self.next.iter_mut().find(|(k, _)| *k == key);
            let free = slot.as_ref().is_none_or(|(_, at)| *at <= now);
            if !free {
                held.push_back((member, ifindex, address));
                continue;
            }
            if !interval.is_zero() {
                match slot {
                    Some((_, at)) => *at = now + interval,
                    None => self.next.push((key, now + interval)),
                }
            }
            out.push((member, ifindex, address));
        }
        self.waiting = held;
        out
    }

    /// When the next waiting announcement may leave.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.waiting
            .iter()
            .filter_map(|(_, ifindex, address)| {
                let key = (*ifindex, address.is_ipv6());
                self.next.iter().find(|(k, _)| *k == key).map(|(_, at)| *at)
            })
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn without_an_interval_everything_leaves_at_once() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Duration::ZERO, Duration::ZERO);
        for _ in 0..5 {
            p.push(0, 2, ip("192.168.0.100"));
        }
        assert_eq!(p.due(t0).len(), 5);
        assert_eq!(p.next_deadline(), None);
    }

    #[test]
    fn one_interface_sends_one_arp_per_interval_and_others_are_not_held() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut p = Pacer::new(ms(10), ms(20));
        p.push(0, 2, ip("192.168.0.100"));
        p.push(0, 2, ip("192.168.0.100"));
        p.push(1, 3, ip("192.168.33.10"));
        p.push(0, 2, ip("fd00::100"));
        // One of each interface and family now; the second ARP on link 2 waits.
        assert_eq!(
            p.due(t0),
            vec![
                (0, 2, ip("192.168.0.100")),
                (1, 3, ip("192.168.33.10")),
                (0, 2, ip("fd00::100"))
            ]
        );
        assert_eq!(p.next_deadline(), Some(t0 + ms(10)));
        assert!(p.due(t0 + ms(9)).is_empty());
        assert_eq!(p.due(t0 + ms(10)), vec![(0, 2, ip("192.168.0.100"))]);
        assert_eq!(p.next_deadline(), None);
    }

    #[test]
    fn a_member_that_left_master_has_nothing_left_to_send_and_the_queue_is_bounded() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Duration::from_secs(1), Duration::ZERO);
        p.push(0, 2, ip("192.168.0.100"));
        p.push(0, 2, ip("192.168.0.100"));
        p.due(t0);
        p.cancel(0);
        assert_eq!(p.next_deadline(), None);
        for _ in 0..QUEUE {
            assert!(p.push(1, 2, ip("192.168.0.100")));
        }
        assert!(!p.push(1, 2, ip("192.168.0.100")));
    }
}
