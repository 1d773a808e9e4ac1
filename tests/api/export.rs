//! `GET /api/export/{kind}.{format}`: whole tables as CSV or JSON lines.

use crate::helpers::*;
use serde_json::{json, Value};

async fn download(app: &TestApp, who: &Login, file: &str) -> (u16, String, String) {
    let response = app
        .client
        .get(format!("{}/api/export/{file}", app.address))
        .bearer_auth(&who.access)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

#[actix_web::test]
async fn managers_export_tickets_as_csv_that_parses_back_field_for_field() {
    let app = spawn_app_with(|c| c.queue.max_active_tickets = 5).await;
    let ada = app.hacker("Ada").await;
    let grace = app.mentor("Grace").await;
    let olga = app.organizer("Olga").await;
    let awkward = "Comma, \"quotes\" and\na new line";
    let first = app
        .open_ticket(
            &ada,
            awkward,
            json!({"comment": "semi; colon", "anonymous": true}),
        )
        .await;
    app.open_ticket(&ada, "plain", json!({})).await;
    let id = first["id"].as_u64().unwrap();
    app.change_ticket(&grace, id, json!({"status": "CLAIMED"})).await;

    let (status, content_type, text) = download(&app, &olga, "tickets.csv").await;
    assert_eq!(status, 200, "{text}");
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    for column in [
        "id",
        "title",
        "owner",
        "owner_email",
        "status",
        "mentor_email",
        "url",
        "anonymous",
    ] {
        assert!(header.iter().any(|h| h == column), "{column} in {header:?}");
    }
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    let field =
        |row: &csv::StringRecord, name: &str| row[header.iter().position(|h| h == name).unwrap()].to_string();
    assert_eq!(
        field(&rows[0], "title"),
        awkward,
        "quoting keeps commas, quotes and newlines"
    );
    assert_eq!(field(&rows[0], "comment"), "semi; colon");
    assert_eq!(field(&rows[0], "status"), "CLAIMED");
    assert_eq!(field(&rows[0], "mentor_email"), "grace@example.org");
    assert_eq!(field(&rows[0], "owner"), "Ada", "managers see who asked");
    assert_eq!(
        field(&rows[0], "url"),
        format!("{}/api/tickets/{id}/", app.address)
    );
    assert_eq!(field(&rows[1], "title"), "plain");

    let (status, content_type, lines) = download(&app, &olga, "tickets.jsonl").await;
    assert_eq!(
        (status, content_type.starts_with("application/jsonl")),
        (200, true)
    );
    let objects: Vec<Value> = lines.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(objects.len(), 2);
    assert_eq!(objects[0]["title"], awkward);

    let (_, _, events) = download(&app, &olga, "events.jsonl").await;
    let kinds: Vec<String> = events
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(kinds, ["ticket.created", "ticket.created", "ticket.updated"]);
    let (_, _, events_csv) = download(&app, &olga, "events.csv").await;
    let mut reader = csv::Reader::from_reader(events_csv.as_bytes());
    let data_column = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "data")
        .unwrap();
    let first_event = reader.records().next().unwrap().unwrap();
    let data: Value = serde_json::from_str(&first_event[data_column]).unwrap();
    assert_eq!(data["title"], awkward, "an event's data is its JSON text");
}

#[actix_web::test]
async fn exports_are_for_managers_and_users_for_directors_without_secrets() {
    let app = spawn_app().await;
    let ada = app.hacker("Ada").await;
    let grace = app.mentor("Grace").await;
    let olga = app.organizer("Olga").await;
    let director = app.director().await;
    for who in [&ada, &grace] {
        let (status, _, body) = download(&app, who, "tickets.csv").await;
        assert_eq!(status, 403, "{body}");
    }
    assert_eq!(download(&app, &olga, "users.csv").await.0, 403);
    let (status, _, users) = download(&app, &director, "users.jsonl").await;
    assert_eq!(status, 200);
    assert_eq!(users.lines().count(), 4, "{users}");
    assert!(
        !users.contains("argon2") && !users.contains("password"),
        "{users}"
    );
    for kind in ["feedback", "sessions", "availability"] {
        for format in ["csv", "jsonl"] {
            let (status, _, body) = download(&app, &olga, &format!("{kind}.{format}")).await;
            assert_eq!(status, 200, "{kind}.{format}: {body}");
        }
    }
    for unknown in ["tickets.xml", "secrets.csv", "tickets"] {
        assert_eq!(download(&app, &olga, unknown).await.0, 404, "{unknown}");
    }
}

#[actix_web::test]
async fn the_audit_trail_names_who_caused_each_event_newest_first() {
    let app = spawn_app_with(|c| c.queue.max_active_tickets = 5).await;
    let ada = app.hacker("Ada").await;
    let grace = app.mentor("Grace").await;
    let olga = app.organizer("Olga").await;
    let director = app.director().await;
    let first = app.open_ticket(&ada, "first", json!({})).await["id"]
        .as_u64()
        .unwrap();
    app.open_ticket(&ada, "second", json!({})).await;
    app.change_ticket(&grace, first, json!({"status": "CLAIMED"}))
        .await;

    let all = app.get("/api/audit/", &director.access).await;
    assert_eq!(all.status, 200, "{}", all.body);
    let rows = all.body.as_array().unwrap();
    let seen: Vec<(String, u64)> = rows
        .iter()
        .map(|r| (r["kind"].as_str().unwrap().to_string(), r["by"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            ("ticket.updated".to_string(), grace.id),
            ("ticket.created".to_string(), ada.id),
            ("ticket.created".to_string(), ada.id),
        ],
        "newest first, each with its cause"
    );
    assert_eq!(rows[0]["data"]["status"], "CLAIMED");

    let by_grace = app
        .get(&format!("/api/audit/?user={}", grace.id), &director.access)
        .await;
    assert_eq!(by_grace.body.as_array().unwrap().len(), 1);
    let created = app
        .get("/api/audit/?kind=ticket.created&limit=1", &director.access)
        .await;
    let created = created.body.as_array().unwrap().clone();
    assert_eq!(created.len(), 1);
    let before = created[0]["seq"].as_u64().unwrap();
    let older = app
        .get(&format!("/api/audit/?before={before}"), &director.access)
        .await;
    assert_eq!(older.body.as_array().unwrap().len(), 1, "paging back with before");

    for bad in ["limit=0", "limit=501", "user=x", "before=-1"] {
        let reply = app.get(&format!("/api/audit/?{bad}"), &director.access).await;
        assert_eq!(
            (reply.status.as_u16(), reply.code()),
            (400, "validation_failed"),
            "{bad}"
        );
    }
    assert_eq!(app.get("/api/audit/", &olga.access).await.status, 403);

    // The events export carries `by` too.
    let (_, _, lines) = download(&app, &director, "events.jsonl").await;
    let last: Value = serde_json::from_str(lines.lines().last().unwrap()).unwrap();
    assert_eq!(last["by"], grace.id);
}
