//! API.md "Many queues, topics and mentor capacity", black-box.

use crate::helpers::*;
use chrono::{Duration, TimeZone, Utc};
use mentorq::clock::ManualClock;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;

async fn make_queue(app: &TestApp, by: &Login, body: Value) -> Value {
    let reply = app.post("/api/queues/", Some(&by.access), body).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|q| q["name"].as_str().unwrap().to_string())
        .collect()
}

async fn put(app: &TestApp, path: &str, who: &Login, body: Value) -> Reply {
    app.call(Method::PUT, path, Some(&who.access), Some(body)).await
}

#[actix_web::test]
async fn queues_are_created_renamed_tagged_and_archived_by_managers() {
    let app = spawn_app().await;
    let director = app.director().await;
    let ada = app.hacker("Ada").await;
    let list = app.get("/api/queues/", &ada.access).await;
    assert_eq!(names(&list.body), ["Help"]);
    assert_eq!(list.body[0]["id"], 1);
    assert_eq!(list.body[0]["tags"], json!([]));

    let refused = app
        .post("/api/queues/", Some(&ada.access), json!({"name": "Lab"}))
        .await;
    assert_eq!(refused.status, 403);
    let lab = make_queue(
        &app,
        &director,
        json!({"name": "Hardware lab", "description": "Soldering irons", "tags": ["Arduino", "Soldering"], "cooldown_seconds": 300}),
    )
    .await;
    assert_eq!(lab["id"], 2);
    assert_eq!(lab["open"], true);
    assert_eq!(lab["archived"], false);
    assert_eq!(lab["cooldown_seconds"], 300);
    assert_eq!(lab["open_count"], 0);
    assert_eq!(lab["mentors_online"], 0);

    let taken = app
        .post(
            "/api/queues/",
            Some(&director.access),
            json!({"name": "HARDWARE LAB"}),
        )
        .await;
    assert_eq!((taken.status.as_u16(), taken.code()), (409, "name_taken"));
    let bad = app
        .post(
            "/api/queues/",
            Some(&director.access),
            json!({"name": " ", "tags": ["a", "A"], "cooldown_seconds": -1}),
        )
        .await;
    assert_eq!(bad.status, 400);
    for field in ["name", "tags", "cooldown_seconds"] {
        assert!(bad.body["fields"][field].is_array(), "{field}: {}", bad.body);
    }

    let renamed = app
        .patch(
            "/api/queues/2/",
            &director.access,
            json!({"name": "Lab", "tags": ["Arduino"], "message": "Bring your board"}),
        )
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    assert_eq!(renamed.body["name"], "Lab");
    assert_eq!(renamed.body["tags"], json!(["Arduino"]));
    assert_eq!(renamed.body["message"], "Bring your board");
    assert_eq!(renamed.body["cooldown_seconds"], 300, "unmentioned fields stay");
    assert_eq!(
        app.patch("/api/queues/2/", &ada.access, json!({"open": false}))
            .await
            .status,
        403
    );
    let queue_one = app
        .patch("/api/queues/1/", &director.access, json!({"archived": true}))
        .await;
    assert_eq!(
        (queue_one.status.as_u16(), queue_one.code()),
        (409, "invalid_transition")
    );

    let archived = app
        .patch("/api/queues/2/", &director.access, json!({"archived": true}))
        .await;
    assert_eq!(archived.body["archived"], true);
    assert_eq!(names(&app.get("/api/queues/", &ada.access).await.body), ["Help"]);
    assert_eq!(
        names(&app.get("/api/queues/?archived=true", &ada.access).await.body),
        ["Help"],
        "ignored from a participant"
    );
    assert_eq!(
        names(&app.get("/api/queues/?archived=true", &director.access).await.body),
        ["Help", "Lab"]
    );
    let closed = app
        .post(
            "/api/tickets/",
            Some(&ada.access),
            json!({"title": "t", "location": "l", "queue": 2}),
        )
        .await;
    assert_eq!((closed.status.as_u16(), closed.code()), (409, "queue_closed"));
    assert_eq!(app.get("/api/queues/2/", &ada.access).await.body["name"], "Lab");
    assert_eq!(app.get("/api/queues/9/", &ada.access).await.status, 404);
}

#[actix_web::test]
async fn tickets_carry_their_queue_and_tags_and_wait_in_their_own_line() {
    let app = spawn_app_with(|c| c.queue.max_active_tickets = 2).await;
    let director = app.director().await;
    make_queue(
        &app,
        &director,
        json!({"name": "Lab", "tags": ["Arduino", "FPGA"]}),
    )
    .await;
    let ada = app.hacker("Ada").await;
    let bob = app.hacker("Bob").await;
    let cy = app.hacker("Cy").await;

    // Queue 1 works as it always did: no queue named, no tags.
    let help = app.open_ticket(&ada, "Segfault", json!({})).await;
    assert_eq!(
        (help["queue"].as_u64(), help["position"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(help["tags"], json!([]));
    assert_eq!(help["matching_mentors"], Value::Null);
    let lab = app
        .open_ticket(&bob, "LED", json!({"queue": 2, "tags": ["arduino", "ARDUINO"]}))
        .await;
    assert_eq!(lab["tags"], json!(["Arduino"]), "the queue's spelling, once");
    assert_eq!(lab["position"], 1, "first in its own queue");
    assert_eq!(lab["matching_mentors"], 0);
    let second_help = app.open_ticket(&cy, "Linker", json!({})).await;
    assert_eq!(second_help["position"], 2);

    let unknown = app
        .post(
            "/api/tickets/",
            Some(&cy.access),
            json!({"title": "t", "location": "l", "queue": 7}),
        )
        .await;
    assert_eq!(unknown.status, 400);
    assert!(unknown.body["fields"]["queue"].is_array(), "{}", unknown.body);
    let wrong_tag = app
        .post(
            "/api/tickets/",
            Some(&cy.access),
            json!({"title": "t", "location": "l", "queue": 2, "tags": ["Rust"]}),
        )
        .await;
    assert_eq!(wrong_tag.status, 400);
    assert!(wrong_tag.body["fields"]["tags"][0]
        .as_str()
        .unwrap()
        .contains("Rust"));

    // The limit counts active tickets across every queue.
    app.open_ticket(&ada, "Second", json!({"queue": 2})).await;
    let third = app
        .post(
            "/api/tickets/",
            Some(&ada.access),
            json!({"title": "t", "location": "l", "queue": 2}),
        )
        .await;
    assert_eq!(third.code(), "too_many_active_tickets");

    // Claiming the lab's first ticket moves only the lab's line.
    let mentor = app.mentor("Grace").await;
    let claimed = app
        .change_ticket(&mentor, lab["id"].as_u64().unwrap(), json!({"status": "CLAIMED"}))
        .await;
    assert_eq!(claimed.status, 200);
    let ids = |list: &Value| -> Vec<u64> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_u64().unwrap())
            .collect()
    };
    let cys = app
        .get(&format!("/api/tickets/{}/", second_help["id"]), &cy.access)
        .await;
    assert_eq!(cys.body["position"], 2, "the help desk did not move");
    let in_lab = app.get("/api/tickets/?queue=2&status=OPEN", &mentor.access).await;
    assert_eq!(in_lab.body[0]["position"], 1);
    assert_eq!(ids(&in_lab.body).len(), 1);
    let tagged = app
        .get("/api/tickets/?tag=fpga&tag=arduino", &mentor.access)
        .await;
    assert_eq!(ids(&tagged.body), [lab["id"].as_u64().unwrap()]);
    let bad = app.get("/api/tickets/?queue=x", &mentor.access).await;
    assert_eq!(bad.status, 400);

    // Statistics per queue and overall.
    let director_stats = app.get("/api/tickets/stats/?queue=2", &director.access).await;
    assert_eq!(director_stats.body["total"], 2);
    assert_eq!(director_stats.body["counts"]["CLAIMED"], 1);
    assert_eq!(
        app.get("/api/tickets/stats/", &director.access).await.body["total"],
        4
    );
    assert_eq!(
        app.get("/api/tickets/stats/?queue=9", &director.access)
            .await
            .status,
        404
    );
}

#[actix_web::test]
async fn a_closed_ticket_starts_its_queues_cooldown_for_participants() {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2030, 1, 10, 9, 0, 0).unwrap());
    let app = spawn_app_with_clock(|c| c.auth.access_ttl_seconds = 86_400, Arc::new(clock.clone())).await;
    let director = app.director().await;
    make_queue(&app, &director, json!({"name": "Lab", "cooldown_seconds": 600})).await;
    let ada = app.hacker("Ada").await;
    let mentor = app.mentor("Grace").await;
    let ticket = app.open_ticket(&ada, "LED", json!({"queue": 2})).await;
    let id = ticket["id"].as_u64().unwrap();
    app.change_ticket(&mentor, id, json!({"status": "CLAIMED"})).await;
    app.change_ticket(&mentor, id, json!({"status": "CLOSED"})).await;
    clock.advance(Duration::seconds(100));

    let cooling = app
        .post(
            "/api/tickets/",
            Some(&ada.access),
            json!({"title": "again", "location": "l", "queue": 2}),
        )
        .await;
    assert_eq!((cooling.status.as_u16(), cooling.code()), (409, "cooldown"));
    assert_eq!(cooling.headers["retry-after"], "500");
    // Other queues are not cooling down, and managers are exempt.
    app.open_ticket(&director, "mine", json!({"queue": 2})).await;
    let help = app.open_ticket(&ada, "elsewhere", json!({})).await;
    app.change_ticket(&ada, help["id"].as_u64().unwrap(), json!({"status": "CANCELLED"}))
        .await;
    clock.advance(Duration::seconds(500));
    app.open_ticket(&ada, "again", json!({"queue": 2})).await;
}

/// A test app on a manual clock, with tokens that outlive the hours tests skip.
async fn clocked(adjust: impl FnOnce(&mut mentorq::config::Config)) -> (TestApp, ManualClock) {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2030, 1, 10, 9, 7, 0).unwrap());
    let app = spawn_app_with_clock(
        |c| {
            c.auth.access_ttl_seconds = 7 * 86_400;
            adjust(c);
        },
        Arc::new(clock.clone()),
    )
    .await;
    (app, clock)
}

fn at(h: u32, m: u32) -> String {
    Utc.with_ymd_and_hms(2030, 1, 10, h, m, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

async fn online(app: &TestApp, queue: u64, who: &Login) -> Value {
    app.get(&format!("/api/queues/{queue}/"), &who.access).await.body["mentors_online"].clone()
}

#[actix_web::test]
async fn available_means_connected_present_staffing_and_not_in_a_session() {
    let (app, clock) = clocked(|_| {}).await;
    let director = app.director().await;
    make_queue(&app, &director, json!({"name": "Lab", "tags": ["Arduino"]})).await;
    let ada = app.hacker("Ada").await;
    let grace = app.mentor("Grace").await;
    let profile = put(
        &app,
        "/api/mentors/me/",
        &grace,
        json!({"skills": ["arduino"], "queues": null}),
    )
    .await;
    assert_eq!(profile.status, 200, "{}", profile.body);
    assert_eq!(profile.body["queues"], Value::Null);

    assert_eq!(online(&app, 1, &ada).await, 0, "not connected");
    let mut ws = app.ws(&grace, None).await;
    ws.next_of("snapshot").await;
    assert_eq!(online(&app, 1, &ada).await, 1);
    assert_eq!(online(&app, 2, &ada).await, 1, "staffs every queue");
    let tagged = app
        .open_ticket(&ada, "LED", json!({"queue": 2, "tags": ["Arduino"]}))
        .await;
    assert_eq!(tagged["matching_mentors"], 1);
    assert!(tagged["estimated_wait_seconds"].is_number());

    // Away.
    let away = put(&app, "/api/presence/", &grace, json!({"status": "away"})).await;
    assert_eq!(away.body["status"], "away");
    assert_eq!(online(&app, 1, &ada).await, 0);
    let ticket = app
        .get(&format!("/api/tickets/{}/", tagged["id"]), &ada.access)
        .await;
    assert_eq!(ticket.body["matching_mentors"], 0);
    assert_eq!(ticket.body["estimated_wait_seconds"], Value::Null);
    put(&app, "/api/presence/", &grace, json!({"status": "available"})).await;
    let wrong = put(&app, "/api/presence/", &grace, json!({"status": "busy"})).await;
    assert_eq!(wrong.status, 400);
    assert_eq!(
        put(&app, "/api/presence/", &ada, json!({"status": "away"}))
            .await
            .status,
        403
    );

    // Staffing only the lab.
    let lab_only = put(
        &app,
        "/api/mentors/me/",
        &grace,
        json!({"skills": ["arduino"], "queues": [2]}),
    )
    .await;
    assert_eq!(lab_only.body["queues"], json!([2]));
    assert_eq!(
        lab_only.body["presence"], "available",
        "a profile edit keeps the presence"
    );
    assert_eq!(
        (online(&app, 1, &ada).await, online(&app, 2, &ada).await),
        (json!(0), json!(1))
    );
    let unknown = put(&app, "/api/mentors/me/", &grace, json!({"queues": [2, 9]})).await;
    assert_eq!(unknown.status, 400);
    assert!(unknown.body["fields"]["queues"].is_array());

    // A confirmed session in progress takes the mentor out of the live queue.
    let chunks = app
        .post(
            "/api/availability/",
            Some(&grace.access),
            json!({"start_time": at(10, 0), "end_time": at(10, 30)}),
        )
        .await;
    let chunk = chunks.body[0]["id"].as_u64().unwrap();
    let session = app
        .post(
            "/api/sessions/",
            Some(&ada.access),
            json!({"availability": chunk, "session_length": 30, "topic": "Review"}),
        )
        .await;
    let path = format!("/api/sessions/{}/", session.body["id"]);
    app.patch(&path, &grace.access, json!({"status": "CONFIRMED"}))
        .await;
    assert_eq!(online(&app, 2, &ada).await, 1, "before it starts");
    clock.set(Utc.with_ymd_and_hms(2030, 1, 10, 10, 0, 0).unwrap());
    assert_eq!(online(&app, 2, &ada).await, 0, "in session");
    let who = app.get("/api/mentors/online/", &grace.access).await;
    assert_eq!(who.body[0]["status"], "in_session", "{}", who.body);
    clock.set(Utc.with_ymd_and_hms(2030, 1, 10, 10, 30, 0).unwrap());
    assert_eq!(online(&app, 2, &ada).await, 1, "the session ended");

    // Who is helping whom.
    app.change_ticket(
        &grace,
        tagged["id"].as_u64().unwrap(),
        json!({"status": "CLAIMED"}),
    )
    .await;
    let bob = app.mentor("Bob").await;
    let who = app.get("/api/mentors/online/", &bob.access).await;
    assert_eq!(who.status, 200);
    let rows = who.body.as_array().unwrap();
    let row = |name: &str| rows.iter().find(|r| r["name"] == name).unwrap().clone();
    assert_eq!(row("Grace")["status"], "available");
    assert_eq!(row("Grace")["queues"], json!([2]));
    assert_eq!(row("Grace")["claimed"], json!([tagged["id"]]));
    assert_eq!(row("Bob")["status"], "offline");
    assert_eq!(app.get("/api/mentors/online/", &ada.access).await.status, 403);
    ws.close().await;
}

/// Waits until the queue's owner reports `mentor` as `status` (`/api/mentors/online/`,
/// asked by someone whose requests are no sign of that mentor's life): connections are
/// reported to it a moment after they open or close, and a test moving the clock must
/// not move it before.
async fn until_seen_as(app: &TestApp, asker: &Login, mentor: u64, status: &str) {
    let started = std::time::Instant::now();
    loop {
        let online = app.get("/api/mentors/online/", &asker.access).await;
        let now = online.body.as_array().and_then(|all| {
            all.iter()
                .find(|m| m["id"] == mentor)
                .map(|m| m["status"].clone())
        });
        if now.as_ref().is_some_and(|s| s == status) {
            return;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "mentor {mentor} is {now:?}, not {status}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[actix_web::test]
async fn a_stale_claim_is_released_once_and_a_mentor_back_in_time_keeps_it() {
    let (app, clock) = clocked(|c| c.queue.claim_release_seconds = 600).await;
    let ada = app.hacker("Ada").await;
    let bob = app.hacker("Bob").await;
    let grace = app.mentor("Grace").await;
    let director = app.director().await;
    let first = app.open_ticket(&ada, "first", json!({})).await;
    let second = app.open_ticket(&bob, "second", json!({})).await;
    let (first, second) = (first["id"].as_u64().unwrap(), second["id"].as_u64().unwrap());

    // Grace claims the second ticket over a connection, then leaves.
    let mut mentor_ws = app.ws(&grace, None).await;
    mentor_ws.next_of("snapshot").await;
    until_seen_as(&app, &director, grace.id, "available").await;
    app.change_ticket(&grace, second, json!({"status": "CLAIMED"}))
        .await;
    mentor_ws.close().await;
    let mut owner_ws = app.ws(&bob, None).await;
    owner_ws.next_of("snapshot").await;
    // Leaving is noticed a moment after the close; the clock moves only once it is.
    until_seen_as(&app, &director, grace.id, "offline").await;

    clock.advance(Duration::seconds(599));
    let held = app.get(&format!("/api/tickets/{second}/"), &bob.access).await;
    assert_eq!(held.body["status"], "CLAIMED", "not yet");
    clock.advance(Duration::seconds(2));
    let released = app.get(&format!("/api/tickets/{second}/"), &bob.access).await;
    assert_eq!(released.body["status"], "OPEN");
    assert_eq!(released.body["mentor_email"], "");
    assert_eq!(released.body["position"], 2, "back at its original place");
    let pushed = owner_ws.next_event("ticket.updated").await;
    assert_eq!(pushed["data"]["status"], "OPEN");
    clock.advance(Duration::seconds(3600));
    app.get("/api/tickets/", &bob.access).await;
    let later: Vec<Value> = owner_ws
        .drain(std::time::Duration::from_millis(300))
        .await
        .into_iter()
        .filter(|m| m["type"] == "event")
        .collect();
    assert!(later.is_empty(), "released exactly once: {later:?}");

    // A mentor who comes back in time keeps the claim; a request is a sign of life too.
    app.change_ticket(&grace, first, json!({"status": "CLAIMED"}))
        .await;
    clock.advance(Duration::seconds(500));
    let mut back = app.ws(&grace, None).await;
    back.next_of("snapshot").await;
    until_seen_as(&app, &director, grace.id, "available").await;
    clock.advance(Duration::seconds(500));
    back.close().await;
    until_seen_as(&app, &director, grace.id, "offline").await;
    clock.advance(Duration::seconds(500));
    app.get("/api/tickets/", &grace.access).await;
    clock.advance(Duration::seconds(500));
    let kept = app.get(&format!("/api/tickets/{first}/"), &ada.access).await;
    assert_eq!(kept.body["status"], "CLAIMED", "{}", kept.body);
    clock.advance(Duration::seconds(101));
    let gone = app.get(&format!("/api/tickets/{first}/"), &ada.access).await;
    assert_eq!(gone.body["status"], "OPEN");
}

#[actix_web::test]
async fn a_subscription_narrows_ticket_events_and_a_resume_honours_it() {
    let app = spawn_app().await;
    let director = app.director().await;
    let grace = app.mentor("Grace").await;
    let ada = app.hacker("Ada").await;

    let mut all = app.ws(&grace, None).await;
    let snapshot = all.next_of("snapshot").await;
    assert_eq!(names(&snapshot["queues"]), ["Help"]);
    make_queue(&app, &director, json!({"name": "Lab"})).await;
    let created = all.next_event("queue.created").await;
    assert_eq!(created["data"]["name"], "Lab");
    let presence = all.next_of("presence").await;
    assert_eq!(presence["queues"], json!({"1": 1, "2": 1}), "{presence}");

    let mut lab_only = app.ws(&grace, None).await;
    lab_only.next_of("snapshot").await;
    lab_only.send_text(r#"{"type":"subscribe","queues":[9]}"#).await;
    let refused = lab_only.next_of("error").await;
    assert_eq!(refused["code"], "validation_failed");
    lab_only.send_text(r#"{"type":"subscribe","queues":[2]}"#).await;
    assert_eq!(lab_only.next_of("subscribed").await["queues"], json!([2]));

    let help = app.open_ticket(&ada, "help", json!({})).await;
    let lab = app.open_ticket(&director, "lab", json!({"queue": 2})).await;
    assert_eq!(all.next_event("ticket.created").await["data"]["id"], help["id"]);
    assert_eq!(all.next_event("ticket.created").await["data"]["id"], lab["id"]);
    let seen = lab_only.next_event("ticket.created").await;
    assert_eq!(seen["data"]["id"], lab["id"], "queue 1's ticket was not sent");
    let lab_seq = seen["seq"].as_u64().unwrap();

    // A queue event still reaches a narrowed connection.
    app.patch("/api/queue/", &director.access, json!({"message": "hi"}))
        .await;
    let updated = lab_only.next_event("queue.updated").await;
    assert_eq!(
        (
            updated["data"]["id"].as_u64(),
            updated["data"]["message"].as_str()
        ),
        (Some(1), Some("hi"))
    );

    // `&queues=` subscribes from the first message: the snapshot and the resume.
    let url = format!("{}&queues=2", app.ws_url(&grace.access, None));
    let mut narrowed = app.ws_at(&url, None).await;
    let snapshot = narrowed.next_of("snapshot").await;
    let ids: Vec<&Value> = snapshot["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["id"])
        .collect();
    assert_eq!(ids, [&lab["id"]]);
    assert_eq!(
        names(&snapshot["queues"]),
        ["Help", "Lab"],
        "the queue list stays complete"
    );
    let since = lab_seq - 2;
    let url = format!("{}&queues=2", app.ws_url(&grace.access, Some(since)));
    let mut resumed = app.ws_at(&url, None).await;
    assert_eq!(resumed.next().await["type"], "resume");
    let replayed: Vec<Value> = resumed
        .drain(std::time::Duration::from_millis(300))
        .await
        .into_iter()
        .filter(|m| m["type"] == "event")
        .collect();
    let kinds: Vec<&str> = replayed.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["ticket.created", "queue.updated"], "{replayed:?}");
    assert_eq!(replayed[0]["data"]["id"], lab["id"]);
    let unknown = app.ws_url(&grace.access, None) + "&queues=1,9";
    let reply = app
        .client
        .get(unknown.replace("ws://", "http://"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 400);
}

#[actix_web::test]
async fn owners_are_told_their_place_with_its_queue() {
    let app = spawn_app().await;
    let director = app.director().await;
    make_queue(&app, &director, json!({"name": "Lab"})).await;
    let ada = app.hacker("Ada").await;
    let ticket = app.open_ticket(&ada, "LED", json!({"queue": 2})).await;
    let mut ws = app.ws(&ada, None).await;
    ws.next_of("snapshot").await;
    let presence = ws.next_of("presence").await;
    assert_eq!(presence["mentors_online"], 0);
    let position = ws.next_of("position").await;
    assert_eq!(position["ticket"], ticket["id"]);
    assert_eq!(
        (position["queue"].as_u64(), position["position"].as_u64()),
        (Some(2), Some(1))
    );
}
