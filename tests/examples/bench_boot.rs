//! Boot benchmark: binary size, initramfs size, and the time from QEMU's start to
//! "balancer: interfaces up" on the console, over several boots one after another:
//! the direct (-kernel) boot, then each board's disk image under SeaBIOS and OVMF with
//! the sizes of its parts. Run with `scripts/bench-boot` (root; expects
//! `scripts/build-image` of both boards). `LVSFW_BENCH_BEFORE=DIR` boots an older
//! build's files (a copy of its out/BOARD) the same way and prints its figures beside;
//! `LVSFW_BENCH_BEFORE_MACHINE=pc` boots those on that QEMU machine instead of
//! board/qemu-machine's (the machine an older build was measured on).

use std::path::Path;
use std::time::Duration;

use lvsfw_lab::disk_image::{board_dir, built_image, copy_with_cmdline};
use lvsfw_lab::{ApplianceSpec, Boot, Lab};

const BOARDS: [&str; 2] = ["qemu-x86_64", "pc-x86_64"];

/// Issue 19: /init to "interfaces up" as bench-boot measured it at a13ef5e (the stop
/// before the interfaces-first balancer start), printed beside today's figure. `LVSFW_BENCH_BEFORE` measures an
/// older build live instead, in turns with this one.
const PREVIOUS_STOP_MS: u32 = 677;

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Count and total size of the kernel modules in a board's initramfs staging tree.
fn modules(dir: &Path) -> (usize, u64) {
    fn walk(dir: &Path, found: &mut (usize, u64)) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.to_string_lossy().contains(".ko") {
                found.0 += 1;
                found.1 += size(&path);
            }
        }
    }
    let mut found = (0, 0);
    walk(&dir.join("staging/lib/modules"), &mut found);
    found
}

/// Median ms from QEMU's start to "interfaces up" booting `board`'s image `boots` times.
fn image_boots(
    lab: &mut Lab,
    board: &str,
    uefi: bool,
    boots: usize,
) -> Result<f64, Box<dyn std::error::Error>> {
    let image = built_image(&board_dir(board))?;
    let mut times = Vec::new();
    for n in 0..boots {
        let name = format!("{}{}{n}", &board[..1], if uefi { "u" } else { "b" });
        let copy = lab.dir.join(format!("{name}.img"));
        copy_with_cmdline(&image, &copy, "lvsfw.nologin")?;
        let boot = if uefi {
            Boot::Uefi(copy)
        } else {
            Boot::Bios(copy)
        };
        let mut vm = lab.boot(ApplianceSpec {
            name,
            boot,
            memory_mib: if board == "pc-x86_64" { 512 } else { 256 },
            ..ApplianceSpec::default()
        })?;
        vm.wait_for("balancer: interfaces up", Duration::from_secs(120))?;
        times.push(vm.started().elapsed().as_secs_f64() * 1000.0);
        vm.kill();
    }
    times.sort_by(|a, b| a.total_cmp(b));
    Ok(median(&times))
}

/// The kernel clock's seconds of the first console line of `log` that contains `text`.
fn stamp(log: &str, text: &str) -> Option<f64> {
    let line = log.lines().find(|l| l.contains(text))?;
    // The stamp is the last `[...]` before the text: the console's edit line may precede
    // it with escape sequences (`ESC[K`).
    let head = &line[..line.find(text)?];
    let inside = head.get(head.rfind('[')? + 1..head.rfind(']')?)?;
    inside.trim().parse().ok()
}

/// From a boot's console: ms from PID 1's start (/init) to its modules loaded and to
/// the balancer's "interfaces up", on the kernel's clock (issue 19's boot goal).
fn init_phases(log: &str) -> Option<(f64, f64)> {
    let start = stamp(log, "init: lvsfw ")?;
    let modules = stamp(log, "kernel modules")?;
    let up = stamp(log, "balancer: interfaces up")?;
    Some(((modules - start) * 1000.0, (up - start) * 1000.0))
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// What the direct (-kernel) boots of one build measured: ms from QEMU's start to
/// "interfaces up", and on the kernel clock /init to modules loaded and to
/// "interfaces up"; each sorted.
struct Direct {
    binary: u64,
    initramfs: u64,
    times: Vec<f64>,
    to_modules: Vec<f64>,
    to_up: Vec<f64>,
}

impl Direct {
    fn new(image: &Path) -> Result<Direct, Box<dyn std::error::Error>> {
        Ok(Direct {
            binary: std::fs::metadata(image.join("lvsfw"))?.len(),
            initramfs: std::fs::metadata(image.join("initramfs.cpio"))?.len(),
            times: Vec::new(),
            to_modules: Vec::new(),
            to_up: Vec::new(),
        })
    }

    fn sort(&mut self) {
        for v in [&mut self.times, &mut self.to_modules, &mut self.to_up] {
            v.sort_by(|a, b| a.total_cmp(b));
        }
    }
}

/// Boots the build in `image` (an out/BOARD directory) once with `-kernel` as `name`;
/// its figures go into `d`.
fn direct_boot(
    lab: &mut Lab,
    image: &Path,
    machine: Option<&str>,
    name: &str,
    d: &mut Direct,
) -> Result<(), Box<dyn std::error::Error>> {
    // The lab boots what LVSFW_OUT names (lvsfw_lab::image_dir) on LVSFW_QEMU_MACHINE
    // (else board/qemu-machine's); this example runs alone, so setting them here reaches
    // no other thread.
    std::env::set_var("LVSFW_OUT", image);
    std::env::set_var("LVSFW_QEMU_MACHINE", machine.unwrap_or_default());
    let mut vm = lab.boot(ApplianceSpec {
        name: name.to_string(),
        ..ApplianceSpec::default()
    })?;
    vm.wait_for("balancer: interfaces up", Duration::from_secs(60))?;
    d.times.push(vm.started().elapsed().as_secs_f64() * 1000.0);
    vm.kill();
    let log = std::fs::read_to_string(lab.dir.join(format!("{name}.console.log")))?;
    let (modules, up) =
        init_phases(&log).ok_or("the console has no /init, modules or interfaces-up line")?;
    d.to_modules.push(modules);
    d.to_up.push(up);
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let boots: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let image = lvsfw_lab::image_dir();
    // LVSFW_BENCH_BEFORE=DIR: an older build's out/BOARD files (lvsfw, vmlinuz,
    // initramfs.cpio, cmdline), booted the same way, its figures beside these.
    let before_dir = std::env::var_os("LVSFW_BENCH_BEFORE").map(std::path::PathBuf::from);
    let mut lab = Lab::new("benchboot", false)?;
    let mut now = Direct::new(&image)?;
    let mut before = match &before_dir {
        Some(dir) => Some(Direct::new(dir)?),
        None => None,
    };
    // This build and the older one in turns, so that both see the same load of the
    // machine (other builds slow an emulated boot several times over).
    let before_machine = std::env::var("LVSFW_BENCH_BEFORE_MACHINE").ok();
    for n in 0..boots {
        direct_boot(&mut lab, &image, None, &format!("b{n}"), &mut now)?;
        if let (Some(dir), Some(b)) = (&before_dir, &mut before) {
            direct_boot(
                &mut lab,
                dir,
                before_machine.as_deref(),
                &format!("o{n}"),
                b,
            )?;
        }
    }
    std::env::remove_var("LVSFW_QEMU_MACHINE");
    now.sort();
    if let Some(b) = &mut before {
        b.sort();
    }
    std::env::set_var("LVSFW_OUT", &image);
    let beside = |f: &dyn Fn(&Direct) -> String| {
        before
            .as_ref()
            .map_or(String::new(), |b| format!(" {} |", f(b)))
    };
    let machine = lvsfw_lab::qemu_machine();
    match &before_dir {
        Some(dir) => {
            let on = before_machine.as_deref().unwrap_or(&machine);
            println!(
                "| what (QEMU -machine) | this build ({machine}) | before ({}, {on}) |",
                dir.display()
            );
            println!("|---|---|---|");
        }
        None => {
            println!("| what (QEMU -machine {machine}) | value |");
            println!("|---|---|");
        }
    }
    let bytes = |b: u64| format!("{b} bytes ({:.2} MiB)", b as f64 / 1048576.0);
    println!(
        "| lvsfw binary (static, musl) | {} |{}",
        bytes(now.binary),
        beside(&|d| bytes(d.binary))
    );
    println!(
        "| initramfs (uncompressed cpio) | {} |{}",
        bytes(now.initramfs),
        beside(&|d| bytes(d.initramfs))
    );
    println!(
        "| QEMU start to \"interfaces up\", median of {boots} boots (TCG) | {:.0} ms |{}",
        median(&now.times),
        beside(&|d| format!("{:.0} ms", median(&d.times)))
    );
    let range = |d: &Direct| format!("{:.0} / {:.0} ms", d.times[0], d.times[d.times.len() - 1]);
    println!("| min / max | {} |{}", range(&now), beside(&range));
    println!(
        "| /init to its kernel modules loaded, median (kernel clock) | {:.0} ms |{}",
        median(&now.to_modules),
        beside(&|d| format!("{:.0} ms", median(&d.to_modules)))
    );
    println!(
        "| /init to \"interfaces up\", median (kernel clock; issue 19's goal: under 300 ms) | {:.0} ms |{}",
        median(&now.to_up),
        beside(&|d| format!("{:.0} ms", median(&d.to_up)))
    );
    println!(
        "| /init to \"interfaces up\" at the previous stop (a13ef5e, as measured then; a constant) | {PREVIOUS_STOP_MS} ms |{}",
        beside(&|_| String::new())
    );

    let image_boots_each = boots.min(3);
    println!();
    println!("Disk images (both slots filled), QEMU start to \"interfaces up\", median of {image_boots_each} boots (TCG):");
    println!();
    println!("| board | kernel | modules | initramfs (cpio / xz) | image (raw / qcow2) | SeaBIOS | OVMF |");
    println!("|---|---|---|---|---|---|---|");
    // LVSFW_BENCH_BOARDS (comma-separated) limits the disk images booted: CI boots the
    // qemu board only, to keep its run under 40 minutes.
    let only = std::env::var("LVSFW_BENCH_BOARDS").unwrap_or_default();
    let wanted = |board: &str| only.is_empty() || only.split(',').any(|b| b.trim() == board);
    for board in BOARDS.iter().copied().filter(|b| wanted(b)) {
        let dir = board_dir(board);
        let Ok(image) = built_image(&dir) else {
            println!("| {board} | not built (scripts/build-image {board}) | | | | | |");
            continue;
        };
        let (count, module_bytes) = modules(&dir);
        let qcow2 = image.with_extension("qcow2");
        let bios = image_boots(&mut lab, board, false, image_boots_each)?;
        let uefi = image_boots(&mut lab, board, true, image_boots_each)?;
        println!(
            "| {board} | {} | {count}, {} | {} / {} | {} / {} | {bios:.0} ms | {uefi:.0} ms |",
            mb(size(&dir.join("vmlinuz"))),
            mb(module_bytes),
            mb(size(&dir.join("initramfs.cpio"))),
            mb(size(&dir.join("initrd"))),
            mb(size(&image)),
            mb(size(&qcow2)),
        );
    }
    Ok(())
}
