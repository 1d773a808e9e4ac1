//! The WebSocket protocol of API.md, as a client sees it.

use crate::helpers::*;
use serde_json::{json, Value};
use std::time::Duration;

async fn open_ticket(app: &TestApp, who: &Login, title: &str) -> u64 {
    app.open_ticket(who, title, json!({})).await["id"]
        .as_u64()
        .unwrap()
}

async fn set_status(app: &TestApp, who: &Login, id: u64, status: &str) {
    let reply = app.change_ticket(who, id, json!({ "status": status })).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

fn titles(snapshot: &Value) -> Vec<String> {
    snapshot["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_string())
        .collect()
}

#[actix_web::test]
async fn a_missing_or_invalid_token_is_refused_before_the_upgrade() {
    let app = spawn_app().await;
    for url in [
        format!("{}/ws", app.address),
        format!("{}/ws?access_token=nope", app.address),
    ] {
        let ws_url = url.replace("http://", "ws://");
        match tokio_tungstenite::connect_async(ws_url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401),
            other => panic!("expected a 401, got {other:?}"),
        }
    }
}

#[actix_web::test]
async fn the_snapshot_shows_each_role_what_it_may_see() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let eve = app.hacker("Eve").await;
    let grace = app.mentor("Grace").await;
    let director = app.director().await;
    open_ticket(&app, &ada, "ada's").await;
    open_ticket(&app, &eve, "eve's").await;
    app.post(
        "/api/announcements/",
        Some(&director.access),
        json!({"text": "Welcome"}),
    )
    .await;

    let mut as_ada = app.ws(&ada, None).await;
    let snapshot = as_ada.next_of("snapshot").await;
    assert_eq!(titles(&snapshot), ["ada's"]);
    assert!(snapshot["seq"].as_u64().unwrap() >= 3);
    assert_eq!(snapshot["queue"]["open_count"], 2);
    assert_eq!(snapshot["announcements"][0]["text"], "Welcome");
    assert_eq!(snapshot["sessions"], json!([]));
    assert_eq!(snapshot["tickets"][0]["position"], 1);

    let mut as_grace = app.ws(&grace, None).await;
    let snapshot = as_grace.next_of("snapshot").await;
    assert_eq!(titles(&snapshot), ["ada's", "eve's"]);
    let presence = as_grace.next_of("presence").await;
    assert_eq!(presence["mentors_online"], 1);
    as_ada.close().await;
    as_grace.close().await;
}

#[actix_web::test]
async fn a_ticket_event_reaches_staff_and_its_owner_but_not_another_hacker() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let eve = app.hacker("Eve").await;
    let grace = app.mentor("Grace").await;
    let mut as_ada = app.ws(&ada, None).await;
    let mut as_eve = app.ws(&eve, None).await;
    let mut as_grace = app.ws(&grace, None).await;
    for ws in [&mut as_ada, &mut as_eve, &mut as_grace] {
        ws.next_of("snapshot").await;
    }
    let id = open_ticket(&app, &ada, "private").await;
    let for_grace = as_grace.next_event("ticket.created").await;
    let for_ada = as_ada.next_event("ticket.created").await;
    assert_eq!(for_grace["data"]["id"], id);
    assert_eq!(for_grace["seq"], for_ada["seq"], "one seq for everyone");
    assert_eq!(for_ada["data"]["position"], 1);
    let eve_saw = as_eve.drain(Duration::from_millis(300)).await;
    assert!(eve_saw.iter().all(|m| m["type"] != "event"), "{eve_saw:?}");
}

#[actix_web::test]
async fn a_client_resuming_gets_exactly_the_missed_events_it_may_see() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let eve = app.hacker("Eve").await;
    let grace = app.mentor("Grace").await;
    let mut ws = app.ws(&ada, None).await;
    let since = ws.next_of("snapshot").await["seq"].as_u64().unwrap();
    ws.close().await;

    let mine = open_ticket(&app, &ada, "mine").await;
    open_ticket(&app, &eve, "not mine").await;
    set_status(&app, &grace, mine, "CLAIMED").await;

    let mut ws = app.ws(&ada, Some(since)).await;
    let resume = ws.next().await;
    assert_eq!(resume["type"], "resume");
    assert_eq!(resume["from"], since + 1);
    assert_eq!(resume["to"], since + 3);
    let first = ws.next().await;
    let second = ws.next().await;
    assert_eq!(
        (first["kind"].as_str(), second["kind"].as_str()),
        (Some("ticket.created"), Some("ticket.updated"))
    );
    assert_eq!(first["seq"], since + 1);
    assert_eq!(
        second["seq"],
        since + 3,
        "eve's ticket (seq +2) is not visible to ada"
    );
    assert_eq!(second["data"]["status"], "CLAIMED");
    let rest = ws.drain(Duration::from_millis(300)).await;
    assert!(
        rest.iter().all(|m| m["type"] != "event"),
        "nothing twice: {rest:?}"
    );

    let mut up_to_date = app.ws(&ada, Some(since + 3)).await;
    let resume = up_to_date.next().await;
    assert_eq!(
        (resume["from"].as_u64(), resume["to"].as_u64()),
        (Some(since + 4), Some(since + 3))
    );
}

#[actix_web::test]
async fn a_since_from_another_epoch_gets_a_snapshot_never_a_resume() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let mut ws = app.ws(&ada, None).await;
    let snapshot = ws.next_of("snapshot").await;
    let (since, epoch) = (
        snapshot["seq"].as_u64().unwrap(),
        snapshot["epoch"].as_str().unwrap().to_string(),
    );
    assert_eq!(epoch, app.store.epoch().to_string());
    ws.close().await;
    open_ticket(&app, &ada, "while away").await;

    let same = app.ws_url(&ada.access, Some(since)) + &format!("&epoch={epoch}");
    let resumed = app.ws_at(&same, None).await.next().await;
    assert_eq!(
        (resumed["type"].as_str(), resumed["epoch"].as_str()),
        (Some("resume"), Some(epoch.as_str()))
    );

    let other = app.ws_url(&ada.access, Some(since)) + "&epoch=0123456789abcdef0123456789abcdef";
    let fresh = app.ws_at(&other, None).await.next().await;
    assert_eq!(
        fresh["type"], "snapshot",
        "another history's since is not resumed: {fresh}"
    );
    assert_eq!(fresh["tickets"][0]["title"], "while away");
}

#[actix_web::test]
async fn a_since_older_than_the_retained_events_gets_a_snapshot() {
    let app = spawn_app_with(|c| {
        c.realtime.retain_events = 2;
        c.queue.max_active_tickets = 10;
    })
    .await;
    let ada = app.hacker("Ada").await;
    for i in 0..4 {
        open_ticket(&app, &ada, &format!("t{i}")).await;
    }
    let mut ws = app.ws(&ada, Some(0)).await;
    let first = ws.next().await;
    assert_eq!(first["type"], "snapshot");
    assert_eq!(titles(&first).len(), 4);
    let mut future = app.ws(&ada, Some(999)).await;
    assert_eq!(
        future.next().await["type"],
        "snapshot",
        "a since from the future cannot resume"
    );
    let mut recent = app.ws(&ada, Some(3)).await;
    let resume = recent.next().await;
    assert_eq!(resume["type"], "resume");
    assert_eq!(recent.next().await["seq"], 4);
}

#[actix_web::test]
async fn bad_client_messages_get_errors_and_oversize_frames_close_1009() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let mut ws = app.ws(&ada, None).await;
    ws.next_of("snapshot").await;
    ws.send_text("{not json").await;
    assert_eq!(ws.next_of("error").await["code"], "invalid_json");
    ws.send_text(r#"{"type": "dance"}"#).await;
    assert_eq!(ws.next_of("error").await["code"], "unknown_type");
    ws.send_text(r#"{"type": "ping"}"#).await;
    assert_eq!(
        ws.next_of("pong").await["type"],
        "pong",
        "the connection stays up"
    );
    ws.send_text(&"x".repeat(5000)).await;
    let (code, _) = ws.until_closed().await;
    assert_eq!(code, 1009);
}

#[actix_web::test]
async fn logout_and_role_changes_close_connections_with_4001() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let mut ws = app.ws(&ada, None).await;
    ws.next_of("snapshot").await;
    app.post(
        "/api/auth/logout/",
        Some(&ada.access),
        json!({"refresh": ada.refresh}),
    )
    .await;
    assert_eq!(ws.until_closed().await.0, 4001);

    let bob = app.hacker("Bob").await;
    let director = app.director().await;
    let mut ws = app.ws(&bob, None).await;
    ws.next_of("snapshot").await;
    let reply = app
        .call(
            reqwest::Method::PUT,
            &format!("/api/users/{}/roles/", bob.id),
            Some(&director.access),
            Some(json!({"roles": ["mentor"]})),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(ws.until_closed().await.0, 4001);
}

#[actix_web::test]
async fn positions_and_presence_are_pushed_when_they_change() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let bob = app.hacker("Bob").await;
    let grace = app.mentor("Grace").await;
    let first = open_ticket(&app, &ada, "first").await;
    let second = open_ticket(&app, &bob, "second").await;
    let mut as_bob = app.ws(&bob, None).await;
    as_bob.next_of("snapshot").await;
    assert_eq!(as_bob.next_of("presence").await["mentors_online"], 0);
    let position = as_bob.next_of("position").await;
    assert_eq!(
        (position["ticket"].as_u64(), position["position"].as_u64()),
        (Some(second), Some(2))
    );
    assert_eq!(
        position["estimated_wait_seconds"],
        Value::Null,
        "no mentor online"
    );

    let as_grace = app.ws(&grace, None).await;
    assert_eq!(as_bob.next_of("presence").await["mentors_online"], 1);
    let with_mentor = as_bob.next_of("position").await;
    assert_eq!(with_mentor["estimated_wait_seconds"], 600.0);
    let queue = app.get("/api/queue/", &bob.access).await;
    assert_eq!(
        queue.body["mentors_online"], 1,
        "REST counts live mentor connections"
    );

    set_status(&app, &grace, first, "CLAIMED").await;
    let moved_up = as_bob.next_of("position").await;
    assert_eq!(moved_up["position"], 1);
    as_grace.close().await;
    assert_eq!(as_bob.next_of("presence").await["mentors_online"], 0);
}

#[actix_web::test]
async fn a_client_that_stops_reading_is_cut_off_while_others_keep_receiving() {
    // The limit must exceed one commit batch (at most 20 events here), which the Hub
    // hands over at once; what piles up beyond that is what the client does not read.
    let app = spawn_app_with(|c| {
        c.realtime.outbox_limit = 40;
        // Loopback autotuning would otherwise let the kernel absorb megabytes first.
        c.http.socket_send_buffer_bytes = 8192;
    })
    .await;
    let director = app.director().await;
    let reader = app.hacker("Reader").await;
    let sloth = app.hacker("Sloth").await;
    let mut fast = app.ws(&reader, None).await;
    fast.next_of("snapshot").await;
    let mut slow = app.ws_with_buffer(&sloth, None, Some(2048)).await;
    const ROUNDS: usize = 30;
    const PER_ROUND: usize = 20;
    let posted = ROUNDS * PER_ROUND;
    // The normal client reads all along, on its own task.
    let reading = actix_web::rt::spawn(async move {
        let mut received = 0;
        while received < posted {
            let event = fast.next_of("event").await;
            assert_eq!(event["kind"], "announcement");
            received += 1;
        }
        received
    });
    // The slow client reads nothing until the burst is over.
    let text = "x".repeat(1000);
    for _ in 0..ROUNDS {
        let burst = (0..PER_ROUND).map(|_| {
            app.post(
                "/api/announcements/",
                Some(&director.access),
                json!({ "text": text }),
            )
        });
        for reply in futures_util::future::join_all(burst).await {
            assert_eq!(reply.status, 201);
        }
    }
    assert_eq!(
        reading.await.unwrap(),
        posted,
        "the normal client received every event"
    );
    let (code, before) = slow.until_closed().await;
    assert_eq!(code, 4008, "the lagging client is told to resume");
    let slow_events = before.iter().filter(|m| m["type"] == "event").count();
    assert!(
        slow_events < posted,
        "it was cut off before the end ({slow_events} of {posted})"
    );
}

#[actix_web::test]
async fn every_subscriber_sees_increasing_seqs_and_shared_events_agree() {
    let app = spawn_app_with(|c| c.queue.max_active_tickets = 100).await;
    let director = app.director().await;
    let writers: Vec<Login> = {
        let mut v = Vec::new();
        for i in 0..6 {
            v.push(app.hacker(&format!("Writer {i}")).await);
        }
        v
    };
    let mut manager = app.ws(&director, None).await;
    let start = manager.next_of("snapshot").await["seq"].as_u64().unwrap();
    let mut watchers = Vec::new();
    for w in &writers[..3] {
        let mut ws = app.ws(w, None).await;
        ws.next_of("snapshot").await;
        watchers.push(ws);
    }
    let writes = writers
        .iter()
        .flat_map(|w| (0..5).map(move |i| (w, i)))
        .map(|(w, i)| {
            let app = &app;
            async move { open_ticket(app, w, &format!("{} #{i}", w.email)).await }
        });
    futures_util::future::join_all(writes).await;

    // The manager sees every one of the 30 ticket-only changes, gap-free.
    let mut seqs = Vec::new();
    let mut seq_of_ticket = std::collections::HashMap::new();
    while seqs.len() < 30 {
        let event = manager.next_event("ticket.created").await;
        let seq = event["seq"].as_u64().unwrap();
        seq_of_ticket.insert(event["data"]["id"].as_u64().unwrap(), seq);
        seqs.push(seq);
    }
    assert_eq!(seqs, ((start + 1)..=(start + 30)).collect::<Vec<_>>());
    for mut ws in watchers {
        let mut last = start;
        for _ in 0..5 {
            let event = ws.next_event("ticket.created").await;
            let seq = event["seq"].as_u64().unwrap();
            assert!(seq > last, "strictly increasing");
            let ticket = event["data"]["id"].as_u64().unwrap();
            assert_eq!(
                seq_of_ticket[&ticket], seq,
                "the manager saw the same event with the same seq"
            );
            last = seq;
        }
    }
}

#[actix_web::test]
async fn a_resume_across_many_outboxes_of_events_completes_on_one_connection() {
    let app = spawn_app_with(|c| c.realtime.outbox_limit = 40).await;
    let director = app.director().await;
    let mut first = app.ws(&director, None).await;
    let since = first.next_of("snapshot").await["seq"].as_u64().unwrap();
    first.close().await;
    const MISSED: u64 = 300;
    for i in 0..MISSED {
        let reply = app
            .post(
                "/api/announcements/",
                Some(&director.access),
                json!({ "text": format!("n{i}") }),
            )
            .await;
        assert_eq!(reply.status, 201);
    }
    let mut again = app.ws(&director, Some(since)).await;
    // More events commit while the replay is under way.
    const DURING: u64 = 60;
    let writer = {
        let (address, access) = (app.address.clone(), director.access.clone());
        actix_web::rt::spawn(async move {
            let client = reqwest::Client::new();
            for i in 0..DURING {
                let reply = client
                    .post(format!("{address}/api/announcements/"))
                    .bearer_auth(&access)
                    .json(&json!({ "text": format!("d{i}") }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(reply.status(), 201);
            }
        })
    };
    let resume = again.next().await;
    assert_eq!(resume["type"], "resume");
    assert_eq!(resume["from"].as_u64(), Some(since + 1));
    assert!(resume["to"].as_u64().unwrap() >= since + MISSED);
    let total = MISSED + DURING;
    let mut seqs = Vec::new();
    while seqs.len() < total as usize {
        let message = again.next().await;
        assert_ne!(message["type"], "snapshot", "resumed, not reloaded");
        if message["type"] == "event" {
            seqs.push(message["seq"].as_u64().unwrap());
        }
    }
    writer.await.unwrap();
    assert_eq!(
        seqs,
        ((since + 1)..=(since + total)).collect::<Vec<_>>(),
        "every event once, in order, across the replay and the live pushes"
    );
}

#[actix_web::test]
async fn a_fragmented_message_is_reassembled_and_answered() {
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let mut ws = app.ws(&ada, None).await;
    ws.next_of("snapshot").await;
    ws.send_frame(br#"{"type":"#, OpCode::Data(Data::Text), false)
        .await;
    ws.send_frame(br#" "pi"#, OpCode::Data(Data::Continue), false)
        .await;
    ws.send_frame(br#"ng"}"#, OpCode::Data(Data::Continue), true)
        .await;
    assert_eq!(ws.next_of("pong").await["type"], "pong");
    // Parts that add up to more than 4 KiB close the connection, as one big frame would.
    let part = vec![b' '; 3000];
    ws.send_frame(&part, OpCode::Data(Data::Text), false).await;
    ws.send_frame(&part, OpCode::Data(Data::Continue), true).await;
    let (code, _) = ws.until_closed().await;
    assert_eq!(code, 1009);
}

#[actix_web::test]
async fn a_burst_of_pings_from_a_reading_client_never_closes_it_as_lagging() {
    let app = spawn_app_with(|c| c.realtime.outbox_limit = 40).await;
    let director = app.director().await;
    let mut ws = app.ws(&director, None).await;
    ws.next_of("snapshot").await;
    // Far more pings than the outbox holds, sent without reading in between.
    for _ in 0..400 {
        ws.send_text(r#"{"type":"ping"}"#).await;
    }
    let answered = ws.drain(Duration::from_millis(300)).await;
    let pongs = answered.iter().filter(|m| m["type"] == "pong").count();
    assert!(pongs >= 1, "pings are answered");
    // Still connected: an event pushed now arrives.
    app.post(
        "/api/announcements/",
        Some(&director.access),
        json!({"text": "still here"}),
    )
    .await;
    assert_eq!(ws.next_event("announcement").await["data"]["text"], "still here");
}

/// 500 clients dropped at once while tickets keep being opened: each reconnects with
/// `since` and `epoch` after a random delay of up to 200 ms, is resumed (not sent a
/// snapshot), and has then seen every event exactly once, in order.
#[actix_web::test]
async fn five_hundred_clients_dropped_at_once_all_resume_without_a_gap_or_a_repeat() {
    const CLIENTS: usize = 500;
    let app = std::sync::Arc::new(
        spawn_app_with(|c| {
            c.queue.max_active_tickets = 1_000;
            c.queue.writes_per_minute = 1_000_000;
        })
        .await,
    );
    let director = app.director().await;
    let writer = app.hacker("Writer").await;

    // Everyone connected; staff see every ticket event, so their seqs run unbroken.
    let mut clients = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        let mut ws = app.ws(&director, None).await;
        let snapshot = ws.next_of("snapshot").await;
        let seq = snapshot["seq"].as_u64().unwrap();
        let epoch = snapshot["epoch"].as_str().unwrap().to_string();
        clients.push((ws, seq, epoch));
    }

    // A writer opens tickets the whole time: before, during and after the drop.
    let writing = {
        let (app, writer) = (app.clone(), writer.clone());
        tokio::spawn(async move {
            for i in 0..150 {
                app.open_ticket(&writer, &format!("storm {i}"), json!({})).await;
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;

    // Each client reads what has come so far, then all connections are dropped at once
    // (no close handshake, as when Wi-Fi goes).
    let mut states = Vec::with_capacity(CLIENTS);
    for (mut ws, start, epoch) in clients {
        let seen: Vec<u64> = ws
            .drain(std::time::Duration::from_millis(1))
            .await
            .into_iter()
            .filter(|m| m["type"] == "event")
            .map(|m| m["seq"].as_u64().unwrap())
            .collect();
        states.push((ws, start, epoch, seen));
    }
    let mut resumed = Vec::with_capacity(CLIENTS);
    for (ws, start, epoch, seen) in states {
        drop(ws);
        resumed.push((start, epoch, seen));
    }

    let reconnects: Vec<_> = resumed
        .into_iter()
        .enumerate()
        .map(|(i, (start, epoch, seen))| {
            let (app, token) = (app.clone(), director.access.clone());
            tokio::spawn(async move {
                // A spread of delays, 0–200 ms.
                tokio::time::sleep(std::time::Duration::from_millis((i as u64 * 37) % 200)).await;
                let since = seen.last().copied().unwrap_or(start);
                let url = app.ws_url(&token, Some(since)) + &format!("&epoch={epoch}");
                let mut ws = app.ws_at(&url, None).await;
                let first = ws.next().await;
                assert_eq!(first["type"], "resume", "client {i}: {first}");
                let missed = first["to"].as_u64().unwrap() > since;
                (start, seen, ws, missed)
            })
        })
        .collect();
    let mut back = Vec::with_capacity(CLIENTS);
    for r in reconnects {
        back.push(r.await.unwrap());
    }
    assert!(
        !writing.is_finished(),
        "the writer was still writing when the clients came back"
    );
    let missed = back.iter().filter(|b| b.3).count();
    assert!(
        missed > 0,
        "some clients missed events while away and had them replayed"
    );
    writing.await.unwrap();

    // The newest event, as a fresh client is told it.
    let mut probe = app.ws(&director, None).await;
    let last = probe.next_of("snapshot").await["seq"].as_u64().unwrap();
    for (i, (start, mut seen, mut ws, _)) in back.into_iter().enumerate() {
        while seen.last().copied().unwrap_or(start) < last {
            let message = ws.next().await;
            if message["type"] == "event" {
                seen.push(message["seq"].as_u64().unwrap());
            }
        }
        let expected: Vec<u64> = (start + 1..=last).collect();
        assert_eq!(seen, expected, "client {i}: every event once, in order");
    }
}
