//! keepalived's tracking, pure: what an instance's tracked interfaces and vrrp_scripts
//! make of it (FAULT, or an effective priority), and a vrrp_script's rise and fall.
//! The group task feeds readings in and hands the result to the state machine as
//! `Event::Fault` and `Event::Priority`.
//!
//! The rules are keepalived's (vrrp_track.c, vrrp_scheduler.c), with
//! [`config::keepalived::track_effect`] and [`config::keepalived::effective_priority`]
//! for the arithmetic:
//! - weight 0: the instance is in FAULT while the object is down (up with `reverse`);
//! - otherwise the weight moves the priority, kept within 1..=254; an address owner
//!   (255) is never moved;
//! - a vrrp_script has no reading until its first check has finished: a weighted one
//!   moves nothing meanwhile, an unweighted one holds the instance back (keepalived
//!   keeps it in INIT; lvsfw shows FAULT with the reason).

use config::keepalived::{effective_priority, track_effect};

/// What an instance tracks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Object {
    /// A link, up meaning administratively up with a carrier.
    Link { name: String, index: u32 },
    /// A vrrp_script with a native check, by name.
    Script(String),
}

impl Object {
    fn describe(&self) -> String {
        match self {
            Object::Link { name, .. } => format!("interface {name}"),
            Object::Script(name) => format!("vrrp_script {name}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracked {
    pub object: Object,
    /// -253..=253; 0 means FAULT while down.
    pub weight: i32,
    pub reverse: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// A vrrp_script whose first check has not finished.
    Unknown,
    Up,
    Down,
}

/// One instance's tracked objects and what they read now.
#[derive(Debug, Clone)]
pub struct Tracking {
    base: u8,
    items: Vec<(Tracked, Reading)>,
    /// A fault of the configuration itself (keepalived's num_config_faults), such as
    /// unicast_fault_no_peer without peers: the instance never leaves FAULT.
    fixed: Option<String>,
}

impl Tracking {
    /// Links read up and scripts unknown until told otherwise.
    pub fn new(base: u8, tracked: Vec<Tracked>, fixed: Option<String>) -> Tracking {
        let items = tracked
            .into_iter()
            .map(|t| {
                let reading = match t.object {
                    Object::Link { .. } => Reading::Up,
                    Object::Script(_) => Reading::Unknown,
                };
                (t, reading)
            })
            .collect();
        Tracking { base, items, fixed }
    }

    pub fn tracked(&self) -> impl Iterator<Item = &Tracked> {
        self.items.iter().map(|(t, _)| t)
    }

    /// Sets what `object` reads; whether anything changed.
    pub fn set(&mut self, object: &Object, reading: Reading) -> bool {
        let mut changed = false;
        for (t, r) in self.items.iter_mut() {
            if t.object == *object && *r != reading {
                *r = reading;
                changed = true;
            }
        }
        changed
    }

    /// Why the instance must be in FAULT now, or `None`.
    pub fn fault(&self) -> Option<String> {
        if let Some(why) = &self.fixed {
            return Some(why.clone());
        }
        let why: Vec<String> = self
            .items
            .iter()
            .filter(|(t, _)| t.weight == 0)
            .filter_map(|(t, r)| match r {
                Reading::Unknown => Some(format!("{}: no result yet", t.object.describe())),
                Reading::Up | Reading::Down => {
                    let up = *r == Reading::Up;
                    track_effect(0, t.reverse, up).is_none().then(|| {
                        let state = if up { "up" } else { "down" };
                        format!("{} is {state}", t.object.describe())
                    })
                }
            })
            .collect();
        (!why.is_empty()).then(|| why.join(", "))
    }

    /// The effective priority from the weighted objects (whatever the FAULT state).
    pub fn priority(&self) -> u8 {
        let effects =
            self.items
                .iter()
                .filter(|(t, _)| t.weight != 0)
                .filter_map(|(t, r)| match r {
                    Reading::Unknown => None,
                    Reading::Up => Some(track_effect(t.weight, t.reverse, true)),
                    Reading::Down => Some(track_effect(t.weight, t.reverse, false)),
                });
        effective_priority(self.base, effects).unwrap_or(self.base)
    }
}

/// A vrrp_script's verdict from its checks: keepalived's `result` counter, from 0 to
/// rise + fall - 1, up from `rise` on. `rise` successes in a row bring a down script up,
/// `fall` failures in a row take an up one down; the first check decides at once
/// (keepalived starts the counter at rise - 1, or at 0 with `init_fail`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScriptResult {
    rise: u32,
    fall: u32,
    result: u32,
    /// No check has finished yet.
    first: bool,
}

impl ScriptResult {
    pub fn new(rise: u32, fall: u32, init_fail: bool) -> ScriptResult {
        let rise = rise.max(1);
        ScriptResult {
            rise,
            fall: fall.max(1),
            result: if init_fail { 0 } else { rise - 1 },
            first: !init_fail,
        }
    }

    /// What the script reads before its first check: unknown, or down with init_fail.
    pub fn reading(&self) -> Reading {
        if self.first {
            Reading::Unknown
        } else if self.result >= self.rise {
            Reading::Up
        } else {
            Reading::Down
        }
    }

    /// One check finished; the new reading when it changed (the first result always
    /// reports).
    pub fn checked(&mut self, passed: bool) -> Option<Reading> {
        let before = self.reading();
        let full = self.rise + self.fall - 1;
        if passed {
            if self.result < self.rise - 1 {
                self.result += 1;
            } else {
                self.result = full;
            }
        } else if self.result > self.rise {
            self.result -= 1;
        } else {
            self.result = 0;
        }
        self.first = false;
        let after = self.reading();
        (after != before).then_some(after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(name: &str, weight: i32, reverse: bool) -> Tracked {
        Tracked {
            object: Object::Link {
                name: name.into(),
                index: 2,
            },
            weight,
            reverse,
        }
    }

    fn script(name: &str, weight: i32) -> Tracked {
        Tracked {
            object: Object::Script(name.into()),
            weight,
            reverse: false,
        }
    }

    fn obj(t: &Tracked) -> Object {
        t.object.clone()
    }

    #[test]
    fn unweighted_objects_fault_and_weighted_ones_move_the_priority() {
        let ext = link("ext", 0, false);
        let int = link("int", -30, false);
        let gw = script("gw", 20);
        let mut t = Tracking::new(100, vec![ext.clone(), int.clone(), gw.clone()], None);
        // The script has no result yet: it moves nothing; links start up.
        assert_eq!((t.fault(), t.priority()), (None, 100));
        assert!(t.set(&obj(&gw), Reading::Up));
        assert_eq!(t.priority(), 120);
        assert!(t.set(&obj(&int), Reading::Down));
        assert_eq!(t.priority(), 90);
        assert!(!t.set(&obj(&int), Reading::Down), "no change, no news");
        t.set(&obj(&ext), Reading::Down);
        assert_eq!(t.fault().as_deref(), Some("interface ext is down"));
        t.set(&obj(&ext), Reading::Up);
        assert_eq!(t.fault(), None);
    }

    #[test]
    fn an_unweighted_script_holds_the_instance_until_its_first_result() {
        let chk = script("chk", 0);
        let mut t = Tracking::new(100, vec![chk.clone()], None);
        assert_eq!(t.fault().as_deref(), Some("vrrp_script chk: no result yet"));
        t.set(&obj(&chk), Reading::Up);
        assert_eq!(t.fault(), None);
        t.set(&obj(&chk), Reading::Down);
        assert_eq!(t.fault().as_deref(), Some("vrrp_script chk is down"));
    }

    #[test]
    fn reverse_faults_while_up_and_turns_the_weight_round() {
        let standby = link("int", 0, true);
        let mut t = Tracking::new(100, vec![standby.clone(), link("x", 10, true)], None);
        assert_eq!(t.fault().as_deref(), Some("interface int is up"));
        // Up with weight 10 reverse: 10 taken off.
        assert_eq!(t.priority(), 90);
        t.set(&obj(&standby), Reading::Down);
        assert_eq!(t.fault(), None);
    }

    #[test]
    fn the_owner_keeps_255_and_priorities_stay_within_1_and_254() {
        let w = link("ext", -100, false);
        let mut owner = Tracking::new(255, vec![w.clone()], None);
        owner.set(&obj(&w), Reading::Down);
        assert_eq!(owner.priority(), 255);
        let mut low = Tracking::new(50, vec![w.clone()], None);
        low.set(&obj(&w), Reading::Down);
        assert_eq!(low.priority(), 1);
        let up = link("ext", 200, false);
        assert_eq!(Tracking::new(100, vec![up], None).priority(), 254);
    }

    #[test]
    fn a_fault_of_the_configuration_never_clears() {
        let t = Tracking::new(
            100,
            vec![],
            Some("unicast_fault_no_peer: no unicast_peer".into()),
        );
        assert_eq!(
            t.fault().as_deref(),
            Some("unicast_fault_no_peer: no unicast_peer")
        );
    }

    #[test]
    fn rise_and_fall_as_keepalived_counts_them() {
        // The first result decides at once, whatever rise and fall say.
        let mut s = ScriptResult::new(2, 3, false);
        assert_eq!(s.reading(), Reading::Unknown);
        assert_eq!(s.checked(true), Some(Reading::Up));
        // fall 3: two failures are not enough, a success in between starts again.
        assert_eq!(s.checked(false), None);
        assert_eq!(s.checked(false), None);
        assert_eq!(s.checked(true), None);
        assert_eq!(s.checked(false), None);
        assert_eq!(s.checked(false), None);
        assert_eq!(s.checked(false), Some(Reading::Down));
        // rise 2: two successes in a row.
        assert_eq!(s.checked(true), None);
        assert_eq!(s.checked(false), None);
        assert_eq!(s.checked(true), None);
        assert_eq!(s.checked(true), Some(Reading::Up));

        let mut first_fails = ScriptResult::new(2, 3, false);
        assert_eq!(first_fails.checked(false), Some(Reading::Down));
    }

    #[test]
    fn init_fail_starts_down_and_needs_rise_successes() {
        let mut s = ScriptResult::new(3, 1, true);
        assert_eq!(s.reading(), Reading::Down);
        assert_eq!(s.checked(false), None);
        assert_eq!(s.checked(true), None);
        assert_eq!(s.checked(true), None);
        assert_eq!(s.checked(true), Some(Reading::Up));
        assert_eq!(s.checked(false), Some(Reading::Down));
    }
}
