//! `lb_kind FNAT` (issue 18's return path for real servers that cannot decapsulate): the
//! appliance's kernel forwards by IPVS NAT and nf_tables rewrites the source to the
//! box's int address, so a real server with no route to the clients at all still
//! answers them; it sees the box, not the client. The same real server behind a plain
//! NAT service cannot answer (its reply has nowhere to go): the rewrite is what works.

mod common;

use std::time::Duration;

use common::*;
use lvsfw_lab::addresses::*;
use lvsfw_lab::programs::PEER_ADDRESS;
use lvsfw_lab::{Error, Net};

fn conf(kind_80: &str) -> String {
    format!(
        "
virtual_server {VIP} 80 {{
    lb_algo rr
    lb_kind {kind_80}
    protocol TCP
    real_server {RS1} 8080 {{
    }}
}}
virtual_server {VIP} 81 {{
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server {RS1} 8080 {{
    }}
}}
"
    )
}

/// What the real server answered a client's connection to the VIP's `port` (empty:
/// no answer within 4 s).
fn ask(s: &Scenario, port: u16) -> Result<String, Error> {
    let connect = format!("exec 3<>/dev/tcp/{VIP}/{port} && head -n 1 <&3");
    let out = s.client.output(&["timeout", "4", "bash", "-c", &connect])?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[test]
fn a_real_server_without_a_route_to_the_clients_answers_through_fnat() -> Result<(), Error> {
    let mut lab = lvsfw_lab::Lab::new("fullnat", false)?;
    let client = lab.add_host("client", Net::Ext, &format!("{CLIENT}/24"), None)?;
    // No gateway: the real server reaches its own subnet, never the clients'.
    let rs1 = lab.add_host("rs1", Net::Int, &format!("{RS1}/24"), None)?;
    let rs2 = lab.add_host("rs2", Net::Int, &format!("{RS2}/24"), Some(LB1_INT))?;
    let httpd1 = lab.spawn(&rs1, &["python3", "-c", PEER_ADDRESS, "8080"], "peer")?;
    let mut s = Scenario {
        lab,
        client,
        rs1,
        rs2,
        httpd1,
    };
    let mut lb1 = s.boot_lb1(&conf("FNAT"), vec![], "")?;
    lb1.wait_for_all(
        &[
            "FNAT: 1 masquerade rule(s) in nf_tables table inet lvsfw",
            "IPVS: 4 changes applied",
        ],
        Duration::from_secs(30),
    )?;
    let conntrack = command_output(&mut lb1, "debug cat /proc/sys/net/ipv4/vs/conntrack")?;
    assert!(conntrack.contains('1'), "IPVS conntrack on: {conntrack}");

    let fnat = ask(&s, 80)?;
    assert_eq!(
        fnat,
        format!("peer {LB1_INT}"),
        "through FNAT the real server answers and sees the box's int address"
    );
    let nat = ask(&s, 81)?;
    assert_eq!(
        nat, "",
        "through plain NAT the real server has no way back to the client"
    );

    // A reload to plain NAT removes the rule and the table: :80 is then like :81.
    import_and_apply(&mut lb1, &conf("NAT"))?;
    let conntrack = command_output(&mut lb1, "debug cat /proc/sys/net/ipv4/vs/conntrack")?;
    assert!(
        conntrack.contains('0'),
        "IPVS conntrack off again: {conntrack}"
    );
    assert_eq!(ask(&s, 80)?, "", "after the reload :80 is plain NAT");
    Ok(())
}
