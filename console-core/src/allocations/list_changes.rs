//! What a new list of active allocations says happened since the last one,
//! in counts, for the live region. Both lists are newest first (the contract),
//! so new grants are the ones in front of the previous newest.

/// `(granted, ended)` between two lists of allocation ids: ended counts
/// releases and expiries.
pub fn list_changes(before: &[impl AsRef<str>], after: &[impl AsRef<str>]) -> (usize, usize) {
    let granted = match before.first() {
        Some(newest) => after
            .iter()
            .position(|a| a.as_ref() == newest.as_ref())
            // The old newest is gone too: everything in front is new, or the
            // lists share nothing and every current one counts as new.
            .unwrap_or_else(|| {
                after
                    .iter()
                    .position(|a| before.iter().take(8).any(|b| b.as_ref() == a.as_ref()))
                    .unwrap_or(after.len())
            }),
        None => after.len(),
    };
    let ended = (before.len() + granted).saturating_sub(after.len());
    (granted, ended)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(ids: &[&'static str]) -> Vec<&'static str> {
        ids.to_vec()
    }

    #[test]
    fn grants_come_in_front_and_ends_leave_gaps() {
        assert_eq!(
            list_changes(&list(&["c", "b", "a"]), &list(&["c", "b", "a"])),
            (0, 0)
        );
        assert_eq!(
            list_changes(&list(&["c", "b", "a"]), &list(&["e", "d", "c", "a"])),
            (2, 1)
        );
        assert_eq!(
            list_changes(&list(&["c", "b", "a"]), &list(&["b", "a"])),
            (0, 1)
        );
        assert_eq!(
            list_changes(&list(&["c", "b", "a"]), &list(&["d", "b", "a"])),
            (1, 1)
        );
        assert_eq!(list_changes(&list(&["c", "b"]), &list(&[])), (0, 2));
        assert_eq!(list_changes(&list(&[]), &list(&["a"])), (1, 0));
        assert_eq!(list_changes(&list(&["b", "a"]), &list(&["d", "c"])), (2, 2));
    }
}
