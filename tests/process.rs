//! Tests that need the real binary in its own process: restart, SIGKILL, signals, CLI.

mod support;

use serde_json::{json, Value};
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{login, post, register, PASSWORD};

/// The server binary running on a data folder.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(data: &Path) -> Server {
        let (child, base) = support::spawn_server(data, &[], None);
        Server { child, base }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit; returns its status and how long it took.
    fn wait(mut self, limit: Duration) -> (std::process::ExitStatus, Duration) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, started.elapsed());
            }
            assert!(started.elapsed() < limit, "did not exit within {limit:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn users_and_refresh_tokens_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let server = Server::start(dir.path());
    assert_eq!(register(&client, &server.base, "ada@example.org").await, 201);
    let (status, tokens) = login(&client, &server.base, "ada@example.org").await;
    assert_eq!(status, 200);
    server.signal("TERM");
    let (exit, _) = server.wait(Duration::from_secs(5));
    assert!(exit.success(), "SIGTERM exits 0");

    let server = Server::start(dir.path());
    let (status, _) = login(&client, &server.base, "ada@example.org").await;
    assert_eq!(status, 200, "the user is still there");
    let (status, _) = post(
        &client,
        format!("{}/api/auth/refresh/", server.base),
        json!({"refresh": tokens["refresh"]}),
    )
    .await;
    assert_eq!(status, 200, "the refresh token still works (the secret was kept)");
    let me = client
        .get(format!("{}/api/me/", server.base))
        .bearer_auth(tokens["access"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200, "the access token too");
}

#[tokio::test]
async fn every_acknowledged_registration_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let server = Server::start(dir.path());
    assert_eq!(register(&client, &server.base, "ops@example.org").await, 201);

    // Eight writers register users as fast as they can; each records what was
    // acknowledged. The process is killed while they are mid-stream.
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut writers = Vec::new();
    for w in 0..8 {
        let (client, base, acknowledged) = (client.clone(), server.base.clone(), acknowledged.clone());
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                let email = format!("w{w}-u{i}@example.org");
                let body = json!({"email": email, "password": PASSWORD, "name": "x"});
                match client
                    .post(format!("{base}/api/auth/register/"))
                    .json(&body)
                    .send()
                    .await
                {
                    Ok(r) if r.status() == 201 => acknowledged.lock().unwrap().push(email),
                    _ => break,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.signal("KILL");
    for writer in writers {
        writer.await.unwrap();
    }
    drop(server);
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() > 10,
        "the writers got going ({})",
        acknowledged.len()
    );

    let server = Server::start(dir.path());
    let (_, ops) = login(&client, &server.base, "ops@example.org").await;
    let users: Vec<Value> = client
        .get(format!("{}/api/users/", server.base))
        .bearer_auth(ops["access"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let present: std::collections::HashSet<&str> =
        users.iter().map(|u| u["email"].as_str().unwrap()).collect();
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|e| !present.contains(e.as_str()))
        .collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
}

#[tokio::test]
async fn sigint_stops_the_server_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    server.signal("INT");
    let (exit, took) = server.wait(Duration::from_secs(5));
    assert!(exit.success());
    assert!(took < Duration::from_secs(5));
}

fn user_add(data: &Path, email: &str, roles: &[&str]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mentorq"));
    command
        .args([
            "user",
            "add",
            "--config",
            "/nonexistent/config.toml",
            "--email",
            email,
            "--name",
            "Grace H.",
        ])
        .env("MENTORQ__STORE__PATH", data)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for role in roles {
        command.args(["--role", role]);
    }
    let mut child = command.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn user_add_refuses_a_folder_held_by_a_running_server_and_works_once_it_stops() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let refused = user_add(dir.path(), "grace@example.org", &["mentor"]);
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("in use by another mentorq process"), "{message}");

    server.signal("TERM");
    server.wait(Duration::from_secs(5));
    let added = user_add(dir.path(), "grace@example.org", &["mentor"]);
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );

    let server = Server::start(dir.path());
    let client = reqwest::Client::new();
    let (status, body) = login(&client, &server.base, "grace@example.org").await;
    assert_eq!(status, 200);
    assert_eq!(body["is_mentor"], true);
}

#[tokio::test]
async fn an_invalid_config_value_stops_start_up_naming_the_key() {
    let data = tempfile::tempdir().unwrap();
    for (key, value, named) in [
        ("MENTORQ__HTTP__PORT", "not-a-port", "http.port"),
        // In range for the type, but a token expiry that far out overflows a date.
        (
            "MENTORQ__AUTH__REFRESH_TTL_DAYS",
            "1000000000",
            "auth.refresh_ttl_days",
        ),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_mentorq"))
            .args(["serve", "--config", "/nonexistent/config.toml"])
            .env("MENTORQ__HTTP__PORT", "0")
            .env("MENTORQ__STORE__PATH", data.path())
            .env(key, value)
            .output()
            .unwrap();
        assert!(!output.status.success(), "{key}={value} stops start-up");
        let message = String::from_utf8_lossy(&output.stderr);
        assert!(message.contains(named), "{message}");
        assert!(!message.contains("panicked"), "{message}");
    }
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Value,
) -> (u16, Value) {
    let response = client
        .request(method, url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_queue_and_the_event_sequence_survive_a_restart() {
    use reqwest::Method;
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let server = Server::start(dir.path());
    let base = server.base.clone();
    register(&client, &base, "ops@example.org").await;
    register(&client, &base, "ada@example.org").await;
    let ops = login(&client, &base, "ops@example.org").await.1["access"]
        .as_str()
        .unwrap()
        .to_string();
    let ada = login(&client, &base, "ada@example.org").await.1["access"]
        .as_str()
        .unwrap()
        .to_string();

    let (status, ticket) = call(
        &client,
        Method::POST,
        format!("{base}/api/tickets/"),
        &ada,
        json!({"title": "t", "location": "l"}),
    )
    .await;
    assert_eq!(status, 201);
    let path = format!("{base}/api/tickets/{}/", ticket["id"]);
    call(
        &client,
        Method::PATCH,
        path.clone(),
        &ops,
        json!({"status": "CLAIMED"}),
    )
    .await;
    call(
        &client,
        Method::PATCH,
        path.clone(),
        &ops,
        json!({"status": "CLOSED"}),
    )
    .await;
    let (status, _) = call(
        &client,
        Method::POST,
        format!("{base}/api/feedback/"),
        &ada,
        json!({"ticket": ticket["id"], "rating": 5}),
    )
    .await;
    assert_eq!(status, 201);
    call(
        &client,
        Method::PATCH,
        format!("{base}/api/queue/"),
        &ops,
        json!({"open": false, "message": "closed for lunch"}),
    )
    .await;
    server.signal("TERM");
    server.wait(Duration::from_secs(5));

    let server = Server::start(dir.path());
    let base = server.base.clone();
    let ticket_path = format!("{base}/api/tickets/{}/", ticket["id"]);
    let (_, stored) = call(&client, Method::GET, ticket_path, &ada, Value::Null).await;
    assert_eq!(stored["status"], "CLOSED");
    assert_eq!(stored["mentor_email"], "ops@example.org");
    assert_eq!(
        stored["feedback"],
        format!("{base}/api/feedback/{}/", ticket["id"])
    );
    let (_, queue) = call(
        &client,
        Method::GET,
        format!("{base}/api/queue/"),
        &ada,
        Value::Null,
    )
    .await;
    assert_eq!(
        (queue["open"].clone(), queue["message"].clone()),
        (json!(false), json!("closed for lunch"))
    );
    let (status, _) = call(
        &client,
        Method::PATCH,
        format!("{base}/api/queue/"),
        &ops,
        json!({"open": true}),
    )
    .await;
    assert_eq!(status, 200);
    let (_, second) = call(
        &client,
        Method::POST,
        format!("{base}/api/tickets/"),
        &ada,
        json!({"title": "t2", "location": "l"}),
    )
    .await;
    assert!(
        second["id"].as_u64().unwrap() > ticket["id"].as_u64().unwrap(),
        "ids are never reused"
    );
    server.signal("TERM");
    server.wait(Duration::from_secs(5));

    let store = mentorq::store::Store::open(dir.path()).unwrap();
    let events: Vec<_> = store.events_from(0).map(|e| e.unwrap()).collect();
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        (1..=8).collect::<Vec<_>>(),
        "gap-free, no repeats across the restart"
    );
    let kinds: Vec<&str> = events.iter().map(|e| e.body.kind()).collect();
    assert_eq!(
        kinds,
        [
            "ticket.created",
            "ticket.updated",
            "ticket.updated",
            "feedback.created",
            "ticket.updated",
            "queue.updated",
            "queue.updated",
            "ticket.created"
        ]
    );
    assert_eq!(store.next_seq(), 9);
}

#[tokio::test]
async fn resume_with_since_works_across_a_restart() {
    use futures_util::StreamExt;
    use reqwest::Method;
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let server = Server::start(dir.path());
    let base = server.base.clone();
    register(&client, &base, "ops@example.org").await;
    let ops = login(&client, &base, "ops@example.org").await.1;
    let access = ops["access"].as_str().unwrap().to_string();
    let refresh = ops["refresh"].as_str().unwrap().to_string();
    for text in ["one", "two"] {
        call(
            &client,
            Method::POST,
            format!("{base}/api/announcements/"),
            &access,
            json!({ "text": text }),
        )
        .await;
    }
    // The epoch of this store's history, from a snapshot.
    let url = format!("{}/ws?access_token={access}", base.replace("http://", "ws://"));
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let epoch = loop {
        let message = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
            break serde_json::from_str::<Value>(text.as_str()).unwrap()["epoch"]
                .as_str()
                .unwrap()
                .to_string();
        }
    };
    drop(ws);
    server.signal("TERM");
    server.wait(Duration::from_secs(5));

    let server = Server::start(dir.path());
    let base = server.base.clone();
    // A new access token from the kept refresh token, then resume from after "one", in
    // the same history (a restart keeps the epoch).
    let (_, pair) = post(
        &client,
        format!("{base}/api/auth/refresh/"),
        json!({ "refresh": refresh }),
    )
    .await;
    let token = pair["access"].as_str().unwrap();
    let url = format!(
        "{}/ws?access_token={token}&since=1&epoch={epoch}",
        base.replace("http://", "ws://")
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut texts = Vec::new();
    while texts.len() < 2 {
        let message = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
            texts.push(serde_json::from_str::<Value>(text.as_str()).unwrap());
        }
    }
    assert_eq!(texts[0]["type"], "resume");
    assert_eq!(texts[0]["epoch"], epoch.as_str());
    assert_eq!(
        (texts[0]["from"].clone(), texts[0]["to"].clone()),
        (json!(2), json!(2))
    );
    assert_eq!(texts[1]["seq"], 2);
    assert_eq!(texts[1]["data"]["text"], "two");
}

#[tokio::test]
async fn each_request_and_each_websocket_connection_logs_inside_its_own_span() {
    let data = tempfile::tempdir().unwrap();
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mentorq"))
        .args(["serve", "--config", "/nonexistent/config.toml"])
        .env("MENTORQ__HTTP__PORT", "0")
        .env("MENTORQ__STORE__PATH", data.path())
        .env("RUST_LOG", "mentorq=debug")
        .stdout(Stdio::piped())
        .stderr(log.reopen().unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let base = line.trim().strip_prefix("listening on ").unwrap().to_string();
    let client = reqwest::Client::new();
    assert_eq!(register(&client, &base, "ada@example.org").await, 201);
    let (_, tokens) = login(&client, &base, "ada@example.org").await;
    let access = tokens["access"].as_str().unwrap();
    let me = client
        .get(format!("{base}/api/me/"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let ws_url = format!("{}/ws?access_token={access}", base.replace("http://", "ws://"));
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();
    use futures_util::StreamExt;
    ws.next().await.unwrap().unwrap();
    ws.close(None).await.unwrap();
    while ws.next().await.is_some() {}
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    child.wait().unwrap();

    let text = std::fs::read_to_string(log.path()).unwrap();
    let request = text
        .lines()
        .find(|l| l.contains("answered") && l.contains("route=\"/api/me\""))
        .unwrap_or_else(|| panic!("no answered line for /api/me in:\n{text}"));
    for field in ["method=GET", "user=1", "status=200", "latency_ms="] {
        assert!(request.contains(field), "{field} in {request}");
    }
    let connection = text
        .lines()
        .find(|l| l.contains("disconnected"))
        .unwrap_or_else(|| panic!("no disconnected line in:\n{text}"));
    assert!(
        connection.contains("ws{client=") && connection.contains("user=1"),
        "{connection}"
    );
}

/// `mentorq export KIND --format FORMAT --data DIR`.
fn export(data: &Path, kind: &str, format: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mentorq"))
        .args([
            "export",
            kind,
            "--format",
            format,
            "--config",
            "/nonexistent/config.toml",
            "--data",
        ])
        .arg(data)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

#[tokio::test]
async fn export_reads_a_stopped_servers_folder_and_refuses_a_running_ones() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let client = reqwest::Client::new();
    for email in ["ada@example.org", "bob@example.org"] {
        assert_eq!(register(&client, &server.base, email).await, 201);
    }
    let refused = export(dir.path(), "users", "jsonl");
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("in use by another mentorq process"), "{message}");
    server.signal("TERM");
    server.wait(Duration::from_secs(5));

    let lines = export(dir.path(), "users", "jsonl");
    assert!(
        lines.status.success(),
        "{}",
        String::from_utf8_lossy(&lines.stderr)
    );
    let users: Vec<Value> = String::from_utf8(lines.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let emails: Vec<&str> = users.iter().map(|u| u["email"].as_str().unwrap()).collect();
    assert_eq!(emails, ["ada@example.org", "bob@example.org"]);
    let csv = export(dir.path(), "users", "csv");
    let text = String::from_utf8(csv.stdout).unwrap();
    assert_eq!(text.lines().count(), 3, "a header and two rows: {text}");
    let unknown = export(dir.path(), "secrets", "csv");
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown kind `secrets`"));
}

/// `mentorq restore FILE --data DIR`.
fn restore(file: &Path, data: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mentorq"))
        .args(["restore", "--config", "/nonexistent/config.toml"])
        .arg(file)
        .arg("--data")
        .arg(data)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_restores_every_acknowledged_write_with_a_new_epoch() {
    use futures_util::StreamExt;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    let busy = [(
        "MENTORQ__QUEUE__WRITES_PER_MINUTE".to_string(),
        "1000000".to_string(),
    )];
    let (child, base) = support::spawn_server(&dir.path().join("live"), &busy, None);
    let server = Server {
        child,
        base: base.clone(),
    };
    let client = reqwest::Client::new();
    register(&client, &base, "ops@example.org").await;
    let ops = login(&client, &base, "ops@example.org").await.1;
    let access = ops["access"].as_str().unwrap().to_string();
    let refresh = ops["refresh"].as_str().unwrap().to_string();
    let ws_base = base.replace("http://", "ws://");
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{ws_base}/ws?access_token={access}"))
        .await
        .unwrap();
    let snapshot: Value = loop {
        if let Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) = ws.next().await {
            break serde_json::from_str(t.as_str()).unwrap();
        }
    };
    let old_epoch = snapshot["epoch"].as_str().unwrap().to_string();
    drop(ws);

    // A writer keeps posting while the backup is taken.
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Arc<Mutex<Vec<(u64, std::time::Instant)>>> = Arc::default();
    let writer = {
        let (client, base, access, stop, acked) = (
            client.clone(),
            base.clone(),
            access.clone(),
            stop.clone(),
            acked.clone(),
        );
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let url = format!("{base}/api/announcements/");
                let (status, body) = call(
                    &client,
                    reqwest::Method::POST,
                    url,
                    &access,
                    json!({"text": format!("note {n}")}),
                )
                .await;
                assert_eq!(status, 201, "{body}");
                acked
                    .lock()
                    .unwrap()
                    .push((body["id"].as_u64().unwrap(), std::time::Instant::now()));
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let asked = std::time::Instant::now();
    let response = client
        .get(format!("{base}/api/admin/backup/"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let backup_seq: u64 = response.headers()["x-mentorq-seq"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let file = response.bytes().await.unwrap();
    let answered = std::time::Instant::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    let acked = acked.lock().unwrap().clone();
    let before: Vec<u64> = acked
        .iter()
        .filter(|(_, at)| *at < asked)
        .map(|(id, _)| *id)
        .collect();
    assert!(!before.is_empty());
    assert!(
        acked.iter().any(|(_, at)| *at > answered),
        "writers kept acknowledging"
    );
    server.signal("TERM");
    server.wait(Duration::from_secs(5));

    let path = dir.path().join("mentorq.backup");
    std::fs::write(&path, &file).unwrap();
    // The same file, from the stopped folder, restores too.
    let offline = dir.path().join("offline.backup");
    let taken = Command::new(env!("CARGO_BIN_EXE_mentorq"))
        .args(["backup", "--config", "/nonexistent/config.toml", "--data"])
        .arg(dir.path().join("live"))
        .arg(&offline)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        taken.status.success(),
        "{}",
        String::from_utf8_lossy(&taken.stderr)
    );
    assert!(restore(&offline, &dir.path().join("from-offline"))
        .status
        .success());
    let mut damaged = file.to_vec();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0x40;
    let damaged_path = dir.path().join("damaged.backup");
    std::fs::write(&damaged_path, &damaged).unwrap();
    let refused = restore(&damaged_path, &dir.path().join("nowhere"));
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("damaged"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    let restored_dir = dir.path().join("restored");
    let restored = restore(&path, &restored_dir);
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    let (child, base) = support::spawn_server(&restored_dir, &busy, None);
    let _server = Server {
        child,
        base: base.clone(),
    };
    // The old device session still refreshes: same store id, same secret.
    let (status, pair) = post(
        &client,
        format!("{base}/api/auth/refresh/"),
        json!({"refresh": refresh}),
    )
    .await;
    assert_eq!(status, 200, "{pair}");
    let access = pair["access"].as_str().unwrap().to_string();
    // Every announcement acknowledged before the backup was asked for is there, and the
    // history ends exactly at the backup's seq.
    let events = client
        .get(format!("{base}/api/export/events.jsonl"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events: Vec<Value> = events.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(events.last().unwrap()["seq"], backup_seq);
    let restored_ids: Vec<u64> = events.iter().filter_map(|e| e["data"]["id"].as_u64()).collect();
    for id in &before {
        assert!(
            restored_ids.contains(id),
            "announcement {id} acknowledged before the backup is restored"
        );
    }
    // Counters continue: the next announcement gets the next id.
    let newest = *restored_ids.iter().max().unwrap();
    let url = format!("{base}/api/announcements/");
    let (_, next) = call(
        &client,
        reqwest::Method::POST,
        url,
        &access,
        json!({"text": "after"}),
    )
    .await;
    assert_eq!(next["id"], newest + 1);
    // A client of the old server resuming with its since and epoch gets a snapshot.
    let ws_base = base.replace("http://", "ws://");
    let url = format!(
        "{ws_base}/ws?access_token={access}&since={}&epoch={old_epoch}",
        snapshot["seq"]
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let first: Value = loop {
        if let Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) = ws.next().await {
            break serde_json::from_str(t.as_str()).unwrap();
        }
    };
    assert_eq!(first["type"], "snapshot");
    assert_ne!(first["epoch"], old_epoch.as_str());
}

#[actix_web::test]
async fn webhook_deliveries_pending_at_a_sigkill_are_delivered_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    // Nothing listens on this port yet: every delivery fails and is retried.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let hooks = format!(
        r#"[{{url = "http://127.0.0.1:{port}/hook", events = ["ticket.created"], secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}]"#
    );
    let env = [
        ("MENTORQ__WEBHOOKS".to_string(), hooks),
        (
            "MENTORQ__QUEUE__MAX_ACTIVE_TICKETS".to_string(),
            "100".to_string(),
        ),
    ];
    let start = |dir: &Path| {
        let (child, base) = support::spawn_server(dir, &env, None);
        Server { child, base }
    };
    let server = start(dir.path());
    assert_eq!(register(&client, &server.base, "ops@example.org").await, 201);
    let (_, ops) = login(&client, &server.base, "ops@example.org").await;
    let token = ops["access"].as_str().unwrap().to_string();
    let mut acknowledged = Vec::new();
    for i in 0..20 {
        let (status, ticket) = call(
            &client,
            reqwest::Method::POST,
            format!("{}/api/tickets/", server.base),
            &token,
            json!({"title": format!("t{i}"), "location": "l"}),
        )
        .await;
        assert_eq!(status, 201);
        acknowledged.push(ticket["id"].as_u64().unwrap());
    }
    server.signal("KILL");
    drop(server);

    let receiver = support::webhooks::receiver_on(port, Vec::new());
    let _server = start(dir.path());
    let deadline = Instant::now() + Duration::from_secs(20);
    let delivered = loop {
        let mut by_id: std::collections::BTreeMap<String, Value> = Default::default();
        for r in receiver.script.lock().unwrap().got.iter() {
            let id = r.id.clone().expect("a webhook-id");
            if let Some(earlier) = by_id.insert(id, r.body.clone()) {
                assert_eq!(earlier, r.body, "a repeat carries the same id and body");
            }
        }
        if by_id.len() >= acknowledged.len() || Instant::now() > deadline {
            break by_id;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let tickets: Vec<u64> = {
        let mut in_order: Vec<(u64, u64)> = delivered
            .values()
            .map(|b| (b["seq"].as_u64().unwrap(), b["data"]["id"].as_u64().unwrap()))
            .collect();
        in_order.sort();
        in_order.into_iter().map(|(_, id)| id).collect()
    };
    assert_eq!(
        tickets, acknowledged,
        "every acknowledged ticket, once each, in order"
    );
    let arrival: Vec<u64> = receiver
        .script
        .lock()
        .unwrap()
        .got
        .iter()
        .map(|r| r.body["seq"].as_u64().unwrap())
        .collect();
    assert!(
        arrival.windows(2).all(|w| w[0] <= w[1]),
        "sent in seq order: {arrival:?}"
    );
}

/// Started with a soft open-file limit of 256 (and a hard one of 4,096), the server
/// raises its soft limit to the hard one and says how many connections that holds.
#[tokio::test]
async fn the_server_raises_its_open_file_limit_and_says_how_many_connections_it_holds() {
    let data = tempfile::tempdir().unwrap();
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new("prlimit")
        .args(["--nofile=256:4096", env!("CARGO_BIN_EXE_mentorq")])
        .args(["serve", "--config", "/nonexistent/config.toml"])
        .env("MENTORQ__HTTP__PORT", "0")
        .env("MENTORQ__STORE__PATH", data.path())
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(log.reopen().unwrap())
        .spawn()
        .expect("prlimit (util-linux) runs the binary");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert!(line.starts_with("listening on "), "{line}");
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap();
    let files = limits.lines().find(|l| l.starts_with("Max open files")).unwrap();
    let numbers: Vec<&str> = files.split_whitespace().skip(3).take(2).collect();
    assert_eq!(numbers, ["4096", "4096"], "{files}");
    let _ = child.kill();
    let _ = child.wait();
    let logged = std::fs::read_to_string(log.path()).unwrap();
    assert!(logged.contains("room for about 4032 connections"), "{logged}");
}

/// The niceness of each of `pid`'s threads, the first thread's first (field 19 of
/// `/proc/<pid>/task/<tid>/stat`).
fn thread_niceness(pid: u32) -> Vec<i64> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("stat")).ok())
        .map(|stat| {
            // The fields after the parenthesised name start with field 3 (the state).
            let rest = &stat[stat.rfind(')').unwrap() + 2..];
            let tid: u32 = stat.split_whitespace().next().unwrap().parse().unwrap();
            let nice: i64 = rest.split_whitespace().nth(19 - 3).unwrap().parse().unwrap();
            (tid, nice)
        })
        .collect::<std::collections::BTreeMap<_, _>>()
        .into_values()
        .collect()
}

/// The notification senders run on a thread of their own, below the request path's
/// priority, so that on a busy machine deliveries take only the idle time.
#[tokio::test]
async fn the_notification_senders_run_on_one_thread_below_the_request_paths_priority() {
    let server = support::TempServer::start(&[]);
    // Relative to the niceness the server was started with (its first thread's).
    let base = thread_niceness(server.child.id())[0];
    let lowered = (base + 10).min(19);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut niceness = thread_niceness(server.child.id());
    while !niceness.contains(&lowered) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        niceness = thread_niceness(server.child.id());
    }
    assert_eq!(
        niceness.iter().filter(|n| **n == lowered).count(),
        1,
        "{niceness:?}"
    );
    assert!(
        niceness.iter().all(|n| *n == base || *n == lowered),
        "{niceness:?}"
    );
}
