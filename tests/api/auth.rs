use crate::helpers::*;
use reqwest::Method;
use serde_json::json;

#[actix_web::test]
async fn register_creates_a_hacker_with_a_normalised_email() {
    let app = spawn_app().await;
    let reply = app.register("  Ada@Example.ORG ", "Ada L.").await;
    assert_eq!(reply.status, 201);
    assert_eq!(reply.body["email"], "ada@example.org");
    assert_eq!(reply.body["roles"], json!(["hacker"]));
    assert!(reply.body["id"].as_u64().unwrap() > 0);
    assert!(reply.body.get("password_hash").is_none());
}

#[actix_web::test]
async fn register_reports_every_invalid_field() {
    let app = spawn_app().await;
    let reply = app
        .post(
            "/api/auth/register/",
            None,
            json!({"email": "nope", "password": "short"}),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.code(), "validation_failed");
    for field in ["email", "password", "name"] {
        assert!(reply.body["fields"][field].is_array(), "{field}: {}", reply.body);
    }
}

#[actix_web::test]
async fn a_duplicate_email_is_email_taken() {
    let app = spawn_app().await;
    app.register("ada@example.org", "Ada").await;
    let reply = app.register("ADA@example.org", "Ada again").await;
    assert_eq!(reply.status, 409);
    assert_eq!(reply.code(), "email_taken");
}

#[actix_web::test]
async fn closed_registration_is_refused() {
    let app = spawn_app_with(|c| c.auth.local.open_registration = false).await;
    let reply = app.register("ada@example.org", "Ada").await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.code(), "registration_closed");
}

#[actix_web::test]
async fn a_token_carries_the_user_and_role_flags() {
    let app = spawn_app().await;
    app.register("ada@example.org", "Ada").await;
    let reply = app
        .post(
            "/api/auth/token/",
            None,
            json!({"email": "ada@example.org", "password": "correct horse", "device": "laptop"}),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["user"]["email"], "ada@example.org");
    assert_eq!(reply.body["is_mentor"], false);
    assert_eq!(reply.body["is_director"], false);
    assert!(reply.body["access"].as_str().unwrap().split('.').count() == 3);
    let me = app.get("/api/me/", reply.body["access"].as_str().unwrap()).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["name"], "Ada");
}

#[actix_web::test]
async fn a_wrong_password_or_unknown_email_is_invalid_credentials() {
    let app = spawn_app().await;
    app.register("ada@example.org", "Ada").await;
    for (email, password) in [
        ("ada@example.org", "wrong password"),
        ("eve@example.org", "correct horse"),
    ] {
        let reply = app
            .post(
                "/api/auth/token/",
                None,
                json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(reply.status, 401);
        assert_eq!(reply.code(), "invalid_credentials");
    }
}

#[actix_web::test]
async fn refresh_rotates_and_the_old_token_stops_working() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let first = app
        .post("/api/auth/refresh/", None, json!({"refresh": ada.refresh}))
        .await;
    assert_eq!(first.status, 200);
    let new_refresh = first.body["refresh"].as_str().unwrap().to_string();
    assert_ne!(new_refresh, ada.refresh);
    let me = app.get("/api/me/", first.body["access"].as_str().unwrap()).await;
    assert_eq!(me.status, 200);
    let again = app
        .post("/api/auth/refresh/", None, json!({"refresh": new_refresh}))
        .await;
    assert_eq!(again.status, 200);
}

#[actix_web::test]
async fn reusing_a_rotated_refresh_token_revokes_the_device_session() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let rotated = app
        .post("/api/auth/refresh/", None, json!({"refresh": ada.refresh}))
        .await;
    let current = rotated.body["refresh"].as_str().unwrap().to_string();
    let current_access = rotated.body["access"].as_str().unwrap().to_string();

    let replay = app
        .post("/api/auth/refresh/", None, json!({"refresh": ada.refresh}))
        .await;
    assert_eq!(replay.status, 401);
    assert_eq!(replay.code(), "token_not_valid");

    let after = app
        .post("/api/auth/refresh/", None, json!({"refresh": current}))
        .await;
    assert_eq!(after.code(), "token_not_valid", "the whole session is revoked");
    let me = app.get("/api/me/", &current_access).await;
    assert_eq!(me.code(), "token_not_valid", "its access tokens stop at once");
}

#[actix_web::test]
async fn logout_revokes_the_refresh_and_access_tokens() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let reply = app
        .post(
            "/api/auth/logout/",
            Some(&ada.access),
            json!({"refresh": ada.refresh}),
        )
        .await;
    assert_eq!(reply.status, 204);
    let refresh = app
        .post("/api/auth/refresh/", None, json!({"refresh": ada.refresh}))
        .await;
    assert_eq!(refresh.code(), "token_not_valid");
    assert_eq!(app.get("/api/me/", &ada.access).await.code(), "token_not_valid");
}

#[actix_web::test]
async fn device_sessions_are_listed_and_revocable() {
    let app = spawn_app().await;
    let laptop = app.hacker("Ada").await;
    let phone = app.login("ada@example.org").await;
    let list = app.get("/api/auth/sessions/", &laptop.access).await;
    assert_eq!(list.status, 200);
    let sessions = list.body.as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    let phone_id = sessions.iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_u64()
        .unwrap();

    let revoke = app
        .call(
            Method::DELETE,
            &format!("/api/auth/sessions/{phone_id}"),
            Some(&laptop.access),
            None,
        )
        .await;
    assert_eq!(revoke.status, 204);
    assert_eq!(app.get("/api/me/", &phone.access).await.code(), "token_not_valid");
    assert_eq!(app.get("/api/me/", &laptop.access).await.status, 200);
    let again = app
        .call(
            Method::DELETE,
            &format!("/api/auth/sessions/{phone_id}/"),
            Some(&laptop.access),
            None,
        )
        .await;
    assert_eq!(again.status, 404);
}

#[actix_web::test]
async fn another_users_session_cannot_be_revoked() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let eve = app.hacker("Eve").await;
    let list = app.get("/api/auth/sessions/", &ada.access).await;
    let ada_session = list.body[0]["id"].as_u64().unwrap();
    let reply = app
        .call(
            Method::DELETE,
            &format!("/api/auth/sessions/{ada_session}/"),
            Some(&eve.access),
            None,
        )
        .await;
    assert_eq!(reply.status, 404);
    assert_eq!(app.get("/api/me/", &ada.access).await.status, 200);
}

#[actix_web::test]
async fn missing_forged_and_expired_tokens_are_refused() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let none = app.call(Method::GET, "/api/me/", None, None).await;
    assert_eq!((none.status.as_u16(), none.code()), (401, "not_authenticated"));

    // A tampered payload keeps the signature of another.
    let mut parts: Vec<&str> = ada.access.split('.').collect();
    let other = app.hacker("Eve").await;
    let other_payload = other.access.split('.').nth(1).unwrap().to_string();
    parts[1] = &other_payload;
    let tampered = parts.join(".");
    assert_eq!(app.get("/api/me/", &tampered).await.code(), "token_not_valid");

    // alg: none.
    let header = base64_url(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = ada.access.split('.').nth(1).unwrap();
    let unsigned = format!("{header}.{payload}.");
    assert_eq!(app.get("/api/me/", &unsigned).await.code(), "token_not_valid");

    // Signed with another key.
    let foreign = mentorq::auth::TokenKeys::new(&[1u8; 32], app.store.id(), 900);
    let user = mentorq::domain::user::User {
        id: mentorq::domain::UserId(ada.id),
        email: ada.email.clone(),
        name: "Ada".into(),
        password_hash: None,
        roles: Default::default(),
        slack_id: None,
        phone: None,
        created: chrono::Utc::now(),
    };
    let forged = foreign.issue_access(&user, mentorq::domain::DeviceSessionId(1), chrono::Utc::now());
    assert_eq!(app.get("/api/me/", &forged).await.code(), "token_not_valid");
}

#[actix_web::test]
async fn an_access_token_expires_after_its_lifetime() {
    let clock = manual_clock();
    let app = spawn_app_with_clock(
        |c| c.auth.access_ttl_seconds = 60,
        std::sync::Arc::new(clock.clone()),
    )
    .await;
    let ada = app.hacker("Ada").await;
    assert_eq!(app.get("/api/me/", &ada.access).await.status, 200);
    clock.advance(chrono::Duration::seconds(61));
    assert_eq!(app.get("/api/me/", &ada.access).await.code(), "token_not_valid");
    // The refresh token still works and gives a fresh access token.
    let refreshed = app
        .post("/api/auth/refresh/", None, json!({"refresh": ada.refresh}))
        .await;
    assert_eq!(refreshed.status, 200);
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[actix_web::test]
async fn revocation_works_after_the_write_quota_is_spent() {
    let app = spawn_app_with(|c| c.queue.writes_per_minute = 3).await;
    let ada = app.hacker("Ada").await;
    let other = app.login(&ada.email).await;
    // Someone holding Ada's token spends her writes for the minute.
    let mut limited = false;
    for _ in 0..10 {
        let reply = app.patch("/api/me/", &ada.access, json!({"name": "Ada"})).await;
        limited |= reply.status == 429;
    }
    assert!(limited, "the quota is spent");
    let sessions = app.get("/api/auth/sessions/", &ada.access).await;
    let stolen = sessions
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()["id"]
        .clone();
    // Ada can still revoke the stolen device session, and log out.
    let revoke = app
        .call(
            reqwest::Method::DELETE,
            &format!("/api/auth/sessions/{stolen}/"),
            Some(&other.access),
            None,
        )
        .await;
    assert_eq!(revoke.status, 204);
    let logout = app
        .post(
            "/api/auth/logout/",
            Some(&other.access),
            json!({"refresh": other.refresh}),
        )
        .await;
    assert_eq!(logout.status, 204);
}

/// A sign-in attempt for `email` that claims to come from `address` (through a trusted proxy).
async fn sign_in_from(app: &TestApp, address: &str, email: &str, password: &str) -> Reply {
    let reply = app
        .client
        .post(format!("{}/api/auth/token/", app.address))
        .header("x-forwarded-for", address)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    Reply::from(reply).await
}

#[actix_web::test]
async fn guessing_one_accounts_password_is_throttled_without_locking_its_owner_out() {
    let clock = manual_clock();
    let app = spawn_app_with_clock(
        |c| {
            c.auth.login_attempts_per_minute = 5;
            c.http.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        },
        std::sync::Arc::new(clock.clone()),
    )
    .await;
    app.register("ada@example.org", "Ada").await;
    let attacker = "203.0.113.5";
    for _ in 0..5 {
        let reply = sign_in_from(&app, attacker, "ada@example.org", "guess").await;
        assert_eq!(reply.status, 401, "{}", reply.body);
    }
    // The sixth guess in the minute is refused before the password is checked, even the right one.
    let reply = sign_in_from(&app, attacker, "ADA@example.org", "correct horse").await;
    assert_eq!(reply.status, 429, "{}", reply.body);
    assert_eq!(reply.code(), "rate_limited");
    let wait: u64 = reply.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    // Ada, from her own address, signs in as usual: the stranger cannot lock her out.
    let ada = sign_in_from(&app, "198.51.100.7", "ada@example.org", "correct horse").await;
    assert_eq!(ada.status, 200, "{}", ada.body);
    // A minute later the attacker's address may try again.
    clock.advance(chrono::Duration::seconds(61));
    let reply = sign_in_from(&app, attacker, "ada@example.org", "guess").await;
    assert_eq!(reply.status, 401, "{}", reply.body);
}

#[actix_web::test]
async fn one_address_trying_many_accounts_is_throttled() {
    let app = spawn_app_with(|c| c.auth.address_attempts_per_minute = 8).await;
    for n in 0..8 {
        let reply = app
            .post(
                "/api/auth/token/",
                None,
                json!({"email": format!("user{n}@example.org"), "password": "guess"}),
            )
            .await;
        assert_eq!(reply.status, 401, "{}", reply.body);
    }
    for path in ["/api/auth/token/", "/api/auth/register/", "/api/auth/refresh/"] {
        let reply = app
            .post(
                path,
                None,
                json!({"email": "new@example.org", "password": "correct horse", "name": "N", "refresh": "x"}),
            )
            .await;
        assert_eq!(reply.status, 429, "{path}: {}", reply.body);
        assert!(reply.headers.contains_key("retry-after"));
    }
}

#[actix_web::test]
async fn logins_beyond_the_hashing_pool_wait_then_answer_busy() {
    let app = spawn_app_with(|c| c.auth.hash_queue_timeout_ms = 1).await;
    app.register("ada@example.org", "Ada").await;
    let attempts = (0..32).map(|_| {
        app.post(
            "/api/auth/token/",
            None,
            json!({"email": "ada@example.org", "password": "wrong password"}),
        )
    });
    let replies = futures_util::future::join_all(attempts).await;
    let busy: Vec<_> = replies.iter().filter(|r| r.status == 503).collect();
    assert!(!busy.is_empty(), "32 hashes at once cannot all start within 1 ms");
    for reply in &busy {
        assert_eq!(reply.code(), "busy");
        assert!(reply.headers.contains_key("retry-after"));
    }
    assert!(
        replies.iter().all(|r| r.status == 503 || r.status == 401),
        "every other attempt is checked: {:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(replies.iter().any(|r| r.status == 401), "the pool still works");
}

#[actix_web::test]
async fn a_token_from_another_store_with_the_same_secret_is_not_valid() {
    let secret = "one secret shared by two deployments, by mistake";
    let first = spawn_app_with(|c| c.auth.jwt_secret = Some(secret.into())).await;
    let second = spawn_app_with(|c| c.auth.jwt_secret = Some(secret.into())).await;
    // The same first user and first device session in both stores.
    let ada = first.hacker("Ada").await;
    let ada_there = second.hacker("Ada").await;
    assert_eq!(ada.id, ada_there.id);
    assert_ne!(ada.refresh, ada_there.refresh, "refresh tokens name their store");
    assert_ne!(first.store.id(), second.store.id());

    let claims = ada.access.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, claims).unwrap(),
    )
    .unwrap();
    assert_eq!(claims["iss"], first.store.id().to_string());

    let me = second.get("/api/me/", &ada.access).await;
    assert_eq!((me.status.as_u16(), me.code()), (401, "token_not_valid"));
    let refresh = second
        .post("/api/auth/refresh/", None, json!({"refresh": ada.refresh}))
        .await;
    assert_eq!(
        (refresh.status.as_u16(), refresh.code()),
        (401, "token_not_valid")
    );
    let upgrade = second
        .client
        .get(format!("{}/ws?access_token={}", second.address, ada.access))
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .unwrap();
    assert_eq!(upgrade.status(), 401);
    // At home both still work.
    assert_eq!(first.get("/api/me/", &ada.access).await.status, 200);
    let home = first
        .post("/api/auth/refresh/", None, json!({"refresh": ada.refresh}))
        .await;
    assert_eq!(home.status, 200, "{}", home.body);
}
