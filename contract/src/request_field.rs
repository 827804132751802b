//! The members of a `POST /allocations` body, by name: the console's form
//! fields, the server's field errors and the readers all use these.

/// One member of an [`AllocationRequest`](crate::AllocationRequest) (the
/// `ttl_seconds` of a renewal too).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RequestField {
    Pool,
    Amount,
    Owner,
    TtlSeconds,
    Note,
    WaitSeconds,
}

impl RequestField {
    /// Every member, in the body's order.
    pub const ALL: [RequestField; 6] = [
        RequestField::Pool,
        RequestField::Amount,
        RequestField::Owner,
        RequestField::TtlSeconds,
        RequestField::Note,
        RequestField::WaitSeconds,
    ];

    /// The member's name on the wire (and in a field error's `field`).
    pub fn name(self) -> &'static str {
        match self {
            RequestField::Pool => "pool",
            RequestField::Amount => "amount",
            RequestField::Owner => "owner",
            RequestField::TtlSeconds => "ttl_seconds",
            RequestField::Note => "note",
            RequestField::WaitSeconds => "wait_seconds",
        }
    }

    /// The member named `name` on the wire, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|field| field.name() == name)
    }

    /// The longest text the member may hold, in characters, for those the
    /// contract limits (a form's `maxlength`).
    pub fn max_chars(self) -> Option<usize> {
        match self {
            RequestField::Owner => Some(crate::OWNER_MAX_CHARS),
            RequestField::Note => Some(crate::NOTE_MAX_CHARS),
            RequestField::Pool
            | RequestField::Amount
            | RequestField::TtlSeconds
            | RequestField::WaitSeconds => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AllocationRequest;

    #[test]
    fn names_are_the_members_of_the_request_body() {
        let request = AllocationRequest {
            pool: "vm".into(),
            amount: 1,
            owner: "bob".into(),
            ttl_seconds: Some(60),
            note: Some("n".into()),
            wait_seconds: Some(600),
        };
        let body = serde_json::to_value(&request).unwrap();
        let members: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut names: Vec<&str> = RequestField::ALL.iter().map(|f| f.name()).collect();
        names.sort_unstable();
        assert_eq!(members, names);
        for field in RequestField::ALL {
            assert_eq!(RequestField::from_name(field.name()), Some(field));
        }
        assert_eq!(RequestField::from_name("Pool"), None);
        assert_eq!(RequestField::Owner.max_chars(), Some(64));
        assert_eq!(RequestField::Note.max_chars(), Some(500));
    }
}
