//! The lints: passes over the checked model and the record of uses that resolution leaves,
//! registered once in [`PASSES`]. A pass whose codes are all allowed is not run. A pass
//! reports warnings and notes only: every error is found by resolution and typing, so whether
//! the model is valid never depends on what is allowed.

mod codes;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use super::codes::CodeTables;
use super::{ImportUse, Symbol, names};
use crate::diagnostic::{Code, Diagnostic, shown};
use crate::ir::*;
use crate::source::Span;

/// What resolution records for the lints: which declarations and imports were used.
#[derive(Debug, Default)]
pub(super) struct Uses {
    /// Symbols used somewhere (not counting their declaration or a test).
    pub used: HashSet<Symbol>,
    /// Facts some decision lists as `inputs`: unread ones are reported there, not as unused.
    pub listed_inputs: HashSet<FactId>,
    /// Declarations that repeat a name: they are reported as duplicates, never as unused.
    pub shadowed: HashSet<Symbol>,
    /// Every import statement, with the names of it that were used.
    pub imports: Vec<ImportUse>,
    /// Some declaration did not parse: "unused" warnings could then be wrong, so none are given.
    pub any_broken: bool,
}

/// What a lint pass reads: the checked model, the record of uses and the code tables as typing
/// read them, never the checker.
pub(super) struct Context<'a> {
    pub program: &'a Program,
    pub uses: &'a Uses,
    pub codes: &'a CodeTables<'a>,
}

/// One lint pass: the codes it may report, and the pass.
pub(super) struct Pass {
    pub codes: &'static [Code],
    pub run: fn(&Context<'_>, &mut Vec<Diagnostic>),
}

/// Every lint pass, in the order their diagnostics are reported.
pub(super) const PASSES: [Pass; 11] = [
    Pass {
        codes: &[Code::NoTableInForce],
        run: codes::no_table_in_force,
    },
    Pass {
        codes: &[Code::PartialTable],
        run: codes::partial_tables,
    },
    Pass {
        codes: &[Code::LowercasePlaceholder],
        run: codes::lowercase_placeholders,
    },
    Pass {
        codes: &[Code::DuplicateCode],
        run: codes::duplicate_codes,
    },
    Pass {
        codes: &[Code::CodeChangedLater],
        run: codes::codes_changed_later,
    },
    Pass {
        codes: &[Code::WideRange],
        run: codes::wide_ranges,
    },
    Pass {
        codes: &[Code::AddonWithoutPrimary],
        run: codes::addons,
    },
    Pass {
        codes: &[Code::ConfusableName],
        run: look_alikes,
    },
    Pass {
        codes: &[Code::UnusedFact, Code::UnusedDefine, Code::UnusedCodeSet],
        run: unused_declarations,
    },
    Pass {
        codes: &[Code::UnusedOutcome],
        run: unused_outcomes,
    },
    Pass {
        codes: &[Code::UnusedImport],
        run: unused_imports,
    },
];

/// Runs every pass that may report a code not in `allowed`; returns how many ran.
pub(super) fn run(cx: &Context<'_>, allowed: &[Code], out: &mut Vec<Diagnostic>) -> usize {
    let mut ran = 0;
    for pass in PASSES
        .iter()
        .filter(|p| !p.codes.iter().all(|c| allowed.contains(c)))
    {
        (pass.run)(cx, out);
        ran += 1;
    }
    ran
}

fn unused_declarations(cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    // With a declaration that did not parse, any name may be used there: stay quiet.
    if cx.uses.any_broken {
        return;
    }
    let mut found = Vec::new();
    let unused = |s: Symbol| !cx.uses.used.contains(&s) && !cx.uses.shadowed.contains(&s);
    for (i, f) in cx.program.facts.iter().enumerate() {
        let id = FactId(i as u32);
        // A record's fields describe the items of a list: a field no count reads is no
        // mistake (the list is the fact). A derived value is its define's, reported as such.
        if f.record.is_none()
            && f.derived.is_none()
            && unused(Symbol::Fact(id))
            && !cx.uses.listed_inputs.contains(&id)
        {
            found.push((
                Code::UnusedFact,
                format!("fact `{}` is never read", shown(&f.name)),
                f.name_span,
                "read it in a rule or definition, or remove it",
            ));
        }
    }
    for (i, d) in cx.program.defines.iter().enumerate() {
        if unused(Symbol::Define(DefineId(i as u32))) {
            found.push((
                Code::UnusedDefine,
                format!("definition `{}` is never used", shown(&d.name)),
                d.name_span,
                "use it in a rule or another definition, or remove it",
            ));
        }
    }
    for (i, s) in cx.program.code_sets.iter().enumerate() {
        let Some(name) = &s.name else { continue };
        if unused(Symbol::CodeSet(CodeSetId(i as u32))) {
            found.push((
                Code::UnusedCodeSet,
                format!("code set `{}` is never used", shown(name)),
                s.name_span,
                "use it in a condition or another code set, or remove it",
            ));
        }
    }
    for (code, message, span, help) in found {
        out.push(
            Diagnostic::new(code, message)
                .primary(span, "declared here")
                .help(help),
        );
    }
}

fn unused_outcomes(cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    // With a declaration that did not parse, any name may be used there: stay quiet.
    if cx.uses.any_broken {
        return;
    }
    let mut found = Vec::new();
    for d in &cx.program.decisions {
        let given: Option<HashSet<OutcomeId>> = d
            .rules
            .iter()
            .map(|r| r.outcome)
            .chain(d.otherwise.iter().map(|o| o.outcome))
            .collect();
        let Some(given) = given.filter(|_| !d.rules.is_empty()) else {
            // A rule names an outcome that is not declared; which one it meant is unknown.
            continue;
        };
        for (i, o) in d.outcomes.iter().enumerate() {
            if !given.contains(&OutcomeId(i as u32)) {
                found.push((o.name.clone(), d.name.clone(), o.span));
            }
        }
    }
    for (outcome, decision, span) in found {
        out.push(
            Diagnostic::new(
                Code::UnusedOutcome,
                format!(
                    "outcome `{}` of decision `{}` is never given",
                    shown(&outcome),
                    shown(&decision)
                ),
            )
            .primary(span, "no rule gives it")
            .help("give it in a rule or `otherwise`, or remove it from `outcomes`"),
        );
    }
}

fn unused_imports(cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    // With a declaration that did not parse, any name may be used there: stay quiet.
    if cx.uses.any_broken {
        return;
    }
    let mut found = Vec::new();
    for import in &cx.uses.imports {
        if import.whole_file {
            if import.used.is_empty() && !import.names.is_empty() {
                found.push((
                    format!("nothing imported from `{}` is used", shown(&import.path)),
                    import.span,
                ));
            }
            continue;
        }
        for (name, span) in &import.names {
            if !import.used.contains(name) {
                found.push((format!("imported `{}` is never used", shown(name)), *span));
            }
        }
    }
    for (message, span) in found {
        out.push(
            Diagnostic::new(Code::UnusedImport, message)
                .primary(span, "unused import")
                .help("remove it"),
        );
    }
}

/// Declared names with letters that imitate others (a Cyrillic `а` for a Latin `a`).
fn look_alikes(cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let p = &cx.program;
    let mut declared: Vec<(String, Span)> = Vec::new();
    declared.extend(p.facts.iter().map(|f| (f.name.clone(), f.name_span)));
    declared.extend(p.defines.iter().map(|d| (d.name.clone(), d.name_span)));
    declared.extend(
        p.code_sets
            .iter()
            .filter_map(|s| s.name.clone().map(|n| (n, s.name_span))),
    );
    for d in &p.decisions {
        declared.push((d.name.clone(), d.name_span));
        declared.extend(d.outcomes.iter().map(|o| (o.name.clone(), o.span)));
        declared.extend(d.rules.iter().map(|r| (r.name.clone(), r.name_span)));
    }
    for e in &p.enums {
        declared.extend(e.values.iter().cloned());
    }
    declared.extend(p.constraints.iter().map(|c| (c.name.clone(), c.name_span)));
    let by_name: HashMap<&str, Span> = declared
        .iter()
        .filter(|(n, _)| n.is_ascii())
        .map(|(n, s)| (n.as_str(), *s))
        .collect();
    let mut found = Vec::new();
    for (name, span) in &declared {
        let alikes = names::look_alikes(name);
        if alikes.is_empty() {
            continue;
        }
        let described = alikes
            .iter()
            .map(|l| {
                format!(
                    "`{}` (U+{:04X}, {}) looks like `{}`",
                    l.found, l.found as u32, l.script, l.looks_like
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        let ascii: String = name
            .chars()
            .map(|c| {
                alikes
                    .iter()
                    .find(|l| l.found == c)
                    .map_or(c, |l| l.looks_like)
            })
            .collect();
        let mut d = Diagnostic::new(
            Code::ConfusableName,
            format!(
                "name `{}` has a look-alike letter: {described}",
                shown(name)
            ),
        )
        .primary(*span, "look-alike letter in this name");
        if let Some(&twin) = by_name.get(ascii.as_str()) {
            d = d
                .secondary(twin, format!("`{ascii}` is declared here"))
                .note("the two names look the same but are different names");
        }
        d = d.help(format!(
            "retype the name in one script, such as `{}`",
            shown(&ascii)
        ));
        found.push(d);
    }
    for d in found {
        out.push(d);
    }
}
