//! A fault proxy: HTTP/1.1 in front of the real server, one request per
//! connection. It can pass a `POST` on to the server and then answer the
//! client `503` as if the answer had been lost on the way back: the case an
//! `Idempotency-Key` exists for.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct State {
    /// POSTs still to be answered `503` after reaching the server.
    lose_posts: usize,
    /// Every request seen: method, path and `Idempotency-Key`.
    seen: Vec<(String, String, Option<String>)>,
    /// The server is gone: every connection is closed unanswered.
    cut: bool,
}

pub struct FaultProxy {
    pub address: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl FaultProxy {
    /// Proxies to `upstream`; the first `lose_posts` POSTs reach it but
    /// their answers are replaced by `503` with `Retry-After: 0`.
    pub fn start(upstream: SocketAddr, lose_posts: usize) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let address = listener.local_addr().expect("address");
        let state = Arc::new(Mutex::new(State {
            lose_posts,
            ..State::default()
        }));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = Arc::clone(&shared);
                std::thread::spawn(move || {
                    let _ = relay(stream, upstream, &state);
                });
            }
        });
        FaultProxy { address, state }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}/api/v1", self.address)
    }

    /// From now on the server seems gone: connections close unanswered.
    pub fn cut(&self) {
        self.state.lock().unwrap().cut = true;
    }

    /// The server answers again.
    pub fn restore(&self) {
        self.state.lock().unwrap().cut = false;
    }

    /// The `Idempotency-Key`s of the POSTs seen, in order.
    pub fn post_keys(&self) -> Vec<Option<String>> {
        let state = self.state.lock().unwrap();
        state
            .seen
            .iter()
            .filter(|(method, _, _)| method == "POST")
            .map(|(_, _, key)| key.clone())
            .collect()
    }
}

fn relay(client: TcpStream, upstream: SocketAddr, state: &Mutex<State>) -> std::io::Result<()> {
    if state.lock().unwrap().cut {
        return Ok(()); // dropped: closed without a byte
    }
    let mut reader = BufReader::new(client.try_clone()?);
    let mut head = Vec::new();
    let mut length = 0usize;
    let mut key = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(value) = lower.strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("idempotency-key:") {
            key = Some(line.split_once(':').unwrap().1.trim().to_owned());
        }
        if !lower.starts_with("connection:") {
            head.push(line);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let request_line = head.first().cloned().unwrap_or_default();
    let mut parts = request_line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_owned(),
        parts.next().unwrap_or("").to_owned(),
    );
    let answer = forward(upstream, &head, &body)?;
    let lose = {
        let mut state = state.lock().unwrap();
        state.seen.push((method.clone(), path, key));
        let lose = method == "POST" && state.lose_posts > 0;
        if lose {
            state.lose_posts -= 1;
        }
        lose
    };
    let mut client = client;
    if lose {
        let problem = r#"{"type":"about:blank","title":"Service Unavailable","status":503}"#;
        write!(
            client,
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\n\
             Retry-After: 0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{problem}",
            problem.len()
        )?;
    } else {
        client.write_all(&answer)?;
    }
    client.flush()
}

/// Sends the request on with `Connection: close`; the whole answer.
fn forward(upstream: SocketAddr, head: &[String], body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut server = TcpStream::connect(upstream)?;
    for line in head {
        server.write_all(line.as_bytes())?;
    }
    server.write_all(b"Connection: close\r\n\r\n")?;
    server.write_all(body)?;
    let mut answer = Vec::new();
    server.read_to_end(&mut answer)?;
    Ok(answer)
}
