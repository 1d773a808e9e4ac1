//! Password hashing with argon2 (the crate's recommended parameters, 19 MiB per hash).
//!
//! Every hash and check goes through a [`Hasher`]: at most one computation per core
//! runs at a time, and a request that cannot start within the queue timeout is told
//! to come back later instead of piling up memory. With `n` permits the memory argon2
//! holds is at most `n × 19 MiB`, whatever the login load.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// The hasher was saturated for the whole queue timeout.
#[derive(Debug, thiserror::Error)]
#[error("the password hasher is busy")]
pub struct Busy;

/// A bounded pool for argon2: `permits` computations at once, waiting at most `wait`.
#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    wait: Duration,
}

impl Hasher {
    pub fn new(permits: usize, wait: Duration) -> Self {
        Hasher {
            permits: Arc::new(Semaphore::new(permits.max(1))),
            wait,
        }
    }

    /// One permit per core (as the OS reports them).
    pub fn per_core(wait: Duration) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Hasher::new(cores, wait)
    }

    pub async fn hash(&self, password: String) -> Result<String, Busy> {
        self.run(move || hash(&password)).await
    }

    pub async fn verify(&self, password: String, phc: String) -> Result<bool, Busy> {
        self.run(move || verify(&password, &phc)).await
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, Busy> {
        let permit = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| Busy)?
            .expect("the hasher's semaphore is never closed");
        let handle = tokio::task::spawn_blocking(move || {
            let result = work();
            drop(permit);
            result
        });
        Ok(handle.await.expect("argon2 does not panic"))
    }
}

pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters accepts any password")
        .to_string()
}

pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash to verify against when the account does not exist, so that a login for an
/// unknown email takes as long as one with a wrong password.
pub fn decoy() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash("decoy password that matches nothing"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_only_its_password() {
        let h = hash("correct horse");
        assert!(h.starts_with("$argon2"));
        assert!(verify("correct horse", &h));
        assert!(!verify("wrong horse", &h));
        assert!(!verify("x", "not a hash"));
    }

    #[actix_web::test]
    async fn a_saturated_hasher_answers_busy_instead_of_queueing_forever() {
        let hasher = Hasher::new(1, Duration::from_millis(50));
        let held = hasher.permits.clone().acquire_owned().await.unwrap();
        assert!(hasher.hash("a long password".into()).await.is_err());
        drop(held);
        let h = hasher.hash("a long password".into()).await.unwrap();
        assert!(hasher.verify("a long password".into(), h).await.unwrap());
    }

    #[actix_web::test]
    async fn no_more_than_the_permits_run_at_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let hasher = Hasher::new(2, Duration::from_secs(30));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let jobs = (0..8).map(|_| {
            let (running, peak) = (running.clone(), peak.clone());
            hasher.run(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(20));
                running.fetch_sub(1, Ordering::SeqCst);
            })
        });
        for done in futures_util::future::join_all(jobs).await {
            done.unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
    }
}
