//! The IPVS modules the virtual servers use, loaded by the balancer before it programs
//! IPVS: PID 1 loads IPVS only after the interfaces' drivers (modules::Round), so
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
}

impl IpvsModules {
    /// Without a board nothing is loaded, as PID 1 loads nothing then.
    pub fn new(board: Option<&config::board::Board>) -> IpvsModules {
        IpvsModules {
            board: board.map(|b| b.modules.clone()).unwrap_or_default(),
            options: board.map(|b| b.module_options.clone()).unwrap_or_default(),
            loaded: BTreeSet::new(),
        }
    }

    /// Loads what `k`'s virtual servers need and is not loaded yet (`ip_vs` at least).
    pub async fn ensure(&mut self, k: &Keepalived) {
        if self.board.is_empty() {
            return;
        }
        let mut names: Vec<String> = modules::ipvs_modules(
            k.virtual_servers
                .iter()
                .map(|vs| (vs.lb_algo.as_str(), vs.persistence_engine.as_deref())),
        );
        if super::lvs::source_nat::used(k) {
            names.extend(super::lvs::source_nat::MODULES.map(String::from));
        }
        names.retain(|n| !self.loaded.contains(n));
        if names.is_empty() {
            return;
        }
        let (board, options) = (self.board.clone(), self.options.clone());
        let loaded = tokio::task::spawn_blocking(move || modules::ensure(&board, &options, &names))
            .await
            .unwrap_or_default();
        self.loaded.extend(loaded);
    }
}
