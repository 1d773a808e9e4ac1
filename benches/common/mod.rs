//! Shared by the load benches: start the release binary as its own process, make
//! accounts, connect WebSocket clients, and summarise latencies.
//!
//! Set `MENTORQ_BENCH_SERVER_CPUS` (e.g. `0`) and `MENTORQ_BENCH_CLIENT_CPUS` (e.g. `1`)
//! to pin the server and the client to different cores with `taskset`.

#![allow(dead_code)]

use serde_json::{json, Value};
use std::path::Path;
use std::process::{Child, Command, Stdio};

#[path = "../../tests/support/mod.rs"]
mod support;
pub use std::time::Duration;

pub const PASSWORD: &str = "bench password";
pub const DIRECTOR: &str = "ops@example.org";

pub struct Server {
    child: Child,
    pub base: String,
    pub pid: u32,
}

impl Server {
    /// Waits for the server to exit (after a signal).
    pub fn wait(&mut self) {
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The environment every bench server gets: no write limits in the way.
pub fn bench_env() -> Vec<(String, String)> {
    [
        ("MENTORQ__AUTH__ACCESS_TTL_SECONDS", "86400"),
        ("MENTORQ__QUEUE__MAX_ACTIVE_TICKETS", "100000000"),
        ("MENTORQ__QUEUE__WRITES_PER_MINUTE", "100000000"),
        ("RUST_LOG", "warn"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Starts the binary on `data` with `extra` environment on top of [`bench_env`].
pub fn start_server(data: &Path, extra: &[(&str, &str)]) -> Server {
    let mut env = bench_env();
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let pin = std::env::var("MENTORQ_BENCH_SERVER_CPUS")
        .ok()
        .map(|cpus| ("taskset", vec!["-c".to_string(), cpus]));
    let (child, base) = support::spawn_server(data, &env, pin);
    let pid = child.id();
    Server { child, base, pid }
}

/// A server on a fresh temporary data folder, with a keep-alive client and the
/// director's access token. Fields drop in order: the server stops before its folder goes.
pub struct Fresh {
    pub server: Server,
    pub client: reqwest::Client,
    pub director: String,
    _dir: tempfile::TempDir,
}

pub async fn fresh_server(extra: &[(&str, &str)]) -> Fresh {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path(), extra);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    let (_, director) = account(&client, &server.base, DIRECTOR).await;
    Fresh {
        server,
        client,
        director,
        _dir: dir,
    }
}

/// Pins this (client) process if asked to. Only threads started afterwards inherit
/// the pinning, so this runs before any runtime exists (see [`client_runtime`]).
fn pin_client() {
    if let Ok(cpus) = std::env::var("MENTORQ_BENCH_CLIENT_CPUS") {
        let _ = Command::new("taskset")
            .args(["-p", "-c", &cpus, &std::process::id().to_string()])
            .stdout(Stdio::null())
            .status();
    }
}

/// The bench client's runtime: the open-file limit raised, pinned if asked to, and one
/// worker thread per core it may use.
pub fn client_runtime() -> tokio::runtime::Runtime {
    raise_fd_limit();
    pin_client();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// A command for a server process, pinned with `taskset` if asked to.
pub fn server_command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    match std::env::var("MENTORQ_BENCH_SERVER_CPUS") {
        Ok(cpus) => {
            let mut command = Command::new("taskset");
            command.arg("-c").arg(cpus).arg(program);
            command
        }
        Err(_) => Command::new(program),
    }
}

/// Raises this process's open-file limit (which the servers it starts inherit): to
/// 100,000 where allowed (root), else the soft limit to the hard one.
pub fn raise_fd_limit() {
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        let wanted = libc::rlimit {
            rlim_cur: 100_000,
            rlim_max: 100_000,
        };
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            if limit.rlim_max < wanted.rlim_max && libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) == 0 {
                return;
            }
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// Resident memory of a process in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    support::memory_of(pid).0 / 1024
}

/// CPU seconds (user + system) `pid` has used so far.
pub fn cpu_seconds(pid: u32) -> f64 {
    support::cpu_seconds(pid)
}

/// The peak resident memory of a process so far in KiB.
pub fn hwm_kib(pid: u32) -> u64 {
    support::memory_of(pid).1 / 1024
}

pub fn machine() -> String {
    let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    let usable = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let pinning = match (
        std::env::var("MENTORQ_BENCH_SERVER_CPUS"),
        std::env::var("MENTORQ_BENCH_CLIENT_CPUS"),
    ) {
        (Err(_), Err(_)) => "not pinned".to_string(),
        (server, client) => format!(
            "server on cpus {}, client on cpus {} ({usable} usable)",
            server.as_deref().unwrap_or("any"),
            client.as_deref().unwrap_or("any")
        ),
    };
    let cores = format!("{online}, {pinning}");
    let mem = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    let date = Command::new("date")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    format!(
        "nproc={cores}; {}; {}",
        mem.split_whitespace().collect::<Vec<_>>().join(" "),
        date.unwrap_or_default()
    )
}

/// A loopback port nothing listens on (yet).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub async fn get(client: &reqwest::Client, url: String, token: &str) -> Value {
    let response = client.get(url).bearer_auth(token).send().await.expect("request");
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.unwrap_or(Value::Null)
}

pub async fn post(client: &reqwest::Client, url: String, token: Option<&str>, body: Value) -> Value {
    let mut request = client.post(url).json(&body);
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let response = request.send().await.expect("request");
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.unwrap_or(Value::Null)
}

/// Registers (if needed) and logs in; returns (user id, access token).
pub async fn account(client: &reqwest::Client, base: &str, email: &str) -> (u64, String) {
    let _ = client
        .post(format!("{base}/api/auth/register/"))
        .json(&json!({"email": email, "password": PASSWORD, "name": email}))
        .send()
        .await;
    let tokens = post(
        client,
        format!("{base}/api/auth/token/"),
        None,
        json!({"email": email, "password": PASSWORD}),
    )
    .await;
    (
        tokens["user"]["id"].as_u64().unwrap(),
        tokens["access"].as_str().unwrap().to_string(),
    )
}

pub fn ws_url(base: &str, token: &str) -> String {
    format!("{}/ws?access_token={token}", base.replace("http://", "ws://"))
}

/// Connects a WebSocket client over a socket with an optional small receive buffer.
pub async fn ws_connect(
    base: &str,
    token: &str,
    recv_buffer: Option<u32>,
) -> tokio_tungstenite::WebSocketStream<tokio::net::TcpStream> {
    ws_connect_with(base, token, recv_buffer, "").await
}

/// Loopback addresses the bench clients connect from.
pub const SOURCE_ADDRESSES: u32 = 8;

/// [`ws_connect`] with `extra` appended to the URL's query (e.g. `&queues=3`).
pub async fn ws_connect_with(
    base: &str,
    token: &str,
    recv_buffer: Option<u32>,
    extra: &str,
) -> tokio_tungstenite::WebSocketStream<tokio::net::TcpStream> {
    for attempt in 0.. {
        match try_ws_connect(base, token, recv_buffer, extra).await {
            Ok(ws) => return ws,
            Err(e) if attempt < 20 => eprintln!("retrying a websocket connection: {e}"),
            Err(e) => panic!("websocket connection: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(50 * (attempt + 1))).await;
    }
    unreachable!()
}

/// One attempt at a WebSocket connection (`extra` is appended to the query).
pub async fn try_ws_connect(
    base: &str,
    token: &str,
    recv_buffer: Option<u32>,
    extra: &str,
) -> Result<tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>, String> {
    let addr: std::net::SocketAddr = base.trim_start_matches("http://").parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().map_err(|e| e.to_string())?;
    if let Some(size) = recv_buffer {
        socket.set_recv_buffer_size(size).map_err(|e| e.to_string())?;
    }
    if addr.ip().is_loopback() {
        // Spread over 127.0.0.2–127.0.0.9: each source address has its own range of
        // ephemeral ports, so tens of thousands of clients do not run out of them.
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let source = std::net::Ipv4Addr::new(127, 0, 0, 2 + (n % SOURCE_ADDRESSES) as u8);
        socket.bind((source, 0).into()).map_err(|e| e.to_string())?;
    }
    let tcp = socket.connect(addr).await.map_err(|e| format!("connect: {e}"))?;
    // tungstenite zeroes its whole free read buffer before every read: at the default
    // 128 KiB that was a third of the bench client's CPU, at 8 KiB still 13 % of its
    // user time. The frames measured here are under 1 KiB.
    let config =
        tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default().read_buffer_size(2 * 1024);
    tokio_tungstenite::client_async_with_config(format!("{}{extra}", ws_url(base, token)), tcp, Some(config))
        .await
        .map(|(ws, _)| ws)
        .map_err(|e| format!("upgrade: {e}"))
}

/// p-th percentile (nearest rank) of sorted values.
pub fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    pct(values, 50.0)
}

/// How many runs each configuration gets (`MENTORQ_BENCH_RUNS`, default 3).
pub fn runs() -> usize {
    env_number("MENTORQ_BENCH_RUNS", 3)
}

pub mod fanout;

/// A number from the environment variable `name`, or `default`.
pub fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// A comma-separated list of numbers from `name`, or `default`.
pub fn env_list(name: &str, default: &str) -> Vec<usize> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .map(|s| s.trim().parse().expect("a list of numbers"))
        .collect()
}
