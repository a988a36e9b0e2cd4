//! Which VRRP state changes are mailed, as keepalived decides it: an instance or sync
//! group with `smtp_alert` (its own, else global `smtp_alert_vrrp`, else global
//! `smtp_alert`, else off) mails each state it enters (MASTER, BACKUP, FAULT; FAULT not
//! with `no_email_faults`), once per state: keepalived remembers the last state it
//! mailed, so a state left and entered again unmailed in between is not mailed twice.

use config::keepalived::{GlobalDefs, Keepalived, SyncGroup, VrrpInstance};

use super::mail::{Alert, VrrpWhat};

/// What one VRRP configuration mails.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    /// Instances whose state changes are mailed.
    instances: Vec<String>,
    /// Sync groups mailed, with their members.
    groups: Vec<(String, Vec<String>)>,
    no_email_faults: bool,
}

impl Policy {
    pub fn new(k: &Keepalived) -> Policy {
        let g = &k.global;
        let default = g.smtp_alert_vrrp.or(g.smtp_alert).unwrap_or(false);
        Policy {
            instances: k
                .vrrp_instances
                .iter()
                .filter(|i| i.smtp_alert.unwrap_or(default))
                .map(|i| i.name.clone())
                .collect(),
            groups: k
                .sync_groups
                .iter()
                .filter(|s| s.smtp_alert.unwrap_or(default))
                .map(|s| (s.name.clone(), s.members.clone()))
                .collect(),
            no_email_faults: g.no_email_faults,
        }
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.instances.is_empty() && self.groups.is_empty()
    }
}

/// What the VRRP tasks depend on, without the mail keywords: a reload that changes only
/// whom or what is mailed leaves the instances running (the follower takes the new
/// policy instead).
pub fn without_mail(k: &Keepalived) -> (GlobalDefs, Vec<VrrpInstance>, Vec<SyncGroup>) {
    let mut g = k.global.clone();
    g.notification_email.clear();
    g.notification_email_from = None;
    g.smtp_server = None;
    g.smtp_helo_name = None;
    g.smtp_connect_timeout = None;
    g.smtp_alert = None;
    g.smtp_alert_vrrp = None;
    g.smtp_alert_checker = None;
    g.no_email_faults = false;
    g.no_checker_emails = false;
    let mut instances = k.vrrp_instances.clone();
    instances.iter_mut().for_each(|i| i.smtp_alert = None);
    let mut groups = k.sync_groups.clone();
    groups.iter_mut().for_each(|s| s.smtp_alert = None);
    (g, instances, groups)
}

/// Follows the instances' states (as the board publishes them) and says what to mail.
pub struct Mailer {
    policy: Policy,
    /// The last state mailed for each instance or group (keepalived's last_email_state).
    mailed: Vec<(VrrpWhat, String, String)>,
}

impl Mailer {
    pub fn new(policy: Policy) -> Mailer {
        Mailer {
            policy,
            mailed: Vec::new(),
        }
    }

    /// A reload changed which instances and groups mail; what was mailed is kept.
    pub fn set_policy(&mut self, policy: Policy) {
        self.policy = policy;
    }

    /// The alerts for `states` (each instance's name and state word).
    pub fn update(&mut self, states: &[(String, ::status::VrrpState)]) -> Vec<Alert> {
        let mut out = Vec::new();
        let state_of = |name: &str| {
            states
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, s)| s.as_str())
        };
        for name in self.policy.instances.clone() {
            if let Some(state) = state_of(&name) {
                out.extend(self.enter(VrrpWhat::Instance, &name, state));
            }
        }
        for (name, members) in self.policy.groups.clone() {
            let member_states: Vec<&str> = members.iter().filter_map(|m| state_of(m)).collect();
            if member_states.len() != members.len() {
                continue;
            }
            if let Some(state) = group_state(&member_states) {
                out.extend(self.enter(VrrpWhat::Group, &name, state));
            }
        }
        out
    }

    fn enter(&mut self, what: VrrpWhat, name: &str, state: &str) -> Option<Alert> {
        if state == "FAULT" && self.policy.no_email_faults {
            return None;
        }
        let last = self
            .mailed
            .iter_mut()
            .find(|(w, n, _)| *w == what && n == name);
        if last.as_ref().is_some_and(|(_, _, s)| s == state) {
            return None;
        }
        let alert = Alert::vrrp(what, name, state)?;
        match last {
            Some((_, _, s)) => *s = state.to_string(),
            None => self.mailed.push((what, name.into(), state.into())),
        }
        Some(alert)
    }
}

/// A sync group's state: FAULT when a member is (the group follows it there), else the
/// state all members share; none while they move.
fn group_state<'a>(members: &[&'a str]) -> Option<&'a str> {
    if members.contains(&"FAULT") {
        return Some("FAULT");
    }
    let first = *members.first()?;
    members.iter().all(|s| *s == first).then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keepalived(global: &str, instance: &str, group: &str) -> Keepalived {
        let text = format!(
            "global_defs {{\n{global}\n}}\n\
             vrrp_sync_group G1 {{\n group {{\n VI_1\n VI_2\n }}\n{group}\n}}\n\
             vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 1\n{instance}\n}}\n\
             vrrp_instance VI_2 {{\n interface eth0\n virtual_router_id 2\n}}\n"
        );
        config::keepalived::read_text(&text, "k.conf")
            .unwrap()
            .config
    }

    fn states(list: &[(&str, &str)]) -> Vec<(String, ::status::VrrpState)> {
        list.iter()
            .map(|(n, s)| (n.to_string(), s.parse().unwrap()))
            .collect()
    }

    fn subjects(alerts: Vec<Alert>) -> Vec<String> {
        alerts.into_iter().map(|a| a.subject).collect()
    }

    #[test]
    fn the_defaults_are_keepalived_s() {
        // Nothing said: VRRP changes are not mailed.
        assert!(Policy::new(&keepalived("", "", "")).is_empty());
        // Global smtp_alert: every instance and group.
        let p = Policy::new(&keepalived("smtp_alert", "", ""));
        assert_eq!(p.instances, ["VI_1", "VI_2"]);
        assert_eq!(p.groups.len(), 1);
        // smtp_alert_vrrp comes before smtp_alert; an instance's own before both.
        let p = Policy::new(&keepalived(
            "smtp_alert\nsmtp_alert_vrrp false",
            "smtp_alert",
            "",
        ));
        assert_eq!(p.instances, ["VI_1"]);
        assert!(p.groups.is_empty());
    }

    #[test]
    fn mail_keywords_alone_do_not_restart_vrrp() {
        let plain = keepalived("", "", "");
        let mailed = keepalived(
            "notification_email {\n a@example.com\n}\nsmtp_server 192.0.2.25\nsmtp_alert",
            "smtp_alert false",
            "smtp_alert",
        );
        assert_eq!(without_mail(&plain), without_mail(&mailed));
        assert_ne!(
            without_mail(&plain),
            without_mail(&keepalived("", "priority 200", ""))
        );
    }

    #[test]
    fn each_state_entered_is_mailed_once() {
        let mut m = Mailer::new(Policy::new(&keepalived("", "smtp_alert", "")));
        assert_eq!(m.update(&states(&[("VI_1", "INIT")])), vec![]);
        assert_eq!(
            subjects(m.update(&states(&[("VI_1", "BACKUP"), ("VI_2", "BACKUP")]))),
            ["VRRP Instance VI_1 - Entering BACKUP state"]
        );
        assert_eq!(m.update(&states(&[("VI_1", "BACKUP")])), vec![]);
        assert_eq!(
            subjects(m.update(&states(&[("VI_1", "MASTER")]))),
            ["VRRP Instance VI_1 - Entering MASTER state"]
        );
        assert_eq!(
            subjects(m.update(&states(&[("VI_1", "FAULT")]))),
            ["VRRP Instance VI_1 - Entering FAULT state"]
        );
    }

    #[test]
    fn no_email_faults_skips_fault_and_keeps_the_last_state_mailed() {
        let mut m = Mailer::new(Policy::new(&keepalived(
            "no_email_faults",
            "smtp_alert",
            "",
        )));
        assert_eq!(m.update(&states(&[("VI_1", "MASTER")])).len(), 1);
        assert_eq!(m.update(&states(&[("VI_1", "FAULT")])), vec![]);
        // Back to MASTER: that was the last state mailed, so nothing.
        assert_eq!(m.update(&states(&[("VI_1", "MASTER")])), vec![]);
        assert_eq!(m.update(&states(&[("VI_1", "BACKUP")])).len(), 1);
    }

    #[test]
    fn a_group_mails_when_all_its_members_agree_or_one_is_in_fault() {
        let mut m = Mailer::new(Policy::new(&keepalived("", "", "smtp_alert")));
        assert_eq!(
            m.update(&states(&[("VI_1", "MASTER"), ("VI_2", "BACKUP")])),
            vec![]
        );
        assert_eq!(
            subjects(m.update(&states(&[("VI_1", "MASTER"), ("VI_2", "MASTER")]))),
            ["VRRP Group G1 - Entering MASTER state"]
        );
        assert_eq!(
            subjects(m.update(&states(&[("VI_1", "FAULT"), ("VI_2", "MASTER")]))),
            ["VRRP Group G1 - Entering FAULT state"]
        );
    }
}
