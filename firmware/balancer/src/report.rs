//! What a reload did, told truthfully: what changed, what was refused, and what does not
//! run now and why. The page's Apply, the console's `config apply` (through the control
//! socket) and SIGHUP all get the same report from the same reload.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// What was read and put in service.
    pub said: Vec<String>,
    /// A file that could not be used: nothing of it was applied, the running one stays.
    pub refused: Vec<String>,
    /// What is configured but does not run now, and why; each is tried again until it
    /// runs.
    pub not_running: Vec<String>,
}

impl Report {
    /// Everything configured runs as configured.
    pub fn all_running(&self) -> bool {
        self.refused.is_empty() && self.not_running.is_empty()
    }

    /// The answer for people, one line a thing.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for line in &self.refused {
            out.push_str(&format!("not applied: {line}\n"));
        }
        if self.refused.is_empty() {
            let said = if self.said.is_empty() {
                "nothing changed".to_string()
            } else {
                self.said.join("; ")
            };
            if self.not_running.is_empty() {
                out.push_str(&format!("applied: {said}; everything configured runs\n"));
            } else {
                out.push_str(&format!(
                    "applied: {said}; but {} not running:\n",
                    count(self.not_running.len(), "part is", "parts are")
                ));
            }
        } else if !self.not_running.is_empty() {
            out.push_str("not running now:\n");
        }
        for line in &self.not_running {
            out.push_str(&format!("  {line}\n"));
        }
        out
    }
}

pub use config::count;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applied_only_when_everything_runs() {
        let mut r = Report {
            said: vec!["keepalived.conf: 1 virtual server, 2 VRRP instances".into()],
            ..Report::default()
        };
        assert!(r.all_running());
        assert_eq!(
            r.text(),
            "applied: keepalived.conf: 1 virtual server, 2 VRRP instances; everything configured runs\n"
        );
        r.not_running =
            vec!["VRRP VI_INT: not running: VRRP socket on int: Address not available".into()];
        assert!(!r.all_running());
        assert_eq!(
            r.text(),
            "applied: keepalived.conf: 1 virtual server, 2 VRRP instances; but 1 part is not running:\n  VRRP VI_INT: not running: VRRP socket on int: Address not available\n"
        );
        r.refused = vec![
            "/etc/lvsfw/keepalived.conf has errors (see the log); the running configuration stays"
                .into(),
        ];
        assert!(
            r.text()
                .starts_with("not applied: /etc/lvsfw/keepalived.conf has errors"),
            "{}",
            r.text()
        );
        assert!(
            !r.text().contains("applied: keepalived.conf"),
            "{}",
            r.text()
        );
    }
}
