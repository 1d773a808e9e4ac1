//! `/api/queue/` (queue 1), `/api/announcements/` and `/api/feedback/*`.

use crate::actors::queue::{
    ChangeQueue, CorrectFeedback, GetFeedback, GetLeaderboard, GetQueue, GiveFeedback, ListAnnouncements,
    ListFeedback, PostAnnouncement,
};
use crate::actors::Settled;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::{Body, Caller};
use crate::api::views::{AnnouncementJson, FeedbackJson, QueueJson};
use crate::api::AppState;
use crate::domain::feedback::{FeedbackCorrection, NewFeedback};
use crate::domain::queue::{LeaderboardRow, QueueFields, ANNOUNCEMENT_MAX, FIRST_QUEUE, LEADERBOARD_MAX};
use crate::domain::validate::FieldErrors;
use crate::domain::TicketId;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[utoipa::path(get, path = "/api/queue", tag = "queue",
    responses((status = 200, body = QueueJson), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_queue(state: web::Data<AppState>, _caller: Caller) -> Result<HttpResponse, ApiError> {
    let summary = state.queue.send(Settled(GetQueue(FIRST_QUEUE))).await???;
    Ok(HttpResponse::Ok().json(QueueJson::from(&summary)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct QueuePatchBody {
    pub open: Option<bool>,
    /// At most 1000 characters.
    #[schema(max_length = 1000)]
    pub message: Option<String>,
}

#[utoipa::path(patch, path = "/api/queue", tag = "queue", request_body = QueuePatchBody,
    responses((status = 200, body = QueueJson), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn patch_queue(
    state: web::Data<AppState>,
    caller: Caller,
    Body(body): Body<QueuePatchBody>,
) -> Result<HttpResponse, ApiError> {
    let summary = state
        .queue
        .send(ChangeQueue {
            by: caller.person(),
            id: FIRST_QUEUE,
            fields: QueueFields {
                open: body.open,
                message: body.message,
                ..Default::default()
            },
        })
        .await??;
    Ok(HttpResponse::Ok().json(QueueJson::from(&summary)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AnnouncementBody {
    /// 1–1000 characters, not blank.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 1000, pattern = r"\S")]
    pub text: Option<String>,
}

#[utoipa::path(post, path = "/api/announcements", tag = "queue", request_body = AnnouncementBody,
    responses((status = 201, body = AnnouncementJson), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 429, body = ErrorBody)), security(("bearer" = [])))]
pub async fn post_announcement(
    state: web::Data<AppState>,
    caller: Caller,
    Body(body): Body<AnnouncementBody>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = FieldErrors::new();
    let text = errors.required_text("text", body.text.as_deref(), ANNOUNCEMENT_MAX);
    errors.into_result(())?;
    let announcement = state
        .queue
        .send(PostAnnouncement {
            by: caller.person(),
            text,
        })
        .await??;
    Ok(HttpResponse::Created().json(AnnouncementJson::from(&announcement)))
}

#[utoipa::path(get, path = "/api/announcements", tag = "queue",
    responses((status = 200, body = Vec<AnnouncementJson>), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_announcements(
    state: web::Data<AppState>,
    _caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let list = state.queue.send(Settled(ListAnnouncements)).await??;
    Ok(HttpResponse::Ok().json(list.iter().map(AnnouncementJson::from).collect::<Vec<_>>()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct FeedbackBody {
    /// The ticket's id.
    #[schema(value_type = i64, required = true, minimum = 1)]
    pub ticket: Option<i64>,
    /// An integer from 1 to 5.
    #[schema(value_type = i64, required = true, minimum = 1, maximum = 5)]
    pub rating: Option<i64>,
    /// At most 2000 characters.
    #[schema(max_length = 2000)]
    pub comments: Option<String>,
}

#[utoipa::path(post, path = "/api/feedback", tag = "feedback", request_body = FeedbackBody,
    responses((status = 201, body = FeedbackJson), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn give_feedback(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    Body(body): Body<FeedbackBody>,
) -> Result<HttpResponse, ApiError> {
    let new = NewFeedback::parse(body.ticket, body.rating, body.comments.as_deref())?;
    let feedback = state
        .queue
        .send(GiveFeedback {
            by: caller.person(),
            new,
        })
        .await??;
    Ok(HttpResponse::Created().json(FeedbackJson::new(&feedback, &state.base_url(&req))))
}

#[utoipa::path(get, path = "/api/feedback", tag = "feedback",
    responses((status = 200, body = Vec<FeedbackJson>), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_feedback(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let list = state
        .queue
        .send(Settled(ListFeedback { by: caller.person() }))
        .await??;
    let base = state.base_url(&req);
    Ok(HttpResponse::Ok().json(
        list.iter()
            .map(|f| FeedbackJson::new(f, &base))
            .collect::<Vec<_>>(),
    ))
}

#[utoipa::path(get, path = "/api/feedback/{ticket_id}", tag = "feedback",
    params(("ticket_id" = u64, Path, description = "the ticket's id")),
    responses((status = 200, body = FeedbackJson), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_feedback(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    ticket_id: web::Path<u64>,
) -> Result<HttpResponse, ApiError> {
    let feedback = state
        .queue
        .send(Settled(GetFeedback {
            by: caller.person(),
            ticket: TicketId(ticket_id.into_inner()),
        }))
        .await???;
    Ok(HttpResponse::Ok().json(FeedbackJson::new(&feedback, &state.base_url(&req))))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct FeedbackPatchBody {
    /// A whole number from 1 to 5.
    #[schema(minimum = 1, maximum = 5)]
    pub rating: Option<i64>,
    /// At most 2000 characters.
    #[schema(max_length = 2000)]
    pub comments: Option<String>,
}

#[utoipa::path(patch, path = "/api/feedback/{ticket_id}", tag = "feedback", request_body = FeedbackPatchBody,
    params(("ticket_id" = u64, Path, description = "the ticket's id")),
    responses((status = 200, body = FeedbackJson), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "more than 24 hours after it was given")),
    security(("bearer" = [])))]
pub async fn correct_feedback(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    ticket_id: web::Path<u64>,
    Body(body): Body<FeedbackPatchBody>,
) -> Result<HttpResponse, ApiError> {
    let correction = FeedbackCorrection::parse(body.rating, body.comments.as_deref())?;
    let feedback = state
        .queue
        .send(CorrectFeedback {
            by: caller.person(),
            ticket: TicketId(ticket_id.into_inner()),
            correction,
        })
        .await??;
    Ok(HttpResponse::Ok().json(FeedbackJson::new(&feedback, &state.base_url(&req))))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct LeaderboardQuery {
    /// 1–100, default 5.
    pub limit: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LeaderboardJson {
    /// The mentor's email.
    pub mentor: String,
    pub mentor_name: String,
    pub average_rating: f64,
    pub count: u64,
}

impl From<LeaderboardRow> for LeaderboardJson {
    fn from(r: LeaderboardRow) -> Self {
        LeaderboardJson {
            mentor: r.mentor,
            mentor_name: r.mentor_name,
            average_rating: r.average_rating,
            count: r.count,
        }
    }
}

#[utoipa::path(get, path = "/api/feedback/leaderboard", tag = "feedback", params(LeaderboardQuery),
    responses((status = 200, body = Vec<LeaderboardJson>), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody)), security(("bearer" = [])))]
pub async fn leaderboard(
    state: web::Data<AppState>,
    _caller: Caller,
    query: web::Query<LeaderboardQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = match query.limit.as_deref() {
        None => 5,
        Some(raw) => raw
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=LEADERBOARD_MAX).contains(n))
            .ok_or_else(|| ApiError::validation("limit", "must be an integer from 1 to 100"))?,
    };
    let rows = state.queue.send(Settled(GetLeaderboard { limit })).await??;
    Ok(HttpResponse::Ok().json(rows.into_iter().map(LeaderboardJson::from).collect::<Vec<_>>()))
}
