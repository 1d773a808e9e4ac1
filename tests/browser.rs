//! The board page in a real browser (Chromium through chromedriver): a mentor's page and
//! a participant's page side by side. The participant opens a ticket and it appears on
//! the mentor's board without a reload; the mentor claims it and the participant's page
//! shows it claimed. Screenshots of both pages are kept under `target/browser/`.
//!
//! This test needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them).
//! Without them it fails loudly rather than skipping.

mod support;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const PASSWORD: &str = "correct horse";
const WAIT: Duration = Duration::from_secs(15);

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn find_program(candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().map(PathBuf::from).find(|p| p.exists())
}

fn start_server(data: &Path) -> (Killed, String) {
    let (child, base) = support::spawn_server(data, &[], None);
    (Killed(child), base)
}

fn start_chromedriver(driver: &Path) -> (Killed, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let driver = Killed(
        Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts"),
    );
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (driver, url);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("chromedriver did not start listening on {url}");
}

async fn browser(driver_url: &str, chromium: &Path, profile: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-quic", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--window-size=1200,1000",
                     format!("--user-data-dir={}", profile.display())],
        }),
    );
    ClientBuilder::rustls()
        .expect("a TLS-capable client builder")
        .capabilities(caps)
        .connect(driver_url)
        .await
        .expect("a browser session")
}

async fn rest(base: &str, method: reqwest::Method, path: &str, token: Option<&str>, body: Value) -> Value {
    let mut request = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    assert!(response.status().is_success(), "{path}: {}", response.status());
    response.json().await.unwrap_or(Value::Null)
}

async fn log_in(page: &Client, base: &str, email: &str) {
    page.goto(base).await.unwrap();
    page.wait()
        .at_most(WAIT)
        .for_element(Locator::Id("login-email"))
        .await
        .unwrap();
    page.find(Locator::Id("login-email"))
        .await
        .unwrap()
        .send_keys(email)
        .await
        .unwrap();
    page.find(Locator::Id("login-password"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    page.find(Locator::Id("login-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    page.wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#conn.live"))
        .await
        .expect("the page goes live");
}

/// Clicks the element `css` once it is there. The page re-renders a list whenever a
/// pushed message arrives, so an element found a moment ago may have been replaced:
/// then it is looked up again.
async fn click(page: &Client, css: &str) {
    let started = std::time::Instant::now();
    loop {
        let element = page.wait().at_most(WAIT).for_element(Locator::Css(css)).await;
        match element.expect(css).click().await {
            Ok(()) => return,
            Err(e) if started.elapsed() < WAIT => {
                eprintln!("retrying a click on {css}: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(e) => panic!("could not click {css}: {e}"),
        }
    }
}

async fn screenshot(page: &Client, name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("browser");
    std::fs::create_dir_all(&dir).unwrap();
    let png = page.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// Chromium and chromedriver from Debian's packages; the test fails loudly without them.
fn programs() -> (PathBuf, PathBuf) {
    let chromium = find_program(&["/usr/bin/chromium", "/usr/bin/chromium-browser"]).unwrap_or_else(|| {
        panic!("NO BROWSER INSTALLED: this test needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    });
    let driver = find_program(&["/usr/bin/chromedriver"])
        .unwrap_or_else(|| panic!("NO CHROMEDRIVER INSTALLED: apt-get install chromium-driver"));
    (chromium, driver)
}

/// Registers the director `ops@example.org` and `people`; the director's token answer.
async fn accounts(base: &str, people: &[(&str, &str)]) -> Value {
    for (email, name) in [("ops@example.org", "Ops")].iter().chain(people) {
        rest(
            base,
            reqwest::Method::POST,
            "/api/auth/register/",
            None,
            json!({"email": email, "password": PASSWORD, "name": name}),
        )
        .await;
    }
    token(base, "ops@example.org").await
}

/// Grants `email` the mentor role; their fresh token answer.
async fn make_mentor(base: &str, ops: &Value, email: &str) -> Value {
    let id = token(base, email).await["user"]["id"].as_u64().unwrap();
    rest(
        base,
        reqwest::Method::PUT,
        &format!("/api/users/{id}/roles/"),
        ops["access"].as_str(),
        json!({"roles": ["mentor"]}),
    )
    .await;
    token(base, email).await
}

#[tokio::test]
async fn a_ticket_travels_live_between_a_participant_and_a_mentor() {
    let (chromium, driver) = programs();
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = start_server(&dir.path().join("data"));
    let ops = accounts(
        &base,
        &[("grace@example.org", "Grace"), ("ada@example.org", "Ada")],
    )
    .await;
    make_mentor(&base, &ops, "grace@example.org").await;

    let (_driver, driver_url) = start_chromedriver(&driver);
    let mentor = browser(&driver_url, &chromium, &dir.path().join("mentor-profile")).await;
    let participant = browser(&driver_url, &chromium, &dir.path().join("participant-profile")).await;
    log_in(&mentor, &base, "grace@example.org").await;
    mentor
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#board-panel:not(.hidden)"))
        .await
        .unwrap();
    log_in(&participant, &base, "ada@example.org").await;

    participant
        .find(Locator::Id("ticket-title"))
        .await
        .unwrap()
        .send_keys("Segfault in my parser")
        .await
        .unwrap();
    participant
        .find(Locator::Id("ticket-location"))
        .await
        .unwrap()
        .send_keys("Table 7")
        .await
        .unwrap();
    participant
        .find(Locator::Id("ticket-anonymous"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    participant
        .find(Locator::Id("ticket-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    // The mentor's board shows it without a reload, and the mentor claims it.
    mentor
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#board .ticket button.claim"))
        .await
        .expect("the new ticket appears on the mentor's board");
    let card_text = text_of(&mentor, "#board .ticket").await;
    assert!(card_text.contains("Segfault in my parser"), "{card_text}");
    assert!(
        card_text.contains("Anonymous") && !card_text.contains("Ada"),
        "asked anonymously: {card_text}"
    );

    // The participant steps away; the mentor's board shows it live, in its place.
    click(&participant, "#my-tickets .ticket button.away").await;
    mentor
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#board .ticket .status.away"))
        .await
        .expect("the mentor sees the owner is away");
    participant
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#my-tickets .ticket button.back"))
        .await
        .expect("the owner can say they are back");
    screenshot(&mentor, "mentor-before-claim").await;
    click(&mentor, "#board .ticket button.claim").await;

    // The participant's page shows it claimed, live.
    let status = text_of(&participant, "#my-tickets .ticket .status.CLAIMED").await;
    assert_eq!(status, "CLAIMED");
    let mine = text_of(&participant, "#my-tickets .ticket").await;
    assert!(mine.contains("with Grace"), "{mine}");
    mentor
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#board .ticket .status.CLAIMED"))
        .await
        .unwrap();
    screenshot(&mentor, "mentor").await;
    screenshot(&participant, "participant").await;

    // A director downloads the tickets as CSV from the page (it fetches with the token).
    click(&participant, "#logout").await;
    log_in(&participant, &base, "ops@example.org").await;
    click(&participant, "#exports button[data-export='tickets.csv']").await;
    let toast = participant
        .wait()
        .at_most(WAIT)
        .for_element(Locator::XPath(
            "//div[contains(@class,'toast') and contains(., 'Downloaded tickets.csv')]",
        ))
        .await
        .expect("the download is reported")
        .text()
        .await
        .unwrap();
    let bytes: u64 = toast
        .split('(')
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .map(|n| n.replace([',', '.'], ""))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no size in {toast:?}"));
    assert!(bytes > 100, "a header and the ticket: {toast}");

    mentor.close().await.unwrap();
    participant.close().await.unwrap();
}

/// Signs `email` in over REST and returns the token answer.
async fn token(base: &str, email: &str) -> Value {
    rest(
        base,
        reqwest::Method::POST,
        "/api/auth/token/",
        None,
        json!({"email": email, "password": PASSWORD}),
    )
    .await
}

async fn type_into(page: &Client, id: &str, text: &str) {
    page.find(Locator::Id(id))
        .await
        .unwrap()
        .send_keys(text)
        .await
        .unwrap();
}

/// The text of the element `css` once it is there, looked up again if a re-render
/// replaced it meanwhile (as [`click`] does).
async fn text_of(page: &Client, css: &str) -> String {
    let started = std::time::Instant::now();
    loop {
        let element = page.wait().at_most(WAIT).for_element(Locator::Css(css)).await;
        match element.expect(css).text().await {
            Ok(text) => return text,
            Err(e) if started.elapsed() < WAIT => {
                eprintln!("retrying reading {css}: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("could not read {css}: {e}"),
        }
    }
}

/// Many queues on the board: a director creates a tagged queue from the page, a
/// participant picks it and a topic, the mentor who staffs only that queue sees the
/// ticket marked as matching their skills (and not a ticket of another queue), steps
/// away and back, and the desk shows who is helping whom.
#[tokio::test]
async fn queues_topics_and_capacity_on_the_board() {
    let (chromium, driver) = programs();
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = start_server(&dir.path().join("data"));
    let ops = accounts(
        &base,
        &[
            ("grace@example.org", "Grace"),
            ("ada@example.org", "Ada"),
            ("bob@example.org", "Bob"),
        ],
    )
    .await;
    let grace = make_mentor(&base, &ops, "grace@example.org").await;
    rest(
        &base,
        reqwest::Method::PUT,
        "/api/mentors/me/",
        grace["access"].as_str(),
        json!({"skills": ["arduino"]}),
    )
    .await;

    let (_driver, driver_url) = start_chromedriver(&driver);
    let manager = browser(&driver_url, &chromium, &dir.path().join("manager-profile")).await;
    let mentor = browser(&driver_url, &chromium, &dir.path().join("mentor-profile")).await;
    let participant = browser(&driver_url, &chromium, &dir.path().join("participant-profile")).await;

    // The director creates the lab with two topics.
    log_in(&manager, &base, "ops@example.org").await;
    type_into(&manager, "new-queue-name", "Hardware lab").await;
    type_into(&manager, "new-queue-tags", "Arduino, FPGA").await;
    click(&manager, "#new-queue-submit").await;
    let lab = text_of(&manager, "#queues .queue-row[data-queue='2']").await;
    assert!(lab.contains("Hardware lab") && lab.contains("FPGA"), "{lab}");

    // The mentor staffs only the lab.
    log_in(&mentor, &base, "grace@example.org").await;
    mentor
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#my-queues input[value='2']"))
        .await
        .unwrap();
    click(&mentor, "#my-queues input[value='1']").await;
    click(&mentor, "#my-queues-save").await;
    mentor
        .wait()
        .at_most(WAIT)
        .for_element(Locator::XPath(
            "//div[contains(@class,'toast') and contains(., 'Saved your queues')]",
        ))
        .await
        .unwrap();
    mentor
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#conn.live"))
        .await
        .unwrap();

    // Two participants: one in the lab with a topic, one at the help desk.
    log_in(&participant, &base, "bob@example.org").await;
    type_into(&participant, "ticket-title", "Printer jam").await;
    type_into(&participant, "ticket-location", "Table 2").await;
    click(&participant, "#ticket-submit").await;
    participant
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#my-tickets .ticket"))
        .await
        .unwrap();
    click(&participant, "#logout").await;
    log_in(&participant, &base, "ada@example.org").await;
    participant
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#ticket-queue option[value='2']"))
        .await
        .unwrap();
    click(&participant, "#ticket-queue option[value='2']").await;
    click(&participant, "#ticket-tags input[value='Arduino']").await;
    type_into(&participant, "ticket-title", "LED will not blink").await;
    type_into(&participant, "ticket-location", "Lab bench 3").await;
    click(&participant, "#ticket-submit").await;
    let mine = text_of(&participant, "#my-tickets .ticket").await;
    assert!(
        mine.contains("Hardware lab") && mine.contains("Arduino"),
        "{mine}"
    );

    // The mentor's board: the lab's ticket, marked as a match; not the help desk's.
    let card = text_of(&mentor, "#board .ticket.match").await;
    assert!(
        card.contains("LED will not blink") && card.contains("matches my skills"),
        "{card}"
    );
    let board = text_of(&mentor, "#board").await;
    assert!(
        !board.contains("Printer jam"),
        "a queue the mentor does not staff: {board}"
    );

    // Away and back: the lab's count of available mentors follows, live.
    let available = "#queues .queue-row[data-queue='2'] .mentors-online";
    let counted = text_of(&manager, available).await;
    assert!(counted.starts_with('1'), "{counted}");
    click(&mentor, "#presence-toggle").await;
    let started = std::time::Instant::now();
    loop {
        let now = text_of(&manager, available).await;
        if now.starts_with('0') {
            break;
        }
        assert!(
            started.elapsed() < WAIT,
            "the manager's page did not see the mentor step away: {now}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(text_of(&mentor, "#presence-status").await, "away");
    click(&mentor, "#presence-toggle").await;

    // Claimed: the desk shows who is helping whom.
    click(&mentor, "#board .ticket button.claim").await;
    let started = std::time::Instant::now();
    loop {
        let helping = text_of(&mentor, "#helping").await;
        if helping.contains("Grace") && helping.contains("LED will not blink") {
            break;
        }
        assert!(started.elapsed() < WAIT, "who is helping whom: {helping}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    screenshot(&manager, "queues-manager").await;
    screenshot(&mentor, "queues-mentor").await;
    screenshot(&participant, "queues-participant").await;
    for page in [manager, mentor, participant] {
        page.close().await.unwrap();
    }
}
