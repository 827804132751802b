//! Who the reader is: "Signed in as …", and the token asked for on a `401`.

pub mod signed_in;
pub mod token_prompt;
