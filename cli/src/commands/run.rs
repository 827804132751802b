//! `alloc run POOL AMOUNT -- COMMAND…`: holds an allocation for the
//! command's whole life. Allocate, start, renew while it runs, pass on
//! signals, release when it ends, exit with its status.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use allocation_contract::Allocation;
use serde_json::json;

use super::queue::{self, Waited};
use super::Context;
use crate::args::RunArgs;
use crate::client::Client;
use crate::failure::{Exit, Failure};
use crate::job::{self, Event};
use crate::lease::{Lease, LostLease, Next};
use crate::retry::RetryPolicy;
use crate::text::printable;

pub fn run(context: &Context, args: &RunArgs) -> Result<u8, Failure> {
    let body = context.allocation_request(&args.ask, Some(args.ttl))?;
    let (events, inbox) = mpsc::channel();
    // Caught before allocating, so a Ctrl-C during the request still
    // releases what it granted.
    let signals = job::catch_signals(events.clone())
        .map_err(|error| Failure::Local(format!("cannot catch signals: {error}")))?;
    // A lease granted from the line started later than this: counting from
    // here is on the safe side.
    let sent_at = Instant::now();
    let allocation = match queue::ask(context, &body, events.clone(), &inbox)? {
        Waited::Granted(allocation) => allocation,
        Waited::Left { signal } => return Ok(job::ended_by(signal)),
    };
    say(
        context,
        "granted",
        &allocation.id,
        &granted_words(&allocation),
    );
    let status = match inbox.try_recv() {
        Ok(Event::Signal { signal, .. }) => Ok(job::ended_by(signal)),
        _ => hold(
            context,
            args,
            &allocation,
            Lease::granted(args.ttl, sent_at),
            events,
            &inbox,
        ),
    };
    signals.close();
    release(context, &allocation.id);
    status
}

/// Runs the command while renewing; its exit status.
fn hold(
    context: &Context,
    args: &RunArgs,
    allocation: &Allocation,
    lease: Lease,
    events: Sender<Event>,
    inbox: &Receiver<Event>,
) -> Result<u8, Failure> {
    let env = [
        ("ALLOCATION_ID", allocation.id.clone()),
        ("ALLOCATION_POOL", allocation.pool.clone()),
        ("ALLOCATION_RESOURCES", allocation.resources.join(",")),
    ];
    let pid = job::spawn(&args.command, &env, events.clone()).map_err(|error| {
        let program = args.command[0].to_string_lossy();
        Failure::Local(format!("cannot start {program}: {error}"))
    })?;
    // A renewal must not outlive the lease it renews.
    let timeout = (args.ttl / 4).clamp(Duration::from_secs(1), Duration::from_secs(30));
    // One attempt per renewal: the lease's own schedule does the retrying.
    let client = context
        .client_with_timeout(timeout)
        .with_policy(RetryPolicy::once());
    let renewer = Renewer::start(client, &allocation.id, lease, events);
    let (status, stopped) = supervise(context, pid, args.strict, &allocation.id, inbox);
    renewer.stop();
    if stopped {
        return Err(Failure::Local(format!(
            "stopped the command: the lease on {} was lost",
            printable(&allocation.id)
        )));
    }
    Ok(status)
}

/// Waits for the command's end, passing signals on and stopping it on a
/// lost lease when `strict`. Its status, and whether it was stopped so.
fn supervise(
    context: &Context,
    pid: i32,
    strict: bool,
    id: &str,
    inbox: &Receiver<Event>,
) -> (u8, bool) {
    let mut stopped = false;
    while let Ok(event) = inbox.recv() {
        match event {
            Event::Exited(status) => return (job::status_code(status), stopped),
            Event::Signal {
                signal,
                from_process,
            } => {
                if from_process {
                    job::send_signal(pid, signal);
                }
            }
            // Only `--wait` looks at tickets, and it is over by now.
            Event::Ticket(_) => {}
            Event::LeaseLost(why) => {
                say(context, "lease_lost", id, &lost_words(id, &why, strict));
                if strict {
                    job::send_signal(pid, libc::SIGTERM);
                    stopped = true;
                }
            }
        }
    }
    (Exit::Failed.code(), stopped)
}

/// Renews on the lease's schedule on its own thread, until stopped or the
/// lease is lost (then said as an event).
struct Renewer {
    stop: Sender<()>,
    thread: JoinHandle<()>,
}

impl Renewer {
    fn start(client: Client, id: &str, mut lease: Lease, events: Sender<Event>) -> Renewer {
        let (stop, stopped) = mpsc::channel::<()>();
        let id = id.to_owned();
        let thread = std::thread::spawn(move || {
            let mut next = lease.first_renewal();
            loop {
                let wait = next.saturating_duration_since(Instant::now());
                if stopped.recv_timeout(wait) != Err(RecvTimeoutError::Timeout) {
                    return;
                }
                let sent_at = Instant::now();
                next = match client.renew(&id, lease.ttl()) {
                    Ok(_) => lease.renewed(sent_at),
                    Err(failure) => match lease.failed(failure, Instant::now(), rand::random()) {
                        Next::RenewAt(at) => at,
                        Next::Lost(why) => {
                            let _ = events.send(Event::LeaseLost(why));
                            return;
                        }
                    },
                };
            }
        });
        Renewer { stop, thread }
    }

    fn stop(self) {
        drop(self.stop);
        let _ = self.thread.join();
    }
}

fn release(context: &Context, id: &str) {
    match context.client.release(id) {
        Ok(()) => say(
            context,
            "released",
            id,
            &format!("released {}", printable(id)),
        ),
        Err(failure) => say(
            context,
            "release_failed",
            id,
            &format!("could not release {}: {failure}", printable(id)),
        ),
    }
}

fn granted_words(allocation: &Allocation) -> String {
    format!(
        "holding {} ({} {}: {}) while the command runs",
        printable(&allocation.id),
        allocation.amount,
        printable(&allocation.pool),
        printable(&allocation.resources.join(", "))
    )
}

fn lost_words(id: &str, why: &LostLease, strict: bool) -> String {
    let cause = match why {
        LostLease::Refused(failure) => format!("the server refused to renew it: {failure}"),
        LostLease::Expired => "no renewal got through before it ended".to_owned(),
    };
    let then = if strict {
        "stopping the command (--strict)"
    } else {
        "the command runs on; its units may be given to someone else"
    };
    format!("lost the lease on {}: {cause}; {then}", printable(id))
}

/// A line on stderr (stdout is the command's): words, or with `--json` an
/// object with the event's name.
fn say(context: &Context, event: &str, id: &str, words: &str) {
    if context.json {
        crate::err!("{}", json!({"event": event, "id": id, "message": words}));
    } else {
        crate::err!("alloc: {words}");
    }
}
