//! Feedback on a closed ticket: who may leave it, and its validation.

use super::ticket::{Status, Ticket};
use super::user::Roles;
use super::validate::FieldErrors;
use super::{TicketId, Timestamp, UserId};

/// A rating from 1 to 5.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rating(u8);

impl Rating {
    pub fn parse(value: i64) -> Option<Rating> {
        (1..=5).contains(&value).then_some(Rating(value as u8))
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

pub const COMMENTS_MAX: usize = 2000;

#[derive(Clone, Debug, PartialEq)]
pub struct Feedback {
    pub ticket: TicketId,
    /// The ticket's owner, who wrote it.
    pub owner: UserId,
    pub rating: Rating,
    pub comments: String,
    pub mentor: UserId,
    pub mentor_email: String,
    pub mentor_name: String,
    pub created: Timestamp,
}

/// A validated `POST /api/feedback/`.
#[derive(Clone, Debug, PartialEq)]
pub struct NewFeedback {
    pub ticket: TicketId,
    pub rating: Rating,
    pub comments: String,
}

impl NewFeedback {
    pub fn parse(
        ticket: Option<i64>,
        rating: Option<i64>,
        comments: Option<&str>,
    ) -> Result<NewFeedback, FieldErrors> {
        let mut errors = FieldErrors::new();
        let ticket = match ticket {
            Some(id) if id > 0 => TicketId(id as u64),
            Some(_) => {
                errors.add("ticket", "must be a positive ticket id");
                TicketId(0)
            }
            None => {
                errors.add("ticket", "is required");
                TicketId(0)
            }
        };
        let rating = match rating {
            Some(r) => parse_rating(r, &mut errors),
            None => {
                errors.add("rating", "is required");
                Rating(1)
            }
        };
        let comments = errors.optional_text("comments", comments, COMMENTS_MAX);
        errors.into_result(NewFeedback {
            ticket,
            rating,
            comments,
        })
    }
}

fn parse_rating(value: i64, errors: &mut FieldErrors) -> Rating {
    Rating::parse(value).unwrap_or_else(|| {
        errors.add("rating", "must be a whole number from 1 to 5");
        Rating(1)
    })
}

/// How long after giving it the owner may still correct a feedback.
pub const CORRECTION_WINDOW: chrono::Duration = chrono::Duration::hours(24);

/// A validated `PATCH /api/feedback/{ticket_id}/`; `None` leaves a field alone.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedbackCorrection {
    pub rating: Option<Rating>,
    pub comments: Option<String>,
}

impl FeedbackCorrection {
    pub fn parse(rating: Option<i64>, comments: Option<&str>) -> Result<FeedbackCorrection, FieldErrors> {
        let mut errors = FieldErrors::new();
        let rating = rating.map(|r| parse_rating(r, &mut errors));
        let comments = comments.map(|c| errors.optional_text("comments", Some(c), COMMENTS_MAX));
        errors.into_result(FeedbackCorrection { rating, comments })
    }
}

/// Decides whether `by` may correct `feedback` now: only its writer, the ticket's owner,
/// within [`CORRECTION_WINDOW`] of giving it. Managers may read it but not change it;
/// to anyone else it does not exist.
pub fn correct_feedback(
    feedback: &Feedback,
    by: UserId,
    roles: Roles,
    correction: FeedbackCorrection,
    now: Timestamp,
) -> Result<Feedback, FeedbackError> {
    if feedback.owner != by {
        return Err(if roles.is_manager() {
            FeedbackError::NotYours
        } else {
            FeedbackError::NotFound
        });
    }
    if now - feedback.created > CORRECTION_WINDOW {
        return Err(FeedbackError::TooLate);
    }
    Ok(Feedback {
        rating: correction.rating.unwrap_or(feedback.rating),
        comments: correction.comments.unwrap_or_else(|| feedback.comments.clone()),
        ..feedback.clone()
    })
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedbackError {
    /// Only the owner may rate; to anyone else the ticket does not exist.
    #[error("No such ticket.")]
    NotFound,
    #[error("Feedback can be given only on a CLOSED ticket that a mentor helped with.")]
    NotRateable,
    #[error("This ticket already has feedback.")]
    Exists,
    #[error("Only the person who gave this feedback may change it.")]
    NotYours,
    #[error("Feedback can be corrected only within 24 hours of giving it.")]
    TooLate,
}

/// Decides whether `by` may leave `new` on `ticket`, and builds it.
pub fn give_feedback(
    ticket: &Ticket,
    by: UserId,
    new: NewFeedback,
    now: Timestamp,
) -> Result<Feedback, FeedbackError> {
    if ticket.owner != by {
        return Err(FeedbackError::NotFound);
    }
    let mentor = match (&ticket.status, &ticket.mentor) {
        (Status::Closed, Some(mentor)) => mentor,
        _ => return Err(FeedbackError::NotRateable),
    };
    if ticket.has_feedback {
        return Err(FeedbackError::Exists);
    }
    Ok(Feedback {
        ticket: ticket.id,
        owner: by,
        rating: new.rating,
        comments: new.comments,
        mentor: mentor.id,
        mentor_email: mentor.email.clone(),
        mentor_name: mentor.name.clone(),
        created: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ticket::{apply_change, NewTicket, Person, TicketChange};
    use crate::domain::user::Role;
    use chrono::{TimeZone, Utc};

    fn now() -> Timestamp {
        Utc.with_ymd_and_hms(2026, 11, 22, 15, 0, 0).unwrap()
    }

    fn person(id: u64, roles: &[Role]) -> Person {
        crate::domain::ticket::test_person(id, roles)
    }

    fn closed_ticket(with_mentor: bool) -> Ticket {
        let owner = person(1, &[]);
        let mut t = NewTicket::parse(Some("t"), Some("l"), None, None, None)
            .unwrap()
            .into_ticket(TicketId(9), &owner, now());
        let step = |t: &Ticket, by: &Person, s| {
            let change = TicketChange {
                status: Some(s),
                ..Default::default()
            };
            apply_change(t, by, &change, now()).unwrap().ticket
        };
        if with_mentor {
            t = step(&t, &person(2, &[Role::Mentor]), Status::Claimed);
        }
        step(&t, &owner, Status::Closed)
    }

    fn five_stars() -> NewFeedback {
        NewFeedback::parse(Some(9), Some(5), Some("great")).unwrap()
    }

    #[test]
    fn the_owner_rates_a_closed_ticket_that_had_a_mentor() {
        let f = give_feedback(&closed_ticket(true), UserId(1), five_stars(), now()).unwrap();
        assert_eq!(f.mentor_email, "u2@example.org");
        assert_eq!(f.rating.get(), 5);
    }

    #[test]
    fn anyone_but_the_owner_is_told_there_is_no_such_ticket() {
        let err = give_feedback(&closed_ticket(true), UserId(2), five_stars(), now());
        assert_eq!(err, Err(FeedbackError::NotFound));
    }

    #[test]
    fn a_ticket_closed_without_help_cannot_be_rated() {
        let err = give_feedback(&closed_ticket(false), UserId(1), five_stars(), now());
        assert_eq!(err, Err(FeedbackError::NotRateable));
    }

    #[test]
    fn a_second_feedback_is_refused() {
        let mut t = closed_ticket(true);
        t.has_feedback = true;
        assert_eq!(
            give_feedback(&t, UserId(1), five_stars(), now()),
            Err(FeedbackError::Exists)
        );
    }

    #[test]
    fn ratings_outside_one_to_five_are_invalid() {
        assert!(NewFeedback::parse(Some(1), Some(0), None).is_err());
        assert!(NewFeedback::parse(Some(1), Some(6), None).is_err());
        assert!(NewFeedback::parse(Some(1), Some(1), None).is_ok());
        let err = NewFeedback::parse(None, None, Some(&"x".repeat(2001))).unwrap_err();
        assert_eq!(err.0.len(), 3);
    }
}
