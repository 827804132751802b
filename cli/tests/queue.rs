//! Waiting in line (`request --wait`, `run --wait`) and `alloc queue`
//! against the real server's queue (issue 15).

mod common;

use std::process::{Child, Stdio};
use std::time::Duration;

use allocation_contract::{Allocation, AllocationStatus, Queue, TicketStatus};
use common::{finish, output, stderr, stdout, wait_until, Server};

/// Fills gpu-a100 (16 GPU) with four allocations of 4 owned by ann.
fn fill(server: &Server) -> Vec<Allocation> {
    (0..4).map(|_| server.grant("gpu-a100", 4, "ann")).collect()
}

fn waiting_tickets(server: &Server) -> Queue {
    server.api().queue(None).expect("queue")
}

fn spawn(server: &Server, args: &[&str]) -> Child {
    server
        .alloc()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn alloc")
}

#[test]
fn request_wait_is_granted_when_another_client_releases() {
    let server = Server::start();
    let held = fill(&server);
    let waiting = spawn(
        &server,
        &["request", "gpu-a100", "2", "--wait", "1m", "--json"],
    );
    wait_until("a ticket in line", Duration::from_secs(20), || {
        !waiting_tickets(&server).tickets.is_empty()
    });
    let line = waiting_tickets(&server);
    assert_eq!(line.tickets[0].owner, "tester");
    assert_eq!(line.tickets[0].position, Some(1));

    server.api().release(&held[0].id).unwrap();
    let done = finish(waiting);
    assert_eq!(done.status.code(), Some(0), "{}", stderr(&done));
    let granted: Allocation = serde_json::from_slice(&done.stdout).expect("the grant");
    assert_eq!((granted.owner.as_str(), granted.amount), ("tester", 2));
    assert_eq!(
        server.allocation(&granted.id).status,
        AllocationStatus::Active
    );
    assert!(
        stderr(&done).contains("\"event\":\"waiting\""),
        "{}",
        stderr(&done)
    );
}

#[test]
fn request_wait_said_in_words_and_quiet_prints_the_units() {
    let server = Server::start();
    let held = fill(&server);
    let waiting = spawn(
        &server,
        &["request", "gpu-a100", "1", "--wait", "1m", "--quiet"],
    );
    wait_until("a ticket in line", Duration::from_secs(20), || {
        !waiting_tickets(&server).tickets.is_empty()
    });
    server.api().release(&held[1].id).unwrap();
    let done = finish(waiting);
    assert_eq!(done.status.code(), Some(0), "{}", stderr(&done));
    assert_eq!(stdout(&done).lines().count(), 1);
    assert!(stdout(&done).starts_with("gpu-a100-"), "{}", stdout(&done));
    assert!(
        stderr(&done).contains("alloc: 1st in line for 1 of gpu-a100, expected by "),
        "{}",
        stderr(&done)
    );
}

#[test]
fn ctrl_c_while_waiting_leaves_the_line() {
    let server = Server::start();
    fill(&server);
    let waiting = spawn(&server, &["request", "gpu-a100", "2", "--wait", "10m"]);
    let mut id = String::new();
    wait_until("a ticket in line", Duration::from_secs(20), || {
        let line = waiting_tickets(&server);
        id = line
            .tickets
            .first()
            .map(|t| t.id.clone())
            .unwrap_or_default();
        !id.is_empty()
    });
    // SAFETY: kill(2) on the alloc process this test spawned.
    unsafe { libc::kill(waiting.id() as i32, libc::SIGINT) };
    let done = finish(waiting);
    assert_eq!(done.status.code(), Some(130), "{}", stderr(&done));
    let ticket = server.api().ticket(&id, None).unwrap();
    assert_eq!(ticket.status, TicketStatus::Cancelled);
    assert!(waiting_tickets(&server).tickets.is_empty());
}

#[test]
fn a_wait_that_runs_out_is_exit_5() {
    let server = Server::start();
    fill(&server);
    let done = output(
        server
            .alloc()
            .args(["request", "gpu-a100", "2", "--wait", "1s"]),
    );
    assert_eq!(done.status.code(), Some(5), "{}", stderr(&done));
    assert!(
        stderr(&done).contains("was not served before the wait ran out"),
        "{}",
        stderr(&done)
    );
}

#[test]
fn queue_lists_the_line_in_order_in_text_and_json() {
    let server = Server::start();
    fill(&server);
    let first = spawn(&server, &["request", "gpu-a100", "2", "--wait", "10m"]);
    wait_until("one ticket", Duration::from_secs(20), || {
        waiting_tickets(&server).tickets.len() == 1
    });
    let second = spawn(
        &server,
        &[
            "request", "gpu-a100", "3", "--wait", "10m", "--owner", "zoe",
        ],
    );
    wait_until("two tickets", Duration::from_secs(20), || {
        waiting_tickets(&server).tickets.len() == 2
    });

    let text = stdout(&output(server.alloc().arg("queue")));
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert!(
        rows[0].trim_start().starts_with('1') && rows[0].contains("tester"),
        "{text}"
    );
    assert!(
        rows[1].trim_start().starts_with('2') && rows[1].contains("zoe"),
        "{text}"
    );
    let json = output(
        server
            .alloc()
            .args(["queue", "--pool", "gpu-a100", "--json"]),
    );
    let queue: Queue = serde_json::from_slice(&json.stdout).unwrap();
    let amounts: Vec<u64> = queue.tickets.iter().map(|t| t.amount).collect();
    assert_eq!(amounts, [2, 3]);
    let pools = stdout(&output(server.alloc().arg("pools")));
    let gpu = pools
        .lines()
        .find(|line| line.contains("gpu-a100"))
        .unwrap();
    assert!(gpu.ends_with("5 GPU"), "what is waited for: {pools}");

    for waiting in [first, second] {
        // SAFETY: as above.
        unsafe { libc::kill(waiting.id() as i32, libc::SIGINT) };
        assert_eq!(finish(waiting).status.code(), Some(130));
    }
    assert_eq!(
        stdout(&output(server.alloc().arg("queue"))).trim(),
        "Nobody is waiting."
    );
}

#[test]
fn run_wait_holds_the_units_once_granted_and_releases_them() {
    let server = Server::start();
    let held = fill(&server);
    let running = spawn(
        &server,
        &[
            "run",
            "gpu-a100",
            "2",
            "--wait",
            "1m",
            "--",
            "sh",
            "-c",
            "echo \"$ALLOCATION_RESOURCES\"",
        ],
    );
    wait_until("a ticket in line", Duration::from_secs(20), || {
        !waiting_tickets(&server).tickets.is_empty()
    });
    server.api().release(&held[2].id).unwrap();
    let done = finish(running);
    assert_eq!(done.status.code(), Some(0), "{}", stderr(&done));
    assert_eq!(
        stdout(&done).trim().split(',').count(),
        2,
        "{}",
        stdout(&done)
    );
    assert_eq!(
        server.allocated("gpu-a100"),
        12,
        "the run's units came back"
    );
}
