//! When a ticket you waited on is granted: which answer is a grant, the words
//! that say it (live region, page title, notification), and how long each
//! place keeps the news before the reader has seen it.

use allocation_contract::{Ticket, TicketStatus};

use crate::format::format_units;
use crate::i18n::{ticket_ready_message, CountText, Lang};

/// A waited ticket's grant, ready to tell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketReady {
    /// The new allocation, whose row is highlighted.
    pub allocation_id: String,
    /// `Your 2 GPU on A100 GPU are ready`.
    pub words: String,
    /// The granted units, shortened (`gpu-a100-03, gpu-a100-04`).
    pub units: String,
}

/// What `ticket` (as `GET /queue/{id}` answered, once it left the line)
/// brings: a grant to tell, or nothing (cancelled, timed out, still
/// waiting, or a grant without its allocation). `pool` is the pool's name
/// and unit as the console knows them; an empty name falls back to the id.
pub fn ticket_ready(
    lang: Lang,
    ticket: &Ticket,
    (name, unit): (&str, &str),
    count: CountText,
) -> Option<TicketReady> {
    let allocation = ticket.allocation.as_ref()?;
    if ticket.status != TicketStatus::Granted {
        return None;
    }
    let pool = if name.is_empty() { &ticket.pool } else { name };
    Some(TicketReady {
        allocation_id: allocation.id.clone(),
        words: ticket_ready_message(lang, ticket.amount, unit, pool, count),
        units: format_units(&allocation.resources),
    })
}

/// Where a grant's news is shown until the reader has seen it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NewsPlace {
    /// The page title, which a reader on another tab sees.
    Title,
    /// The new allocation's highlighted row, which a reader on the page sees.
    Row,
}

/// A sign that the reader is at the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReaderSign {
    /// The tab became visible again, or the window took the focus.
    CameBack,
    /// A key or a pointer press on the page.
    Acted,
}

impl NewsPlace {
    /// Whether this sign means the news here has been seen: the title as
    /// soon as the reader is back (they are looking at the page now); the
    /// row only once they act, so coming back still shows which row is new.
    pub fn seen_by(self, sign: ReaderSign) -> bool {
        match self {
            NewsPlace::Title => true,
            NewsPlace::Row => sign == ReaderSign::Acted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(_: Lang, n: u64) -> String {
        n.to_string()
    }

    fn ticket(status: &str, allocation: bool) -> Ticket {
        let allocation = allocation.then(|| {
            serde_json::json!({
                "id": "al_1", "pool": "gpu-a100", "amount": 2, "owner": "alice",
                "resources": ["gpu-a100-03", "gpu-a100-04"], "status": "active",
                "created_at": "2026-11-26T10:05:00Z"
            })
        });
        serde_json::from_value(serde_json::json!({
            "id": "tk_1", "pool": "gpu-a100", "amount": 2, "owner": "alice",
            "status": status, "position": null, "created_at": "2026-11-26T10:00:00Z",
            "wait_until": "2026-11-26T11:00:00Z", "allocation": allocation
        }))
        .unwrap()
    }

    #[test]
    fn a_granted_ticket_is_told_with_its_allocation_and_units() {
        let ready = ticket_ready(
            Lang::En,
            &ticket("granted", true),
            ("A100 GPU", "GPU"),
            count,
        );
        assert_eq!(
            ready,
            Some(TicketReady {
                allocation_id: "al_1".into(),
                words: "Your 2 GPU on A100 GPU are ready".into(),
                units: "gpu-a100-03, gpu-a100-04".into(),
            })
        );
        let korean = ticket_ready(Lang::Ko, &ticket("granted", true), ("", "GPU"), count);
        assert_eq!(
            korean.unwrap().words,
            "gpu-a100의 2 GPU이(가) 준비되었습니다",
            "without a known name, the pool's id"
        );
    }

    #[test]
    fn only_a_grant_with_its_allocation_is_news() {
        for status in ["waiting", "cancelled", "timed_out"] {
            assert_eq!(
                ticket_ready(Lang::En, &ticket(status, false), ("A100 GPU", "GPU"), count),
                None,
                "{status}"
            );
        }
        assert_eq!(
            ticket_ready(
                Lang::En,
                &ticket("granted", false),
                ("A100 GPU", "GPU"),
                count
            ),
            None
        );
    }

    #[test]
    fn the_title_goes_when_the_reader_is_back_the_row_when_they_act() {
        assert!(NewsPlace::Title.seen_by(ReaderSign::CameBack));
        assert!(NewsPlace::Title.seen_by(ReaderSign::Acted));
        assert!(!NewsPlace::Row.seen_by(ReaderSign::CameBack));
        assert!(NewsPlace::Row.seen_by(ReaderSign::Acted));
    }
}
