//! The OPEN tickets of one queue in queue order, with the place of any one of them in
//! O(log n): a Fenwick (binary indexed) tree over every ticket the queue has had, in id
//! order, holding 1 where the ticket is OPEN. Ticket ids are handed out in creation
//! order, so a new ticket is appended at the end, also in O(log n).
//!
//! Recounting a queue's line per event or per request was linear in its length (issue
//! 17: ticket creation fell to under a third with 35,000 OPEN tickets).

use super::TicketId;
use std::collections::BTreeSet;

#[derive(Clone, Debug, Default)]
pub struct Line {
    /// Every ticket ever in the line, ascending; a ticket's slot is its index + 1.
    ids: Vec<TicketId>,
    /// Fenwick tree over the slots (index 0 unused): `tree[i]` counts the OPEN tickets
    /// in slots `(i - lowbit(i), i]`.
    tree: Vec<u32>,
    open: BTreeSet<TicketId>,
}

fn lowbit(i: usize) -> usize {
    i & i.wrapping_neg()
}

impl Line {
    /// OPEN tickets.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    pub fn contains(&self, id: TicketId) -> bool {
        self.open.contains(&id)
    }

    /// OPEN tickets in slots 1..=slot.
    fn prefix(&self, mut slot: usize) -> usize {
        let mut sum = 0;
        while slot > 0 {
            sum += self.tree[slot] as usize;
            slot -= lowbit(slot);
        }
        sum
    }

    fn add(&mut self, mut slot: usize, delta: i64) {
        while slot < self.tree.len() {
            self.tree[slot] = (i64::from(self.tree[slot]) + delta) as u32;
            slot += lowbit(slot);
        }
    }

    fn slot(&self, id: TicketId) -> Result<usize, usize> {
        self.ids.binary_search(&id).map(|i| i + 1).map_err(|i| i + 1)
    }

    /// The slot of `id`, made if the line has never had it.
    fn slot_for(&mut self, id: TicketId) -> usize {
        match self.slot(id) {
            Ok(slot) => slot,
            Err(_) if self.ids.last().is_none_or(|last| *last < id) => {
                // Appended: the new node covers (n - lowbit(n), n], of which only the
                // earlier slots can hold OPEN tickets yet.
                self.ids.push(id);
                if self.tree.is_empty() {
                    self.tree.push(0);
                }
                let n = self.ids.len();
                let covered = self.prefix(n - 1) - self.prefix(n - lowbit(n));
                self.tree.push(covered as u32);
                n
            }
            Err(at) => {
                // Older than the newest: only when tickets arrive out of id order; the
                // tree is rebuilt around it.
                self.ids.insert(at - 1, id);
                self.rebuild();
                at
            }
        }
    }

    fn rebuild(&mut self) {
        let mut tree = vec![0u32; self.ids.len() + 1];
        for (i, id) in self.ids.iter().enumerate() {
            if self.open.contains(id) {
                tree[i + 1] += 1;
            }
            let parent = i + 1 + lowbit(i + 1);
            if parent < tree.len() {
                tree[parent] += tree[i + 1];
            }
        }
        self.tree = tree;
    }

    /// Makes `id`'s slot without opening it: for a ticket that can come back to the line
    /// (a CLAIMED one), so that it does not arrive out of id order later.
    pub fn reserve(&mut self, id: TicketId) {
        self.slot_for(id);
    }

    /// `id` is OPEN (again); false if it already was.
    pub fn insert(&mut self, id: TicketId) -> bool {
        let slot = self.slot_for(id);
        if !self.open.insert(id) {
            return false;
        }
        self.add(slot, 1);
        true
    }

    /// `id` is no longer OPEN; false if it was not.
    pub fn remove(&mut self, id: TicketId) -> bool {
        if !self.open.remove(&id) {
            return false;
        }
        let slot = self.slot(id).expect("an OPEN ticket has a slot");
        self.add(slot, -1);
        true
    }

    /// 1-based place of an OPEN ticket.
    pub fn position(&self, id: TicketId) -> Option<usize> {
        self.contains(id).then(|| self.before(id) + 1)
    }

    /// How many OPEN tickets come before `id` (OPEN or not, in the line or not).
    pub fn before(&self, id: TicketId) -> usize {
        // Its own slot, or the one it would take: either way the slots before it.
        let (Ok(slot) | Err(slot)) = self.slot(id);
        self.prefix(slot - 1)
    }

    /// The OPEN tickets from `from` on (inclusive), each with its place.
    pub fn places_from(&self, from: TicketId) -> impl Iterator<Item = (usize, TicketId)> + '_ {
        let start = self.before(from) + 1;
        self.open
            .range(from..)
            .copied()
            .enumerate()
            .map(move |(i, id)| (start + i, id))
    }

    /// The OPEN tickets in order.
    pub fn iter(&self) -> impl Iterator<Item = TicketId> + '_ {
        self.open.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive(open: &BTreeSet<TicketId>, id: TicketId) -> Option<usize> {
        open.contains(&id).then(|| open.range(..id).count() + 1)
    }

    #[test]
    fn places_follow_id_order_among_open_tickets() {
        let mut line = Line::default();
        for id in 1..=5 {
            assert!(line.insert(TicketId(id)));
        }
        assert!(line.remove(TicketId(2)));
        assert!(!line.remove(TicketId(2)), "already gone");
        assert_eq!(line.position(TicketId(1)), Some(1));
        assert_eq!(line.position(TicketId(2)), None);
        assert_eq!(line.position(TicketId(3)), Some(2));
        assert_eq!(line.position(TicketId(5)), Some(4));
        // Back in its place (an unclaimed ticket keeps its place in line).
        assert!(line.insert(TicketId(2)));
        assert_eq!(line.position(TicketId(3)), Some(3));
        assert_eq!(
            line.places_from(TicketId(3)).collect::<Vec<_>>(),
            vec![(3, TicketId(3)), (4, TicketId(4)), (5, TicketId(5))]
        );
        assert_eq!(line.before(TicketId(99)), 5, "a ticket not yet made goes last");
    }

    proptest! {
        /// Any sequence of openings and removals, in any id order, gives the places a
        /// recount would.
        #[test]
        fn places_are_what_a_recount_gives(ops in proptest::collection::vec((1u64..60, any::<bool>()), 0..300)) {
            let mut line = Line::default();
            let mut open = BTreeSet::new();
            for (id, opening) in ops {
                let id = TicketId(id);
                if opening {
                    prop_assert_eq!(line.insert(id), open.insert(id));
                } else {
                    prop_assert_eq!(line.remove(id), open.remove(&id));
                }
                for probe in 1..61 {
                    prop_assert_eq!(line.position(TicketId(probe)), naive(&open, TicketId(probe)));
                }
                prop_assert_eq!(line.len(), open.len());
            }
            let first = open.iter().next().copied().unwrap_or(TicketId(1));
            let from: Vec<_> = line.places_from(first).collect();
            let expected: Vec<_> = open.iter().enumerate().map(|(i, id)| (i + 1, *id)).collect();
            prop_assert_eq!(from, expected);
        }
    }
}
