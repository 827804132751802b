//! `examples/allocate.py` (standard library only) against the real server:
//! what it prints is what the server granted, a lost answer is retried
//! with the same key, and the monitor's second look is a `304`.

mod common;

use std::process::Command;

use common::proxy::FaultProxy;
use common::{output, stderr, stdout, Server};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/allocate.py");

fn python(endpoint: &str, args: &[&str]) -> Command {
    let mut command = Command::new("python3");
    command
        .arg(EXAMPLE)
        .arg(endpoint)
        .args(args)
        .env_remove("ALLOC_TOKEN");
    command
}

#[test]
fn allocate_resource_returns_the_units_the_server_granted() {
    let server = Server::start();
    let done = output(&mut python(
        &server.endpoint(),
        &["gpu-a100", "2", "--owner", "py", "--ttl", "600"],
    ));
    assert!(done.status.success(), "{}", stderr(&done));
    let units: Vec<String> = stdout(&done).lines().map(str::to_owned).collect();
    let active = server.active();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].owner, "py");
    assert_eq!(active[0].resources, units);
    assert!(active[0].expires_at.is_some());
}

#[test]
fn a_lost_answer_is_retried_with_the_same_key_and_allocates_once() {
    let server = Server::start();
    let proxy = FaultProxy::start(server.address, 1);
    let done = output(&mut python(
        &proxy.endpoint(),
        &["vm-large", "3", "--owner", "py"],
    ));
    assert!(done.status.success(), "{}", stderr(&done));
    let keys = proxy.post_keys();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(keys[0].is_some() && keys[0] == keys[1], "{keys:?}");
    let active = server.active();
    assert_eq!(active.len(), 1, "{active:?}");
    assert_eq!(stdout(&done).lines().count(), 3);
}

#[test]
fn a_problem_is_raised_in_the_servers_words() {
    let server = Server::start();
    for _ in 0..4 {
        server.grant("gpu-a100", 4, "ann");
    }
    let full = output(&mut python(
        &server.endpoint(),
        &["gpu-a100", "1", "--owner", "py"],
    ));
    assert_eq!(full.status.code(), Some(3), "{}", stderr(&full));
    assert!(stderr(&full).contains("(409)"), "{}", stderr(&full));
    assert!(
        stderr(&full).contains("0 available now"),
        "{}",
        stderr(&full)
    );
}

#[test]
fn monitor_resource_usage_uses_the_etag() {
    let server = Server::start();
    server.grant("gpu-a100", 4, "ann");
    let args = ["--monitor", "--rounds", "2", "--interval", "0.05"];
    let done = output(&mut python(&server.endpoint(), &args));
    assert!(done.status.success(), "{}", stderr(&done));
    let lines: Vec<String> = stdout(&done).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 6, "two looks at three pools: {lines:?}");
    assert_eq!(lines[0], "gpu-a100 4/16 GPU normal");
    assert_eq!(
        lines[3], "gpu-a100 4/16 GPU normal (unchanged)",
        "the second look was a 304"
    );
}
