//! Help tickets and their state machine (API.md "Help queue", the transition table).

use super::user::Roles;
use super::validate::FieldErrors;
use super::{QueueId, TicketId, Timestamp, UserId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Open,
    Claimed,
    Closed,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 4] = [Status::Open, Status::Claimed, Status::Closed, Status::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "OPEN",
            Status::Claimed => "CLAIMED",
            Status::Closed => "CLOSED",
            Status::Cancelled => "CANCELLED",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// OPEN or CLAIMED: the ticket still wants attention.
    pub fn is_active(self) -> bool {
        matches!(self, Status::Open | Status::Claimed)
    }
}

/// Who acts on a ticket: enough of the user to apply the rules.
#[derive(Clone, Debug, PartialEq)]
pub struct Person {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub roles: Roles,
}

/// A mentor as recorded on a ticket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MentorRef {
    pub id: UserId,
    pub email: String,
    pub name: String,
}

impl From<&Person> for MentorRef {
    fn from(p: &Person) -> Self {
        MentorRef {
            id: p.id,
            email: p.email.clone(),
            name: p.name.clone(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Ticket {
    pub id: TicketId,
    pub owner: UserId,
    pub owner_email: String,
    pub owner_name: String,
    pub title: String,
    pub comment: String,
    pub contact: String,
    pub location: String,
    pub status: Status,
    /// The mentor holding the ticket while CLAIMED, and the one who held it when it
    /// was closed.
    pub mentor: Option<MentorRef>,
    pub created: Timestamp,
    pub claimed: Option<Timestamp>,
    pub closed: Option<Timestamp>,
    /// The first claim ever: the wait statistics count it even after an unclaim.
    pub first_claimed: Option<Timestamp>,
    /// Everyone who ever claimed the ticket, in order, once each.
    pub claimants: Vec<MentorRef>,
    /// Who made the last status change; a retry of that change by them is a no-op.
    pub last_changed_by: UserId,
    pub has_feedback: bool,
    /// Shown as "Anonymous" to everyone but its owner and managers.
    pub anonymous: bool,
    /// False while the owner is away: it keeps its place, and may still be claimed.
    pub active: bool,
    /// The queue it waits in.
    pub queue: QueueId,
    /// Its topics, each one of its queue's tags (in the queue's spelling).
    pub tags: Vec<String>,
}

/// What an anonymous ticket's owner is called for those who may not know.
pub const ANONYMOUS: &str = "Anonymous";

impl Ticket {
    /// Whether `who` may see whose ticket this is (the owner's name). Mentors who may
    /// not still see `owner_email`, so they can find the person.
    pub fn owner_shown_to(&self, who: UserId, roles: Roles) -> bool {
        !self.anonymous || self.owner == who || roles.is_manager()
    }

    /// The ticket as one who may not see its owner's name is shown it.
    pub fn without_owner_name(&self) -> Ticket {
        Ticket {
            owner_name: ANONYMOUS.to_string(),
            ..self.clone()
        }
    }

    /// Whether `who` may see this ticket at all (invisible means 404).
    pub fn visible_to(&self, who: UserId, roles: Roles) -> bool {
        roles.is_staff() || self.owner == who
    }

    /// Claim → close duration, for tickets closed while a mentor held them.
    pub fn service_seconds(&self) -> Option<f64> {
        match (self.status, self.claimed, self.closed, &self.mentor) {
            (Status::Closed, Some(claimed), Some(closed), Some(_)) => Some(seconds_between(claimed, closed)),
            _ => None,
        }
    }
}

/// A person for the domain's unit tests: `u{id}@example.org`, "User {id}".
#[cfg(test)]
pub(crate) fn test_person(id: u64, roles: &[crate::domain::user::Role]) -> Person {
    Person {
        id: UserId(id),
        email: format!("u{id}@example.org"),
        name: format!("User {id}"),
        roles: Roles::from_iter(roles.iter().copied()),
    }
}

/// The other party of a ticket for `caller`: the owner if the caller is the ticket's
/// mentor, otherwise the mentor (if any).
pub fn other_party(ticket: &Ticket, caller: UserId) -> Option<UserId> {
    match &ticket.mentor {
        Some(m) if m.id == caller => Some(ticket.owner),
        Some(m) => Some(m.id),
        None => None,
    }
}

pub fn seconds_between(from: Timestamp, to: Timestamp) -> f64 {
    (to - from).num_milliseconds() as f64 / 1000.0
}

pub const TITLE_MAX: usize = 255;
pub const LOCATION_MAX: usize = 255;
pub const CONTACT_MAX: usize = 255;
pub const COMMENT_MAX: usize = 2000;

/// A validated `POST /api/tickets/`.
#[derive(Clone, Debug, PartialEq)]
pub struct NewTicket {
    pub title: String,
    pub location: String,
    pub comment: String,
    pub contact: String,
    pub anonymous: bool,
    /// The queue asked for (queue 1 unless said).
    pub queue: QueueId,
    /// The tags asked for, as sent; the queue's actor matches them to its tags.
    pub tags: Vec<String>,
}

impl NewTicket {
    pub fn parse(
        title: Option<&str>,
        location: Option<&str>,
        comment: Option<&str>,
        contact: Option<&str>,
        status: Option<&str>,
    ) -> Result<NewTicket, FieldErrors> {
        let mut errors = FieldErrors::new();
        let title = errors.required_text("title", title, TITLE_MAX);
        let location = errors.required_text("location", location, LOCATION_MAX);
        let comment = errors.optional_text("comment", comment, COMMENT_MAX);
        let contact = errors.optional_text("contact", contact, CONTACT_MAX);
        if let Some(s) = status {
            if Status::parse(s) != Some(Status::Open) {
                errors.add("status", "a new ticket's status must be OPEN");
            }
        }
        errors.into_result(NewTicket {
            title,
            location,
            comment,
            contact,
            anonymous: false,
            queue: super::queue::FIRST_QUEUE,
            tags: Vec::new(),
        })
    }

    /// In `queue` (queue 1 when `None`) with the tags asked for.
    pub fn in_queue(self, queue: Option<QueueId>, tags: Vec<String>) -> NewTicket {
        NewTicket {
            queue: queue.unwrap_or(super::queue::FIRST_QUEUE),
            tags,
            ..self
        }
    }

    /// Asked for as `anonymous: true`, or as HackRU's frontend does, `owner:
    /// "Anonymous"`; any other `owner` is ignored (the owner is always the caller).
    pub fn anonymous_if(self, anonymous: Option<bool>, owner: Option<&str>) -> NewTicket {
        let asked =
            anonymous.unwrap_or(false) || owner.is_some_and(|o| o.trim().eq_ignore_ascii_case(ANONYMOUS));
        NewTicket {
            anonymous: asked,
            ..self
        }
    }

    /// A new ticket may name its owner (HackRU clients send `owner_email`), but only
    /// as the caller: nobody opens tickets for someone else.
    pub fn check_owner(owner_email: Option<&str>, caller: &Person) -> Result<(), TicketError> {
        match owner_email {
            Some(email) if !email.trim().eq_ignore_ascii_case(&caller.email) => Err(
                TicketError::PermissionDenied("You can only open tickets for yourself."),
            ),
            _ => Ok(()),
        }
    }

    pub fn into_ticket(self, id: TicketId, owner: &Person, now: Timestamp) -> Ticket {
        Ticket {
            id,
            owner: owner.id,
            owner_email: owner.email.clone(),
            owner_name: owner.name.clone(),
            title: self.title,
            comment: self.comment,
            contact: self.contact,
            location: self.location,
            status: Status::Open,
            mentor: None,
            created: now,
            claimed: None,
            closed: None,
            first_claimed: None,
            claimants: Vec::new(),
            last_changed_by: owner.id,
            has_feedback: false,
            anonymous: self.anonymous,
            active: true,
            queue: self.queue,
            tags: self.tags,
        }
    }
}

/// The owner's edits; `None` leaves a field alone.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TicketEdits {
    pub title: Option<String>,
    pub comment: Option<String>,
    pub contact: Option<String>,
    pub location: Option<String>,
}

impl TicketEdits {
    pub fn parse(
        title: Option<&str>,
        comment: Option<&str>,
        contact: Option<&str>,
        location: Option<&str>,
    ) -> Result<TicketEdits, FieldErrors> {
        let mut errors = FieldErrors::new();
        let edits = TicketEdits {
            title: title.map(|v| errors.required_text("title", Some(v), TITLE_MAX)),
            comment: comment.map(|v| errors.optional_text("comment", Some(v), COMMENT_MAX)),
            contact: contact.map(|v| errors.optional_text("contact", Some(v), CONTACT_MAX)),
            location: location.map(|v| errors.required_text("location", Some(v), LOCATION_MAX)),
        };
        errors.into_result(edits)
    }

    /// Keeps only the fields that differ from the ticket: clients often send the whole
    /// ticket back with a status change, and unchanged fields are not edits.
    fn differing_from(&self, t: &Ticket) -> TicketEdits {
        let differs = |new: &Option<String>, old: &str| new.clone().filter(|n| n != old);
        TicketEdits {
            title: differs(&self.title, &t.title),
            comment: differs(&self.comment, &t.comment),
            contact: differs(&self.contact, &t.contact),
            location: differs(&self.location, &t.location),
        }
    }

    fn is_empty(&self) -> bool {
        *self == TicketEdits::default()
    }
}

/// A `PATCH /api/tickets/{id}/`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TicketChange {
    pub status: Option<Status>,
    pub edits: TicketEdits,
    /// On a claim, must name the caller if present.
    pub mentor_email: Option<String>,
    /// Away (`false`) or back (`true`), by the owner or staff while OPEN or CLAIMED.
    pub active: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TicketError {
    #[error("{0}")]
    PermissionDenied(&'static str),
    #[error("This ticket is already claimed by {0}.")]
    AlreadyClaimed(String),
    #[error("{0}")]
    InvalidTransition(String),
}

/// The result of applying a change: the new ticket, and whether anything changed
/// (a retried claim or close by the same person is a no-op).
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub ticket: Ticket,
    pub changed: bool,
}

fn deny(reason: &'static str) -> TicketError {
    TicketError::PermissionDenied(reason)
}

/// Applies `change` by `by` at `now`. The caller has already checked that the
/// ticket is visible to `by`.
pub fn apply_change(
    ticket: &Ticket,
    by: &Person,
    change: &TicketChange,
    now: Timestamp,
) -> Result<Applied, TicketError> {
    let mut next = ticket.clone();
    let edits = change.edits.differing_from(ticket);
    if !edits.is_empty() {
        if ticket.owner != by.id {
            return Err(deny("Only the ticket's owner may edit it."));
        }
        if ticket.status != Status::Open {
            return Err(TicketError::InvalidTransition(
                "A ticket can be edited only while it is OPEN.".into(),
            ));
        }
        if let Some(v) = edits.title {
            next.title = v;
        }
        if let Some(v) = edits.comment {
            next.comment = v;
        }
        if let Some(v) = edits.contact {
            next.contact = v;
        }
        if let Some(v) = edits.location {
            next.location = v;
        }
    }
    if let Some(active) = change.active.filter(|a| *a != ticket.active) {
        if !(ticket.owner == by.id || by.roles.is_staff()) {
            return Err(deny(
                "Only the ticket's owner or a mentor may mark it away or back.",
            ));
        }
        if !ticket.status.is_active() {
            return Err(TicketError::InvalidTransition(
                "Only an OPEN or CLAIMED ticket can be marked away or back.".into(),
            ));
        }
        next.active = active;
    }
    let edited = next != *ticket;
    let Some(to) = change.status else {
        return Ok(Applied {
            ticket: next,
            changed: edited,
        });
    };
    let transitioned = transition(&mut next, by, to, change.mentor_email.as_deref(), now)?;
    Ok(Applied {
        ticket: next,
        changed: edited || transitioned,
    })
}

/// Who a change made by time alone is recorded as made by.
pub const NOBODY: UserId = UserId(0);

/// A CLAIMED ticket whose mentor showed no sign of life in time goes back to OPEN, as if
/// unclaimed: mentor fields cleared, its original place kept (its id is unchanged).
pub fn release_stale_claim(t: &Ticket) -> Option<Ticket> {
    (t.status == Status::Claimed).then(|| Ticket {
        status: Status::Open,
        mentor: None,
        claimed: None,
        last_changed_by: NOBODY,
        ..t.clone()
    })
}

/// Moves `t` to `to`; `Ok(false)` for an allowed no-op.
fn transition(
    t: &mut Ticket,
    by: &Person,
    to: Status,
    mentor_email: Option<&str>,
    now: Timestamp,
) -> Result<bool, TicketError> {
    let is_owner = t.owner == by.id;
    let is_manager = by.roles.is_manager();
    let holds_it = t.status == Status::Claimed && t.mentor.as_ref().is_some_and(|m| m.id == by.id);
    let from = t.status;
    if from == to {
        let made_it = t.last_changed_by == by.id && (from != Status::Claimed || holds_it);
        if made_it || (from == Status::Open && is_owner) {
            return Ok(false);
        }
    }
    match (from, to) {
        // A ticket closed or cancelled by mistake: back to its original place, with any
        // feedback it was given.
        (Status::Closed | Status::Cancelled, Status::Open) if is_manager => {
            t.mentor = None;
            t.claimed = None;
            t.closed = None;
            t.active = true;
            t.status = Status::Open;
            t.last_changed_by = by.id;
            Ok(true)
        }
        (Status::Closed | Status::Cancelled, _) => Err(TicketError::InvalidTransition(format!(
            "The ticket is {} and can no longer change.",
            from.as_str()
        ))),
        (Status::Open | Status::Claimed, Status::Claimed) => {
            if !by.roles.is_staff() {
                return Err(deny("Only mentors and organizers may claim tickets."));
            }
            if mentor_email.is_some_and(|m| !m.trim().eq_ignore_ascii_case(&by.email)) {
                return Err(deny("You can only claim a ticket for yourself."));
            }
            if let (Status::Claimed, Some(holder)) = (from, &t.mentor) {
                return Err(TicketError::AlreadyClaimed(holder.name.clone()));
            }
            let me = MentorRef::from(by);
            if !t.claimants.iter().any(|c| c.id == by.id) {
                t.claimants.push(me.clone());
            }
            t.mentor = Some(me);
            t.claimed = Some(now);
            t.first_claimed.get_or_insert(now);
            t.status = Status::Claimed;
            t.last_changed_by = by.id;
            Ok(true)
        }
        (Status::Claimed, Status::Open) => {
            if !(holds_it || is_manager) {
                return Err(deny(
                    "Only the claiming mentor or an organizer may unclaim this ticket.",
                ));
            }
            t.mentor = None;
            t.claimed = None;
            t.status = Status::Open;
            t.last_changed_by = by.id;
            Ok(true)
        }
        (Status::Open, Status::Open) => Err(TicketError::InvalidTransition(
            "The ticket is already OPEN.".into(),
        )),
        (Status::Claimed, Status::Closed) | (Status::Open, Status::Closed) => {
            let may = is_owner || is_manager || (from == Status::Claimed && holds_it);
            if !may {
                return Err(deny(if from == Status::Claimed {
                    "Only the claiming mentor, the owner or an organizer may close this ticket."
                } else {
                    "Only the owner or an organizer may close an unclaimed ticket."
                }));
            }
            t.status = Status::Closed;
            t.closed = Some(now);
            t.last_changed_by = by.id;
            Ok(true)
        }
        (Status::Open | Status::Claimed, Status::Cancelled) => {
            if !(is_owner || is_manager) {
                return Err(deny("Only the owner or an organizer may cancel this ticket."));
            }
            t.status = Status::Cancelled;
            t.closed = Some(now);
            t.last_changed_by = by.id;
            Ok(true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::user::Role;
    use chrono::{Duration, TimeZone, Utc};

    fn t0() -> Timestamp {
        Utc.with_ymd_and_hms(2026, 11, 22, 14, 30, 0).unwrap()
    }

    fn person(id: u64, roles: &[Role]) -> Person {
        test_person(id, roles)
    }

    // The cast of every cell: the owner (a hacker), another hacker, the mentor who
    // holds the ticket (when CLAIMED), another mentor, an organizer, a director.
    fn owner() -> Person {
        person(1, &[])
    }
    fn stranger() -> Person {
        person(2, &[])
    }
    fn holder() -> Person {
        person(3, &[Role::Mentor])
    }
    fn other_mentor() -> Person {
        person(4, &[Role::Mentor])
    }
    fn organizer() -> Person {
        person(5, &[Role::Organizer])
    }
    fn director() -> Person {
        person(6, &[Role::Director])
    }

    fn ticket_in(status: Status) -> Ticket {
        let mut t = NewTicket::parse(Some("Segfault"), Some("Room 101"), None, None, None)
            .unwrap()
            .into_ticket(TicketId(1), &owner(), t0());
        match status {
            Status::Open => {}
            Status::Claimed => {
                t = claim(&t, &holder());
            }
            Status::Closed => {
                t = claim(&t, &holder());
                t = to(&t, &holder(), Status::Closed).unwrap().ticket;
            }
            Status::Cancelled => {
                t = to(&t, &owner(), Status::Cancelled).unwrap().ticket;
            }
        }
        t
    }

    fn claim(t: &Ticket, by: &Person) -> Ticket {
        to(t, by, Status::Claimed).unwrap().ticket
    }

    fn to(t: &Ticket, by: &Person, status: Status) -> Result<Applied, TicketError> {
        let change = TicketChange {
            status: Some(status),
            ..Default::default()
        };
        apply_change(t, by, &change, t0() + Duration::minutes(5))
    }

    /// What the contract says for each cell: Ok(changed) or the error's kind.
    #[derive(Debug, PartialEq)]
    enum Expect {
        Changes,
        NoOp,
        Forbidden,
        Taken,
        Invalid,
    }

    fn outcome(r: Result<Applied, TicketError>) -> Expect {
        match r {
            Ok(a) if a.changed => Expect::Changes,
            Ok(_) => Expect::NoOp,
            Err(TicketError::PermissionDenied(_)) => Expect::Forbidden,
            Err(TicketError::AlreadyClaimed(_)) => Expect::Taken,
            Err(TicketError::InvalidTransition(_)) => Expect::Invalid,
        }
    }

    #[test]
    fn every_cell_of_the_transition_table() {
        use Expect::*;
        use Status::*;
        let cast = [
            ("owner", owner()),
            ("stranger", stranger()),
            ("holder", holder()),
            ("other mentor", other_mentor()),
            ("organizer", organizer()),
            ("director", director()),
        ];
        // (from, to, [owner, stranger, holder, other mentor, organizer, director])
        let table: [(Status, Status, [Expect; 6]); 16] = [
            (
                Open,
                Claimed,
                [Forbidden, Forbidden, Changes, Changes, Changes, Changes],
            ),
            (Open, Open, [NoOp, Invalid, Invalid, Invalid, Invalid, Invalid]),
            (
                Open,
                Closed,
                [Changes, Forbidden, Forbidden, Forbidden, Changes, Changes],
            ),
            (
                Open,
                Cancelled,
                [Changes, Forbidden, Forbidden, Forbidden, Changes, Changes],
            ),
            (
                Claimed,
                Claimed,
                [Forbidden, Forbidden, NoOp, Taken, Taken, Taken],
            ),
            (
                Claimed,
                Open,
                [Forbidden, Forbidden, Changes, Forbidden, Changes, Changes],
            ),
            (
                Claimed,
                Closed,
                [Changes, Forbidden, Changes, Forbidden, Changes, Changes],
            ),
            (
                Claimed,
                Cancelled,
                [Changes, Forbidden, Forbidden, Forbidden, Changes, Changes],
            ),
            (
                Closed,
                Open,
                [Invalid, Invalid, Invalid, Invalid, Changes, Changes],
            ),
            (
                Closed,
                Claimed,
                [Invalid, Invalid, Invalid, Invalid, Invalid, Invalid],
            ),
            (
                Closed,
                Closed,
                [Invalid, Invalid, NoOp, Invalid, Invalid, Invalid],
            ),
            (
                Closed,
                Cancelled,
                [Invalid, Invalid, Invalid, Invalid, Invalid, Invalid],
            ),
            (
                Cancelled,
                Open,
                [Invalid, Invalid, Invalid, Invalid, Changes, Changes],
            ),
            (
                Cancelled,
                Claimed,
                [Invalid, Invalid, Invalid, Invalid, Invalid, Invalid],
            ),
            (
                Cancelled,
                Closed,
                [Invalid, Invalid, Invalid, Invalid, Invalid, Invalid],
            ),
            (
                Cancelled,
                Cancelled,
                [NoOp, Invalid, Invalid, Invalid, Invalid, Invalid],
            ),
        ];
        for (from, target, expected) in table {
            for ((who, by), want) in cast.iter().zip(expected) {
                let got = outcome(to(&ticket_in(from), by, target));
                assert_eq!(got, want, "{from:?} -> {target:?} by {who}");
            }
        }
    }

    #[test]
    fn a_reopened_ticket_is_open_again_without_its_mentor_but_with_its_feedback() {
        let mut closed = ticket_in(Status::Closed);
        closed.has_feedback = true;
        let t = to(&closed, &organizer(), Status::Open).unwrap().ticket;
        assert_eq!(t.status, Status::Open);
        assert_eq!((t.mentor.as_ref(), t.claimed, t.closed), (None, None, None));
        assert!(t.has_feedback);
        assert_eq!(
            t.first_claimed, closed.first_claimed,
            "the wait statistics keep the first claim"
        );
        assert_eq!(t.claimants, closed.claimants);
    }

    #[test]
    fn a_claim_records_the_mentor_and_the_time() {
        let t = claim(&ticket_in(Status::Open), &holder());
        let m = t.mentor.as_ref().unwrap();
        assert_eq!(m.email, "u3@example.org");
        assert_eq!(t.claimed, Some(t0() + Duration::minutes(5)));
        assert_eq!(t.first_claimed, t.claimed);
    }

    #[test]
    fn already_claimed_names_the_holder() {
        let err = to(&ticket_in(Status::Claimed), &other_mentor(), Status::Claimed).unwrap_err();
        assert_eq!(err, TicketError::AlreadyClaimed("User 3".into()));
    }

    #[test]
    fn an_unclaim_clears_the_mentor_but_keeps_the_first_claim() {
        let claimed = ticket_in(Status::Claimed);
        let reopened = to(&claimed, &holder(), Status::Open).unwrap().ticket;
        assert_eq!(reopened.mentor, None);
        assert_eq!(reopened.claimed, None);
        assert_eq!(reopened.first_claimed, claimed.first_claimed);
        assert_eq!(reopened.created, claimed.created);
        let reclaimed = claim(&reopened, &other_mentor());
        assert_eq!(reclaimed.claimants.len(), 2);
        assert_eq!(reclaimed.first_claimed, claimed.first_claimed);
    }

    #[test]
    fn a_claim_naming_someone_else_is_forbidden() {
        let change = TicketChange {
            status: Some(Status::Claimed),
            mentor_email: Some("someone@else.org".into()),
            ..Default::default()
        };
        let err = apply_change(&ticket_in(Status::Open), &holder(), &change, t0()).unwrap_err();
        assert!(matches!(err, TicketError::PermissionDenied(_)));
        let mine = TicketChange {
            mentor_email: Some("U3@example.org".into()),
            ..change
        };
        assert!(apply_change(&ticket_in(Status::Open), &holder(), &mine, t0()).is_ok());
    }

    fn edit_title(t: &Ticket, by: &Person, title: &str) -> Result<Applied, TicketError> {
        let change = TicketChange {
            edits: TicketEdits {
                title: Some(title.into()),
                ..Default::default()
            },
            ..Default::default()
        };
        apply_change(t, by, &change, t0())
    }

    #[test]
    fn the_owner_edits_only_while_open() {
        let edited = edit_title(&ticket_in(Status::Open), &owner(), "New title").unwrap();
        assert!(edited.changed);
        assert_eq!(edited.ticket.title, "New title");
        assert!(matches!(
            edit_title(&ticket_in(Status::Claimed), &owner(), "New"),
            Err(TicketError::InvalidTransition(_))
        ));
        assert!(matches!(
            edit_title(&ticket_in(Status::Open), &organizer(), "New"),
            Err(TicketError::PermissionDenied(_))
        ));
    }

    #[test]
    fn unchanged_fields_sent_back_are_not_edits() {
        let same = edit_title(&ticket_in(Status::Claimed), &holder(), "Segfault").unwrap();
        assert!(!same.changed);
    }

    #[test]
    fn creation_validates_every_field() {
        let long = "x".repeat(256);
        let err = NewTicket::parse(
            Some(" "),
            None,
            Some(&"c".repeat(2001)),
            Some(&long),
            Some("CLOSED"),
        )
        .unwrap_err();
        for field in ["title", "location", "comment", "contact", "status"] {
            assert!(err.0.contains_key(field), "{field} should be reported");
        }
        assert!(NewTicket::parse(Some("t"), Some("l"), None, None, Some("open")).is_ok());
    }

    #[test]
    fn the_other_party_is_the_owner_for_the_mentor_and_the_mentor_for_others() {
        let t = ticket_in(Status::Claimed);
        assert_eq!(other_party(&t, holder().id), Some(owner().id));
        assert_eq!(other_party(&t, owner().id), Some(holder().id));
        assert_eq!(other_party(&ticket_in(Status::Open), owner().id), None);
    }

    #[test]
    fn a_ticket_may_name_only_its_caller_as_owner() {
        assert!(NewTicket::check_owner(None, &owner()).is_ok());
        assert!(NewTicket::check_owner(Some(" U1@Example.org "), &owner()).is_ok());
        assert!(matches!(
            NewTicket::check_owner(Some("u2@example.org"), &owner()),
            Err(TicketError::PermissionDenied(_))
        ));
    }

    #[test]
    fn visibility_is_staff_or_owner() {
        let t = ticket_in(Status::Open);
        assert!(t.visible_to(owner().id, owner().roles));
        assert!(!t.visible_to(stranger().id, stranger().roles));
        assert!(t.visible_to(other_mentor().id, other_mentor().roles));
    }
}
