//! What the owners of mentor capacity tell those who evaluate it (see
//! `domain::capacity`): the Hub tells the `QueueActor` of connections, the
//! `SessionActor` tells both of staffing and confirmed sessions, and requests tell the
//! `QueueActor` that a mentor is alive. Each is sent once the change it reports is
//! durable (where it is durable at all) and before the change is answered, so a client
//! that reads after its own change sees it.

use crate::domain::capacity::Staffing;
use crate::domain::{Timestamp, UserId};
use actix::Message;

/// A mentor's first connection opened (`connected`) or their last one closed, at `at`.
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "()")]
pub struct MentorConnection {
    pub user: UserId,
    pub connected: bool,
    pub at: Timestamp,
}

/// A mentor's staffing (queues, skills, presence) or confirmed sessions changed.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct StaffingChanged {
    pub user: UserId,
    pub staffing: Staffing,
}

/// An authenticated request by this mentor: a sign of life that keeps their claims.
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "()")]
pub struct SignOfLife(pub UserId);
