//! `lvsfw ipvs bench SERVICES DESTINATIONS RUNS RULES`: applies a generated table the way
//! the balancer's worker does (the same pass), from empty, then one weight change, then
//! removal, and prints each pass's time and netlink requests. It also writes the same
//! table as ipvsadm-save rules, so `ipvsadm -R` can be timed on the same kernel.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;
use std::time::Duration;

use ipvs::{Client, Destination, Forward, Protocol, Service, ServiceKey, Table};

use balancer::lvs::pass;

const USAGE: &str = "usage: lvsfw ipvs bench SERVICES DESTINATIONS RUNS RULES-FILE";

pub fn run(args: &[String]) -> ExitCode {
    let parsed = match args {
        [s, d, r, rules] => s
            .parse::<u32>()
            .ok()
            .zip(d.parse::<u32>().ok())
            .zip(r.parse::<usize>().ok())
            .filter(|((s, d), r)| (1..=60_000).contains(s) && (1..=250).contains(d) && *r >= 1)
            .map(|((s, d), r)| (s, d, r, rules)),
        _ => None,
    };
    let Some((services, dests, runs, rules)) = parsed else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let table = generate(services, dests);
    if let Err(e) = std::fs::write(rules, ipvsadm_rules(&table)) {
        eprintln!("{rules}: {e}");
        return ExitCode::FAILURE;
    }
    match measure(&table, runs) {
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("lvsfw ipvs bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Services 10.10.x.y:80 (round robin by weight), each with destinations
/// 192.168.33.100+j:80, reachable through the int address of the lab.
fn generate(services: u32, dests: u32) -> Table {
    let mut table = Table::default();
    for i in 0..services {
        let key = ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: IpAddr::V4(Ipv4Addr::from(0x0a0a_0000 + i + 1)),
            port: 80,
        };
        table.insert_service(Service::new(key, "wrr"));
        for j in 0..dests {
            let addr = IpAddr::V4(Ipv4Addr::new(192, 168, 33, 100 + j as u8));
            table.insert_destination(&key, Destination::new(addr, 80, Forward::Masq, 1));
        }
    }
    table
}

fn ipvsadm_rules(table: &Table) -> String {
    let mut rules = String::new();
    for (key, (service, dests)) in &table.services {
        let ServiceKey::Addr { addr, port, .. } = key else {
            continue;
        };
        let _ = writeln!(rules, "-A -t {addr}:{port} -s {}", service.scheduler);
        for d in dests.values() {
            let _ = writeln!(
                rules,
                "-a -t {addr}:{port} -r {}:{} -m -w {}",
                d.addr, d.port, d.weight
            );
        }
    }
    rules
}

struct Row {
    fill: (Duration, u64),
    weight: (Duration, u64),
    check: (Duration, u64),
    remove: (Duration, u64),
}

fn measure(table: &Table, runs: usize) -> Result<String, ipvs::Error> {
    let mut client = Client::connect()?;
    let keys: BTreeSet<ServiceKey> = table.services.keys().copied().collect();
    let empty = Table::default();
    let mut changed = table.clone();
    if let Some((_, dests)) = changed.services.values_mut().next() {
        if let Some(d) = dests.values_mut().next() {
            d.weight = 2;
        }
    }
    // Leftovers of an interrupted run go first; they are this tool's own services.
    pass(&mut client, &empty, &keys, false, None)?;
    let mut rows = Vec::new();
    for _ in 0..runs {
        // As the worker does: the first pass reads the kernel, a change is applied
        // against the table the last clean pass left, and a quiet table is checked
        // against the kernel now and then.
        let fill = pass(&mut client, table, &BTreeSet::new(), false, None)?;
        let weight = pass(&mut client, &changed, &keys, false, Some(table))?;
        let check = pass(&mut client, &changed, &keys, false, None)?;
        let remove = pass(&mut client, &empty, &keys, false, Some(&changed))?;
        if check.ops != 0 {
            return Err(ipvs::Error::Decode(format!(
                "the kernel differs from the applied table by {} operations",
                check.ops
            )));
        }
        let failed = fill.failed + weight.failed + remove.failed;
        if failed > 0 {
            return Err(ipvs::Error::Decode(format!("{failed} operations failed")));
        }
        rows.push(Row {
            fill: (fill.elapsed, fill.requests),
            weight: (weight.elapsed, weight.requests),
            check: (check.elapsed, check.requests),
            remove: (remove.elapsed, remove.requests),
        });
    }
    Ok(render(table, &rows))
}

fn render(table: &Table, rows: &[Row]) -> String {
    let dests: usize = table.services.values().map(|(_, d)| d.len()).sum();
    let mut out = format!(
        "lvsfw ipvs bench: {} services, {dests} destinations, {} runs\n",
        table.services.len(),
        rows.len()
    );
    out.push_str(
        "run     from-empty ms requests   weight-change ms requests   kernel-check ms requests     remove-all ms requests\n",
    );
    let cell = |(d, n): (Duration, u64)| format!("{:>13.1} {n:>8}", d.as_secs_f64() * 1e3);
    for (i, r) in rows.iter().enumerate() {
        let _ = writeln!(
            out,
            "{:<6}{}   {}   {}   {}",
            i + 1,
            cell(r.fill),
            cell(r.weight),
            cell(r.check),
            cell(r.remove)
        );
    }
    let median = |f: fn(&Row) -> (Duration, u64)| {
        let mut v: Vec<(Duration, u64)> = rows.iter().map(f).collect();
        v.sort();
        v[v.len() / 2]
    };
    let _ = writeln!(
        out,
        "median{}   {}   {}   {}",
        cell(median(|r| r.fill)),
        cell(median(|r| r.weight)),
        cell(median(|r| r.check)),
        cell(median(|r| r.remove))
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_hold_the_same_table() {
        let table = generate(2, 3);
        assert_eq!(
            ipvsadm_rules(&table),
            "-A -t 10.10.0.1:80 -s wrr\n\
             -a -t 10.10.0.1:80 -r 192.168.33.100:80 -m -w 1\n\
             -a -t 10.10.0.1:80 -r 192.168.33.101:80 -m -w 1\n\
             -a -t 10.10.0.1:80 -r 192.168.33.102:80 -m -w 1\n\
             -A -t 10.10.0.2:80 -s wrr\n\
             -a -t 10.10.0.2:80 -r 192.168.33.100:80 -m -w 1\n\
             -a -t 10.10.0.2:80 -r 192.168.33.101:80 -m -w 1\n\
             -a -t 10.10.0.2:80 -r 192.168.33.102:80 -m -w 1\n"
        );
    }
}
