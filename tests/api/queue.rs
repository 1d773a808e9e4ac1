use crate::helpers::*;
use serde_json::json;

#[actix_web::test]
async fn only_managers_open_and_close_the_queue() {
    let app = spawn_app().await;
    let grace = app.mentor("Grace").await;
    let organizer = app.organizer("Olga").await;
    let denied = app
        .patch("/api/queue/", &grace.access, json!({"open": false}))
        .await;
    assert_eq!(denied.status, 403);
    let reply = app
        .patch(
            "/api/queue/",
            &organizer.access,
            json!({"message": "Lunch until 13:00"}),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["open"], true, "what is not mentioned stays");
    assert_eq!(reply.body["message"], "Lunch until 13:00");
    let seen = app.get("/api/queue/", &grace.access).await;
    assert_eq!(seen.body["message"], "Lunch until 13:00");
    let bad = app
        .patch("/api/queue/", &organizer.access, json!({"open": "yes"}))
        .await;
    assert_eq!(bad.code(), "validation_failed");
}

#[actix_web::test]
async fn announcements_are_posted_by_managers_and_listed_newest_first() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let director = app.director().await;
    let denied = app
        .post("/api/announcements/", Some(&ada.access), json!({"text": "hi"}))
        .await;
    assert_eq!(denied.status, 403);
    for text in ["first", "second"] {
        let reply = app
            .post(
                "/api/announcements/",
                Some(&director.access),
                json!({ "text": text }),
            )
            .await;
        assert_eq!(reply.status, 201);
        assert_eq!(reply.body["author"], "Dee Rector");
    }
    let list = app.get("/api/announcements/", &ada.access).await;
    let texts: Vec<&str> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["second", "first"]);
    let long = app
        .post(
            "/api/announcements/",
            Some(&director.access),
            json!({"text": "x".repeat(1001)}),
        )
        .await;
    assert_eq!(long.code(), "validation_failed");
}
