//! `alloc queue`, and waiting in line for `request --wait` / `run --wait`:
//! follow the ticket with `Prefer: wait` until granted, not served, or a
//! signal (which leaves the line first).

use std::io::IsTerminal;
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, SystemTime};

use allocation_contract::{problem_type, Allocation, AllocationRequest, Ticket};
use comfy_table::{presets, Table};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use super::Context;
use crate::client::{new_idempotency_key, Client, Grant};
use crate::failure::{Exit, Failure};
use crate::job::Event;
use crate::text::{printable, relative_time};
use crate::waiting::{hold_seconds, not_served_words, place_in_words, standing, Standing};

pub fn queue(context: &Context, pool: Option<&str>) -> Result<Exit, Failure> {
    let queue = context.client.queue(pool)?;
    if context.json {
        context.print_json(&queue);
    } else if queue.tickets.is_empty() {
        crate::out!("Nobody is waiting.");
    } else {
        crate::out!("{}", tickets_table(&queue.tickets, SystemTime::now()));
    }
    Ok(Exit::Done)
}

fn tickets_table(tickets: &[Ticket], now: SystemTime) -> String {
    let mut table = Table::new();
    table.load_preset(presets::NOTHING).set_header([
        "#", "TICKET", "POOL", "AMOUNT", "OWNER", "WAITING", "EXPECTED",
    ]);
    for ticket in tickets {
        table.add_row(vec![
            ticket.position.map_or(String::new(), |p| p.to_string()),
            printable(&ticket.id).into_owned(),
            printable(&ticket.pool).into_owned(),
            ticket.amount.to_string(),
            printable(&ticket.owner).into_owned(),
            relative_time(&ticket.created_at, now).replace(" ago", ""),
            match &ticket.estimated_grant_at {
                Some(at) => relative_time(at, now),
                None => "no estimate".to_owned(),
            },
        ]);
    }
    table
        .lines()
        .map(|line| line.trim_end().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// How waiting in line ended, when it did not fail.
pub enum Waited {
    Granted(Allocation),
    /// A signal came first; the line was left (or the grant that raced
    /// it released).
    Left {
        signal: i32,
    },
}

/// Asks for `body`; when the server queues it, waits in line.
pub fn ask(
    context: &Context,
    body: &AllocationRequest,
    events: Sender<Event>,
    inbox: &Receiver<Event>,
) -> Result<Waited, Failure> {
    match context.client.request(body, &new_idempotency_key())? {
        Grant::Granted(allocation) => Ok(Waited::Granted(allocation)),
        Grant::Queued(ticket) => wait_in_line(context, *ticket, events, inbox),
    }
}

/// Follows `ticket` until it ends. Looks run on their own thread and come
/// in on `inbox` with the signals, so a Ctrl-C is handled at once.
pub fn wait_in_line(
    context: &Context,
    ticket: Ticket,
    events: Sender<Event>,
    inbox: &Receiver<Event>,
) -> Result<Waited, Failure> {
    let mut progress = Progress::new(context.json);
    progress.show(&ticket);
    let follower = context.client_with_timeout(Duration::from_secs(30));
    let id = ticket.id.clone();
    std::thread::spawn(move || follow(&follower, ticket, &events));
    let ended = loop {
        match inbox.recv() {
            Ok(Event::Ticket(look)) => match *look {
                Ok(ticket) => match standing(&ticket) {
                    Standing::Waiting => progress.show(&ticket),
                    Standing::Granted(allocation) => break Ok(Waited::Granted(allocation)),
                    Standing::NotServed(status) => {
                        break Err(Failure::GaveUp(not_served_words(&id, status)))
                    }
                },
                Err(failure) => {
                    // No longer following it: leave the line if the server
                    // can still hear it, so no grant waits for nobody.
                    let _ = leave_line(&context.client, &id);
                    break Err(failure);
                }
            },
            Ok(Event::Signal { signal, .. }) => {
                progress.finish();
                break leave_line(&context.client, &id).map(|()| Waited::Left { signal });
            }
            Ok(_) => {}
            Err(_) => break Err(Failure::Local("lost track of the ticket".into())),
        }
    };
    progress.finish();
    ended
}

/// Looks at the ticket, each look held until it changes (at most a
/// minute), until it is no longer waiting or a look fails.
fn follow(client: &Client, mut ticket: Ticket, events: &Sender<Event>) {
    loop {
        let hold = hold_seconds(&ticket, SystemTime::now());
        let look = client.ticket(&ticket.id, Some(hold));
        let go_on = matches!(&look, Ok(seen) if !seen.status.is_final());
        if let Ok(seen) = &look {
            ticket = seen.clone();
        }
        if events.send(Event::Ticket(Box::new(look))).is_err() || !go_on {
            return;
        }
    }
}

/// Cancels the ticket; if it was granted meanwhile, releases the grant.
fn leave_line(client: &Client, id: &str) -> Result<(), Failure> {
    match client.leave_line(id) {
        Err(Failure::Refused(problem)) if problem.is(problem_type::TICKET_GRANTED) => {
            match client.ticket(id, None)?.allocation {
                Some(allocation) => client.release(&allocation.id),
                None => Ok(()),
            }
        }
        other => other,
    }
}

/// The place in line as it changes: a spinner on a terminal, a line when
/// it changes otherwise, a JSON line with `--json`; all on stderr.
struct Progress {
    spinner: Option<ProgressBar>,
    json: bool,
    last: String,
}

impl Progress {
    fn new(json: bool) -> Progress {
        let spinner = (!json && std::io::stderr().is_terminal()).then(|| {
            let spinner = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
                spinner.set_style(style);
            }
            spinner.enable_steady_tick(Duration::from_millis(120));
            spinner
        });
        Progress {
            spinner,
            json,
            last: String::new(),
        }
    }

    fn show(&mut self, ticket: &Ticket) {
        let words = place_in_words(ticket, SystemTime::now());
        if words == self.last {
            return;
        }
        match &self.spinner {
            Some(spinner) => spinner.set_message(words.clone()),
            None if self.json => crate::err!("{}", json!({"event": "waiting", "ticket": ticket})),
            None => crate::err!("alloc: {} ({})", words, printable(&ticket.id)),
        }
        self.last = words;
    }

    fn finish(&mut self) {
        if let Some(spinner) = self.spinner.take() {
            spinner.finish_and_clear();
        }
    }
}
