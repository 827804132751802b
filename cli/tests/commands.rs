//! `alloc`'s commands against the real server: their text, their `--json`
//! and their exit codes.

mod common;

use allocation_contract::{Allocation, AllocationStatus, Allocations, Usage};
use common::{alloc_at, output, stderr, stdout, Server};
use serde_json::Value;

#[test]
fn pools_shows_a_bar_and_level_per_pool_and_json_is_the_usage() {
    let server = Server::start();
    server.grant("gpu-a100", 4, "ann");
    server.grant("gpu-a100", 4, "ann");
    server.grant("gpu-a100", 4, "ann");
    server.grant("gpu-a100", 2, "ann");
    let text = output(server.alloc().arg("pools"));
    assert!(text.status.success(), "{}", stderr(&text));
    let text = stdout(&text);
    let gpu = text
        .lines()
        .find(|line| line.contains("gpu-a100"))
        .expect("a gpu row");
    assert!(gpu.contains("14/16 GPU (87%)"), "{text}");
    assert!(gpu.contains("warning"), "{text}");
    assert!(gpu.contains("█"), "{text}");
    let vm = text
        .lines()
        .find(|line| line.contains("vm-large"))
        .expect("a vm row");
    assert!(
        vm.contains("0/40 VM (0%)") && vm.contains("normal"),
        "{text}"
    );

    let json = output(server.alloc().args(["pools", "--json"]));
    let usage: Usage = serde_json::from_slice(&json.stdout).expect("usage JSON");
    let gpu = usage
        .pools
        .iter()
        .find(|pool| pool.id == "gpu-a100")
        .unwrap();
    assert_eq!((gpu.allocated, gpu.capacity), (14, 16));
}

#[test]
fn request_prints_the_grant_its_units_quietly_or_its_json() {
    let server = Server::start();
    let text = output(server.alloc().args([
        "request", "gpu-a100", "2", "--ttl", "2h", "--note", "training",
    ]));
    assert!(text.status.success(), "{}", stderr(&text));
    let line = stdout(&text);
    assert!(line.starts_with("Granted al_"), "{line}");
    assert!(
        line.contains("2 gpu-a100 for tester, expires in 1h 59m"),
        "{line}"
    );

    let quiet = output(server.alloc().args(["request", "vm-large", "3", "--quiet"]));
    let units: Vec<String> = stdout(&quiet).lines().map(str::to_owned).collect();
    assert_eq!(units.len(), 3, "{units:?}");
    assert!(
        units.iter().all(|unit| unit.starts_with("vm-large-")),
        "{units:?}"
    );

    let json = output(
        server
            .alloc()
            .args(["--json", "request", "ip-v4", "1", "--owner", "bo"]),
    );
    let granted: Allocation = serde_json::from_slice(&json.stdout).expect("allocation JSON");
    assert_eq!((granted.owner.as_str(), granted.amount), ("bo", 1));
    assert_eq!(
        server.allocation(&granted.id).status,
        AllocationStatus::Active
    );
    assert_eq!(server.active().len(), 3);
}

#[test]
fn ls_lists_filters_by_owner_and_pool_and_show_shows_one() {
    let server = Server::start();
    let mine = server.grant("gpu-a100", 2, "tester");
    server.grant("vm-large", 1, "tester");
    server.grant("gpu-a100", 1, "zoe");

    let all = stdout(&output(server.alloc().arg("ls")));
    assert_eq!(
        all.lines().filter(|line| line.contains("al_")).count(),
        3,
        "{all}"
    );
    assert!(all.lines().next().unwrap().contains("OWNER"), "{all}");

    let json = output(
        server
            .alloc()
            .args(["ls", "--mine", "--pool", "gpu-a100", "--json"]),
    );
    let listing: Allocations = serde_json::from_slice(&json.stdout).expect("listing JSON");
    let ids: Vec<&str> = listing.allocations.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, [mine.id.as_str()]);

    let zoe = stdout(&output(server.alloc().args(["ls", "--owner", "zoe"])));
    assert_eq!(
        zoe.lines().filter(|line| line.contains("zoe")).count(),
        1,
        "{zoe}"
    );

    let shown = stdout(&output(server.alloc().args(["show", &mine.id])));
    assert!(
        shown.contains(&format!("id         {}", mine.id)),
        "{shown}"
    );
    assert!(shown.contains("status     active"), "{shown}");
    assert!(shown.contains(&mine.resources.join(", ")), "{shown}");
    let json = output(server.alloc().args(["show", &mine.id, "--json"]));
    let shown: Allocation = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(shown, server.allocation(&mine.id));

    server.api().release(&mine.id).unwrap();
    let empty = stdout(&output(
        server.alloc().args(["ls", "--mine", "--pool", "gpu-a100"]),
    ));
    assert_eq!(empty.trim(), "No active allocations.");
}

#[test]
fn release_and_extend_say_what_they_did() {
    let server = Server::start();
    let one = server.grant("gpu-a100", 1, "tester");
    let two = server.grant("gpu-a100", 1, "tester");

    let extended = output(server.alloc().args(["extend", &one.id, "--ttl", "3h"]));
    assert!(extended.status.success(), "{}", stderr(&extended));
    assert_eq!(
        stdout(&extended).trim(),
        format!("{} now expires in 2h 59m.", one.id)
    );
    let json = output(
        server
            .alloc()
            .args(["extend", &two.id, "--ttl", "90", "--json"]),
    );
    let renewed: Allocation = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(renewed.id, two.id);
    assert_ne!(renewed.expires_at, two.expires_at);

    let released = output(server.alloc().args(["release", &one.id]));
    assert_eq!(stdout(&released).trim(), format!("Released {}.", one.id));
    assert_eq!(
        server.allocation(&one.id).status,
        AllocationStatus::Released
    );

    let json = output(
        server
            .alloc()
            .args(["release", &two.id, "al_nope", "--json"]),
    );
    assert_eq!(
        json.status.code(),
        Some(1),
        "an unknown id fails the command"
    );
    let report: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["released"], serde_json::json!([two.id]));
    assert_eq!(report["failed"][0]["id"], "al_nope");
    assert_eq!(report["failed"][0]["error"]["status"], 404);
    assert_eq!(
        server.allocation(&two.id).status,
        AllocationStatus::Released
    );
}

#[test]
fn not_enough_capacity_is_exit_3_in_words() {
    let server = Server::start();
    for _ in 0..4 {
        server.grant("gpu-a100", 4, "ann");
    }
    let full = output(server.alloc().args(["request", "gpu-a100", "1"]));
    assert_eq!(full.status.code(), Some(3));
    let words = stderr(&full);
    assert!(words.starts_with("alloc: "), "{words}");
    assert!(
        words.contains("(409)") && words.contains("0 available now"),
        "{words}"
    );

    let json = output(server.alloc().args(["request", "gpu-a100", "1", "--json"]));
    assert_eq!(json.status.code(), Some(3));
    let problem: Value = serde_json::from_slice(&json.stderr).unwrap();
    assert!(problem["error"]["type"]
        .as_str()
        .unwrap()
        .ends_with("/insufficient-capacity"));
}

#[test]
fn bad_usage_is_exit_2_whether_caught_here_or_by_the_server() {
    let server = Server::start();
    let zero = output(server.alloc().args(["request", "gpu-a100", "0"]));
    assert_eq!(zero.status.code(), Some(2));
    assert!(
        stderr(&zero).contains("amount: must be at least 1"),
        "{}",
        stderr(&zero)
    );

    // Over the pool's max_per_request (4), which only the server knows.
    let over = output(server.alloc().args(["request", "gpu-a100", "5"]));
    assert_eq!(over.status.code(), Some(2));
    assert!(stderr(&over).contains("(422)"), "{}", stderr(&over));

    let unknown = output(server.alloc().arg("frobnicate"));
    assert_eq!(unknown.status.code(), Some(2));
    let ttl = output(
        server
            .alloc()
            .args(["request", "gpu-a100", "1", "--ttl", "soon"]),
    );
    assert_eq!(ttl.status.code(), Some(2));
    assert!(server.active().is_empty(), "nothing was allocated");
}

#[test]
fn not_allowed_is_exit_4_and_the_user_comes_from_me() {
    let server = Server::start_with(&[("ann", false), ("bo", false), ("root", true)]);
    let anonymous = output(server.alloc().arg("pools"));
    assert_eq!(anonymous.status.code(), Some(4));
    assert!(
        stderr(&anonymous).contains("(401)"),
        "{}",
        stderr(&anonymous)
    );

    let granted = output(
        server
            .alloc()
            .env("ALLOC_TOKEN", server.token("ann"))
            .args(["request", "gpu-a100", "1", "--json"]),
    );
    let granted: Allocation = serde_json::from_slice(&granted.stdout).expect("granted");
    assert_eq!(
        granted.owner, "ann",
        "the owner is the token's user, not $USER"
    );

    let token_file = server.file("bo.token");
    std::fs::write(&token_file, format!("{}\n", server.token("bo"))).unwrap();
    let theirs = output(
        server
            .alloc()
            .arg("--token-file")
            .arg(&token_file)
            .args(["release", &granted.id]),
    );
    assert_eq!(theirs.status.code(), Some(4));
    assert!(stderr(&theirs).contains("(403)"), "{}", stderr(&theirs));
    assert_eq!(
        server.allocation(&granted.id).status,
        AllocationStatus::Active
    );
}

#[test]
fn no_server_is_exit_1_in_words() {
    let nobody = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let gone = output(alloc_at(&format!("http://{nobody}/api/v1")).arg("pools"));
    assert_eq!(gone.status.code(), Some(1));
    assert!(
        stderr(&gone).contains("no answer from the server"),
        "{}",
        stderr(&gone)
    );
}

#[test]
fn help_documents_the_exit_codes() {
    let help = output(common::alloc_at("http://127.0.0.1:9/api/v1").arg("--help"));
    assert!(help.status.success());
    let text = stdout(&help);
    for code in [
        "0  done",
        "1  anything else",
        "2  bad usage",
        "3  not enough capacity",
        "4  not allowed",
        "5  gave up waiting",
    ] {
        assert!(text.contains(code), "{code} missing from:\n{text}");
    }
}
