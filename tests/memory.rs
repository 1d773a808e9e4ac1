//! The server's memory under hostile input, measured on its own process (never on the
//! test process, whose allocations other tests share).

mod support;

use futures_util::future::join_all;
use serde_json::json;
use std::time::Duration;
use support::{login, memory_of, post, register};

const MIB: u64 = 1024 * 1024;

/// The server process, with its memory read from `/proc`.
type Server = support::TempServer;

fn memory(server: &Server) -> (u64, u64) {
    memory_of(server.child.id())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn logins_stay_within_a_bounded_memory_and_give_it_back() {
    // Throttles out of the way: this measures the hashing pool itself.
    let server = Server::start(&[
        ("MENTORQ__AUTH__LOGIN_ATTEMPTS_PER_MINUTE", "1000000"),
        ("MENTORQ__AUTH__ADDRESS_ATTEMPTS_PER_MINUTE", "1000000"),
        ("MENTORQ__AUTH__HASH_QUEUE_TIMEOUT_MS", "600000"),
    ]);
    let base = server.base.as_str();
    let client = reqwest::Client::new();
    assert_eq!(register(&client, base, "ada@example.org").await, 201);

    // 64 clients at once, each guessing three times.
    let guessers = (0..64).map(|_| {
        let client = client.clone();
        async move {
            let mut statuses = Vec::new();
            for _ in 0..3 {
                let body = json!({"email": "ada@example.org", "password": "a wrong guess"});
                statuses.push(post(&client, format!("{base}/api/auth/token/"), body).await.0);
            }
            statuses
        }
    });
    let statuses: Vec<u16> = join_all(guessers).await.into_iter().flatten().collect();
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    let (_, peak) = memory(&server);
    eprintln!(
        "peak RSS under 64 concurrent wrong-password logins: {} MiB",
        peak / MIB
    );
    assert!(peak < 300 * MIB, "peak RSS {} MiB", peak / MIB);

    // A hundred real logins, four at a time, then the server at rest.
    for _ in 0..25 {
        let logins = (0..4).map(|_| login(&client, base, "ada@example.org"));
        for (status, body) in join_all(logins).await {
            assert_eq!(status, 200, "{body}");
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (at_rest, _) = memory(&server);
    eprintln!("RSS at rest after 100 logins: {} MiB", at_rest / MIB);
    assert!(at_rest <= 64 * MIB, "RSS at rest {} MiB", at_rest / MIB);
}

#[tokio::test]
async fn a_frame_declaring_2_to_the_40_bytes_is_closed_at_once_and_never_buffered() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = Server::start(&[]);
    let base = server.base.as_str();
    let client = reqwest::Client::new();
    assert_eq!(register(&client, base, "ada@example.org").await, 201);
    let (_, tokens) = login(&client, base, "ada@example.org").await;
    let access = tokens["access"].as_str().unwrap();

    let address = base.trim_start_matches("http://");
    let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    let url = format!("ws://{address}/ws?access_token={access}");
    let (mut ws, _) = tokio_tungstenite::client_async(url, tcp).await.unwrap();
    let before = memory(&server).0;
    let socket = ws.get_mut();
    // A masked text frame whose header declares 2^40 bytes, then 64 MiB streamed after it.
    let mut header = vec![0x81, 0x80 | 127];
    header.extend_from_slice(&(1u64 << 40).to_be_bytes());
    header.extend_from_slice(&[1, 2, 3, 4]);
    socket.write_all(&header).await.unwrap();
    let chunk = vec![0u8; 64 * 1024];
    let mut streamed = 0usize;
    while streamed < 64 * MIB as usize {
        match tokio::time::timeout(Duration::from_millis(500), socket.write_all(&chunk)).await {
            Ok(Ok(())) => streamed += chunk.len(),
            _ => break, // the server stopped reading, or closed
        }
    }
    let grown = memory(&server).0.saturating_sub(before);
    eprintln!(
        "streamed {} MiB after the header; server RSS grew by {} KiB",
        streamed as u64 / MIB,
        grown / 1024
    );
    assert!(grown < 4 * MIB, "RSS grew by {} KiB", grown / 1024);

    // What the server sent: the snapshot, then a close frame with 1009.
    let mut received = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), socket.read_to_end(&mut received)).await;
    let close = received
        .windows(4)
        .rposition(|w| w[0] == 0x88 && w[1] >= 2)
        .map(|at| u16::from_be_bytes([received[at + 2], received[at + 3]]));
    assert_eq!(close, Some(1009), "a close frame with 1009");
}
