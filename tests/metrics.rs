//! `GET /metrics` of the real binary, checked by the real `promtool check metrics`
//! (Debian's `prometheus` package; `.ci/run` installs it), and its counters seen to move.

mod support;

use futures_util::StreamExt;
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;
use support::{login, post, register};

type Server = support::TempServer;

async fn scrape(client: &reqwest::Client, base: &str, token: Option<&str>) -> (u16, String, String) {
    let mut request = client.get(format!("{base}/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
    (status, content_type, response.text().await.unwrap())
}

/// `promtool check metrics` on `text`: its verdict and what it said.
fn promtool(text: &str) -> (bool, String) {
    let program = ["/usr/bin/promtool", "/usr/local/bin/promtool"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or_else(|| panic!("NO PROMTOOL INSTALLED: this test needs Debian's prometheus package (apt-get install prometheus)"));
    let mut child = Command::new(program)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&output.stdout).to_string() + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), said)
}

/// The value of the sample whose line starts with `series` (name and labels as written).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.trim().parse().ok()))
}

#[tokio::test]
async fn metrics_pass_promtool_and_count_requests_connections_events_and_commits() {
    let server = Server::start(&[]);
    let base = server.base.as_str();
    let client = reqwest::Client::new();
    let (status, content_type, first) = scrape(&client, base, None).await;
    assert_eq!(status, 200);
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let (ok, said) = promtool(&first);
    assert!(ok, "promtool refused the first scrape: {said}\n{first}");

    assert_eq!(register(&client, base, "ada@example.org").await, 201);
    let (_, tokens) = login(&client, base, "ada@example.org").await;
    let access = tokens["access"].as_str().unwrap();
    let ticket: Value = client
        .post(format!("{base}/api/tickets/"))
        .bearer_auth(access)
        .json(&json!({"title": "help", "location": "Room 1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let read = client
        .get(format!("{base}/api/tickets/{}/", ticket["id"]))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let url = format!("{}/ws?access_token={access}", base.replace("http://", "ws://"));
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let _snapshot = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap();
    let (_, _, during) = scrape(&client, base, None).await;
    assert_eq!(sample(&during, "mentorq_ws_connections"), Some(1.0), "{during}");
    use tokio_tungstenite::tungstenite::protocol::{frame::coding::CloseCode, CloseFrame};
    let bye = CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    };
    ws.close(Some(bye)).await.unwrap();
    while let Ok(Some(Ok(_))) = tokio::time::timeout(Duration::from_secs(5), ws.next()).await {}
    let _ = post(
        &client,
        format!("{base}/api/auth/token/"),
        json!({"email": "ada@example.org", "password": "wrong one"}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let (_, _, after) = scrape(&client, base, None).await;
    let (ok, said) = promtool(&after);
    assert!(ok, "promtool refused: {said}\n{after}");
    for (series, expected) in [
        (
            r#"mentorq_http_requests_total{method="POST",route="/api/auth/register",status="201"}"#,
            1.0,
        ),
        (
            r#"mentorq_http_requests_total{method="POST",route="/api/auth/token",status="401"}"#,
            1.0,
        ),
        // The route's template, never the raw path.
        (
            r#"mentorq_http_requests_total{method="GET",route="/api/tickets/{id}",status="200"}"#,
            1.0,
        ),
        (r#"mentorq_events_total{kind="ticket.created"}"#, 1.0),
        (r#"mentorq_tickets{queue="1",status="OPEN"}"#, 1.0),
        (r#"mentorq_tickets{queue="1",status="CLOSED"}"#, 0.0),
        (r#"mentorq_mentors_online{queue="1"}"#, 0.0),
        ("mentorq_ws_connections", 0.0),
        (r#"mentorq_build_info{version=""#, f64::NAN),
    ] {
        let value = if series.ends_with('"') {
            after.lines().any(|l| l.starts_with(series)).then_some(f64::NAN)
        } else {
            sample(&after, series)
        };
        match value {
            Some(v) if expected.is_nan() || v == expected => {}
            other => panic!("{series}: {other:?}, expected {expected}\n{after}"),
        }
    }
    assert!(!after.contains("/api/tickets/1"), "no raw paths as labels");
    for counted in [
        "mentorq_ws_messages_sent_total",
        "mentorq_store_commit_duration_seconds_count",
        "mentorq_store_commit_batch_size_count",
        r#"mentorq_http_request_duration_seconds_count{method="POST",route="/api/tickets"}"#,
        "process_resident_memory_bytes",
        "process_open_fds",
    ] {
        let value = sample(&after, counted).unwrap_or_else(|| panic!("{counted} missing\n{after}"));
        assert!(value > 0.0, "{counted} = {value}");
    }
    // Whole CPU seconds so far: present, but a young test server may show 0.
    assert!(sample(&after, "process_cpu_seconds_total").is_some(), "{after}");
    assert_eq!(
        sample(&after, r#"mentorq_ws_closed_total{code="1000"}"#),
        Some(1.0),
        "the close is counted by its code\n{after}"
    );
}

#[tokio::test]
async fn with_a_token_metrics_are_only_for_its_bearer() {
    let server = Server::start(&[("MENTORQ__METRICS__TOKEN", "scrape-secret")]);
    let client = reqwest::Client::new();
    let (status, _, body) = scrape(&client, &server.base, None).await;
    assert_eq!(status, 401);
    let error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["code"], "not_authenticated");
    assert_eq!(scrape(&client, &server.base, Some("wrong")).await.0, 401);
    let (status, _, text) = scrape(&client, &server.base, Some("scrape-secret")).await;
    assert_eq!(status, 200);
    assert!(text.contains("mentorq_build_info"));
}
