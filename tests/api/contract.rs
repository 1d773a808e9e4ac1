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

/// Sends `request` as raw bytes on a new connection and reads the whole answer: its
/// status, its head and its body parsed as JSON.
async fn raw_http(app: &TestApp, request: &[u8]) -> (u16, String, serde_json::Value) {
    let answer = raw_answer(app, request).await;
    let (head, body) = answer.split_once("\r\n\r\n").expect("a response head");
    let status = head[9..12].parse().unwrap();
    let body = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {answer:?}"));
    (status, head.to_ascii_lowercase(), body)
}

/// Everything the server sends on a new connection for `request`, until it closes.
async fn raw_answer(app: &TestApp, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.address.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    // The server may answer and close before it has read everything.
    let _ = tcp.write_all(request).await;
    let mut answer = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(5), tcp.read_to_end(&mut answer))
        .await
        .expect("the server answers and closes")
        .unwrap();
    String::from_utf8(answer).unwrap()
}

#[actix_web::test]
async fn errors_in_the_request_head_have_the_json_body_too() {
    let app = spawn_app().await;
    let long_query = format!(
        "GET /api/queue/?q={} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    let huge_header = format!(
        "GET /api/queue/ HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(40 * 1024)
    );
    let many_headers: String = (0..100).map(|i| format!("X-{i}: 1\r\n")).collect();
    let many_headers = format!("GET /api/queue/ HTTP/1.1\r\n{many_headers}\r\n");
    let smuggling = "POST /api/auth/token/ HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\
Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    let garbage = "GET /a b c\r\n\r\n";
    for (request, status, code) in [
        (long_query.as_str(), 414, "uri_too_long"),
        (huge_header.as_str(), 431, "headers_too_large"),
        (many_headers.as_str(), 431, "headers_too_large"),
        (smuggling, 400, "bad_request"),
        (garbage, 400, "bad_request"),
    ] {
        let (got, head, body) = raw_http(&app, request.as_bytes()).await;
        assert_eq!((got, body["code"].as_str().unwrap()), (status, code), "{body}");
        assert!(head.contains("content-type: application/json"), "{head}");
        assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
    // A good request before a bad one on the same connection is answered first, whole.
    let pipelined =
        "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nContent-Length: x\r\n\r\n";
    let answer = raw_answer(&app, pipelined.as_bytes()).await;
    let (first, second) = answer.split_once("}HTTP/1.1 ").expect("two answers");
    assert!(
        first.starts_with("HTTP/1.1 200 OK\r\n") && first.ends_with(r#"{"status":"ok""#),
        "{first}"
    );
    assert!(second.starts_with("400 Bad Request\r\n"), "{second}");
    assert!(second.ends_with(r#""detail":"The request is malformed: Content-Length is not a number."}"#));
}

#[actix_web::test]
async fn a_head_that_does_not_arrive_in_time_is_408_json() {
    let app = spawn_app_with(|c| c.http.request_head_timeout_ms = 300).await;
    let started = std::time::Instant::now();
    let (status, _, body) = raw_http(&app, b"GET /api/queue/ HTTP/1.1\r\nHost: x\r\n").await;
    assert_eq!((status, body["code"].as_str().unwrap()), (408, "request_timeout"));
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
}

#[actix_web::test]
async fn chunked_bodies_and_keep_alive_pass_the_head_check() {
    let app = spawn_app().await;
    let body = r#"{"email":"ada@example.org","password":"correct horse","name":"Ada"}"#;
    let request = format!(
        "POST /api/auth/register/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n\
GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let answer = raw_answer(&app, request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert_eq!(answer.matches("HTTP/1.1 200").count(), 1, "{answer}");
}

/// The statuses the document gives `method path`, and whether it asks for a token.
fn documented(doc: &serde_json::Value, method: &str, path: &str) -> (BTreeSet<u16>, bool, bool) {
    let op = &doc["paths"][path][method.to_lowercase()];
    let statuses = op["responses"]
        .as_object()
        .unwrap_or_else(|| panic!("{method} {path} is not documented"))
        .keys()
        .map(|k| k.parse().unwrap())
        .collect();
    let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
    (statuses, secured, op["requestBody"].is_object())
}

#[actix_web::test]
async fn every_status_a_route_answers_from_the_shared_checks_is_documented() {
    let app = spawn_app_with(|c| c.queue.writes_per_minute = 1).await;
    let doc = app.call(Method::GET, "/api/openapi.json", None, None).await.body;
    let big = format!("{{\"x\": \"{}\"}}", "x".repeat(70 * 1024));
    for (n, route) in mentorq::http::routes().iter().enumerate() {
        let (method, template) = (route.method.as_str(), route.path);
        let verb = Method::from_bytes(method.as_bytes()).unwrap();
        let path = template.replace("{id}", "1").replace("{ticket_id}", "1");
        let (statuses, secured, has_body) = documented(&doc, method, template);
        let what = format!("{method} {template}");
        let check = |reply: &Reply, expected: u16| {
            assert_eq!(reply.status.as_u16(), expected, "{what}: {}", reply.body);
            assert!(
                statuses.contains(&expected),
                "{what} answers {expected}, undocumented"
            );
        };
        let body = has_body.then(|| json!({}));

        // Without a token.
        let anonymous = app.call(verb.clone(), &path, None, body.clone()).await;
        if secured {
            check(&anonymous, 401);
        } else {
            assert_ne!(anonymous.status, 401, "{what} asks for no token but answered 401");
        }
        if has_body {
            // Each on its own user, so that the write quota does not answer first.
            let who = app.hacker(&format!("Media Tester {n}")).await;
            // A body that is not declared JSON, and one over the limit.
            let reply = app
                .client
                .request(verb.clone(), format!("{}{path}", app.address))
                .bearer_auth(&who.access)
                .header("content-type", "text/plain")
                .body("{}")
                .send()
                .await
                .unwrap();
            check(&Reply::from(reply).await, 415);
            let who = app.hacker(&format!("Size Tester {n}")).await;
            let reply = app
                .raw(verb.clone(), &path, Some(&who.access), big.clone().into_bytes())
                .await;
            check(&reply, 413);
        }
        // The write quota (one a minute here): the next write is refused, if counted.
        let fresh = app.hacker(&format!("Quota Tester {n}")).await;
        let first = app
            .call(verb.clone(), &path, Some(&fresh.access), body.clone())
            .await;
        let second = app
            .call(verb.clone(), &path, Some(&fresh.access), body.clone())
            .await;
        for reply in [&first, &second] {
            assert!(
                statuses.contains(&reply.status.as_u16()),
                "{what} answered {}, undocumented: {}",
                reply.status,
                reply.body
            );
        }
        assert_eq!(
            second.status == 429,
            statuses.contains(&429) && secured,
            "{what}: 429 is {}documented but the second write got {}",
            if statuses.contains(&429) { "" } else { "not " },
            second.status
        );
        if second.status == 429 {
            let op = &doc["paths"][template][method.to_lowercase()];
            assert!(
                op["responses"]["429"]["headers"]["Retry-After"].is_object(),
                "{what}"
            );
        }
    }
}
