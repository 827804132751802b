//! The Activity section's events. The log is read forwards only (`after`),
//! so the section holds a run of consecutive seqs: everything above `floor`
//! up to the newest followed. New events join at the top; "Show older" reads
//! the window of seqs just below `floor` and moves it down.

use allocation_contract::Event;

/// Seqs read per window below the floor.
pub const OLDER_WINDOW: u64 = 100;
/// Events shown at first, and how many more each "Show older" shows.
pub const SHOWN_STEP: usize = 10;
/// Events held at most: older ones are let go (and "Show older" reads them again).
pub const HELD_MAX: usize = 2_000;

/// The Activity section's choices: one pool, one owner (`None`: all).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ActivityFilter {
    pub pool: Option<String>,
    pub owner: Option<String>,
}

impl ActivityFilter {
    /// Whether the event is one the reader asked to see; the owner is the
    /// allocation's or the ticket's owner, or whoever acted.
    pub fn lets_through(&self, event: &Event) -> bool {
        let pool = self.pool.as_deref().is_none_or(|pool| event.pool == pool);
        let owner = self.owner.as_deref().is_none_or(|owner| {
            event.owner.as_deref() == Some(owner) || event.actor.as_deref() == Some(owner)
        });
        pool && owner
    }
}

/// Whether the event is the reader's own: they did it, or it was theirs.
pub fn is_own(event: &Event, me: Option<&str>) -> bool {
    me.is_some_and(|me| event.actor.as_deref() == Some(me) || event.owner.as_deref() == Some(me))
}

/// The events held, newest first, no seq twice.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ActivityLog {
    events: Vec<Event>,
    /// Every event above this seq is held; `None` until the console follows the log.
    floor: Option<u64>,
    /// Where the log starts, as far as a `410` showed.
    start: LogStart,
}

/// What the `410`s for older windows showed of the log's start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum LogStart {
    /// No `410` yet: the log may start at seq 1.
    #[default]
    Unseen,
    /// The log keeps nothing at or below this seq, and where above it
    /// starts is not known (a `410` without `oldest`).
    After(u64),
    /// The log keeps every seq above this one and nothing at or below it
    /// (a `410`'s `oldest`, minus one).
    JustAfter(u64),
}

impl LogStart {
    /// The seq at or below which the log keeps nothing (0: none found).
    fn gone_through(self) -> u64 {
        match self {
            LogStart::Unseen => 0,
            LogStart::After(gone) | LogStart::JustAfter(gone) => gone,
        }
    }
}

impl ActivityLog {
    /// Following begins (again) after `head`: everything at or below it is
    /// older. What is held stays only if it reaches `head` (after a `410`
    /// the console follows from a later head, and the run would have a hole).
    pub fn begin(&mut self, head: u64) {
        if self.newest() != Some(head) {
            self.events.clear();
            self.floor = Some(head);
        }
    }

    /// The newest seq the held run reaches.
    fn newest(&self) -> Option<u64> {
        let floor = self.floor?;
        Some(self.events.first().map_or(floor, |e| e.seq.max(floor)))
    }

    /// Whether the console follows the log (the section has something to show).
    pub fn is_following(&self) -> bool {
        self.floor.is_some()
    }

    /// New events (oldest first, as read); ones already held are skipped.
    pub fn add_new(&mut self, events: &[Event]) {
        let Some(newest) = self.newest() else { return };
        let fresh = events.iter().filter(|e| e.seq > newest).rev().cloned();
        self.events.splice(0..0, fresh);
        self.let_old_go();
    }

    /// The window to read for older events, as `(after, limit)`; `None`
    /// when the log's start has been reached.
    pub fn older_window(&self) -> Option<(u64, u64)> {
        let gone = self.start.gone_through();
        let floor = self.floor.filter(|&floor| floor > gone)?;
        // After a `410` without `oldest`, halfway between what is gone and
        // the floor: the log's start is found in a few reads.
        let lowest = match self.start {
            LogStart::After(gone) => gone + (floor - gone) / 2,
            LogStart::Unseen | LogStart::JustAfter(_) => gone,
        };
        let after = floor.saturating_sub(OLDER_WINDOW).max(lowest);
        Some((after, floor - after))
    }

    /// The events read for the window `after` (oldest first); those past the
    /// floor (already held) are skipped.
    pub fn add_older(&mut self, after: u64, events: &[Event]) {
        let Some(floor) = self.floor else { return };
        let older = events
            .iter()
            .filter(|e| e.seq > after && e.seq <= floor)
            .rev()
            .cloned();
        self.events.extend(older);
        self.floor = Some(after.min(floor));
    }

    /// `410` for the window `after`: the log keeps no seq up to `after + 1`;
    /// its `oldest`, when given, is the oldest seq kept (a server's word is
    /// data: one not past `after + 1` says no more than the `410` itself).
    pub fn older_expired(&mut self, after: u64, oldest: Option<u64>) {
        let gone = after.saturating_add(1);
        let gone = gone.max(self.start.gone_through());
        self.start = match oldest {
            Some(oldest) => LogStart::JustAfter(oldest.saturating_sub(1).max(gone)),
            None => LogStart::After(gone),
        };
    }

    /// The held events the filter lets through, newest first, at most `shown`.
    pub fn matching<'a>(
        &'a self,
        filter: &'a ActivityFilter,
        shown: usize,
    ) -> impl Iterator<Item = &'a Event> + 'a {
        self.events
            .iter()
            .filter(|e| filter.lets_through(e))
            .take(shown)
    }

    /// Whether showing `shown` events needs an older window read first.
    pub fn wants_older(&self, filter: &ActivityFilter, shown: usize) -> bool {
        self.older_window().is_some() && self.matching(filter, shown).count() < shown
    }

    /// Everyone named in the held events (owners and actors), sorted.
    pub fn people(&self) -> Vec<String> {
        let mut people: Vec<String> = self
            .events
            .iter()
            .flat_map(|e| [e.owner.as_deref(), e.actor.as_deref()])
            .flatten()
            .map(str::to_owned)
            .collect();
        people.sort_unstable();
        people.dedup();
        people
    }

    /// Past [`HELD_MAX`], the oldest go and the floor rises above them.
    fn let_old_go(&mut self) {
        if self.events.len() <= HELD_MAX {
            return;
        }
        let dropped = self.events.split_off(HELD_MAX);
        if let (Some(floor), Some(newest_dropped)) = (self.floor, dropped.first()) {
            self.floor = Some(floor.max(newest_dropped.seq));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::list_from_events::tests::event;
    use allocation_contract::EventKind;
    use allocation_testkit::allocation;

    fn by(seq: u64, owner: &str, pool: &str) -> Event {
        event(
            seq,
            EventKind::Allocated,
            Some(
                allocation(&format!("al_{seq}"))
                    .owner(owner)
                    .pool(pool)
                    .build(),
            ),
        )
    }

    fn seqs(log: &ActivityLog, filter: &ActivityFilter, shown: usize) -> Vec<u64> {
        log.matching(filter, shown).map(|e| e.seq).collect()
    }

    #[test]
    fn nothing_is_held_before_following_and_new_events_come_on_top() {
        let mut log = ActivityLog::default();
        log.add_new(&[by(1, "alice", "gpu")]);
        assert!(!log.is_following());
        assert_eq!(log.older_window(), None);
        log.begin(250);
        log.add_new(&[by(251, "alice", "gpu"), by(252, "bob", "gpu")]);
        log.add_new(&[by(252, "bob", "gpu"), by(253, "bob", "vm")]);
        let all = ActivityFilter::default();
        assert_eq!(seqs(&log, &all, 10), [253, 252, 251]);
        assert_eq!(seqs(&log, &all, 2), [253, 252]);
    }

    #[test]
    fn show_older_reads_the_window_below_and_stops_at_the_start() {
        let mut log = ActivityLog::default();
        log.begin(150);
        assert_eq!(log.older_window(), Some((50, 100)));
        let window: Vec<Event> = (51..=152).map(|s| by(s, "alice", "gpu")).collect();
        log.add_older(50, &window);
        let all = ActivityFilter::default();
        assert_eq!(seqs(&log, &all, 200).len(), 100);
        assert_eq!(seqs(&log, &all, 1), [150]);
        assert_eq!(log.older_window(), Some((0, 50)));
        log.add_older(0, &[]);
        assert_eq!(log.older_window(), None);
    }

    #[test]
    fn following_again_from_a_later_head_starts_the_run_again() {
        let mut log = ActivityLog::default();
        log.begin(10);
        log.add_new(&[by(11, "alice", "gpu")]);
        log.begin(11);
        let all = ActivityFilter::default();
        assert_eq!(seqs(&log, &all, 10), [11]);
        log.begin(40);
        assert_eq!(seqs(&log, &all, 10), Vec::<u64>::new());
        assert_eq!(log.older_window(), Some((0, 40)));
    }

    #[test]
    fn a_410s_oldest_is_where_the_next_window_starts() {
        let mut log = ActivityLog::default();
        log.begin(5_000);
        assert_eq!(log.older_window(), Some((4_900, 100)));
        log.add_older(4_900, &[]);
        log.older_expired(4_800, Some(4_851));
        // One read of the rest, 4,851 to 4,900, then the start.
        assert_eq!(log.older_window(), Some((4_850, 50)));
        log.add_older(4_850, &[]);
        assert_eq!(log.older_window(), None);
    }

    #[test]
    fn an_oldest_not_past_the_window_still_moves_on() {
        let mut log = ActivityLog::default();
        log.begin(300);
        log.older_expired(200, Some(3));
        assert_eq!(log.older_window(), Some((201, 99)));
        log.older_expired(201, None);
        assert_eq!(log.older_window(), Some((251, 49)));
    }

    #[test]
    fn expired_windows_close_in_on_the_logs_start() {
        let mut log = ActivityLog::default();
        log.begin(40);
        // The log keeps 30 and up: windows below it are `410`s.
        let mut reads = 0;
        while let Some((after, limit)) = log.older_window() {
            reads += 1;
            assert!(reads < 10, "the start is never found");
            if after + 1 < 30 {
                log.older_expired(after, None);
            } else {
                let kept: Vec<Event> = (after + 1..=after + limit)
                    .map(|s| by(s, "alice", "gpu"))
                    .collect();
                log.add_older(after, &kept);
            }
        }
        let all = ActivityFilter::default();
        let held = seqs(&log, &all, 100);
        assert_eq!(held.first(), Some(&40));
        assert_eq!(held, (30..=40).rev().collect::<Vec<_>>());
        log.begin(9_000);
        log.older_expired(8_999, None);
        assert_eq!(log.older_window(), None);
    }

    #[test]
    fn the_filter_takes_one_pool_and_one_person_owner_or_actor() {
        let mut log = ActivityLog::default();
        log.begin(0);
        let mut for_bob = by(3, "bob", "gpu");
        for_bob.actor = Some("ops".to_owned());
        log.add_new(&[by(1, "alice", "gpu"), by(2, "bob", "vm"), for_bob]);
        let gpu = ActivityFilter {
            pool: Some("gpu".to_owned()),
            owner: None,
        };
        assert_eq!(seqs(&log, &gpu, 10), [3, 1]);
        let ops = ActivityFilter {
            pool: None,
            owner: Some("ops".to_owned()),
        };
        assert_eq!(seqs(&log, &ops, 10), [3]);
        assert_eq!(log.people(), ["alice", "bob", "ops"]);
    }

    #[test]
    fn a_filter_with_too_few_events_wants_older_ones() {
        let mut log = ActivityLog::default();
        log.begin(500);
        log.add_new(&[by(501, "alice", "gpu"), by(502, "bob", "gpu")]);
        let bob = ActivityFilter {
            pool: None,
            owner: Some("bob".to_owned()),
        };
        assert!(log.wants_older(&bob, SHOWN_STEP));
        assert!(!log.wants_older(&bob, 1));
    }

    #[test]
    fn own_events_are_the_readers_deeds_and_belongings() {
        let mut theirs = by(1, "bob", "gpu");
        assert!(!is_own(&theirs, Some("alice")));
        theirs.actor = Some("alice".to_owned());
        assert!(is_own(&theirs, Some("alice")));
        assert!(is_own(&by(2, "alice", "gpu"), Some("alice")));
        assert!(!is_own(&by(2, "alice", "gpu"), None));
    }

    #[test]
    fn past_the_cap_the_oldest_go_and_the_floor_rises() {
        let mut log = ActivityLog::default();
        log.begin(0);
        let many: Vec<Event> = (1..=HELD_MAX as u64 + 5)
            .map(|s| by(s, "alice", "gpu"))
            .collect();
        log.add_new(&many);
        let all = ActivityFilter::default();
        assert_eq!(log.matching(&all, usize::MAX).count(), HELD_MAX);
        assert_eq!(log.older_window(), Some((0, 5)));
    }
}
