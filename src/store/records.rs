//! Which tree each aggregate lives in, and its key (big-endian ids keep key order equal
//! to id order).

use super::{Record, TreeName};
use crate::domain::feedback::Feedback;
use crate::domain::queue::Announcement;
use crate::domain::ticket::Ticket;
use crate::domain::user::{DeviceSession, User};

impl Record for User {
    const TREE: TreeName = TreeName::Users;
    fn key(&self) -> Vec<u8> {
        self.id.0.to_be_bytes().to_vec()
    }
}

impl Record for DeviceSession {
    const TREE: TreeName = TreeName::DeviceSessions;
    fn key(&self) -> Vec<u8> {
        self.id.0.to_be_bytes().to_vec()
    }
}

impl Record for Ticket {
    const TREE: TreeName = TreeName::Tickets;
    fn key(&self) -> Vec<u8> {
        self.id.0.to_be_bytes().to_vec()
    }
}

/// Keyed by the ticket: one feedback per ticket.
impl Record for Feedback {
    const TREE: TreeName = TreeName::Feedback;
    fn key(&self) -> Vec<u8> {
        self.ticket.0.to_be_bytes().to_vec()
    }
}

impl Record for Announcement {
    const TREE: TreeName = TreeName::Announcements;
    fn key(&self) -> Vec<u8> {
        self.id.to_be_bytes().to_vec()
    }
}

/// Keyed by user, then the client's key.
impl Record for crate::domain::idempotency::StoredResponse {
    const TREE: TreeName = TreeName::Idempotency;
    fn key(&self) -> Vec<u8> {
        let mut key = self.user.0.to_be_bytes().to_vec();
        key.extend_from_slice(self.key.as_bytes());
        key
    }
}

impl Record for crate::domain::schedule::MentorProfile {
    const TREE: TreeName = TreeName::MentorProfiles;
    fn key(&self) -> Vec<u8> {
        self.user.0.to_be_bytes().to_vec()
    }
}

impl Record for crate::domain::schedule::Chunk {
    const TREE: TreeName = TreeName::Chunks;
    fn key(&self) -> Vec<u8> {
        self.id.0.to_be_bytes().to_vec()
    }
}

impl Record for crate::domain::schedule::Session {
    const TREE: TreeName = TreeName::Sessions;
    fn key(&self) -> Vec<u8> {
        self.id.0.to_be_bytes().to_vec()
    }
}

/// A user's notification settings, keyed by the user.
impl Record
    for (
        crate::domain::UserId,
        crate::domain::schedule::NotificationSettings,
    )
{
    const TREE: TreeName = TreeName::NotificationSettings;
    fn key(&self) -> Vec<u8> {
        self.0 .0.to_be_bytes().to_vec()
    }
}
