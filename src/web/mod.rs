//! The live board page, embedded in the binary: an HTML file, its stylesheet, its
//! script and an icon, no build step and nothing fetched from elsewhere. It speaks only
//! the public API (REST + `/ws`), like any other client. The files are served
//! compressed (actix-web's `Compress`, by the client's `Accept-Encoding`).

use actix_web::HttpResponse;

const INDEX: &str = include_str!("index.html");
const SCRIPT: &str = include_str!("app.js");
const STYLE: &str = include_str!("app.css");
const ICON: &str = include_str!("favicon.svg");

/// The page's files: path, content type, body.
const FILES: [(&str, &str, &str); 5] = [
    ("/", "text/html; charset=utf-8", INDEX),
    ("/app.js", "text/javascript; charset=utf-8", SCRIPT),
    ("/app.css", "text/css; charset=utf-8", STYLE),
    ("/favicon.svg", "image/svg+xml", ICON),
    // Browsers ask for it on their own; the same icon.
    ("/favicon.ico", "image/svg+xml", ICON),
];

/// The page's files, each as path and its `GET` handler.
pub fn files() -> impl Iterator<Item = (&'static str, impl Fn() -> HttpResponse + Clone + 'static)> {
    FILES.into_iter().map(|(path, kind, body)| {
        let serve = move || {
            // Revalidated on every load, so a new binary's page is seen at once.
            HttpResponse::Ok()
                .content_type(kind)
                .insert_header(("cache-control", "no-cache"))
                .body(body)
        };
        (path, serve)
    })
}
