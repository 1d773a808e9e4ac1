//! An `Idempotency-Key` whose client went away mid-request does not stay "in
//! progress": the request finishes and its answer is kept for the retry. (A request
//! whose future is dropped frees its key; `http::limits` tests that.)

use crate::helpers::*;
use serde_json::json;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

#[actix_web::test]
async fn a_client_that_disconnects_mid_request_gets_the_kept_answer_on_retry() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let body = json!({"title": "Help", "location": "T1"}).to_string();
    let request = format!(
        "POST /api/tickets/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nIdempotency-Key: k-1\r\nContent-Length: {}\r\n\r\n{body}",
        ada.access,
        body.len()
    );
    app.store.hold_syncs();
    let address = app.address.trim_start_matches("http://").to_string();
    let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
    socket.write_all(request.as_bytes()).await.unwrap();
    actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    drop(socket);
    actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    app.store.release_syncs();
    actix_web::rt::time::sleep(Duration::from_millis(200)).await;

    let retry = app
        .client
        .post(format!("{}/api/tickets/", app.address))
        .bearer_auth(&ada.access)
        .header("Idempotency-Key", "k-1")
        .json(&json!({"title": "Help", "location": "T1"}))
        .send()
        .await
        .unwrap();
    let status = retry.status();
    let replayed = retry.headers().get("idempotent-replayed").cloned();
    let answer: serde_json::Value = retry.json().await.unwrap();
    assert_ne!(answer["code"], "request_in_progress", "the key is not stuck");
    assert_eq!(status, 201, "{answer}");
    assert_eq!(replayed.as_ref().map(|v| v.to_str().unwrap()), Some("true"));
    let tickets = app.get("/api/tickets/", &ada.access).await;
    assert_eq!(tickets.body.as_array().unwrap().len(), 1, "acted on once");
}
