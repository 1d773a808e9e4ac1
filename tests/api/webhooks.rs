//! Outbound webhooks against a real local HTTP receiver (actix-web on port 0) that
//! verifies every Standard Webhooks signature itself.

use crate::helpers::*;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::Engine;
use hmac::{Hmac, Mac};
use mentorq::config::{WebhookConfig, WebhookFormat};
use serde_json::{json, Value};
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// One request the receiver got, and whether its signature verified.
#[derive(Clone, Debug)]
struct Received {
    id: Option<String>,
    verified: bool,
    body: Value,
}

#[derive(Default)]
struct Script {
    /// Statuses to answer, in order; 200 once they run out.
    answers: Vec<u16>,
    got: Vec<Received>,
}

struct Receiver {
    url: String,
    script: Arc<Mutex<Script>>,
}

/// The receiver's own check of a Standard Webhooks signature.
fn verifies(req: &HttpRequest, body: &[u8]) -> bool {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (Some(id), Some(timestamp), Some(signature)) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    ) else {
        return false;
    };
    let key = base64::engine::general_purpose::STANDARD
        .decode(SECRET.trim_start_matches("whsec_"))
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    signature
        .split(' ')
        .any(|s| s.strip_prefix("v1,") == Some(expected.as_str()))
}

async fn receiver(answers: Vec<u16>) -> Receiver {
    let script = Arc::new(Mutex::new(Script {
        answers,
        got: Vec::new(),
    }));
    let shared = script.clone();
    let server = HttpServer::new(move || {
        let shared = shared.clone();
        App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
            let shared = shared.clone();
            async move {
                let mut script = shared.lock().unwrap();
                script.got.push(Received {
                    id: req
                        .headers()
                        .get("webhook-id")
                        .map(|v| v.to_str().unwrap().to_string()),
                    verified: verifies(&req, &body),
                    body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                });
                let status = if script.answers.is_empty() {
                    200
                } else {
                    script.answers.remove(0)
                };
                HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).finish()
            }
        }))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let port = server.addrs()[0].port();
    actix_web::rt::spawn(server.run());
    Receiver {
        url: format!("http://127.0.0.1:{port}/hook"),
        script,
    }
}

impl Receiver {
    /// What has arrived once `n` requests have (or after 10 s).
    async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.script.lock().unwrap().got.clone();
            if got.len() >= n || std::time::Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn hook(url: &str, events: &[&str], format: WebhookFormat) -> WebhookConfig {
    WebhookConfig {
        url: url.to_string(),
        events: events.iter().map(|e| e.to_string()).collect(),
        format,
        secret: (format == WebhookFormat::Standard).then(|| SECRET.to_string()),
        retry_hours: 1,
    }
}

#[actix_web::test]
async fn signed_events_arrive_in_order_filtered_retried_and_a_gone_endpoint_stops() {
    let all = receiver(vec![]).await;
    let flaky = receiver(vec![500, 503]).await;
    let gone = receiver(vec![410]).await;
    let slack = receiver(vec![]).await;
    let hooks = vec![
        hook(&all.url, &["*"], WebhookFormat::Standard),
        hook(&flaky.url, &["ticket.created"], WebhookFormat::Standard),
        hook(&gone.url, &["*"], WebhookFormat::Standard),
        hook(&slack.url, &["ticket.created"], WebhookFormat::Slack),
    ];
    let app = spawn_app_with(move |c| c.webhooks = hooks).await;
    // Let every sender record where it starts before anything happens.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ada = app.hacker("Ada").await;
    let first = app.open_ticket(&ada, "Segfault, \"badly\"", json!({})).await;
    let director = app.director().await;
    app.post(
        "/api/announcements/",
        Some(&director.access),
        json!({"text": "Lunch"}),
    )
    .await;
    let bob = app.hacker("Bob").await;
    let second = app.open_ticket(&bob, "Linker", json!({})).await;

    let got = all.wait_for(3).await;
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(
        got.iter().all(|r| r.verified),
        "every signature verifies: {got:?}"
    );
    let kinds: Vec<&str> = got.iter().map(|r| r.body["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["ticket.created", "announcement", "ticket.created"]);
    let seqs: Vec<u64> = got.iter().map(|r| r.body["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in seq order: {seqs:?}");
    assert_eq!(got[0].id.as_deref(), Some(format!("evt_{}", seqs[0]).as_str()));
    assert_eq!(got[0].body["data"]["id"], first["id"]);
    assert!(got[0].body["timestamp"].as_str().unwrap().ends_with('Z'));

    // 500, 503, then 200: the first ticket is retried (same id) before the second goes.
    let got = flaky.wait_for(4).await;
    let ids: Vec<String> = got.iter().map(|r| r.id.clone().unwrap()).collect();
    assert_eq!(ids.len(), 4, "{got:?}");
    assert_eq!(ids[0], ids[1]);
    assert_eq!(ids[1], ids[2]);
    assert_ne!(ids[2], ids[3]);
    assert_eq!(got[3].body["data"]["id"], second["id"]);
    assert!(got.iter().all(|r| r.verified));

    // 410 on the first event: nothing more is sent there (the others have had every
    // event by now).
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(gone.script.lock().unwrap().got.len(), 1);

    let lines = slack.wait_for(2).await;
    assert_eq!(
        lines[0].body,
        json!({"text": format!("New ticket #{} in Help: \"Segfault, \"badly\"\", Room 101", first["id"])})
    );
    assert_eq!(lines.len(), 2);

    // The deliveries are counted in /metrics.
    let metrics = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        r#"mentorq_notifications_total{channel="webhook",result="delivered"}"#,
        r#"mentorq_notifications_total{channel="webhook",result="retried"}"#,
        r#"mentorq_notifications_total{channel="webhook",result="disabled"}"#,
        r#"mentorq_notifications_pending{channel="webhook"}"#,
    ] {
        assert!(metrics.contains(line), "{line} in /metrics");
    }
}
