//! Real time: `GET /ws`, the Hub and one `ClientActor` per connection.
//!
//! Architecture Invariant: like `http`, this is transport. It knows JSON and close
//! codes; it changes no state, and it never names `http` (`tests/architecture.rs`).
//! The Hub's projection is derived from durable events only, so nothing pushed can be
//! taken back by a crash.

pub mod client;
pub mod hub;
pub mod outbox;
pub mod protocol;

use crate::api::error::ApiError;
use crate::api::extract::authenticate;
use crate::api::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct WsQuery {
    pub access_token: Option<String>,
    pub since: Option<String>,
    /// The epoch the client's `since` belongs to; another one means a fresh snapshot.
    pub epoch: Option<String>,
    /// `1,3`: subscribed to these queues from the first message (as `subscribe`).
    pub queues: Option<String>,
}

/// `&queues=1,3` as a subscription, each id checked to exist.
async fn url_subscription(
    state: &AppState,
    raw: Option<&str>,
) -> Result<crate::domain::event::Subscription, ApiError> {
    use crate::domain::event::Subscription;
    use crate::domain::QueueId;
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(Subscription::all());
    };
    let wanted = raw
        .split(',')
        .map(|id| id.trim().parse::<u64>().ok().filter(|n| *n >= 1).map(QueueId))
        .collect::<Option<std::collections::BTreeSet<QueueId>>>()
        .ok_or_else(|| ApiError::validation("queues", "must be queue ids separated by commas, e.g. 1,3"))?;
    let known = state
        .queue
        .send(crate::actors::queue::QueueIds)
        .await
        .map_err(ApiError::from)?;
    if let Some(unknown) = wanted.iter().find(|q| !known.contains(q)) {
        return Err(ApiError::validation(
            "queues",
            &format!("there is no queue {unknown}"),
        ));
    }
    Ok(Subscription(Some(wanted)))
}

/// `GET /ws?access_token=…[&since=N[&epoch=E]][&queues=1,3]`: authenticates before the upgrade (401 JSON if
/// the token is missing or invalid), then starts the connection's actor, which
/// registers with the Hub, and answers with the upgraded connection.
pub async fn connect(
    req: HttpRequest,
    stream: web::Payload,
    state: web::Data<AppState>,
    hub: web::Data<actix::Addr<hub::Hub>>,
    query: web::Query<WsQuery>,
) -> Result<HttpResponse, actix_web::Error> {
    let token = query.access_token.as_deref().ok_or(ApiError::NotAuthenticated)?;
    let caller = authenticate(&state, token).await?;
    let since = match query.since.as_deref() {
        None | Some("") => None,
        Some(raw) => Some(
            raw.trim()
                .parse::<u64>()
                .map_err(|_| ApiError::validation("since", "must be a non-negative integer"))?,
        ),
    };
    // A `since` from another event history (a restored store) is not resumed into this one.
    let since = since.filter(|_| {
        query
            .epoch
            .as_deref()
            .is_none_or(|e| e.trim() == &*state.stamp.epoch)
    });
    let subscription = url_subscription(&state, query.queues.as_deref()).await?;
    client::verify(&req).map_err(|e| ApiError::validation("upgrade", &e.to_string()))?;
    let identity = client::Identity {
        user: caller.user.id,
        roles: caller.user.roles,
        device: caller.session,
    };
    let wiring = client::Wiring {
        hub: hub.get_ref().clone(),
        log: state.store.event_log(),
        outbox_limit: state.config.realtime.outbox_limit,
        stamp: state.stamp.clone(),
    };
    Ok(client::start(&req, stream, wiring, identity, since, subscription))
}
