//! Prometheus metrics: the names API.md lists, the one recorder they go to, and the text
//! `GET /metrics` serves.
//!
//! The `metrics` facade is global, so the recorder is installed once per process (the
//! first [`Application`](crate::Application) built does it) and every application in
//! that process shares it. Recording is a lookup and an atomic add; the hottest counter,
//! frames written to WebSocket clients, keeps its handle instead of looking it up.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

pub const HTTP_REQUESTS: &str = "mentorq_http_requests_total";
pub const HTTP_DURATION: &str = "mentorq_http_request_duration_seconds";
pub const WS_CONNECTIONS: &str = "mentorq_ws_connections";
pub const WS_SENT: &str = "mentorq_ws_messages_sent_total";
pub const WS_CLOSED: &str = "mentorq_ws_closed_total";
pub const EVENTS: &str = "mentorq_events_total";
pub const COMMIT_DURATION: &str = "mentorq_store_commit_duration_seconds";
pub const COMMIT_BATCH: &str = "mentorq_store_commit_batch_size";
pub const TICKETS: &str = "mentorq_tickets";
pub const MENTORS_ONLINE: &str = "mentorq_mentors_online";
pub const BUILD_INFO: &str = "mentorq_build_info";
pub const NOTIFICATIONS: &str = "mentorq_notifications_total";
pub const NOTIFICATIONS_PENDING: &str = "mentorq_notifications_pending";

/// Histogram buckets: request latencies and syncs in seconds, batch sizes in changes.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const SYNC_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the recorder if this process has none yet, and describes every metric.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.into()), LATENCY_BUCKETS)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Full(COMMIT_DURATION.into()), SYNC_BUCKETS))
            .and_then(|b| b.set_buckets_for_metric(Matcher::Full(COMMIT_BATCH.into()), BATCH_BUCKETS))
            .expect("the bucket lists are not empty")
            .install_recorder()
            .expect("no other metrics recorder is installed in this process");
        describe();
        metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        process_collector().describe();
        handle
    })
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by method, route template and status."
    );
    describe_histogram!(HTTP_DURATION, Unit::Seconds, "Time to answer an HTTP request.");
    describe_gauge!(WS_CONNECTIONS, "Open WebSocket connections.");
    describe_counter!(WS_SENT, "WebSocket frames handed to the sockets.");
    describe_counter!(
        WS_CLOSED,
        "WebSocket connections closed by the server, by close code."
    );
    describe_counter!(EVENTS, "Events committed, by kind.");
    describe_histogram!(
        COMMIT_DURATION,
        Unit::Seconds,
        "One group commit's flush and fdatasync."
    );
    describe_histogram!(COMMIT_BATCH, "Changes made durable by one group commit.");
    describe_gauge!(TICKETS, "Tickets by queue and status.");
    describe_gauge!(MENTORS_ONLINE, "Mentors with an open connection, by queue.");
    describe_gauge!(BUILD_INFO, "Always 1; the version is a label.");
    describe_counter!(
        NOTIFICATIONS,
        "Notification attempts, by channel (webhook, email) and result (delivered, retried, skipped, disabled)."
    );
    describe_gauge!(
        NOTIFICATIONS_PENDING,
        "Events a channel has yet to look at: the newest durable event's seq minus the channel's cursor (the most behind endpoint)."
    );
}

/// The Prometheus text of every metric, with the process's own figures read now.
pub fn render() -> String {
    let handle = install();
    process_collector().collect();
    handle.run_upkeep();
    handle.render()
}

/// The process figures' collector, made once (it builds its metric names).
fn process_collector() -> &'static metrics_process::Collector {
    static COLLECTOR: OnceLock<metrics_process::Collector> = OnceLock::new();
    COLLECTOR.get_or_init(metrics_process::Collector::default)
}

/// The counter of frames sent, looked up once.
pub fn ws_sent() -> &'static metrics::Counter {
    static SENT: OnceLock<metrics::Counter> = OnceLock::new();
    SENT.get_or_init(|| {
        install();
        metrics::counter!(WS_SENT)
    })
}
