//! The binary's command line: start-up errors in words, help, and a graceful
//! stop on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

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
        "--token-file",
        "--users",
        "--trust-proxy-header",
        "--trusted-proxy",
        "--jwt-public-key",
        "--jwt-issuer",
        "--jwt-audience",
        "--jwt-user-claim",
        "--jwt-admin-claim",
        "--jwt-admin-value",
        "--allow-host",
        "--max-connections",
        "--header-read-timeout",
        "--idle-timeout",
        "--shutdown-timeout",
        "add-user",
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

/// Runs the server with `args` (and a temporary database) expecting it to
/// refuse to start; returns what it said.
fn refused(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(SERVER)
        .arg("--db")
        .arg(dir.path().join("x.db"))
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .env_remove("ALLOCATION_SERVER_TOKEN")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(
        output.status.code(),
        Some(if stderr.contains("Usage:") { 2 } else { 1 }),
        "{args:?}: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn bad_flags_are_refused_in_words_never_with_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty-token");
    std::fs::write(&empty, "\n").unwrap();
    let not_pem = dir.path().join("key.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    let empty = empty.to_str().unwrap();
    let not_pem = not_pem.to_str().unwrap();
    for (args, words) in [
        (
            &["--frame-ancestors", "'self'\nX-Evil: 1"][..],
            "CSP source list",
        ),
        (
            &["--connect-src", "'self'; script-src *"][..],
            "CSP source list",
        ),
        (&["--allow-origin", "null"][..], "null"),
        (&["--allow-origin", "*"][..], "one by one"),
        (&["--allow-origin", "portal.example"][..], "an origin is"),
        (&["--allow-host", "http://x.example"][..], "--allow-host"),
        (&["--token-file", empty][..], "is empty"),
        (
            &["--token-file", "/nonexistent/token"][..],
            "cannot read --token-file",
        ),
        (
            &["--users", "/nonexistent/users.toml"][..],
            "cannot read users file",
        ),
        (&["--trust-proxy-header", "X-User"][..], "--trusted-proxy"),
        (
            &[
                "--trust-proxy-header",
                "X-User",
                "--trusted-proxy",
                "10.0.0.0/99",
            ][..],
            "CIDR",
        ),
        (&["--jwt-public-key", not_pem][..], "--jwt-issuer"),
        (
            &[
                "--jwt-public-key",
                not_pem,
                "--jwt-issuer",
                "i",
                "--jwt-audience",
                "a",
            ][..],
            "not a PEM public key",
        ),
        (
            &["--warn", "95", "--critical", "80"][..],
            "0 < warn < critical <= 100",
        ),
        (&["--warn", "0"][..], "0 < warn < critical <= 100"),
        (&["--critical", "101"][..], "0 < warn < critical <= 100"),
        (
            &["--warn", "90", "--critical", "90"][..],
            "0 < warn < critical <= 100",
        ),
    ] {
        let stderr = refused(args);
        assert!(stderr.contains(words), "{args:?}: {stderr}");
    }
}

/// Starts the server; returns it and the address it listens on.
fn spawn(args: &[&str], dir: &std::path::Path) -> (Child, String, mpsc::Receiver<String>) {
    let mut child = Command::new(SERVER)
        .arg("--db")
        .arg(dir.join("x.db"))
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .env("RUST_LOG", "info,tower_http=debug,allocation_server=debug")
        .env_remove("ALLOCATION_SERVER_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let address = line
        .trim()
        .strip_prefix("allocation-server listening on http://")
        .unwrap_or_else(|| panic!("{line}"))
        .trim_end_matches('/')
        .to_owned();
    let (logs, log_lines) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if logs.send(line).is_err() {
                break;
            }
        }
    });
    (child, address, log_lines)
}

/// Whether the server logs a line that `matches` within 30 seconds.
fn logged(logs: &mpsc::Receiver<String>, matches: impl Fn(&str) -> bool) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match logs.recv_timeout(left) {
            Ok(line) if matches(&line) => return true,
            Ok(_) => continue,
            Err(_) => return false,
        }
    }
    false
}

/// `GET /healthz` on a kept-alive connection, answer read.
fn healthz(stream: &mut TcpStream) {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 512];
    while !String::from_utf8_lossy(&answer).contains(r#""ok"}"#) {
        let read = stream.read(&mut buf).unwrap();
        assert!(read > 0, "closed before answering");
        answer.extend_from_slice(&buf[..read]);
    }
}

/// Waits for the child to exit, at most `within`.
fn exits_within(mut child: Child, within: Duration) -> Option<std::process::ExitStatus> {
    let (done, exited) = mpsc::channel();
    let pid = child.id();
    std::thread::spawn(move || {
        let _ = done.send(child.wait().unwrap());
    });
    let status = exited.recv_timeout(within).ok();
    if status.is_none() {
        // SAFETY: killing the child this test started, which did not exit.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    }
    status
}

#[cfg(unix)]
#[test]
fn sigterm_finishes_requests_in_flight_then_exits_despite_half_open_connections() {
    let dir = tempfile::tempdir().unwrap();
    let (child, address, logs) = spawn(
        &[
            "--shutdown-timeout",
            "2",
            "--header-read-timeout",
            "120",
            "--idle-timeout",
            "120",
        ],
        dir.path(),
    );
    // A half-open connection: its first request's headers begun, never
    // finished; accepted (the server says so) before the signal.
    let mut half_open = TcpStream::connect(&address).unwrap();
    half_open
        .write_all(b"GET /api/v1/usage HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .unwrap();
    let port = format!(":{}", half_open.local_addr().unwrap().port());
    assert!(logged(&logs, |line| line.contains("connection accepted")
        && line.contains(&port)));
    // A request in flight on a connection served once already.
    let mut in_flight = TcpStream::connect(&address).unwrap();
    healthz(&mut in_flight);
    // A request in flight: headers sent, half of the body.
    let body = br#"{"pool":"ip-v4","amount":1,"owner":"alice"}"#;
    write!(
        in_flight,
        "POST /api/v1/allocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Idempotency-Key: shutdown-1\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    in_flight.write_all(&body[..10]).unwrap();
    let started = logged(&logs, |line| {
        line.contains("POST") && line.contains("started processing request")
    });
    assert!(started, "the server logs the request it began");
    // SAFETY: signalling a child process this test started.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) },
        0
    );
    assert!(logged(&logs, |line| line.contains("shutting down")));
    // The request in flight still gets its answer.
    in_flight.write_all(&body[10..]).unwrap();
    in_flight
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = String::new();
    let _ = in_flight.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    // And the half-open one does not keep the server up past the deadline.
    let status = exits_within(child, Duration::from_secs(30)).expect("exited");
    assert!(status.success(), "{status}");
    half_open
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut rest = Vec::new();
    let closed = match half_open.read_to_end(&mut rest) {
        Ok(_) => true,
        Err(error) => !matches!(
            error.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    };
    assert!(closed, "the half-open connection was closed");
    assert!(!String::from_utf8_lossy(&rest).contains("200 OK"));
}

#[test]
fn add_user_prints_a_token_once_that_the_server_then_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users.toml");
    let output = Command::new(SERVER)
        .args(["add-user", "--users"])
        .arg(&users)
        .arg("alice")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert_eq!(token.len(), 64, "{token}");
    let file = std::fs::read_to_string(&users).unwrap();
    assert!(
        file.contains("name = \"alice\"") && !file.contains(&token),
        "{file}"
    );

    let (child, address, _logs) = spawn(&["--users", users.to_str().unwrap()], dir.path());
    let me = |auth: &str| {
        let mut stream = TcpStream::connect(&address).unwrap();
        write!(
            stream,
            "GET /api/v1/me HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    };
    let answer = me(&format!("Authorization: Bearer {token}\r\n"));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.ends_with(r#"{"name":"alice","admin":false}"#),
        "{answer}"
    );
    assert!(me("").starts_with("HTTP/1.1 401"));
    // SAFETY: signalling a child process this test started.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    assert!(exits_within(child, Duration::from_secs(30)).is_some_and(|s| s.success()));
}
