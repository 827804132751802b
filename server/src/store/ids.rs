//! Allocation ids: `al_`, 8 random base-62 characters, then the row's `seq`.

use rand::Rng;

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const ID_RANDOM_CHARS: usize = 8;

/// `al_`, 8 random base-62 characters, then the row's `seq` in base 62. The
/// row is found by `seq` (the table's own key), so ids need no index of their
/// own: one random-position index less to write on every insert.
pub fn allocation_id(seq: i64) -> String {
    let mut rng = rand::rng();
    let mut id: String = "al_".to_owned();
    id.extend((0..ID_RANDOM_CHARS).map(|_| BASE62[rng.random_range(0..BASE62.len())] as char));
    let mut digits = Vec::new();
    let mut rest = seq.max(0) as u64;
    loop {
        digits.push(BASE62[(rest % 62) as usize] as char);
        rest /= 62;
        if rest == 0 {
            break;
        }
    }
    id.extend(digits.into_iter().rev());
    id
}

/// The `seq` an id from [`allocation_id`] names (the whole id is still compared).
pub fn seq_of(id: &str) -> Option<i64> {
    let digits = id.strip_prefix("al_")?.get(ID_RANDOM_CHARS..)?;
    if digits.is_empty() || digits.len() > 10 {
        return None;
    }
    digits.bytes().try_fold(0i64, |seq, byte| {
        let digit = BASE62.iter().position(|&b| b == byte)? as i64;
        seq.checked_mul(62)?.checked_add(digit)
    })
}

/// A ticket's id: as an allocation's, with `tk_` (its `seq` is the
/// ticket row's).
pub fn ticket_id(seq: i64) -> String {
    format!("tk_{}", &allocation_id(seq)[3..])
}

/// The `seq` a [`ticket_id`] carries.
pub fn ticket_seq_of(id: &str) -> Option<i64> {
    seq_of(&format!("al_{}", id.strip_prefix("tk_")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_row_and_look_opaque() {
        for seq in [1, 61, 62, 3_844, 1 << 40] {
            let id = allocation_id(seq);
            assert!(
                id.starts_with("al_") && id.len() > 3 + ID_RANDOM_CHARS,
                "{id}"
            );
            assert!(id[3..].bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
            assert_eq!(seq_of(&id), Some(seq), "{id}");
        }
        assert_ne!(allocation_id(5), allocation_id(5));
        let ticket = ticket_id(3_844);
        assert!(ticket.starts_with("tk_"), "{ticket}");
        assert_eq!(ticket_seq_of(&ticket), Some(3_844));
        assert_eq!(
            ticket_seq_of(&allocation_id(7)),
            None,
            "an allocation's id is not a ticket's"
        );
        assert_eq!(seq_of(&ticket), None);
        for bad in [
            "",
            "al_",
            "al_short",
            "xx_abcdefgh1",
            "al_abcdefgh-",
            "al_abcdefghZZZZZZZZZZZZ",
        ] {
            assert_eq!(seq_of(bad), None, "{bad}");
        }
    }
}
