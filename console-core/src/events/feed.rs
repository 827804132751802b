//! Where the allocations list comes from, poll by poll: the whole list until
//! the log's head is known, then the events after it. A list read after the
//! head was found shows every event up to the head (and maybe a few past
//! it, which following replays without harm: [`super::list_from_events`]).

use allocation_contract::Events;

use crate::problem::Failure;

/// Events asked for per page while following: a burst is read in pages of
/// this many until a page is not full.
pub const PAGE_LIMIT: u64 = 1_000;

/// Pages read in one poll at most; a longer burst is cheaper as the whole
/// list (a page of 1,000 events is about the size of 1,000 rows).
pub const PAGES_PER_POLL: usize = 5;

/// The list's source for the next poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feed {
    /// Find the log's head (at least this seq), then read the whole list.
    Finding { at_least: u64 },
    /// Read the events after `next`.
    Following { next: u64 },
    /// The server has no `/events` (`404`): the whole list each poll.
    NoLog,
}

/// What the next step of a poll does with the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Read the events after this seq.
    ReadAfter(u64),
    /// Done for this poll.
    Done,
    /// Read the whole list (found head first when `Finding`).
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

impl Default for Feed {
    fn default() -> Self {
        Feed::Finding { at_least: 0 }
    }
}

impl Feed {
    /// The list was read after the head was found at `head`: follow from it.
    pub fn listed_after(&mut self, head: u64) {
        *self = Feed::Following { next: head };
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
                *self = Feed::Finding { at_least: next };
                Step::WholeList
            }
        }
    }

    /// `410`: the log no longer reaches back to `next`; the whole list
    /// again, and the head is past `next`.
    pub fn expired(&mut self) -> Step {
        let at_least = match *self {
            Feed::Following { next } => next,
            Feed::Finding { at_least } => at_least,
            Feed::NoLog => 0,
        };
        *self = Feed::Finding { at_least };
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
            Feed::Finding { .. } | Feed::NoLog => Step::WholeList,
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
    fn a_list_read_after_the_head_is_followed_from_it() {
        let mut feed = Feed::default();
        assert_eq!(feed.first_step(), Step::WholeList);
        feed.listed_after(41);
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
        assert_eq!(feed, Feed::Finding { at_least: last });
    }

    #[test]
    fn an_expired_position_reads_the_list_and_finds_the_head_past_it() {
        let mut feed = Feed::Following { next: 500 };
        assert_eq!(feed.expired(), Step::WholeList);
        assert_eq!(feed, Feed::Finding { at_least: 500 });
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
