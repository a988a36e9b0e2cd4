//! Health-check benchmark (issues 4 and 16): 2,000 real servers checked every second
//! (delay_loop 1), in the appliance VM under TCG, with TCP_CHECK, HTTP_GET, PING_CHECK or
//! UDP_CHECK. The CPU share and memory of lvsfw's
//! balancer process, beside Debian's keepalived checking the same keepalived.conf in
//! the same VM image (carried in with its libraries, `keepalived -C`, checkers only).
//! Run with `scripts/bench-checks` (root; expects `scripts/build-image qemu-x86_64`).

use std::time::Duration;

use lvsfw_lab::addresses::*;
use lvsfw_lab::{host_program, Appliance, ApplianceSpec, Error, Lab, Net};

const SERVERS_PER_VS: u32 = 10;
/// The real servers live in 10.33.0.0/16 on the int network.
const RS_NET_GATEWAY: &str = "10.33.0.1";

fn rs_addr(i: u32) -> String {
    format!("10.33.{}.{}", 1 + i / 250, 1 + i % 250)
}

/// The check block of every real server: connect_timeout 3, else keepalived's defaults.
fn check_block(check: &str) -> &'static str {
    match check {
        "TCP_CHECK" => "        TCP_CHECK {\n            connect_timeout 3\n        }\n",
        "PING_CHECK" => "        PING_CHECK {\n            connect_timeout 3\n        }\n",
        // A reply is required, so that each probe ends with its answer, not its timeout.
        "UDP_CHECK" => "        UDP_CHECK {\n            connect_timeout 3\n            require_reply\n        }\n",
        _ => "        HTTP_GET {\n            url {\n                path /\n                status_code 200\n            }\n            connect_timeout 3\n        }\n",
    }
}

fn keepalived_conf(servers: u32, check: &str) -> String {
    let protocol = if check == "UDP_CHECK" { "UDP" } else { "TCP" };
    let mut conf = String::new();
    for v in 0..servers.div_ceil(SERVERS_PER_VS) {
        conf.push_str(&format!(
            "virtual_server 192.168.0.{} {} {{\n    delay_loop 1\n    lb_algo rr\n    lb_kind NAT\n    protocol {protocol}\n",
            100 + v / 100,
            8000 + v % 100
        ));
        for i in v * SERVERS_PER_VS..((v + 1) * SERVERS_PER_VS).min(servers) {
            let body = check_block(check);
            conf.push_str(&format!(
                "    real_server {} 80 {{\n        weight 1\n{body}    }}\n",
                rs_addr(i)
            ));
        }
        conf.push_str("}\n");
    }
    conf
}

/// Answers every connection on port 80 of every address with a small HTTP 200, and
/// echoes every datagram to UDP port 80 from the address it was sent to (IP_PKTINFO, 8 in
/// <linux/in.h>): one socket bound to 0.0.0.0 would answer from the interface's first
/// address, which neither checker takes as the server's reply.
const RESPONDER: &str = "
import asyncio, socket, struct, threading
IP_PKTINFO = 8
def echo():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(('0.0.0.0', 80))
    while True:
        data, ancillary, _, peer = s.recvmsg(2048, socket.CMSG_SPACE(12))
        for level, kind, info in ancillary:
            if level == socket.IPPROTO_IP and kind == IP_PKTINFO:
                to = struct.unpack('I4s4s', info[:12])[2]
                source = [(socket.IPPROTO_IP, IP_PKTINFO, struct.pack('I4s4s', 0, to, bytes(4)))]
                s.sendmsg([data], source, 0, peer)
threading.Thread(target=echo, daemon=True).start()
async def serve(reader, writer):
    try:
        await asyncio.wait_for(reader.readuntil(b'\\r\\n\\r\\n'), 5)
        writer.write(b'HTTP/1.0 200 OK\\r\\nContent-Length: 3\\r\\n\\r\\nok\\n')
        await writer.drain()
    except Exception:
        pass
    writer.close()
async def main():
    server = await asyncio.start_server(serve, '0.0.0.0', 80, backlog=4096)
    await server.serve_forever()
asyncio.run(main())
";

fn config_json() -> String {
    format!(
        r#"{{"interfaces": [{{"role": "ext", "addresses": ["{LB1_EXT}/24"]}},
            {{"role": "int", "addresses": ["{LB1_INT}/24", "{RS_NET_GATEWAY}/16"]}}]}}"#
    )
}

/// Clock ticks in user space and in the kernel, and resident kB, of a process in the VM.
fn sample(vm: &mut Appliance, pid: u32) -> Result<(u64, u64, u64), Error> {
    vm.send_line(&format!("debug cat /proc/{pid}/stat"))?;
    let stat = vm
        .console
        .wait_for_line(&format!("{pid} ("), Duration::from_secs(10))?;
    // Fields after the command name's closing parenthesis: utime is the 12th, stime 13th.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    let user = fields[11].parse::<u64>().unwrap_or(0);
    let system = fields[12].parse::<u64>().unwrap_or(0);
    vm.send_line(&format!("debug cat /proc/{pid}/status"))?;
    let rss = vm
        .console
        .wait_for_line("VmRSS:", Duration::from_secs(10))?;
    let kb = rss
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Ok((user, system, kb))
}

struct Usage {
    /// Percent of one core, all and in user space.
    cpu: f64,
    user: f64,
    rss_kb: u64,
    /// Probes the VM sent per second ([`Counter`]): nothing else in the VM connects out,
    /// pings or sends datagrams. Neither checker keeps up 2,000 a second under TCG, and the
    /// one that probes more often spends more; CPU per probe is the comparison that holds.
    probes_per_second: f64,
    /// Busy share of the VM's one vCPU, all processes and interrupts included: the
    /// kernel's softirq work for the probes' packets often runs in ksoftirqd, or in
    /// whichever process it interrupts, rather than in the checker's own time.
    vm_busy: f64,
    /// The VM's socket counts of the check's kind at the end (/proc/net/sockstat): for TCP
    /// in use, orphaned, in TIME_WAIT (which side closes first decides where TIME_WAIT is
    /// kept); for UDP and raw sockets in use.
    sockets: String,
}

/// What counts one probe, in /proc/net/snmp: a TCP connect (SYN sent), an ICMP echo
/// request, a UDP datagram out.
struct Counter {
    /// The line's label, e.g. "Tcp:".
    table: &'static str,
    field: &'static str,
    /// The /proc/net/sockstat line shown: "TCP:", "UDP:", "RAW:".
    sockstat: &'static str,
}

impl Counter {
    fn of(check: &str) -> Counter {
        match check {
            "PING_CHECK" => Counter {
                table: "Icmp:",
                field: "OutEchos",
                sockstat: "RAW:",
            },
            "UDP_CHECK" => Counter {
                table: "Udp:",
                field: "OutDatagrams",
                sockstat: "UDP:",
            },
            _ => Counter {
                table: "Tcp:",
                field: "ActiveOpens",
                sockstat: "TCP:",
            },
        }
    }
}

impl Usage {
    /// CPU time per probe in microseconds: (all, user space).
    fn per_probe_us(&self) -> (f64, f64) {
        let per = |percent: f64| {
            if self.probes_per_second > 0.0 {
                percent / 100.0 / self.probes_per_second * 1e6
            } else {
                f64::NAN
            }
        };
        (per(self.cpu), per(self.user))
    }

    /// The whole VM's busy CPU time per probe, in microseconds.
    fn vm_per_probe_us(&self) -> f64 {
        if self.probes_per_second > 0.0 {
            self.vm_busy / 100.0 / self.probes_per_second * 1e6
        } else {
            f64::NAN
        }
    }
}

/// The VM's CPU ticks from /proc/stat: (busy, all). Under TCG the sum falls short of
/// the wall time, so the busy share is taken as busy / all.
fn vm_ticks(vm: &mut Appliance) -> Result<(u64, u64), Error> {
    vm.send_line("debug cat /proc/stat")?;
    let line = vm.console.wait_for_line("cpu  ", Duration::from_secs(10))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip_while(|w| *w != "cpu")
        .skip(1)
        .filter_map(|w| w.parse().ok())
        .collect();
    if ticks.len() < 5 {
        return Err(Error(format!("not a /proc/stat cpu line: {line:?}")));
    }
    // user nice system idle iowait irq softirq steal ...; guest time is in user already.
    let all: u64 = ticks.iter().take(8).sum();
    Ok((all - ticks[3] - ticks[4], all))
}

/// The VM's count of probes sent so far ([`Counter`]), from /proc/net/snmp.
fn probes_sent(vm: &mut Appliance, counter: &Counter) -> Result<u64, Error> {
    let command = "debug cat /proc/net/snmp";
    vm.send_line(command)?;
    vm.console.wait_for_line(command, Duration::from_secs(10))?;
    let out = vm
        .console
        .wait_through("lvsfw> ", Duration::from_secs(10))?;
    let mut lines = out.lines().filter(|l| l.starts_with(counter.table));
    let (Some(names), Some(values)) = (lines.next(), lines.next()) else {
        return Err(Error(format!(
            "no {} lines in /proc/net/snmp: {out:?}",
            counter.table
        )));
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(name, _)| *name == counter.field)
        .and_then(|(_, value)| value.parse().ok())
        .ok_or_else(|| Error(format!("no {} in {names:?} / {values:?}", counter.field)))
}

/// CPU share (of one core) and resident memory of `pids` over `window`.
fn measure(
    vm: &mut Appliance,
    pids: &[u32],
    window: Duration,
    counter: &Counter,
) -> Result<Usage, Error> {
    let vm_before = vm_ticks(vm)?;
    let opens_before = probes_sent(vm, counter)?;
    let opens_started = std::time::Instant::now();
    let before: Vec<_> = pids
        .iter()
        .map(|p| sample(vm, *p))
        .collect::<Result<_, _>>()?;
    let started = std::time::Instant::now();
    std::thread::sleep(window);
    let after: Vec<_> = pids
        .iter()
        .map(|p| sample(vm, *p))
        .collect::<Result<_, _>>()?;
    let elapsed = started.elapsed().as_secs_f64();
    let opens = probes_sent(vm, counter)?.saturating_sub(opens_before);
    let opens_elapsed = opens_started.elapsed().as_secs_f64();
    let vm_after = vm_ticks(vm)?;
    vm.send_line("debug cat /proc/net/sockstat")?;
    let label = format!("{} inuse", counter.sockstat);
    let sockets = vm.console.wait_for_line(&label, Duration::from_secs(10))?;
    let sockets = sockets
        .split_once(counter.sockstat)
        .map(|(_, counts)| format!("{} {}", counter.sockstat, counts.trim()))
        .unwrap_or_default();
    let vm_all = vm_after.1.saturating_sub(vm_before.1).max(1);
    let vm_busy = 100.0 * vm_after.0.saturating_sub(vm_before.0) as f64 / vm_all as f64;
    let user: u64 = before.iter().zip(&after).map(|(b, a)| a.0 - b.0).sum();
    let system: u64 = before.iter().zip(&after).map(|(b, a)| a.1 - b.1).sum();
    // USER_HZ is 100 on x86_64: a tick is 10 ms.
    let percent = |ticks: u64| ticks as f64 / 100.0 / elapsed * 100.0;
    Ok(Usage {
        cpu: percent(user + system),
        user: percent(user),
        rss_kb: after.iter().map(|a| a.2).sum(),
        probes_per_second: opens as f64 / opens_elapsed,
        vm_busy,
        sockets,
    })
}

/// [`measure`] over `windows` windows one after the other: the median of each figure
/// (probes per second, CPU shares), the memory and sockets of the last window.
fn measure_windows(
    vm: &mut Appliance,
    pids: &[u32],
    window: Duration,
    windows: usize,
    counter: &Counter,
) -> Result<Usage, Error> {
    let mut runs = Vec::new();
    for _ in 0..windows.max(1) {
        runs.push(measure(vm, pids, window, counter)?);
    }
    let median = |figure: fn(&Usage) -> f64| {
        let mut values: Vec<f64> = runs.iter().map(figure).collect();
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let (cpu, user) = (median(|u| u.cpu), median(|u| u.user));
    let probes_per_second = median(|u| u.probes_per_second);
    let vm_busy = median(|u| u.vm_busy);
    let last = runs.pop().expect("at least one window");
    Ok(Usage {
        cpu,
        user,
        probes_per_second,
        vm_busy,
        ..last
    })
}

/// Real servers in rotation now: the ones a failed check has not taken out.
fn servers_in_table(vm: &mut Appliance) -> Result<usize, Error> {
    // `ipvs list` of 2,000 servers takes longer than a console tool may run at 115200 baud.
    vm.send_line("ipvs summary")?;
    let line = vm
        .console
        .wait_for_line(" destinations (", Duration::from_secs(20))?;
    // "[lvsfw> ]200 services, 2000 destinations (0 with weight 0), ..."
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "destinations").unwrap_or(0);
    let number = |i: usize| {
        words
            .get(i)
            .and_then(|w| w.trim_start_matches('(').parse::<usize>().ok())
            .ok_or_else(|| Error(format!("not a summary: {line:?}")))
    };
    Ok(number(at.wrapping_sub(1))? - number(at + 1)?)
}

fn pid_from(vm: &mut Appliance, command: &str, pattern: &str) -> Result<u32, Error> {
    vm.send_line(command)?;
    let line = vm.console.wait_for_line(pattern, Duration::from_secs(10))?;
    line.split(pattern)
        .nth(1)
        .and_then(|rest| {
            rest.trim_start()
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|n| n.parse().ok())
        })
        .ok_or_else(|| Error(format!("no pid in {line:?}")))
}

fn number_in_file(vm: &mut Appliance, file: &str) -> Result<u32, Error> {
    let command = format!("debug cat {file}");
    vm.send_line(&command)?;
    vm.console
        .wait_for_line(&command, Duration::from_secs(10))?;
    let out = vm
        .console
        .wait_through("lvsfw> ", Duration::from_secs(10))?;
    out.lines()
        .find_map(|l| l.trim().parse().ok())
        .ok_or_else(|| Error(format!("{file}: no number in {out:?}")))
}

/// With `LVSFW_BENCH_PROFILE=1`: Debian's perf and sleep, carried into the VM to sample
/// where the whole VM's time goes (kernel and user space) while the checks run.
fn profiling() -> bool {
    std::env::var_os("LVSFW_BENCH_PROFILE").is_some()
}

fn profiler_files() -> Result<Vec<(String, Vec<u8>)>, Error> {
    if !profiling() {
        return Ok(Vec::new());
    }
    let mut files = host_program::with_libraries("/usr/bin/perf")?;
    files.extend(host_program::with_libraries("/bin/sleep")?);
    Ok(files)
}

/// Samples the whole VM for 10 s and prints the hottest symbols (nothing unless profiling).
fn profile(vm: &mut Appliance, what: &str) -> Result<(), Error> {
    if !profiling() {
        return Ok(());
    }
    vm.send_line("debug run /usr/bin/perf record -N -a -F 499 -o /run/perf.data -- /bin/sleep 10")?;
    vm.console
        .wait_for_line("debug run: ", Duration::from_secs(120))?;
    vm.send_line(
        "debug run /usr/bin/perf report -i /run/perf.data --stdio --no-children \
         --sort sym --percent-limit 0.4 -g none",
    )?;
    let out = vm
        .console
        .wait_through("debug run: ", Duration::from_secs(300))?;
    println!("---- profile of the VM: {what} ----");
    for line in out
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        println!("{line}");
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let servers: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let window = Duration::from_secs(args.next().and_then(|a| a.parse().ok()).unwrap_or(20));
    let checks: Vec<String> = match args.next() {
        Some(list) => list.split(',').map(str::to_string).collect(),
        None => ["TCP_CHECK", "HTTP_GET", "PING_CHECK", "UDP_CHECK"]
            .map(String::from)
            .to_vec(),
    };
    let windows: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let keepalived = "/usr/sbin/keepalived";

    let mut lab = Lab::new("benchchk", false)?;
    let rs = lab.add_host("rs", Net::Int, &format!("{}/16", rs_addr(0)), None)?;
    let batch: String = (1..servers)
        .map(|i| format!("addr add {}/16 dev eth0 nodad\n", rs_addr(i)))
        .collect();
    let batch_file = lab.log_path("rs-addresses");
    std::fs::write(&batch_file, batch)?;
    lvsfw_lab::run(
        "ip",
        &["-n", &rs.namespace, "-batch", &batch_file.to_string_lossy()],
    )?;
    lab.spawn(&rs, &["python3", "-c", RESPONDER], "responder")?;

    let mut rows = Vec::new();
    for (n, check) in checks.iter().map(String::as_str).enumerate() {
        let conf = keepalived_conf(servers, check);
        let changes = servers + servers.div_ceil(SERVERS_PER_VS);

        // lvsfw: the balancer runs the checks of its keepalived.conf.
        let mut vm = lab.boot(ApplianceSpec {
            name: format!("l{n}"),
            config_json: Some(config_json()),
            files: [
                vec![(
                    "etc/lvsfw/keepalived.conf".into(),
                    conf.clone().into_bytes(),
                )],
                profiler_files()?,
            ]
            .concat(),
            // perf and its libraries take 33 MB of the initramfs.
            memory_mib: if profiling() { 512 } else { 0 },
            extra_cmdline: "lvsfw.debug".into(),
            ..ApplianceSpec::default()
        })?;
        vm.wait_for(
            &format!("IPVS: {changes} changes applied"),
            Duration::from_secs(120),
        )?;
        std::thread::sleep(Duration::from_secs(5));
        let pid = pid_from(&mut vm, "status", "running, pid")?;
        let counter = Counter::of(check);
        let usage = measure_windows(&mut vm, &[pid], window, windows, &counter)?;
        profile(&mut vm, &format!("lvsfw, {check}"))?;
        rows.push((
            format!("lvsfw balancer, {check}"),
            usage,
            servers_in_table(&mut vm)?,
        ));
        vm.kill();

        // keepalived: the same file, checkers only, in the same image.
        let mut files = host_program::with_libraries(keepalived)?;
        files.push(("etc/keepalived/keepalived.conf".into(), conf.into_bytes()));
        files.extend(profiler_files()?);
        let mut vm = lab.boot(ApplianceSpec {
            name: format!("k{n}"),
            config_json: Some(config_json()),
            files,
            // perf and its libraries take 33 MB of the initramfs.
            memory_mib: if profiling() { 512 } else { 0 },
            extra_cmdline: "lvsfw.debug".into(),
            ..ApplianceSpec::default()
        })?;
        vm.wait_for("balancer: interfaces up", Duration::from_secs(60))?;
        vm.send_line(&format!(
            "debug run {keepalived} -C -f /etc/keepalived/keepalived.conf -p /run/k.pid -c /run/kc.pid"
        ))?;
        vm.console
            .wait_for_line("debug run: ", Duration::from_secs(60))?;
        let mut applied = false;
        for _ in 0..120 {
            std::thread::sleep(Duration::from_secs(1));
            vm.send_line("ipvs list")?;
            let out = vm
                .console
                .wait_through("lvsfw> ", Duration::from_secs(20))?;
            if out.matches("-> 10.33.").count() >= servers as usize {
                applied = true;
                break;
            }
        }
        if !applied {
            return Err(format!("keepalived did not load {servers} real servers").into());
        }
        std::thread::sleep(Duration::from_secs(5));
        let parent = number_in_file(&mut vm, "/run/k.pid")?;
        let child = number_in_file(&mut vm, "/run/kc.pid")?;
        let usage = measure_windows(&mut vm, &[parent, child], window, windows, &counter)?;
        profile(&mut vm, &format!("keepalived, {check}"))?;
        rows.push((
            format!("keepalived -C (parent + checker), {check}"),
            usage,
            servers_in_table(&mut vm)?,
        ));
        vm.kill();
    }

    println!(
        "{servers} real servers, delay_loop 1, one appliance VM (TCG, 1 vCPU); median of {windows} windows of {} s after warm-up (per probe: from the medians):",
        window.as_secs()
    );
    println!("| process | probes/s | CPU (% of one core) | of which user space | CPU per probe (user) | whole VM busy, per probe | RSS | real servers in rotation at the end | VM's sockets of the kind at the end |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (what, usage, in_table) in rows {
        let (per_probe, per_probe_user) = usage.per_probe_us();
        println!(
            "| {what} | {:.0} | {:.1} % | {:.1} % | {per_probe:.0} µs ({per_probe_user:.0}) | {:.0} %, {:.0} µs | {:.1} MiB | {in_table} of {servers} | {} |",
            usage.probes_per_second,
            usage.cpu,
            usage.user,
            usage.vm_busy,
            usage.vm_per_probe_us(),
            usage.rss_kb as f64 / 1024.0,
            usage.sockets
        );
    }
    Ok(())
}
