//! Mentor capacity: one notion of who can help now, shared by the live queue and the
//! schedule (API.md "Mentor capacity").
//!
//! A mentor is *available* for a queue when they are connected, their status is
//! `available`, they staff that queue, and they are not in a CONFIRMED session in
//! progress. The inputs come from two owners — connections from the real-time Hub,
//! staffing and sessions from the `SessionActor` — and both the `QueueActor` and the Hub
//! keep a [`Capacity`] of them, so the rule is evaluated by this one piece of code at
//! whatever `now` the reader has.

use super::{QueueId, Timestamp, UserId};
use std::collections::{BTreeSet, HashMap};

/// What a mentor said about their capacity, and the sessions that take it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Staffing {
    /// The queues they staff; `None` means every queue, including ones created later.
    pub queues: Option<BTreeSet<QueueId>>,
    pub skills: Vec<String>,
    /// Status `away` (set by the mentor; `available` otherwise).
    pub away: bool,
    /// Their CONFIRMED sessions, as `[start, end)`.
    pub sessions: Vec<(Timestamp, Timestamp)>,
}

impl Staffing {
    pub fn staffs(&self, queue: QueueId) -> bool {
        self.queues.as_ref().is_none_or(|q| q.contains(&queue))
    }

    pub fn in_session(&self, now: Timestamp) -> bool {
        self.sessions
            .iter()
            .any(|(start, end)| *start <= now && now < *end)
    }

    /// Whether they have a skill equal (case-insensitively) to one of `tags`.
    pub fn matches_any(&self, tags: &[String]) -> bool {
        tags.iter()
            .any(|t| self.skills.iter().any(|s| s.eq_ignore_ascii_case(t)))
    }
}

/// `GET /api/mentors/online/`'s `status`: the first that holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MentorStatus {
    Offline,
    InSession,
    Away,
    Available,
}

impl MentorStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MentorStatus::Offline => "offline",
            MentorStatus::InSession => "in_session",
            MentorStatus::Away => "away",
            MentorStatus::Available => "available",
        }
    }
}

/// `PUT /api/presence/`'s status: `available` or `away`; `None` for anything else.
pub fn parse_presence(status: &str) -> Option<bool> {
    match status.trim().to_ascii_lowercase().as_str() {
        "available" => Some(false),
        "away" => Some(true),
        _ => None,
    }
}

static NO_STAFFING: std::sync::LazyLock<Staffing> = std::sync::LazyLock::new(Staffing::default);

#[derive(Clone, Debug, Default)]
pub struct Capacity {
    staffing: HashMap<UserId, Staffing>,
    /// Open WebSocket connections per connected mentor.
    connections: HashMap<UserId, usize>,
}

impl Capacity {
    pub fn new(staffing: impl IntoIterator<Item = (UserId, Staffing)>) -> Capacity {
        Capacity {
            staffing: staffing.into_iter().collect(),
            connections: HashMap::new(),
        }
    }

    pub fn set_staffing(&mut self, user: UserId, staffing: Staffing) {
        self.staffing.insert(user, staffing);
    }

    /// A mentor's staffing; the defaults (every queue, available) without a profile.
    pub fn staffing_of(&self, user: UserId) -> &Staffing {
        self.staffing.get(&user).unwrap_or(&NO_STAFFING)
    }

    /// One more connection of `user`; true if it is their first.
    pub fn connect(&mut self, user: UserId) -> bool {
        let count = self.connections.entry(user).or_default();
        *count += 1;
        *count == 1
    }

    /// One connection of `user` fewer; true if it was their last.
    pub fn disconnect(&mut self, user: UserId) -> bool {
        let Some(count) = self.connections.get_mut(&user) else {
            return false;
        };
        *count -= 1;
        if *count == 0 {
            self.connections.remove(&user);
            return true;
        }
        false
    }

    /// Marks `user` connected or not (a mirror that hears only of first and last).
    pub fn set_connected(&mut self, user: UserId, connected: bool) {
        if connected {
            self.connections.insert(user, 1);
        } else {
            self.connections.remove(&user);
        }
    }

    pub fn is_connected(&self, user: UserId) -> bool {
        self.connections.contains_key(&user)
    }

    pub fn status(&self, user: UserId, now: Timestamp) -> MentorStatus {
        let staffing = self.staffing_of(user);
        if !self.is_connected(user) {
            MentorStatus::Offline
        } else if staffing.in_session(now) {
            MentorStatus::InSession
        } else if staffing.away {
            MentorStatus::Away
        } else {
            MentorStatus::Available
        }
    }

    /// Who is available at `now`, for any queue.
    pub fn available(&self, now: Timestamp) -> Available {
        let mut mentors: Vec<Staffing> = self
            .connections
            .keys()
            .filter(|user| self.status(**user, now) == MentorStatus::Available)
            .map(|user| self.staffing_of(*user).clone())
            .collect();
        mentors.sort_by(|a, b| a.queues.cmp(&b.queues).then(a.skills.cmp(&b.skills)));
        Available { mentors }
    }

    /// The next moment after `now` when time alone changes who is available: a
    /// connected mentor's confirmed session starting or ending.
    pub fn next_change(&self, now: Timestamp) -> Option<Timestamp> {
        self.connections
            .keys()
            .flat_map(|user| self.staffing_of(*user).sessions.iter())
            .flat_map(|(start, end)| [*start, *end])
            .filter(|t| *t > now)
            .min()
    }
}

/// The mentors available at one moment (their staffing), for counting per queue.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Available {
    mentors: Vec<Staffing>,
}

impl Available {
    /// `n` available mentors who staff every queue and have no skills; for tests.
    #[cfg(test)]
    pub(crate) fn everywhere(n: usize) -> Available {
        Available {
            mentors: vec![Staffing::default(); n],
        }
    }

    /// How many are available for `queue`: its `mentors_online`.
    pub fn in_queue(&self, queue: QueueId) -> usize {
        self.mentors.iter().filter(|m| m.staffs(queue)).count()
    }

    /// `matching_mentors` of a ticket in `queue` with `tags`: how many available
    /// mentors of that queue have a skill equal to one of them; `None` without tags.
    pub fn matching(&self, queue: QueueId, tags: &[String]) -> Option<usize> {
        if tags.is_empty() {
            return None;
        }
        Some(
            self.mentors
                .iter()
                .filter(|m| m.staffs(queue) && m.matches_any(tags))
                .count(),
        )
    }
}

/// When a claim lapses: `seconds` after the mentor's last sign of life (the later of
/// their last request and the end of their last connection), never while they are
/// connected, and never with `seconds` = 0.
pub fn claim_lapses_at(connected: bool, last_sign: Timestamp, seconds: u64) -> Option<Timestamp> {
    if connected || seconds == 0 {
        return None;
    }
    Some(last_sign + chrono::Duration::seconds(i64::try_from(seconds).unwrap_or(i64::MAX / 1000)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};

    fn at(minutes: i64) -> Timestamp {
        Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap() + Duration::minutes(minutes)
    }

    fn queues(ids: &[u64]) -> Option<BTreeSet<QueueId>> {
        Some(ids.iter().map(|i| QueueId(*i)).collect())
    }

    #[test]
    fn only_connected_present_staffing_mentors_outside_a_session_count() {
        let mut capacity = Capacity::new([
            (UserId(1), Staffing::default()),
            (
                UserId(2),
                Staffing {
                    queues: queues(&[2]),
                    ..Default::default()
                },
            ),
            (
                UserId(3),
                Staffing {
                    away: true,
                    ..Default::default()
                },
            ),
            (
                UserId(4),
                Staffing {
                    sessions: vec![(at(10), at(40))],
                    ..Default::default()
                },
            ),
        ]);
        for user in 1..=5 {
            capacity.connect(UserId(user));
        }
        // 1 and 5 (no profile: every queue) staff queue 1; 2 staffs only queue 2; 3 is away.
        let before = capacity.available(at(0));
        assert_eq!((before.in_queue(QueueId(1)), before.in_queue(QueueId(2))), (3, 4));
        let during = capacity.available(at(10));
        assert_eq!(during.in_queue(QueueId(1)), 2, "4 is in a confirmed session");
        assert_eq!(capacity.status(UserId(4), at(10)), MentorStatus::InSession);
        assert_eq!(
            capacity.available(at(40)).in_queue(QueueId(1)),
            3,
            "the session ended"
        );
        assert_eq!(capacity.status(UserId(3), at(0)), MentorStatus::Away);
        assert!(capacity.disconnect(UserId(1)));
        assert_eq!(capacity.status(UserId(1), at(0)), MentorStatus::Offline);
        assert_eq!(
            capacity.available(at(0)).in_queue(QueueId(7)),
            2,
            "a queue made later"
        );
        assert_eq!(capacity.next_change(at(0)), Some(at(10)));
        assert_eq!(capacity.next_change(at(10)), Some(at(40)));
        assert_eq!(capacity.next_change(at(40)), None);
    }

    #[test]
    fn a_mentor_counts_once_however_many_connections() {
        let mut capacity = Capacity::default();
        assert!(capacity.connect(UserId(1)));
        assert!(!capacity.connect(UserId(1)));
        assert_eq!(capacity.available(at(0)).in_queue(QueueId(1)), 1);
        assert!(!capacity.disconnect(UserId(1)));
        assert!(capacity.disconnect(UserId(1)));
        assert_eq!(capacity.available(at(0)).in_queue(QueueId(1)), 0);
    }

    #[test]
    fn matching_counts_available_mentors_of_the_queue_with_a_tag_as_skill() {
        let mut capacity = Capacity::new([
            (
                UserId(1),
                Staffing {
                    skills: vec!["Rust".into()],
                    ..Default::default()
                },
            ),
            (
                UserId(2),
                Staffing {
                    skills: vec!["rust".into(), "Go".into()],
                    queues: queues(&[2]),
                    ..Default::default()
                },
            ),
        ]);
        capacity.connect(UserId(1));
        capacity.connect(UserId(2));
        let now = capacity.available(at(0));
        assert_eq!(now.matching(QueueId(1), &["RUST".into()]), Some(1));
        assert_eq!(now.matching(QueueId(2), &["Go".into(), "rust".into()]), Some(2));
        assert_eq!(now.matching(QueueId(1), &["Haskell".into()]), Some(0));
        assert_eq!(now.matching(QueueId(1), &[]), None);
    }

    #[test]
    fn a_claim_lapses_only_after_the_timeout_without_a_connection() {
        assert_eq!(claim_lapses_at(false, at(0), 600), Some(at(10)));
        assert_eq!(claim_lapses_at(true, at(0), 600), None);
        assert_eq!(claim_lapses_at(false, at(0), 0), None);
        assert_eq!(parse_presence(" Away "), Some(true));
        assert_eq!(parse_presence("available"), Some(false));
        assert_eq!(parse_presence("busy"), None);
    }
}
