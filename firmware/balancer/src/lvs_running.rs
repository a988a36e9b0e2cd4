//! The balancer's virtual services: the checks' task and the IPVS worker, started with
//! the first plan, and the kernel's LVS timeouts.

use super::*;

/// The virtual services: a task that runs their checks and a thread that programs the
/// kernel, started when the first plan comes.
pub(super) struct Lvs {
    plans: tokio::sync::mpsc::Sender<lvs::Apply>,
    /// Until the task starts: its plan receiver, where it reports health, the worker.
    start: Option<LvsStart>,
    pub(super) worker_problem: watch::Receiver<Option<String>>,
    /// The `lvs_timeouts` last put in the kernel.
    timeouts: Option<config::keepalived::LvsTimeouts>,
    /// The IPVS modules, loaded as the virtual servers come to need them.
    modules: super::lvs_modules::IpvsModules,
    /// The FNAT rules last put in the kernel (none at start: a new kernel has no table).
    source_nat: Vec<ipvs::fullnat::SourceNat>,
}

/// What the LVS task starts with.
type LvsStart = (
    tokio::sync::mpsc::Receiver<lvs::Apply>,
    watch::Sender<Arc<Vec<lvs::ServerHealth>>>,
    lvs::IpvsWorker,
    alerts::Alerts,
);

impl Lvs {
    pub(super) fn new(
        health: watch::Sender<Arc<Vec<lvs::ServerHealth>>>,
        alerts: alerts::Alerts,
        board: Option<&config::board::Board>,
    ) -> Lvs {
        // Kept open for the life of the balancer: a reload sends the next plan on it.
        let (plans, rx) = tokio::sync::mpsc::channel(4);
        let worker = lvs::IpvsWorker::start(paths::IPVS_OWNED.into());
        Lvs {
            plans,
            worker_problem: worker.problem(),
            start: Some((rx, health, worker, alerts)),
            timeouts: None,
            modules: super::lvs_modules::IpvsModules::new(board),
            source_nat: Vec::new(),
        }
    }

    pub(super) fn worker_problem(&self) -> watch::Receiver<Option<String>> {
        self.worker_problem.clone()
    }

    /// The IPVS modules `k` needs (lvs_modules).
    pub(super) async fn ensure_modules(&mut self, k: &config::keepalived::Keepalived) {
        self.modules.ensure(k).await;
    }

    /// Puts the virtual servers of `k` in service (starting the task on first use) and
    /// waits, a bounded time, for what did not work.
    pub(super) async fn apply(&mut self, k: &config::keepalived::Keepalived) -> Vec<String> {
        if let Some((rx, health, worker, alerts)) = self.start.take() {
            tokio::spawn(lvs::run_reporting(rx, worker, health, alerts));
        }
        // Before anything of IPVS: its module and the schedulers named (PID 1 may not
        // have come to them yet; a reload may name one not loaded).
        self.modules.ensure(k).await;
        let mut problems = self.set_timeouts(k.global.lvs_timeouts).await;
        problems.extend(set_vs_sysctls(k).await);
        problems.extend(self.set_source_nat(k).await);
        let (done, answer) = tokio::sync::oneshot::channel();
        let apply = lvs::Apply {
            plan: lvs::plan(k),
            done: Some(done),
        };
        if self.plans.send(apply).await.is_err() {
            problems.push("virtual servers: the LVS task has stopped; not updated".into());
            return problems;
        }
        problems.extend(self.reconciled(answer).await);
        problems
    }

    /// `lvs_timeouts`, when given and changed (keepalived sets them at every reload; a
    /// timeout taken out of the configuration leaves the kernel's as it is, as there).
    pub(super) async fn set_timeouts(
        &mut self,
        wanted: Option<config::keepalived::LvsTimeouts>,
    ) -> Vec<String> {
        let Some(wanted) = wanted.filter(|w| Some(*w) != self.timeouts) else {
            return Vec::new();
        };
        match tokio::task::spawn_blocking(move || lvs::set_timeouts(&wanted)).await {
            Ok(Ok(set)) => {
                log::info!(
                    "IPVS timeouts: tcp {} s, tcpfin {} s, udp {} s",
                    set.tcp,
                    set.tcp_fin,
                    set.udp
                );
                self.timeouts = Some(wanted);
                Vec::new()
            }
            Ok(Err(e)) => {
                log::error!("{e}");
                vec![e]
            }
            Err(e) => vec![format!("lvs_timeouts: {e}")],
        }
    }

    /// FNAT's source rewrite, when what `k` asks for changed: before IPVS takes the
    /// services, so that their first connections are rewritten.
    async fn set_source_nat(&mut self, k: &config::keepalived::Keepalived) -> Vec<String> {
        let wanted = lvs::source_nat::wanted(k);
        if wanted == self.source_nat {
            return Vec::new();
        }
        let rules = wanted.clone();
        match tokio::task::spawn_blocking(move || lvs::source_nat::apply(&rules)).await {
            Ok(Ok(())) => {
                match wanted.len() {
                    0 => log::info!("FNAT: none configured; nf_tables table inet lvsfw removed"),
                    n => log::info!("FNAT: {n} masquerade rule(s) in nf_tables table inet lvsfw"),
                }
                self.source_nat = wanted;
                Vec::new()
            }
            Ok(Err(e)) => {
                log::error!("{e}");
                vec![e]
            }
            Err(e) => vec![format!("FNAT: {e}")],
        }
    }

    pub(super) async fn reconciled(
        &self,
        answer: tokio::sync::oneshot::Receiver<Vec<String>>,
    ) -> Vec<String> {
        match tokio::time::timeout(IPVS_REPORT_WAIT, answer).await {
            Ok(Ok(problems)) => problems,
            Ok(Err(_)) => vec!["virtual servers: the LVS task dropped the change".into()],
            Err(_) => vec![format!(
                "IPVS: the kernel's table was not reconciled within {} s; still trying",
                IPVS_REPORT_WAIT.as_secs()
            )],
        }
    }
}

/// `sloppy_tcp` / `sloppy_sctp` of the `bgp` block into the kernel (lvs::sloppy); what
/// could not be set.
async fn set_vs_sysctls(k: &config::keepalived::Keepalived) -> Vec<String> {
    let wanted = lvs::vs_sysctls::wanted(k);
    let proc_sys = std::path::Path::new("/proc/sys");
    match tokio::task::spawn_blocking(move || lvs::vs_sysctls::apply(proc_sys, &wanted)).await {
        Ok(Ok(changed)) => {
            for c in changed {
                log::info!("IPVS: {c}");
            }
            Vec::new()
        }
        Ok(Err(e)) => {
            log::error!("IPVS: {e}");
            vec![format!("IPVS: {e}")]
        }
        Err(e) => vec![format!("IPVS settings: {e}")],
    }
}
