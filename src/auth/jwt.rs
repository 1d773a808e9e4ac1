//! Access tokens (HS256 JWTs) and refresh tokens.
//!
//! Expiry is checked against our own clock rather than jsonwebtoken's, so that time
//! stays a dependency the tests control.
//!
//! A refresh token is `mq2.<session>.<generation>.<mac>` where `mac` is an HMAC of the
//! store id, session and generation under a key derived from the signing secret.
//! Nothing secret is stored: the device session keeps only its current generation, and
//! a token of an older generation is recognisable (it carries a valid MAC) as a replay.
//!
//! Both kinds of token name the store that minted them (the access token as `iss`), so
//! two deployments given the same secret still refuse each other's tokens. `mq1`
//! tokens, from before the store id existed, are refused: their holders sign in again.

use crate::domain::user::{Role, User};
use crate::domain::{DeviceSessionId, Timestamp, UserId};
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user id, as a string.
    pub sub: String,
    pub email: String,
    pub name: String,
    pub mentor: bool,
    pub director: bool,
    pub organizer: bool,
    pub token_type: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// The device session; revoking it invalidates the token at once.
    pub sid: u64,
    /// The id of the store that issued the token.
    pub iss: String,
}

/// The keys and lifetimes for minting and checking tokens.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    refresh_key: Vec<u8>,
    issuer: String,
    pub access_ttl: chrono::Duration,
}

impl TokenKeys {
    /// `issuer` names the store the tokens belong to (its id).
    pub fn new(secret: &[u8], issuer: impl ToString, access_ttl_seconds: u64) -> TokenKeys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        let refresh_key = Sha256::new()
            .chain_update(b"mentorq refresh token v1")
            .chain_update(secret)
            .finalize()
            .to_vec();
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            refresh_key,
            issuer: issuer.to_string(),
            access_ttl: chrono::Duration::seconds(access_ttl_seconds as i64),
        }
    }

    /// The secret part of `user`'s calendar feed URL at `generation` (a rotation makes
    /// a new one): derived from the signing secret, so nothing secret is stored.
    pub fn calendar_token(&self, user: UserId, generation: u64) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.refresh_key).expect("any key length");
        mac.update(format!("mentorq calendar feed v1:{user}:{generation}").as_bytes());
        let tag = mac.finalize().into_bytes();
        let hex: String = tag.iter().take(20).map(|b| format!("{b:02x}")).collect();
        format!("{user}-{hex}")
    }

    pub fn issue_access(&self, user: &User, session: DeviceSessionId, now: Timestamp) -> String {
        let claims = AccessClaims {
            sub: user.id.to_string(),
            email: user.email.clone(),
            name: user.name.clone(),
            mentor: user.roles.has(Role::Mentor),
            director: user.roles.has(Role::Director),
            organizer: user.roles.has(Role::Organizer),
            token_type: "access".into(),
            iat: now.timestamp(),
            exp: (now + self.access_ttl).timestamp(),
            jti: uuid::Uuid::new_v4().simple().to_string(),
            sid: session.0,
            iss: self.issuer.clone(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 encoding of plain claims cannot fail")
    }

    /// The claims of a well-signed, unexpired access token.
    pub fn verify_access(&self, token: &str, now: Timestamp) -> Option<AccessClaims> {
        let data = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation).ok()?;
        let claims = data.claims;
        (claims.token_type == "access" && claims.iss == self.issuer && claims.exp > now.timestamp())
            .then_some(claims)
    }

    fn mac(&self, session: DeviceSessionId, generation: u64) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.refresh_key).expect("any key length");
        mac.update(self.issuer.as_bytes());
        mac.update(&session.0.to_be_bytes());
        mac.update(&generation.to_be_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    pub fn issue_refresh(&self, session: DeviceSessionId, generation: u64) -> String {
        format!(
            "mq2.{}.{}.{}",
            session.0,
            generation,
            self.mac(session, generation)
        )
    }

    /// The session and generation of a refresh token we minted; `None` if forged.
    pub fn verify_refresh(&self, token: &str) -> Option<(DeviceSessionId, u64)> {
        let mut parts = token.trim().split('.');
        let (Some("mq2"), Some(sid), Some(generation), Some(mac), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let session = DeviceSessionId(sid.parse().ok()?);
        let generation: u64 = generation.parse().ok()?;
        let expected = self.mac(session, generation);
        // Compare in constant time: the MAC is the secret part.
        super::same_secret(&expected, mac).then_some((session, generation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::user::Roles;
    use crate::domain::UserId;
    use chrono::{Duration, TimeZone, Utc};

    const STORE: &str = "0101";

    fn keys() -> TokenKeys {
        TokenKeys::new(&[7u8; 32], STORE, 900)
    }

    fn user() -> User {
        User {
            id: UserId(42),
            email: "ada@example.org".into(),
            name: "Ada".into(),
            password_hash: None,
            roles: Roles::from_iter([Role::Mentor]),
            slack_id: None,
            phone: None,
            created: now(),
        }
    }

    fn now() -> Timestamp {
        Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
    }

    #[test]
    fn an_access_token_carries_the_contract_claims() {
        let token = keys().issue_access(&user(), DeviceSessionId(3), now());
        let claims = keys().verify_access(&token, now()).unwrap();
        assert_eq!(claims.sub, "42");
        assert!(claims.mentor && !claims.director && !claims.organizer);
        assert_eq!(claims.token_type, "access");
        assert_eq!(claims.exp - claims.iat, 900);
        assert_eq!(claims.sid, 3);
    }

    #[test]
    fn an_expired_or_foreign_token_is_refused() {
        let token = keys().issue_access(&user(), DeviceSessionId(3), now());
        assert!(keys()
            .verify_access(&token, now() + Duration::seconds(900))
            .is_none());
        let other = TokenKeys::new(&[8u8; 32], STORE, 900);
        assert!(other.verify_access(&token, now()).is_none());
    }

    #[test]
    fn another_stores_tokens_are_refused_even_under_the_same_secret() {
        let other = TokenKeys::new(&[7u8; 32], "0202", 900);
        let access = keys().issue_access(&user(), DeviceSessionId(3), now());
        assert_eq!(
            keys().verify_access(&access, now()).unwrap().iss,
            STORE.to_string()
        );
        assert!(other.verify_access(&access, now()).is_none());
        let refresh = keys().issue_refresh(DeviceSessionId(1), 0);
        assert_ne!(refresh, other.issue_refresh(DeviceSessionId(1), 0));
        assert_eq!(other.verify_refresh(&refresh), None);
    }

    #[test]
    fn a_token_with_alg_none_is_refused() {
        use base64::Engine;
        let header =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let token = keys().issue_access(&user(), DeviceSessionId(3), now());
        let payload = token.split('.').nth(1).unwrap();
        let forged = format!("{header}.{payload}.");
        assert!(keys().verify_access(&forged, now()).is_none());
    }

    #[test]
    fn refresh_tokens_verify_and_reject_tampering() {
        let token = keys().issue_refresh(DeviceSessionId(5), 2);
        assert_eq!(keys().verify_refresh(&token), Some((DeviceSessionId(5), 2)));
        let tampered = token.replace("mq2.5.2", "mq2.5.3");
        assert_eq!(keys().verify_refresh(&tampered), None);
        let old_format = token.replace("mq2.", "mq1.");
        assert_eq!(keys().verify_refresh(&old_format), None);
        assert_eq!(keys().verify_refresh("garbage"), None);
    }
}
