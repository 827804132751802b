//! `alloc pools`, `alloc ls`, `alloc show`: reading only.

use std::time::SystemTime;

use crate::args::LsArgs;
use crate::client::Fresh;
use crate::failure::{Exit, Failure};
use crate::render;

pub fn pools(context: &Context) -> Result<Exit, Failure> {
    let usage = match context.client.usage(None)? {
        Fresh::Changed { value, .. } => value,
        // Asked without a tag: a 304 is the server's mistake.
        Fresh::Unchanged => {
            return Err(Failure::Unreadable("304 to a request without a tag".into()))
        }
    };
    if context.json {
        context.print_json(&usage);
    } else {
        crate::out!("{}", render::pools_table(&usage.pools));
    }
    Ok(Exit::Done)
}

pub fn ls(context: &Context, args: &LsArgs) -> Result<Exit, Failure> {
    let owner = if args.mine {
        Some(context.owner(None)?)
    } else {
        args.owner.clone()
    };
    let mut listing = context.client.allocations(owner.as_deref())?;
    if let Some(pool) = &args.pool {
        listing
            .allocations
            .retain(|allocation| &allocation.pool == pool);
    }
    if context.json {
        context.print_json(&listing);
    } else {
        let table = render::allocations_table(&listing.allocations, SystemTime::now());
        crate::out!("{table}");
    }
    Ok(Exit::Done)
}

pub fn show(context: &Context, id: &str) -> Result<Exit, Failure> {
    let allocation = context.client.allocation(id)?;
    if context.json {
        context.print_json(&allocation);
    } else {
        crate::out!(
            "{}",
            render::allocation_details(&allocation, SystemTime::now())
        );
    }
    Ok(Exit::Done)
}

use super::Context;
