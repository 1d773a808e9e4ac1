//! The calendar feed, parsed by a real iCalendar parser (Debian's python3-icalendar).

use crate::helpers::*;
use chrono::{TimeZone, Utc};
use mentorq::clock::ManualClock;
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

/// The feed's events as Python's `icalendar` reads them.
fn parse(ics: &str) -> Value {
    let script = r#"
import json, sys, icalendar
cal = icalendar.Calendar.from_ical(sys.stdin.read())
assert str(cal["VERSION"]) == "2.0" and "PRODID" in cal
print(json.dumps([{"uid": str(e["UID"]), "sequence": int(e.get("SEQUENCE", 0)), "status": str(e["STATUS"]),
  "summary": str(e["SUMMARY"]), "start": e.decoded("DTSTART").isoformat(), "url": str(e.get("URL", "")),
  "alarms": len(e.walk("VALARM"))} for e in cal.walk("VEVENT")]))
"#;
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("NO PYTHON ICALENDAR: apt-get install python3-icalendar");
    child.stdin.take().unwrap().write_all(ics.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{ics}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[actix_web::test]
async fn the_feed_is_valid_icalendar_that_changes_with_its_sessions_and_rotates() {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2030, 1, 10, 9, 0, 0).unwrap());
    let app = spawn_app_with_clock(|c| c.auth.access_ttl_seconds = 86_400, Arc::new(clock.clone())).await;
    let grace = app.mentor("Grace").await;
    let ada = app.hacker("Ada").await;
    let chunks = app
        .post(
            "/api/availability/",
            Some(&grace.access),
            json!({"start_time": "2030-01-10T14:00:00Z", "end_time": "2030-01-10T14:30:00Z"}),
        )
        .await;
    let session = app
        .post(
            "/api/sessions/",
            Some(&ada.access),
            json!({"availability": chunks.body[0]["id"], "session_length": 30, "topic": "Parsers"}),
        )
        .await;
    let url = app.get("/api/calendar/", &ada.access).await.body["url"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(url.starts_with(&app.address) && url.ends_with(".ics"), "{url}");
    let fetch = |etag: Option<String>| {
        let mut request = app.client.get(&url);
        if let Some(etag) = etag {
            request = request.header("if-none-match", etag);
        }
        request.send()
    };
    let first = fetch(None).await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["content-type"], "text/calendar; charset=utf-8");
    let etag = first.headers()["etag"].to_str().unwrap().to_string();
    let events = parse(&first.text().await.unwrap());
    assert_eq!(events.as_array().unwrap().len(), 1);
    assert_eq!(events[0]["status"], "TENTATIVE");
    assert_eq!(events[0]["summary"], "Mentoring session with Grace");
    assert!(events[0]["start"]
        .as_str()
        .unwrap()
        .starts_with("2030-01-10T14:00:00"));
    assert_eq!(fetch(Some(etag.clone())).await.unwrap().status(), 304);

    let path = format!("/api/sessions/{}/", session.body["id"]);
    app.patch(&path, &grace.access, json!({"status": "CONFIRMED"}))
        .await;
    let changed = fetch(Some(etag)).await.unwrap();
    assert_eq!(changed.status(), 200, "a changed feed is sent again");
    let after = parse(&changed.text().await.unwrap());
    assert_eq!(after[0]["uid"], events[0]["uid"], "a stable UID");
    assert!(after[0]["sequence"].as_i64() > events[0]["sequence"].as_i64());
    assert_eq!(after[0]["status"], "CONFIRMED");
    assert_eq!(after[0]["alarms"], 2, "60 and 15 minutes before");
    assert!(after[0]["url"].as_str().unwrap().starts_with("https://"));

    let rotated = app
        .post("/api/calendar/rotate/", Some(&ada.access), json!({}))
        .await;
    let new_url = rotated.body["url"].as_str().unwrap();
    assert_ne!(new_url, url);
    assert_eq!(
        fetch(None).await.unwrap().status(),
        404,
        "the old URL is gone at once"
    );
    assert_eq!(app.client.get(new_url).send().await.unwrap().status(), 200);
    let forged = url.replace(".ics", "0.ics");
    assert_eq!(app.client.get(forged).send().await.unwrap().status(), 404);
}
