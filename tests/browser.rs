//! The board page in a real browser (Chromium through chromedriver), one test per role:
//! a participant, a mentor and an organizer, each on a desktop window (1366×800) and a
//! phone (390×844), in different time zones. Every view is checked with axe-core (no
//! critical or serious violation) and kept as a screenshot under `target/browser/`.
//!
//! This test needs Debian's `chromium` and `chromium-driver`, and the npm package
//! `axe-core` under `target/axe` (`.ci/run` installs all three:
//! `npm install --prefix target/axe axe-core@4.14.1`). Without them it fails loudly
//! rather than skipping.

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

/// A chromedriver whose browsers run in the time zone `tz`.
fn start_chromedriver(driver: &Path, tz: &str) -> (Killed, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let driver = Killed(
        Command::new(driver)
            .arg(format!("--port={port}"))
            .env("TZ", tz)
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

#[derive(Clone, Copy, PartialEq)]
enum Screen {
    Desktop,
    Phone,
}

async fn browser(driver_url: &str, chromium: &Path, profile: &Path, screen: Screen) -> Client {
    let mut options = json!({
        "binary": chromium,
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1366,800",
                 "--lang=en-US", format!("--user-data-dir={}", profile.display())],
    });
    if screen == Screen::Phone {
        options["mobileEmulation"] = json!({"deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 2}});
    }
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), options);
    let client = ClientBuilder::rustls()
        .expect("a TLS-capable client builder")
        .capabilities(caps)
        .connect(driver_url)
        .await
        .expect("a browser session");
    if screen == Screen::Desktop {
        // The window's own frame aside, the page gets 1366×800.
        let frame = client
            .execute(
                "return [window.outerWidth - window.innerWidth, window.outerHeight - window.innerHeight];",
                vec![],
            )
            .await
            .unwrap();
        let extra = |i: usize| frame[i].as_u64().unwrap_or(0) as u32;
        client
            .set_window_size(1366 + extra(0), 800 + extra(1))
            .await
            .unwrap();
    }
    client
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

/// `GET path` as `token`, which must succeed.
async fn read(base: &str, path: &str, token: Option<&str>) -> Value {
    rest(base, reqwest::Method::GET, path, token, Value::Null).await
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

/// Saves `who`'s mentor profile over REST.
async fn save_profile(base: &str, who: &Value, profile: Value) {
    rest(
        base,
        reqwest::Method::PUT,
        "/api/mentors/me/",
        who["access"].as_str(),
        profile,
    )
    .await;
}

/// Waits for a notice on the page that contains `text`; its whole text.
async fn toast_saying(page: &Client, text: &str) -> String {
    let xpath = format!("//div[contains(@class,'toast') and contains(., '{text}')]");
    page.wait()
        .at_most(WAIT)
        .for_element(Locator::XPath(&xpath))
        .await
        .unwrap_or_else(|e| panic!("no notice saying {text:?}: {e}"))
        .text()
        .await
        .unwrap()
}

/// The result of `script` (a function body; `arguments` are `args`) in the page.
async fn js(page: &Client, script: &str, args: Vec<Value>) -> Value {
    page.execute(script, args).await.expect(script)
}

/// Waits until `predicate` (a JavaScript expression) is true in the page.
async fn until(page: &Client, predicate: &str, what: &str) {
    let started = std::time::Instant::now();
    let script = format!("return !!({predicate});");
    loop {
        if js(page, &script, vec![]).await == Value::Bool(true) {
            return;
        }
        assert!(
            started.elapsed() < WAIT,
            "timed out waiting for {what} ({predicate})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// axe-core, installed by `.ci/run` with npm under `target/axe`.
fn axe_source() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/axe/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "NO AXE-CORE at {}: run `npm install --prefix target/axe axe-core@4.14.1` (.ci/run does)",
            path.display()
        )
    })
}

/// Runs axe-core on the page as it is now and fails on any critical or serious
/// violation; keeps a screenshot of the view as `name`.
async fn audit(page: &Client, name: &str) {
    screenshot(page, name).await;
    let loaded = js(page, "return typeof window.axe !== 'undefined';", vec![]).await;
    if loaded != Value::Bool(true) {
        js(page, &format!("{};return true;", axe_source()), vec![]).await;
    }
    let found = page
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, {resultTypes: ['violations']}).then((r) => done(r.violations
               .filter((v) => v.impact === 'critical' || v.impact === 'serious')
               .map((v) => ({id: v.id, impact: v.impact, help: v.help,
                            nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' '))}))))
               .catch((e) => done([{id: 'axe failed', help: String(e)}]));",
            vec![],
        )
        .await
        .expect("axe runs");
    assert_eq!(found, json!([]), "axe-core on the view {name}");
}

/// Whether the element `css` is displayed with its top inside the first screenful.
async fn above_the_fold(page: &Client, css: &str) -> bool {
    let script = "const el = document.querySelector(arguments[0]); if (!el) return false;
                  const r = el.getBoundingClientRect();
                  return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight;";
    js(page, script, vec![json!(css)]).await == Value::Bool(true)
}

fn next_day_at(hour: u32) -> String {
    let tomorrow = chrono::Utc::now().date_naive() + chrono::Days::new(1);
    format!("{}T{hour:02}:00:00Z", tomorrow.format("%Y-%m-%d"))
}

async fn open_ticket(base: &str, token: &Value, title: &str, extra: Value) -> Value {
    let mut body = json!({"title": title, "location": "Table 1"});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    rest(
        base,
        reqwest::Method::POST,
        "/api/tickets/",
        token["access"].as_str(),
        body,
    )
    .await
}

async fn set_status(base: &str, token: &Value, id: &Value, status: &str) -> Value {
    rest(
        base,
        reqwest::Method::PATCH,
        &format!("/api/tickets/{id}/"),
        token["access"].as_str(),
        json!({ "status": status }),
    )
    .await
}

/// A participant, on a phone in New York and on a desktop: the place in line first,
/// the form only when it can be used, notices of a claim, a rating that survives live
/// updates, booking by day with a dialog that can be cancelled, settings, and plain
/// words while the server is away.
#[tokio::test]
async fn a_participant_sees_their_place_first_and_nothing_they_type_is_lost() {
    let (chromium, driver) = programs();
    let dir = tempfile::tempdir().unwrap();
    let (server, base) = start_server(&dir.path().join("data"));
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
    let bob = token(&base, "bob@example.org").await;
    save_profile(
        &base,
        &grace,
        json!({"skills": ["rust"], "about_me": "Compilers"}),
    )
    .await;
    // Three half-hours tomorrow from 10:00 UTC: 60 minutes can start at 10:00 or 10:30 only.
    rest(
        &base,
        reqwest::Method::POST,
        "/api/availability/",
        grace["access"].as_str(),
        json!({"start_time": next_day_at(10), "end_time": format!("{}:30:00Z", &next_day_at(11)[..13])}),
    )
    .await;
    // Someone is already waiting, so Ada will be second.
    open_ticket(&base, &bob, "Bob's question", json!({})).await;

    let (_driver, driver_url) = start_chromedriver(&driver, "America/New_York");
    let phone = browser(&driver_url, &chromium, &dir.path().join("phone"), Screen::Phone).await;
    phone.goto(&base).await.unwrap();
    phone
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("login-email"))
        .await
        .unwrap();
    audit(&phone, "participant-phone-login").await;
    // Field errors in plain words.
    click(&phone, "#login-toggle").await;
    type_into(&phone, "login-name", "Eve").await;
    type_into(&phone, "login-email", "eve@example.org").await;
    type_into(&phone, "login-password", "short").await;
    click(&phone, "#login-submit").await;
    until(
        &phone,
        "document.getElementById('login-error').textContent !== ''",
        "the registration error",
    )
    .await;
    assert_eq!(
        text_of(&phone, "#login-error").await,
        "Password must be at least 8 characters."
    );
    audit(&phone, "participant-phone-register").await;
    click(&phone, "#login-toggle").await;
    js(&phone, "document.getElementById('login-email').value = ''; document.getElementById('login-password').value = '';", vec![]).await;
    log_in(&phone, &base, "ada@example.org").await;

    // A closed queue says so instead of offering a form that cannot work.
    rest(
        &base,
        reqwest::Method::PATCH,
        "/api/queues/1/",
        ops["access"].as_str(),
        json!({"open": false, "message": "Back at 2 pm"}),
    )
    .await;
    let closed = text_of(&phone, "#ticket-closed:not(.hidden)").await;
    assert_eq!(closed, "Queue closed — Back at 2 pm");
    assert!(!phone
        .find(Locator::Id("ticket-submit"))
        .await
        .unwrap()
        .is_displayed()
        .await
        .unwrap());
    rest(
        &base,
        reqwest::Method::PATCH,
        "/api/queues/1/",
        ops["access"].as_str(),
        json!({"open": true, "message": ""}),
    )
    .await;
    phone
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#ticket-closed.hidden"))
        .await
        .unwrap();
    audit(&phone, "participant-phone-ask").await;

    type_into(&phone, "ticket-title", "Borrow checker").await;
    type_into(&phone, "ticket-location", "Table 7").await;
    click(&phone, "#ticket-submit").await;
    // The place in line comes first, above the fold; the form is gone while it waits.
    let place = text_of(&phone, "#my-active .place").await;
    assert!(place.starts_with("You're #2 ·"), "{place}");
    assert!(
        above_the_fold(&phone, "#my-active .place").await,
        "the place in line is on the first screen"
    );
    until(
        &phone,
        "document.getElementById('ticket-form').classList.contains('hidden')",
        "the form to hide",
    )
    .await;
    audit(&phone, "participant-phone-waiting").await;

    // "You're next" and then the claim: announced to screen readers, kept on screen.
    let ada = token(&base, "ada@example.org").await;
    let bobs = read(&base, "/api/tickets/", bob["access"].as_str()).await;
    let ada_ticket = read(&base, "/api/tickets/", ada["access"].as_str()).await[0].clone();
    assert_eq!(ada_ticket["title"], "Borrow checker");
    set_status(&base, &bob, &bobs[0]["id"], "CANCELLED").await;
    until(
        &phone,
        "document.getElementById('alerter').textContent.includes(\"You're next\")",
        "the you're-next notice",
    )
    .await;
    set_status(&base, &grace, &ada_ticket["id"], "CLAIMED").await;
    until(
        &phone,
        "document.getElementById('alerter').textContent.includes('Grace is on the way')",
        "the claim notice",
    )
    .await;
    let kept = js(
        &phone,
        "return [...document.querySelectorAll('.toast.urgent')].map((t) => t.textContent).join('|');",
        vec![],
    )
    .await;
    assert!(kept.as_str().unwrap().contains("Grace is on the way"), "{kept}");
    assert!(text_of(&phone, "#my-active .place")
        .await
        .contains("Grace is on the way"));
    let title = js(&phone, "return document.title;", vec![]).await;
    assert!(
        title.as_str().unwrap().starts_with("● Grace is on the way"),
        "{title}"
    );
    audit(&phone, "participant-phone-claimed").await;

    // Closed: the rating form. A live update (an announcement) keeps what is being typed.
    set_status(&base, &grace, &ada_ticket["id"], "CLOSED").await;
    phone
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#my-history form.rate select"))
        .await
        .unwrap();
    let rating = format!("#rate-{}", ada_ticket["id"]);
    js(&phone, "const s = document.querySelector(arguments[0]); s.value = '3'; s.dispatchEvent(new Event('change', {bubbles: true}));",
       vec![json!(rating)]).await;
    phone
        .find(Locator::Css(&format!("{rating}-text")))
        .await
        .unwrap()
        .send_keys("Patient and clear")
        .await
        .unwrap();
    js(
        &phone,
        "document.querySelector(arguments[0]).focus();",
        vec![json!(format!("{rating}-text"))],
    )
    .await;
    rest(
        &base,
        reqwest::Method::POST,
        "/api/announcements/",
        ops["access"].as_str(),
        json!({"text": "Pizza in the hall"}),
    )
    .await;
    open_ticket(&base, &bob, "Another one", json!({})).await;
    text_of(&phone, "#announcements .item").await;
    let typed = js(
        &phone,
        "return [document.querySelector(arguments[0]).value, document.querySelector(arguments[1]).value,
                                    document.activeElement.id];",
        vec![json!(rating), json!(format!("{rating}-text"))],
    )
    .await;
    assert_eq!(
        typed,
        json!([
            "3",
            "Patient and clear",
            format!("rate-{}-text", ada_ticket["id"])
        ]),
        "kept across live updates"
    );
    click(&phone, "#my-history form.rate button[type='submit']").await;
    toast_saying(&phone, "Thanks for the feedback").await;
    let feedback = read(
        &base,
        &format!("/api/feedback/{}/", ada_ticket["id"]),
        ops["access"].as_str(),
    )
    .await;
    assert_eq!(feedback["rating"], 3, "{feedback}");
    assert_eq!(feedback["comments"], "Patient and clear");
    // The leaderboard is there for participants too.
    until(
        &phone,
        "document.getElementById('leaderboard').textContent.includes('Grace')",
        "the leaderboard",
    )
    .await;

    // Booking: the length first, then times grouped by day in the viewer's zone.
    click(&phone, "#search-form button[type='submit']").await;
    click(&phone, "#mentors button[data-times]").await;
    let zone = text_of(&phone, "#booking-zone").await;
    assert_eq!(zone, "Times in America/New_York.");
    let count = "return document.querySelectorAll('#booking-days button[data-chunk]').length;";
    assert_eq!(js(&phone, count, vec![]).await, 3);
    click(&phone, "#booking-length input[value='60']").await;
    until(
        &phone,
        "document.querySelectorAll('#booking-days button[data-chunk]').length === 2",
        "two 60-minute starts",
    )
    .await;
    // 10:00 UTC is 05:00 in New York in winter; each button carries its own time.
    let first = text_of(&phone, "#booking-days button[data-chunk]").await;
    assert_eq!(first, "05:00 AM–06:00 AM", "{first}");
    audit(&phone, "participant-phone-booking").await;
    click(&phone, "#booking-days button[data-chunk]").await;
    phone
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#topic-dialog[open]"))
        .await
        .unwrap();
    audit(&phone, "participant-phone-topic").await;
    click(&phone, "#topic-cancel").await;
    until(
        &phone,
        "!document.getElementById('topic-dialog').open",
        "the dialog to close",
    )
    .await;
    let none = read(&base, "/api/sessions/", ada["access"].as_str()).await;
    assert_eq!(none, json!([]), "cancelling the topic dialog books nothing");
    click(&phone, "#booking-days button[data-chunk]").await;
    type_into(&phone, "topic-text", "Lifetimes").await;
    click(&phone, "#topic-book").await;
    let session = text_of(&phone, "#sessions .item").await;
    assert!(
        session.contains("Grace") && session.contains("60 min") && session.contains("05:00"),
        "{session}"
    );
    let booked = read(&base, "/api/sessions/", ada["access"].as_str()).await;
    assert_eq!(booked[0]["topic"], "Lifetimes");
    assert_eq!(booked[0]["session_length"], 60);

    // Settings: e-mail off, the calendar link, the page's own notices.
    click(&phone, "#settings input[data-setting='email']").await;
    toast_saying(&phone, "Notification settings saved").await;
    let settings = read(&base, "/api/notification-settings/", ada["access"].as_str()).await;
    assert_eq!(settings["email"], false);
    let link = js(
        &phone,
        "return document.getElementById('calendar-url').value;",
        vec![],
    )
    .await;
    assert!(
        link.as_str().unwrap().starts_with(&format!("{base}/calendar/")),
        "{link}"
    );
    click(&phone, "#notice-sound").await;
    assert_eq!(
        js(&phone, "return localStorage.getItem('mq.sound');", vec![]).await,
        "on"
    );
    audit(&phone, "participant-phone-settings").await;

    // The same person on a desktop.
    let desk = browser(&driver_url, &chromium, &dir.path().join("desk"), Screen::Desktop).await;
    log_in(&desk, &base, "ada@example.org").await;
    text_of(&desk, "#sessions .item").await;
    audit(&desk, "participant-desktop").await;

    // The server goes away: a banner, plain words, and Log out still on the screen.
    drop(server);
    phone
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#offline:not(.hidden)"))
        .await
        .expect("an offline banner");
    click(&phone, "#search-form button[type='submit']").await;
    let error = text_of(&phone, "#booking-error").await;
    assert!(
        error.starts_with("The server cannot be reached") && !error.contains("fetch"),
        "{error}"
    );
    js(&phone, "window.scrollTo(0, 0);", vec![]).await;
    assert!(
        above_the_fold(&phone, "#logout").await,
        "Log out stays on a phone's screen while offline"
    );
    let inside = js(
        &phone,
        "return document.getElementById('logout').getBoundingClientRect().right <= window.innerWidth;",
        vec![],
    )
    .await;
    assert_eq!(inside, true);
    audit(&phone, "participant-phone-offline").await;
    for page in [phone, desk] {
        page.close().await.unwrap();
    }
}

/// A mentor, on a phone in Tokyo and on a desktop: the board first, in three parts with
/// ages and filters; cards updated in place; the profile kept whole; their own slots.
#[tokio::test]
async fn a_mentor_works_from_the_board_and_updates_never_reset_the_page() {
    let (chromium, driver) = programs();
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = start_server(&dir.path().join("data"));
    let ops = accounts(
        &base,
        &[
            ("grace@example.org", "Grace"),
            ("alan@example.org", "Alan"),
            ("ada@example.org", "Ada"),
            ("bob@example.org", "Bob"),
            ("eve@example.org", "Eve"),
        ],
    )
    .await;
    let grace = make_mentor(&base, &ops, "grace@example.org").await;
    let alan = make_mentor(&base, &ops, "alan@example.org").await;
    let ada = token(&base, "ada@example.org").await;
    let bob = token(&base, "bob@example.org").await;
    let eve = token(&base, "eve@example.org").await;
    save_profile(
        &base,
        &grace,
        json!({"skills": ["rust"], "about_me": "Compilers and coffee"}),
    )
    .await;
    rest(
        &base,
        reqwest::Method::PATCH,
        "/api/queues/1/",
        ops["access"].as_str(),
        json!({"tags": ["Rust", "Web"]}),
    )
    .await;
    open_ticket(&base, &ada, "Lifetimes", json!({"tags": ["Rust"]})).await;
    let bobs = open_ticket(
        &base,
        &bob,
        "CSS grid",
        json!({"tags": ["Web"], "anonymous": true}),
    )
    .await;
    set_status(&base, &alan, &bobs["id"], "CLAIMED").await;

    let (_driver, driver_url) = start_chromedriver(&driver, "Asia/Tokyo");
    let phone = browser(&driver_url, &chromium, &dir.path().join("phone"), Screen::Phone).await;
    log_in(&phone, &base, "grace@example.org").await;
    // The board is first: the first Claim button is on the first screen.
    phone
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#board-waiting .ticket button.claim"))
        .await
        .unwrap();
    assert!(
        above_the_fold(&phone, "#board-waiting .ticket button.claim").await,
        "Claim is on a phone's first screen"
    );
    let waiting = text_of(&phone, "#board-waiting .ticket").await;
    assert!(
        waiting.contains("Lifetimes")
            && waiting.contains("waiting under a minute")
            && waiting.contains("matches my skills"),
        "{waiting}"
    );
    let helped = text_of(&phone, "#board-helped .ticket").await;
    assert!(
        helped.contains("CSS grid")
            && helped.contains("with Alan")
            && helped.contains("Anonymous")
            && !helped.contains("Bob"),
        "{helped}"
    );
    // Forms a mentor does not use are not there.
    let shown = js(&phone, "return ['participant-panel', 'find-mentor', 'history-panel'].map((id) => document.getElementById(id).offsetParent !== null);", vec![]).await;
    assert_eq!(shown, json!([false, false, false]));
    audit(&phone, "mentor-phone-board").await;

    // The profile loads whole, and saving skills keeps the bio.
    let desk = browser(&driver_url, &chromium, &dir.path().join("desk"), Screen::Desktop).await;
    log_in(&desk, &base, "grace@example.org").await;
    until(
        &desk,
        "document.getElementById('profile-skills').value === 'rust'",
        "the skills to load",
    )
    .await;
    assert_eq!(
        js(
            &desk,
            "return document.getElementById('profile-about').value;",
            vec![]
        )
        .await,
        "Compilers and coffee"
    );
    js(
        &desk,
        "document.getElementById('profile-skills').value = '';",
        vec![],
    )
    .await;
    type_into(&desk, "profile-skills", "rust, css").await;
    click(&desk, "#profile-save").await;
    toast_saying(&desk, "Profile saved").await;
    let me = read(&base, "/api/mentors/me/", grace["access"].as_str()).await;
    assert_eq!(me["skills"], json!(["rust", "css"]));
    assert_eq!(
        me["about_me"], "Compilers and coffee",
        "saving skills keeps the bio"
    );

    // Updates in place: an event redraws neither an unchanged card nor a half-typed field.
    js(
        &desk,
        "document.querySelector('#board-waiting .ticket').marked = true;",
        vec![],
    )
    .await;
    js(&desk, "document.getElementById('profile-about').focus();", vec![]).await;
    type_into(&desk, "profile-about", " — and tea").await;
    open_ticket(&base, &eve, "Flexbox", json!({"tags": ["Web"]})).await;
    until(
        &desk,
        "document.querySelectorAll('#board-waiting .ticket').length === 2",
        "the new ticket",
    )
    .await;
    let kept = js(
        &desk,
        "return [document.querySelector('#board-waiting .ticket').marked === true,
                                 document.getElementById('profile-about').value, document.activeElement.id];",
        vec![],
    )
    .await;
    assert_eq!(
        kept,
        json!([true, "Compilers and coffee — and tea", "profile-about"])
    );
    // Oldest first.
    let order = js(
        &desk,
        "return [...document.querySelectorAll('#board-waiting .ticket strong')].map((s) => s.textContent);",
        vec![],
    )
    .await;
    assert_eq!(order, json!(["Lifetimes", "Flexbox"]));

    // Filters: a topic, then "matches my skills".
    js(&desk, "const s = document.getElementById('filter-tag'); s.value = 'Web'; s.dispatchEvent(new Event('change'));", vec![]).await;
    until(&desk, "[...document.querySelectorAll('#board-waiting .ticket strong')].map((s) => s.textContent).join() === 'Flexbox'", "the topic filter").await;
    js(&desk, "const s = document.getElementById('filter-tag'); s.value = ''; s.dispatchEvent(new Event('change'));", vec![]).await;
    click(&desk, "#filter-match").await;
    until(&desk, "[...document.querySelectorAll('#board-waiting .ticket strong')].map((s) => s.textContent).join() === 'Lifetimes'", "the skills filter").await;
    audit(&desk, "mentor-desktop-filtered").await;
    click(&desk, "#filter-match").await;

    // Claimed from the phone: it moves to "Mine" on both pages.
    click(&phone, "#board-waiting .ticket button.claim").await;
    let mine = text_of(&desk, "#board-mine .ticket").await;
    assert!(
        mine.contains("Lifetimes") && mine.contains("with Grace"),
        "{mine}"
    );
    phone
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#board-mine .ticket button.close"))
        .await
        .unwrap();
    audit(&phone, "mentor-phone-mine").await;

    // Availability: published from the form, listed by day, deleted one by one.
    let from = next_day_at(1);
    js(&desk, "const local = (iso) => { const d = new Date(iso); d.setMinutes(d.getMinutes() - d.getTimezoneOffset()); return d.toISOString().slice(0, 16); };
               document.getElementById('availability-start').value = local(arguments[0]);
               document.getElementById('availability-end').value = local(arguments[1]);",
       vec![json!(from), json!(next_day_at(2))]).await;
    click(&desk, "#availability-form button[type='submit']").await;
    toast_saying(&desk, "Published 2 half-hour slots").await;
    until(
        &desk,
        "document.querySelectorAll('#my-slots .slot-row').length === 2",
        "two slots listed",
    )
    .await;
    assert_eq!(text_of(&desk, "#slots-zone").await, "Times in Asia/Tokyo.");
    let first = text_of(&desk, "#my-slots .slot-row .when").await;
    assert_eq!(first, "10:00 AM–10:30 AM", "01:00 UTC is 10:00 in Tokyo");
    audit(&desk, "mentor-desktop-slots").await;
    click(&desk, "#my-slots button[data-delete-slot]").await;
    until(
        &desk,
        "document.querySelectorAll('#my-slots .slot-row').length === 1",
        "one slot left",
    )
    .await;
    let left = read(
        &base,
        &format!("/api/availability/?mentor={}", grace["user"]["id"]),
        grace["access"].as_str(),
    )
    .await;
    assert_eq!(left.as_array().unwrap().len(), 1, "{left}");
    audit(&desk, "mentor-desktop").await;
    for page in [phone, desk] {
        page.close().await.unwrap();
    }
}

/// An organizer on a desktop in Berlin (and a phone): queues made from the page,
/// capacity and statistics live, downloads; and a mentor who staffs one queue.
#[tokio::test]
async fn an_organizer_runs_queues_and_sees_the_numbers_move() {
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
    save_profile(&base, &grace, json!({"skills": ["arduino"]})).await;
    let ada = token(&base, "ada@example.org").await;
    let bob = token(&base, "bob@example.org").await;

    let (_driver, driver_url) = start_chromedriver(&driver, "Europe/Berlin");
    let manager = browser(
        &driver_url,
        &chromium,
        &dir.path().join("manager"),
        Screen::Desktop,
    )
    .await;
    let mentor = browser(
        &driver_url,
        &chromium,
        &dir.path().join("mentor"),
        Screen::Desktop,
    )
    .await;
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
    toast_saying(&mentor, "Saved your queues").await;
    mentor
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#conn.live"))
        .await
        .unwrap();
    open_ticket(&base, &bob, "Printer jam", json!({})).await;
    let led = open_ticket(
        &base,
        &ada,
        "LED will not blink",
        json!({"queue": 2, "tags": ["Arduino"]}),
    )
    .await;
    let card = text_of(&mentor, "#board-waiting .ticket.match").await;
    assert!(
        card.contains("LED will not blink") && card.contains("matches my skills"),
        "{card}"
    );
    assert!(
        !text_of(&mentor, "#board-panel").await.contains("Printer jam"),
        "a queue the mentor does not staff"
    );

    // Away and back: the lab's count of available mentors follows, live.
    let available = "#queues .queue-row[data-queue='2'] .mentors-online";
    until(
        &manager,
        &format!("document.querySelector(\"{available}\").textContent === '1 mentor available'"),
        "one mentor",
    )
    .await;
    click(&mentor, "#presence-toggle").await;
    until(
        &manager,
        &format!("document.querySelector(\"{available}\").textContent === '0 mentors available'"),
        "the mentor away",
    )
    .await;
    assert_eq!(text_of(&mentor, "#presence-status").await, "away");
    click(&mentor, "#presence-toggle").await;

    // Claimed and closed: who helps whom on the desk, statistics without a refresh.
    click(&mentor, "#board-waiting .ticket button.claim").await;
    until(
        &mentor,
        "document.getElementById('helping').textContent.includes('LED will not blink')",
        "who is helping whom",
    )
    .await;
    until(
        &manager,
        "document.getElementById('stat-total').textContent === '2'",
        "the total",
    )
    .await;
    set_status(&base, &grace, &led["id"], "CLOSED").await;
    until(
        &manager,
        "document.getElementById('stat-closed').textContent === '1'",
        "closed counted live",
    )
    .await;
    rest(
        &base,
        reqwest::Method::POST,
        "/api/feedback/",
        ada["access"].as_str(),
        json!({"ticket": led["id"], "rating": 4}),
    )
    .await;
    until(
        &manager,
        "document.getElementById('leaderboard').textContent.includes('4.00')",
        "the leaderboard live",
    )
    .await;
    audit(&manager, "organizer-desktop").await;
    audit(&mentor, "mentor-desktop-desk").await;

    // A download from the page (it fetches with the token).
    click(&manager, "#exports button[data-export='tickets.csv']").await;
    let toast = toast_saying(&manager, "Downloaded tickets.csv").await;
    let bytes: u64 = toast
        .split('(')
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .map(|n| n.replace([',', '.'], ""))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no size in {toast:?}"));
    assert!(bytes > 100, "a header and the tickets: {toast}");

    let phone = browser(&driver_url, &chromium, &dir.path().join("phone"), Screen::Phone).await;
    log_in(&phone, &base, "ops@example.org").await;
    text_of(&phone, "#queues .queue-row[data-queue='2']").await;
    audit(&phone, "organizer-phone").await;
    for page in [manager, mentor, phone] {
        page.close().await.unwrap();
    }
}
