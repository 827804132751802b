//! `alloc demo` (hidden): a few named people using the service through the
//! same client as every command, so a first look at the console shows it
//! at work. Only `scripts/start` without arguments runs it, against its
//! own demo database.

use std::time::Duration;

use allocation_contract::{AllocationRequest, Pool};
use rand::seq::IndexedRandom;
use rand::Rng;

use super::Context;
use crate::args::DemoArgs;
use crate::client::{new_idempotency_key, Fresh, Grant};
use crate::failure::{Exit, Failure};

const PEOPLE: [&str; 5] = ["alice", "bob", "carol", "dave", "erin"];
const NOTES: [&str; 5] = [
    "training run",
    "nightly tests",
    "load test",
    "notebook",
    "benchmark",
];

/// What one person does in one round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Take,
    Extend,
    Release,
}

pub fn demo(context: &Context, args: &DemoArgs) -> Result<Exit, Failure> {
    if !is_loopback(context.endpoint()) {
        return Err(Failure::BadUsage(
            "alloc demo makes up users and allocations: it runs only against a server on this \
             machine (a loopback endpoint)"
                .into(),
        ));
    }
    let pace = Duration::from_secs_f64(args.pace.clamp(0.0, 3600.0));
    let mut round = 0;
    while args.rounds.is_none_or(|rounds| round < rounds) {
        if let Err(failure) = one_round(context) {
            if failure.exit() == Exit::NotAllowed {
                return Err(failure);
            }
            crate::err!("demo: {failure}");
        }
        round += 1;
        std::thread::sleep(pace);
    }
    Ok(Exit::Done)
}

/// Whether `endpoint`'s host is this machine: `localhost`, `*.localhost`,
/// `127.0.0.0/8` or `::1`.
fn is_loopback(endpoint: &str) -> bool {
    let rest = endpoint
        .split_once("://")
        .map_or(endpoint, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or("");
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = match host.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or(""),
        None => host.split(':').next().unwrap_or(""),
    }
    .to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn one_round(context: &Context) -> Result<(), Failure> {
    let mut rng = rand::rng();
    let person = *PEOPLE.choose(&mut rng).unwrap_or(&"alice");
    let held = context.client.allocations(Some(person))?.allocations;
    let step = match (held.len(), rng.random_range(0..10)) {
        (0, _) => Step::Take,
        (1..=2, 0..=4) => Step::Take,
        (_, 5..=6) => Step::Extend,
        _ => Step::Release,
    };
    match (step, held.choose(&mut rng)) {
        (Step::Extend, Some(allocation)) => {
            let ttl = Duration::from_secs(rng.random_range(10..=120) * 60);
            context.client.renew(&allocation.id, ttl)?;
            crate::out!(
                "demo: {person} extended {} by {}m",
                allocation.id,
                ttl.as_secs() / 60
            );
        }
        (Step::Release, Some(allocation)) => {
            context.client.release(&allocation.id)?;
            crate::out!(
                "demo: {person} released {} ({} {})",
                allocation.id,
                allocation.amount,
                allocation.pool
            );
        }
        _ => take(context, person)?,
    }
    Ok(())
}

fn take(context: &Context, person: &str) -> Result<(), Failure> {
    let Fresh::Changed { value: usage, .. } = context.client.usage(None)? else {
        return Ok(());
    };
    let mut rng = rand::rng();
    // The GPUs are the scarce pool: most people want them.
    let pool: &Pool = if rng.random_bool(0.6) {
        usage.pools.first()
    } else {
        usage.pools.choose(&mut rng)
    }
    .ok_or_else(|| Failure::Local("the server has no pools".into()))?;
    let most = pool.max_per_request.unwrap_or(8).clamp(1, 8);
    let request = AllocationRequest {
        pool: pool.id.clone(),
        amount: rng.random_range(1..=most) as i64,
        owner: person.to_owned(),
        ttl_seconds: Some(rng.random_range(5..=90) * 60),
        note: NOTES.choose(&mut rng).map(|note| note.to_string()),
        // Some are ready to wait when the pool is full: the queue fills.
        wait_seconds: rng.random_bool(0.5).then(|| rng.random_range(10..=60) * 60),
    };
    match context.client.request(&request, &new_idempotency_key()) {
        Ok(Grant::Granted(granted)) => {
            crate::out!(
                "demo: {person} took {} {} ({})",
                granted.amount,
                granted.pool,
                granted.id
            )
        }
        Ok(Grant::Queued(ticket)) => crate::out!(
            "demo: {person} waits in line for {} {} ({})",
            ticket.amount,
            ticket.pool,
            ticket.id
        ),
        Err(failure) if failure.exit() == Exit::NoCapacity => {
            crate::out!("demo: {person} found {} full", pool.id)
        }
        Err(failure) => return Err(failure),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn the_demo_runs_only_against_this_machine() {
        for here in [
            "http://127.0.0.1:8080/api/v1",
            "http://localhost/api/v1",
            "http://[::1]:9/api",
            "https://demo.localhost",
            "http://127.9.9.9",
        ] {
            assert!(is_loopback(here), "{here}");
        }
        for there in [
            "https://alloc.example/api/v1",
            "http://10.0.0.1:8080",
            "http://127.0.0.1.example.com/",
            "http://localhost@evil.example/",
        ] {
            assert!(!is_loopback(there), "{there}");
        }
    }
}
