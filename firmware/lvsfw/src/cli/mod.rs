//! The command-line front ends of the multi-call binary (`lvsfw config`, `lvsfw update`,
//! ...): each reads its arguments, calls the role packages (ops, slots, balancer) and
//! says what happened; main.rs picks one by its subcommand.

pub mod certificate_cli;
pub mod check_config;
pub mod config_cli;
pub mod ipvs_bench;
pub mod ipvs_cli;
pub mod modprobe;
pub mod ping;
pub mod show_cli;
pub mod update_cli;
