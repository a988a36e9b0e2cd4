//! A body the handler takes as a stream ([`Handler::streams_body`]): read in pieces and
//! handed to its sink on the blocking pool, so that a 16 MB update never sits in memory.
//! Each wait for the next bytes is bounded, and so is the whole.

use std::sync::Arc;

use tokio::io::AsyncRead;
use tokio::time::{timeout, Instant};

use super::{read_some, BodySink, Handler, Shared};
use crate::http::{Request, Response};

/// The sink gets the body in pieces of at most this size.
const PIECE: usize = 256 * 1024;

pub(super) enum Taken {
    /// The handler streamed the body (or refused it on its head): the answer, and
    /// whether the body was read whole (else the connection must close).
    Answered(Response, bool),
    /// Not a streamed body: the request, its body still unread.
    NotStreamed(Request),
}

/// Asks the handler whether it streams `request`'s body and, if so, feeds it.
pub(super) async fn take<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    request: Request,
    shared: &Shared,
) -> Taken {
    let handler: Arc<dyn Handler> = shared.handler.clone();
    let asked = tokio::task::spawn_blocking(move || {
        let answer = handler.streams_body(&request);
        (request, answer)
    })
    .await;
    let (request, sink) = match asked {
        Ok((request, None)) => return Taken::NotStreamed(request),
        Ok((_, Some(Err(refused)))) => return Taken::Answered(refused, false),
        Ok((request, Some(Ok(sink)))) => (request, sink),
        Err(e) => {
            log::error!("web: the upload handler failed: {e}");
            let failed = Response::text(500, "internal error; see the log\n".into());
            return Taken::Answered(failed, false);
        }
    };
    let length = request.head.content_length;
    match feed(stream, buf, length, sink, shared).await {
        Ok(response) => Taken::Answered(response, true),
        Err(Stop::Refused(response, whole)) => Taken::Answered(response, whole),
        Err(Stop::Broken(response)) => {
            log::info!(
                "web: {}: {} {}: upload stopped: {}",
                request.peer,
                request.head.method_text,
                request.head.path,
                String::from_utf8_lossy(&response.body).trim_end()
            );
            Taken::Answered(response, false)
        }
    }
}

/// Why a streamed body was not taken whole.
enum Stop {
    /// The body did not come whole (cut off, stalled): the answer; the connection closes.
    Broken(Response),
    /// The sink refused the body: its answer, and whether the rest of the body was
    /// read (and dropped) so that the client, still sending, gets to read the answer.
    Refused(Response, bool),
}

/// Moves `length` bytes from the connection (those already in `buf` first) into the
/// sink; `Err`: why not (the sink is dropped, which abandons its work).
async fn feed<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    length: usize,
    sink: Box<dyn BodySink>,
    shared: &Shared,
) -> Result<Response, Stop> {
    let limits = &shared.limits;
    let deadline = Instant::now() + limits.stream_timeout;
    let mut sink = sink;
    let mut remaining = length;
    loop {
        // Read until a piece is full or the body is all here.
        while buf.len() < remaining.min(PIECE) {
            let wait = limits
                .stream_idle_timeout
                .min(deadline.saturating_duration_since(Instant::now()));
            match timeout(wait, read_some(stream, buf)).await {
                Ok(Ok(n)) if n > 0 => {}
                Ok(_) => {
                    let got = length - remaining + buf.len().min(remaining);
                    return Err(Stop::Broken(Response::text(
                        400,
                        format!(
                            "the upload ended after {got} of {length} bytes; nothing changed\n"
                        ),
                    )));
                }
                Err(_) => return Err(Stop::Broken(stalled(limits))),
            }
        }
        let take = buf.len().min(remaining).min(PIECE);
        if take > 0 {
            let piece: Vec<u8> = buf.drain(..take).collect();
            remaining -= take;
            let pushed = tokio::task::spawn_blocking(move || {
                let result = sink.push(&piece);
                (sink, result)
            })
            .await;
            sink = match pushed {
                Ok((sink, Ok(()))) => sink,
                Ok((_, Err(refused))) => {
                    let whole = drain(stream, buf, remaining, deadline, limits).await;
                    return Err(Stop::Refused(refused, whole));
                }
                Err(e) => {
                    log::error!("web: the upload sink failed: {e}");
                    let failed = Response::text(500, "internal error; see the log\n".into());
                    return Err(Stop::Broken(failed));
                }
            };
        }
        if remaining == 0 {
            break;
        }
    }
    match tokio::task::spawn_blocking(move || sink.finish()).await {
        Ok(response) => Ok(response),
        Err(e) => {
            log::error!("web: the upload sink failed at the end: {e}");
            let failed = Response::text(500, "internal error; see the log\n".into());
            Err(Stop::Broken(failed))
        }
    }
}

fn stalled(limits: &super::ServerLimits) -> Response {
    Response::text(
        408,
        format!(
            "the upload stalled or took longer than {} s; nothing changed\n",
            limits.stream_timeout.as_secs()
        ),
    )
}

/// Reads and drops the body's last `remaining` bytes (a browser shows an answer only
/// once it has sent its body), within the upload's bounds; whether it all came.
async fn drain<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    mut remaining: usize,
    deadline: Instant,
    limits: &super::ServerLimits,
) -> bool {
    loop {
        let take = buf.len().min(remaining);
        buf.drain(..take);
        remaining -= take;
        if remaining == 0 {
            return true;
        }
        let wait = limits
            .stream_idle_timeout
            .min(deadline.saturating_duration_since(Instant::now()));
        match timeout(wait, read_some(stream, buf)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => return false,
        }
    }
}
