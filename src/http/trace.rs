//! One tracing span per HTTP request: method, route template (never the raw path),
//! the authenticated user (recorded by `api::extract::authenticate`), status and latency.
//! Every log line written while the request is handled carries them.

use crate::telemetry;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use tracing::field::Empty;
use tracing::Instrument;

/// Middleware: runs the request inside its span and records how it ended. A 5xx is
/// logged as a warning (its cause was logged as an error where it happened); other
/// answers at debug level, so a busy server does not log every request by default.
pub async fn request_span(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let span = tracing::info_span!(
        "request",
        method = %req.method(),
        route = Empty,
        user = Empty,
        status = Empty,
        latency_ms = Empty,
    );
    let started = std::time::Instant::now();
    let response = next.call(req).instrument(span.clone()).await?;
    let status = response.status();
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "(no route)".into());
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.record("route", route.as_str());
    span.record("status", status.as_u16());
    span.record("latency_ms", latency_ms);
    let method = response.request().method().to_string();
    let labels = [
        ("method", method),
        ("route", route),
        ("status", status.as_u16().to_string()),
    ];
    metrics::counter!(telemetry::HTTP_REQUESTS, &labels).increment(1);
    metrics::histogram!(telemetry::HTTP_DURATION, &labels[..2]).record(latency_ms / 1000.0);
    if status.is_server_error() {
        tracing::warn!(parent: &span, "answered with a server error");
    } else {
        tracing::debug!(parent: &span, "answered");
    }
    Ok(response)
}
