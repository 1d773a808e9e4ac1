//! `GET /api/export/{kind}.{format}`: one kind of record, whole, for managers (users for
//! directors), streamed a page at a time (see `api::export`).

use crate::api::error::{ApiError, ErrorBody};
use crate::api::export::{pages, Format, Kind};
use crate::api::extract::Caller;
use crate::api::AppState;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

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
    let roles = caller.user.roles;
    let allowed = if kind.for_directors_only() {
        roles.has(crate::domain::user::Role::Director)
    } else {
        roles.is_manager()
    };
    if !allowed {
        return Err(ApiError::forbidden(if kind.for_directors_only() {
            "Only directors may export the users."
        } else {
            "Only organizers and directors may export."
        }));
    }
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
