//! A connection's outbox: the frames queued for one client that its socket has not yet
//! taken, shared by the Hub (which fills it) and the connection (which drains it).
//!
//! It is bounded: a client that stops reading fills it, the next push is refused, and
//! the Hub lets the client go. Pushing is a short lock, a reference-count increment and,
//! only when the connection is idle, one wake-up; that is the whole per-client cost of
//! a broadcast, which is why this is not a general-purpose channel.

use super::protocol::Frame;
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// Why a frame was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// The client has `limit` frames unwritten: it is not keeping up.
    Full,
    /// The connection is closing or gone.
    Ended,
}

/// The most frame slots an empty outbox keeps.
const KEPT_CAPACITY: usize = 16;

#[derive(Clone)]
pub struct Outbox(Arc<Mutex<Queue>>);

struct Queue {
    frames: VecDeque<Bytes>,
    limit: usize,
    /// The connection's writer, parked until there is something to write.
    waker: Option<Waker>,
    /// A replay of retained events, parked until the queue is down to `low_water`.
    room: Option<(Waker, usize)>,
    end: End,
}

enum End {
    Open,
    /// Write what is queued, then this close frame (if any), then end.
    Closing(Option<Frame>),
    /// Nothing more will be written.
    Done,
}

impl Outbox {
    pub fn new(limit: usize) -> Outbox {
        Outbox(Arc::new(Mutex::new(Queue {
            frames: VecDeque::new(),
            limit: limit.max(1),
            waker: None,
            room: None,
            end: End::Open,
        })))
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // The lock is held only for queue operations that cannot panic halfway.
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues `frame` after the ones already queued.
    pub fn push(&self, frame: &Frame) -> Result<(), Refused> {
        let waker = {
            let mut queue = self.lock();
            if !matches!(queue.end, End::Open) {
                return Err(Refused::Ended);
            }
            if queue.frames.len() >= queue.limit {
                return Err(Refused::Full);
            }
            queue.frames.push_back(frame.wire().clone());
            queue.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// The most frames it holds.
    pub fn limit(&self) -> usize {
        self.lock().limit
    }

    /// How many frames are waiting to be written.
    pub fn len(&self) -> usize {
        self.lock().frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Queues one of the connection's own replies (a pong, an error) only while the
    /// queue is at most half full; otherwise drops it. A client that sends faster than
    /// it reads loses replies (RFC 6455 lets a pong answer only the latest ping) but is
    /// never closed as lagging for its own requests. False once the connection ends.
    pub fn offer(&self, frame: &Frame) -> bool {
        let waker = {
            let mut queue = self.lock();
            if !matches!(queue.end, End::Open) {
                return false;
            }
            if queue.frames.len() * 2 > queue.limit {
                return true;
            }
            queue.frames.push_back(frame.wire().clone());
            queue.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        true
    }

    /// Ready with `true` once at most `low_water` frames are waiting (so a replay can
    /// add more), `false` once the connection ends; pending (and woken) until then.
    pub fn poll_room(&self, cx: &mut Context<'_>, low_water: usize) -> Poll<bool> {
        let mut queue = self.lock();
        if !matches!(queue.end, End::Open) {
            return Poll::Ready(false);
        }
        if queue.frames.len() <= low_water {
            return Poll::Ready(true);
        }
        queue.room = Some((cx.waker().clone(), low_water));
        Poll::Pending
    }

    /// Ends the connection once what is queued has been written, followed by `close`
    /// (a close frame) if given. Later pushes are refused; the first ending wins.
    pub fn close(&self, close: Option<Frame>) {
        let (waker, room) = {
            let mut queue = self.lock();
            if !matches!(queue.end, End::Open) {
                return;
            }
            if let Some(code) = close.as_ref().and_then(Frame::close_code) {
                metrics::counter!(crate::telemetry::WS_CLOSED, "code" => code.to_string()).increment(1);
            }
            queue.end = End::Closing(close);
            (queue.waker.take(), queue.room.take())
        };
        for waker in waker.into_iter().chain(room.map(|(w, _)| w)) {
            waker.wake();
        }
    }

    /// The connection is gone: free what was queued and refuse the rest.
    pub fn gone(&self) {
        let room = {
            let mut queue = self.lock();
            queue.end = End::Done;
            queue.frames = VecDeque::new();
            queue.waker = None;
            queue.room.take()
        };
        if let Some((waker, _)) = room {
            waker.wake();
        }
    }

    /// For the connection's writer: the next bytes to write, `None` at the end, or
    /// pending (woken by the next push or close).
    pub fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let mut queue = self.lock();
        if let Some(frame) = queue.frames.pop_front() {
            if queue
                .room
                .as_ref()
                .is_some_and(|(_, low)| queue.frames.len() <= *low)
            {
                let (waker, _) = queue.room.take().expect("checked");
                drop(queue);
                waker.wake();
            }
            crate::telemetry::ws_sent().increment(1);
            return Poll::Ready(Some(frame));
        }
        // Drained after a burst (a replay): give back what the burst grew, so a
        // reconnected client costs what one that never dropped does. A client keeping
        // up with live events never queues this many.
        if queue.frames.capacity() > KEPT_CAPACITY {
            queue.frames.shrink_to(KEPT_CAPACITY);
        }
        if let End::Open = queue.end {
            if !queue.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                queue.waker = Some(cx.waker().clone());
            }
            return Poll::Pending;
        }
        // Closing: the close frame (if any) once, then the end.
        match std::mem::replace(&mut queue.end, End::Done) {
            End::Closing(Some(close)) => Poll::Ready(Some(close.wire().clone())),
            _ => Poll::Ready(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_http::ws::{CloseCode, CloseReason};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    #[derive(Default)]
    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn drain(outbox: &Outbox, waker: &Arc<CountingWaker>) -> (Vec<Bytes>, bool) {
        let waker = Waker::from(waker.clone());
        let mut cx = Context::from_waker(&waker);
        let mut out = Vec::new();
        loop {
            match outbox.poll_next(&mut cx) {
                Poll::Ready(Some(bytes)) => out.push(bytes),
                Poll::Ready(None) => return (out, true),
                Poll::Pending => return (out, false),
            }
        }
    }

    #[test]
    fn a_drained_outbox_gives_back_what_a_burst_grew() {
        let outbox = Outbox::new(1000);
        let waker = Arc::new(CountingWaker::default());
        for _ in 0..500 {
            outbox.push(&Frame::text("replayed")).unwrap();
        }
        assert!(outbox.lock().frames.capacity() >= 500);
        let (frames, ended) = drain(&outbox, &waker);
        assert_eq!((frames.len(), ended), (500, false));
        assert!(outbox.lock().frames.capacity() <= KEPT_CAPACITY);
    }

    #[test]
    fn frames_come_out_in_order_and_a_parked_writer_is_woken_once() {
        let outbox = Outbox::new(10);
        let waker = Arc::new(CountingWaker::default());
        assert_eq!(drain(&outbox, &waker), (vec![], false));
        outbox.push(&Frame::text("a")).unwrap();
        outbox.push(&Frame::text("b")).unwrap();
        assert_eq!(waker.0.load(Ordering::SeqCst), 1, "one wake for a burst");
        let (frames, ended) = drain(&outbox, &waker);
        assert_eq!(
            frames,
            vec![Frame::text("a").wire().clone(), Frame::text("b").wire().clone()]
        );
        assert!(!ended);
    }

    #[test]
    fn a_full_outbox_refuses_and_keeps_what_it_has() {
        let outbox = Outbox::new(2);
        outbox.push(&Frame::text("a")).unwrap();
        outbox.push(&Frame::text("b")).unwrap();
        assert_eq!(outbox.push(&Frame::text("c")), Err(Refused::Full));
        let (frames, _) = drain(&outbox, &Arc::default());
        assert_eq!(frames.len(), 2);
        outbox.push(&Frame::text("c")).unwrap();
    }

    #[test]
    fn closing_writes_the_queue_then_the_close_frame_then_ends() {
        let outbox = Outbox::new(10);
        outbox.push(&Frame::text("a")).unwrap();
        let reason = CloseReason {
            code: CloseCode::Other(4008),
            description: Some("lagging".into()),
        };
        outbox.close(Some(Frame::close(Some(reason.clone()))));
        outbox.close(Some(Frame::close(None)));
        assert_eq!(outbox.push(&Frame::text("b")), Err(Refused::Ended));
        let (frames, ended) = drain(&outbox, &Arc::default());
        assert_eq!(
            frames,
            vec![
                Frame::text("a").wire().clone(),
                Frame::close(Some(reason)).wire().clone()
            ]
        );
        assert!(ended);
    }

    #[test]
    fn replies_are_dropped_not_fatal_once_the_queue_is_half_full() {
        let outbox = Outbox::new(4);
        for _ in 0..4 {
            assert!(outbox.offer(&Frame::text("pong")));
        }
        assert_eq!(outbox.len(), 3, "the fourth reply found the queue over half full");
        assert_eq!(outbox.push(&Frame::text("event")), Ok(()), "events still fit");
        outbox.close(None);
        assert!(!outbox.offer(&Frame::text("pong")));
    }

    #[test]
    fn a_replay_waiting_for_room_is_woken_when_the_queue_drains_to_its_low_water() {
        let outbox = Outbox::new(10);
        for _ in 0..4 {
            outbox.push(&Frame::text("a")).unwrap();
        }
        let replay = Arc::new(CountingWaker::default());
        let waker = Waker::from(replay.clone());
        let mut cx = Context::from_waker(&waker);
        assert_eq!(outbox.poll_room(&mut cx, 1), Poll::Pending);
        let writer = Arc::new(CountingWaker::default());
        let writer_waker = Waker::from(writer);
        let mut writer_cx = Context::from_waker(&writer_waker);
        let _ = outbox.poll_next(&mut writer_cx);
        let _ = outbox.poll_next(&mut writer_cx);
        assert_eq!(
            replay.0.load(Ordering::SeqCst),
            0,
            "two left, above the low water"
        );
        let _ = outbox.poll_next(&mut writer_cx);
        assert_eq!(replay.0.load(Ordering::SeqCst), 1);
        assert_eq!(outbox.poll_room(&mut cx, 1), Poll::Ready(true));
        outbox.gone();
        assert_eq!(outbox.poll_room(&mut cx, 1), Poll::Ready(false));
    }

    #[test]
    fn ending_without_a_close_frame_and_going_away_free_the_queue() {
        let outbox = Outbox::new(10);
        outbox.push(&Frame::text("a")).unwrap();
        outbox.close(None);
        assert_eq!(
            drain(&outbox, &Arc::default()),
            (vec![Frame::text("a").wire().clone()], true)
        );

        let outbox = Outbox::new(10);
        outbox.push(&Frame::text("a")).unwrap();
        outbox.gone();
        assert_eq!(outbox.push(&Frame::text("b")), Err(Refused::Ended));
        assert_eq!(drain(&outbox, &Arc::default()), (vec![], true));
    }
}
