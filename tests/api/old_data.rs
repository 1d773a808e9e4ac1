//! A data folder written by the first release (records of version 1, made by
//! `tests/fixtures/make_v1_data.py` with the binary of commit 8988dc6) opens with this
//! release, and every user, ticket, feedback, session, chunk, setting, kept answer and
//! event in it is found again.

use crate::helpers::{spawn_app_with_clock, Login, TestApp};
use mentorq::clock::ManualClock;
use reqwest::Method;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;

/// Shortly after the fixture was made, so its sessions are still upcoming and its
/// idempotency answer still kept.
const FIXTURE_TIME: &str = "2026-12-02T18:30:00Z";
const FIXTURE_SECRET: &str = "fixture-secret-fixture-secret-fixture-secret";
const PASSWORD: &str = "a long password";

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

async fn open_fixture() -> (TestApp, tempfile::TempDir) {
    let copy = tempfile::tempdir().unwrap();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1-data"),
        copy.path(),
    );
    let at = chrono::DateTime::parse_from_rfc3339(FIXTURE_TIME)
        .unwrap()
        .to_utc();
    let path = copy.path().to_path_buf();
    let app = spawn_app_with_clock(
        move |config| {
            config.store.path = path;
            config.auth.jwt_secret = Some(FIXTURE_SECRET.into());
            config.auth.bootstrap_directors = vec!["ops@example.org".into()];
        },
        Arc::new(ManualClock::new(at)),
    )
    .await;
    (app, copy)
}

async fn login(app: &TestApp, email: &str) -> Login {
    let reply = app
        .post(
            "/api/auth/token/",
            None,
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        reply.status, 200,
        "{email} logs in with the password set by the old release"
    );
    Login {
        id: reply.body["user"]["id"].as_u64().unwrap(),
        email: email.to_string(),
        access: reply.body["access"].as_str().unwrap().to_string(),
        refresh: reply.body["refresh"].as_str().unwrap().to_string(),
    }
}

fn strings<'a>(values: &'a Value, field: &str) -> Vec<&'a str> {
    values
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v[field].as_str().unwrap())
        .collect()
}

#[actix_web::test]
async fn every_record_written_by_the_first_release_is_found() {
    let (app, _copy) = open_fixture().await;
    let ops = login(&app, "ops@example.org").await.access;
    let ada = login(&app, "ada@example.org").await.access;

    let users = app.get("/api/users/", &ops).await;
    assert_eq!(
        strings(&users.body, "email"),
        [
            "ops@example.org",
            "ada@example.org",
            "bob@example.org",
            "grace@example.org"
        ]
    );
    let me = app.get("/api/me/", &ada).await;
    assert_eq!(
        (me.body["slack_id"].as_str(), me.body["phone"].as_str()),
        (Some("U0ADA"), Some("555-0100"))
    );
    let grace = &users.body[3];
    assert_eq!(grace["roles"], json!(["hacker", "mentor"]));

    let tickets = app.get("/api/tickets/", &ops).await;
    assert_eq!(
        strings(&tickets.body, "status"),
        ["CLOSED", "CANCELLED", "CLAIMED", "OPEN"]
    );
    assert_eq!(
        strings(&tickets.body, "title"),
        ["Segfault in parser", "Never mind", "CSS grid", "Wi-Fi"]
    );
    assert_eq!(tickets.body[0]["comment"], "gdb says, \"oops\"");
    assert_eq!(tickets.body[0]["mentor_email"], "grace@example.org");
    assert_ne!(tickets.body[0]["feedback"], "", "ticket 1 knows it has feedback");
    assert_eq!(tickets.body[3]["position"], 1);

    let feedback = app.get("/api/feedback/", &ops).await;
    assert_eq!(feedback.body[0]["rating"], 5);
    assert_eq!(feedback.body[0]["comments"], "Great help");

    let queue = app.get("/api/queue/", &ops).await;
    assert_eq!(queue.body["message"], "Room 101 and Discord");
    let announcements = app.get("/api/announcements/", &ops).await;
    assert_eq!(strings(&announcements.body, "text"), ["Pizza at 7"]);

    let mentors = app.get("/api/mentors/?skill=rust", &ada).await;
    assert_eq!(mentors.body[0]["about_me"], "Rust and CSS");
    assert_eq!(mentors.body[0]["team_number"], 3);

    let sessions = app.get("/api/sessions/?all=true", &ops).await;
    assert_eq!(strings(&sessions.body, "status"), ["CONFIRMED", "PENDING"]);
    assert_eq!(sessions.body[0]["topic"], "Design review");
    assert!(sessions.body[0]["meeting_url"]
        .as_str()
        .unwrap()
        .starts_with("https://"));
    let grace_id = grace["id"].as_u64().unwrap();
    let chunks = app
        .get(&format!("/api/availability/?mentor={grace_id}"), &ada)
        .await;
    assert_eq!(
        strings(&chunks.body, "status"),
        ["BOOKED", "BOOKED", "REQUESTED", "OPEN"]
    );

    let settings = app.get("/api/notification-settings/", &ada).await;
    assert_eq!(settings.body["fifteen_minute_alert"], false);
    assert_eq!(settings.body["sixty_minute_alert"], true);

    // The kept answer to ticket 1's Idempotency-Key is replayed, not acted on again.
    let replay = app
        .client
        .request(Method::POST, format!("{}/api/tickets/", app.address))
        .bearer_auth(&ada)
        .header("Idempotency-Key", "fixture-key-1")
        .json(&json!({"title": "Segfault in parser", "location": "Table 7"}))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 201);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    let body: Value = replay.json().await.unwrap();
    assert_eq!(body["id"], tickets.body[0]["id"]);
}

#[actix_web::test]
async fn every_event_written_by_the_first_release_is_replayed() {
    let (app, _copy) = open_fixture().await;
    let grace = login(&app, "grace@example.org").await;
    let mut ws = app.ws(&grace, Some(0)).await;
    let resume = ws.next().await;
    assert_eq!(
        (resume["type"].as_str(), resume["from"].as_u64()),
        (Some("resume"), Some(1))
    );
    let to = resume["to"].as_u64().unwrap();
    let mut kinds = Vec::new();
    let mut seqs = Vec::new();
    while seqs.last() != Some(&to) {
        let message = ws.next().await;
        if message["type"] == "event" {
            seqs.push(message["seq"].as_u64().unwrap());
            kinds.push(message["kind"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(
        to, FIXTURE_EVENTS,
        "the fixture's events, and nothing new at its own time"
    );
    assert_eq!(
        seqs,
        (1..=to).collect::<Vec<_>>(),
        "grace (a mentor in every session) sees them all"
    );
    for kind in [
        "queue.updated",
        "announcement",
        "ticket.created",
        "ticket.updated",
        "feedback.created",
        "availability.updated",
        "session.updated",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
}

/// How many events the fixture holds.
const FIXTURE_EVENTS: u64 = 19;
