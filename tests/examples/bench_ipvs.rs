//! IPVS benchmark (issue 4): in one appliance VM, lvsfw applies 1,000 services x 10
//! destinations from empty, one weight change and removal (its own timing of each pass
//! and the netlink requests it sent), then Debian's ipvsadm does the same with `-R`,
//! `-e` and `-C`, timed as whole processes by the console's `debug run`.
//! Run with `scripts/bench-ipvs` (root; expects `scripts/build-image qemu-x86_64`).

use std::time::Duration;

use lvsfw_lab::addresses::*;
use lvsfw_lab::{host_program, Appliance, ApplianceSpec, Error, Lab};

const RULES: &str = "/tmp/rules";

/// Runs a `debug run` line and returns its output and the milliseconds it reported.
fn debug_run(vm: &mut Appliance, line: &str) -> Result<(String, f64), Error> {
    vm.send_line(&format!("debug run {line}"))?;
    let out = vm
        .console
        .wait_through_line("debug run: ", Duration::from_secs(300))?;
    let last = out.lines().last().unwrap_or_default();
    let ms = last
        .strip_prefix("debug run: exit code 0 after ")
        .and_then(|rest| rest.strip_suffix(" ms"))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| Error(format!("{line} failed:\n{out}")))?;
    vm.wait_for("lvsfw> ", Duration::from_secs(5))?;
    Ok((out, ms))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let services: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let dests: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let ipvsadm = ["/usr/sbin/ipvsadm", "/sbin/ipvsadm"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .ok_or("ipvsadm is not installed: run scripts/setup")?;

    let mut lab = Lab::new("benchipvs", false)?;
    let mut vm = lab.boot(ApplianceSpec {
        name: "bipvs".into(),
        config_json: Some(format!(
            r#"{{"interfaces": [{{"role": "ext", "addresses": ["{LB1_EXT}/24"]}},
                {{"role": "int", "addresses": ["{LB1_INT}/24"]}}]}}"#
        )),
        files: host_program::with_libraries(ipvsadm)?,
        extra_cmdline: "lvsfw.debug".into(),
        ..ApplianceSpec::default()
    })?;
    vm.wait_for("balancer: interfaces up", Duration::from_secs(60))?;

    // Interleaved, one run of each at a time, so that load from elsewhere on the
    // machine falls on both alike.
    let (mut fill, mut weight, mut check, mut remove) = (vec![], vec![], vec![], vec![]);
    let mut requests = Vec::new();
    let (mut restore, mut edit, mut clear, mut start) = (vec![], vec![], vec![], vec![]);
    for _ in 0..runs {
        let (out, _) = debug_run(
            &mut vm,
            &format!("/init ipvs bench {services} {dests} 1 {RULES}"),
        )?;
        let row = out
            .lines()
            .find(|l| l.starts_with("median"))
            .ok_or_else(|| Error(format!("no result:\n{out}")))?;
        let cols: Vec<f64> = row
            .split_whitespace()
            .skip(1)
            .map(|c| c.parse().unwrap_or(f64::NAN))
            .collect();
        fill.push(cols[0]);
        weight.push(cols[2]);
        check.push(cols[4]);
        remove.push(cols[6]);
        requests = vec![cols[1], cols[3], cols[5], cols[7]];

        start.push(debug_run(&mut vm, &format!("{ipvsadm} -v"))?.1);
        restore.push(debug_run(&mut vm, &format!("{ipvsadm} -R < {RULES}"))?.1);
        edit.push(
            debug_run(
                &mut vm,
                &format!("{ipvsadm} -e -t 10.10.0.1:80 -r 192.168.33.100:80 -m -w 2"),
            )?
            .1,
        );
        clear.push(debug_run(&mut vm, &format!("{ipvsadm} -C"))?.1);
    }
    vm.kill();

    println!(
        "IPVS, {services} services x {dests} destinations, median of {runs} runs, one VM (TCG):"
    );
    println!("| | from empty | one weight change | remove all | unchanged table checked against the kernel |");
    println!("|---|---|---|---|---|");
    println!(
        "| lvsfw (the balancer's pass, in process) | {:.0} ms, {} requests | {:.1} ms, {} request | {:.0} ms, {} requests | {:.0} ms, {} requests |",
        median(fill), requests[0], median(weight), requests[1], median(remove), requests[3], median(check), requests[2]
    );
    println!(
        "| ipvsadm -R / -e / -C (whole process) | {:.0} ms, {} requests (one per rule) | {:.0} ms, 1 request | {:.0} ms, 1 request | |",
        median(restore),
        services * (dests + 1),
        median(edit),
        median(clear)
    );
    println!(
        "| ipvsadm -v (process start alone) | {:.0} ms | | | |",
        median(start)
    );
    Ok(())
}
