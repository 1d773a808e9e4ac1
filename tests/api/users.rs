use crate::helpers::*;
use reqwest::Method;
use serde_json::json;

#[actix_web::test]
async fn the_profile_can_be_edited() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let reply = app
        .patch(
            "/api/me/",
            &ada.access,
            json!({"slack_id": "U123", "phone": "555", "name": "Ada L."}),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["slack_id"], "U123");
    assert_eq!(reply.body["name"], "Ada L.");
    let cleared = app.patch("/api/me", &ada.access, json!({"phone": ""})).await;
    assert_eq!(cleared.body["phone"], serde_json::Value::Null);
    assert_eq!(cleared.body["slack_id"], "U123");
}

#[actix_web::test]
async fn bootstrap_directors_hold_the_director_role() {
    let app = spawn_app().await;
    let director = app.director().await;
    let me = app.get("/api/me/", &director.access).await;
    assert_eq!(me.body["roles"], json!(["hacker", "director"]));
}

#[actix_web::test]
async fn a_role_change_takes_effect_on_the_next_request() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let director = app.director().await;
    let denied = app.get("/api/users/?role=mentor", &ada.access).await;
    assert_eq!(denied.status, 403);
    let reply = app
        .call(
            Method::PUT,
            &format!("/api/users/{}/roles/", ada.id),
            Some(&director.access),
            Some(json!({"roles": ["organizer"]})),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["roles"], json!(["hacker", "organizer"]));
    // The same access token, issued before the change, now carries the new role.
    let allowed = app.get("/api/users/", &ada.access).await;
    assert_eq!(allowed.status, 200);
    assert!(allowed.body.as_array().unwrap().len() >= 2);
}

#[actix_web::test]
async fn users_can_be_filtered_by_role() {
    let app = spawn_app().await;
    app.mentor("Grace").await;
    app.hacker("Ada").await;
    let director = app.director().await;
    let mentors = app.get("/api/users/?role=mentor", &director.access).await;
    let names: Vec<&str> = mentors
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Grace"]);
    let bad = app.get("/api/users/?role=wizard", &director.access).await;
    assert_eq!(bad.code(), "validation_failed");
}

#[actix_web::test]
async fn a_director_may_not_remove_their_own_director_role() {
    let app = spawn_app().await;
    let director = app.director().await;
    let reply = app
        .call(
            Method::PUT,
            &format!("/api/users/{}/roles", director.id),
            Some(&director.access),
            Some(json!({"roles": ["mentor"]})),
        )
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.code(), "permission_denied");
    let me = app.get("/api/me/", &director.access).await;
    assert_eq!(me.body["roles"], json!(["hacker", "director"]));
}

#[actix_web::test]
async fn only_directors_change_roles() {
    let app = spawn_app().await;
    let organizer = app.organizer("Olga").await;
    let ada = app.hacker("Ada").await;
    let reply = app
        .call(
            Method::PUT,
            &format!("/api/users/{}/roles/", ada.id),
            Some(&organizer.access),
            Some(json!({"roles": ["mentor"]})),
        )
        .await;
    assert_eq!(reply.status, 403);
    let unknown = app
        .call(
            Method::PUT,
            "/api/users/999/roles/",
            Some(&app.director().await.access),
            Some(json!({"roles": []})),
        )
        .await;
    assert_eq!(unknown.status, 404);
}
