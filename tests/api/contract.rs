//! The conventions of API.md that hold for every route.

use crate::helpers::*;
use reqwest::Method;
use serde_json::json;
use std::collections::BTreeSet;

#[actix_web::test]
async fn a_body_that_is_not_json_is_invalid_json() {
    let app = spawn_app().await;
    let reply = app
        .raw(Method::POST, "/api/auth/register/", None, b"{nope".to_vec())
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.code(), "invalid_json");
    let empty = app.raw(Method::POST, "/api/auth/token", None, Vec::new()).await;
    assert_eq!(empty.code(), "invalid_json");
}

#[actix_web::test]
async fn json_that_is_not_an_object_names_the_body() {
    let app = spawn_app().await;
    let reply = app
        .raw(Method::POST, "/api/auth/register/", None, b"[1, 2]".to_vec())
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.code(), "validation_failed");
    assert!(reply.body["fields"]["body"].is_array());
}

#[actix_web::test]
async fn a_field_of_the_wrong_type_is_named() {
    let app = spawn_app().await;
    let reply = app
        .post(
            "/api/auth/register/",
            None,
            json!({"email": 5, "password": "correct horse", "name": "A"}),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.code(), "validation_failed");
    assert!(reply.body["fields"]["email"].is_array(), "{}", reply.body);
}

#[actix_web::test]
async fn unknown_fields_are_ignored() {
    let app = spawn_app().await;
    let reply = app
        .post(
            "/api/auth/register/",
            None,
            json!({"email": "a@b.org", "password": "correct horse", "name": "A", "shoe_size": 44}),
        )
        .await;
    assert_eq!(reply.status, 201);
}

#[actix_web::test]
async fn an_oversize_body_is_413_json() {
    let app = spawn_app().await;
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(70 * 1024));
    let reply = app
        .raw(Method::POST, "/api/auth/register/", None, big.into_bytes())
        .await;
    assert_eq!(reply.status, 413);
    assert_eq!(reply.code(), "payload_too_large");
}

#[actix_web::test]
async fn unknown_routes_are_404_json() {
    let app = spawn_app().await;
    let reply = app.call(Method::GET, "/api/nothing-here/", None, None).await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.code(), "not_found");
    let content_type = reply.headers["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("application/json"), "{content_type}");
    let ada = app.hacker("Ada").await;
    let bad_id = app
        .call(Method::DELETE, "/api/auth/sessions/abc/", Some(&ada.access), None)
        .await;
    assert_eq!(bad_id.status, 404);
}

#[actix_web::test]
async fn a_known_route_with_an_unknown_method_is_405_json() {
    let app = spawn_app().await;
    let reply = app.call(Method::DELETE, "/api/auth/register/", None, None).await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.code(), "method_not_allowed");
    assert_eq!(
        reply.headers["allow"], "POST",
        "RFC 9110: a 405 names what is allowed"
    );
    let reply = app.call(Method::PUT, "/api/tickets/7/", None, None).await;
    assert_eq!(reply.headers["allow"], "GET, PATCH");
    let reply = app.call(Method::POST, "/ws", None, None).await;
    assert_eq!(
        (reply.status.as_u16(), reply.headers["allow"].to_str().unwrap()),
        (405, "GET")
    );
}

#[actix_web::test]
async fn every_route_answers_with_and_without_a_trailing_slash() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    for path in ["/api/me", "/api/me/", "/api/auth/sessions", "/api/auth/sessions/"] {
        let reply = app.get(path, &ada.access).await;
        assert_eq!(reply.status, 200, "{path}");
    }
    let no_slash = app
        .post(
            "/api/auth/register",
            None,
            json!({"email": "b@b.org", "password": "correct horse", "name": "B"}),
        )
        .await;
    assert_eq!(no_slash.status, 201, "no redirect, the route itself");
}

#[actix_web::test]
async fn health_and_readiness_answer() {
    let app = spawn_app().await;
    assert_eq!(app.call(Method::GET, "/healthz", None, None).await.status, 200);
    let ready = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.body["status"], "ready");
}

#[actix_web::test]
async fn the_openapi_document_lists_every_route_the_app_serves() {
    let app = spawn_app().await;
    let doc = app.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(doc.status, 200);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3."));
    let documented: BTreeSet<(String, String)> = doc.body["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect();
    let served: BTreeSet<(String, String)> = mentorq::http::routes()
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    let missing: Vec<_> = served.difference(&documented).collect();
    assert!(missing.is_empty(), "served but not documented: {missing:?}");
    let phantom: Vec<_> = documented.difference(&served).collect();
    assert!(phantom.is_empty(), "documented but not served: {phantom:?}");
    // Each documented operation has responses, and error responses use the error body.
    for (path, item) in doc.body["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            assert!(!responses.is_empty(), "{method} {path}");
            let has_error = responses.keys().any(|code| code.starts_with('4'));
            assert!(has_error, "{method} {path} documents no error response");
        }
    }
    assert!(doc.body["components"]["schemas"]["ErrorBody"].is_object());
}

#[actix_web::test]
async fn a_body_not_declared_as_json_is_415() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let body = r#"{"title": "Help", "location": "T1"}"#;
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut request = app
            .client
            .post(format!("{}/api/tickets/", app.address))
            .bearer_auth(&ada.access)
            .body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let reply = request.send().await.unwrap();
        assert_eq!(reply.status(), 415, "{content_type:?}");
        let error: serde_json::Value = reply.json().await.unwrap();
        assert_eq!(error["code"], "unsupported_media_type");
    }
    let reply = app
        .client
        .post(format!("{}/api/tickets/", app.address))
        .bearer_auth(&ada.access)
        .header("content-type", "application/json; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201);
}

#[actix_web::test]
async fn control_characters_in_text_fields_are_refused() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let reply = app
        .post(
            "/api/tickets/",
            Some(&ada.access),
            json!({"title": "nul\u{0}byte", "location": "T1"}),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.code(), "validation_failed");
    assert!(reply.body["fields"]["title"].is_array());
    let reply = app
        .post(
            "/api/tickets/",
            Some(&ada.access),
            json!({"title": "Tabs\tare fine", "location": "T1", "comment": "line one\nline two"}),
        )
        .await;
    assert_eq!(reply.status, 201);
}
