//! The REST facade. A handler authenticates, parses, sends an actor a message and maps
//! the answer to JSON; it holds no state and applies no rule.
//!
//! Architecture Invariant: only the transports (`api`, `http`, `ws`) know JSON shapes
//! and status codes; `http` never names `ws` (`tests/architecture.rs`).
//!
//! Every route is declared once, in [`routes`]. The same table configures actix and is
//! what the OpenAPI test compares the generated document against, so a route cannot be
//! served without being documented.

pub mod auth;
pub mod calendar;
pub mod export;
pub mod head;
pub mod limits;
pub mod ops;
pub mod queue;
pub mod queues;
pub mod scheduling;
pub mod tickets;
pub mod trace;
pub mod users;

use crate::api::error::ApiError;
pub use crate::api::AppState;
use actix_web::body::BoxBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::{header, Method};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{web, HttpResponse, Route};
use utoipa::OpenApi;

/// One route: its method, its path (actix and OpenAPI share the `{id}` syntax) and
/// its handler.
pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    route: Route,
}

fn spec(method: Method, path: &'static str, route: Route) -> RouteSpec {
    RouteSpec { method, path, route }
}

/// Every API route the server serves. Paths are without a trailing slash; the
/// path-normalising middleware makes `/x/` reach `/x` without a redirect.
pub fn routes() -> Vec<RouteSpec> {
    use web::{delete, get, patch, post, put};
    vec![
        spec(Method::POST, "/api/auth/register", post().to(auth::register)),
        spec(Method::POST, "/api/auth/token", post().to(auth::token)),
        spec(Method::POST, "/api/auth/refresh", post().to(auth::refresh)),
        spec(Method::POST, "/api/auth/logout", post().to(auth::logout)),
        spec(Method::GET, "/api/auth/sessions", get().to(auth::list_sessions)),
        spec(
            Method::DELETE,
            "/api/auth/sessions/{id}",
            delete().to(auth::revoke_session),
        ),
        spec(Method::GET, "/api/me", get().to(users::me)),
        spec(Method::PATCH, "/api/me", patch().to(users::update_me)),
        spec(Method::GET, "/api/users", get().to(users::list_users)),
        spec(Method::PUT, "/api/users/{id}/roles", put().to(users::set_roles)),
        spec(Method::POST, "/api/tickets", post().to(tickets::create)),
        spec(Method::GET, "/api/tickets", get().to(tickets::list)),
        // Before `/api/tickets/{id}`, which would otherwise match "stats".
        spec(Method::GET, "/api/tickets/stats", get().to(tickets::stats)),
        spec(Method::GET, "/api/tickets/{id}", get().to(tickets::get)),
        spec(Method::PATCH, "/api/tickets/{id}", patch().to(tickets::update)),
        spec(
            Method::GET,
            "/api/tickets/{id}/slack-dm",
            get().to(tickets::slack_dm),
        ),
        spec(Method::GET, "/api/queue", get().to(queue::get_queue)),
        spec(Method::PATCH, "/api/queue", patch().to(queue::patch_queue)),
        spec(Method::GET, "/api/queues", get().to(queues::list)),
        spec(Method::POST, "/api/queues", post().to(queues::create)),
        spec(Method::GET, "/api/queues/{id}", get().to(queues::get)),
        spec(Method::PATCH, "/api/queues/{id}", patch().to(queues::update)),
        spec(Method::PUT, "/api/presence", put().to(queues::put_presence)),
        spec(Method::GET, "/api/calendar", get().to(calendar::get)),
        spec(Method::POST, "/api/calendar/rotate", post().to(calendar::rotate)),
        spec(Method::GET, "/calendar/{file}", get().to(calendar::feed_file)),
        // Before `/api/mentors`'s siblings: a fixed path.
        spec(
            Method::GET,
            "/api/mentors/online",
            get().to(queues::mentors_online),
        ),
        spec(
            Method::POST,
            "/api/announcements",
            post().to(queue::post_announcement),
        ),
        spec(
            Method::GET,
            "/api/announcements",
            get().to(queue::list_announcements),
        ),
        spec(Method::POST, "/api/feedback", post().to(queue::give_feedback)),
        spec(Method::GET, "/api/feedback", get().to(queue::list_feedback)),
        // Before `/api/feedback/{ticket_id}`.
        spec(
            Method::GET,
            "/api/feedback/leaderboard",
            get().to(queue::leaderboard),
        ),
        spec(
            Method::GET,
            "/api/feedback/{ticket_id}",
            get().to(queue::get_feedback),
        ),
        spec(
            Method::PATCH,
            "/api/feedback/{ticket_id}",
            patch().to(queue::correct_feedback),
        ),
        spec(Method::GET, "/api/export/{file}", get().to(export::export)),
        spec(Method::GET, "/api/audit", get().to(export::audit)),
        spec(Method::GET, "/api/admin/backup", get().to(export::backup)),
        spec(Method::PUT, "/api/mentors/me", put().to(scheduling::put_profile)),
        spec(Method::GET, "/api/mentors/me", get().to(scheduling::get_profile)),
        spec(Method::GET, "/api/mentors", get().to(scheduling::search_mentors)),
        spec(Method::POST, "/api/availability", post().to(scheduling::publish)),
        spec(
            Method::GET,
            "/api/availability",
            get().to(scheduling::list_availability),
        ),
        spec(
            Method::DELETE,
            "/api/availability/{id}",
            delete().to(scheduling::delete_availability),
        ),
        spec(
            Method::POST,
            "/api/sessions",
            post().to(scheduling::request_session),
        ),
        spec(Method::GET, "/api/sessions", get().to(scheduling::list_sessions)),
        spec(
            Method::PATCH,
            "/api/sessions/{id}",
            patch().to(scheduling::change_session),
        ),
        spec(
            Method::GET,
            "/api/notification-settings",
            get().to(scheduling::get_settings),
        ),
        spec(
            Method::PATCH,
            "/api/notification-settings",
            patch().to(scheduling::patch_settings),
        ),
    ]
}

/// Registers every route, grouped into resources so that a known path with an unknown
/// method answers 405.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let mut by_path: Vec<(&'static str, Vec<Method>, Vec<Route>)> = Vec::new();
    for RouteSpec { method, path, route } in routes() {
        match by_path.iter_mut().find(|(p, _, _)| *p == path) {
            Some((_, methods, list)) => {
                methods.push(method);
                list.push(route);
            }
            None => by_path.push((path, vec![method], vec![route])),
        }
    }
    for (path, methods, list) in by_path {
        let resource = list
            .into_iter()
            .fold(web::resource(path), |r, route| r.route(route))
            .default_service(other_methods(&methods));
        cfg.service(resource);
    }
    cfg.service(
        web::resource("/api/openapi.json")
            .route(web::get().to(ops::openapi))
            .default_service(other_methods(&[Method::GET])),
    );
    // The board page's files, compressed by the client's `Accept-Encoding`.
    for (path, serve) in crate::web::files() {
        cfg.service(
            web::resource(path)
                .wrap(actix_web::middleware::Compress::default())
                .route(web::get().to(move || {
                    let response = serve();
                    async move { response }
                }))
                .default_service(other_methods(&[Method::GET])),
        );
    }
    cfg.service(
        web::resource("/metrics")
            .route(web::get().to(ops::metrics))
            .default_service(other_methods(&[Method::GET])),
    );
    cfg.service(
        web::resource("/healthz")
            .route(web::get().to(ops::healthz))
            .default_service(other_methods(&[Method::GET])),
    );
    cfg.service(
        web::resource("/readyz")
            .route(web::get().to(ops::readyz))
            .default_service(other_methods(&[Method::GET])),
    );
}

/// For a known path with an unknown method.
/// A resource's answer to every method it does not serve: 405 with `Allow` naming the
/// ones it does (RFC 9110 §15.5.6).
pub fn other_methods(allowed: &[Method]) -> Route {
    let allow = allowed.iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
    web::to(move || {
        let allow = header::HeaderValue::from_str(&allow).expect("method names are valid header text");
        async move {
            let mut response = actix_web::ResponseError::error_response(&ApiError::MethodNotAllowed);
            response.headers_mut().insert(header::ALLOW, allow);
            response
        }
    })
}

/// For unknown routes.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

/// Extractor and path errors become contract errors instead of actix's plain text.
pub fn extractor_configs(cfg: &mut web::ServiceConfig, body_limit: usize) {
    cfg.app_data(web::PayloadConfig::new(body_limit))
        .app_data(web::PathConfig::default().error_handler(|_, _| ApiError::NotFound.into()))
        .app_data(web::QueryConfig::default().error_handler(|e, _| {
            let message = crate::api::extract::for_a_person(&e.to_string());
            ApiError::validation("query", &message).into()
        }));
}

/// Answers the stand-in request that replaces a request head refused by
/// [`head::Guarded`], with that refusal's JSON error.
pub async fn refused(reason: web::Path<u8>) -> Result<HttpResponse, ApiError> {
    Err(head::HeadError::from_index(reason.into_inner()).map_or(ApiError::NotFound, head::HeadError::error))
}

/// Rewrites any error response that is not already our JSON (actix's own 404, 405, 413,
/// panics caught as 500) into the contract's error body.
pub fn json_errors<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .response()
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let error = ApiError::for_status(status);
    let (req, _) = res.into_parts();
    let response: HttpResponse<BoxBody> = HttpResponse::build(status).json(error.body());
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, response).map_into_right_body(),
    ))
}

#[derive(OpenApi)]
#[openapi(
    info(title = "mentorq", description = "The mentoring desk of a hackathon: a live help queue and mentor scheduling."),
    paths(
        auth::register, auth::token, auth::refresh, auth::logout, auth::list_sessions,
        auth::revoke_session, users::me, users::update_me, users::list_users, users::set_roles,
        tickets::create, tickets::list, tickets::stats, tickets::get, tickets::update,
        tickets::slack_dm, queue::get_queue, queue::patch_queue, queues::list, queues::create,
        queues::get, queues::update, queues::put_presence, queues::mentors_online,
        calendar::get, calendar::rotate, calendar::feed_file,
        queue::post_announcement,
        queue::list_announcements, queue::give_feedback, queue::list_feedback, queue::leaderboard,
        queue::get_feedback, queue::correct_feedback, export::export, export::audit, export::backup, scheduling::put_profile, scheduling::get_profile, scheduling::search_mentors, scheduling::publish,
        scheduling::list_availability, scheduling::delete_availability, scheduling::request_session,
        scheduling::list_sessions, scheduling::change_session, scheduling::get_settings,
        scheduling::patch_settings,
    ),
    modifiers(&BearerAuth, &ContractResponses),
)]
struct ApiDoc;

/// The answers that come from the shared extractors rather than from one handler, added
/// to every operation they apply to, so that no route's list can miss one:
/// 400/413/415 for a body, 401 for a token, 429 for a counted write (with
/// `Retry-After`), and the sign-in routes' throttle (429) and hashing queue (503).
struct ContractResponses;

impl utoipa::Modify for ContractResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                (Method::GET, &mut item.get),
                (Method::PUT, &mut item.put),
                (Method::POST, &mut item.post),
                (Method::DELETE, &mut item.delete),
                (Method::PATCH, &mut item.patch),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation else { continue };
                for status in contract_statuses(path, &method, operation) {
                    let responses = &mut operation.responses.responses;
                    let code = status.as_u16().to_string();
                    // 429 and 503 replace a handler's own entry: they carry `Retry-After`.
                    if matches!(status.as_u16(), 429 | 503) || !responses.contains_key(&code) {
                        responses.insert(code, error_response(status).into());
                    }
                }
            }
        }
    }
}

/// The statuses the shared extractors and limits can answer for `operation`.
fn contract_statuses(
    path: &str,
    method: &Method,
    operation: &utoipa::openapi::path::Operation,
) -> Vec<actix_web::http::StatusCode> {
    use actix_web::http::StatusCode;
    let mut statuses = Vec::new();
    let has_params = operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
    if operation.request_body.is_some() || has_params {
        statuses.push(StatusCode::BAD_REQUEST);
    }
    if operation.request_body.is_some() {
        statuses.extend([StatusCode::PAYLOAD_TOO_LARGE, StatusCode::UNSUPPORTED_MEDIA_TYPE]);
    }
    let authenticated = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    if authenticated {
        statuses.push(StatusCode::UNAUTHORIZED);
    }
    let revocation =
        path == "/api/auth/logout" || (method == Method::DELETE && path == "/api/auth/sessions/{id}");
    if authenticated && crate::api::rate_limit::is_write(method) && !revocation {
        statuses.push(StatusCode::TOO_MANY_REQUESTS);
    }
    if matches!(
        path,
        "/api/auth/register" | "/api/auth/token" | "/api/auth/refresh"
    ) {
        statuses.push(StatusCode::TOO_MANY_REQUESTS);
    }
    if matches!(path, "/api/auth/register" | "/api/auth/token") {
        statuses.push(StatusCode::SERVICE_UNAVAILABLE);
    }
    statuses
}

/// A documented error answer: the error body, and `Retry-After` where the status has one.
fn error_response(status: actix_web::http::StatusCode) -> utoipa::openapi::Response {
    use utoipa::openapi::{ContentBuilder, HeaderBuilder, ObjectBuilder, Ref, ResponseBuilder, Type};
    let mut response = ResponseBuilder::new()
        .description(status.canonical_reason().unwrap_or("error"))
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        );
    if matches!(status.as_u16(), 429 | 503) {
        response = response.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::Integer))
                .description(Some("Seconds to wait before trying again."))
                .build(),
        );
    }
    response.build()
}

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The OpenAPI 3 document of the REST contract.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
