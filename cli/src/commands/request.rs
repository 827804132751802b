//! `alloc request`, `alloc release`, `alloc extend`: changing allocations.

use std::time::{Duration, SystemTime};

use serde_json::json;

use std::sync::mpsc;

use super::queue::{self, Waited};
use super::Context;
use crate::args::RequestArgs;
use crate::client::new_idempotency_key;
use crate::failure::{Exit, Failure};
use crate::job;
use crate::render;
use crate::text::printable;

/// `alloc request`: the process's exit status (128 + the signal when a
/// wait in line was interrupted).
pub fn request(context: &Context, args: &RequestArgs) -> Result<u8, Failure> {
    let body = context.allocation_request(&args.ask, args.ttl)?;
    let waited = match args.ask.wait {
        None => Waited::Granted(context.client.allocate(&body, &new_idempotency_key())?),
        Some(_) => {
            let (events, inbox) = mpsc::channel();
            let signals = job::catch_signals(events.clone())
                .map_err(|error| Failure::Local(format!("cannot catch signals: {error}")))?;
            let waited = queue::ask(context, &body, events, &inbox);
            signals.close();
            waited?
        }
    };
    let allocation = match waited {
        Waited::Granted(allocation) => allocation,
        Waited::Left { signal } => return Ok(job::ended_by(signal)),
    };
    if context.json {
        context.print_json(&allocation);
    } else if args.quiet {
        for unit in &allocation.resources {
            crate::out!("{}", printable(unit));
        }
    } else {
        crate::out!("{}", render::granted(&allocation, SystemTime::now()));
    }
    Ok(Exit::Done.code())
}

/// Releases each one; a failure does not stop the others. The exit code is
/// the first failure's.
pub fn release(context: &Context, ids: &[String]) -> Result<Exit, Failure> {
    let mut released = Vec::new();
    let mut failed = Vec::new();
    for id in ids {
        match context.client.release(id) {
            Ok(()) => released.push(id.as_str()),
            Err(failure) => failed.push((id.as_str(), failure)),
        }
    }
    if context.json {
        let failed: Vec<_> = failed
            .iter()
            .map(|(id, failure)| json!({"id": id, "error": failure.to_json()["error"]}))
            .collect();
        context.print_json(&json!({"released": released, "failed": failed}));
    } else {
        for id in &released {
            crate::out!("Released {}.", printable(id));
        }
        for (id, failure) in &failed {
            crate::err!("alloc: could not release {}: {failure}", printable(id));
        }
    }
    Ok(failed
        .first()
        .map_or(Exit::Done, |(_, failure)| failure.exit()))
}

pub fn extend(context: &Context, id: &str, ttl: Duration) -> Result<Exit, Failure> {
    let allocation = context.client.renew(id, ttl)?;
    if context.json {
        context.print_json(&allocation);
    } else {
        crate::out!("{}", render::extended(&allocation, SystemTime::now()));
    }
    Ok(Exit::Done)
}
