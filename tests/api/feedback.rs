use crate::helpers::*;
use serde_json::{json, Value};

/// A ticket of `owner` that `mentor` claimed and closed; returns its id.
async fn helped(app: &TestApp, owner: &Login, mentor: &Login) -> u64 {
    let t = app
        .post(
            "/api/tickets/",
            Some(&owner.access),
            json!({"title": "t", "location": "l"}),
        )
        .await;
    let id = t.body["id"].as_u64().unwrap();
    let path = format!("/api/tickets/{id}/");
    assert_eq!(
        app.patch(&path, &mentor.access, json!({"status": "CLAIMED"}))
            .await
            .status,
        200
    );
    assert_eq!(
        app.patch(&path, &mentor.access, json!({"status": "CLOSED"}))
            .await
            .status,
        200
    );
    id
}

async fn rate(app: &TestApp, who: &Login, ticket: u64, rating: i64) -> Reply {
    app.post(
        "/api/feedback/",
        Some(&who.access),
        json!({"ticket": ticket, "rating": rating, "comments": "thanks"}),
    )
    .await
}

#[actix_web::test]
async fn the_owner_rates_a_closed_ticket_once() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let grace = app.mentor("Grace").await;
    let t = helped(&app, &ada, &grace).await;
    let reply = rate(&app, &ada, t, 5).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["mentor_email"], "grace@example.org");
    // Absolute, under the host the request came to.
    assert_eq!(
        reply.body["ticket_url"],
        format!("{}/api/tickets/{t}/", app.address)
    );
    let ticket = app.get(&format!("/api/tickets/{t}/"), &ada.access).await;
    assert_eq!(
        ticket.body["feedback"],
        format!("{}/api/feedback/{t}/", app.address)
    );
    assert_eq!(ticket.body["url"], format!("{}/api/tickets/{t}/", app.address));
    let again = rate(&app, &ada, t, 4).await;
    assert_eq!((again.status.as_u16(), again.code()), (409, "feedback_exists"));
}

#[actix_web::test]
async fn feedback_rules_are_enforced() {
    let app = spawn_app_with(|c| c.queue.max_active_tickets = 5).await;
    let ada = app.hacker("Ada").await;
    let eve = app.hacker("Eve").await;
    let grace = app.mentor("Grace").await;
    let t = helped(&app, &ada, &grace).await;
    assert_eq!(rate(&app, &eve, t, 5).await.status, 404, "only the owner");
    assert_eq!(rate(&app, &grace, t, 5).await.status, 404, "not even the mentor");
    for bad in [0, 6] {
        assert_eq!(rate(&app, &ada, t, bad).await.code(), "validation_failed");
    }
    let open = app
        .post(
            "/api/tickets/",
            Some(&ada.access),
            json!({"title": "t", "location": "l"}),
        )
        .await;
    let open_id = open.body["id"].as_u64().unwrap();
    assert_eq!(rate(&app, &ada, open_id, 5).await.code(), "invalid_transition");
    app.patch(
        &format!("/api/tickets/{open_id}/"),
        &ada.access,
        json!({"status": "CLOSED"}),
    )
    .await;
    assert_eq!(
        rate(&app, &ada, open_id, 5).await.code(),
        "invalid_transition",
        "closed without a mentor"
    );
    assert_eq!(rate(&app, &ada, 999, 5).await.status, 404);
}

#[actix_web::test]
async fn feedback_is_visible_to_managers_and_the_owner() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let eve = app.hacker("Eve").await;
    let grace = app.mentor("Grace").await;
    let director = app.director().await;
    let t = helped(&app, &ada, &grace).await;
    rate(&app, &ada, t, 4).await;
    assert_eq!(
        app.get("/api/feedback/", &director.access)
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        app.get("/api/feedback/", &ada.access)
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(app.get("/api/feedback/", &eve.access).await.body, json!([]));
    let path = format!("/api/feedback/{t}/");
    assert_eq!(app.get(&path, &ada.access).await.body["rating"], 4);
    assert_eq!(app.get(&path, &director.access).await.status, 200);
    assert_eq!(app.get(&path, &eve.access).await.status, 404);
}

#[actix_web::test]
async fn the_leaderboard_orders_mentors_and_bounds_its_limit() {
    let app = spawn_app_with(|c| c.queue.max_active_tickets = 5).await;
    let grace = app.mentor("Grace").await;
    let alan = app.mentor("Alan").await;
    let ada = app.hacker("Ada").await;
    let bob = app.hacker("Bob").await;
    let t1 = helped(&app, &ada, &grace).await;
    let t2 = helped(&app, &bob, &grace).await;
    let t3 = helped(&app, &ada, &alan).await;
    rate(&app, &ada, t1, 4).await;
    rate(&app, &bob, t2, 5).await;
    rate(&app, &ada, t3, 5).await;
    let board = app.get("/api/feedback/leaderboard/", &bob.access).await;
    assert_eq!(board.status, 200);
    let rows = board.body.as_array().unwrap();
    assert_eq!(rows[0]["mentor"], "alan@example.org");
    assert_eq!(rows[0]["average_rating"], 5.0);
    assert_eq!(rows[1]["mentor_name"], "Grace");
    assert_eq!(rows[1]["average_rating"], 4.5);
    assert_eq!(rows[1]["count"], 2);
    let one = app.get("/api/feedback/leaderboard/?limit=1", &bob.access).await;
    assert_eq!(one.body.as_array().unwrap().len(), 1);
    for bad in ["0", "101", "x"] {
        let reply = app
            .get(&format!("/api/feedback/leaderboard/?limit={bad}"), &bob.access)
            .await;
        assert_eq!(reply.status, 400, "limit={bad}");
    }
    let hundred = app.get("/api/feedback/leaderboard/?limit=100", &bob.access).await;
    assert_eq!(hundred.status, 200);
}

#[actix_web::test]
async fn statistics_match_the_tickets_and_managers_see_them_all() {
    let app = spawn_app_with(|c| c.queue.max_active_tickets = 5).await;
    let ada = app.hacker("Ada").await;
    let grace = app.mentor("Grace").await;
    let organizer = app.organizer("Olga").await;
    let empty = app.get("/api/tickets/stats/", &organizer.access).await;
    assert_eq!(empty.body["average_claimed_datetime_seconds"], Value::Null);
    assert_eq!(empty.body["p90_wait_seconds"], Value::Null);
    assert_eq!(empty.body["total"], 0);

    let t = helped(&app, &ada, &grace).await;
    rate(&app, &ada, t, 3).await;
    app.post(
        "/api/tickets/",
        Some(&ada.access),
        json!({"title": "t2", "location": "l"}),
    )
    .await;
    let stats = app.get("/api/tickets/stats/", &organizer.access).await;
    assert_eq!(stats.status, 200);
    assert_eq!(stats.body["total"], 2);
    assert_eq!(
        stats.body["counts"],
        json!({"OPEN": 1, "CLAIMED": 0, "CLOSED": 1, "CANCELLED": 0})
    );
    assert!(stats.body["median_wait_seconds"].as_f64().unwrap() >= 0.0);
    let mentors = stats.body["mentors"].as_array().unwrap();
    assert_eq!(mentors.len(), 1);
    assert_eq!(mentors[0]["mentor_email"], "grace@example.org");
    assert_eq!(
        (mentors[0]["claimed"].clone(), mentors[0]["closed"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(mentors[0]["average_rating"], 3.0);
    // HackRU mentorq's director keys beside them.
    for (key, value) in [
        ("Total tickets", json!(2)),
        ("Open tickets", json!(1)),
        ("Claimed tickets", json!(0)),
        ("Closed Tickets", json!(1)),
        ("Cancelled Tickets", json!(0)),
        ("Number of mentors", json!(1)),
        ("Number of users", json!(4)), // with the director who granted the roles
        ("Average Rating", json!({"rating__avg": 3.0})),
    ] {
        assert_eq!(stats.body[key], value, "{key}");
    }
    assert_eq!(empty.body["Average Rating"], json!({"rating__avg": null}));

    // Participants and mentors read the public part, in HackRU's keys.
    for who in [&ada, &grace] {
        let public = app.get("/api/tickets/stats/", &who.access).await;
        assert_eq!(public.status, 200);
        let keys: Vec<&String> = public.body.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "Total tickets",
                "average_claimed_datetime_seconds",
                "average_closed_datetime_seconds"
            ]
        );
        assert_eq!(public.body["Total tickets"], 2);
        assert_eq!(
            public.body["average_closed_datetime_seconds"],
            stats.body["average_closed_datetime_seconds"]
        );
    }
}

#[actix_web::test]
async fn the_owner_corrects_feedback_within_a_day_and_not_after() {
    let clock = manual_clock();
    let app = spawn_app_with_clock(|_| {}, std::sync::Arc::new(clock.clone())).await;
    let ada = app.hacker("Ada").await;
    let eve = app.hacker("Eve").await;
    let grace = app.mentor("Grace").await;
    let director = app.director().await;
    let t = helped(&app, &ada, &grace).await;
    assert_eq!(rate(&app, &ada, t, 2).await.status, 201);
    let mut watcher = app.ws(&grace, None).await;
    watcher.next_of("snapshot").await;
    let path = format!("/api/feedback/{t}/");

    clock.advance(chrono::Duration::hours(23));
    // Access tokens last 15 minutes of this clock: sign in afresh.
    let (ada, eve, director) = (
        app.login(&ada.email).await,
        app.login(&eve.email).await,
        app.login(&director.email).await,
    );
    let fixed = app.patch(&path, &ada.access, json!({"rating": 4})).await;
    assert_eq!(fixed.status, 200, "{}", fixed.body);
    assert_eq!(
        (fixed.body["rating"].clone(), fixed.body["comments"].clone()),
        (json!(4), json!("thanks"))
    );
    let pushed = watcher.next_event("feedback.updated").await;
    assert_eq!(pushed["data"]["rating"], 4, "the mentor is told: {pushed}");
    let stored = app.get(&path, &director.access).await;
    assert_eq!(stored.body["rating"], 4);
    // Only its writer may change it: a manager is refused, anyone else finds nothing.
    let by_manager = app.patch(&path, &director.access, json!({"rating": 5})).await;
    assert_eq!(
        (by_manager.status.as_u16(), by_manager.code()),
        (403, "permission_denied")
    );
    assert_eq!(
        app.patch(&path, &eve.access, json!({"rating": 5})).await.status,
        404
    );
    let bad = app.patch(&path, &ada.access, json!({"rating": 6})).await;
    assert_eq!(
        bad.body["fields"]["rating"],
        json!(["must be a whole number from 1 to 5"])
    );

    clock.advance(chrono::Duration::hours(2));
    let ada = app.login(&ada.email).await;
    let late = app
        .patch(&path, &ada.access, json!({"comments": "too late"}))
        .await;
    assert_eq!((late.status.as_u16(), late.code()), (409, "invalid_transition"));
    assert_eq!(app.get(&path, &ada.access).await.body["comments"], "thanks");
}
