//! `lb_kind TUN` with keepalived's tunnel options (issue 18's tunnel DSR): the kernel's
//! IPVS, given them by lvsfw, sends a client's packet to the real server inside GUE on
//! the configured port, or inside IPIP, with the client's address kept.
//!
//! The real server's side (decapsulation, a reply straight to the client) needs `fou`
//! and `ipip`, which the host kernel the lab's namespaces run on does not have; here
//! the int bridge's capture is the witness.

mod common;

use std::net::Ipv4Addr;
use std::time::Duration;

use common::*;
use lvsfw_lab::addresses::*;
use lvsfw_lab::pcap::{Capture, Frame};
use lvsfw_lab::{Error, Net};

const GUE_PORT: u16 = 6080;

fn conf() -> String {
    format!(
        "
virtual_server {VIP} 80 {{
    lb_algo rr
    lb_kind TUN type gue port {GUE_PORT} csum
    protocol TCP
    real_server {RS1} 80 {{
    }}
}}
virtual_server {VIP} 81 {{
    lb_algo rr
    lb_kind TUN
    protocol TCP
    real_server {RS1} 81 {{
    }}
}}
virtual_server {VIP} 82 {{
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server {RS1} 82 {{
        lvs_method TUN type gue port {}
    }}
}}
",
        GUE_PORT + 1
    )
}

/// The IPv4 packet inside an Ethernet frame from the appliance's int address.
fn ipv4_from_box(frame: &Frame) -> Option<&[u8]> {
    let ip = frame.data.get(14..)?;
    let from_box = frame.data.get(12..14)? == [0x08, 0x00]
        && ip.first()? >> 4 == 4
        && Ipv4Addr::from(<[u8; 4]>::try_from(ip.get(12..16)?).ok()?)
            == LB1_INT.parse::<Ipv4Addr>().ok()?;
    from_box.then_some(ip)
}

/// The client's TCP SYN to `port` as the inner packet: source the client (kept), the
/// VIP as destination.
fn is_client_syn(inner: &[u8], port: u16) -> bool {
    let ihl = usize::from(inner.first().map_or(0, |b| b & 0x0f)) * 4;
    inner.len() >= ihl + 14
        && inner[9] == 6
        && inner[12..16] == CLIENT.parse::<Ipv4Addr>().unwrap().octets()
        && inner[16..20] == VIP.parse::<Ipv4Addr>().unwrap().octets()
        && u16::from_be_bytes([inner[ihl + 2], inner[ihl + 3]]) == port
        && inner[ihl + 13] & 0x02 != 0
}

/// GUE (draft-ietf-intarea-gue §3.1, version 0): UDP to `udp_port`, a 4-byte header
/// whose protocol field says IPv4 (4), then the client's SYN.
fn gue_carrying_syn(ip: &[u8], udp_port: u16, syn_port: u16) -> bool {
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let Some(udp) = ip.get(ihl..) else {
        return false;
    };
    ip[9] == 17
        && udp.len() >= 12
        && u16::from_be_bytes([udp[2], udp[3]]) == udp_port
        && udp[8] >> 6 == 0
        && udp[9] == 4
        && is_client_syn(&udp[12..], syn_port)
}

fn ipip_carrying_syn(ip: &[u8], syn_port: u16) -> bool {
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    ip[9] == 4
        && ip
            .get(ihl..)
            .is_some_and(|inner| is_client_syn(inner, syn_port))
}

#[test]
fn gue_and_ipip_tunnels_carry_the_client_s_packet_to_the_real_server() -> Result<(), Error> {
    let mut s = scenario("tunnel")?;
    let capture = Capture::start(
        &mut s.lab,
        Net::Int,
        "int-tunnels",
        "udp portrange 6080-6081 or ip proto 4",
    )?;
    let mut lb1 = s.boot_lb1(&conf(), vec![], "")?;
    lb1.wait_for("IPVS: 6 changes applied", Duration::from_secs(30))?;
    let proc = command_output(&mut lb1, "debug cat /proc/net/ip_vs")?;
    assert_eq!(
        proc.matches(" Tunnel ").count(),
        3,
        "three tunnelled real servers:\n{proc}"
    );

    for port in [80, 81, 82] {
        // No answer comes (nothing decapsulates on the real server); the SYNs are
        // what the capture looks for.
        let connect = format!("exec 3<>/dev/tcp/{VIP}/{port}");
        s.client.output(&["timeout", "2", "bash", "-c", &connect])?;
    }

    let frames = capture.frames()?;
    let from_box: Vec<&[u8]> = frames.iter().filter_map(ipv4_from_box).collect();
    let summary = || format!("{} frames from the box on int", from_box.len());
    assert!(
        from_box.iter().any(|ip| gue_carrying_syn(ip, GUE_PORT, 80)),
        "virtual server :80 (lb_kind TUN type gue port {GUE_PORT}): no GUE packet with the client's SYN; {}",
        summary()
    );
    assert!(
        from_box.iter().any(|ip| ipip_carrying_syn(ip, 81)),
        "virtual server :81 (lb_kind TUN): no IPIP packet with the client's SYN; {}",
        summary()
    );
    assert!(
        from_box
            .iter()
            .any(|ip| gue_carrying_syn(ip, GUE_PORT + 1, 82)),
        "virtual server :82 (its real server's lvs_method TUN type gue port {}): no GUE packet; {}",
        GUE_PORT + 1,
        summary()
    );
    // Nothing else: plain IPIP never went to the GUE ports, GUE never to :81.
    assert!(
        !from_box.iter().any(|ip| gue_carrying_syn(ip, GUE_PORT, 81)
            || ipip_carrying_syn(ip, 80)
            || ipip_carrying_syn(ip, 82)),
        "each virtual server's own encapsulation only"
    );
    Ok(())
}
