//! Load on the CRD service: `medpol serve policies` (the bench profile's build) answering the
//! order-sign request of `tests/cases/crd/requests/order-sign-covered.json` (BCBS MA policy
//! 484) to 50 clients at once on loopback, each on one kept-alive connection, posting it again
//! as soon as it has its answer, for 60 seconds. As a baseline in the same run, the same
//! clients load a trivial server in this process (a thread per connection, std::net) that
//! answers every request with the answer medpol gave, read once: what the HTTP and the
//! clients cost on this machine. Prints throughput and latency percentiles of both, their
//! ratio and the server's peak memory; nothing here asserts a time.
//!
//! `MEDPOL_BENCH_SECONDS` sets each run's length (60), `MEDPOL_BENCH_CLIENTS` the clients (50).
//! Only `cargo bench --bench crd` runs it (a test run of the benches passes no `--bench`).

#[path = "../tests/support/crd_server.rs"]
mod crd_server;

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use crd_server::{Server, fixture, read_body, read_head};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// One request and its answer: the status and the body.
fn post(agent: &ureq::Agent, url: &str, body: &str) -> Result<(u16, String), ureq::Error> {
    let mut response = agent
        .post(url)
        .header("content-type", "application/json")
        .send(body)?;
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string()?;
    Ok((status, text))
}

/// What one run measured.
struct Load {
    requests: usize,
    errors: usize,
    elapsed: Duration,
    /// Each answered request's latency, sorted, in microseconds.
    latencies: Vec<u64>,
}

impl Load {
    fn percentile(&self, q: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let i = ((q * self.latencies.len() as f64) as usize).min(self.latencies.len() - 1);
        self.latencies[i] as f64 / 1000.0
    }

    fn throughput(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
}

/// `clients` threads, each with its own connection, post `body` to `url` in a loop for
/// `duration` (after ten requests each to warm up).
fn load(url: &str, body: &str, clients: usize, duration: Duration) -> Load {
    let barrier = Arc::new(Barrier::new(clients + 1));
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            let url = url.to_string();
            let body = body.to_string();
            std::thread::spawn(move || {
                let agent = agent();
                for _ in 0..10 {
                    let _ = post(&agent, &url, &body);
                }
                barrier.wait();
                let deadline = Instant::now() + duration;
                let mut latencies = Vec::with_capacity(1 << 16);
                let mut errors = 0;
                while Instant::now() < deadline {
                    let start = Instant::now();
                    match post(&agent, &url, &body) {
                        Ok((200, _)) => latencies.push(start.elapsed().as_micros() as u64),
                        _ => errors += 1,
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for thread in threads {
        let (mine, failed) = thread.join().expect("a client thread");
        latencies.extend(mine);
        errors += failed;
    }
    let elapsed = start.elapsed();
    latencies.sort_unstable();
    Load {
        requests: latencies.len(),
        errors,
        elapsed,
        latencies,
    }
}

/// A server that answers every request with `answer`, keeping connections alive: a thread
/// per connection.
fn baseline(answer: String) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = listener.local_addr().expect("an address");
    let response = Arc::new(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{answer}",
            answer.len()
        )
        .into_bytes(),
    );
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let response = Arc::clone(&response);
            std::thread::spawn(move || serve_fixed(stream, &response));
        }
    });
    addr
}

fn serve_fixed(mut stream: TcpStream, response: &[u8]) {
    let _ = stream.set_nodelay(true);
    while let Ok(Some(head)) = read_head(&mut stream) {
        if read_body(&mut stream, &head).is_err() || stream.write_all(response).is_err() {
            return;
        }
    }
}

fn row(name: &str, load: &Load) {
    println!(
        "{name:<28} {:>9} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>7}",
        load.requests,
        load.throughput(),
        load.percentile(0.50),
        load.percentile(0.90),
        load.percentile(0.99),
        load.latencies
            .last()
            .map_or(f64::NAN, |&m| m as f64 / 1000.0),
        load.errors,
    );
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let seconds = env("MEDPOL_BENCH_SECONDS", 60);
    let clients = env("MEDPOL_BENCH_CLIENTS", 50) as usize;
    let duration = Duration::from_secs(seconds);
    let request: serde_json::Value =
        serde_json::from_str(&fixture("requests/order-sign-covered.json")).expect("JSON");
    let body = request.to_string();

    let server = Server::start().expect("medpol serve starts");
    let agent = agent();
    let discovery: serde_json::Value = {
        let mut reply = agent
            .get(&server.url("/cds-services"))
            .call()
            .expect("discovery answers");
        serde_json::from_str(&reply.body_mut().read_to_string().expect("discovery"))
            .expect("discovery is JSON")
    };
    let id = discovery["services"]
        .as_array()
        .expect("services")
        .iter()
        .find(|s| s["hook"] == "order-sign")
        .and_then(|s| s["id"].as_str())
        .expect("an order-sign service")
        .to_string();
    let url = server.url(&format!("/cds-services/{id}"));
    let (status, answer) = post(&agent, &url, &body).expect("an answer");
    assert_eq!(status, 200, "{answer}");

    println!(
        "CRD order-sign (policy 484, {} bytes in, {} bytes out): {clients} clients, \
         kept-alive connections, {seconds} s each, loopback",
        body.len(),
        answer.len()
    );
    let medpol = load(&url, &body, clients, duration);
    let fixed = baseline(answer);
    let trivial = load(&format!("http://{fixed}/"), &body, clients, duration);
    println!(
        "{:<28} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8} {:>7}",
        "server", "requests", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors"
    );
    row("medpol serve", &medpol);
    row("fixed answer (std::net)", &trivial);
    println!(
        "medpol serve: {:.1} % of the baseline's throughput, p50 {:.1}x the baseline's; \
         peak resident set {} MiB",
        100.0 * medpol.throughput() / trivial.throughput(),
        medpol.percentile(0.50) / trivial.percentile(0.50),
        server.peak_rss().map_or(0, |b| b >> 20)
    );
    with_wrk(&url, &format!("http://{fixed}/"), &body, clients, seconds);
}

/// The same load from `wrk` (an event loop in C, one thread), when it is installed: a client
/// that takes far less of the two cores than 50 client threads, so that the servers' own
/// latency shows.
fn with_wrk(medpol: &str, fixed: &str, body: &str, clients: usize, seconds: u64) {
    let found = std::process::Command::new("wrk").arg("--version").output();
    if found.is_err() {
        println!("wrk: not installed (apt-get install wrk), skipped");
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary folder");
    let body_file = dir.path().join("body.json");
    std::fs::write(&body_file, body).expect("the body is written");
    let script = dir.path().join("post.lua");
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\n\
             local f = io.open(\"{}\", \"r\")\nwrk.body = f:read(\"*a\")\nf:close()\n",
            body_file.display()
        ),
    )
    .expect("the script is written");
    for (name, url) in [("medpol serve", medpol), ("fixed answer (std::net)", fixed)] {
        let out = std::process::Command::new("wrk")
            .args([
                "-t1",
                &format!("-c{clients}"),
                &format!("-d{seconds}s"),
                "--latency",
                "-s",
            ])
            .arg(&script)
            .arg(url)
            .output()
            .expect("wrk runs");
        let text = String::from_utf8_lossy(&out.stdout);
        let keep: Vec<&str> = text
            .lines()
            .filter(|l| {
                let t = l.trim_start();
                t.starts_with("50%")
                    || t.starts_with("90%")
                    || t.starts_with("99%")
                    || t.starts_with("Requests/sec")
                    || t.contains("requests in")
                    || t.starts_with("Non-2xx")
                    || t.starts_with("Socket errors")
            })
            .map(str::trim)
            .collect();
        println!("wrk -t1 -c{clients}, {name}: {}", keep.join("; "));
    }
}
