//! The tracked vrrp_scripts with a native check, run as keepalived runs a script: one
//! check every `interval`, each within the script's timeout, the result counted with
//! `rise` and `fall` ([`ScriptResult`]). Each script runs once however many instances
//! track it; its reading goes out on a watch channel that the group tasks follow.

use std::collections::HashMap;
use std::time::Duration;

use checks::{CheckKind, CheckSpec, ProbeResult, Prober};
use config::keepalived::{Keepalived, VrrpScript};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::tracking::{Reading, ScriptResult};
use crate::lvs;

/// One vrrp_script to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptSpec {
    pub name: String,
    pub check: CheckSpec,
    pub interval: Duration,
    pub rise: u32,
    pub fall: u32,
    pub init_fail: bool,
}

/// The vrrp_scripts of `k` that an instance or a sync group tracks and whose check
/// lvsfw runs; a tracked one whose check it cannot run yet, with why.
pub fn specs(k: &Keepalived) -> (Vec<ScriptSpec>, Vec<String>) {
    let tracked = k
        .vrrp_instances
        .iter()
        .flat_map(|i| &i.track_scripts)
        .chain(k.sync_groups.iter().flat_map(|g| &g.track_scripts));
    let mut names: Vec<&str> = tracked.map(|t| t.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for script in names
        .iter()
        .filter_map(|n| k.vrrp_scripts.iter().find(|s| s.name == *n))
    {
        match spec(script) {
            Some(spec) => out.push(spec),
            None => {
                if let Some(c) = &script.check {
                    problems.push(format!(
                        "vrrp_script {}: not running: its {} has no address to probe; it reads as having no result",
                        script.name,
                        c.kind.keyword()
                    ));
                }
            }
        }
    }
    (out, problems)
}

fn spec(script: &VrrpScript) -> Option<ScriptSpec> {
    let check = lvs::script_check(script.check.as_ref()?, script.interval)?;
    Some(ScriptSpec {
        name: script.name.clone(),
        check,
        interval: script.interval,
        rise: script.rise,
        fall: script.fall,
        init_fail: script.init_fail,
    })
}

/// The running scripts.
#[derive(Default)]
pub struct Scripts {
    readings: HashMap<String, watch::Receiver<Reading>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Scripts {
    /// Starts every script of `specs` that does not run yet.
    pub fn ensure(&mut self, specs: Vec<ScriptSpec>) {
        for spec in specs {
            if self.readings.contains_key(&spec.name) {
                continue;
            }
            let result = ScriptResult::new(spec.rise, spec.fall, spec.init_fail);
            let (tx, rx) = watch::channel(result.reading());
            self.readings.insert(spec.name.clone(), rx);
            self.tasks.push(tokio::spawn(run(spec, result, tx)));
        }
    }

    /// What `name` reads, followed as it changes; `None` for a script that does not run.
    pub fn subscribe(&self, name: &str) -> Option<watch::Receiver<Reading>> {
        self.readings.get(name).cloned()
    }

    pub fn stop(self) {
        for task in self.tasks {
            task.abort();
        }
    }
}

async fn run(spec: ScriptSpec, mut result: ScriptResult, readings: watch::Sender<Reading>) {
    let prober = Prober::new();
    // keepalived runs a script at once, then every interval.
    let mut every = tokio::time::interval(spec.interval);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let (passed, what) = check(&prober, &spec.check).await;
        if let Some(reading) = result.checked(passed) {
            let word = if reading == Reading::Up {
                "succeeded"
            } else {
                "failed"
            };
            log::info!("VRRP_Script({}) {word}: {what}", spec.name);
            readings.send_replace(reading);
        }
    }
}

/// One check: every URL of an HTTP check in turn (all must pass), within the script's
/// timeout; whether it passed, and what it found.
async fn check(prober: &Prober, spec: &CheckSpec) -> (bool, String) {
    let urls = match &spec.kind {
        CheckKind::Http(http) => (0..http.urls.len()).map(Some).collect(),
        _ => vec![None],
    };
    let timeout = spec.timing.connect_timeout;
    for url in urls {
        let probed = tokio::time::timeout(timeout, prober.run(spec, url)).await;
        let failure = match probed {
            Ok(ProbeResult::Passed(_)) => continue,
            Ok(ProbeResult::Failed(failure)) => failure.to_string(),
            Err(_) => format!("no answer within {} ms", timeout.as_millis()),
        };
        return (
            false,
            format!("{} {}: {failure}", spec.kind_name(), spec.connect_to),
        );
    }
    (true, format!("{} {}", spec.kind_name(), spec.connect_to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tracked_scripts_run_with_their_timing_and_the_script_s_timeout() {
        let text = "vrrp_script web {\n TCP_CHECK {\n  connect_ip 192.0.2.1\n  connect_port 80\n }\n interval 2\n timeout 1\n rise 3\n fall 2\n init_fail\n}\nvrrp_script idle {\n TCP_CHECK {\n  connect_ip 192.0.2.2\n  connect_port 80\n }\n}\nvrrp_instance V {\n interface eth0\n virtual_router_id 1\n track_script {\n  web\n }\n}\n";
        let k = config::keepalived::read_text(text, "t.conf")
            .unwrap()
            .config;
        let (specs, problems) = specs(&k);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(specs.len(), 1, "an untracked script is not run");
        let web = &specs[0];
        assert_eq!(web.name, "web");
        assert_eq!(web.interval, Duration::from_secs(2));
        assert_eq!((web.rise, web.fall, web.init_fail), (3, 2, true));
        assert_eq!(web.check.connect_to, "192.0.2.1:80".parse().unwrap());
        assert_eq!(web.check.timing.connect_timeout, Duration::from_secs(1));
        assert!(web.check.validate().is_ok());
    }
}
