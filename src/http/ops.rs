//! Operations routes: liveness, readiness, metrics and the OpenAPI document.

use crate::actors::queue::{CountTickets, ListQueues};
use crate::actors::users::GetUser;
use crate::actors::Settled;
use crate::api::error::ApiError;
use crate::api::AppState;
use crate::domain::UserId;
use crate::telemetry;
use actix_web::{web, HttpRequest, HttpResponse};

/// The process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// The store accepts writes and every actor answers.
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let actors_answer = state.users.send(GetUser(UserId(0))).await.is_ok()
        && state.queue.send(crate::actors::queue::Ping).await.is_ok()
        && state.sessions.send(crate::actors::session::Ping).await.is_ok();
    if state.store.is_poisoned() || !actors_answer {
        return Ok(HttpResponse::ServiceUnavailable().json(ApiError::Internal(String::new()).body()));
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ready"})))
}

/// Prometheus text (version 0.0.4): every metric of `telemetry`, with the ticket and
/// mentor gauges read from the queue now. With `[metrics] token`, only for its bearer.
pub async fn metrics(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    if let Some(token) = &state.config.metrics.token {
        let given = crate::api::extract::bearer(&req).unwrap_or("");
        let same = crate::auth::same_secret(given, token);
        if !same {
            return Err(ApiError::NotAuthenticated);
        }
    }
    let counts = state.queue.send(Settled(CountTickets)).await??;
    let queues = state.queue.send(ListQueues { archived: true }).await?;
    for (queue, status, count) in counts {
        let queue = queue.to_string();
        metrics::gauge!(telemetry::TICKETS, "queue" => queue, "status" => status.as_str()).set(count as f64);
    }
    for q in queues {
        metrics::gauge!(telemetry::MENTORS_ONLINE, "queue" => q.queue.id.to_string())
            .set(q.mentors_online as f64);
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(telemetry::render()))
}

/// This REST contract as OpenAPI 3, generated from the handlers' annotations.
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(super::openapi_document())
}
