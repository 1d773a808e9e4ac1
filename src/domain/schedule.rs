//! Mentor scheduling: availability cut into 30-minute chunks on the UTC grid, bookings
//! of one or two consecutive chunks, the session life cycle and its reminders.

use super::user::{Role, Roles};
use super::validate::FieldErrors;
use super::{ChunkId, SessionId, Timestamp, UserId};
use chrono::{Duration, Timelike};

/// The length of one chunk of availability.
pub const CHUNK_MINUTES: i64 = 30;
/// The longest range published at once.
pub const MAX_RANGE_DAYS: i64 = 14;
/// Reminders go out this many minutes before a confirmed session.
pub const REMINDER_MINUTES: [u8; 2] = [60, 15];

pub fn chunk() -> Duration {
    Duration::minutes(CHUNK_MINUTES)
}

/// Whether `t` lies on the :00/:30 grid.
pub fn on_grid(t: Timestamp) -> bool {
    t.minute() % 30 == 0 && t.second() == 0 && t.nanosecond() == 0
}

/// Whether `[a_start, a_end)` and `[b_start, b_end)` share any instant. Adjacent ranges
/// do not overlap.
pub fn overlaps(a_start: Timestamp, a_end: Timestamp, b_start: Timestamp, b_end: Timestamp) -> bool {
    a_start < b_end && b_start < a_end
}

/// Cuts `[start, end)` into 30-minute chunks. `start` must be on the grid and in the
/// future, `end` after it, the range at most 14 days; a remainder shorter than a chunk
/// is dropped, and at least one chunk must remain.
pub fn cut_into_chunks(
    start: Timestamp,
    end: Timestamp,
    now: Timestamp,
) -> Result<Vec<(Timestamp, Timestamp)>, FieldErrors> {
    let mut errors = FieldErrors::new();
    if !on_grid(start) {
        errors.add("start_time", "must be on the half-hour grid (:00 or :30)");
    } else if start <= now {
        errors.add("start_time", "must be in the future");
    }
    if end <= start {
        errors.add("end_time", "must be after start_time");
    } else if end - start > Duration::days(MAX_RANGE_DAYS) {
        errors.add("end_time", "the range may be at most 14 days long");
    } else if end - start < chunk() {
        errors.add("end_time", "the range must hold at least one 30-minute chunk");
    }
    errors.into_result(())?;
    let mut chunks = Vec::new();
    let mut at = start;
    while at + chunk() <= end {
        chunks.push((at, at + chunk()));
        at += chunk();
    }
    Ok(chunks)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkStatus {
    Open,
    /// A PENDING session holds it.
    Requested,
    /// A CONFIRMED session holds it.
    Booked,
}

impl ChunkStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ChunkStatus::Open => "OPEN",
            ChunkStatus::Requested => "REQUESTED",
            ChunkStatus::Booked => "BOOKED",
        }
    }

    pub fn parse(s: &str) -> Option<ChunkStatus> {
        [ChunkStatus::Open, ChunkStatus::Requested, ChunkStatus::Booked]
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// 30 minutes of one mentor's time.
#[derive(Clone, Debug, PartialEq)]
pub struct Chunk {
    pub id: ChunkId,
    pub mentor: UserId,
    pub mentor_name: String,
    pub start: Timestamp,
    pub end: Timestamp,
    pub status: ChunkStatus,
}

/// A mentor's public profile.
#[derive(Clone, Debug, PartialEq)]
pub struct MentorProfile {
    pub user: UserId,
    pub name: String,
    pub about_me: String,
    pub skills: Vec<String>,
    pub team_number: Option<i64>,
    /// The queues they staff; `None` means every queue, including ones made later.
    pub queues: Option<std::collections::BTreeSet<super::QueueId>>,
    /// Their presence status is `away` (else `available`).
    pub away: bool,
}

pub const ABOUT_MAX: usize = 2000;
pub const SKILLS_MAX: usize = 30;
pub const SKILL_MAX: usize = 50;
pub const TOPIC_MAX: usize = 255;
pub const REASON_MAX: usize = 1000;

impl MentorProfile {
    pub fn parse(
        user: UserId,
        name: &str,
        about_me: Option<&str>,
        skills: Option<&[String]>,
        team_number: Option<i64>,
    ) -> Result<MentorProfile, FieldErrors> {
        let mut errors = FieldErrors::new();
        let about_me = errors.optional_text("about_me", about_me, ABOUT_MAX);
        let mut cleaned: Vec<String> = Vec::new();
        for skill in skills.unwrap_or_default() {
            let skill = skill.trim();
            if skill.is_empty() {
                errors.add("skills", "a skill may not be blank");
            } else if skill.chars().count() > SKILL_MAX {
                errors.add(
                    "skills",
                    format!("each skill must be at most {SKILL_MAX} characters"),
                );
            } else if super::validate::has_control_characters(skill) {
                errors.add("skills", "a skill must not contain control characters");
            } else if !cleaned.iter().any(|s| s.eq_ignore_ascii_case(skill)) {
                cleaned.push(skill.to_string());
            }
        }
        if cleaned.len() > SKILLS_MAX {
            errors.add("skills", format!("at most {SKILLS_MAX} skills"));
        }
        if team_number.is_some_and(|n| n < 0) {
            errors.add("team_number", "must not be negative");
        }
        errors.into_result(MentorProfile {
            user,
            name: name.to_string(),
            about_me,
            skills: cleaned,
            team_number,
            queues: None,
            away: false,
        })
    }

    /// The capacity model's view of this mentor, with their CONFIRMED sessions.
    pub fn staffing<'a>(&self, sessions: impl Iterator<Item = &'a Session>) -> super::capacity::Staffing {
        super::capacity::Staffing {
            queues: self.queues.clone(),
            skills: self.skills.clone(),
            away: self.away,
            sessions: confirmed_spans(self.user, sessions),
        }
    }

    /// Whether the mentor has every one of `wanted` (case-insensitive).
    pub fn has_skills(&self, wanted: &[String]) -> bool {
        wanted
            .iter()
            .all(|w| self.skills.iter().any(|s| s.eq_ignore_ascii_case(w.trim())))
    }
}

/// The `[start, end)` of `mentor`'s CONFIRMED sessions among `sessions`.
pub fn confirmed_spans<'a>(
    mentor: UserId,
    sessions: impl Iterator<Item = &'a Session>,
) -> Vec<(Timestamp, Timestamp)> {
    sessions
        .filter(|s| s.mentor == mentor && s.status == SessionStatus::Confirmed)
        .map(|s| (s.start, s.end))
        .collect()
}

/// 30 or 60 minutes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionLength(u8);

impl SessionLength {
    pub fn parse(minutes: i64) -> Option<SessionLength> {
        matches!(minutes, 30 | 60).then_some(SessionLength(minutes as u8))
    }

    pub fn minutes(self) -> i64 {
        i64::from(self.0)
    }

    pub fn chunks(self) -> usize {
        (self.minutes() / CHUNK_MINUTES) as usize
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionStatus {
    Pending,
    Confirmed,
    Completed,
    Expired,
    Cancelled,
}

impl SessionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Pending => "PENDING",
            SessionStatus::Confirmed => "CONFIRMED",
            SessionStatus::Completed => "COMPLETED",
            SessionStatus::Expired => "EXPIRED",
            SessionStatus::Cancelled => "CANCELLED",
        }
    }

    pub fn parse(s: &str) -> Option<SessionStatus> {
        [
            SessionStatus::Pending,
            SessionStatus::Confirmed,
            SessionStatus::Completed,
            SessionStatus::Expired,
            SessionStatus::Cancelled,
        ]
        .into_iter()
        .find(|st| st.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// PENDING or CONFIRMED: the session holds its chunks and its people's time.
    pub fn is_live(self) -> bool {
        matches!(self, SessionStatus::Pending | SessionStatus::Confirmed)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    pub id: SessionId,
    pub mentor: UserId,
    pub mentor_name: String,
    pub mentee: UserId,
    pub mentee_name: String,
    pub chunks: Vec<ChunkId>,
    pub start: Timestamp,
    pub end: Timestamp,
    pub length: SessionLength,
    pub status: SessionStatus,
    pub topic: String,
    pub meeting_url: Option<String>,
    pub cancel_reason: Option<String>,
    /// Reminders already sent: (to whom, minutes before). Kept with the session so a
    /// restart neither repeats nor loses one.
    pub reminders_sent: Vec<(UserId, u8)>,
}

impl Session {
    pub fn involves(&self, user: UserId) -> bool {
        self.mentor == user || self.mentee == user
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("Not found.")]
    NotFound,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("This range overlaps availability you already published.")]
    AvailabilityOverlaps,
    #[error("That time is no longer available.")]
    SlotUnavailable,
    #[error("This chunk is requested or booked; cancel the session first.")]
    SlotInUse,
    #[error("You already have a session at that time.")]
    MenteeBusy,
    #[error("{0}")]
    InvalidTransition(String),
}

/// Checks a booking of `length` starting with chunk `first` by `mentee`.
/// `mentor_chunks` are the mentor's chunks; `mentee_sessions` the mentee's sessions.
/// Returns the chunks the session takes.
pub fn plan_booking<'a>(
    first: &Chunk,
    length: SessionLength,
    mentee: UserId,
    mut mentor_chunks: impl Iterator<Item = &'a Chunk>,
    mentee_sessions: impl Iterator<Item = &'a Session>,
    now: Timestamp,
) -> Result<Vec<Chunk>, ScheduleError> {
    if first.mentor == mentee {
        return Err(ScheduleError::Forbidden("You cannot book your own availability."));
    }
    let mut taken = vec![first.clone()];
    if length.chunks() == 2 {
        let next = mentor_chunks
            .find(|c| c.mentor == first.mentor && c.start == first.end)
            .ok_or(ScheduleError::SlotUnavailable)?;
        taken.push(next.clone());
    }
    if taken
        .iter()
        .any(|c| c.status != ChunkStatus::Open || c.start <= now)
    {
        return Err(ScheduleError::SlotUnavailable);
    }
    let (start, end) = (first.start, taken.last().expect("one chunk at least").end);
    let busy = mentee_sessions
        .filter(|s| s.mentee == mentee && s.status.is_live())
        .any(|s| overlaps(s.start, s.end, start, end));
    if busy {
        return Err(ScheduleError::MenteeBusy);
    }
    Ok(taken)
}

/// What a party asks of a session.
#[derive(Clone, Debug, PartialEq)]
pub enum SessionChange {
    Confirm,
    Cancel { reason: Option<String> },
}

/// Why a requested session change could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SessionChangeError {
    #[error("Some fields are not valid.")]
    Fields(FieldErrors),
    #[error(transparent)]
    Rule(#[from] ScheduleError),
}

impl SessionChange {
    /// A request's `status` (and `reason`) as a change. Only CONFIRMED and CANCELLED
    /// can be asked for; the other statuses come from time alone.
    pub fn parse(status: Option<&str>, reason: Option<&str>) -> Result<SessionChange, SessionChangeError> {
        let mut errors = FieldErrors::new();
        let reason = errors.optional_text("reason", reason, REASON_MAX);
        let status = match status {
            None => {
                errors.add("status", "is required");
                None
            }
            Some(s) => SessionStatus::parse(s).or_else(|| {
                errors.add("status", "must be CONFIRMED or CANCELLED");
                None
            }),
        };
        errors.into_result(()).map_err(SessionChangeError::Fields)?;
        match status {
            Some(SessionStatus::Confirmed) => Ok(SessionChange::Confirm),
            Some(SessionStatus::Cancelled) => Ok(SessionChange::Cancel {
                reason: (!reason.is_empty()).then_some(reason),
            }),
            other => Err(ScheduleError::InvalidTransition(format!(
                "A session can only be CONFIRMED or CANCELLED by request, not {}.",
                other.map_or("changed", |s| s.as_str())
            ))
            .into()),
        }
    }
}

/// Who may list every session, not only their own: managers.
pub fn may_list_every_session(roles: Roles) -> Result<(), ScheduleError> {
    if roles.is_manager() {
        Ok(())
    } else {
        Err(ScheduleError::Forbidden(
            "Only organizers and directors may list every session.",
        ))
    }
}

/// Applies `change` by `by` at `now`: the new status (the chunks follow it).
pub fn change_session(
    session: &Session,
    by: UserId,
    change: &SessionChange,
    now: Timestamp,
) -> Result<SessionStatus, ScheduleError> {
    if !session.involves(by) {
        return Err(ScheduleError::NotFound);
    }
    let started = now >= session.start;
    match change {
        SessionChange::Confirm => {
            if by != session.mentor {
                return Err(ScheduleError::Forbidden("Only the mentor confirms a session."));
            }
            if session.status != SessionStatus::Pending || started {
                return Err(ScheduleError::InvalidTransition(format!(
                    "A {} session cannot be confirmed{}.",
                    session.status.as_str(),
                    if started { " after its start" } else { "" }
                )));
            }
            Ok(SessionStatus::Confirmed)
        }
        SessionChange::Cancel { .. } => {
            if !session.status.is_live() || started {
                return Err(ScheduleError::InvalidTransition(format!(
                    "A {} session cannot be cancelled{}.",
                    session.status.as_str(),
                    if started { " after its start" } else { "" }
                )));
            }
            Ok(SessionStatus::Cancelled)
        }
    }
}

/// The status time alone gives a session: an unconfirmed one expires at its start, a
/// confirmed one completes at its end.
pub fn status_by_time(session: &Session, now: Timestamp) -> SessionStatus {
    match session.status {
        SessionStatus::Pending if now >= session.start => SessionStatus::Expired,
        SessionStatus::Confirmed if now >= session.end => SessionStatus::Completed,
        other => other,
    }
}

/// Per-user switches for what they are told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotificationSettings {
    pub session_requested: bool,
    pub session_confirmed: bool,
    pub session_cancelled: bool,
    pub fifteen_minute_alert: bool,
    pub sixty_minute_alert: bool,
    /// E-mail the ticket's owner when a mentor claims it.
    pub ticket_claimed: bool,
    /// Whether anything e-mails this user at all.
    pub email: bool,
}

impl Default for NotificationSettings {
    fn default() -> Self {
        NotificationSettings {
            session_requested: true,
            session_confirmed: true,
            session_cancelled: true,
            fifteen_minute_alert: true,
            sixty_minute_alert: true,
            ticket_claimed: true,
            email: true,
        }
    }
}

/// A partial change of [`NotificationSettings`]: the switches it names, the others
/// left as they are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SettingsChange {
    pub session_requested: Option<bool>,
    pub session_confirmed: Option<bool>,
    pub session_cancelled: Option<bool>,
    pub fifteen_minute_alert: Option<bool>,
    pub sixty_minute_alert: Option<bool>,
    pub ticket_claimed: Option<bool>,
    pub email: Option<bool>,
}

impl SettingsChange {
    pub fn apply(&self, current: NotificationSettings) -> NotificationSettings {
        NotificationSettings {
            session_requested: self.session_requested.unwrap_or(current.session_requested),
            session_confirmed: self.session_confirmed.unwrap_or(current.session_confirmed),
            session_cancelled: self.session_cancelled.unwrap_or(current.session_cancelled),
            fifteen_minute_alert: self.fifteen_minute_alert.unwrap_or(current.fifteen_minute_alert),
            sixty_minute_alert: self.sixty_minute_alert.unwrap_or(current.sixty_minute_alert),
            ticket_claimed: self.ticket_claimed.unwrap_or(current.ticket_claimed),
            email: self.email.unwrap_or(current.email),
        }
    }
}

impl NotificationSettings {
    pub fn wants_reminder(&self, minutes: u8) -> bool {
        match minutes {
            60 => self.sixty_minute_alert,
            15 => self.fifteen_minute_alert,
            _ => false,
        }
    }
}

/// Reminders due now: for a CONFIRMED session that has not started, each party whose
/// setting is on gets each reminder once, from its due time until the start (late, once,
/// if nobody was there to send it on time).
pub fn due_reminders(
    session: &Session,
    settings: impl Fn(UserId) -> NotificationSettings,
    now: Timestamp,
) -> Vec<(UserId, u8)> {
    if session.status != SessionStatus::Confirmed || now >= session.start {
        return Vec::new();
    }
    let mut due = Vec::new();
    for minutes in REMINDER_MINUTES {
        for party in [session.mentor, session.mentee] {
            let at = session.start - Duration::minutes(i64::from(minutes));
            let sent = session.reminders_sent.contains(&(party, minutes));
            if now >= at && !sent && settings(party).wants_reminder(minutes) {
                due.push((party, minutes));
            }
        }
    }
    due
}

/// The next moment after `now` at which time alone changes something for the session
/// (a reminder falls due, it expires or completes); `None` when nothing more will.
pub fn next_wake(session: &Session, now: Timestamp) -> Option<Timestamp> {
    let candidates: Vec<Timestamp> = match session.status {
        SessionStatus::Pending => vec![session.start],
        SessionStatus::Confirmed => {
            let mut times: Vec<Timestamp> = REMINDER_MINUTES
                .iter()
                .map(|m| session.start - Duration::minutes(i64::from(*m)))
                .collect();
            times.push(session.end);
            times
        }
        _ => Vec::new(),
    };
    candidates.into_iter().filter(|t| *t > now).min()
}

/// Whether someone holding `roles` may publish availability and a mentor profile.
pub fn may_mentor(roles: Roles) -> bool {
    roles.has(Role::Mentor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn at(h: u32, m: u32) -> Timestamp {
        Utc.with_ymd_and_hms(2026, 11, 23, h, m, 0).unwrap()
    }

    fn now() -> Timestamp {
        at(9, 7)
    }

    #[test]
    fn a_range_is_cut_into_chunks_and_the_remainder_dropped() {
        let chunks = cut_into_chunks(at(14, 0), at(15, 15), now()).unwrap();
        assert_eq!(chunks, vec![(at(14, 0), at(14, 30)), (at(14, 30), at(15, 0))]);
    }

    #[test]
    fn an_unaligned_or_past_start_is_refused() {
        let err = cut_into_chunks(at(14, 10), at(15, 0), now()).unwrap_err();
        assert!(err.0.contains_key("start_time"));
        let err = cut_into_chunks(at(9, 0), at(10, 0), now()).unwrap_err();
        assert_eq!(err.0["start_time"], vec!["must be in the future"]);
    }

    #[test]
    fn ranges_must_end_after_they_start_and_hold_a_chunk() {
        assert!(cut_into_chunks(at(14, 0), at(14, 0), now())
            .unwrap_err()
            .0
            .contains_key("end_time"));
        assert!(cut_into_chunks(at(14, 0), at(14, 20), now())
            .unwrap_err()
            .0
            .contains_key("end_time"));
    }

    #[test]
    fn a_range_over_fourteen_days_is_refused() {
        let start = at(10, 0);
        assert!(cut_into_chunks(start, start + Duration::days(14), now()).is_ok());
        let err = cut_into_chunks(start, start + Duration::days(14) + chunk(), now()).unwrap_err();
        assert!(err.0.contains_key("end_time"));
    }

    #[test]
    fn adjacent_ranges_do_not_overlap() {
        assert!(!overlaps(at(10, 0), at(10, 30), at(10, 30), at(11, 0)));
        assert!(overlaps(at(10, 0), at(11, 0), at(10, 30), at(11, 30)));
        assert!(overlaps(at(10, 0), at(12, 0), at(10, 30), at(11, 0)));
    }

    fn chunk_at(id: u64, mentor: u64, h: u32, m: u32, status: ChunkStatus) -> Chunk {
        Chunk {
            id: ChunkId(id),
            mentor: UserId(mentor),
            mentor_name: "Grace".into(),
            start: at(h, m),
            end: at(h, m) + chunk(),
            status,
        }
    }

    fn session(status: SessionStatus, mentee: u64, h: u32, m: u32, minutes: i64) -> Session {
        Session {
            id: SessionId(1),
            mentor: UserId(7),
            mentor_name: "Grace".into(),
            mentee: UserId(mentee),
            mentee_name: "Ada".into(),
            chunks: vec![ChunkId(1)],
            start: at(h, m),
            end: at(h, m) + Duration::minutes(minutes),
            length: SessionLength::parse(minutes).unwrap(),
            status,
            topic: String::new(),
            meeting_url: None,
            cancel_reason: None,
            reminders_sent: Vec::new(),
        }
    }

    const THIRTY: fn() -> SessionLength = || SessionLength::parse(30).unwrap();
    const SIXTY: fn() -> SessionLength = || SessionLength::parse(60).unwrap();

    #[test]
    fn a_sixty_minute_booking_takes_the_next_consecutive_chunk() {
        let chunks = [
            chunk_at(1, 7, 14, 0, ChunkStatus::Open),
            chunk_at(2, 7, 14, 30, ChunkStatus::Open),
        ];
        let taken = plan_booking(&chunks[0], SIXTY(), UserId(12), chunks.iter(), [].iter(), now()).unwrap();
        assert_eq!(taken.iter().map(|c| c.id.0).collect::<Vec<_>>(), vec![1, 2]);
    }

    #[test]
    fn a_sixty_minute_booking_without_an_open_next_chunk_is_unavailable() {
        let gap = [
            chunk_at(1, 7, 14, 0, ChunkStatus::Open),
            chunk_at(2, 7, 15, 0, ChunkStatus::Open),
        ];
        let r = plan_booking(&gap[0], SIXTY(), UserId(12), gap.iter(), [].iter(), now());
        assert_eq!(r, Err(ScheduleError::SlotUnavailable));
        let held = [
            chunk_at(1, 7, 14, 0, ChunkStatus::Open),
            chunk_at(2, 7, 14, 30, ChunkStatus::Requested),
        ];
        let r = plan_booking(&held[0], SIXTY(), UserId(12), held.iter(), [].iter(), now());
        assert_eq!(r, Err(ScheduleError::SlotUnavailable));
        let other_mentor = [
            chunk_at(1, 7, 14, 0, ChunkStatus::Open),
            chunk_at(2, 8, 14, 30, ChunkStatus::Open),
        ];
        let r = plan_booking(
            &other_mentor[0],
            SIXTY(),
            UserId(12),
            other_mentor.iter(),
            [].iter(),
            now(),
        );
        assert_eq!(r, Err(ScheduleError::SlotUnavailable));
    }

    #[test]
    fn a_taken_or_past_chunk_is_unavailable() {
        let requested = chunk_at(1, 7, 14, 0, ChunkStatus::Requested);
        let r = plan_booking(&requested, THIRTY(), UserId(12), [].iter(), [].iter(), now());
        assert_eq!(r, Err(ScheduleError::SlotUnavailable));
        let past = chunk_at(1, 7, 9, 0, ChunkStatus::Open);
        let r = plan_booking(&past, THIRTY(), UserId(12), [].iter(), [].iter(), now());
        assert_eq!(r, Err(ScheduleError::SlotUnavailable));
    }

    #[test]
    fn a_mentor_cannot_book_themself() {
        let own = chunk_at(1, 7, 14, 0, ChunkStatus::Open);
        let r = plan_booking(&own, THIRTY(), UserId(7), [].iter(), [].iter(), now());
        assert!(matches!(r, Err(ScheduleError::Forbidden(_))));
    }

    #[test]
    fn a_mentee_cannot_hold_overlapping_sessions() {
        let c = chunk_at(1, 8, 14, 30, ChunkStatus::Open);
        let existing = [session(SessionStatus::Confirmed, 12, 14, 0, 60)];
        let r = plan_booking(&c, THIRTY(), UserId(12), [].iter(), existing.iter(), now());
        assert_eq!(r, Err(ScheduleError::MenteeBusy));
        let cancelled = [session(SessionStatus::Cancelled, 12, 14, 0, 60)];
        assert!(plan_booking(&c, THIRTY(), UserId(12), [].iter(), cancelled.iter(), now()).is_ok());
        let adjacent = [session(SessionStatus::Pending, 12, 14, 0, 30)];
        assert!(plan_booking(&c, THIRTY(), UserId(12), [].iter(), adjacent.iter(), now()).is_ok());
    }

    #[test]
    fn session_lengths_are_thirty_or_sixty() {
        assert_eq!(SessionLength::parse(30).unwrap().chunks(), 1);
        assert_eq!(SessionLength::parse(60).unwrap().chunks(), 2);
        assert!(SessionLength::parse(45).is_none());
    }

    #[test]
    fn only_the_mentor_confirms_a_pending_session_before_its_start() {
        let s = session(SessionStatus::Pending, 12, 14, 0, 30);
        assert_eq!(
            change_session(&s, UserId(7), &SessionChange::Confirm, now()),
            Ok(SessionStatus::Confirmed)
        );
        assert!(matches!(
            change_session(&s, UserId(12), &SessionChange::Confirm, now()),
            Err(ScheduleError::Forbidden(_))
        ));
        assert_eq!(
            change_session(&s, UserId(99), &SessionChange::Confirm, now()),
            Err(ScheduleError::NotFound)
        );
        assert!(matches!(
            change_session(&s, UserId(7), &SessionChange::Confirm, at(14, 0)),
            Err(ScheduleError::InvalidTransition(_))
        ));
        let confirmed = session(SessionStatus::Confirmed, 12, 14, 0, 30);
        assert!(matches!(
            change_session(&confirmed, UserId(7), &SessionChange::Confirm, now()),
            Err(ScheduleError::InvalidTransition(_))
        ));
    }

    #[test]
    fn either_party_cancels_a_live_session_before_its_start() {
        let cancel = SessionChange::Cancel { reason: None };
        for status in [SessionStatus::Pending, SessionStatus::Confirmed] {
            let s = session(status, 12, 14, 0, 30);
            assert_eq!(
                change_session(&s, UserId(7), &cancel, now()),
                Ok(SessionStatus::Cancelled)
            );
            assert_eq!(
                change_session(&s, UserId(12), &cancel, now()),
                Ok(SessionStatus::Cancelled)
            );
            assert!(change_session(&s, UserId(12), &cancel, at(14, 0)).is_err());
        }
        for status in [
            SessionStatus::Cancelled,
            SessionStatus::Expired,
            SessionStatus::Completed,
        ] {
            let s = session(status, 12, 14, 0, 30);
            assert!(matches!(
                change_session(&s, UserId(12), &cancel, now()),
                Err(ScheduleError::InvalidTransition(_))
            ));
        }
    }

    #[test]
    fn pending_expires_at_the_start_and_confirmed_completes_at_the_end() {
        let pending = session(SessionStatus::Pending, 12, 14, 0, 60);
        assert_eq!(status_by_time(&pending, at(13, 59)), SessionStatus::Pending);
        assert_eq!(status_by_time(&pending, at(14, 0)), SessionStatus::Expired);
        let confirmed = session(SessionStatus::Confirmed, 12, 14, 0, 60);
        assert_eq!(status_by_time(&confirmed, at(14, 30)), SessionStatus::Confirmed);
        assert_eq!(status_by_time(&confirmed, at(15, 0)), SessionStatus::Completed);
    }

    #[test]
    fn reminders_fall_due_sixty_and_fifteen_minutes_before() {
        let s = session(SessionStatus::Confirmed, 12, 14, 0, 30);
        let all_on = |_| NotificationSettings::default();
        assert!(due_reminders(&s, all_on, at(12, 59)).is_empty());
        assert_eq!(
            due_reminders(&s, all_on, at(13, 0)),
            vec![(UserId(7), 60), (UserId(12), 60)]
        );
        let mut sent = s.clone();
        sent.reminders_sent = vec![(UserId(7), 60), (UserId(12), 60)];
        assert!(due_reminders(&sent, all_on, at(13, 44)).is_empty());
        assert_eq!(
            due_reminders(&sent, all_on, at(13, 45)),
            vec![(UserId(7), 15), (UserId(12), 15)]
        );
    }

    #[test]
    fn reminders_respect_settings_status_and_the_start() {
        let s = session(SessionStatus::Confirmed, 12, 14, 0, 30);
        let mentee_off = |u: UserId| NotificationSettings {
            sixty_minute_alert: u != UserId(12),
            ..Default::default()
        };
        assert_eq!(due_reminders(&s, mentee_off, at(13, 0)), vec![(UserId(7), 60)]);
        let pending = session(SessionStatus::Pending, 12, 14, 0, 30);
        assert!(due_reminders(&pending, |_| NotificationSettings::default(), at(13, 50)).is_empty());
        assert!(
            due_reminders(&s, |_| NotificationSettings::default(), at(14, 0)).is_empty(),
            "never after the start"
        );
    }

    #[test]
    fn after_downtime_overdue_reminders_are_sent_late_once() {
        // The server was down from 12:30 to 13:50: both reminders are overdue.
        let s = session(SessionStatus::Confirmed, 12, 14, 0, 30);
        let due = due_reminders(&s, |_| NotificationSettings::default(), at(13, 50));
        assert_eq!(due.len(), 4);
        let mut sent = s.clone();
        sent.reminders_sent = due;
        assert!(due_reminders(&sent, |_| NotificationSettings::default(), at(13, 55)).is_empty());
    }

    #[test]
    fn the_next_wake_is_the_next_reminder_expiry_or_end() {
        let confirmed = session(SessionStatus::Confirmed, 12, 14, 0, 30);
        assert_eq!(next_wake(&confirmed, at(12, 0)), Some(at(13, 0)));
        assert_eq!(next_wake(&confirmed, at(13, 0)), Some(at(13, 45)));
        assert_eq!(next_wake(&confirmed, at(14, 0)), Some(at(14, 30)));
        let pending = session(SessionStatus::Pending, 12, 14, 0, 30);
        assert_eq!(next_wake(&pending, at(12, 0)), Some(at(14, 0)));
        let done = session(SessionStatus::Completed, 12, 14, 0, 30);
        assert_eq!(next_wake(&done, at(12, 0)), None);
    }

    #[test]
    fn profiles_are_validated_and_skills_matched_case_insensitively() {
        let skills = vec!["Rust".to_string(), "rust".to_string(), "CSS".to_string()];
        let p = MentorProfile::parse(UserId(7), "Grace", Some("hi"), Some(&skills), Some(3)).unwrap();
        assert_eq!(p.skills, vec!["Rust", "CSS"]);
        assert!(p.has_skills(&["rust".into(), "css".into()]));
        assert!(!p.has_skills(&["rust".into(), "go".into()]));
        let many: Vec<String> = (0..31).map(|i| format!("s{i}")).collect();
        assert!(MentorProfile::parse(UserId(7), "G", None, Some(&many), None).is_err());
        let long = vec!["x".repeat(51)];
        assert!(MentorProfile::parse(UserId(7), "G", None, Some(&long), None).is_err());
    }

    #[test]
    fn a_settings_change_touches_only_the_switches_it_names() {
        let change = SettingsChange {
            sixty_minute_alert: Some(false),
            ..Default::default()
        };
        let after = change.apply(NotificationSettings::default());
        assert!(!after.sixty_minute_alert);
        assert!(after.session_requested && after.session_confirmed && after.fifteen_minute_alert);
        assert_eq!(SettingsChange::default().apply(after), after);
    }

    #[test]
    fn only_confirming_and_cancelling_can_be_requested() {
        assert_eq!(
            SessionChange::parse(Some("confirmed"), None),
            Ok(SessionChange::Confirm)
        );
        assert_eq!(
            SessionChange::parse(Some("CANCELLED"), Some(" ill ")),
            Ok(SessionChange::Cancel {
                reason: Some("ill".into())
            })
        );
        assert!(matches!(
            SessionChange::parse(Some("COMPLETED"), None),
            Err(SessionChangeError::Rule(ScheduleError::InvalidTransition(_)))
        ));
        assert!(matches!(
            SessionChange::parse(None, None),
            Err(SessionChangeError::Fields(_))
        ));
        assert!(matches!(
            SessionChange::parse(Some("dance"), None),
            Err(SessionChangeError::Fields(_))
        ));
    }

    #[test]
    fn only_managers_may_list_every_session() {
        assert!(may_list_every_session(Roles::default()).is_err());
        assert!(may_list_every_session(Roles::default().with(Role::Mentor)).is_err());
        assert!(may_list_every_session(Roles::default().with(Role::Organizer)).is_ok());
    }
}
