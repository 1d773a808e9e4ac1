//! The queue as a whole: its open/closed switch, announcements, the wait estimate,
//! statistics and the leaderboard. All pure functions over tickets and feedback.

use super::feedback::Feedback;
use super::ticket::{seconds_between, Status, Ticket};
use super::validate::FieldErrors;
use super::{QueueId, Timestamp, UserId};
use std::collections::BTreeMap;

/// The first release's single queue: whether tickets may be opened, and the message
/// shown on the board. Still read from stores it wrote, as queue 1's settings.
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

/// The queue every single-queue route and HackRU client means.
pub const FIRST_QUEUE: QueueId = QueueId(1);
pub const FIRST_QUEUE_NAME: &str = "Help";

/// A desk: its name, tags, cooldown, and whether it takes tickets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Queue {
    pub id: QueueId,
    pub name: String,
    pub description: String,
    pub open: bool,
    pub message: String,
    /// The topics a ticket in this queue may carry, in the queue's spelling.
    pub tags: Vec<String>,
    /// How long after a participant's ticket here was CLOSED they must wait to open
    /// another one here.
    pub cooldown_seconds: u32,
    /// Archived queues take no tickets and are listed only on request.
    pub archived: bool,
}

impl Queue {
    /// Queue 1 as the first release kept it (or fresh, for a new store).
    pub fn first(settings: QueueSettings) -> Queue {
        Queue {
            id: FIRST_QUEUE,
            name: FIRST_QUEUE_NAME.to_string(),
            description: String::new(),
            open: settings.open,
            message: settings.message,
            tags: Vec::new(),
            cooldown_seconds: 0,
            archived: false,
        }
    }

    /// Why a ticket may not be opened here now, if it may not.
    pub fn refuses_tickets(&self) -> Option<String> {
        if self.archived {
            return Some(format!("The queue “{}” is archived.", self.name));
        }
        if !self.open {
            return Some(if self.message.is_empty() {
                format!("The queue “{}” is closed.", self.name)
            } else {
                format!("The queue “{}” is closed: {}", self.name, self.message)
            });
        }
        None
    }

    /// The tags a ticket asked for, each matched case-insensitively to one of the
    /// queue's and stored in the queue's spelling, once each.
    pub fn match_tags(&self, asked: &[String]) -> Result<Vec<String>, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut matched: Vec<String> = Vec::new();
        if asked.len() > TICKET_TAGS_MAX {
            errors.add("tags", format!("at most {TICKET_TAGS_MAX} tags"));
        }
        for tag in asked {
            match self.tags.iter().find(|t| t.eq_ignore_ascii_case(tag.trim())) {
                Some(t) if !matched.contains(t) => matched.push(t.clone()),
                Some(_) => {}
                None => errors.add(
                    "tags",
                    format!("“{}” is not one of this queue's tags", tag.trim()),
                ),
            }
        }
        errors.into_result(matched)
    }
}

pub const QUEUE_NAME_MAX: usize = 100;
pub const QUEUE_DESCRIPTION_MAX: usize = 1000;
pub const QUEUE_TAGS_MAX: usize = 30;
pub const QUEUE_TAG_MAX: usize = 50;
pub const TICKET_TAGS_MAX: usize = 5;
pub const COOLDOWN_MAX: i64 = 86_400;

/// A `POST /api/queues/` or `PATCH /api/queues/{id}/`; `None` leaves a field alone
/// (or, on creation, takes its default).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueueFields {
    pub name: Option<String>,
    pub description: Option<String>,
    pub tags: Option<Vec<String>>,
    pub open: Option<bool>,
    pub cooldown_seconds: Option<i64>,
    pub message: Option<String>,
    pub archived: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueueRuleError {
    #[error("Some fields are not valid.")]
    Fields(FieldErrors),
    #[error("A queue named “{0}” already exists.")]
    NameTaken(String),
    #[error("{0}")]
    InvalidTransition(&'static str),
}

impl From<FieldErrors> for QueueRuleError {
    fn from(e: FieldErrors) -> Self {
        QueueRuleError::Fields(e)
    }
}

impl QueueFields {
    /// The queue these fields make of `current` (a fresh default queue with `id` when
    /// creating), checked against the other queues' names.
    pub fn apply<'a>(
        &self,
        current: Queue,
        creating: bool,
        others: impl Iterator<Item = &'a Queue>,
    ) -> Result<Queue, QueueRuleError> {
        let mut errors = FieldErrors::new();
        if creating {
            if self.message.is_some() {
                errors.add("message", "is set by changing the queue, not on creation");
            }
            if self.archived.is_some() {
                errors.add("archived", "a new queue cannot be archived");
            }
        }
        let mut next = current;
        match (&self.name, creating) {
            (Some(name), _) => next.name = errors.required_text("name", Some(name), QUEUE_NAME_MAX),
            (None, true) => {
                errors.add("name", "is required");
            }
            (None, false) => {}
        }
        if let Some(d) = &self.description {
            next.description = errors.optional_text("description", Some(d), QUEUE_DESCRIPTION_MAX);
        }
        if let Some(m) = &self.message {
            next.message = errors.optional_text("message", Some(m), MESSAGE_MAX);
        }
        if let Some(tags) = &self.tags {
            next.tags = clean_tags(tags, &mut errors);
        }
        if let Some(open) = self.open {
            next.open = open;
        }
        if let Some(c) = self.cooldown_seconds {
            match u32::try_from(c).ok().filter(|c| i64::from(*c) <= COOLDOWN_MAX) {
                Some(c) => next.cooldown_seconds = c,
                None => errors.add(
                    "cooldown_seconds",
                    format!("must be a whole number of seconds from 0 to {COOLDOWN_MAX}"),
                ),
            }
        }
        if let Some(archived) = self.archived {
            next.archived = archived;
        }
        errors.into_result(())?;
        if next.archived && next.id == FIRST_QUEUE {
            return Err(QueueRuleError::InvalidTransition(
                "Queue 1 is what single-queue clients use; it cannot be archived.",
            ));
        }
        let mut others = others;
        if others.any(|q| q.id != next.id && q.name.to_lowercase() == next.name.to_lowercase()) {
            return Err(QueueRuleError::NameTaken(next.name));
        }
        Ok(next)
    }
}

/// A queue's tags: trimmed, each 1–50 characters, unique case-insensitively, at most 30.
fn clean_tags(tags: &[String], errors: &mut FieldErrors) -> Vec<String> {
    let mut cleaned: Vec<String> = Vec::new();
    for tag in tags {
        let tag = tag.trim();
        if tag.is_empty() {
            errors.add("tags", "a tag may not be blank");
        } else if tag.chars().count() > QUEUE_TAG_MAX {
            errors.add(
                "tags",
                format!("each tag must be at most {QUEUE_TAG_MAX} characters"),
            );
        } else if super::validate::has_control_characters(tag) {
            errors.add("tags", "a tag must not contain control characters");
        } else if cleaned.iter().any(|t| t.eq_ignore_ascii_case(tag)) {
            errors.add("tags", format!("“{tag}” is listed twice"));
        } else {
            cleaned.push(tag.to_string());
        }
    }
    if cleaned.len() > QUEUE_TAGS_MAX {
        errors.add("tags", format!("at most {QUEUE_TAGS_MAX} tags"));
    }
    cleaned
}

/// A fresh queue with `id`, before its fields are applied.
pub fn blank_queue(id: QueueId) -> Queue {
    Queue {
        id,
        name: String::new(),
        description: String::new(),
        open: true,
        message: String::new(),
        tags: Vec::new(),
        cooldown_seconds: 0,
        archived: false,
    }
}

/// When `owner` may open a ticket in `queue` again, if a cooldown holds at `now`:
/// `cooldown_seconds` after their latest ticket there was CLOSED.
pub fn cooldown_until<'a>(
    queue: &Queue,
    owned: impl Iterator<Item = &'a Ticket>,
    now: Timestamp,
) -> Option<Timestamp> {
    if queue.cooldown_seconds == 0 {
        return None;
    }
    let last_closed = owned
        .filter(|t| t.queue == queue.id && t.status == Status::Closed)
        .filter_map(|t| t.closed)
        .max()?;
    let until = last_closed + chrono::Duration::seconds(i64::from(queue.cooldown_seconds));
    (until > now).then_some(until)
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
pub fn mean_or_default<'a>(
    service_samples: impl IntoIterator<Item = &'a f64, IntoIter: ExactSizeIterator>,
) -> f64 {
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

fn mean<'a>(samples: impl IntoIterator<Item = &'a f64, IntoIter: ExactSizeIterator>) -> Option<f64> {
    let samples = samples.into_iter();
    let count = samples.len();
    (count > 0).then(|| samples.sum::<f64>() / count as f64)
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
        row.average_rating = ratings.get(row.mentor_email.as_str()).and_then(mean);
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
            queue: FIRST_QUEUE,
            tags: Vec::new(),
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

    fn queue(id: u64, name: &str, tags: &[&str]) -> Queue {
        Queue {
            name: name.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ..blank_queue(QueueId(id))
        }
    }

    #[test]
    fn a_queue_change_keeps_what_it_does_not_mention() {
        let current = Queue {
            message: "hi".into(),
            ..queue(2, "Lab", &["Arduino"])
        };
        let closed = QueueFields {
            open: Some(false),
            ..Default::default()
        }
        .apply(current.clone(), false, [].iter())
        .unwrap();
        assert_eq!(
            closed,
            Queue {
                open: false,
                ..current.clone()
            }
        );
        let long = QueueFields {
            message: Some("x".repeat(1001)),
            ..Default::default()
        };
        assert!(long.apply(current, false, [].iter()).is_err());
    }

    #[test]
    fn names_are_unique_case_insensitively_and_queue_1_stays() {
        let help = Queue::first(QueueSettings::default());
        let taken = QueueFields {
            name: Some(" help ".into()),
            ..Default::default()
        };
        assert_eq!(
            taken.apply(blank_queue(QueueId(2)), true, [help.clone()].iter()),
            Err(QueueRuleError::NameTaken("help".into()))
        );
        // Renaming a queue to its own name in another case is fine.
        assert!(taken.apply(help.clone(), false, [help.clone()].iter()).is_ok());
        let archive = QueueFields {
            archived: Some(true),
            ..Default::default()
        };
        assert!(matches!(
            archive.apply(help.clone(), false, [].iter()),
            Err(QueueRuleError::InvalidTransition(_))
        ));
        let nameless = QueueFields::default().apply(blank_queue(QueueId(3)), true, [].iter());
        assert!(matches!(nameless, Err(QueueRuleError::Fields(f)) if f.0.contains_key("name")));
    }

    #[test]
    fn queue_tags_are_checked_and_unique() {
        let fields = QueueFields {
            name: Some("Lab".into()),
            tags: Some(vec!["Rust".into(), "rust".into(), " ".into(), "x".repeat(51)]),
            cooldown_seconds: Some(86_401),
            ..Default::default()
        };
        let Err(QueueRuleError::Fields(f)) = fields.apply(blank_queue(QueueId(2)), true, [].iter()) else {
            panic!("must be refused");
        };
        assert_eq!(f.0["tags"].len(), 3);
        assert!(f.0.contains_key("cooldown_seconds"));
    }

    #[test]
    fn ticket_tags_match_the_queues_spelling() {
        let lab = queue(2, "Lab", &["Arduino", "Soldering"]);
        assert_eq!(
            lab.match_tags(&["arduino".into(), "ARDUINO".into()]),
            Ok(vec!["Arduino".to_string()])
        );
        let unknown = lab.match_tags(&["Rust".into()]).unwrap_err();
        assert!(unknown.0["tags"][0].contains("Rust"));
        let many: Vec<String> = (0..6).map(|_| "Arduino".to_string()).collect();
        assert!(lab.match_tags(&many).is_err());
    }

    #[test]
    fn a_closed_ticket_starts_the_cooldown_in_its_own_queue_only() {
        let mut lab = queue(2, "Lab", &[]);
        lab.cooldown_seconds = 600;
        let mut done = ticket(1, Some((60, 1)), Some(300));
        done.queue = QueueId(2);
        let closed_at = done.closed.unwrap();
        let now = closed_at + Duration::seconds(100);
        assert_eq!(
            cooldown_until(&lab, [done.clone()].iter(), now),
            Some(closed_at + Duration::seconds(600))
        );
        assert_eq!(
            cooldown_until(&lab, [done.clone()].iter(), closed_at + Duration::seconds(600)),
            None,
            "over at exactly cooldown_seconds"
        );
        let help = Queue {
            cooldown_seconds: 600,
            ..Queue::first(QueueSettings::default())
        };
        assert_eq!(cooldown_until(&help, [done.clone()].iter(), now), None);
        // A cancelled ticket starts no cooldown.
        done.status = Status::Cancelled;
        assert_eq!(cooldown_until(&lab, [done].iter(), now), None);
    }
}
