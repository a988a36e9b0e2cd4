//! `lvsfw show interfaces`: the kernel's links, addresses and gateway routes, read over
//! rtnetlink, for the console's `show interfaces`; `lvsfw debug cat FILE` for the
//! console's `debug cat` (a child, so that a file that blocks cannot stop PID 1).

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::process::ExitCode;

/// The most of a file `debug cat` prints.
const MAX_CAT: u64 = 1 << 20;

pub fn cat(args: &[String]) -> ExitCode {
    let [file] = args else {
        eprintln!("usage: lvsfw debug cat FILE");
        return ExitCode::from(2);
    };
    let mut text = Vec::new();
    match std::fs::File::open(file).and_then(|f| f.take(MAX_CAT).read_to_end(&mut text)) {
        Ok(_) => {
            if !text.ends_with(b"\n") {
                text.push(b'\n');
            }
            let _ = std::io::stdout().write_all(&text);
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("error: {file}: {e}");
            ExitCode::FAILURE
        }
    }
}

use netif::Actual;

pub fn run(args: &[String]) -> ExitCode {
    if args != ["interfaces"] {
        eprintln!("usage: lvsfw show interfaces");
        return ExitCode::from(2);
    }
    let read = match balancer::read_interfaces() {
        Ok(read) => read,
        Err(e) => {
            eprintln!("show interfaces: {e}");
            return ExitCode::FAILURE;
        }
    };
    match read {
        Ok(actual) => {
            print!("{}", render(&actual));
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("show interfaces: {e}");
            ExitCode::FAILURE
        }
    }
}

fn render(actual: &Actual) -> String {
    let mut links = actual.links.clone();
    links.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = String::new();
    for l in &links {
        let addresses: Vec<String> = l.addresses.iter().map(|a| a.to_string()).collect();
        let _ = writeln!(
            out,
            "{:<8} {:<5} mtu {:<6} {}",
            l.name,
            if l.up { "up" } else { "down" },
            l.mtu,
            if addresses.is_empty() {
                "-".into()
            } else {
                addresses.join(" ")
            }
        );
    }
    out.push_str("routes:\n");
    if actual.routes.is_empty() {
        out.push_str("  - (no gateway routes)\n");
    }
    for r in &actual.routes {
        let _ = writeln!(out, "  {} via {}", r.to, r.via);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use netif::ActualLink;

    #[test]
    fn links_sorted_with_state_mtu_and_addresses() {
        let actual = Actual {
            links: vec![
                ActualLink {
                    index: 3,
                    name: "mgmt".into(),
                    mtu: 1500,
                    up: true,
                    addresses: vec!["10.0.5.1/24".parse().unwrap()],
                    ..Default::default()
                },
                ActualLink {
                    index: 2,
                    name: "ext".into(),
                    mtu: 1500,
                    up: false,
                    addresses: vec![],
                    ..Default::default()
                },
            ],
            routes: vec![config::Route {
                to: "0.0.0.0/0".parse().unwrap(),
                via: "10.0.5.254".parse().unwrap(),
            }],
        };
        assert_eq!(
            render(&actual),
            "ext      down  mtu 1500   -\n\
             mgmt     up    mtu 1500   10.0.5.1/24\n\
             routes:\n  0.0.0.0/0 via 10.0.5.254\n"
        );
    }
}
