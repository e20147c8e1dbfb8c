//! `medpol lsp` as an editor runs it: a subprocess spoken to in JSON-RPC over its standard
//! input and output. The project is `tests/cases/lsp/`; edits are sent as unsaved texts, so
//! nothing on disk changes.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

#[path = "support/lsp_client.rs"]
mod lsp_client;
use lsp_client::Client;

fn project() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cases/lsp")
        .canonicalize()
        .unwrap()
}

fn uri(path: &Path) -> String {
    format!("file://{}", path.display()).replace(' ', "%20")
}

fn codes(list: &[Value]) -> Vec<&str> {
    list.iter().map(|d| d["code"].as_str().unwrap()).collect()
}

/// The position of the `nth` occurrence of `needle` in `text`, plus `shift` characters.
fn at(text: &str, needle: &str, shift: u32) -> Value {
    let offset = text.find(needle).unwrap();
    let line = text[..offset].matches('\n').count();
    let column = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1);
    json!({ "line": line, "character": column as u32 + shift })
}

fn position(uri: &str, text: &str, needle: &str, shift: u32) -> Value {
    json!({ "textDocument": { "uri": uri }, "position": at(text, needle, shift) })
}

fn open(client: &mut Client, uri: &str, text: &str) {
    client.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": uri, "languageId": "medpol", "version": 1, "text": text } }),
    );
}

fn change(client: &mut Client, uri: &str, version: i32, text: &str) {
    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": version }, "contentChanges": [{ "text": text }] }),
    );
}

#[test]
fn a_session_edits_hovers_jumps_and_completes() {
    let dir = project();
    let policy = uri(&dir.join("coverage.medpol"));
    let shared = uri(&dir.join("shared.medpol"));
    let text = std::fs::read_to_string(dir.join("coverage.medpol")).unwrap();
    let mut client = Client::start();

    open(&mut client, &policy, &text);
    // The clean policy: an empty list, after the check and after the analysis.
    client.diagnostics(&policy, <[Value]>::is_empty);

    // A typo in a name: E0101 at the name, as `medpol check` reports it, with a quick fix.
    let typo = text.replace("when adult and", "when adlt and");
    change(&mut client, &policy, 2, &typo);
    let list = client.diagnostics(&policy, |l| !l.is_empty());
    // `adult` is now unused, as `medpol check` says too.
    assert_eq!(codes(&list), ["W0102", "E0101"]);
    let d = &list[1];
    assert_eq!(d["range"]["start"], at(&typo, "adlt", 0));
    assert_eq!(d["range"]["end"], at(&typo, "adlt", 4));
    assert_eq!(d["severity"], 1);
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `adult`?")
    );
    assert_eq!(
        d["relatedInformation"][0]["location"]["range"]["start"],
        at(&typo, "adult \"18", 0)
    );
    let actions = client.request(
        "textDocument/codeAction",
        json!({
            "textDocument": { "uri": policy },
            "range": d["range"],
            "context": { "diagnostics": [d] },
        }),
    );
    assert_eq!(actions[0]["title"], "replace `adlt` with `adult`");
    assert_eq!(actions[0]["kind"], "quickfix");
    let edit = &actions[0]["edit"]["changes"][&policy][0];
    assert_eq!(edit["newText"], "adult");
    assert_eq!(edit["range"], d["range"]);

    // Fixed again: the diagnostics are cleared.
    change(&mut client, &policy, 3, &text);
    client.diagnostics(&policy, <[Value]>::is_empty);

    // Hover: a fact's type and description; an imported fact; a rule's outcome.
    let hover = client.request(
        "textDocument/hover",
        position(&policy, &text, "setting ==", 2),
    );
    let value = hover["contents"]["value"].as_str().unwrap();
    assert!(
        value.contains("fact setting: enum { inpatient, outpatient }"),
        "{value}"
    );
    assert!(
        value.contains("where the procedure is performed"),
        "{value}"
    );
    let hover = client.request(
        "textDocument/hover",
        position(&policy, &text, "adult_inpatient", 3),
    );
    let value = hover["contents"]["value"].as_str().unwrap();
    assert!(value.contains("gives **covered**"), "{value}");

    // Definition across files: `fractures` is declared in the shared file.
    let found = client.request(
        "textDocument/definition",
        position(&policy, &text, "any fractures", 6),
    );
    assert_eq!(found["uri"], shared);
    assert_eq!(
        found["range"]["start"],
        json!({ "line": 6, "character": 6 })
    );

    // References of `adult`: its declaration and its use.
    let refs = client.request(
        "textDocument/references",
        json!({
            "textDocument": { "uri": policy },
            "position": at(&text, "when adult", 6),
            "context": { "includeDeclaration": true },
        }),
    );
    assert_eq!(refs.as_array().unwrap().len(), 2, "{refs}");

    // Completion: enum values after `==`, facts and keywords elsewhere, codes by prefix.
    let values = client.request(
        "textDocument/completion",
        position(&policy, &text, "inpatient and", 0),
    );
    let labels: Vec<&str> = values
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["inpatient", "outpatient"]);
    let in_list = text.replace("setting == inpatient", "setting not in { outpatient, ");
    change(&mut client, &policy, 4, &in_list);
    let values = client.request(
        "textDocument/completion",
        position(&policy, &in_list, "outpatient, ", 12),
    );
    assert_eq!(values[0]["label"], "inpatient", "{values}");
    let names = client.request(
        "textDocument/completion",
        position(&policy, &text, "adult and", 0),
    );
    let labels: Vec<&str> = names
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["label"].as_str().unwrap())
        .collect();
    // The date of service is offered before any file names it.
    for expected in [
        "setting",
        "age",
        "adult",
        "fractures",
        "when",
        "otherwise",
        "service_date",
    ] {
        assert!(
            labels.contains(&expected),
            "{expected} missing from {labels:?}"
        );
    }
    let with_code = text.replace("any fractures", "any M80.08");
    change(&mut client, &policy, 5, &with_code);
    let codes_offered = client.request(
        "textDocument/completion",
        position(&policy, &with_code, "M80.08", 6),
    );
    let offered = codes_offered.as_array().unwrap();
    let vertebra = offered
        .iter()
        .find(|i| i["label"] == "M80.08XA")
        .expect("M80.08XA offered");
    assert!(
        vertebra["detail"].as_str().unwrap().contains("vertebra"),
        "{vertebra}"
    );
    change(&mut client, &policy, 6, &text);

    // Hover on a code in the shared file: its description, billable status and 7th character.
    let shared_text = std::fs::read_to_string(dir.join("shared.medpol")).unwrap();
    open(&mut client, &shared, &shared_text);
    client.diagnostics(&shared, <[Value]>::is_empty);
    let hover = client.request(
        "textDocument/hover",
        position(&shared, &shared_text, "M80.08XA", 3),
    );
    let value = hover["contents"]["value"].as_str().unwrap();
    assert!(value.contains("billable: yes"), "{value}");
    assert!(
        value.contains("7th character `A`: initial encounter"),
        "{value}"
    );

    // Document symbols: the policy, the fact, the definition, the decision with its rule.
    let symbols = client.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": policy } }),
    );
    let names: Vec<&str> = symbols
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["lsp-test", "setting", "adult", "coverage"]);
    assert_eq!(symbols[3]["children"][0]["name"], "adult_inpatient");

    // Formatting: the same text as `medpol fmt`, as one edit of the whole document.
    let messy = text.replace("when adult and", "when   adult    and");
    change(&mut client, &policy, 7, &messy);
    let edits = client.request(
        "textDocument/formatting",
        json!({ "textDocument": { "uri": policy }, "options": { "tabSize": 2, "insertSpaces": true } }),
    );
    let fmt = std::process::Command::new(env!("CARGO_BIN_EXE_medpol"))
        .args(["fmt", "--stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut fmt.stdin.as_ref().unwrap(), messy.as_bytes()).unwrap();
    let formatted = String::from_utf8(fmt.wait_with_output().unwrap().stdout).unwrap();
    assert!(formatted.contains("when adult and"), "{formatted}");
    assert_eq!(edits[0]["newText"], formatted);
    assert_eq!(
        edits[0]["range"]["start"],
        json!({ "line": 0, "character": 0 })
    );
    // A formatted text needs no edit.
    change(&mut client, &policy, 8, &formatted);
    let edits = client.request(
        "textDocument/formatting",
        json!({ "textDocument": { "uri": policy }, "options": { "tabSize": 2, "insertSpaces": true } }),
    );
    assert_eq!(edits, json!([]));

    client.stop();
}

#[test]
fn a_missing_placeholder_is_fixed_by_a_code_action() {
    let dir = project();
    let shared = uri(&dir.join("shared.medpol"));
    let text = std::fs::read_to_string(dir.join("shared.medpol")).unwrap();
    let slip = text.replace("M80.08XA", "M80.08A");
    let mut client = Client::start();
    open(&mut client, &shared, &slip);
    let list = client.diagnostics(&shared, |l| !l.is_empty());
    assert_eq!(codes(&list), ["E0305"]);
    let actions = client.request(
        "textDocument/codeAction",
        json!({
            "textDocument": { "uri": shared },
            "range": list[0]["range"],
            "context": { "diagnostics": list },
        }),
    );
    let edit = &actions[0]["edit"]["changes"][&shared][0];
    assert_eq!(edit["newText"], "M80.08XA");
    // The edit replaces the code only, not the line end after it.
    assert_eq!(edit["range"]["start"], at(&slip, "M80.08A", 0));
    assert_eq!(edit["range"]["end"], at(&slip, "M80.08A", 7));
    client.stop();
}

#[test]
fn an_unsaved_document_is_checked_alone() {
    let mut client = Client::start();
    let uri = "untitled:Untitled-1";
    open(&mut client, uri, "fact a: bool\ndefine b = c\n");
    let list = client.diagnostics(uri, |l| !l.is_empty());
    assert!(codes(&list).contains(&"E0101"), "{list:?}");
    client.stop();
}

#[test]
fn units_are_completed_and_measurements_hovered() {
    let mut client = Client::start();
    let uri = "untitled:Untitled-2";
    let text = "fact bmi: quantity<kg/m2> in 10..100 documented \"body-mass index\"\ndefine obese = bmi >= 35 \n";
    open(&mut client, uri, text);
    client.diagnostics(uri, |l| !l.is_empty());
    let labels = |items: &Value| -> Vec<String> {
        items
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["label"].as_str().unwrap().to_string())
            .collect()
    };
    let units = client.request("textDocument/completion", position(uri, text, "35 ", 3));
    let offered = labels(&units);
    for expected in ["kg/m2", "[lb_av]", "mm[Hg]", "weeks", "%"] {
        assert!(
            offered.iter().any(|l| l == expected),
            "{expected}: {offered:?}"
        );
    }
    let bmi = units
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["label"] == "kg/m2")
        .unwrap();
    assert_eq!(bmi["detail"], "a mass per area in kg/m2");
    let in_type = client.request(
        "textDocument/completion",
        position(uri, text, "quantity<", 9),
    );
    assert_eq!(labels(&in_type)[0], "kg");
    let hover = client.request("textDocument/hover", position(uri, text, "bmi >=", 1));
    let value = hover["contents"]["value"].as_str().unwrap();
    assert!(
        value.contains("quantity<kg/m2> in 10..100 documented"),
        "{value}"
    );
    client.stop();
}

/// A derived value's hover gives its formula, its inputs and its unit; completions offer it
/// once, as the definition.
#[test]
fn derived_values_are_hovered_with_their_formula() {
    let mut client = Client::start();
    let uri = "untitled:Untitled-3";
    let text = "fact weight: quantity<kg>\nfact height: quantity<cm>\ndefine bmi = weight / (height * height)\ndefine obese = bmi >= 35 kg/m2\n";
    open(&mut client, uri, text);
    client.diagnostics(uri, |l| !l.is_empty());
    let hover = client.request("textDocument/hover", position(uri, text, "bmi >=", 1));
    let value = hover["contents"]["value"].as_str().unwrap();
    assert!(
        value.contains(
            "derived value: a mass per area in kg/m2, computed from `weight`, `height` as `weight / (height * height)`"
        ),
        "{value}"
    );
    let items = client.request("textDocument/completion", position(uri, text, "bmi >=", 0));
    let named: Vec<&Value> = items
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["label"] == "bmi")
        .collect();
    assert_eq!(named.len(), 1, "{named:?}");
    client.stop();
}

/// Random edits of a real policy, sent one after another without waiting: the server never
/// fails, and its last diagnostics are those of the last text.
#[test]
fn random_edits_never_bring_the_server_down() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("policies/l2-compression-fracture.medpol")
        .canonicalize()
        .unwrap();
    let doc = uri(&path);
    let original = std::fs::read_to_string(&path).unwrap();
    let mut client = Client::start();
    open(&mut client, &doc, &original);
    // A small deterministic generator: the test fails the same way every time.
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let inserts = [
        "(", ")", "{", "}", "\"", "when ", " and", "==", "é", "𝔸", "\n", "/*", "M80.", ",",
    ];
    let mut text = original.clone();
    for version in 2..200 {
        let mut at = next(text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        match next(3) {
            0 => text.insert_str(at, inserts[next(inserts.len())]),
            1 => {
                let mut end = (at + next(20)).min(text.len());
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text.replace_range(at..end, "");
            }
            _ => text = original.clone(),
        }
        change(&mut client, &doc, version, &text);
        if version % 20 == 0 {
            // Requests at random places in the broken text.
            let line = next(text.lines().count().max(1));
            let character = next(40);
            let p = json!({ "textDocument": { "uri": doc }, "position": { "line": line, "character": character } });
            client.request("textDocument/hover", p.clone());
            client.request("textDocument/completion", p.clone());
            client.request("textDocument/definition", p);
        }
    }
    // Back to the real policy. The server checks a change before it reads the next message, so
    // once the request below is answered, the last diagnostics published are of this text:
    // clean (its project allows what it would warn about).
    change(&mut client, &doc, 200, &original);
    let symbols = client.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": doc } }),
    );
    assert!(!symbols.as_array().unwrap().is_empty());
    let last = client
        .notifications
        .iter()
        .rev()
        .find(|m| m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == doc)
        .expect("diagnostics published");
    assert_eq!(last["params"]["diagnostics"], json!([]), "{last}");
    client.stop();
}

/// What the server logs (`window/logMessage`), waited for until one satisfies `wanted`.
fn logged(client: &mut Client, wanted: &str) -> String {
    let m = client.wait_for(|m| {
        m["method"] == "window/logMessage"
            && m["params"]["message"]
                .as_str()
                .is_some_and(|s| s.contains(wanted))
    });
    m["params"]["message"].as_str().unwrap().to_string()
}

/// A request the server answers whatever the state: the symbols of a document it does not know.
fn still_serving(client: &mut Client) {
    let symbols = client.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": "untitled:none" } }),
    );
    assert_eq!(symbols, json!([]));
}

#[test]
fn malformed_messages_are_answered_and_the_session_goes_on() {
    let mut client = Client::start();
    // A header block without `Content-Length`: logged and skipped.
    client.send_raw(b"Garbage without a colon\r\n\r\n");
    let log = logged(&mut client, "bad header");
    assert!(log.contains("`Garbage without a colon`"), "{log}");
    still_serving(&mut client);
    // A length that is no number: its block is skipped, and its body, which has no line break,
    // runs into the next header, which is still read.
    client.send_raw(b"Content-Length: ten\r\n\r\n{}");
    logged(&mut client, "is not a length");
    still_serving(&mut client);
    // A body that is not JSON, or not UTF-8: JSON-RPC's parse error, with no id.
    for body in [
        &b"{\"jsonrpc\": \"2.0\", \"id\": 1, "[..],
        b"{\"method\": \"\xff\"}",
    ] {
        client.send_body(body);
        let reply = client.wait_for(|m| m.get("error").is_some());
        assert_eq!(reply["id"], Value::Null, "{reply}");
        assert_eq!(reply["error"]["code"], -32700, "{reply}");
        still_serving(&mut client);
    }
    // JSON that is no message: an invalid request, answered with its id.
    client.send_body(br#"{"jsonrpc": "2.0", "id": 77}"#);
    let reply = client.wait_for(|m| m["id"] == 77);
    assert_eq!(reply["error"]["code"], -32600, "{reply}");
    still_serving(&mut client);
    client.stop();
}

#[test]
fn an_unknown_method_is_not_found() {
    let mut client = Client::start();
    let reply = client.request_reply("medpol/unknown", json!({}));
    assert_eq!(reply["error"]["code"], -32601, "{reply}");
    assert_eq!(
        reply["error"]["message"],
        "medpol does not answer `medpol/unknown`"
    );
    // Known, with parameters it cannot read: invalid parameters, as before.
    let reply = client.request_reply("textDocument/hover", json!({ "nothing": 1 }));
    assert_eq!(reply["error"]["code"], -32602, "{reply}");
    client.stop();
}

/// Before `initialize`, a request is refused with -32002 (without echoing it) and a
/// notification is dropped; `initialize` then works, and `exit` before it ends with status 1.
#[test]
fn messages_before_initialize_are_answered_as_the_protocol_says() {
    let mut client = Client::uninitialized();
    let big = "x".repeat(100_000);
    let reply = client.request_reply("textDocument/hover", json!({ "text": big }));
    assert_eq!(reply["error"]["code"], -32002, "{reply:.300}");
    assert!(reply.to_string().len() < 500, "the request is not echoed");
    client.notify("textDocument/didOpen", json!({}));
    client.initialize();
    still_serving(&mut client);
    client.stop();

    let mut client = Client::uninitialized();
    client.notify("exit", Value::Null);
    assert_eq!(client.exit_status().code(), Some(1));
}

#[test]
fn exit_without_shutdown_ends_with_status_1() {
    let mut client = Client::start();
    client.notify("exit", Value::Null);
    assert_eq!(client.exit_status().code(), Some(1));
    // The same when the editor just closes the server's input.
    let client = Client::start();
    assert_eq!(client.close().code(), Some(1));
    // After `shutdown`, requests are refused, and `exit` ends with 0 (`Client::stop`).
    let mut client = Client::start();
    assert_eq!(client.request("shutdown", Value::Null), Value::Null);
    let reply = client.request_reply("textDocument/documentSymbol", json!({}));
    assert_eq!(reply["error"]["code"], -32600, "{reply}");
    client.notify("exit", Value::Null);
    assert_eq!(client.exit_status().code(), Some(0));
}

/// The address space the server gets in the tests of size limits: enough for the server (and
/// the largest message it reads), far less than a 60 GB message or a document checked at 200
/// times its size.
const LIMIT: u64 = 1 << 30;

#[test]
fn a_message_past_the_size_limit_is_skipped_unread() {
    let mut client = Client::start_limited(LIMIT);
    // Just past 64 MiB: skipped, and the next message read.
    let over = (64 << 20) + 1;
    let mut message = format!("Content-Length: {over}\r\n\r\n").into_bytes();
    message.resize(message.len() + over, b' ');
    client.send_raw(&message);
    logged(&mut client, &format!("skipped a message of {over} bytes"));
    still_serving(&mut client);
    // 60 GB claimed: reported at once, with nothing allocated for it; the server then reads
    // on to skip the body, until the input ends.
    client.send_raw(b"Content-Length: 60000000000\r\n\r\n{\"jsonrpc\"");
    logged(&mut client, "skipped a message of 60000000000 bytes");
    let status = client.close();
    assert_eq!(status.code(), Some(1), "{status}");
}

#[test]
fn a_document_past_the_size_limit_gets_one_warning() {
    let mut client = Client::start_limited(LIMIT);
    let uri = "untitled:huge";
    // 8 MiB and a bit of one error repeated: checking it would mean a million diagnostics.
    let line = "define x = y\n";
    let text = line.repeat((8 << 20) / line.len() + 1);
    open(&mut client, uri, &text);
    let list = client.diagnostics(uri, |l| !l.is_empty());
    assert_eq!(list.len(), 1, "{:?}", &list[..2]);
    assert_eq!(list[0]["severity"], 2);
    assert_eq!(codes(&list), ["W0208"]);
    let message = list[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "this document is too large to check: {} bytes",
            text.len()
        )),
        "{message}"
    );
    // Cut to size, it is checked again.
    change(&mut client, uri, 2, line);
    let list = client.diagnostics(uri, |l| l.iter().any(|d| d["code"] == "E0101"));
    assert_eq!(codes(&list), ["W0102", "E0101"]);
    client.stop();
}
