//! The per-user write rate limit.
//!
//! Its counters are ephemeral transport state (like a connection's buffers), not domain
//! state: they are not persisted and are not owned by an actor.

use crate::domain::{Timestamp, UserId};
use actix_web::http::Method;
use std::collections::HashMap;
use std::sync::Mutex;

/// A fixed one-minute window per user.
pub struct RateLimiter {
    per_minute: u32,
    windows: Mutex<HashMap<UserId, (Timestamp, u32)>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        RateLimiter {
            per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one write by `user`; `Err(seconds)` to wait when over the limit.
    pub fn check(&self, user: UserId, now: Timestamp) -> Result<(), u64> {
        let minute = chrono::Duration::minutes(1);
        let mut windows = self.windows.lock().expect("rate limiter lock");
        if windows.len() > 100_000 {
            windows.retain(|_, (start, _)| now - *start < minute);
        }
        let (start, count) = windows.entry(user).or_insert((now, 0));
        if now - *start >= minute {
            *start = now;
            *count = 0;
        }
        if *count >= self.per_minute {
            let wait = (*start + minute - now).num_milliseconds().max(0) as u64;
            return Err(wait.div_ceil(1000).max(1));
        }
        *count += 1;
        Ok(())
    }
}

pub fn is_write(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PATCH | Method::PUT | Method::DELETE
    )
}
