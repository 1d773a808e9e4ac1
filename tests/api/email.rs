//! E-mail against a real SMTP server: Debian's `python3-aiosmtpd`, started by the test,
//! writing what it receives to a maildir that Python's own e-mail package reads back
//! (`tests/fixtures/read_maildir.py`, which checks each calendar part with
//! `python3-icalendar`). `.ci/run` installs both.

use crate::helpers::*;
use chrono::{Duration, TimeZone, Utc};
use mentorq::clock::ManualClock;
use reqwest::Method;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

const PYTHON: &str = "/usr/bin/python3";

struct Smtp {
    child: Child,
    port: u16,
    maildir: tempfile::TempDir,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn smtp_server() -> Smtp {
    let maildir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(PYTHON)
        .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
        .args(["-c", "aiosmtpd.handlers.Mailbox"])
        .arg(maildir.path().join("box"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("NO SMTP SERVER: apt-get install python3-aiosmtpd ({e})"));
    // Dropped (killed and waited for) on every path from here.
    let smtp = Smtp { child, port, maildir };
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return smtp;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    panic!("aiosmtpd did not start listening on {port}");
}

impl Smtp {
    /// Every message received, once at least `n` have arrived (or after 10 s).
    async fn messages(&self, n: usize) -> Vec<Value> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let out = Command::new(PYTHON)
                .arg(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/tests/fixtures/read_maildir.py"
                ))
                .arg(self.maildir.path().join("box"))
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let all: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
            if all.len() >= n || std::time::Instant::now() > deadline {
                return all;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

fn at(h: u32, m: u32) -> String {
    Utc.with_ymd_and_hms(2030, 1, 10, h, m, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn to(messages: &[Value], email: &str) -> Vec<Value> {
    messages
        .iter()
        .filter(|m| m["to"].as_str().unwrap().contains(email))
        .cloned()
        .collect()
}

#[actix_web::test]
async fn each_trigger_emails_the_right_people_with_its_calendar_part() {
    let smtp = smtp_server();
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2030, 1, 10, 9, 0, 0).unwrap());
    let port = smtp.port;
    let app = spawn_app_with_clock(
        move |c| {
            c.auth.access_ttl_seconds = 7 * 86_400;
            c.email.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
            c.email.from = "Mentoring desk <desk@example.org>".into();
        },
        Arc::new(clock.clone()),
    )
    .await;
    let grace = app.mentor("Grace").await;
    let ada = app.hacker("Ada").await;
    let bob = app.hacker("Bob").await;
    // Bob wants no e-mail at all.
    let off = app
        .call(
            Method::PATCH,
            "/api/notification-settings/",
            Some(&bob.access),
            Some(json!({"email": false})),
        )
        .await;
    assert_eq!(
        (off.body["email"].as_bool(), off.body["ticket_claimed"].as_bool()),
        (Some(false), Some(true))
    );

    // A ticket claimed: its owner hears who is coming; Bob's claim e-mails nobody.
    let ticket = app.open_ticket(&ada, "Segfault in parser", json!({})).await;
    app.change_ticket(
        &grace,
        ticket["id"].as_u64().unwrap(),
        json!({"status": "CLAIMED"}),
    )
    .await;
    let bobs = app.open_ticket(&bob, "Linker", json!({})).await;
    app.change_ticket(&grace, bobs["id"].as_u64().unwrap(), json!({"status": "CLAIMED"}))
        .await;

    // A session requested, confirmed, reminded and cancelled.
    let chunks = app
        .post(
            "/api/availability/",
            Some(&grace.access),
            json!({"start_time": at(14, 0), "end_time": at(14, 30)}),
        )
        .await;
    let session = app
        .post(
            "/api/sessions/",
            Some(&ada.access),
            json!({"availability": chunks.body[0]["id"], "session_length": 30, "topic": "Parser design"}),
        )
        .await;
    let path = format!("/api/sessions/{}/", session.body["id"]);
    app.patch(&path, &grace.access, json!({"status": "CONFIRMED"}))
        .await;
    clock.set(Utc.with_ymd_and_hms(2030, 1, 10, 13, 50, 0).unwrap());
    app.get("/api/sessions/", &ada.access).await;
    clock.advance(Duration::minutes(1));
    app.patch(
        &path,
        &ada.access,
        json!({"status": "CANCELLED", "reason": "Fixed it myself"}),
    )
    .await;

    // 1 claim + 1 request + 2 confirmations + 4 reminders + 1 cancellation.
    let all = smtp.messages(9).await;
    assert_eq!(all.len(), 9, "{all:#?}");
    assert!(all
        .iter()
        .all(|m| m["from"] == "Mentoring desk <desk@example.org>"));
    assert!(to(&all, &bob.email).is_empty(), "email off");
    let adas = to(&all, &ada.email);
    let graces = to(&all, &grace.email);

    let claimed = adas
        .iter()
        .find(|m| m["subject"].as_str().unwrap().contains("on the way"))
        .unwrap();
    assert!(claimed["subject"].as_str().unwrap().contains("Grace"));
    assert!(claimed["text"].as_str().unwrap().contains("Segfault in parser"));

    let requested = graces
        .iter()
        .find(|m| m["subject"].as_str().unwrap().contains("asks for a session"))
        .unwrap();
    assert!(requested["text"].as_str().unwrap().contains("Parser design"));
    assert_eq!(requested["calendar"], Value::Null);

    for mine in [&adas, &graces] {
        let confirmed = mine
            .iter()
            .find(|m| m["subject"].as_str().unwrap().starts_with("Confirmed"))
            .unwrap();
        let calendar = &confirmed["calendar"];
        assert_eq!(
            (calendar["method"].as_str(), calendar["part_method"].as_str()),
            (Some("REQUEST"), Some("REQUEST"))
        );
        assert_eq!(calendar["status"], "CONFIRMED");
        assert!(confirmed["text"]
            .as_str()
            .unwrap()
            .contains("https://meet.jit.si/"));
        let reminders: Vec<&Value> = mine
            .iter()
            .filter(|m| m["subject"].as_str().unwrap().contains("starts in"))
            .collect();
        assert_eq!(reminders.len(), 2, "60 and 15 minutes before");
    }
    let cancelled = to(&all, &grace.email)
        .into_iter()
        .find(|m| m["subject"].as_str().unwrap().starts_with("Cancelled"))
        .expect("the other party hears of it");
    assert!(cancelled["text"].as_str().unwrap().contains("Fixed it myself"));
    let calendar = &cancelled["calendar"];
    assert_eq!(
        (calendar["method"].as_str(), calendar["status"].as_str()),
        (Some("CANCEL"), Some("CANCELLED"))
    );
    let confirmed_uid = graces
        .iter()
        .find(|m| m["subject"].as_str().unwrap().starts_with("Confirmed"))
        .unwrap()["calendar"]["uid"]
        .clone();
    assert_eq!(calendar["uid"], confirmed_uid, "the same calendar entry, updated");
    assert!(calendar["sequence"].as_i64() > Some(1));
    assert!(
        to(&all, &ada.email)
            .iter()
            .all(|m| !m["subject"].as_str().unwrap().starts_with("Cancelled")),
        "not to who cancelled"
    );
    let ids: std::collections::HashSet<&str> =
        all.iter().map(|m| m["message_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), all.len(), "one Message-ID each");
}
