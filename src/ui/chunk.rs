//! Code that comes in a wasm chunk of its own (release builds, the `split`
//! feature): the work area, the usage section's extras and the iframe's host
//! bridge. Without `split` (the component tests) each split point is a plain
//! call.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;

/// Calls a split point: with `split` the call fetches its chunk first (the
/// split macro makes it `async`); without, a plain call. Use in an `async`
/// block.
macro_rules! call_split_point {
    ($call:expr) => {{
        #[cfg(feature = "split")]
        let answer = $call.await;
        #[cfg(not(feature = "split"))]
        let answer = $call;
        answer
    }};
}
pub(crate) use call_split_point;

/// A chunk could not be fetched (offline, or the server went away); a later
/// attempt fetches it again.
pub struct ChunkUnavailable;

#[cfg(feature = "split")]
impl From<wasm_split_helpers::SplitLoaderError> for ChunkUnavailable {
    fn from(_: wasm_split_helpers::SplitLoaderError) -> Self {
        ChunkUnavailable
    }
}

/// What a split point gives once its chunk is here: the work to start, run
/// under the owner that asked for it.
pub type Setup = Box<dyn FnOnce()>;

/// A split point's call: its chunk fetched, then its [`Setup`].
pub type ChunkLoad = Pin<Box<dyn Future<Output = Result<Setup, ChunkUnavailable>>>>;

/// A chunk that could not be fetched is asked for again this long after,
/// then twice as long each time, up to [`LAST_RETRY`].
const FIRST_RETRY: Duration = Duration::from_secs(2);
const LAST_RETRY: Duration = Duration::from_secs(60);

/// Starts what `load`'s chunk sets up, under the current owner, once the
/// chunk is here; until then it is asked for again ([`FIRST_RETRY`]). Nothing
/// is started, or asked for again, once the owner is gone.
pub fn run_from_chunk(load: impl Fn() -> ChunkLoad + 'static) {
    let Some(owner) = Owner::current() else {
        return;
    };
    let alive = StoredValue::new(());
    attempt(Rc::new(load), owner, alive, FIRST_RETRY);
}

fn attempt(load: Rc<dyn Fn() -> ChunkLoad>, owner: Owner, alive: StoredValue<()>, retry: Duration) {
    spawn_local(async move {
        let loaded = load().await;
        if alive.is_disposed() {
            return;
        }
        match loaded {
            Ok(setup) => owner.with(setup),
            Err(ChunkUnavailable) => {
                let next = (retry * 2).min(LAST_RETRY);
                set_timeout(move || attempt(load, owner, alive, next), retry);
            }
        }
    });
}
