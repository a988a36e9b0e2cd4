//! The desired IPVS table against the kernel's: the fewest operations between them.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::model::{Destination, Service, ServiceKey};

/// A service's destinations by address and port.
pub type Destinations = BTreeMap<(IpAddr, u16), Destination>;

/// A whole IPVS table: services by key, each with its destinations.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Table {
    pub services: BTreeMap<ServiceKey, (Service, Destinations)>,
}

impl Table {
    pub fn insert_service(&mut self, service: Service) {
        match self.services.get_mut(&service.key) {
            Some(entry) => entry.0 = service,
            None => {
                self.services
                    .insert(service.key, (service, BTreeMap::new()));
            }
        }
    }

    /// Adds a destination to a service already in the table; false if there is none.
    pub fn insert_destination(&mut self, key: &ServiceKey, dest: Destination) -> bool {
        match self.services.get_mut(key) {
            Some((_, dests)) => {
                dests.insert((dest.addr, dest.port), dest);
                true
            }
            None => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    AddService(Service),
    /// Scheduler, persistence or flags changed: edited in place.
    EditService(Service),
    DelService(ServiceKey),
    AddDestination(ServiceKey, Destination),
    /// Weight, thresholds or method changed: edited in place, its connections stay.
    EditDestination(ServiceKey, Destination),
    DelDestination(ServiceKey, IpAddr, u16),
}

/// Whether the order of a service's destinations in the kernel matters: the `mh`
/// scheduler (Maglev hashing) fills its lookup table by taking the destinations in list
/// order, so two boxes hold the same table only if they list the same destinations in
/// the same order. For such a service lvsfw keeps the kernel's list in one canonical
/// order, by address and port (see [`reconcile`]).
pub fn keeps_order(service: &Service) -> bool {
    service.scheduler == "mh"
}

/// Operations that turn `actual` into `desired`, touching nothing that already matches.
///
/// `owned` limits deletions: a service of the kernel's table that lvsfw does not own (an
/// operator's ipvsadm rule) is left alone. Destinations are removed before they are
/// added, so a service never briefly holds both an old and a new set.
///
/// For a service whose order matters ([`keeps_order`]) the kernel's list is kept sorted
/// by address and port, the order a new service gets its destinations in: the kernel
/// appends a new destination, so the ones that sort after it are deleted and added again
/// behind it. Their connections stay: the kernel keeps a deleted destination that still
/// has connections and takes it back when it is added again.
pub fn reconcile(desired: &Table, actual: &Table, owned: &dyn Fn(&ServiceKey) -> bool) -> Vec<Op> {
    let mut ops = Vec::new();
    for (key, (service, dests)) in &desired.services {
        match actual.services.get(key) {
            None => {
                ops.push(Op::AddService(service.clone()));
                ops.extend(dests.values().map(|d| Op::AddDestination(*key, d.clone())));
            }
            Some((have_service, have_dests)) => {
                if have_service != service {
                    ops.push(Op::EditService(service.clone()));
                }
                for ((addr, port), _) in have_dests.iter().filter(|(k, _)| !dests.contains_key(k)) {
                    ops.push(Op::DelDestination(*key, *addr, *port));
                }
                // The first destination to add; kept ones after it move behind it.
                let first_new = dests.keys().find(|k| !have_dests.contains_key(k));
                let moved =
                    |k: &(IpAddr, u16)| keeps_order(service) && first_new.is_some_and(|f| k > f);
                for (addr, port) in dests.keys().filter(|k| have_dests.contains_key(k)) {
                    if moved(&(*addr, *port)) {
                        ops.push(Op::DelDestination(*key, *addr, *port));
                    }
                }
                for (k, d) in dests {
                    match have_dests.get(k) {
                        None => ops.push(Op::AddDestination(*key, d.clone())),
                        Some(_) if moved(k) => ops.push(Op::AddDestination(*key, d.clone())),
                        Some(have) if have != d => ops.push(Op::EditDestination(*key, d.clone())),
                        Some(_) => {}
                    }
                }
            }
        }
    }
    for key in actual.services.keys() {
        if !desired.services.contains_key(key) && owned(key) {
            ops.push(Op::DelService(*key));
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Forward, Protocol};

    fn key(port: u16) -> ServiceKey {
        ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: "192.168.0.100".parse().unwrap(),
            port,
        }
    }

    fn dest(last: u8, weight: u32) -> Destination {
        Destination::new(
            IpAddr::from([192, 168, 33, last]),
            80,
            Forward::Masq,
            weight,
        )
    }

    fn seed_31() -> Table {
        let mut t = Table::default();
        t.insert_service(Service::new(key(80), "rr"));
        assert!(t.insert_destination(&key(80), dest(11, 1)));
        assert!(t.insert_destination(&key(80), dest(12, 1)));
        t
    }

    fn everything_owned(_: &ServiceKey) -> bool {
        true
    }

    #[test]
    fn from_empty_adds_service_then_destinations() {
        let ops = reconcile(&seed_31(), &Table::default(), &everything_owned);
        assert_eq!(
            ops,
            vec![
                Op::AddService(Service::new(key(80), "rr")),
                Op::AddDestination(key(80), dest(11, 1)),
                Op::AddDestination(key(80), dest(12, 1)),
            ]
        );
    }

    #[test]
    fn an_identical_table_needs_nothing() {
        assert_eq!(reconcile(&seed_31(), &seed_31(), &everything_owned), vec![]);
    }

    #[test]
    fn a_weight_change_is_an_edit_in_place() {
        let mut desired = seed_31();
        desired.insert_destination(&key(80), dest(11, 0));
        assert_eq!(
            reconcile(&desired, &seed_31(), &everything_owned),
            vec![Op::EditDestination(key(80), dest(11, 0))]
        );
    }

    #[test]
    fn a_scheduler_change_edits_the_service_and_keeps_destinations() {
        let mut desired = seed_31();
        desired.insert_service(Service::new(key(80), "wlc"));
        assert_eq!(
            reconcile(&desired, &seed_31(), &everything_owned),
            vec![Op::EditService(Service::new(key(80), "wlc"))]
        );
    }

    #[test]
    fn removed_destinations_go_before_new_ones() {
        let mut desired = Table::default();
        desired.insert_service(Service::new(key(80), "rr"));
        desired.insert_destination(&key(80), dest(11, 1));
        desired.insert_destination(&key(80), dest(13, 1));
        assert_eq!(
            reconcile(&desired, &seed_31(), &everything_owned),
            vec![
                Op::DelDestination(key(80), IpAddr::from([192, 168, 33, 12]), 80),
                Op::AddDestination(key(80), dest(13, 1)),
            ]
        );
    }

    #[test]
    fn an_mh_service_keeps_its_destinations_in_order_when_one_is_added_between() {
        let mh = |dests: &[(u8, u32)]| {
            let mut t = Table::default();
            t.insert_service(Service::new(key(80), "mh"));
            for &(last, weight) in dests {
                t.insert_destination(&key(80), dest(last, weight));
            }
            t
        };
        let actual = mh(&[(11, 1), (13, 1), (14, 0)]);
        // 12 sorts before 13 and 14: they go and come back behind it (14 at its new
        // weight); 11 stays where it is.
        let desired = mh(&[(11, 1), (12, 1), (13, 1), (14, 1)]);
        assert_eq!(
            reconcile(&desired, &actual, &everything_owned),
            vec![
                Op::DelDestination(key(80), IpAddr::from([192, 168, 33, 13]), 80),
                Op::DelDestination(key(80), IpAddr::from([192, 168, 33, 14]), 80),
                Op::AddDestination(key(80), dest(12, 1)),
                Op::AddDestination(key(80), dest(13, 1)),
                Op::AddDestination(key(80), dest(14, 1)),
            ]
        );
        // Added at the end: nothing moves. A weight change alone: an edit in place.
        let desired = mh(&[(11, 1), (13, 0), (14, 0), (15, 1)]);
        assert_eq!(
            reconcile(&desired, &actual, &everything_owned),
            vec![
                Op::EditDestination(key(80), dest(13, 0)),
                Op::AddDestination(key(80), dest(15, 1)),
            ]
        );
        // Any other scheduler: the new one is only appended.
        let mut rr = desired.clone();
        rr.insert_service(Service::new(key(80), "rr"));
        let mut rr_actual = actual.clone();
        rr_actual.insert_service(Service::new(key(80), "rr"));
        rr.insert_destination(&key(80), dest(12, 1));
        assert!(!reconcile(&rr, &rr_actual, &everything_owned)
            .iter()
            .any(|op| matches!(op, Op::DelDestination(..))));
    }

    #[test]
    fn only_owned_services_are_deleted() {
        let mut actual = seed_31();
        actual.insert_service(Service::new(key(443), "rr"));
        actual.insert_service(Service::new(key(8080), "rr"));
        let owned = |k: &ServiceKey| *k == key(443);
        assert_eq!(
            reconcile(&seed_31(), &actual, &owned),
            vec![Op::DelService(key(443))]
        );
    }

    #[test]
    fn inserting_a_destination_needs_its_service() {
        let mut t = Table::default();
        assert!(!t.insert_destination(&key(80), dest(11, 1)));
    }
}
