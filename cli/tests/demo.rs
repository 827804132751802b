//! `alloc demo`, the workload `scripts/start` runs: named people allocate,
//! extend and release through the client, only against this machine.

mod common;

use common::{alloc_at, output, stderr, stdout, Server};

const PEOPLE: [&str; 5] = ["alice", "bob", "carol", "dave", "erin"];

#[test]
fn the_demo_has_named_people_use_the_pools() {
    let server = Server::start();
    let done = output(
        server
            .alloc()
            .args(["demo", "--rounds", "40", "--pace", "0"]),
    );
    assert!(done.status.success(), "{}", stderr(&done));
    let said = stdout(&done);
    let took = said.lines().filter(|line| line.contains(" took ")).count();
    assert!(took >= 1, "{said}");
    let active = server.active();
    assert!(!active.is_empty(), "{said}");
    assert!(
        active.iter().all(|a| PEOPLE.contains(&a.owner.as_str())),
        "{active:?}"
    );
    assert!(
        active.iter().all(|a| a.expires_at.is_some()),
        "every demo lease ends"
    );
    let acted: std::collections::HashSet<&str> = said
        .lines()
        .filter_map(|line| line.strip_prefix("demo: ")?.split(' ').next())
        .collect();
    assert!(acted.len() >= 2, "several people: {said}");
}

#[test]
fn the_demo_refuses_a_server_elsewhere() {
    let refused = output(alloc_at("https://alloc.example/api/v1").args(["demo", "--rounds", "1"]));
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("only against a server on this machine"));
}
