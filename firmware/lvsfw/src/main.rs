//! lvsfw: the whole user space of the load-balancer appliance in one binary.
//!
//! As PID 1 it is init; `lvsfw balancer` is the supervised child that does the work.

mod cli;

use cli::{
    certificate_cli, check_config, config_cli, ipvs_bench, ipvs_cli, modprobe, ping, show_cli,
    update_cli,
};
use std::process::ExitCode;

const USAGE: &str = "\
usage: lvsfw COMMAND
  balancer [--board FILE] [--config FILE]   run the balancer (PID 1 starts it)
  bgp status [--file FILE]                  the BGP neighbors, their state and announced prefixes
  certificate show|install FILE|own         the page's certificate (`lvsfw certificate` lists them)
  check-config FILE [--json]                check a keepalived.conf or .json; print it normalized
  config import|set|validate|diff|apply|save|show|export|...
                                            the configuration (`lvsfw config` lists them)
  ipvs list [--stats | --rate]              print the kernel's IPVS table like ipvsadm -Ln
  ipvs bench SERVICES DESTS RUNS RULES      time applying a generated table (benchmark)
  ping ADDRESS [COUNT]                       ICMP echo, 1 s apart (at most 10)
  show interfaces                           links, addresses and routes in the kernel
  slots [--json]                            the boot slots: versions, which runs, which is good
  update FILE                               write an update into the slot that does not run;
                                            the next boot tries it once
  update pack --board B --version V --kernel K --initrd I -o FILE
                                            make an update file (on the build host)
  run -f FILE [--status FILE] [--bgp-status FILE]
                                            run a keepalived.conf's VRRP, LVS and BGP as an
                                            ordinary process (interface names as they are;
                                            SIGUSR1 drains BGP, SIGUSR2 ends the drain)
  vrrp status [--json] [--status FILE]      each VRRP instance's state, master, counters
  version                                   print the version
As PID 1 (the appliance's /init) lvsfw runs as init.";

fn main() -> ExitCode {
    if std::process::id() == 1 {
        init::run(balancer::run);
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    // The image's modprobe (paths::MODPROBE) is this binary, which the kernel runs for a
    // module.
    let program = std::env::args_os().next().unwrap_or_default();
    if std::path::Path::new(&program).file_name() == Some(std::ffi::OsStr::new("modprobe")) {
        return modprobe::run(&args);
    }
    match args.first().map(String::as_str) {
        Some("balancer") => balancer::run(&args[1..]),
        Some("config") => config_cli::run(&args[1..]),
        Some("certificate") => certificate_cli::run(&args[1..]),
        Some("ipvs") if args.get(1).map(String::as_str) == Some("bench") => {
            ipvs_bench::run(&args[2..])
        }
        Some("ipvs") => ipvs_cli::run(&args[1..]),
        Some("run") => balancer::foreground::run(&args[1..]),
        Some("ping") => ping::run(&args[1..]),
        Some("show") => show_cli::run(&args[1..]),
        Some("slots") => update_cli::slots(&args[1..]),
        Some("update") => update_cli::update(&args[1..]),
        Some("debug") if args.get(1).map(String::as_str) == Some("cat") => {
            show_cli::cat(&args[2..])
        }
        Some("debug") if args.get(1).map(String::as_str) == Some("kmsg") => {
            init::kmsg::flood(&args[2..])
        }
        Some("vrrp") if args.get(1).map(String::as_str) == Some("status") => {
            balancer::vrrp::status::command(&args[2..])
        }
        Some("bgp") if args.get(1).map(String::as_str) == Some("status") => {
            balancer::bgp::status::command(&args[2..])
        }
        Some("check-config") => check_config::run(&args[1..]),
        // A test and debugging tool until the balancer runs BGP; not listed in the usage.
        Some("bgp-speaker") => balancer::bgp_speaker::run(&args[1..]),
        // The build host's, for scripts/build-image; not listed in the usage.
        Some("modules-closure") => modules::closure_command(&args[1..]),
        Some("version") => {
            println!("lvsfw {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
