//! Waiting in line (`--wait`): what a ticket's state means for the waiter,
//! how long to hold each look, and the place in words. Pure.

use std::time::{Duration, SystemTime};

use allocation_contract::{Allocation, Ticket, TicketStatus, PREFER_WAIT_MAX_SECONDS};

use crate::text::{printable, relative_time};

/// Where the waiter stands after a look at the ticket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Standing {
    Granted(Allocation),
    Waiting,
    /// Not served: timed out, cancelled (by someone else, or an admin), or a
    /// status this client does not know.
    NotServed(TicketStatus),
}

pub fn standing(ticket: &Ticket) -> Standing {
    match (ticket.status, &ticket.allocation) {
        (TicketStatus::Waiting, _) => Standing::Waiting,
        (TicketStatus::Granted, Some(allocation)) => Standing::Granted(allocation.clone()),
        (status, _) => Standing::NotServed(status),
    }
}

/// Seconds to hold the next look (`Prefer: wait=N`): the server's most,
/// but not much past the ticket's `wait_until`, and at least one.
pub fn hold_seconds(ticket: &Ticket, now: SystemTime) -> u64 {
    let left = humantime::parse_rfc3339_weak(&ticket.wait_until)
        .ok()
        .and_then(|until| until.duration_since(now).ok())
        .unwrap_or(Duration::ZERO);
    (left.as_secs() + 1).clamp(1, PREFER_WAIT_MAX_SECONDS)
}

/// `1st`, `2nd`, `3rd`, `4th`, `11th`, `21st`, `112th`.
pub fn ordinal(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// "2nd in line for 2 of gpu-a100, expected by 10:14:00 UTC (in 14m)" (or
/// why there is no estimate). The clock time stays true on a spinner that
/// shows it for a minute; the relative part is as of `now`.
pub fn place_in_words(ticket: &Ticket, now: SystemTime) -> String {
    let place = match ticket.position {
        Some(position) => format!("{} in line", ordinal(position)),
        None => "in line".to_owned(),
    };
    let estimate = match &ticket.estimated_grant_at {
        Some(at) => format!(
            "expected by {} ({})",
            clock_time(at),
            relative_time(at, now)
        ),
        None => "no estimate: an allocation ahead has no expiry".to_owned(),
    };
    format!(
        "{place} for {} of {}, {estimate}",
        ticket.amount,
        printable(&ticket.pool)
    )
}

/// `10:14:00 UTC` for an RFC 3339 time (the time itself when unreadable).
fn clock_time(time: &str) -> String {
    match humantime::parse_rfc3339_weak(time) {
        Ok(at) => {
            let utc = humantime::format_rfc3339_seconds(at).to_string();
            format!("{} UTC", &utc[11..19])
        }
        Err(_) => printable(time).into_owned(),
    }
}

/// Why waiting ended without a grant, in words.
pub fn not_served_words(ticket_id: &str, status: TicketStatus) -> String {
    let why = match status {
        TicketStatus::TimedOut => "was not served before the wait ran out",
        TicketStatus::Cancelled => "was cancelled",
        _ => "ended without a grant",
    };
    format!("ticket {} {why}", printable(ticket_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(json: serde_json::Value) -> Ticket {
        let mut base = serde_json::json!({
            "id": "tk_1", "pool": "gpu-a100", "amount": 2, "owner": "ann",
            "status": "waiting", "position": 2, "created_at": "2026-11-26T10:00:00Z",
            "wait_until": "2026-11-26T10:30:00Z", "estimated_grant_at": "2026-11-26T10:14:00Z",
        });
        for (key, value) in json.as_object().unwrap() {
            base[key] = value.clone();
        }
        serde_json::from_value(base).unwrap()
    }

    fn at(time: &str) -> SystemTime {
        humantime::parse_rfc3339(time).unwrap()
    }

    #[test]
    fn a_place_reads_as_a_sentence() {
        let now = at("2026-11-26T10:00:00Z");
        assert_eq!(
            place_in_words(&ticket(serde_json::json!({})), now),
            "2nd in line for 2 of gpu-a100, expected by 10:14:00 UTC (in 14m)"
        );
        let unknown = ticket(serde_json::json!({"estimated_grant_at": null, "position": 1}));
        assert_eq!(
            place_in_words(&unknown, now),
            "1st in line for 2 of gpu-a100, no estimate: an allocation ahead has no expiry"
        );
    }

    #[test]
    fn ordinals_in_english() {
        let said: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111, 112]
            .map(ordinal)
            .to_vec();
        assert_eq!(
            said,
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st",
                "111th", "112th"
            ]
        );
    }

    #[test]
    fn looks_are_held_up_to_a_minute_and_not_long_past_the_wait() {
        let waiting = ticket(serde_json::json!({}));
        assert_eq!(hold_seconds(&waiting, at("2026-11-26T10:00:00Z")), 60);
        assert_eq!(hold_seconds(&waiting, at("2026-11-26T10:29:50Z")), 11);
        assert_eq!(hold_seconds(&waiting, at("2026-11-26T11:00:00Z")), 1);
    }

    #[test]
    fn a_grant_brings_its_allocation_and_the_rest_are_not_served() {
        let granted = ticket(serde_json::json!({"status": "granted", "position": null,
            "allocation": {"id": "al_1", "pool": "gpu-a100", "amount": 2, "owner": "ann",
            "resources": ["g1", "g2"], "status": "active", "created_at": "2026-11-26T10:05:00Z"}}));
        assert!(matches!(standing(&granted), Standing::Granted(a) if a.resources == ["g1", "g2"]));
        assert_eq!(standing(&ticket(serde_json::json!({}))), Standing::Waiting);
        let late = ticket(serde_json::json!({"status": "timed_out"}));
        assert_eq!(standing(&late), Standing::NotServed(TicketStatus::TimedOut));
        assert_eq!(
            not_served_words("tk_1", TicketStatus::TimedOut),
            "ticket tk_1 was not served before the wait ran out"
        );
    }
}
