//! A language-server client for tests and benchmarks: starts `medpol lsp` and speaks
//! JSON-RPC to it over its standard input and output.
// The tests and the benchmark each use part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Replies should come in milliseconds; this only keeps a broken server from hanging the test.
const PATIENCE: Duration = Duration::from_secs(30);

pub struct Client {
    child: Child,
    /// `None` once closed.
    stdin: Option<ChildStdin>,
    incoming: Receiver<Value>,
    /// Notifications read while waiting for something else.
    pub notifications: Vec<Value>,
    next_id: u64,
}

impl Client {
    pub fn start() -> Client {
        Client::spawn(Command::new(env!("CARGO_BIN_EXE_medpol")).arg("lsp"))
    }

    /// The server, not yet sent `initialize`.
    pub fn uninitialized() -> Client {
        Client::spawn_raw(Command::new(env!("CARGO_BIN_EXE_medpol")).arg("lsp"))
    }

    /// Sends `initialize` and `initialized`, checking the answer.
    pub fn initialize(&mut self) {
        let init = self.request(
            "initialize",
            json!({ "processId": null, "rootUri": null, "capabilities": {} }),
        );
        assert_eq!(init["capabilities"]["textDocumentSync"], 1);
        assert_eq!(init["serverInfo"]["name"], "medpol");
        self.notify("initialized", json!({}));
    }

    /// The server with at most `bytes` of address space (`prlimit --as`, util-linux): an
    /// allocation past it fails, and the server aborts.
    pub fn start_limited(bytes: u64) -> Client {
        Client::spawn(
            Command::new("prlimit")
                .arg(format!("--as={bytes}"))
                .arg("--")
                .arg(env!("CARGO_BIN_EXE_medpol"))
                .arg("lsp"),
        )
    }

    fn spawn(command: &mut Command) -> Client {
        let mut client = Client::spawn_raw(command);
        client.initialize();
        client
    }

    fn spawn_raw(command: &mut Command) -> Client {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, incoming) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut length = None;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(n) = line.strip_prefix("Content-Length: ") {
                        length = n.parse::<usize>().ok();
                    }
                }
                let mut body = vec![0; length.unwrap()];
                reader.read_exact(&mut body).unwrap();
                if tx.send(serde_json::from_slice(&body).unwrap()).is_err() {
                    return;
                }
            }
        });
        Client {
            child,
            stdin: Some(stdin),
            incoming,
            notifications: Vec::new(),
            next_id: 0,
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn send(&mut self, message: Value) {
        let body = message.to_string();
        self.send_body(body.as_bytes());
    }

    /// Sends bytes as they are, header or not.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("standard input still open");
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    /// Sends a body, JSON or not, with its header.
    pub fn send_body(&mut self, body: &[u8]) {
        let mut message = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
        message.extend_from_slice(body);
        self.send_raw(&message);
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    pub fn receive(&mut self, deadline: Instant) -> Value {
        match self
            .incoming
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            Ok(m) => m,
            Err(RecvTimeoutError::Timeout) => panic!("no message from the server in time"),
            Err(RecvTimeoutError::Disconnected) => panic!("the server closed its output"),
        }
    }

    /// Sends a request and returns its result (panics on an error reply).
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let reply = self.request_reply(method, params);
        assert!(reply.get("error").is_none(), "{method} failed: {reply}");
        reply["result"].clone()
    }

    /// Sends a request and returns the whole reply, error or result.
    pub fn request_reply(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        self.wait_for(|m| m["id"] == id && m.get("method").is_none())
    }

    /// Waits for a message that satisfies `wanted`, keeping the others as notifications.
    pub fn wait_for(&mut self, wanted: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.notifications.iter().position(&wanted) {
            return self.notifications.remove(i);
        }
        let deadline = Instant::now() + PATIENCE;
        loop {
            let m = self.receive(deadline);
            if wanted(&m) {
                return m;
            }
            self.notifications.push(m);
        }
    }

    /// Waits for diagnostics of a document that satisfy `wanted`, and returns them.
    pub fn diagnostics(&mut self, uri: &str, wanted: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            while !self.notifications.is_empty() {
                let m = self.notifications.remove(0);
                if m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri {
                    let list = m["params"]["diagnostics"].as_array().unwrap().clone();
                    if wanted(&list) {
                        return list;
                    }
                }
            }
            let m = self.receive(deadline);
            self.notifications.push(m);
        }
    }

    pub fn stop(mut self) {
        assert_eq!(self.request("shutdown", Value::Null), Value::Null);
        self.notify("exit", Value::Null);
        let status = self.exit_status();
        assert!(status.success(), "the server exited with {status}");
    }

    /// Closes the server's input (as an editor that quits without a word) and waits for it
    /// to end.
    pub fn close(mut self) -> ExitStatus {
        self.stdin = None;
        self.exit_status()
    }

    /// Waits for the server to end.
    pub fn exit_status(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the server did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
