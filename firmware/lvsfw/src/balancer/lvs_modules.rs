//! The IPVS modules the virtual servers use, loaded by the balancer before it programs
//! IPVS: PID 1 loads IPVS only after the interfaces' drivers (crate::modules::Round), so
//! at start and at every reload the balancer makes sure of `ip_vs` and of the scheduler
//! and persistence engine each virtual server names. A module that cannot be loaded is
//! said in the log; IPVS then refuses the service, and the reload's report says so.

use std::collections::BTreeSet;

use config::keepalived::Keepalived;

pub struct IpvsModules {
    /// The board's modules: only these are in the image (modules-closure).
    board: Vec<String>,
    options: Vec<(String, String)>,
    /// Loaded (or found loaded) already: not looked at again.
    loaded: BTreeSet<String>,
    /// Said once: the board does not list it.
    unlisted_said: BTreeSet<String>,
}

impl IpvsModules {
    /// Without a board nothing is loaded, as PID 1 loads nothing then.
    pub fn new(board: Option<&crate::board::Board>) -> IpvsModules {
        IpvsModules {
            board: board.map(|b| b.modules.clone()).unwrap_or_default(),
            options: board.map(|b| b.module_options.clone()).unwrap_or_default(),
            loaded: BTreeSet::new(),
            unlisted_said: BTreeSet::new(),
        }
    }

    /// Loads what `k`'s virtual servers need and is not loaded yet.
    pub async fn ensure(&mut self, k: &Keepalived) {
        if self.board.is_empty() {
            return;
        }
        let wanted = crate::modules::ipvs_modules(
            k.virtual_servers
                .iter()
                .map(|vs| (vs.lb_algo.as_str(), vs.persistence_engine.as_deref())),
        );
        let listed = |name: &String| {
            self.board
                .iter()
                .any(|m| m.replace('-', "_") == name.as_str())
        };
        let mut load = Vec::new();
        for name in wanted.into_iter().filter(|n| !self.loaded.contains(n)) {
            if listed(&name) {
                load.push(name);
            } else if self.unlisted_said.insert(name.clone()) {
                log::warn!(
                    "kernel module {name} is not among the board's modules: not loaded, so IPVS may refuse what needs it"
                );
            }
        }
        if load.is_empty() {
            return;
        }
        let options = self.options.clone();
        let names = load.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            // The kernel's word on what is loaded: /sys/module/NAME.
            let present = |name: &String| std::path::Path::new("/sys/module").join(name).exists();
            let missing: Vec<String> = names.iter().filter(|n| !present(n)).cloned().collect();
            if !missing.is_empty() {
                let count =
                    crate::modules::load(&crate::modules::running_root(), &missing, &options);
                log::info!(
                    "loaded {count} kernel modules for IPVS ({})",
                    missing.join(", ")
                );
            }
            names.into_iter().filter(present).collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        for name in &load {
            if !loaded.contains(name) {
                log::error!("kernel module {name} could not be loaded (see above): IPVS may refuse what needs it");
            }
        }
        self.loaded.extend(loaded);
    }
}
