//! keepalived's mail alerts (`notification_email`, `smtp_server`, `smtp_alert`, ...): VRRP
//! state changes (instances and sync groups), real servers' checkers going up or down and
//! virtual servers gaining or losing quorum are mailed through one SMTP server.
//! The VRRP and checker tasks only put an alert in a bounded queue (never waiting);
//! one task sends the mails, one at a time, each step bounded by
//! `smtp_connect_timeout`.

pub mod mail;
pub mod smtp;
pub mod vrrp;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use config::keepalived::Keepalived;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{watch, Notify};

use super::lvs::QuorumChange;

pub use mail::{Alert, CheckerChange, Settings};

/// Alerts waiting to be mailed; beyond, the oldest are dropped.
pub const QUEUE: usize = 64;

/// Puts alerts in the queue; cheap to clone, never waits.
#[derive(Clone)]
pub struct Alerts {
    queue: Arc<Queue>,
    settings: watch::Receiver<Option<Arc<Settings>>>,
    vrrp: watch::Receiver<vrrp::Policy>,
}

/// The balancer's side: what the configuration says about mail.
pub struct Control {
    settings: watch::Sender<Option<Arc<Settings>>>,
    vrrp: watch::Sender<vrrp::Policy>,
}

impl Control {
    /// keepalived.conf was (re)loaded: mail as it says from now on.
    pub fn configure(&self, k: &Keepalived) {
        let hostname = nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| "localhost".into());
        let wanted = match Settings::from_global(&k.global, &hostname) {
            Ok(settings) => settings.map(Arc::new),
            Err(e) => {
                log::error!("mail alerts: {e}; no mail is sent");
                None
            }
        };
        let changed = self.settings.send_if_modified(|had| {
            let changed = *had != wanted;
            *had = wanted.clone();
            changed
        });
        if changed {
            match &wanted {
                Some(s) => log::info!(
                    "mail alerts: to {} recipient(s) through {}",
                    s.to.len(),
                    s.server()
                ),
                None => log::info!("mail alerts: none (no notification_email or smtp_server)"),
            }
        }
        let policy = vrrp::Policy::new(k);
        self.vrrp.send_if_modified(|had| {
            let changed = *had != policy;
            *had = policy;
            changed
        });
    }
}

/// The queue, its sender task and the handles to both.
pub fn start() -> (Control, Alerts) {
    let (settings_tx, settings) = watch::channel(None);
    let (vrrp_tx, vrrp) = watch::channel(vrrp::Policy::default());
    let alerts = Alerts {
        queue: Arc::new(Queue::default()),
        settings,
        vrrp,
    };
    tokio::spawn(send_all(alerts.clone()));
    (
        Control {
            settings: settings_tx,
            vrrp: vrrp_tx,
        },
        alerts,
    )
}

impl Alerts {
    fn settings(&self) -> Option<Arc<Settings>> {
        self.settings.borrow().clone()
    }

    /// A checker reported; `own` is its real server's `smtp_alert`. Queued when
    /// keepalived would mail it ([`Settings::checker_mails`]).
    pub fn checker(&self, own: Option<bool>, change: &CheckerChange) {
        let Some(settings) = self.settings() else {
            return;
        };
        if settings.checker_mails(own, change) {
            self.queue.push(Alert::checker(change));
        }
    }

    /// A virtual server gained or lost quorum (or was first judged): queued when it
    /// mails (its `smtp_alert`, else the global default, off by default).
    pub fn quorum(&self, change: &QuorumChange) {
        let Some(settings) = self.settings() else {
            return;
        };
        if change.smtp_alert.unwrap_or(settings.virtual_server_default) {
            self.queue.push(Alert::quorum(change));
        }
    }

    /// Follows the VRRP instances' states until `states` closes (the VRRP tasks
    /// stopped), mailing what the configuration's policy says. A watch keeps only the
    /// newest states: a state held for less time than this task takes to wake is not
    /// mailed.
    pub async fn follow_vrrp(
        self,
        mut states: watch::Receiver<Vec<(String, ::status::VrrpState)>>,
    ) {
        let mut policy = self.vrrp.clone();
        let mut mailer = vrrp::Mailer::new(policy.borrow_and_update().clone());
        loop {
            let alerts = mailer.update(&states.borrow_and_update());
            if self.settings().is_some() {
                for alert in alerts {
                    self.queue.push(alert);
                }
            }
            tokio::select! {
                changed = states.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
                Ok(()) = policy.changed() => {
                    mailer.set_policy(policy.borrow_and_update().clone());
                }
            }
        }
    }
}

/// A bounded queue that drops its oldest when full: the newest state matters most.
#[derive(Default)]
struct Queue {
    state: Mutex<QueueState>,
    ready: Notify,
}

#[derive(Default)]
struct QueueState {
    alerts: VecDeque<Alert>,
    /// Dropped since the queue was last empty; logged once when it empties.
    dropped: u64,
}

impl Queue {
    fn push(&self, alert: Alert) {
        let mut q = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if q.alerts.len() >= QUEUE {
            q.alerts.pop_front();
            if q.dropped == 0 {
                log::warn!("mail alerts: {QUEUE} wait to be sent; the oldest are dropped");
            }
            q.dropped += 1;
        }
        q.alerts.push_back(alert);
        drop(q);
        self.ready.notify_one();
    }

    async fn pop(&self) -> Alert {
        loop {
            {
                let mut q = self.state.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(alert) = q.alerts.pop_front() {
                    if q.alerts.is_empty() && q.dropped > 0 {
                        log::warn!(
                            "mail alerts: {} dropped while the queue was full",
                            q.dropped
                        );
                        q.dropped = 0;
                    }
                    return alert;
                }
            }
            self.ready.notified().await;
        }
    }
}

/// Sends the queued alerts one at a time, forever; a failure is logged (server and
/// step) and the alert dropped, as keepalived does.
async fn send_all(alerts: Alerts) {
    let mut sequence: u64 = 0;
    let mut burst = Burst::default();
    loop {
        let alert = alerts.queue.pop().await;
        let Some(settings) = alerts.settings() else {
            continue;
        };
        sequence += 1;
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let envelope = mail::envelope(&settings, &alert, now, sequence);
        let result = deliver(&settings, envelope).await;
        if let Some(line) = burst.after(&result) {
            log::warn!("mail alerts through {}: {line}", settings.server());
        }
        match result {
            Ok(()) => log::info!(
                "mail alert sent through {}: {}",
                settings.server(),
                alert.subject
            ),
            Err(e) if burst.failed == 1 => log::error!(
                "mail alert not sent through {}: {e} ({}); further failures are counted until one is sent",
                settings.server(),
                alert.subject
            ),
            Err(_) => {}
        }
    }
}

/// Failures in a row: the first is logged with its reason, the others counted and said
/// once the server takes a mail again, so that a dead server does not flood the log.
#[derive(Debug, Default)]
struct Burst {
    failed: u64,
}

impl Burst {
    /// Counts `result`; the line to log when a burst of failures ended.
    fn after(&mut self, result: &Result<(), String>) -> Option<String> {
        match result {
            Err(_) => {
                self.failed += 1;
                None
            }
            Ok(()) => {
                let failed = std::mem::take(&mut self.failed);
                (failed > 0).then(|| format!("sending again; {failed} alert(s) were not sent"))
            }
        }
    }
}

/// Bytes read from the server at a time.
const READ_CHUNK: usize = 1024;

/// One mail over one connection: connect, then the dialogue, each read and write bounded
/// by the timeout and the whole by a multiple of it.
async fn deliver(settings: &Settings, envelope: smtp::Envelope) -> Result<(), String> {
    let each = settings.timeout;
    // Connect, greeting, EHLO (and HELO), MAIL, each RCPT, DATA, message, QUIT.
    let steps = 8 + envelope.to.len() as u32;
    let whole = each.saturating_mul(steps);
    tokio::time::timeout(whole, dialogue(settings, envelope, each))
        .await
        .unwrap_or_else(|_| Err(format!("no end within {whole:?}")))
}

async fn dialogue(
    settings: &Settings,
    envelope: smtp::Envelope,
    each: Duration,
) -> Result<(), String> {
    let address = (settings.host.as_str(), settings.port);
    let stream = match tokio::time::timeout(each, TcpStream::connect(address)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return Err(format!("at connect: {e}")),
        Err(_) => return Err(format!("at connect: no answer within {each:?}")),
    };
    converse(stream, envelope, each).await
}

/// The dialogue on a connected stream, each read and write bounded by `each`.
async fn converse<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    envelope: smtp::Envelope,
    each: Duration,
) -> Result<(), String> {
    let mut session = smtp::Session::new(envelope);
    let mut buf = [0u8; READ_CHUNK];
    loop {
        let read = tokio::time::timeout(each, stream.read(&mut buf)).await;
        let progress = match read {
            Ok(Ok(0)) => session.closed(),
            Ok(Ok(n)) => session.receive(&buf[..n]),
            Ok(Err(e)) => return Err(format!("at {}: {e}", session.step())),
            Err(_) => {
                let step = session.step();
                let _ = tokio::time::timeout(each, stream.write_all(smtp::QUIT)).await;
                return Err(format!("at {step}: no reply within {each:?}"));
            }
        };
        match progress {
            smtp::Progress::Send(bytes) => {
                match tokio::time::timeout(each, stream.write_all(&bytes)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return Err(format!("at {}: {e}", session.step())),
                    Err(_) => {
                        return Err(format!("at {}: the server takes nothing", session.step()))
                    }
                }
            }
            smtp::Progress::Wait => {}
            smtp::Progress::Done => return Ok(()),
            smtp::Progress::Failed(e) => {
                let _ = tokio::time::timeout(each, stream.write_all(smtp::QUIT)).await;
                return Err(e.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(n: usize) -> Alert {
        Alert {
            subject: format!("alert {n}"),
            body: String::new(),
        }
    }

    fn envelope() -> smtp::Envelope {
        smtp::Envelope {
            helo: "lb1".into(),
            from: "root@lb1".into(),
            to: vec!["a@example.com".into()],
            message: "Subject: x\n\n.hidden\nbody\n".into(),
        }
    }

    /// A fake server on the other end of an in-memory pipe: for each step, it waits for
    /// a line starting with `expect` (nothing for the greeting) and answers `reply`;
    /// what the client sent comes back.
    async fn fake_server(
        mut end: tokio::io::DuplexStream,
        script: &'static [(&'static str, &'static str)],
    ) -> String {
        let mut heard = Vec::new();
        for (expect, reply) in script {
            while !expect.is_empty() && !String::from_utf8_lossy(&heard).contains(expect) {
                let mut buf = [0u8; 512];
                match end.read(&mut buf).await {
                    Ok(0) | Err(_) => return String::from_utf8_lossy(&heard).into_owned(),
                    Ok(n) => heard.extend_from_slice(&buf[..n]),
                }
            }
            if !reply.is_empty() {
                let _ = end.write_all(reply.as_bytes()).await;
            }
        }
        // Whatever comes after the script (QUIT), until the client closes.
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(Duration::from_millis(200), end.read_to_end(&mut rest)).await;
        heard.extend_from_slice(&rest);
        String::from_utf8_lossy(&heard).into_owned()
    }

    #[tokio::test]
    async fn a_mail_goes_through_a_scripted_server_dot_stuffed() {
        let (client, server) = tokio::io::duplex(4096);
        let script: &[(&str, &str)] = &[
            ("", "220 fake ESMTP\r\n"),
            ("EHLO lb1\r\n", "250-fake\r\n250 8BITMIME\r\n"),
            ("MAIL FROM:<root@lb1>\r\n", "250 ok\r\n"),
            ("RCPT TO:<a@example.com>\r\n", "250 ok\r\n"),
            ("DATA\r\n", "354 go on\r\n"),
            ("\r\n.\r\n", "250 queued\r\n"),
            ("QUIT\r\n", "221 bye\r\n"),
        ];
        let server = tokio::spawn(fake_server(server, script));
        let sent = converse(client, envelope(), Duration::from_secs(5)).await;
        assert_eq!(sent, Ok(()));
        let heard = server.await.unwrap();
        assert!(
            heard.contains("DATA\r\nSubject: x\r\n\r\n..hidden\r\nbody\r\n.\r\nQUIT\r\n"),
            "{heard:?}"
        );
    }

    #[tokio::test]
    async fn a_silent_server_costs_one_timeout_per_step_and_a_refusal_stops_the_dialogue() {
        // Greets, then says nothing to EHLO.
        let (client, server) = tokio::io::duplex(4096);
        let script: &[(&str, &str)] = &[("", "220 fake\r\n"), ("EHLO", "")];
        let server = tokio::spawn(fake_server(server, script));
        let each = Duration::from_millis(100);
        let started = std::time::Instant::now();
        let e = converse(client, envelope(), each).await.unwrap_err();
        assert_eq!(e, "at EHLO: no reply within 100ms");
        assert!(started.elapsed() < Duration::from_secs(5));
        // The client said QUIT before it left.
        assert!(server.await.unwrap().ends_with("QUIT\r\n"));

        // A recipient refused: no DATA is sent.
        let (client, server) = tokio::io::duplex(4096);
        let script: &[(&str, &str)] = &[
            ("", "220 fake\r\n"),
            ("EHLO", "250 fake\r\n"),
            ("MAIL FROM", "250 ok\r\n"),
            ("RCPT TO", "550 no such user\r\n"),
        ];
        let server = tokio::spawn(fake_server(server, script));
        let e = converse(client, envelope(), Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(
            e,
            "at RCPT TO (recipient 1): the server replied 550 no such user"
        );
        assert!(!server.await.unwrap().contains("DATA"));
    }

    #[test]
    fn a_burst_of_failures_is_said_once_it_ends() {
        let mut b = Burst::default();
        assert_eq!(b.after(&Ok(())), None);
        assert_eq!(b.after(&Err("x".into())), None);
        assert_eq!(b.failed, 1);
        assert_eq!(b.after(&Err("x".into())), None);
        assert_eq!(
            b.after(&Ok(())).as_deref(),
            Some("sending again; 2 alert(s) were not sent")
        );
        assert_eq!(b.failed, 0);
    }

    #[tokio::test]
    async fn a_full_queue_drops_its_oldest() {
        let q = Queue::default();
        for n in 0..QUEUE + 3 {
            q.push(alert(n));
        }
        assert_eq!(q.state.lock().unwrap().dropped, 3);
        assert_eq!(q.pop().await, alert(3));
        for _ in 1..QUEUE {
            q.pop().await;
        }
        let q = q.state.lock().unwrap();
        assert!(q.alerts.is_empty());
        assert_eq!(q.dropped, 0);
    }
}
