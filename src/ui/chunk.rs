//! Code that comes in a wasm chunk of its own (release builds, the `split`
//! feature): the work area, and the iframe's host bridge.

/// A chunk could not be fetched (offline, or the server went away); a later
/// attempt fetches it again.
pub struct ChunkUnavailable;

#[cfg(feature = "split")]
impl From<wasm_split_helpers::SplitLoaderError> for ChunkUnavailable {
    fn from(_: wasm_split_helpers::SplitLoaderError) -> Self {
        ChunkUnavailable
    }
}
