//! One poller per endpoint for the script-embedded consoles of a page: the
//! instances that poll the same endpoint, with the same credentials mode and
//! interval, share one poller and so one set of requests; others have their
//! own. A poller lives in a reactive root of its own while any instance uses
//! it; when the last one goes, its timer and listeners go too.

use std::cell::RefCell;

use leptos::prelude::*;

use crate::core::config::{Config, Credentials};
use crate::transport::Api;
use crate::ui::monitor::poller::Poller;

/// What makes two instances' requests the same.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PollerKey {
    endpoint: String,
    credentials: Credentials,
    interval_secs: u32,
}

impl PollerKey {
    pub fn of(config: &Config) -> Self {
        PollerKey {
            endpoint: config.endpoint.clone(),
            credentials: config.credentials,
            interval_secs: config.interval_secs,
        }
    }
}

struct Shared {
    key: PollerKey,
    poller: Poller,
    owner: Owner,
    users: usize,
}

thread_local! {
    static POLLERS: RefCell<Vec<Shared>> = const { RefCell::new(Vec::new()) };
}

/// The running poller for `config`'s key, started on first use. Call it
/// outside any reactive owner (the poller must outlive the instance that
/// started it), and [`release`] once per call.
pub fn acquire(config: &Config) -> Poller {
    let key = PollerKey::of(config);
    POLLERS.with(|pollers| {
        let mut pollers = pollers.borrow_mut();
        if let Some(shared) = pollers.iter_mut().find(|s| s.key == key) {
            shared.users += 1;
            return shared.poller;
        }
        let owner = Owner::new();
        let poller = owner.with(|| {
            let poller = Poller::new(Api::new(config), config.interval_secs);
            poller.start();
            poller
        });
        pollers.push(Shared {
            key,
            poller,
            owner,
            users: 1,
        });
        poller
    })
}

/// One instance of `key` is gone; the last one stops the poller.
pub fn release(key: &PollerKey) {
    let unused = POLLERS.with(|pollers| {
        let mut pollers = pollers.borrow_mut();
        let index = pollers.iter().position(|s| &s.key == key)?;
        pollers[index].users -= 1;
        (pollers[index].users == 0).then(|| pollers.remove(index))
    });
    // Outside the borrow: cleaning up runs the poller's own cleanups.
    if let Some(shared) = unused {
        shared.owner.cleanup();
    }
}
