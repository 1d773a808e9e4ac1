//! The JSON shapes of API.md, built from domain types. Only `http` knows them.

use crate::domain::user::{DeviceSession, User};
use crate::domain::Timestamp;
use chrono::SecondsFormat;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// RFC 3339 in UTC with `Z`, to the second.
pub fn ts(t: &Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    pub id: u64,
    pub email: String,
    pub name: String,
    /// Always includes `hacker`.
    pub roles: Vec<String>,
    pub slack_id: Option<String>,
    pub phone: Option<String>,
    pub created: String,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        UserView {
            id: u.id.0,
            email: u.email.clone(),
            name: u.name.clone(),
            roles: u.roles.names().into_iter().map(String::from).collect(),
            slack_id: u.slack_id.clone(),
            phone: u.phone.clone(),
            created: ts(&u.created),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPair {
    pub access: String,
    pub refresh: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access: String,
    pub refresh: String,
    pub user: UserView,
    pub is_mentor: bool,
    pub is_organizer: bool,
    pub is_director: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceSessionView {
    pub id: u64,
    pub device: String,
    pub created: String,
    pub last_used: String,
    /// Whether this is the session of the token making the request.
    pub current: bool,
}

impl DeviceSessionView {
    pub fn new(s: &DeviceSession, current: crate::domain::SessionId) -> Self {
        DeviceSessionView {
            id: s.id.0,
            device: s.device.clone(),
            created: ts(&s.created),
            last_used: ts(&s.last_used),
            current: s.id == current,
        }
    }
}
