//! Issues 8 and 15, end to end: the disk image booted through grub; every kind of bad
//! update refused with the ESP (both slots, grubenv) the same bytes after it; a signed
//! second version applied with `update` and kept after its trial boot; an image whose
//! balancer fails to start applied, and after its trial the box is back on the version
//! before by itself; an older version only with `--allow-downgrade`. Under SeaBIOS on
//! qemu-x86_64, and an update kept under UEFI on pc-x86_64.
//!
//! The update files are built with the lab's `updates` helpers (scripts/build-image into
//! out/lab-update/, as tests/update_page.rs builds them); the bad ones are made from them
//! with the built `lvsfw update pack`. They reach the box as raw disks (/dev/vdb, ...):
//! the console cannot carry 16 MB.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lvsfw_lab::disk_image::esp_bytes;
use lvsfw_lab::updates::{boot_disk, build, signing_key, slot_line, unknown_key, version_after};
use lvsfw_lab::{Appliance, ApplianceSpec, Boot, Error, Lab, Moments};

/// A boot through SeaBIOS or OVMF and grub under TCG, up to the balancer being ready.
const BOOT: Duration = Duration::from_secs(180);
/// Reading 16 MB twice from a virtio disk, hashing it and writing it to FAT, emulated.
const APPLY: Duration = Duration::from_secs(300);
const SHORT: Duration = Duration::from_secs(30);

/// An update file as a raw disk: QEMU wants whole sectors (zeros after the end).
fn update_disk(lab: &Lab, update: &Path, name: &str) -> Result<PathBuf, Error> {
    let disk = lab.dir.join(format!("{name}.disk"));
    std::fs::copy(update, &disk)?;
    let file = std::fs::OpenOptions::new().write(true).open(&disk)?;
    let len = file.metadata()?.len();
    file.set_len(len.div_ceil(512) * 512)?;
    Ok(disk)
}

/// `update DISK` is refused with `says`, and the ESP (both slots, grubenv, grub) is the
/// same bytes after it.
fn refused(
    lb1: &mut Appliance,
    image: &Path,
    what: &str,
    disk: &str,
    says: &str,
) -> Result<(), Error> {
    let before = esp_bytes(image)?;
    let said = lb1.command(&format!("update {disk}"), APPLY)?;
    // The refusal's own line (log lines, such as the audit trail's for this command,
    // may come after it on the console).
    assert!(
        said.lines()
            .any(|l| l.contains(says) && l.trim_end().ends_with("; nothing changed")),
        "{what} ({disk}): update said:\n{said}"
    );
    assert!(
        esp_bytes(image)? == before,
        "{what}: the ESP changed after a refused update"
    );
    println!("{what}: refused, ESP unchanged: {}", said.trim());
    Ok(())
}

/// Boots `image` and waits until the balancer is ready on `slot`'s `version`.
fn boot(lab: &mut Lab, spec: ApplianceSpec, version: &str) -> Result<Appliance, Error> {
    let mut lb1 = lab.boot(spec)?;
    // PID 1's trial line and the balancer's ready line come in either order.
    lb1.wait_for_all(
        &[
            &format!("running slot A (version {version}), the good slot"),
            "ready: the configuration is applied",
        ],
        BOOT,
    )?;
    lb1.wait_for("lvsfw> ", SHORT)?;
    Ok(lb1)
}

/// `reboot`, then the trial of `slot` at `version` is marked good.
fn reboot_into(lb1: &mut Appliance, slot: &str, version: &str) -> Result<Duration, Error> {
    let rebooted = Instant::now();
    lb1.send_line("reboot")?;
    lb1.wait_for(
        &format!("trying slot {slot} (version {version}) once"),
        BOOT,
    )?;
    lb1.wait_for(
        &format!("slot {slot} marked good (version {version})"),
        BOOT,
    )?;
    let took = rebooted.elapsed();
    lb1.wait_for("lvsfw> ", SHORT)?;
    Ok(took)
}

#[test]
fn bad_updates_change_nothing_a_signed_one_is_kept_and_a_failing_one_left() -> Result<(), Error> {
    let mut lab = Lab::new("update", false)?;
    let image = lab.dir.join("lb1.img");
    let v1 = boot_disk("qemu-x86_64", &image)?;
    let v2 = build(
        "qemu-x86_64",
        &version_after(&v1.version, 1, "lab-v2"),
        false,
    )?;
    let broken = build(
        "qemu-x86_64",
        &version_after(&v1.version, 2, "lab-broken"),
        true,
    )?;

    // The bad ones, each a kind the issue names, from the signed v2.
    let key = signing_key();
    let bad = lab.dir.join("bad");
    std::fs::create_dir_all(&bad)?;
    let good_bytes = std::fs::read(v2.update())?;
    let mut moments = Moments::from_clock("the flipped bit and the cut");
    let write = |name: &str, bytes: &[u8]| -> Result<PathBuf, Error> {
        let path = bad.join(name);
        std::fs::write(&path, bytes)?;
        Ok(path)
    };
    let mut unsigned = good_bytes.clone();
    unsigned[8] = 1; // format 1: checksummed, not signed
    let mut flipped = good_bytes.clone();
    let at = moments.next_below(flipped.len() as u64) as usize;
    let bit = moments.next_below(8);
    flipped[at] ^= 1 << bit;
    let cut = 1 + moments.next_below(good_bytes.len() as u64 - 1) as usize;
    println!(
        "bit {bit} of byte {at} flipped; cut after byte {cut} of {}",
        good_bytes.len()
    );
    let other_key = unknown_key(&bad.join("other.pem"))?;
    let older = version_after(&v1.version, -1, "lab-old");
    let huge = bad.join("huge-initrd");
    std::fs::File::create(&huge)?.set_len(36 << 20)?;
    let big = bad.join("big-initrd");
    std::fs::File::create(&big)?.set_len(14 << 20)?;
    let v2_version = v2.version.as_str();
    let cases: Vec<(&str, PathBuf, String)> = vec![
        (
            "unsigned",
            write("unsigned", &unsigned)?,
            "unsigned: an update of format 1".into(),
        ),
        (
            "signed by an unknown key",
            v2.pack(
                &bad.join("other-key"),
                &["--version", v2_version],
                &other_key,
            )?,
            "which this firmware does not trust".into(),
        ),
        // A disk ends at a whole sector: a cut is seen as one, or as damage when it falls
        // in the last sector (zeros follow it).
        (
            "one bit flipped",
            write("flipped", &flipped)?,
            String::new(),
        ),
        (
            "cut at a random byte",
            write("cut", &good_bytes[..cut])?,
            String::new(),
        ),
        (
            "for another board",
            v2.pack(
                &bad.join("board"),
                &["--board", "pc-x86_64", "--version", v2_version],
                &key,
            )?,
            "built for board \"pc-x86_64\", but this is board \"qemu-x86_64\"".into(),
        ),
        (
            "older",
            v2.pack(&bad.join("older"), &["--version", &older], &key)?,
            format!(
                "version {older} is older than the running version {}",
                v1.version
            ),
        ),
        (
            "too big",
            v2.pack(
                &bad.join("huge"),
                &["--version", v2_version, "--initrd", &huge.to_string_lossy()],
                &key,
            )?,
            "too big: ".into(),
        ),
        (
            "more than the ESP holds",
            v2.pack(
                &bad.join("big"),
                &["--version", v2_version, "--initrd", &big.to_string_lossy()],
                &key,
            )?,
            "too big for this box".into(),
        ),
    ];
    let mut extra_disks = vec![
        update_disk(&lab, &v2.update(), "v2")?,
        update_disk(&lab, &broken.update(), "broken")?,
        update_disk(&lab, &v1.update(), "v1")?,
    ];
    for (i, (_, file, _)) in cases.iter().enumerate() {
        extra_disks.push(update_disk(&lab, file, &format!("bad{i}"))?);
    }
    let disk_name = |i: usize| format!("/dev/vd{}", (b'b' + i as u8) as char);

    let started = Instant::now();
    let mut lb1 = boot(
        &mut lab,
        ApplianceSpec {
            name: "lb1".into(),
            boot: Boot::Bios(image.clone()),
            extra_disks,
            ..ApplianceSpec::default()
        },
        &v1.version,
    )?;
    println!("booted from the disk image in {:?}", started.elapsed());
    let slots = lb1.command("show slots", SHORT)?;
    assert!(
        slot_line(&slots, "A").contains(&v1.version)
            && slot_line(&slots, "A").contains("running, good, signed by dev ("),
        "{slots}"
    );

    for (i, (what, _, says)) in cases.iter().enumerate() {
        refused(&mut lb1, &image, what, &disk_name(3 + i), says)?;
    }

    // The signed second version: written to slot B, tried once at the next boot.
    let payload_bytes = std::fs::metadata(v2.update())?.len();
    let applying = Instant::now();
    let said = lb1.command(&format!("update {}", disk_name(0)), APPLY)?;
    let apply_time = applying.elapsed();
    assert!(
        said.contains(&format!(
            "slot B now holds version {v2_version} signed by dev ("
        )),
        "update said:\n{said}"
    );
    println!("update of {payload_bytes} bytes applied in {apply_time:?}: {said}");
    let slots = lb1.command("show slots", SHORT)?;
    assert!(
        slot_line(&slots, "A").contains(&v1.version)
            && slot_line(&slots, "A").contains("running, good"),
        "{slots}"
    );
    assert!(
        slot_line(&slots, "B").contains(v2_version)
            && slot_line(&slots, "B").contains("the next boot tries it once, signed by dev ("),
        "{slots}"
    );
    let took = reboot_into(&mut lb1, "B", v2_version)?;
    println!("the new version was marked good {took:?} after reboot");
    let slots = lb1.command("show slots", SHORT)?;
    assert!(
        slots.contains(&format!("running version {v2_version} from slot B")),
        "{slots}"
    );
    assert!(slot_line(&slots, "B").contains("running, good"), "{slots}");
    assert!(
        slot_line(&slots, "A").contains(&v1.version) && !slot_line(&slots, "A").contains("good"),
        "{slots}"
    );

    // An image whose balancer fails: into slot A (B runs), tried once, left by itself.
    let said = lb1.command(&format!("update {}", disk_name(1)), APPLY)?;
    assert!(
        said.contains(&format!("slot A now holds version {}", broken.version)),
        "update said:\n{said}"
    );
    let rebooted = Instant::now();
    lb1.send_line("reboot")?;
    lb1.wait_for(
        &format!("trying slot A (version {}) once", broken.version),
        BOOT,
    )?;
    lb1.wait_for("this test image's balancer fails at start on purpose", BOOT)?;
    lb1.wait_for(
        &format!(
            "slot A (version {}) failed its trial: the balancer failed 3 times before it was ready; \
             rebooting to slot B (version {v2_version})",
            broken.version
        ),
        BOOT,
    )?;
    lb1.wait_for_all(
        &[
            &format!("running slot B (version {v2_version}), the good slot"),
            "ready: the configuration is applied",
        ],
        BOOT,
    )?;
    println!(
        "back on the good version {:?} after the reboot into the broken one",
        rebooted.elapsed()
    );
    lb1.wait_for("lvsfw> ", SHORT)?;
    let slots = lb1.command("show slots", SHORT)?;
    assert!(
        slots.contains(&format!("running version {v2_version} from slot B")),
        "{slots}"
    );
    assert!(slot_line(&slots, "B").contains("running, good"), "{slots}");
    assert!(
        slot_line(&slots, "A").contains(&broken.version)
            && !slot_line(&slots, "A").contains("good"),
        "{slots}"
    );

    // Back to the first version: refused as older, taken when the operator says so.
    refused(
        &mut lb1,
        &image,
        "the first version again",
        &disk_name(2),
        &format!(
            "version {} is older than the running version {v2_version}",
            v1.version
        ),
    )?;
    let said = lb1.command(&format!("update --allow-downgrade {}", disk_name(2)), APPLY)?;
    assert!(
        said.contains(&format!(
            "slot A now holds version {} signed by dev (",
            v1.version
        )),
        "update --allow-downgrade said:\n{said}"
    );
    Ok(())
}

/// pc-x86_64 under UEFI (OVMF): a damaged update changes nothing, a signed one is
/// written, tried and kept, as on the qemu board under SeaBIOS.
#[test]
fn an_update_is_kept_under_uefi_on_the_pc_board() -> Result<(), Error> {
    let mut lab = Lab::new("update-pc", false)?;
    let image = lab.dir.join("lb1.img");
    let v1 = boot_disk("pc-x86_64", &image)?;
    let v2 = build("pc-x86_64", &version_after(&v1.version, 1, "lab-v2"), false)?;
    let mut damaged = std::fs::read(v2.update())?;
    let at = damaged.len() - 1000;
    damaged[at] ^= 0x80;
    let damaged_file = lab.dir.join("damaged.update");
    std::fs::write(&damaged_file, damaged)?;
    let extra_disks = vec![
        update_disk(&lab, &v2.update(), "v2")?,
        update_disk(&lab, &damaged_file, "damaged")?,
    ];
    let mut lb1 = boot(
        &mut lab,
        ApplianceSpec {
            name: "lb1".into(),
            boot: Boot::Uefi(image.clone()),
            extra_disks,
            // grub 2.06's UEFI loader needs more than 256 MiB for the generic kernel.
            memory_mib: 512,
            ..ApplianceSpec::default()
        },
        &v1.version,
    )?;
    refused(
        &mut lb1,
        &image,
        "a damaged initrd",
        "/dev/vdc",
        "file initrd is not what was signed",
    )?;
    let applying = Instant::now();
    let said = lb1.command("update /dev/vdb", APPLY)?;
    assert!(
        said.contains(&format!(
            "slot B now holds version {} signed by dev (",
            v2.version
        )),
        "update said:\n{said}"
    );
    println!(
        "pc-x86_64: update of {} bytes applied in {:?}",
        std::fs::metadata(v2.update())?.len(),
        applying.elapsed()
    );
    let took = reboot_into(&mut lb1, "B", &v2.version)?;
    println!("pc-x86_64 under UEFI: slot B marked good {took:?} after reboot");
    let slots = lb1.command("show slots", SHORT)?;
    assert!(
        slot_line(&slots, "B").contains("running, good, signed by dev ("),
        "{slots}"
    );
    Ok(())
}
