//! The allocations list kept current from events: each event carries the
//! allocation's state after it, so applying a page of events in `seq` order
//! brings the list to the state after the page's last event, and applying
//! an event the list already shows changes nothing it should not.

use allocation_contract::{Allocation, Event, EventKind};

/// What an event does to the list of active allocations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListEffect {
    /// The allocation is active: added in front (newest first), or replaced.
    Put,
    /// The allocation has ended.
    Remove,
    /// Nothing in the list changes (a ticket's wait, a pool's level, a kind
    /// this build does not know).
    None,
}

/// What an event of this kind does to the list.
pub fn list_effect(kind: EventKind) -> ListEffect {
    match kind {
        EventKind::Allocated | EventKind::Granted | EventKind::Renewed => ListEffect::Put,
        EventKind::Released | EventKind::Expired => ListEffect::Remove,
        EventKind::Queued
        | EventKind::Cancelled
        | EventKind::TimedOut
        | EventKind::Expiring
        | EventKind::LevelChanged
        | EventKind::CapacityChanged
        | EventKind::Unknown => ListEffect::None,
    }
}

/// Applies `events` (oldest first) to `list` (newest first); `true` when the
/// list changed. An event without its allocation changes nothing.
pub fn apply_events(list: &mut Vec<Allocation>, events: &[Event]) -> bool {
    let mut changed = false;
    for event in events {
        let Some(allocation) = &event.allocation else {
            continue;
        };
        changed |= match list_effect(event.kind) {
            ListEffect::Put => put(list, allocation),
            ListEffect::Remove => remove(list, &allocation.id),
            ListEffect::None => false,
        };
    }
    changed
}

/// Replaces the allocation with the same id, or adds it in front.
fn put(list: &mut Vec<Allocation>, allocation: &Allocation) -> bool {
    match list.iter_mut().find(|shown| shown.id == allocation.id) {
        Some(shown) if shown == allocation => false,
        Some(shown) => {
            *shown = allocation.clone();
            true
        }
        None => {
            list.insert(0, allocation.clone());
            true
        }
    }
}

fn remove(list: &mut Vec<Allocation>, id: &str) -> bool {
    let before = list.len();
    list.retain(|shown| shown.id != id);
    list.len() != before
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use allocation_contract::AllocationStatus;
    use allocation_testkit::allocation;

    /// An event of `kind` about `allocation` (its state after).
    pub(crate) fn event(seq: u64, kind: EventKind, allocation: Option<Allocation>) -> Event {
        Event {
            seq,
            at: "2026-11-26T10:00:00.000Z".to_owned(),
            kind,
            pool: allocation
                .as_ref()
                .map_or("gpu-a100".to_owned(), |a| a.pool.clone()),
            owner: allocation.as_ref().map(|a| a.owner.clone()),
            amount: allocation.as_ref().map(|a| a.amount),
            actor: allocation.as_ref().map(|a| a.owner.clone()),
            allocation,
            ticket: None,
            level: None,
            previous: None,
            allocated: None,
            capacity: None,
            previous_capacity: None,
        }
    }

    fn ids(list: &[Allocation]) -> Vec<&str> {
        list.iter().map(|a| a.id.as_str()).collect()
    }

    fn ended(id: &str) -> Allocation {
        let mut ended = allocation(id).build();
        ended.status = AllocationStatus::Released;
        ended
    }

    #[test]
    fn a_grant_comes_in_front_and_an_end_leaves() {
        let mut list = vec![allocation("al_2").build(), allocation("al_1").build()];
        let events = [
            event(10, EventKind::Allocated, Some(allocation("al_3").build())),
            event(11, EventKind::Released, Some(ended("al_1"))),
            event(12, EventKind::Granted, Some(allocation("al_4").build())),
        ];
        assert!(apply_events(&mut list, &events));
        assert_eq!(ids(&list), ["al_4", "al_3", "al_2"]);
        let expired = [event(13, EventKind::Expired, Some(ended("al_2")))];
        assert!(apply_events(&mut list, &expired));
        assert_eq!(ids(&list), ["al_4", "al_3"]);
    }

    #[test]
    fn a_renewal_replaces_the_row_in_its_place() {
        let mut list = vec![allocation("al_2").build(), allocation("al_1").build()];
        let renewed = allocation("al_1")
            .expires_at(Some("2026-11-27T10:00:00Z"))
            .build();
        assert!(apply_events(
            &mut list,
            &[event(5, EventKind::Renewed, Some(renewed.clone()))]
        ));
        assert_eq!(list[1], renewed);
    }

    #[test]
    fn events_the_list_already_shows_change_nothing() {
        let mut list = vec![allocation("al_2").build(), allocation("al_1").build()];
        let again = [
            event(1, EventKind::Allocated, Some(allocation("al_1").build())),
            event(2, EventKind::Released, Some(ended("al_0"))),
        ];
        assert!(!apply_events(&mut list, &again));
        assert_eq!(ids(&list), ["al_2", "al_1"]);
    }

    #[test]
    fn replaying_from_before_the_list_ends_at_the_same_list() {
        // The list was read after seq 3; following from seq 0 replays 1-3.
        let mut list = vec![allocation("al_2").build()];
        let events = [
            event(1, EventKind::Allocated, Some(allocation("al_1").build())),
            event(2, EventKind::Allocated, Some(allocation("al_2").build())),
            event(3, EventKind::Released, Some(ended("al_1"))),
        ];
        apply_events(&mut list, &events);
        assert_eq!(ids(&list), ["al_2"]);
    }

    #[test]
    fn kinds_that_do_not_change_the_list_are_ignored() {
        let mut list = vec![allocation("al_1").build()];
        let events = [
            event(1, EventKind::Queued, Some(allocation("al_9").build())),
            event(2, EventKind::Cancelled, None),
            event(3, EventKind::TimedOut, None),
            event(4, EventKind::Unknown, Some(allocation("al_8").build())),
            event(5, EventKind::Allocated, None),
        ];
        assert!(!apply_events(&mut list, &events));
        assert_eq!(ids(&list), ["al_1"]);
    }
}
