//! `medpol test` for CI systems: the results as JUnit XML, and rule and leaf coverage as LCOV
//! or Cobertura XML, so that a CI service shows failed tests and uncovered rules beside the
//! policy's lines.
//!
//! Coverage maps onto what those formats count: a decision is a function, a rule a line (its
//! name's line, covered when a test reaches it), and each leaf of the compiled decision a
//! branch on the line of the rule that gives it (`otherwise` on its own line; no rule and a
//! conflict on the decision's).

use quick_xml::escape::escape;

use medpol::artifact::LeafDoc;
use medpol::driver::CheckedProject;
use medpol::ir::{Decision, Program};
use medpol::source::{FileId, Sources, Span};
use medpol::testing::{DecisionCoverage, Run};

use super::actual_text;

fn line(sources: &Sources, span: Span) -> usize {
    sources
        .get(span.file)
        .map_or(0, |f| f.line_col(span.start as usize).0)
}

/// The test results as one JUnit XML document: a test suite per file, a test case per test,
/// a failure per test whose expects do not all hold.
pub fn junit(sources: &Sources, runs: &[(&CheckedProject, Run)]) -> String {
    let mut suites: Vec<(FileId, Vec<String>, usize)> = Vec::new();
    let (mut total, mut failed) = (0, 0);
    for (project, run) in runs {
        let program = &project.program;
        for r in &run.results {
            let Some(test) = program.tests.get(r.test.index()) else {
                continue;
            };
            let file = test.span.file;
            let name = sources.name(file);
            let class = name
                .strip_suffix(".medpol")
                .unwrap_or(name)
                .replace(['/', '\\'], ".")
                .trim_start_matches('.')
                .to_string();
            let mut case = format!(
                "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\" line=\"{}\"",
                escape(test.name.as_str()),
                escape(class.as_str()),
                escape(name),
                line(sources, test.span)
            );
            if r.passed() {
                case.push_str("/>\n");
            } else {
                let lines: Vec<String> = r
                    .expects
                    .iter()
                    .filter(|e| !e.passed)
                    .filter_map(|e| program.decision(e.decision).map(|d| (e, d)))
                    .map(|(e, d)| {
                        format!(
                            "{}: expected {}, got {}",
                            d.name,
                            d.outcome_name(Some(e.expected)),
                            actual_text(sources, program, d, &e.actual)
                        )
                    })
                    .collect();
                case.push_str(&format!(
                    ">\n      <failure message=\"{}\" type=\"expect\">{}</failure>\n    </testcase>\n",
                    escape(lines.first().map_or("", String::as_str)),
                    escape(lines.join("\n").as_str())
                ));
            }
            total += 1;
            let failure = usize::from(!r.passed());
            failed += failure;
            match suites.iter_mut().find(|(f, ..)| *f == file) {
                Some((_, cases, f)) => {
                    cases.push(case);
                    *f += failure;
                }
                None => suites.push((file, vec![case], failure)),
            }
        }
    }
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"medpol\" tests=\"{total}\" failures=\"{failed}\" errors=\"0\">\n"
    ));
    for (file, cases, failures) in suites {
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\">\n",
            escape(sources.name(file)),
            cases.len()
        ));
        cases.iter().for_each(|c| out.push_str(c));
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// The line each leaf of a decision is counted on.
fn leaf_line(sources: &Sources, d: &Decision, leaf: &LeafDoc) -> usize {
    let span = match leaf {
        LeafDoc::Rule { rule, .. } => d
            .rules
            .iter()
            .find(|r| r.name == *rule)
            .map_or(d.name_span, |r| r.name_span),
        LeafDoc::Otherwise { .. } => d.otherwise.as_ref().map_or(d.name_span, |o| o.span),
        LeafDoc::NoRule | LeafDoc::Conflict { .. } => d.name_span,
    };
    line(sources, span)
}

/// What one file's coverage counts: its decisions (name, line, whether a test reaches one of
/// its leaves), its rules' lines (line, decision's index in the file, covered), and its leaves
/// as branches (line, decision's index, leaf's index, covered).
#[derive(Default)]
struct FileCoverage {
    decisions: Vec<(String, usize, bool)>,
    lines: Vec<(usize, usize, bool)>,
    branches: Vec<(usize, usize, usize, bool)>,
}

fn by_file(sources: &Sources, runs: &[(&CheckedProject, Run)]) -> Vec<(FileId, FileCoverage)> {
    let mut files: Vec<(FileId, FileCoverage)> = Vec::new();
    for (project, run) in runs {
        let program: &Program = &project.program;
        for c in &run.coverage {
            let Some(d) = program.decision(c.decision) else {
                continue;
            };
            let at = match files.iter().position(|(f, _)| *f == d.file) {
                Some(i) => i,
                None => {
                    files.push((d.file, FileCoverage::default()));
                    files.len() - 1
                }
            };
            let Some((_, fc)) = files.get_mut(at) else {
                continue;
            };
            add(sources, d, c, fc);
        }
    }
    files.sort_by(|a, b| sources.name(a.0).cmp(sources.name(b.0)));
    files
}

fn add(sources: &Sources, d: &Decision, c: &DecisionCoverage, fc: &mut FileCoverage) {
    let block = fc.decisions.len();
    fc.decisions.push((
        d.name.clone(),
        line(sources, d.name_span),
        c.leaves.iter().any(|l| l.covered),
    ));
    for (rule, covered) in d.rules.iter().zip(&c.rules) {
        fc.lines
            .push((line(sources, rule.name_span), block, *covered));
    }
    for (i, leaf) in c.leaves.iter().enumerate() {
        fc.branches
            .push((leaf_line(sources, d, &leaf.leaf), block, i, leaf.covered));
    }
}

/// Rule and leaf coverage as an LCOV tracefile: one record per policy file.
pub fn lcov(sources: &Sources, runs: &[(&CheckedProject, Run)]) -> String {
    let mut out = String::new();
    for (file, fc) in by_file(sources, runs) {
        out.push_str("TN:\n");
        out.push_str(&format!("SF:{}\n", sources.name(file)));
        for (name, line, _) in &fc.decisions {
            out.push_str(&format!("FN:{line},{name}\n"));
        }
        for (name, _, hit) in &fc.decisions {
            out.push_str(&format!("FNDA:{},{name}\n", usize::from(*hit)));
        }
        let hit = fc.decisions.iter().filter(|d| d.2).count();
        out.push_str(&format!("FNF:{}\nFNH:{hit}\n", fc.decisions.len()));
        for (line, block, branch, taken) in &fc.branches {
            out.push_str(&format!(
                "BRDA:{line},{block},{branch},{}\n",
                usize::from(*taken)
            ));
        }
        let taken = fc.branches.iter().filter(|b| b.3).count();
        out.push_str(&format!("BRF:{}\nBRH:{taken}\n", fc.branches.len()));
        for (line, _, covered) in &fc.lines {
            out.push_str(&format!("DA:{line},{}\n", usize::from(*covered)));
        }
        let covered = fc.lines.iter().filter(|l| l.2).count();
        out.push_str(&format!(
            "LF:{}\nLH:{covered}\nend_of_record\n",
            fc.lines.len()
        ));
    }
    out
}

fn rate(covered: usize, total: usize) -> String {
    if total == 0 {
        "1".to_string()
    } else {
        format!("{:.4}", covered as f64 / total as f64)
    }
}

/// Rule and leaf coverage as Cobertura XML (coverage-04.dtd): a package per file, a class per
/// decision, its rules as lines and its leaves as their branches.
pub fn cobertura(sources: &Sources, runs: &[(&CheckedProject, Run)], timestamp: u64) -> String {
    let files = by_file(sources, runs);
    let count = |f: &dyn Fn(&FileCoverage) -> (usize, usize)| {
        files
            .iter()
            .map(|(_, fc)| f(fc))
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    };
    let (lines_covered, lines_valid) =
        count(&|fc| (fc.lines.iter().filter(|l| l.2).count(), fc.lines.len()));
    let (branches_covered, branches_valid) = count(&|fc| {
        (
            fc.branches.iter().filter(|b| b.3).count(),
            fc.branches.len(),
        )
    });
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(
        "<!DOCTYPE coverage SYSTEM \"http://cobertura.sourceforge.net/xml/coverage-04.dtd\">\n",
    );
    out.push_str(&format!(
        "<coverage line-rate=\"{}\" branch-rate=\"{}\" lines-covered=\"{lines_covered}\" lines-valid=\"{lines_valid}\" branches-covered=\"{branches_covered}\" branches-valid=\"{branches_valid}\" complexity=\"0\" version=\"medpol {}\" timestamp=\"{timestamp}\">\n",
        rate(lines_covered, lines_valid),
        rate(branches_covered, branches_valid),
        env!("CARGO_PKG_VERSION"),
    ));
    out.push_str("  <sources>\n    <source>.</source>\n  </sources>\n  <packages>\n");
    for (file, fc) in &files {
        let name = sources.name(*file);
        let lines = fc.lines.iter().filter(|l| l.2).count();
        let branches = fc.branches.iter().filter(|b| b.3).count();
        out.push_str(&format!(
            "    <package name=\"{}\" line-rate=\"{}\" branch-rate=\"{}\" complexity=\"0\">\n      <classes>\n",
            escape(name),
            rate(lines, fc.lines.len()),
            rate(branches, fc.branches.len())
        ));
        for (block, (decision, _, _)) in fc.decisions.iter().enumerate() {
            class(&mut out, name, decision, block, fc);
        }
        out.push_str("      </classes>\n    </package>\n");
    }
    out.push_str("  </packages>\n</coverage>\n");
    out
}

/// One decision as a class: the lines of its rules and of its leaves, each line's branches
/// its leaves.
fn class(out: &mut String, file: &str, decision: &str, block: usize, fc: &FileCoverage) {
    let branches: Vec<&(usize, usize, usize, bool)> =
        fc.branches.iter().filter(|b| b.1 == block).collect();
    // Its rules' lines, hit when a test reaches the rule; then the lines only leaves are on
    // (`otherwise`, the decision's name), hit when a test reaches one of them.
    let mut lines: Vec<(usize, bool)> = fc
        .lines
        .iter()
        .filter(|l| l.1 == block)
        .map(|l| (l.0, l.2))
        .collect();
    for b in &branches {
        if !lines.iter().any(|(l, _)| *l == b.0) {
            let hit = branches.iter().any(|x| x.0 == b.0 && x.3);
            lines.push((b.0, hit));
        }
    }
    lines.sort();
    lines.dedup_by_key(|l| l.0);
    let covered = lines.iter().filter(|l| l.1).count();
    let taken = branches.iter().filter(|b| b.3).count();
    out.push_str(&format!(
        "        <class name=\"{}\" filename=\"{}\" line-rate=\"{}\" branch-rate=\"{}\" complexity=\"0\">\n          <methods/>\n          <lines>\n",
        escape(decision),
        escape(file),
        rate(covered, lines.len()),
        rate(taken, branches.len())
    ));
    for (line, hit) in lines {
        let on: Vec<&&(usize, usize, usize, bool)> =
            branches.iter().filter(|b| b.0 == line).collect();
        let hits = usize::from(hit);
        if on.is_empty() {
            out.push_str(&format!(
                "            <line number=\"{line}\" hits=\"{hits}\" branch=\"false\"/>\n"
            ));
        } else {
            let t = on.iter().filter(|b| b.3).count();
            out.push_str(&format!(
                "            <line number=\"{line}\" hits=\"{hits}\" branch=\"true\" condition-coverage=\"{}% ({t}/{})\"/>\n",
                t * 100 / on.len(),
                on.len()
            ));
        }
    }
    out.push_str("          </lines>\n        </class>\n");
}
