//! `medpol serve` as a child process for the CRD tests and bench, and the little HTTP/1.1 the
//! tests speak by hand (a body streamed past the server's limit, the test's own FHIR endpoint,
//! the bench's baseline server).
// Each user takes part of it.
#![allow(dead_code)]

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The repository (the policies, the fixtures).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A running `medpol serve policies --listen 127.0.0.1:0 --audit DIR/audit.jsonl`, killed when
/// dropped (also when a test panics).
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    /// The audit log the server writes.
    pub audit: PathBuf,
    stderr: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts the server and waits for its `listening on http://ADDR` line (up to five
    /// minutes: a debug build compiles the policies first, on a machine that may be busy).
    pub fn start() -> Result<Server, String> {
        Server::start_with(&[])
    }

    /// The same, with more arguments after the usual ones.
    pub fn start_with(extra: &[&str]) -> Result<Server, String> {
        let dir = tempfile::Builder::new()
            .prefix("medpol-crd-")
            .tempdir()
            .map_err(|e| format!("cannot make a temporary folder: {e}"))?;
        let audit = dir.path().join("audit.jsonl");
        let stderr = dir.path().join("stderr.txt");
        let stderr_file = File::create(&stderr).map_err(|e| e.to_string())?;
        let mut child = Command::new(env!("CARGO_BIN_EXE_medpol"))
            .args(["serve", "policies", "--listen", "127.0.0.1:0", "--audit"])
            .arg(&audit)
            .args(extra)
            .current_dir(root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr_file)
            .spawn()
            .map_err(|e| format!("cannot start medpol serve: {e}"))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let mut server = Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            audit,
            stderr,
            _dir: dir,
        };
        // The first line says where it listens; the rest is drained so that the server never
        // blocks on a full pipe.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = tx.send(lines.next());
            for _ in lines.by_ref() {}
        });
        let line = match rx.recv_timeout(Duration::from_secs(300)) {
            Ok(Some(Ok(line))) => line,
            Ok(_) => {
                let _ = server.child.wait();
                return Err(format!(
                    "medpol serve exited before listening; its standard error:\n{}",
                    server.stderr_tail()
                ));
            }
            Err(_) => {
                return Err(format!(
                    "medpol serve did not say where it listens within 300 s; its standard error:\n{}",
                    server.stderr_tail()
                ));
            }
        };
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .and_then(|a| a.trim_end_matches('/').parse::<SocketAddr>().ok())
            .ok_or_else(|| {
                format!("medpol serve's first line is not `listening on http://ADDR`: {line:?}")
            })?;
        server.addr = addr;
        Ok(server)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last 4 KiB of what the server wrote on standard error.
    pub fn stderr_tail(&self) -> String {
        let text = std::fs::read(&self.stderr).unwrap_or_default();
        let start = text.len().saturating_sub(4096);
        String::from_utf8_lossy(&text[start..]).into_owned()
    }

    /// The peak resident set of the server (VmHWM), in bytes.
    pub fn peak_rss(&self) -> Result<u64, String> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .map_err(|e| format!("cannot read the server's /proc status: {e}"))?;
        let line = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .ok_or("no VmHWM in /proc/PID/status")?;
        let kb: u64 = line
            .trim_start_matches("VmHWM:")
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .map_err(|e| format!("VmHWM {line:?}: {e}"))?;
        Ok(kb * 1024)
    }

    /// Whether the server is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Asks the server to stop (SIGTERM, so that it can flush its audit log), and kills it if
    /// it has not stopped within ten seconds.
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if !self.running() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A request or response head as read by hand: the start line, the headers (names in lower
/// case) and what was read past the head.
pub struct Head {
    pub start: String,
    pub headers: Vec<(String, String)>,
    pub rest: Vec<u8>,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn content_length(&self) -> usize {
        self.header("content-length")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }
}

/// Reads up to the end of an HTTP/1.1 head (at most 64 KiB); None at end of stream before
/// any byte.
pub fn read_head(stream: &mut impl Read) -> std::io::Result<Option<Head>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let text = String::from_utf8_lossy(&buf[..end]).into_owned();
            let mut lines = text.split("\r\n");
            let start = lines.next().unwrap_or_default().to_string();
            let headers = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
                .collect();
            return Ok(Some(Head {
                start,
                headers,
                rest: buf[end + 4..].to_vec(),
            }));
        }
        if buf.len() > 64 * 1024 {
            return Err(std::io::Error::other("an HTTP head past 64 KiB"));
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(std::io::ErrorKind::UnexpectedEof.into())
            };
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Reads a body of `head.content_length()` bytes (what the head's read left, then the rest).
pub fn read_body(stream: &mut impl Read, head: &Head) -> std::io::Result<Vec<u8>> {
    let length = head.content_length();
    let mut body = head.rest.clone();
    if body.len() < length {
        let mut more = vec![0u8; length - body.len()];
        stream.read_exact(&mut more)?;
        body.extend_from_slice(&more);
    }
    body.truncate(length);
    Ok(body)
}

/// A fixture file's text.
pub fn fixture(path: &str) -> String {
    let path: &Path = &root().join("tests/cases/crd").join(path);
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
