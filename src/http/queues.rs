//! `/api/queues/*` (many queues), `/api/presence/` and `/api/mentors/online/`: the
//! desks and the mentors' capacity (API.md "Many queues, topics and mentor capacity").

use super::tickets::query_bool;
use crate::actors::queue::{ChangeQueue, CreateQueue, GetQueue, ListQueues, MentorsOnline};
use crate::actors::session::SetPresence;
use crate::actors::users::ListUsers;
use crate::actors::Settled;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::{Body, Caller};
use crate::api::views::QueueJson;
use crate::api::AppState;
use crate::domain::capacity::parse_presence;
use crate::domain::queue::QueueFields;
use crate::domain::user::Role;
use crate::domain::validate::FieldErrors;
use crate::domain::QueueId;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, IntoParams)]
pub struct QueuesQuery {
    /// `true` (managers) lists archived queues too; ignored from anyone else.
    pub archived: Option<String>,
}

#[utoipa::path(get, path = "/api/queues", tag = "queues", params(QueuesQuery),
    responses((status = 200, body = Vec<QueueJson>), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<QueuesQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = FieldErrors::new();
    let archived = query_bool("archived", query.archived.as_deref(), &mut errors);
    errors.into_result(())?;
    let archived = archived && caller.user.roles.is_manager();
    let queues = state.queue.send(Settled(ListQueues { archived })).await??;
    Ok(HttpResponse::Ok().json(queues.iter().map(QueueJson::from).collect::<Vec<_>>()))
}

#[utoipa::path(get, path = "/api/queues/{id}", tag = "queues",
    params(("id" = u64, Path, description = "queue id")),
    responses((status = 200, body = QueueJson), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    _caller: Caller,
    id: web::Path<u64>,
) -> Result<HttpResponse, ApiError> {
    let queue = state
        .queue
        .send(Settled(GetQueue(QueueId(id.into_inner()))))
        .await???;
    Ok(HttpResponse::Ok().json(QueueJson::from(&queue)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct QueueBody {
    /// 1–100 characters, unique case-insensitively; required on creation.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: Option<String>,
    /// At most 1000 characters.
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    /// At most 30 tags of 1–50 characters, unique case-insensitively.
    #[schema(max_items = 30)]
    pub tags: Option<Vec<String>>,
    /// Default true.
    pub open: Option<bool>,
    /// 0–86400, default 0.
    #[schema(minimum = 0, maximum = 86400)]
    pub cooldown_seconds: Option<i64>,
    /// At most 1000 characters (changes only).
    #[schema(max_length = 1000)]
    pub message: Option<String>,
    /// Archived queues take no tickets; queue 1 cannot be archived (changes only).
    pub archived: Option<bool>,
}

impl QueueBody {
    fn fields(self) -> QueueFields {
        QueueFields {
            name: self.name,
            description: self.description,
            tags: self.tags,
            open: self.open,
            cooldown_seconds: self.cooldown_seconds,
            message: self.message,
            archived: self.archived,
        }
    }
}

#[utoipa::path(post, path = "/api/queues", tag = "queues", request_body = QueueBody,
    responses((status = 201, body = QueueJson), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "name_taken")),
    security(("bearer" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    Body(body): Body<QueueBody>,
) -> Result<HttpResponse, ApiError> {
    if !caller.user.roles.is_manager() {
        return Err(ApiError::forbidden(
            "Only organizers and directors may create queues.",
        ));
    }
    let fields = body.fields();
    let queue = state
        .queue
        .send(CreateQueue {
            by: caller.person(),
            fields,
        })
        .await??;
    Ok(HttpResponse::Created().json(QueueJson::from(&queue)))
}

#[utoipa::path(patch, path = "/api/queues/{id}", tag = "queues", request_body = QueueBody,
    params(("id" = u64, Path, description = "queue id")),
    responses((status = 200, body = QueueJson), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "name_taken, or archiving queue 1")),
    security(("bearer" = [])))]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<u64>,
    Body(body): Body<QueueBody>,
) -> Result<HttpResponse, ApiError> {
    let queue = state
        .queue
        .send(ChangeQueue {
            by: caller.person(),
            id: QueueId(id.into_inner()),
            fields: body.fields(),
        })
        .await??;
    Ok(HttpResponse::Ok().json(QueueJson::from(&queue)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PresenceBody {
    /// `available` or `away`.
    #[schema(value_type = String, required = true, pattern = "^(available|away)$")]
    pub status: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PresenceJson {
    /// `available` or `away`.
    pub status: &'static str,
}

#[utoipa::path(put, path = "/api/presence", tag = "queues", request_body = PresenceBody,
    responses((status = 200, body = PresenceJson), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_presence(
    state: web::Data<AppState>,
    caller: Caller,
    Body(body): Body<PresenceBody>,
) -> Result<HttpResponse, ApiError> {
    let away = match body.status.as_deref() {
        None => return Err(ApiError::validation("status", "is required")),
        Some(s) => {
            parse_presence(s).ok_or_else(|| ApiError::validation("status", "must be available or away"))?
        }
    };
    let profile = state
        .sessions
        .send(SetPresence {
            by: caller.person(),
            away,
        })
        .await??;
    Ok(HttpResponse::Ok().json(PresenceJson {
        status: if profile.away { "away" } else { "available" },
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MentorOnlineJson {
    /// The mentor's user id.
    pub id: u64,
    pub name: String,
    /// `offline`, `in_session`, `away` or `available`: the first that holds.
    pub status: &'static str,
    /// The queues they staff; null for every queue.
    pub queues: Option<Vec<u64>>,
    /// The ids of their CLAIMED tickets.
    pub claimed: Vec<u64>,
}

#[utoipa::path(get, path = "/api/mentors/online", tag = "queues",
    responses((status = 200, body = Vec<MentorOnlineJson>), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn mentors_online(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    if !caller.user.roles.is_staff() {
        return Err(ApiError::forbidden(
            "Only mentors, organizers and directors see who is helping whom.",
        ));
    }
    let mentors = state
        .users
        .send(Settled(ListUsers {
            role: Some(Role::Mentor),
        }))
        .await??;
    let activity = state
        .queue
        .send(Settled(MentorsOnline {
            mentors: mentors.iter().map(|u| u.id).collect(),
        }))
        .await??;
    let rows: Vec<MentorOnlineJson> = mentors
        .iter()
        .zip(activity)
        .map(|(user, a)| MentorOnlineJson {
            id: user.id.0,
            name: user.name.clone(),
            status: a.status.as_str(),
            queues: a.queues.map(|q| q.iter().map(|id| id.0).collect()),
            claimed: a.claimed.iter().map(|t| t.0).collect(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(rows))
}
