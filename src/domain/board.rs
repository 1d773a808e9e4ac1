//! The board: every ticket plus the facts derived from them — positions in the queue,
//! counts, the measured service time and the wait estimate.
//!
//! Both the `QueueActor` (the owner of tickets) and the real-time Hub (a projection of
//! the durable event stream) keep one, so the rules that derive these facts exist once.

use super::queue::{estimate_wait, QueueSettings, SERVICE_SAMPLE};
use super::ticket::{Status, Ticket};
use super::user::Roles;
use super::{TicketId, UserId};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

/// A ticket as a viewer sees it: with its place in the queue and its wait while OPEN.
#[derive(Clone, Debug, PartialEq)]
pub struct TicketView {
    pub ticket: Ticket,
    pub position: Option<usize>,
    pub estimated_wait_seconds: Option<f64>,
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

#[derive(Clone, Debug, Default)]
pub struct Board {
    tickets: BTreeMap<TicketId, Ticket>,
    /// OPEN tickets in queue order (ids are handed out in creation order).
    open: BTreeSet<TicketId>,
    claimed: usize,
    /// Claim→close times of the most recently closed tickets, newest last.
    service: VecDeque<f64>,
    /// Ticket ids by owner.
    by_owner: HashMap<UserId, Vec<TicketId>>,
    /// OPEN or CLAIMED tickets per owner, so the per-participant limit is O(1).
    active_by_owner: HashMap<UserId, usize>,
    /// CLOSED or CANCELLED tickets in the order they ended, newest last.
    ended: Vec<TicketId>,
}

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

    /// Adds or replaces a ticket, keeping every derived fact right.
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
        if was == Some(Status::Claimed) {
            self.claimed -= 1;
        }
        if ticket.status == Status::Claimed {
            self.claimed += 1;
        }
        if ticket.status == Status::Open {
            self.open.insert(ticket.id);
        } else {
            self.open.remove(&ticket.id);
        }
        let ends_now = !ticket.status.is_active() && was.is_none_or(Status::is_active);
        if ends_now {
            self.ended.push(ticket.id);
            if let Some(s) = ticket.service_seconds() {
                self.service.push_back(s);
                if self.service.len() > SERVICE_SAMPLE {
                    self.service.pop_front();
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

    /// How many OPEN or CLAIMED tickets `owner` holds.
    pub fn active_count_of(&self, owner: UserId) -> usize {
        self.active_by_owner.get(&owner).copied().unwrap_or(0)
    }

    /// OPEN and CLAIMED tickets in creation order.
    pub fn active(&self) -> impl Iterator<Item = &Ticket> {
        self.tickets.values().filter(|t| t.status.is_active())
    }

    /// The most recently ended tickets, newest first.
    pub fn recently_ended(&self) -> impl Iterator<Item = &Ticket> {
        self.ended.iter().rev().filter_map(|id| self.tickets.get(id))
    }

    pub fn open_count(&self) -> usize {
        self.open.len()
    }

    pub fn claimed_count(&self) -> usize {
        self.claimed
    }

    /// How many tickets are in each status, every status listed.
    pub fn status_counts(&self) -> Vec<(Status, usize)> {
        Status::ALL
            .iter()
            .map(|s| (*s, self.tickets.values().filter(|t| t.status == *s).count()))
            .collect()
    }

    /// The mean service time over recent tickets (a default before there are any).
    pub fn service_seconds(&self) -> f64 {
        let samples: Vec<f64> = self.service.iter().copied().collect();
        super::queue::mean_or_default(&samples)
    }

    /// 1-based place of an OPEN ticket.
    pub fn position(&self, id: TicketId) -> Option<usize> {
        self.open.contains(&id).then(|| self.open.range(..id).count() + 1)
    }

    /// The wait of the ticket at `position` with `mentors` online.
    pub fn wait_at(&self, position: usize, mentors: usize) -> Option<f64> {
        estimate_wait(position, self.claimed, mentors, self.service_seconds())
    }

    /// Positions and waits of every OPEN ticket, in queue order: (id, owner, position, wait).
    pub fn open_positions(&self, mentors: usize) -> Vec<(TicketId, UserId, usize, Option<f64>)> {
        let service = self.service_seconds();
        self.open
            .iter()
            .enumerate()
            .filter_map(|(i, id)| {
                let t = self.tickets.get(id)?;
                let wait = estimate_wait(i + 1, self.claimed, mentors, service);
                Some((*id, t.owner, i + 1, wait))
            })
            .collect()
    }

    /// The view `ticket` will have once [`Board::put`] stores it, without storing it:
    /// what an event about a change carries, computed before the change is committed.
    pub fn view_if_put(&self, ticket: &Ticket, mentors: usize) -> TicketView {
        if ticket.status != Status::Open {
            return TicketView {
                ticket: ticket.clone(),
                position: None,
                estimated_wait_seconds: None,
            };
        }
        let position = self.open.range(..ticket.id).count() + 1;
        let was_claimed = self
            .tickets
            .get(&ticket.id)
            .is_some_and(|t| t.status == Status::Claimed);
        let claimed = self.claimed - usize::from(was_claimed);
        TicketView {
            ticket: ticket.clone(),
            position: Some(position),
            estimated_wait_seconds: estimate_wait(position, claimed, mentors, self.service_seconds()),
        }
    }

    pub fn view(&self, ticket: &Ticket, mentors: usize) -> TicketView {
        let position = self.position(ticket.id);
        TicketView {
            ticket: ticket.clone(),
            position,
            estimated_wait_seconds: position.and_then(|p| self.wait_at(p, mentors)),
        }
    }
}

/// The queue as a whole (`GET /api/queue/`).
#[derive(Clone, Debug, PartialEq)]
pub struct QueueSummary {
    pub settings: QueueSettings,
    pub open_count: usize,
    pub claimed_count: usize,
    pub mentors_online: usize,
    pub estimated_wait_seconds: Option<f64>,
}

impl QueueSummary {
    pub fn of(board: &Board, settings: &QueueSettings, mentors_online: usize) -> QueueSummary {
        QueueSummary {
            settings: settings.clone(),
            open_count: board.open_count(),
            claimed_count: board.claimed_count(),
            mentors_online,
            estimated_wait_seconds: board.wait_at(board.open_count() + 1, mentors_online),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ticket::{apply_change, NewTicket, Person, TicketChange};
    use crate::domain::user::Role;
    use chrono::{Duration, TimeZone, Utc};

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
        assert_eq!((board.open_count(), board.claimed_count()), (2, 1));
    }

    #[test]
    fn closing_records_the_service_time_and_the_ended_order() {
        let mentor = person(9, &[Role::Mentor]);
        let claimed = moved(&ticket(1, 1), &mentor, Status::Claimed, 1);
        let mut board = Board::new([claimed.clone(), ticket(2, 2)]);
        board.put(moved(&claimed, &mentor, Status::Closed, 6));
        assert_eq!(board.service_seconds(), 300.0);
        assert_eq!(
            board.recently_ended().map(|t| t.id).collect::<Vec<_>>(),
            vec![TicketId(1)]
        );
        assert_eq!(board.claimed_count(), 0);
        // One ticket ahead of a new one... none: the open one is first.
        assert_eq!(board.wait_at(1, 1), Some(0.0));
        assert_eq!(board.wait_at(2, 1), Some(300.0));
        assert_eq!(board.wait_at(2, 0), None);
    }

    #[test]
    fn the_view_before_a_change_matches_the_view_after_it() {
        let mentor = person(9, &[Role::Mentor]);
        let claimed = moved(&ticket(1, 1), &mentor, Status::Claimed, 1);
        let mut board = Board::new([claimed.clone(), ticket(2, 2), ticket(3, 3)]);
        for next in [moved(&claimed, &mentor, Status::Open, 2), ticket(4, 4)] {
            let predicted = board.view_if_put(&next, 2);
            board.put(next.clone());
            assert_eq!(predicted, board.view(&next, 2));
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
}
