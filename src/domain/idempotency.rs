//! Idempotent POSTs: the first answer to `(user, Idempotency-Key)` is kept and
//! returned again for a retry, instead of acting twice.

use super::{Timestamp, UserId};

/// How long an answer is kept. API.md promises at least 24 hours.
pub const RETENTION_HOURS: i64 = 25;
/// Longer keys are refused rather than stored.
pub const MAX_KEY_CHARS: usize = 255;

/// The first answer to an idempotent request.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredResponse {
    pub user: UserId,
    pub key: String,
    /// `METHOD /path`: a key reused for another route is an error, not a replay.
    pub route: String,
    pub status: u16,
    pub body: Vec<u8>,
    pub created: Timestamp,
}

impl StoredResponse {
    pub fn expired(&self, now: Timestamp) -> bool {
        now - self.created > chrono::Duration::hours(RETENTION_HOURS)
    }
}

/// Whether an answer with this status is worth keeping: a server error or a rate
/// limit is not the request's outcome, so a retry should run again.
pub fn is_final(status: u16) -> bool {
    status < 500 && status != 429
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};

    #[test]
    fn answers_are_kept_for_at_least_a_day() {
        let created = Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap();
        let r = StoredResponse {
            user: UserId(1),
            key: "k".into(),
            route: "POST /api/tickets".into(),
            status: 201,
            body: vec![],
            created,
        };
        assert!(!r.expired(created + Duration::hours(24)));
        assert!(r.expired(created + Duration::hours(26)));
    }

    #[test]
    fn server_errors_and_rate_limits_are_not_final() {
        assert!(is_final(201) && is_final(409) && is_final(400));
        assert!(!is_final(500) && !is_final(429) && !is_final(502));
    }
}
