//! A lost answer does not make a second allocation: the retry carries the
//! first attempt's `Idempotency-Key` and the server replays its answer.

mod common;

use allocation_contract::Allocation;
use common::proxy::FaultProxy;
use common::{alloc_at, output, stderr, Server};

#[test]
fn a_503_then_201_yields_one_allocation() {
    let server = Server::start();
    // The first POST reaches the server (which allocates) but the client
    // is told 503: exactly the case of an answer lost on the way back.
    let proxy = FaultProxy::start(server.address, 1);
    let done = output(alloc_at(&proxy.endpoint()).args(["request", "gpu-a100", "3", "--json"]));
    assert!(done.status.success(), "{}", stderr(&done));
    let granted: Allocation = serde_json::from_slice(&done.stdout).expect("allocation");

    let keys = proxy.post_keys();
    assert_eq!(keys.len(), 2, "one retry: {keys:?}");
    assert!(
        keys[0].is_some() && keys[0] == keys[1],
        "the same key: {keys:?}"
    );
    let active = server.active();
    assert_eq!(active.len(), 1, "one allocation, not two: {active:?}");
    assert_eq!(active[0].id, granted.id);
    assert_eq!(server.allocated("gpu-a100"), 3);
}

#[test]
fn every_request_carries_a_fresh_key() {
    let server = Server::start();
    let proxy = FaultProxy::start(server.address, 0);
    for _ in 0..2 {
        let done = output(alloc_at(&proxy.endpoint()).args(["request", "ip-v4", "1"]));
        assert!(done.status.success(), "{}", stderr(&done));
    }
    let keys = proxy.post_keys();
    assert_eq!(keys.len(), 2);
    assert_ne!(keys[0], keys[1], "two requests, two keys");
    assert_eq!(server.active().len(), 2);
}
