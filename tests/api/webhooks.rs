//! Outbound webhooks against a real local HTTP receiver (actix-web on port 0) that
//! verifies every Standard Webhooks signature itself.

use crate::helpers::*;
use crate::support::webhooks::{receiver, SECRET};
use mentorq::config::{WebhookConfig, WebhookFormat};
use serde_json::json;
use std::time::Duration;

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
