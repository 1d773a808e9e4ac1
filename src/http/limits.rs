//! Idempotent POSTs (the per-user write rate limit is in `api::rate_limit`, since the
//! `Caller` extractor applies it).

use crate::actors::idempotency::{Abandon, Begin, Begun, Finish, IdempotencyActor};
use crate::api::error::ApiError;
use crate::api::AppState;
use crate::domain::idempotency::{is_final, StoredResponse, MAX_KEY_CHARS};
use crate::domain::UserId;
use actix::Addr;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header::HeaderValue, Method};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};

/// An idempotency key whose request is under way. Dropping it without
/// [`InFlight::finish`] abandons the key, so a request that fails, or whose future is
/// dropped, before its answer is kept never leaves the key "in progress".
struct InFlight {
    actor: Addr<IdempotencyActor>,
    key: Option<(UserId, String)>,
}

impl InFlight {
    fn new(actor: Addr<IdempotencyActor>, user: UserId, key: String) -> InFlight {
        InFlight {
            actor,
            key: Some((user, key)),
        }
    }

    /// The key, now on its way to `Finish` (which frees it itself).
    fn finish(mut self) -> (UserId, String) {
        self.key.take().expect("taken only here")
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some((user, key)) = self.key.take() {
            self.actor.do_send(Abandon { user, key });
        }
    }
}

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
            // From here on, however the request ends — an error, a dropped future —
            // the key is freed unless its answer is handed to `Finish`.
            let in_flight = InFlight::new(state.idempotency.clone(), user, key);
            let response = next.call(req).await?;
            let status = response.status().as_u16();
            let (req, res) = response.into_parts();
            let (head, body) = res.into_parts();
            let bytes = actix_web::body::to_bytes(body)
                .await
                .map_err(|e| ApiError::Internal(format!("reading a response body: {}", e.into())))?;
            if is_final(status) {
                let (user, key) = in_flight.finish();
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
            }
            Ok(ServiceResponse::new(req, head.set_body(bytes)).map_into_boxed_body())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use crate::store::Store;
    use actix::Actor;
    use std::future::Future;
    use std::sync::Arc;

    async fn begin(actor: &Addr<IdempotencyActor>) -> Begun {
        let begin = Begin {
            user: UserId(1),
            key: "k".into(),
            route: "POST /api/tickets".into(),
        };
        actor.send(begin).await.unwrap()
    }

    #[actix_web::test]
    async fn a_request_dropped_before_its_answer_is_kept_frees_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let actor = IdempotencyActor::load(store, Arc::new(SystemClock))
            .unwrap()
            .start();
        assert_eq!(begin(&actor).await, Begun::Proceed);
        // The request's future holds the guard and is dropped mid-way.
        let request = async {
            let _in_flight = InFlight::new(actor.clone(), UserId(1), "k".into());
            std::future::pending::<()>().await;
        };
        let mut request = Box::pin(request);
        let polled =
            futures_util::future::poll_fn(|cx| std::task::Poll::Ready(request.as_mut().poll(cx))).await;
        assert!(polled.is_pending());
        assert_eq!(begin(&actor).await, Begun::InFlight, "still under way");
        drop(request);
        assert_eq!(begin(&actor).await, Begun::Proceed, "the key is free again");
    }
}
