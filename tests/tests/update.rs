//! Issue 8's A/B update, end to end: the disk image booted through SeaBIOS and grub,
//! a second version applied with `update` and kept after its trial boot, then an
//! image whose balancer fails to start applied: after its trial the box is back on the
//! version before by itself.
//!
//! The two update files are built here with scripts/build-image (LVSFW_VERSION,
//! LVSFW_TEST_BREAK_BALANCER) into out/lab-update/, and reach the box as raw disks
//! (/dev/vdb, /dev/vdc): the console cannot carry 16 MB.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use lvsfw_lab::disk_image::{built_image, copy_with_cmdline};
use lvsfw_lab::{ApplianceSpec, Boot, Error, Lab};

/// A boot through SeaBIOS and grub under TCG, up to the balancer being ready.
const BOOT: Duration = Duration::from_secs(180);
/// Reading 16 MB twice from a virtio disk, hashing it and writing it to FAT, emulated.
const APPLY: Duration = Duration::from_secs(300);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(command: &mut Command) -> Result<String, Error> {
    let out = command
        .output()
        .map_err(|e| Error(format!("{command:?}: {e}")))?;
    if !out.status.success() {
        return Err(Error(format!(
            "{command:?}: {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Builds the qemu-x86_64 image at `version` into out/lab-update/VERSION; its update file.
fn build_update(version: &str, break_balancer: bool) -> Result<PathBuf, Error> {
    let out = repo().join("out/lab-update").join(version);
    let mut command = Command::new(repo().join("scripts/build-image"));
    command
        .arg("qemu-x86_64")
        .env("LVSFW_OUT", &out)
        .env("LVSFW_VERSION", version)
        .env(
            "LVSFW_TEST_BREAK_BALANCER",
            if break_balancer { "1" } else { "0" },
        );
    run(&mut command)?;
    Ok(out.join(format!("lvsfw-{version}.update")))
}

/// The update file as a raw disk: QEMU wants whole sectors.
fn update_disk(lab: &Lab, update: &Path, name: &str) -> Result<PathBuf, Error> {
    let disk = lab.dir.join(format!("{name}.disk"));
    std::fs::copy(update, &disk)?;
    let file = std::fs::OpenOptions::new().write(true).open(&disk)?;
    let len = file.metadata()?.len();
    file.set_len(len.div_ceil(512) * 512)?;
    Ok(disk)
}

/// A copy of the built disk image whose kernel command line has `lvsfw.nologin` (the
/// console opens at the prompt, as in the other system tests); its version.
fn boot_disk(lab: &Lab) -> Result<(PathBuf, String), Error> {
    let image_dir = lvsfw_lab::image_dir();
    let image = built_image(&image_dir)?;
    let version = std::fs::read_to_string(image_dir.join("version"))?
        .trim()
        .to_string();
    let copy = lab.dir.join("lb1.img");
    copy_with_cmdline(&image, &copy, "lvsfw.nologin")?;
    Ok((copy, version))
}

/// The `show slots` line of `slot`.
fn slot_line(slots: &str, slot: &str) -> String {
    slots
        .lines()
        .find(|l| l.starts_with(&format!("slot {slot} ")))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn an_update_is_kept_when_it_comes_up_and_left_by_itself_when_it_does_not() -> Result<(), Error> {
    let good = build_update("lab-v2", false)?;
    let broken = build_update("lab-broken", true)?;
    let mut lab = Lab::new("update", false)?;
    let (disk, v1) = boot_disk(&lab)?;
    let extra_disks = vec![
        update_disk(&lab, &good, "v2")?,
        update_disk(&lab, &broken, "broken")?,
    ];
    let payload_bytes = std::fs::metadata(&good)?.len();
    let started = Instant::now();
    let mut lb1 = lab.boot(ApplianceSpec {
        name: "lb1".into(),
        boot: Boot::Bios(disk),
        extra_disks,
        ..ApplianceSpec::default()
    })?;
    lb1.wait_for(
        &format!("running slot A (version {v1}), the good slot"),
        BOOT,
    )?;
    lb1.wait_for("ready: the configuration is applied", BOOT)?;
    println!("booted from the disk image in {:?}", started.elapsed());

    // A second version: written to slot B, tried once at the next boot.
    let applying = Instant::now();
    let said = lb1.command("update /dev/vdb", APPLY)?;
    let apply_time = applying.elapsed();
    assert!(
        said.contains("slot B now holds version lab-v2"),
        "update said:\n{said}"
    );
    println!("update of {payload_bytes} bytes applied in {apply_time:?}: {said}");
    let slots = lb1.command("show slots", Duration::from_secs(30))?;
    assert!(
        slot_line(&slots, "A").contains(&v1) && slot_line(&slots, "A").contains("running, good"),
        "{slots}"
    );
    assert!(
        slot_line(&slots, "B").contains("lab-v2")
            && slot_line(&slots, "B").contains("the next boot tries it once"),
        "{slots}"
    );

    let rebooted = Instant::now();
    lb1.send_line("reboot")?;
    lb1.wait_for("trying slot B (version lab-v2) once", BOOT)?;
    lb1.wait_for("slot B marked good (version lab-v2)", BOOT)?;
    println!(
        "the new version was marked good {:?} after reboot",
        rebooted.elapsed()
    );
    lb1.wait_for("lvsfw> ", Duration::from_secs(10))?;
    let slots = lb1.command("show slots", Duration::from_secs(30))?;
    assert!(
        slots.contains("running version lab-v2 from slot B"),
        "{slots}"
    );
    assert!(slot_line(&slots, "B").contains("running, good"), "{slots}");
    assert!(
        slot_line(&slots, "A").contains(&v1) && !slot_line(&slots, "A").contains("good"),
        "{slots}"
    );

    // An image whose balancer fails: into slot A (B runs), tried once, left by itself.
    let said = lb1.command("update /dev/vdc", APPLY)?;
    assert!(
        said.contains("slot A now holds version lab-broken"),
        "update said:\n{said}"
    );
    let rebooted = Instant::now();
    lb1.send_line("reboot")?;
    lb1.wait_for("trying slot A (version lab-broken) once", BOOT)?;
    lb1.wait_for("this test image's balancer fails at start on purpose", BOOT)?;
    lb1.wait_for(
        "slot A (version lab-broken) failed its trial: the balancer failed 3 times before it was ready; rebooting to slot B (version lab-v2)",
        BOOT,
    )?;
    lb1.wait_for("running slot B (version lab-v2), the good slot", BOOT)?;
    println!(
        "back on the good version {:?} after the reboot into the broken one",
        rebooted.elapsed()
    );
    lb1.wait_for("ready: the configuration is applied", BOOT)?;
    lb1.wait_for("lvsfw> ", Duration::from_secs(10))?;
    let slots = lb1.command("show slots", Duration::from_secs(30))?;
    assert!(
        slots.contains("running version lab-v2 from slot B"),
        "{slots}"
    );
    assert!(slot_line(&slots, "B").contains("running, good"), "{slots}");
    assert!(
        slot_line(&slots, "A").contains("lab-broken") && !slot_line(&slots, "A").contains("good"),
        "{slots}"
    );
    Ok(())
}
