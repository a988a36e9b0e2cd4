//! Issue 14, defects 7 and 8, in the lab: a configuration disk whose saved record is
//! damaged is "could not read", not "nothing saved". The box puts nothing in service,
//! offers no first-boot setup (which would save the factory configuration over the
//! disk), leaves the disk as it is, and opens the recovery prompt; `factory-reset` there
//! erases the disk whole, and the next boot is a factory-new box's.

use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Duration;

use lvsfw_lab::{ApplianceSpec, Error, Lab};

const BOOT: Duration = Duration::from_secs(90);
const SHORT: Duration = Duration::from_secs(10);

/// A slot header with the store's magic, a length and a checksum that does not fit its
/// payload, which holds a secret: what a damaged disk (or a torn first save) looks like.
fn damage(disk: &std::path::Path) -> Result<(), Error> {
    let mut f = std::fs::OpenOptions::new().write(true).open(disk)?;
    let mut record = Vec::new();
    record.extend_from_slice(b"LVSFWCF1");
    record.extend_from_slice(&7u64.to_le_bytes());
    record.extend_from_slice(&64u32.to_le_bytes());
    record.extend_from_slice(&0xdead_beefu32.to_le_bytes());
    record.extend_from_slice(&[b'S'; 64]);
    f.write_all(&record)?;
    Ok(())
}

fn holds(disk: &std::path::Path, needle: &[u8]) -> Result<bool, Error> {
    let mut bytes = Vec::new();
    let mut f = std::fs::File::open(disk)?;
    f.seek(SeekFrom::Start(0))?;
    f.read_to_end(&mut bytes)?;
    Ok(bytes.windows(needle.len()).any(|w| w == needle))
}

#[test]
fn a_damaged_disk_opens_the_recovery_prompt_and_factory_reset_erases_it() -> Result<(), Error> {
    let mut lab = Lab::new("recovery", false)?;
    let disk = lab.disk("lb1")?;
    damage(&disk)?;
    let spec = ApplianceSpec {
        name: "lb1".into(),
        disk: Some(disk.clone()),
        login: true,
        ..ApplianceSpec::default()
    };
    let mut lb1 = lab.boot(spec)?;
    let said = lb1.console.wait_through("recovery> ", BOOT)?;
    assert!(
        said.contains("error: the saved configuration could not be read: config partition: a configuration was saved there but neither slot holds an intact one (damaged)"),
        "{said}"
    );
    assert!(
        !said.contains("First-boot setup"),
        "setup was offered:\n{said}"
    );
    // Nothing of the factory configuration in service, nothing written to the disk.
    assert!(
        holds(&disk, &[b'S'; 64])?,
        "the damaged record was overwritten"
    );
    for line in ["show config", "config save", "set password"] {
        lb1.send_line(line)?;
        lb1.wait_for(
            "error: not now: the saved configuration could not be read",
            SHORT,
        )?;
    }
    // Trying again changes nothing: the disk is still damaged.
    lb1.send_line("config restore")?;
    lb1.wait_for(
        "error: the saved configuration could not be read",
        Duration::from_secs(60),
    )?;
    lb1.wait_for("recovery> ", SHORT)?;
    // factory-reset: asked first, then the disk is erased whole and the box reboots.
    lb1.send_line("factory-reset")?;
    lb1.wait_for("Type \"yes\" to confirm: ", SHORT)?;
    lb1.send_line("yes")?;
    lb1.wait_for("the saved configuration is erased", Duration::from_secs(60))?;
    lb1.wait_for("init: rebooting", Duration::from_secs(20))?;
    lb1.wait_for("First-boot setup", BOOT)?;
    assert!(
        !holds(&disk, &[b'S'; 64])?,
        "the damaged record is still on the disk"
    );
    Ok(())
}
