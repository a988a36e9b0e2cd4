//! An lvsfw appliance in QEMU: the image's kernel and initramfs, its own files appended
//! as a cpio, virtio NICs on taps in the lab's bridges at the PCI slots the board maps
//! (0000:00:10.0 ext, :11.0 int, :12.0 mgmt), optionally the configuration disk
//! (virtio-blk at :13.0), console and monitor on unix sockets. The machine is
//! board/qemu-machine's (q35), as for scripts/run.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::command::Error;
use crate::console::Console;
use crate::cpio;
use crate::lab::{Lab, Net};

/// How the VM starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Boot {
    /// QEMU loads the board's kernel and initramfs itself (`-kernel`): fast, and the
    /// spec's files and command line can be added.
    #[default]
    Kernel,
    /// From a disk image (a copy: the boot writes to it) at the store's PCI slot, with
    /// legacy BIOS (SeaBIOS, QEMU's default firmware).
    Bios(PathBuf),
    /// The same with UEFI (OVMF).
    Uefi(PathBuf),
}

#[derive(Debug, Clone, Default)]
pub struct ApplianceSpec {
    pub boot: Boot,
    /// Memory in MiB; 0 is the lab's 256.
    pub memory_mib: u32,
    /// Adds QEMU's Intel 6300ESB watchdog (the pc-x86_64 board's); its expiry resets.
    pub watchdog: bool,
    /// Short (it names the taps, at most 10 characters): "lb1".
    pub name: String,
    /// Replaces /etc/lvsfw/config.json.
    pub config_json: Option<String>,
    /// Replaces /etc/lvsfw/board.conf.
    pub board_conf: Option<String>,
    /// Other files for the image: (path without leading '/', contents).
    pub files: Vec<(String, Vec<u8>)>,
    /// Adds the mgmt NIC (the lab must have the mgmt bridge).
    pub mgmt: bool,
    /// Appended to the board's kernel command line.
    pub extra_cmdline: String,
    /// The configuration disk (a raw image file, e.g. from [`Lab::disk`]); the same file
    /// in a later boot is the same disk. `None`: no disk, nothing can be saved.
    pub disk: Option<PathBuf>,
    /// The console asks for first-boot setup or a login, as a real appliance does.
    /// `false` (the default) boots with `lvsfw.nologin`: the console opens at
    /// `lvsfw> `, which is what tests of other things want.
    pub login: bool,
    /// More raw disks after the one at :13.0: virtio-blk at :14.0, :15.0, ... (/dev/vdb,
    /// /dev/vdc, ... when a disk is at :13.0), e.g. update files for `update /dev/vdb`.
    pub extra_disks: Vec<PathBuf>,
    /// NICs whose tap is ready but whose device is not plugged in at boot; the test
    /// plugs them later ([`Appliance::plug`]), as a NIC that appears while running.
    /// q35 hot-plugs only into PCIe root ports: each such NIC's slot holds a root port,
    /// and the NIC is at [`ApplianceSpec::plugged_address`] once plugged in.
    pub unplugged: Vec<Net>,
    /// More NICs: each on a network at a PCI slot of its own (0x18 and up are free), its
    /// QEMU id `NET` and the slot in hex (`ext18`) for [`Appliance::set_link`], e.g. a
    /// second member of a bond.
    pub extra_nics: Vec<(Net, u8)>,
    /// Where the VM's real-time clock starts (QEMU's `-rtc base=`, e.g.
    /// `2025-12-05T00:00:00`, UTC); the kernel sets its clock from it at boot. `None`:
    /// the host's time.
    pub rtc_base: Option<String>,
}

/// The QEMU machine (`-machine`): board/qemu-machine's first word, shared with
/// scripts/run; `LVSFW_QEMU_MACHINE` overrides it for a comparison (bench-boot's
/// `LVSFW_BENCH_BEFORE_MACHINE`).
pub fn machine() -> String {
    if let Some(machine) = std::env::var("LVSFW_QEMU_MACHINE")
        .ok()
        .filter(|m| !m.is_empty())
    {
        return machine;
    }
    include_str!("../../board/qemu-machine")
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or("q35")
        .to_string()
}

/// The PCI slot of a board NIC's role (board/qemu-x86_64/board.conf).
fn slot_of(net: Net) -> u8 {
    match net {
        Net::Ext => 0x10,
        Net::Int => 0x11,
        Net::Mgmt => 0x12,
    }
}

impl ApplianceSpec {
    /// Where an [`ApplianceSpec::unplugged`] NIC appears once plugged in: behind its
    /// slot's PCIe root port, whose bus numbers follow the slots (the root ports are the
    /// only bridges): `0000:01:00.0` for the first.
    pub fn plugged_address(&self, net: Net) -> Option<String> {
        let mut slots: Vec<u8> = self.unplugged.iter().map(|n| slot_of(*n)).collect();
        slots.sort_unstable();
        let bus = slots.iter().position(|s| *s == slot_of(net))? + 1;
        Some(format!("0000:{bus:02x}:00.0"))
    }
}

pub struct Appliance {
    pub name: String,
    pub console: Console,
    qemu: Child,
    monitor: PathBuf,
    started: Instant,
    /// The NICs not plugged in yet: each one's QEMU device arguments.
    unplugged: Vec<(Net, String)>,
    /// The board's NICs' MAC addresses (the lab picks them from the boot order).
    macs: Vec<(Net, String)>,
}

impl Appliance {
    pub(crate) fn boot(lab: &Lab, spec: ApplianceSpec, index: u32) -> Result<Appliance, Error> {
        if spec.name.is_empty() || spec.name.len() > 10 {
            return Err(Error(format!(
                "appliance name {:?}: 1 to 10 characters",
                spec.name
            )));
        }
        if spec.boot != Boot::Kernel
            && (spec.config_json.is_some()
                || spec.board_conf.is_some()
                || !spec.files.is_empty()
                || spec.disk.is_some()
                || !spec.extra_cmdline.is_empty())
        {
            return Err(Error(
                "a disk-image boot takes no files, disk or command line: change the image copy"
                    .into(),
            ));
        }
        let image = crate::image_dir();
        let kernel = image.join("vmlinuz");
        let base = image.join("initramfs.cpio");
        let cmdline = std::fs::read_to_string(image.join("cmdline")).map_err(|e| {
            Error(format!(
                "{}: {e}; run scripts/build-image qemu-x86_64",
                image.display()
            ))
        })?;
        let mut initramfs = std::fs::read(&base).map_err(|e| {
            Error(format!(
                "{}: {e}; run scripts/build-image qemu-x86_64",
                base.display()
            ))
        })?;

        let mut files: Vec<(String, Vec<u8>)> = spec.files.clone();
        if let Some(config) = &spec.config_json {
            files.push(("etc/lvsfw/config.json".into(), config.clone().into_bytes()));
        }
        if let Some(board) = &spec.board_conf {
            files.push(("etc/lvsfw/board.conf".into(), board.clone().into_bytes()));
        }
        if !files.is_empty() {
            while !initramfs.len().is_multiple_of(4) {
                initramfs.push(0);
            }
            let refs: Vec<(&str, &[u8])> = files
                .iter()
                .map(|(p, d)| (p.as_str(), d.as_slice()))
                .collect();
            initramfs.extend(cpio::newc(&refs));
        }
        let initrd = lab.dir.join(format!("{}.initramfs", spec.name));
        std::fs::write(&initrd, &initramfs)?;

        let console_socket = lab.dir.join(format!("{}.console.sock", spec.name));
        let monitor = lab.dir.join(format!("{}.monitor.sock", spec.name));
        let _ = std::fs::remove_file(&console_socket);
        let _ = std::fs::remove_file(&monitor);

        let mut nets = vec![(Net::Ext, slot_of(Net::Ext)), (Net::Int, slot_of(Net::Int))];
        if spec.mgmt {
            nets.push((Net::Mgmt, slot_of(Net::Mgmt)));
        }
        nets.extend(spec.extra_nics.iter().copied());
        let mut args: Vec<String> = [
            "netns",
            "exec",
            &lab.switch,
            "qemu-system-x86_64",
            "-accel",
            "tcg",
            "-nodefaults",
            "-machine",
            &machine(),
            "-smp",
            "1",
            "-display",
            "none",
            "-no-user-config",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let memory_mib = if spec.memory_mib == 0 {
            256
        } else {
            spec.memory_mib
        };
        args.extend(["-m".into(), memory_mib.to_string()]);
        let disk = match &spec.boot {
            Boot::Kernel => {
                args.extend(["-kernel".into(), kernel.to_string_lossy().into_owned()]);
                args.extend(["-initrd".into(), initrd.to_string_lossy().into_owned()]);
                // Lab boxes are test boxes: the debug commands work (debug cat, kill-balancer).
                let nologin = if spec.login {
                    " lvsfw.debug"
                } else {
                    " lvsfw.debug lvsfw.nologin"
                };
                args.extend([
                    "-append".into(),
                    format!("{}{nologin} {}", cmdline.trim(), spec.extra_cmdline),
                ]);
                spec.disk.clone()
            }
            Boot::Bios(image) => Some(image.clone()),
            Boot::Uefi(image) => {
                let vars = lab.dir.join(format!("{}.ovmf-vars.fd", spec.name));
                std::fs::copy("/usr/share/OVMF/OVMF_VARS_4M.fd", &vars)?;
                args.extend([
                    "-drive".into(),
                    "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd".into(),
                    "-drive".into(),
                    format!("if=pflash,format=raw,file={}", vars.display()),
                ]);
                Some(image.clone())
            }
        };
        if let Some(base) = &spec.rtc_base {
            args.extend(["-rtc".into(), format!("base={base}")]);
        }
        if spec.watchdog {
            args.extend([
                "-device".into(),
                "i6300esb".into(),
                "-action".into(),
                "watchdog=reset".into(),
            ]);
        }
        if let Some(disk) = &disk {
            args.extend([
                "-drive".into(),
                format!("file={},format=raw,if=none,id=store", disk.display()),
                "-device".into(),
                "virtio-blk-pci,drive=store,addr=0x13".into(),
            ]);
        }
        for (i, extra) in spec.extra_disks.iter().enumerate() {
            args.extend([
                "-drive".into(),
                format!("file={},format=raw,if=none,id=extra{i}", extra.display()),
                "-device".into(),
                format!("virtio-blk-pci,drive=extra{i},addr={:#x}", 0x14 + i),
            ]);
        }
        args.extend([
            "-chardev".into(),
            format!(
                "socket,id=console,path={},server=on,wait=off",
                console_socket.display()
            ),
            "-serial".into(),
            "chardev:console".into(),
            "-monitor".into(),
            format!("unix:{},server=on,wait=off", monitor.display()),
        ]);
        let mut unplugged = Vec::new();
        let mut macs = Vec::new();
        for (i, (net, slot)) in nets.into_iter().enumerate() {
            // The board's NICs are NET (their tap NAME-NET); more are NETSLOT (NAME-xSLOT).
            let main = i < 2 || (spec.mgmt && i == 2);
            let (tap, id) = if main {
                (
                    format!("{}-{}", spec.name, net.bridge()),
                    net.bridge().to_string(),
                )
            } else {
                (
                    format!("{}-x{slot:x}", spec.name),
                    format!("{}{slot:x}", net.bridge()),
                )
            };
            // A VM of the same name killed earlier in this lab left its tap.
            let _ = lab.in_switch(&["link", "del", &tap]);
            lab.in_switch(&["tuntap", "add", "dev", &tap, "mode", "tap"])?;
            lab.in_switch(&["link", "set", &tap, "master", net.bridge(), "up"])?;
            let mac = format!("52:54:00:{index:02x}:00:{slot:02x}");
            if main {
                macs.push((net, mac.clone()));
            }
            let device = format!("virtio-net-pci,netdev={id},addr={slot:#x},mac={mac}");
            args.extend([
                "-netdev".into(),
                format!("tap,id={id},ifname={tap},script=no,downscript=no"),
            ]);
            if main && spec.unplugged.contains(&net) {
                // The root port takes the NIC's slot; the NIC goes in as its only device.
                let port = format!("hp{slot:x}");
                args.extend([
                    "-device".into(),
                    format!("pcie-root-port,id={port},chassis={slot},slot={slot},addr={slot:#x}"),
                ]);
                let device = format!(
                    "virtio-net-pci,netdev={id},bus={port},mac=52:54:00:{index:02x}:00:{slot:02x}"
                );
                unplugged.push((net, device));
            } else {
                args.extend(["-device".into(), device]);
            }
        }

        let log = std::fs::File::create(lab.dir.join(format!("{}.qemu.log", spec.name)))?;
        let mut command = Command::new("ip");
        command
            .args(&args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // SAFETY: prctl is async-signal-safe. The VM dies with the test process even if
        // the test is killed before its drop runs.
        unsafe {
            command.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                    .map_err(std::io::Error::from)
            });
        }
        let started = Instant::now();
        let mut qemu = command
            .spawn()
            .map_err(|e| Error(format!("starting QEMU: {e}")))?;
        let log_path = lab.dir.join(format!("{}.console.log", spec.name));
        let console = match Console::connect(&console_socket, &log_path, Duration::from_secs(10)) {
            Ok(c) => c,
            Err(e) => {
                let _ = qemu.kill();
                let _ = qemu.wait();
                return Err(e);
            }
        };
        Ok(Appliance {
            name: spec.name,
            console,
            qemu,
            monitor,
            started,
            unplugged,
            macs,
        })
    }

    /// Plugs in a NIC left out at boot ([`ApplianceSpec::unplugged`]): PCI hotplug, as
    /// a NIC that appears while the box runs.
    pub fn plug(&mut self, net: Net) -> Result<(), Error> {
        let at = self
            .unplugged
            .iter()
            .position(|(n, _)| *n == net)
            .ok_or_else(|| Error(format!("{}: no unplugged {} NIC", self.name, net.bridge())))?;
        let (_, device) = self.unplugged.remove(at);
        let said = self.monitor(&format!("device_add {device}"))?;
        if said.contains("Error") {
            return Err(Error(format!("device_add {device}: {said}")));
        }
        Ok(())
    }

    /// Cuts (`up` false) or restores the cable of the NIC QEMU knows as `id` (`ext`,
    /// `int`, `mgmt`, or an extra NIC's `ext18`): the guest sees its carrier go.
    pub fn set_link(&self, id: &str, up: bool) -> Result<(), Error> {
        let said = self.monitor(&format!("set_link {id} {}", if up { "on" } else { "off" }))?;
        if said.contains("not found") || said.contains("Error") {
            return Err(Error(format!("set_link {id}: {said}")));
        }
        Ok(())
    }

    /// The MAC address of the board's NIC on `net` ("52:54:00:..").
    pub fn mac(&self, net: Net) -> Option<&str> {
        self.macs
            .iter()
            .find(|(n, _)| *n == net)
            .map(|(_, mac)| mac.as_str())
    }

    /// When QEMU was started, for boot-time measurements.
    pub fn started(&self) -> Instant {
        self.started
    }

    pub fn wait_for(&mut self, pattern: &str, timeout: Duration) -> Result<String, Error> {
        self.console.wait_for(pattern, timeout)
    }

    /// [`Console::wait_for_all`]: lines of PID 1 and the balancer in either order.
    pub fn wait_for_all(&mut self, patterns: &[&str], timeout: Duration) -> Result<(), Error> {
        self.console.wait_for_all(patterns, timeout)
    }

    pub fn send_line(&mut self, line: &str) -> Result<(), Error> {
        self.console.send_line(line)
    }

    /// Types a console command and returns its output up to the next `lvsfw> ` prompt,
    /// without the echo, the prompt and empty lines; waits at most `limit` for it.
    pub fn command(&mut self, line: &str, limit: Duration) -> Result<String, Error> {
        const PROMPT: &str = "lvsfw> ";
        self.send_line(line)?;
        // The echo follows the prompt on its line; the output starts after it.
        self.wait_for(line, Duration::from_secs(10))?;
        let mut out = self.console.wait_through(PROMPT, limit)?;
        // A log line that arrives while the line is being typed is printed above it, and
        // the prompt comes again with what was typed: the answer follows that copy, not
        // the first echo. Such an output holds only log lines and copies of the prompt;
        // read on (bounded: a copy per log line, 2 s each) and keep what follows the
        // last copy.
        for _ in 0..5 {
            let kept = kept_lines(&out);
            let retyped = kept.iter().any(|l| l.starts_with(PROMPT));
            let answer: Vec<&&str> = kept.iter().filter(|l| !l.starts_with(PROMPT)).collect();
            let only_log = answer.iter().all(|l| is_log_line(l));
            if !only_log || (answer.is_empty() && !retyped) {
                break;
            }
            let Ok(more) = self.console.wait_through(PROMPT, Duration::from_secs(2)) else {
                break;
            };
            let whole = out + &more;
            out = match whole.rfind(line) {
                Some(at) => whole[at + line.len()..].to_string(),
                None => whole,
            };
        }
        Ok(kept_lines(&out)
            .into_iter()
            .filter(|l| !l.starts_with(PROMPT))
            .collect::<Vec<_>>()
            .join("\n"))
    }

    /// The page's certificate as `show certificate` prints it: (its SPKI pin, its PEM).
    pub fn certificate(&mut self) -> Result<(String, String), Error> {
        // Without a configuration disk the box makes its certificate after the balancer
        // starts: "no certificate yet" for a moment after boot.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let shown = loop {
            let shown = self.command("show certificate", Duration::from_secs(20))?;
            if !shown.contains("no certificate yet") || std::time::Instant::now() > deadline {
                break shown;
            }
            std::thread::sleep(Duration::from_secs(1));
        };
        let pin = shown
            .lines()
            .find_map(|l| l.strip_prefix("SPKI pin (sha256, base64): "))
            .ok_or_else(|| Error(format!("no SPKI pin in:\n{shown}")))?
            .trim()
            .to_string();
        let pem = shown
            .find("-----BEGIN CERTIFICATE-----")
            .map(|at| format!("{}\n", shown[at..].trim_end()))
            .ok_or_else(|| Error(format!("no certificate in:\n{shown}")))?;
        Ok((pin, pem))
    }

    /// A QEMU monitor command (`system_powerdown`, `quit`, `info network`); returns what
    /// the monitor answered within a second.
    pub fn monitor(&self, command: &str) -> Result<String, Error> {
        let mut stream = UnixStream::connect(&self.monitor)
            .map_err(|e| Error(format!("monitor {}: {e}", self.monitor.display())))?;
        stream.set_read_timeout(Some(Duration::from_millis(200)))?;
        stream.write_all(format!("{command}\n").as_bytes())?;
        let mut reply = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(1);
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => reply.extend_from_slice(&buf[..n]),
                Err(_) => {}
            }
        }
        Ok(String::from_utf8_lossy(&reply).into_owned())
    }

    /// Waits for QEMU to exit by itself; `None` if it is still running after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<Option<ExitStatus>, Error> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.qemu.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Pulls the plug: QEMU is killed, the guest gets no chance to react.
    pub fn kill(&mut self) {
        let _ = self.qemu.kill();
        let _ = self.qemu.wait();
    }
}

impl Drop for Appliance {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A command's output lines: without the prompt's line and empty ones.
fn kept_lines(out: &str) -> Vec<&str> {
    out.lines()
        .map(|l| l.trim_start_matches("\x1b[K"))
        .filter(|l| !l.ends_with("lvsfw> ") && !l.is_empty())
        .collect()
}

/// A kernel-stamped log line (`[    5.814487] init: ...`), not a command's answer.
fn is_log_line(line: &str) -> bool {
    line.strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .is_some_and(|(stamp, _)| stamp.trim().parse::<f64>().is_ok())
}
