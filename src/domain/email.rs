//! The e-mails events cause (API.md's trigger table), as drafts: who gets what, under
//! which setting, in plain words, with the iCalendar part where one belongs. Sending
//! them is `notify::email`'s.

use super::calendar::{invitation, Method};
use super::event::{Event, EventBody};
use super::schedule::{NotificationSettings, Session, SessionStatus};
use super::ticket::Status;
use super::{Timestamp, UserId};

/// Which setting allows a draft (besides `email` itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Switch {
    SessionRequested,
    SessionConfirmed,
    SessionCancelled,
    Reminder(u8),
    TicketClaimed,
}

impl Switch {
    pub fn allowed_by(self, s: &NotificationSettings) -> bool {
        s.email
            && match self {
                Switch::SessionRequested => s.session_requested,
                Switch::SessionConfirmed => s.session_confirmed,
                Switch::SessionCancelled => s.session_cancelled,
                Switch::Reminder(minutes) => s.wants_reminder(minutes),
                Switch::TicketClaimed => s.ticket_claimed,
            }
    }
}

/// One e-mail to write.
#[derive(Clone, Debug, PartialEq)]
pub struct Draft {
    pub to: UserId,
    pub switch: Switch,
    pub subject: String,
    pub body: String,
    /// `text/calendar; method=…` content, for confirmations and cancellations.
    pub calendar: Option<(Method, String)>,
}

fn when(s: &Session) -> String {
    format!(
        "{} to {} UTC",
        s.start.format("%A %-d %B %Y, %H:%M"),
        s.end.format("%H:%M")
    )
}

/// The other party's name, for `to`.
fn other(s: &Session, to: UserId) -> &str {
    if to == s.mentor {
        &s.mentee_name
    } else {
        &s.mentor_name
    }
}

/// The e-mails `event` causes; `host` names this desk in calendar `UID`s.
pub fn drafts(event: &Event, host: &str, now: Timestamp) -> Vec<Draft> {
    match &event.body {
        EventBody::SessionUpdated(s) => session_drafts(s, event.by, host, now),
        EventBody::SessionReminder {
            session,
            to,
            minutes_before,
        } => vec![Draft {
            to: *to,
            switch: Switch::Reminder(*minutes_before),
            subject: format!("Your session with {} starts in {minutes_before} minutes", other(session, *to)),
            body: format!(
                "Hello,\n\nyour mentoring session with {} starts in {minutes_before} minutes ({}).\n{}\nSee you there.\n",
                other(session, *to),
                when(session),
                session
                    .meeting_url
                    .as_ref()
                    .map(|u| format!("Join here: {u}\n"))
                    .unwrap_or_default()
            ),
            calendar: None,
        }],
        // The claim itself, not a later change of a claimed ticket: it was claimed at
        // the moment of this event.
        EventBody::TicketUpdated(v)
            if v.ticket.status == Status::Claimed && v.ticket.claimed == Some(event.at) =>
        {
            let t = &v.ticket;
            let mentor = t.mentor.as_ref().map_or("A mentor", |m| m.name.as_str());
            vec![Draft {
                to: t.owner,
                switch: Switch::TicketClaimed,
                subject: format!("{mentor} is on the way: \"{}\"", t.title),
                body: format!(
                    "Hello,\n\n{mentor} has taken your ticket \"{}\" and is coming to {}.\nIf you have moved, update your ticket's location on the board.\n",
                    t.title, t.location
                ),
                calendar: None,
            }]
        }
        _ => Vec::new(),
    }
}

fn session_drafts(s: &Session, by: Option<UserId>, host: &str, now: Timestamp) -> Vec<Draft> {
    match s.status {
        SessionStatus::Pending => vec![Draft {
            to: s.mentor,
            switch: Switch::SessionRequested,
            subject: format!("{} asks for a session on {}", s.mentee_name, s.start.format("%-d %B, %H:%M UTC")),
            body: format!(
                "Hello {},\n\n{} would like a {}-minute session with you, {}.\nTopic: {}\n\nConfirm or decline it on the board.\n",
                s.mentor_name,
                s.mentee_name,
                s.length.minutes(),
                when(s),
                if s.topic.is_empty() { "(none given)" } else { &s.topic }
            ),
            calendar: None,
        }],
        SessionStatus::Confirmed => [s.mentor, s.mentee]
            .into_iter()
            .map(|to| Draft {
                to,
                switch: Switch::SessionConfirmed,
                subject: format!("Confirmed: session with {} on {}", other(s, to), s.start.format("%-d %B, %H:%M UTC")),
                body: format!(
                    "Hello,\n\nyour session with {} is confirmed for {}.\n{}\nThe invitation is attached for your calendar.\n",
                    other(s, to),
                    when(s),
                    s.meeting_url
                        .as_ref()
                        .map(|u| format!("Meeting link: {u}\n"))
                        .unwrap_or_default()
                ),
                calendar: Some((Method::Request, invitation(s, to, Method::Request, host, now))),
            })
            .collect(),
        SessionStatus::Cancelled => [s.mentor, s.mentee]
            .into_iter()
            .filter(|to| Some(*to) != by)
            .map(|to| Draft {
                to,
                switch: Switch::SessionCancelled,
                subject: format!("Cancelled: session with {} on {}", other(s, to), s.start.format("%-d %B, %H:%M UTC")),
                body: format!(
                    "Hello,\n\nyour session with {} on {} was cancelled.\nReason: {}\n",
                    other(s, to),
                    when(s),
                    s.cancel_reason.as_deref().filter(|r| !r.is_empty()).unwrap_or("none given")
                ),
                calendar: Some((Method::Cancel, invitation(s, to, Method::Cancel, host, now))),
            })
            .collect(),
        SessionStatus::Completed | SessionStatus::Expired => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::board::TicketView;
    use crate::domain::ticket::{apply_change, test_person, NewTicket, TicketChange};
    use crate::domain::user::Role;
    use crate::domain::TicketId;

    #[test]
    fn only_the_claim_itself_tells_the_owner() {
        let now = chrono::Utc::now();
        let owner = test_person(1, &[]);
        let ticket = NewTicket::parse(Some("Segfault"), Some("Table 7"), None, None, None)
            .unwrap()
            .into_ticket(TicketId(3), &owner, now);
        let mentor = test_person(2, &[Role::Mentor]);
        let claim = TicketChange {
            status: Some(Status::Claimed),
            ..Default::default()
        };
        let claimed = apply_change(&ticket, &mentor, &claim, now).unwrap().ticket;
        let event = |at, ticket| Event {
            seq: 9,
            at,
            by: Some(mentor.id),
            body: EventBody::TicketUpdated(TicketView {
                ticket,
                position: None,
                estimated_wait_seconds: None,
                matching_mentors: None,
            }),
        };
        let mails = drafts(&event(now, claimed.clone()), "desk", now);
        assert_eq!(mails.len(), 1);
        assert_eq!((mails[0].to, mails[0].switch), (owner.id, Switch::TicketClaimed));
        assert!(mails[0].subject.contains("User 2") && mails[0].body.contains("Table 7"));
        let later = now + chrono::Duration::minutes(3);
        assert!(
            drafts(&event(later, claimed), "desk", later).is_empty(),
            "marked away later"
        );
        let off = NotificationSettings {
            email: false,
            ..Default::default()
        };
        assert!(!Switch::TicketClaimed.allowed_by(&off));
        assert!(Switch::Reminder(15).allowed_by(&NotificationSettings::default()));
    }
}
