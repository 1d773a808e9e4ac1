//! The HackRU-style LCS identity service: checks `{email, lcs_token}` over HTTP and
//! maps the user document's `role` flags to our roles.
//!
//! Two flavours exist in the wild (see API.md): `legacy` answers HTTP 200 with
//! `{"statusCode", "body"}` inside; `current` answers with the document and real
//! status codes.

use crate::config::{LcsConfig, LcsFlavor};
use crate::domain::user::{normalize_email, Role, Roles};
use serde_json::{json, Value};
use std::time::Duration;

/// Who the identity service says the caller is.
#[derive(Clone, Debug, PartialEq)]
pub struct Identity {
    pub email: String,
    pub name: String,
    pub roles: Roles,
    /// The user document's `slack_id` and phone (`phone_number`, or `phone`), where
    /// it has them.
    pub slack_id: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LcsError {
    #[error("the identity service refused the credentials")]
    Refused,
    #[error("the identity service is unavailable: {0}")]
    Unavailable(String),
}

pub struct LcsClient {
    http: reqwest::Client,
    url: String,
    flavor: LcsFlavor,
}

impl LcsClient {
    pub fn new(config: &LcsConfig) -> LcsClient {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.timeout_ms))
            .build()
            .expect("a client with only a timeout set builds");
        LcsClient {
            http,
            url: config.url.trim_end_matches('/').to_string(),
            flavor: config.flavor,
        }
    }

    /// Checks the token against the service and returns the identity it vouches for.
    pub async fn identify(&self, email: &str, token: &str) -> Result<Identity, LcsError> {
        let user = match self.flavor {
            LcsFlavor::Legacy => {
                let validated = self.legacy_call("validate", json!({ "token": token })).await?;
                if let Some(owner) = validated.get("email").and_then(Value::as_str) {
                    if !owner.eq_ignore_ascii_case(email) {
                        return Err(LcsError::Refused);
                    }
                }
                let read = self
                    .legacy_call("read", json!({ "token": token, "query": { "email": email } }))
                    .await?;
                read.as_array()
                    .and_then(|users| users.first().cloned())
                    .ok_or(LcsError::Refused)?
            }
            LcsFlavor::Current => {
                let body = json!({ "auth_email": email, "auth_token": token, "email": email });
                let response = self.post("read", &body).await?;
                let status = response.status();
                if matches!(status.as_u16(), 400 | 401 | 403 | 404) {
                    return Err(LcsError::Refused);
                }
                if !status.is_success() {
                    return Err(LcsError::Unavailable(format!("HTTP {status}")));
                }
                let doc: Value = response.json().await.map_err(unavailable)?;
                // Some deployments wrap the document as `{"body": …}`.
                unwrap_body(doc.get("body").cloned().unwrap_or(doc))
            }
        };
        identity_from(&user, email)
    }

    async fn post(&self, path: &str, body: &Value) -> Result<reqwest::Response, LcsError> {
        self.http
            .post(format!("{}/{path}", self.url))
            .json(body)
            .send()
            .await
            .map_err(unavailable)
    }

    /// A legacy call: HTTP 200 with `{"statusCode", "body"}`; returns the body.
    async fn legacy_call(&self, path: &str, body: Value) -> Result<Value, LcsError> {
        let response = self.post(path, &body).await?;
        if response.status().is_server_error() {
            return Err(LcsError::Unavailable(format!("HTTP {}", response.status())));
        }
        if !response.status().is_success() {
            return Err(LcsError::Refused);
        }
        let envelope: Value = response.json().await.map_err(unavailable)?;
        let code = envelope.get("statusCode").and_then(Value::as_u64).unwrap_or(0);
        match code {
            200 => Ok(unwrap_body(envelope.get("body").cloned().unwrap_or(Value::Null))),
            500.. => Err(LcsError::Unavailable(format!("statusCode {code}"))),
            _ => Err(LcsError::Refused),
        }
    }
}

fn unavailable(e: reqwest::Error) -> LcsError {
    LcsError::Unavailable(e.to_string())
}

/// Lambda-era services sometimes send the body as a JSON string.
fn unwrap_body(body: Value) -> Value {
    match body {
        Value::String(s) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
        other => other,
    }
}

/// Maps an LCS user document to an identity; the document must be for `email`.
fn identity_from(user: &Value, email: &str) -> Result<Identity, LcsError> {
    let doc_email = user
        .get("email")
        .and_then(Value::as_str)
        .and_then(normalize_email)
        .ok_or(LcsError::Refused)?;
    if Some(&doc_email) != normalize_email(email).as_ref() {
        return Err(LcsError::Refused);
    }
    let text = |k: &str| user.get(k).and_then(Value::as_str).unwrap_or("").trim();
    let name = match (text("name"), text("first_name"), text("last_name")) {
        (name, _, _) if !name.is_empty() => name.to_string(),
        ("", first, last) if !(first.is_empty() && last.is_empty()) => {
            format!("{first} {last}").trim().to_string()
        }
        _ => doc_email.clone(),
    };
    let flag = |k: &str| {
        user.get("role")
            .and_then(|r| r.get(k))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    let roles = [Role::Mentor, Role::Organizer, Role::Director]
        .into_iter()
        .filter(|r| flag(r.as_str()))
        .fold(Roles::default(), Roles::with);
    let given = |k: &str| Some(text(k)).filter(|v| !v.is_empty()).map(String::from);
    Ok(Identity {
        email: doc_email,
        name,
        roles,
        slack_id: given("slack_id"),
        phone: given("phone_number").or_else(|| given("phone")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_flags_map_to_roles_and_names_are_joined() {
        let doc = json!({"email": "Ada@X.org", "first_name": "Ada", "last_name": "L",
                         "role": {"hacker": true, "mentor": true, "director": false}});
        let id = identity_from(&doc, "ada@x.org").unwrap();
        assert_eq!(id.name, "Ada L");
        assert!(id.roles.has(Role::Mentor));
        assert!(!id.roles.has(Role::Director));
        assert_eq!((id.slack_id, id.phone), (None, None));
        let doc = json!({"email": "ada@x.org", "slack_id": "U1", "phone_number": "+1 555"});
        let contact = identity_from(&doc, "ada@x.org").unwrap();
        assert_eq!(
            (contact.slack_id.as_deref(), contact.phone.as_deref()),
            (Some("U1"), Some("+1 555"))
        );
    }

    #[test]
    fn a_document_for_someone_else_is_a_refusal() {
        let doc = json!({"email": "eve@x.org"});
        assert_eq!(identity_from(&doc, "ada@x.org"), Err(LcsError::Refused));
    }

    #[test]
    fn a_string_body_is_parsed() {
        assert_eq!(unwrap_body(json!("[1]")), json!([1]));
    }
}
