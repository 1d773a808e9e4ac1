//! One WebSocket connection: the [`ClientActor`] that owns it, and the response body
//! that writes its [`Outbox`]. This is the only file that knows how actix-web carries a
//! WebSocket; framing and parsing are actix-http's.
//!
//! The actor is the connection's one owner: who is connected (user, roles, device
//! session), the heartbeat, the frames the client sends, the replay of a long gap from
//! the event log, and the close. The Hub holds its address for control messages
//! (revocation, lagging) and its outbox for pushed frames. Pushed frames do not pass
//! through the actor's mailbox: the Hub queues the shared, pre-framed bytes straight
//! into the bounded outbox and the HTTP dispatcher pulls them into the socket, because
//! a mailbox hop per client and event is what bounded fan-out before (BENCHMARKS.md).
//! The mailbox carries only control messages, and it is bounded too.

use super::hub::{
    close_frame, CaughtUp, ClientId, Control, Hub, Join, Joined, Leave, SendSnapshot, Subscribe,
    CLOSE_LAGGING,
};
use super::outbox::{Outbox, Refused};
use super::protocol::{self, ClientMessage, Frame, Stamp};
use crate::domain::event::{Event, Subscription};
use crate::domain::user::Roles;
use crate::domain::{DeviceSessionId, UserId};
use crate::store::EventLog;
use actix::prelude::*;
use actix_codec::Decoder;
use actix_http::ws::{self, CloseCode, CloseReason, Codec, OpCode};
use actix_web::error::PayloadError;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::{Bytes, BytesMut};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

/// How often the server pings.
pub const PING_EVERY: Duration = Duration::from_secs(10);
/// A connection silent for this long is closed (1001).
pub const SILENCE_LIMIT: Duration = Duration::from_secs(30);
/// Client messages larger than this are refused (1009): a single frame as soon as its
/// header declares more, a fragmented message as soon as its parts add up to more.
pub const MAX_CLIENT_FRAME: usize = 4 * 1024;
/// Control messages a connection's actor may have waiting. The Hub sends at most one
/// close; when the mailbox is full it closes the outbox itself.
const CONTROL_MAILBOX: usize = 4;
/// Events read from the log per step of a replay.
const REPLAY_PAGE: usize = 256;

/// Connection ids: unique for the life of the process.
static NEXT_CLIENT: AtomicU64 = AtomicU64::new(1);

/// Checks that `req` asks for a WebSocket we can speak, before anything is set up.
pub fn verify(req: &HttpRequest) -> Result<(), ws::HandshakeError> {
    ws::verify_handshake(req.head())
}

/// Who is connected, as authenticated before the upgrade.
#[derive(Clone, Copy, Debug)]
pub struct Identity {
    pub user: UserId,
    pub roles: Roles,
    pub device: DeviceSessionId,
}

/// What every connection is wired to: the Hub, the event log it replays long gaps
/// from, its outbox's size and the base of absolute URLs (the Hub's own).
#[derive(Clone)]
pub struct Wiring {
    pub hub: Addr<Hub>,
    pub log: EventLog,
    pub outbox_limit: usize,
    pub stamp: Stamp,
}

/// Answers a verified upgrade request: 101, with the outbox as the body, and starts the
/// connection's actor reading `payload`.
pub fn start(
    req: &HttpRequest,
    payload: web::Payload,
    wiring: Wiring,
    identity: Identity,
    since: Option<u64>,
    subscription: Subscription,
) -> HttpResponse {
    let Wiring {
        hub,
        log,
        outbox_limit,
        stamp,
    } = wiring;
    let key = req
        .headers()
        .get(header::SEC_WEBSOCKET_KEY)
        .map(|key| ws::hash_key(key.as_bytes()))
        .unwrap_or_default();
    let outbox = Outbox::new(outbox_limit);
    let id = NEXT_CLIENT.fetch_add(1, Ordering::Relaxed);
    let span = tracing::info_span!("ws", client = id, user = %identity.user);
    let client = ClientActor::create(|ctx| {
        ctx.set_mailbox_capacity(CONTROL_MAILBOX);
        ctx.add_stream(payload);
        ClientActor {
            id,
            identity,
            since,
            subscription,
            outbox: outbox.clone(),
            hub,
            log,
            codec: Codec::new().max_size(MAX_CLIENT_FRAME),
            buffer: BytesMut::new(),
            fragments: None,
            last_heard: Instant::now(),
            connected: Instant::now(),
            resume_sent: false,
            span,
            stamp,
        }
    });
    HttpResponse::build(StatusCode::SWITCHING_PROTOCOLS)
        .upgrade("websocket")
        .insert_header((
            header::SEC_WEBSOCKET_ACCEPT,
            HeaderValue::from_bytes(&key).expect("base64 is a valid header value"),
        ))
        .streaming(Outgoing {
            outbox,
            client,
            run: 0,
            held: None,
        })
}

pub struct ClientActor {
    /// The Hub's name for this connection.
    id: ClientId,
    identity: Identity,
    /// The `since` it connected with; used once, at registration.
    since: Option<u64>,
    /// The queues whose ticket events it receives (`subscribe`, or `&queues=`); the
    /// Hub routes by its copy, and a replay from the log filters by this one.
    subscription: Subscription,
    /// Frames waiting for the socket: the Hub's pushes and the connection's replies.
    outbox: Outbox,
    hub: Addr<Hub>,
    /// Where a replay of a gap longer than the Hub's window reads from.
    log: EventLog,
    /// Parses the client's frames out of `buffer`. The size limit is checked on each
    /// frame's header before its payload is buffered (see [`declared_payload`]).
    codec: Codec,
    buffer: BytesMut,
    /// A fragmented message being reassembled: its parts so far, and whether it is text.
    fragments: Option<(BytesMut, bool)>,
    /// When the client last sent anything; silence past the limit closes it.
    last_heard: Instant,
    connected: Instant,
    /// Whether a replay from the log has sent its `resume` (only its first stretch does).
    resume_sent: bool,
    /// The connection's span: its log lines carry the client id and user.
    span: tracing::Span,
    /// The Hub's own stamp, so a replayed event is the one pushed.
    stamp: Stamp,
}

impl Actor for ClientActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        tracing::debug!(parent: &self.span, since = ?self.since, "connected");
        metrics::gauge!(crate::telemetry::WS_CONNECTIONS).increment(1.0);
        ctx.run_interval(PING_EVERY, |actor, ctx| actor.heartbeat(ctx));
        let join = Join {
            id: self.id,
            user: self.identity.user,
            roles: self.identity.roles,
            device: self.identity.device,
            since: self.since.take(),
            subscription: self.subscription.clone(),
            outbox: self.outbox.clone(),
            client: ctx.address().recipient(),
        };
        // Nothing the client sends is answered before it is registered, so replies
        // never overtake its snapshot or resume.
        ctx.wait(
            self.hub
                .send(join)
                .into_actor(self)
                .map(|joined, actor, ctx| actor.joined(joined, ctx)),
        );
    }

    fn stopping(&mut self, _: &mut Context<Self>) -> Running {
        self.outbox.close(None);
        self.hub.do_send(Leave(self.id));
        tracing::debug!(
            parent: &self.span,
            seconds = self.connected.elapsed().as_secs_f64(),
            "disconnected"
        );
        Running::Stop
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        metrics::gauge!(crate::telemetry::WS_CONNECTIONS).decrement(1.0);
    }
}

impl ClientActor {
    /// Continues after the Hub registered the connection or heard that it caught up.
    fn joined(&mut self, joined: Result<Joined, MailboxError>, ctx: &mut Context<Self>) {
        match joined {
            Ok(Joined::Live) => {}
            Ok(Joined::CatchUp { from, to }) => self.replay(from, to, ctx),
            Err(_) => ctx.stop(),
        }
    }

    /// Replays `from ..= to` from the event log, paced by the socket: a page at a
    /// time, each once the outbox has drained to a quarter. Then tells the Hub, which
    /// either sends the rest itself or names the next stretch to replay.
    fn replay(&mut self, from: u64, to: u64, ctx: &mut Context<Self>) {
        let log = self.log.clone();
        let outbox = self.outbox.clone();
        let identity = self.identity;
        let subscription = self.subscription.clone();
        let stamp = self.stamp.clone();
        let first_stretch = !std::mem::replace(&mut self.resume_sent, true);
        let work = async move {
            if first_stretch {
                match log.first_retained_seq() {
                    Ok(Some(first)) if first <= from => {}
                    _ => return Replayed::Gone,
                }
                if outbox.push(&protocol::resume(from, to, &stamp)).is_err() {
                    return Replayed::Ended;
                }
            }
            replay_range(&log, &outbox, (identity, &subscription), &stamp.base, from, to).await
        };
        ctx.wait(work.into_actor(self).map(move |replayed, actor, ctx| match replayed {
            Replayed::Through(at) => {
                let caught_up = CaughtUp { id: actor.id, at };
                ctx.wait(actor.hub.send(caught_up).into_actor(actor).map(|joined, actor, ctx| actor.joined(joined, ctx)));
            }
            Replayed::Gone => {
                tracing::info!(parent: &actor.span, from, "replay window moved on; sending a snapshot");
                actor.hub.do_send(SendSnapshot(actor.id));
            }
            Replayed::Ended => ctx.stop(),
        }));
    }

    fn heartbeat(&mut self, ctx: &mut Context<Self>) {
        if self.last_heard.elapsed() > SILENCE_LIMIT {
            self.close(close_with(CloseCode::Away, "silent for too long"), ctx);
        } else if !self.outbox.offer(&Frame::control(OpCode::Ping, b"")) {
            ctx.stop();
        }
    }

    fn close(&mut self, frame: Option<Frame>, ctx: &mut Context<Self>) {
        self.outbox.close(frame);
        ctx.stop();
    }

    /// Answers one client frame.
    fn answer(&mut self, frame: ws::Frame, ctx: &mut Context<Self>) {
        let reply = match frame {
            ws::Frame::Ping(bytes) => Frame::control(OpCode::Pong, &bytes),
            ws::Frame::Pong(_) => return,
            ws::Frame::Continuation(item) => match self.reassemble(item) {
                Reassembled::Pending => return,
                Reassembled::Message(bytes, true) => return self.message(&bytes, ctx),
                Reassembled::Message(_, false) => binary_refused(),
                Reassembled::TooLarge => return self.close(too_large(), ctx),
            },
            ws::Frame::Text(bytes) => return self.message(&bytes, ctx),
            ws::Frame::Binary(_) => binary_refused(),
            ws::Frame::Close(reason) => {
                // Echo the client's code, as RFC 6455 §5.5.1 asks.
                let echo = Frame::close(reason.map(|r| CloseReason {
                    code: r.code,
                    description: None,
                }));
                return self.close(Some(echo), ctx);
            }
        };
        if !self.outbox.offer(&reply) {
            ctx.stop();
        }
    }
}

/// Where a fragmented message stands after one more part.
enum Reassembled {
    Pending,
    /// The whole message, and whether it is text.
    Message(BytesMut, bool),
    TooLarge,
}

impl ClientActor {
    /// Adds one part of a fragmented message (RFC 6455 §5.4). The codec has already
    /// refused parts out of order; the size limit applies to the whole message.
    fn reassemble(&mut self, item: ws::Item) -> Reassembled {
        let (bytes, text, last) = match item {
            ws::Item::FirstText(bytes) => (bytes, Some(true), false),
            ws::Item::FirstBinary(bytes) => (bytes, Some(false), false),
            ws::Item::Continue(bytes) => (bytes, None, false),
            ws::Item::Last(bytes) => (bytes, None, true),
        };
        let (parts, is_text) = match text {
            Some(is_text) => self.fragments.insert((BytesMut::new(), is_text)),
            None => match self.fragments.as_mut() {
                Some(fragments) => fragments,
                None => return Reassembled::Pending,
            },
        };
        if parts.len() + bytes.len() > MAX_CLIENT_FRAME {
            self.fragments = None;
            return Reassembled::TooLarge;
        }
        parts.extend_from_slice(&bytes);
        let is_text = *is_text;
        if !last {
            return Reassembled::Pending;
        }
        let (parts, _) = self.fragments.take().expect("present");
        Reassembled::Message(parts, is_text)
    }
}

impl ClientActor {
    /// Answers a complete text message. A `subscribe` goes to the Hub, which checks it
    /// and queues the answer in order with the events; nothing else the client sends
    /// is read until the Hub has answered.
    fn message(&mut self, bytes: &[u8], ctx: &mut Context<Self>) {
        let reply = match std::str::from_utf8(bytes).map(protocol::parse_client) {
            Ok(Ok(ClientMessage::Ping)) => protocol::pong(),
            Ok(Ok(ClientMessage::Subscribe(queues))) => {
                let ask = Subscribe { id: self.id, queues };
                ctx.wait(self.hub.send(ask).into_actor(self).map(|answer, actor, _| {
                    if let Ok(Ok(subscription)) = answer {
                        actor.subscription = subscription;
                    }
                }));
                return;
            }
            Ok(Err(error)) => error,
            Err(_) => protocol::error("invalid_json", "The message is not valid UTF-8 JSON."),
        };
        if !self.outbox.offer(&reply) {
            ctx.stop();
        }
    }
}

fn binary_refused() -> Frame {
    protocol::error("unsupported", "Binary messages are not supported.")
}

fn too_large() -> Option<Frame> {
    close_with(CloseCode::Size, "messages are limited to 4 KiB")
}

/// The payload length the frame at the start of `buffer` declares, once its header is
/// there (2, 4 or 10 bytes). actix-http's parser compares a frame with its size limit
/// only when the whole frame has arrived, so the connection reads the declared length
/// itself and refuses an oversized frame before buffering any of it.
fn declared_payload(buffer: &[u8]) -> Option<u64> {
    let short = u64::from(*buffer.get(1)? & 0x7f);
    match short {
        126 => buffer
            .get(2..4)
            .map(|b| u64::from(u16::from_be_bytes([b[0], b[1]]))),
        127 => buffer
            .get(2..10)
            .map(|b| u64::from_be_bytes(b.try_into().expect("eight bytes"))),
        n => Some(n),
    }
}

/// How a stretch of replay ended.
enum Replayed {
    /// Every event through this `seq` is queued.
    Through(u64),
    /// The log no longer holds the start of the stretch.
    Gone,
    /// The connection ended meanwhile.
    Ended,
}

/// Queues the events `from ..= to` that `identity` may see, a page at a time, waiting
/// for the outbox to drain between pages so that a long replay never fills it.
async fn replay_range(
    log: &EventLog,
    outbox: &Outbox,
    (identity, subscription): (Identity, &Subscription),
    base: &str,
    from: u64,
    to: u64,
) -> Replayed {
    let low_water = outbox.limit() / 4;
    let page = (outbox.limit() / 2).clamp(1, REPLAY_PAGE);
    let mut next = from;
    while next <= to {
        let room = futures_util::future::poll_fn(|cx: &mut TaskContext<'_>| outbox.poll_room(cx, low_water));
        if !room.await {
            return Replayed::Ended;
        }
        let events: Vec<Event> = match log.read(next, to, page) {
            Ok(events) if !events.is_empty() => events,
            Ok(_) => return Replayed::Gone,
            Err(error) => {
                tracing::error!(%error, "could not read the event log");
                return Replayed::Gone;
            }
        };
        for event in events {
            if event.seq != next {
                return Replayed::Gone;
            }
            next += 1;
            if !subscription.admits(&event.body) {
                continue;
            }
            let deliveries = protocol::event(&event, base);
            let shown = deliveries
                .iter()
                .find(|(audience, _)| audience.admits(identity.user, identity.roles));
            if let Some((_, frame)) = shown {
                match outbox.push(frame) {
                    Ok(()) => {}
                    Err(Refused::Ended) => return Replayed::Ended,
                    Err(Refused::Full) => {
                        outbox.close(Some(close_frame(CLOSE_LAGGING)));
                        return Replayed::Ended;
                    }
                }
            }
        }
    }
    Replayed::Through(to)
}

/// The client's bytes, parsed into frames as they arrive.
impl StreamHandler<Result<Bytes, PayloadError>> for ClientActor {
    fn handle(&mut self, chunk: Result<Bytes, PayloadError>, ctx: &mut Context<Self>) {
        let Ok(bytes) = chunk else {
            return self.close(None, ctx);
        };
        self.buffer.extend_from_slice(&bytes);
        loop {
            // The buffer always starts at a frame's first byte.
            if declared_payload(&self.buffer).is_some_and(|n| n > MAX_CLIENT_FRAME as u64) {
                return self.close(too_large(), ctx);
            }
            match self.codec.decode(&mut self.buffer) {
                Ok(Some(frame)) => {
                    self.last_heard = Instant::now();
                    self.answer(frame, ctx);
                }
                Ok(None) => return,
                Err(ws::ProtocolError::Overflow) => return self.close(too_large(), ctx),
                Err(error) => {
                    tracing::debug!(parent: &self.span, %error, "websocket protocol error");
                    return self.close(None, ctx);
                }
            }
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        self.close(None, ctx);
    }
}

impl Handler<Control> for ClientActor {
    type Result = ();

    fn handle(&mut self, msg: Control, ctx: &mut Context<Self>) {
        match msg {
            Control::Close(code) => {
                tracing::debug!(parent: &self.span, code, "closed by the server");
                self.close(Some(close_frame(code)), ctx);
            }
            Control::Gone => ctx.stop(),
        }
    }
}

fn close_with(code: CloseCode, description: &str) -> Option<Frame> {
    Some(Frame::close(Some(CloseReason {
        code,
        description: Some(description.to_string()),
    })))
}

/// The response body: the outbox's frames, then the end of the connection. Dropped when
/// the connection ends for any reason; the actor then stops (if it has not already).
struct Outgoing {
    outbox: Outbox,
    client: Addr<ClientActor>,
    /// Bytes handed to the dispatcher since it last found nothing to write.
    run: usize,
    /// A frame taken from the outbox that would have made the run longer than
    /// [`BURST`]: handed over first next time.
    held: Option<Bytes>,
}

/// The most bytes the body hands the dispatcher in a row before letting it write them
/// out (a single larger frame goes alone). actix-http copies everything a body has
/// ready into its write buffer before writing, and keeps that buffer (up to 128 KiB)
/// for the connection's life: memory a burst has touched stays resident. A replay of a
/// few dozen events handed over at once would leave every reconnected client holding
/// tens of KiB more than a connection that never dropped; an event's frame is a few
/// hundred bytes, so live fan-out is unaffected.
const BURST: usize = 2 * 1024;

impl futures_util::Stream for Outgoing {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let frame = match self.held.take() {
            Some(frame) => frame,
            None => match self.outbox.poll_next(cx) {
                Poll::Ready(Some(frame)) => frame,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => {
                    self.run = 0;
                    return Poll::Pending;
                }
            },
        };
        if self.run > 0 && self.run + frame.len() > BURST {
            // The dispatcher writes what it has, then polls again.
            self.held = Some(frame);
            self.run = 0;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.run += frame.len();
        Poll::Ready(Some(Ok(frame)))
    }
}

impl Drop for Outgoing {
    fn drop(&mut self) {
        self.outbox.gone();
        // The payload ends with the connection too; this only makes the stop prompt.
        let _ = self.client.try_send(Control::Gone);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_declared_length_is_read_from_each_header_size() {
        assert_eq!(declared_payload(&[0x81]), None, "not even the length byte yet");
        assert_eq!(declared_payload(&[0x81, 0x80 | 5]), Some(5));
        assert_eq!(declared_payload(&[0x81, 0x80 | 126, 0x10]), None);
        assert_eq!(declared_payload(&[0x81, 0x80 | 126, 0x10, 0x00]), Some(4096));
        let mut huge = vec![0x81, 0x80 | 127];
        huge.extend_from_slice(&(1u64 << 40).to_be_bytes());
        assert_eq!(declared_payload(&huge), Some(1 << 40));
        assert_eq!(declared_payload(&huge[..9]), None);
    }
}
