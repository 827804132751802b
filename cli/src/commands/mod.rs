//! One file per command, each a thin shell over [`crate::client`] and
//! [`crate::render`]: read the arguments, call, print.

mod demo;
mod listing;
mod queue;
mod request;
mod run;
mod watch;

use std::sync::Arc;
use std::time::Duration;

use allocation_contract::{validate_request, AllocationRequest};
use serde::Serialize;

use crate::args::{Ask, Cli, Command, Global};
use crate::client::Client;
use crate::failure::{Exit, Failure};
use crate::http::Ureq;

/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What every command has: the client and the output form.
pub struct Context {
    pub client: Client,
    pub json: bool,
    endpoint: String,
    token: Option<String>,
}

impl Context {
    pub fn connect(global: &Global) -> Result<Context, Failure> {
        let endpoint = global.endpoint.trim_end_matches('/').to_owned();
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(Failure::BadUsage(format!(
                "--endpoint {endpoint:?} is not an http:// or https:// URL"
            )));
        }
        let token = token(global)?;
        let transport = Ureq::new(&endpoint, token.as_deref(), REQUEST_TIMEOUT);
        Ok(Context {
            client: Client::new(Arc::new(transport)),
            json: global.json,
            endpoint,
            token,
        })
    }

    /// The same server with another per-request deadline.
    pub fn client_with_timeout(&self, timeout: Duration) -> Client {
        Client::new(Arc::new(Ureq::new(
            &self.endpoint,
            self.token.as_deref(),
            timeout,
        )))
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Prints `value` as one line of JSON on stdout.
    pub fn print_json(&self, value: &impl Serialize) {
        crate::out!("{}", serde_json::to_string(value).unwrap_or_default());
    }

    /// Whose allocations these are: the one named, else the caller as the
    /// server knows them (`/me`), else the login name.
    pub fn owner(&self, named: Option<&str>) -> Result<String, Failure> {
        if let Some(owner) = named {
            return Ok(owner.to_owned());
        }
        if let Some(name) = self.client.me()?.name {
            return Ok(name);
        }
        ["USER", "LOGNAME"]
            .iter()
            .find_map(|key| std::env::var(key).ok().filter(|name| !name.is_empty()))
            .ok_or_else(|| {
                Failure::BadUsage(
                    "the server does not know who you are: say whose it is with --owner".into(),
                )
            })
    }

    /// The `POST /allocations` body for `ask`, checked by the contract's
    /// rules before anything is sent.
    pub fn allocation_request(
        &self,
        ask: &Ask,
        ttl: Option<Duration>,
    ) -> Result<AllocationRequest, Failure> {
        let request = AllocationRequest {
            pool: ask.pool.clone(),
            amount: ask.amount,
            owner: self.owner(ask.owner.as_deref())?,
            ttl_seconds: ttl.map(|ttl| ttl.as_secs().min(i64::MAX as u64) as i64),
            note: ask.note.clone(),
            wait_seconds: ask
                .wait
                .map(|wait| wait.as_secs().min(i64::MAX as u64) as i64),
        };
        let issues = validate_request(&request, None);
        if issues.is_empty() {
            return Ok(request);
        }
        let words: Vec<String> = issues
            .iter()
            .map(|issue| format!("{}: {}", issue.field().name(), issue.message()))
            .collect();
        Err(Failure::BadUsage(words.join("; ")))
    }
}

/// The bearer token: `--token-file`'s first line, else `ALLOC_TOKEN`.
fn token(global: &Global) -> Result<Option<String>, Failure> {
    match &global.token_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|error| {
                Failure::BadUsage(format!(
                    "cannot read --token-file {}: {error}",
                    path.display()
                ))
            })?;
            let token = text.lines().next().unwrap_or_default().trim().to_owned();
            if token.is_empty() {
                return Err(Failure::BadUsage(format!(
                    "--token-file {} is empty",
                    path.display()
                )));
            }
            Ok(Some(token))
        }
        None => Ok(std::env::var("ALLOC_TOKEN")
            .ok()
            .map(|token| token.trim().to_owned())
            .filter(|token| !token.is_empty())),
    }
}

/// Runs the command; the process's exit status.
pub fn dispatch(cli: Cli) -> Result<u8, Failure> {
    let context = Context::connect(&cli.global)?;
    let done = |exit: Result<Exit, Failure>| exit.map(Exit::code);
    match cli.command {
        Command::Pools => done(listing::pools(&context)),
        Command::Request(args) => request::request(&context, &args),
        Command::Ls(args) => done(listing::ls(&context, &args)),
        Command::Show { id } => done(listing::show(&context, &id)),
        Command::Queue { pool } => done(queue::queue(&context, pool.as_deref())),
        Command::Release { ids } => done(request::release(&context, &ids)),
        Command::Extend { id, ttl } => done(request::extend(&context, &id, ttl)),
        Command::Watch { interval } => done(watch::watch(&context, interval)),
        Command::Run(args) => run::run(&context, &args),
        Command::Demo(args) => done(demo::demo(&context, &args)),
    }
}
