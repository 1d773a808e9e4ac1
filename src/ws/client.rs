//! One actor per WebSocket connection: heartbeat, client messages, and writing what the
//! Hub sends. This is the only file that knows actix-web-actors, so moving to actix-ws
//! later touches nothing else.

use super::hub::{ClientId, Connect, Disconnect, Hub, Outbox};
use super::protocol::Frame;
use super::protocol::{self, ClientMessage};
use crate::domain::user::Roles;
use crate::domain::{DeviceSessionId, UserId};
use actix::prelude::*;
use actix_web_actors::ws;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How often the server pings.
pub const PING_EVERY: Duration = Duration::from_secs(10);
/// A connection silent for this long is closed (1001).
pub const SILENCE_LIMIT: Duration = Duration::from_secs(30);
/// Client frames larger than this are refused (1009).
pub const MAX_CLIENT_FRAME: usize = 4 * 1024;

pub struct ClientActor {
    hub: Addr<Hub>,
    user: UserId,
    roles: Roles,
    device: DeviceSessionId,
    since: Option<u64>,
    id: Option<ClientId>,
    last_heard: Instant,
    /// The outbox: the Hub fills it, this connection drains it as its socket accepts
    /// data. Bounded, so a client that stops reading cannot grow the server's memory.
    outbox: Option<(mpsc::Sender<Frame>, mpsc::Receiver<Frame>)>,
    close_code: Arc<AtomicU16>,
}

impl ClientActor {
    pub fn new(
        hub: Addr<Hub>,
        user: UserId,
        roles: Roles,
        device: DeviceSessionId,
        since: Option<u64>,
        outbox_limit: usize,
    ) -> Self {
        ClientActor {
            hub,
            user,
            roles,
            device,
            since,
            id: None,
            last_heard: Instant::now(),
            outbox: Some(mpsc::channel(outbox_limit)),
            close_code: Arc::new(AtomicU16::new(0)),
        }
    }

    fn close(&self, ctx: &mut ws::WebsocketContext<Self>, code: ws::CloseCode, reason: &str) {
        ctx.close(Some(ws::CloseReason {
            code,
            description: Some(reason.to_string()),
        }));
        ctx.stop();
    }
}

impl Actor for ClientActor {
    type Context = ws::WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(PING_EVERY, |act, ctx| {
            if act.last_heard.elapsed() > SILENCE_LIMIT {
                act.close(ctx, ws::CloseCode::Away, "silent for too long");
            } else {
                ctx.ping(b"");
            }
        });
        let (frames, mut queued) = self.outbox.take().expect("started once");
        ctx.add_stream(futures_util::stream::poll_fn(move |cx| queued.poll_recv(cx)));
        let connect = Connect {
            user: self.user,
            roles: self.roles,
            device: self.device,
            since: self.since,
            outbox: Outbox {
                frames,
                close_code: self.close_code.clone(),
            },
        };
        self.hub
            .send(connect)
            .into_actor(self)
            .map(|id, act, ctx| match id {
                Ok(id) => act.id = Some(id),
                Err(_) => ctx.stop(),
            })
            .wait(ctx);
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        if let Some(id) = self.id {
            self.hub.do_send(Disconnect(id));
        }
    }
}

/// Frames from the outbox, written in order.
impl StreamHandler<Frame> for ClientActor {
    fn handle(&mut self, frame: Frame, ctx: &mut Self::Context) {
        ctx.text(frame);
    }

    /// The Hub let go of this client: close with the code it chose, after everything
    /// that was queued has been written.
    fn finished(&mut self, ctx: &mut Self::Context) {
        match self.close_code.load(Ordering::Acquire) {
            0 => ctx.stop(),
            4008 => self.close(ctx, ws::CloseCode::Other(4008), "lagging: reconnect with since"),
            code => self.close(
                ctx,
                ws::CloseCode::Other(code),
                "session revoked or roles changed",
            ),
        }
    }
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for ClientActor {
    fn handle(&mut self, msg: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        self.last_heard = Instant::now();
        match msg {
            Ok(ws::Message::Ping(bytes)) => ctx.pong(&bytes),
            Ok(ws::Message::Pong(_)) => {}
            Ok(ws::Message::Text(text)) => match protocol::parse_client(&text) {
                Ok(ClientMessage::Ping) => ctx.text(protocol::pong()),
                Err(error) => ctx.text(error),
            },
            Ok(ws::Message::Binary(_)) => {
                ctx.text(protocol::error(
                    "unsupported",
                    "Binary messages are not supported.",
                ));
            }
            Ok(ws::Message::Close(_)) => {
                ctx.close(None);
                ctx.stop();
            }
            Ok(ws::Message::Continuation(_)) | Ok(ws::Message::Nop) => {}
            Err(ws::ProtocolError::Overflow) => {
                self.close(ctx, ws::CloseCode::Size, "frames are limited to 4 KiB");
            }
            Err(error) => {
                tracing::debug!(%error, "websocket protocol error");
                ctx.stop();
            }
        }
    }
}

/// Starts the actor for an upgraded request.
pub fn start(
    actor: ClientActor,
    req: &actix_web::HttpRequest,
    stream: actix_web::web::Payload,
) -> Result<actix_web::HttpResponse, actix_web::Error> {
    ws::WsResponseBuilder::new(actor, req, stream)
        .codec(actix_http::ws::Codec::new().max_size(MAX_CLIENT_FRAME))
        .start()
}
