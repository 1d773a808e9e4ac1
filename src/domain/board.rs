//! The board: every ticket plus the facts derived from them — positions in each queue,
//! counts, each queue's measured service time and the wait estimate.
//!
//! Both the `QueueActor` (the owner of tickets) and the real-time Hub (a projection of
//! the durable event stream) keep one, so the rules that derive these facts exist once.

use super::capacity::Available;
use super::queue::{estimate_wait, Queue, SERVICE_SAMPLE};
use super::rank::Line;
use super::ticket::{Status, Ticket};
use super::user::Roles;
use super::{QueueId, TicketId, UserId};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

/// A ticket as a viewer sees it: with its place in its queue and its wait while OPEN,
/// and how many available mentors match its tags.
#[derive(Clone, Debug, PartialEq)]
pub struct TicketView {
    pub ticket: Ticket,
    pub position: Option<usize>,
    pub estimated_wait_seconds: Option<f64>,
    /// `None` for a ticket without tags.
    pub matching_mentors: Option<usize>,
}

impl TicketView {
    /// The view as `who` is shown it: an anonymous ticket's owner is named only to the
    /// owner and managers.
    pub fn seen_by(self, who: UserId, roles: Roles) -> TicketView {
        if self.ticket.owner_shown_to(who, roles) {
            self
        } else {
            self.without_owner_name()
        }
    }

    /// The view for those who may not see whose ticket it is.
    pub fn without_owner_name(self) -> TicketView {
        TicketView {
            ticket: self.ticket.without_owner_name(),
            ..self
        }
    }
}

/// One queue's share of the board.
#[derive(Clone, Debug, Default)]
struct Lane {
    /// OPEN tickets in queue order (ids are handed out in creation order), each
    /// ticket's place found in O(log n).
    open: Line,
    claimed: usize,
    /// Claim→close times of the most recently closed tickets, newest last.
    service: VecDeque<f64>,
}

impl Lane {
    fn service_seconds(&self) -> f64 {
        super::queue::mean_or_default(&self.service)
    }
}

/// An OPEN ticket's place and wait, as its owner is told them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Place {
    pub ticket: TicketId,
    pub owner: UserId,
    pub queue: QueueId,
    pub position: usize,
    pub wait: Option<f64>,
}

#[derive(Clone, Debug, Default)]
pub struct Board {
    tickets: BTreeMap<TicketId, Ticket>,
    lanes: BTreeMap<QueueId, Lane>,
    /// Ticket ids by owner.
    by_owner: HashMap<UserId, Vec<TicketId>>,
    /// OPEN or CLAIMED tickets per owner, so the per-participant limit is O(1).
    active_by_owner: HashMap<UserId, usize>,
    /// CLOSED or CANCELLED tickets in the order they ended, newest last.
    ended: Vec<TicketId>,
    /// CLAIMED tickets of every queue, so finding them does not scan the board.
    claimed: BTreeSet<TicketId>,
}

static EMPTY_LANE: std::sync::LazyLock<Lane> = std::sync::LazyLock::new(Lane::default);

impl Board {
    pub fn new(tickets: impl IntoIterator<Item = Ticket>) -> Board {
        let mut tickets: Vec<Ticket> = tickets.into_iter().collect();
        // Service samples and the ended list are ordered by when tickets ended.
        tickets.sort_by_key(|t| (t.closed.is_some(), t.closed, t.id));
        let mut board = Board::default();
        for t in tickets {
            board.put(t);
        }
        board
    }

    fn lane(&self, queue: QueueId) -> &Lane {
        self.lanes.get(&queue).unwrap_or(&EMPTY_LANE)
    }

    /// Adds or replaces a ticket, keeping every derived fact right. A ticket stays in
    /// the queue it was opened in.
    pub fn put(&mut self, ticket: Ticket) {
        let old = self.tickets.get(&ticket.id);
        let was = old.map(|t| t.status);
        if old.is_none() {
            self.by_owner.entry(ticket.owner).or_default().push(ticket.id);
        }
        let was_active = was.is_some_and(Status::is_active);
        if was_active != ticket.status.is_active() {
            let count = self.active_by_owner.entry(ticket.owner).or_default();
            if was_active {
                *count -= 1;
            } else {
                *count += 1;
            }
        }
        let lane = self.lanes.entry(ticket.queue).or_default();
        if was == Some(Status::Claimed) {
            lane.claimed -= 1;
        }
        if ticket.status == Status::Claimed {
            lane.claimed += 1;
        }
        if ticket.status == Status::Open {
            lane.open.insert(ticket.id);
        } else {
            lane.open.remove(ticket.id);
            if ticket.status == Status::Claimed {
                lane.open.reserve(ticket.id);
            }
        }
        if ticket.status == Status::Claimed {
            self.claimed.insert(ticket.id);
        } else {
            self.claimed.remove(&ticket.id);
        }
        let ends_now = !ticket.status.is_active() && was.is_none_or(Status::is_active);
        if ends_now {
            self.ended.push(ticket.id);
            if let Some(s) = ticket.service_seconds() {
                lane.service.push_back(s);
                if lane.service.len() > SERVICE_SAMPLE {
                    lane.service.pop_front();
                }
            }
        }
        self.tickets.insert(ticket.id, ticket);
    }

    pub fn get(&self, id: TicketId) -> Option<&Ticket> {
        self.tickets.get(&id)
    }

    pub fn tickets(&self) -> impl DoubleEndedIterator<Item = &Ticket> {
        self.tickets.values()
    }

    pub fn owned_by(&self, owner: UserId) -> impl Iterator<Item = &Ticket> {
        self.by_owner
            .get(&owner)
            .into_iter()
            .flatten()
            .filter_map(|id| self.tickets.get(id))
    }

    /// How many OPEN or CLAIMED tickets `owner` holds, across every queue.
    pub fn active_count_of(&self, owner: UserId) -> usize {
        self.active_by_owner.get(&owner).copied().unwrap_or(0)
    }

    /// OPEN and CLAIMED tickets in creation order.
    pub fn active(&self) -> impl Iterator<Item = &Ticket> {
        self.tickets.values().filter(|t| t.status.is_active())
    }

    /// CLAIMED tickets, in creation order.
    pub fn claimed(&self) -> impl Iterator<Item = &Ticket> {
        self.claimed.iter().filter_map(|id| self.tickets.get(id))
    }

    /// The most recently ended tickets, newest first.
    pub fn recently_ended(&self) -> impl Iterator<Item = &Ticket> {
        self.ended.iter().rev().filter_map(|id| self.tickets.get(id))
    }

    pub fn open_count(&self, queue: QueueId) -> usize {
        self.lane(queue).open.len()
    }

    pub fn claimed_count(&self, queue: QueueId) -> usize {
        self.lane(queue).claimed
    }

    /// How many tickets are in each status in each queue (pairs without any absent).
    pub fn status_counts(&self) -> HashMap<(QueueId, Status), usize> {
        let mut counts = HashMap::new();
        for t in self.tickets.values() {
            *counts.entry((t.queue, t.status)).or_default() += 1;
        }
        counts
    }

    /// The mean service time over a queue's recent tickets (a default before it has any).
    pub fn service_seconds(&self, queue: QueueId) -> f64 {
        self.lane(queue).service_seconds()
    }

    /// 1-based place of an OPEN ticket in its queue.
    pub fn position(&self, id: TicketId) -> Option<usize> {
        self.lane(self.tickets.get(&id)?.queue).open.position(id)
    }

    /// The wait of the ticket at `position` in `queue`, with `available` mentors.
    pub fn wait_at(&self, queue: QueueId, position: usize, available: &Available) -> Option<f64> {
        let lane = self.lane(queue);
        estimate_wait(
            position,
            lane.claimed,
            available.in_queue(queue),
            lane.service_seconds(),
        )
    }

    /// Places and waits of every OPEN ticket, queue by queue, in queue order.
    pub fn open_places(&self, available: &Available) -> Vec<Place> {
        let mut places = Vec::new();
        for (queue, lane) in &self.lanes {
            let service = lane.service_seconds();
            let mentors = available.in_queue(*queue);
            for (i, id) in lane.open.iter().enumerate() {
                if let Some(t) = self.tickets.get(&id) {
                    places.push(Place {
                        ticket: id,
                        owner: t.owner,
                        queue: *queue,
                        position: i + 1,
                        wait: estimate_wait(i + 1, lane.claimed, mentors, service),
                    });
                }
            }
        }
        places
    }

    /// The queues that have ever had a ticket.
    pub fn queues(&self) -> impl Iterator<Item = QueueId> + '_ {
        self.lanes.keys().copied()
    }

    /// What every OPEN ticket's wait in `queue` depends on besides its place: the
    /// CLAIMED count, the available mentors and the service time (all alike while no
    /// mentor is available, as then no wait is estimated).
    pub fn wait_inputs(&self, queue: QueueId, available: &Available) -> (usize, usize, u64) {
        let mentors = available.in_queue(queue);
        if mentors == 0 {
            return (0, 0, 0);
        }
        let lane = self.lane(queue);
        (lane.claimed, mentors, lane.service_seconds().to_bits())
    }

    /// Places and waits of the OPEN tickets of `queue` from `from` on, in queue order.
    pub fn open_places_from<'a>(
        &'a self,
        queue: QueueId,
        from: TicketId,
        available: &Available,
    ) -> impl Iterator<Item = Place> + 'a {
        let lane = self.lane(queue);
        let (service, mentors) = (lane.service_seconds(), available.in_queue(queue));
        lane.open.places_from(from).filter_map(move |(position, id)| {
            let t = self.tickets.get(&id)?;
            Some(Place {
                ticket: id,
                owner: t.owner,
                queue,
                position,
                wait: estimate_wait(position, lane.claimed, mentors, service),
            })
        })
    }

    /// The view `ticket` will have once [`Board::put`] stores it, without storing it:
    /// what an event about a change carries, computed before the change is committed.
    pub fn view_if_put(&self, ticket: &Ticket, available: &Available) -> TicketView {
        let matching_mentors = available.matching(ticket.queue, &ticket.tags);
        if ticket.status != Status::Open {
            return TicketView {
                ticket: ticket.clone(),
                position: None,
                estimated_wait_seconds: None,
                matching_mentors,
            };
        }
        let lane = self.lane(ticket.queue);
        let position = lane.open.before(ticket.id) + 1;
        let was_claimed = self
            .tickets
            .get(&ticket.id)
            .is_some_and(|t| t.status == Status::Claimed);
        let claimed = lane.claimed - usize::from(was_claimed);
        TicketView {
            ticket: ticket.clone(),
            position: Some(position),
            estimated_wait_seconds: estimate_wait(
                position,
                claimed,
                available.in_queue(ticket.queue),
                lane.service_seconds(),
            ),
            matching_mentors,
        }
    }

    pub fn view(&self, ticket: &Ticket, available: &Available) -> TicketView {
        let position = self.position(ticket.id);
        TicketView {
            ticket: ticket.clone(),
            position,
            estimated_wait_seconds: position.and_then(|p| self.wait_at(ticket.queue, p, available)),
            matching_mentors: available.matching(ticket.queue, &ticket.tags),
        }
    }
}

/// A queue as a whole (`GET /api/queues/{id}/`; queue 1 is `GET /api/queue/`).
#[derive(Clone, Debug, PartialEq)]
pub struct QueueSummary {
    pub queue: Queue,
    pub open_count: usize,
    pub claimed_count: usize,
    pub mentors_online: usize,
    pub estimated_wait_seconds: Option<f64>,
}

impl QueueSummary {
    pub fn of(board: &Board, queue: &Queue, available: &Available) -> QueueSummary {
        let open_count = board.open_count(queue.id);
        QueueSummary {
            queue: queue.clone(),
            open_count,
            claimed_count: board.claimed_count(queue.id),
            mentors_online: available.in_queue(queue.id),
            estimated_wait_seconds: board.wait_at(queue.id, open_count + 1, available),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ticket::{apply_change, NewTicket, Person, TicketChange};
    use crate::domain::user::Role;
    use chrono::{Duration, TimeZone, Utc};

    const Q1: QueueId = crate::domain::queue::FIRST_QUEUE;

    fn person(id: u64, roles: &[Role]) -> Person {
        crate::domain::ticket::test_person(id, roles)
    }

    fn ticket(id: u64, owner: u64) -> Ticket {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap();
        NewTicket::parse(Some("t"), Some("l"), None, None, None)
            .unwrap()
            .into_ticket(TicketId(id), &person(owner, &[]), now)
    }

    fn moved(t: &Ticket, by: &Person, status: Status, minutes: i64) -> Ticket {
        let at = t.created + Duration::minutes(minutes);
        let change = TicketChange {
            status: Some(status),
            ..Default::default()
        };
        apply_change(t, by, &change, at).unwrap().ticket
    }

    #[test]
    fn positions_follow_creation_order_among_open_tickets() {
        let mut board = Board::new([ticket(1, 1), ticket(2, 2), ticket(3, 3)]);
        assert_eq!(board.position(TicketId(3)), Some(3));
        let mentor = person(9, &[Role::Mentor]);
        board.put(moved(
            board.get(TicketId(1)).unwrap(),
            &mentor,
            Status::Claimed,
            1,
        ));
        assert_eq!(board.position(TicketId(1)), None);
        assert_eq!(board.position(TicketId(3)), Some(2));
        assert_eq!((board.open_count(Q1), board.claimed_count(Q1)), (2, 1));
    }

    #[test]
    fn closing_records_the_service_time_and_the_ended_order() {
        let mentor = person(9, &[Role::Mentor]);
        let claimed = moved(&ticket(1, 1), &mentor, Status::Claimed, 1);
        let mut board = Board::new([claimed.clone(), ticket(2, 2)]);
        board.put(moved(&claimed, &mentor, Status::Closed, 6));
        assert_eq!(board.service_seconds(Q1), 300.0);
        assert_eq!(
            board.recently_ended().map(|t| t.id).collect::<Vec<_>>(),
            vec![TicketId(1)]
        );
        assert_eq!(board.claimed_count(Q1), 0);
        // One ticket ahead of a new one... none: the open one is first.
        assert_eq!(board.wait_at(Q1, 1, &Available::everywhere(1)), Some(0.0));
        assert_eq!(board.wait_at(Q1, 2, &Available::everywhere(1)), Some(300.0));
        assert_eq!(board.wait_at(Q1, 2, &Available::everywhere(0)), None);
    }

    #[test]
    fn the_view_before_a_change_matches_the_view_after_it() {
        let mentor = person(9, &[Role::Mentor]);
        let claimed = moved(&ticket(1, 1), &mentor, Status::Claimed, 1);
        let mut board = Board::new([claimed.clone(), ticket(2, 2), ticket(3, 3)]);
        for next in [moved(&claimed, &mentor, Status::Open, 2), ticket(4, 4)] {
            let predicted = board.view_if_put(&next, &Available::everywhere(2));
            board.put(next.clone());
            assert_eq!(predicted, board.view(&next, &Available::everywhere(2)));
        }
    }

    #[test]
    fn tickets_are_found_by_owner() {
        let board = Board::new([ticket(1, 1), ticket(2, 2), ticket(3, 1)]);
        let mine: Vec<u64> = board.owned_by(UserId(1)).map(|t| t.id.0).collect();
        assert_eq!(mine, vec![1, 3]);
        assert_eq!(board.active_count_of(UserId(1)), 2);
        let mut board = board;
        let cancelled = moved(
            board.get(TicketId(1)).unwrap(),
            &person(1, &[]),
            Status::Cancelled,
            1,
        );
        board.put(cancelled);
        assert_eq!(board.active_count_of(UserId(1)), 1);
    }

    #[test]
    fn each_queue_has_its_own_positions_claims_and_service_time() {
        let mentor = person(9, &[Role::Mentor]);
        let in_lab = |id: u64, owner: u64| Ticket {
            queue: QueueId(2),
            ..ticket(id, owner)
        };
        let mut board = Board::new([ticket(1, 1), in_lab(2, 2), ticket(3, 3), in_lab(4, 4)]);
        assert_eq!(board.position(TicketId(3)), Some(2));
        assert_eq!(board.position(TicketId(4)), Some(2));
        let claimed = moved(board.get(TicketId(2)).unwrap(), &mentor, Status::Claimed, 1);
        board.put(claimed.clone());
        board.put(moved(&claimed, &mentor, Status::Closed, 3));
        assert_eq!(board.position(TicketId(4)), Some(1), "the lab moved up");
        assert_eq!(board.position(TicketId(3)), Some(2), "the help desk did not");
        assert_eq!(board.service_seconds(QueueId(2)), 120.0);
        assert_eq!(
            board.service_seconds(Q1),
            crate::domain::queue::DEFAULT_SERVICE_SECONDS
        );
        let places: Vec<(u64, u64, usize)> = board
            .open_places(&Available::everywhere(1))
            .iter()
            .map(|p| (p.ticket.0, p.queue.0, p.position))
            .collect();
        assert_eq!(places, [(1, 1, 1), (3, 1, 2), (4, 2, 1)]);
        // A ticket opened now in the lab waits for ticket 4 only: 120 s with one mentor.
        assert_eq!(
            board.wait_at(QueueId(2), 2, &Available::everywhere(1)),
            Some(120.0)
        );
        assert_eq!(board.wait_at(QueueId(2), 2, &Available::default()), None);
    }
}
