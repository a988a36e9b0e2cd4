//! An appliance's serial console: everything it prints is kept (the last 4 MiB) and
//! logged to a file; tests wait for lines and type commands.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::command::Error;

const KEEP: usize = 4 << 20;

#[derive(Default)]
struct Transcript {
    /// Bytes dropped from the front to stay within KEEP.
    dropped: usize,
    bytes: Vec<u8>,
}

pub struct Console {
    stream: UnixStream,
    transcript: Arc<Mutex<Transcript>>,
    /// Absolute offset up to which `wait_for` has consumed the output.
    cursor: usize,
    log: PathBuf,
}

impl Console {
    /// Connects to QEMU's console socket, trying for up to `timeout` while QEMU starts.
    pub fn connect(socket: &Path, log: &Path, timeout: Duration) -> Result<Console, Error> {
        let deadline = Instant::now() + timeout;
        let stream = loop {
            match UnixStream::connect(socket) {
                Ok(s) => break s,
                Err(e) if Instant::now() >= deadline => {
                    return Err(Error(format!("console socket {}: {e}", socket.display())))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        let transcript = Arc::new(Mutex::new(Transcript::default()));
        let mut reader = stream.try_clone()?;
        let mut file = File::create(log)?;
        let shared = Arc::clone(&transcript);
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            // Ends when QEMU closes the socket (it exited or was killed).
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let _ = file.write_all(&buf[..n]);
                let mut t = shared.lock().unwrap_or_else(|p| p.into_inner());
                t.bytes.extend_from_slice(&buf[..n]);
                if t.bytes.len() > KEEP {
                    let excess = t.bytes.len() - KEEP;
                    t.bytes.drain(..excess);
                    t.dropped += excess;
                }
            }
        });
        Ok(Console {
            stream,
            transcript,
            cursor: 0,
            log: log.to_path_buf(),
        })
    }

    /// Everything still kept, as text.
    pub fn text(&self) -> String {
        let t = self.transcript.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&t.bytes).replace('\r', "")
    }

    fn tail(&self, lines: usize) -> String {
        let text = self.text();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Waits until a line containing `pattern` appears after everything matched so far;
    /// returns that line. The error shows the last 40 lines of the console.
    pub fn wait_for(&mut self, pattern: &str, timeout: Duration) -> Result<String, Error> {
        self.wait(pattern, timeout, false)
    }

    /// Like [`Console::wait_for`], but only once the line holding `pattern` has ended.
    pub fn wait_for_line(&mut self, pattern: &str, timeout: Duration) -> Result<String, Error> {
        self.wait(pattern, timeout, true)
    }

    fn wait(&mut self, pattern: &str, timeout: Duration, whole: bool) -> Result<String, Error> {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let t = self.transcript.lock().unwrap_or_else(|p| p.into_inner());
                let from = self.cursor.saturating_sub(t.dropped).min(t.bytes.len());
                let text = String::from_utf8_lossy(&t.bytes[from..]).into_owned();
                let found = text
                    .find(pattern)
                    .filter(|&at| !whole || text[at..].contains('\n'));
                if let Some(at) = found {
                    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
                    let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
                    // Only whole bytes of valid text are counted; lossless for ASCII logs.
                    self.cursor = t.dropped + from + line_end;
                    return Ok(text[line_start..line_end]
                        .trim_end_matches('\r')
                        .to_string());
                }
            }
            if Instant::now() >= deadline {
                return Err(self.not_seen(pattern, timeout));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until each of `patterns` appears after everything matched so far, in any
    /// order (lines of two processes, such as PID 1's and the balancer's, whose order is
    /// not fixed); then goes on after the last of them.
    pub fn wait_for_all(&mut self, patterns: &[&str], timeout: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let t = self.transcript.lock().unwrap_or_else(|p| p.into_inner());
                let from = self.cursor.saturating_sub(t.dropped).min(t.bytes.len());
                let text = String::from_utf8_lossy(&t.bytes[from..]).into_owned();
                let ends: Option<Vec<usize>> = patterns
                    .iter()
                    .map(|p| {
                        let at = text.find(p)?;
                        Some(text[at..].find('\n').map_or(text.len(), |i| at + i))
                    })
                    .collect();
                if let Some(ends) = ends {
                    self.cursor = t.dropped + from + ends.into_iter().max().unwrap_or(0);
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                return Err(self.not_seen(&patterns.join("\" and \""), timeout));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The error for a line that did not come: what was awaited, and the console's tail.
    fn not_seen(&self, pattern: &str, timeout: Duration) -> Error {
        Error(format!(
            "no console line with {pattern:?} within {timeout:?} (log: {})\n--- last lines ---\n{}",
            self.log.display(),
            self.tail(40)
        ))
    }

    /// Waits until `pattern` is anywhere in what the console kept, also before the last
    /// match: for lines whose order against the ones waited for is not fixed.
    pub fn wait_anywhere(&mut self, pattern: &str, timeout: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        while !self.text().contains(pattern) {
            if Instant::now() >= deadline {
                return Err(self.not_seen(pattern, timeout));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Like [`Console::wait_for`], but returns everything from the previous match up to
    /// and including the line with `pattern`: a command's whole output.
    pub fn wait_through(&mut self, pattern: &str, timeout: Duration) -> Result<String, Error> {
        self.through(pattern, timeout, false)
    }

    /// [`Console::wait_through`] up to the end of the line holding `pattern`.
    pub fn wait_through_line(&mut self, pattern: &str, timeout: Duration) -> Result<String, Error> {
        self.through(pattern, timeout, true)
    }

    fn through(&mut self, pattern: &str, timeout: Duration, whole: bool) -> Result<String, Error> {
        let start = self.cursor;
        self.wait(pattern, timeout, whole)?;
        let t = self.transcript.lock().unwrap_or_else(|p| p.into_inner());
        let from = start.saturating_sub(t.dropped).min(t.bytes.len());
        let to = self.cursor.saturating_sub(t.dropped).min(t.bytes.len());
        Ok(String::from_utf8_lossy(&t.bytes[from..to]).replace('\r', ""))
    }

    /// Types a line at the console, as an operator would.
    pub fn send_line(&mut self, line: &str) -> Result<(), Error> {
        self.stream.write_all(line.as_bytes())?;
        self.stream.write_all(b"\r")?;
        Ok(())
    }

    /// Sends raw bytes (garbage, control keys).
    pub fn send_bytes(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.stream.write_all(bytes)?;
        Ok(())
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }
}
