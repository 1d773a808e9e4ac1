//! HackRU mentorq's own clients: the "Compatibility with HackRU's mentorq clients"
//! section of API.md, with and without `[compat] hackru_frontend`.

use crate::helpers::*;
use serde_json::json;

#[actix_web::test]
async fn the_hackru_frontend_gets_the_slack_link_as_a_bare_string() {
    for team in [Some("T0001"), None] {
        let app = spawn_app_with(|c| {
            c.compat.hackru_frontend = true;
            c.slack.team_id = team.map(Into::into);
        })
        .await;
        let ada = app.hacker("Ada").await;
        let grace = app.mentor("Grace").await;
        for (who, slack) in [(&ada, "UADA"), (&grace, "UGRACE")] {
            app.patch("/api/me/", &who.access, json!({ "slack_id": slack }))
                .await;
        }
        let t = app.open_ticket(&ada, "help", json!({})).await["id"]
            .as_u64()
            .unwrap();
        let path = format!("/api/tickets/{t}/slack-dm/");
        let unclaimed = app.get(&path, &ada.access).await;
        assert_eq!((unclaimed.status.as_u16(), &unclaimed.body), (200, &json!("")));
        app.change_ticket(&grace, t, json!({"status": "CLAIMED"})).await;
        let link = app.get(&path, &ada.access).await;
        assert_eq!(link.status, 200);
        let expected = match team {
            Some(team) => json!(format!("slack://user?team={team}&id=UGRACE")),
            None => json!(""),
        };
        assert_eq!(link.body, expected);
        // A ticket the caller may not see is still a 404.
        let eve = app.hacker("Eve").await;
        assert_eq!(app.get(&path, &eve.access).await.status, 404);
    }
}

#[actix_web::test]
async fn without_rotation_the_first_refresh_token_keeps_working_until_logout() {
    // What `[compat] hackru_frontend = true` resolves to (config.rs tests the profile).
    let app = spawn_app_with(|c| c.auth.rotate_refresh_tokens = false).await;
    let ada = app.hacker("Ada").await;
    for _ in 0..3 {
        let reply = app
            .post("/api/auth/refresh/", None, json!({"refresh": ada.refresh}))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.body["refresh"], ada.refresh.as_str());
        let me = app.get("/api/me/", reply.body["access"].as_str().unwrap()).await;
        assert_eq!(me.status, 200);
    }
    let logout = app
        .post(
            "/api/auth/logout/",
            Some(&ada.access),
            json!({"refresh": ada.refresh}),
        )
        .await;
    assert_eq!(logout.status, 204);
    let after = app
        .post("/api/auth/refresh/", None, json!({"refresh": ada.refresh}))
        .await;
    assert_eq!((after.status.as_u16(), after.code()), (401, "token_not_valid"));
}

#[actix_web::test]
async fn a_manager_reopens_a_closed_ticket_at_its_original_place() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let bob = app.hacker("Bob").await;
    let grace = app.mentor("Grace").await;
    let first = app.open_ticket(&ada, "first", json!({})).await["id"]
        .as_u64()
        .unwrap();
    app.open_ticket(&bob, "second", json!({})).await;
    app.change_ticket(&grace, first, json!({"status": "CLAIMED"}))
        .await;
    let closed = app
        .change_ticket(&grace, first, json!({"status": "CLOSED"}))
        .await;
    assert_eq!(closed.body["status"], "CLOSED");
    // Nobody but a manager may reopen it: the owner and the mentor get 409.
    for who in [&ada, &grace] {
        let reply = app.change_ticket(who, first, json!({"status": "OPEN"})).await;
        assert_eq!((reply.status.as_u16(), reply.code()), (409, "invalid_transition"));
    }
    let director = app.director().await;
    let reopened = app
        .change_ticket(&director, first, json!({"status": "OPEN"}))
        .await;
    assert_eq!(reopened.status, 200, "{}", reopened.body);
    assert_eq!(reopened.body["status"], "OPEN");
    assert_eq!(
        reopened.body["position"], 1,
        "ahead of the ticket opened after it"
    );
    assert_eq!(reopened.body["mentor_email"], "");
    assert_eq!(reopened.body["closed_datetime"], serde_json::Value::Null);
    let cy = app.hacker("Cy").await;
    let cancelled = app.open_ticket(&cy, "third", json!({})).await["id"]
        .as_u64()
        .unwrap();
    app.change_ticket(&cy, cancelled, json!({"status": "CANCELLED"}))
        .await;
    let back = app
        .change_ticket(&director, cancelled, json!({"status": "OPEN"}))
        .await;
    assert_eq!(back.body["status"], "OPEN", "{}", back.body);
}

/// The property schemas of a request body in the OpenAPI document, `$ref`s resolved.
fn body_properties(doc: &serde_json::Value, op: &serde_json::Value) -> Vec<(String, serde_json::Value)> {
    let schema = &op["requestBody"]["content"]["application/json"]["schema"];
    let schema = match schema["$ref"].as_str() {
        Some(r) => &doc["components"]["schemas"][r.rsplit('/').next().unwrap()],
        None => schema,
    };
    schema["properties"]
        .as_object()
        .map(|p| p.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

fn types_of(property: &serde_json::Value) -> Vec<String> {
    match &property["type"] {
        serde_json::Value::String(t) => vec![t.clone()],
        serde_json::Value::Array(ts) => ts.iter().filter_map(|t| t.as_str().map(String::from)).collect(),
        _ => Vec::new(),
    }
}

#[actix_web::test]
async fn a_wrong_type_in_any_numeric_or_boolean_field_is_explained_in_words() {
    let app = spawn_app().await;
    let director = app.director().await;
    let doc = app
        .call(reqwest::Method::GET, "/api/openapi.json", None, None)
        .await
        .body;
    let type_names = [
        "i64",
        "u64",
        "i32",
        "u32",
        "u16",
        "u8",
        "f64",
        "bool",
        "invalid type",
        "expected",
    ];
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for (field, property) in body_properties(&doc, op) {
                let types = types_of(&property);
                let wrong_values = if types.iter().any(|t| t == "integer") {
                    vec![json!(4.5), json!("4"), json!(true)]
                } else if types.iter().any(|t| t == "number" || t == "boolean") {
                    vec![json!("yes"), json!([1])]
                } else {
                    continue;
                };
                for wrong in wrong_values {
                    let url = path.replace("{id}", "1").replace("{ticket_id}", "1");
                    let verb = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                    let reply = app
                        .call(
                            verb,
                            &url,
                            Some(&director.access),
                            Some(json!({ field.as_str(): wrong })),
                        )
                        .await;
                    let what = format!("{method} {path} {field}={wrong}");
                    assert_eq!(reply.status, 400, "{what}: {}", reply.body);
                    let said = reply.body["fields"][field.as_str()].to_string();
                    let messages = format!("{} {said}", reply.body["detail"]);
                    assert!(said.contains("must be"), "{what}: {messages}");
                    for name in type_names {
                        assert!(!messages.contains(name), "{what} says {name:?}: {messages}");
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 20, "only {checked} fields were tried");
}

#[actix_web::test]
async fn an_anonymous_ticket_names_its_owner_only_to_the_owner_and_managers() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let eve = app.hacker("Eve").await;
    let grace = app.mentor("Grace").await;
    let director = app.director().await;
    let mut mentor_ws = app.ws(&grace, None).await;
    mentor_ws.next_of("snapshot").await;
    let mut director_ws = app.ws(&director, None).await;
    director_ws.next_of("snapshot").await;
    // HackRU's frontend asks with `owner: "Anonymous"`; `anonymous: true` works too.
    let created = app
        .open_ticket(&ada, "secret", json!({"owner": "Anonymous"}))
        .await;
    assert_eq!(
        (created["owner"].clone(), created["anonymous"].clone()),
        (json!("Ada"), json!(true))
    );
    let t = created["id"].as_u64().unwrap();
    let path = format!("/api/tickets/{t}/");

    let seen = |who: &Login| {
        let (app, path) = (&app, &path);
        let token = who.access.clone();
        async move { app.get(path, &token).await }
    };
    assert_eq!(seen(&ada).await.body["owner"], "Ada");
    assert_eq!(seen(&director).await.body["owner"], "Ada");
    let for_mentor = seen(&grace).await;
    assert_eq!(for_mentor.body["owner"], "Anonymous");
    assert_eq!(
        for_mentor.body["owner_email"], "ada@example.org",
        "mentors can still find the person"
    );
    assert_eq!(seen(&eve).await.status, 404);
    let listed = app.get("/api/tickets/", &grace.access).await;
    assert_eq!(listed.body[0]["owner"], "Anonymous");

    // Pushed the same way: each reader gets the one version meant for them.
    let to_mentor = mentor_ws.next_event("ticket.created").await;
    assert_eq!(to_mentor["data"]["owner"], "Anonymous");
    let to_director = director_ws.next_event("ticket.created").await;
    assert_eq!(to_director["data"]["owner"], "Ada");
    assert!(
        mentor_ws
            .drain(std::time::Duration::from_millis(200))
            .await
            .is_empty(),
        "one copy only"
    );
    // And in a snapshot.
    let mut fresh = app.ws(&grace, None).await;
    let snapshot = fresh.next_of("snapshot").await;
    assert_eq!(snapshot["tickets"][0]["owner"], "Anonymous");

    // Any other `owner` is ignored: the ticket is the caller's, under their name.
    let bob = app.hacker("Bob").await;
    let named = app
        .open_ticket(
            &bob,
            "mine",
            json!({"owner": "Somebody Else", "anonymous": false}),
        )
        .await;
    assert_eq!(
        (named["owner"].clone(), named["anonymous"].clone()),
        (json!("Bob"), json!(false))
    );
    assert_eq!(
        app.get(&format!("/api/tickets/{}/", named["id"]), &grace.access)
            .await
            .body["owner"],
        "Bob"
    );
}

#[actix_web::test]
async fn an_owner_away_keeps_the_tickets_place_and_it_can_still_be_claimed() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let bob = app.hacker("Bob").await;
    let eve = app.hacker("Eve").await;
    let grace = app.mentor("Grace").await;
    let first = app.open_ticket(&ada, "first", json!({})).await["id"]
        .as_u64()
        .unwrap();
    let second = app.open_ticket(&bob, "second", json!({})).await["id"]
        .as_u64()
        .unwrap();

    let away = app.change_ticket(&ada, first, json!({"active": false})).await;
    assert_eq!(away.status, 200, "{}", away.body);
    assert_eq!(
        (away.body["active"].clone(), away.body["position"].clone()),
        (json!(false), json!(1))
    );
    let behind = app.get(&format!("/api/tickets/{second}/"), &bob.access).await;
    assert_eq!(behind.body["position"], 2, "the away ticket still counts ahead");
    // Only the owner or staff may say so.
    assert_eq!(
        app.change_ticket(&eve, first, json!({"active": true}))
            .await
            .status,
        404
    );
    let back = app.change_ticket(&grace, first, json!({"active": true})).await;
    assert_eq!(
        (back.body["active"].clone(), back.body["position"].clone()),
        (json!(true), json!(1))
    );
    app.change_ticket(&ada, first, json!({"active": false})).await;
    let claimed = app
        .change_ticket(&grace, first, json!({"status": "CLAIMED"}))
        .await;
    assert_eq!(claimed.body["status"], "CLAIMED", "{}", claimed.body);
    app.change_ticket(&grace, first, json!({"status": "CLOSED"}))
        .await;
    let closed = app.change_ticket(&ada, first, json!({"active": true})).await;
    assert_eq!(
        (closed.status.as_u16(), closed.code()),
        (409, "invalid_transition")
    );
}

#[actix_web::test]
async fn urls_are_absolute_under_the_public_url_in_answers_and_pushes() {
    let app = spawn_app_with(|c| c.http.public_url = Some("https://mentors.example.org/".into())).await;
    let ada = app.hacker("Ada").await;
    let mut ws = app.ws(&ada, None).await;
    ws.next_of("snapshot").await;
    let ticket = app.open_ticket(&ada, "help", json!({})).await;
    let url = format!("https://mentors.example.org/api/tickets/{}/", ticket["id"]);
    assert_eq!(ticket["url"], url.as_str());
    assert_eq!(ws.next_event("ticket.created").await["data"]["url"], url.as_str());
}
