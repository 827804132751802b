//! Where the allocations list comes from, poll by poll: the whole list
//! (conditional), then the events after its `events_through`, the log's
//! position the server read with that very list, so following it misses
//! nothing and replays nothing. A list without `events_through` comes from a
//! server without the log: the whole list each poll, as for a `404`.

use allocation_contract::Events;

use crate::problem::Failure;

/// Events asked for per page while following: a burst is read in pages of
/// this many until a page is not full.
pub const PAGE_LIMIT: u64 = 1_000;

/// Pages read in one poll at most; a longer burst is cheaper as the whole
/// list (a page of 1,000 events is about the size of 1,000 rows).
pub const PAGES_PER_POLL: usize = 5;

/// The list's source for the next poll.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Feed {
    /// Read the whole list, then follow from its `events_through`.
    #[default]
    Listing,
    /// Read the events after `next`.
    Following { next: u64 },
    /// The server has no `/events` (`404`, or a list without
    /// `events_through`): the whole list each poll.
    NoLog,
}

/// What the next step of a poll does with the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Read the events after this seq.
    ReadAfter(u64),
    /// Done for this poll.
    Done,
    /// Read the whole list.
    WholeList,
}

/// What a failed `GET /events` says about the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogRefusal {
    /// `410` (`…/events-expired`): `after` is older than the log kept.
    Expired,
    /// `404`: a server without the event log.
    NoLog,
    /// Anything else: a failure like any poll's.
    Other,
}

/// How a `GET /events` failure is taken. Any `410` counts as expired: the
/// remedy (read the list again) is right whatever its problem type says.
pub fn log_refusal(failure: &Failure) -> LogRefusal {
    match failure {
        Failure::Http(problem) if problem.status == 410 => LogRefusal::Expired,
        Failure::Http(problem) if problem.status == 404 => LogRefusal::NoLog,
        _ => LogRefusal::Other,
    }
}

impl Feed {
    /// The list was read (or was still the one held, a `304`); it reflects
    /// the log through `events_through`: follow from there, or, without
    /// one, read it whole each poll. A server without the log stays one.
    pub fn listed(&mut self, events_through: Option<u64>) {
        *self = match (*self, events_through) {
            (Feed::NoLog, _) | (_, None) => Feed::NoLog,
            (_, Some(through)) => Feed::Following { next: through },
        };
    }

    /// Takes in one page read while following; the next step of this poll,
    /// `pages` counting this one.
    pub fn page_read(&mut self, page: &Events, pages: usize) -> Step {
        let Feed::Following { next } = *self else {
            return Step::Done;
        };
        // A server's `next` never goes back: a smaller one would replay, not skip.
        let next = next.max(page.next);
        *self = Feed::Following { next };
        match (page.events.len() as u64) < PAGE_LIMIT {
            true => Step::Done,
            false if pages < PAGES_PER_POLL => Step::ReadAfter(next),
            false => {
                *self = Feed::Listing;
                Step::WholeList
            }
        }
    }

    /// `410`: the log no longer reaches back to `next`; the whole list
    /// again, followed from its own `events_through`.
    pub fn expired(&mut self) -> Step {
        if *self != Feed::NoLog {
            *self = Feed::Listing;
        }
        Step::WholeList
    }

    /// `404`: no event log on this server.
    pub fn no_log(&mut self) -> Step {
        *self = Feed::NoLog;
        Step::WholeList
    }

    /// This poll's first step.
    pub fn first_step(&self) -> Step {
        match *self {
            Feed::Following { next } => Step::ReadAfter(next),
            Feed::Listing | Feed::NoLog => Step::WholeList,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::list_from_events::tests::event;
    use allocation_contract::EventKind;

    fn page(first: u64, count: u64) -> Events {
        Events {
            events: (first..first + count)
                .map(|seq| event(seq, EventKind::Queued, None))
                .collect(),
            next: if count == 0 {
                first - 1
            } else {
                first + count - 1
            },
        }
    }

    #[test]
    fn a_list_is_followed_from_its_events_through() {
        let mut feed = Feed::default();
        assert_eq!(feed.first_step(), Step::WholeList);
        feed.listed(Some(41));
        assert_eq!(feed.first_step(), Step::ReadAfter(41));
        assert_eq!(feed.page_read(&page(42, 3), 1), Step::Done);
        assert_eq!(feed, Feed::Following { next: 44 });
        assert_eq!(feed.page_read(&page(45, 0), 1), Step::Done);
        assert_eq!(feed.first_step(), Step::ReadAfter(44));
    }

    #[test]
    fn a_full_page_is_followed_by_the_next_until_one_is_not() {
        let mut feed = Feed::Following { next: 0 };
        assert_eq!(
            feed.page_read(&page(1, PAGE_LIMIT), 1),
            Step::ReadAfter(PAGE_LIMIT)
        );
        assert_eq!(feed.page_read(&page(PAGE_LIMIT + 1, 2), 2), Step::Done);
        assert_eq!(feed.first_step(), Step::ReadAfter(PAGE_LIMIT + 2));
    }

    #[test]
    fn a_burst_longer_than_a_polls_pages_reads_the_whole_list_instead() {
        let mut feed = Feed::Following { next: 0 };
        let last = PAGE_LIMIT * PAGES_PER_POLL as u64;
        let page = page(last - PAGE_LIMIT + 1, PAGE_LIMIT);
        assert_eq!(feed.page_read(&page, PAGES_PER_POLL), Step::WholeList);
        assert_eq!(feed, Feed::Listing);
        feed.listed(Some(last + 7));
        assert_eq!(feed.first_step(), Step::ReadAfter(last + 7));
    }

    #[test]
    fn an_expired_position_reads_the_list_and_follows_from_its_events_through() {
        let mut feed = Feed::Following { next: 500 };
        assert_eq!(feed.expired(), Step::WholeList);
        assert_eq!(feed, Feed::Listing);
        feed.listed(Some(9_000));
        assert_eq!(feed.first_step(), Step::ReadAfter(9_000));
    }

    #[test]
    fn a_list_without_events_through_is_read_whole_each_poll() {
        let mut feed = Feed::default();
        feed.listed(None);
        assert_eq!(feed, Feed::NoLog);
        assert_eq!(feed.first_step(), Step::WholeList);
        // Once a server without the log, always: a later list does not start following.
        feed.listed(Some(3));
        assert_eq!(feed.expired(), Step::WholeList);
        assert_eq!(feed, Feed::NoLog);
    }

    #[test]
    fn a_410_is_expired_a_404_is_no_log_and_the_rest_are_failures() {
        use crate::problem::problem_from_text;
        let http = |status| Failure::Http(problem_from_text(status, "", None, ""));
        assert_eq!(log_refusal(&http(410)), LogRefusal::Expired);
        assert_eq!(log_refusal(&http(404)), LogRefusal::NoLog);
        assert_eq!(log_refusal(&http(503)), LogRefusal::Other);
        assert_eq!(log_refusal(&Failure::Timeout), LogRefusal::Other);
    }

    #[test]
    fn a_server_without_a_log_is_read_whole_each_poll() {
        let mut feed = Feed::default();
        assert_eq!(feed.no_log(), Step::WholeList);
        assert_eq!(feed.first_step(), Step::WholeList);
        assert_eq!(feed.page_read(&page(1, 1), 1), Step::Done);
        assert_eq!(feed, Feed::NoLog);
    }
}
