//! `/api/tickets/*`: the help queue's tickets, their statistics and Slack links.

use crate::actors::queue::{ChangeTicket, GetStats, GetTicket, ListTickets, OpenTicket};
use crate::actors::users::{CountUsers, GetUser};
use crate::actors::Settled;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::{Body, Caller};
use crate::api::views::TicketJson;
use crate::api::AppState;
use crate::domain::queue::Stats;
use crate::domain::ticket::{other_party, NewTicket, Status, Ticket, TicketChange, TicketEdits};
use crate::domain::validate::FieldErrors;
use crate::domain::{QueueId, TicketId, UserId};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewTicketBody {
    /// 1–255 characters, not blank.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 255, pattern = r"\S")]
    pub title: Option<String>,
    /// 1–255 characters, not blank.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 255, pattern = r"\S")]
    pub location: Option<String>,
    /// At most 2000 characters.
    #[schema(max_length = 2000)]
    pub comment: Option<String>,
    /// At most 255 characters.
    #[schema(max_length = 255)]
    pub contact: Option<String>,
    /// If sent, must be the caller's email.
    pub owner_email: Option<String>,
    /// If sent, must be OPEN.
    pub status: Option<String>,
    /// Shown as "Anonymous" to everyone but its owner and managers.
    pub anonymous: Option<bool>,
    /// HackRU's frontend sends `"Anonymous"` for an anonymous ticket; any other value
    /// is ignored (the owner is always the caller).
    pub owner: Option<String>,
    /// The queue's id; default 1.
    #[schema(minimum = 1)]
    pub queue: Option<i64>,
    /// At most 5, each one of the queue's tags (case-insensitive).
    #[schema(max_items = 5)]
    pub tags: Option<Vec<String>>,
}

#[utoipa::path(post, path = "/api/tickets", tag = "tickets", request_body = NewTicketBody,
    responses((status = 201, body = TicketJson), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    Body(body): Body<NewTicketBody>,
) -> Result<HttpResponse, ApiError> {
    let new = NewTicket::parse(
        body.title.as_deref(),
        body.location.as_deref(),
        body.comment.as_deref(),
        body.contact.as_deref(),
        body.status.as_deref(),
    )?
    .anonymous_if(body.anonymous, body.owner.as_deref())
    .in_queue(queue_id("queue", body.queue)?, body.tags.unwrap_or_default());
    NewTicket::check_owner(body.owner_email.as_deref(), &caller.person())
        .map_err(|e| ApiError::forbidden(e.to_string()))?;
    let view = state
        .queue
        .send(OpenTicket {
            by: caller.person(),
            new,
        })
        .await??;
    let view = view.seen_by(caller.id(), caller.user.roles);
    Ok(HttpResponse::Created().json(TicketJson::new(&view, &state.base_url(&req))))
}

/// A queue id from a body: a whole number from 1.
fn queue_id(field: &str, id: Option<i64>) -> Result<Option<QueueId>, ApiError> {
    match id {
        None => Ok(None),
        Some(id) => u64::try_from(id)
            .ok()
            .filter(|n| *n >= 1)
            .map(|n| Some(QueueId(n)))
            .ok_or_else(|| ApiError::validation(field, "must be a queue id (a whole number from 1)")),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ListQuery {
    /// Comma-separated statuses, e.g. `OPEN,CLAIMED`.
    pub status: Option<String>,
    /// `true` keeps only the caller's own tickets.
    pub mine: Option<String>,
    /// Only the tickets of this queue.
    pub queue: Option<String>,
    /// Repeatable: only tickets having any of these tags (case-insensitive).
    pub tag: Option<Vec<String>>,
}

/// `?queue=ID` in a query string.
pub fn query_queue(value: Option<&str>, errors: &mut FieldErrors) -> Option<QueueId> {
    let raw = value.map(str::trim).filter(|v| !v.is_empty())?;
    let id = raw.parse::<u64>().ok().filter(|n| *n >= 1).map(QueueId);
    if id.is_none() {
        errors.add("queue", "must be a queue id (a whole number from 1)");
    }
    id
}

/// Parses `true`/`false` (and `1`/`0`) in a query string.
pub fn query_bool(field: &str, value: Option<&str>, errors: &mut FieldErrors) -> bool {
    match value.map(|v| v.trim().to_ascii_lowercase()) {
        None => false,
        Some(v) if v == "true" || v == "1" => true,
        Some(v) if v == "false" || v == "0" || v.is_empty() => false,
        Some(_) => {
            errors.add(field, "must be true or false");
            false
        }
    }
}

#[utoipa::path(get, path = "/api/tickets", tag = "tickets", params(ListQuery),
    responses((status = 200, body = Vec<TicketJson>), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    // `tag` repeats, which a derived query struct refuses: read the pairs themselves
    // (the last of any other parameter wins).
    let mut query = ListQuery {
        status: None,
        mine: None,
        queue: None,
        tag: None,
    };
    let mut tags: Vec<String> = Vec::new();
    for (key, value) in form_urlencoded::parse(req.query_string().as_bytes()) {
        let value = value.into_owned();
        match key.as_ref() {
            "status" => query.status = Some(value),
            "mine" => query.mine = Some(value),
            "queue" => query.queue = Some(value),
            "tag" if !value.trim().is_empty() => tags.push(value.trim().to_string()),
            _ => {}
        }
    }
    let mut errors = FieldErrors::new();
    let statuses = query
        .status
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|list| {
            list.split(',')
                .filter_map(|s| {
                    Status::parse(s).or_else(|| {
                        errors.add("status", format!("unknown status `{}`", s.trim()));
                        None
                    })
                })
                .collect::<Vec<_>>()
        });
    let mine = query_bool("mine", query.mine.as_deref(), &mut errors);
    let queue = query_queue(query.queue.as_deref(), &mut errors);
    errors.into_result(())?;
    let views = state
        .queue
        .send(Settled(ListTickets {
            by: caller.person(),
            statuses,
            mine,
            queue,
            tags,
        }))
        .await??;
    let base = state.base_url(&req);
    let views: Vec<_> = views
        .into_iter()
        .map(|v| v.seen_by(caller.id(), caller.user.roles))
        .collect();
    Ok(HttpResponse::Ok().json(
        views
            .iter()
            .map(|v| TicketJson::new(v, &base))
            .collect::<Vec<_>>(),
    ))
}

#[utoipa::path(get, path = "/api/tickets/{id}", tag = "tickets",
    params(("id" = u64, Path, description = "ticket id")),
    responses((status = 200, body = TicketJson), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    id: web::Path<u64>,
) -> Result<HttpResponse, ApiError> {
    let view = state
        .queue
        .send(Settled(GetTicket {
            by: caller.person(),
            id: TicketId(id.into_inner()),
        }))
        .await???;
    let view = view.seen_by(caller.id(), caller.user.roles);
    Ok(HttpResponse::Ok().json(TicketJson::new(&view, &state.base_url(&req))))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TicketPatchBody {
    /// The state to move to (see the transition table).
    pub status: Option<String>,
    /// Owner's edits while OPEN.
    pub title: Option<String>,
    pub comment: Option<String>,
    pub contact: Option<String>,
    pub location: Option<String>,
    /// On a claim, if present, must be the caller's email.
    pub mentor_email: Option<String>,
    /// `false` marks the ticket away (it keeps its place), `true` back; by the owner
    /// or staff while OPEN or CLAIMED.
    pub active: Option<bool>,
}

#[utoipa::path(patch, path = "/api/tickets/{id}", tag = "tickets", request_body = TicketPatchBody,
    params(("id" = u64, Path, description = "ticket id")),
    responses((status = 200, body = TicketJson), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 429, body = ErrorBody)), security(("bearer" = [])))]
pub async fn update(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    id: web::Path<u64>,
    Body(body): Body<TicketPatchBody>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = FieldErrors::new();
    let status = body.status.as_deref().and_then(|s| {
        Status::parse(s).or_else(|| {
            errors.add("status", "must be one of OPEN, CLAIMED, CLOSED, CANCELLED");
            None
        })
    });
    let edits = TicketEdits::parse(
        body.title.as_deref(),
        body.comment.as_deref(),
        body.contact.as_deref(),
        body.location.as_deref(),
    );
    let edits = match edits {
        Ok(edits) => edits,
        Err(more) => {
            more.0
                .into_iter()
                .for_each(|(f, ms)| ms.into_iter().for_each(|m| errors.add(&f, m)));
            TicketEdits::default()
        }
    };
    errors.into_result(())?;
    let change = TicketChange {
        status,
        edits,
        mentor_email: body.mentor_email,
        active: body.active,
    };
    let view = state
        .queue
        .send(ChangeTicket {
            by: caller.person(),
            id: TicketId(id.into_inner()),
            change,
        })
        .await??;
    let view = view.seen_by(caller.id(), caller.user.roles);
    Ok(HttpResponse::Ok().json(TicketJson::new(&view, &state.base_url(&req))))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SlackDm {
    pub slack_dm_link: String,
}

#[utoipa::path(get, path = "/api/tickets/{id}/slack-dm", tag = "tickets",
    params(("id" = u64, Path, description = "ticket id")),
    responses((status = 200, body = SlackDm,
               description = "With `[compat] hackru_frontend`: the link as a bare JSON string, \"\" when there is none"),
              (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody, description = "no such ticket, or `slack_unavailable`")),
    security(("bearer" = [])))]
pub async fn slack_dm(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<u64>,
) -> Result<HttpResponse, ApiError> {
    let view = state
        .queue
        .send(Settled(GetTicket {
            by: caller.person(),
            id: TicketId(id.into_inner()),
        }))
        .await???;
    let link = slack_link(&state, &view.ticket, caller.id()).await;
    match link {
        Ok(link) if state.config.compat.hackru_frontend => Ok(HttpResponse::Ok().json(link)),
        Ok(link) => Ok(HttpResponse::Ok().json(SlackDm { slack_dm_link: link })),
        // HackRU's frontend calls string methods on whatever it gets.
        Err(ApiError::NotFoundCode(..)) if state.config.compat.hackru_frontend => {
            Ok(HttpResponse::Ok().json(""))
        }
        Err(error) => Err(error),
    }
}

/// The `slack://` link to a direct message with the other party of `ticket`.
async fn slack_link(state: &AppState, ticket: &Ticket, caller: UserId) -> Result<String, ApiError> {
    let unavailable = |why: &str| ApiError::NotFoundCode("slack_unavailable", why.to_string());
    let team = state
        .config
        .slack
        .team_id
        .clone()
        .ok_or_else(|| unavailable("Slack is not configured for this event."))?;
    let other =
        other_party(ticket, caller).ok_or_else(|| unavailable("Nobody else is on this ticket yet."))?;
    let slack_id = state
        .users
        .send(Settled(GetUser(other)))
        .await??
        .and_then(|u| u.slack_id)
        .ok_or_else(|| unavailable("The other person has not set a Slack id."))?;
    Ok(format!("slack://user?team={team}&id={slack_id}"))
}

/// The statistics of API.md (a stand-in schema for the domain's `Stats`).
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsJson {
    pub average_claimed_datetime_seconds: Option<f64>,
    pub average_closed_datetime_seconds: Option<f64>,
    pub median_wait_seconds: Option<f64>,
    pub p90_wait_seconds: Option<f64>,
    /// Tickets by status: OPEN, CLAIMED, CLOSED, CANCELLED.
    pub counts: std::collections::BTreeMap<String, u64>,
    pub total: u64,
    pub mentors: Vec<MentorStatsJson>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MentorStatsJson {
    pub mentor_email: String,
    pub mentor: String,
    pub claimed: u64,
    pub closed: u64,
    pub average_rating: Option<f64>,
}

impl From<Stats> for StatsJson {
    fn from(s: Stats) -> Self {
        StatsJson {
            average_claimed_datetime_seconds: s.average_claimed_datetime_seconds,
            average_closed_datetime_seconds: s.average_closed_datetime_seconds,
            median_wait_seconds: s.median_wait_seconds,
            p90_wait_seconds: s.p90_wait_seconds,
            counts: s.counts.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            total: s.total,
            mentors: s
                .mentors
                .into_iter()
                .map(|m| MentorStatsJson {
                    mentor_email: m.mentor_email,
                    mentor: m.mentor,
                    claimed: m.claimed,
                    closed: m.closed,
                    average_rating: m.average_rating,
                })
                .collect(),
        }
    }
}

/// What a participant or mentor is shown of the statistics (HackRU's own keys).
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublicStatsJson {
    pub average_claimed_datetime_seconds: Option<f64>,
    pub average_closed_datetime_seconds: Option<f64>,
    #[serde(rename = "Total tickets")]
    pub total_tickets: u64,
}

/// HackRU mentorq's director keys, beside the full statistics.
#[derive(Debug, Serialize, ToSchema)]
pub struct HackruStatsJson {
    #[serde(rename = "Total tickets")]
    pub total_tickets: u64,
    #[serde(rename = "Open tickets")]
    pub open_tickets: u64,
    #[serde(rename = "Claimed tickets")]
    pub claimed_tickets: u64,
    #[serde(rename = "Closed Tickets")]
    pub closed_tickets: u64,
    #[serde(rename = "Cancelled Tickets")]
    pub cancelled_tickets: u64,
    #[serde(rename = "Number of mentors")]
    pub mentors: u64,
    #[serde(rename = "Number of users")]
    pub users: u64,
    #[serde(rename = "Average Rating")]
    pub average_rating: AverageRating,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AverageRating {
    /// Django's aggregate name, which HackRU's frontend reads.
    #[serde(rename = "rating__avg")]
    pub rating_avg: Option<f64>,
}

/// Managers get everything; anyone else the three public figures.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum StatsAnswer {
    Managers {
        #[serde(flatten)]
        stats: StatsJson,
        #[serde(flatten)]
        hackru: HackruStatsJson,
    },
    Public(PublicStatsJson),
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct StatsQuery {
    /// Only this queue's tickets (and their feedback); every queue when absent.
    pub queue: Option<String>,
}

#[utoipa::path(get, path = "/api/tickets/stats", tag = "tickets", params(StatsQuery),
    responses((status = 200, body = StatsAnswer), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn stats(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = FieldErrors::new();
    let queue = query_queue(query.queue.as_deref(), &mut errors);
    errors.into_result(())?;
    let stats = state.queue.send(Settled(GetStats { queue })).await???;
    if !caller.user.roles.is_manager() {
        return Ok(HttpResponse::Ok().json(PublicStatsJson {
            average_claimed_datetime_seconds: stats.average_claimed_datetime_seconds,
            average_closed_datetime_seconds: stats.average_closed_datetime_seconds,
            total_tickets: stats.total,
        }));
    }
    let (users, mentors) = state.users.send(Settled(CountUsers)).await??;
    let count = |status: Status| stats.counts.get(status.as_str()).copied().unwrap_or(0);
    let hackru = HackruStatsJson {
        total_tickets: stats.total,
        open_tickets: count(Status::Open),
        claimed_tickets: count(Status::Claimed),
        closed_tickets: count(Status::Closed),
        cancelled_tickets: count(Status::Cancelled),
        mentors,
        users,
        average_rating: AverageRating {
            rating_avg: stats.average_rating,
        },
    };
    Ok(HttpResponse::Ok().json(StatsAnswer::Managers {
        stats: StatsJson::from(stats),
        hackru,
    }))
}
