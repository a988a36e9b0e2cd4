//! Bodies the handler streams (an update upload): in bounded pieces, never held whole;
//! a cut, stalled or refused upload ends without the sink's finish.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::tests::{limits, no_tls, statuses};
use super::*;

/// Streams `/upload`; refuses a body holding `BAD`; everything else is echoed whole.
#[derive(Default)]
struct Uploads {
    bytes: AtomicUsize,
    largest_piece: AtomicUsize,
    finished: AtomicUsize,
    dropped: AtomicUsize,
}

struct Counting(Arc<Uploads>, bool);

impl Drop for Counting {
    fn drop(&mut self) {
        if !self.1 {
            self.0.dropped.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl BodySink for Counting {
    fn push(&mut self, bytes: &[u8]) -> Result<(), Response> {
        if bytes.windows(3).any(|w| w == b"BAD") {
            return Err(Response::text(422, "refused: BAD\n".into()));
        }
        self.0.bytes.fetch_add(bytes.len(), Ordering::SeqCst);
        self.0
            .largest_piece
            .fetch_max(bytes.len(), Ordering::SeqCst);
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Response {
        self.1 = true;
        self.0.finished.fetch_add(1, Ordering::SeqCst);
        let n = self.0.bytes.load(Ordering::SeqCst);
        Response::text(200, format!("streamed {n} bytes\n"))
    }
}

struct Handlers(Arc<Uploads>);

impl Handler for Handlers {
    fn handle(&self, request: Request) -> Response {
        Response::text(200, format!("whole {} bytes\n", request.body.len()))
    }

    fn streams_body(&self, request: &Request) -> Option<Result<Box<dyn BodySink>, Response>> {
        match request.head.path.as_str() {
            "/upload" => Some(Ok(Box::new(Counting(self.0.clone(), false)))),
            "/refused" => Some(Err(Response::text(401, "log in first\n".into()))),
            _ => None,
        }
    }
}

fn connect(limits: ServerLimits) -> (DuplexStream, Arc<Uploads>, JoinHandle<()>) {
    let uploads = Arc::new(Uploads::default());
    let shared = Shared::new(Arc::new(Handlers(uploads.clone())), limits, no_tls());
    let (client, server) = duplex(64 * 1024);
    let task = tokio::spawn(async move {
        serve_connection(server, "10.0.0.2".parse().unwrap(), None, true, &shared).await;
    });
    (client, uploads, task)
}

/// Sends `head`, `len` bytes of `x` (with `BAD` at `bad_at`), then `after`; reads the
/// answers meanwhile, so that neither side waits on a full pipe; closes its sending side
/// at the end if `close`, else keeps it open until the server closes.
async fn send(
    client: DuplexStream,
    head: &str,
    len: usize,
    bad_at: Option<usize>,
    after: &str,
    close: bool,
) -> String {
    let (mut reader, mut writer) = tokio::io::split(client);
    let reading = tokio::spawn(async move {
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(20), reader.read_to_end(&mut out)).await;
        String::from_utf8_lossy(&out).into_owned()
    });
    let mut body = vec![b'x'; len];
    if let Some(at) = bad_at {
        body[at..at + 3].copy_from_slice(b"BAD");
    }
    let _ = writer.write_all(head.as_bytes()).await;
    for chunk in body.chunks(10_000) {
        if writer.write_all(chunk).await.is_err() {
            break;
        }
    }
    let _ = writer.write_all(after.as_bytes()).await;
    if close {
        let _ = writer.shutdown().await;
    }
    let text = reading.await.unwrap();
    drop(writer);
    text
}

fn upload_head(len: usize) -> String {
    format!("PUT /upload HTTP/1.1\r\nContent-Length: {len}\r\n\r\n")
}

const THEN_CLOSE: &str = "GET /after HTTP/1.1\r\nConnection: close\r\n\r\n";

#[tokio::test]
async fn a_body_larger_than_any_buffer_streams_in_bounded_pieces() {
    let limits = limits();
    let len = 3 * limits.http.max_body + 12_345;
    assert!(len <= limits.http.max_streamed_body);
    let (client, uploads, task) = connect(limits);
    let text = send(client, &upload_head(len), len, None, THEN_CLOSE, false).await;
    task.await.unwrap();
    assert_eq!(statuses(&text), ["200", "200"], "{text}");
    assert!(text.contains(&format!("streamed {len} bytes")), "{text}");
    assert!(
        text.contains("whole 0 bytes"),
        "the connection went on: {text}"
    );
    let largest = uploads.largest_piece.load(Ordering::SeqCst);
    assert!(largest <= 256 * 1024, "a piece of {largest} bytes");
    assert_eq!(uploads.finished.load(Ordering::SeqCst), 1);
    assert_eq!(uploads.dropped.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_refusal_on_the_head_reads_no_body_and_closes() {
    let (client, uploads, task) = connect(limits());
    let head = "PUT /refused HTTP/1.1\r\nContent-Length: 5000000\r\n\r\n";
    let text = send(client, head, 100_000, None, "", false).await;
    task.await.unwrap();
    assert_eq!(statuses(&text), ["401"], "{text}");
    assert!(text.contains("Connection: close"), "{text}");
    assert_eq!(uploads.bytes.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_refusal_midway_drops_the_sink_and_is_read_after_the_body() {
    let (client, uploads, task) = connect(limits());
    let len = 1_000_000;
    let text = send(
        client,
        &upload_head(len),
        len,
        Some(600_000),
        THEN_CLOSE,
        false,
    )
    .await;
    task.await.unwrap();
    // The rest of the body was read and dropped: the client saw the answer and the
    // connection carried the next request.
    assert_eq!(statuses(&text), ["422", "200"], "{text}");
    assert!(text.contains("refused: BAD"), "{text}");
    assert_eq!(uploads.finished.load(Ordering::SeqCst), 0);
    assert_eq!(uploads.dropped.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_cut_or_stalled_upload_is_abandoned() {
    let (client, uploads, task) = connect(limits());
    let text = send(client, &upload_head(500_000), 200_000, None, "", true).await;
    task.await.unwrap();
    assert_eq!(statuses(&text), ["400"], "{text}");
    assert!(
        text.contains("the upload ended after 200000 of 500000 bytes"),
        "{text}"
    );
    assert_eq!(uploads.dropped.load(Ordering::SeqCst), 1);

    let stalls = ServerLimits {
        stream_idle_timeout: Duration::from_millis(300),
        ..limits()
    };
    let (client, uploads, task) = connect(stalls);
    let text = send(client, &upload_head(500_000), 1000, None, "", false).await;
    task.await.unwrap();
    assert_eq!(statuses(&text), ["408"], "{text}");
    assert_eq!(uploads.finished.load(Ordering::SeqCst), 0);
    assert_eq!(uploads.dropped.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_body_not_streamed_stays_within_the_small_limit() {
    let limits = limits();
    let len = limits.http.max_body + 1;
    let (client, _, task) = connect(limits);
    let head = format!("POST /form HTTP/1.1\r\nContent-Length: {len}\r\n\r\n");
    let text = send(client, &head, 1000, None, "", false).await;
    task.await.unwrap();
    assert_eq!(statuses(&text), ["413"], "{text}");
}
