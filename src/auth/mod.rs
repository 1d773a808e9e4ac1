//! Identity: passwords, tokens and the LCS identity service. Pure helpers and
//! clients; the accounts themselves are owned by `actors::users::UserActor`.

pub mod jwt;
pub mod lcs;
pub mod password;
pub mod secret;

pub use jwt::{AccessClaims, TokenKeys};
