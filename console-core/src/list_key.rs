//! The key of an item in a keyed list (`<For>`): the parts that, when one
//! changes, redraw the item. Every keyed list in the console keys by this one
//! type, `String`, so the keyed diffing is compiled once (docs/decisions.md).

/// `parts` joined without ambiguity: each is prefixed by its length, so
/// `["a:", "b"]` and `["a", ":b"]` differ.
pub fn list_key(parts: &[&str]) -> String {
    let mut key = String::new();
    for part in parts {
        key.push_str(&part.len().to_string());
        key.push(':');
        key.push_str(part);
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_whenever_a_part_does() {
        assert_eq!(list_key(&["al_1", ""]), list_key(&["al_1", ""]));
        assert_ne!(list_key(&["al_1", ""]), list_key(&["al_1", "2026-11-26"]));
        assert_ne!(list_key(&["a:", "b"]), list_key(&["a", ":b"]));
        assert_ne!(list_key(&["a\0", "b"]), list_key(&["a", "\0b"]));
        assert_ne!(list_key(&["ab"]), list_key(&["a", "b"]));
    }
}
