//! `alloc watch`: a line per pool each interval, `304` while unchanged, a
//! line when a pool crosses a threshold.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use common::Server;
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
        let mut command = server.alloc();
        command.args(["watch", "--interval", "1"]);
        if json {
            command.arg("--json");
        }
        let mut child = command.stdout(Stdio::piped()).spawn().expect("spawn watch");
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
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
