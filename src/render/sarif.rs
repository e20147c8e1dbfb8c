//! SARIF 2.1.0, for code-scanning services (GitHub uploads it with `upload-sarif`): one run,
//! the codes reported as its rules (with their section of `docs/diagnostics.md` as help), each
//! diagnostic a result at its primary label, the other labels its related locations.
//!
//! GitHub takes at most 25,000 results a run: past [`MAX_RESULTS`], the rest are counted in a
//! notification of the run's invocation, so nothing is dropped silently.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde::Serialize;

use super::location;
use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::source::{Sources, Span};

/// The most results one run carries (GitHub's limit for an upload).
pub const MAX_RESULTS: usize = 25_000;

/// The most related locations of one result (GitHub keeps the first 1,000 and shows 100).
const MAX_RELATED: usize = 100;

const SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The base the relative paths of a report are resolved against: the folder medpol ran in.
const SRCROOT: &str = "%SRCROOT%";

/// Characters a path segment of a URI reference may not hold as they are (RFC 3986: all but
/// the unreserved characters, the sub-delimiters, `:` and `@`).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: Tool,
    invocations: [Invocation; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    original_uri_base_ids: Option<BTreeMap<&'static str, ArtifactLocation>>,
    /// Columns count Unicode scalar values, as every other form of medpol's reports does.
    column_kind: &'static str,
    results: Vec<SarifResult<'a>>,
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    version: &'static str,
    semantic_version: &'static str,
    rules: Vec<Rule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: &'static str,
    name: String,
    short_description: Text,
    full_description: Text,
    help: Help,
    default_configuration: Configuration,
    properties: RuleProperties,
}

#[derive(Serialize)]
struct Text {
    text: String,
}

#[derive(Serialize)]
struct Help {
    text: String,
    markdown: String,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
struct RuleProperties {
    tags: Vec<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Invocation {
    execution_successful: bool,
    tool_execution_notifications: Vec<Notification>,
}

#[derive(Serialize)]
struct Notification {
    level: &'static str,
    message: Text,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: &'static str,
    rule_index: usize,
    level: &'static str,
    message: Text,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    locations: Vec<Location<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    related_locations: Vec<Location<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<usize>,
    physical_location: PhysicalLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<MessageRef<'a>>,
}

#[derive(Serialize)]
struct MessageRef<'a> {
    text: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    region: Region,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri_base_id: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: usize,
    start_column: usize,
    end_line: usize,
    end_column: usize,
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

/// A file's name as a URI: a relative path is a reference against [`SRCROOT`], an absolute
/// one a `file` URI.
fn artifact(name: &str) -> ArtifactLocation {
    let path = Path::new(name);
    let segments: Vec<String> = path
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(s) => {
                Some(utf8_percent_encode(&s.to_string_lossy(), SEGMENT).to_string())
            }
            std::path::Component::ParentDir => Some("..".to_string()),
            _ => None,
        })
        .collect();
    if path.is_absolute() {
        ArtifactLocation {
            uri: format!("file:///{}", segments.join("/")),
            uri_base_id: None,
        }
    } else {
        ArtifactLocation {
            uri: segments.join("/"),
            uri_base_id: Some(SRCROOT),
        }
    }
}

fn physical(sources: &Sources, span: Span) -> PhysicalLocation {
    let (start_line, start_column) = location(sources, span, false);
    let (end_line, end_column) = location(sources, span, true);
    PhysicalLocation {
        artifact_location: artifact(sources.name(span.file)),
        region: Region {
            start_line,
            start_column,
            end_line,
            end_column,
        },
    }
}

fn rule(code: Code) -> Rule {
    let section = crate::explain::explain(code).unwrap_or_default().trim();
    let heading = format!("{} {}", code.as_str(), code.name());
    let tags = match code.as_str().get(1..3) {
        Some("04") => vec!["analysis"],
        Some("03") => vec!["code-tables"],
        _ => vec!["policy"],
    };
    Rule {
        id: code.as_str(),
        name: code.name().to_string(),
        short_description: Text {
            text: code.summary().to_string(),
        },
        full_description: Text {
            text: first_paragraph(section)
                .unwrap_or(code.summary())
                .to_string(),
        },
        help: Help {
            text: format!(
                "{heading}\n\n{section}\n\n(docs/diagnostics.md, section {heading}; `medpol explain {}`)",
                code.as_str()
            ),
            markdown: format!(
                "## {heading}\n\n{section}\n\nFrom `docs/diagnostics.md`, section *{heading}*; `medpol explain {}` prints it.",
                code.as_str()
            ),
        },
        default_configuration: Configuration {
            level: level(code.default_severity()),
        },
        properties: RuleProperties { tags },
    }
}

fn first_paragraph(section: &str) -> Option<&str> {
    section
        .split("\n\n")
        .map(str::trim)
        .find(|p| !p.is_empty() && !p.starts_with("```"))
}

/// The folder relative paths are resolved against, as a `file` URI ending in `/`.
fn source_root() -> Option<ArtifactLocation> {
    let cwd = std::env::current_dir().ok()?;
    let uri = artifact(&cwd.to_string_lossy()).uri;
    Some(ArtifactLocation {
        uri: format!("{}/", uri.trim_end_matches('/')),
        uri_base_id: None,
    })
}

fn log<'a>(sources: &'a Sources, diagnostics: &'a [Diagnostic]) -> Log<'a> {
    // The rules are the codes reported, in code order; a result names its rule's index.
    let mut codes: Vec<Code> = diagnostics.iter().map(|d| d.code).collect();
    codes.sort();
    codes.dedup();
    let index: BTreeMap<Code, usize> = codes.iter().enumerate().map(|(i, c)| (*c, i)).collect();
    let results = diagnostics
        .iter()
        .take(MAX_RESULTS)
        .map(|d| {
            let primary = d.labels.iter().find(|l| l.primary);
            SarifResult {
                rule_id: d.code.as_str(),
                rule_index: index.get(&d.code).copied().unwrap_or_default(),
                level: level(d.severity),
                message: Text {
                    text: d.full_message(),
                },
                locations: primary
                    .map(|l| Location {
                        id: None,
                        physical_location: physical(sources, l.span),
                        message: (!l.message.is_empty()).then_some(MessageRef { text: &l.message }),
                    })
                    .into_iter()
                    .collect(),
                related_locations: d
                    .labels
                    .iter()
                    .filter(|l| !l.primary)
                    .take(MAX_RELATED)
                    .enumerate()
                    .map(|(i, l)| Location {
                        id: Some(i),
                        physical_location: physical(sources, l.span),
                        message: (!l.message.is_empty()).then_some(MessageRef { text: &l.message }),
                    })
                    .collect(),
            }
        })
        .collect();
    let mut notifications = Vec::new();
    if diagnostics.len() > MAX_RESULTS {
        notifications.push(Notification {
            level: "warning",
            message: Text {
                text: format!(
                    "{} more results left out: a run holds at most {} (the JSON form has every one)",
                    super::thousands(diagnostics.len() - MAX_RESULTS),
                    super::thousands(MAX_RESULTS)
                ),
            },
        });
    }
    let root = source_root().map(|r| BTreeMap::from([(SRCROOT, r)]));
    Log {
        schema: SCHEMA,
        version: "2.1.0",
        runs: [Run {
            tool: Tool {
                driver: Driver {
                    name: "medpol",
                    version: env!("CARGO_PKG_VERSION"),
                    semantic_version: env!("CARGO_PKG_VERSION"),
                    rules: codes.into_iter().map(rule).collect(),
                },
            },
            invocations: [Invocation {
                execution_successful: true,
                tool_execution_notifications: notifications,
            }],
            original_uri_base_ids: root,
            column_kind: "unicodeCodePoints",
            results,
        }],
    }
}

/// Writes the diagnostics as one SARIF 2.1.0 log, as it is made: compact, as code-scanning
/// services limit the size of an upload.
pub fn write(
    to: impl std::io::Write,
    sources: &Sources,
    diagnostics: &[Diagnostic],
) -> std::io::Result<()> {
    let mut to = std::io::BufWriter::with_capacity(1 << 16, to);
    serde_json::to_writer(&mut to, &log(sources, diagnostics)).map_err(std::io::Error::from)?;
    to.write_all(b"\n")?;
    to.flush()
}
