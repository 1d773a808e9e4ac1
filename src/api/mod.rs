//! What both transports share: the JSON views of domain objects, the error type with
//! its status and stable `code`, the request extractors (`Body<T>`, the authenticated
//! `Caller`), the write rate limit and the state every request can reach.
//!
//! Architecture Invariant: `http` and `ws` both build on this module and never on each
//! other, so the REST facade and the WebSocket speak the same JSON and authenticate the
//! same way without a dependency cycle (`tests/architecture.rs` checks it).

pub mod error;
pub mod export;
pub mod extract;
pub mod rate_limit;
pub mod views;

use crate::actors::idempotency::IdempotencyActor;
use crate::actors::queue::QueueActor;
use crate::actors::session::SessionActor;
use crate::actors::users::UserActor;
use crate::auth::lcs::LcsClient;
use crate::auth::TokenKeys;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::store::Store;
use actix::Addr;
use std::sync::Arc;

/// What every handler can reach.
pub struct AppState {
    pub users: Addr<UserActor>,
    pub queue: Addr<QueueActor>,
    pub sessions: Addr<SessionActor>,
    pub idempotency: Addr<IdempotencyActor>,
    pub rate_limiter: rate_limit::RateLimiter,
    pub sign_in: rate_limit::SignInThrottle,
    pub hasher: crate::auth::password::Hasher,
    pub keys: Arc<TokenKeys>,
    pub clock: SharedClock,
    pub config: Arc<Config>,
    /// Present when `auth.provider = "lcs"`.
    pub lcs: Option<Arc<LcsClient>>,
    pub store: Store,
    /// What pushed frames are stamped with: the base of their absolute URLs and the
    /// store's epoch.
    pub stamp: Stamp,
}

/// What pushed WebSocket frames are stamped with: the base of their absolute URLs
/// (`http.public_url`, or the address the server listens on) and the epoch of the
/// store's event history.
#[derive(Clone, Debug)]
pub struct Stamp {
    pub base: Arc<str>,
    pub epoch: Arc<str>,
}

/// The host part of a URL base (`http://desk.example.org:8080` → `desk.example.org`):
/// what names this desk in calendar `UID`s and `Message-ID`s, the same in an e-mailed
/// invitation and in the feed.
pub fn host_of(base: &str) -> String {
    base.split("://")
        .nth(1)
        .and_then(|rest| rest.split([':', '/']).next())
        .filter(|h| !h.is_empty())
        .unwrap_or("mentorq")
        .to_string()
}

impl AppState {
    /// The base of absolute URLs in an answer to `req`: `http.public_url`, or the
    /// scheme and host the request came to.
    pub fn base_url(&self, req: &actix_web::HttpRequest) -> String {
        self.config.http.public_base().unwrap_or_else(|| {
            let info = req.connection_info();
            format!("{}://{}", info.scheme(), info.host())
        })
    }
}
