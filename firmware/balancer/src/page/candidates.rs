//! The page's side of the one candidate: every change goes through the operations API
//! ([`ops::execute`]) on the files the console uses, so the two front ends see
//! and apply the same candidate.

use web::{Applied, NotApplied, Pending};

use super::WebBackend;
use ops::{self, Change, Op};

impl web::Candidates for WebBackend {
    fn pending(&self) -> Result<Option<Pending>, String> {
        let pending = ops::pending(&self.paths()).map_err(|e| e.to_string())?;
        Ok(pending.map(|p| Pending {
            keepalived: p.texts.keepalived.unwrap_or_default(),
            changes: p.changes,
        }))
    }

    fn stage(&self, keepalived: &str, who: &str, change: &str) -> Result<String, String> {
        let op = Op::Stage {
            change: Change::Keepalived {
                text: keepalived.to_string(),
                name: "keepalived.conf".into(),
                note: change.to_string(),
            },
            who: who.to_string(),
        };
        ops::execute(&self.paths(), op)
            .map(|r| r.said)
            .map_err(|e| e.to_string().trim_end().to_string())
    }

    fn discard(&self) -> Result<bool, String> {
        let paths = self.paths();
        let had = ops::has_candidate(&paths);
        ops::execute(&paths, Op::Discard).map_err(|e| e.to_string())?;
        Ok(had)
    }

    fn apply_candidate(&self, who: &str) -> Result<Applied, NotApplied> {
        let op = Op::Apply {
            confirm: ops::Confirm::Default,
            who: who.to_string(),
        };
        let report = match ops::execute(&self.paths(), op) {
            Ok(report) => report,
            Err(ops::Error::NothingToApply) => return Err(NotApplied::Nothing),
            Err(e) => return Err(NotApplied::Refused(e.to_string().trim_end().to_string())),
        };
        log::info!("{who}: {}", report.said.trim_end());
        // The files are in service; the balancer reads them again and says what runs.
        let mut applied = self.reload().map_err(NotApplied::Refused)?;
        applied.said = format!("{}; {}", report.said.trim_end(), applied.said);
        Ok(applied)
    }
}
