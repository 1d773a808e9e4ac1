//! Outbound webhooks as rules: the Standard Webhooks signature, the one-line Slack
//! text of each event, what an endpoint's answer means and how long to wait before the
//! next attempt. The sending is `notify::webhooks`'.

use super::event::{Event, EventBody};
use super::ticket::Status;
use super::QueueId;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The key a `secret` names: `whsec_<base64>` decoded, or any other string of at
/// least 24 bytes as its UTF-8 bytes.
pub fn secret_bytes(secret: &str) -> Result<Vec<u8>, &'static str> {
    if let Some(encoded) = secret.strip_prefix("whsec_") {
        let key = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| "after whsec_ must come base64")?;
        if key.is_empty() {
            return Err("the whsec_ key is empty");
        }
        return Ok(key);
    }
    if secret.len() < 24 {
        return Err("must be whsec_<base64> or at least 24 bytes");
    }
    Ok(secret.as_bytes().to_vec())
}

/// `v1,<base64 of HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(tag))
}

/// The `webhook-id` of an event: the same on every attempt.
pub fn message_id(event: &Event) -> String {
    format!("evt_{}", event.seq)
}

/// Whether an endpoint wants events of `kind`.
pub fn wants(events: &[String], kind: &str) -> bool {
    events.iter().any(|e| e == "*" || e == kind)
}

/// What an endpoint's answer means for the event being sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    /// 410 Gone: stop sending to this endpoint (until a restart).
    Disable,
    /// Try again, after at least this many seconds if the endpoint said so.
    Retry(Option<u64>),
}

impl Verdict {
    pub fn of(status: u16, retry_after: Option<u64>) -> Verdict {
        match status {
            200..=299 => Verdict::Delivered,
            410 => Verdict::Disable,
            429 => Verdict::Retry(retry_after),
            _ => Verdict::Retry(None),
        }
    }
}

/// The first retry waits a second.
pub const FIRST_BACKOFF_SECONDS: f64 = 1.0;
/// No wait is longer than ten minutes.
pub const LONGEST_BACKOFF_SECONDS: f64 = 600.0;

/// The wait before attempt `failures + 1`: 1 s doubling to at most 10 min, scaled by
/// `jitter` (from 0.5 to 1, drawn by the caller) so endpoints recovering together are
/// not hit together.
pub fn backoff_seconds(failures: u32, jitter: f64) -> f64 {
    let doubled = FIRST_BACKOFF_SECONDS * 2f64.powi(failures.min(20) as i32);
    doubled.min(LONGEST_BACKOFF_SECONDS) * jitter.clamp(0.5, 1.0)
}

/// The one readable line the `slack` format sends for `event`; `queue` names a queue.
pub fn slack_text(event: &Event, queue: impl Fn(QueueId) -> String) -> String {
    match &event.body {
        EventBody::TicketCreated(v) => {
            let t = &v.ticket;
            format!(
                "New ticket #{} in {}: \"{}\", {}",
                t.id,
                queue(t.queue),
                t.title,
                t.location
            )
        }
        EventBody::TicketUpdated(v) => {
            let t = &v.ticket;
            let how = match (t.status, &t.mentor) {
                (Status::Claimed, Some(m)) => format!("claimed by {}", m.name),
                (Status::Closed, Some(m)) => format!("closed by {}", m.name),
                (status, _) => format!("now {}", status.as_str()),
            };
            format!("Ticket #{} in {} (\"{}\") {how}", t.id, queue(t.queue), t.title)
        }
        EventBody::QueueCreated(q) => format!("New queue \"{}\"", q.name),
        EventBody::QueueUpdated(q) => {
            let state = if q.archived {
                "archived"
            } else if q.open {
                "open"
            } else {
                "closed"
            };
            match q.message.as_str() {
                "" => format!("Queue \"{}\" is {state}", q.name),
                message => format!("Queue \"{}\" is {state}: {message}", q.name),
            }
        }
        EventBody::AnnouncementPosted(a) => format!("Announcement from {}: {}", a.author, a.text),
        EventBody::FeedbackCreated(f) | EventBody::FeedbackUpdated(f) => format!(
            "Feedback on ticket #{} for {}: {}/5",
            f.ticket,
            f.mentor_name,
            f.rating.get()
        ),
        EventBody::AvailabilityUpdated { chunks, deleted } => format!(
            "Availability changed: {} half-hour slot(s) updated, {} removed",
            chunks.len(),
            deleted.len()
        ),
        EventBody::SessionUpdated(s) => format!(
            "Session #{} of {} with {} at {} is {}",
            s.id,
            s.mentee_name,
            s.mentor_name,
            s.start.format("%Y-%m-%d %H:%M UTC"),
            s.status.as_str()
        ),
        EventBody::SessionReminder {
            session,
            minutes_before,
            ..
        } => format!(
            "Reminder: the session of {} with {} starts in {minutes_before} minutes",
            session.mentee_name, session.mentor_name
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_reproduce_the_specifications_test_vector() {
        let key = secret_bytes("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            sign(
                &key,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_are_whsec_base64_or_long_enough() {
        assert_eq!(secret_bytes("a plain secret of 24 b!!").unwrap().len(), 24);
        assert!(secret_bytes("too short").is_err());
        assert!(secret_bytes("whsec_not base64!").is_err());
    }

    #[test]
    fn answers_and_waits() {
        assert_eq!(Verdict::of(204, None), Verdict::Delivered);
        assert_eq!(Verdict::of(410, None), Verdict::Disable);
        assert_eq!(Verdict::of(429, Some(7)), Verdict::Retry(Some(7)));
        assert_eq!(Verdict::of(500, Some(7)), Verdict::Retry(None));
        assert_eq!(backoff_seconds(0, 1.0), 1.0);
        assert_eq!(backoff_seconds(3, 1.0), 8.0);
        assert_eq!(backoff_seconds(30, 1.0), 600.0);
        assert_eq!(backoff_seconds(3, 0.1), 4.0, "jitter at most halves");
        assert!(wants(&["*".into()], "announcement"));
        assert!(!wants(&["ticket.created".into()], "ticket.updated"));
    }
}
