//! Writing an update into this box's other slot, from a file (`lvsfw update FILE`, the
//! console's `update`) or as an upload's bytes arrive (the page): the box's board,
//! running slot and version, its ESP and the keys this firmware trusts, put to
//! [`crate::install`]'s verifier.

use std::path::{Path, PathBuf};
use std::time::Instant;

use config::board;
use update::keys::Keyring;

/// This box's board name, from its board file.
fn board_name() -> Result<String, String> {
    let text = std::fs::read_to_string(paths::BOARD).map_err(|e| {
        format!(
            "{}: {e}: this box's board is unknown, so no update can be checked against it",
            paths::BOARD
        )
    })?;
    board::parse(&text)
        .map(|b| b.name)
        .map_err(|_| format!("{}: has errors; no update is applied", paths::BOARD))
}

/// The box an update goes to: its board, running slot and version, the ESP and the
/// keys this firmware trusts.
pub struct ThisBox {
    board: String,
    running: update::Slot,
    running_version: String,
    esp: PathBuf,
    keys: Keyring,
}

impl ThisBox {
    /// Read from the board file, the kernel command line and the ESP (mounted if needed).
    pub fn read() -> Result<ThisBox, String> {
        let board = board_name()?;
        let running = crate::running_slot().ok_or(
            "not booted from a disk image (no lvsfw.slot= on the kernel command line): there is no slot to update",
        )?;
        Ok(ThisBox {
            board,
            running,
            running_version: crate::running_version(),
            esp: crate::mount_esp()?,
            keys: Keyring::compiled(),
        })
    }

    fn target(&self, allow_downgrade: bool) -> crate::Target<'_> {
        crate::Target {
            esp: &self.esp,
            running: self.running,
            board: &self.board,
            running_version: &self.running_version,
            keys: &self.keys,
            allow_downgrade,
            lock: Path::new(paths::UPDATE_LOCK),
        }
    }

    /// What an install did and what the next boot does, for the operator (and the log).
    fn said(&self, done: &crate::Installed, started: Instant) -> String {
        let a = &done.accepted;
        let running = self.running;
        let mut line = format!(
            "slot {} now holds version {} signed by {} ({} bytes, written in {:.1} s); slot {running} keeps version {}",
            done.slot,
            a.manifest.version,
            a.signer,
            done.bytes,
            started.elapsed().as_secs_f64(),
            self.running_version,
        );
        if !done.kept.is_empty() {
            line.push_str(&format!(
                "; {} already there, not written again",
                done.kept.join(" and ")
            ));
        }
        if let Some(floor) = a.floor_after.as_ref().filter(|_| done.floor_raised) {
            line.push_str(&format!(
                "; this box refuses versions below {floor} from now on"
            ));
        }
        log::info!("update: {line}");
        format!(
            "{line}\nthe next boot (\"reboot\") tries slot {} once: it is kept when the balancer comes up, \
             otherwise the box returns to slot {running} by itself\n",
            done.slot
        )
    }
}

/// `lvsfw update [--allow-downgrade] FILE`; what it did, for the operator.
pub fn apply(file: &Path, allow_downgrade: bool) -> Result<String, String> {
    let started = Instant::now();
    let this = ThisBox::read()?;
    let done = crate::install_file(file, &this.target(allow_downgrade))?;
    Ok(this.said(&done, started))
}

/// An update uploaded to the page, written as its bytes arrive (it cannot be read twice,
/// so it is not verified whole first: see `crate::install`). Holds the update lock
/// from [`Upload::begin`] on: a second upload, or the console's `update`, is refused
/// meanwhile. Dropped unfinished, it is abandoned and the slot is what it was.
pub struct Upload {
    this: ThisBox,
    installing: crate::Installing,
    started: Instant,
}

impl Upload {
    pub fn begin(allow_downgrade: bool) -> Result<Upload, String> {
        let this = ThisBox::read()?;
        let installing = crate::Installing::begin(&this.target(allow_downgrade))?;
        Ok(Upload {
            this,
            installing,
            started: Instant::now(),
        })
    }
}

impl Upload {
    /// The next bytes of the update, as they arrive.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.installing.push(bytes)
    }

    /// The last bytes arrived: verify, put the slot's files in place, set grubenv; what
    /// was done, for the operator.
    pub fn finish(self) -> Result<String, String> {
        let Upload {
            this,
            installing,
            started,
        } = self;
        let done = installing.finish()?;
        Ok(this.said(&done, started))
    }
}
