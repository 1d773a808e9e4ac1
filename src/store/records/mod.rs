//! What is on disk, apart from the domain types: each tree has its own record types,
//! one module per version (`v1`, …), and explicit conversions to and from the domain.
//!
//! A stored value is one version byte, then bincode 2 (standard configuration) of that
//! version's record. Writing always uses the newest version of the tree; reading
//! matches the byte and upgrades older shapes, so a release reads everything earlier
//! ones wrote. Adding a field to `Ticket` means: a `v2::Ticket`, `TICKET` moved to 2,
//! a `2 =>` arm that decodes it and a `1 =>` arm that upgrades a `v1::Ticket` (with the
//! new field's default). A byte newer than this release knows is an error naming the
//! tree, never a misread.
//!
//! Architecture Invariant: the domain types are not serialisable. Only these records
//! are, so changing a domain type can never silently change what is on disk.

mod v1;
mod v2;
mod v3;
mod v4;

use super::{StoreError, TreeName};
use crate::domain::board::TicketView;
use crate::domain::event::{Event, EventBody};
use crate::domain::feedback::{Feedback, Rating};
use crate::domain::idempotency::StoredResponse;
use crate::domain::queue::{Announcement, Queue, QueueSettings, FIRST_QUEUE};
use crate::domain::schedule::{
    Chunk, ChunkStatus, MentorProfile, NotificationSettings, Session, SessionLength, SessionStatus,
};
use crate::domain::ticket::{MentorRef, Status, Ticket};
use crate::domain::user::{DeviceSession, Roles, User};
use crate::domain::{ChunkId, DeviceSessionId, QueueId, SessionId, TicketId, UserId};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A value kept in one tree, under a big-endian key.
pub trait Record: Sized {
    const TREE: TreeName;
    fn key(&self) -> Vec<u8>;
    fn encode(&self) -> Vec<u8>;
    fn decode(bytes: &[u8]) -> Result<Self, StoreError>;
}

/// A value kept in the meta tree under a name.
pub trait MetaValue: Sized {
    fn encode(&self) -> Vec<u8>;
    fn decode(bytes: &[u8]) -> Result<Self, StoreError>;
}

/// The newest record version of each tree (and of each kind of meta value).
mod current {
    pub const USER: u8 = 1;
    pub const DEVICE_SESSION: u8 = 1;
    // Versions 4 are `v4`'s records (3 was never used by these trees).
    pub const TICKET: u8 = 4;
    pub const FEEDBACK: u8 = 1;
    pub const ANNOUNCEMENT: u8 = 1;
    pub const IDEMPOTENCY: u8 = 1;
    pub const MENTOR_PROFILE: u8 = 4;
    pub const CHUNK: u8 = 1;
    pub const SESSION: u8 = 1;
    pub const NOTIFICATION_SETTINGS: u8 = 4;
    pub const EVENT: u8 = 4;
    pub const QUEUE: u8 = 4;
    pub const QUEUE_SETTINGS: u8 = 1;
    pub const COUNTER: u8 = 1;
    pub const STORE_ID: u8 = 1;
}

fn encode_as<R: Serialize>(version: u8, record: &R) -> Vec<u8> {
    let mut out = vec![version];
    bincode::serde::encode_into_std_write(record, &mut out, bincode::config::standard())
        .expect("encoding into a Vec cannot fail");
    out
}

/// Splits off the version byte.
fn version_of<'a>(bytes: &'a [u8], tree: &'static str) -> Result<(u8, &'a [u8]), StoreError> {
    bytes
        .split_first()
        .map(|(v, body)| (*v, body))
        .ok_or_else(|| decode_error(tree, "empty record".into()))
}

fn body<R: DeserializeOwned>(body: &[u8], tree: &'static str) -> Result<R, StoreError> {
    bincode::serde::decode_from_slice(body, bincode::config::standard())
        .map(|(value, _)| value)
        .map_err(|e| decode_error(tree, e.to_string()))
}

fn decode_error(tree: &'static str, detail: String) -> StoreError {
    StoreError::Decode { tree, detail }
}

fn newer(tree: &'static str, version: u8) -> StoreError {
    decode_error(
        tree,
        format!("record version {version} is newer than this release understands"),
    )
}

/// Implements [`Record`] for a domain type: written as `$current` with version byte
/// `$version`, read from every listed version (each converts to the domain type).
macro_rules! record {
    ($domain:ty, $tree:expr, $version:expr, writes $current:ty, reads [$($v:literal => $old:ty),+], |$it:ident| $key:expr) => {
        impl Record for $domain {
            const TREE: TreeName = $tree;
            fn key(&self) -> Vec<u8> {
                let $it = self;
                $key.to_be_bytes().to_vec()
            }
            fn encode(&self) -> Vec<u8> {
                encode_as($version, &<$current>::from(self))
            }
            fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
                let tree = $tree.name();
                let checked: Checked<Self> = match version_of(bytes, tree)? {
                    $(($v, rest) => body::<$old>(rest, tree)?.try_into(),)+
                    (v, _) => return Err(newer(tree, v)),
                };
                checked.map_err(|detail| decode_error(tree, detail))
            }
        }
    };
}

/// A domain type whose only record version is `$v1`.
macro_rules! record_v1 {
    ($domain:ty, $tree:expr, $version:expr, $v1:ty, |$it:ident| $key:expr) => {
        record!($domain, $tree, $version, writes $v1, reads [1 => $v1], |$it| $key);
    };
}

record_v1!(User, TreeName::Users, current::USER, v1::User, |u| u.id.0);
record_v1!(
    DeviceSession,
    TreeName::DeviceSessions,
    current::DEVICE_SESSION,
    v1::DeviceSession,
    |s| s.id.0
);
record!(Ticket, TreeName::Tickets, current::TICKET, writes v4::Ticket,
    reads [1 => v1::Ticket, 2 => v2::Ticket, 4 => v4::Ticket], |t| t.id.0);
record!(Queue, TreeName::Queues, current::QUEUE, writes v4::Queue,
    reads [4 => v4::Queue], |q| q.id.0);
// One feedback per ticket, keyed by the ticket.
record_v1!(
    Feedback,
    TreeName::Feedback,
    current::FEEDBACK,
    v1::Feedback,
    |f| f.ticket.0
);
record_v1!(
    Announcement,
    TreeName::Announcements,
    current::ANNOUNCEMENT,
    v1::Announcement,
    |a| a.id
);
record!(MentorProfile, TreeName::MentorProfiles, current::MENTOR_PROFILE, writes v4::MentorProfile,
    reads [1 => v1::MentorProfile, 4 => v4::MentorProfile], |p| p.user.0);
record_v1!(Chunk, TreeName::Chunks, current::CHUNK, v1::Chunk, |c| c.id.0);
record_v1!(Session, TreeName::Sessions, current::SESSION, v1::Session, |s| s
    .id
    .0);
record!((UserId, NotificationSettings), TreeName::NotificationSettings, current::NOTIFICATION_SETTINGS,
    writes v4::NotificationSettings,
    reads [1 => v1::NotificationSettings, 4 => v4::NotificationSettings], |s| s.0 .0);
record!(Event, TreeName::Events, current::EVENT, writes v4::Event,
    reads [1 => v1::Event, 2 => v2::Event, 3 => v3::Event, 4 => v4::Event], |e| e.seq);

/// Keyed by user, then the client's key.
impl Record for StoredResponse {
    const TREE: TreeName = TreeName::Idempotency;
    fn key(&self) -> Vec<u8> {
        let mut key = self.user.0.to_be_bytes().to_vec();
        key.extend_from_slice(self.key.as_bytes());
        key
    }
    fn encode(&self) -> Vec<u8> {
        encode_as(current::IDEMPOTENCY, &v1::StoredResponse::from(self))
    }
    fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        let tree = Self::TREE.name();
        match version_of(bytes, tree)? {
            (1, rest) => Ok(body::<v1::StoredResponse>(rest, tree)?.into()),
            (v, _) => Err(newer(tree, v)),
        }
    }
}

impl MetaValue for QueueSettings {
    fn encode(&self) -> Vec<u8> {
        encode_as(current::QUEUE_SETTINGS, &v1::QueueSettings::from(self))
    }
    fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        match version_of(bytes, "meta")? {
            (1, rest) => Ok(body::<v1::QueueSettings>(rest, "meta")?.into()),
            (v, _) => Err(newer("meta", v)),
        }
    }
}

/// A store's id or epoch, made once at its first start.
impl MetaValue for crate::store::RandomId {
    fn encode(&self) -> Vec<u8> {
        encode_as(current::STORE_ID, &self.0)
    }
    fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        match version_of(bytes, "meta")? {
            (1, rest) => body(rest, "meta").map(crate::store::RandomId),
            (v, _) => Err(newer("meta", v)),
        }
    }
}

/// Id counters and the event counter.
impl MetaValue for u64 {
    fn encode(&self) -> Vec<u8> {
        encode_as(current::COUNTER, self)
    }
    fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        match version_of(bytes, "meta")? {
            (1, rest) => body(rest, "meta"),
            (v, _) => Err(newer("meta", v)),
        }
    }
}

// Conversions, domain → record (infallible) and record → domain (checked: a record
// that breaks a domain invariant is reported, not trusted).

type Checked<T> = Result<T, String>;

impl From<&User> for v1::User {
    fn from(u: &User) -> Self {
        v1::User {
            id: u.id.0,
            email: u.email.clone(),
            name: u.name.clone(),
            password_hash: u.password_hash.clone(),
            roles: u.roles.bits(),
            slack_id: u.slack_id.clone(),
            phone: u.phone.clone(),
            created: u.created,
        }
    }
}

impl TryFrom<v1::User> for User {
    type Error = String;
    fn try_from(u: v1::User) -> Checked<Self> {
        Ok(User {
            id: UserId(u.id),
            email: u.email,
            name: u.name,
            password_hash: u.password_hash,
            roles: Roles::from_bits(u.roles),
            slack_id: u.slack_id,
            phone: u.phone,
            created: u.created,
        })
    }
}

impl From<&DeviceSession> for v1::DeviceSession {
    fn from(s: &DeviceSession) -> Self {
        v1::DeviceSession {
            id: s.id.0,
            user: s.user.0,
            device: s.device.clone(),
            created: s.created,
            last_used: s.last_used,
            generation: s.generation,
            expires: s.expires,
            revoked: s.revoked,
            external_token: s.external_token.clone(),
        }
    }
}

impl TryFrom<v1::DeviceSession> for DeviceSession {
    type Error = String;
    fn try_from(s: v1::DeviceSession) -> Checked<Self> {
        Ok(DeviceSession {
            id: DeviceSessionId(s.id),
            user: UserId(s.user),
            device: s.device,
            created: s.created,
            last_used: s.last_used,
            generation: s.generation,
            expires: s.expires,
            revoked: s.revoked,
            external_token: s.external_token,
        })
    }
}

impl From<Status> for v1::TicketStatus {
    fn from(s: Status) -> Self {
        match s {
            Status::Open => v1::TicketStatus::Open,
            Status::Claimed => v1::TicketStatus::Claimed,
            Status::Closed => v1::TicketStatus::Closed,
            Status::Cancelled => v1::TicketStatus::Cancelled,
        }
    }
}

impl From<v1::TicketStatus> for Status {
    fn from(s: v1::TicketStatus) -> Self {
        match s {
            v1::TicketStatus::Open => Status::Open,
            v1::TicketStatus::Claimed => Status::Claimed,
            v1::TicketStatus::Closed => Status::Closed,
            v1::TicketStatus::Cancelled => Status::Cancelled,
        }
    }
}

impl From<&MentorRef> for v1::MentorRef {
    fn from(m: &MentorRef) -> Self {
        v1::MentorRef {
            id: m.id.0,
            email: m.email.clone(),
            name: m.name.clone(),
        }
    }
}

impl From<v1::MentorRef> for MentorRef {
    fn from(m: v1::MentorRef) -> Self {
        MentorRef {
            id: UserId(m.id),
            email: m.email,
            name: m.name,
        }
    }
}

impl From<&Ticket> for v1::Ticket {
    fn from(t: &Ticket) -> Self {
        v1::Ticket {
            id: t.id.0,
            owner: t.owner.0,
            owner_email: t.owner_email.clone(),
            owner_name: t.owner_name.clone(),
            title: t.title.clone(),
            comment: t.comment.clone(),
            contact: t.contact.clone(),
            location: t.location.clone(),
            status: t.status.into(),
            mentor: t.mentor.as_ref().map(Into::into),
            created: t.created,
            claimed: t.claimed,
            closed: t.closed,
            first_claimed: t.first_claimed,
            claimants: t.claimants.iter().map(Into::into).collect(),
            last_changed_by: t.last_changed_by.0,
            has_feedback: t.has_feedback,
        }
    }
}

impl TryFrom<v1::Ticket> for Ticket {
    type Error = String;
    fn try_from(t: v1::Ticket) -> Checked<Self> {
        Ok(Ticket {
            id: TicketId(t.id),
            owner: UserId(t.owner),
            owner_email: t.owner_email,
            owner_name: t.owner_name,
            title: t.title,
            comment: t.comment,
            contact: t.contact,
            location: t.location,
            status: t.status.into(),
            mentor: t.mentor.map(Into::into),
            created: t.created,
            claimed: t.claimed,
            closed: t.closed,
            first_claimed: t.first_claimed,
            claimants: t.claimants.into_iter().map(Into::into).collect(),
            last_changed_by: UserId(t.last_changed_by),
            has_feedback: t.has_feedback,
            // Version 1 knew neither: no ticket was anonymous or away, and all were in
            // the one queue.
            anonymous: false,
            active: true,
            queue: FIRST_QUEUE,
            tags: Vec::new(),
        })
    }
}

impl From<&Ticket> for v2::Ticket {
    fn from(t: &Ticket) -> Self {
        v2::Ticket {
            base: t.into(),
            anonymous: t.anonymous,
            active: t.active,
        }
    }
}

impl From<&Ticket> for v4::Ticket {
    fn from(t: &Ticket) -> Self {
        v4::Ticket {
            base: t.into(),
            queue: t.queue.0,
            tags: t.tags.clone(),
        }
    }
}

/// Before version 4 there was one queue and no tags.
impl TryFrom<v2::Ticket> for Ticket {
    type Error = String;
    fn try_from(t: v2::Ticket) -> Checked<Self> {
        v4::Ticket {
            base: t,
            queue: FIRST_QUEUE.0,
            tags: Vec::new(),
        }
        .try_into()
    }
}

impl TryFrom<v4::Ticket> for Ticket {
    type Error = String;
    fn try_from(t: v4::Ticket) -> Checked<Self> {
        let base = t.base;
        Ok(Ticket {
            anonymous: base.anonymous,
            active: base.active,
            queue: QueueId(t.queue),
            tags: t.tags,
            ..base.base.try_into()?
        })
    }
}

impl From<&TicketView> for v4::TicketView {
    fn from(v: &TicketView) -> Self {
        v4::TicketView {
            ticket: (&v.ticket).into(),
            position: v.position.map(|p| p as u64),
            estimated_wait_seconds: v.estimated_wait_seconds,
            matching_mentors: v.matching_mentors.map(|m| m as u64),
        }
    }
}

impl TryFrom<v4::TicketView> for TicketView {
    type Error = String;
    fn try_from(v: v4::TicketView) -> Checked<Self> {
        Ok(TicketView {
            ticket: v.ticket.try_into()?,
            position: v.position.map(|p| p as usize),
            estimated_wait_seconds: v.estimated_wait_seconds,
            matching_mentors: v.matching_mentors.map(|m| m as usize),
        })
    }
}

/// A version-2 view: its ticket in queue 1, matching nobody (it had no tags).
fn view_v2_to_v4(v: v2::TicketView) -> v4::TicketView {
    v4::TicketView {
        ticket: v4::Ticket {
            base: v.ticket,
            queue: FIRST_QUEUE.0,
            tags: Vec::new(),
        },
        position: v.position,
        estimated_wait_seconds: v.estimated_wait_seconds,
        matching_mentors: None,
    }
}

impl From<&Queue> for v4::Queue {
    fn from(q: &Queue) -> Self {
        v4::Queue {
            id: q.id.0,
            name: q.name.clone(),
            description: q.description.clone(),
            open: q.open,
            message: q.message.clone(),
            tags: q.tags.clone(),
            cooldown_seconds: q.cooldown_seconds,
            archived: q.archived,
        }
    }
}

impl TryFrom<v4::Queue> for Queue {
    type Error = String;
    fn try_from(q: v4::Queue) -> Checked<Self> {
        if q.id == 0 {
            return Err("queue id 0".into());
        }
        Ok(Queue {
            id: QueueId(q.id),
            name: q.name,
            description: q.description,
            open: q.open,
            message: q.message,
            tags: q.tags,
            cooldown_seconds: q.cooldown_seconds,
            archived: q.archived,
        })
    }
}

impl From<&Feedback> for v1::Feedback {
    fn from(f: &Feedback) -> Self {
        v1::Feedback {
            ticket: f.ticket.0,
            owner: f.owner.0,
            rating: f.rating.get(),
            comments: f.comments.clone(),
            mentor: f.mentor.0,
            mentor_email: f.mentor_email.clone(),
            mentor_name: f.mentor_name.clone(),
            created: f.created,
        }
    }
}

impl TryFrom<v1::Feedback> for Feedback {
    type Error = String;
    fn try_from(f: v1::Feedback) -> Checked<Self> {
        Ok(Feedback {
            ticket: TicketId(f.ticket),
            owner: UserId(f.owner),
            rating: Rating::parse(i64::from(f.rating))
                .ok_or_else(|| format!("rating {} out of range", f.rating))?,
            comments: f.comments,
            mentor: UserId(f.mentor),
            mentor_email: f.mentor_email,
            mentor_name: f.mentor_name,
            created: f.created,
        })
    }
}

impl From<&Announcement> for v1::Announcement {
    fn from(a: &Announcement) -> Self {
        v1::Announcement {
            id: a.id,
            text: a.text.clone(),
            author: a.author.clone(),
            author_id: a.author_id.0,
            created: a.created,
        }
    }
}

impl TryFrom<v1::Announcement> for Announcement {
    type Error = String;
    fn try_from(a: v1::Announcement) -> Checked<Self> {
        Ok(Announcement {
            id: a.id,
            text: a.text,
            author: a.author,
            author_id: UserId(a.author_id),
            created: a.created,
        })
    }
}

impl From<&QueueSettings> for v1::QueueSettings {
    fn from(s: &QueueSettings) -> Self {
        v1::QueueSettings {
            open: s.open,
            message: s.message.clone(),
        }
    }
}

impl From<v1::QueueSettings> for QueueSettings {
    fn from(s: v1::QueueSettings) -> Self {
        QueueSettings {
            open: s.open,
            message: s.message,
        }
    }
}

impl From<&StoredResponse> for v1::StoredResponse {
    fn from(r: &StoredResponse) -> Self {
        v1::StoredResponse {
            user: r.user.0,
            key: r.key.clone(),
            route: r.route.clone(),
            status: r.status,
            body: r.body.clone(),
            created: r.created,
        }
    }
}

impl From<v1::StoredResponse> for StoredResponse {
    fn from(r: v1::StoredResponse) -> Self {
        StoredResponse {
            user: UserId(r.user),
            key: r.key,
            route: r.route,
            status: r.status,
            body: r.body,
            created: r.created,
        }
    }
}

impl From<&MentorProfile> for v1::MentorProfile {
    fn from(p: &MentorProfile) -> Self {
        v1::MentorProfile {
            user: p.user.0,
            name: p.name.clone(),
            about_me: p.about_me.clone(),
            skills: p.skills.clone(),
            team_number: p.team_number,
        }
    }
}

/// A profile from before version 4 staffs every queue and is available.
impl TryFrom<v1::MentorProfile> for MentorProfile {
    type Error = String;
    fn try_from(p: v1::MentorProfile) -> Checked<Self> {
        v4::MentorProfile {
            base: p,
            queues: None,
            away: false,
        }
        .try_into()
    }
}

impl From<&MentorProfile> for v4::MentorProfile {
    fn from(p: &MentorProfile) -> Self {
        v4::MentorProfile {
            base: p.into(),
            queues: p.queues.as_ref().map(|q| q.iter().map(|id| id.0).collect()),
            away: p.away,
        }
    }
}

impl TryFrom<v4::MentorProfile> for MentorProfile {
    type Error = String;
    fn try_from(p: v4::MentorProfile) -> Checked<Self> {
        let base = p.base;
        Ok(MentorProfile {
            user: UserId(base.user),
            name: base.name,
            about_me: base.about_me,
            skills: base.skills,
            team_number: base.team_number,
            queues: p.queues.map(|q| q.into_iter().map(QueueId).collect()),
            away: p.away,
        })
    }
}

impl From<ChunkStatus> for v1::ChunkStatus {
    fn from(s: ChunkStatus) -> Self {
        match s {
            ChunkStatus::Open => v1::ChunkStatus::Open,
            ChunkStatus::Requested => v1::ChunkStatus::Requested,
            ChunkStatus::Booked => v1::ChunkStatus::Booked,
        }
    }
}

impl From<v1::ChunkStatus> for ChunkStatus {
    fn from(s: v1::ChunkStatus) -> Self {
        match s {
            v1::ChunkStatus::Open => ChunkStatus::Open,
            v1::ChunkStatus::Requested => ChunkStatus::Requested,
            v1::ChunkStatus::Booked => ChunkStatus::Booked,
        }
    }
}

impl From<&Chunk> for v1::Chunk {
    fn from(c: &Chunk) -> Self {
        v1::Chunk {
            id: c.id.0,
            mentor: c.mentor.0,
            mentor_name: c.mentor_name.clone(),
            start: c.start,
            end: c.end,
            status: c.status.into(),
        }
    }
}

impl TryFrom<v1::Chunk> for Chunk {
    type Error = String;
    fn try_from(c: v1::Chunk) -> Checked<Self> {
        Ok(Chunk {
            id: ChunkId(c.id),
            mentor: UserId(c.mentor),
            mentor_name: c.mentor_name,
            start: c.start,
            end: c.end,
            status: c.status.into(),
        })
    }
}

impl From<SessionStatus> for v1::SessionStatus {
    fn from(s: SessionStatus) -> Self {
        match s {
            SessionStatus::Pending => v1::SessionStatus::Pending,
            SessionStatus::Confirmed => v1::SessionStatus::Confirmed,
            SessionStatus::Completed => v1::SessionStatus::Completed,
            SessionStatus::Expired => v1::SessionStatus::Expired,
            SessionStatus::Cancelled => v1::SessionStatus::Cancelled,
        }
    }
}

impl From<v1::SessionStatus> for SessionStatus {
    fn from(s: v1::SessionStatus) -> Self {
        match s {
            v1::SessionStatus::Pending => SessionStatus::Pending,
            v1::SessionStatus::Confirmed => SessionStatus::Confirmed,
            v1::SessionStatus::Completed => SessionStatus::Completed,
            v1::SessionStatus::Expired => SessionStatus::Expired,
            v1::SessionStatus::Cancelled => SessionStatus::Cancelled,
        }
    }
}

impl From<&Session> for v1::Session {
    fn from(s: &Session) -> Self {
        v1::Session {
            id: s.id.0,
            mentor: s.mentor.0,
            mentor_name: s.mentor_name.clone(),
            mentee: s.mentee.0,
            mentee_name: s.mentee_name.clone(),
            chunks: s.chunks.iter().map(|c| c.0).collect(),
            start: s.start,
            end: s.end,
            length: s.length.minutes() as u8,
            status: s.status.into(),
            topic: s.topic.clone(),
            meeting_url: s.meeting_url.clone(),
            cancel_reason: s.cancel_reason.clone(),
            reminders_sent: s.reminders_sent.iter().map(|(u, m)| (u.0, *m)).collect(),
        }
    }
}

impl TryFrom<v1::Session> for Session {
    type Error = String;
    fn try_from(s: v1::Session) -> Checked<Self> {
        Ok(Session {
            id: SessionId(s.id),
            mentor: UserId(s.mentor),
            mentor_name: s.mentor_name,
            mentee: UserId(s.mentee),
            mentee_name: s.mentee_name,
            chunks: s.chunks.into_iter().map(ChunkId).collect(),
            start: s.start,
            end: s.end,
            length: SessionLength::parse(i64::from(s.length))
                .ok_or_else(|| format!("session length {} is not 30 or 60", s.length))?,
            status: s.status.into(),
            topic: s.topic,
            meeting_url: s.meeting_url,
            cancel_reason: s.cancel_reason,
            reminders_sent: s
                .reminders_sent
                .into_iter()
                .map(|(u, m)| (UserId(u), m))
                .collect(),
        })
    }
}

impl From<&(UserId, NotificationSettings)> for v1::NotificationSettings {
    fn from((user, s): &(UserId, NotificationSettings)) -> Self {
        v1::NotificationSettings {
            user: user.0,
            session_requested: s.session_requested,
            session_confirmed: s.session_confirmed,
            session_cancelled: s.session_cancelled,
            fifteen_minute_alert: s.fifteen_minute_alert,
            sixty_minute_alert: s.sixty_minute_alert,
        }
    }
}

/// Before version 4 there were no e-mails: both new switches read as on (their default).
impl TryFrom<v1::NotificationSettings> for (UserId, NotificationSettings) {
    type Error = String;
    fn try_from(s: v1::NotificationSettings) -> Checked<Self> {
        v4::NotificationSettings {
            base: s,
            ticket_claimed: true,
            email: true,
        }
        .try_into()
    }
}

impl From<&(UserId, NotificationSettings)> for v4::NotificationSettings {
    fn from(s: &(UserId, NotificationSettings)) -> Self {
        v4::NotificationSettings {
            base: s.into(),
            ticket_claimed: s.1.ticket_claimed,
            email: s.1.email,
        }
    }
}

impl TryFrom<v4::NotificationSettings> for (UserId, NotificationSettings) {
    type Error = String;
    fn try_from(s: v4::NotificationSettings) -> Checked<Self> {
        let b = s.base;
        Ok((
            UserId(b.user),
            NotificationSettings {
                session_requested: b.session_requested,
                session_confirmed: b.session_confirmed,
                session_cancelled: b.session_cancelled,
                fifteen_minute_alert: b.fifteen_minute_alert,
                sixty_minute_alert: b.sixty_minute_alert,
                ticket_claimed: s.ticket_claimed,
                email: s.email,
            },
        ))
    }
}

impl From<&EventBody> for v4::EventBody {
    fn from(body: &EventBody) -> Self {
        match body {
            EventBody::TicketCreated(v) => v4::EventBody::TicketCreated(v.into()),
            EventBody::TicketUpdated(v) => v4::EventBody::TicketUpdated(v.into()),
            EventBody::QueueCreated(q) => v4::EventBody::QueueCreated(q.into()),
            EventBody::QueueUpdated(q) => v4::EventBody::QueueUpdated(q.into()),
            EventBody::AnnouncementPosted(a) => v4::EventBody::AnnouncementPosted(a.into()),
            EventBody::FeedbackCreated(f) => v4::EventBody::FeedbackCreated(f.into()),
            EventBody::FeedbackUpdated(f) => v4::EventBody::FeedbackUpdated(f.into()),
            EventBody::AvailabilityUpdated { chunks, deleted } => v4::EventBody::AvailabilityUpdated {
                chunks: chunks.iter().map(Into::into).collect(),
                deleted: deleted.iter().map(|c| c.0).collect(),
            },
            EventBody::SessionUpdated(s) => v4::EventBody::SessionUpdated(s.into()),
            EventBody::SessionReminder {
                session,
                to,
                minutes_before,
            } => v4::EventBody::SessionReminder {
                session: session.into(),
                to: to.0,
                minutes_before: *minutes_before,
            },
        }
    }
}

impl From<&Event> for v4::Event {
    fn from(e: &Event) -> Self {
        v4::Event {
            seq: e.seq,
            at: e.at,
            by: e.by.map(|u| u.0),
            body: (&e.body).into(),
        }
    }
}

/// A first-release event is upgraded to version 2 (its tickets neither anonymous nor
/// away), then read as one.
impl TryFrom<v1::Event> for Event {
    type Error = String;
    fn try_from(e: v1::Event) -> Checked<Self> {
        let view = |v: v1::TicketView| v2::TicketView {
            ticket: v2::Ticket {
                base: v.ticket,
                anonymous: false,
                active: true,
            },
            position: v.position,
            estimated_wait_seconds: v.estimated_wait_seconds,
        };
        let body = match e.body {
            v1::EventBody::TicketCreated(v) => v2::EventBody::TicketCreated(view(v)),
            v1::EventBody::TicketUpdated(v) => v2::EventBody::TicketUpdated(view(v)),
            v1::EventBody::QueueUpdated(s) => v2::EventBody::QueueUpdated(s),
            v1::EventBody::AnnouncementPosted(a) => v2::EventBody::AnnouncementPosted(a),
            v1::EventBody::FeedbackCreated(f) => v2::EventBody::FeedbackCreated(f),
            v1::EventBody::AvailabilityUpdated { chunks, deleted } => {
                v2::EventBody::AvailabilityUpdated { chunks, deleted }
            }
            v1::EventBody::SessionUpdated(s) => v2::EventBody::SessionUpdated(s),
            v1::EventBody::SessionReminder {
                session,
                to,
                minutes_before,
            } => v2::EventBody::SessionReminder {
                session,
                to,
                minutes_before,
            },
        };
        v2::Event {
            seq: e.seq,
            at: e.at,
            body,
        }
        .try_into()
    }
}

/// Before version 4 there was one queue: its tickets are in queue 1, and a change of
/// its settings is a change of queue 1.
impl From<v2::EventBody> for v4::EventBody {
    fn from(body: v2::EventBody) -> Self {
        match body {
            v2::EventBody::TicketCreated(v) => v4::EventBody::TicketCreated(view_v2_to_v4(v)),
            v2::EventBody::TicketUpdated(v) => v4::EventBody::TicketUpdated(view_v2_to_v4(v)),
            v2::EventBody::QueueUpdated(s) => {
                v4::EventBody::QueueUpdated((&Queue::first(QueueSettings::from(s))).into())
            }
            v2::EventBody::AnnouncementPosted(a) => v4::EventBody::AnnouncementPosted(a),
            v2::EventBody::FeedbackCreated(f) => v4::EventBody::FeedbackCreated(f),
            v2::EventBody::FeedbackUpdated(f) => v4::EventBody::FeedbackUpdated(f),
            v2::EventBody::AvailabilityUpdated { chunks, deleted } => {
                v4::EventBody::AvailabilityUpdated { chunks, deleted }
            }
            v2::EventBody::SessionUpdated(s) => v4::EventBody::SessionUpdated(s),
            v2::EventBody::SessionReminder {
                session,
                to,
                minutes_before,
            } => v4::EventBody::SessionReminder {
                session,
                to,
                minutes_before,
            },
        }
    }
}

impl TryFrom<v4::EventBody> for EventBody {
    type Error = String;
    fn try_from(body: v4::EventBody) -> Checked<Self> {
        Ok(match body {
            v4::EventBody::TicketCreated(v) => EventBody::TicketCreated(v.try_into()?),
            v4::EventBody::TicketUpdated(v) => EventBody::TicketUpdated(v.try_into()?),
            v4::EventBody::QueueCreated(q) => EventBody::QueueCreated(q.try_into()?),
            v4::EventBody::QueueUpdated(q) => EventBody::QueueUpdated(q.try_into()?),
            v4::EventBody::AnnouncementPosted(a) => EventBody::AnnouncementPosted(a.try_into()?),
            v4::EventBody::FeedbackCreated(f) => EventBody::FeedbackCreated(f.try_into()?),
            v4::EventBody::FeedbackUpdated(f) => EventBody::FeedbackUpdated(f.try_into()?),
            v4::EventBody::AvailabilityUpdated { chunks, deleted } => EventBody::AvailabilityUpdated {
                chunks: chunks
                    .into_iter()
                    .map(TryInto::try_into)
                    .collect::<Checked<_>>()?,
                deleted: deleted.into_iter().map(ChunkId).collect(),
            },
            v4::EventBody::SessionUpdated(s) => EventBody::SessionUpdated(s.try_into()?),
            v4::EventBody::SessionReminder {
                session,
                to,
                minutes_before,
            } => EventBody::SessionReminder {
                session: session.try_into()?,
                to: UserId(to),
                minutes_before,
            },
        })
    }
}

/// Before version 3 nobody was recorded as the cause.
impl TryFrom<v2::Event> for Event {
    type Error = String;
    fn try_from(e: v2::Event) -> Checked<Self> {
        v3::Event {
            seq: e.seq,
            at: e.at,
            by: None,
            body: e.body,
        }
        .try_into()
    }
}

impl TryFrom<v3::Event> for Event {
    type Error = String;
    fn try_from(e: v3::Event) -> Checked<Self> {
        v4::Event {
            seq: e.seq,
            at: e.at,
            by: e.by,
            body: e.body.into(),
        }
        .try_into()
    }
}

impl TryFrom<v4::Event> for Event {
    type Error = String;
    fn try_from(e: v4::Event) -> Checked<Self> {
        Ok(Event {
            seq: e.seq,
            at: e.at,
            by: e.by.map(UserId),
            body: e.body.try_into()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_round_trip_behind_their_version_byte() {
        let bytes = MetaValue::encode(&7u64);
        assert_eq!(bytes[0], current::COUNTER);
        assert_eq!(<u64 as MetaValue>::decode(&bytes).unwrap(), 7);
    }

    fn ticket(anonymous: bool, active: bool) -> Ticket {
        let owner = crate::domain::ticket::test_person(1, &[]);
        let mut t = crate::domain::ticket::NewTicket::parse(Some("t"), Some("l"), None, None, None)
            .unwrap()
            .anonymous_if(Some(anonymous), None)
            .into_ticket(TicketId(7), &owner, chrono::Utc::now());
        t.active = active;
        t
    }

    #[test]
    fn tickets_are_written_as_version_4_and_older_versions_still_read() {
        let mut t = ticket(true, false);
        t.queue = QueueId(3);
        t.tags = vec!["Rust".into()];
        let bytes = Record::encode(&t);
        assert_eq!(bytes[0], 4);
        assert_eq!(Ticket::decode(&bytes).unwrap(), t);
        // Version 2's bytes: in queue 1, without tags.
        let v2 = encode_as(2, &v2::Ticket::from(&t));
        let read = Ticket::decode(&v2).unwrap();
        assert_eq!(
            (read.queue, read.tags.len(), read.anonymous),
            (FIRST_QUEUE, 0, true)
        );
        // The first release's bytes: neither anonymous nor away.
        let old = encode_as(1, &v1::Ticket::from(&t));
        let read = Ticket::decode(&old).unwrap();
        assert!(!read.anonymous && read.active);
        assert_eq!(read.title, t.title);
    }

    #[test]
    fn events_carry_version_2_tickets_and_feedback_corrections() {
        let view = TicketView {
            ticket: ticket(true, true),
            position: Some(1),
            estimated_wait_seconds: None,
            matching_mentors: Some(2),
        };
        let feedback = Feedback {
            ticket: TicketId(7),
            owner: UserId(1),
            rating: Rating::parse(4).unwrap(),
            comments: "ok".into(),
            mentor: UserId(3),
            mentor_email: "m@x.org".into(),
            mentor_name: "M".into(),
            created: chrono::Utc::now(),
        };
        for body in [
            EventBody::TicketUpdated(view),
            EventBody::FeedbackUpdated(feedback),
        ] {
            let event = Event {
                seq: 9,
                at: chrono::Utc::now(),
                by: Some(UserId(4)),
                body,
            };
            let bytes = Record::encode(&event);
            assert_eq!(bytes[0], current::EVENT);
            assert_eq!(Event::decode(&bytes).unwrap(), event);
        }
    }

    #[test]
    fn an_old_queue_settings_event_reads_as_queue_1_and_old_profiles_staff_everything() {
        let old = v3::Event {
            seq: 5,
            at: chrono::Utc::now(),
            by: Some(2),
            body: v2::EventBody::QueueUpdated(v1::QueueSettings {
                open: false,
                message: "lunch".into(),
            }),
        };
        let read = Event::decode(&encode_as(3, &old)).unwrap();
        let EventBody::QueueUpdated(q) = read.body else {
            panic!("still a queue change");
        };
        assert_eq!(
            (q.id, q.name.as_str(), q.open, q.message.as_str()),
            (FIRST_QUEUE, "Help", false, "lunch")
        );
        let profile = v1::MentorProfile {
            user: 7,
            name: "Grace".into(),
            about_me: String::new(),
            skills: vec!["Rust".into()],
            team_number: None,
        };
        let read = MentorProfile::decode(&encode_as(1, &profile)).unwrap();
        assert_eq!((read.queues.clone(), read.away), (None, false));
        let mut staffed = read.clone();
        staffed.queues = Some([QueueId(2)].into());
        staffed.away = true;
        assert_eq!(MentorProfile::decode(&Record::encode(&staffed)).unwrap(), staffed);
    }

    #[test]
    fn a_version_newer_than_this_release_is_an_error_naming_the_tree() {
        let settings = QueueSettings::default();
        let mut bytes = MetaValue::encode(&settings);
        bytes[0] = 9;
        let err = <QueueSettings as MetaValue>::decode(&bytes).unwrap_err();
        assert!(err.to_string().contains("version 9"), "{err}");
        assert!(err.to_string().contains("meta"), "{err}");
    }

    #[test]
    fn a_record_breaking_a_domain_rule_is_refused_not_trusted() {
        let mut record = v1::Feedback::from(&Feedback {
            ticket: TicketId(1),
            owner: UserId(2),
            rating: Rating::parse(4).unwrap(),
            comments: String::new(),
            mentor: UserId(3),
            mentor_email: String::new(),
            mentor_name: String::new(),
            created: chrono::Utc::now(),
        });
        record.rating = 9;
        let bytes = encode_as(1, &record);
        let err = Feedback::decode(&bytes).unwrap_err();
        assert!(err.to_string().contains("rating 9"), "{err}");
    }
}
