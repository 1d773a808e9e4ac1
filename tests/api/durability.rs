//! Nothing un-durable is ever visible: while a change is applied but its sync is held
//! back, reads and authentication that could see it wait, and show it only once it is
//! on disk.

use crate::helpers::*;
use serde_json::json;
use std::time::Duration;

/// Long enough for a local request to be answered many times over.
const WAIT: Duration = Duration::from_millis(400);

#[actix_web::test]
async fn a_claim_that_is_not_yet_durable_is_shown_to_nobody() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let grace = app.mentor("Grace").await;
    let alan = app.mentor("Alan").await;
    let ticket = app
        .post(
            "/api/tickets/",
            Some(&ada.access),
            json!({"title": "Help", "location": "T1"}),
        )
        .await;
    let path = format!("/api/tickets/{}/", ticket.body["id"]);

    app.store.hold_syncs();
    let claim = {
        let (client, url, token) = (
            app.client.clone(),
            format!("{}{path}", app.address),
            grace.access.clone(),
        );
        actix_web::rt::spawn(async move {
            client
                .patch(url)
                .bearer_auth(token)
                .json(&json!({"status": "CLAIMED"}))
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    // The claim is applied in memory at once; only its sync is held.
    actix_web::rt::time::sleep(Duration::from_millis(150)).await;
    let owner_read = tokio::time::timeout(WAIT, app.get(&path, &ada.access)).await;
    let other_mentor_list = tokio::time::timeout(WAIT, app.get("/api/tickets/", &alan.access)).await;
    let claim_answered_early = claim.is_finished();
    app.store.release_syncs();

    assert!(
        owner_read.is_err(),
        "the owner's read waited for the claim to be durable"
    );
    assert!(other_mentor_list.is_err(), "another mentor's list waited too");
    assert!(
        !claim_answered_early,
        "the claim itself is acknowledged only once durable"
    );
    assert_eq!(claim.await.unwrap(), 200);
    let after = app.get(&path, &ada.access).await;
    assert_eq!(after.body["status"], "CLAIMED");
}

#[actix_web::test]
async fn a_role_that_is_not_yet_durable_grants_nothing() {
    let app = spawn_app().await;
    let director = app.director().await;
    let bob = app.hacker("Bob").await;
    assert_eq!(app.get("/api/users/", &bob.access).await.status, 403);

    app.store.hold_syncs();
    let grant = {
        let (client, url, token) = (
            app.client.clone(),
            format!("{}/api/users/{}/roles/", app.address, bob.id),
            director.access.clone(),
        );
        actix_web::rt::spawn(async move {
            client
                .put(url)
                .bearer_auth(token)
                .json(&json!({"roles": ["organizer"]}))
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    actix_web::rt::time::sleep(Duration::from_millis(150)).await;
    let early = tokio::time::timeout(WAIT, app.get("/api/users/", &bob.access)).await;
    app.store.release_syncs();

    assert!(
        early.is_err(),
        "bob's request waited for the role change to be durable"
    );
    assert_eq!(grant.await.unwrap(), 200);
    assert_eq!(app.get("/api/users/", &bob.access).await.status, 200);
}
