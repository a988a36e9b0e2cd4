//! SMTP_CHECK against scripted SMTP servers on 127.0.0.1: what the checker says, and what
//! each kind of answer makes of the probe.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use checks::outcome::{Phase, SmtpStage};
use checks::{CheckSpec, Failure, Passed, ProbeResult, Prober, SmtpCheck};
use common::PATIENCE;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

const SHORT: Duration = Duration::from_millis(300);

/// What the server does: its greeting, then for each line it reads, the next reply (or
/// it closes when there is none left).
#[derive(Clone)]
struct Script {
    greeting: &'static str,
    replies: Vec<&'static str>,
}

/// Serves `script` to every connection; the lines the client sent land in the list.
async fn smtp_server(script: Script) -> (SocketAddr, Arc<Mutex<Vec<String>>>, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let heard = Arc::new(Mutex::new(Vec::new()));
    let log = heard.clone();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (script, log) = (script.clone(), log.clone());
            tokio::spawn(async move {
                let talk = async {
                    let (read, mut write) = stream.into_split();
                    let mut lines = BufReader::new(read).lines();
                    write.write_all(script.greeting.as_bytes()).await?;
                    for reply in script.replies {
                        let Some(line) = lines.next_line().await? else {
                            return Ok(());
                        };
                        log.lock().unwrap().push(line);
                        write.write_all(reply.as_bytes()).await?;
                    }
                    // Out of script: hold the connection until the client is done.
                    while let Some(line) = lines.next_line().await? {
                        log.lock().unwrap().push(line);
                    }
                    Ok::<(), std::io::Error>(())
                };
                let _ = tokio::time::timeout(PATIENCE, talk).await;
            });
        }
    });
    (addr, heard, task)
}

async fn probe(addr: SocketAddr, check: SmtpCheck) -> ProbeResult {
    let mut spec = CheckSpec::smtp(addr, check);
    spec.timing.connect_timeout = SHORT;
    spec.validate().expect("a valid spec");
    tokio::time::timeout(PATIENCE, Prober::new().run(&spec, None))
        .await
        .expect("a probe always ends within its own deadlines")
}

fn postfix() -> Script {
    Script {
        greeting: "220 mx.example.com ESMTP Postfix\r\n",
        replies: vec!["250 mx.example.com\r\n", "221 2.0.0 Bye\r\n"],
    }
}

#[tokio::test]
async fn a_good_server_passes_and_hears_helo_then_quit() {
    let (addr, heard, _server) = smtp_server(postfix()).await;
    assert_eq!(
        probe(addr, SmtpCheck::default()).await,
        ProbeResult::Passed(Passed::Smtp)
    );
    assert_eq!(
        *heard.lock().unwrap(),
        ["HELO smtpchecker.keepalived.org", "QUIT"]
    );
    let check = SmtpCheck {
        helo_name: "lb1.example.com".into(),
    };
    assert_eq!(probe(addr, check).await, ProbeResult::Passed(Passed::Smtp));
    assert_eq!(heard.lock().unwrap()[2], "HELO lb1.example.com");
}

#[tokio::test]
async fn a_multi_line_greeting_passes() {
    let script = Script {
        greeting: "220-mx.example.com ESMTP\r\n220-No UCE\r\n220 ready\r\n",
        ..postfix()
    };
    let (addr, heard, _server) = smtp_server(script).await;
    assert_eq!(
        probe(addr, SmtpCheck::default()).await,
        ProbeResult::Passed(Passed::Smtp)
    );
    assert_eq!(heard.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_refusing_greeting_fails_before_helo() {
    let script = Script {
        greeting: "554 mx.example.com no service\r\n",
        ..postfix()
    };
    let (addr, heard, _server) = smtp_server(script).await;
    assert_eq!(
        probe(addr, SmtpCheck::default()).await,
        ProbeResult::Failed(Failure::SmtpReply {
            stage: SmtpStage::Greeting,
            line: "554 mx.example.com no service".into()
        })
    );
    assert!(heard.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_helo_that_is_not_250_fails() {
    let script = Script {
        replies: vec!["421 4.3.2 shutting down\r\n"],
        ..postfix()
    };
    let (addr, _, _server) = smtp_server(script).await;
    let result = probe(addr, SmtpCheck::default()).await;
    assert_eq!(
        result,
        ProbeResult::Failed(Failure::SmtpReply {
            stage: SmtpStage::Helo,
            line: "421 4.3.2 shutting down".into()
        })
    );
    assert_eq!(
        format!(
            "{}",
            Failure::SmtpReply {
                stage: SmtpStage::Helo,
                line: "421 x".into()
            }
        ),
        "SMTP reply to HELO: \"421 x\""
    );
}

#[tokio::test]
async fn a_server_that_hangs_up_after_helo_fails_and_one_that_goes_quiet_times_out() {
    let quiet = Script {
        replies: vec!["250 ok\r\n"],
        ..postfix()
    };
    // The script ends after HELO: the server reads QUIT and answers nothing, keeping the
    // connection open.
    let (addr, _, _server) = smtp_server(quiet).await;
    assert_eq!(
        probe(addr, SmtpCheck::default()).await,
        ProbeResult::Failed(Failure::Timeout {
            phase: Phase::Response,
            after: SHORT
        })
    );
    // A server that reads HELO and closes without a reply.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let _closer = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (read, mut write) = stream.into_split();
            let _ = write.write_all(b"220 hello\r\n").await;
            let _ = BufReader::new(read).lines().next_line().await;
        }
    });
    assert_eq!(
        probe(addr, SmtpCheck::default()).await,
        ProbeResult::Failed(Failure::SmtpClosed {
            stage: SmtpStage::Helo
        })
    );
}

#[tokio::test]
async fn nothing_listening_is_refused() {
    let addr = common::closed_port().await;
    assert_eq!(
        probe(addr, SmtpCheck::default()).await,
        ProbeResult::Failed(Failure::Refused)
    );
}
