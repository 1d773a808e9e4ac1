//! Starting the real application on port 0 with a temporary data folder, and talking
//! to it like a client.

use mentorq::clock::{ManualClock, SharedClock, SystemClock};
use mentorq::config::Config;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use tempfile::TempDir;

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    /// The running app's store, for fault injection.
    pub store: mentorq::store::Store,
    /// Kept so the folder lives as long as the app.
    _dir: TempDir,
}

/// A response: status, headers and the body parsed as JSON (Null if empty).
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Reads a response whole; a body that is not JSON fails the test.
    pub async fn from(response: reqwest::Response) -> Reply {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}"))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    /// The error `code` of an error body.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("<no code>")
    }
}

/// The config every test starts from: a temp folder, any free port, quick shutdown.
pub fn test_config(dir: &TempDir) -> Config {
    let mut config = Config::default();
    config.http.port = 0;
    config.http.workers = 2;
    config.http.shutdown_timeout_seconds = 1;
    config.store.path = dir.path().join("data");
    config.auth.bootstrap_directors = vec!["director@example.org".into()];
    config.queue.writes_per_minute = 10_000;
    // Every test client signs in from 127.0.0.1; the throttle tests lower these again.
    config.auth.login_attempts_per_minute = 100_000;
    config.auth.address_attempts_per_minute = 1_000_000;
    config
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_with_clock(adjust, Arc::new(SystemClock)).await
}

pub async fn spawn_app_with_clock(adjust: impl FnOnce(&mut Config), clock: SharedClock) -> TestApp {
    if std::env::var("TEST_LOG").is_ok() {
        let _ = tracing_subscriber::fmt().with_env_filter("info").try_init();
    }
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(&dir);
    adjust(&mut config);
    let app = mentorq::Application::build_with_clock(config, clock)
        .await
        .expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let store = app.store();
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
        store,
        _dir: dir,
    }
}

pub fn manual_clock() -> ManualClock {
    ManualClock::new(chrono::Utc::now())
}

/// A logged-in user: their id, email and tokens.
#[derive(Clone, Debug)]
pub struct Login {
    pub id: u64,
    pub email: String,
    pub access: String,
    pub refresh: String,
}

impl TestApp {
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        let mut request = self.client.request(method, format!("{}{}", self.address, path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        Reply::from(request.send().await.expect("request sent")).await
    }

    /// Sends raw bytes as the body.
    pub async fn raw(&self, method: Method, path: &str, token: Option<&str>, body: Vec<u8>) -> Reply {
        let mut request = self
            .client
            .request(method, format!("{}{}", self.address, path))
            .header("content-type", "application/json")
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        Reply::from(request.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::POST, path, token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(token), Some(body)).await
    }

    pub async fn register(&self, email: &str, name: &str) -> Reply {
        self.post(
            "/api/auth/register/",
            None,
            json!({"email": email, "password": "correct horse", "name": name}),
        )
        .await
    }

    pub async fn login(&self, email: &str) -> Login {
        let reply = self
            .post(
                "/api/auth/token/",
                None,
                json!({"email": email, "password": "correct horse"}),
            )
            .await;
        assert_eq!(reply.status, 200, "login of {email}: {}", reply.body);
        Login {
            id: reply.body["user"]["id"].as_u64().unwrap(),
            email: email.to_string(),
            access: reply.body["access"].as_str().unwrap().to_string(),
            refresh: reply.body["refresh"].as_str().unwrap().to_string(),
        }
    }

    /// Opens a ticket for `who` with `extra` fields beside a title and a location.
    pub async fn open_ticket(&self, who: &Login, title: &str, extra: Value) -> Value {
        let mut body = json!({"title": title, "location": "Room 101"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().cloned().unwrap_or_default());
        let reply = self.post("/api/tickets/", Some(&who.access), body).await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.body
    }

    /// `PATCH /api/tickets/{ticket}/` with `body`.
    pub async fn change_ticket(&self, who: &Login, ticket: u64, body: Value) -> Reply {
        self.patch(&format!("/api/tickets/{ticket}/"), &who.access, body)
            .await
    }

    /// Registers and logs in a participant.
    pub async fn hacker(&self, name: &str) -> Login {
        let email = format!("{}@example.org", name.to_lowercase().replace(' ', "."));
        let reply = self.register(&email, name).await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        self.login(&email).await
    }

    /// The bootstrap director (created on first call).
    pub async fn director(&self) -> Login {
        let reply = self.register("director@example.org", "Dee Rector").await;
        assert!(reply.status == 201 || reply.code() == "email_taken");
        self.login("director@example.org").await
    }

    /// A user holding `roles`, granted by the director, logged in afresh.
    pub async fn with_roles(&self, name: &str, roles: &[&str]) -> Login {
        let user = self.hacker(name).await;
        let director = self.director().await;
        let reply = self
            .call(
                Method::PUT,
                &format!("/api/users/{}/roles/", user.id),
                Some(&director.access),
                Some(json!({ "roles": roles })),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        self.login(&user.email).await
    }

    pub async fn mentor(&self, name: &str) -> Login {
        self.with_roles(name, &["mentor"]).await
    }

    pub async fn organizer(&self, name: &str) -> Login {
        self.with_roles(name, &["organizer"]).await
    }
}

/// A WebSocket client speaking the real-time protocol.
pub struct Ws {
    stream: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
}

/// How long a test waits for a message that should come.
const WS_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

impl TestApp {
    pub fn ws_url(&self, token: &str, since: Option<u64>) -> String {
        let base = self.address.replace("http://", "ws://");
        match since {
            Some(n) => format!("{base}/ws?access_token={token}&since={n}"),
            None => format!("{base}/ws?access_token={token}"),
        }
    }

    pub async fn ws(&self, who: &Login, since: Option<u64>) -> Ws {
        self.ws_with_buffer(who, since, None).await
    }

    /// Connects with a small receive buffer, so that not reading backs up quickly.
    pub async fn ws_with_buffer(&self, who: &Login, since: Option<u64>, recv_buffer: Option<u32>) -> Ws {
        self.ws_at(&self.ws_url(&who.access, since), recv_buffer).await
    }

    /// Connects to `url` (a `ws://` URL of this app, with its query).
    pub async fn ws_at(&self, url: &str, recv_buffer: Option<u32>) -> Ws {
        let addr: std::net::SocketAddr = self.address.trim_start_matches("http://").parse().unwrap();
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        if let Some(size) = recv_buffer {
            socket.set_recv_buffer_size(size).unwrap();
        }
        let tcp = socket.connect(addr).await.unwrap();
        let (stream, _) = tokio_tungstenite::client_async(url, tcp)
            .await
            .expect("websocket upgrade");
        Ws { stream }
    }
}

impl Ws {
    /// The next JSON message (pings are answered by the library).
    pub async fn next(&mut self) -> Value {
        use futures_util::StreamExt;
        loop {
            let message = tokio::time::timeout(WS_WAIT, self.stream.next())
                .await
                .expect("a message in time")
                .expect("the connection is open")
                .expect("a valid frame");
            match message {
                tokio_tungstenite::tungstenite::Message::Text(text) => {
                    return serde_json::from_str(text.as_str()).unwrap();
                }
                tokio_tungstenite::tungstenite::Message::Close(frame) => {
                    panic!("closed while waiting for a message: {frame:?}")
                }
                _ => continue,
            }
        }
    }

    /// The next message of `kind` (`snapshot`, `event`, …), skipping others.
    pub async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let message = self.next().await;
            if message["type"] == kind {
                return message;
            }
        }
    }

    /// The next event of `kind` (`ticket.created`, …), skipping everything else.
    pub async fn next_event(&mut self, kind: &str) -> Value {
        loop {
            let message = self.next_of("event").await;
            if message["kind"] == kind {
                return message;
            }
        }
    }

    /// Every message until nothing arrives for `quiet`.
    pub async fn drain(&mut self, quiet: std::time::Duration) -> Vec<Value> {
        use futures_util::StreamExt;
        let mut seen = Vec::new();
        while let Ok(Some(Ok(message))) = tokio::time::timeout(quiet, self.stream.next()).await {
            if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
                seen.push(serde_json::from_str(text.as_str()).unwrap());
            }
        }
        seen
    }

    /// Reads until the server closes; returns the close code and what came before it.
    pub async fn until_closed(&mut self) -> (u16, Vec<Value>) {
        use futures_util::StreamExt;
        let mut seen = Vec::new();
        loop {
            let next = tokio::time::timeout(WS_WAIT, self.stream.next())
                .await
                .expect("closed in time");
            match next {
                Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text))) => {
                    seen.push(serde_json::from_str(text.as_str()).unwrap())
                }
                Some(Ok(tokio_tungstenite::tungstenite::Message::Close(frame))) => {
                    return (frame.map(|f| u16::from(f.code)).unwrap_or(1005), seen)
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => panic!("connection failed instead of closing: {e}"),
                None => panic!("connection ended without a close frame"),
            }
        }
    }

    /// Sends one frame as is: a part of a fragmented message when `last` is false.
    pub async fn send_frame(
        &mut self,
        payload: &[u8],
        opcode: tokio_tungstenite::tungstenite::protocol::frame::coding::OpCode,
        last: bool,
    ) {
        use futures_util::SinkExt;
        use tokio_tungstenite::tungstenite::protocol::frame::Frame;
        let frame = Frame::message(payload.to_vec(), opcode, last);
        self.stream
            .send(tokio_tungstenite::tungstenite::Message::Frame(frame))
            .await
            .unwrap();
    }

    pub async fn send_text(&mut self, text: &str) {
        use futures_util::SinkExt;
        self.stream
            .send(tokio_tungstenite::tungstenite::Message::text(text))
            .await
            .unwrap();
    }

    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
    }
}
