//! A real local webhook receiver (actix-web), shared by the webhook tests: it keeps
//! every request, verifies its Standard Webhooks signature itself, and answers a
//! scripted sequence of statuses.

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The signing secret the tests configure (the specification's example).
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// One request the receiver got, and whether its signature verified.
#[derive(Clone, Debug)]
pub struct Received {
    pub id: Option<String>,
    pub verified: bool,
    pub body: Value,
}

#[derive(Default)]
pub struct Script {
    /// Statuses to answer, in order; 200 once they run out.
    pub answers: Vec<u16>,
    pub got: Vec<Received>,
}

pub struct Receiver {
    pub url: String,
    pub script: Arc<Mutex<Script>>,
}

/// The receiver's own check of a Standard Webhooks signature.
fn verifies(req: &HttpRequest, body: &[u8]) -> bool {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (Some(id), Some(timestamp), Some(signature)) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    ) else {
        return false;
    };
    let key = base64::engine::general_purpose::STANDARD
        .decode(SECRET.trim_start_matches("whsec_"))
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    signature
        .split(' ')
        .any(|s| s.strip_prefix("v1,") == Some(expected.as_str()))
}

/// A receiver on a port of its own answering `answers` in order (then 200).
pub async fn receiver(answers: Vec<u16>) -> Receiver {
    receiver_on(0, answers)
}

/// A receiver on `port` (0 for any free one) answering `answers` in order (then 200).
pub fn receiver_on(port: u16, answers: Vec<u16>) -> Receiver {
    let script = Arc::new(Mutex::new(Script {
        answers,
        got: Vec::new(),
    }));
    let shared = script.clone();
    let server = HttpServer::new(move || {
        let shared = shared.clone();
        App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
            let shared = shared.clone();
            async move {
                let mut script = shared.lock().unwrap();
                script.got.push(Received {
                    id: req
                        .headers()
                        .get("webhook-id")
                        .map(|v| v.to_str().unwrap().to_string()),
                    verified: verifies(&req, &body),
                    body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                });
                let status = if script.answers.is_empty() {
                    200
                } else {
                    script.answers.remove(0)
                };
                HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).finish()
            }
        }))
    })
    .workers(1)
    .bind(("127.0.0.1", port))
    .unwrap();
    let port = server.addrs()[0].port();
    actix_web::rt::spawn(server.run());
    Receiver {
        url: format!("http://127.0.0.1:{port}/hook"),
        script,
    }
}

impl Receiver {
    /// What has arrived once `n` requests have (or after 10 s).
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.script.lock().unwrap().got.clone();
            if got.len() >= n || std::time::Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
