//! Identity: passwords, tokens and the LCS identity service. Pure helpers and
//! clients; the accounts themselves are owned by `actors::users::UserActor`.

pub mod jwt;
pub mod lcs;
pub mod password;
pub mod secret;

pub use jwt::{AccessClaims, TokenKeys};

/// Whether two secrets are equal, in time that depends only on their lengths (a MAC, a
/// scrape token): an early exit would tell a guesser how much of a guess is right.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
