//! Request extractors that speak the error contract: `Body<T>` (JSON with
//! `invalid_json` / `validation_failed`), `Caller` (the authenticated user).

use crate::actors::users::Authenticate;
use crate::actors::Settled;
use crate::api::error::ApiError;
use crate::api::AppState;
use crate::domain::ticket::Person;
use crate::domain::user::User;
use crate::domain::validate::FieldErrors;
use crate::domain::{DeviceSessionId, UserId};
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use std::net::IpAddr;

/// A JSON request body. Not said to be JSON (`Content-Type`) → 415
/// `unsupported_media_type`; not JSON at all → `invalid_json`; JSON of the wrong shape
/// (not an object, a field of the wrong type) → `validation_failed` naming the field.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Body<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let declared = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        if !declared.is_some_and(is_json_media_type) {
            return Box::pin(async { Err(ApiError::UnsupportedMediaType) });
        }
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let bytes = bytes.await.map_err(|e| {
                if e.as_response_error().status_code() == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge
                } else {
                    ApiError::InvalidJson("it could not be read whole".into())
                }
            })?;
            parse_json(&bytes).map(Body)
        })
    }
}

/// `application/json` or any `…/…+json` type, with or without parameters
/// (`application/json; charset=utf-8`, `application/merge-patch+json`).
pub fn is_json_media_type(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match essence.split_once('/') {
        Some(("application", "json")) => true,
        Some((kind, subtype)) => !kind.is_empty() && subtype.ends_with("+json"),
        None => false,
    }
}

/// Parses a body in two steps so that "not JSON" and "wrong JSON" are told apart.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::InvalidJson(format!(
            "it stops making sense at line {}, column {}",
            e.line(),
            e.column()
        ))
    })?;
    if !value.is_object() {
        return Err(ApiError::validation("body", "must be a JSON object"));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        // A missing field is reported at the object's level; name the field itself.
        let field = match message.split('`').nth(1) {
            Some(name) if message.starts_with("missing field") => name.to_string(),
            _ if path == "." => "body".to_string(),
            _ => path,
        };
        ApiError::Validation(FieldErrors::from((
            field.as_str(),
            for_a_person(&message).as_str(),
        )))
    })
}

/// A deserializer's complaint about a value ("invalid type: floating point `4.5`,
/// expected i64") said as the contract says it ("must be a whole number"): the
/// client's author reads it, and may show it to a person.
pub fn for_a_person(message: &str) -> String {
    let expected = message.rsplit_once("expected ").map_or("", |(_, e)| e.trim());
    let unsigned = matches!(expected, "u8" | "u16" | "u32" | "u64" | "usize");
    let whole = unsigned || matches!(expected, "i8" | "i16" | "i32" | "i64" | "isize" | "an integer");
    if message.starts_with("missing field") {
        "is required".into()
    } else if message.starts_with("unknown variant") {
        let choices: Vec<&str> = expected
            .trim_start_matches("one of ")
            .split(", ")
            .map(|c| c.trim_matches('`'))
            .collect();
        format!("must be one of {}", choices.join(", "))
    } else if whole && message.starts_with("invalid value: integer") {
        if unsigned && message.contains("`-") {
            "must be a whole number, 0 or more".into()
        } else {
            "is out of range".into()
        }
    } else if whole {
        "must be a whole number".into()
    } else if matches!(expected, "f32" | "f64" | "a number") {
        "must be a number".into()
    } else if expected == "a boolean" {
        "must be true or false".into()
    } else if expected.contains("string") || expected == "a character" {
        "must be text".into()
    } else if expected.contains("sequence") {
        "must be a list".into()
    } else if expected.contains("map") || expected.starts_with("struct") {
        "must be an object".into()
    } else {
        "is not valid here".into()
    }
}

/// The authenticated caller: a valid access token whose device session is live, and
/// the user as stored right now (so roles are current).
pub struct Caller {
    pub user: User,
    pub session: DeviceSessionId,
}

impl Caller {
    pub fn id(&self) -> UserId {
        self.user.id
    }

    /// The caller as the domain's rules see them.
    pub fn person(&self) -> Person {
        Person {
            id: self.user.id,
            email: self.user.email.clone(),
            name: self.user.name.clone(),
            roles: self.user.roles,
        }
    }
}

/// The bearer token of a request, if any.
pub fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let counted = crate::api::rate_limit::is_write(req.method());
        extract_caller(req, counted)
    }
}

/// The caller of a revocation (logout, deleting a device session): authenticated like
/// [`Caller`] but never counted against the write rate limit, so that someone holding
/// a stolen token cannot spend the victim's quota and keep them from revoking it.
pub struct Revoker(pub Caller);

impl FromRequest for Revoker {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let caller = extract_caller(req, false);
        Box::pin(async move { caller.await.map(Revoker) })
    }
}

/// Authenticates the request's bearer token; with `counted`, the request is one of
/// the caller's writes for the rate limit.
fn extract_caller(req: &HttpRequest, counted: bool) -> LocalBoxFuture<'static, Result<Caller, ApiError>> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let token = bearer(req).map(str::to_owned);
    Box::pin(async move {
        let state = state.ok_or_else(|| ApiError::Internal("no app state".into()))?;
        let token = token.ok_or(ApiError::NotAuthenticated)?;
        let caller = authenticate(&state, &token).await?;
        if caller.user.roles.has(crate::domain::user::Role::Mentor) {
            // A sign of life that keeps the mentor's claims (API.md "Stale claims").
            state
                .queue
                .do_send(crate::actors::capacity::SignOfLife(caller.id()));
        }
        if counted {
            state
                .rate_limiter
                .check(caller.id(), state.clock.now())
                .map_err(ApiError::RateLimited)?;
        }
        Ok(caller)
    })
}

/// The address a request came from: the peer, or, when the peer is one of
/// `http.trusted_proxies`, the last `X-Forwarded-For` entry that is not a trusted
/// proxy (entries further left were written by the client and prove nothing).
pub fn client_address(req: &HttpRequest, trusted: &[IpAddr]) -> IpAddr {
    let peer = req
        .peer_addr()
        .map_or(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED), |a| a.ip());
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    forwarded
        .into_iter()
        .rev()
        .find(|a| !trusted.contains(a))
        .unwrap_or(peer)
}

/// Checks an access token fully: signature, expiry, device session, current roles.
pub async fn authenticate(state: &AppState, token: &str) -> Result<Caller, ApiError> {
    let claims = state
        .keys
        .verify_access(token, state.clock.now())
        .ok_or(ApiError::TokenNotValid)?;
    let user = UserId(claims.sub.parse().map_err(|_| ApiError::TokenNotValid)?);
    let session = DeviceSessionId(claims.sid);
    let user = state
        .users
        .send(Settled(Authenticate { user, session }))
        .await???;
    // The request's span (see `http::trace`) names who made it.
    tracing::Span::current().record("user", user.id.0);
    Ok(Caller { user, session })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_plus_json_media_types_are_json_and_nothing_else_is() {
        for yes in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/merge-patch+json",
        ] {
            assert!(is_json_media_type(yes), "{yes}");
        }
        for no in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "json",
            "",
        ] {
            assert!(!is_json_media_type(no), "{no}");
        }
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Shape {
        count: Option<i64>,
        size: Option<u32>,
        ratio: Option<f64>,
        on: Option<bool>,
        name: Option<String>,
        items: Option<Vec<String>>,
        needed: i64,
    }

    fn message_for(body: &str) -> (String, String) {
        match parse_json::<Shape>(body.as_bytes()) {
            Err(ApiError::Validation(errors)) => {
                let (field, messages) = errors.0.into_iter().next().unwrap();
                (field, messages.join(" "))
            }
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn wrong_types_are_told_in_words_not_in_type_names() {
        for (body, field, said) in [
            (
                r#"{"needed": 1, "count": 4.5}"#,
                "count",
                "must be a whole number",
            ),
            (
                r#"{"needed": 1, "count": "4"}"#,
                "count",
                "must be a whole number",
            ),
            (
                r#"{"needed": 1, "size": -1}"#,
                "size",
                "must be a whole number, 0 or more",
            ),
            (r#"{"needed": 1, "size": 99999999999}"#, "size", "is out of range"),
            (r#"{"needed": 1, "ratio": "x"}"#, "ratio", "must be a number"),
            (r#"{"needed": 1, "on": "yes"}"#, "on", "must be true or false"),
            (r#"{"needed": 1, "name": 7}"#, "name", "must be text"),
            (r#"{"needed": 1, "items": "a"}"#, "items", "must be a list"),
            (r#"{}"#, "needed", "is required"),
        ] {
            assert_eq!(message_for(body), (field.to_string(), said.to_string()), "{body}");
        }
    }

    #[test]
    fn text_that_is_not_json_names_where_it_broke() {
        let Err(error) = parse_json::<Shape>(b"{\"needed\": ") else {
            panic!("parsed")
        };
        assert_eq!(error.code(), "invalid_json");
        assert!(error.to_string().ends_with("line 1, column 11."), "{error}");
    }
}
