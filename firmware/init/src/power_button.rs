//! The ACPI power button, as the kernel's `button` driver reports it through evdev.

use std::fs::{self, File};
use std::io::Read;
use std::os::fd::AsFd;
use std::path::Path;

/// EV_KEY and KEY_POWER from linux/input-event-codes.h.
const EV_KEY: u16 = 1;
const KEY_POWER: u16 = 116;
/// struct input_event on 64-bit: timeval (16 bytes), type u16, code u16, value i32.
const EVENT_SIZE: usize = 24;

pub struct PowerButton {
    file: File,
}

impl PowerButton {
    /// Opens every input device whose name says it is a power button.
    pub fn open_all(class_input: &Path, dev_input: &Path) -> Vec<PowerButton> {
        let Ok(entries) = fs::read_dir(class_input) else {
            return Vec::new();
        };
        let mut buttons = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with("event") {
                continue;
            }
            let device_name =
                fs::read_to_string(entry.path().join("device/name")).unwrap_or_default();
            if !device_name.trim().eq_ignore_ascii_case("power button") {
                continue;
            }
            match File::open(dev_input.join(&name)) {
                Ok(file) => buttons.push(PowerButton { file }),
                Err(e) => log::warn!("power button {name}: {e}"),
            }
        }
        buttons
    }

    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.file.as_fd()
    }

    /// Reads what is waiting; true if it holds a press of the power key.
    pub fn pressed(&mut self) -> bool {
        let mut buf = [0u8; EVENT_SIZE * 16];
        match self.file.read(&mut buf) {
            Ok(n) => has_power_press(&buf[..n]),
            Err(_) => false,
        }
    }
}

fn has_power_press(events: &[u8]) -> bool {
    events.chunks_exact(EVENT_SIZE).any(|e| {
        let kind = u16::from_ne_bytes([e[16], e[17]]);
        let code = u16::from_ne_bytes([e[18], e[19]]);
        let value = i32::from_ne_bytes([e[20], e[21], e[22], e[23]]);
        kind == EV_KEY && code == KEY_POWER && value == 1
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: u16, code: u16, value: i32) -> Vec<u8> {
        let mut e = vec![0u8; 16];
        e.extend(kind.to_ne_bytes());
        e.extend(code.to_ne_bytes());
        e.extend(value.to_ne_bytes());
        e
    }

    #[test]
    fn a_press_of_the_power_key_counts_and_nothing_else() {
        let sync = event(0, 0, 0);
        let press = [event(EV_KEY, KEY_POWER, 1), sync.clone()].concat();
        let release = [event(EV_KEY, KEY_POWER, 0), sync.clone()].concat();
        let other_key = event(EV_KEY, 30, 1);
        assert!(has_power_press(&press));
        assert!(!has_power_press(&release));
        assert!(!has_power_press(&other_key));
        assert!(!has_power_press(&press[..EVENT_SIZE - 1]));
    }
}
