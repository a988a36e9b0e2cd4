//! keepalived's `lvs_sync_daemon INTERFACE VRRP_INSTANCE [id N]`: the kernel's IPVS
//! connection synchronisation follows one VRRP instance. While it is MASTER the kernel
//! sends its connections (the master daemon); otherwise it receives the master's (the
//! backup daemon), so a backup that takes over already knows every established
//! connection and forwards it to the same real server. The `bgp` block's
//! `lvs_sync_daemon INTERFACE [id N]` follows no instance: every box of the group runs
//! both daemons at once, sending its connections and taking the others'.

use ipvs::{Client, SyncDaemon, SyncState};
use tokio::sync::watch;

use ::status::VrrpState;

/// How soon a daemon the kernel refused to start is tried again.
const RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(5);

/// What the sync daemon follows, with the interface already resolved to a kernel name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Follow {
    pub ifname: String,
    /// The VRRP instance whose state decides; `None`: a bgp group's, both daemons.
    pub instance: Option<String>,
    pub sync_id: u32,
}

impl Follow {
    /// The daemons the kernel should run while the instances are in `states`.
    fn daemons(&self, states: &[(String, VrrpState)]) -> Vec<SyncState> {
        match &self.instance {
            None => vec![SyncState::Master, SyncState::Backup],
            Some(instance) => wanted(
                states
                    .iter()
                    .find(|(name, _)| name == instance)
                    .map(|(_, state)| *state),
            )
            .into_iter()
            .collect(),
        }
    }

    fn what(&self) -> String {
        match &self.instance {
            Some(instance) => format!("following {instance}"),
            None => "for the bgp group".to_string(),
        }
    }
}

/// The daemon the kernel should run for an instance state: MASTER sends, every other
/// state (BACKUP, FAULT, INIT) receives, and an instance that does not run (or is not
/// known yet) has none: the daemon follows only an instance that runs.
pub fn wanted(state: Option<VrrpState>) -> Option<SyncState> {
    match state {
        Some(VrrpState::Master) => Some(SyncState::Master),
        None | Some(VrrpState::NotRunning) => None,
        Some(_) => Some(SyncState::Backup),
    }
}

/// Runs until `states` closes (the VRRP tasks stopped); then stops both daemons.
pub async fn run(follow: Follow, mut states: watch::Receiver<Vec<(String, VrrpState)>>) {
    // Nothing runs before the follower starts; a daemon left by a crashed balancer is
    // stopped by the first switch.
    let mut applied: Option<Vec<SyncState>> = None;
    loop {
        let want = follow.daemons(&states.borrow_and_update());
        if applied.as_ref() != Some(&want) {
            let (f, w) = (follow.clone(), want.clone());
            match tokio::task::spawn_blocking(move || switch(&f, &w)).await {
                Ok(Ok(())) => {
                    if !want.is_empty() {
                        let names: Vec<&str> = want
                            .iter()
                            .map(|s| match s {
                                SyncState::Master => "master",
                                SyncState::Backup => "backup",
                            })
                            .collect();
                        log::info!(
                            "IPVS sync daemon: {} on {} (id {}), {}",
                            names.join(" and "),
                            follow.ifname,
                            follow.sync_id,
                            follow.what()
                        );
                    } else if applied.is_some() {
                        log::info!("IPVS sync daemon: stopped while {} does not run", {
                            follow.instance.as_deref().unwrap_or("the group")
                        });
                    }
                    applied = Some(want.clone());
                }
                Ok(Err(ipvs::Error::Unavailable)) => {
                    log::warn!("IPVS sync daemon: the kernel has no IPVS; connections are not synchronised");
                    return;
                }
                Ok(Err(e)) => log::error!("IPVS sync daemon: {e}"),
                Err(e) => log::error!("IPVS sync daemon: {e}"),
            }
        }
        if applied.as_ref() == Some(&want) {
            if states.changed().await.is_err() {
                break;
            }
            continue;
        }
        // The kernel refused (the interface not up yet, say): try again after a while,
        // or at once when the state changes.
        tokio::select! {
            changed = states.changed() => if changed.is_err() { break },
            () = tokio::time::sleep(RETRY_AFTER) => {}
        }
    }
    let f = follow.clone();
    let _ = tokio::task::spawn_blocking(move || switch(&f, &[])).await;
}

/// Makes the kernel run the `want` daemons and no other.
fn switch(follow: &Follow, want: &[SyncState]) -> Result<(), ipvs::Error> {
    let mut client = Client::connect()?;
    let running = client.sync_daemons()?;
    for daemon in &running {
        if !want.contains(&daemon.state) {
            client.stop_sync_daemon(daemon.state)?;
        }
    }
    for &state in want {
        let wanted = SyncDaemon {
            state,
            interface: follow.ifname.clone(),
            sync_id: follow.sync_id,
        };
        match running.iter().find(|d| d.state == state) {
            Some(d) if *d == wanted => {}
            Some(_) => {
                client.stop_sync_daemon(state)?;
                client.start_sync_daemon(&wanted)?;
            }
            None => client.start_sync_daemon(&wanted)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_master_sends_every_other_state_receives_and_a_stopped_instance_has_none() {
        assert_eq!(wanted(Some(VrrpState::Master)), Some(SyncState::Master));
        for state in [VrrpState::Backup, VrrpState::Fault, VrrpState::Init] {
            assert_eq!(wanted(Some(state)), Some(SyncState::Backup), "{state}");
        }
        assert_eq!(wanted(Some(VrrpState::NotRunning)), None);
        assert_eq!(wanted(None), None);
    }

    #[test]
    fn an_instance_s_follower_runs_what_its_state_says_and_a_group_s_runs_both() {
        let follow = |instance: Option<&str>| Follow {
            ifname: "int".into(),
            instance: instance.map(String::from),
            sync_id: 7,
        };
        let states = [
            ("VI_1".to_string(), VrrpState::Master),
            ("VI_2".to_string(), VrrpState::Backup),
        ];
        assert_eq!(follow(Some("VI_1")).daemons(&states), [SyncState::Master]);
        assert_eq!(follow(Some("VI_2")).daemons(&states), [SyncState::Backup]);
        assert!(follow(Some("VI_3")).daemons(&states).is_empty());
        assert_eq!(
            follow(None).daemons(&[]),
            [SyncState::Master, SyncState::Backup]
        );
    }
}
