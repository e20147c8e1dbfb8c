//! Stage 4, compile: each policy of a checked program becomes a decision artifact
//! ([`crate::artifact`], format `medpol.decision/1`).
//!
//! [`compile`] is the stage's one public function. For each decision it reuses the analysis's
//! domain refinement (every fact's domain cut into the classes its conditions tell apart) and
//! builds one multi-terminal reduced diagram whose terminals are the decision's results: the
//! rule that decides (by the hit policy), `otherwise`, no rule, or, under `unique` and `any`,
//! a conflict between rules. Each multi-valued test is then written as binary tests a reader
//! can follow: a threshold comparison in the fact's own unit, an enum value set, a bool, a code
//! set membership, or "has any / all codes of a class of codes". Every leaf gets a witness
//! patient made of the analysis's class representatives.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::analyse::domain::Region;
use crate::analyse::mdd::{Exhausted, Node};
use crate::analyse::space::{self, Space, Var};
use crate::artifact::{
    self, Artifact, CodeSetDoc, DecisionDoc, Document, FactSchema, FactType, LeafDoc, Loc, NodeDoc,
    PolicyMeta, Quantifier, Ref, SourceMap, TableRef, Test,
};
use crate::codeset::{CodeCache, CodeSets, table_in_force};
use crate::ir::*;
use crate::source::{Sources, Span};
use crate::tables::TableSet;
use crate::types::{Num, Type, Unit};

/// How to compile.
#[derive(Debug, Clone)]
pub struct Options {
    /// The project folder: source map paths are relative to it.
    pub root: PathBuf,
    /// Diagram nodes one decision may build.
    pub node_budget: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            root: PathBuf::new(),
            node_budget: 4_000_000,
        }
    }
}

/// One policy compiled.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub policy: PolicyId,
    pub artifact: Artifact,
    /// The program's decision for each decision of the artifact, in the same order.
    pub decisions: Vec<DecisionId>,
    /// For each decision of the artifact, for each of its leaves: a patient that reaches the
    /// leaf. Only the facts tested on the way are given (any value of the others reaches the
    /// same leaf); values are the analysis's class representatives.
    pub witnesses: Vec<Vec<BTreeMap<FactId, Value>>>,
}

impl Compiled {
    /// A patient reaching leaf `leaf` of the artifact's decision `decision` (by index).
    pub fn witness(&self, decision: usize, leaf: u32) -> Option<&BTreeMap<FactId, Value>> {
        self.witnesses.get(decision)?.get(leaf as usize)
    }
}

/// A decision too large to compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    pub decision: String,
    pub message: String,
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot compile decision `{}`: {}",
            self.decision, self.message
        )
    }
}

impl std::error::Error for CompileError {}

/// Compiles every policy of a program without errors into an artifact, in policy order.
/// `sources` gives the source map its lines, columns and text; `tables` the code tables the
/// code sets are expanded against (the release in force on each policy's effective date, as the
/// analysis takes it).
pub fn compile(
    program: &ValidProgram,
    tables: &TableSet,
    sources: &Sources,
    options: &Options,
) -> Result<Vec<Compiled>, CompileError> {
    let program: &Program = program;
    let mut out = Vec::with_capacity(program.policies.len());
    // Policies in force on the same release share its codes, read once.
    let mut codes = CodeCache::default();
    for (i, policy) in program.policies.iter().enumerate() {
        let code_sets = codes.code_sets(program, Some(tables), policy.meta.effective);
        out.push(compile_policy(
            program,
            PolicyId(i as u32),
            policy,
            tables,
            &code_sets,
            sources,
            options,
        )?);
    }
    Ok(out)
}

/// What a leaf gives, by program ids; the order is the leaves' order in the artifact.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Res {
    Rule(u32),
    /// Under `any`, while the diagram is built: rules that hold and agree (in order).
    Agree(Vec<u32>),
    Otherwise,
    NoRule,
    Conflict(Vec<u32>),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum ITest {
    IsTrue,
    Compare {
        strict: bool,
        value: Num,
    },
    EnumIn(Vec<u32>),
    CodeIn(CodeSetId),
    Has {
        all: bool,
        inside: Vec<CodeSetId>,
        not_in: Vec<CodeSetId>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum IRef {
    /// In creation order.
    Node(u32),
    /// Index into the decision's results.
    Leaf(u32),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct INode {
    fact: FactId,
    test: ITest,
    then: IRef,
    otherwise: IRef,
}

/// One decision compiled, by program ids.
struct IDecision {
    id: DecisionId,
    nodes: Vec<INode>,
    root: IRef,
    results: Vec<Res>,
    witnesses: Vec<BTreeMap<FactId, Value>>,
}

/// Per policy: files, code set expansions.
struct Policy<'a> {
    program: &'a Program,
    sources: &'a Sources,
    root: &'a Path,
    files: BTreeSet<crate::source::FileId>,
    expansions: BTreeMap<CodeSetId, BTreeSet<String>>,
}

fn compile_policy(
    program: &Program,
    id: PolicyId,
    policy: &crate::ir::Policy,
    tables: &TableSet,
    code_sets: &CodeSets,
    sources: &Sources,
    options: &Options,
) -> Result<Compiled, CompileError> {
    let date = policy.meta.effective;
    let mut ctx = Policy {
        program,
        sources,
        root: &options.root,
        files: BTreeSet::new(),
        expansions: BTreeMap::new(),
    };
    let mut decisions = Vec::with_capacity(policy.decisions.len());
    for &d in &policy.decisions {
        let Some(decision) = program.decision(d) else {
            continue;
        };
        let fail = |message: String| CompileError {
            decision: decision.name.clone(),
            message,
        };
        let compiled = compile_decision(&mut ctx, d, decision, code_sets, options.node_budget)
            .map_err(|e| match e {
                Stop::TooLarge(n) => fail(format!(
                    "it reads {n} facts and code classes (at most {} are compiled)",
                    space::MAX_VARIABLES
                )),
                Stop::Budget => fail(format!(
                    "its diagram needs more than {} nodes",
                    options.node_budget
                )),
            })?;
        decisions.push(compiled);
    }
    // The input schema: every fact the decisions read, in declaration order.
    let mut facts: BTreeSet<FactId> = BTreeSet::new();
    for d in &decisions {
        if let Some(decision) = program.decision(d.id) {
            for r in &decision.rules {
                facts.extend(program.facts_read(&r.condition));
            }
        }
    }
    let fact_index: HashMap<FactId, u32> = facts
        .iter()
        .enumerate()
        .map(|(i, f)| (*f, i as u32))
        .collect();
    let set_index: HashMap<CodeSetId, u32> = ctx
        .expansions
        .keys()
        .enumerate()
        .map(|(i, s)| (*s, i as u32))
        .collect();
    let fact_docs: Vec<FactSchema> = facts
        .iter()
        .filter_map(|f| program.fact(*f).map(|fact| (f, fact)))
        .map(|(_, fact)| fact_schema(&mut ctx, fact))
        .collect();
    let code_sets: Vec<CodeSetDoc> = ctx
        .expansions
        .clone()
        .into_iter()
        .map(|(s, codes)| {
            let set = program.code_set(s);
            CodeSetDoc {
                name: set.and_then(|c| c.name.clone()),
                system: set.map_or("", |c| c.system.name()).to_string(),
                description: set.and_then(|c| c.description.clone()),
                codes: codes.into_iter().collect(),
                source: ctx.loc(set.map(|c| c.span).unwrap_or_default(), None),
            }
        })
        .collect();
    let mut systems: BTreeSet<crate::codes::System> = BTreeSet::new();
    for f in &facts {
        if let Some(Type::Code(s) | Type::CodeSet(s)) = program.fact(*f).map(|f| f.ty) {
            systems.insert(s);
        }
    }
    let table_refs = systems
        .iter()
        .filter_map(|s| {
            table_in_force(tables, *s, date).map(|t| TableRef {
                system: s.name().to_string(),
                release: t.release().to_string(),
            })
        })
        .collect();
    let mut decision_docs = Vec::with_capacity(decisions.len());
    let mut witnesses = Vec::with_capacity(decisions.len());
    for d in decisions {
        let (doc, w) = decision_doc(&mut ctx, d.id, &d, &fact_index, &set_index);
        decision_docs.push(doc);
        witnesses.push(w);
    }
    let meta = &policy.meta;
    let policy_source = ctx.loc(policy.span, None);
    // Files last: every location above has registered its file.
    let files: Vec<crate::source::FileId> = ctx.files.iter().copied().collect();
    let file_names: Vec<String> = files.iter().map(|f| ctx.file_name(*f)).collect();
    let renumber = |loc: &mut Loc| {
        loc.file = files
            .iter()
            .position(|f| f.0 == loc.file)
            .map_or(0, |i| i as u32);
    };
    let mut doc = Document {
        format: artifact::FORMAT.to_string(),
        policy: PolicyMeta {
            id: policy.id.clone(),
            title: meta.title.clone(),
            version: meta.version.clone(),
            effective: meta.effective.map(|d| d.to_string()),
            ends: meta.ends.map(|d| d.to_string()),
            description: meta.description.clone(),
            references: meta.references.clone(),
            related: meta.related.clone(),
            source: policy_source,
        },
        files: file_names,
        tables: table_refs,
        facts: fact_docs,
        code_sets,
        decisions: decision_docs,
        hash: String::new(),
    };
    renumber(&mut doc.policy.source);
    doc.facts.iter_mut().for_each(|f| renumber(&mut f.source));
    doc.code_sets
        .iter_mut()
        .for_each(|s| renumber(&mut s.source));
    for d in &mut doc.decisions {
        renumber(&mut d.source);
        d.source_map.nodes.iter_mut().for_each(&renumber);
        d.source_map.leaves.iter_mut().for_each(&renumber);
    }
    doc.hash = doc.content_hash();
    let artifact = Artifact::new(doc).map_err(|e| CompileError {
        decision: String::new(),
        message: format!("the artifact does not load back: {e}"),
    })?;
    Ok(Compiled {
        policy: id,
        artifact,
        decisions: policy.decisions.clone(),
        witnesses,
    })
}

enum Stop {
    TooLarge(usize),
    Budget,
}

impl From<Exhausted> for Stop {
    fn from(_: Exhausted) -> Stop {
        Stop::Budget
    }
}

fn compile_decision(
    ctx: &mut Policy<'_>,
    id: DecisionId,
    d: &Decision,
    code_sets: &CodeSets,
    budget: usize,
) -> Result<IDecision, Stop> {
    let program = ctx.program;
    let conditions: Vec<&Expr> = d.rules.iter().map(|r| &r.condition).collect();
    let mut space =
        space::build(program, &conditions, code_sets, budget).map_err(|t| Stop::TooLarge(t.0))?;
    let mut rules = Vec::with_capacity(d.rules.len());
    for r in &d.rules {
        rules.push(space.condition(&r.condition)?);
    }
    // Each terminal of the result diagram stands for one result: value 2 + its index (0 and 1
    // are the boolean terminals).
    let mut results: Vec<Res> = Vec::new();
    fn terminal(space: &mut Space<'_>, results: &mut Vec<Res>, r: Res) -> Node {
        let at = match results.iter().position(|x| *x == r) {
            Some(i) => i,
            None => {
                results.push(r);
                results.len() - 1
            }
        };
        space.mdd.terminal(2 + at as u32)
    }
    let default = if d.otherwise.is_some() {
        Res::Otherwise
    } else {
        Res::NoRule
    };
    let mut root = terminal(&mut space, &mut results, default.clone());
    match d.hit {
        HitPolicy::First => {
            for (i, &r) in rules.iter().enumerate().rev() {
                let t = terminal(&mut space, &mut results, Res::Rule(i as u32));
                root = space.mdd.select(r, t, root)?;
            }
        }
        HitPolicy::Unique | HitPolicy::Any => {
            let outcome = |i: u32| d.rules.get(i as usize).map(|r| r.outcome);
            for (i, &r) in rules.iter().enumerate() {
                let i = i as u32;
                let mut map = HashMap::new();
                for t in space.mdd.terminals_of(root) {
                    let Some(before) = space
                        .mdd
                        .terminal_value(t)
                        .and_then(|v| results.get(v.saturating_sub(2) as usize))
                        .cloned()
                    else {
                        continue;
                    };
                    // A conflict names every rule that holds, those that agree too; so under
                    // `any` the rules that agree are kept until the end.
                    let after = match before {
                        Res::Otherwise | Res::NoRule if d.hit == HitPolicy::Any => {
                            Res::Agree(vec![i])
                        }
                        Res::Otherwise | Res::NoRule => Res::Rule(i),
                        Res::Agree(mut v) => {
                            let agrees = v.first().is_some_and(|j| outcome(*j) == outcome(i));
                            v.push(i);
                            if agrees {
                                Res::Agree(v)
                            } else {
                                Res::Conflict(v)
                            }
                        }
                        Res::Rule(j) => Res::Conflict(vec![j, i]),
                        Res::Conflict(mut v) => {
                            v.push(i);
                            Res::Conflict(v)
                        }
                    };
                    let image = terminal(&mut space, &mut results, after);
                    map.insert(t, image);
                }
                let matched = space.mdd.map_terminals(root, &map)?;
                root = space.mdd.select(r, matched, root)?;
            }
            // Rules that agree are one result, decided by the first of them.
            let mut map = HashMap::new();
            for t in space.mdd.terminals_of(root) {
                let first = space
                    .mdd
                    .terminal_value(t)
                    .and_then(|v| results.get(v.saturating_sub(2) as usize))
                    .and_then(|r| match r {
                        Res::Agree(v) => v.first().copied(),
                        _ => None,
                    });
                if let Some(first) = first {
                    let image = terminal(&mut space, &mut results, Res::Rule(first));
                    map.insert(t, image);
                }
            }
            root = space.mdd.map_terminals(root, &map)?;
        }
    }
    let mut builder = Builder::default();
    let mut refs: HashMap<Node, IRef> = HashMap::new();
    for n in space.mdd.nodes_of(root) {
        let r = match space.mdd.test(n).map(|(v, c)| (v, c.to_vec())) {
            None => {
                let v = space.mdd.terminal_value(n).unwrap_or(2);
                IRef::Leaf(v.saturating_sub(2))
            }
            Some((var, children)) => {
                let children: Vec<IRef> = children
                    .iter()
                    .map(|c| refs.get(c).copied().unwrap_or(IRef::Leaf(0)))
                    .collect();
                builder.var_tests(ctx, &space, var, &children)
            }
        };
        refs.insert(n, r);
    }
    let root_ref = refs.get(&root).copied().unwrap_or(IRef::Leaf(0));
    ctx.expand(&space, code_sets);
    let witnesses = (0..results.len() as u32)
        .map(|i| {
            let target = space.mdd.terminal(2 + i);
            space
                .mdd
                .witness_to(root, |n| n == target)
                .map(|values| witness(&space, code_sets, &values))
                .unwrap_or_default()
        })
        .collect();
    Ok(IDecision {
        id,
        nodes: builder.nodes,
        root: root_ref,
        results,
        witnesses,
    })
}

#[derive(Default)]
struct Builder {
    nodes: Vec<INode>,
    index: HashMap<INode, u32>,
}

impl Builder {
    /// One binary test, shared when an equal one exists; a test whose branches agree is its
    /// branch.
    fn node(&mut self, fact: FactId, test: ITest, then: IRef, otherwise: IRef) -> IRef {
        if then == otherwise {
            return then;
        }
        let node = INode {
            fact,
            test,
            then,
            otherwise,
        };
        if let Some(&i) = self.index.get(&node) {
            return IRef::Node(i);
        }
        let i = self.nodes.len() as u32;
        self.nodes.push(node.clone());
        self.index.insert(node, i);
        IRef::Node(i)
    }

    /// The binary tests that pick a child of a multi-valued test of variable `var`.
    fn var_tests(
        &mut self,
        ctx: &mut Policy<'_>,
        space: &Space<'_>,
        var: u32,
        children: &[IRef],
    ) -> IRef {
        let child = |i: usize| children.get(i).copied().unwrap_or(IRef::Leaf(0));
        match space.vars.get(var as usize) {
            Some(Var::Bool(f)) => self.node(*f, ITest::IsTrue, child(1), child(0)),
            Some(Var::Enum(f, _)) => {
                // One `in` test per distinct child, the last child taking what is left.
                let mut targets: Vec<(IRef, Vec<u32>)> = Vec::new();
                for (v, c) in children.iter().enumerate() {
                    match targets.iter_mut().find(|(t, _)| t == c) {
                        Some((_, values)) => values.push(v as u32),
                        None => targets.push((*c, vec![v as u32])),
                    }
                }
                let Some((last, _)) = targets.pop() else {
                    return child(0);
                };
                let mut at = last;
                for (target, values) in targets.into_iter().rev() {
                    at = self.node(*f, ITest::EnumIn(values), target, at);
                }
                at
            }
            Some(Var::Numeric(f, dom)) => {
                // Runs of neighbouring regions with the same child, split at their boundaries.
                let mut runs: Vec<(usize, IRef)> = Vec::new();
                for (r, c) in children.iter().enumerate() {
                    if runs.last().is_none_or(|(_, last)| last != c) {
                        runs.push((r, *c));
                    }
                }
                self.numeric(*f, &dom.regions, &runs)
            }
            Some(Var::Code(f, _)) => {
                let Some(classes) = space.codes.get(f) else {
                    return child(0);
                };
                let all: Vec<usize> = (0..classes.classes.len()).collect();
                for s in &classes.sets {
                    ctx.expansions.entry(*s).or_default();
                }
                self.code_split(*f, classes, &all, 0, children)
            }
            Some(Var::ClassCount {
                fact,
                class,
                states,
                ..
            }) => {
                let Some(classes) = space.codes.get(fact) else {
                    return child(0);
                };
                let inside_of = classes
                    .classes
                    .get(*class)
                    .map(|c| c.inside.clone())
                    .unwrap_or_default();
                let (mut inside, mut not_in) = (Vec::new(), Vec::new());
                for (s, i) in classes.sets.iter().zip(inside_of) {
                    ctx.expansions.entry(*s).or_default();
                    if i {
                        inside.push(*s);
                    } else {
                        not_in.push(*s);
                    }
                }
                let some = if *states == 3 {
                    let all = ITest::Has {
                        all: true,
                        inside: inside.clone(),
                        not_in: not_in.clone(),
                    };
                    self.node(*fact, all, child(2), child(1))
                } else {
                    child(1)
                };
                let any = ITest::Has {
                    all: false,
                    inside,
                    not_in,
                };
                self.node(*fact, any, some, child(0))
            }
            None => child(0),
        }
    }

    /// A balanced tree of threshold tests over runs of regions (at most one level per
    /// doubling of the runs).
    fn numeric(&mut self, fact: FactId, regions: &[Region], runs: &[(usize, IRef)]) -> IRef {
        match runs {
            [] => IRef::Leaf(0),
            [(_, only)] => *only,
            _ => {
                let mid = runs.len() / 2;
                let (low, high) = runs.split_at(mid);
                let start = high.first().map_or(0, |(r, _)| *r);
                let test = match regions.get(start) {
                    Some(Region::Point(v)) => ITest::Compare {
                        strict: false,
                        value: *v,
                    },
                    Some(Region::Between(Some(v), _)) => ITest::Compare {
                        strict: true,
                        value: *v,
                    },
                    // A run starts at an unbounded region only when it is the first run.
                    _ => return self.numeric(fact, regions, low),
                };
                let then = self.numeric(fact, regions, high);
                let otherwise = self.numeric(fact, regions, low);
                self.node(fact, test, then, otherwise)
            }
        }
    }

    /// Tests of a single code's membership in the fact's sets, one set at a time, until the
    /// classes left all lead to the same child. The depth is at most the number of sets.
    fn code_split(
        &mut self,
        fact: FactId,
        classes: &space::CodeClasses,
        subset: &[usize],
        from: usize,
        children: &[IRef],
    ) -> IRef {
        let child = |c: usize| children.get(c).copied().unwrap_or(IRef::Leaf(0));
        let Some(&first) = subset.first() else {
            return IRef::Leaf(0);
        };
        if subset.iter().all(|&c| child(c) == child(first)) {
            return child(first);
        }
        let inside = |c: usize, s: usize| {
            classes
                .classes
                .get(c)
                .and_then(|x| x.inside.get(s))
                .copied()
                .unwrap_or(false)
        };
        for s in from..classes.sets.len() {
            let (yes, no): (Vec<usize>, Vec<usize>) = subset.iter().partition(|&&c| inside(c, s));
            if yes.is_empty() || no.is_empty() {
                continue;
            }
            let Some(&set) = classes.sets.get(s) else {
                continue;
            };
            let then = self.code_split(fact, classes, &yes, s + 1, children);
            let otherwise = self.code_split(fact, classes, &no, s + 1, children);
            return self.node(fact, ITest::CodeIn(set), then, otherwise);
        }
        child(first)
    }
}

/// The patient of a witness assignment: one value per fact tested on the way.
fn witness(
    space: &Space<'_>,
    code_sets: &CodeSets,
    values: &[Option<u32>],
) -> BTreeMap<FactId, Value> {
    let mut out = BTreeMap::new();
    let value = |v: u32| values.get(v as usize).copied().flatten();
    for &f in &space.facts {
        let Some(&first) = space.var_of.get(&f) else {
            continue;
        };
        let v = match space.vars.get(first as usize) {
            Some(Var::Bool(_)) => value(first).map(|x| Value::Bool(x == 1)),
            Some(Var::Enum(..)) => value(first).map(Value::Enum),
            Some(Var::Numeric(_, d)) => value(first)
                .and_then(|x| d.samples.get(x as usize))
                .map(|s| Value::Num(*s)),
            Some(Var::Code(..)) => value(first).map(|x| {
                let example = space
                    .codes
                    .get(&f)
                    .and_then(|c| c.classes.get(x as usize))
                    .and_then(|c| c.examples.first())
                    .cloned()
                    .unwrap_or_default();
                Value::Code(example)
            }),
            Some(Var::ClassCount { classes, .. }) => {
                let states: Vec<(usize, u32)> = (0..*classes)
                    .filter_map(|c| value(first + c as u32).map(|s| (c, s)))
                    .collect();
                if states.is_empty() {
                    None
                } else {
                    let mut codes = Vec::new();
                    for (c, state) in states {
                        let Some(class) = space.codes.get(&f).and_then(|cc| cc.classes.get(c))
                        else {
                            continue;
                        };
                        match state {
                            0 => {}
                            1 => codes.extend(class.examples.first().cloned()),
                            _ => codes.extend(class_codes(space, code_sets, f, c)),
                        }
                    }
                    codes.sort();
                    codes.dedup();
                    Some(Value::Codes(codes))
                }
            }
            None => None,
        };
        if let Some(v) = v {
            out.insert(f, v);
        }
    }
    out
}

/// Every code of one class of a code fact: those in every set the class lies in and in none
/// of the others, as the artifact counts them for `has all`.
fn class_codes(space: &Space<'_>, code_sets: &CodeSets, fact: FactId, class: usize) -> Vec<String> {
    let Some(classes) = space.codes.get(&fact) else {
        return Vec::new();
    };
    let (Some(system), Some(c)) = (classes.system, classes.classes.get(class)) else {
        return Vec::new();
    };
    let (mut inside, mut not_in) = (Vec::new(), Vec::new());
    for (s, i) in classes.sets.iter().zip(&c.inside) {
        if *i { inside.push(*s) } else { not_in.push(*s) }
    }
    let candidates = match inside.first() {
        Some(first) => code_sets.members(*first),
        None => code_sets.universe(system),
    };
    candidates
        .iter()
        .filter(|code| {
            inside.iter().all(|s| code_sets.contains(*s, code))
                && !not_in.iter().any(|s| code_sets.contains(*s, code))
        })
        .cloned()
        .collect()
}

impl Policy<'_> {
    fn loc(&mut self, span: Span, rule: Option<&str>) -> Loc {
        self.files.insert(span.file);
        let (line, column, text) = match self.sources.get(span.file) {
            Some(f) => {
                let (line, column) = f.line_col(span.start as usize);
                let text = f.slice(span);
                let first = text.lines().next().unwrap_or("").trim_end();
                (line as u32, column as u32, first.to_string())
            }
            None => (0, 0, String::new()),
        };
        Loc {
            // The program's file id for now; renumbered into `files` at the end.
            file: span.file.0,
            line,
            column,
            rule: rule.map(str::to_string),
            text,
        }
    }

    /// The file's path relative to the project folder, with `/`, so artifacts built in
    /// different places are the same bytes.
    fn file_name(&self, id: crate::source::FileId) -> String {
        let Some(f) = self.sources.get(id) else {
            return String::new();
        };
        let relative = f
            .path
            .as_deref()
            .and_then(|p| p.strip_prefix(self.root).ok())
            .map(|p| {
                p.components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/")
            });
        relative.unwrap_or_else(|| f.name.replace('\\', "/"))
    }

    /// Records the codes of the sets the decisions test.
    fn expand(&mut self, space: &Space<'_>, code_sets: &CodeSets) {
        for classes in space.codes.values() {
            for s in &classes.sets {
                if let Some(entry) = self.expansions.get_mut(s) {
                    entry.extend(code_sets.members(*s).iter().cloned());
                }
            }
        }
    }
}

fn fact_schema(ctx: &mut Policy<'_>, fact: &Fact) -> FactSchema {
    let (ty, unit, values, system) = match fact.ty {
        Type::Bool | Type::Error => (FactType::Bool, None, Vec::new(), None),
        Type::Int => (FactType::Int, None, Vec::new(), None),
        Type::Decimal => (FactType::Decimal, None, Vec::new(), None),
        Type::Quantity(Unit::Percent) => (FactType::Percent, None, Vec::new(), None),
        Type::Quantity(u) => (
            FactType::Duration,
            Some(u.name().to_string()),
            Vec::new(),
            None,
        ),
        Type::Enum(e) => (
            FactType::Enum,
            None,
            ctx.program
                .enum_type(e)
                .map(|t| t.values.iter().map(|(n, _)| n.clone()).collect())
                .unwrap_or_default(),
            None,
        ),
        Type::Code(s) => (FactType::Code, None, Vec::new(), Some(s.name().to_string())),
        Type::CodeSet(s) => (
            FactType::Codes,
            None,
            Vec::new(),
            Some(s.name().to_string()),
        ),
    };
    FactSchema {
        name: fact.name.clone(),
        ty,
        unit,
        values,
        system,
        description: fact.description.clone(),
        source: ctx.loc(fact.name_span, None),
    }
}

/// The artifact form of one decision, and its witnesses in leaf order.
fn decision_doc(
    ctx: &mut Policy<'_>,
    id: DecisionId,
    d: &IDecision,
    fact_index: &HashMap<FactId, u32>,
    set_index: &HashMap<CodeSetId, u32>,
) -> (DecisionDoc, Vec<BTreeMap<FactId, Value>>) {
    let program = ctx.program;
    let Some(decision) = program.decision(id) else {
        return (empty_decision(), Vec::new());
    };
    // Leaves in a stable order: rules in order, otherwise, no rule, conflicts.
    let reachable: HashSet<u32> = d
        .nodes
        .iter()
        .flat_map(|n| [n.then, n.otherwise])
        .chain([d.root])
        .filter_map(|r| match r {
            IRef::Leaf(l) => Some(l),
            IRef::Node(_) => None,
        })
        .collect();
    let mut order: Vec<u32> = reachable.into_iter().collect();
    order.sort_by(|a, b| d.results.get(*a as usize).cmp(&d.results.get(*b as usize)));
    let leaf_of: HashMap<u32, u32> = order
        .iter()
        .enumerate()
        .map(|(i, r)| (*r, i as u32))
        .collect();
    // Nodes were made children first: reversed, every node comes before its children.
    let count = d.nodes.len() as u32;
    let map_ref = |r: IRef| match r {
        IRef::Node(n) => Ref::Node(count - 1 - n),
        IRef::Leaf(l) => Ref::Leaf(leaf_of.get(&l).copied().unwrap_or(0)),
    };
    let outcome = |o: Option<OutcomeId>| {
        o.and_then(|o| decision.outcome(o))
            .map(|x| x.name.clone())
            .unwrap_or_default()
    };
    let rule_name = |i: u32| {
        decision
            .rules
            .get(i as usize)
            .map(|r| r.name.clone())
            .unwrap_or_default()
    };
    let mut nodes = Vec::with_capacity(d.nodes.len());
    let mut node_locs = Vec::with_capacity(d.nodes.len());
    for n in d.nodes.iter().rev() {
        let set = |s: &CodeSetId| set_index.get(s).copied().unwrap_or(0);
        let test = match &n.test {
            ITest::IsTrue => Test::IsTrue,
            ITest::Compare { strict, value } => Test::Compare {
                op: if *strict { ">" } else { ">=" }.to_string(),
                value: value.to_string(),
            },
            ITest::EnumIn(values) => Test::EnumIn {
                values: values
                    .iter()
                    .map(|v| {
                        program
                            .fact(n.fact)
                            .and_then(|f| match f.ty {
                                Type::Enum(e) => Some(program.enum_value(e, *v).to_string()),
                                _ => None,
                            })
                            .unwrap_or_default()
                    })
                    .collect(),
            },
            ITest::CodeIn(s) => Test::CodeIn { set: set(s) },
            ITest::Has {
                all,
                inside,
                not_in,
            } => Test::Has {
                quantifier: if *all {
                    Quantifier::All
                } else {
                    Quantifier::Any
                },
                inside: inside.iter().map(set).collect(),
                not_in: not_in.iter().map(set).collect(),
            },
        };
        let (span, rule) = node_source(program, decision, n);
        node_locs.push(ctx.loc(span, rule.as_deref()));
        nodes.push(NodeDoc {
            fact: fact_index.get(&n.fact).copied().unwrap_or(0),
            test,
            then: map_ref(n.then),
            otherwise: map_ref(n.otherwise),
        });
    }
    let mut leaves = Vec::with_capacity(order.len());
    let mut leaf_locs = Vec::with_capacity(order.len());
    let mut witnesses = Vec::with_capacity(order.len());
    for r in &order {
        let res = d.results.get(*r as usize).cloned().unwrap_or(Res::NoRule);
        let by_rule = |i: u32| {
            let r = decision.rules.get(i as usize);
            (
                LeafDoc::Rule {
                    outcome: outcome(r.and_then(|r| r.outcome)),
                    rule: rule_name(i),
                },
                r.map_or(decision.name_span, |r| r.span),
                Some(rule_name(i)),
            )
        };
        let (leaf, span, rule) = match &res {
            Res::Rule(i) => by_rule(*i),
            // None is left in a diagram (each became its first rule); the same leaf if it were.
            Res::Agree(v) => by_rule(v.first().copied().unwrap_or(0)),
            Res::Otherwise => (
                LeafDoc::Otherwise {
                    outcome: outcome(decision.otherwise.as_ref().and_then(|o| o.outcome)),
                },
                decision
                    .otherwise
                    .as_ref()
                    .map_or(decision.name_span, |o| o.span),
                None,
            ),
            Res::NoRule => (LeafDoc::NoRule, decision.name_span, None),
            Res::Conflict(rules) => {
                let mut outcomes: Vec<String> = rules
                    .iter()
                    .filter_map(|i| decision.rules.get(*i as usize))
                    .map(|r| outcome(r.outcome))
                    .collect();
                outcomes.dedup();
                let first = rules.first().and_then(|i| decision.rules.get(*i as usize));
                (
                    LeafDoc::Conflict {
                        rules: rules.iter().map(|i| rule_name(*i)).collect(),
                        outcomes,
                    },
                    first.map_or(decision.name_span, |r| r.name_span),
                    first.map(|r| r.name.clone()),
                )
            }
        };
        leaves.push(leaf);
        leaf_locs.push(ctx.loc(span, rule.as_deref()));
        witnesses.push(d.witnesses.get(*r as usize).cloned().unwrap_or_default());
    }
    let doc = DecisionDoc {
        name: decision.name.clone(),
        hit: decision.hit.name().to_string(),
        description: decision.description.clone(),
        outcomes: decision.outcomes.iter().map(|o| o.name.clone()).collect(),
        root: map_ref(d.root),
        nodes,
        leaves,
        source: ctx.loc(decision.name_span, None),
        source_map: SourceMap {
            nodes: node_locs,
            leaves: leaf_locs,
        },
    };
    (doc, witnesses)
}

fn empty_decision() -> DecisionDoc {
    DecisionDoc {
        name: String::new(),
        hit: String::new(),
        description: None,
        outcomes: Vec::new(),
        root: Ref::Leaf(0),
        nodes: Vec::new(),
        leaves: Vec::new(),
        source: Loc {
            file: 0,
            line: 0,
            column: 0,
            rule: None,
            text: String::new(),
        },
        source_map: SourceMap {
            nodes: Vec::new(),
            leaves: Vec::new(),
        },
    }
}

/// Where a node's test comes from: the first rule that reads its fact, and in it the
/// condition that says the most about this test (the same threshold, enum values or set),
/// through definitions too.
fn node_source(program: &Program, decision: &Decision, node: &INode) -> (Span, Option<String>) {
    let mut fallback = None;
    for rule in &decision.rules {
        for e in program.walk(&[&rule.condition]) {
            let (fact, exact) = match (&e.kind, &node.test) {
                (ExprKind::Fact(f), ITest::IsTrue) => (*f, true),
                (ExprKind::Compare { fact, value, .. }, ITest::Compare { value: v, .. }) => {
                    (*fact, value == v)
                }
                (ExprKind::EnumIn { fact, .. }, _) => (*fact, true),
                (ExprKind::CodeIn { fact, set }, ITest::CodeIn(s)) => (*fact, set == s),
                (ExprKind::Has { fact, set, .. }, ITest::Has { inside, .. }) => {
                    (*fact, inside.contains(set))
                }
                _ => continue,
            };
            if fact != node.fact {
                continue;
            }
            if exact {
                return (e.span, Some(rule.name.clone()));
            }
            fallback.get_or_insert((e.span, Some(rule.name.clone())));
        }
    }
    fallback.unwrap_or((decision.name_span, None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::Facts;
    use crate::source::{FileId, SourceFile};

    fn compile_text(body: &str) -> Compiled {
        let text = format!(
            "policy \"p\" {{\n title \"t\"\n version \"1\"\n effective 2025-01-01\n}}\n{body}"
        );
        let mut sources = Sources::new();
        sources.add(SourceFile::new("p.medpol", None, text.clone()));
        let parsed = crate::syntax::parse(FileId(0), &text);
        let checked = crate::check::check(
            &[parsed.file],
            &crate::check::ImportMap::new(),
            TableSet::shipped(),
            &[],
        );
        assert!(
            !checked.diagnostics.iter().any(|d| d.is_error()),
            "{:?}",
            checked.diagnostics
        );
        compile(
            checked.valid().unwrap(),
            TableSet::shipped(),
            &sources,
            &Options::default(),
        )
        .unwrap()
        .remove(0)
    }

    fn outcome(c: &Compiled, facts: &str) -> Option<String> {
        let facts = Facts::from_json(&c.artifact, facts).unwrap();
        let d = c.artifact.decisions().first().unwrap();
        let e = d.evaluate(&facts);
        d.outcome_of(&e).map(str::to_string)
    }

    #[test]
    fn thresholds_keep_their_strictness_and_units() {
        let c = compile_text(
            "fact care: duration<weeks>\n\
             decision d (first) {\n outcomes { short, exact, long }\n\
             rule a when care < 6 weeks then short\n\
             rule b when care == 42 days then exact\n\
             otherwise long\n}\n",
        );
        let d = &c.artifact.document().decisions[0];
        let tests: Vec<&Test> = d.nodes.iter().map(|n| &n.test).collect();
        assert!(tests.contains(&&Test::Compare {
            op: ">=".into(),
            value: "6".into()
        }));
        assert!(tests.contains(&&Test::Compare {
            op: ">".into(),
            value: "6".into()
        }));
        assert_eq!(
            outcome(&c, r#"{"care": "41 days"}"#).as_deref(),
            Some("short")
        );
        assert_eq!(
            outcome(&c, r#"{"care": "6 weeks"}"#).as_deref(),
            Some("exact")
        );
        assert_eq!(
            outcome(&c, r#"{"care": "43 days"}"#).as_deref(),
            Some("long")
        );
        // The source map points at the comparison that has the threshold.
        let first = &d.source_map.nodes[0];
        assert!(first.text.starts_with("care"), "{first:?}");
        assert_eq!(first.rule.as_deref(), Some("a"));
    }

    #[test]
    fn a_leaf_for_every_result_and_a_witness_for_every_leaf() {
        let c = compile_text(
            "fact kind: enum { a, b, c, d }\nfact urgent: bool\n\
             decision d (first) {\n outcomes { x, y }\n\
             rule one when kind in { a, b } and urgent then x\n\
             rule two when kind == c then y\n}\n",
        );
        let leaves = &c.artifact.document().decisions[0].leaves;
        assert_eq!(
            leaves,
            &vec![
                LeafDoc::Rule {
                    outcome: "x".into(),
                    rule: "one".into()
                },
                LeafDoc::Rule {
                    outcome: "y".into(),
                    rule: "two".into()
                },
                LeafDoc::NoRule,
            ]
        );
        for leaf in 0..leaves.len() as u32 {
            let w = c.witness(0, leaf).unwrap();
            assert!(!w.is_empty());
        }
        // Whatever `urgent` is, kind `c` decides.
        assert_eq!(outcome(&c, r#"{"kind": "c"}"#).as_deref(), Some("y"));
        assert_eq!(outcome(&c, r#"{"kind": "a"}"#), None);
    }
}
