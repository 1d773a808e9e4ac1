//! Idempotent POSTs (the per-user write rate limit is in `api::rate_limit`, since the
//! `Caller` extractor applies it).

use crate::actors::idempotency::{Abandon, Begin, Begun, Finish};
use crate::api::error::ApiError;
use crate::api::AppState;
use crate::domain::idempotency::{is_final, StoredResponse, MAX_KEY_CHARS};
use crate::domain::UserId;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header::HeaderValue, Method};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};

/// Middleware: a POST carrying `Idempotency-Key` from an authenticated user returns
/// the first answer to that key again instead of acting twice.
pub async fn idempotency(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let key = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned);
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let (Some(key), Some(state), true) = (key, state, req.method() == Method::POST) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    // Whose key it is: the token's subject. A bad token is left to the handler to refuse.
    let user = crate::api::extract::bearer(req.request())
        .and_then(|t| state.keys.verify_access(t, state.clock.now()))
        .and_then(|claims| claims.sub.parse().ok())
        .map(UserId);
    let Some(user) = user else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    if key.chars().count() > MAX_KEY_CHARS {
        let error = ApiError::validation("Idempotency-Key", "must be at most 255 characters");
        return Ok(req.error_response(error).map_into_boxed_body());
    }
    let route = format!("{} {}", req.method(), req.path());
    let begun = state
        .idempotency
        .send(Begin {
            user,
            key: key.clone(),
            route: route.clone(),
        })
        .await
        .map_err(ApiError::from)?;
    match begun {
        Begun::Replay { status, body } => {
            let status = actix_web::http::StatusCode::from_u16(status)
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            let response = HttpResponse::build(status)
                .content_type("application/json")
                .insert_header(("idempotent-replayed", HeaderValue::from_static("true")))
                .body(body);
            Ok(req.into_response(response).map_into_boxed_body())
        }
        Begun::InFlight => Err(ApiError::Conflict(
            "request_in_progress",
            "A request with this Idempotency-Key is still being processed.".into(),
        )
        .into()),
        Begun::OtherRoute => Err(ApiError::Conflict(
            "idempotency_key_reused",
            "This Idempotency-Key was already used for another request.".into(),
        )
        .into()),
        Begun::Proceed => {
            let response = next.call(req).await;
            let response = match response {
                Ok(r) => r,
                Err(e) => {
                    state.idempotency.do_send(Abandon { user, key });
                    return Err(e);
                }
            };
            let status = response.status().as_u16();
            let (req, res) = response.into_parts();
            let (head, body) = res.into_parts();
            let bytes = actix_web::body::to_bytes(body)
                .await
                .map_err(|e| ApiError::Internal(format!("reading a response body: {}", e.into())))?;
            if is_final(status) {
                let answer = StoredResponse {
                    user,
                    key,
                    route,
                    status,
                    body: bytes.to_vec(),
                    created: state.clock.now(),
                };
                state
                    .idempotency
                    .send(Finish(answer))
                    .await
                    .map_err(ApiError::from)?
                    .map_err(ApiError::from)?;
            } else {
                state.idempotency.do_send(Abandon { user, key });
            }
            Ok(ServiceResponse::new(req, head.set_body(bytes)).map_into_boxed_body())
        }
    }
}
