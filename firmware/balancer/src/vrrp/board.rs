//! Every instance's status, shared by the group tasks: written to the status file for
//! `lvsfw vrrp status` and the page, and each instance's state word for what follows
//! VRRP (the IPVS sync daemon).

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio::sync::watch;

use super::status::{self, Instance, VrrpState};

/// Every instance's status, shared by the group tasks and written to one file.
pub struct Board {
    path: std::path::PathBuf,
    entries: Mutex<Vec<Instance>>,
    /// Each instance's state word, for what follows VRRP (the IPVS sync daemon).
    states: watch::Sender<Vec<(String, VrrpState)>>,
}

impl Board {
    pub fn new(path: std::path::PathBuf) -> Arc<Board> {
        Arc::new(Board {
            path,
            entries: Mutex::new(Vec::new()),
            states: watch::Sender::new(Vec::new()),
        })
    }

    pub fn states(&self) -> watch::Receiver<Vec<(String, VrrpState)>> {
        self.states.subscribe()
    }

    pub fn update(&self, fresh: Vec<Instance>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        for entry in fresh {
            match entries.iter_mut().find(|e| e.name == entry.name) {
                Some(old) => *old = entry,
                None => entries.push(entry),
            }
        }
        let states: Vec<(String, VrrpState)> =
            entries.iter().map(|e| (e.name.clone(), e.state)).collect();
        self.states.send_if_modified(|old| {
            let changed = *old != states;
            *old = states;
            changed
        });
        let file = status::StatusFile {
            pid: std::process::id(),
            written_ms: status::unix_ms(SystemTime::now()),
            instances: entries.clone(),
        };
        if let Err(e) = status::write(&self.path, &file) {
            log::warn!("{e}");
        }
    }

    /// The process is stopping: the file goes, so nobody reads a stale MASTER.
    pub fn remove(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
