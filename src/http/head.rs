//! The first reader of every connection: each HTTP/1.1 request head is checked here
//! before actix-http parses it.
//!
//! actix-http answers a head it cannot accept (malformed, too large, too slow, both
//! `Content-Length` and `Transfer-Encoding`) from inside its dispatcher, with an empty
//! body and no hook to change it. The contract promises the JSON error body on every
//! error, so [`Guarded`] applies the same rules first. A head it refuses is replaced by
//! a request for `/_refused/{reason}` (with `Connection: close`), which the app answers
//! with the JSON error in its turn: after the answers to the requests before it on the
//! connection, never in the middle of one. A head it accepts is handed on unchanged, and so is the body that follows (framed by `Content-Length` or
//! chunked, so the next head is found). After an upgrade (the WebSocket) every byte
//! passes straight through; writes always do.
//!
//! Memory stays bounded: at most one head (`http.max_request_head_bytes`) plus one
//! read is held, and nothing more is read until actix-http has taken what is ready.

use crate::api::error::ApiError;
use actix_web::http::Uri;
use bytes::{Buf, BytesMut};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// actix-http's own limit on the number of header fields.
const MAX_HEADERS: usize = 96;
/// How much is read from the socket at once.
const READ_CHUNK: usize = 16 * 1024;

/// What a head may be.
#[derive(Clone, Copy, Debug)]
pub struct HeadLimits {
    /// The longest request line plus header fields.
    pub max_bytes: usize,
    /// How long a client may take to send a whole head once it has started one (and,
    /// for a connection's first request, from the moment it connects).
    pub timeout: Duration,
}

/// The path of the stand-in request for a refused head; the reason's number follows.
pub const REFUSED_PATH: &str = "/_refused/";

/// Why a request head was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum HeadError {
    Malformed,
    Version,
    Target,
    TwoLengths,
    BadLength,
    TwoEncodings,
    BadEncoding,
    TwoHosts,
    LengthAndEncoding,
    TargetTooLong,
    HeadersTooLarge,
    Timeout,
}

impl HeadError {
    /// Every reason, in the order of their numbers.
    pub const ALL: [HeadError; 12] = [
        HeadError::Malformed,
        HeadError::Version,
        HeadError::Target,
        HeadError::TwoLengths,
        HeadError::BadLength,
        HeadError::TwoEncodings,
        HeadError::BadEncoding,
        HeadError::TwoHosts,
        HeadError::LengthAndEncoding,
        HeadError::TargetTooLong,
        HeadError::HeadersTooLarge,
        HeadError::Timeout,
    ];

    pub fn from_index(index: u8) -> Option<HeadError> {
        HeadError::ALL.get(usize::from(index)).copied()
    }

    /// The answer the client gets.
    pub fn error(self) -> ApiError {
        ApiError::BadRequest(match self {
            HeadError::TargetTooLong => return ApiError::UriTooLong,
            HeadError::HeadersTooLarge => return ApiError::HeadersTooLarge,
            HeadError::Timeout => return ApiError::RequestTimeout,
            HeadError::Malformed => "the request line or a header field is not valid HTTP",
            HeadError::Version => "only HTTP/1.0 and HTTP/1.1 are spoken here",
            HeadError::Target => "the request target is not a valid URI",
            HeadError::TwoLengths => "Content-Length is given more than once",
            HeadError::BadLength => "Content-Length is not a number",
            HeadError::TwoEncodings => "Transfer-Encoding is given more than once",
            HeadError::BadEncoding => "Transfer-Encoding must be chunked",
            HeadError::TwoHosts => "Host is given more than once",
            HeadError::LengthAndEncoding => "Content-Length and Transfer-Encoding cannot both frame the body",
        })
    }
}

/// Where in the byte stream the reader is.
#[derive(Debug)]
enum Framing {
    /// Between requests, or inside a head.
    Head,
    /// Inside a body of known length: this many bytes are left.
    Length(u64),
    Chunked(Chunk),
    /// Upgraded (or lost track of a malformed chunked body): pass everything on.
    Tunnel,
}

#[derive(Clone, Copy, Debug)]
enum Chunk {
    Size,
    Data(u64),
    DataEnd,
    Trailers,
}

/// A connection whose request heads are checked before actix-http reads them.
pub struct Guarded<T> {
    io: T,
    limits: HeadLimits,
    framing: Framing,
    /// Read from the socket, not yet checked.
    pending: BytesMut,
    /// Checked, waiting for actix-http to read it.
    ready: BytesMut,
    /// Runs while a head is awaited (see [`HeadLimits::timeout`]).
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    /// A head was refused: its stand-in request is in `ready`, nothing more is read.
    refused: bool,
    /// Whether the socket has reached its end.
    eof: bool,
}

impl<T> Guarded<T> {
    pub fn new(io: T, limits: HeadLimits) -> Guarded<T> {
        Guarded {
            io,
            limits,
            framing: Framing::Head,
            pending: BytesMut::new(),
            ready: BytesMut::new(),
            deadline: Some(Box::pin(tokio::time::sleep(limits.timeout))),
            refused: false,
            eof: false,
        }
    }

    /// Moves checked bytes from `pending` to `ready`; `Ok(true)` if anything changed.
    fn advance(&mut self) -> Result<bool, HeadError> {
        match &mut self.framing {
            Framing::Head => {
                if self.pending.is_empty() {
                    return Ok(false);
                }
                if self.deadline.is_none() {
                    self.deadline = Some(Box::pin(tokio::time::sleep(self.limits.timeout)));
                }
                let Some((length, framing)) = check_head(&self.pending, self.limits.max_bytes)? else {
                    return Ok(false);
                };
                self.ready.extend_from_slice(&self.pending.split_to(length));
                self.framing = framing;
                self.deadline = None;
                Ok(true)
            }
            Framing::Length(left) => {
                let take = (*left).min(self.pending.len() as u64);
                *left -= take;
                let done = *left == 0;
                self.pass(take as usize);
                if done {
                    self.framing = Framing::Head;
                }
                Ok(take > 0 || done)
            }
            Framing::Chunked(chunk) => {
                let chunk = *chunk;
                Ok(self.advance_chunk(chunk))
            }
            Framing::Tunnel => {
                let any = !self.pending.is_empty();
                let all = self.pending.len();
                self.pass(all);
                Ok(any)
            }
        }
    }

    /// One step through a chunked body.
    fn advance_chunk(&mut self, state: Chunk) -> bool {
        match state {
            Chunk::Size => match httparse::parse_chunk_size(&self.pending) {
                Ok(httparse::Status::Complete((used, size))) => {
                    self.pass(used);
                    self.framing = Framing::Chunked(if size == 0 {
                        Chunk::Trailers
                    } else {
                        Chunk::Data(size)
                    });
                    true
                }
                Ok(httparse::Status::Partial) if self.pending.len() <= self.limits.max_bytes => false,
                // Not chunked framing after all: actix-http reports it to the client.
                _ => {
                    self.framing = Framing::Tunnel;
                    true
                }
            },
            Chunk::Data(left) => {
                let take = left.min(self.pending.len() as u64);
                self.pass(take as usize);
                let left = left - take;
                self.framing = Framing::Chunked(if left == 0 {
                    Chunk::DataEnd
                } else {
                    Chunk::Data(left)
                });
                take > 0
            }
            Chunk::DataEnd => {
                if self.pending.len() < 2 {
                    return false;
                }
                self.pass(2);
                self.framing = Framing::Chunked(Chunk::Size);
                true
            }
            Chunk::Trailers => match self.pending.windows(2).position(|w| w == b"\r\n") {
                Some(0) => {
                    self.pass(2);
                    self.framing = Framing::Head;
                    true
                }
                Some(end) => {
                    self.pass(end + 2);
                    true
                }
                None if self.pending.len() <= self.limits.max_bytes => false,
                None => {
                    self.framing = Framing::Tunnel;
                    true
                }
            },
        }
    }

    fn pass(&mut self, n: usize) {
        let bytes = self.pending.split_to(n);
        self.ready.extend_from_slice(&bytes);
    }

    fn refuse(&mut self, reason: HeadError) {
        tracing::info!(?reason, "request head refused");
        self.pending.clear();
        self.refused = true;
        let stand_in = format!(
            "GET {REFUSED_PATH}{} HTTP/1.1\r\nHost: mentorq\r\nConnection: close\r\n\r\n",
            reason as u8
        );
        self.ready.extend_from_slice(stand_in.as_bytes());
    }
}

/// Checks the head at the start of `bytes`: `Ok(None)` if it is not complete yet, else
/// its length and the framing of what follows. The rules are actix-http's, so that
/// whatever it would refuse is refused here first, with a body.
fn check_head(bytes: &[u8], max_bytes: usize) -> Result<Option<(usize, Framing)>, HeadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let length = match request.parse(bytes) {
        Ok(httparse::Status::Complete(length)) if length <= max_bytes => length,
        Ok(httparse::Status::Complete(_)) => return Err(too_large(bytes, max_bytes)),
        Ok(httparse::Status::Partial) if bytes.len() <= max_bytes => return Ok(None),
        Ok(httparse::Status::Partial) => return Err(too_large(bytes, max_bytes)),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::HeadersTooLarge),
        Err(httparse::Error::Version) => return Err(HeadError::Version),
        Err(_) => return Err(HeadError::Malformed),
    };
    let target = request.path.unwrap_or_default();
    if Uri::try_from(target).is_err() {
        return Err(HeadError::Target);
    }
    let http11 = request.version == Some(1);
    let (mut content_length, mut chunked, mut seen_te, mut seen_host, mut upgrade) =
        (None, false, false, false, false);
    for header in request.headers.iter() {
        let value = std::str::from_utf8(header.value).map(str::trim);
        let name = header.name;
        if name.eq_ignore_ascii_case("content-length") {
            let parsed = value
                .ok()
                .filter(|v| !v.starts_with('+'))
                .and_then(|v| v.parse::<u64>().ok());
            match (content_length, parsed) {
                (Some(_), _) => return Err(HeadError::TwoLengths),
                (None, None) => return Err(HeadError::BadLength),
                (None, Some(n)) => content_length = Some(n),
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") && http11 {
            if seen_te {
                return Err(HeadError::TwoEncodings);
            }
            seen_te = true;
            match value {
                Ok(v) if v.eq_ignore_ascii_case("chunked") => chunked = true,
                Ok(v) if v.eq_ignore_ascii_case("identity") => {}
                _ => return Err(HeadError::BadEncoding),
            }
        } else if name.eq_ignore_ascii_case("host") {
            if seen_host {
                return Err(HeadError::TwoHosts);
            }
            seen_host = true;
        } else if name.eq_ignore_ascii_case("connection") {
            let options = value.unwrap_or_default().split(',').map(str::trim);
            let mut close = false;
            for option in options {
                close |= option.eq_ignore_ascii_case("close");
                upgrade |= option.eq_ignore_ascii_case("upgrade");
            }
            upgrade &= !close;
        }
    }
    if chunked && content_length.is_some() {
        return Err(HeadError::LengthAndEncoding);
    }
    let framing = if upgrade || request.method == Some("CONNECT") {
        Framing::Tunnel
    } else if chunked {
        Framing::Chunked(Chunk::Size)
    } else {
        match content_length {
            Some(n) if n > 0 => Framing::Length(n),
            _ => Framing::Head,
        }
    };
    Ok(Some((length, framing)))
}

/// 414 if the request line alone is over the limit, else 431.
fn too_large(bytes: &[u8], max_bytes: usize) -> HeadError {
    match bytes.windows(2).position(|w| w == b"\r\n") {
        Some(line) if line <= max_bytes => HeadError::HeadersTooLarge,
        _ => HeadError::TargetTooLong,
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for Guarded<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if !this.ready.is_empty() {
                let n = this.ready.len().min(buf.remaining());
                buf.put_slice(&this.ready[..n]);
                this.ready.advance(n);
                return Poll::Ready(Ok(()));
            }
            if this.refused {
                // actix-http answers the stand-in and closes the connection; nothing
                // after the refused head is read.
                return Poll::Pending;
            }
            if matches!(this.framing, Framing::Tunnel) && this.pending.is_empty() {
                return Pin::new(&mut this.io).poll_read(cx, buf);
            }
            match this.advance() {
                Ok(true) => continue,
                Ok(false) => {}
                Err(error) => {
                    this.refuse(error);
                    continue;
                }
            }
            if this.eof {
                // What is left is an incomplete head; actix-http sees the end as we do.
                return Poll::Ready(Ok(()));
            }
            if matches!(this.framing, Framing::Head) {
                if let Some(deadline) = &mut this.deadline {
                    if deadline.as_mut().poll(cx).is_ready() {
                        this.refuse(HeadError::Timeout);
                        continue;
                    }
                }
            }
            let mut chunk = [0u8; READ_CHUNK];
            let mut read = ReadBuf::new(&mut chunk);
            ready!(Pin::new(&mut this.io).poll_read(cx, &mut read))?;
            if read.filled().is_empty() {
                this.eof = true;
            }
            this.pending.extend_from_slice(read.filled());
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Guarded<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::ResponseError;

    const LIMIT: usize = 1024;

    fn check(head: &str) -> Result<Option<(usize, Framing)>, HeadError> {
        check_head(head.as_bytes(), LIMIT)
    }

    fn refused(head: &str) -> &'static str {
        match check(head) {
            Err(e) => e.error().code(),
            Ok(other) => panic!("accepted {head:?}: {other:?}"),
        }
    }

    #[test]
    fn a_well_formed_head_is_accepted_with_the_framing_of_its_body() {
        let head = "POST /api/tickets/ HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n{\"title\":1}";
        let (length, framing) = check(head).unwrap().unwrap();
        assert_eq!(&head[length..], "{\"title\":1}");
        assert!(matches!(framing, Framing::Length(12)));
        let (_, framing) = check("GET / HTTP/1.1\r\n\r\n").unwrap().unwrap();
        assert!(matches!(framing, Framing::Head));
        let chunked = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert!(matches!(
            check(chunked).unwrap().unwrap().1,
            Framing::Chunked(Chunk::Size)
        ));
        let upgrade = "GET /ws HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n";
        assert!(matches!(check(upgrade).unwrap().unwrap().1, Framing::Tunnel));
        assert!(
            check("GET / HTTP/1.1\r\nHost: x\r\n").unwrap().is_none(),
            "not complete yet"
        );
    }

    #[test]
    fn what_actix_http_would_refuse_without_a_body_is_refused_here() {
        assert_eq!(
            refused("GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            "bad_request"
        );
        assert_eq!(
            refused("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
            "bad_request"
        );
        assert_eq!(
            refused("GET / HTTP/1.1\r\nContent-Length: +1\r\n\r\n"),
            "bad_request"
        );
        assert_eq!(
            refused("GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"),
            "bad_request"
        );
        assert_eq!(
            refused("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
            "bad_request"
        );
        assert_eq!(refused("GET / HTTP/2.0\r\n\r\n"), "bad_request");
        assert_eq!(refused("GET /a b HTTP/1.1\r\n\r\n"), "bad_request");
        assert_eq!(
            refused(&format!("GET /{} HTTP/1.1\r\n", "a".repeat(LIMIT))),
            "uri_too_long"
        );
        assert_eq!(
            refused(&format!("GET / HTTP/1.1\r\nX: {}\r\n", "a".repeat(LIMIT))),
            "headers_too_large"
        );
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: 1\r\n")).collect();
        assert_eq!(
            refused(&format!("GET / HTTP/1.1\r\n{many}\r\n")),
            "headers_too_large"
        );
    }

    #[test]
    fn every_reason_travels_in_the_stand_in_path_and_back() {
        for reason in HeadError::ALL {
            assert_eq!(HeadError::from_index(reason as u8), Some(reason));
            assert!(reason.error().status_code().is_client_error());
        }
        assert_eq!(HeadError::from_index(HeadError::ALL.len() as u8), None);
    }

    /// Feeds `input` through a guard and returns what actix-http would read.
    async fn through(input: &[u8]) -> Vec<u8> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut client, server) = tokio::io::duplex(64);
        let input = input.to_vec();
        let writer = tokio::spawn(async move {
            for piece in input.chunks(7) {
                client.write_all(piece).await.unwrap();
            }
            client
        });
        let limits = HeadLimits {
            max_bytes: LIMIT,
            timeout: Duration::from_secs(5),
        };
        let mut guarded = Guarded::new(server, limits);
        let mut out = Vec::new();
        let mut buf = [0u8; 5];
        loop {
            let n = tokio::time::timeout(Duration::from_millis(200), guarded.read(&mut buf)).await;
            match n {
                Ok(Ok(n)) if n > 0 => out.extend_from_slice(&buf[..n]),
                _ => break,
            }
        }
        drop(writer);
        out
    }

    #[tokio::test]
    async fn pipelined_requests_with_bodies_pass_unchanged_and_each_head_is_found() {
        let input = b"POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello\
POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n\
GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x85anything at all";
        assert_eq!(through(input).await, input.to_vec());
    }

    #[tokio::test]
    async fn a_bad_second_head_is_replaced_by_its_stand_in_and_nothing_after_it_is_read() {
        let input =
            b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nContent-Length: x\r\n\r\nGET /c HTTP/1.1\r\n\r\n";
        let stand_in = format!(
            "GET {REFUSED_PATH}{} HTTP/1.1\r\nHost: mentorq\r\nConnection: close\r\n\r\n",
            HeadError::BadLength as u8
        );
        let expected = [b"GET /a HTTP/1.1\r\n\r\n".as_slice(), stand_in.as_bytes()].concat();
        assert_eq!(through(input).await, expected);
    }
}
