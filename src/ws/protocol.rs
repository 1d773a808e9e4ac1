//! The WebSocket wire format (API.md "WebSocket"): every server→client message as JSON.
//! Each message is serialised and framed once; every recipient's connection writes the
//! same reference-counted bytes.

use crate::api::views::{AnnouncementJson, EventData, QueueJson, SessionJson, TicketJson};
pub use crate::api::Stamp;
use crate::domain::event::{Audience, Event, Subscription};
use crate::domain::projection::{PositionChange, SnapshotView};
use crate::domain::queue::FIRST_QUEUE;
use crate::domain::QueueId;
use actix_http::ws::{CloseReason, OpCode, Parser};
use bytes::{Bytes, BytesMut};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// One complete WebSocket frame as it goes on the wire (server frames are not masked,
/// so the bytes are the same for every recipient). Cloning shares them.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame(Bytes);

impl Frame {
    /// A text frame carrying `text`.
    pub fn text(text: &str) -> Frame {
        Frame::control(OpCode::Text, text.as_bytes())
    }

    /// A frame of any opcode (ping, pong, text) with `payload`.
    pub fn control(op: OpCode, payload: &[u8]) -> Frame {
        let mut wire = BytesMut::with_capacity(payload.len() + 10);
        Parser::write_message(&mut wire, payload, op, true, false);
        Frame(wire.freeze())
    }

    /// A close frame, with a code and reason or (`None`) empty.
    pub fn close(reason: Option<CloseReason>) -> Frame {
        let mut wire = BytesMut::new();
        Parser::write_close(&mut wire, reason, false);
        Frame(wire.freeze())
    }

    /// The code of a close frame: its own, or 1005 ("no status", RFC 6455 §7.4.1) for a
    /// close frame without one; `None` for any other frame.
    pub fn close_code(&self) -> Option<u16> {
        let is_close = self.0.first().is_some_and(|b| b & 0x0f == 0x08);
        let code = match self.0.get(2..4) {
            Some(code) => u16::from_be_bytes([code[0], code[1]]),
            None => 1005,
        };
        is_close.then_some(code)
    }

    /// The bytes to write.
    pub fn wire(&self) -> &Bytes {
        &self.0
    }

    /// The payload (after the 2-, 4- or 10-byte header), as text.
    pub fn payload(&self) -> &str {
        let header = match self.0[1] & 0x7f {
            126 => 4,
            127 => 10,
            _ => 2,
        };
        std::str::from_utf8(&self.0[header..]).unwrap_or("")
    }
}

fn frame(value: Value) -> Frame {
    Frame::text(&value.to_string())
}

/// `{"type":"event","seq","kind","data"}`, framed once for each part of its audience
/// that is shown it differently (see [`Event::deliveries`]); URLs under `base`.
pub fn event(event: &Event, base: &str) -> Vec<(Audience, Frame)> {
    event
        .deliveries()
        .into_iter()
        .map(|(audience, event)| {
            #[derive(serde::Serialize)]
            struct Pushed<'a> {
                r#type: &'static str,
                seq: u64,
                kind: &'static str,
                data: EventData<'a>,
            }
            let pushed = Pushed {
                r#type: "event",
                seq: event.seq,
                kind: event.body.kind(),
                data: EventData(&event.body, base),
            };
            let text = serde_json::to_string(&pushed).expect("events serialise to JSON");
            (audience, Frame::text(&text))
        })
        .collect()
}

/// `{"type":"snapshot", …}`: one viewer's state as of its `seq`.
pub fn snapshot(s: &SnapshotView<'_>, stamp: &Stamp) -> Frame {
    frame(json!({
        "type": "snapshot",
        "seq": s.seq,
        "epoch": &*stamp.epoch,
        "tickets": s.tickets.iter().map(|t| TicketJson::new(t, &stamp.base)).collect::<Vec<_>>(),
        "queue": QueueJson::from(&s.queue),
        "queues": s.queues.iter().map(QueueJson::from).collect::<Vec<_>>(),
        "sessions": s.sessions.iter().copied().map(SessionJson::from).collect::<Vec<_>>(),
        "announcements": s.announcements.iter().copied().map(AnnouncementJson::from).collect::<Vec<_>>(),
    }))
}

pub fn resume(from: u64, to: u64, stamp: &Stamp) -> Frame {
    frame(json!({"type": "resume", "from": from, "to": to, "epoch": &*stamp.epoch}))
}

pub fn position(change: &PositionChange) -> Frame {
    frame(json!({
        "type": "position",
        "ticket": change.ticket.0,
        "queue": change.queue.0,
        "position": change.position,
        "estimated_wait_seconds": change.wait,
    }))
}

/// `{"type":"presence","mentors_online":n,"queues":{"1":n,…}}`: the available mentors
/// of every queue not archived; `mentors_online` is queue 1's.
pub fn presence(counts: &BTreeMap<QueueId, usize>) -> Frame {
    let queues: serde_json::Map<String, Value> =
        counts.iter().map(|(q, n)| (q.0.to_string(), json!(n))).collect();
    frame(json!({
        "type": "presence",
        "mentors_online": counts.get(&FIRST_QUEUE).copied().unwrap_or(0),
        "queues": queues,
    }))
}

/// The answer to `subscribe`: the queues now admitted (`null` for all).
pub fn subscribed(subscription: &Subscription) -> Frame {
    let queues = subscription
        .0
        .as_ref()
        .map(|q| q.iter().map(|id| id.0).collect::<Vec<_>>());
    frame(json!({"type": "subscribed", "queues": queues}))
}

pub fn pong() -> Frame {
    frame(json!({"type": "pong"}))
}

pub fn error(code: &str, detail: &str) -> Frame {
    frame(json!({"type": "error", "code": code, "detail": detail}))
}

/// What a client may send.
#[derive(Debug, PartialEq)]
pub enum ClientMessage {
    Ping,
    /// The queues asked for (`None`: every queue), not yet checked to exist.
    Subscribe(Option<BTreeSet<QueueId>>),
}

/// Parses a list of queue ids (`[1, 3]`, or `null` for all) as `subscribe` and `&queues=`
/// carry it; the error is a sentence for a person.
pub fn parse_queue_list(value: &Value) -> Result<Option<BTreeSet<QueueId>>, &'static str> {
    const WRONG: &str = "`queues` must be a list of queue ids (whole numbers from 1) or null";
    match value {
        Value::Null => Ok(None),
        Value::Array(items) if items.len() <= 1000 => items
            .iter()
            .map(|v| v.as_u64().filter(|n| *n >= 1).map(QueueId).ok_or(WRONG))
            .collect::<Result<BTreeSet<_>, _>>()
            .map(Some),
        _ => Err(WRONG),
    }
}

/// Parses a client's text frame; the error is the `error` message to answer with.
pub fn parse_client(text: &str) -> Result<ClientMessage, Frame> {
    let value: Value =
        serde_json::from_str(text).map_err(|_| error("invalid_json", "The message is not valid JSON."))?;
    match value.get("type").and_then(Value::as_str) {
        Some("ping") => Ok(ClientMessage::Ping),
        Some("subscribe") => match value.get("queues") {
            None => Err(error(
                "validation_failed",
                "`subscribe` needs `queues` (a list of ids, or null).",
            )),
            Some(queues) => parse_queue_list(queues)
                .map(ClientMessage::Subscribe)
                .map_err(|why| error("validation_failed", why)),
        },
        Some(other) => Err(error("unknown_type", &format!("Unknown message type `{other}`."))),
        None => Err(error("validation_failed", "A message needs a string `type`.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_messages_are_parsed_or_answered_with_an_error() {
        assert_eq!(parse_client(r#"{"type":"ping"}"#), Ok(ClientMessage::Ping));
        assert_eq!(
            parse_client(r#"{"type":"subscribe","queues":[3,1,3]}"#),
            Ok(ClientMessage::Subscribe(Some([QueueId(1), QueueId(3)].into())))
        );
        assert_eq!(
            parse_client(r#"{"type":"subscribe","queues":null}"#),
            Ok(ClientMessage::Subscribe(None))
        );
        for wrong in [
            r#"{"type":"subscribe"}"#,
            r#"{"type":"subscribe","queues":[0]}"#,
            r#"{"type":"subscribe","queues":"1"}"#,
        ] {
            assert!(
                parse_client(wrong)
                    .unwrap_err()
                    .payload()
                    .contains("validation_failed"),
                "{wrong}"
            );
        }
        let garbage = parse_client("{nope").unwrap_err();
        assert!(garbage.payload().contains("invalid_json"));
        let unknown = parse_client(r#"{"type":"dance"}"#).unwrap_err();
        assert!(unknown.payload().contains("unknown_type"));
        assert!(parse_client("[]")
            .unwrap_err()
            .payload()
            .contains("validation_failed"));
    }

    #[test]
    fn a_close_frame_tells_its_code_and_other_frames_none() {
        use actix_http::ws::CloseCode;
        let with = Frame::close(Some(CloseReason {
            code: CloseCode::Size,
            description: None,
        }));
        assert_eq!(with.close_code(), Some(1009));
        assert_eq!(Frame::close(None).close_code(), Some(1005));
        assert_eq!(Frame::text("hi").close_code(), None);
    }

    #[test]
    fn frames_carry_their_payload_after_a_header_sized_to_it() {
        for size in [0, 125, 126, 65_535, 65_536] {
            let text = "x".repeat(size);
            let frame = Frame::text(&text);
            assert_eq!(frame.wire()[0], 0x81, "FIN + text");
            assert_eq!(frame.payload(), text);
            let header = if size < 126 {
                2
            } else if size <= 65_535 {
                4
            } else {
                10
            };
            assert_eq!(frame.wire().len(), header + size);
        }
    }
}
