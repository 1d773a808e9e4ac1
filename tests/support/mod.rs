//! Starting the real binary as its own process, for the tests and benches that need a
//! separate process (kill, signals, restart, the browser, load).

#![allow(dead_code)]

pub mod webhooks;

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Spawns `mentorq serve` on `data` with defaults but for `env`, and waits for the
/// `listening on http://…` line. Returns the child and its base URL.
pub fn spawn_server(
    data: &Path,
    env: &[(String, String)],
    wrapper: Option<(&str, Vec<String>)>,
) -> (Child, String) {
    let binary = env!("CARGO_BIN_EXE_mentorq");
    let mut command = match wrapper {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(binary);
            c
        }
        None => Command::new(binary),
    };
    command
        .args(["serve", "--config", "/nonexistent/config.toml"])
        .env("MENTORQ__HTTP__PORT", "0")
        .env("MENTORQ__HTTP__SHUTDOWN_TIMEOUT_SECONDS", "1")
        .env("MENTORQ__STORE__PATH", data)
        .env("MENTORQ__AUTH__BOOTSTRAP_DIRECTORS", "[\"ops@example.org\"]")
        .env("RUST_LOG", "warn")
        .envs(env.iter().cloned())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = command.spawn().expect("the binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_string();
    (child, base)
}

pub const PASSWORD: &str = "correct horse";

/// The resident and peak resident memory of process `pid`, in bytes (VmRSS, VmHWM).
pub fn memory_of(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("{name} in /proc/{pid}/status"))
            * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// CPU time (user + system) `pid` has used so far, in seconds, from `/proc/<pid>/stat`
/// (Linux's clock ticks are 1/100 s).
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The command name (field 2) may hold spaces; the fields after it are plain.
    let rest = &stat[stat.rfind(')').expect("stat has a command name") + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks = |i: usize| fields[i].parse::<f64>().expect("a tick count");
    // utime and stime are fields 14 and 15: 12 and 13 after the state.
    (ticks(11) + ticks(12)) / 100.0
}

pub async fn post(client: &reqwest::Client, url: String, body: Value) -> (u16, Value) {
    let response = client.post(url).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub async fn register(client: &reqwest::Client, base: &str, email: &str) -> u16 {
    post(
        client,
        format!("{base}/api/auth/register/"),
        json!({"email": email, "password": PASSWORD, "name": email}),
    )
    .await
    .0
}

pub async fn login(client: &reqwest::Client, base: &str, email: &str) -> (u16, Value) {
    post(
        client,
        format!("{base}/api/auth/token/"),
        json!({"email": email, "password": PASSWORD}),
    )
    .await
}

/// The binary serving a fresh temporary data folder, stopped (and the folder removed)
/// when dropped.
pub struct TempServer {
    pub child: Child,
    pub base: String,
    _data: tempfile::TempDir,
}

impl TempServer {
    /// Starts it with `env` on top of the defaults [`spawn_server`] gives.
    pub fn start(env: &[(&str, &str)]) -> TempServer {
        let data = tempfile::tempdir().unwrap();
        let env: Vec<_> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let (child, base) = spawn_server(data.path(), &env, None);
        TempServer {
            child,
            base,
            _data: data,
        }
    }
}

impl Drop for TempServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
