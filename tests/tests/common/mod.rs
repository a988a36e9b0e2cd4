//! The seed's scenario 3-1 as several tests need it: a client, two real servers whose
//! default route is the appliance, and one appliance whose keepalived.conf is given.
#![allow(dead_code, unused_imports)] // each test file uses its own part of this

pub mod scaleout;

use std::time::{Duration, Instant};

use lvsfw_lab::addresses::*;
use lvsfw_lab::programs::PROBER;
use lvsfw_lab::{Appliance, ApplianceSpec, Error, Host, Lab, Net};

pub use lvsfw_lab::seed::{DOCKER1, DOCKER2, SEED_3_1};

/// The VIP is a plain address of the single balancer in 3-1 (no VRRP).
pub fn lb1_config() -> String {
    format!(
        r#"{{"hostname": "lb1", "interfaces": [
            {{"role": "ext", "addresses": ["{LB1_EXT}/24", "{VIP}/24"]}},
            {{"role": "int", "addresses": ["{LB1_INT}/24"]}}]}}"#
    )
}

pub struct Scenario {
    pub lab: Lab,
    pub client: Host,
    pub rs1: Host,
    pub rs2: Host,
    /// PID of real server 1's web server.
    pub httpd1: u32,
}

pub fn scenario(test: &str) -> Result<Scenario, Error> {
    let mut lab = Lab::new(test, false)?;
    let client = lab.add_host("client", Net::Ext, &format!("{CLIENT}/24"), None)?;
    let rs1 = lab.add_host("rs1", Net::Int, &format!("{RS1}/24"), Some(LB1_INT))?;
    let rs2 = lab.add_host("rs2", Net::Int, &format!("{RS2}/24"), Some(LB1_INT))?;
    let httpd1 = lab.serve_http(&rs1, &format!("{DOCKER1}\n"))?;
    lab.serve_http(&rs2, &format!("{DOCKER2}\n"))?;
    Ok(Scenario {
        lab,
        client,
        rs1,
        rs2,
        httpd1,
    })
}

impl Scenario {
    /// The lab's TCP echo service (port 9000) on both real servers.
    pub fn serve_echo(&mut self) -> Result<(), Error> {
        for rs in [self.rs1.clone(), self.rs2.clone()] {
            self.lab.spawn(
                &rs,
                &["python3", "-c", lvsfw_lab::programs::ECHO_SERVER],
                &format!("echo-{}", rs.name),
            )?;
        }
        Ok(())
    }

    /// Boots lb1 with `keepalived_conf` and waits until its interfaces are up.
    pub fn boot_lb1(
        &mut self,
        keepalived_conf: &str,
        mut files: Vec<(String, Vec<u8>)>,
        extra_cmdline: &str,
    ) -> Result<Appliance, Error> {
        files.push((
            "etc/lvsfw/keepalived.conf".into(),
            keepalived_conf.as_bytes().to_vec(),
        ));
        let mut lb1 = self.lab.boot(ApplianceSpec {
            name: "lb1".into(),
            config_json: Some(lb1_config()),
            files,
            extra_cmdline: extra_cmdline.into(),
            ..ApplianceSpec::default()
        })?;
        lb1.wait_for("balancer: interfaces up", Duration::from_secs(60))?;
        Ok(lb1)
    }
}

pub fn get(client: &Host) -> String {
    get_url(client, &format!("http://{VIP}/"))
}

/// The body at `url` (curl; an IPv6 URL has its address in brackets), or the error.
pub fn get_url(client: &Host, url: &str) -> String {
    client
        .http_get(url)
        .map(|b| b.trim().to_string())
        .unwrap_or_else(|e| format!("error: {e}"))
}

/// Polls until `n` requests in a row satisfy `ok`, for at most `limit`.
pub fn until(
    client: &Host,
    limit: Duration,
    n: usize,
    ok: impl Fn(&[String]) -> bool,
) -> Result<Vec<String>, Error> {
    until_at(client, &format!("http://{VIP}/"), limit, n, ok)
}

/// [`until`] for another URL.
pub fn until_at(
    client: &Host,
    url: &str,
    limit: Duration,
    n: usize,
    ok: impl Fn(&[String]) -> bool,
) -> Result<Vec<String>, Error> {
    let deadline = Instant::now() + limit;
    loop {
        let answers: Vec<String> = (0..n).map(|_| get_url(client, url)).collect();
        if ok(&answers) {
            return Ok(answers);
        }
        if Instant::now() >= deadline {
            return Err(Error(format!(
                "{url}: after {limit:?} the answers were {answers:?}"
            )));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

pub fn alternating(answers: &[String]) -> bool {
    answers.windows(2).all(|w| w[0] != w[1]) && answers.iter().all(|a| a == DOCKER1 || a == DOCKER2)
}

/// The output of a console command that runs as a child (`ipvs list`, `debug run`),
/// up to the prompt that follows it.
pub fn command_output(lb: &mut Appliance, line: &str) -> Result<String, Error> {
    lb.send_line(line)?;
    lb.wait_for(line, Duration::from_secs(5))?;
    let out = lb
        .console
        .wait_through("lvsfw> ", Duration::from_secs(60))?;
    Ok(out
        .lines()
        .filter(|l| !l.starts_with("lvsfw> ") && !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n"))
}

/// `/proc/net/ip_vs`'s hexadecimal form of an IPv4 endpoint: "C0A8210B:0050".
pub fn proc_endpoint(addr: &str, port: u16) -> String {
    let octets: Vec<u8> = addr.split('.').map(|o| o.parse().unwrap()).collect();
    format!(
        "{:02X}{:02X}{:02X}{:02X}:{port:04X}",
        octets[0], octets[1], octets[2], octets[3]
    )
}

/// Types a keepalived.conf at the console with `config import` and applies it; what
/// `config apply` printed (the balancer's log lines of the reload among it).
pub fn import_and_apply(lb: &mut Appliance, conf: &str) -> Result<String, Error> {
    lb.send_line("config import")?;
    lb.wait_for("paste the keepalived.conf", Duration::from_secs(5))?;
    for line in conf.lines() {
        lb.send_line(line)?;
    }
    lb.send_line(".")?;
    lb.wait_for("imported:", Duration::from_secs(20))?;
    // The checker has printed its verdict; the prompt says it has also finished.
    lb.wait_for("lvsfw> ", Duration::from_secs(5))?;
    // `config apply` waits for the balancer's report, which says whether all runs.
    let applied = lb.command("config apply", Duration::from_secs(60))?;
    if !applied.contains("everything configured runs") {
        return Err(Error(format!("config apply: {applied}")));
    }
    Ok(applied)
}

pub fn file_line(path: &std::path::Path, prefix: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()?
        .lines()
        .find(|l| l.starts_with(prefix))
        .map(str::to_string)
}

pub fn wait_file_line(
    path: &std::path::Path,
    prefix: &str,
    limit: Duration,
) -> Result<String, Error> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(line) = file_line(path, prefix) {
            return Ok(line);
        }
        if std::time::Instant::now() >= deadline {
            return Err(Error(format!(
                "{}: no line {prefix:?} within {limit:?}: {}",
                path.display(),
                std::fs::read_to_string(path).unwrap_or_default()
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Stops the prober started as `log` and reads the longest time the client waited for
/// an answer, in ms.
pub fn longest_gap(lab: &Lab, log: &str, stop: &std::path::Path) -> Result<u64, Error> {
    std::fs::write(stop, b"")?;
    let line = wait_file_line(
        &lab.log_path(log),
        "longest-gap-ms",
        Duration::from_secs(10),
    )?;
    line.split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| Error(format!("{log}: not a gap: {line:?}")))
}

pub fn probe(
    lab: &mut Lab,
    client: &Host,
    url: &str,
    log: &str,
) -> Result<std::path::PathBuf, Error> {
    let stop = lab.log_path(&format!("{log}-stop"));
    lab.spawn(
        client,
        &["python3", "-c", PROBER, url, &stop.to_string_lossy()],
        log,
    )?;
    Ok(stop)
}

/// The page's login page over HTTPS at `address` (IPv4 or IPv6) as `host` gets it, the
/// connection pinned to `lb`'s certificate (`show certificate`).
pub fn login_page(lb: &mut Appliance, host: &Host, address: &str) -> Result<String, Error> {
    let (pin, _) = lb.certificate()?;
    let ip: std::net::IpAddr = address
        .parse()
        .map_err(|_| Error(format!("{address} is not an address")))?;
    let addr = std::net::SocketAddr::new(ip, 443);
    host.in_netns(|| {
        lvsfw_lab::http::request_tls(addr, &pin, "GET", "/login", &[], b"").map(|r| r.text())
    })?
}

/// Whether `text` is lvsfw's page: its login, or, on a box whose first-boot setup has
/// not set a password yet, the notice that is all it serves then.
pub fn is_the_page(text: &str) -> bool {
    text.contains("action=\"/login\"") || text.contains("finish the first-boot setup")
}

/// Whether nothing answers on the page's ports (443, and 80 which redirects) at
/// `address` from `host`: a connection is refused or times out.
pub fn page_refused(host: &Host, address: &str) -> Result<bool, Error> {
    let ip: std::net::IpAddr = address
        .parse()
        .map_err(|_| Error(format!("{address} is not an address")))?;
    host.in_netns(|| {
        [443, 80].iter().all(|&port| {
            std::net::TcpStream::connect_timeout(
                &std::net::SocketAddr::new(ip, port),
                Duration::from_secs(2),
            )
            .is_err()
        })
    })
}
