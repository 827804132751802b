//! When the live monitor polls next. The shell keeps one pending timer and
//! replaces it with every [`Command`] it gets; all time and chance come in as
//! arguments, so the whole schedule runs on a fake clock in tests.

use super::backoff::backoff_delay_ms;
use super::retry_after::parse_retry_after;
use crate::problem::{is_retryable, Failure};

/// Jitter on the interval, ± this fraction.
const INTERVAL_JITTER: f64 = 0.1;
/// A poll that has not reported back in this long is taken as lost (a page
/// restored from the back/forward cache, a dropped future), so one missing
/// answer cannot stop the monitor for good. Longer than any transport timeout.
pub const IN_FLIGHT_LOST_MS: f64 = 120_000.0;

/// What the shell does next. Each one replaces the pending timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Call [`PollSchedule::start_poll`] and, if it agrees, poll.
    PollNow,
    /// Set a timer; when it fires, act as on `PollNow`.
    WaitMs(u64),
    /// No timer: something else (a poll's end, the page showing) comes next.
    Idle,
}

/// How a poll ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `200` with a body we read.
    Fresh,
    /// `304`: what we have is still current.
    NotModified,
    /// Anything else; `retry_after_ms` from [`super::parse_retry_after`].
    Failed {
        retryable: bool,
        retry_after_ms: Option<u64>,
    },
}

impl Outcome {
    /// A failed poll, with its `Retry-After` header if there was one.
    pub fn failed(failure: &Failure, retry_after: Option<&str>, now_ms: f64) -> Self {
        Outcome::Failed {
            retryable: is_retryable(failure),
            retry_after_ms: retry_after.and_then(|value| parse_retry_after(value, now_ms)),
        }
    }
}

/// The live monitor's poll schedule. Times are epoch milliseconds (`Date.now()`).
#[derive(Clone, Debug, PartialEq)]
pub struct PollSchedule {
    interval_ms: u64,
    hidden: bool,
    /// The poll in flight: its ticket and when it started.
    in_flight: Option<(u64, f64)>,
    /// The last ticket handed out by [`PollSchedule::start_poll`].
    last_ticket: u64,
    /// A refresh came while a poll was in flight: poll again when it ends.
    poll_again: bool,
    /// A refresh asked for this poll: it may run while the page is hidden.
    manual: bool,
    /// Retryable failures in a row: the backoff exponent.
    attempt: u32,
    last_success_ms: Option<f64>,
    last_failed: bool,
    /// When the scheduled poll is due, kept while hidden.
    due_at_ms: Option<f64>,
    /// Whether that poll is a retry after a failure.
    retrying: bool,
    /// The server's `Retry-After`: no automatic poll before this.
    not_before_ms: Option<f64>,
}

impl PollSchedule {
    /// Start it with `on_visibility_change(document.hidden, now, random)`,
    /// or with `PollNow` when the page is visible.
    pub fn new(interval_ms: u64) -> Self {
        PollSchedule {
            interval_ms: interval_ms.max(1),
            hidden: false,
            in_flight: None,
            last_ticket: 0,
            poll_again: false,
            manual: false,
            attempt: 0,
            last_success_ms: None,
            last_failed: false,
            due_at_ms: None,
            retrying: false,
            not_before_ms: None,
        }
    }

    fn in_flight(&self, now_ms: f64) -> bool {
        self.in_flight
            .is_some_and(|(_, since)| now_ms - since < IN_FLIGHT_LOST_MS)
    }

    /// The page is hidden and polling paused.
    pub fn is_hidden(&self) -> bool {
        self.hidden
    }

    /// Whether to poll now: never two at once, and not while hidden unless
    /// the reader asked with a refresh. `Some(ticket)`: the poll is now in
    /// flight; hand the ticket back to [`PollSchedule::finish_poll`].
    pub fn start_poll(&mut self, now_ms: f64) -> Option<u64> {
        if self.in_flight(now_ms) || (self.hidden && !self.manual) {
            return None;
        }
        self.manual = false;
        self.last_ticket += 1;
        self.in_flight = Some((self.last_ticket, now_ms));
        Some(self.last_ticket)
    }

    /// Record how the poll ended and say when the next one is.
    ///
    /// A failure that will not go away by itself (4xx other than 408/429)
    /// gets no quick retries, but polling goes on at the normal interval: an
    /// operator may fix a token or a route, and the monitor must notice.
    ///
    /// Returns the wait before the next poll (`Some(0)`: at once, because a
    /// refresh came during this one), or `None` while the page is hidden, or
    /// when `ticket` is not the poll in flight: a poll given up as lost that
    /// answers after all changes nothing, least of all a newer poll's mark.
    pub fn finish_poll(
        &mut self,
        ticket: u64,
        now_ms: f64,
        outcome: Outcome,
        random: f64,
    ) -> Option<u64> {
        if self.in_flight.map(|(current, _)| current) != Some(ticket) {
            return None;
        }
        self.in_flight = None;
        let jittered = self.jittered_interval_ms(random);
        let delay = match outcome {
            Outcome::Fresh | Outcome::NotModified => {
                self.attempt = 0;
                self.last_success_ms = Some(now_ms);
                self.last_failed = false;
                self.retrying = false;
                self.not_before_ms = None;
                jittered
            }
            Outcome::Failed {
                retryable,
                retry_after_ms,
            } => {
                self.last_failed = true;
                self.retrying = retryable;
                let planned = if retryable {
                    let backoff = backoff_delay_ms(self.attempt, self.interval_ms, random);
                    self.attempt = self.attempt.saturating_add(1);
                    backoff
                } else {
                    self.attempt = 0;
                    jittered
                };
                self.not_before_ms = retry_after_ms.map(|ms| now_ms + ms as f64);
                planned.max(retry_after_ms.unwrap_or(0))
            }
        };
        self.due_at_ms = Some(now_ms + delay as f64);
        if std::mem::take(&mut self.poll_again) {
            self.manual = true;
            Some(0)
        } else if self.hidden {
            None
        } else {
            Some(delay)
        }
    }

    /// The interval ± 10%, uniform, so consoles opened together drift apart.
    fn jittered_interval_ms(&self, random: f64) -> u64 {
        let spread = 1.0 - INTERVAL_JITTER + 2.0 * INTERVAL_JITTER * random.clamp(0.0, 1.0);
        (self.interval_ms as f64 * spread).round() as u64
    }

    /// The page was hidden or shown (`visibilitychange`; also usable once at
    /// start with the current state). Hidden: no timer. Shown: poll at once if
    /// the data is as old as the interval (or there is none), else wait out
    /// the rest of a jittered interval; a pending retry keeps its own time.
    pub fn on_visibility_change(&mut self, hidden: bool, now_ms: f64, random: f64) -> Command {
        self.hidden = hidden;
        if hidden || self.in_flight(now_ms) {
            return Command::Idle;
        }
        let due = if self.last_failed {
            self.due_at_ms
        } else {
            self.last_success_ms.and_then(|at| {
                let fresh = now_ms - at < self.interval_ms as f64;
                fresh.then(|| at + self.jittered_interval_ms(random) as f64)
            })
        };
        self.at_or_after(due.unwrap_or(now_ms), now_ms)
    }

    /// The network is back (`online`): try now, backoff forgotten, unless the
    /// server asked us to wait.
    pub fn on_online(&mut self, now_ms: f64) -> Command {
        self.attempt = 0;
        self.wake(now_ms)
    }

    /// The page came back from the back/forward cache (`pageshow`): its data
    /// may be hours old and its timers were frozen.
    pub fn on_pageshow(&mut self, now_ms: f64) -> Command {
        self.wake(now_ms)
    }

    fn wake(&mut self, now_ms: f64) -> Command {
        if self.hidden || self.in_flight(now_ms) {
            return Command::Idle;
        }
        self.at_or_after(now_ms, now_ms)
    }

    /// `PollNow` if `at` has come and `Retry-After` allows, else the wait.
    fn at_or_after(&self, at: f64, now_ms: f64) -> Command {
        let at = at.max(self.not_before_ms.unwrap_or(at));
        if at <= now_ms {
            Command::PollNow
        } else {
            Command::WaitMs((at - now_ms).ceil() as u64)
        }
    }

    /// The reader (or the host page) asked for fresh data: poll now, pending
    /// backoff and `Retry-After` forgotten; if a poll is in flight, poll again
    /// as soon as it ends, since its answer may predate what prompted this.
    pub fn refresh(&mut self, now_ms: f64) -> Command {
        self.attempt = 0;
        self.not_before_ms = None;
        if self.in_flight(now_ms) {
            self.poll_again = true;
            return Command::Idle;
        }
        self.manual = true;
        Command::PollNow
    }

    /// How old the data on screen is, by the wall clock (never negative).
    pub fn age_ms(&self, now_ms: f64) -> Option<u64> {
        self.last_success_ms.map(|at| (now_ms - at).max(0.0) as u64)
    }

    /// The data should be marked stale: the last poll failed, or no poll has
    /// succeeded for twice the interval.
    pub fn is_stale(&self, now_ms: f64) -> bool {
        self.last_failed
            || self
                .age_ms(now_ms)
                .is_some_and(|age| age > 2 * self.interval_ms)
    }

    /// For "Retrying in 8 s": time until the pending retry, if one is pending.
    pub fn retry_in_ms(&self, now_ms: f64) -> Option<u64> {
        if !self.retrying || self.hidden || self.in_flight(now_ms) {
            return None;
        }
        self.due_at_ms
            .map(|at| (at - now_ms).max(0.0).ceil() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60_000;
    const T0: f64 = 1_795_687_200_000.0;
    const RETRY: Outcome = Outcome::Failed {
        retryable: true,
        retry_after_ms: None,
    };

    impl PollSchedule {
        /// `start_poll`, which must agree; its ticket is kept for `end`.
        fn begin(&mut self, now_ms: f64) {
            assert!(
                self.start_poll(now_ms).is_some(),
                "start_poll refused at {now_ms}"
            );
        }

        /// `finish_poll` for the poll in flight (or the last one started).
        fn end(&mut self, now_ms: f64, outcome: Outcome, random: f64) -> Option<u64> {
            self.finish_poll(self.last_ticket, now_ms, outcome, random)
        }
    }

    fn started() -> PollSchedule {
        let mut schedule = PollSchedule::new(60_000);
        assert_eq!(
            schedule.on_visibility_change(false, T0, 0.5),
            Command::PollNow
        );
        schedule.begin(T0);
        schedule
    }

    #[test]
    fn polls_at_once_then_every_interval_with_jitter() {
        let mut schedule = started();
        assert_eq!(schedule.end(T0 + 100.0, Outcome::Fresh, 0.0), Some(54_000));
        schedule.begin(T0 + 54_100.0);
        assert_eq!(
            schedule.end(T0 + 54_200.0, Outcome::NotModified, 0.5),
            Some(MIN)
        );
        schedule.begin(T0 + 114_200.0);
        assert_eq!(
            schedule.end(T0 + 114_300.0, Outcome::Fresh, 0.999_999),
            Some(66_000)
        );
        assert_eq!(schedule.last_success_ms, Some(T0 + 114_300.0));
        assert_eq!(schedule.age_ms(T0 + 124_300.0), Some(10_000));
    }

    #[test]
    fn never_two_polls_in_flight() {
        let mut schedule = started();
        assert_eq!(schedule.start_poll(T0 + 1.0), None);
        assert_eq!(schedule.on_online(T0 + 2.0), Command::Idle);
        assert_eq!(schedule.on_pageshow(T0 + 3.0), Command::Idle);
        assert_eq!(
            schedule.on_visibility_change(false, T0 + 4.0, 0.5),
            Command::Idle
        );
        // A refresh during the poll: one more poll right after, not a second at once.
        assert_eq!(schedule.refresh(T0 + 5.0), Command::Idle);
        assert_eq!(schedule.start_poll(T0 + 6.0), None);
        assert_eq!(schedule.end(T0 + 7.0, Outcome::Fresh, 0.5), Some(0));
        schedule.begin(T0 + 8.0);
        assert_eq!(schedule.end(T0 + 9.0, Outcome::Fresh, 0.5), Some(MIN));
    }

    #[test]
    fn a_lost_poll_does_not_stop_the_monitor() {
        let mut schedule = started();
        assert!(schedule.in_flight(T0 + 119_000.0));
        assert_eq!(
            schedule.on_pageshow(T0 + IN_FLIGHT_LOST_MS),
            Command::PollNow
        );
        schedule.begin(T0 + IN_FLIGHT_LOST_MS);
    }

    #[test]
    fn a_lost_poll_answering_late_cannot_clear_a_newer_polls_mark() {
        let mut schedule = started();
        let lost = schedule.last_ticket;
        // Given up as lost: a newer poll starts.
        let newer = schedule.start_poll(T0 + IN_FLIGHT_LOST_MS).unwrap();
        // The lost one answers after all: ignored, the newer poll stays in flight.
        assert_eq!(
            schedule.finish_poll(lost, T0 + IN_FLIGHT_LOST_MS + 1.0, Outcome::Fresh, 0.5),
            None
        );
        assert_eq!(schedule.start_poll(T0 + IN_FLIGHT_LOST_MS + 2.0), None);
        assert_eq!(
            schedule.finish_poll(newer, T0 + IN_FLIGHT_LOST_MS + 3.0, Outcome::Fresh, 0.5),
            Some(MIN)
        );
    }

    #[test]
    fn retryable_failures_back_off_exponentially_to_the_cap() {
        let mut schedule = started();
        let mut now = T0;
        let mut delays = Vec::new();
        for _ in 0..9 {
            now += 50.0;
            let delay = schedule.end(now, RETRY, 0.999_999).unwrap();
            delays.push(delay);
            assert_eq!(schedule.retry_in_ms(now), Some(delay));
            now += delay as f64;
            schedule.begin(now);
        }
        assert_eq!(
            delays,
            [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, MIN, MIN, MIN]
        );
        assert!(schedule.is_stale(now));
        // Success resets the backoff.
        assert_eq!(schedule.end(now + 10.0, Outcome::Fresh, 0.5), Some(MIN));
        assert_eq!(schedule.attempt, 0);
        assert!(!schedule.is_stale(now + 10.0));
        assert_eq!(schedule.retry_in_ms(now + 10.0), None);
    }

    #[test]
    fn retry_after_wins_when_it_is_longer() {
        let mut schedule = started();
        let busy = |ms| Outcome::Failed {
            retryable: true,
            retry_after_ms: Some(ms),
        };
        assert_eq!(schedule.end(T0, busy(30_000), 0.5), Some(30_000));
        schedule.begin(T0 + 30_000.0);
        // Shorter than the backoff (attempt 1: up to 2 s; 0.9 → 1.8 s): backoff wins.
        assert_eq!(schedule.end(T0 + 30_000.0, busy(1_000), 0.9), Some(1_800));
        // Online does not jump a Retry-After still running.
        schedule.begin(T0 + 31_800.0);
        assert_eq!(
            schedule.end(T0 + 31_800.0, busy(120_000), 0.1),
            Some(120_000)
        );
        assert_eq!(schedule.on_online(T0 + 41_800.0), Command::WaitMs(110_000));
        // A refresh by the reader does.
        assert_eq!(schedule.refresh(T0 + 41_800.0), Command::PollNow);
        schedule.begin(T0 + 41_800.0);
    }

    #[test]
    fn other_client_errors_poll_on_at_the_interval_without_backoff() {
        let mut schedule = started();
        let denied = Outcome::Failed {
            retryable: false,
            retry_after_ms: None,
        };
        assert_eq!(schedule.end(T0, denied, 0.5), Some(MIN));
        assert_eq!(schedule.attempt, 0);
        assert_eq!(schedule.retry_in_ms(T0), None);
        assert!(schedule.is_stale(T0));
        schedule.begin(T0 + 60_000.0);
        assert_eq!(schedule.end(T0 + 60_000.0, denied, 0.5), Some(MIN));
    }

    #[test]
    fn outcome_from_failures() {
        let gateway = crate::problem::problem_from_text(502, "", None, "");
        assert_eq!(
            Outcome::failed(&Failure::Http(gateway), Some("5"), T0),
            Outcome::Failed {
                retryable: true,
                retry_after_ms: Some(5_000)
            }
        );
        let missing = crate::problem::problem_from_text(404, "", None, "");
        assert_eq!(
            Outcome::failed(&Failure::Http(missing), Some("soon"), T0),
            Outcome::Failed {
                retryable: false,
                retry_after_ms: None
            }
        );
    }

    #[test]
    fn hidden_pages_do_not_poll() {
        let mut schedule = started();
        assert_eq!(
            schedule.on_visibility_change(true, T0 + 10.0, 0.5),
            Command::Idle
        );
        assert_eq!(schedule.end(T0 + 20.0, Outcome::Fresh, 0.5), None);
        assert_eq!(schedule.start_poll(T0 + 60_000.0), None);
        assert_eq!(schedule.on_online(T0 + 60_000.0), Command::Idle);
        // Shown again with fresh-enough data: wait out the rest of the interval.
        assert_eq!(
            schedule.on_visibility_change(false, T0 + 30_020.0, 0.5),
            Command::WaitMs(30_000)
        );
        // Hidden again and shown after a long time: poll at once.
        schedule.on_visibility_change(true, T0 + 30_030.0, 0.5);
        assert_eq!(
            schedule.on_visibility_change(false, T0 + 3_600_000.0, 0.5),
            Command::PollNow
        );
        schedule.begin(T0 + 3_600_000.0);
    }

    #[test]
    fn a_refresh_may_poll_while_hidden() {
        let mut schedule = PollSchedule::new(60_000);
        assert_eq!(schedule.on_visibility_change(true, T0, 0.5), Command::Idle);
        assert_eq!(schedule.start_poll(T0), None);
        assert_eq!(schedule.refresh(T0), Command::PollNow);
        schedule.begin(T0);
        assert_eq!(schedule.end(T0 + 1.0, Outcome::Fresh, 0.5), None);
        assert_eq!(schedule.start_poll(T0 + 2.0), None, "one refresh, one poll");
    }

    #[test]
    fn shown_during_a_backoff_keeps_the_retry_time() {
        let mut schedule = started();
        assert_eq!(schedule.end(T0, RETRY, 0.5), Some(500));
        schedule.on_visibility_change(true, T0 + 100.0, 0.5);
        assert_eq!(
            schedule.on_visibility_change(false, T0 + 200.0, 0.5),
            Command::WaitMs(300)
        );
        assert_eq!(
            schedule.on_visibility_change(false, T0 + 900.0, 0.5),
            Command::PollNow
        );
    }

    #[test]
    fn online_and_pageshow_poll_now_and_forget_the_backoff() {
        let mut schedule = started();
        for i in 0..5 {
            let now = T0 + f64::from(i) * 100_000.0;
            schedule.end(now, RETRY, 0.5);
            schedule.begin(now + 90_000.0);
        }
        schedule.end(T0 + 600_000.0, RETRY, 0.5);
        assert_eq!(schedule.attempt, 6);
        assert_eq!(schedule.on_online(T0 + 600_001.0), Command::PollNow);
        assert_eq!(schedule.attempt, 0);
        assert_eq!(schedule.on_pageshow(T0 + 600_002.0), Command::PollNow);
    }

    #[test]
    fn refresh_cancels_the_backoff() {
        let mut schedule = started();
        schedule.end(T0, RETRY, 0.5);
        schedule.begin(T0 + 500.0);
        schedule.end(T0 + 600.0, RETRY, 0.5);
        assert_eq!(schedule.attempt, 2);
        assert_eq!(schedule.refresh(T0 + 700.0), Command::PollNow);
        assert_eq!(schedule.attempt, 0);
        schedule.begin(T0 + 700.0);
        assert_eq!(schedule.end(T0 + 800.0, RETRY, 0.999_999), Some(1_000));
    }

    #[test]
    fn staleness_by_age() {
        let mut schedule = PollSchedule::new(60_000);
        assert!(!schedule.is_stale(T0), "nothing yet is loading, not stale");
        schedule.on_visibility_change(false, T0, 0.5);
        schedule.start_poll(T0);
        schedule.end(T0, Outcome::Fresh, 0.5);
        assert!(!schedule.is_stale(T0 + 120_000.0));
        assert!(schedule.is_stale(T0 + 120_001.0));
        assert_eq!(schedule.age_ms(T0 - 5_000.0), Some(0), "a clock set back");
    }

    /// A day on a fake clock with a flaky server (one poll in ten fails): one
    /// poll at a time, never sooner than the interval less its jitter after a
    /// success, and about one poll per interval overall.
    #[test]
    fn a_day_on_a_fake_clock() {
        let mut schedule = PollSchedule::new(60_000);
        let mut now = T0;
        let mut seed = 42u64;
        let mut random = move || {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut command = schedule.on_visibility_change(false, now, 0.5);
        let (mut polls, mut shortest_healthy_gap, mut last_poll) = (0, f64::MAX, f64::MIN);
        let mut last_was_fresh = false;
        let end = T0 + 86_400_000.0;
        while now < end {
            match command {
                Command::PollNow => {
                    schedule.begin(now);
                    assert_eq!(schedule.start_poll(now), None, "second poll in flight");
                    polls += 1;
                    if last_was_fresh {
                        shortest_healthy_gap = shortest_healthy_gap.min(now - last_poll);
                    }
                    last_poll = now;
                    now += 200.0;
                    last_was_fresh = random() >= 0.1;
                    let outcome = if last_was_fresh {
                        Outcome::Fresh
                    } else {
                        RETRY
                    };
                    command = match schedule.end(now, outcome, random()) {
                        Some(0) => Command::PollNow,
                        Some(ms) => Command::WaitMs(ms),
                        None => Command::Idle,
                    };
                }
                Command::WaitMs(ms) => {
                    now += ms as f64;
                    command = Command::PollNow;
                }
                Command::Idle => unreachable!("visible the whole day"),
            }
        }
        assert!((1_300..1_700).contains(&polls), "{polls}");
        // Timed from the end of the last poll (200 ms), less 10 % jitter at most.
        assert!(
            shortest_healthy_gap >= 200.0 + 54_000.0,
            "{shortest_healthy_gap}"
        );
        assert!(
            shortest_healthy_gap < 200.0 + 56_000.0,
            "jitter never went low"
        );
    }
}
