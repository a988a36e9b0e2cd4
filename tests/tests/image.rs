//! Issue 8's acceptance for the disk image: the same `.img` boots with legacy BIOS
//! (SeaBIOS) and UEFI (OVMF) on both boards; the pc-x86_64 board's watchdog resets a hung
//! balancer; a power loss at any moment of a save leaves a valid configuration.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lvsfw_lab::disk_image::{board_dir, built_image, copy_with_cmdline, read_esp_file};
use lvsfw_lab::{Appliance, ApplianceSpec, Boot, Error, Lab, Moments};

const BOOT: Duration = Duration::from_secs(120);
const SHORT: Duration = Duration::from_secs(20);
const PROMPT: &str = "lvsfw> ";
/// Test images open the console without login and allow the debug commands.
const TEST_WORDS: &str = "lvsfw.nologin lvsfw.debug";

/// A copy of `board`'s built image in the lab, with the test words.
fn image_copy(lab: &Lab, board: &str, name: &str) -> Result<PathBuf, Error> {
    let image = built_image(&board_dir(board))?;
    let copy = lab.dir.join(format!("{name}.img"));
    copy_with_cmdline(&image, &copy, TEST_WORDS)?;
    Ok(copy)
}

/// grub 2.06's UEFI loader runs out of memory for the generic kernel in 256 MiB; a PC
/// has more anyway.
fn memory_of(board: &str) -> u32 {
    if board == "pc-x86_64" {
        512
    } else {
        256
    }
}

fn boot_image(
    lab: &mut Lab,
    board: &str,
    name: &str,
    boot: Boot,
    watchdog: bool,
) -> Result<Appliance, Error> {
    lab.boot(ApplianceSpec {
        name: name.into(),
        boot,
        watchdog,
        memory_mib: memory_of(board),
        ..ApplianceSpec::default()
    })
}

/// Boots `board`'s image with `firmware` and checks the way to "interfaces up": grub
/// chose slot A, the kernel got the slot and the test words, the configuration partition
/// is the store, and a save lands there without harming the ESP.
fn boots_to_interfaces_up(board: &str, uefi: bool) -> Result<(), Error> {
    let kind = if uefi { "uefi" } else { "bios" };
    let mut lab = Lab::new(&format!("img-{}-{kind}", &board[..2]), false)?;
    let copy = image_copy(&lab, board, "lb1")?;
    let boot = if uefi {
        Boot::Uefi(copy.clone())
    } else {
        Boot::Bios(copy.clone())
    };
    let mut lb1 = boot_image(&mut lab, board, "lb1", boot, false)?;
    lb1.wait_for("lvsfw: booting slot A", BOOT)?;
    lb1.wait_for(&format!("starting on board {board}"), BOOT)?;
    let restored = lb1.wait_for("configuration", BOOT)?;
    assert!(
        restored.contains("nothing saved on the configuration disk"),
        "the fresh image's config partition is not the store: {restored}"
    );
    lb1.wait_for("balancer: interfaces up", BOOT)?;
    println!(
        "{board} {kind}: interfaces up {:.1} s after QEMU started",
        lb1.started().elapsed().as_secs_f64()
    );
    // Every module of the board loaded (the generic kernel has soft dependencies), and
    // IPVS is there.
    let boot_log = lb1.console.text();
    assert!(
        !boot_log.contains("error: loading module"),
        "modules failed to load:\n{boot_log}"
    );
    let ipvs = lb1.command("debug cat /proc/net/ip_vs", SHORT)?;
    assert!(ipvs.contains("IP Virtual Server version"), "{ipvs}");
    let cmdline = lb1.command("debug cat /proc/cmdline", SHORT)?;
    assert!(
        cmdline.contains("lvsfw.nologin lvsfw.debug lvsfw.slot=A"),
        "{cmdline}"
    );
    lb1.command("set hostname imaged", SHORT)?;
    lb1.command("config apply", SHORT)?;
    let saved = lb1.command("config save", Duration::from_secs(60))?;
    assert!(
        saved.contains("saved: the running configuration"),
        "{saved}"
    );
    lb1.kill();
    // The save went to the config partition: the ESP (and its grub.cfg) is intact.
    let cfg = read_esp_file(&copy, "/grub/grub.cfg")?;
    assert!(
        cfg.contains("load_env --file /grub/grubenv slot next"),
        "{cfg}"
    );
    Ok(())
}

#[test]
fn qemu_image_boots_with_bios() -> Result<(), Error> {
    boots_to_interfaces_up("qemu-x86_64", false)
}

#[test]
fn qemu_image_boots_with_uefi() -> Result<(), Error> {
    boots_to_interfaces_up("qemu-x86_64", true)
}

#[test]
fn pc_image_boots_with_bios() -> Result<(), Error> {
    boots_to_interfaces_up("pc-x86_64", false)
}

#[test]
fn pc_image_boots_with_uefi() -> Result<(), Error> {
    boots_to_interfaces_up("pc-x86_64", true)
}

/// pc-x86_64 with QEMU's i6300esb: fed while the balancer lives, the box resets by
/// itself when the balancer hangs (SIGSTOP through the debug switch).
#[test]
fn the_watchdog_resets_a_hung_balancer() -> Result<(), Error> {
    let mut lab = Lab::new("img-wdog", false)?;
    let copy = image_copy(&lab, "pc-x86_64", "lb1")?;
    let mut lb1 = boot_image(&mut lab, "pc-x86_64", "lb1", Boot::Bios(copy), true)?;
    // The whole line: its end ("resets 20 s after") may reach the console later.
    let armed = lb1
        .console
        .wait_for_line("watchdog /dev/watchdog armed", BOOT)?;
    let armed_at = Instant::now();
    assert!(armed.contains("resets 20 s after"), "{armed}");
    lb1.wait_for("balancer: interfaces up", BOOT)?;
    // Longer than PID 1's start-up grace (20 s) and the watchdog's timeout (20 s)
    // together: without a fresh heartbeat the box would have reset by now.
    std::thread::sleep(Duration::from_secs(50).saturating_sub(armed_at.elapsed()));
    let text = lb1.console.text();
    assert_eq!(
        text.matches("lvsfw: booting slot A").count(),
        1,
        "the box reset while the balancer was healthy"
    );
    lb1.command("debug freeze-balancer", SHORT)?;
    let frozen = Instant::now();
    lb1.wait_for("no longer fed", Duration::from_secs(90))?;
    lb1.wait_for("lvsfw: booting slot A", Duration::from_secs(60))?;
    println!(
        "watchdog: reset {:.1} s after the balancer froze",
        frozen.elapsed().as_secs_f64()
    );
    lb1.wait_for("starting on board pc-x86_64", BOOT)?;
    lb1.wait_for("balancer: interfaces up", BOOT)?;
    Ok(())
}

fn hostname_of(lb: &mut Appliance) -> Result<String, Error> {
    let shown = lb.command("show config", SHORT)?;
    shown
        .lines()
        .find_map(|l| l.trim().strip_prefix("hostname: "))
        .map(str::to_string)
        .ok_or_else(|| Error(format!("no hostname in show config:\n{shown}")))
}

fn boot_for_save(lab: &mut Lab, image: &Path) -> Result<Appliance, Error> {
    lab.boot(ApplianceSpec {
        name: "lb1".into(),
        disk: Some(image.to_path_buf()),
        extra_cmdline: "lvsfw.debug".into(),
        ..ApplianceSpec::default()
    })
}

/// 50 times: change the hostname, save, and pull the plug at a random moment of the
/// save; every boot finds the configuration of the last save that finished or of the
/// one cut off, never a broken or missing one. (Booted with -kernel for speed: the
/// store is the image's lvsfw-config partition all the same.)
#[test]
fn a_power_loss_during_a_save_keeps_a_valid_configuration() -> Result<(), Error> {
    const ROUNDS: u32 = 50;
    // The first saves run whole, to time a save: the first boot's and a restored one's.
    const MEASURED: u32 = 2;
    let mut lab = Lab::new("img-power", false)?;
    let image = image_copy(&lab, "qemu-x86_64", "power")?;
    let mut moments = Moments::from_clock("power-loss moments");
    // The longest of the measured saves (a save after a restore takes twice as long as
    // one at the first boot).
    let mut save_time = Duration::ZERO;
    // The hostnames a boot may find: the last completed save and the one cut off.
    let mut acceptable = vec!["lvsfw".to_string()];
    let (mut old, mut new) = (0, 0);
    let mut cut = Duration::ZERO;
    for round in 0..=ROUNDS {
        let mut lb1 = boot_for_save(&mut lab, &image)?;
        let restored = lb1.wait_for("configuration is in service", BOOT)?;
        assert!(
            !restored.contains("error"),
            "round {round}: the saved configuration is broken: {restored}"
        );
        lb1.wait_for(PROMPT, BOOT)?;
        let found = hostname_of(&mut lb1)?;
        assert!(
            acceptable.contains(&found),
            "round {round}: found hostname {found}, expected one of {acceptable:?}"
        );
        if round > MEASURED {
            let side = if found == acceptable[0] {
                &mut old
            } else {
                &mut new
            };
            *side += 1;
            println!("round {round}: cut at {cut:?}, the boot found {found}");
        }
        if round == ROUNDS {
            break;
        }
        let name = format!("power{round}");
        let set = lb1.command(&format!("set hostname {name}"), SHORT)?;
        let applied = lb1.command("config apply", SHORT)?;
        assert!(set.contains(&format!("hostname: {name}")), "{set}");
        assert!(
            applied.contains(&format!("in service: hostname {name}")),
            "{applied}"
        );
        acceptable = vec![found, name.clone()];
        if round < MEASURED {
            let started = Instant::now();
            let saved = lb1.command("config save", Duration::from_secs(60))?;
            assert!(
                saved.contains("saved: the running configuration"),
                "{saved}"
            );
            save_time = save_time.max(started.elapsed());
            println!(
                "round {round}: a save took {} ms at the console",
                started.elapsed().as_millis()
            );
            acceptable = vec![name];
        } else {
            // Up to half again the longest save seen: the cuts fall before, during and
            // after the write, whatever part of the save it is.
            let span = save_time.as_micros() as u64 * 3 / 2;
            cut = Duration::from_micros(moments.next_below(span));
            lb1.send_line("config save")?;
            std::thread::sleep(cut);
        }
        lb1.kill();
    }
    let cuts = ROUNDS - MEASURED;
    println!("{cuts} cut saves: {old} boots found the old configuration, {new} the new");
    // Evidence that the cuts fell on both sides of the write, not all before it.
    assert!(
        old > 0 && new > 0,
        "every cut save left the same side ({old} old, {new} new): the moments miss the write"
    );
    Ok(())
}
