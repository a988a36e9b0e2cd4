//! Issue 15, item 3: an update uploaded from the System page in a real browser (Debian's
//! chromium, headless) to a box booted from the disk image. An unsigned file is refused
//! with the ESP (both slots, grubenv) the same bytes after it; the signed update is
//! streamed into slot B while it arrives, and the page and `show slots` say so. The
//! box is set up at its console as an operator would on a factory-new one: the
//! management address, then the admin password.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use lvsfw_lab::browser::Browser;
use lvsfw_lab::disk_image::{board_dir, built_image, copy_with_cmdline, esp_bytes};
use lvsfw_lab::http::{request_tls, ApiSession};
use lvsfw_lab::seed::{MGMT_ADMIN, MGMT_LB};
use lvsfw_lab::{ApplianceSpec, Boot, Error, Lab, Net};

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

/// The System page's text after an upload (its message among the others).
fn message(b: &Browser) -> Result<String, Error> {
    assert!(b.url()?.ends_with("/system"), "{}", b.url()?);
    b.body_text()
}

#[test]
fn the_page_uploads_a_signed_update_and_an_unsigned_one_changes_nothing() -> Result<(), Error> {
    let mut lab = Lab::new("updpage", true)?;
    let admin = lab.add_host("admin", Net::Mgmt, &format!("{MGMT_ADMIN}/24"), None)?;
    let image_dir = board_dir("qemu-x86_64");
    let version = std::fs::read_to_string(image_dir.join("version"))?
        .trim()
        .to_string();
    let image = lab.dir.join("lb1.img");
    copy_with_cmdline(&built_image(&image_dir)?, &image, "lvsfw.nologin")?;
    // This build's own update (the same version is not older: it is taken), and the same
    // bytes marked unsigned (format 1: checksummed only).
    let signed = image_dir.join(format!("lvsfw-{version}.update"));
    let mut bytes = std::fs::read(&signed)?;
    bytes[8] = 1;
    let unsigned: PathBuf = lab.dir.join("unsigned.update");
    std::fs::write(&unsigned, &bytes)?;

    let mut lb1 = lab.boot(ApplianceSpec {
        name: "lb1".into(),
        boot: Boot::Bios(image.clone()),
        mgmt: true,
        ..ApplianceSpec::default()
    })?;
    lb1.wait_for("ready: the configuration is applied", BOOT)?;
    lb1.wait_for("lvsfw> ", SHORT)?;
    lb1.command(&format!("set interface mgmt address {MGMT_LB}/24"), SHORT)?;
    lb1.command("config apply", SHORT)?;
    lb1.send_line("set password")?;
    lb1.wait_for("New admin password: ", SHORT)?;
    lb1.send_line(PASSWORD)?;
    lb1.wait_for("New admin password again: ", SHORT)?;
    lb1.send_line(PASSWORD)?;
    lb1.wait_for("lvsfw> ", HASHING)?;
    lb1.command("config apply", SHORT)?;
    lb1.console.wait_anywhere(
        &format!("web: listening on https://{MGMT_LB}:443 on mgmt"),
        SHORT,
    )?;
    let (pin, _) = lb1.certificate()?;

    let b = Browser::start(&admin, &lab.dir, &pin)?;
    b.goto(&url("/login"))?;
    b.fill("#password", PASSWORD)?;
    b.submit("#login")?;
    assert!(b.url()?.ends_with("/status"), "{}", b.url()?);

    // Unsigned: refused as it arrives; nothing on the ESP changed.
    let before = esp_bytes(&image)?;
    b.goto(&url("/system"))?;
    b.choose_file("#update-file", &unsigned)?;
    b.submit_within("#upload-update", UPLOAD)?;
    let said = message(&b)?;
    assert!(
        said.contains("The update was not installed: ") && said.contains("unsigned"),
        "{said}"
    );
    assert!(
        esp_bytes(&image)? == before,
        "the ESP changed after a refused upload"
    );
    let refusal = said
        .lines()
        .find(|l| l.contains("not installed"))
        .unwrap_or_default();
    println!("unsigned upload refused, ESP unchanged: {refusal}");

    // Signed: streamed into slot B, while a script samples the balancer's memory
    // through the API once a second.
    let page = SocketAddr::new(MGMT_LB.parse().unwrap(), 443);
    let api = admin.in_netns(|| ApiSession::login(page, &pin, PASSWORD))??;
    let idle_kb = admin.in_netns(|| rss_kb(&api))??;
    let len = std::fs::metadata(&signed)?.len();
    b.goto(&url("/system"))?;
    b.choose_file("#update-file", &signed)?;
    let uploading = AtomicBool::new(true);
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
                    // A second upload while the page's is written.
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
            "Update written. slot B now holds version {version} signed by dev ("
        )),
        "{said}"
    );
    lb1.console
        .wait_anywhere("web: admin from 10.10.0.50", SHORT)?;
    let slots = lb1.command("show slots", SHORT)?;
    let b_line = slots
        .lines()
        .find(|l| l.starts_with("slot B "))
        .unwrap_or_default();
    assert!(
        b_line.contains(&version) && b_line.contains("the next boot tries it once"),
        "{slots}"
    );
    println!(
        "page upload of {len} bytes: {:.1} s from the click to the next page ({:.2} MB/s); \
         balancer RSS {idle_kb} KiB idle, {peak_kb} KiB at most while it ran (+{} KiB)",
        took.as_secs_f64(),
        len as f64 / 1e6 / took.as_secs_f64(),
        peak_kb.saturating_sub(idle_kb)
    );
    Ok(())
}
