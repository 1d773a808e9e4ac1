use crate::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};

async fn open_ticket(app: &TestApp, who: &Login, title: &str) -> Value {
    app.open_ticket(who, title, json!({})).await
}

fn id(ticket: &Value) -> u64 {
    ticket["id"].as_u64().unwrap()
}

async fn set_status(app: &TestApp, who: &Login, ticket: u64, status: &str) -> Reply {
    app.change_ticket(who, ticket, json!({ "status": status })).await
}

#[actix_web::test]
async fn a_participant_opens_a_ticket_at_the_end_of_the_queue() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let ticket = open_ticket(&app, &ada, "Segfault in parser").await;
    assert_eq!(ticket["status"], "OPEN");
    assert_eq!(ticket["owner_email"], "ada@example.org");
    assert_eq!(ticket["owner"], "Ada");
    assert_eq!(ticket["mentor"], "");
    assert_eq!(ticket["active"], true);
    assert_eq!(ticket["position"], 1);
    assert_eq!(ticket["claimed_datetime"], Value::Null);
    assert_eq!(ticket["feedback"], "");
    assert!(ticket["created_datetime"].as_str().unwrap().ends_with('Z'));
}

#[actix_web::test]
async fn a_ticket_is_validated_field_by_field() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let reply = app
        .post(
            "/api/tickets/",
            Some(&ada.access),
            json!({"title": "  ", "comment": "c".repeat(2001), "status": "CLOSED"}),
        )
        .await;
    assert_eq!(reply.status, 400);
    for field in ["title", "location", "comment", "status"] {
        assert!(reply.body["fields"][field].is_array(), "{field}: {}", reply.body);
    }
    let wrong_type = app
        .post(
            "/api/tickets/",
            Some(&ada.access),
            json!({"title": 5, "location": "x"}),
        )
        .await;
    assert_eq!(wrong_type.code(), "validation_failed");
}

#[actix_web::test]
async fn a_ticket_can_only_be_opened_for_oneself() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let reply = app
        .post(
            "/api/tickets/",
            Some(&ada.access),
            json!({"title": "t", "location": "l", "owner_email": "eve@example.org"}),
        )
        .await;
    assert_eq!(reply.status, 403);
    let mine = app
        .post(
            "/api/tickets/",
            Some(&ada.access),
            json!({"title": "t", "location": "l", "owner_email": "ADA@example.org", "status": "OPEN"}),
        )
        .await;
    assert_eq!(mine.status, 201);
}

#[actix_web::test]
async fn one_active_ticket_per_participant_by_default() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let first = open_ticket(&app, &ada, "first").await;
    let second = app
        .post(
            "/api/tickets/",
            Some(&ada.access),
            json!({"title": "second", "location": "l"}),
        )
        .await;
    assert_eq!(second.status, 409);
    assert_eq!(second.code(), "too_many_active_tickets");
    set_status(&app, &ada, id(&first), "CANCELLED").await;
    open_ticket(&app, &ada, "third").await;
}

#[actix_web::test]
async fn a_closed_queue_refuses_new_tickets() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let director = app.director().await;
    let closed = app
        .patch(
            "/api/queue/",
            &director.access,
            json!({"open": false, "message": "Back at 9"}),
        )
        .await;
    assert_eq!(closed.status, 200);
    assert_eq!(closed.body["open"], false);
    let reply = app
        .post(
            "/api/tickets/",
            Some(&ada.access),
            json!({"title": "t", "location": "l"}),
        )
        .await;
    assert_eq!(reply.status, 409);
    assert_eq!(reply.code(), "queue_closed");
    assert!(reply.body["detail"].as_str().unwrap().contains("Back at 9"));
}

#[actix_web::test]
async fn a_participant_never_sees_another_participants_ticket() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let eve = app.hacker("Eve").await;
    let ticket = open_ticket(&app, &ada, "private").await;
    let path = format!("/api/tickets/{}/", id(&ticket));
    assert_eq!(app.get(&path, &eve.access).await.status, 404);
    assert_eq!(
        app.patch(&path, &eve.access, json!({"status": "CANCELLED"}))
            .await
            .status,
        404
    );
    assert_eq!(
        app.patch(&path, &eve.access, json!({"title": "mine now"}))
            .await
            .status,
        404
    );
    let list = app.get("/api/tickets/", &eve.access).await;
    assert_eq!(list.body, json!([]));
    assert_eq!(app.get(&path, &ada.access).await.status, 200);
}

#[actix_web::test]
async fn staff_see_every_ticket_and_filters_apply() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let eve = app.hacker("Eve").await;
    let grace = app.mentor("Grace").await;
    let a = open_ticket(&app, &ada, "a").await;
    open_ticket(&app, &eve, "e").await;
    set_status(&app, &grace, id(&a), "CLAIMED").await;

    let all = app.get("/api/tickets/", &grace.access).await;
    let titles: Vec<&str> = all
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["a", "e"], "creation order");
    let open = app.get("/api/tickets/?status=OPEN", &grace.access).await;
    assert_eq!(open.body.as_array().unwrap().len(), 1);
    let both = app.get("/api/tickets/?status=OPEN,CLAIMED", &grace.access).await;
    assert_eq!(both.body.as_array().unwrap().len(), 2);
    let mine = app.get("/api/tickets/?mine=true", &grace.access).await;
    assert_eq!(mine.body, json!([]));
    let bad = app.get("/api/tickets/?status=DONE", &grace.access).await;
    assert_eq!(bad.code(), "validation_failed");
}

#[actix_web::test]
async fn a_mentor_claims_unclaims_and_closes() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let grace = app.mentor("Grace").await;
    let t = id(&open_ticket(&app, &ada, "help").await);

    let claimed = set_status(&app, &grace, t, "CLAIMED").await;
    assert_eq!(claimed.status, 200);
    assert_eq!(claimed.body["mentor"], "Grace");
    assert_eq!(claimed.body["mentor_email"], "grace@example.org");
    assert!(claimed.body["claimed_datetime"].is_string());
    assert_eq!(claimed.body["position"], Value::Null);

    let retried = set_status(&app, &grace, t, "CLAIMED").await;
    assert_eq!(retried.status, 200, "a retried claim is a no-op");

    let unclaimed = set_status(&app, &grace, t, "OPEN").await;
    assert_eq!(unclaimed.body["mentor"], "");
    assert_eq!(unclaimed.body["position"], 1);

    set_status(&app, &grace, t, "CLAIMED").await;
    let closed = set_status(&app, &grace, t, "CLOSED").await;
    assert_eq!(closed.status, 200);
    assert!(closed.body["closed_datetime"].is_string());
    assert_eq!(closed.body["active"], false);

    let reopened = set_status(&app, &grace, t, "OPEN").await;
    assert_eq!(reopened.status, 409);
    assert_eq!(reopened.code(), "invalid_transition");
}

#[actix_web::test]
async fn a_claimed_ticket_names_its_holder_to_other_mentors() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let grace = app.mentor("Grace").await;
    let alan = app.mentor("Alan").await;
    let t = id(&open_ticket(&app, &ada, "help").await);
    set_status(&app, &grace, t, "CLAIMED").await;
    let reply = set_status(&app, &alan, t, "CLAIMED").await;
    assert_eq!(reply.status, 409);
    assert_eq!(reply.code(), "already_claimed");
    assert!(reply.body["detail"].as_str().unwrap().contains("Grace"));
    let unclaim = set_status(&app, &alan, t, "OPEN").await;
    assert_eq!(unclaim.status, 403);
}

#[actix_web::test]
async fn the_owner_cancels_and_participants_cannot_claim() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let t = id(&open_ticket(&app, &ada, "help").await);
    let claim = set_status(&app, &ada, t, "CLAIMED").await;
    assert_eq!(claim.status, 403);
    assert_eq!(claim.code(), "permission_denied");
    let cancelled = set_status(&app, &ada, t, "CANCELLED").await;
    assert_eq!(cancelled.body["status"], "CANCELLED");
    assert_eq!(
        set_status(&app, &ada, t, "OPEN").await.code(),
        "invalid_transition"
    );
}

#[actix_web::test]
async fn the_owner_edits_an_open_ticket_and_only_the_owner() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let grace = app.mentor("Grace").await;
    let t = id(&open_ticket(&app, &ada, "help").await);
    let path = format!("/api/tickets/{t}/");
    let edited = app
        .patch(
            &path,
            &ada.access,
            json!({"title": "Better title", "contact": "table 7"}),
        )
        .await;
    assert_eq!(edited.status, 200);
    assert_eq!(edited.body["title"], "Better title");
    assert_eq!(edited.body["contact"], "table 7");
    assert_eq!(
        app.patch(&path, &grace.access, json!({"title": "x"}))
            .await
            .status,
        403
    );
    set_status(&app, &grace, t, "CLAIMED").await;
    assert_eq!(
        app.patch(&path, &ada.access, json!({"title": "y"})).await.code(),
        "invalid_transition"
    );
    let too_long = app
        .patch(&path, &ada.access, json!({"title": "x".repeat(256)}))
        .await;
    assert_eq!(too_long.code(), "validation_failed");
}

#[actix_web::test]
async fn a_claim_for_someone_else_is_forbidden() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let grace = app.mentor("Grace").await;
    let t = id(&open_ticket(&app, &ada, "help").await);
    let reply = app
        .patch(
            &format!("/api/tickets/{t}/"),
            &grace.access,
            json!({"status": "CLAIMED", "mentor_email": "alan@example.org"}),
        )
        .await;
    assert_eq!(reply.status, 403);
}

#[actix_web::test]
async fn tickets_cannot_be_deleted() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let t = id(&open_ticket(&app, &ada, "help").await);
    let reply = app
        .call(
            Method::DELETE,
            &format!("/api/tickets/{t}/"),
            Some(&ada.access),
            None,
        )
        .await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.code(), "method_not_allowed");
}

#[actix_web::test]
async fn positions_move_up_and_an_unclaimed_ticket_keeps_its_place() {
    let app = spawn_app().await;
    let grace = app.mentor("Grace").await;
    let mut ids = Vec::new();
    let mut people = Vec::new();
    for name in ["Ann", "Bob", "Cyd"] {
        let who = app.hacker(name).await;
        ids.push(id(&open_ticket(&app, &who, name).await));
        people.push(who);
    }
    let position = |i: usize| {
        let (app, who, t) = (&app, people[i].clone(), ids[i]);
        async move { app.get(&format!("/api/tickets/{t}/"), &who.access).await.body["position"].clone() }
    };
    assert_eq!((position(0).await, position(2).await), (json!(1), json!(3)));
    set_status(&app, &grace, ids[0], "CLAIMED").await;
    assert_eq!((position(1).await, position(2).await), (json!(1), json!(2)));
    set_status(&app, &grace, ids[0], "OPEN").await;
    assert_eq!((position(0).await, position(1).await), (json!(1), json!(2)));
}

#[actix_web::test]
async fn the_wait_is_estimated_only_with_a_mentor_online() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let bob = app.hacker("Bob").await;
    open_ticket(&app, &ada, "first").await;
    let queue = app.get("/api/queue/", &ada.access).await;
    assert_eq!(queue.body["mentors_online"], 0);
    assert_eq!(queue.body["estimated_wait_seconds"], Value::Null);
    assert_eq!(queue.body["open_count"], 1);

    // A mentor is online while they hold a live connection.
    let grace = app.mentor("Grace").await;
    let mut board = app.ws(&grace, None).await;
    board.next_of("presence").await;
    let queue = app.get("/api/queue/", &ada.access).await;
    assert_eq!(queue.body["mentors_online"], 1);
    // One ticket ahead, one mentor, no measured service time yet: the default 600 s.
    assert_eq!(queue.body["estimated_wait_seconds"], 600.0);
    let second = open_ticket(&app, &bob, "second").await;
    assert_eq!(second["position"], 2);
    assert_eq!(second["estimated_wait_seconds"], 600.0);
    board.close().await;
}

#[actix_web::test]
async fn of_twenty_simultaneous_claims_exactly_one_wins() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let t = id(&open_ticket(&app, &ada, "contested").await);
    let mut mentors = Vec::new();
    for i in 0..20 {
        mentors.push(app.mentor(&format!("Mentor {i}")).await);
    }
    let claims = mentors.iter().map(|m| set_status(&app, m, t, "CLAIMED"));
    let replies = futures_util::future::join_all(claims).await;
    let winners: Vec<usize> = (0..20).filter(|i| replies[*i].status == 200).collect();
    assert_eq!(winners.len(), 1, "exactly one 200");
    let losers = replies
        .iter()
        .filter(|r| r.status == 409 && r.code() == "already_claimed")
        .count();
    assert_eq!(losers, 19);
    let stored = app.get(&format!("/api/tickets/{t}/"), &ada.access).await;
    assert_eq!(stored.body["mentor_email"], mentors[winners[0]].email.as_str());
}

#[actix_web::test]
async fn slack_dm_links_to_the_other_party() {
    let app = spawn_app_with(|c| c.slack.team_id = Some("T0001".into())).await;
    let ada = app.hacker("Ada").await;
    let grace = app.mentor("Grace").await;
    app.patch("/api/me/", &ada.access, json!({"slack_id": "UADA"}))
        .await;
    app.patch("/api/me/", &grace.access, json!({"slack_id": "UGRACE"}))
        .await;
    let t = id(&open_ticket(&app, &ada, "help").await);
    let path = format!("/api/tickets/{t}/slack-dm/");
    let none = app.get(&path, &ada.access).await;
    assert_eq!((none.status.as_u16(), none.code()), (404, "slack_unavailable"));
    set_status(&app, &grace, t, "CLAIMED").await;
    let for_owner = app.get(&path, &ada.access).await;
    assert_eq!(
        for_owner.body["slack_dm_link"],
        "slack://user?team=T0001&id=UGRACE"
    );
    let for_mentor = app.get(&path, &grace.access).await;
    assert_eq!(
        for_mentor.body["slack_dm_link"],
        "slack://user?team=T0001&id=UADA"
    );
}

#[actix_web::test]
async fn a_retried_create_with_the_same_idempotency_key_returns_the_same_ticket() {
    let app = spawn_app_with(|c| c.queue.max_active_tickets = 5).await;
    let ada = app.hacker("Ada").await;
    let send = || {
        app.client
            .post(format!("{}/api/tickets/", app.address))
            .bearer_auth(&ada.access)
            .header("Idempotency-Key", "create-1")
            .json(&json!({"title": "once", "location": "l"}))
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let second = send().await.unwrap();
    assert_eq!(second.status(), 201);
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    let second: Value = second.json().await.unwrap();
    assert_eq!(first["id"], second["id"]);
    let list = app.get("/api/tickets/", &ada.access).await;
    assert_eq!(list.body.as_array().unwrap().len(), 1, "acted once");
}

#[actix_web::test]
async fn writes_over_the_per_minute_limit_get_429_with_retry_after() {
    let app = spawn_app_with(|c| c.queue.writes_per_minute = 3).await;
    let ada = app.hacker("Ada").await;
    for _ in 0..3 {
        assert_eq!(
            app.patch("/api/me/", &ada.access, json!({"phone": "1"}))
                .await
                .status,
            200
        );
    }
    let limited = app.patch("/api/me/", &ada.access, json!({"phone": "1"})).await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.code(), "rate_limited");
    let retry_after: u64 = limited.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after));
    assert_eq!(
        app.get("/api/me/", &ada.access).await.status,
        200,
        "reads are not limited"
    );
}
