//! Which of your waiting tickets the queue no longer holds: granted,
//! cancelled or timed out, so worth asking the server which.

use allocation_contract::Queue;

/// The ids in `yours` that `queue` no longer lists, in `yours`' order.
pub fn left_the_line<'a>(yours: &'a [String], queue: &Queue) -> Vec<&'a str> {
    yours
        .iter()
        .filter(|id| !queue.tickets.iter().any(|t| &t.id == *id))
        .map(String::as_str)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(ids: &[&str]) -> Queue {
        let tickets = ids
            .iter()
            .map(|id| {
                serde_json::from_value(serde_json::json!({
                    "id": id, "pool": "gpu", "amount": 1, "owner": "a", "status": "waiting",
                    "position": 1, "created_at": "t", "wait_until": "t"
                }))
                .unwrap()
            })
            .collect();
        Queue {
            as_of: "t".into(),
            tickets,
        }
    }

    #[test]
    fn tickets_no_longer_in_the_queue_have_left_the_line() {
        let yours = vec!["tk_1".to_owned(), "tk_2".to_owned(), "tk_3".to_owned()];
        assert_eq!(
            left_the_line(&yours, &queue(&["tk_2", "tk_9"])),
            ["tk_1", "tk_3"]
        );
        assert!(left_the_line(&yours, &queue(&["tk_3", "tk_2", "tk_1"])).is_empty());
        assert!(left_the_line(&[], &queue(&[])).is_empty());
    }
}
