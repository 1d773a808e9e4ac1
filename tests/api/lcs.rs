//! The LCS identity provider against a fake identity service on 127.0.0.1.

use crate::helpers::*;
use actix_web::{web, App, HttpResponse, HttpServer};
use mentorq::config::{LcsFlavor, Provider};
use serde_json::{json, Value};
use std::time::Duration;

const GOOD_TOKEN: &str = "lcs-token-ada";
const GRACE_TOKEN: &str = "lcs-token-grace";

/// Grace's Slack id in the fake service; one test changes it between token and refresh.
static GRACE_SLACK: std::sync::Mutex<&str> = std::sync::Mutex::new("UGRACE1");

/// The user documents the fake service knows.
fn document(email: &str) -> Option<Value> {
    match email {
        "grace@example.org" => Some(json!({"email": "grace@example.org", "first_name": "Grace",
            "slack_id": *GRACE_SLACK.lock().unwrap(), "phone_number": "+1 555 0100",
            "role": {"mentor": true}})),
        "ada@example.org" => Some(
            json!({"email": "ada@example.org", "first_name": "Ada", "last_name": "Lovelace",
                                         "role": {"hacker": true, "mentor": true, "organizer": false, "director": false}}),
        ),
        "slow@example.org" => Some(json!({"email": "slow@example.org"})),
        _ => None,
    }
}

/// Each person's token at the fake service.
fn token_of(email: &str) -> &'static str {
    if email == "grace@example.org" {
        GRACE_TOKEN
    } else {
        GOOD_TOKEN
    }
}

async fn legacy_validate(body: web::Json<Value>) -> HttpResponse {
    let owner = ["ada@example.org", "grace@example.org"]
        .into_iter()
        .find(|email| body["token"] == token_of(email));
    HttpResponse::Ok().json(match owner {
        Some(email) => json!({"statusCode": 200, "body": {"email": email}}),
        None => json!({"statusCode": 401, "body": "invalid token"}),
    })
}

async fn legacy_read(body: web::Json<Value>) -> HttpResponse {
    let email = body["query"]["email"].as_str().unwrap_or("");
    let doc = document(email).filter(|_| body["token"] == token_of(email));
    HttpResponse::Ok().json(match doc {
        Some(doc) => json!({"statusCode": 200, "body": [doc]}),
        None => json!({"statusCode": 403, "body": "no"}),
    })
}

async fn current_read(body: web::Json<Value>) -> HttpResponse {
    let email = body["email"].as_str().unwrap_or("");
    if email == "slow@example.org" {
        actix_web::rt::time::sleep(Duration::from_secs(3)).await;
    }
    if body["auth_token"] != token_of(email) {
        return HttpResponse::Unauthorized().json(json!({"message": "bad token"}));
    }
    match document(email) {
        Some(doc) => HttpResponse::Ok().json(doc),
        None => HttpResponse::NotFound().finish(),
    }
}

/// Starts the fake service; returns its base URL.
fn fake_lcs(flavor: LcsFlavor) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        let app = App::new();
        match flavor {
            LcsFlavor::Legacy => app
                .route("/validate", web::post().to(legacy_validate))
                .route("/read", web::post().to(legacy_read)),
            LcsFlavor::Current => app.route("/read", web::post().to(current_read)),
        }
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    format!("http://127.0.0.1:{port}")
}

async fn lcs_app(flavor: LcsFlavor, url: String) -> TestApp {
    spawn_app_with(move |c| {
        c.auth.provider = Provider::Lcs;
        c.auth.lcs.url = url;
        c.auth.lcs.flavor = flavor;
        c.auth.lcs.timeout_ms = 500;
    })
    .await
}

async fn token(app: &TestApp, email: &str, lcs_token: &str) -> Reply {
    app.post(
        "/api/auth/token/",
        None,
        json!({"email": email, "lcs_token": lcs_token}),
    )
    .await
}

#[actix_web::test]
async fn both_flavours_accept_a_good_token_and_map_roles() {
    for flavor in [LcsFlavor::Legacy, LcsFlavor::Current] {
        let app = lcs_app(flavor, fake_lcs(flavor)).await;
        let reply = token(&app, "Ada@example.org", GOOD_TOKEN).await;
        assert_eq!(reply.status, 200, "{flavor:?}: {}", reply.body);
        assert_eq!(reply.body["is_mentor"], true);
        assert_eq!(reply.body["user"]["name"], "Ada Lovelace");
        assert_eq!(reply.body["user"]["roles"], json!(["hacker", "mentor"]));
        let refreshed = app
            .post(
                "/api/auth/refresh/",
                None,
                json!({"refresh": reply.body["refresh"]}),
            )
            .await;
        assert_eq!(refreshed.status, 200, "{flavor:?}");
    }
}

#[actix_web::test]
async fn both_flavours_refuse_a_wrong_token() {
    for flavor in [LcsFlavor::Legacy, LcsFlavor::Current] {
        let app = lcs_app(flavor, fake_lcs(flavor)).await;
        let reply = token(&app, "ada@example.org", "wrong").await;
        assert_eq!(reply.status, 401, "{flavor:?}");
        assert_eq!(reply.code(), "invalid_credentials");
        let unknown = token(&app, "eve@example.org", GOOD_TOKEN).await;
        assert_eq!(unknown.code(), "invalid_credentials", "{flavor:?}");
    }
}

#[actix_web::test]
async fn register_is_not_offered_with_the_lcs_provider() {
    let app = lcs_app(LcsFlavor::Current, fake_lcs(LcsFlavor::Current)).await;
    let reply = app.register("ada@example.org", "Ada").await;
    assert_eq!(reply.status, 404);
}

#[actix_web::test]
async fn a_provider_that_is_down_is_502() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let app = lcs_app(LcsFlavor::Legacy, format!("http://127.0.0.1:{port}")).await;
    let reply = token(&app, "ada@example.org", GOOD_TOKEN).await;
    assert_eq!(reply.status, 502);
    assert_eq!(reply.code(), "identity_provider_unavailable");
}

#[actix_web::test]
async fn a_slow_provider_is_502_after_the_timeout() {
    let app = lcs_app(LcsFlavor::Current, fake_lcs(LcsFlavor::Current)).await;
    let started = std::time::Instant::now();
    let reply = token(&app, "slow@example.org", GOOD_TOKEN).await;
    assert_eq!(reply.status, 502);
    assert_eq!(reply.code(), "identity_provider_unavailable");
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "gave up at the 500 ms timeout"
    );
}

#[actix_web::test]
async fn slack_id_and_phone_come_from_the_identity_services_document() {
    for flavor in [LcsFlavor::Legacy, LcsFlavor::Current] {
        *GRACE_SLACK.lock().unwrap() = "UGRACE1";
        let app = lcs_app(flavor, fake_lcs(flavor)).await;
        let signed_in = token(&app, "grace@example.org", GRACE_TOKEN).await;
        assert_eq!(signed_in.status, 200, "{flavor:?}: {}", signed_in.body);
        let access = signed_in.body["access"].as_str().unwrap();
        let me = app.get("/api/me/", access).await;
        assert_eq!(
            (me.body["slack_id"].clone(), me.body["phone"].clone()),
            (json!("UGRACE1"), json!("+1 555 0100"))
        );
        // A change at the identity service is taken over at the next refresh.
        *GRACE_SLACK.lock().unwrap() = "UGRACE2";
        let refreshed = app
            .post(
                "/api/auth/refresh/",
                None,
                json!({"refresh": signed_in.body["refresh"]}),
            )
            .await;
        assert_eq!(refreshed.status, 200, "{flavor:?}: {}", refreshed.body);
        let me = app
            .get("/api/me/", refreshed.body["access"].as_str().unwrap())
            .await;
        assert_eq!(me.body["slack_id"], "UGRACE2", "{flavor:?}");
        // A document without them leaves what the user set alone.
        let ada = token(&app, "ada@example.org", GOOD_TOKEN).await;
        let ada_access = ada.body["access"].as_str().unwrap();
        app.patch("/api/me/", ada_access, json!({"slack_id": "UADA"}))
            .await;
        let again = token(&app, "ada@example.org", GOOD_TOKEN).await;
        let me = app.get("/api/me/", again.body["access"].as_str().unwrap()).await;
        assert_eq!(me.body["slack_id"], "UADA", "{flavor:?}");
    }
}
