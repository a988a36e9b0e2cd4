//! A real browser for the page: Debian's chromium, headless, driven by chromedriver
//! over the W3C WebDriver protocol (JSON over HTTP), both in a lab host's namespace.
//!
//! chromedriver runs in a process group of its own; dropping the [`Browser`] ends the
//! session (chromium exits) and then signals that group by its id, so no browser is left
//! behind, also after a failed test.

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};

use crate::command::Error;
use crate::http::Connection;
use crate::lab::Host;

/// chromedriver's port inside the host's namespace (which nothing else uses).
/// How long a page may take to load (TCG, TLS, a page of the box's).
const PAGE_LOAD: Duration = Duration::from_secs(60);
const PORT: u16 = 9515;
/// The key WebDriver names an element by.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    host: Host,
    driver: Child,
    session: String,
    pub log: PathBuf,
}

/// One element of the current page.
#[derive(Debug, Clone)]
pub struct Element(String);

impl Browser {
    /// Starts chromedriver in `host`'s namespace and a headless chromium session; their
    /// logs and chromium's profile go to `dir`. `spki_pin`: the page's certificate,
    /// trusted by its key only (chromium's `--ignore-certificate-errors-spki-list`: an
    /// error of a certificate with that key is ignored, of any other it is not).
    pub fn start(host: &Host, dir: &Path, spki_pin: &str) -> Result<Browser, Error> {
        let log = dir.join(format!("chromedriver-{}.log", host.name));
        let profile = dir.join(format!("chromium-profile-{}", host.name));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile)?;
        // chromedriver reads DevToolsActivePort from this path: give it one without "..".
        let profile = std::fs::canonicalize(&profile)?;
        let out = std::fs::File::create(&log)?;
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &host.namespace, "chromedriver"])
            .arg(format!("--port={PORT}"))
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .process_group(0);
        // SAFETY: prctl is async-signal-safe; chromedriver dies with the test process.
        unsafe {
            command.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)
            });
        }
        let driver = command
            .spawn()
            .map_err(|e| Error(format!("starting chromedriver: {e}")))?;
        let mut browser = Browser {
            host: host.clone(),
            driver,
            session: String::new(),
            log,
        };
        // chromedriver answers /status once it listens.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match browser.call("GET", "/status", None) {
                Ok(_) => break,
                Err(e) if Instant::now() >= deadline => {
                    return Err(Error(format!("chromedriver did not start: {e}")))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1000,1400",
                    format!("--user-data-dir={}", profile.display()),
                    format!("--ignore-certificate-errors-spki-list={spki_pin}"),
                ]
            }
        }}});
        let v = browser.call("POST", "/session", Some(capabilities))?;
        browser.session = v["sessionId"]
            .as_str()
            .ok_or_else(|| Error(format!("no session in {v}")))?
            .to_string();
        browser.call(
            "POST",
            &browser.path("/timeouts"),
            Some(
                json!({"pageLoad": PAGE_LOAD.as_millis() as u64, "implicit": 0, "script": 10_000}),
            ),
        )?;
        Ok(browser)
    }

    /// How long a command waits for a page to load from now on.
    fn page_load(&self, limit: Duration) -> Result<(), Error> {
        self.call(
            "POST",
            &self.path("/timeouts"),
            Some(json!({ "pageLoad": limit.as_millis() as u64 })),
        )
        .map(|_| ())
    }

    fn path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    /// One WebDriver command; its `value`, or the driver's error.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, Error> {
        self.call_within(method, path, body, Duration::from_secs(90))
    }

    /// [`Browser::call`] for a command that may take up to `limit` (a click that sends
    /// an upload waits for the next page).
    fn call_within(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        limit: Duration,
    ) -> Result<Value, Error> {
        let addr = SocketAddr::from(([127, 0, 0, 1], PORT));
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let response = self.host.in_netns(|| {
            let mut c = Connection::open(addr, limit)?;
            c.request(
                method,
                path,
                &[
                    ("Connection", "close"),
                    ("Content-Type", "application/json; charset=utf-8"),
                ],
                body.as_bytes(),
            )
        })??;
        let v: Value = serde_json::from_slice(&response.body)
            .map_err(|e| Error(format!("{method} {path}: {e}: {}", response.text())))?;
        if response.status != 200 {
            return Err(Error(format!(
                "WebDriver {method} {path}: {} {}: {}",
                response.status, v["value"]["error"], v["value"]["message"]
            )));
        }
        Ok(v["value"].clone())
    }

    pub fn goto(&self, url: &str) -> Result<(), Error> {
        self.call("POST", &self.path("/url"), Some(json!({ "url": url })))
            .map(|_| ())
    }

    pub fn url(&self) -> Result<String, Error> {
        let v = self.call("GET", &self.path("/url"), None)?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    /// Sends the form of the button `css` (clicked by a script, so that nothing waits
    /// for the answer) whose answer may never come: the request moves the page's own
    /// address away. After `limit` chromium stops waiting for that page (a page-load
    /// timeout stops the load), so the next commands are not held up by it.
    pub fn send_without_answer(&self, css: &str, limit: Duration) -> Result<(), Error> {
        self.page_load(limit)?;
        let css_json = serde_json::to_string(css).unwrap_or_default();
        let sent = self.script(&format!(
            "setTimeout(() => document.querySelector({css_json}).click(), 0); return true;"
        ));
        std::thread::sleep(Duration::from_millis(500));
        // Waits for the page that does not come, at most `limit`: its error is expected.
        let _ = self.call_within(
            "GET",
            &self.path("/url"),
            None,
            limit + Duration::from_secs(30),
        );
        self.page_load(PAGE_LOAD)?;
        match sent {
            // The script returned, but chromium then waited for the page that does not
            // come (the click may start sending before the script's answer).
            Err(e) if e.0.contains("timeout") => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// The page's HTML as the browser holds it.
    pub fn source(&self) -> Result<String, Error> {
        let v = self.call("GET", &self.path("/source"), None)?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    /// The first element matching a CSS selector.
    pub fn find(&self, css: &str) -> Result<Element, Error> {
        let v = self.call(
            "POST",
            &self.path("/element"),
            Some(json!({"using": "css selector", "value": css})),
        )?;
        v[ELEMENT]
            .as_str()
            .map(|id| Element(id.to_string()))
            .ok_or_else(|| Error(format!("no element {css}")))
    }

    /// Types `text` into an element after clearing it.
    pub fn fill(&self, css: &str, text: &str) -> Result<(), Error> {
        let e = self.find(css)?;
        self.call(
            "POST",
            &self.path(&format!("/element/{}/clear", e.0)),
            Some(json!({})),
        )?;
        self.call(
            "POST",
            &self.path(&format!("/element/{}/value", e.0)),
            Some(json!({ "text": text })),
        )
        .map(|_| ())
    }

    pub fn click(&self, css: &str) -> Result<(), Error> {
        let e = self.find(css)?;
        self.call(
            "POST",
            &self.path(&format!("/element/{}/click", e.0)),
            Some(json!({})),
        )
        .map(|_| ())
    }

    /// Clicks a button that sends a form, and waits until the next page has replaced
    /// this one (the old page's root element has gone stale).
    pub fn submit(&self, css: &str) -> Result<(), Error> {
        self.submit_within(css, Duration::from_secs(60))
    }

    /// [`Browser::submit`] for a form whose next page takes up to `limit` (an upload).
    pub fn submit_within(&self, css: &str, limit: Duration) -> Result<(), Error> {
        let root = self.find("html")?;
        let e = self.find(css)?;
        self.page_load(limit)?;
        let clicked = self.call_within(
            "POST",
            &self.path(&format!("/element/{}/click", e.0)),
            Some(json!({})),
            limit + Duration::from_secs(30),
        );
        self.page_load(PAGE_LOAD)?;
        clicked?;
        let deadline = Instant::now() + limit;
        loop {
            let name = self.path(&format!("/element/{}/name", root.0));
            // While the page changes, chromium says either of these.
            let gone = match self.call("GET", &name, None) {
                Err(e) => ["stale element", "does not belong to the document"]
                    .iter()
                    .any(|m| e.0.contains(m)),
                Ok(_) => false,
            };
            if gone {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error(format!(
                    "clicking {css}: no new page within {limit:?}"
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Chooses `file` in a file input (WebDriver types its path into the input).
    pub fn choose_file(&self, css: &str, file: &Path) -> Result<(), Error> {
        let e = self.find(css)?;
        // chromedriver takes only a canonical path (no "..").
        let file = std::fs::canonicalize(file)?;
        let text = file.to_string_lossy();
        self.call(
            "POST",
            &self.path(&format!("/element/{}/value", e.0)),
            Some(json!({ "text": text })),
        )
        .map(|_| ())
    }

    /// The rendered text of an element.
    pub fn text(&self, css: &str) -> Result<String, Error> {
        let e = self.find(css)?;
        let v = self.call("GET", &self.path(&format!("/element/{}/text", e.0)), None)?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    /// The whole page's visible text.
    pub fn body_text(&self) -> Result<String, Error> {
        self.text("body")
    }

    /// Runs `js` (a function body that returns a value) in the page, as WebDriver's
    /// execute script does; for measuring the rendered page (the page itself runs none).
    pub fn script(&self, js: &str) -> Result<Value, Error> {
        self.call(
            "POST",
            &self.path("/execute/sync"),
            Some(json!({ "script": js, "args": [] })),
        )
    }

    /// A PNG of the window.
    pub fn screenshot(&self) -> Result<Vec<u8>, Error> {
        let v = self.call("GET", &self.path("/screenshot"), None)?;
        base64(v.as_str().unwrap_or_default())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.call("DELETE", &self.path(""), None);
        }
        // chromedriver and any chromium it left: the process group we made.
        let group = Pid::from_raw(-(self.driver.id() as i32));
        let _ = kill(group, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.driver.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = kill(group, Signal::SIGKILL);
        let _ = self.driver.wait();
    }
}

/// Standard base64 (RFC 4648) as WebDriver sends screenshots.
fn base64(text: &str) -> Result<Vec<u8>, Error> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
    {
        let v = value(c).ok_or_else(|| Error(format!("not base64: {:?}", c as char)))?;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_decodes() {
        assert_eq!(super::base64("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(super::base64("aGk=").unwrap(), b"hi");
        assert_eq!(super::base64("").unwrap(), b"");
        assert!(super::base64("a*").is_err());
    }
}
