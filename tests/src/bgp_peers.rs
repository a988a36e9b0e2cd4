//! BGP routers and lvsfw's speaker in lab namespaces, without a VM: FRR's bgpd and
//! BIRD 2 from Debian as the routers, `lvsfw bgp-speaker` as the appliance's side. Each
//! is started with [`Lab::spawn`] (so it dies with the test and is stopped by PID) and
//! keeps its configuration, pid file, control socket and log in the lab's folder.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::command::Error;
use crate::lab::{Host, Lab, Net};
use crate::peers::lvsfw_bin;

/// Polls `probe` every 50 ms until it is true or `limit` passes; how long it took.
pub fn wait_until(
    limit: Duration,
    what: &str,
    mut probe: impl FnMut() -> bool,
) -> Result<Duration, Error> {
    let start = Instant::now();
    loop {
        if probe() {
            return Ok(start.elapsed());
        }
        if start.elapsed() >= limit {
            return Err(Error(format!("{what}: not within {limit:?}")));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `lvsfw bgp-speaker` in a host namespace; its log is the lab's `name.log`.
pub struct Speaker {
    pub pid: u32,
    pub log: PathBuf,
}

impl Speaker {
    pub fn start(lab: &mut Lab, host: &Host, name: &str, args: &[&str]) -> Result<Speaker, Error> {
        let bin = lvsfw_bin()?.to_string_lossy().into_owned();
        let mut full = vec![bin.as_str(), "bgp-speaker"];
        full.extend_from_slice(args);
        let pid = lab.spawn(host, &full, name)?;
        Ok(Speaker {
            pid,
            log: lab.log_path(name),
        })
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How many lines of the log contain `text`.
    pub fn count(&self, text: &str) -> usize {
        self.log_text().lines().filter(|l| l.contains(text)).count()
    }

    /// Waits until `text` is in at least `n` lines of the log.
    pub fn wait_count(&self, text: &str, n: usize, limit: Duration) -> Result<Duration, Error> {
        wait_until(
            limit,
            &format!("{n} × \"{text}\" in {}", self.log.display()),
            || self.count(text) >= n,
        )
    }
}

/// FRR's bgpd alone (`-Z`: no zebra, nothing installed in the kernel), listening on
/// `listen` in its namespace, with its own configuration, pid file and vty socket.
pub struct FrrBgpd {
    pub pid: u32,
    pub host: Host,
    pub vty: PathBuf,
}

impl FrrBgpd {
    pub fn start(
        lab: &mut Lab,
        host: &Host,
        name: &str,
        listen: &str,
        conf: &str,
    ) -> Result<FrrBgpd, Error> {
        let dir = lab.dir.join(name);
        std::fs::create_dir_all(&dir)?;
        let conf_path = dir.join("bgpd.conf");
        std::fs::write(&conf_path, conf)?;
        let path = |p: PathBuf| p.to_string_lossy().into_owned();
        let args = [
            "/usr/lib/frr/bgpd".to_string(),
            "-S".into(), // run as root in the lab: no frr user, no capabilities dance
            "-Z".into(),
            "-l".into(),
            listen.into(),
            "-f".into(),
            path(conf_path),
            "-i".into(),
            path(dir.join("bgpd.pid")),
            "--vty_socket".into(),
            path(dir.clone()),
            "-A".into(),
            "127.0.0.1".into(),
            "-P".into(),
            "0".into(),
        ];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let pid = lab.spawn(host, &args, name)?;
        let vty = dir.join("bgpd.vty");
        wait_until(Duration::from_secs(10), "bgpd's vty socket", || {
            vty.exists()
        })?;
        Ok(FrrBgpd {
            pid,
            host: host.clone(),
            vty: dir,
        })
    }

    /// `vtysh -c` each command against this bgpd; the output.
    pub fn vtysh(&self, commands: &[&str]) -> String {
        let vty = self.vty.to_string_lossy();
        let mut args = vec!["vtysh", "--vty_socket", &vty];
        for c in commands {
            args.extend_from_slice(&["-c", c]);
        }
        self.host
            .output(&args)
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// `show bgp ipv4|ipv6 unicast PREFIX`: the route's detail, or "% Network not in table".
    pub fn route(&self, prefix: &str) -> String {
        let family = if prefix.contains(':') { "ipv6" } else { "ipv4" };
        self.vtysh(&[&format!("show bgp {family} unicast {prefix}")])
    }
}

/// BIRD 2 in the foreground with its own configuration, pid file and control socket.
pub struct Bird {
    pub pid: u32,
    pub host: Host,
    pub socket: PathBuf,
}

impl Bird {
    pub fn start(lab: &mut Lab, host: &Host, name: &str, conf: &str) -> Result<Bird, Error> {
        let dir = lab.dir.join(name);
        std::fs::create_dir_all(&dir)?;
        let conf_path = dir.join("bird.conf");
        std::fs::write(&conf_path, conf)?;
        let socket = dir.join("bird.ctl");
        let path = |p: &PathBuf| p.to_string_lossy().into_owned();
        let args = [
            "bird".to_string(),
            "-f".into(),
            "-c".into(),
            path(&conf_path),
            "-s".into(),
            path(&socket),
            "-P".into(),
            path(&dir.join("bird.pid")),
        ];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let pid = lab.spawn(host, &args, name)?;
        wait_until(Duration::from_secs(10), "BIRD's control socket", || {
            socket.exists()
        })?;
        Ok(Bird {
            pid,
            host: host.clone(),
            socket,
        })
    }

    /// `birdc -s SOCKET command`; the output.
    pub fn birdc(&self, command: &str) -> String {
        let socket = self.socket.to_string_lossy();
        let mut args = vec!["birdc", "-s", &socket];
        args.extend(command.split_whitespace());
        self.host
            .output(&args)
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// `show route all for PREFIX`-style detail of exactly this prefix, or "Network not found".
    pub fn route(&self, prefix: &str) -> String {
        self.birdc(&format!("show route {prefix} all"))
    }
}

/// A host that runs `lvsfw run -f` as a balancer: on ext at `ext` (an address/prefix),
/// with a second NIC `eth1` on int at `int`, without duplicate address detection so that
/// the address is usable at once.
pub fn balancer_host(lab: &mut Lab, name: &str, ext: &str, int: &str) -> Result<Host, Error> {
    let host = lab.add_host(name, Net::Ext, ext, None)?;
    lab.add_nic(&host, Net::Int, "eth1")?;
    host.run(&["ip", "addr", "add", int, "dev", "eth1", "nodad"])?;
    Ok(host)
}
