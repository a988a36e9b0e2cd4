//! Namespaces: a switch namespace with the bridges, and one namespace per host.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::appliance::{Appliance, ApplianceSpec};
use crate::command::{ip, run, Error};

static COUNTER: AtomicU32 = AtomicU32::new(0);
const PREFIX: &str = "lvsfw-";

/// The lab's networks, one bridge each in the switch namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Net {
    Ext,
    Int,
    Mgmt,
}

impl Net {
    pub fn bridge(self) -> &'static str {
        match self {
            Net::Ext => "ext",
            Net::Int => "int",
            Net::Mgmt => "mgmt",
        }
    }
}

/// A client or real server: a namespace with one veth into a lab bridge.
#[derive(Debug, Clone)]
pub struct Host {
    pub name: String,
    pub namespace: String,
    pub address: String,
}

impl Host {
    /// Runs a command in the host's namespace to completion; a failure is an error.
    pub fn run(&self, args: &[&str]) -> Result<Output, Error> {
        let mut full = vec!["netns", "exec", self.namespace.as_str()];
        full.extend_from_slice(args);
        run("ip", &full)
    }

    /// Runs a command and returns its output whatever its exit status.
    pub fn output(&self, args: &[&str]) -> Result<Output, Error> {
        let mut full = vec!["netns", "exec", self.namespace.as_str()];
        full.extend_from_slice(args);
        Ok(Command::new("ip").args(&full).output()?)
    }

    /// An HTTP GET with curl (2 s limit); the body, or an error naming the failure.
    pub fn http_get(&self, url: &str) -> Result<String, Error> {
        let out = self.output(&["curl", "-sS", "-g", "--max-time", "2", url])?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(Error(format!(
                "GET {url} from {}: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }

    /// Runs `f` on a thread of its own inside the host's network namespace, so that the
    /// sockets it opens (and the threads it starts) are the host's; its result.
    pub fn in_netns<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T, Error> {
        crate::netns::within(self, f)
    }

    /// The MAC address of the host's `eth0`.
    pub fn mac(&self) -> Result<String, Error> {
        self.mac_of("eth0")
    }

    /// The MAC address of the host's interface `dev`.
    pub fn mac_of(&self, dev: &str) -> Result<String, Error> {
        let out = self.run(&["cat", &format!("/sys/class/net/{dev}/address")])?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// The link-layer address the host's neighbour table (ARP or NDP) has for
    /// `address`, if any.
    pub fn neighbour(&self, address: &str) -> Option<String> {
        let out = self.output(&["ip", "neigh", "show", address]).ok()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut words = text.split_whitespace();
        words.find(|w| *w == "lladdr")?;
        words.next().map(String::from)
    }

    /// Waits up to `limit` until the host's neighbour entry for `address` is `mac`.
    pub fn wait_neighbour(&self, address: &str, mac: &str, limit: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + limit;
        loop {
            let seen = self.neighbour(address);
            if seen.as_deref() == Some(mac) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error(format!(
                    "{} has {seen:?} for {address}, not {mac}: no announcement seen",
                    self.name
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Adds an IPv6 address (CIDR) to `eth0` without duplicate address detection, and
    /// waits until the kernel's own link-local address of `eth0` is usable; that address.
    pub fn add_ipv6(&self, address: &str) -> Result<std::net::Ipv6Addr, Error> {
        self.run(&["ip", "-6", "addr", "add", address, "dev", "eth0", "nodad"])?;
        self.wait_link_local("eth0")
    }

    /// Waits up to 10 s until `dev` has a link-local address that is no longer tentative
    /// (duplicate address detection takes about a second after a link comes up); it.
    pub fn wait_link_local(&self, dev: &str) -> Result<std::net::Ipv6Addr, Error> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = self.run(&[
                "ip", "-6", "-o", "addr", "show", "dev", dev, "scope", "link",
            ])?;
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let ready = text
                .lines()
                .filter(|l| !l.contains("tentative"))
                .find_map(|l| {
                    let mut words = l.split_whitespace();
                    words.find(|w| *w == "inet6")?;
                    words.next()?.split('/').next()?.parse().ok()
                });
            if let Some(link_local) = ready {
                return Ok(link_local);
            }
            if Instant::now() >= deadline {
                return Err(Error(format!(
                    "{}: no usable link-local address on {dev} after 10 s: {text}",
                    self.name
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// One ping of `address`, true if it answered within 2 s.
    pub fn ping(&self, address: &str) -> bool {
        self.output(&["ping", "-c", "1", "-W", "2", address])
            .map(|o| o.status.success())
            .unwrap_or(false)
    }
}

pub struct Lab {
    pub name: String,
    pub switch: String,
    pub dir: PathBuf,
    hosts: Vec<Host>,
    children: Vec<Child>,
    appliances: u32,
}

impl Lab {
    /// A new lab with bridges `ext` and `int` (and `mgmt` when asked).
    pub fn new(test: &str, with_mgmt: bool) -> Result<Lab, Error> {
        sweep_stale();
        let short: String = test
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(12)
            .collect();
        let name = format!(
            "{PREFIX}{short}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../target/lab-logs")
            .join(&name);
        std::fs::create_dir_all(&dir)?;
        let switch = format!("{name}-sw");
        ip(&["netns", "add", &switch])?;
        let lab = Lab {
            name,
            switch,
            dir,
            hosts: Vec::new(),
            children: Vec::new(),
            appliances: 0,
        };
        lab.in_switch(&["link", "set", "lo", "up"])?;
        let mut nets = vec![Net::Ext, Net::Int];
        if with_mgmt {
            nets.push(Net::Mgmt);
        }
        for net in nets {
            // No multicast snooping: VRRP adverts must reach every port.
            lab.in_switch(&[
                "link",
                "add",
                net.bridge(),
                "type",
                "bridge",
                "mcast_snooping",
                "0",
            ])?;
            lab.in_switch(&["link", "set", net.bridge(), "up"])?;
        }
        Ok(lab)
    }

    /// `ip -n SWITCH args`
    pub fn in_switch(&self, args: &[&str]) -> Result<(), Error> {
        let mut full = vec!["-n", self.switch.as_str()];
        full.extend_from_slice(args);
        ip(&full)
    }

    /// A host namespace on `net` with `address` (CIDR) and, if given, a default route via
    /// `gateway`, which is always a lab address.
    pub fn add_host(
        &mut self,
        name: &str,
        net: Net,
        address: &str,
        gateway: Option<&str>,
    ) -> Result<Host, Error> {
        let namespace = format!("{}-{name}", self.name);
        ip(&["netns", "add", &namespace])?;
        let host = Host {
            name: name.to_string(),
            namespace: namespace.clone(),
            address: address.split('/').next().unwrap_or(address).to_string(),
        };
        self.hosts.push(host.clone());
        let port = format!("h-{name}");
        self.in_switch(&[
            "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &namespace,
        ])?;
        self.in_switch(&["link", "set", &port, "master", net.bridge(), "up"])?;
        ip(&["-n", &namespace, "link", "set", "lo", "up"])?;
        ip(&["-n", &namespace, "link", "set", "eth0", "up"])?;
        ip(&[
            "-n", &namespace, "addr", "add", address, "dev", "eth0", "nodad",
        ])?;
        if let Some(gw) = gateway {
            ip(&["-n", &namespace, "route", "add", "default", "via", gw])?;
        }
        Ok(host)
    }

    /// A second NIC `ifname` for `host`, on `net`'s bridge, up, without addresses.
    pub fn add_nic(&mut self, host: &Host, net: Net, ifname: &str) -> Result<(), Error> {
        let port = format!("h-{}-{ifname}", host.name);
        self.in_switch(&[
            "link",
            "add",
            &port,
            "type",
            "veth",
            "peer",
            "name",
            ifname,
            "netns",
            &host.namespace,
        ])?;
        self.in_switch(&["link", "set", &port, "master", net.bridge(), "up"])?;
        ip(&["-n", &host.namespace, "link", "set", ifname, "up"])
    }

    /// Puts `host` on 802.1Q VLAN `vid` of its `eth0`'s network as well: a tap device
    /// `vlanVID` with `address` (CIDR), whose frames [`crate::programs::VLAN_TAGGER`]
    /// tags and untags (the lab's kernel has no VLAN driver of its own).
    pub fn add_vlan(&mut self, host: &Host, vid: u16, address: &str) -> Result<(), Error> {
        let tap = format!("vlan{vid}");
        let log = format!("vlan-{}-{vid}", host.name);
        let vid_text = vid.to_string();
        self.spawn(
            host,
            &[
                "python3",
                "-c",
                crate::programs::VLAN_TAGGER,
                "eth0",
                &tap,
                &vid_text,
            ],
            &log,
        )?;
        self.wait_log(&log, "ready", Duration::from_secs(10))?;
        host.run(&["ip", "addr", "add", address, "dev", &tap])?;
        // Room for the tag in eth0's 1500 bytes.
        host.run(&["ip", "link", "set", &tap, "mtu", "1496", "up"])?;
        Ok(())
    }

    /// Starts a long-running program in a host's namespace (a web server, a peer); it is
    /// killed by PID when the lab is dropped, or earlier with [`Lab::stop`].
    pub fn spawn(&mut self, host: &Host, args: &[&str], log_name: &str) -> Result<u32, Error> {
        let log = std::fs::File::create(self.dir.join(format!("{log_name}.log")))?;
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &host.namespace])
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // SAFETY: prctl is async-signal-safe. `ip netns exec` execs the program, which
        // keeps the setting: it dies with the test even if the test is killed first.
        unsafe {
            command.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)
            });
        }
        let child = command
            .spawn()
            .map_err(|e| Error(format!("starting {args:?} in {}: {e}", host.name)))?;
        let pid = child.id();
        self.children.push(child);
        Ok(pid)
    }

    /// Where the output of the program spawned as `log_name` goes.
    /// A new, empty configuration disk of 16 MiB (a sparse file in the lab's folder), for
    /// [`ApplianceSpec::disk`]; boot with the same path again for the same disk.
    pub fn disk(&self, name: &str) -> Result<std::path::PathBuf, Error> {
        let path = self.dir.join(format!("{name}.disk"));
        let file = std::fs::File::create(&path)?;
        file.set_len(16 << 20)?;
        Ok(path)
    }

    pub fn log_path(&self, log_name: &str) -> std::path::PathBuf {
        self.dir.join(format!("{log_name}.log"))
    }

    /// Waits up to `limit` until the log of the program spawned as `log_name` holds
    /// `text` (how a program says it is ready).
    pub fn wait_log(&self, log_name: &str, text: &str, limit: Duration) -> Result<(), Error> {
        let path = self.log_path(log_name);
        let deadline = Instant::now() + limit;
        while !std::fs::read_to_string(&path).is_ok_and(|t| t.contains(text)) {
            if Instant::now() >= deadline {
                return Err(Error(format!(
                    "{log_name}: no \"{text}\" within {limit:?}; see {}",
                    path.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Stops a program started with [`Lab::spawn`]: SIGTERM, then SIGKILL after 2 s.
    pub fn stop(&mut self, pid: u32) {
        if let Some(i) = self.children.iter().position(|c| c.id() == pid) {
            let mut child = self.children.remove(i);
            terminate(&mut child, Duration::from_secs(2));
        }
    }

    /// Sends `signal` to a program started with [`Lab::spawn`] (and only to one of those).
    pub fn signal(&mut self, pid: u32, signal: Signal) -> Result<(), Error> {
        if !self.children.iter().any(|c| c.id() == pid) {
            return Err(Error(format!("{pid} is not a program of this lab")));
        }
        kill(Pid::from_raw(pid as i32), signal).map_err(|e| Error(format!("signalling {pid}: {e}")))
    }

    /// SIGTERM to a program started with [`Lab::spawn`]; an error unless it exits
    /// successfully within 5 s.
    pub fn stop_gracefully(&mut self, pid: u32) -> Result<(), Error> {
        self.signal(pid, Signal::SIGTERM)?;
        match self.wait_exit(pid, Duration::from_secs(5)) {
            Some(status) if status.success() => Ok(()),
            Some(status) => Err(Error(format!("{pid} ended with {status} on SIGTERM"))),
            None => Err(Error(format!("{pid} still runs 5 s after SIGTERM"))),
        }
    }

    /// Waits up to `limit` for a program started with [`Lab::spawn`] to exit; its
    /// status, or None if it is still running.
    pub fn wait_exit(&mut self, pid: u32, limit: Duration) -> Option<std::process::ExitStatus> {
        let i = self.children.iter().position(|c| c.id() == pid)?;
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.children[i].try_wait() {
                // Reaped by try_wait; wait() now returns the same status at once.
                let mut done = self.children.remove(i);
                return done.wait().ok().or(Some(status));
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A web server answering `body` on port 80 of `host` (busybox httpd).
    pub fn serve_http(&mut self, host: &Host, body: &str) -> Result<u32, Error> {
        self.serve_http_on(host, "80", body)
    }

    /// A web server answering `body` on `bind` (busybox's `[IP:]PORT`, `[fd00::1]:8080`
    /// for IPv6) of `host`; each `bind` of a host has its own folder and log.
    pub fn serve_http_on(&mut self, host: &Host, bind: &str, body: &str) -> Result<u32, Error> {
        let tag: String = if bind == "80" {
            host.name.clone()
        } else {
            format!(
                "{}-{}",
                host.name,
                bind.replace(|c: char| !c.is_ascii_alphanumeric(), "")
            )
        };
        let root = self.dir.join(format!("www-{tag}"));
        std::fs::create_dir_all(&root)?;
        std::fs::write(root.join("index.html"), body)?;
        let root = root.to_string_lossy().into_owned();
        self.spawn(
            host,
            &["busybox", "httpd", "-f", "-p", bind, "-h", &root],
            &format!("httpd-{tag}"),
        )
    }

    /// Boots an appliance wired into this lab's bridges.
    pub fn boot(&mut self, spec: ApplianceSpec) -> Result<Appliance, Error> {
        self.appliances += 1;
        Appliance::boot(self, spec, self.appliances)
    }
}

fn terminate(child: &mut Child, grace: Duration) {
    let pid = Pid::from_raw(child.id() as i32);
    let _ = kill(pid, Signal::SIGTERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Lab {
    fn drop(&mut self) {
        for mut child in std::mem::take(&mut self.children) {
            terminate(&mut child, Duration::from_secs(2));
        }
        for host in &self.hosts {
            let _ = ip(&["netns", "del", &host.namespace]);
        }
        let _ = ip(&["netns", "del", &self.switch]);
    }
}

/// Deletes namespaces left by labs of test processes that no longer exist (killed
/// before their drop ran). Their QEMUs died with them (PR_SET_PDEATHSIG).
fn sweep_stale() {
    let Ok(output) = run("ip", &["netns", "list"]) else {
        return;
    };
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let pid: Option<i32> = rest.split('-').nth(1).and_then(|p| p.parse().ok());
        if let Some(pid) = pid {
            let alive = std::path::Path::new(&format!("/proc/{pid}")).exists();
            if !alive {
                let _ = ip(&["netns", "del", name]);
            }
        }
    }
}
