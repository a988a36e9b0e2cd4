//! The whole product in a few minutes, for a newcomer (issue 5): the seed's scenario
//! 3-2 in the lab: two appliances sharing the VIPs by VRRP, two real servers, a client.
//! It shows round robin through the VIP, kills the master, shows the takeover and the
//! gap the client saw, and cleans everything up. Run with `scripts/demo` (root).

use std::time::{Duration, Instant};

use lvsfw_lab::addresses::*;
use lvsfw_lab::programs::PROBER;
use lvsfw_lab::seed::{boot_3_2, hosts_3_2, Hosts32, LB1_ADDRS, LB2_ADDRS};
use lvsfw_lab::{Host, Lab};

fn say(text: &str) {
    println!("\n== {text}");
}

fn ask(client: &Host, n: usize) {
    for _ in 0..n {
        let answer = client
            .http_get(&format!("http://{VIP}/"))
            .map(|b| b.trim().to_string())
            .unwrap_or_else(|e| format!("no answer ({e})"));
        println!("   client -> http://{VIP}/ : {answer}");
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    say("a lab of network namespaces: ext 192.168.0.0/24, int 192.168.33.0/24, mgmt 10.0.2.0/24");
    let mut lab = Lab::new("demo", true)?;
    let Hosts32 { client, .. } = hosts_3_2(&mut lab)?;
    println!("   real servers {RS1} and {RS2} route through the gateway VIP {GATEWAY_VIP}");

    say("lb1 (state MASTER) and lb2 (state BACKUP) boot in QEMU with the seed's keepalived.conf");
    let mut lb1 = boot_3_2(&mut lab, "lb1", "MASTER", None, LB1_ADDRS)?;
    println!(
        "   {}",
        lb1.wait_for("VI_1: BACKUP -> MASTER", Duration::from_secs(60))?
            .trim()
    );
    let mut lb2 = boot_3_2(&mut lab, "lb2", "BACKUP", None, LB2_ADDRS)?;
    println!(
        "   {}",
        lb2.wait_for("VI_1: INIT -> BACKUP", Duration::from_secs(60))?
            .trim()
    );
    lb2.wait_for("IPVS: ", Duration::from_secs(30))?;

    say("round robin through the VIP (held by lb1)");
    ask(&client, 6);

    say("the client asks every 20 ms while lb1 is killed (QEMU quit: no goodbye advert)");
    let stop = lab.log_path("demo-stop");
    lab.spawn(
        &client,
        &[
            "python3",
            "-c",
            PROBER,
            &format!("http://{VIP}/"),
            &stop.to_string_lossy(),
        ],
        "demo-prober",
    )?;
    std::thread::sleep(Duration::from_secs(2));
    lb1.monitor("quit")?;
    lb1.kill();
    let killed = Instant::now();
    let line = lb2.wait_for("VI_1: BACKUP -> MASTER", Duration::from_secs(30))?;
    println!("   {}", line.trim());
    println!(
        "   lb2 is MASTER {} ms after lb1 died (master-down interval: 3 x 3 s + skew 1.83 s, counted from lb1's last advert)",
        killed.elapsed().as_millis()
    );
    std::thread::sleep(Duration::from_secs(3));
    std::fs::write(&stop, b"")?;
    let log = lab.log_path("demo-prober");
    let deadline = Instant::now() + Duration::from_secs(10);
    let gap = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.starts_with("longest-gap-ms")) {
            break line.to_string();
        }
        if Instant::now() > deadline {
            return Err("the prober did not finish".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    println!(
        "   the client's longest wait for an answer: {} ms",
        gap.split_whitespace().nth(1).unwrap_or("?")
    );

    say("round robin again, through lb2");
    ask(&client, 6);

    say("done; the lab is removed");
    Ok(())
}
