//! Issue 18's scale-out lab as the tests behind a router's ECMP share it (`scaleout`
//! with FRR, `scaleout_bird` with BIRD): a router namespace with a leg on ext (the
//! boxes, 192.168.0.1), on int (the real servers' way back, 192.168.33.1) and on mgmt as
//! the upstream network (10.9.0.1, the client at .50); lvsfw boxes announcing the same VIP
//! with `lb_algo mh` + `mh-port`, `lb_kind DR` and `sloppy_tcp`; real servers with the VIP
//! on lo answering the clients straight through the router; the flows' bookkeeping.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use lvsfw_lab::bgp_peers::wait_until;
use lvsfw_lab::flows::{EchoServer, FlowSpec, FlowState, Flows};
use lvsfw_lab::{Appliance, ApplianceSpec, Error, Host, Lab, Net};

use super::command_output;

pub const VIP: &str = "192.168.0.100";
pub const PORT: u16 = 9000;
pub const ROUTER_EXT: &str = "192.168.0.1";
pub const ROUTER_INT: &str = "192.168.33.1";
pub const ROUTER_UP: &str = "10.9.0.1";
pub const CLIENT: &str = "10.9.0.50";
pub const SERVERS: [&str; 3] = ["192.168.33.11", "192.168.33.12", "192.168.33.13"];

pub fn box_ext(n: usize) -> String {
    format!("192.168.0.{}", 100 + n)
}

pub fn box_int(n: usize) -> String {
    format!("192.168.33.{}", 20 + n)
}

pub fn vip() -> SocketAddr {
    SocketAddr::new(VIP.parse().unwrap(), PORT)
}

/// The router's namespace (its three legs addressed, no daemon yet) and the client's.
pub fn router_and_client(lab: &mut Lab) -> Result<(Host, Host), Error> {
    let router = lab.add_host("router", Net::Ext, &format!("{ROUTER_EXT}/24"), None)?;
    lab.add_nic(&router, Net::Int, "int0")?;
    lab.add_nic(&router, Net::Mgmt, "up0")?;
    for (address, dev) in [(ROUTER_INT, "int0"), (ROUTER_UP, "up0")] {
        router.run(&["ip", "addr", "add", &format!("{address}/24"), "dev", dev])?;
    }
    let client = lab.add_host(
        "client",
        Net::Mgmt,
        &format!("{CLIENT}/24"),
        Some(ROUTER_UP),
    )?;
    Ok((router, client))
}

/// Box `lb{n}`'s keepalived.conf: the VIP over `servers` (TCP_CHECK), and the `bgp` block
/// with hold 3 s / keepalive 1 s to the router; `bfd` (min_rx = min_tx ms, multiplier)
/// adds BFD to the session.
pub fn keepalived_conf(
    servers: &[&str],
    graceful_shutdown_time: u32,
    bfd: Option<(u32, u32)>,
) -> String {
    let bfd = match bfd {
        Some((ms, multiplier)) => format!(
            "        bfd {{\n            min_rx {ms}\n            min_tx {ms}\n            multiplier {multiplier}\n        }}\n"
        ),
        None => String::new(),
    };
    let mut conf = format!(
        "virtual_server {VIP} {PORT} {{
    delay_loop 3
    lb_algo mh
    mh-port
    lb_kind DR
    protocol TCP
"
    );
    for rs in servers {
        conf.push_str(&format!(
            "    real_server {rs} {PORT} {{
        weight 1
        TCP_CHECK {{
            connect_timeout 3
        }}
    }}
"
        ));
    }
    conf.push_str(&format!(
        "}}
bgp {{
    local_as 65002
    graceful_shutdown_time {graceful_shutdown_time}
    sloppy_tcp
    neighbor {ROUTER_EXT} {{
        remote_as 65001
        hold_time 3
        keepalive 1
        connect_retry 1
{bfd}    }}
    announce {{
        {VIP}
    }}
}}
"
    ));
    conf
}

/// Boots box `lb{n}` (ext .10n, int .2n, the VIP on ext as well) with `keepalived_conf`.
pub fn boot_box(lab: &mut Lab, n: usize, keepalived_conf: String) -> Result<Appliance, Error> {
    let name = format!("lb{n}");
    let json = format!(
        r#"{{"hostname": "{name}", "interfaces": [
            {{"role": "ext", "addresses": ["{}/24", "{VIP}/32"]}},
            {{"role": "int", "addresses": ["{}/24"]}}]}}"#,
        box_ext(n),
        box_int(n)
    );
    lab.boot(ApplianceSpec {
        name,
        memory_mib: 192,
        config_json: Some(json),
        files: vec![(
            "etc/lvsfw/keepalived.conf".into(),
            keepalived_conf.into_bytes(),
        )],
        ..ApplianceSpec::default()
    })
}

/// Real server `rs{n}` (`SERVERS[n - 1]`) for DR: the VIP on lo, not answered for in ARP,
/// its default route the router, an echo server on all its addresses that answers as `rsN`.
pub fn real_server(lab: &mut Lab, n: usize) -> Result<(Host, EchoServer), Error> {
    let rs = lab.add_host(
        &format!("rs{n}"),
        Net::Int,
        &format!("{}/24", SERVERS[n - 1]),
        Some(ROUTER_INT),
    )?;
    rs.run(&["ip", "addr", "add", &format!("{VIP}/32"), "dev", "lo"])?;
    for (key, value) in [
        ("net.ipv4.conf.all.arp_ignore", "1"),
        ("net.ipv4.conf.all.arp_announce", "2"),
        ("net.ipv4.conf.eth0.arp_ignore", "1"),
        ("net.ipv4.conf.eth0.arp_announce", "2"),
    ] {
        rs.run(&["sysctl", "-qw", &format!("{key}={value}")])?;
    }
    let bind = SocketAddr::from(([0, 0, 0, 0], PORT));
    let echo = EchoServer::start(&rs, bind, &format!("rs{n}"))?;
    Ok((rs, echo))
}

/// Source port of the first flow (fixed: the same run spreads the same way every time).
pub const FLOW_PORTS: u16 = 20000;

/// `count` long-lived flows from the client to the VIP, each sending a line every 1-2 s
/// and broken without its echo for 20 s, done by `lifetime`; returned once every one has
/// had an echo, none broken, with how long they took to connect.
pub fn start_flows(
    client: &Host,
    count: usize,
    lifetime: Duration,
) -> Result<(Flows, Duration), Error> {
    let spec = FlowSpec {
        count,
        first_port: FLOW_PORTS,
        period: Duration::from_secs(1),
        echo_timeout: Duration::from_secs(20),
        lifetime,
    };
    let connecting = Instant::now();
    let flows = Flows::start(
        client,
        CLIENT.parse().unwrap(),
        vip(),
        spec,
        Duration::from_secs(60),
    )?;
    let connected_in = connecting.elapsed();
    flows.all_echoed_after(
        Instant::now() - Duration::from_secs(1),
        Duration::from_secs(30),
    )?;
    if flows.broken() > 0 {
        return Err(Error(format!(
            "flows broken before any event: {:?}",
            broken_list(&flows.snapshot())
        )));
    }
    Ok((flows, connected_in))
}

/// The first few broken flows and why, for an assertion's message.
pub fn broken_list(states: &[FlowState]) -> Vec<String> {
    states
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            s.broken
                .as_ref()
                .map(|(_, why)| format!("flow {i}: {why:?}"))
        })
        .take(10)
        .collect()
}

/// Connections (active + inactive) box `lb` holds for the VIP (`show ipvs`).
pub fn connections(lb: &mut Appliance) -> Result<u64, Error> {
    let shown = command_output(lb, "show ipvs")?;
    Ok(shown
        .lines()
        .filter(|l| l.trim_start().starts_with("-> ") && !l.contains("RemoteAddress"))
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let active: u64 = w.get(4)?.parse().ok()?;
            let inactive: u64 = w.get(5)?.parse().ok()?;
            Some(active + inactive)
        })
        .sum())
}
