//! Request throttles: the per-user write rate limit and the sign-in throttles.
//!
//! Their counters are ephemeral transport state (like a connection's buffers), not
//! domain state: they are not persisted and are not owned by an actor.

use crate::domain::{Timestamp, UserId};
use actix_web::http::Method;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;

/// Fixed one-minute windows, one per key, each admitting `per_minute` hits.
struct Windows<K> {
    per_minute: u32,
    windows: Mutex<HashMap<K, (Timestamp, u32)>>,
}

impl<K: Hash + Eq> Windows<K> {
    fn new(per_minute: u32) -> Self {
        Windows {
            per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one hit for `key`; `Err(seconds)` to wait when over the limit.
    fn hit(&self, key: K, now: Timestamp) -> Result<(), u64> {
        let minute = chrono::Duration::minutes(1);
        let mut windows = self.windows.lock().expect("rate limiter lock");
        if windows.len() > 100_000 {
            windows.retain(|_, (start, _)| now - *start < minute);
        }
        let (start, count) = windows.entry(key).or_insert((now, 0));
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

/// The per-user write rate limit.
pub struct RateLimiter(Windows<UserId>);

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        RateLimiter(Windows::new(per_minute))
    }

    /// Counts one write by `user`; `Err(seconds)` to wait when over the limit.
    pub fn check(&self, user: UserId, now: Timestamp) -> Result<(), u64> {
        self.0.hit(user, now)
    }
}

/// Throttles for the routes a stranger can call: sign-in, registration and refresh.
///
/// Each email may be tried `per_email` times a minute *from one address*: a guesser is
/// slowed to that rate, while the account's owner, elsewhere, is never locked out by
/// them, and every window ends within a minute of the guessing. Each address may make
/// `per_address` attempts a minute in all, high enough for a venue behind one NAT.
pub struct SignInThrottle {
    by_email: Windows<(String, IpAddr)>,
    by_address: Windows<IpAddr>,
}

impl SignInThrottle {
    pub fn new(per_email: u32, per_address: u32) -> Self {
        SignInThrottle {
            by_email: Windows::new(per_email),
            by_address: Windows::new(per_address),
        }
    }

    /// Counts an attempt from `address`, for `email` when the route names one.
    pub fn check(&self, address: IpAddr, email: Option<&str>, now: Timestamp) -> Result<(), u64> {
        self.by_address.hit(address, now)?;
        match email {
            Some(email) => self.by_email.hit((email.to_string(), address), now),
            None => Ok(()),
        }
    }
}

pub fn is_write(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PATCH | Method::PUT | Method::DELETE
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(seconds: i64) -> Timestamp {
        chrono::Utc.timestamp_opt(1_800_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn an_email_is_throttled_per_address_and_the_window_ends() {
        let throttle = SignInThrottle::new(3, 100);
        let (guesser, owner): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for _ in 0..3 {
            throttle.check(guesser, Some("ada@example.org"), at(0)).unwrap();
        }
        assert_eq!(throttle.check(guesser, Some("ada@example.org"), at(20)), Err(40));
        // The owner, from another address, is not locked out by the guesser.
        throttle.check(owner, Some("ada@example.org"), at(20)).unwrap();
        // Nor is another email from the guesser's address.
        throttle.check(guesser, Some("bob@example.org"), at(20)).unwrap();
        // The window ends a minute after it began.
        throttle.check(guesser, Some("ada@example.org"), at(60)).unwrap();
    }

    #[test]
    fn an_address_is_throttled_across_emails_and_refreshes() {
        let throttle = SignInThrottle::new(100, 5);
        let address: IpAddr = "::1".parse().unwrap();
        for i in 0..4 {
            throttle
                .check(address, Some(&format!("u{i}@example.org")), at(0))
                .unwrap();
        }
        throttle.check(address, None, at(1)).unwrap();
        assert!(throttle.check(address, None, at(2)).is_err());
        assert!(throttle.check(address, Some("new@example.org"), at(2)).is_err());
    }
}
