//! Sessions as iCalendar (RFC 5545): the invitation attached to a confirmation or a
//! cancellation, and a user's subscribable feed. Built with the `icalendar` crate.

use super::schedule::{NotificationSettings, Session, SessionStatus};
use super::{Timestamp, UserId};
use icalendar::{Alarm, Calendar, CalendarDateTime, Component, EventLike, EventStatus, Trigger};

/// `METHOD` of an invitation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Request,
    Cancel,
}

/// A session's `UID`: stable for its life, unique to this desk (`host`).
pub fn uid(session: &Session, host: &str) -> String {
    format!("session-{}@{host}", session.id)
}

/// A session's `SEQUENCE`, which grows with each change: 0 requested, 1 once confirmed
/// (or ended without it), 2 once it ended after a confirmation.
pub fn sequence(session: &Session) -> u32 {
    let confirmed = u32::from(session.meeting_url.is_some());
    let ended = u32::from(!matches!(
        session.status,
        SessionStatus::Pending | SessionStatus::Confirmed
    ));
    confirmed + ended
}

fn status_of(session: &Session) -> EventStatus {
    match session.status {
        SessionStatus::Pending => EventStatus::Tentative,
        SessionStatus::Confirmed | SessionStatus::Completed => EventStatus::Confirmed,
        SessionStatus::Cancelled | SessionStatus::Expired => EventStatus::Cancelled,
    }
}

/// The `VEVENT` of `session` as `viewer` sees it (the summary names the other party).
fn vevent(session: &Session, viewer: UserId, host: &str, now: Timestamp) -> icalendar::Event {
    let other = if viewer == session.mentor {
        &session.mentee_name
    } else {
        &session.mentor_name
    };
    let mut event = icalendar::Event::new();
    event
        .uid(&uid(session, host))
        .timestamp(now)
        .starts(CalendarDateTime::Utc(session.start))
        .ends(CalendarDateTime::Utc(session.end))
        .summary(&format!("Mentoring session with {other}"))
        .sequence(sequence(session))
        .status(status_of(session));
    if !session.topic.is_empty() {
        event.description(&session.topic);
    }
    if let Some(url) = &session.meeting_url {
        event.url(url);
    }
    event.done()
}

/// An invitation for one party of `session`.
pub fn invitation(session: &Session, to: UserId, method: Method, host: &str, now: Timestamp) -> String {
    let mut calendar = Calendar::new();
    calendar.append_property((
        "METHOD",
        match method {
            Method::Request => "REQUEST",
            Method::Cancel => "CANCEL",
        },
    ));
    calendar.push(vevent(session, to, host, now));
    calendar.done().to_string()
}

/// Sessions that ended at least this long ago leave the feed.
pub const FEED_DAYS: i64 = 30;

/// `viewer`'s feed: one `VEVENT` per session of theirs that has not ended or ended
/// less than [`FEED_DAYS`] ago, with a `VALARM` 60 and 15 minutes before a CONFIRMED
/// session for each reminder setting that is on. `stamp` is the `DTSTAMP` (the newest
/// change, so an unchanged feed is byte-for-byte the same and keeps its `ETag`).
pub fn feed<'a>(
    viewer: UserId,
    sessions: impl Iterator<Item = &'a Session>,
    settings: NotificationSettings,
    host: &str,
    now: Timestamp,
    stamp: Timestamp,
) -> String {
    let mut calendar = Calendar::new();
    calendar.name("mentorq sessions");
    let cutoff = now - chrono::Duration::days(FEED_DAYS);
    let mut mine: Vec<&Session> = sessions
        .filter(|s| s.involves(viewer) && s.end > cutoff)
        .collect();
    mine.sort_by_key(|s| (s.start, s.id));
    for session in mine {
        let mut event = vevent(session, viewer, host, stamp);
        if session.status == SessionStatus::Confirmed {
            for (minutes, on) in [
                (60, settings.sixty_minute_alert),
                (15, settings.fifteen_minute_alert),
            ] {
                if on {
                    let trigger = Trigger::before_start(chrono::Duration::minutes(minutes));
                    event.alarm(Alarm::display(&format!("Session in {minutes} minutes"), trigger));
                }
            }
        }
        calendar.push(event);
    }
    calendar.done().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::schedule::SessionLength;
    use crate::domain::{ChunkId, SessionId};
    use chrono::{TimeZone, Utc};

    fn session(status: SessionStatus, url: bool) -> Session {
        let start = Utc.with_ymd_and_hms(2030, 1, 10, 14, 0, 0).unwrap();
        Session {
            id: SessionId(7),
            mentor: UserId(1),
            mentor_name: "Grace".into(),
            mentee: UserId(2),
            mentee_name: "Ada".into(),
            chunks: vec![ChunkId(1)],
            start,
            end: start + chrono::Duration::minutes(30),
            length: SessionLength::parse(30).unwrap(),
            status,
            topic: "Review".into(),
            meeting_url: url.then(|| "https://meet.example/x".to_string()),
            cancel_reason: None,
            reminders_sent: Vec::new(),
        }
    }

    #[test]
    fn the_sequence_grows_along_every_path_of_a_session() {
        use SessionStatus::*;
        for path in [
            vec![
                session(Pending, false),
                session(Confirmed, true),
                session(Completed, true),
            ],
            vec![
                session(Pending, false),
                session(Confirmed, true),
                session(Cancelled, true),
            ],
            vec![session(Pending, false), session(Cancelled, false)],
            vec![session(Pending, false), session(Expired, false)],
        ] {
            let seqs: Vec<u32> = path.iter().map(sequence).collect();
            assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
        }
    }

    #[test]
    fn an_invitation_names_its_method_and_the_other_party() {
        let now = Utc.with_ymd_and_hms(2030, 1, 10, 9, 0, 0).unwrap();
        let ics = invitation(
            &session(SessionStatus::Confirmed, true),
            UserId(2),
            Method::Request,
            "desk",
            now,
        );
        assert!(ics.contains("METHOD:REQUEST"), "{ics}");
        assert!(ics.contains("UID:session-7@desk"), "{ics}");
        assert!(ics.contains("SUMMARY:Mentoring session with Grace"), "{ics}");
        assert!(ics.contains("DTSTART:20300110T140000Z"), "{ics}");
        let feed = feed(
            UserId(1),
            [session(SessionStatus::Confirmed, true)].iter(),
            NotificationSettings {
                fifteen_minute_alert: false,
                ..Default::default()
            },
            "desk",
            now,
            now,
        );
        assert_eq!(feed.matches("BEGIN:VALARM").count(), 1, "{feed}");
        assert!(feed.contains("with Ada"), "{feed}");
    }
}
