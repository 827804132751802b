//! The request form and its labelled fields.

pub mod form_field;
pub mod request_fields;
pub mod request_form;
pub mod waited_tickets;
