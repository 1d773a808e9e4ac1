use crate::helpers::*;
use chrono::{Duration, TimeZone, Utc};
use mentorq::clock::ManualClock;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;

/// The tests' "now": 09:07 UTC on a fixed day, so every time below is in the future.
fn t0() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 10, 9, 7, 0).unwrap()
}

fn at(h: u32, m: u32) -> String {
    Utc.with_ymd_and_hms(2030, 1, 10, h, m, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

async fn clocked_app() -> (TestApp, ManualClock) {
    let clock = ManualClock::new(t0());
    // Tokens must outlive the hours these tests move the clock forward.
    let app = spawn_app_with_clock(
        |c| c.auth.access_ttl_seconds = 7 * 86_400,
        Arc::new(clock.clone()),
    )
    .await;
    (app, clock)
}

async fn publish(app: &TestApp, mentor: &Login, start: &str, end: &str) -> Reply {
    app.post(
        "/api/availability/",
        Some(&mentor.access),
        json!({"start_time": start, "end_time": end}),
    )
    .await
}

async fn book(app: &TestApp, mentee: &Login, chunk: u64, minutes: i64) -> Reply {
    app.post(
        "/api/sessions/",
        Some(&mentee.access),
        json!({"availability": chunk, "session_length": minutes, "topic": "Design review"}),
    )
    .await
}

fn ids(chunks: &Value) -> Vec<u64> {
    chunks
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_u64().unwrap())
        .collect()
}

#[actix_web::test]
async fn availability_is_cut_into_chunks_with_the_remainder_dropped() {
    let (app, _) = clocked_app().await;
    let grace = app.mentor("Grace").await;
    let reply = publish(&app, &grace, &at(14, 0), &at(15, 15)).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let chunks = reply.body.as_array().unwrap();
    assert_eq!(chunks.len(), 2);
    assert_eq!(chunks[0]["start_time"], at(14, 0));
    assert_eq!(chunks[1]["end_time"], at(15, 0));
    assert_eq!(chunks[0]["status"], "OPEN");
    assert_eq!(chunks[0]["mentor"], grace.id);
}

#[actix_web::test]
async fn availability_accepts_any_offset() {
    let (app, _) = clocked_app().await;
    let grace = app.mentor("Grace").await;
    let reply = publish(
        &app,
        &grace,
        "2030-01-10T15:00:00+01:00",
        "2030-01-10T16:00:00+01:00",
    )
    .await;
    assert_eq!(reply.status, 201);
    assert_eq!(reply.body[0]["start_time"], at(14, 0));
}

#[actix_web::test]
async fn bad_availability_is_refused_with_the_field_named() {
    let (app, _) = clocked_app().await;
    let grace = app.mentor("Grace").await;
    let cases = [
        (at(14, 10), at(15, 0), "start_time"),
        (at(8, 0), at(9, 0), "start_time"),
        (at(14, 0), at(13, 0), "end_time"),
        (at(14, 0), "2030-01-25T14:30:00Z".to_string(), "end_time"),
        ("yesterday".to_string(), at(15, 0), "start_time"),
    ];
    for (start, end, field) in cases {
        let reply = publish(&app, &grace, &start, &end).await;
        assert_eq!(reply.status, 400, "{start}..{end}");
        assert!(
            reply.body["fields"][field].is_array(),
            "{start}..{end}: {}",
            reply.body
        );
    }
    let hacker = app.hacker("Ada").await;
    assert_eq!(publish(&app, &hacker, &at(14, 0), &at(15, 0)).await.status, 403);
}

#[actix_web::test]
async fn overlapping_availability_is_refused_whole_and_adjacent_is_fine() {
    let (app, _) = clocked_app().await;
    let grace = app.mentor("Grace").await;
    publish(&app, &grace, &at(14, 0), &at(15, 0)).await;
    let overlap = publish(&app, &grace, &at(14, 30), &at(16, 0)).await;
    assert_eq!(
        (overlap.status.as_u16(), overlap.code()),
        (409, "availability_overlaps")
    );
    let all = app.get("/api/availability/", &grace.access).await;
    assert_eq!(all.body.as_array().unwrap().len(), 2, "nothing was created");
    assert_eq!(publish(&app, &grace, &at(15, 0), &at(16, 0)).await.status, 201);
    let alan = app.mentor("Alan").await;
    assert_eq!(
        publish(&app, &alan, &at(14, 0), &at(15, 0)).await.status,
        201,
        "another mentor's time"
    );
}

#[actix_web::test]
async fn availability_is_listed_in_time_order_with_filters() {
    let (app, clock) = clocked_app().await;
    let grace = app.mentor("Grace").await;
    let alan = app.mentor("Alan").await;
    publish(&app, &grace, &at(16, 0), &at(17, 0)).await;
    publish(&app, &alan, &at(10, 0), &at(11, 0)).await;
    let all = app.get("/api/availability/", &grace.access).await;
    let starts: Vec<&str> = all
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["start_time"].as_str().unwrap())
        .collect();
    assert_eq!(starts, [at(10, 0), at(10, 30), at(16, 0), at(16, 30)]);
    let mine = app
        .get(&format!("/api/availability/?mentor={}", grace.id), &grace.access)
        .await;
    assert_eq!(mine.body.as_array().unwrap().len(), 2);
    let window = app
        .get(
            &format!("/api/availability/?from={}&to={}", at(10, 15), at(16, 15)),
            &grace.access,
        )
        .await;
    assert_eq!(window.body.as_array().unwrap().len(), 3);
    clock.set(Utc.with_ymd_and_hms(2030, 1, 10, 12, 0, 0).unwrap());
    let future = app.get("/api/availability/?status=OPEN", &grace.access).await;
    assert_eq!(
        future.body.as_array().unwrap().len(),
        2,
        "ended chunks are left out by default"
    );
    let bad = app
        .get("/api/availability/?status=GONE&mentor=x", &grace.access)
        .await;
    assert!(bad.body["fields"]["status"].is_array() && bad.body["fields"]["mentor"].is_array());
}

#[actix_web::test]
async fn chunks_are_deleted_by_their_mentor_or_managers_only_while_open() {
    let (app, _) = clocked_app().await;
    let grace = app.mentor("Grace").await;
    let alan = app.mentor("Alan").await;
    let ada = app.hacker("Ada").await;
    let organizer = app.organizer("Olga").await;
    let chunks = ids(&publish(&app, &grace, &at(14, 0), &at(15, 30)).await.body);
    let delete = |who: &Login, id: u64| {
        let token = who.access.clone();
        let app = &app;
        async move {
            app.call(
                Method::DELETE,
                &format!("/api/availability/{id}/"),
                Some(&token),
                None,
            )
            .await
        }
    };
    assert_eq!(delete(&alan, chunks[0]).await.status, 403);
    assert_eq!(delete(&grace, chunks[0]).await.status, 204);
    assert_eq!(delete(&grace, chunks[0]).await.status, 404);
    assert_eq!(delete(&organizer, chunks[1]).await.status, 204);
    book(&app, &ada, chunks[2], 30).await;
    let in_use = delete(&grace, chunks[2]).await;
    assert_eq!((in_use.status.as_u16(), in_use.code()), (409, "slot_in_use"));
}

#[actix_web::test]
async fn a_booking_holds_its_chunks_until_confirmed_or_cancelled() {
    let (app, _) = clocked_app().await;
    let grace = app.mentor("Grace").await;
    let ada = app.hacker("Ada").await;
    let chunks = ids(&publish(&app, &grace, &at(14, 0), &at(15, 0)).await.body);
    let session = book(&app, &ada, chunks[0], 60).await;
    assert_eq!(session.status, 201, "{}", session.body);
    assert_eq!(session.body["status"], "PENDING");
    assert_eq!(session.body["availability"], json!(chunks));
    assert_eq!(session.body["mentor_name"], "Grace");
    assert_eq!(session.body["mentee_name"], "Ada");
    assert_eq!(session.body["end_time"], at(15, 0));
    assert_eq!(session.body["meeting_url"], Value::Null);
    let held = app.get("/api/availability/?status=REQUESTED", &ada.access).await;
    assert_eq!(held.body.as_array().unwrap().len(), 2);

    let path = format!("/api/sessions/{}/", session.body["id"]);
    let by_mentee = app
        .patch(&path, &ada.access, json!({"status": "CONFIRMED"}))
        .await;
    assert_eq!(by_mentee.status, 403);
    let stranger = app.hacker("Eve").await;
    assert_eq!(
        app.patch(&path, &stranger.access, json!({"status": "CANCELLED"}))
            .await
            .status,
        404
    );
    let confirmed = app
        .patch(&path, &grace.access, json!({"status": "CONFIRMED"}))
        .await;
    assert_eq!(confirmed.status, 200);
    let url = confirmed.body["meeting_url"].as_str().unwrap();
    assert!(
        url.starts_with("https://meet.jit.si/mentorq-") && url.len() > 40,
        "{url}"
    );
    let booked = app.get("/api/availability/?status=BOOKED", &ada.access).await;
    assert_eq!(booked.body.as_array().unwrap().len(), 2);
    let again = app
        .patch(&path, &grace.access, json!({"status": "CONFIRMED"}))
        .await;
    assert_eq!(again.code(), "invalid_transition");

    let cancelled = app
        .patch(
            &path,
            &ada.access,
            json!({"status": "CANCELLED", "reason": "sick"}),
        )
        .await;
    assert_eq!(cancelled.body["status"], "CANCELLED");
    let open = app.get("/api/availability/?status=OPEN", &ada.access).await;
    assert_eq!(open.body.as_array().unwrap().len(), 2, "chunks return to OPEN");
    let done = app
        .patch(&path, &ada.access, json!({"status": "COMPLETED"}))
        .await;
    assert_eq!(done.code(), "invalid_transition");
}

#[actix_web::test]
async fn booking_refusals_carry_their_codes() {
    let (app, _) = clocked_app().await;
    let grace = app.mentor("Grace").await;
    let alan = app.mentor("Alan").await;
    let ada = app.hacker("Ada").await;
    let g = ids(&publish(&app, &grace, &at(14, 0), &at(14, 30)).await.body);
    let a = ids(&publish(&app, &alan, &at(14, 0), &at(15, 0)).await.body);
    assert_eq!(book(&app, &grace, g[0], 30).await.status, 403, "own chunk");
    assert_eq!(
        book(&app, &ada, g[0], 60).await.code(),
        "slot_unavailable",
        "no next chunk"
    );
    assert_eq!(book(&app, &ada, g[0], 45).await.code(), "validation_failed");
    assert_eq!(book(&app, &ada, 999, 30).await.status, 404);
    assert_eq!(book(&app, &ada, g[0], 30).await.status, 201);
    assert_eq!(
        book(&app, &ada, g[0], 30).await.code(),
        "slot_unavailable",
        "already requested"
    );
    assert_eq!(book(&app, &ada, a[0], 30).await.code(), "mentee_busy");
    assert_eq!(book(&app, &ada, a[1], 30).await.status, 201, "adjacent is fine");
}

#[actix_web::test]
async fn of_fifty_simultaneous_requests_for_a_chunk_exactly_one_succeeds() {
    let (app, _) = clocked_app().await;
    let grace = app.mentor("Grace").await;
    let chunk = ids(&publish(&app, &grace, &at(14, 0), &at(14, 30)).await.body)[0];
    let mut mentees = Vec::new();
    for i in 0..50 {
        mentees.push(app.hacker(&format!("Mentee {i}")).await);
    }
    let replies = futures_util::future::join_all(mentees.iter().map(|m| book(&app, m, chunk, 30))).await;
    assert_eq!(replies.iter().filter(|r| r.status == 201).count(), 1);
    assert_eq!(
        replies.iter().filter(|r| r.code() == "slot_unavailable").count(),
        49
    );
}

#[actix_web::test]
async fn a_sixty_and_a_thirty_minute_request_racing_for_overlapping_chunks_one_wins() {
    let (app, _) = clocked_app().await;
    let grace = app.mentor("Grace").await;
    let chunks = ids(&publish(&app, &grace, &at(14, 0), &at(15, 0)).await.body);
    for round in 0..5 {
        let ada = app.hacker(&format!("Ada {round}")).await;
        let bob = app.hacker(&format!("Bob {round}")).await;
        let (long, short) = tokio::join!(book(&app, &ada, chunks[0], 60), book(&app, &bob, chunks[1], 30));
        let wins = [&long, &short].iter().filter(|r| r.status == 201).count();
        assert_eq!(wins, 1, "round {round}");
        // Free the chunks again for the next round.
        let winner = if long.status == 201 {
            (&long, &ada)
        } else {
            (&short, &bob)
        };
        let path = format!("/api/sessions/{}/", winner.0.body["id"]);
        assert_eq!(
            app.patch(&path, &winner.1.access, json!({"status": "CANCELLED"}))
                .await
                .status,
            200
        );
    }
}

#[actix_web::test]
async fn sessions_are_listed_upcoming_and_past_and_expire_on_time() {
    let (app, clock) = clocked_app().await;
    let grace = app.mentor("Grace").await;
    let ada = app.hacker("Ada").await;
    let chunks = ids(&publish(&app, &grace, &at(10, 0), &at(12, 0)).await.body);
    let early = book(&app, &ada, chunks[0], 30).await.body;
    let late = book(&app, &ada, chunks[2], 60).await.body;
    let upcoming = app.get("/api/sessions/?when=upcoming", &ada.access).await;
    assert_eq!(
        ids(&upcoming.body),
        vec![early["id"].as_u64().unwrap(), late["id"].as_u64().unwrap()]
    );
    let for_mentor = app.get("/api/sessions/", &grace.access).await;
    assert_eq!(for_mentor.body.as_array().unwrap().len(), 2);

    clock.set(Utc.with_ymd_and_hms(2030, 1, 10, 10, 0, 0).unwrap());
    let upcoming = app.get("/api/sessions/", &ada.access).await;
    assert_eq!(upcoming.body[0]["status"], "EXPIRED", "unconfirmed at its start");
    let reopened = app
        .get(
            &format!("/api/availability/?mentor={}&status=OPEN", grace.id),
            &ada.access,
        )
        .await;
    assert_eq!(
        reopened.body.as_array().unwrap().len(),
        2,
        "an expired session frees its chunks"
    );

    clock.set(Utc.with_ymd_and_hms(2030, 1, 10, 13, 0, 0).unwrap());
    let past = app.get("/api/sessions/?when=past", &ada.access).await;
    assert_eq!(
        ids(&past.body),
        vec![late["id"].as_u64().unwrap(), early["id"].as_u64().unwrap()],
        "descending"
    );
    assert_eq!(
        app.get("/api/sessions/?when=later", &ada.access).await.code(),
        "validation_failed"
    );
    assert_eq!(app.get("/api/sessions/?all=true", &ada.access).await.status, 403);
    let director = app.director().await;
    let all = app
        .get("/api/sessions/?when=past&all=true", &director.access)
        .await;
    assert_eq!(all.body.as_array().unwrap().len(), 2);
}

#[actix_web::test]
async fn a_confirmed_session_completes_at_its_end() {
    let (app, clock) = clocked_app().await;
    let grace = app.mentor("Grace").await;
    let ada = app.hacker("Ada").await;
    let chunk = ids(&publish(&app, &grace, &at(10, 0), &at(10, 30)).await.body)[0];
    let session = book(&app, &ada, chunk, 30).await.body;
    let path = format!("/api/sessions/{}/", session["id"]);
    app.patch(&path, &grace.access, json!({"status": "CONFIRMED"}))
        .await;
    clock.set(Utc.with_ymd_and_hms(2030, 1, 10, 10, 15, 0).unwrap());
    let during = app
        .patch(&path, &ada.access, json!({"status": "CANCELLED"}))
        .await;
    assert_eq!(during.code(), "invalid_transition", "not after the start");
    clock.advance(Duration::minutes(15));
    let past = app.get("/api/sessions/?when=past", &ada.access).await;
    assert_eq!(past.body[0]["status"], "COMPLETED");
}

#[actix_web::test]
async fn mentors_are_found_by_all_their_skills_with_their_next_open_chunks() {
    let (app, _) = clocked_app().await;
    let grace = app.mentor("Grace").await;
    let alan = app.mentor("Alan").await;
    let ada = app.hacker("Ada").await;
    let profile = app
        .call(
            Method::PUT,
            "/api/mentors/me/",
            Some(&grace.access),
            Some(json!({"about_me": "compilers", "skills": ["Rust", "CSS"], "team_number": 4})),
        )
        .await;
    assert_eq!(profile.status, 200);
    assert_eq!(profile.body["skills"], json!(["Rust", "CSS"]));
    app.call(
        Method::PUT,
        "/api/mentors/me",
        Some(&alan.access),
        Some(json!({"skills": ["rust"]})),
    )
    .await;
    let denied = app
        .call(
            Method::PUT,
            "/api/mentors/me/",
            Some(&ada.access),
            Some(json!({"skills": []})),
        )
        .await;
    assert_eq!(denied.status, 403);
    publish(&app, &grace, &at(10, 0), &at(14, 0)).await;

    let both = app.get("/api/mentors/?skill=rust&skill=css", &ada.access).await;
    let found = both.body.as_array().unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["name"], "Grace");
    assert_eq!(found[0]["next_open"].as_array().unwrap().len(), 5);
    let rust = app.get("/api/mentors/?skill=RUST", &ada.access).await;
    assert_eq!(rust.body.as_array().unwrap().len(), 2);
    let too_many = (0..31).map(|i| format!("s{i}")).collect::<Vec<_>>();
    let bad = app
        .call(
            Method::PUT,
            "/api/mentors/me/",
            Some(&grace.access),
            Some(json!({ "skills": too_many })),
        )
        .await;
    assert_eq!(bad.code(), "validation_failed");
}

#[actix_web::test]
async fn notification_settings_default_on_and_can_be_switched() {
    let (app, _) = clocked_app().await;
    let ada = app.hacker("Ada").await;
    let defaults = app.get("/api/notification-settings/", &ada.access).await;
    assert_eq!(
        defaults.body,
        json!({"session_requested": true, "session_confirmed": true, "session_cancelled": true,
               "fifteen_minute_alert": true, "sixty_minute_alert": true, "ticket_claimed": true,
               "email": true})
    );
    let changed = app
        .patch(
            "/api/notification-settings/",
            &ada.access,
            json!({"sixty_minute_alert": false}),
        )
        .await;
    assert_eq!(changed.body["sixty_minute_alert"], false);
    assert_eq!(changed.body["fifteen_minute_alert"], true);
    let read = app.get("/api/notification-settings", &ada.access).await;
    assert_eq!(read.body["sixty_minute_alert"], false);
    let bad = app
        .patch(
            "/api/notification-settings/",
            &ada.access,
            json!({"sixty_minute_alert": "no"}),
        )
        .await;
    assert_eq!(bad.code(), "validation_failed");
}

#[actix_web::test]
async fn concurrent_settings_changes_of_different_switches_both_hold() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    for round in 0..20 {
        let first = app.patch(
            "/api/notification-settings/",
            &ada.access,
            json!({"session_requested": false}),
        );
        let second = app.patch(
            "/api/notification-settings/",
            &ada.access,
            json!({"sixty_minute_alert": false}),
        );
        let (first, second) = tokio::join!(first, second);
        assert_eq!((first.status.as_u16(), second.status.as_u16()), (200, 200));
        let now = app.get("/api/notification-settings/", &ada.access).await;
        assert_eq!(
            (
                now.body["session_requested"].as_bool(),
                now.body["sixty_minute_alert"].as_bool()
            ),
            (Some(false), Some(false)),
            "round {round}: neither change was lost"
        );
        let reset = json!({"session_requested": true, "sixty_minute_alert": true});
        assert_eq!(
            app.patch("/api/notification-settings/", &ada.access, reset)
                .await
                .status,
            200
        );
    }
}
