//! keepalived's mail alerts (issue 16) from the appliance to a real SMTP server (Debian's
//! aiosmtpd) in a lab namespace: a real server going down and a VRRP failover each
//! mail keepalived's subject from notification_email_from to every notification_email;
//! with the SMTP server unreachable, VRRP still takes over on time and the failure is
//! logged.

mod common;

use std::time::{Duration, Instant};

use common::*;
use lvsfw_lab::addresses::*;
use lvsfw_lab::peers::Keepalived;
use lvsfw_lab::{Appliance, ApplianceSpec, Error, Net};
use nix::sys::signal::Signal;

const MAIL_HOST: &str = "192.168.0.25";
const SMTP_PORT: &str = "2525";
/// How long a mail may take to arrive: a check's verdict (delay_loop 2, connect_timeout
/// 1, one retry) or VRRP's master down interval, and TCG's slowness on top.
const ARRIVAL: Duration = Duration::from_secs(40);

/// An SMTP server (aiosmtpd's protocol, our handler) that appends each mail it takes to
/// a file: its envelope, then its content, then a separator line.
const SMTP_SERVER: &str = r#"
import asyncio, sys
from aiosmtpd.smtp import SMTP

class Saver:
    async def handle_DATA(self, server, session, envelope):
        content = envelope.content.decode("utf-8", "replace").replace("\r\n", "\n")
        with open(sys.argv[3], "a") as f:
            f.write("MAIL FROM:%s\nRCPT TO:%s\n%s\n=====\n"
                    % (envelope.mail_from, ",".join(envelope.rcpt_tos), content))
        return "250 OK"

async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(Saver(), hostname="mail.lab"), sys.argv[1], int(sys.argv[2]))
    print("listening", flush=True)
    await server.serve_forever()

asyncio.run(main())
"#;

fn conf() -> String {
    format!(
        "global_defs {{
    notification_email {{
        ops@example.com
        noc@example.com
    }}
    notification_email_from \"LB one <lb1@example.com>\"
    smtp_server {MAIL_HOST} {SMTP_PORT}
    smtp_connect_timeout 10
}}
vrrp_instance VI_1 {{
    state BACKUP
    interface ext
    virtual_router_id 51
    priority 150
    advert_int 1
    smtp_alert
    virtual_ipaddress {{
        {VIP}/24
    }}
}}
virtual_server {VIP} 80 {{
    delay_loop 2
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server {RS1} 80 {{
        weight 1
        TCP_CHECK {{
            connect_timeout 1
        }}
    }}
    real_server {RS2} 80 {{
        weight 1
        TCP_CHECK {{
            connect_timeout 1
        }}
    }}
}}
"
    )
}

/// The peer that takes over: keepalived with a higher priority on the same segment.
fn peer_conf() -> String {
    format!(
        "vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 200
    advert_int 1
    virtual_ipaddress {{
        {VIP}/24
    }}
}}
"
    )
}

/// The mails the server took, each its envelope and content.
fn mails(file: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .split("\n=====\n")
        .filter(|m| !m.trim().is_empty())
        .map(String::from)
        .collect()
}

fn with_subject(file: &std::path::Path, subject: &str) -> Vec<String> {
    let line = format!("\nSubject: {subject}\n");
    mails(file)
        .into_iter()
        .filter(|m| m.contains(&line))
        .collect()
}

/// Waits until `count` mails with `subject` arrived; the last of them.
fn wait_mail(file: &std::path::Path, subject: &str, count: usize) -> Result<String, Error> {
    let deadline = Instant::now() + ARRIVAL;
    loop {
        let found = with_subject(file, subject);
        if found.len() >= count {
            return Ok(found[count - 1].clone());
        }
        if Instant::now() >= deadline {
            return Err(Error(format!(
                "no mail {count} with subject {subject:?} within {ARRIVAL:?}; the server has:\n{}",
                mails(file).join("\n=====\n")
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// keepalived's envelope and headers, as configured.
fn assert_addressed(mail: &str) {
    for line in [
        "MAIL FROM:lb1@example.com\n",
        "RCPT TO:ops@example.com,noc@example.com\n",
        "\nFrom: LB one <lb1@example.com>\n",
        "\nTo: ops@example.com, noc@example.com\n",
        "\nX-Mailer: lvsfw\n",
    ] {
        assert!(mail.contains(line), "no {line:?} in:\n{mail}");
    }
}

fn boot(s: &mut Scenario) -> Result<Appliance, Error> {
    let config = format!(
        r#"{{"hostname": "lb1", "interfaces": [
            {{"role": "ext", "addresses": ["{LB1_EXT}/24"]}},
            {{"role": "int", "addresses": ["{LB1_INT}/24"]}}]}}"#
    );
    let mut lb1 = s.lab.boot(ApplianceSpec {
        name: "lb1".into(),
        config_json: Some(config),
        files: vec![("etc/lvsfw/keepalived.conf".into(), conf().into_bytes())],
        ..ApplianceSpec::default()
    })?;
    lb1.wait_for("balancer: interfaces up", Duration::from_secs(60))?;
    Ok(lb1)
}

#[test]
fn a_server_down_and_a_failover_are_mailed_and_a_dead_smtp_server_delays_nothing(
) -> Result<(), Error> {
    let mut s = scenario("mailalert")?;
    let mail = s
        .lab
        .add_host("mail", Net::Ext, &format!("{MAIL_HOST}/24"), None)?;
    let inbox = s.lab.log_path("inbox");
    let inbox_arg = inbox.to_string_lossy().into_owned();
    s.lab.spawn(
        &mail,
        &[
            "/usr/bin/python3",
            "-c",
            SMTP_SERVER,
            MAIL_HOST,
            SMTP_PORT,
            &inbox_arg,
        ],
        "smtp",
    )?;
    s.lab
        .wait_log("smtp", "listening", Duration::from_secs(20))?;
    let mut lb1 = boot(&mut s)?;

    // Alone on the segment, lb1 becomes master: mailed, keepalived's subject with the
    // host's name as router_id.
    lb1.wait_for("VI_1: BACKUP -> MASTER", Duration::from_secs(60))?;
    let master = "[lb1] VRRP Instance VI_1 - Entering MASTER state";
    let m = wait_mail(&inbox, master, 1)?;
    assert_addressed(&m);
    assert!(
        m.contains("=> VRRP Instance is now owning VRRP VIPs <="),
        "{m}"
    );

    // Real server 1's web server stops: its TCP_CHECK fails, the server is down.
    s.lab.stop(s.httpd1);
    let down = "[lb1] Realserver [192.168.33.11]:80 of virtual server [192.168.0.100]:80 - DOWN";
    let m = wait_mail(&inbox, down, 1)?;
    assert_addressed(&m);
    assert!(m.contains("=> CHECK failed on service : TCP_CHECK"), "{m}");

    // A peer with a higher priority takes over: lb1 is backup, and says so (again: it
    // started as backup).
    let lb2 = s
        .lab
        .add_host("lb2", Net::Ext, &format!("{LB2_EXT}/24"), None)?;
    let backup = "[lb1] VRRP Instance VI_1 - Entering BACKUP state";
    let count = with_subject(&inbox, backup).len() + 1;
    let peer = Keepalived::start(&mut s.lab, &lb2, "keepalived-lb2", &peer_conf())?;
    lb1.wait_for("VI_1: MASTER -> BACKUP", Duration::from_secs(30))?;
    let m = wait_mail(&inbox, backup, count)?;
    assert_addressed(&m);

    // The SMTP server becomes unreachable (its link down: no answer at all), real
    // server 2 too (its checks time out) so that the sender is busy with a mail that
    // cannot leave (10 s of connect timeout, longer than the bound on the takeover, so
    // that a sender that held VRRP up would fail this), and the peer is killed: lb1
    // takes over at once (keepalived's orphaned VRRP process leaves with priority 0,
    // skew time 0.41 s) or at the latest after the master down interval (3 x 1 s +
    // 0.41 s), never later.
    mail.run(&["ip", "link", "set", "eth0", "down"])?;
    let received = mails(&inbox).len();
    s.rs2.run(&["ip", "link", "set", "eth0", "down"])?;
    lb1.wait_for(
        "real server 192.168.33.12:80 of TCP 192.168.0.100:80: down",
        ARRIVAL,
    )?;
    let killed = Instant::now();
    s.lab.signal(peer.pid, Signal::SIGKILL)?;
    lb1.wait_for("VI_1: BACKUP -> MASTER", Duration::from_secs(20))?;
    let takeover = killed.elapsed();
    println!(
        "takeover with the SMTP server unreachable: {takeover:?} (master down interval 3.41 s)"
    );
    assert!(
        takeover < Duration::from_millis(3_410) + Duration::from_secs(4),
        "takeover took {takeover:?}"
    );
    lb1.console.wait_anywhere(
        &format!("mail alert not sent through {MAIL_HOST}:{SMTP_PORT}"),
        ARRIVAL,
    )?;
    assert_eq!(
        mails(&inbox).len(),
        received,
        "a mail arrived through a dead link"
    );
    Ok(())
}
