//! The binary's command line: start-up errors in words, help, and a graceful
//! stop on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const SERVER: &str = env!("CARGO_BIN_EXE_allocation-server");

#[test]
fn a_malformed_pools_file_stops_start_up_naming_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let pools = dir.path().join("pools.toml");
    std::fs::write(
        &pools,
        "[[pools]]\nid = \"gpu\"\nname = \"GPU\"\nunit = \"GPU\"\ncapacity = \"lots\"\n",
    )
    .unwrap();
    let output = Command::new(SERVER)
        .arg("--pools")
        .arg(&pools)
        .arg("--db")
        .arg(dir.path().join("x.db"))
        .args(["--listen", "127.0.0.1:0"])
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("pools.toml"), "{stderr}");
    assert!(stderr.contains("line 5"), "{stderr}");
    assert!(stderr.contains("capacity"), "{stderr}");
}

#[test]
fn help_lists_the_flags() {
    let output = Command::new(SERVER).arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--listen",
        "--db",
        "--pools",
        "--token",
        "--allow-origin",
        "--dist",
        "--frame-ancestors",
        "--connect-src",
        "--max-concurrency",
        "--request-timeout",
        "--synchronous",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
}

#[cfg(unix)]
#[test]
fn sigterm_stops_the_server_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(SERVER)
        .arg("--db")
        .arg(dir.path().join("x.db"))
        .args(["--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.starts_with("allocation-server listening on http://127.0.0.1:"),
        "{line}"
    );
    // SAFETY: signalling a child process this test started.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) },
        0
    );
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
}
