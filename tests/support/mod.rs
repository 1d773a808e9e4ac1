//! Starting the real binary as its own process, for the tests and benches that need a
//! separate process (kill, signals, restart, the browser, load).

#![allow(dead_code)]

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
