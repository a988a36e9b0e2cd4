//! keepalived's `lvs_sync_daemon INTERFACE VRRP_INSTANCE [id N]`: the kernel's IPVS
//! connection synchronisation follows one VRRP instance. While it is MASTER the kernel
//! sends its connections (the master daemon); otherwise it receives the master's (the
//! backup daemon), so a backup that takes over already knows every established
//! connection and forwards it to the same real server.

use ipvs::{Client, SyncDaemon, SyncState};
use tokio::sync::watch;

use ::status::VrrpState;

/// How soon a daemon the kernel refused to start is tried again.
const RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(5);

/// What the sync daemon follows, with the interface already resolved to a kernel name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Follow {
    pub ifname: String,
    pub instance: String,
    pub sync_id: u32,
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
    let mut applied: Option<Option<SyncState>> = None;
    loop {
        let state = states
            .borrow_and_update()
            .iter()
            .find(|(name, _)| *name == follow.instance)
            .map(|(_, state)| *state);
        let want = wanted(state);
        if applied != Some(want) {
            let f = follow.clone();
            match tokio::task::spawn_blocking(move || switch(&f, want)).await {
                Ok(Ok(())) => {
                    match want {
                        Some(state) => log::info!(
                            "IPVS sync daemon: {} on {} (id {}), following {}",
                            if state == SyncState::Master {
                                "master"
                            } else {
                                "backup"
                            },
                            follow.ifname,
                            follow.sync_id,
                            follow.instance
                        ),
                        None if applied.is_some() => log::info!(
                            "IPVS sync daemon: stopped while {} does not run",
                            follow.instance
                        ),
                        None => {}
                    }
                    applied = Some(want);
                }
                Ok(Err(ipvs::Error::Unavailable)) => {
                    log::warn!("IPVS sync daemon: the kernel has no IPVS; connections are not synchronised");
                    return;
                }
                Ok(Err(e)) => log::error!("IPVS sync daemon: {e}"),
                Err(e) => log::error!("IPVS sync daemon: {e}"),
            }
        }
        if applied == Some(want) {
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
    let _ = tokio::task::spawn_blocking(move || switch(&f, None)).await;
}

/// Makes the kernel run the `want` daemon alone (none when `None`).
fn switch(follow: &Follow, want: Option<SyncState>) -> Result<(), ipvs::Error> {
    let mut client = Client::connect()?;
    let running = client.sync_daemons()?;
    for daemon in &running {
        if Some(daemon.state) != want {
            client.stop_sync_daemon(daemon.state)?;
        }
    }
    if let Some(state) = want {
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
}
