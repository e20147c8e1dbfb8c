//! Stage 3, analyse: what a decision's rules do to every possible patient.
//!
//! [`analyse`] is the stage's one public function. For each decision it refines every fact's
//! domain into finitely many classes (`domain`, `space`), compiles each rule to a reduced
//! decision diagram over them (`mdd`), and asks exact questions: do two rules overlap, does a
//! patient fall through every rule, can a rule ever fire, is a condition impossible, always
//! true or implied by the others. Every finding comes with a concrete patient. Work is
//! bounded by a node budget and a deadline; a decision whose analysis stops early says so and
//! claims nothing more.

pub mod describe;
pub mod domain;
mod listed;
pub mod lists;
pub mod mdd;
mod ranges;
pub mod relations;
pub mod space;

use std::collections::HashSet;

use std::time::{Duration, Instant};

use mdd::{Bounds, Exhausted, FALSE, Node, TRUE};
use space::Space;

use crate::diagnostic::{Code, Diagnostic, shown};
use crate::ir::*;
use crate::tables::TableSet;

/// Limits of the analysis.
#[derive(Debug, Clone)]
pub struct Options {
    /// Wall time for all decisions together.
    pub time_limit: Duration,
    /// Diagram nodes one decision may build.
    pub node_budget: usize,
    /// The code tables: a code fact's values are the billable codes of the release in force on
    /// its policy's effective date. Without a table for a system, the codes the policy names
    /// stand for it.
    pub tables: Option<TableSet>,
    /// How many example patients a gap shows at most.
    pub gap_examples: usize,
    /// Also describe, for each decision, which patients get which outcome.
    pub describe: bool,
    /// Set by another thread to stop the analysis early, as at the deadline (the language
    /// server stops an analysis whose text has changed since).
    pub cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            time_limit: Duration::from_secs(10),
            node_budget: 4_000_000,
            tables: None,
            gap_examples: 3,
            describe: false,
            cancel: None,
        }
    }
}

/// What the analysis found.
#[derive(Debug, Default)]
pub struct Analysis {
    pub diagnostics: Vec<Diagnostic>,
    /// Decisions whose analysis ran to the end.
    pub complete: Vec<DecisionId>,
    /// With [`Options::describe`]: each decision's patients by outcome.
    pub summaries: Vec<(DecisionId, describe::Summary)>,
}

/// Analyses every decision of a checked program.
pub fn analyse(program: &ValidProgram, options: &Options) -> Analysis {
    let program: &Program = program;
    let deadline = Instant::now() + options.time_limit;
    let mut out = Analysis::default();
    let mut reported_defines = HashSet::new();
    let mut codes = crate::codeset::CodeCache::default();
    let mut expanded = std::collections::HashMap::new();
    for (i, d) in program.decisions.iter().enumerate() {
        let id = DecisionId(i as u32);
        let started = Instant::now();
        let date = d
            .policy
            .and_then(|p| program.policies.get(p.index()))
            .and_then(|p| p.meta.effective);
        // The decisions of one policy share its date: the sets are expanded once per date.
        let code_sets = expanded
            .entry(date)
            .or_insert_with(|| codes.code_sets(program, options.tables.as_ref(), date));
        let mut run = Run {
            program,
            decision: d,
            options,
            code_sets,
            allowed: TRUE,
            constrained: false,
            possible: TRUE,
            summary: None,
            deadline,
            diagnostics: Vec::new(),
            reported_defines: &mut reported_defines,
        };
        let result = run.decision();
        if let Some(summary) = run.summary.take() {
            out.summaries.push((id, summary));
        }
        match result {
            Ok(()) => out.complete.push(id),
            Err(Stop::Deadline) => {
                // Out of time: one diagnostic for this decision and all those left.
                let left = program.decisions.len() - i;
                run.diagnostics.push(
                    Diagnostic::new(
                        Code::AnalysisIncomplete,
                        format!(
                            "analysis stopped after {} ms; results incomplete: {left} decision{} not fully analysed",
                            options.time_limit.as_millis(),
                            if left == 1 { "" } else { "s" }
                        ),
                    )
                    .primary(d.name_span, "stopped here")
                    .help("raise the limit with `--analysis-time MS`; findings reported are real, others may be missing"),
                );
                out.diagnostics.extend(run.diagnostics);
                break;
            }
            Err(why) => {
                let elapsed = started.elapsed().as_millis();
                let reason = match why {
                    Stop::Budget | Stop::Deadline => {
                        format!("its diagram reached {} nodes", options.node_budget)
                    }
                    Stop::TooLarge(n) => format!(
                        "it reads {n} facts and code classes (at most {} are analysed)",
                        space::MAX_VARIABLES
                    ),
                };
                run.diagnostics.push(
                    Diagnostic::new(
                        Code::AnalysisIncomplete,
                        format!(
                            "analysis of decision `{}` stopped after {elapsed} ms; results incomplete",
                            shown(&d.name)
                        ),
                    )
                    .primary(d.name_span, "not fully analysed")
                    .help(format!(
                        "{reason}; findings reported for it are real, but others may be missing"
                    )),
                );
            }
        }
        out.diagnostics.extend(run.diagnostics);
    }
    out
}

#[derive(Debug, Clone, Copy)]
enum Stop {
    Budget,
    Deadline,
    TooLarge(usize),
}

impl From<Exhausted> for Stop {
    fn from(_: Exhausted) -> Stop {
        Stop::Budget
    }
}

struct Run<'a> {
    program: &'a Program,
    decision: &'a Decision,
    options: &'a Options,
    code_sets: &'a crate::codeset::CodeSets,
    /// The patients the policy's constraints allow (and whose lists can exist).
    allowed: Node,
    /// Whether the policy has constraints.
    constrained: bool,
    /// The patients whose lists can exist (see `lists::feasible`).
    possible: Node,
    summary: Option<describe::Summary>,
    deadline: Instant,
    diagnostics: Vec<Diagnostic>,
    reported_defines: &'a mut HashSet<DefineId>,
}

impl Run<'_> {
    fn in_time(&self) -> Result<(), Stop> {
        let cancelled = self
            .options
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed));
        if cancelled || Instant::now() > self.deadline {
            Err(Stop::Deadline)
        } else {
            Ok(())
        }
    }

    fn decision(&mut self) -> Result<(), Stop> {
        let d = self.decision;
        self.in_time()?;
        let first_finding = self.diagnostics.len();
        let constraints: Vec<&Constraint> = d
            .policy
            .and_then(|p| self.program.policies.get(p.index()))
            .map(|p| {
                p.constraints
                    .iter()
                    .filter_map(|c| self.program.constraints.get(c.index()))
                    .collect()
            })
            .unwrap_or_default();
        let conditions: Vec<&Expr> = d
            .rules
            .iter()
            .map(|r| &r.condition)
            .chain(constraints.iter().map(|c| &c.condition))
            .collect();
        let mut space = space::build(
            self.program,
            &conditions,
            self.code_sets,
            self.options.node_budget,
        )
        .map_err(|t| Stop::TooLarge(t.0))?;
        // The patients the policy's constraints allow: every question below is asked of them.
        // Related facts first: only the combinations of their classes some patient has; and
        // lists that can exist (the counts of one list bound each other).
        let related = space.feasible()?;
        let (lists, free) = lists::feasible(&mut space)?;
        let mut allowed = space.mdd.and(related, lists)?;
        self.possible = allowed;
        self.constrained = !constraints.is_empty();
        for c in &constraints {
            let n = space.condition(&c.condition)?;
            allowed = space.mdd.and(allowed, n)?;
        }
        if allowed == FALSE {
            if let Some(first) = constraints.first() {
                let mut diag = Diagnostic::new(
                    Code::ImpossibleCondition,
                    format!(
                        "the constraints on decision `{}` exclude every patient",
                        shown(&d.name)
                    ),
                )
                .primary(first.name_span, "no patient meets all constraints");
                for c in constraints.iter().skip(1) {
                    diag = diag.secondary(c.name_span, "together with this one");
                }
                self.diagnostics
                    .push(diag.help("a constraint says what every patient meets; correct the one that contradicts the others"));
            }
            return Ok(());
        }
        self.allowed = allowed;
        let mut rules = Vec::with_capacity(d.rules.len());
        for r in &d.rules {
            self.in_time()?;
            let n = space.condition(&r.condition)?;
            rules.push(space.mdd.and(n, allowed)?);
        }
        self.conditions(&mut space, &rules)?;
        let live: Vec<bool> = rules.iter().map(|&n| n != FALSE).collect();
        match d.hit {
            HitPolicy::Unique | HitPolicy::Any => self.overlaps(&mut space, &rules, &live)?,
            HitPolicy::First => self.shadowing(&mut space, &rules, &live)?,
        }
        self.gaps(&mut space, &rules)?;
        self.listed_codes(&mut space, &rules)?;
        self.approximate(&space, first_finding);
        self.derived_values(first_finding);
        if self.options.describe {
            self.summary = Some(describe::summarise(&mut space, d, allowed)?);
        }
        self.free_lists(&free);
        Ok(())
    }

    /// When a group of related facts was too large to decide exactly: one `W0420` for the
    /// decision, and a note on each of its findings (from `first`) that names one of those
    /// facts in an example: it may be about a combination of values no patient has.
    fn approximate(&mut self, space: &Space<'_>, first: usize) {
        let facts = space.approximate();
        if facts.is_empty() {
            return;
        }
        let names: Vec<String> = facts
            .iter()
            .map(|f| format!("`{}`", shown(self.program.fact_name(*f))))
            .collect();
        let names = names.join(", ");
        let note = format!(
            "the relations between {names} are reasoned over as independent values here (too many combinations to enumerate, or calendar months, which are no fixed number of days), so this may concern values no patient has together"
        );
        for d in self.diagnostics.iter_mut().skip(first) {
            let involved = facts.iter().any(|f| {
                let name = format!("{} = ", self.program.fact_name(*f));
                d.notes.iter().any(|n| n.contains(&name))
            });
            if involved {
                d.notes.push(note.clone());
            }
        }
        self.diagnostics.push(
            Diagnostic::new(
                Code::RelationsApproximated,
                format!(
                    "decision `{}` relates {names} in ways the analysis does not decide exactly",
                    shown(&self.decision.name)
                ),
            )
            .primary(self.decision.name_span, "relations reasoned over as independent values")
            .note("a finding that involves these facts may concern values no patient has together; one that is absent is absent for every patient")
            .help("nothing to fix when the relations are what the policy means; fewer related facts or thresholds in one decision, and days in place of calendar months, let the analysis decide exactly"),
        );
    }

    /// Derived values (`define bmi = weight / (height * height)`) are reasoned over as values
    /// of their own, free of the facts they are computed from: a finding whose example gives
    /// one (from `first`) says so, as it may concern values no patient's inputs give. What
    /// the analysis finds absent stays absent: a free value only adds patients.
    fn derived_values(&mut self, first: usize) {
        for fact in &self.program.facts {
            let Some(d) = &fact.derived else {
                continue;
            };
            // The example shows it as its inputs, or as itself when none solved.
            let inputs_shown: Vec<String> = d
                .formula
                .facts()
                .into_iter()
                .map(|f| format!("{} = ", self.program.fact_name(*f)))
                .collect();
            let itself = format!("{} = ", fact.name);
            let inputs: Vec<String> = d
                .formula
                .facts()
                .into_iter()
                .map(|f| format!("`{}`", shown(self.program.fact_name(*f))))
                .collect();
            let note = format!(
                "`{}` is reasoned over as a value of its own, computed from {} as `{}`: this may concern values no patient's {} give",
                shown(&fact.name),
                inputs.join(", "),
                shown(&d.written),
                inputs.join(" and ")
            );
            for diag in self.diagnostics.iter_mut().skip(first) {
                let example = |n: &String| {
                    n.starts_with("for example")
                        && (n.contains(&itself) || inputs_shown.iter().all(|i| n.contains(i)))
                };
                if diag.notes.iter().any(example) {
                    diag.notes.push(note.clone());
                }
            }
        }
    }

    /// Lists whose counts the analysis left free of each other (too many to relate exactly,
    /// or conditions that read facts of the patient): where an example needs a list that no
    /// numbers of items give, the finding says that it may be about patients who cannot
    /// exist. Findings that claim no patient (impossible, always true, redundant, never
    /// fires) stay proved, as free counts allow more patients, never fewer; an example whose
    /// list was built has the counts it shows.
    fn free_lists(&mut self, free: &[FactId]) {
        for &list in free {
            let name = self.program.fact_name(list).to_string();
            let unbuilt = format!("{name} = {}", space::NO_LIST);
            for d in &mut self.diagnostics {
                if d.notes.iter().any(|n| n.contains(&unbuilt)) {
                    d.notes.push(format!(
                        "no list of `{}` has the counts this example needs: the analysis reasons over them as free of each other, so this finding may be about patients who cannot exist",
                        shown(&name)
                    ));
                }
            }
        }
    }

    fn facts_of_rules(&self, which: &[usize]) -> Vec<FactId> {
        let mut out = Vec::new();
        for &i in which {
            if let Some(r) = self.decision.rules.get(i) {
                out.extend(facts_of(self.program, &r.condition));
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// "for example: a = 1, b = true" over the given facts, in variable order.
    fn example(&self, space: &Space<'_>, node: Node, facts: &[FactId]) -> Option<String> {
        let values = space.mdd.witness(node)?;
        Some(example_text(space, &values, facts))
    }

    /// Impossible, always-true and redundant conditions, in rules and in the defines they use.
    fn conditions(&mut self, space: &mut Space<'_>, rules: &[Node]) -> Result<(), Stop> {
        let d = self.decision;
        for (i, r) in d.rules.iter().enumerate() {
            self.in_time()?;
            let node = rules.get(i).copied().unwrap_or(TRUE);
            if node == FALSE {
                let mut diag = Diagnostic::new(
                    Code::ImpossibleCondition,
                    format!("rule `{}` can never match", shown(&r.name)),
                )
                .primary(r.name_span, "no patient meets this rule");
                diag = self.explain_impossible(space, &r.condition, diag)?;
                diag = ranges::with_ranges(self.program, &r.condition, diag);
                self.diagnostics.push(
                    diag.help(
                        "correct the thresholds or the conditions; as written the rule is dead",
                    ),
                );
                continue;
            }
            // Rules are asked of the patients the constraints allow, as for W0407.
            if node == self.allowed {
                let whom = if !self.constrained {
                    "every patient"
                } else {
                    "every patient the constraints allow"
                };
                let diag = Diagnostic::new(
                    Code::AlwaysTrue,
                    format!(
                        "the condition of rule `{}` holds for {whom}",
                        shown(&r.name)
                    ),
                )
                .primary(r.condition.span, "always true")
                .help("if every patient gets this outcome, say so with `otherwise`");
                self.diagnostics
                    .push(ranges::with_ranges(self.program, &r.condition, diag));
                continue;
            }
            self.conjuncts(space, &r.condition)?;
        }
        // The defines the rules use, each once.
        let mut defines = Vec::new();
        for r in &d.rules {
            r.condition.for_each_define(&mut |id, _| defines.push(id));
        }
        let mut i = 0;
        while let Some(&id) = defines.get(i) {
            i += 1;
            if !self.reported_defines.insert(id) {
                continue;
            }
            let Some(def) = self.program.define(id) else {
                continue;
            };
            let DefineBody::Condition(e) = &def.body else {
                continue;
            };
            e.for_each_define(&mut |dep, _| defines.push(dep));
            self.in_time()?;
            let node = space.condition(e)?;
            if node == FALSE {
                let diag = Diagnostic::new(
                    Code::ImpossibleCondition,
                    format!("definition `{}` is never true", shown(&def.name)),
                )
                .primary(def.name_span, "no patient meets it");
                let diag = self.explain_impossible(space, e, diag)?;
                let diag = ranges::with_ranges(self.program, e, diag);
                self.diagnostics
                    .push(diag.help("correct the conditions it combines"));
            } else if node == TRUE {
                let diag = Diagnostic::new(
                    Code::AlwaysTrue,
                    format!(
                        "definition `{}` is true for every patient",
                        shown(&def.name)
                    ),
                )
                .primary(def.name_span, "always true")
                .help("a condition every patient meets tests nothing; correct or remove it");
                self.diagnostics
                    .push(ranges::with_ranges(self.program, e, diag));
            } else {
                self.conjuncts(space, e)?;
            }
        }
        Ok(())
    }

    /// Points at the two parts of an impossible conjunction that exclude each other.
    fn explain_impossible(
        &mut self,
        space: &mut Space<'_>,
        e: &Expr,
        diag: Diagnostic,
    ) -> Result<Diagnostic, Stop> {
        let ExprKind::And(parts) = &e.kind else {
            return Ok(diag);
        };
        let mut nodes = Vec::with_capacity(parts.len());
        for p in parts {
            // Of the patients whose lists can exist: `count(sessions) == 1` and
            // `count(sessions where relief >= 80%) >= 2` conflict.
            let n = space.condition(p)?;
            nodes.push(space.mdd.and(n, self.possible)?);
        }
        for (i, &a) in nodes.iter().enumerate() {
            if a == FALSE
                && let Some(p) = parts.get(i)
            {
                return Ok(diag.secondary(p.span, "this condition alone is never true"));
            }
            for (j, &b) in nodes.iter().enumerate().skip(i + 1) {
                if space.mdd.and(a, b)? == FALSE
                    && let (Some(pa), Some(pb)) = (parts.get(i), parts.get(j))
                {
                    return Ok(diag
                        .secondary(pa.span, "this")
                        .secondary(pb.span, "cannot hold together with this"));
                }
            }
        }
        Ok(diag
            .note("no two of its conditions conflict on their own: it takes three or more of them"))
    }

    /// Parts of a conjunction that always hold, or that the other parts already imply.
    fn conjuncts(&mut self, space: &mut Space<'_>, e: &Expr) -> Result<(), Stop> {
        let ExprKind::And(parts) = &e.kind else {
            return Ok(());
        };
        if parts.len() > 24 {
            return Ok(());
        }
        let mut nodes = Vec::with_capacity(parts.len());
        for p in parts {
            nodes.push(space.condition(p)?);
        }
        for (i, (part, &node)) in parts.iter().zip(&nodes).enumerate() {
            self.in_time()?;
            if node == TRUE {
                let diag =
                    Diagnostic::new(Code::AlwaysTrue, "this condition holds for every patient")
                        .primary(part.span, "always true")
                        .help("it tests nothing: remove it, or correct the threshold");
                self.diagnostics
                    .push(ranges::with_ranges(self.program, part, diag));
                continue;
            }
            let mut others = TRUE;
            for (j, &n) in nodes.iter().enumerate() {
                if j != i {
                    others = space.mdd.and(others, n)?;
                }
            }
            if others == FALSE || space.mdd.diff(others, node)? != FALSE {
                continue;
            }
            let mut diag = Diagnostic::new(
                Code::RedundantCondition,
                "this condition is implied by the others beside it",
            )
            .primary(part.span, "always true when the rest holds");
            // The one other part that implies it, if there is one.
            for (j, &n) in nodes.iter().enumerate() {
                if j != i
                    && space.mdd.diff(n, node)? == FALSE
                    && let Some(p) = parts.get(j)
                {
                    diag = diag.secondary(p.span, "implies it");
                    break;
                }
            }
            self.diagnostics
                .push(diag.help("remove it, or correct it if it was meant to say more"));
        }
        Ok(())
    }

    /// Overlaps of rules under `unique` and `any`.
    fn overlaps(
        &mut self,
        space: &mut Space<'_>,
        rules: &[Node],
        live: &[bool],
    ) -> Result<(), Stop> {
        let d = self.decision;
        let bounds: Vec<Bounds> = rules.iter().map(|&n| space.mdd.bounds(n)).collect();
        let all: Vec<usize> = (0..d.rules.len()).collect();
        for (j, rj) in d.rules.iter().enumerate() {
            self.in_time()?;
            let (Some(&nj), Some(true), Some(bj)) = (rules.get(j), live.get(j), bounds.get(j))
            else {
                continue;
            };
            for (i, ri) in d.rules.iter().enumerate().take(j) {
                let (Some(&ni), Some(true), Some(bi)) = (rules.get(i), live.get(i), bounds.get(i))
                else {
                    continue;
                };
                let same = ri.outcome == rj.outcome;
                if (same && d.hit == HitPolicy::Any) || bi.disjoint(bj) {
                    continue;
                }
                let both = space.mdd.and(ni, nj)?;
                if both == FALSE {
                    continue;
                }
                // Every fact the rules read: whether a third rule matches too decides which
                // conflict the patient meets, so the example is complete enough to evaluate.
                let example = self
                    .example(space, both, &self.facts_of_rules(&all))
                    .unwrap_or_default();
                let outcome = |r: &Rule| d.outcome_name(r.outcome).to_string();
                let diag = if same {
                    Diagnostic::new(
                        Code::RedundantOverlap,
                        format!(
                            "rules `{}` and `{}` both match some patients (both give `{}`)",
                            shown(&ri.name),
                            shown(&rj.name),
                            outcome(rj)
                        ),
                    )
                    .help("under `unique` no two rules may match one patient; narrow one of them, or use `any`")
                } else {
                    Diagnostic::new(
                        Code::OverlappingRules,
                        format!(
                            "rules `{}` and `{}` both match some patients but give different outcomes",
                            shown(&ri.name),
                            shown(&rj.name)
                        ),
                    )
                    .help(format!(
                        "under `{}` the outcome of such a patient is undefined: narrow one rule, or use `first` to let the earlier one win",
                        d.hit.name()
                    ))
                };
                self.diagnostics.push(
                    diag.primary(rj.name_span, format!("gives `{}`", outcome(rj)))
                        .secondary(ri.name_span, format!("gives `{}`", outcome(ri)))
                        .note(format!("for example: {example}")),
                );
            }
        }
        Ok(())
    }

    /// Under `first`: rules that never fire, and rules that an earlier rule with another
    /// outcome takes some patients from.
    fn shadowing(
        &mut self,
        space: &mut Space<'_>,
        rules: &[Node],
        live: &[bool],
    ) -> Result<(), Stop> {
        let d = self.decision;
        let bounds: Vec<Bounds> = rules.iter().map(|&n| space.mdd.bounds(n)).collect();
        let reads: Vec<Vec<FactId>> = d
            .rules
            .iter()
            .map(|r| facts_of(self.program, &r.condition))
            .collect();
        let meet = |i: usize, j: usize| match (bounds.get(i), bounds.get(j)) {
            (Some(a), Some(b)) => !a.disjoint(b),
            _ => true,
        };
        // covers[i]: the patients the rules before rule i decide.
        let mut cover = FALSE;
        let mut covers = Vec::with_capacity(rules.len());
        for &n in rules {
            covers.push(cover);
            cover = space.mdd.or(cover, n)?;
        }
        for (i, ri) in d.rules.iter().enumerate() {
            self.in_time()?;
            let (Some(&ni), Some(true), Some(&before)) = (rules.get(i), live.get(i), covers.get(i))
            else {
                continue;
            };
            let fires = space.mdd.diff(ni, before)?;
            if fires == FALSE {
                let mut diag = Diagnostic::new(
                    Code::ShadowedRule,
                    format!(
                        "rule `{}` never fires: earlier rules decide every patient it matches",
                        shown(&ri.name)
                    ),
                )
                .primary(ri.name_span, "never decides");
                for (j, rj) in d.rules.iter().enumerate().take(i) {
                    if let Some(&nj) = rules.get(j)
                        && meet(i, j)
                        && space.mdd.and(ni, nj)? != FALSE
                    {
                        diag = diag.secondary(rj.name_span, "decides first");
                    }
                }
                self.diagnostics.push(
                    diag.help("move it before the rules that take its patients, or remove it"),
                );
                continue;
            }
            // One note per rule: every earlier rule with another outcome that takes some of
            // its patients, and one such patient.
            let outcome = |r: &Rule| d.outcome_name(r.outcome).to_string();
            let mut takers = Vec::new();
            let mut example = None;
            let reads_i = reads.get(i).map(Vec::as_slice).unwrap_or_default();
            for (j, rj) in d.rules.iter().enumerate().take(i) {
                if rj.outcome == ri.outcome || !meet(i, j) {
                    continue;
                }
                // An earlier rule on other facts carves a case out (sacroplasty first, then
                // the criteria): that is what `first` is for. One that tests the same facts
                // competes with this rule, and may take patients the author meant for it.
                let reads_j = reads.get(j).map(Vec::as_slice).unwrap_or_default();
                if !reads_j.iter().any(|f| reads_i.contains(f)) {
                    continue;
                }
                let (Some(&nj), Some(&before_j)) = (rules.get(j), covers.get(j)) else {
                    continue;
                };
                // Patients rule i matches that rule j, and no rule before it, decides.
                let taken = space.mdd.and(ni, nj)?;
                let taken = space.mdd.diff(taken, before_j)?;
                if taken == FALSE {
                    continue;
                }
                if example.is_none() {
                    // The facts of every rule up to the taker (none before it matches), and
                    // of this rule (which matches too).
                    let which: Vec<usize> = (0..=j).chain([i]).collect();
                    example = self.example(space, taken, &self.facts_of_rules(&which));
                }
                takers.push(j);
            }
            let Some(&first) = takers.first() else {
                continue;
            };
            let Some(rj) = d.rules.get(first) else {
                continue;
            };
            let names = takers
                .iter()
                .filter_map(|&j| d.rules.get(j))
                .map(|r| format!("`{}`", shown(&r.name)))
                .collect::<Vec<_>>()
                .join(", ");
            let mut diag = Diagnostic::new(
                Code::PartlyShadowed,
                format!(
                    "earlier rules decide some of the patients rule `{}` matches: {names}",
                    shown(&ri.name)
                ),
            )
            .primary(
                ri.name_span,
                format!("gives `{}` only to the rest", outcome(ri)),
            );
            for &j in &takers {
                if let Some(r) = d.rules.get(j) {
                    diag = diag
                        .secondary(r.name_span, format!("decides first, with `{}`", outcome(r)));
                }
            }
            self.diagnostics.push(
                diag.note(format!(
                    "for example, `{}` gives `{}` to: {}",
                    shown(&rj.name),
                    outcome(rj),
                    example.unwrap_or_default()
                ))
                .help("under `first` this is how earlier rules carve out cases; check that these patients should not get this rule's outcome"),
            );
        }
        Ok(())
    }

    /// Patients no rule decides, and an `otherwise` that is never reached.
    fn gaps(&mut self, space: &mut Space<'_>, rules: &[Node]) -> Result<(), Stop> {
        let d = self.decision;
        self.in_time()?;
        let covered = space.mdd.or_all(rules)?;
        let uncovered = space.mdd.diff(self.allowed, covered)?;
        if let Some(o) = &d.otherwise {
            if uncovered == FALSE {
                self.diagnostics.push(
                    Diagnostic::new(
                        Code::UnreachableOtherwise,
                        format!(
                            "`otherwise` of decision `{}` is never reached",
                            shown(&d.name)
                        ),
                    )
                    .primary(o.span, "every patient matches a rule before it")
                    .help("remove it, or keep it as a safeguard for future edits of the rules"),
                );
            }
            return Ok(());
        }
        if uncovered == FALSE {
            return Ok(());
        }
        let all: Vec<usize> = (0..d.rules.len()).collect();
        let facts = self.facts_of_rules(&all);
        let decided = space.mdd.and(self.allowed, covered)?;
        let boundaries = self.boundaries(space, uncovered, decided)?;
        // Each boundary gets its own diagnostic; the rest of the gap shares one, with examples.
        let mut explained = FALSE;
        for (k, &(fact, var, point, patients)) in boundaries.iter().enumerate() {
            explained = space.mdd.or(explained, patients)?;
            // The example is at this boundary alone where it can be.
            let mut alone = patients;
            for (l, other) in boundaries.iter().enumerate() {
                if l != k {
                    alone = space.mdd.diff(alone, other.3)?;
                }
            }
            if alone == FALSE {
                alone = patients;
            }
            let name = self.program.fact_name(fact).to_string();
            let text = match space.vars.get(var as usize) {
                Some(space::Var::Numeric(_, dom)) => dom
                    .samples
                    .get(point as usize)
                    .map(|&s| space::quantity_text(s, self.program.fact(fact).map(|f| f.ty))),
                _ => None,
            }
            .unwrap_or_else(|| lost_name("the sample of a region").to_string());
            let mut diag = Diagnostic::new(
                Code::BoundaryGap,
                format!(
                    "decision `{}` gives no outcome when `{}` is exactly {text}",
                    shown(&d.name),
                    shown(&name)
                ),
            )
            .primary(d.name_span, "no rule decides this value");
            for r in &d.rules {
                if facts_of(self.program, &r.condition).contains(&fact) {
                    diag = diag.secondary(r.name_span, format!("compares `{}`", shown(&name)));
                }
            }
            let example = self.example(space, alone, &facts).unwrap_or_default();
            self.diagnostics.push(
                diag.note(format!("for example: {example}"))
                    .help("one comparison must include the boundary: write `>=` or `<=` where the policy means it"),
            );
        }
        let mut rest = space.mdd.diff(uncovered, explained)?;
        let mut examples: Vec<String> = Vec::new();
        let mut more = false;
        while rest != FALSE {
            self.in_time()?;
            let Some(values) = space.mdd.witness(rest) else {
                break;
            };
            if examples.len() == self.options.gap_examples {
                more = true;
                break;
            }
            examples.push(example_text(space, &values, &facts));
            let cube = cube_of(space, &values)?;
            rest = space.mdd.diff(rest, cube)?;
        }
        if !examples.is_empty() {
            let mut diag = Diagnostic::new(
                Code::DecisionGap,
                format!(
                    "decision `{}` gives no outcome for some patients",
                    shown(&d.name)
                ),
            )
            .primary(d.name_span, "no rule matches them");
            for e in examples {
                diag = diag.note(format!("for example: {e}"));
            }
            if more {
                diag = diag.note("and more patients besides these");
            }
            self.diagnostics
                .push(diag.help("add a rule for them, or an `otherwise` that says what they get"));
        }
        Ok(())
    }

    /// The boundary gaps: for each threshold of a numeric fact, the undecided patients at it
    /// whose neighbours on both sides (the values just below and just above, the rest of the
    /// patient unchanged) are decided, as `> 78.5` and `< 78.5` leave 78.5. One neighbour
    /// may instead be itself such a boundary patient of another fact (78.5 years and a BMI of
    /// exactly 25.5 is two boundaries, not a wider gap), so the sets are grown to their least
    /// fixed point; a rule must decide the other (a fact the gap does not depend on has no
    /// boundary in it). A gap of more than the one value, or at the end of a
    /// fact's range, is no boundary gap. Returns (fact, variable, region, patients), in
    /// variable order, for the thresholds that have some.
    fn boundaries(
        &mut self,
        space: &mut Space<'_>,
        uncovered: Node,
        decided: Node,
    ) -> Result<Vec<(FactId, u32, u32, Node)>, Stop> {
        let mut points = Vec::new();
        // A fact related to another has no boundary of its own: a value beside its threshold,
        // the rest of the patient the same, changes its differences too. A gap there is one
        // of the rest (`E0403`), with examples.
        let related: Vec<FactId> = space.groups.iter().flat_map(|g| g.facts.clone()).collect();
        for (v, var) in space.vars.iter().enumerate() {
            let space::Var::Numeric(fact, dom) = var else {
                continue;
            };
            if related.contains(fact) {
                continue;
            }
            for (i, region) in dom.regions.iter().enumerate() {
                if matches!(region, domain::Region::Point(_)) && i > 0 && i + 1 < dom.regions.len()
                {
                    points.push((*fact, v as u32, i as u32));
                }
            }
        }
        let mut explained = FALSE;
        loop {
            self.in_time()?;
            let settled = space.mdd.or(decided, explained)?;
            let mut found = Vec::new();
            let mut all = FALSE;
            for &(fact, var, point) in &points {
                let at = space.mdd.literal(var, |x| x == point)?;
                let mut patients = space.mdd.and(uncovered, at)?;
                let mut beside = FALSE;
                for side in [point - 1, point + 1] {
                    if patients != FALSE {
                        let neighbour = space.mdd.restrict(settled, var, side)?;
                        patients = space.mdd.and(patients, neighbour)?;
                        let ruled = space.mdd.restrict(decided, var, side)?;
                        beside = space.mdd.or(beside, ruled)?;
                    }
                }
                patients = space.mdd.and(patients, beside)?;
                if patients != FALSE {
                    all = space.mdd.or(all, patients)?;
                    found.push((fact, var, point, patients));
                }
            }
            if all == explained {
                return Ok(found);
            }
            explained = all;
        }
    }
}

/// The patients with exactly these values (free variables stay free).
fn cube_of(space: &mut Space<'_>, values: &[Option<u32>]) -> Result<Node, Exhausted> {
    let mut acc = TRUE;
    for (v, value) in values.iter().enumerate().rev() {
        if let Some(value) = value {
            let value = *value;
            let lit = space.mdd.literal(v as u32, |x| x == value)?;
            acc = space.mdd.and(lit, acc)?;
        }
    }
    Ok(acc)
}

fn example_text(space: &Space<'_>, values: &[Option<u32>], facts: &[FactId]) -> String {
    let shown: Vec<FactId> = space
        .facts
        .iter()
        .copied()
        .filter(|f| facts.contains(f))
        .collect();
    let text = |f: FactId| {
        let name = space.program.fact_name(f);
        format!("{name} = {}", space.value_text(f, values))
    };
    // A derived value is shown as the facts it is computed from, solved from its value (see
    // `ir::solve_derived`), so the example reads as a test's given values; it stays as it is
    // when no input solves.
    let derived = |f: &FactId| space.program.fact(*f).is_some_and(|x| x.derived.is_some());
    if !shown.iter().any(derived) {
        return shown.into_iter().map(text).collect::<Vec<_>>().join(", ");
    }
    let mut out: Vec<String> = Vec::new();
    let mut given: std::collections::BTreeMap<FactId, crate::ir::Value> = shown
        .iter()
        .filter(|f| !derived(f))
        .filter_map(|&f| Some((f, crate::ir::Value::Num(space.number(f, values)?))))
        .collect();
    for &f in &shown {
        if !derived(&f) {
            out.push(text(f));
            continue;
        }
        let mut patient = given.clone();
        let solved = space.number(f, values).is_some_and(|n| {
            patient.insert(f, crate::ir::Value::Num(n));
            crate::ir::solve_derived(space.program, &mut patient, &|f, a, b| {
                space.same_class(f, a, b)
            })
        });
        if !solved {
            out.push(text(f));
            continue;
        }
        for (x, v) in &patient {
            if given.contains_key(x) {
                continue;
            }
            if let crate::ir::Value::Num(n) = v {
                let ty = space.program.fact(*x).map(|fact| fact.ty);
                out.push(format!(
                    "{} = {}",
                    space.program.fact_name(*x),
                    crate::types::quantity_text(*n, ty)
                ));
            }
        }
        given = patient;
    }
    out.join(", ")
}

/// Every fact a condition reads, through defines too.
pub fn facts_of(program: &Program, e: &Expr) -> Vec<FactId> {
    program.facts_read(e)
}
