//! Speed and memory of the language server, measured over the protocol: the time from a
//! `didChange` of a 1,000-line policy to the `publishDiagnostics` that answers it, and the
//! server's resident memory with the ICD-10-CM table in use. The targets and the numbers
//! measured are in `docs/performance.md`; nothing here asserts a time.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};

#[path = "../tests/support/lsp_client.rs"]
mod lsp_client;
use lsp_client::Client;

const LINES: usize = 1_000;

/// A policy of about `LINES` lines: facts, code sets, definitions and decisions that use them
/// all, clean under `medpol check`.
fn policy() -> String {
    let mut s = String::from(
        "policy \"bench\" {\n  title \"Language server benchmark\"\n  version \"1\"\n  effective 2025-01-01\n}\n\n",
    );
    s.push_str("fact diagnoses: set<code<icd10cm>> \"the claim's diagnoses\"\n");
    s.push('\n');
    let facts = 150;
    for i in 0..facts {
        s.push_str(&format!("fact f{i}: int \"measure {i}\"\n"));
    }
    s.push('\n');
    for i in 0..20 {
        s.push_str(&format!("codes set{i} \"fractures {i}\" = icd10cm {{\n"));
        for c in ["M80.08XA", "M80.08XD", "M80.88XA", "S32.020A", "S32.021A"] {
            s.push_str(&format!("  {c}\n"));
        }
        s.push_str("}\n\n");
    }
    for i in 0..facts {
        s.push_str(&format!(
            "define d{i} \"measure {i} in range\" =\n  f{i} >= {} and f{i} < {}\n",
            i % 50,
            100 + i
        ));
    }
    s.push('\n');
    let mut rule = 0;
    let mut decision = 0;
    while s.lines().count() < LINES {
        s.push_str(&format!(
            "decision dec{decision} (first) \"decision {decision}\" {{\n  outcomes {{ covered, denied }}\n"
        ));
        for _ in 0..20 {
            s.push_str(&format!(
                "  rule r{rule} when d{} and diagnoses has any set{} then covered\n",
                rule % facts,
                rule % 20
            ));
            rule += 1;
        }
        s.push_str("  otherwise denied\n}\n\n");
        decision += 1;
    }
    s
}

/// The policy in a folder of its own, so that its project is just it; the folder is removed
/// when the first value is dropped, also when the benchmark panics.
fn policy_file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix("medpol-lsp-bench-")
        .tempdir()
        .unwrap();
    let path = dir.path().join("bench.medpol");
    std::fs::write(&path, text).unwrap();
    let path = path.canonicalize().unwrap();
    (dir, path)
}

fn open(client: &mut Client, uri: &str, text: &str) {
    client.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": uri, "languageId": "medpol", "version": 1, "text": text } }),
    );
}

/// Sends a change that makes the text unique (an unknown name `typoN`) and waits for the
/// diagnostics that report it: those of this very change, not an earlier one.
fn change_and_wait(client: &mut Client, uri: &str, text: &str, n: u64) -> Duration {
    let edited = text.replacen("when d0 ", &format!("when typo{n} "), 1);
    let needle = format!("`typo{n}`");
    let start = Instant::now();
    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": n + 2 }, "contentChanges": [{ "text": edited }] }),
    );
    client.diagnostics(uri, |list: &[Value]| {
        list.iter()
            .any(|d| d["message"].as_str().is_some_and(|m| m.contains(&needle)))
    });
    start.elapsed()
}

/// The protocol position of the first `needle` in `text` (ASCII text).
fn position(text: &str, needle: &str) -> Value {
    let offset = text.find(needle).unwrap();
    let line = text[..offset].matches('\n').count();
    let character = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1);
    json!({ "line": line, "character": character })
}

/// Sends a change that keeps the policy clean (a comment at its end) and returns the time to
/// its first diagnostics (parse and check) and to its second (with the analysis). Waiting for
/// the second one keeps an earlier analysis from answering the next change.
fn clean_change(client: &mut Client, uri: &str, text: &str, n: u64) -> (Duration, Duration) {
    let edited = format!("{text}// edit {n}\n");
    let start = Instant::now();
    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": n + 2 }, "contentChanges": [{ "text": edited }] }),
    );
    client.diagnostics(uri, <[Value]>::is_empty);
    let checked = start.elapsed();
    client.diagnostics(uri, <[Value]>::is_empty);
    (checked, start.elapsed())
}

/// Resident memory of a process: now and at its peak, in MiB (Linux).
fn memory(pid: u32) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = |key: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(key))?;
        line.split_whitespace().nth(1)?.parse::<f64>().ok()
    };
    Some((kib("VmRSS:")? / 1024.0, kib("VmHWM:")? / 1024.0))
}

fn bench(c: &mut Criterion) {
    let text = policy();
    assert!(text.lines().count() >= LINES, "{}", text.lines().count());
    let (_scratch, path) = policy_file(&text);
    let uri = format!("file://{}", path.display());
    let mut client = Client::start();
    open(&mut client, &uri, &text);
    let mut n = 0;
    c.bench_function("lsp/change-to-diagnostics-1000-lines", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                n += 1;
                total += change_and_wait(&mut client, &uri, &text, n);
            }
            total
        })
    });

    let mut analysed = Vec::new();
    c.bench_function("lsp/change-to-diagnostics-1000-lines-clean", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                n += 1;
                let (checked, full) = clean_change(&mut client, &uri, &text, n);
                total += checked;
                analysed.push(full);
            }
            total
        })
    });
    analysed.sort();
    if let Some(median) = analysed.get(analysed.len() / 2) {
        println!(
            "lsp/change-to-analysis-1000-lines: median {:.1} ms over {} changes",
            median.as_secs_f64() * 1000.0,
            analysed.len()
        );
    }

    // Memory: after the clean policy's analyses, hovers over its codes and completions of
    // codes by prefix, which read the ICD-10-CM table.
    for code in ["M80.08XA", "M80.88XA", "S32.020A"] {
        client.request(
            "textDocument/hover",
            json!({ "textDocument": { "uri": uri }, "position": position(&text, code) }),
        );
    }
    for prefix in ["M8", "S3", "A0", "Z9"] {
        let probe = text.replacen("when d0 ", &format!("when {prefix}"), 1);
        client.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": uri, "version": 1_000_001 }, "contentChanges": [{ "text": probe }] }),
        );
        let mut at = position(&probe, &format!("when {prefix}"));
        at["character"] = json!(at["character"].as_u64().unwrap() + 5 + prefix.len() as u64);
        client.request(
            "textDocument/completion",
            json!({ "textDocument": { "uri": uri }, "position": at }),
        );
    }
    if let Some((rss, peak)) = memory(client.pid()) {
        println!(
            "lsp/memory: resident {rss:.1} MiB, peak {peak:.1} MiB ({} lines, ICD-10-CM in use)",
            text.lines().count()
        );
    }
    client.stop();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(Duration::from_secs(10));
    targets = bench
}
criterion_main!(benches);
