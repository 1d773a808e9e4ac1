//! Mentor scheduling: `/api/mentors/*`, `/api/availability/*`, `/api/sessions/*`,
//! `/api/notification-settings/`.

use super::tickets::query_bool;
use crate::actors::queue::QueueIds;
use crate::actors::session::{
    ChangeSession, ChangeSettings, DeleteAvailability, GetSettings, ListAvailability, ListSessions,
    PublishAvailability, PutProfile, RequestSession, SearchMentors, SessionError, When,
};
use crate::actors::users::ListUsers;
use crate::actors::Settled;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::{Body, Caller};
use crate::api::views::{ChunkJson, SessionJson};
use crate::api::AppState;
use crate::domain::schedule::SettingsChange;
use crate::domain::schedule::{
    Chunk, ChunkStatus, MentorProfile, NotificationSettings, SessionChange, SessionLength, TOPIC_MAX,
};
use crate::domain::user::Role;
use crate::domain::validate::FieldErrors;
use crate::domain::{ChunkId, QueueId, SessionId, Timestamp, UserId};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// How many open chunks a mentor search shows per mentor.
const NEXT_OPEN_SHOWN: usize = 5;

#[derive(Debug, Serialize, ToSchema)]
pub struct MentorJson {
    /// The mentor's user id.
    pub id: u64,
    pub name: String,
    pub about_me: String,
    pub skills: Vec<String>,
    pub team_number: Option<i64>,
    /// The queues they staff; null for every queue.
    pub queues: Option<Vec<u64>>,
    /// `available` or `away`, as they set it.
    pub presence: &'static str,
    /// Up to 5 upcoming OPEN chunks (only in searches).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_open: Option<Vec<ChunkJson>>,
}

impl MentorJson {
    fn new(p: &MentorProfile, next_open: Option<&[Chunk]>) -> Self {
        MentorJson {
            id: p.user.0,
            name: p.name.clone(),
            about_me: p.about_me.clone(),
            skills: p.skills.clone(),
            team_number: p.team_number,
            queues: p.queues.as_ref().map(|q| q.iter().map(|id| id.0).collect()),
            presence: if p.away { "away" } else { "available" },
            next_open: next_open.map(|c| c.iter().map(ChunkJson::from).collect()),
        }
    }
}

/// Parses an RFC 3339 time with any offset into UTC.
fn parse_time(
    field: &str,
    value: Option<&str>,
    errors: &mut FieldErrors,
    required: bool,
) -> Option<Timestamp> {
    match value {
        None if required => {
            errors.add(field, "is required");
            None
        }
        None => None,
        Some(raw) => chrono::DateTime::parse_from_rfc3339(raw.trim())
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(|_| errors.add(field, "must be an RFC 3339 time, e.g. 2026-11-22T14:30:00Z"))
            .ok(),
    }
}

fn parse_id(field: &str, value: Option<&str>, errors: &mut FieldErrors) -> Option<u64> {
    let raw = value?;
    raw.trim().parse::<u64>().ok().filter(|id| *id > 0).or_else(|| {
        errors.add(field, "must be a positive integer id");
        None
    })
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct MentorProfileBody {
    /// At most 2000 characters.
    #[schema(max_length = 2000)]
    pub about_me: Option<String>,
    /// At most 30 skills of at most 50 characters each.
    #[schema(max_items = 30)]
    pub skills: Option<Vec<String>>,
    /// A whole number, 0 or more.
    #[schema(minimum = 0)]
    pub team_number: Option<i64>,
    /// The ids of the queues staffed; absent or null for every queue, including ones
    /// created later.
    pub queues: Option<Vec<i64>>,
}

#[utoipa::path(put, path = "/api/mentors/me", tag = "scheduling", request_body = MentorProfileBody,
    responses((status = 200, body = MentorJson), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_profile(
    state: web::Data<AppState>,
    caller: Caller,
    Body(body): Body<MentorProfileBody>,
) -> Result<HttpResponse, ApiError> {
    let queues = match body.queues {
        None => None,
        Some(ids) => {
            let known = state.queue.send(QueueIds).await?;
            let mut errors = FieldErrors::new();
            let mut staffed = std::collections::BTreeSet::new();
            for id in ids {
                match u64::try_from(id).ok().map(QueueId).filter(|q| known.contains(q)) {
                    Some(q) => {
                        staffed.insert(q);
                    }
                    None => errors.add("queues", format!("there is no queue {id}")),
                }
            }
            errors.into_result(Some(staffed))?
        }
    };
    let profile = state
        .sessions
        .send(PutProfile {
            by: caller.person(),
            about_me: body.about_me,
            skills: body.skills,
            team_number: body.team_number,
            queues,
        })
        .await??;
    Ok(HttpResponse::Ok().json(MentorJson::new(&profile, None)))
}

#[utoipa::path(get, path = "/api/mentors/me", tag = "scheduling",
    responses((status = 200, body = MentorJson), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
/// The caller's own mentor profile (empty until they first save one), for the page's
/// profile form: `PUT` replaces every field, so a client edits what it read here.
pub async fn get_profile(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    if !crate::domain::schedule::may_mentor(caller.user.roles) {
        return Err(ApiError::PermissionDenied(
            "Only mentors have a mentor profile.".into(),
        ));
    }
    let found = state
        .sessions
        .send(Settled(SearchMentors {
            skills: Vec::new(),
            mentors: vec![caller.id()],
            open_chunks: 0,
        }))
        .await??;
    let profile = match found.into_iter().next() {
        Some((p, _)) => p,
        None => MentorProfile::parse(caller.id(), &caller.user.name, None, None, None)
            .expect("an empty profile is valid"),
    };
    Ok(HttpResponse::Ok().json(MentorJson::new(&profile, None)))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct MentorsQuery {
    /// Repeatable: mentors having all of these skills (case-insensitive).
    pub skill: Option<Vec<String>>,
}

#[utoipa::path(get, path = "/api/mentors", tag = "scheduling", params(MentorsQuery),
    responses((status = 200, body = Vec<MentorJson>), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn search_mentors(
    state: web::Data<AppState>,
    _caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let skills: Vec<String> = form_urlencoded::parse(req.query_string().as_bytes())
        .filter(|(k, v)| k == "skill" && !v.trim().is_empty())
        .map(|(_, v)| v.into_owned())
        .collect();
    let mentors = state
        .users
        .send(Settled(ListUsers {
            role: Some(Role::Mentor),
        }))
        .await??
        .into_iter()
        .map(|u| u.id)
        .collect();
    let found = state
        .sessions
        .send(Settled(SearchMentors {
            skills,
            mentors,
            open_chunks: NEXT_OPEN_SHOWN,
        }))
        .await??;
    let list: Vec<MentorJson> = found.iter().map(|(p, c)| MentorJson::new(p, Some(c))).collect();
    Ok(HttpResponse::Ok().json(list))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AvailabilityBody {
    /// On the :00/:30 grid, in the future.
    #[schema(value_type = String, format = DateTime, required = true)]
    pub start_time: Option<String>,
    /// After start_time, at most 14 days later; a remainder under 30 minutes is dropped.
    #[schema(value_type = String, format = DateTime, required = true)]
    pub end_time: Option<String>,
}

#[utoipa::path(post, path = "/api/availability", tag = "scheduling", request_body = AvailabilityBody,
    responses((status = 201, body = Vec<ChunkJson>), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn publish(
    state: web::Data<AppState>,
    caller: Caller,
    Body(body): Body<AvailabilityBody>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = FieldErrors::new();
    let start = parse_time("start_time", body.start_time.as_deref(), &mut errors, true);
    let end = parse_time("end_time", body.end_time.as_deref(), &mut errors, true);
    let (Some(start), Some(end)) = (start, end) else {
        return Err(errors.into());
    };
    let chunks = state
        .sessions
        .send(PublishAvailability {
            by: caller.person(),
            start,
            end,
        })
        .await??;
    Ok(HttpResponse::Created().json(chunks.iter().map(ChunkJson::from).collect::<Vec<_>>()))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AvailabilityQuery {
    /// Only this mentor's chunks (a user id).
    pub mentor: Option<String>,
    /// Keep chunks overlapping [from, to); without `from`, only chunks not yet ended.
    pub from: Option<String>,
    pub to: Option<String>,
    /// OPEN, REQUESTED or BOOKED.
    pub status: Option<String>,
}

#[utoipa::path(get, path = "/api/availability", tag = "scheduling", params(AvailabilityQuery),
    responses((status = 200, body = Vec<ChunkJson>), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_availability(
    state: web::Data<AppState>,
    _caller: Caller,
    query: web::Query<AvailabilityQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = FieldErrors::new();
    let mentor = parse_id("mentor", query.mentor.as_deref(), &mut errors).map(UserId);
    let from = parse_time("from", query.from.as_deref(), &mut errors, false);
    let to = parse_time("to", query.to.as_deref(), &mut errors, false);
    if let (Some(from), Some(to)) = (from, to) {
        if to <= from {
            errors.add("to", "must be after from");
        }
    }
    let status = query.status.as_deref().and_then(|s| {
        ChunkStatus::parse(s).or_else(|| {
            errors.add("status", "must be OPEN, REQUESTED or BOOKED");
            None
        })
    });
    errors.into_result(())?;
    let chunks = state
        .sessions
        .send(Settled(ListAvailability {
            mentor,
            from,
            to,
            status,
        }))
        .await??;
    Ok(HttpResponse::Ok().json(chunks.iter().map(ChunkJson::from).collect::<Vec<_>>()))
}

#[utoipa::path(delete, path = "/api/availability/{id}", tag = "scheduling",
    params(("id" = u64, Path, description = "chunk id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_availability(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<u64>,
) -> Result<HttpResponse, ApiError> {
    state
        .sessions
        .send(DeleteAvailability {
            by: caller.person(),
            id: ChunkId(id.into_inner()),
        })
        .await??;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SessionBody {
    /// The first chunk's id.
    #[schema(value_type = i64, required = true, minimum = 1)]
    pub availability: Option<i64>,
    /// 30 or 60.
    #[schema(value_type = i64, required = true, minimum = 30, maximum = 60, multiple_of = 30)]
    pub session_length: Option<i64>,
    /// At most 255 characters.
    #[schema(max_length = 255)]
    pub topic: Option<String>,
}

#[utoipa::path(post, path = "/api/sessions", tag = "scheduling", request_body = SessionBody,
    responses((status = 201, body = SessionJson), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 429, body = ErrorBody)), security(("bearer" = [])))]
pub async fn request_session(
    state: web::Data<AppState>,
    caller: Caller,
    Body(body): Body<SessionBody>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = FieldErrors::new();
    let chunk = match body.availability {
        Some(id) if id > 0 => Some(ChunkId(id as u64)),
        Some(_) => {
            errors.add("availability", "must be a positive chunk id");
            None
        }
        None => {
            errors.add("availability", "is required");
            None
        }
    };
    let length = match body.session_length {
        None => {
            errors.add("session_length", "is required");
            None
        }
        Some(m) => SessionLength::parse(m).or_else(|| {
            errors.add("session_length", "must be 30 or 60");
            None
        }),
    };
    let topic = errors.optional_text("topic", body.topic.as_deref(), TOPIC_MAX);
    let (Some(chunk), Some(length)) = (chunk, length) else {
        return Err(errors.into());
    };
    errors.into_result(())?;
    let session = state
        .sessions
        .send(RequestSession {
            by: caller.person(),
            chunk,
            length,
            topic,
        })
        .await??;
    Ok(HttpResponse::Created().json(SessionJson::from(&session)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SessionPatchBody {
    /// CONFIRMED (the mentor) or CANCELLED (either party).
    pub status: Option<String>,
    /// Why, when cancelling; at most 1000 characters.
    pub reason: Option<String>,
}

#[utoipa::path(patch, path = "/api/sessions/{id}", tag = "scheduling", request_body = SessionPatchBody,
    params(("id" = u64, Path, description = "session id")),
    responses((status = 200, body = SessionJson), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn change_session(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<u64>,
    Body(body): Body<SessionPatchBody>,
) -> Result<HttpResponse, ApiError> {
    let change =
        SessionChange::parse(body.status.as_deref(), body.reason.as_deref()).map_err(SessionError::from)?;
    let session = state
        .sessions
        .send(ChangeSession {
            by: caller.person(),
            id: SessionId(id.into_inner()),
            change,
        })
        .await??;
    Ok(HttpResponse::Ok().json(SessionJson::from(&session)))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct SessionsQuery {
    /// `upcoming` (default: not yet ended, ascending) or `past` (ended, descending).
    pub when: Option<String>,
    /// Managers: every session, not only their own.
    pub all: Option<String>,
}

#[utoipa::path(get, path = "/api/sessions", tag = "scheduling", params(SessionsQuery),
    responses((status = 200, body = Vec<SessionJson>), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_sessions(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<SessionsQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = FieldErrors::new();
    let when = match query.when.as_deref().map(str::trim) {
        None | Some("") | Some("upcoming") => When::Upcoming,
        Some("past") => When::Past,
        Some(_) => {
            errors.add("when", "must be upcoming or past");
            When::Upcoming
        }
    };
    let all = query_bool("all", query.all.as_deref(), &mut errors);
    errors.into_result(())?;
    let sessions = state
        .sessions
        .send(Settled(ListSessions {
            by: caller.person(),
            when,
            all,
        }))
        .await???;
    Ok(HttpResponse::Ok().json(sessions.iter().map(SessionJson::from).collect::<Vec<_>>()))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SettingsJson {
    pub session_requested: bool,
    pub session_confirmed: bool,
    pub session_cancelled: bool,
    pub fifteen_minute_alert: bool,
    pub sixty_minute_alert: bool,
    /// E-mail me when a mentor claims my ticket.
    pub ticket_claimed: bool,
    /// Whether anything is e-mailed to me at all.
    pub email: bool,
}

impl From<NotificationSettings> for SettingsJson {
    fn from(s: NotificationSettings) -> Self {
        SettingsJson {
            session_requested: s.session_requested,
            session_confirmed: s.session_confirmed,
            session_cancelled: s.session_cancelled,
            fifteen_minute_alert: s.fifteen_minute_alert,
            sixty_minute_alert: s.sixty_minute_alert,
            ticket_claimed: s.ticket_claimed,
            email: s.email,
        }
    }
}

#[utoipa::path(get, path = "/api/notification-settings", tag = "scheduling",
    responses((status = 200, body = SettingsJson), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_settings(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let settings = state.sessions.send(Settled(GetSettings(caller.id()))).await??;
    Ok(HttpResponse::Ok().json(SettingsJson::from(settings)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SettingsPatchBody {
    pub session_requested: Option<bool>,
    pub session_confirmed: Option<bool>,
    pub session_cancelled: Option<bool>,
    pub fifteen_minute_alert: Option<bool>,
    pub sixty_minute_alert: Option<bool>,
    pub ticket_claimed: Option<bool>,
    pub email: Option<bool>,
}

#[utoipa::path(patch, path = "/api/notification-settings", tag = "scheduling", request_body = SettingsPatchBody,
    responses((status = 200, body = SettingsJson), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody)), security(("bearer" = [])))]
pub async fn patch_settings(
    state: web::Data<AppState>,
    caller: Caller,
    Body(body): Body<SettingsPatchBody>,
) -> Result<HttpResponse, ApiError> {
    let change = SettingsChange {
        session_requested: body.session_requested,
        session_confirmed: body.session_confirmed,
        session_cancelled: body.session_cancelled,
        fifteen_minute_alert: body.fifteen_minute_alert,
        sixty_minute_alert: body.sixty_minute_alert,
        ticket_claimed: body.ticket_claimed,
        email: body.email,
    };
    let saved = state
        .sessions
        .send(ChangeSettings {
            user: caller.id(),
            change,
        })
        .await??;
    Ok(HttpResponse::Ok().json(SettingsJson::from(saved)))
}
