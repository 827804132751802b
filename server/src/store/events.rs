//! The event log as both stores keep it: one row per event, its filter
//! columns beside its body (the [`Event`] as JSON without its `seq`, which
//! is the row's key). Each write stores its events in its own transaction;
//! how `seq` follows commit order is each store's (see `docs/decisions.md`).

use allocation_contract::{Allocation, Event, EventKind, Events, Ticket, TicketStatus, UsageLevel};

use crate::domain::clock::rfc3339;
use crate::domain::levels::Fill;

/// Reads a page of events: `$1` after, `$2` pool, `$3` owner, `$4` limit.
/// The same SQL on both stores.
pub const PAGE: &str = "SELECT seq, body FROM events WHERE seq > $1 \
     AND (CAST($2 AS text) IS NULL OR pool = $2) \
     AND (CAST($3 AS text) IS NULL OR owner = $3) ORDER BY seq LIMIT $4";

/// The purged prefix of the log: `purged_through` and the oldest `seq`
/// still kept (or the next one). Read after the page, so a purge that took
/// events the page would have held is always seen (docs/decisions.md).
pub const KEPT: &str = "SELECT purged_through, \
     COALESCE((SELECT min(seq) FROM events), purged_through + 1) FROM event_retention";

/// The last `seq` a purge of the events before `$1` (Unix ms) takes: the
/// log's prefix older than that (an event is kept with every one after it).
pub const PURGE_THROUGH: &str = "SELECT COALESCE( \
     (SELECT seq FROM events WHERE at >= $1 ORDER BY seq LIMIT 1) - 1, \
     (SELECT max(seq) FROM events))";

/// Deletes the events up to `$1` and moves the watermark there.
pub const PURGE: [&str; 2] = [
    "DELETE FROM events WHERE seq <= $1",
    "UPDATE event_retention SET purged_through = $1 WHERE purged_through < $1",
];

/// What `GET /events` comes to.
#[derive(Debug)]
pub enum EventsRead {
    Page(Events),
    /// `after` is older than the log keeps: the oldest `seq` kept.
    Expired {
        oldest: u64,
    },
}

/// The page read, unless the reader resumes behind the purged prefix (read
/// after the page): then the page may lack purged events, and the reader
/// must start again from `oldest`.
pub fn answer(query: &EventQuery, page: Events, purged_through: i64, oldest: i64) -> EventsRead {
    if query.resumed && (query.after as i128) < purged_through as i128 {
        return EventsRead::Expired {
            oldest: oldest.max(0) as u64,
        };
    }
    EventsRead::Page(page)
}

/// Which events a reader asks for.
#[derive(Clone, Debug, Default)]
pub struct EventQuery {
    pub after: u64,
    /// Whether `after` was given: a reader resuming from a position. One
    /// that gives none starts at the oldest event kept, never `410`.
    pub resumed: bool,
    pub limit: u64,
    pub pool: Option<String>,
    pub owner: Option<String>,
}

/// An event decided inside a write, before the store gives it its `seq`.
pub struct NewEvent {
    event: Event,
    at_ms: i64,
}

/// An event of `kind` in `pool` at `at` with nothing else said yet.
fn bare(kind: EventKind, at: i64, pool: &str) -> Event {
    Event {
        seq: 0,
        at: rfc3339(at),
        kind,
        pool: pool.to_owned(),
        owner: None,
        amount: None,
        actor: None,
        allocation: None,
        ticket: None,
        level: None,
        previous: None,
        allocated: None,
        capacity: None,
        previous_capacity: None,
    }
}

impl NewEvent {
    /// What happened to an allocation, with its state after.
    pub fn allocation(kind: EventKind, at: i64, actor: Option<&str>, after: Allocation) -> Self {
        let base = bare(kind, at, &after.pool);
        let event = Event {
            owner: Some(after.owner.clone()),
            amount: Some(after.amount),
            actor: actor.map(str::to_owned),
            allocation: Some(after),
            ..base
        };
        NewEvent { event, at_ms: at }
    }

    /// What happened to a ticket, with its state after (and its grant's).
    pub fn ticket(kind: EventKind, at: i64, actor: Option<&str>, after: Ticket) -> Self {
        let base = bare(kind, at, &after.pool);
        let event = Event {
            owner: Some(after.owner.clone()),
            amount: Some(after.amount),
            actor: actor.map(str::to_owned),
            allocation: after.allocation.clone(),
            ticket: Some(after),
            ..base
        };
        NewEvent { event, at_ms: at }
    }

    /// The pool's level moved from `previous` to what `now` is in: the
    /// server's own event.
    pub fn level(at: i64, pool: &str, previous: UsageLevel, level: UsageLevel, now: Fill) -> Self {
        let event = Event {
            level: Some(level),
            previous: Some(previous),
            allocated: Some(now.allocated),
            capacity: Some(now.capacity),
            ..bare(EventKind::LevelChanged, at, pool)
        };
        NewEvent { event, at_ms: at }
    }

    /// The pools file changed the pool's capacity from `previous`.
    pub fn capacity(at: i64, pool: &str, previous: u64, now: Fill) -> Self {
        let event = Event {
            allocated: Some(now.allocated),
            capacity: Some(now.capacity),
            previous_capacity: Some(previous),
            ..bare(EventKind::CapacityChanged, at, pool)
        };
        NewEvent { event, at_ms: at }
    }

    pub fn pool(&self) -> &str {
        &self.event.pool
    }

    pub fn owner(&self) -> Option<&str> {
        self.event.owner.as_deref()
    }

    pub fn at_ms(&self) -> i64 {
        self.at_ms
    }

    /// The kind as the wire writes it (the `kind` column).
    pub fn kind(&self) -> String {
        serde_json::to_value(self.event.kind)
            .ok()
            .and_then(|kind| kind.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// The stored body: the event as JSON, its `seq` left to the row.
    pub fn body(&self) -> anyhow::Result<String> {
        Ok(serde_json::to_string(&self.event)?)
    }
}

/// A waiting ticket as it ends (`status` at `at`), with its grant if granted.
pub fn ended(
    waiting: &Ticket,
    status: TicketStatus,
    at: i64,
    allocation: Option<Allocation>,
) -> Ticket {
    Ticket {
        status,
        position: None,
        estimated_grant_at: None,
        allocation,
        ended_at: Some(rfc3339(at)),
        ..waiting.clone()
    }
}

/// One stored row as the event it is.
pub fn read(seq: i64, body: &str) -> anyhow::Result<Event> {
    let event: Event = serde_json::from_str(body)?;
    Ok(Event {
        seq: seq.max(0) as u64,
        ..event
    })
}

/// The answer to `query` from the events read: `next` is the last one's
/// `seq`, or `after` when there is none.
pub fn page(query: &EventQuery, events: Vec<Event>) -> Events {
    let next = events.last().map_or(query.after, |event| event.seq);
    Events { events, next }
}

/// The answer's strong ETag: a page is a prefix of the log after `after`
/// (events never change and none commits behind a later one), so its last
/// `seq` and its length name its body for one URL.
pub fn etag(events: &Events) -> String {
    format!("\"ev-{}-{}\"", events.next, events.events.len())
}
