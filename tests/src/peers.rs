//! VRRP speakers in lab namespaces, without a VM: lvsfw as an ordinary process
//! (`lvsfw run -f`), keepalived 2.2.7 and FRR's vrrpd from Debian. Each runs in a host
//! namespace of a [`Lab`], is started with [`Lab::spawn`] (so it dies with the test and is
//! stopped by PID) and keeps its configuration, pid files and log in the lab's folder.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::command::{run, Error};
use crate::lab::{Host, Lab};

/// The lvsfw binary the host tests run: `LVSFW_BIN`, else the one `scripts/build-image`
/// left in the image folder, else a cargo build of the workspace (release, then debug).
pub fn lvsfw_bin() -> Result<PathBuf, Error> {
    if let Some(bin) = std::env::var_os("LVSFW_BIN") {
        return Ok(bin.into());
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let candidates = [
        crate::image_dir().join("lvsfw"),
        root.join("target/x86_64-unknown-linux-musl/release/lvsfw"),
        root.join("target/release/lvsfw"),
        root.join("target/debug/lvsfw"),
    ];
    candidates.into_iter().find(|p| p.exists()).ok_or_else(|| {
        Error("no lvsfw binary: run scripts/build-image qemu-x86_64 or set LVSFW_BIN".into())
    })
}

/// One lvsfw process.
pub struct Lvsfw {
    pub pid: u32,
    pub status: PathBuf,
    /// Where its BGP task writes (a `bgp` block's routes and sessions).
    pub bgp_status: PathBuf,
    pub host: Host,
    pub name: String,
}

/// One instance's line of `lvsfw vrrp status --json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceState {
    pub state: String,
    /// The effective priority (tracking moves it).
    pub priority: u8,
    pub master: Option<String>,
    pub adverts_received: u64,
    pub drops: serde_json::Value,
}

impl Lvsfw {
    /// Starts `lvsfw run -f` with `conf` in `host`'s namespace.
    pub fn start(lab: &mut Lab, host: &Host, name: &str, conf: &str) -> Result<Lvsfw, Error> {
        let bin = lvsfw_bin()?;
        let conf_path = lab.dir.join(format!("{name}.conf"));
        std::fs::write(&conf_path, conf)?;
        let status = lab.dir.join(format!("{name}.vrrp.json"));
        let _ = std::fs::remove_file(&status);
        let owned = lab.dir.join(format!("{name}.ipvs.owned"));
        let bgp_status = lab.dir.join(format!("{name}.bgp.json"));
        let args = [
            bin.to_string_lossy().into_owned(),
            "run".into(),
            "-f".into(),
            conf_path.to_string_lossy().into_owned(),
            "--status".into(),
            status.to_string_lossy().into_owned(),
            "--ipvs-owned".into(),
            owned.to_string_lossy().into_owned(),
            "--bgp-status".into(),
            bgp_status.to_string_lossy().into_owned(),
        ];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let pid = lab.spawn(host, &args, name)?;
        Ok(Lvsfw {
            pid,
            status,
            bgp_status,
            host: host.clone(),
            name: name.into(),
        })
    }

    /// What `lvsfw bgp status` says of it now (empty when it cannot be run).
    pub fn bgp(&self) -> String {
        let (Ok(bin), file) = (lvsfw_bin(), self.bgp_status.to_string_lossy()) else {
            return String::new();
        };
        self.host
            .output(&[&bin.to_string_lossy(), "bgp", "status", "--file", &file])
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// The instance's state as `lvsfw vrrp status --json` reports it now.
    pub fn instance(&self, instance: &str) -> Option<InstanceState> {
        let bin = lvsfw_bin().ok()?;
        let out = std::process::Command::new(bin)
            .args(["vrrp", "status", "--json", "--status"])
            .arg(&self.status)
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        let i = v["instances"]
            .as_array()?
            .iter()
            .find(|i| i["name"] == instance)?;
        Some(InstanceState {
            state: i["state"].as_str()?.to_string(),
            priority: u8::try_from(i["priority"].as_u64()?).ok()?,
            master: i["master"].as_str().map(String::from),
            adverts_received: i["adverts_received"].as_u64()?,
            drops: i["drops"].clone(),
        })
    }

    pub fn state(&self, instance: &str) -> Option<String> {
        self.instance(instance).map(|i| i.state)
    }

    /// Waits up to `limit` for `instance` to be in `state`; how long it took. Reads the
    /// status file directly (every 5 ms) so that the figure is not the command's start-up.
    pub fn wait_state(
        &self,
        instance: &str,
        state: &str,
        limit: Duration,
    ) -> Result<Duration, Error> {
        let start = Instant::now();
        let deadline = start + limit;
        loop {
            if self.state_now(instance).as_deref() == Some(state) {
                return Ok(start.elapsed());
            }
            if Instant::now() >= deadline {
                return Err(Error(format!(
                    "{}: {instance} not {state} within {limit:?} (it is {:?}); see {}",
                    self.name,
                    self.state_now(instance),
                    self.status.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn state_now(&self, instance: &str) -> Option<String> {
        let text = std::fs::read_to_string(&self.status).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        v["instances"]
            .as_array()?
            .iter()
            .find(|i| i["name"] == instance)
            .and_then(|i| i["state"].as_str().map(String::from))
    }
}

/// keepalived 2.2.7, run as `keepalived -n -l -D -f CONF` with its pid files in the lab.
pub struct Keepalived {
    pub pid: u32,
    pub host: Host,
}

impl Keepalived {
    pub fn start(lab: &mut Lab, host: &Host, name: &str, conf: &str) -> Result<Keepalived, Error> {
        let dir = lab.dir.join(name);
        std::fs::create_dir_all(&dir)?;
        let conf_path = dir.join("keepalived.conf");
        std::fs::write(&conf_path, conf)?;
        let path = |f: &str| dir.join(f).to_string_lossy().into_owned();
        let args = [
            "keepalived".to_string(),
            "-n".into(),
            "-l".into(),
            "-D".into(),
            "-f".into(),
            path("keepalived.conf"),
            "-p".into(),
            path("keepalived.pid"),
            "-r".into(),
            path("vrrp.pid"),
            "-c".into(),
            path("checkers.pid"),
        ];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let pid = lab.spawn(host, &args, name)?;
        Ok(Keepalived {
            pid,
            host: host.clone(),
        })
    }
}

/// Whether `address` is configured in `host`'s namespace: how keepalived's and FRR's
/// mastership shows.
pub fn holds(host: &Host, address: &str) -> bool {
    host.output(&["ip", "-o", "addr", "show"])
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .any(|w| w.split('/').next() == Some(address))
        })
        .unwrap_or(false)
}

/// Waits up to `limit` until `holds(host, address) == wanted`; how long it took.
pub fn wait_holds(
    host: &Host,
    address: &str,
    wanted: bool,
    limit: Duration,
) -> Result<Duration, Error> {
    let start = Instant::now();
    loop {
        if holds(host, address) == wanted {
            return Ok(start.elapsed());
        }
        if start.elapsed() >= limit {
            let verb = if wanted { "take" } else { "give up" };
            return Err(Error(format!(
                "{} did not {verb} {address} within {limit:?}",
                host.name
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// FRR's zebra and vrrpd in a host namespace, with their own configuration, pid and
/// socket folder (`-N` names the instance so that nothing touches the host's FRR).
pub struct Frr {
    pub zebra: u32,
    pub vrrpd: u32,
    pub host: Host,
    pub vty: PathBuf,
}

impl Frr {
    /// `vrrpd_conf` is vrrpd's configuration (interface stanzas).
    pub fn start(lab: &mut Lab, host: &Host, name: &str, vrrpd_conf: &str) -> Result<Frr, Error> {
        let dir = lab.dir.join(name);
        std::fs::create_dir_all(&dir)?;
        // FRR's daemons drop to the frr user: the folder must be theirs.
        let _ = run("chown", &["-R", "frr:frr", &dir.to_string_lossy()]);
        let vty = dir.clone();
        let conf = dir.join("vrrpd.conf");
        std::fs::write(&conf, vrrpd_conf)?;
        std::fs::write(dir.join("zebra.conf"), "hostname zebra\n")?;
        let _ = run("chown", &["-R", "frr:frr", &dir.to_string_lossy()]);
        let daemon = |lab: &mut Lab, bin: &str, conf: &str, log: &str| {
            let args = [
                format!("/usr/lib/frr/{bin}"),
                "-f".into(),
                dir.join(conf).to_string_lossy().into_owned(),
                "-i".into(),
                dir.join(format!("{bin}.pid"))
                    .to_string_lossy()
                    .into_owned(),
                "--vty_socket".into(),
                dir.to_string_lossy().into_owned(),
                "-z".into(),
                dir.join("zserv.api").to_string_lossy().into_owned(),
                "-A".into(),
                "127.0.0.1".into(),
                "-P".into(),
                "0".into(),
            ];
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            lab.spawn(host, &args, log)
        };
        let zebra = daemon(lab, "zebra", "zebra.conf", &format!("{name}-zebra"))?;
        // vrrpd needs zebra's socket.
        let api = dir.join("zserv.api");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !api.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let vrrpd = daemon(lab, "vrrpd", "vrrpd.conf", &format!("{name}-vrrpd"))?;
        Ok(Frr {
            zebra,
            vrrpd,
            host: host.clone(),
            vty,
        })
    }

    /// vrrpd's state for one family (`"v4"` or `"v6"`) as `show vrrp` gives it:
    /// Initialize, Backup or Master.
    pub fn state(&self, family: &str) -> Option<String> {
        let label = format!("Status ({family})");
        self.show_vrrp()
            .lines()
            .find(|l| l.trim_start().starts_with(&label))
            .and_then(|l| l.split_whitespace().last().map(String::from))
    }

    /// Waits up to `limit` for vrrpd's `family` state to be `state`; how long it took.
    pub fn wait_state(
        &self,
        family: &str,
        state: &str,
        limit: Duration,
    ) -> Result<Duration, Error> {
        let start = Instant::now();
        loop {
            let now = self.state(family);
            if now.as_deref() == Some(state) {
                return Ok(start.elapsed());
            }
            if start.elapsed() >= limit {
                return Err(Error(format!(
                    "vrrpd ({family}) is {now:?}, not {state}, after {limit:?}"
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `vtysh -c "show vrrp"` against this instance's daemons.
    pub fn show_vrrp(&self) -> String {
        self.host
            .output(&[
                "vtysh",
                "--vty_socket",
                &self.vty.to_string_lossy(),
                "-c",
                "show vrrp",
            ])
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }
}

/// Sends one raw IPv4 datagram (header included, exactly as given) out of `eth0` of
/// `host`: how a test makes malformed VRRP packets. python3's raw sockets keep the test
/// free of unsafe code; the datagram stays inside the lab's bridge.
pub fn send_raw_ipv4(host: &Host, datagram: &[u8]) -> Result<(), Error> {
    let hex: String = datagram.iter().map(|b| format!("{b:02x}")).collect();
    let script = format!(
        "import socket\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)\n\
         s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b'eth0')\n\
         d = bytes.fromhex('{hex}')\n\
         s.sendto(d, (socket.inet_ntoa(d[16:20]), 0))\n"
    );
    host.run(&["python3", "-c", &script]).map(|_| ())
}
