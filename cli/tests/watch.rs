//! `alloc watch`: a line per pool each interval, `304` while unchanged, a
//! line when a pool crosses a threshold.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use common::proxy::FaultProxy;
use common::{alloc_at, Server};
use serde_json::Value;

/// `alloc watch --interval 1` with its lines on a channel; killed on drop.
struct Watching {
    child: Child,
    lines: Receiver<String>,
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Watching {
    fn start(server: &Server, json: bool) -> Watching {
        Watching::start_at(server.alloc(), json)
    }

    /// Watching through `command`, its stderr's lines on the same channel
    /// (prefixed `stderr: `).
    fn start_at(mut command: std::process::Command, json: bool) -> Watching {
        command.args(["watch", "--interval", "1"]);
        if json {
            command.arg("--json");
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn watch");
        let (send, lines) = mpsc::channel();
        let errors = send.clone();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if errors.send(format!("stderr: {line}")).is_err() {
                    break;
                }
            }
        });
        Watching { child, lines }
    }

    /// Lines until one matches, failing after 20 s.
    fn until(&self, what: &str, matches: impl Fn(&str) -> bool) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let done = matches(&line);
                    seen.push(line);
                    if done {
                        return seen;
                    }
                }
                Err(_) => panic!("no {what} within 20 s; saw {seen:#?}"),
            }
        }
    }
}

#[test]
fn watch_prints_each_pool_every_interval_and_each_crossing() {
    let server = Server::start();
    let watching = Watching::start(&server, false);
    let first = watching.until("a gpu line", |line| line.contains(" gpu-a100 "));
    assert!(
        first
            .last()
            .unwrap()
            .ends_with("gpu-a100 0/16 GPU 0% normal"),
        "{first:?}"
    );
    let again = watching.until("an unchanged gpu line", |line| line.contains(" gpu-a100 "));
    assert!(
        again.last().unwrap().ends_with("(unchanged)"),
        "304 said: {again:?}"
    );

    for _ in 0..4 {
        server.grant("gpu-a100", 4, "ann");
    }
    let crossed = watching.until("a crossing", |line| line.contains("crossed"));
    assert!(
        crossed
            .last()
            .unwrap()
            .ends_with("gpu-a100 crossed up from normal to critical"),
        "{crossed:?}"
    );
    assert!(crossed
        .iter()
        .any(|line| line.ends_with("gpu-a100 16/16 GPU 100% critical")));
}

#[test]
fn watch_json_is_a_line_of_json_per_pool_and_crossing() {
    let server = Server::start();
    let watching = Watching::start(&server, true);
    let first = watching.until("a gpu object", |line| line.contains("\"gpu-a100\""));
    let gpu: Value = serde_json::from_str(first.last().unwrap()).expect("JSON line");
    assert_eq!(gpu["level"], "normal");
    assert_eq!(gpu["capacity"], 16);
    for _ in 0..4 {
        server.grant("gpu-a100", 4, "ann");
    }
    let crossed = watching.until("a crossing", |line| line.contains("crossing"));
    let crossing: Value = serde_json::from_str(crossed.last().unwrap()).unwrap();
    assert_eq!(crossing["crossing"]["pool"], "gpu-a100");
    assert_eq!(crossing["crossing"]["to"], "critical");
}

#[test]
fn watch_says_a_failed_look_and_carries_on_when_the_server_is_back() {
    let server = Server::start();
    let proxy = FaultProxy::start(server.address, 0);
    let watching = Watching::start_at(alloc_at(&proxy.endpoint()), false);
    watching.until("a first look", |line| line.contains(" gpu-a100 "));
    proxy.cut();
    let failed = watching.until("a failed look", |line| line.starts_with("stderr: "));
    assert!(
        failed
            .last()
            .unwrap()
            .contains("alloc watch: no answer from the server"),
        "{failed:?}"
    );
    proxy.restore();
    server.grant("vm-large", 2, "ann");
    let back = watching.until("a look after the failure", |line| {
        line.contains(" vm-large 2/40")
    });
    assert!(!back.last().unwrap().contains("unchanged"), "{back:?}");
}
