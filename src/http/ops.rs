//! Operations routes: liveness, readiness and the OpenAPI document.

use crate::actors::users::GetUser;
use crate::api::error::ApiError;
use crate::api::AppState;
use crate::domain::UserId;
use actix_web::{web, HttpResponse};

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

/// This REST contract as OpenAPI 3, generated from the handlers' annotations.
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(super::openapi_document())
}
