//! The formatter on every policy the project has: the `.medpol` files under `tests/`, the
//! shipped policies and the examples of `docs/language.md`. For each that parses, formatting
//! must be idempotent, keep every comment, and keep the meaning: the formatted files check with
//! the same diagnostic codes, the same typed model (spans aside) and the same analysis findings.
//! The cases in `tests/cases/fmt/` are snapshots of the formatted output.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use medpol::format::{self, Error};
use medpol::source::{FileId, Sources};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn medpol_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            medpol_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "medpol") {
            out.push(path);
        }
    }
}

/// The texts of the `medpol` examples of the language reference, by `file=` name when given.
fn doc_examples() -> Vec<(String, Option<String>)> {
    let text = std::fs::read_to_string(root().join("docs/language.md")).unwrap();
    let mut out = Vec::new();
    let mut open: Option<(Option<String>, Vec<&str>)> = None;
    for line in text.lines() {
        match &mut open {
            None => {
                if let Some(info) = line.trim_start().strip_prefix("```")
                    && info.starts_with("medpol")
                {
                    let file = info
                        .split_whitespace()
                        .find_map(|w| w.strip_prefix("file="))
                        .map(str::to_string);
                    open = Some((file, Vec::new()));
                }
            }
            Some((file, body)) => {
                if line.trim() == "```" {
                    out.push((body.join("\n") + "\n", file.take()));
                    open = None;
                } else {
                    body.push(line);
                }
            }
        }
    }
    assert!(out.len() > 30, "the examples of docs/language.md are found");
    out
}

fn comment_texts(text: &str) -> Vec<String> {
    let parsed = medpol::syntax::parse(FileId(0), text);
    let mut texts: Vec<String> = parsed
        .file
        .comments
        .iter()
        .map(|s| text.get(s.range()).unwrap().trim_end().to_string())
        .collect();
    texts.sort();
    texts
}

/// Formats a text that parses; `None` for one the formatter refuses for its syntax errors.
fn formatted(label: &str, text: &str) -> Option<String> {
    match format::format(FileId(0), text) {
        Ok(out) => {
            let again = format::format(FileId(0), &out)
                .unwrap_or_else(|e| panic!("{label}: the formatted text is refused: {e}\n{out}"));
            assert_eq!(again, out, "{label}: formatting twice changes the text");
            assert_eq!(
                comment_texts(&out),
                comment_texts(text),
                "{label}: the comments differ"
            );
            Some(out)
        }
        Err(Error::Syntax(d)) => {
            assert!(
                !d.is_empty()
                    || !medpol::syntax::parse(FileId(0), text)
                        .file
                        .broken
                        .is_empty(),
                "{label}: refused without a reason"
            );
            None
        }
        Err(e) => panic!("{label}: {e}"),
    }
}

/// What a project means: every diagnostic code by file, the typed model without spans, and
/// the analysis findings.
fn meaning(dir: &Path) -> String {
    let mut sources = Sources::new();
    let project = medpol::project::load(&mut sources, dir, &[dir.to_path_buf()]).unwrap();
    let checked = medpol::check::check(&project.files, &project.imports, &project.tables, &[]);
    let mut codes: Vec<String> = project
        .diagnostics
        .iter()
        .chain(&checked.diagnostics)
        .map(|d| {
            let file = d.primary_span().map_or("", |s| sources.name(s.file));
            format!("{} {file}", d.code.as_str())
        })
        .collect();
    let findings = if codes.iter().any(|c| c.starts_with('E')) {
        Vec::new()
    } else {
        let options = medpol::analyse::Options {
            tables: Some(project.tables.clone()),
            ..medpol::analyse::Options::default()
        };
        medpol::analyse::analyse(checked.valid().unwrap(), &options)
            .diagnostics
            .iter()
            .map(|d| d.code.as_str().to_string())
            .collect()
    };
    codes.sort();
    let program = strip_spans(&format!("{:#?}", checked.program()));
    // Project paths differ between the two copies; the file names within them do not.
    let canonical = dir.canonicalize().unwrap();
    format!("{codes:?}\n{findings:?}\n{program}")
        .replace(&canonical.display().to_string(), "[DIR]")
        .replace(&dir.display().to_string(), "[DIR]")
}

fn strip_spans(debug: &str) -> String {
    let mut out = String::new();
    let mut rest = debug;
    while let Some(at) = rest.find("Span {") {
        out.push_str(&rest[..at]);
        let close = rest[at..].find('}').unwrap();
        rest = &rest[at + close + 1..];
    }
    out.push_str(rest);
    out
}

/// A fresh folder, removed when it is dropped, also by a failing test.
fn scratch(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("medpol-fmt-{name}-"))
        .tempdir()
        .unwrap()
}

/// Writes a project of files (relative name → text) into a fresh folder.
fn write_project(dir: &Path, files: &BTreeMap<PathBuf, String>) {
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// Checks that formatting every file of a project keeps its meaning. `files` holds every file
/// of the project (non-policy files such as `medpol.yaml` too); `.medpol` files are formatted.
fn same_meaning(name: &str, files: &BTreeMap<PathBuf, String>) -> usize {
    let mut after = files.clone();
    let mut count = 0;
    for (path, text) in after.iter_mut() {
        if path.extension().is_some_and(|e| e == "medpol")
            && let Some(out) = formatted(&format!("{name}/{}", path.display()), text)
        {
            *text = out;
            count += 1;
        }
    }
    let (a, b) = (
        scratch(&format!("{name}-before")),
        scratch(&format!("{name}-after")),
    );
    write_project(a.path(), files);
    write_project(b.path(), &after);
    assert_eq!(
        meaning(a.path()),
        meaning(b.path()),
        "{name}: formatting changed the meaning"
    );
    count
}

/// Every file of a folder, by path relative to it.
fn folder(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    for entry in walk(dir) {
        if let Ok(text) = std::fs::read_to_string(&entry) {
            out.insert(entry.strip_prefix(dir).unwrap().to_path_buf(), text);
        }
    }
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn every_case_file_keeps_its_meaning() {
    let mut files = Vec::new();
    medpol_files(&root().join("tests/cases"), &mut files);
    let mut formatted_count = 0;
    for file in files
        .iter()
        .filter(|f| !f.starts_with(root().join("tests/cases/projects")))
    {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue; // The invalid UTF-8 case.
        };
        let name = file.file_stem().unwrap().to_string_lossy().to_string();
        let one = BTreeMap::from([(PathBuf::from(file.file_name().unwrap()), text)]);
        formatted_count += same_meaning(&name, &one);
    }
    assert!(
        formatted_count > 40,
        "only {formatted_count} cases formatted"
    );
}

#[test]
fn every_case_project_keeps_its_meaning() {
    let dir = root().join("tests/cases/projects");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        same_meaning(&format!("project-{name}"), &folder(&path));
    }
}

#[test]
fn the_shipped_policies_keep_their_meaning_and_are_formatted() {
    let dir = root().join("policies");
    let files = folder(&dir);
    assert_eq!(same_meaning("policies", &files), 12);
    for (path, text) in &files {
        if path.extension().is_some_and(|e| e == "medpol") {
            let out = format::format(FileId(0), text).unwrap();
            assert!(
                out == *text,
                "policies/{} is not formatted; run `medpol fmt policies`",
                path.display()
            );
        }
    }
}

#[test]
fn every_docs_example_keeps_its_meaning() {
    let mut project = BTreeMap::new();
    let mut count = 0;
    for (i, (text, file)) in doc_examples().into_iter().enumerate() {
        match file {
            Some(f) => {
                project.insert(PathBuf::from(f), text);
            }
            None => {
                let one = BTreeMap::from([(PathBuf::from("example.medpol"), text)]);
                count += same_meaning(&format!("docs-{i}"), &one);
            }
        }
    }
    count += same_meaning("docs-project", &project);
    assert!(count > 30, "only {count} examples formatted");
}

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("../snapshots");
    s.set_prepend_module_to_snapshot(false);
    s
}

#[test]
fn fmt_cases() {
    settings().bind(|| {
        insta::glob!("cases/fmt/*.medpol", |path| {
            let text = std::fs::read_to_string(path).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let out = formatted(&name, &text).expect("a formatting case parses");
            let one = BTreeMap::from([(PathBuf::from(&name), text)]);
            same_meaning(&format!("fmt-{name}"), &one);
            insta::assert_snapshot!(out);
        });
    });
}

// ---------------------------------------------------------------- the command

fn medpol(args: &[&str], dir: &Path, stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_medpol"))
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const UGLY: &str = "fact   a:bool\ndefine b=a   and a\n";
const PRETTY: &str = "fact a: bool\n\ndefine b = a and a\n";

#[test]
fn fmt_check_passes_on_the_shipped_policies() {
    let out = medpol(&["fmt", "--check", "policies"], &root(), "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
}

/// A file fmt cannot read (here one past the size limit) is reported; the others are
/// formatted and the exit status says that one was not.
#[test]
fn fmt_reports_an_unreadable_file_and_formats_the_rest() {
    let tmp = scratch("cli-unreadable");
    let dir = tmp.path();
    std::fs::write(dir.join("ugly.medpol"), UGLY).unwrap();
    let big = std::fs::File::create(dir.join("big.medpol")).unwrap();
    // Sparse: refused by its size before a byte is read.
    big.set_len(medpol::input::Kind::Source.limit() + 1)
        .unwrap();

    let out = medpol(&["fmt", "."], dir, "");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).starts_with("error: cannot read `./big.medpol`: it is larger than"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("ugly.medpol")).unwrap(),
        PRETTY
    );
}

#[test]
fn fmt_check_lists_files_to_change_and_fmt_rewrites_them() {
    let tmp = scratch("cli-rewrite");
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("shared")).unwrap();
    std::fs::write(dir.join("shared/ugly.medpol"), UGLY).unwrap();
    std::fs::write(dir.join("pretty.medpol"), PRETTY).unwrap();

    let out = medpol(&["fmt", "--check", "."], dir, "");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let listed = text(&out.stdout);
    assert!(
        listed.trim_end().ends_with("shared/ugly.medpol"),
        "{listed}"
    );
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert_eq!(
        std::fs::read_to_string(dir.join("shared/ugly.medpol")).unwrap(),
        UGLY,
        "--check changes nothing"
    );

    let out = medpol(&["fmt"], dir, "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(dir.join("shared/ugly.medpol")).unwrap(),
        PRETTY
    );
    let left: Vec<_> = walk(dir)
        .into_iter()
        .filter(|p| p.extension().is_none_or(|e| e != "medpol"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");

    let out = medpol(&["fmt", "--check"], dir, "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

#[test]
fn fmt_refuses_a_file_with_syntax_errors_and_leaves_it_alone() {
    let tmp = scratch("cli-broken");
    let dir = tmp.path();
    let broken = "fact a bool\nfact   b: bool\n";
    std::fs::write(dir.join("broken.medpol"), broken).unwrap();
    let out = medpol(&["fmt", "broken.medpol"], dir, "");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("E0001"), "{err}");
    assert!(err.contains("broken.medpol:1:8"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.join("broken.medpol")).unwrap(),
        broken
    );
}

#[test]
fn fmt_stdin_writes_standard_output() {
    let out = medpol(&["fmt", "--stdin"], &root(), UGLY);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), PRETTY);
    let out = medpol(&["fmt", "--stdin"], &root(), "fact a bool\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("E0001"));
}

// ---------------------------------------------------------------- respaced policies

/// The blank runs of a text outside strings and comments: where a run starts, ends and
/// whether it holds a line break (a line break must stay one, a space must stay on its line).
fn blank_runs(text: &str) -> Vec<(usize, usize, bool)> {
    let bytes = text.as_bytes();
    let mut runs = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = text[i + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |e| i + 2 + e + 2);
            }
            b' ' | b'\t' | b'\n' | b'\r' => {
                let start = i;
                while i < bytes.len() && matches!(bytes[i], b' ' | b'\t' | b'\n' | b'\r') {
                    i += 1;
                }
                runs.push((start, i, text[start..i].contains('\n')));
            }
            _ => i += 1,
        }
    }
    runs
}

fn respace(text: &str, choices: &[u8]) -> String {
    let mut out = String::new();
    let mut from = 0;
    for ((start, end, newline), choice) in blank_runs(text).into_iter().zip(choices.iter().cycle())
    {
        out.push_str(&text[from..start]);
        out.push_str(match (newline, choice % 4) {
            (false, 0) => " ",
            (false, 1) => "   ",
            (false, 2) => "\t",
            (false, _) => " \t ",
            (true, 0) => "\n",
            (true, 1) => "\n\n\n",
            (true, 2) => "\n        ",
            (true, _) => " \r\n\t\n ",
        });
        from = end;
    }
    out.push_str(&text[from..]);
    out
}

fn tree(text: &str) -> String {
    strip_spans(&format!(
        "{:?}",
        medpol::syntax::parse(FileId(0), text).file.decls
    ))
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// A shipped policy with its blanks changed at random formats to a fixed point that says
    /// the same as the policy, with the same comments.
    #[test]
    fn respaced_policies_format_to_the_same_tree(
        which in 0usize..3,
        choices in proptest::collection::vec(0u8..4, 1..400),
    ) {
        let files = [
            include_str!("../policies/bcbsma-484.medpol"),
            include_str!("../policies/l2-compression-fracture.medpol"),
            include_str!("cases/fmt/comments-everywhere.medpol"),
        ];
        let original = files[which];
        let text = respace(original, &choices);
        let out = formatted("respaced", &text).expect("a respaced policy parses");
        proptest::prop_assert_eq!(tree(&out), tree(original));
        proptest::prop_assert_eq!(comment_texts(&out), comment_texts(original));
    }
}

const PIECES: &[&str] = &[
    " ",
    "\n",
    "// note\n",
    "/* note */",
    "/* two\n lines */",
    ",",
    "(",
    ")",
    "{",
    "}",
    "not ",
    " and a",
    " or b",
    "+",
    "-",
    "..",
    "\"text\"",
    "6 weeks",
    "28.5 %",
    " of ",
    "x",
];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

    /// A policy with pieces of syntax inserted at random places is either refused for its
    /// syntax errors or formatted to a fixed point with every comment; the formatter never
    /// produces something that parses differently.
    #[test]
    fn mutated_policies_are_refused_or_formatted_faithfully(
        which in 0usize..4,
        edits in proptest::collection::vec((proptest::prelude::any::<proptest::sample::Index>(), 0..PIECES.len()), 1..4),
    ) {
        let mut text = [
            include_str!("cases/fmt/comments-everywhere.medpol"),
            include_str!("cases/fmt/nested-parens.medpol"),
            include_str!("cases/fmt/long-code-lists.medpol"),
            include_str!("../policies/l2-compression-fracture.medpol"),
        ][which]
            .to_string();
        for (at, piece) in edits {
            let mut at = at.index(text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            text.insert_str(at, PIECES[piece]);
        }
        match format::format(FileId(0), &text) {
            Ok(out) => {
                let again = format::format(FileId(0), &out);
                proptest::prop_assert!(again.as_ref().is_ok_and(|a| *a == out), "not a fixed point:\n{text}\n---\n{out}");
                proptest::prop_assert_eq!(comment_texts(&out), comment_texts(&text));
            }
            Err(Error::Syntax(_)) => {}
            Err(Error::Changed) => proptest::prop_assert!(false, "the formatter changed the meaning of:\n{text}"),
        }
    }
}
