//! The seed's scenario 3-1 (issue 4): one appliance balancing HTTP between two real
//! servers through the kernel's IPVS, with the seed's keepalived.conf verbatim.

use std::time::{Duration, Instant};

use lvsfw_lab::addresses::*;
use lvsfw_lab::{ApplianceSpec, Error, Host, Lab, Net};

const SEED_3_1: &str = include_str!("../../firmware/config/testdata/seed-3-1.conf");
const DOCKER1: &str = "<html><h1>Hello Docker1</h1></html>";
const DOCKER2: &str = "<html><h1>Hello Docker2</h1></html>";

/// The VIP is a plain address of the single balancer in 3-1 (no VRRP yet).
fn lb1_config() -> String {
    format!(
        r#"{{"hostname": "lb1", "interfaces": [
            {{"role": "ext", "addresses": ["{LB1_EXT}/24", "{VIP}/24"]}},
            {{"role": "int", "addresses": ["{LB1_INT}/24"]}}]}}"#
    )
}

fn get(client: &Host) -> String {
    client
        .http_get(&format!("http://{VIP}/"))
        .map(|b| b.trim().to_string())
        .unwrap_or_else(|e| format!("error: {e}"))
}

/// Polls until `n` requests in a row satisfy `ok`, for at most `limit`.
fn until(
    client: &Host,
    limit: Duration,
    n: usize,
    ok: impl Fn(&[String]) -> bool,
) -> Result<Vec<String>, Error> {
    let deadline = Instant::now() + limit;
    loop {
        let answers: Vec<String> = (0..n).map(|_| get(client)).collect();
        if ok(&answers) {
            return Ok(answers);
        }
        if Instant::now() >= deadline {
            return Err(Error(format!(
                "after {limit:?} the answers were {answers:?}"
            )));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn alternating(answers: &[String]) -> bool {
    answers.windows(2).all(|w| w[0] != w[1]) && answers.iter().all(|a| a == DOCKER1 || a == DOCKER2)
}

#[test]
fn round_robin_and_a_dead_server_gets_weight_0() -> Result<(), Error> {
    let mut lab = Lab::new("seed31", false)?;
    let client = lab.add_host("client", Net::Ext, &format!("{CLIENT}/24"), None)?;
    let rs1 = lab.add_host("rs1", Net::Int, &format!("{RS1}/24"), Some(LB1_INT))?;
    let rs2 = lab.add_host("rs2", Net::Int, &format!("{RS2}/24"), Some(LB1_INT))?;
    let httpd1 = lab.serve_http(&rs1, &format!("{DOCKER1}\n"))?;
    lab.serve_http(&rs2, &format!("{DOCKER2}\n"))?;
    let mut lb1 = lab.boot(ApplianceSpec {
        name: "lb1".into(),
        config_json: Some(lb1_config()),
        files: vec![(
            "etc/lvsfw/keepalived.conf".into(),
            SEED_3_1.as_bytes().to_vec(),
        )],
        ..ApplianceSpec::default()
    })?;
    lb1.wait_for("balancer: interfaces up", Duration::from_secs(60))?;
    lb1.wait_for("IPVS: 3 changes applied", Duration::from_secs(20))?;

    // 20 requests alternate between the two real servers.
    let answers = until(&client, Duration::from_secs(10), 20, alternating)?;
    assert_eq!(answers.iter().filter(|a| *a == DOCKER1).count(), 10);

    // Real server 1's HTTP service stops: within delay_loop + retry x (connect_timeout +
    // delay_before_retry) + 1 s = 6 + 3 x 6 + 1 = 25 s, every request answers Docker2.
    lab.stop(httpd1);
    let stopped = Instant::now();
    until(&client, Duration::from_secs(25), 6, |a| {
        a.iter().all(|x| x == DOCKER2)
    })?;
    eprintln!(
        "only Docker2 answers {} ms after the stop",
        stopped.elapsed().as_millis()
    );
    lb1.wait_for(
        "real server 192.168.33.11:80 of TCP 192.168.0.100:80: down",
        Duration::from_secs(5),
    )?;
    lb1.send_line("ipvs list")?;
    let line = lb1.wait_for("-> 192.168.33.11:80", Duration::from_secs(10))?;
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        fields[2..4],
        ["Masq", "0"],
        "weight 0 with inhibit_on_failure: {line}"
    );

    // Back: it returns to rotation.
    lab.serve_http(&rs1, &format!("{DOCKER1}\n"))?;
    lb1.wait_for(
        "real server 192.168.33.11:80 of TCP 192.168.0.100:80: up",
        Duration::from_secs(40),
    )?;
    until(&client, Duration::from_secs(10), 10, alternating)?;
    Ok(())
}
