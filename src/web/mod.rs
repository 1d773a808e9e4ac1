//! The live board page, embedded in the binary: one HTML file with its CSS and
//! JavaScript inline, no build step and nothing fetched from elsewhere. It speaks only
//! the public API (REST + `/ws`), like any other client.

use actix_web::HttpResponse;

const INDEX: &str = include_str!("index.html");

/// `GET /`.
pub async fn index() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("cache-control", "no-cache"))
        .body(INDEX)
}
