//! `GET /api/export/{kind}.{format}`: one kind of record, whole, for managers (users for
//! directors), streamed a page at a time (see `api::export`).

use crate::api::error::{ApiError, ErrorBody};
use crate::api::export::{event_row, pages, Format, Kind};
use crate::api::extract::Caller;
use crate::api::AppState;
use crate::domain::user::{may_oversee, Oversight};
use crate::domain::validate::FieldErrors;
use crate::domain::UserId;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

#[utoipa::path(get, path = "/api/export/{file}", tag = "operations",
    params(("file" = String, Path,
            description = "`{kind}.{format}`: kind tickets, feedback, sessions, availability, events or users (directors); format csv or jsonl")),
    responses((status = 200, description = "every record of the kind, oldest first",
               content(("text/csv"), ("application/jsonl"))),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn export(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    file: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (kind, format) = file
        .rsplit_once('.')
        .and_then(|(kind, format)| Some((Kind::parse(kind)?, Format::parse(format)?)))
        .ok_or(ApiError::NotFound)?;
    may_oversee(caller.user.roles, kind.oversight()).map_err(ApiError::forbidden)?;
    // What the export reads is what has been acknowledged.
    state.store.settled().await?;
    let pages = pages(&state.store, kind, format, state.base_url(&req))
        .map(|page| page.map_err(|e| actix_web::error::ErrorInternalServerError(e.to_string())));
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}\"", file.as_str()),
        ))
        .streaming(futures_util::stream::iter(pages)))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AuditQuery {
    /// Only what this user (an id) caused.
    pub user: Option<String>,
    /// Only events of this kind (`ticket.updated`, …).
    pub kind: Option<String>,
    /// Only events before this `seq` (to page back).
    pub before: Option<String>,
    /// 1–500, default 100.
    pub limit: Option<String>,
}

#[utoipa::path(get, path = "/api/audit", tag = "operations", params(AuditQuery),
    responses((status = 200, description = "`[{seq, at, kind, by, data}]`, newest first; `by` null for changes made by time",
               body = Vec<serde_json::Value>),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn audit(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    may_oversee(caller.user.roles, Oversight::Audit).map_err(ApiError::forbidden)?;
    let mut errors = FieldErrors::new();
    let mut number = |field: &str, raw: Option<&str>, min: u64, max: u64| -> Option<u64> {
        let raw = raw.map(str::trim).filter(|r| !r.is_empty())?;
        match raw.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                errors.add(field, format!("must be a whole number from {min} to {max}"));
                None
            }
        }
    };
    let user = number("user", query.user.as_deref(), 1, u64::MAX).map(UserId);
    let before = number("before", query.before.as_deref(), 1, u64::MAX);
    let limit = number("limit", query.limit.as_deref(), 1, 500).unwrap_or(100) as usize;
    errors.into_result(())?;
    let kind = query.kind.as_deref().map(str::trim).filter(|k| !k.is_empty());
    state.store.settled().await?;
    let base = state.base_url(&req);
    let mut rows = Vec::new();
    for event in state.store.newest_first(before) {
        let event = event?;
        if user.is_some_and(|u| event.by != Some(u)) || kind.is_some_and(|k| event.body.kind() != k) {
            continue;
        }
        rows.push(event_row(&event, &base));
        if rows.len() == limit {
            break;
        }
    }
    Ok(HttpResponse::Ok().json(rows))
}

#[utoipa::path(get, path = "/api/admin/backup", tag = "operations",
    responses((status = 200, description = "the whole store as of one point in commit order (`mentorq restore` reads it); `X-Mentorq-Seq` names it",
               content_type = "application/octet-stream"),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn backup(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    may_oversee(caller.user.roles, Oversight::Backup).map_err(ApiError::forbidden)?;
    let snapshot = state.store.snapshot()?;
    let seq = snapshot.seq();
    let pieces = snapshot.into_pieces().map(Ok::<_, actix_web::Error>);
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header(("X-Mentorq-Seq", seq.to_string()))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"mentorq-{seq}.backup\""),
        ))
        .streaming(futures_util::stream::iter(pieces)))
}
