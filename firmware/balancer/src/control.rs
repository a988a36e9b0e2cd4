//! The balancer's control socket: `lvsfw config apply` (a console job) asks the running
//! balancer to read its files again and waits for the truth of what it did, the same
//! [`Report`] the page's Apply gets. A unix stream socket only root can open; one request
//! at a time, each bounded in size and time.

use std::io::{Read as _, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::UnixListener;
use tokio::sync::mpsc;

use super::page::Reload;
use super::report::Report;

const REQUEST: &[u8] = b"reload\n";
/// How long a client may take to send its request.
const REQUEST_WAIT: Duration = Duration::from_secs(2);
/// How long a reload may take before the client is told to look at the status.
const RELOAD_WAIT: Duration = Duration::from_secs(60);
/// An answer larger than this is cut (a report of thousands of failures).
const ANSWER_MAX: u64 = 256 << 10;

/// Listens on `path` until the balancer ends; each request becomes a reload on
/// `reloads`, answered with its report as JSON.
pub async fn serve(path: &Path, reloads: mpsc::Sender<Reload>) {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    // A socket left by a balancer that died.
    let _ = std::fs::remove_file(path);
    let listener = match UnixListener::bind(path) {
        Ok(l) => l,
        Err(e) => {
            log::error!(
                "{}: {e}; `config apply` cannot hear what the balancer did",
                path.display()
            );
            return;
        }
    };
    if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
        log::warn!("{}: {e}", path.display());
    }
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        // One at a time: a second client waits in the listen queue.
        let mut request = [0u8; REQUEST.len()];
        let read = tokio::time::timeout(REQUEST_WAIT, stream.read_exact(&mut request)).await;
        if !matches!(read, Ok(Ok(_))) || request != REQUEST {
            let _ = stream
                .write_all(b"{\"refused\":[\"not a request\"]}\n")
                .await;
            continue;
        }
        let (done, answer) = std::sync::mpsc::sync_channel(1);
        if reloads.send(Reload { done }).await.is_err() {
            return;
        }
        let report = tokio::task::spawn_blocking(move || answer.recv_timeout(RELOAD_WAIT))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_else(|| Report {
                refused: vec![format!(
                    "the balancer did not answer within {} s; \"show status\" tells what runs",
                    RELOAD_WAIT.as_secs()
                )],
                ..Report::default()
            });
        let mut text = serde_json::to_string(&report).unwrap_or_default();
        text.push('\n');
        let _ = tokio::time::timeout(REQUEST_WAIT, stream.write_all(text.as_bytes())).await;
    }
}

/// Asks the balancer at `path` to read its files again; what it did. `Err` when no
/// balancer listens (it reads them when it starts).
pub fn request_reload(path: &Path) -> Result<Report, String> {
    let mut stream = UnixStream::connect(path).map_err(|e| {
        format!("the balancer is not running ({e}); it reads the configuration when it starts")
    })?;
    let _ = stream.set_write_timeout(Some(REQUEST_WAIT));
    let _ = stream.set_read_timeout(Some(RELOAD_WAIT + Duration::from_secs(5)));
    stream
        .write_all(REQUEST)
        .map_err(|e| format!("asking the balancer: {e}"))?;
    let mut text = String::new();
    stream
        .take(ANSWER_MAX)
        .read_to_string(&mut text)
        .map_err(|e| format!("waiting for the balancer: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("the balancer's answer: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn a_request_gets_the_report_of_its_reload_and_garbage_gets_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.sock");
        let (tx, mut rx) = mpsc::channel::<Reload>(1);
        let served = path.clone();
        tokio::spawn(async move { serve(&served, tx).await });
        // The balancer's loop: answers every reload with a report.
        tokio::spawn(async move {
            while let Some(reload) = rx.recv().await {
                let _ = reload.done.try_send(Report {
                    said: vec!["keepalived.conf: 1 virtual server".into()],
                    not_running: vec!["VRRP VI_1: not running: why".into()],
                    ..Report::default()
                });
            }
        });
        for _ in 0..100 {
            if path.exists() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "only root may ask");
        let asked = path.clone();
        let report = tokio::task::spawn_blocking(move || request_reload(&asked))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(report.not_running, ["VRRP VI_1: not running: why"]);
        let garbage = path.clone();
        let answer = tokio::task::spawn_blocking(move || {
            let mut s = UnixStream::connect(&garbage).unwrap();
            s.write_all(b"reboot\n").unwrap();
            let mut text = String::new();
            s.read_to_string(&mut text).unwrap();
            text
        })
        .await
        .unwrap();
        assert!(answer.contains("not a request"), "{answer}");
        assert!(request_reload(&dir.path().join("none.sock"))
            .unwrap_err()
            .starts_with("the balancer is not running"));
    }
}
