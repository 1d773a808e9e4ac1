//! One WebSocket connection on actix-web: the handshake, a task that reads what the
//! client sends (heartbeat, `ping` messages, close), and the response body that writes
//! the connection's [`Outbox`]. This is the only file that knows how actix-web carries
//! a WebSocket; framing and parsing are actix-http's.
//!
//! The writer is the response body itself: the HTTP dispatcher pulls the outbox's
//! pre-framed bytes straight into its write buffer. There is no actor or channel per
//! connection between the Hub and the socket, so a broadcast costs one queue push and
//! one wake-up per client (measured in `benches/fanout.rs`).

use super::hub::{close_frame, ClientId, Disconnect, Hub, CLOSE_LAGGING};
use super::outbox::{Outbox, Refused};
use super::protocol::{self, ClientMessage, Frame};
use actix::Addr;
use actix_codec::Decoder;
use actix_http::ws::{self, CloseCode, CloseReason, Codec, OpCode};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Instant;

/// How often the server pings.
pub const PING_EVERY: Duration = Duration::from_secs(10);
/// A connection silent for this long is closed (1001).
pub const SILENCE_LIMIT: Duration = Duration::from_secs(30);
/// Client frames larger than this are refused (1009).
pub const MAX_CLIENT_FRAME: usize = 4 * 1024;

/// Checks that `req` asks for a WebSocket we can speak, before anything is set up.
pub fn verify(req: &HttpRequest) -> Result<(), ws::HandshakeError> {
    ws::verify_handshake(req.head())
}

/// Answers a verified upgrade request: 101, then the outbox as the body, while a local
/// task reads the client's frames from `payload`. `id` is the Hub's name for the client.
pub fn start(
    req: &HttpRequest,
    payload: web::Payload,
    hub: Addr<Hub>,
    id: ClientId,
    outbox: Outbox,
) -> HttpResponse {
    let key = req
        .headers()
        .get(header::SEC_WEBSOCKET_KEY)
        .map(|key| ws::hash_key(key.as_bytes()))
        .unwrap_or_default();
    actix_web::rt::spawn(read(payload, outbox.clone()));
    HttpResponse::build(StatusCode::SWITCHING_PROTOCOLS)
        .upgrade("websocket")
        .insert_header((
            header::SEC_WEBSOCKET_ACCEPT,
            HeaderValue::from_bytes(&key).expect("base64 is a valid header value"),
        ))
        .streaming(Outgoing { outbox, hub, id })
}

/// The response body: the outbox's frames, then the end of the connection. Dropped when
/// the connection ends for any reason, which is when the Hub forgets the client.
struct Outgoing {
    outbox: Outbox,
    hub: Addr<Hub>,
    id: ClientId,
}

impl futures_util::Stream for Outgoing {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.outbox.poll_next(cx).map(|next| next.map(Ok))
    }
}

impl Drop for Outgoing {
    fn drop(&mut self) {
        self.outbox.gone();
        self.hub.do_send(Disconnect(self.id));
    }
}

fn close_with(code: CloseCode, description: &str) -> Option<Frame> {
    Some(Frame::close(Some(CloseReason {
        code,
        description: Some(description.to_string()),
    })))
}

/// Reads the client's frames until the connection or the outbox ends, pinging every
/// [`PING_EVERY`] and closing a client silent for [`SILENCE_LIMIT`]. Replies go through
/// the outbox, behind what is already queued, and count toward its limit.
async fn read(mut payload: web::Payload, outbox: Outbox) {
    let mut codec = Codec::new().max_size(MAX_CLIENT_FRAME);
    let mut buffer = BytesMut::new();
    let mut heartbeat = tokio::time::interval_at(Instant::now() + PING_EVERY, PING_EVERY);
    let mut last_heard = Instant::now();
    loop {
        loop {
            match codec.decode(&mut buffer) {
                Ok(Some(frame)) => {
                    last_heard = Instant::now();
                    if !answer(frame, &outbox) {
                        return;
                    }
                }
                Ok(None) => break,
                Err(ws::ProtocolError::Overflow) => {
                    outbox.close(close_with(CloseCode::Size, "frames are limited to 4 KiB"));
                    return;
                }
                Err(error) => {
                    tracing::debug!(%error, "websocket protocol error");
                    outbox.close(None);
                    return;
                }
            }
        }
        tokio::select! {
            chunk = payload.next() => match chunk {
                Some(Ok(bytes)) => buffer.extend_from_slice(&bytes),
                _ => {
                    outbox.close(None);
                    return;
                }
            },
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > SILENCE_LIMIT {
                    outbox.close(close_with(CloseCode::Away, "silent for too long"));
                    return;
                }
                if !reply(&outbox, &Frame::control(OpCode::Ping, b"")) {
                    return;
                }
            }
        }
    }
}

/// Answers one client frame; false once the connection is ending.
fn answer(frame: ws::Frame, outbox: &Outbox) -> bool {
    let frame = match frame {
        ws::Frame::Ping(bytes) => Frame::control(OpCode::Pong, &bytes),
        ws::Frame::Pong(_) | ws::Frame::Continuation(_) => return true,
        ws::Frame::Text(bytes) => match std::str::from_utf8(&bytes).map(protocol::parse_client) {
            Ok(Ok(ClientMessage::Ping)) => protocol::pong(),
            Ok(Err(error)) => error,
            Err(_) => protocol::error("invalid_json", "The message is not valid UTF-8 JSON."),
        },
        ws::Frame::Binary(_) => protocol::error("unsupported", "Binary messages are not supported."),
        ws::Frame::Close(reason) => {
            // Echo the client's code, as RFC 6455 §5.5.1 asks.
            outbox.close(Some(Frame::close(reason.map(|r| CloseReason {
                code: r.code,
                description: None,
            }))));
            return false;
        }
    };
    reply(outbox, &frame)
}

/// Queues a frame of the connection's own; a client that sends faster than it reads is
/// closed as lagging, like one that does not read the Hub's frames. False once ending.
fn reply(outbox: &Outbox, frame: &Frame) -> bool {
    match outbox.push(frame) {
        Ok(()) => true,
        Err(Refused::Full) => {
            outbox.close(Some(close_frame(CLOSE_LAGGING)));
            false
        }
        Err(Refused::Ended) => false,
    }
}
