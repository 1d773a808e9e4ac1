//! The calendar feed: `/api/calendar/*` (the caller's private URL) and the feed itself,
//! `GET /calendar/<token>.ics`, which a calendar app fetches without a bearer token.

use crate::actors::session::CalendarOf;
use crate::actors::users::{CalendarGeneration, RotateCalendar};
use crate::actors::Settled;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::Caller;
use crate::api::AppState;
use crate::domain::calendar::feed;
use crate::domain::UserId;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use sha2::Digest;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarJson {
    /// `<base>/calendar/<token>.ics`: private; anyone holding it reads the feed.
    pub url: String,
}

fn url(state: &AppState, req: &HttpRequest, user: UserId, generation: u64) -> CalendarJson {
    CalendarJson {
        url: format!(
            "{}/calendar/{}.ics",
            state.base_url(req),
            state.keys.calendar_token(user, generation)
        ),
    }
}

#[utoipa::path(get, path = "/api/calendar", tag = "scheduling",
    responses((status = 200, body = CalendarJson), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let generation = state
        .users
        .send(Settled(CalendarGeneration(caller.id())))
        .await???;
    Ok(HttpResponse::Ok().json(url(&state, &req, caller.id(), generation)))
}

#[utoipa::path(post, path = "/api/calendar/rotate", tag = "scheduling",
    responses((status = 200, body = CalendarJson), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn rotate(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let generation = state.users.send(RotateCalendar(caller.id())).await??;
    Ok(HttpResponse::Ok().json(url(&state, &req, caller.id(), generation)))
}

#[utoipa::path(get, path = "/calendar/{file}", tag = "scheduling",
    params(("file" = String, Path, description = "`<token>.ics`, from `GET /api/calendar/`")),
    responses((status = 200, description = "RFC 5545 text/calendar", content_type = "text/calendar", body = String),
              (status = 304, description = "unchanged since the ETag sent in If-None-Match"),
              (status = 404, body = ErrorBody)))]
pub async fn feed_file(
    state: web::Data<AppState>,
    req: HttpRequest,
    file: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let token = file.strip_suffix(".ics").ok_or(ApiError::NotFound)?;
    let user = token
        .split_once('-')
        .and_then(|(id, _)| id.parse::<u64>().ok())
        .map(UserId)
        .ok_or(ApiError::NotFound)?;
    let generation = state.users.send(Settled(CalendarGeneration(user))).await???;
    if !crate::auth::same_secret(token, &state.keys.calendar_token(user, generation)) {
        return Err(ApiError::NotFound);
    }
    let (sessions, settings) = state.sessions.send(Settled(CalendarOf(user))).await??;
    let now = state.clock.now();
    let host = crate::api::host_of(&state.stamp.base);
    // DTSTAMP is the day's start, so an unchanged feed keeps its bytes and its ETag.
    let day = now.date_naive().and_hms_opt(0, 0, 0).expect("midnight").and_utc();
    let body = feed(user, sessions.iter(), settings, &host, now, day);
    let digest = sha2::Sha256::digest(body.as_bytes());
    let etag = format!(
        "\"{}\"",
        digest
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let unchanged = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    if unchanged {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish());
    }
    Ok(HttpResponse::Ok()
        .content_type("text/calendar; charset=utf-8")
        .insert_header((header::ETAG, etag))
        .body(body))
}
