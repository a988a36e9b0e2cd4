//! `modprobe -q -- NAME`, as the kernel runs it when it needs a module
//! (modules::kernel_request): the board's module NAME means is loaded, nothing else.
//! This is what loads an IPVS scheduler only when something uses it: the balancer loads
//! those its configuration names itself; one that only an `ipvsadm` names comes here.

use std::process::ExitCode;

use modules::kernel_request::{meant, requested_name};

pub fn run(args: &[String]) -> ExitCode {
    let Some(name) = requested_name(args) else {
        eprintln!("usage: modprobe -q -- NAME (the kernel's request; lvsfw has no other)");
        return ExitCode::from(2);
    };
    let Some(board) = ops::Paths::appliance().board() else {
        return ExitCode::FAILURE;
    };
    let wanted = meant(
        &modules::ModulesDep::read(&modules::running_root()),
        &board.modules,
        name,
    );
    if wanted.is_empty() {
        return ExitCode::FAILURE;
    }
    // The kernel gives its helper no output: what it says goes to the kernel's log,
    // which PID 1 shows.
    if let Ok(kmsg) = std::fs::OpenOptions::new().write(true).open("/dev/kmsg") {
        let _ = nix::unistd::dup2_stderr(kmsg);
    }
    logger::init("modprobe");
    logger::to_kernel_log();
    let present = modules::ensure(&board.modules, &board.module_options, &wanted);
    if present.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
