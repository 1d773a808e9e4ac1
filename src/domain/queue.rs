//! The queue as a whole: its open/closed switch, announcements, the wait estimate,
//! statistics and the leaderboard. All pure functions over tickets and feedback.

use super::feedback::Feedback;
use super::ticket::{seconds_between, Status, Ticket};
use super::validate::FieldErrors;
use super::{Timestamp, UserId};
use std::collections::BTreeMap;

/// Whether tickets may be opened, and the message shown on the board.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueSettings {
    pub open: bool,
    pub message: String,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            open: true,
            message: String::new(),
        }
    }
}

pub use super::board::QueueSummary;

pub const MESSAGE_MAX: usize = 1000;

#[derive(Clone, Debug, PartialEq)]
pub struct Announcement {
    pub id: u64,
    pub text: String,
    /// The poster's name.
    pub author: String,
    pub author_id: UserId,
    pub created: Timestamp,
}

pub const ANNOUNCEMENT_MAX: usize = 1000;

/// How many recent closed tickets the service time is measured over.
pub const SERVICE_SAMPLE: usize = 20;
/// The service time assumed before any ticket has been closed by a mentor.
pub const DEFAULT_SERVICE_SECONDS: f64 = 600.0;

/// The mean of measured claim→close times (see `Board`, which keeps the most recent
/// `SERVICE_SAMPLE`), or [`DEFAULT_SERVICE_SECONDS`] without any.
pub fn mean_or_default(service_samples: &[f64]) -> f64 {
    mean(service_samples).unwrap_or(DEFAULT_SERVICE_SECONDS)
}

/// The wait of the OPEN ticket at `position` (1-based): the tickets that must be
/// served first (the `position - 1` ahead of it plus the `claimed` ones in service)
/// shared among `mentors` working in parallel, each taking `service` seconds.
/// `None` without a mentor online: there is then no honest estimate.
pub fn estimate_wait(position: usize, claimed: usize, mentors: usize, service: f64) -> Option<f64> {
    if mentors == 0 {
        return None;
    }
    let ahead = (position.saturating_sub(1) + claimed) as f64;
    Some((ahead * service / mentors as f64).round())
}

/// A validated `PATCH /api/queue/`.
pub fn parse_queue_change(
    open: Option<bool>,
    message: Option<&str>,
    current: &QueueSettings,
) -> Result<QueueSettings, FieldErrors> {
    let mut errors = FieldErrors::new();
    let message = match message {
        Some(m) => errors.optional_text("message", Some(m), MESSAGE_MAX),
        None => current.message.clone(),
    };
    errors.into_result(QueueSettings {
        open: open.unwrap_or(current.open),
        message,
    })
}

#[derive(Clone, Debug, PartialEq)]
pub struct MentorStats {
    pub mentor_email: String,
    pub mentor: String,
    pub claimed: u64,
    pub closed: u64,
    pub average_rating: Option<f64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Stats {
    pub average_claimed_datetime_seconds: Option<f64>,
    pub average_closed_datetime_seconds: Option<f64>,
    pub median_wait_seconds: Option<f64>,
    pub p90_wait_seconds: Option<f64>,
    pub counts: BTreeMap<&'static str, u64>,
    pub total: u64,
    pub mentors: Vec<MentorStats>,
    /// The mean of every rating given.
    pub average_rating: Option<f64>,
}

fn mean(samples: &[f64]) -> Option<f64> {
    (!samples.is_empty()).then(|| samples.iter().sum::<f64>() / samples.len() as f64)
}

/// The nearest-rank percentile `p` (0 < p ≤ 100) of `sorted`.
fn nearest_rank(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// The statistics of API.md over every ticket and every feedback.
pub fn stats<'a>(
    tickets: impl Iterator<Item = &'a Ticket>,
    feedback: impl Iterator<Item = &'a Feedback>,
) -> Stats {
    let mut counts: BTreeMap<&'static str, u64> = Status::ALL.iter().map(|s| (s.as_str(), 0)).collect();
    let mut waits = Vec::new();
    let mut to_close = Vec::new();
    let mut mentors: BTreeMap<String, MentorStats> = BTreeMap::new();
    let mut total = 0;
    for t in tickets {
        total += 1;
        *counts.entry(t.status.as_str()).or_default() += 1;
        if let Some(first) = t.first_claimed {
            waits.push(seconds_between(t.created, first));
        }
        if let (Status::Closed, Some(closed)) = (t.status, t.closed) {
            to_close.push(seconds_between(t.created, closed));
        }
        for c in &t.claimants {
            let row = mentors.entry(c.email.clone()).or_insert_with(|| MentorStats {
                mentor_email: c.email.clone(),
                mentor: c.name.clone(),
                claimed: 0,
                closed: 0,
                average_rating: None,
            });
            row.claimed += 1;
        }
        if let (Status::Closed, Some(m)) = (t.status, &t.mentor) {
            if let Some(row) = mentors.get_mut(&m.email) {
                row.closed += 1;
            }
        }
    }
    let mut ratings: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut every_rating = Vec::new();
    for f in feedback {
        let rating = f64::from(f.rating.get());
        ratings.entry(f.mentor_email.as_str()).or_default().push(rating);
        every_rating.push(rating);
    }
    for row in mentors.values_mut() {
        row.average_rating = ratings.get(row.mentor_email.as_str()).and_then(|r| mean(r));
    }
    let average_claimed = mean(&waits);
    waits.sort_by(f64::total_cmp);
    Stats {
        average_claimed_datetime_seconds: average_claimed,
        average_closed_datetime_seconds: mean(&to_close),
        median_wait_seconds: nearest_rank(&waits, 50.0),
        p90_wait_seconds: nearest_rank(&waits, 90.0),
        counts,
        total,
        mentors: mentors.into_values().collect(),
        average_rating: mean(&every_rating),
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct LeaderboardRow {
    /// The mentor's email.
    pub mentor: String,
    pub mentor_name: String,
    pub average_rating: f64,
    pub count: u64,
}

pub const LEADERBOARD_MAX: usize = 100;

/// Mentors by average rating, highest first; ties by more ratings, then by email.
pub fn leaderboard<'a>(feedback: impl Iterator<Item = &'a Feedback>, limit: usize) -> Vec<LeaderboardRow> {
    let mut by_mentor: BTreeMap<&str, (String, u64, u64)> = BTreeMap::new();
    for f in feedback {
        let row = by_mentor
            .entry(f.mentor_email.as_str())
            .or_insert_with(|| (f.mentor_name.clone(), 0, 0));
        row.1 += u64::from(f.rating.get());
        row.2 += 1;
    }
    let mut rows: Vec<LeaderboardRow> = by_mentor
        .into_iter()
        .map(|(email, (name, sum, count))| LeaderboardRow {
            mentor: email.to_string(),
            mentor_name: name,
            average_rating: sum as f64 / count as f64,
            count,
        })
        .collect();
    rows.sort_by(|a, b| {
        b.average_rating
            .total_cmp(&a.average_rating)
            .then(b.count.cmp(&a.count))
            .then(a.mentor.cmp(&b.mentor))
    });
    rows.truncate(limit);
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::feedback::Rating;
    use crate::domain::ticket::MentorRef;
    use crate::domain::TicketId;
    use chrono::{Duration, TimeZone, Utc};

    fn t0() -> Timestamp {
        Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap()
    }

    fn mentor(n: u64) -> MentorRef {
        MentorRef {
            id: UserId(100 + n),
            email: format!("m{n}@x.org"),
            name: format!("Mentor {n}"),
        }
    }

    /// A ticket created at t0, first claimed after `wait` s by `by`, closed `close`
    /// s after creation (if given).
    fn ticket(id: u64, wait: Option<(i64, u64)>, close: Option<i64>) -> Ticket {
        let first_claimed = wait.map(|(w, _)| t0() + Duration::seconds(w));
        let m = wait.map(|(_, m)| mentor(m));
        Ticket {
            id: TicketId(id),
            owner: UserId(1),
            owner_email: "o@x.org".into(),
            owner_name: "O".into(),
            title: "t".into(),
            comment: String::new(),
            contact: String::new(),
            location: "l".into(),
            status: match (wait, close) {
                (_, Some(_)) => Status::Closed,
                (Some(_), None) => Status::Claimed,
                (None, None) => Status::Open,
            },
            mentor: m.clone(),
            created: t0(),
            claimed: first_claimed,
            closed: close.map(|c| t0() + Duration::seconds(c)),
            first_claimed,
            claimants: m.into_iter().collect(),
            last_changed_by: UserId(1),
            has_feedback: false,
            anonymous: false,
            active: true,
        }
    }

    fn feedback(mentor_n: u64, rating: i64) -> Feedback {
        let m = mentor(mentor_n);
        Feedback {
            ticket: TicketId(1),
            owner: UserId(1),
            rating: Rating::parse(rating).unwrap(),
            comments: String::new(),
            mentor: m.id,
            mentor_email: m.email,
            mentor_name: m.name,
            created: t0(),
        }
    }

    #[test]
    fn statistics_without_samples_are_null() {
        let s = stats([ticket(1, None, None)].iter(), [].iter());
        assert_eq!(s.average_claimed_datetime_seconds, None);
        assert_eq!(s.average_closed_datetime_seconds, None);
        assert_eq!(s.median_wait_seconds, None);
        assert_eq!(s.p90_wait_seconds, None);
        assert_eq!(s.counts["OPEN"], 1);
        assert_eq!(s.total, 1);
        assert!(s.mentors.is_empty());
    }

    #[test]
    fn statistics_match_hand_computed_values() {
        // Waits 60, 120, 180, 240 (four claimed tickets); one never claimed.
        // Closed after 600 (by m1) and 900 (by m2); an open one is closed without help at 300.
        let tickets = [
            ticket(1, Some((60, 1)), Some(600)),
            ticket(2, Some((120, 2)), Some(900)),
            ticket(3, Some((180, 1)), None),
            ticket(4, Some((240, 1)), None),
            ticket(5, None, Some(300)),
        ];
        let fb = [feedback(1, 5), feedback(1, 4), feedback(2, 3)];
        let s = stats(tickets.iter(), fb.iter());
        assert_eq!(s.average_claimed_datetime_seconds, Some(150.0));
        assert_eq!(s.average_closed_datetime_seconds, Some(600.0));
        // Nearest rank: median of 4 = rank 2 = 120; p90 = rank ceil(3.6) = 4 = 240.
        assert_eq!(s.median_wait_seconds, Some(120.0));
        assert_eq!(s.p90_wait_seconds, Some(240.0));
        assert_eq!(s.counts["CLOSED"], 3);
        assert_eq!(s.counts["CLAIMED"], 2);
        assert_eq!(s.total, 5);
        let m1 = &s.mentors[0];
        assert_eq!((m1.claimed, m1.closed, m1.average_rating), (3, 1, Some(4.5)));
        let m2 = &s.mentors[1];
        assert_eq!((m2.claimed, m2.closed, m2.average_rating), (1, 1, Some(3.0)));
    }

    #[test]
    fn the_wait_shares_the_work_ahead_among_the_mentors_online() {
        assert_eq!(estimate_wait(1, 0, 2, 300.0), Some(0.0));
        assert_eq!(estimate_wait(3, 1, 2, 300.0), Some(450.0));
        assert_eq!(estimate_wait(3, 1, 0, 300.0), None);
    }

    #[test]
    fn service_time_is_measured_on_recent_closed_tickets() {
        let mut fast = ticket(1, Some((0, 1)), Some(100));
        fast.claimed = Some(t0() + Duration::seconds(40));
        assert_eq!(fast.service_seconds(), Some(60.0));
        assert_eq!(mean_or_default(&[60.0, 120.0]), 90.0);
        assert_eq!(mean_or_default(&[]), DEFAULT_SERVICE_SECONDS);
    }

    #[test]
    fn leaderboard_orders_by_average_then_count() {
        let fb = [
            feedback(1, 5),
            feedback(2, 5),
            feedback(2, 5),
            feedback(3, 3),
            feedback(4, 4),
        ];
        let rows = leaderboard(fb.iter(), 3);
        let emails: Vec<&str> = rows.iter().map(|r| r.mentor.as_str()).collect();
        assert_eq!(emails, ["m2@x.org", "m1@x.org", "m4@x.org"]);
        assert_eq!(rows[0].count, 2);
    }

    #[test]
    fn a_queue_change_keeps_what_it_does_not_mention() {
        let current = QueueSettings {
            open: true,
            message: "hi".into(),
        };
        let closed = parse_queue_change(Some(false), None, &current).unwrap();
        assert_eq!(
            closed,
            QueueSettings {
                open: false,
                message: "hi".into()
            }
        );
        assert!(parse_queue_change(None, Some(&"x".repeat(1001)), &current).is_err());
    }
}
