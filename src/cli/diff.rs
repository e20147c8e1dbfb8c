//! `medpol diff`: what changed between two versions of a policy, for a reviewer (human), a
//! policy-update notice (Markdown) or a program (JSON); `--fail-on` for CI.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use medpol::diagnostic::{Severity, shown};
use medpol::diff::{self, Change, DecisionDiff, Direction, PolicyDiff, Region};
use medpol::driver::{self, CheckedProject, Options};
use medpol::render;

/// At most this many files are read from a revision.
const MAX_REVISION_FILES: usize = 10_000;

#[derive(Args)]
pub struct Diff {
    /// The old version: a policy file or project folder (with `--from`, the new version, whose
    /// old version is read from the revision).
    old: PathBuf,
    /// The new version: a policy file or project folder.
    new: Option<PathBuf>,
    /// Compare the files at this git revision (a commit, branch or tag) with the files as
    /// they are now.
    #[arg(long, value_name = "REV")]
    from: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// The outcomes that approve, comma-separated (`covered,medically_necessary`): a change
    /// into one loosens the policy, a change out of one tightens it. By default those
    /// `approvals:` in the new version's `medpol.yaml` names.
    #[arg(long, value_delimiter = ',', value_name = "OUTCOMES")]
    approvals: Vec<String>,
    /// Exit with status 1 when some patients' outcome changes this way: `loosened`,
    /// `tightened` (both need the outcomes that approve) or `any`.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "CHANGES")]
    fail_on: Vec<FailOn>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Markdown,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Loosened,
    Tightened,
    Any,
}

pub fn run(args: Diff) -> ExitCode {
    // With `--from`, the old version is the same path at the revision; it lives in a
    // temporary folder until the comparison is done.
    let mut _revision = None;
    let (old, new) = match (&args.from, &args.new) {
        (Some(_), Some(_)) => {
            return super::fail("give either OLD and NEW, or `--from REV` and one path");
        }
        (None, None) => return super::fail("give the new version too: `medpol diff OLD NEW`"),
        (None, Some(new)) => (args.old.clone(), new.clone()),
        (Some(rev), None) => match at_revision(&args.old, rev) {
            Ok((dir, path)) => {
                _revision = Some(dir);
                (path, args.old.clone())
            }
            Err(message) => return super::fail(&message),
        },
    };
    let label = |p: &Path, rev: Option<&String>| match rev {
        Some(r) => format!("{} at {}", p.display(), shown(r)),
        None => p.display().to_string(),
    };
    let old_label = label(&args.old, args.from.as_ref());
    let new_label = label(if args.from.is_some() { &args.old } else { &new }, None);
    let Some(before) = load(&old, &old_label) else {
        return ExitCode::from(1);
    };
    let Some(after) = load(&new, &new_label) else {
        return ExitCode::from(1);
    };
    // The author's ranking: given on the command line, or the new version's `medpol.yaml`.
    let approvals = match args.approvals.is_empty() {
        true => after.approvals.clone(),
        false => args.approvals.clone(),
    };
    if approvals.is_empty() && args.fail_on.iter().any(|f| *f != FailOn::Any) {
        return super::fail(
            "`--fail-on loosened` and `tightened` need the outcomes that approve: `--approvals`, or `approvals:` in `medpol.yaml`",
        );
    }
    let options = diff::Options {
        approvals,
        ..diff::Options::default()
    };
    let old_version = diff::Version {
        program: &before.program,
        tables: &before.tables,
    };
    let new_version = diff::Version {
        program: &after.program,
        tables: &after.tables,
    };
    let mut policies = diff::diff(&old_version, &new_version, &options);
    // Policies of files not asked about (imported ones) are not reported.
    policies.retain(|p| {
        let asked = |c: &CheckedProject| {
            c.program
                .policies
                .iter()
                .enumerate()
                .any(|(i, q)| q.id == p.policy && c.asked_about(medpol::ir::PolicyId(i as u32)))
        };
        asked(&before) || asked(&after)
    });
    let text = match args.format {
        Format::Human => human(&policies, &old_label, &new_label),
        Format::Markdown => markdown(&policies, &old_label, &new_label),
        Format::Json => {
            let value = serde_json::json!({
                "old": old_label,
                "new": new_label,
                "policies": policies,
            });
            let mut t = serde_json::to_string_pretty(&value).unwrap_or_default();
            t.push('\n');
            t
        }
    };
    let failed = policies.iter().flat_map(|p| &p.decisions).any(|d| {
        d.regions.iter().any(|r| {
            args.fail_on.iter().any(|f| match f {
                FailOn::Any => true,
                FailOn::Loosened => r.direction == Direction::Loosened,
                FailOn::Tightened => r.direction == Direction::Tightened,
            })
        }) || (d.incomplete.is_some() && !args.fail_on.is_empty())
    });
    let code = if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    };
    super::emit(&[text.trim_end().to_string()], code)
}

/// One side, checked: `None` (after saying why) when it does not load or has errors.
fn load(path: &Path, label: &str) -> Option<CheckedProject> {
    let options = Options { analysis: None };
    let checked = match driver::check_and_keep(std::slice::from_ref(&path.to_path_buf()), &options)
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: `{label}`: {e}");
            return None;
        }
    };
    let report = &checked.report;
    if report.count(Severity::Error) > 0 {
        let (shown, counts) = render::first_of_each_code(&report.diagnostics, super::ALL_HINT);
        eprint!("{}{counts}", render::short::render(&report.sources, &shown));
        eprintln!("error: `{label}` has errors; fix them before comparing it");
        return None;
    }
    let mut projects = checked.projects;
    if projects.len() != 1 {
        eprintln!(
            "error: `{label}` holds {} projects; compare one project (a folder with `medpol.yaml`, or files of one folder) at a time",
            projects.len()
        );
        return None;
    }
    projects.pop()
}

/// Reads the project of `path` at a git revision into a temporary folder, through git itself:
/// the folder, and the path inside it that stands for `path`.
fn at_revision(path: &Path, rev: &str) -> Result<(tempfile::TempDir, PathBuf), String> {
    if rev.starts_with('-') || rev.is_empty() || rev.len() > 256 {
        return Err(format!("`{}` is not a revision", shown(rev)));
    }
    let absolute = std::fs::canonicalize(path)
        .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let dir = if absolute.is_dir() {
        absolute.clone()
    } else {
        absolute
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| absolute.clone())
    };
    let git = |args: &[&str]| -> Result<Vec<u8>, String> {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(&dir)
            .args(args)
            .output()
            .map_err(|e| format!("cannot run git: {e}"))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let first = err.lines().next().unwrap_or("").trim();
            return Err(format!("git: {}", shown(first)));
        }
        Ok(out.stdout)
    };
    let top = String::from_utf8_lossy(&git(&["rev-parse", "--show-toplevel"])?)
        .trim()
        .to_string();
    let top = std::fs::canonicalize(&top).map_err(|e| format!("cannot read `{top}`: {e}"))?;
    git(&[
        "rev-parse",
        "--verify",
        "--quiet",
        &format!("{rev}^{{commit}}"),
    ])
    .map_err(|_| format!("no revision `{}` in `{}`", shown(rev), top.display()))?;
    // The whole project folder (its `medpol.yaml` and the files it imports), found as the
    // checker finds it: the nearest folder upwards with a `medpol.yaml`, else the folder.
    let mut root = dir.clone();
    while !root.join("medpol.yaml").is_file() {
        match root.parent() {
            Some(p) if p.starts_with(&top) => root = p.to_path_buf(),
            _ => {
                root = dir.clone();
                break;
            }
        }
    }
    let relative = |p: &Path| -> Result<PathBuf, String> {
        p.strip_prefix(&top)
            .map(Path::to_path_buf)
            .map_err(|_| format!("`{}` is not in the repository", p.display()))
    };
    let project = relative(&root)?;
    // Paths from the top of the repository, whichever folder git runs in.
    let pathspec = match project.as_os_str().is_empty() {
        true => ".".to_string(),
        false => format!("{}/", project.display()),
    };
    let listing = git(&[
        "ls-tree",
        "-r",
        "-z",
        "--full-tree",
        "--name-only",
        &format!("{rev}^{{commit}}"),
        "--",
        &pathspec,
    ])
    .map(|out| {
        out.split(|b| *b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect::<Vec<String>>()
    })?;
    if listing.len() > MAX_REVISION_FILES {
        return Err(format!(
            "the project holds {} files at `{}`; at most {MAX_REVISION_FILES} are read",
            listing.len(),
            shown(rev)
        ));
    }
    let temp = tempfile::Builder::new()
        .prefix("medpol-diff-")
        .tempdir()
        .map_err(|e| format!("cannot make a temporary folder: {e}"))?;
    // Top-level path components only: git never lists `..`, and nothing else is written.
    // Policy files, `medpol.yaml` and the project's own tables (`.mpt`, local `.yaml`).
    for file in listing
        .iter()
        .filter(|f| f.ends_with(".medpol") || f.ends_with(".yaml") || f.ends_with(".mpt"))
    {
        let bytes = git(&["show", &format!("{rev}:{file}")])?;
        if bytes.len() as u64 > medpol::input::Kind::Source.limit() {
            return Err(format!(
                "`{}` at `{}` is too large to read",
                shown(file),
                shown(rev)
            ));
        }
        let target = temp.path().join(file);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot write `{}`: {e}", parent.display()))?;
        }
        std::fs::write(&target, bytes)
            .map_err(|e| format!("cannot write `{}`: {e}", target.display()))?;
    }
    let inside = temp.path().join(relative(&absolute)?);
    if !inside.exists() {
        return Err(format!(
            "`{}` does not exist at `{}`",
            path.display(),
            shown(rev)
        ));
    }
    Ok((temp, inside))
}

fn change_word(c: Change) -> &'static str {
    match c {
        Change::Added => "added",
        Change::Removed => "removed",
        Change::Changed => "changed",
        Change::Unchanged => "unchanged",
    }
}

fn versions(p: &PolicyDiff) -> String {
    let side = |m: &Option<diff::Meta>| match m {
        Some(m) => format!(
            "version {}{}",
            m.version,
            m.effective
                .as_ref()
                .map(|d| format!(", effective {d}"))
                .unwrap_or_default()
        ),
        None => "none".to_string(),
    };
    let (a, b) = (side(&p.old), side(&p.new));
    match a == b {
        true => a,
        false => format!("{a} → {b}"),
    }
}

fn direction_word(r: &Region) -> &'static str {
    match r.direction {
        Direction::Loosened => " (loosened)",
        Direction::Tightened => " (tightened)",
        Direction::Changed => "",
    }
}

fn example_text(r: &Region) -> String {
    let pairs: Vec<String> = r
        .example
        .iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => format!("{k} = {s}"),
            other => format!("{k} = {other}"),
        })
        .collect();
    let mut text = pairs.join(", ");
    if text.is_empty() {
        text = "any patient".to_string();
    }
    if !r.example_checked {
        text.push_str(" (not confirmed by evaluating both versions)");
    }
    text
}

fn list(words: &[String]) -> String {
    words
        .iter()
        .map(|w| format!("`{w}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The structural changes of a decision, one line each.
fn decision_lines(d: &DecisionDiff) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |what: &str, items: &[String]| {
        if !items.is_empty() {
            out.push(format!("{what}: {}", list(items)));
        }
    };
    push("outcomes added", &d.outcomes_added);
    push("outcomes removed", &d.outcomes_removed);
    push("rules added", &d.rules_added);
    push("rules removed", &d.rules_removed);
    push("rules changed", &d.rules_changed);
    push("facts newly needed", &d.facts_needed);
    push("facts no longer needed", &d.facts_no_longer_needed);
    if let Some(h) = &d.hit {
        out.push(format!("hit policy: {h}"));
    }
    if let Some(why) = &d.incomplete {
        out.push(format!(
            "the patients who change could not be decided: {why}"
        ));
    }
    out
}

fn policy_lines(p: &PolicyDiff) -> Vec<String> {
    let mut out = Vec::new();
    for f in &p.facts {
        out.push(format!(
            "fact `{}` {}: {}",
            f.fact,
            change_word(f.change),
            f.detail
        ));
    }
    for s in &p.code_sets {
        let mut parts = Vec::new();
        if !s.items_added.is_empty() {
            parts.push(format!("items added {}", s.items_added.join(", ")));
        }
        if !s.items_removed.is_empty() {
            parts.push(format!("items removed {}", s.items_removed.join(", ")));
        }
        let codes = |words: &[String], count: usize| {
            let more = count.saturating_sub(words.len());
            let tail = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            format!("{}{tail}", words.join(", "))
        };
        if s.codes_added_count > 0 {
            parts.push(format!(
                "{} added ({})",
                codes_word(s.codes_added_count),
                codes(&s.codes_added, s.codes_added_count)
            ));
        }
        if s.codes_removed_count > 0 {
            parts.push(format!(
                "{} removed ({})",
                codes_word(s.codes_removed_count),
                codes(&s.codes_removed, s.codes_removed_count)
            ));
        }
        out.push(format!(
            "code set `{}` {}{}",
            s.set,
            change_word(s.change),
            if parts.is_empty() {
                String::new()
            } else {
                format!(": {}", parts.join("; "))
            }
        ));
    }
    for r in &p.releases {
        out.push(format!(
            "{} release {} → {}{}",
            r.system,
            r.old_release,
            r.new_release,
            if r.sets.is_empty() {
                ": no set of the policy changes".to_string()
            } else {
                String::new()
            }
        ));
        for e in &r.sets {
            let mut parts = Vec::new();
            if !e.added.is_empty() {
                parts.push(format!("adds {}", e.added.join(", ")));
            }
            if !e.deleted.is_empty() {
                parts.push(format!("deletes {}", e.deleted.join(", ")));
            }
            for s in &e.split {
                parts.push(format!("splits {} into {}", s.code, s.into.join(", ")));
            }
            out.push(format!("  in `{}`: {}", e.set, parts.join("; ")));
        }
    }
    out
}

fn codes_word(n: usize) -> String {
    match n {
        1 => "1 code".to_string(),
        n => format!("{n} codes"),
    }
}

fn human(policies: &[PolicyDiff], old: &str, new: &str) -> String {
    let mut out = format!("diff {old} → {new}\n");
    if policies.is_empty() {
        out.push_str("\nno policy on either side\n");
    }
    for p in policies {
        out.push_str(&format!(
            "\npolicy {} ({}): {}\n",
            p.policy,
            versions(p),
            change_word(p.change)
        ));
        for line in policy_lines(p) {
            out.push_str(&format!("  {line}\n"));
        }
        // An unchanged policy is one line: its decisions are all unchanged.
        if p.change == Change::Unchanged {
            continue;
        }
        for d in &p.decisions {
            let count = d.regions.len();
            let summary = match (d.change, count) {
                (Change::Unchanged, _) => "unchanged".to_string(),
                (Change::Changed, 0) => "no patient changes outcome".to_string(),
                (Change::Changed, 1) => "1 region of patients changes outcome".to_string(),
                (Change::Changed, n) => format!("{n} regions of patients change outcome"),
                (c, _) => change_word(c).to_string(),
            };
            out.push_str(&format!("\n  decision {}: {summary}\n", d.decision));
            for line in decision_lines(d) {
                out.push_str(&format!("    {line}\n"));
            }
            for r in &d.regions {
                out.push_str(&format!(
                    "\n    {} → {}{}\n",
                    r.from,
                    r.to,
                    direction_word(r)
                ));
                for g in &r.groups {
                    out.push_str(&format!("      - {}\n", g.join(", ")));
                }
                if r.more > 0 {
                    out.push_str(&format!("      - and {} more groups\n", r.more));
                }
                out.push_str(&format!("      for example: {}\n", example_text(r)));
            }
        }
    }
    out
}

fn markdown(policies: &[PolicyDiff], old: &str, new: &str) -> String {
    let mut out = format!("# Policy changes\n\nFrom `{old}` to `{new}`.\n");
    let unchanged: Vec<String> = policies
        .iter()
        .filter(|p| p.change == Change::Unchanged)
        .map(|p| p.policy.clone())
        .collect();
    if !unchanged.is_empty() {
        out.push_str(&format!("\nUnchanged: {}.\n", list(&unchanged)));
    }
    for p in policies.iter().filter(|p| p.change != Change::Unchanged) {
        out.push_str(&format!(
            "\n## Policy `{}`: {}\n\n{}\n",
            p.policy,
            change_word(p.change),
            versions(p)
        ));
        let lines = policy_lines(p);
        if !lines.is_empty() {
            out.push('\n');
            for line in lines {
                out.push_str(&format!("- {}\n", line.trim_start()));
            }
        }
        for d in &p.decisions {
            out.push_str(&format!(
                "\n### Decision `{}`: {}\n",
                d.decision,
                change_word(d.change)
            ));
            let lines = decision_lines(d);
            if !lines.is_empty() {
                out.push('\n');
                for line in lines {
                    out.push_str(&format!("- {line}\n"));
                }
            }
            if d.change == Change::Changed && d.regions.is_empty() && d.incomplete.is_none() {
                out.push_str("\nNo patient's outcome changes.\n");
            }
            for r in &d.regions {
                out.push_str(&format!(
                    "\n#### `{}` → `{}`{}\n\nPatients who meet all of:\n\n",
                    r.from,
                    r.to,
                    direction_word(r)
                ));
                for (i, g) in r.groups.iter().enumerate() {
                    if i > 0 {
                        out.push_str("\nor all of:\n\n");
                    }
                    for c in g {
                        out.push_str(&format!("- `{c}`\n"));
                    }
                }
                if r.more > 0 {
                    out.push_str(&format!("\nand {} more groups.\n", r.more));
                }
                out.push_str(&format!("\nFor example: {}.\n", example_text(r)));
            }
        }
    }
    out
}
