//! At boot, before the balancer starts (`lvsfw config restore`, a child of PID 1): the
//! saved configuration and certificate go into service, the box's own certificate is
//! made if there is none yet, and the answer says what PID 1 opens on the console.
//!
//! "Could not read" is never "nothing saved": when the disk is there but cannot be read,
//! or holds what this firmware does not understand, nothing is put in service (no
//! addresses, no services: the image's factory configuration could collide with the
//! network the box stands in), the page stays closed, and nothing is written to the
//! disk, so that what is saved there survives until the operator decides.

use std::net::IpAddr;
use std::time::SystemTime;

use store::Store;

use super::disk::DiskError;
use super::exit_code::{NO_PASSWORD, RESTORE_FAILED};
use super::saved::{self, Restored};
use super::{password_of, remove_optional, running, tls, write, Paths};

/// What the console opens with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Boot {
    /// An admin password is set: the login.
    Login,
    /// None is set: first-boot setup.
    SetupDue,
    /// The saved configuration could not be read: why.
    Failed(String),
}

/// Boot's restore whole, as `lvsfw config restore` (and PID 1's own child) runs it: the
/// disk's configuration in service, the reason for a failure left in
/// [`paths::RESTORE_FAILED`] for the page, first-boot setup's defaults when no password
/// is set. `(exit code, what to print)`: 0 login, [`NO_PASSWORD`] setup,
/// [`RESTORE_FAILED`] the recovery prompt.
pub fn at_boot(paths: &Paths, certificate_later: bool) -> (u8, String) {
    let board = paths.board();
    let (boot, said) = restore_with(
        paths,
        super::disk::open(),
        board.as_ref(),
        SystemTime::now(),
        certificate_later,
    );
    let failed = std::path::Path::new(paths::RESTORE_FAILED);
    let code = match boot {
        Boot::Failed(why) => {
            let _ = paths::write_atomic(failed, format!("{why}\n").as_bytes(), true);
            RESTORE_FAILED
        }
        Boot::Login => {
            let _ = std::fs::remove_file(failed);
            0
        }
        Boot::SetupDue => {
            let _ = std::fs::remove_file(failed);
            setup_due(paths, board.as_ref())
        }
    };
    (code, said)
}

/// No admin password: first-boot setup is due; its defaults are left for PID 1.
pub fn setup_due(paths: &Paths, board: Option<&config::board::Board>) -> u8 {
    let board_hostname = board.and_then(|b| b.hostname.as_deref());
    let defaults = super::setup_defaults(paths, board_hostname);
    let _ = paths::write_atomic(
        std::path::Path::new(paths::SETUP_DEFAULTS),
        format!("{}\n", defaults.join("\n")).as_bytes(),
        true,
    );
    NO_PASSWORD
}

/// What the running configuration gives the certificate: the host name and the
/// management addresses (the page's own rule, [`crate::listen::listen_addresses`]).
pub fn certificate_names(
    paths: &Paths,
    board: Option<&config::board::Board>,
) -> (String, Vec<IpAddr>) {
    let config = running(paths)
        .ok()
        .and_then(|t| config::native::from_json(&t.native).ok());
    let hostname = config
        .as_ref()
        .and_then(|c| c.hostname.clone())
        .or_else(|| board.and_then(|b| b.hostname.clone()))
        .unwrap_or_else(|| "lvsfw".into());
    let mut addresses: Vec<IpAddr> = crate::listen::listen_addresses(board, config.as_ref())
        .iter()
        .map(|l| l.addr.ip())
        .collect();
    addresses.dedup();
    (hostname, addresses)
}

/// Restores what `disk` holds; `(what the console opens, what to print)`: the
/// certificate made at once (the tests' shorthand for [`restore_with`]).
#[cfg(test)]
pub fn restore(
    paths: &Paths,
    disk: Result<Store, DiskError>,
    board: Option<&config::board::Board>,
    now: SystemTime,
) -> (Boot, String) {
    restore_with(paths, disk, board, now, false)
}

/// [`restore`]; with `certificate_later` and no configuration disk (so nothing to save it on), the box's
/// own certificate is left to [`certificate_later`], which PID 1 runs once the
/// balancer has started: making one takes about a second at boot under emulation.
pub fn restore_with(
    paths: &Paths,
    disk: Result<Store, DiskError>,
    board: Option<&config::board::Board>,
    now: SystemTime,
    certificate_later: bool,
) -> (Boot, String) {
    let mut said = String::new();
    let restored = match &disk {
        Ok(store) => saved::restore(paths, store),
        Err(DiskError::Absent(why)) => {
            said.push_str(&format!("{why}: the configuration cannot be saved\n"));
            Ok(Restored::Nothing)
        }
        Err(DiskError::Broken(why)) => Err(why.clone()),
    };
    let restored = match restored {
        Ok(r) => r,
        Err(why) => {
            said.push_str(&format!(
                "error: the saved configuration could not be read: {why}\n\
                 nothing is put in service and the page stays closed; at the console: \
                 \"config restore\" tries again, \"factory-reset\" erases the disk\n"
            ));
            if let Err(e) = put_nothing_in_service(paths) {
                said.push_str(&format!("error: {e}\n"));
            }
            // The page can still say why it is closed over HTTPS: a certificate for
            // this boot only, not saved over what the disk may hold.
            let (hostname, addresses) = certificate_names(paths, board);
            if let Err(e) = tls::ensure_own(&paths.tls, &hostname, &addresses, now) {
                said.push_str(&format!("error: the page's certificate: {e}\n"));
            }
            return (Boot::Failed(why), said);
        }
    };
    said.push_str(match restored {
        Restored::Saved => "the saved configuration is in service\n",
        Restored::Nothing => {
            "nothing saved on the configuration disk: the factory configuration is in service\n"
        }
    });
    let later = certificate_later && matches!(disk, Err(DiskError::Absent(_)));
    let (hostname, addresses) = certificate_names(paths, board);
    let made = if later {
        Ok(None)
    } else {
        tls::ensure_own(&paths.tls, &hostname, &addresses, now)
    };
    match made {
        Ok(None) => {}
        Ok(Some(what)) => {
            said.push_str(&what);
            // Kept at once, so that the pin holds across reboots; the configuration
            // only if it came from the disk.
            let kept = match (&disk, &restored) {
                (Ok(store), Restored::Saved) => {
                    saved::save(paths, store, "boot (the page's new certificate)").map(|_| ())
                }
                (Ok(store), Restored::Nothing) => saved::save_certificate(paths, store),
                (Err(_), _) => Err("no configuration disk".into()),
            };
            match kept {
                Ok(()) => said.push_str("; saved\n"),
                Err(e) => said.push_str(&format!(
                    "; not saved ({}): a new one comes at the next boot\n",
                    e.trim_end()
                )),
            }
        }
        Err(e) => said.push_str(&format!("error: the page's certificate: {e}\n")),
    }
    if let Err(DiskError::Absent(_)) = &disk {
        // Nothing to save on: a reboot brings back the image's files, which run now.
        if let Err(e) = saved::remember_running(paths) {
            said.push_str(&format!("error: {e}\n"));
        }
    }
    let has_password = running(paths)
        .ok()
        .and_then(|t| password_of(&t.native))
        .is_some();
    (
        if has_password {
            Boot::Login
        } else {
            Boot::SetupDue
        },
        said,
    )
}

/// The second half of a boot without a configuration disk (`restore` with
/// `certificate_later`): the box's own certificate, when there is none yet; what to
/// print, the words `restore` would have said.
pub fn certificate_later(
    paths: &Paths,
    board: Option<&config::board::Board>,
    now: SystemTime,
) -> String {
    let (hostname, addresses) = certificate_names(paths, board);
    match tls::ensure_own(&paths.tls, &hostname, &addresses, now) {
        Ok(None) => String::new(),
        Ok(Some(what)) => {
            format!("{what}; not saved (no configuration disk): a new one comes at the next boot\n")
        }
        Err(e) => format!("error: the page's certificate: {e}\n"),
    }
}

/// An empty configuration in service: no addresses on any NIC, no services, no VRRP.
fn put_nothing_in_service(paths: &Paths) -> Result<(), String> {
    write(&paths.running_json, "{}\n")?;
    remove_optional(&paths.running_conf)?;
    remove_optional(&paths.candidate_json)?;
    remove_optional(&paths.candidate_conf)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FACTORY: &str = include_str!("../../../board/qemu-x86_64/config.json");

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_772_323_200)
    }

    struct Booting {
        _tmp: tempfile::TempDir,
        paths: Paths,
        disk: tempfile::NamedTempFile,
    }

    /// A box as it boots: the image's factory files, and a configuration disk.
    fn boot_files() -> Booting {
        let tmp = tempfile::tempdir().unwrap();
        let paths = Paths::under(tmp.path());
        write(&paths.running_json, FACTORY).unwrap();
        let disk = tempfile::NamedTempFile::new().unwrap();
        disk.as_file().set_len(1 << 20).unwrap();
        Booting {
            _tmp: tmp,
            paths,
            disk,
        }
    }

    fn store(b: &Booting) -> Result<Store, DiskError> {
        super::super::disk::open_path(b.disk.path()).map_err(DiskError::Broken)
    }

    fn pin(paths: &Paths) -> String {
        let (pair, _) = tls::served(&paths.tls).unwrap();
        web::certificate::summary(&pair.chain).unwrap().spki_sha256
    }

    #[test]
    fn a_new_box_makes_its_certificate_once_and_keeps_it_without_saving_the_factory_configuration()
    {
        let b = boot_files();
        let (boot, said) = restore(&b.paths, store(&b), None, now());
        assert_eq!(boot, Boot::SetupDue, "{said}");
        assert!(
            said.contains("made the box's own key and certificate; saved"),
            "{said}"
        );
        let first = pin(&b.paths);
        // The next boot: the image's files again, the same key from the disk, and still
        // nothing but the certificate saved.
        let again = boot_files();
        let next = Booting {
            disk: b.disk,
            ..again
        };
        let (boot, said) = restore(&next.paths, store(&next), None, now());
        assert_eq!(boot, Boot::SetupDue, "{said}");
        assert!(
            said.starts_with("nothing saved on the configuration disk"),
            "{said}"
        );
        assert_eq!(pin(&next.paths), first);
        assert_eq!(
            std::fs::read_to_string(&next.paths.running_json).unwrap(),
            FACTORY
        );
    }

    #[test]
    fn a_disk_that_cannot_be_read_puts_nothing_in_service_and_is_left_as_it_is() {
        for (what, bytes) in [
            (
                "an unknown format",
                &b"{\"format\":\"lvsfw-saved-9\",\"config.json\":\"{}\",\"keepalived.conf\":null}"
                    [..],
            ),
            ("not JSON", &b"\x00\x01garbage"[..]),
        ] {
            let b = boot_files();
            write(&b.paths.running_conf, "virtual_server 10.0.0.1 80 {\n}\n").unwrap();
            store(&b).unwrap().save(bytes).unwrap();
            let before = std::fs::read(b.disk.path()).unwrap();
            let (boot, said) = restore(&b.paths, store(&b), None, now());
            assert!(matches!(boot, Boot::Failed(_)), "{what}: {boot:?}");
            assert!(
                said.contains("error: the saved configuration could not be read"),
                "{said}"
            );
            assert_eq!(
                std::fs::read_to_string(&b.paths.running_json).unwrap(),
                "{}\n"
            );
            assert!(!b.paths.running_conf.exists(), "{what}");
            assert_eq!(
                std::fs::read(b.disk.path()).unwrap(),
                before,
                "{what}: the disk was written"
            );
        }
        // A disk that is there but does not work.
        let b = boot_files();
        let (boot, _) = restore(
            &b.paths,
            Err(DiskError::Broken(
                "the configuration disk at pci 0000:00:13.0 has no block device after 5 s".into(),
            )),
            None,
            now(),
        );
        assert_eq!(
            boot,
            Boot::Failed(
                "the configuration disk at pci 0000:00:13.0 has no block device after 5 s".into()
            )
        );
        assert_eq!(
            std::fs::read_to_string(&b.paths.running_json).unwrap(),
            "{}\n"
        );
    }

    #[test]
    fn without_a_disk_the_factory_configuration_runs_and_nothing_is_saved() {
        let b = boot_files();
        let (boot, said) = restore(
            &b.paths,
            Err(DiskError::Absent("no disk".into())),
            None,
            now(),
        );
        assert_eq!(boot, Boot::SetupDue);
        assert!(said.contains("not saved (no configuration disk)"), "{said}");
        assert_eq!(
            std::fs::read_to_string(&b.paths.running_json).unwrap(),
            FACTORY
        );
    }

    #[test]
    fn without_a_disk_the_certificate_can_come_after_the_restore_with_the_same_words() {
        let b = boot_files();
        let absent = || Err(DiskError::Absent("no disk".into()));
        let (boot, said) = restore_with(&b.paths, absent(), None, now(), true);
        assert_eq!(boot, Boot::SetupDue);
        assert!(!said.contains("certificate"), "{said}");
        assert!(tls::served(&b.paths.tls).is_err());
        let later = certificate_later(&b.paths, None, now());
        assert_eq!(
            later,
            "made the box's own key and certificate; not saved (no configuration disk): a new one comes at the next boot\n"
        );
        let first = pin(&b.paths);
        // Once made, nothing more (and the same key).
        assert_eq!(certificate_later(&b.paths, None, now()), "");
        assert_eq!(pin(&b.paths), first);
        // With a disk the certificate is made and saved during the restore, as before.
        let d = boot_files();
        let (_, said) = restore_with(&d.paths, store(&d), None, now(), true);
        assert!(
            said.contains("made the box's own key and certificate; saved"),
            "{said}"
        );
    }

    #[test]
    fn a_saved_configuration_with_a_password_opens_the_login() {
        let b = boot_files();
        super::super::set_password(&b.paths, "set at the console").unwrap();
        super::super::apply(&b.paths).unwrap();
        let s = store(&b).unwrap();
        restore(&b.paths, Ok(s), None, now());
        saved::save(&b.paths, &store(&b).unwrap(), "test").unwrap();
        let first = pin(&b.paths);
        let next = Booting {
            disk: b.disk,
            ..boot_files()
        };
        let (boot, said) = restore(&next.paths, store(&next), None, now());
        assert_eq!(boot, Boot::Login, "{said}");
        assert_eq!(said, "the saved configuration is in service\n");
        assert_eq!(pin(&next.paths), first);
    }
}
