//! Issue 15 through the page, in a real browser (Debian's chromium, headless), on a box
//! booted from the disk image and set up at its console as an operator would (the
//! management address, the admin password, saved):
//!
//! - every refused kind, each with every file of the ESP (both slots, grubenv, grub) the
//!   same bytes after it and a message that names what was wrong: from the System page
//!   unsigned, signed by an unknown key, one bit flipped at a random byte, another board,
//!   older; through `PUT /api/update` a body over the size limit (refused on its head),
//!   a payload too big for any update or for this box's ESP, a connection cut at a random
//!   byte, and a second upload while one is written;
//! - a signed second version streamed into slot B (the balancer's memory sampled
//!   meanwhile), the box rebooted from the page, slot B marked good after its trial, and
//!   the page, logged in again, showing the new version;
//! - a build whose balancer fails uploaded and rebooted into from the page: back on the
//!   good slot by itself;
//! - the first version again: refused as older, taken with the page's allow-downgrade box.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use lvsfw_lab::browser::Browser;
use lvsfw_lab::http::{request_tls, ApiSession};
use lvsfw_lab::seed::{MGMT_ADMIN, MGMT_LB};
use lvsfw_lab::updates::{
    boot_disk, build, esp_files, signing_key, slot_line, unknown_key, version_after, Build,
};
use lvsfw_lab::{pinned, Appliance, ApplianceSpec, Boot, Error, Host, Lab, Moments, Net};

const PASSWORD: &str = "correct horse";
/// A boot through SeaBIOS and grub under TCG, up to the balancer being ready.
const BOOT: Duration = Duration::from_secs(180);
/// 16 MB through TLS, verified, hashed and written to FAT, emulated.
const UPLOAD: Duration = Duration::from_secs(300);
const SHORT: Duration = Duration::from_secs(30);
/// The password's hash at the console, emulated.
const HASHING: Duration = Duration::from_secs(120);

fn url(path: &str) -> String {
    format!("https://{MGMT_LB}{path}")
}

/// The balancer's resident memory in KiB, as the API reports it.
fn rss_kb(api: &ApiSession) -> Result<u64, Error> {
    let status = api.json("/api/status")?;
    status["balancer_rss_kb"]
        .as_u64()
        .ok_or_else(|| Error(format!("no balancer_rss_kb in {status}")))
}

/// `PUT /api/update` with `body` in `api`'s session: status and text.
fn api_upload(api: &ApiSession, body: &[u8]) -> Result<(u16, String), Error> {
    let origin = ApiSession::origin(api.addr);
    let r = request_tls(
        api.addr,
        &api.pin,
        "PUT",
        "/api/update",
        &[
            ("Cookie", &api.cookie),
            ("X-CSRF-Token", &api.csrf),
            ("Content-Type", "application/octet-stream"),
            ("Origin", &origin),
        ],
        body,
    )?;
    Ok((r.status, r.text()))
}

/// `PUT /api/update` announcing a body of `length` bytes, of which only `sent` are sent
/// before the connection is closed: the whole answer as text (empty if none came).
fn api_cut(api: &ApiSession, length: usize, sent: &[u8]) -> Result<String, Error> {
    let head = format!(
        "PUT /api/update HTTP/1.1\r\nHost: {}\r\nCookie: {}\r\nX-CSRF-Token: {}\r\n\
         Origin: {}\r\nContent-Type: application/octet-stream\r\nContent-Length: {length}\r\n\
         Connection: close\r\n\r\n",
        api.addr,
        api.cookie,
        api.csrf,
        ApiSession::origin(api.addr)
    );
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(sent);
    pinned::raw(api.addr, &api.pin, &bytes, UPLOAD)
}

/// The line of an answer that says why (a JSON error, or a text body's last line).
fn answer_line(answer: &str) -> &str {
    let lines = || answer.lines().map(str::trim);
    lines()
        .find(|l| l.starts_with("\"error\""))
        .or_else(|| lines().rfind(|l| !l.is_empty()))
        .unwrap_or("")
}

/// The page's line after an upload: the message among the others on the System page.
fn message(b: &Browser) -> Result<String, Error> {
    assert!(b.url()?.ends_with("/system"), "{}", b.url()?);
    let text = b.body_text()?;
    Ok(text
        .lines()
        .find(|l| l.contains("The update was not installed") || l.contains("Update written"))
        .unwrap_or(&text)
        .to_string())
}

/// The System page's upload form with `file` (and the allow-downgrade box ticked if
/// `downgrade`): the message it answers with.
fn upload(b: &Browser, file: &Path, downgrade: bool) -> Result<String, Error> {
    b.goto(&url("/system"))?;
    if downgrade {
        b.click("#allow-downgrade")?;
    }
    b.choose_file("#update-file", file)?;
    b.submit_within("#upload-update", UPLOAD)?;
    message(b)
}

/// The ESP's files now, and a check that they are `before`'s.
struct Esp<'a> {
    image: &'a Path,
    scratch: PathBuf,
}

impl Esp<'_> {
    fn files(&self) -> Result<BTreeMap<String, Vec<u8>>, Error> {
        esp_files(self.image, &self.scratch)
    }

    /// `what` changed nothing: every file of the ESP is what it was.
    fn unchanged(&self, what: &str, before: &BTreeMap<String, Vec<u8>>) -> Result<(), Error> {
        let after = self.files()?;
        let changed: Vec<&String> = before
            .keys()
            .chain(after.keys())
            .filter(|k| before.get(*k) != after.get(*k))
            .collect();
        assert!(
            changed.is_empty(),
            "{what}: the ESP's files changed: {changed:?}"
        );
        Ok(())
    }
}

/// The line the balancer logs when the page listens (once a boot).
fn listening() -> String {
    format!("web: listening on https://{MGMT_LB}:443 on mgmt")
}

/// How many times the page has started listening since the box was first booted.
fn listened(lb1: &Appliance) -> usize {
    lb1.console.text().matches(&listening()).count()
}

/// Waits (bounded) until the page has started listening more than `times` times: up
/// again after a reboot.
fn wait_listening(lb1: &Appliance, times: usize) -> Result<(), Error> {
    let deadline = Instant::now() + BOOT;
    while listened(lb1) <= times {
        if Instant::now() > deadline {
            return Err(Error(format!(
                "the page did not listen again within {BOOT:?}"
            )));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

/// Logs in on the page in `b`.
fn log_in(b: &Browser) -> Result<(), Error> {
    b.goto(&url("/login"))?;
    b.fill("#password", PASSWORD)?;
    b.submit("#login")?;
    assert!(b.url()?.ends_with("/status"), "{}", b.url()?);
    Ok(())
}

/// The System page's Reboot form, as an operator sends it after an upload.
fn reboot_from_page(b: &Browser) -> Result<Instant, Error> {
    b.goto(&url("/system"))?;
    b.click("input[name=confirm]")?;
    let clicked = Instant::now();
    b.submit("#reboot")?;
    let said = b.body_text()?;
    assert!(said.contains("Rebooting."), "{said}");
    Ok(clicked)
}

/// The box's running version and slot B's line, as the page (logged in again) shows them.
fn page_versions(b: &Browser) -> Result<(String, String), Error> {
    b.goto(&url("/system"))?;
    let system = b.body_text()?;
    let firmware = system
        .lines()
        .find(|l| l.starts_with("Firmware"))
        .unwrap_or_default()
        .to_string();
    b.goto(&url("/status"))?;
    Ok((firmware, b.text("#slots")?))
}

/// Sets up a factory-new box at its console: the management address, the password, saved.
fn set_up(lb1: &mut Appliance) -> Result<(), Error> {
    lb1.wait_for("ready: the configuration is applied", BOOT)?;
    lb1.wait_for("lvsfw> ", SHORT)?;
    lb1.command(&format!("set interface mgmt address {MGMT_LB}/24"), SHORT)?;
    // The factory configuration's mgmt address moves: a change that rolls back by
    // itself unless confirmed (issue 20), and a save waits for the confirmation.
    let said = lb1.command("config apply", SHORT)?;
    assert!(said.contains("rolls back by itself"), "{said}");
    let said = lb1.command("config confirm", SHORT)?;
    assert!(said.contains("confirmed: the change stays"), "{said}");
    lb1.send_line("set password")?;
    lb1.wait_for("New admin password: ", SHORT)?;
    lb1.send_line(PASSWORD)?;
    lb1.wait_for("New admin password again: ", SHORT)?;
    lb1.send_line(PASSWORD)?;
    lb1.wait_for("lvsfw> ", HASHING)?;
    lb1.command("config apply", SHORT)?;
    let saved = lb1.command("config save", SHORT)?;
    // Not just "saved": the prompt says "(unsaved)" whatever the answer.
    assert!(saved.contains("is on the configuration disk"), "{saved}");
    lb1.console.wait_anywhere(&listening(), SHORT)?;
    Ok(())
}

/// The bad files, each a kind the issue names, from the signed `v2`; what the page
/// must say for each ("" where the place of the damage decides).
fn bad_files(
    dir: &Path,
    v1: &Build,
    v2: &Build,
    moments: &mut Moments,
) -> Result<Vec<(&'static str, PathBuf, String)>, Error> {
    std::fs::create_dir_all(dir)?;
    let good = std::fs::read(v2.update())?;
    let write = |name: &str, bytes: &[u8]| -> Result<PathBuf, Error> {
        let path = dir.join(name);
        std::fs::write(&path, bytes)?;
        Ok(path)
    };
    let mut unsigned = good.clone();
    unsigned[8] = 1; // format 1: checksummed, not signed
    let mut flipped = good.clone();
    let at = moments.next_below(flipped.len() as u64) as usize;
    let bit = moments.next_below(8);
    flipped[at] ^= 1 << bit;
    println!("bit {bit} of byte {at} of {} flipped", good.len());
    let other_key = unknown_key(&dir.join("other.pem"))?;
    let key = signing_key();
    let v2v = v2.version.as_str();
    let older = version_after(&v1.version, -1, "lab-old");
    Ok(vec![
        (
            "unsigned",
            write("unsigned", &unsigned)?,
            "unsigned: an update of format 1".into(),
        ),
        (
            "signed by an unknown key",
            v2.pack(&dir.join("other-key"), &["--version", v2v], &other_key)?,
            "which this firmware does not trust".into(),
        ),
        (
            "one bit flipped",
            write("flipped", &flipped)?,
            String::new(),
        ),
        (
            "for another board",
            v2.pack(
                &dir.join("board"),
                &["--board", "pc-x86_64", "--version", v2v],
                &key,
            )?,
            "built for board \"pc-x86_64\", but this is board \"qemu-x86_64\"".into(),
        ),
        (
            "older",
            v2.pack(&dir.join("older"), &["--version", &older], &key)?,
            format!(
                "version {older} is older than the running version {}",
                v1.version
            ),
        ),
    ])
}

/// Refusals through `PUT /api/update` that a browser cannot send: a body over the size
/// limit, payloads too big, a connection cut at a random byte. Each changes nothing.
fn api_refusals(
    admin: &Host,
    lb1: &mut Appliance,
    api: &ApiSession,
    esp: &Esp,
    v2: &Build,
    dir: &Path,
    moments: &mut Moments,
) -> Result<(), Error> {
    let key = signing_key();
    let v2v = v2.version.as_str();
    // Sparse initrds: one over the most any update may be, one more than the ESP holds.
    let huge = dir.join("huge-initrd");
    std::fs::File::create(&huge)?.set_len(36 << 20)?;
    let big = dir.join("big-initrd");
    std::fs::File::create(&big)?.set_len(14 << 20)?;
    let huge = v2.pack(
        &dir.join("huge"),
        &["--version", v2v, "--initrd", &huge.to_string_lossy()],
        &key,
    )?;
    let big = v2.pack(
        &dir.join("big"),
        &["--version", v2v, "--initrd", &big.to_string_lossy()],
        &key,
    )?;
    let good = std::fs::read(v2.update())?;
    let cut = 1 + moments.next_below(good.len() as u64 - 1) as usize;
    println!("the connection is cut after byte {cut} of {}", good.len());

    let before = esp.files()?;
    // Over the size limit: refused on the head, before a byte of the body is read.
    let said = admin.in_netns(|| api_cut(api, (64 << 20) + 1, b""))??;
    assert!(
        said.starts_with("HTTP/1.1 413") && said.contains("is larger than 67108864 bytes"),
        "{said}"
    );
    esp.unchanged("a body over the size limit", &before)?;
    println!("a body over the limit: {}", answer_line(&said));
    // Payloads whose header says they are too big: refused at the header (the client
    // sends the first MiB and ends, and reads the answer).
    for (what, file, says) in [
        ("too big for any update", &huge, "too big: "),
        ("more than the ESP holds", &big, "too big for this box"),
    ] {
        let bytes = std::fs::read(file)?;
        let said = admin.in_netns(|| api_cut(api, bytes.len(), &bytes[..1 << 20]))??;
        assert!(
            said.starts_with("HTTP/1.1 422") && said.contains(says),
            "{what}: {said}"
        );
        esp.unchanged(what, &before)?;
        println!("{what}: refused, ESP unchanged: {}", answer_line(&said));
    }
    // Cut at a random byte: the box sees the end of the connection, abandons what it
    // wrote and says so in its log.
    let said = admin.in_netns(|| api_cut(api, good.len(), &good[..cut]))??;
    let line = lb1.console.wait_for_line("upload stopped: ", UPLOAD)?;
    assert!(
        line.contains(&format!(
            "the upload ended after {cut} of {} bytes; nothing changed",
            good.len()
        )),
        "{line}\n{said}"
    );
    esp.unchanged("a connection cut at a random byte", &before)?;
    let logged = &line[line.find("web: ").unwrap_or(0)..];
    println!("cut at byte {cut}: refused, ESP unchanged: {logged}");
    Ok(())
}

#[test]
fn updates_through_the_page_refused_kept_and_left() -> Result<(), Error> {
    let mut lab = Lab::new("updpage", true)?;
    let admin = lab.add_host("admin", Net::Mgmt, &format!("{MGMT_ADMIN}/24"), None)?;
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
    let v2v = v2.version.as_str();
    let mut moments = Moments::from_clock("the flipped bit and the cut");
    let bad_dir = lab.dir.join("bad");
    let bad = bad_files(&bad_dir, &v1, &v2, &mut moments)?;
    let esp = Esp {
        image: &image,
        scratch: lab.dir.join("esp"),
    };

    let mut lb1 = lab.boot(ApplianceSpec {
        name: "lb1".into(),
        boot: Boot::Bios(image.clone()),
        mgmt: true,
        ..ApplianceSpec::default()
    })?;
    set_up(&mut lb1)?;
    let (pin, _) = lb1.certificate()?;
    let b = Browser::start(&admin, &lab.dir, &pin)?;
    log_in(&b)?;

    // --- Every kind of bad file from the System page: refused, nothing changed.
    for (what, file, says) in &bad {
        let before = esp.files()?;
        let said = upload(&b, file, false)?;
        assert!(
            said.contains("The update was not installed: ")
                && said.contains(says.as_str())
                && said.contains("nothing changed"),
            "{what}: {said}"
        );
        esp.unchanged(what, &before)?;
        println!("{what}: refused, ESP unchanged: {said}");
    }

    // --- What a browser cannot send, through the API.
    let page = SocketAddr::new(MGMT_LB.parse().unwrap(), 443);
    let api = admin.in_netns(|| ApiSession::login(page, &pin, PASSWORD))??;
    api_refusals(&admin, &mut lb1, &api, &esp, &v2, &bad_dir, &mut moments)?;

    // --- The signed second version, streamed into slot B while a script samples the
    // balancer's memory through the API once a second and tries a second upload.
    let idle_kb = admin.in_netns(|| rss_kb(&api))??;
    let len = std::fs::metadata(v2.update())?.len();
    b.goto(&url("/system"))?;
    b.choose_file("#update-file", &v2.update())?;
    let uploading = AtomicBool::new(true);
    let before_second = esp.files()?;
    let (took, (peak_kb, second)) = std::thread::scope(|scope| {
        let sampler = scope.spawn(|| {
            admin.in_netns(|| {
                let mut peak = idle_kb;
                let mut second = None;
                let started = Instant::now();
                let deadline = started + UPLOAD;
                while uploading.load(Ordering::SeqCst) && Instant::now() < deadline {
                    if let Ok(kb) = rss_kb(&api) {
                        peak = peak.max(kb);
                    }
                    if second.is_none() && started.elapsed() > Duration::from_secs(3) {
                        let answer = api_upload(&api, b"a second update");
                        second = Some((answer, uploading.load(Ordering::SeqCst)));
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
                (peak, second)
            })
        });
        let started = Instant::now();
        let submitted = b.submit_within("#upload-update", UPLOAD);
        let took = started.elapsed();
        uploading.store(false, Ordering::SeqCst);
        let sampled = sampler
            .join()
            .map_err(|_| Error("the sampler panicked".into()))??;
        submitted.map(|_| (took, sampled))
    })?;
    // Answered while the page's upload was still being written: refused.
    match &second {
        Some((answer, true)) => {
            let (status, text) = answer.as_ref().map_err(|e| Error(e.0.clone()))?;
            assert_eq!(*status, 409, "{text}");
            assert!(text.contains("another update is being written"), "{text}");
            println!(
                "a second upload during the first: {status} {}",
                text.split_whitespace().collect::<Vec<_>>().join(" ")
            );
        }
        _ => println!("the upload ended before a second one could be tried: {second:?}"),
    }
    let said = message(&b)?;
    assert!(
        said.contains(&format!(
            "Update written. slot B now holds version {v2v} signed by dev ("
        )) && said.contains("Reboot below to try it"),
        "{said}"
    );
    let after = esp.files()?;
    assert!(
        after.keys().any(|k| k.starts_with("B/")) && after != before_second,
        "slot B was not written: {:?}",
        after.keys().collect::<Vec<_>>()
    );
    println!(
        "page upload of {len} bytes: {:.1} s from the click to the next page ({:.2} MB/s); \
         balancer RSS {idle_kb} KiB idle, {peak_kb} KiB at most while it ran (+{} KiB)",
        took.as_secs_f64(),
        len as f64 / 1e6 / took.as_secs_f64(),
        peak_kb.saturating_sub(idle_kb)
    );

    // --- Rebooted from the page into it: tried once, marked good, shown by the page.
    let times = listened(&lb1);
    let clicked = reboot_from_page(&b)?;
    lb1.wait_for(&format!("trying slot B (version {v2v}) once"), BOOT)?;
    lb1.wait_for(&format!("slot B marked good (version {v2v})"), BOOT)?;
    println!(
        "slot B marked good {:.1} s after the page's reboot",
        clicked.elapsed().as_secs_f64()
    );
    lb1.wait_for("lvsfw> ", SHORT)?;
    wait_listening(&lb1, times)?;
    log_in(&b)?;
    let (firmware, slots) = page_versions(&b)?;
    assert!(firmware.contains(v2v), "{firmware}");
    assert!(
        slots
            .lines()
            .any(|l| l.starts_with("B ") && l.contains(v2v) && l.contains("running, good")),
        "{slots}"
    );
    println!("the page after the reboot: {firmware}");

    // --- A build whose balancer fails, rebooted into from the page: back on B by itself.
    let said = upload(&b, &broken.update(), false)?;
    assert!(
        said.contains(&format!("slot A now holds version {}", broken.version)),
        "{said}"
    );
    let times = listened(&lb1);
    let clicked = reboot_from_page(&b)?;
    lb1.wait_for(
        &format!("trying slot A (version {}) once", broken.version),
        BOOT,
    )?;
    lb1.wait_for("this test image's balancer fails at start on purpose", BOOT)?;
    lb1.wait_for(
        &format!(
            "slot A (version {}) failed its trial: the balancer failed 3 times before it was \
             ready; rebooting to slot B (version {v2v})",
            broken.version
        ),
        BOOT,
    )?;
    lb1.wait_for_all(
        &[
            &format!("running slot B (version {v2v}), the good slot"),
            "ready: the configuration is applied",
        ],
        BOOT,
    )?;
    println!(
        "back on slot B {:.1} s after the page's reboot into the broken build",
        clicked.elapsed().as_secs_f64()
    );
    // The broken build's balancer never listened: once more means slot B's is up.
    wait_listening(&lb1, times)?;
    log_in(&b)?;
    let (firmware, slots) = page_versions(&b)?;
    assert!(firmware.contains(v2v), "{firmware}");
    assert!(
        slots
            .lines()
            .any(|l| l.starts_with("B ") && l.contains("running, good"))
            && slots
                .lines()
                .any(|l| l.starts_with("A ") && l.contains(&broken.version) && !l.contains("good")),
        "{slots}"
    );
    let shown = lb1.command("show slots", SHORT)?;
    assert!(slot_line(&shown, "B").contains("running, good"), "{shown}");

    // --- The first version again: older than what runs, so refused; then taken with
    // the page's allow-downgrade box.
    let before = esp.files()?;
    let said = upload(&b, &v1.update(), false)?;
    assert!(
        said.contains(&format!(
            "version {} is older than the running version {v2v}",
            v1.version
        )) && said.contains("the box \"Take an older version\" on the page")
            && said.contains("nothing changed"),
        "{said}"
    );
    esp.unchanged("the first version again", &before)?;
    println!("the first version again: refused, ESP unchanged: {said}");
    let said = upload(&b, &v1.update(), true)?;
    assert!(
        said.contains(&format!(
            "Update written. slot A now holds version {} signed by dev (",
            v1.version
        )),
        "{said}"
    );
    println!("with allow-downgrade ticked: {said}");
    Ok(())
}
