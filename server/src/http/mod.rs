//! The HTTP side: the `/api/v1` routes and their layers ([`api`]), reading
//! requests ([`extractors`], [`request_body`]), the one error type ([`error`]), the
//! queue's routes ([`queue`]), the event log ([`events`]), conditional
//! requests ([`etag`]), the `Host` allow-list ([`host`]), the connection
//! loop ([`serve`]), the console's files ([`static_files`]) and
//! `/metrics` with request ids ([`telemetry`]).

pub mod api;
pub mod error;
pub mod etag;
pub mod events;
pub mod extractors;
pub mod host;
pub mod queue;
pub mod request_body;
pub mod serve;
pub mod static_files;
pub mod telemetry;
