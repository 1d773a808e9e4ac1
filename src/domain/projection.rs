//! The real-time projection: the state a live client is shown, built from durable
//! events alone.
//!
//! The Hub keeps one. It is seeded at start-up from the owners' durable state and from
//! then on changes only by [`Projection::apply`], one committed event at a time, so a
//! snapshot "as of `seq`" never shows a change that a crash could take back, and the
//! events after it follow without a gap or a repeat.

use super::board::{Board, Place, QueueSummary, TicketView};
use super::capacity::Available;
use super::event::{Event, EventBody, Subscription};
use super::queue::{Announcement, Queue, FIRST_QUEUE};
use super::schedule::Session;
use super::ticket::{Status, Ticket};
use super::user::Roles;
use super::{QueueId, SessionId, TicketId, Timestamp, UserId};
use std::collections::{BTreeMap, HashMap, VecDeque};

/// How many closed or cancelled tickets a snapshot carries.
pub const SNAPSHOT_ENDED: usize = 50;
/// How many announcements a snapshot carries.
pub const SNAPSHOT_ANNOUNCEMENTS: usize = 50;

/// The durable state the projection starts from.
pub struct Seed {
    pub tickets: Vec<Ticket>,
    /// Every queue, archived ones too.
    pub queues: Vec<Queue>,
    /// Every announcement, oldest first (only the newest are kept).
    pub announcements: Vec<Announcement>,
    pub sessions: Vec<Session>,
    /// The newest committed event.
    pub last_seq: u64,
}

/// What one viewer's snapshot holds, as of [`SnapshotView::seq`].
pub struct SnapshotView<'a> {
    pub seq: u64,
    pub tickets: Vec<TicketView>,
    /// Queue 1.
    pub queue: QueueSummary,
    /// Every queue not archived, by id.
    pub queues: Vec<QueueSummary>,
    /// Their sessions that have not ended, by start.
    pub sessions: Vec<&'a Session>,
    /// The newest announcements, newest first.
    pub announcements: Vec<&'a Announcement>,
}

/// A ticket's place or wait changed: its owner is told.
pub type PositionChange = Place;

pub struct Projection {
    board: Board,
    queues: BTreeMap<QueueId, Queue>,
    /// The newest [`SNAPSHOT_ANNOUNCEMENTS`], oldest first.
    announcements: VecDeque<Announcement>,
    sessions: HashMap<SessionId, Session>,
    /// The newest event applied.
    last_seq: u64,
    /// The place and wait last announced for each OPEN ticket, so owners are told only
    /// of changes.
    announced: HashMap<TicketId, Place>,
    /// What the waits of each queue were last announced from ([`Board::wait_inputs`]).
    announced_inputs: HashMap<QueueId, (usize, usize, u64)>,
    /// Per queue, the oldest ticket that joined or left the line since the last
    /// announcement: places before it cannot have changed.
    moved_from: HashMap<QueueId, TicketId>,
    /// Tickets that left a line since the last announcement.
    left: Vec<TicketId>,
}

impl Projection {
    pub fn new(seed: Seed) -> Projection {
        let mut announcements = seed.announcements;
        let keep_from = announcements.len().saturating_sub(SNAPSHOT_ANNOUNCEMENTS);
        let mut projection = Projection {
            board: Board::new(seed.tickets),
            queues: seed.queues.into_iter().map(|q| (q.id, q)).collect(),
            announcements: announcements.drain(keep_from..).collect(),
            sessions: seed.sessions.into_iter().map(|s| (s.id, s)).collect(),
            last_seq: seed.last_seq,
            announced: HashMap::new(),
            announced_inputs: HashMap::new(),
            moved_from: HashMap::new(),
            left: Vec::new(),
        };
        // Nobody has been told anything yet; what they are told on connecting comes
        // from `positions_of`, so start from the current values.
        projection.changed_positions(&Available::default());
        projection
    }

    /// The newest event applied.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Applies one committed event (events arrive in `seq` order).
    pub fn apply(&mut self, event: &Event) {
        match &event.body {
            EventBody::TicketCreated(v) | EventBody::TicketUpdated(v) => {
                let t = &v.ticket;
                let was_open = self.board.get(t.id).is_some_and(|old| old.status == Status::Open);
                let is_open = t.status == Status::Open;
                if was_open != is_open {
                    let from = self.moved_from.entry(t.queue).or_insert(t.id);
                    *from = (*from).min(t.id);
                    if was_open {
                        self.left.push(t.id);
                    }
                }
                self.board.put(t.clone());
            }
            EventBody::QueueCreated(q) | EventBody::QueueUpdated(q) => {
                self.queues.insert(q.id, q.clone());
            }
            EventBody::AnnouncementPosted(a) => {
                self.announcements.push_back(a.clone());
                if self.announcements.len() > SNAPSHOT_ANNOUNCEMENTS {
                    self.announcements.pop_front();
                }
            }
            EventBody::SessionUpdated(s) => {
                self.sessions.insert(s.id, s.clone());
            }
            EventBody::FeedbackCreated(_)
            | EventBody::FeedbackUpdated(_)
            | EventBody::AvailabilityUpdated { .. }
            | EventBody::SessionReminder { .. } => {}
        }
        self.last_seq = event.seq;
    }

    /// Every queue's id, archived ones too.
    pub fn queue_ids(&self) -> impl Iterator<Item = QueueId> + '_ {
        self.queues.keys().copied()
    }

    /// The ids of every queue not archived.
    pub fn visible_queue_ids(&self) -> impl Iterator<Item = QueueId> + '_ {
        self.queues.values().filter(|q| !q.archived).map(|q| q.id)
    }

    /// Every queue not archived, by id, with its counts.
    pub fn summaries(&self, available: &Available) -> Vec<QueueSummary> {
        self.queues
            .values()
            .filter(|q| !q.archived)
            .map(|q| QueueSummary::of(&self.board, q, available))
            .collect()
    }

    /// One queue as a whole.
    pub fn summary(&self, queue: QueueId, available: &Available) -> Option<QueueSummary> {
        self.queues
            .get(&queue)
            .map(|q| QueueSummary::of(&self.board, q, available))
    }

    /// What `user` may see now: every active ticket visible to them (of the queues
    /// `subscription` includes) and the most recently ended ones, the queues, their
    /// upcoming sessions and the latest announcements. Its size is bounded by the
    /// active tickets, not by history.
    pub fn snapshot(
        &self,
        user: UserId,
        roles: Roles,
        now: Timestamp,
        available: &Available,
        subscription: &Subscription,
    ) -> SnapshotView<'_> {
        let view = |t: &Ticket| self.board.view(t, available).seen_by(user, roles);
        let wanted = |t: &&Ticket| subscription.includes(t.queue);
        let tickets: Vec<TicketView> = if roles.is_staff() {
            self.board
                .active()
                .filter(wanted)
                .chain(self.board.recently_ended().filter(wanted).take(SNAPSHOT_ENDED))
                .map(view)
                .collect()
        } else {
            let mine: Vec<&Ticket> = self.board.owned_by(user).filter(wanted).collect();
            let mut ended: Vec<&Ticket> = mine.iter().copied().filter(|t| !t.status.is_active()).collect();
            ended.sort_by_key(|t| std::cmp::Reverse((t.closed, t.id)));
            mine.iter()
                .copied()
                .filter(|t| t.status.is_active())
                .chain(ended.into_iter().take(SNAPSHOT_ENDED))
                .map(view)
                .collect()
        };
        let mut sessions: Vec<&Session> = self
            .sessions
            .values()
            .filter(|s| s.involves(user) && s.end > now)
            .collect();
        sessions.sort_by_key(|s| (s.start, s.id));
        SnapshotView {
            seq: self.last_seq,
            tickets,
            queue: self
                .summary(FIRST_QUEUE, available)
                .expect("queue 1 always exists"),
            queues: self.summaries(available),
            sessions,
            announcements: self.announcements.iter().rev().collect(),
        }
    }

    /// The OPEN tickets whose place or wait differs from what was last announced, now
    /// recorded as announced. Only what can have changed is looked at: a queue's whole
    /// line when what its waits depend on changed, else its line from the oldest ticket
    /// that joined or left it — so an event that moves nobody (a ticket opened at the
    /// end, or claimed from it) costs O(log n), not a recount of the line.
    pub fn changed_positions(&mut self, available: &Available) -> Vec<PositionChange> {
        for id in self.left.drain(..) {
            self.announced.remove(&id);
        }
        let queues: Vec<QueueId> = self.board.queues().collect();
        let mut changes = Vec::new();
        for queue in queues {
            let inputs = self.board.wait_inputs(queue, available);
            let from = if self.announced_inputs.insert(queue, inputs) != Some(inputs) {
                Some(TicketId(0))
            } else {
                self.moved_from.get(&queue).copied()
            };
            let Some(from) = from else { continue };
            for place in self.board.open_places_from(queue, from, available) {
                if self.announced.insert(place.ticket, place) != Some(place) {
                    changes.push(place);
                }
            }
        }
        self.moved_from.clear();
        changes
    }

    /// The announced place and wait of each OPEN ticket `user` owns, for a client
    /// that has just connected.
    pub fn positions_of(&self, user: UserId) -> Vec<PositionChange> {
        self.board
            .owned_by(user)
            .filter_map(|t| self.announced.get(&t.id).copied())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ticket::{apply_change, test_person, NewTicket, Person, Status, TicketChange};
    use crate::domain::user::Role;
    use chrono::{Duration, TimeZone, Utc};

    fn at(minutes: i64) -> Timestamp {
        Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap() + Duration::minutes(minutes)
    }

    fn ticket(id: u64, owner: u64) -> Ticket {
        NewTicket::parse(Some("t"), Some("l"), None, None, None)
            .unwrap()
            .into_ticket(TicketId(id), &test_person(owner, &[]), at(0))
    }

    fn moved(t: &Ticket, by: &Person, status: Status, minutes: i64) -> Ticket {
        let change = TicketChange {
            status: Some(status),
            ..Default::default()
        };
        apply_change(t, by, &change, at(minutes)).unwrap().ticket
    }

    fn event(seq: u64, body: EventBody) -> Event {
        Event {
            seq,
            at: at(0),
            by: None,
            body,
        }
    }

    fn updated(seq: u64, ticket: Ticket) -> Event {
        event(
            seq,
            EventBody::TicketUpdated(TicketView {
                ticket,
                position: None,
                estimated_wait_seconds: None,
                matching_mentors: None,
            }),
        )
    }

    fn seeded(tickets: Vec<Ticket>, last_seq: u64) -> Projection {
        Projection::new(Seed {
            tickets,
            queues: vec![Queue::first(Default::default())],
            announcements: Vec::new(),
            sessions: Vec::new(),
            last_seq,
        })
    }

    fn announcement(id: u64) -> Announcement {
        Announcement {
            id,
            text: format!("news {id}"),
            author: "Ops".into(),
            author_id: UserId(1),
            created: at(id as i64),
        }
    }

    #[test]
    fn applying_events_moves_the_board_and_the_seq() {
        let mut projection = seeded(vec![ticket(1, 1), ticket(2, 2)], 7);
        let mentor = test_person(9, &[Role::Mentor]);
        projection.apply(&updated(8, moved(&ticket(1, 1), &mentor, Status::Claimed, 1)));
        assert_eq!(projection.last_seq(), 8);
        let summary = projection
            .summary(FIRST_QUEUE, &Available::everywhere(1))
            .unwrap();
        assert_eq!((summary.open_count, summary.claimed_count), (1, 1));
    }

    #[test]
    fn staff_see_every_active_ticket_and_participants_only_their_own() {
        let projection = seeded(vec![ticket(1, 1), ticket(2, 2), ticket(3, 1)], 3);
        let staff = projection.snapshot(
            UserId(9),
            Roles::default().with(Role::Mentor),
            at(5),
            &Available::everywhere(1),
            &Subscription::all(),
        );
        let ids = |s: &SnapshotView| s.tickets.iter().map(|t| t.ticket.id.0).collect::<Vec<_>>();
        assert_eq!(ids(&staff), [1, 2, 3]);
        let own = projection.snapshot(
            UserId(1),
            Roles::default(),
            at(5),
            &Available::everywhere(1),
            &Subscription::all(),
        );
        assert_eq!(ids(&own), [1, 3]);
        assert_eq!(own.tickets[1].position, Some(3));
        assert_eq!(own.seq, 3);
    }

    #[test]
    fn a_snapshot_carries_the_newest_announcements_newest_first() {
        let mut projection = Projection::new(Seed {
            tickets: Vec::new(),
            queues: vec![Queue::first(Default::default())],
            announcements: (1..=60).map(announcement).collect(),
            sessions: Vec::new(),
            last_seq: 60,
        });
        projection.apply(&event(61, EventBody::AnnouncementPosted(announcement(61))));
        let snapshot = projection.snapshot(
            UserId(1),
            Roles::default(),
            at(0),
            &Available::default(),
            &Subscription::all(),
        );
        let ids: Vec<u64> = snapshot.announcements.iter().map(|a| a.id).collect();
        assert_eq!(ids.len(), SNAPSHOT_ANNOUNCEMENTS);
        assert_eq!((ids[0], ids[ids.len() - 1]), (61, 12));
    }

    #[test]
    fn owners_are_told_only_of_places_and_waits_that_changed() {
        let mut projection = seeded(vec![ticket(1, 1), ticket(2, 2), ticket(3, 3)], 3);
        assert_eq!(
            projection.changed_positions(&Available::default()),
            vec![],
            "the seed counts as announced"
        );
        // A mentor comes online: every wait becomes known.
        assert_eq!(projection.changed_positions(&Available::everywhere(1)).len(), 3);
        assert_eq!(projection.changed_positions(&Available::everywhere(1)), vec![]);
        // Ticket 1 is claimed: 2 and 3 move up, 1 is no longer OPEN.
        let mentor = test_person(9, &[Role::Mentor]);
        projection.apply(&updated(4, moved(&ticket(1, 1), &mentor, Status::Claimed, 1)));
        let changes = projection.changed_positions(&Available::everywhere(1));
        let moved_up: Vec<(u64, usize)> = changes.iter().map(|c| (c.ticket.0, c.position)).collect();
        assert_eq!(moved_up, [(2, 1), (3, 2)]);
        assert_eq!(projection.positions_of(UserId(1)), vec![]);
        assert_eq!(projection.positions_of(UserId(3))[0].position, 2);
    }

    #[test]
    fn a_narrowed_snapshot_holds_its_queues_tickets_and_every_queue() {
        let lab = Queue {
            id: QueueId(2),
            name: "Lab".into(),
            ..Queue::first(Default::default())
        };
        let in_lab = Ticket {
            queue: QueueId(2),
            ..ticket(2, 2)
        };
        let mut projection = seeded(vec![ticket(1, 1), in_lab], 2);
        projection.apply(&event(3, EventBody::QueueCreated(lab)));
        let narrowed = Subscription(Some([QueueId(2)].into()));
        let staff = Roles::default().with(Role::Mentor);
        let snapshot = projection.snapshot(UserId(9), staff, at(0), &Available::everywhere(1), &narrowed);
        let ids: Vec<u64> = snapshot.tickets.iter().map(|t| t.ticket.id.0).collect();
        assert_eq!(ids, [2]);
        assert_eq!(snapshot.tickets[0].position, Some(1), "first in its own queue");
        assert_eq!(snapshot.queues.len(), 2, "the queue list stays complete");
        assert_eq!(snapshot.queue.queue.id, FIRST_QUEUE);
        assert!(!narrowed.admits(&updated(4, ticket(1, 1)).body));
        assert!(narrowed.admits(&event(5, EventBody::AnnouncementPosted(announcement(1))).body));
    }
}
