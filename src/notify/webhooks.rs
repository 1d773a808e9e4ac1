//! Outbound webhooks: one sender per `[[webhooks]]` entry, delivering its events in
//! `seq` order with one request in flight (API.md "Outbound webhooks").

use super::Wiring;
use crate::api::views::EventData;
use crate::config::{WebhookConfig, WebhookFormat};
use crate::domain::event::Event;
use crate::domain::queue::{Queue, FIRST_QUEUE, FIRST_QUEUE_NAME};
use crate::domain::webhook::{backoff_seconds, message_id, secret_bytes, sign, slack_text, wants, Verdict};
use crate::domain::QueueId;
use crate::store::EventLog;
use serde_json::json;
use sha2::Digest;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// No answer within this long is a failed attempt.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Where an endpoint's cursor is kept: by its URL, so reordering the config keeps it.
pub fn cursor_key(url: &str) -> String {
    let digest = sha2::Sha256::digest(url.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("webhook.{hex}.cursor")
}

/// Sets `mentorq_notifications_pending{channel="webhook"}` to the most any endpoint
/// is behind, after `endpoint` reported `behind`.
fn report_pending(endpoint: &str, behind: u64) {
    static BEHIND: std::sync::Mutex<BTreeMap<String, u64>> = std::sync::Mutex::new(BTreeMap::new());
    let mut all = BEHIND.lock().expect("pending lock");
    all.insert(endpoint.to_string(), behind);
    let most = all.values().copied().max().unwrap_or(0);
    metrics::gauge!(crate::telemetry::NOTIFICATIONS_PENDING, "channel" => "webhook").set(most as f64);
}

/// How the delivery of one event ended.
enum Outcome {
    Delivered,
    /// Retried for `retry_hours` without success: skipped, logged.
    GaveUp,
    Disabled,
}

struct Sender {
    config: WebhookConfig,
    target: reqwest::Url,
    key: Vec<u8>,
    client: reqwest::Client,
    wiring: Wiring,
    log: EventLog,
    /// Queue names for the `slack` lines, kept current from queue events.
    queues: HashMap<QueueId, String>,
}

/// Delivers `config`'s events from its stored cursor on, for as long as the server
/// runs (or until the endpoint answers 410). A new endpoint starts at the newest event.
pub async fn run(config: WebhookConfig, wiring: Wiring) {
    let mut cursor = match wiring.cursor(&cursor_key(&config.url)).await {
        Ok(c) => c,
        Err(error) => {
            tracing::error!(%error, url = %config.url, "could not read or record a webhook cursor");
            return;
        }
    };
    let mut queues: HashMap<QueueId, String> = wiring
        .store
        .load_all::<Queue>()
        .unwrap_or_default()
        .into_iter()
        .map(|q| (q.id, q.name))
        .collect();
    // Queue 1 is stored only once it has been changed.
    queues
        .entry(FIRST_QUEUE)
        .or_insert_with(|| FIRST_QUEUE_NAME.to_string());
    let key = config
        .secret
        .as_deref()
        .and_then(|s| secret_bytes(s).ok())
        .unwrap_or_default();
    // Parsed once, not on every request; a configured endpoint is called directly,
    // never through a proxy named by the environment.
    let target = match reqwest::Url::parse(&config.url) {
        Ok(url) => url,
        Err(error) => {
            tracing::error!(%error, url = %config.url, "a webhook URL that does not parse: not delivering to it");
            return;
        }
    };
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .no_proxy()
        .build()
        .expect("a reqwest client");
    let mut sender = Sender {
        log: wiring.store.event_log(),
        target,
        config,
        key,
        client,
        wiring,
        queues,
    };
    sender.deliver_from(&mut cursor).await;
}

impl Sender {
    async fn deliver_from(&mut self, cursor: &mut super::Cursor) {
        let url = self.config.url.clone();
        let log = self.log.clone();
        loop {
            let Some(events) = self.wiring.next_page(&log, cursor, "webhook").await else {
                return;
            };
            for event in events {
                self.learn(&event);
                if wants(&self.config.events, event.body.kind()) {
                    let outcome = self.deliver(&event).await;
                    let result = match outcome {
                        Outcome::Delivered => "delivered",
                        Outcome::GaveUp => "skipped",
                        Outcome::Disabled => "disabled",
                    };
                    metrics::counter!(crate::telemetry::NOTIFICATIONS, "channel" => "webhook", "result" => result)
                        .increment(1);
                    match outcome {
                        Outcome::Delivered => {}
                        Outcome::GaveUp => {
                            tracing::error!(%url, seq = event.seq, "a webhook event was skipped after its retries")
                        }
                        Outcome::Disabled => {
                            tracing::warn!(%url, seq = event.seq, "the endpoint answered 410 Gone: disabled until a restart");
                            let _ = self.wiring.store_cursor(cursor).await;
                            return;
                        }
                    }
                }
                cursor.passed(event.seq);
            }
            report_pending(&url, self.wiring.durable.borrow().saturating_sub(cursor.seq()));
            if let Err(error) = self.wiring.keep(cursor).await {
                tracing::error!(%error, %url, "could not record a webhook cursor");
                return;
            }
        }
    }

    fn learn(&mut self, event: &Event) {
        use crate::domain::event::EventBody;
        if let EventBody::QueueCreated(q) | EventBody::QueueUpdated(q) = &event.body {
            self.queues.insert(q.id, q.name.clone());
        }
    }

    /// The body of `event` in this endpoint's format.
    fn body(&self, event: &Event) -> bytes::Bytes {
        let body = match self.config.format {
            WebhookFormat::Standard => {
                #[derive(serde::Serialize)]
                struct Standard<'a> {
                    r#type: &'static str,
                    timestamp: String,
                    seq: u64,
                    data: EventData<'a>,
                }
                serde_json::to_vec(&Standard {
                    r#type: event.body.kind(),
                    timestamp: crate::api::views::ts(&event.at),
                    seq: event.seq,
                    data: EventData(&event.body, &self.wiring.base),
                })
            }
            WebhookFormat::Slack => {
                let name = |q: QueueId| {
                    self.queues
                        .get(&q)
                        .cloned()
                        .unwrap_or_else(|| format!("queue {q}"))
                };
                serde_json::to_vec(&json!({ "text": slack_text(event, name) }))
            }
        };
        body.expect("events serialise to JSON").into()
    }

    /// Sends one event until it is delivered, the endpoint is gone, or its retries run out.
    async fn deliver(&self, event: &Event) -> Outcome {
        let body = self.body(event);
        let id = message_id(event);
        let started = std::time::Instant::now();
        let give_up = Duration::from_secs(self.config.retry_hours * 3600);
        let mut failures = 0u32;
        loop {
            let mut request = self
                .client
                .post(self.target.clone())
                .header(
                    reqwest::header::CONTENT_TYPE,
                    reqwest::header::HeaderValue::from_static("application/json"),
                )
                .body(body.clone());
            if self.config.format == WebhookFormat::Standard {
                let timestamp = self.wiring.clock.now().timestamp();
                request = request
                    .header("webhook-id", &id)
                    .header("webhook-timestamp", timestamp.to_string())
                    .header("webhook-signature", sign(&self.key, &id, timestamp, &body));
            }
            let verdict = match request.send().await {
                Ok(response) => {
                    let retry_after = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok());
                    Verdict::of(response.status().as_u16(), retry_after)
                }
                Err(error) => {
                    tracing::debug!(%error, url = %self.config.url, "a webhook attempt failed");
                    Verdict::Retry(None)
                }
            };
            let wait = match verdict {
                Verdict::Delivered => return Outcome::Delivered,
                Verdict::Disable => return Outcome::Disabled,
                Verdict::Retry(Some(seconds)) => Duration::from_secs(seconds.min(3600)),
                Verdict::Retry(None) => {
                    let jitter = 0.5 + rand::random::<f64>() / 2.0;
                    Duration::from_secs_f64(backoff_seconds(failures, jitter))
                }
            };
            failures += 1;
            metrics::counter!(crate::telemetry::NOTIFICATIONS, "channel" => "webhook", "result" => "retried")
                .increment(1);
            if started.elapsed() + wait > give_up {
                return Outcome::GaveUp;
            }
            tokio::time::sleep(wait).await;
        }
    }
}
