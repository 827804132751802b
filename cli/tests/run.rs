//! `alloc run`: the allocation lives exactly as long as the command, through
//! its exit, a signal to it, a signal to `alloc`, a lease shorter than the
//! command, and a lease lost.

mod common;

use std::process::{Child, Stdio};
use std::time::Duration;

use allocation_contract::AllocationStatus;
use common::proxy::FaultProxy;
use common::{alloc_at, finish, output, stderr, stdout, wait_until, Server};

/// Starts `alloc run` with a shell command that first writes its pid to
/// `pid_file`; returns alloc's process and the command's pid once running.
fn start_holding(server: &Server, extra: &[&str], script: &str) -> (Child, i32) {
    let pid_file = server.file("job.pid");
    let script = format!("echo $$ > {}; {script}", pid_file.display());
    let child = server
        .alloc()
        .args(["run", "gpu-a100", "2"])
        .args(extra)
        .args(["--", "sh", "-c", &script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn alloc run");
    let mut pid = 0;
    wait_until("the command to start", Duration::from_secs(20), || {
        pid = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(0);
        pid > 0
    });
    (child, pid)
}

fn only_allocation(server: &Server) -> String {
    let active = server.active();
    assert_eq!(active.len(), 1, "{active:?}");
    active[0].id.clone()
}

#[test]
fn the_command_gets_its_units_and_its_status_is_alloc_s_and_the_units_come_back() {
    let server = Server::start();
    let done = output(server.alloc().args([
        "run",
        "gpu-a100",
        "2",
        "--",
        "sh",
        "-c",
        "echo \"$ALLOCATION_ID $ALLOCATION_POOL $ALLOCATION_RESOURCES\"; exit 7",
    ]));
    assert_eq!(done.status.code(), Some(7), "{}", stderr(&done));
    let said = stdout(&done);
    let fields: Vec<&str> = said.split_whitespace().collect();
    assert_eq!(fields.len(), 3, "{said}");
    assert_eq!(fields[1], "gpu-a100");
    let allocation = server.allocation(fields[0]);
    assert_eq!(allocation.resources.join(","), fields[2]);
    assert_eq!(allocation.status, AllocationStatus::Released);
    assert_eq!(server.allocated("gpu-a100"), 0);
    let words = stderr(&done);
    assert!(
        words.contains(&format!("alloc: holding {}", fields[0])),
        "{words}"
    );
    assert!(
        words.contains(&format!("alloc: released {}", fields[0])),
        "{words}"
    );
}

#[test]
fn a_command_killed_by_sigterm_is_released_and_alloc_exits_143() {
    let server = Server::start();
    let (alloc, job) = start_holding(&server, &[], "exec sleep 60");
    let id = only_allocation(&server);
    // SAFETY: kill(2) on the command's pid, which it wrote itself.
    unsafe { libc::kill(job, libc::SIGTERM) };
    let done = finish(alloc);
    assert_eq!(done.status.code(), Some(143), "{}", stderr(&done));
    assert_eq!(server.allocation(&id).status, AllocationStatus::Released);
}

#[test]
fn sigint_to_alloc_reaches_the_command_then_the_units_are_released() {
    let server = Server::start();
    let (alloc, _job) = start_holding(&server, &[], "exec sleep 60");
    let id = only_allocation(&server);
    // SAFETY: kill(2) on the alloc process this test spawned.
    unsafe { libc::kill(alloc.id() as i32, libc::SIGINT) };
    let done = finish(alloc);
    assert_eq!(done.status.code(), Some(130), "{}", stderr(&done));
    assert_eq!(server.allocation(&id).status, AllocationStatus::Released);
}

#[test]
fn sigterm_to_alloc_is_passed_on_and_a_command_that_traps_it_finishes_cleanly() {
    let server = Server::start();
    let trap = "trap 'echo cleaned up; exit 0' TERM; while :; do sleep 0.1; done";
    let (alloc, _job) = start_holding(&server, &[], trap);
    let id = only_allocation(&server);
    // SAFETY: as above.
    unsafe { libc::kill(alloc.id() as i32, libc::SIGTERM) };
    let done = finish(alloc);
    assert_eq!(done.status.code(), Some(0), "{}", stderr(&done));
    assert!(stdout(&done).contains("cleaned up"));
    assert_eq!(server.allocation(&id).status, AllocationStatus::Released);
}

#[test]
fn a_lease_shorter_than_the_command_is_renewed_while_it_runs() {
    let server = Server::start();
    // The command outlives two 3-second leases; it checks its own
    // allocation is still active at the end, through alloc itself.
    let alloc = env!("CARGO_BIN_EXE_alloc");
    let script = format!("sleep 6; {alloc} show \"$ALLOCATION_ID\" --json");
    let done = output(server.alloc().args([
        "run", "gpu-a100", "1", "--ttl", "3s", "--", "sh", "-c", &script,
    ]));
    assert_eq!(done.status.code(), Some(0), "{}", stderr(&done));
    let seen: allocation_contract::Allocation = serde_json::from_slice(&done.stdout).expect("show");
    assert_eq!(
        seen.status,
        AllocationStatus::Active,
        "still held after 6 s"
    );
    let end = server.allocation(&seen.id);
    assert_eq!(
        end.status,
        AllocationStatus::Released,
        "released, never expired"
    );
    assert!(!stderr(&done).contains("lost"), "{}", stderr(&done));
}

#[test]
fn a_lost_lease_is_said_and_with_strict_stops_the_command() {
    let server = Server::start();
    let (alloc, _job) = start_holding(&server, &["--ttl", "2s", "--strict"], "exec sleep 60");
    let id = only_allocation(&server);
    // Someone else releases it: the next renewal is refused (409 ended).
    server.api().release(&id).unwrap();
    let done = finish(alloc);
    assert_eq!(done.status.code(), Some(1), "{}", stderr(&done));
    let words = stderr(&done);
    assert!(
        words.contains(&format!("lost the lease on {id}")),
        "{words}"
    );
    assert!(words.contains("stopping the command (--strict)"), "{words}");
}

#[test]
fn a_lost_lease_without_strict_is_said_and_the_command_runs_on() {
    let server = Server::start();
    let alloc = server
        .alloc()
        .args([
            "run",
            "gpu-a100",
            "1",
            "--ttl",
            "2s",
            "--",
            "sh",
            "-c",
            "read line; exit 3",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the grant", Duration::from_secs(20), || {
        server.active().len() == 1
    });
    let id = only_allocation(&server);
    server.api().release(&id).unwrap();
    let mut alloc = alloc;
    let mut errors = alloc.stderr.take().unwrap();
    let said = std::thread::spawn(move || {
        use std::io::Read;
        let mut text = String::new();
        let mut byte = [0u8; 1];
        while !text.contains("runs on") && errors.read(&mut byte).unwrap_or(0) == 1 {
            text.push(byte[0] as char);
        }
        text
    });
    let words = said.join().unwrap();
    assert!(
        words.contains(&format!("lost the lease on {id}")),
        "{words}"
    );
    // Still running: it ends when told to, with its own status.
    use std::io::Write;
    alloc.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let done = finish(alloc);
    assert_eq!(done.status.code(), Some(3), "{}", stdout(&done));
}

#[test]
fn with_json_alloc_s_own_lines_on_stderr_are_json_events() {
    let server = Server::start();
    let done = output(
        server
            .alloc()
            .args(["--json", "run", "ip-v4", "1", "--", "true"]),
    );
    assert_eq!(done.status.code(), Some(0), "{}", stderr(&done));
    assert!(done.stdout.is_empty(), "stdout is the command's");
    let events: Vec<serde_json::Value> = stderr(&done)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["granted", "released"]);
    assert_eq!(
        server.allocation(events[0]["id"].as_str().unwrap()).status,
        AllocationStatus::Released
    );
}

#[test]
fn a_server_gone_past_the_lease_s_end_is_a_lost_lease() {
    let server = Server::start();
    let proxy = FaultProxy::start(server.address, 0);
    let pid_file = server.file("job.pid");
    let script = format!("echo $$ > {}; exec sleep 60", pid_file.display());
    let alloc = alloc_at(&proxy.endpoint())
        .args([
            "run", "gpu-a100", "1", "--ttl", "2s", "--strict", "--", "sh", "-c", &script,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the command to start", Duration::from_secs(20), || {
        pid_file.exists()
    });
    proxy.cut();
    let done = finish(alloc);
    assert_eq!(done.status.code(), Some(1), "{}", stderr(&done));
    let words = stderr(&done);
    assert!(
        words.contains("no renewal got through before it ended"),
        "{words}"
    );
    assert!(words.contains("stopping the command (--strict)"), "{words}");
    assert!(words.contains("could not release"), "{words}");
    // The server ends it by itself when its lease runs out (a moment after
    // the client's count, which started earlier).
    wait_until("the lease to run out", Duration::from_secs(10), || {
        server.active().is_empty()
    });
}
