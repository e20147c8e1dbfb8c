//! Stage 4, compile: each policy of a checked program becomes a decision artifact
//! ([`crate::artifact`], format `medpol.decision/2`).
//!
//! [`compile`] is the stage's one public function. For each decision it reuses the analysis's
//! domain refinement (every fact's domain cut into the classes its conditions tell apart) and
//! builds one multi-terminal reduced diagram whose terminals are the decision's results: the
//! rule that decides (by the hit policy), `otherwise`, no rule, or, under `unique` and `any`,
//! a conflict between rules. Each multi-valued test is then written as binary tests a reader
//! can follow: a threshold comparison in the fact's own unit, an enum value set, a bool, a code
//! set membership, or "has any / all codes of a class of codes". Every leaf gets a witness
//! patient made of the analysis's class representatives.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use crate::analyse::domain::Region;
use crate::analyse::mdd::{Exhausted, FALSE, Mdd, Node, TRUE, Terminal};
use crate::analyse::space::{self, Space, Var};
use crate::artifact::{
    self, Artifact, CodeSetDoc, Cond, DecisionDoc, Document, FactSchema, FactType, LeafDoc, Loc,
    NodeDoc, PolicyMeta, Quantifier, RecordSchema, Ref, SourceMap, TableRef, Test,
};
use crate::codeset::{CodeCache, CodeSets, table_in_force};
use crate::diagnostic::Diagnostic;
use crate::ir::*;
use crate::source::{Sources, Span};
use crate::tables::TableSet;
use crate::types::{Date, EnumId, Num, Type, Unit};

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
    /// same leaf); values are the analysis's class representatives (related facts: values
    /// solved together). `None` for a leaf only an evaluation with related facts missing
    /// reaches (their differences are then split on their own, see `evaluate`): no patient
    /// with all of them given does; and for a leaf that only counts no list can have reach (a
    /// rule asking for more items meeting a condition than items, say): the artifact keeps
    /// it, for its evaluator splits an unknown count over all its values.
    pub witnesses: Vec<Vec<Option<BTreeMap<FactId, Value>>>>,
}

impl Compiled {
    /// A patient reaching leaf `leaf` of the artifact's decision `decision` (by index), when
    /// one can.
    pub fn witness(&self, decision: usize, leaf: u32) -> Option<&BTreeMap<FactId, Value>> {
        self.witnesses.get(decision)?.get(leaf as usize)?.as_ref()
    }
}

/// A decision too large to compile, or a state medpol's own guarantees rule out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    pub decision: String,
    pub message: String,
}

impl CompileError {
    /// A bug in medpol met while compiling `decision` (`what` says what was found): said as the
    /// internal-error diagnostic (`E0901`) says it, and debug builds stop at it.
    fn internal(decision: &str, what: &str) -> CompileError {
        let diagnostic = Diagnostic::internal(what);
        CompileError {
            decision: decision.to_string(),
            message: format!("{} [{}]", diagnostic.message, diagnostic.code.as_str()),
        }
    }
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
    Rule(RuleId),
    /// Under `any`, while the diagram is built: rules that hold and agree (in order), the
    /// first of them apart, as there always is one.
    Agree(RuleId, Vec<RuleId>),
    Otherwise,
    NoRule,
    /// The rules that hold (in order; at least two).
    Conflict(Vec<RuleId>),
}

/// The results of one decision's diagram: its terminals are `Terminal::Result(i)`, `i` the
/// result's place in `list`, made and read only here.
#[derive(Default)]
struct Results {
    list: Vec<Res>,
}

impl Results {
    /// The terminal of a result.
    fn terminal(&mut self, mdd: &mut Mdd, r: Res) -> Node {
        let at = match self.list.iter().position(|x| *x == r) {
            Some(i) => i,
            None => {
                self.list.push(r);
                self.list.len() - 1
            }
        };
        mdd.terminal(Terminal::Result(at as u32))
    }

    /// The result a terminal of the decision's diagram stands for.
    fn of(&self, mdd: &Mdd, n: Node) -> Result<&Res, Stop> {
        match mdd.terminal_value(n) {
            Some(Terminal::Result(i)) => self
                .list
                .get(i as usize)
                .ok_or_else(|| Stop::Internal(format!("result {i} of a diagram is not recorded"))),
            other => Err(Stop::Internal(format!(
                "the diagram of results ends in {other:?}"
            ))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum ITest {
    IsTrue,
    Compare {
        strict: bool,
        value: Num,
    },
    EnumIn(EnumId, Vec<u32>),
    CodeIn(CodeSetId),
    Has {
        all: bool,
        inside: Vec<CodeSetId>,
        not_in: Vec<CodeSetId>,
    },
    /// `fact - right` (in their base unit, or calendar months) is at least (above, when
    /// strict) `value`.
    Difference {
        right: FactId,
        calendar: bool,
        strict: bool,
        value: Num,
    },
    /// A count of a list (the node's fact): the count's key (its condition is in
    /// [`IDecision::filters`]) and the sets the condition reads.
    Count {
        key: String,
        strict: bool,
        value: Num,
        sets: Vec<CodeSetId>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum IRef {
    /// In creation order.
    Node(u32),
    /// Index into the decision's leaves.
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
struct IDecision<'p> {
    decision: &'p Decision,
    nodes: Vec<INode>,
    root: IRef,
    /// In the artifact's order: rules in order, otherwise, no rule, conflicts.
    leaves: Vec<Res>,
    /// A patient for each leaf (see [`Compiled::witnesses`]).
    witnesses: Vec<Option<BTreeMap<FactId, Value>>>,
    /// Where each node's test comes from, parallel to `nodes`.
    sources: Vec<NodeSource>,
    /// The condition of each count the nodes test, by key.
    filters: HashMap<String, Option<Expr>>,
}

impl ITest {
    /// The code sets the test reads.
    fn sets(&self) -> impl Iterator<Item = CodeSetId> + '_ {
        let (a, b): (&[CodeSetId], &[CodeSetId]) = match self {
            ITest::CodeIn(s) => (std::slice::from_ref(s), &[]),
            ITest::Has { inside, not_in, .. } => (inside, not_in),
            ITest::Count { sets, .. } => (sets, &[]),
            _ => (&[], &[]),
        };
        a.iter().chain(b).copied()
    }
}

/// Keys numbered by their place in a sorted list made to hold every key asked about, so a
/// look-up has no miss to stand in for: a key left out would take the next number.
struct Numbering<K> {
    keys: Vec<K>,
    of: HashMap<K, u32>,
}

impl<K: Copy + Eq + std::hash::Hash> Numbering<K> {
    fn new(sorted: impl IntoIterator<Item = K>) -> Numbering<K> {
        let mut n = Numbering {
            keys: Vec::new(),
            of: HashMap::new(),
        };
        sorted.into_iter().for_each(|k| {
            n.number(k);
        });
        n
    }

    fn number(&mut self, k: K) -> u32 {
        let next = self.keys.len() as u32;
        *self.of.entry(k).or_insert_with(|| {
            self.keys.push(k);
            next
        })
    }
}

/// Per policy: files, and the code sets the tests read.
struct Policy<'a> {
    program: &'a Program,
    sources: &'a Sources,
    root: &'a Path,
    files: BTreeSet<crate::source::FileId>,
    sets: BTreeSet<CodeSetId>,
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
        sets: BTreeSet::new(),
    };
    let mut decisions = Vec::with_capacity(policy.decisions.len());
    for &d in &policy.decisions {
        let Some(decision) = program.decision(d) else {
            return Err(CompileError::internal(
                &policy.id,
                &format!(
                    "policy `{}` lists decision {} that is not in the model",
                    policy.id, d.0
                ),
            ));
        };
        let fail = |message: String| CompileError {
            decision: decision.name.clone(),
            message,
        };
        let compiled = compile_decision(&mut ctx, decision, code_sets, options.node_budget)
            .map_err(|e| match e {
                Stop::TooLarge(n) => fail(format!(
                    "it reads {n} facts and code classes (at most {} are compiled)",
                    space::MAX_VARIABLES
                )),
                Stop::Budget => fail(format!(
                    "its diagram needs more than {} nodes",
                    options.node_budget
                )),
                Stop::Internal(what) => CompileError::internal(&decision.name, &what),
            })?;
        decisions.push(compiled);
    }
    // The input schema: every fact the decisions read, in declaration order (the facts the
    // tests read are among them; taking them in too leaves no test without its fact).
    let mut facts: BTreeSet<FactId> = BTreeSet::new();
    for d in &decisions {
        for r in &d.decision.rules {
            facts.extend(program.facts_read(&r.condition));
        }
        for n in &d.nodes {
            facts.insert(n.fact);
            ctx.sets.extend(n.test.sets());
        }
    }
    // A derived value's inputs are read through its formula (transitively: a formula may
    // read another derived value, declared before it, so with a smaller id).
    let mut todo: Vec<FactId> = facts.iter().copied().collect();
    while let Some(f) = todo.pop() {
        if let Some(d) = program.fact(f).and_then(|x| x.derived.as_ref()) {
            for &input in d.formula.facts() {
                if facts.insert(input) {
                    todo.push(input);
                }
            }
        }
    }
    // The facts the policy's file declares and no decision reads are in the schema too,
    // marked unread: a patient's record may well hold them, and the interpreter ignores them.
    let read = facts.clone();
    facts.extend(
        program
            .facts
            .iter()
            .enumerate()
            .filter(|(_, f)| f.file == policy.file)
            .map(|(i, _)| FactId(i as u32)),
    );
    let mut fact_index = Numbering::new(facts);
    let mut set_index = Numbering::new(ctx.sets.clone());
    let mut decision_docs = Vec::with_capacity(decisions.len());
    let mut witnesses = Vec::with_capacity(decisions.len());
    for d in decisions {
        decision_docs.push(
            decision_doc(&mut ctx, &d, &mut fact_index, &mut set_index)
                .map_err(|what| CompileError::internal(&d.decision.name, &what))?,
        );
        witnesses.push(d.witnesses);
    }
    let lost = |what: String| CompileError::internal(&policy.id, &what);
    // The records of the list facts, in the order of their ids.
    let records: BTreeSet<crate::types::RecordId> = fact_index
        .keys
        .iter()
        .filter_map(|f| match program.fact(*f).map(|x| x.ty) {
            Some(Type::List(r)) => Some(r),
            _ => None,
        })
        .collect();
    let mut record_index = Numbering::new(records);
    let mut fact_docs = Vec::with_capacity(fact_index.keys.len());
    for &f in &fact_index.keys {
        let fact = program
            .fact(f)
            .ok_or_else(|| lost(format!("fact {} is not in the model", f.0)))?;
        let record = match fact.ty {
            Type::List(r) => Some(record_index.number(r)),
            _ => None,
        };
        // Facts are numbered in the order of their ids, so a formula's facts (declared before
        // it) are numbered already.
        let formula = fact.derived.as_ref().map(|d| {
            medpol_artifact::formula::FormulaDoc::new(
                &d.formula
                    .map(&|x: &FactId| fact_index.of.get(x).copied().unwrap_or(u32::MAX)),
            )
        });
        fact_docs.push(FactSchema {
            record,
            formula,
            ..fact_schema(&mut ctx, fact, read.contains(&f))
        });
    }
    let mut record_docs = Vec::with_capacity(record_index.keys.len());
    for &r in &record_index.keys {
        let record = program
            .record(r)
            .ok_or_else(|| lost(format!("record {} is not in the model", r.0)))?;
        let mut fields = Vec::with_capacity(record.fields.len());
        for f in &record.fields {
            let field = program
                .fact(*f)
                .ok_or_else(|| lost(format!("field {} is not in the model", f.0)))?;
            fields.push(fact_schema(&mut ctx, field, true));
        }
        record_docs.push(RecordSchema {
            name: record.name.clone(),
            description: record.description.clone(),
            fields,
            source: ctx.loc(record.name_span, None),
        });
    }
    let mut code_set_docs = Vec::with_capacity(set_index.keys.len());
    for &s in &set_index.keys {
        let set = program
            .code_set(s)
            .ok_or_else(|| lost(format!("code set {} is not in the model", s.0)))?;
        code_set_docs.push(CodeSetDoc {
            name: set.name.clone(),
            system: set.system.name().to_string(),
            description: set.description.clone(),
            codes: code_sets.members(s).to_vec(),
            source: ctx.loc(set.span, None),
        });
    }
    let mut systems: BTreeSet<crate::codes::System> = BTreeSet::new();
    // The facts' code systems, the fields' of the list facts' records too.
    let fields = record_index
        .keys
        .iter()
        .filter_map(|r| program.record(*r))
        .flat_map(|r| r.fields.iter().copied());
    for f in fact_index.keys.iter().copied().chain(fields) {
        if let Some(Type::Code(s) | Type::CodeSet(s)) = program.fact(f).map(|f| f.ty) {
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
    let meta = &policy.meta;
    let policy_source = ctx.loc(policy.span, None);
    // Files last: every location above has registered its file.
    let mut files = Numbering::new(ctx.files.iter().copied());
    let mut renumber = |loc: &mut Loc| loc.file = files.number(crate::source::FileId(loc.file));
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
        files: Vec::new(),
        tables: table_refs,
        facts: fact_docs,
        records: record_docs,
        code_sets: code_set_docs,
        decisions: decision_docs,
        hash: String::new(),
    };
    renumber(&mut doc.policy.source);
    doc.facts.iter_mut().for_each(|f| renumber(&mut f.source));
    for r in &mut doc.records {
        renumber(&mut r.source);
        r.fields.iter_mut().for_each(|f| renumber(&mut f.source));
    }
    doc.code_sets
        .iter_mut()
        .for_each(|s| renumber(&mut s.source));
    for d in &mut doc.decisions {
        renumber(&mut d.source);
        d.source_map.nodes.iter_mut().for_each(&mut renumber);
        d.source_map.leaves.iter_mut().for_each(&mut renumber);
    }
    doc.files = files.keys.iter().map(|f| ctx.file_name(*f)).collect();
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
    /// A state the construction rules out (a bug in medpol), in words.
    Internal(String),
}

impl From<Exhausted> for Stop {
    fn from(_: Exhausted) -> Stop {
        Stop::Budget
    }
}

fn compile_decision<'p>(
    ctx: &mut Policy<'_>,
    d: &'p Decision,
    code_sets: &CodeSets,
    budget: usize,
) -> Result<IDecision<'p>, Stop> {
    let program = ctx.program;
    let conditions: Vec<&Expr> = d.rules.iter().map(|r| &r.condition).collect();
    let mut space =
        space::build(program, &conditions, code_sets, budget).map_err(|t| Stop::TooLarge(t.0))?;
    let mut rules = Vec::with_capacity(d.rules.len());
    for (id, r) in d.rules_with_ids() {
        rules.push((id, space.condition(&r.condition)?));
    }
    let mut results = Results::default();
    let default = if d.otherwise.is_some() {
        Res::Otherwise
    } else {
        Res::NoRule
    };
    let mut root = results.terminal(&mut space.mdd, default.clone());
    match d.hit {
        HitPolicy::First => {
            for &(i, r) in rules.iter().rev() {
                let t = results.terminal(&mut space.mdd, Res::Rule(i));
                root = space.mdd.select(r, t, root)?;
            }
        }
        HitPolicy::Unique | HitPolicy::Any => {
            let outcome = |i: RuleId| d.rule(i).map(|r| r.outcome);
            for &(i, r) in &rules {
                let mut map = HashMap::new();
                for t in space.mdd.terminals_of(root) {
                    // A conflict names every rule that holds, those that agree too; so under
                    // `any` the rules that agree are kept until the end.
                    let after = match results.of(&space.mdd, t)?.clone() {
                        Res::Otherwise | Res::NoRule if d.hit == HitPolicy::Any => {
                            Res::Agree(i, Vec::new())
                        }
                        Res::Otherwise | Res::NoRule => Res::Rule(i),
                        Res::Agree(first, mut more) => {
                            more.push(i);
                            if outcome(first) == outcome(i) {
                                Res::Agree(first, more)
                            } else {
                                Res::Conflict([vec![first], more].concat())
                            }
                        }
                        Res::Rule(j) => Res::Conflict(vec![j, i]),
                        Res::Conflict(mut v) => {
                            v.push(i);
                            Res::Conflict(v)
                        }
                    };
                    let image = results.terminal(&mut space.mdd, after);
                    map.insert(t, image);
                }
                let matched = space.mdd.map_terminals(root, &map)?;
                root = space.mdd.select(r, matched, root)?;
            }
            // Rules that agree are one result, decided by the first of them.
            let mut map = HashMap::new();
            for t in space.mdd.terminals_of(root) {
                if let Res::Agree(first, _) = results.of(&space.mdd, t)? {
                    let image = results.terminal(&mut space.mdd, Res::Rule(*first));
                    map.insert(t, image);
                }
            }
            root = space.mdd.map_terminals(root, &map)?;
        }
    }
    // The leaves: the results the diagram reaches, in a stable order (rules in order,
    // otherwise, no rule, conflicts), each with a patient that reaches it.
    let mut reached: Vec<(Res, Node)> = Vec::new();
    for t in space.mdd.terminals_of(root) {
        reached.push((results.of(&space.mdd, t)?.clone(), t));
    }
    reached.sort();
    let mut refs: HashMap<Node, IRef> = HashMap::new();
    let mut leaves = Vec::with_capacity(reached.len());
    let mut witnesses = Vec::with_capacity(reached.len());
    // Patients have values of related facts that go together, and lists that exist (the
    // counts of one list bound each other): witnesses follow the diagram (so every fact
    // tested on the way has a value) where the combination has a patient.
    let related = space.feasible()?;
    let (lists, _) = crate::analyse::lists::feasible(&mut space)?;
    let feasible = space.mdd.and(related, lists)?;
    let patients = space.mdd.select(feasible, root, FALSE)?;
    for (i, (res, t)) in reached.into_iter().enumerate() {
        let patient = match example(&mut space, code_sets, root, patients, t)? {
            Some(patient) => patient,
            // Only combinations no patient has reach the leaf; or dates a calendar number of
            // months apart in their classes were not found near.
            None if feasible != TRUE || space.term_of.keys().any(|t| t.calendar) => None,
            None => return Err(Stop::Internal(format!("no patient reaches result {res:?}"))),
        };
        witnesses.push(patient);
        leaves.push(res);
        refs.insert(t, IRef::Leaf(i as u32));
    }
    let reference = |refs: &HashMap<Node, IRef>, n: Node| {
        refs.get(&n)
            .copied()
            .ok_or_else(|| Stop::Internal(format!("node {} is met before it is made", n.0)))
    };
    let mut builder = Builder::default();
    // Children before parents: each node's children are made when it is.
    for n in space.mdd.nodes_of(root) {
        let Some((var, children)) = space.mdd.test(n).map(|(v, c)| (v, c.to_vec())) else {
            // A terminal: a leaf, numbered above.
            continue;
        };
        let children = children
            .iter()
            .map(|c| reference(&refs, *c))
            .collect::<Result<Vec<IRef>, Stop>>()?;
        let r = builder.var_tests(ctx, &space, var, &children)?;
        refs.insert(n, r);
    }
    let root = reference(&refs, root)?;
    let sources = builder
        .nodes
        .iter()
        .map(|n| node_source(&space, d, n))
        .collect();
    let filters = space
        .terms
        .iter()
        .map(|t| (t.key.clone(), t.filter.clone()))
        .collect();
    Ok(IDecision {
        decision: d,
        nodes: builder.nodes,
        root,
        leaves,
        witnesses,
        sources,
        filters,
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
    ) -> Result<IRef, Stop> {
        let child = |i: usize| {
            children
                .get(i)
                .copied()
                .ok_or_else(|| Stop::Internal(format!("variable {var} has no value {i}")))
        };
        let lost = |what: &str| Stop::Internal(format!("{what} of variable {var} is missing"));
        Ok(match space.vars.get(var as usize) {
            Some(Var::Bool(f)) => self.node(*f, ITest::IsTrue, child(1)?, child(0)?),
            Some(Var::Enum(f, e)) => {
                // One `in` test per distinct child, the last child taking what is left.
                let mut targets: Vec<(IRef, Vec<u32>)> = Vec::new();
                for (v, c) in children.iter().enumerate() {
                    match targets.iter_mut().find(|(t, _)| t == c) {
                        Some((_, values)) => values.push(v as u32),
                        None => targets.push((*c, vec![v as u32])),
                    }
                }
                let Some((last, _)) = targets.pop() else {
                    return Err(lost("every value"));
                };
                let mut at = last;
                for (target, values) in targets.into_iter().rev() {
                    at = self.node(*f, ITest::EnumIn(*e, values), target, at);
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
                let compare = |strict, value| ITest::Compare { strict, value };
                self.numeric(*f, &dom.regions, &runs, &compare)?
            }
            Some(Var::Count(t, dom)) => {
                let term = space.terms.get(*t).ok_or_else(|| lost("the count"))?;
                let mut sets: Vec<CodeSetId> = Vec::new();
                for e in term.filter.iter().flat_map(|f| f.walk()) {
                    if let ExprKind::CodeIn { set, .. } = e.kind
                        && !sets.contains(&set)
                    {
                        sets.push(set);
                    }
                }
                let mut runs: Vec<(usize, IRef)> = Vec::new();
                for (r, c) in children.iter().enumerate() {
                    if runs.last().is_none_or(|(_, last)| last != c) {
                        runs.push((r, *c));
                    }
                }
                let count = |strict, value| ITest::Count {
                    key: term.key.clone(),
                    strict,
                    value,
                    sets: sets.clone(),
                };
                self.numeric(term.list, &dom.regions, &runs, &count)?
            }
            Some(Var::Code(f, _)) => {
                let classes = space.codes.get(f).ok_or_else(|| lost("the code classes"))?;
                let all: Vec<usize> = (0..classes.classes.len()).collect();
                for s in &classes.sets {
                    ctx.sets.insert(*s);
                }
                self.code_split(*f, classes, &all, 0, children)?
            }
            Some(Var::ClassCount {
                fact,
                class,
                states,
                ..
            }) => {
                let inside_of = space
                    .codes
                    .get(fact)
                    .and_then(|classes| classes.classes.get(*class))
                    .map(|c| c.inside.clone())
                    .ok_or_else(|| lost("the code class"))?;
                let classes = space
                    .codes
                    .get(fact)
                    .ok_or_else(|| lost("the code classes"))?;
                let (mut inside, mut not_in) = (Vec::new(), Vec::new());
                for (s, i) in classes.sets.iter().zip(inside_of) {
                    ctx.sets.insert(*s);
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
                    self.node(*fact, all, child(2)?, child(1)?)
                } else {
                    child(1)?
                };
                let any = ITest::Has {
                    all: false,
                    inside,
                    not_in,
                };
                self.node(*fact, any, some, child(0)?)
            }
            Some(Var::Term {
                left,
                right,
                calendar,
                domain,
            }) => {
                let mut runs: Vec<(usize, IRef)> = Vec::new();
                for (r, c) in children.iter().enumerate() {
                    if runs.last().is_none_or(|(_, last)| last != c) {
                        runs.push((r, *c));
                    }
                }
                let difference = |strict, value| ITest::Difference {
                    right: *right,
                    calendar: *calendar,
                    strict,
                    value,
                };
                self.numeric(*left, &domain.regions, &runs, &difference)?
            }
            None => return Err(lost("the meaning")),
        })
    }

    /// A balanced tree of threshold tests over runs of regions (at most one level per
    /// doubling of the runs).
    /// `test` makes the node's test of a threshold: of the fact, a count of it, or the
    /// difference of it and another.
    fn numeric(
        &mut self,
        fact: FactId,
        regions: &[Region],
        runs: &[(usize, IRef)],
        test: &dyn Fn(bool, Num) -> ITest,
    ) -> Result<IRef, Stop> {
        Ok(match runs {
            [] => return Err(Stop::Internal("a numeric test has no region".to_string())),
            [(_, only)] => *only,
            _ => {
                let mid = runs.len() / 2;
                let (low, high) = runs.split_at(mid);
                let start = high.first().map_or(0, |(r, _)| *r);
                let at = match regions.get(start) {
                    Some(Region::Point(v)) => test(false, *v),
                    Some(Region::Between(Some(v), _)) => test(true, *v),
                    // A run starts at an unbounded region only when it is the first run.
                    _ => return self.numeric(fact, regions, low, test),
                };
                let then = self.numeric(fact, regions, high, test)?;
                let otherwise = self.numeric(fact, regions, low, test)?;
                self.node(fact, at, then, otherwise)
            }
        })
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
    ) -> Result<IRef, Stop> {
        let targets = subset
            .iter()
            .map(|&c| {
                children
                    .get(c)
                    .copied()
                    .ok_or_else(|| Stop::Internal(format!("code class {c} has no child")))
            })
            .collect::<Result<Vec<IRef>, Stop>>()?;
        let Some(&first) = targets.first() else {
            return Err(Stop::Internal("a code test has no class".to_string()));
        };
        if targets.iter().all(|t| *t == first) {
            return Ok(first);
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
            let then = self.code_split(fact, classes, &yes, s + 1, children)?;
            let otherwise = self.code_split(fact, classes, &no, s + 1, children)?;
            return Ok(self.node(fact, ITest::CodeIn(set), then, otherwise));
        }
        Ok(first)
    }
}

/// How many combinations of counts no list has the search for one leaf's example patient
/// rules out before it gives up.
const EXAMPLE_TRIES: usize = 64;

/// An example patient of the leaf `t`: `None` when no assignment of `patients` reaches it,
/// `Some(None)` when those tried give no patient. Lists whose conditions read facts of the
/// patient are left free by the analysis (`lists::feasible`), so an assignment may give their
/// counts classes no list has for the values the example gives those facts; such a
/// combination is ruled out and the search goes on, since another path to the same leaf may
/// have counts some list has.
fn example(
    space: &mut Space<'_>,
    code_sets: &CodeSets,
    root: Node,
    patients: Node,
    t: Node,
) -> Result<Option<Option<BTreeMap<FactId, Value>>>, Stop> {
    let mut candidates = patients;
    let mut found = None;
    for _ in 0..EXAMPLE_TRIES {
        let Some(values) = space.mdd.witness_to(candidates, |n| n == t) else {
            return Ok(found);
        };
        found = Some(None);
        if let Some(mut w) = witness(space, code_sets, &values) {
            // Values solved for related facts are checked against the diagram: calendar
            // months are solved by a search that may miss.
            if reaches(space, root, &values, &w) != Some(t) {
                return Ok(Some(None));
            }
            // A derived value is given as the facts it is computed from; a rounded input is
            // as good as the exact one when the derived value it gives still leads here.
            let program = space.program;
            let before = w.clone();
            let same = |f, _, b| {
                let mut p = before.clone();
                p.insert(f, Value::Num(b));
                reaches(space, root, &values, &p) == Some(t)
            };
            return Ok(Some(
                crate::ir::solve_derived(program, &mut w, &same).then_some(w),
            ));
        }
        // The counts and the facts their conditions read (class 0 where the path leaves
        // them free, as `witness` gives them) of this assignment, ruled out.
        let outer: BTreeSet<u32> = space
            .terms
            .iter()
            .filter_map(|t| t.filter.as_ref())
            .flat_map(|f| space.program.outer_facts(f))
            .filter_map(|f| space.var_of.get(&f).copied())
            .collect();
        let mut cube = TRUE;
        for (v, var) in space.vars.iter().enumerate() {
            let value = values.get(v).copied().flatten();
            let class = match var {
                Var::Count(..) => value,
                _ if outer.contains(&(v as u32)) => Some(value.unwrap_or(0)),
                _ => None,
            };
            if let Some(class) = class {
                let lit = space.mdd.literal(v as u32, |x| x == class)?;
                cube = space.mdd.and(cube, lit)?;
            }
        }
        let others = space.mdd.not(cube)?;
        candidates = space.mdd.select(others, candidates, FALSE)?;
    }
    Ok(found)
}

/// The patient of a witness assignment: one value per fact tested on the way; `None` when no
/// list has the counts it gives.
pub fn witness(
    space: &Space<'_>,
    code_sets: &CodeSets,
    values: &[Option<u32>],
) -> Option<BTreeMap<FactId, Value>> {
    let mut out = BTreeMap::new();
    // A related fact is given when any variable of its group is tested: the group's values
    // are solved together.
    let given = |v: &u32| values.get(*v as usize).copied().flatten().is_some();
    let tested_with = |f: FactId| {
        space
            .groups
            .iter()
            .any(|g| g.facts.contains(&f) && g.vars.iter().any(given))
            || space
                .term_of
                .iter()
                .any(|(t, v)| t.calendar && (t.left == f || t.right == f) && given(v))
    };
    // A fact a count's condition reads has the value its lists were made for, even where the
    // path leaves it free (see `lists::witness_list`).
    let outer: BTreeSet<FactId> = space
        .terms
        .iter()
        .filter_map(|t| t.filter.as_ref())
        .flat_map(|f| space.program.outer_facts(f))
        .collect();
    for &f in &space.facts {
        let Some(&first) = space.var_of.get(&f) else {
            continue;
        };
        let value = |v: u32| {
            values
                .get(v as usize)
                .copied()
                .flatten()
                .or_else(|| outer.contains(&f).then_some(0))
        };
        let v = match space.vars.get(first as usize) {
            Some(Var::Bool(_)) => value(first).map(|x| Value::Bool(x == 1)),
            Some(Var::Enum(..)) => value(first).map(Value::Enum),
            // A related fact's value is solved with the others of its group (`None`: no
            // patient has the assignment, in a group left approximate).
            Some(Var::Numeric(..)) if value(first).is_some() || tested_with(f) => {
                Some(Value::Num(space.number(f, values)?))
            }
            Some(Var::Numeric(..)) => None,
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
            Some(Var::Count(..)) => Some(Value::List(crate::analyse::lists::witness_list(
                space, f, values,
            )?)),
            Some(Var::Term { .. }) | None => None,
        };
        if let Some(v) = v {
            out.insert(f, v);
        }
    }
    Some(out)
}

/// The terminal a witness patient reaches in the diagram: numbers and differences by the
/// patient's values, other variables by the assignment it was made from; `None` when a value
/// it needs is missing.
fn reaches(
    space: &Space<'_>,
    root: Node,
    values: &[Option<u32>],
    patient: &BTreeMap<FactId, Value>,
) -> Option<Node> {
    let number = |f: &FactId| match patient.get(f) {
        Some(Value::Num(n)) => Some((*n, space.program.fact(*f)?.ty)),
        _ => None,
    };
    let class = |d: &crate::analyse::domain::NumericDomain, x: Num| {
        d.regions.iter().position(|r| match r {
            Region::Point(p) => x == *p,
            Region::Between(a, b) => a.is_none_or(|a| x > a) && b.is_none_or(|b| x < b),
        })
    };
    let mut at = root;
    while let Some((var, children)) = space.mdd.test(at) {
        let value = match space.vars.get(var as usize)? {
            Var::Numeric(f, d) => class(d, number(f)?.0)?,
            Var::Term {
                left,
                right,
                calendar,
                domain,
            } => {
                let (l, r) = (number(left)?, number(right)?);
                let difference = if *calendar {
                    let (l, r) = (Date::from_num(l.0)?, Date::from_num(r.0)?);
                    Num::from(r.months_until(l))
                } else {
                    l.0.checked_mul(base_scale(l.1))?
                        .checked_sub(r.0.checked_mul(base_scale(r.1))?)?
                };
                class(domain, difference)?
            }
            _ => values.get(var as usize).copied().flatten()? as usize,
        };
        at = *children.get(value)?;
    }
    Some(at)
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
                let first = without_comment(text.lines().next().unwrap_or("")).trim_end();
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
            agrees: None,
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
}

/// A line of policy text up to a comment that starts on it (`//` or `/*` outside a string):
/// the source map quotes conditions, not the remarks beside them.
fn without_comment(line: &str) -> &str {
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            '/' if !in_string && matches!(line.get(i + 1..i + 2), Some("/" | "*")) => {
                return line.get(..i).unwrap_or(line);
            }
            _ => {}
        }
    }
    line
}

fn fact_schema(ctx: &mut Policy<'_>, fact: &Fact, read: bool) -> FactSchema {
    let (ty, unit, values, system) = match fact.ty {
        Type::Bool | Type::Error => (FactType::Bool, None, Vec::new(), None),
        Type::Int => (FactType::Int, None, Vec::new(), None),
        Type::Decimal => (FactType::Decimal, None, Vec::new(), None),
        Type::Quantity(Unit::Percent) => (FactType::Percent, None, Vec::new(), None),
        Type::Quantity(u @ Unit::Ucum(_)) => (
            FactType::Quantity,
            Some(u.name().to_string()),
            Vec::new(),
            None,
        ),
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
        Type::Date => (FactType::Date, None, Vec::new(), None),
        Type::CodeSet(s) => (
            FactType::Codes,
            None,
            Vec::new(),
            Some(s.name().to_string()),
        ),
        Type::List(_) => (FactType::List, None, Vec::new(), None),
    };
    FactSchema {
        name: fact.name.clone(),
        ty,
        unit,
        values,
        system,
        // A list's record is numbered by the caller.
        record: None,
        description: fact.description.clone(),
        range: fact.range.map(|(min, max)| medpol_artifact::Range {
            min: min.to_string(),
            max: max.to_string(),
        }),
        documentation: fact.documented,
        read,
        // A derived value's formula is numbered by the caller.
        formula: None,
        source: ctx.loc(fact.name_span, None),
    }
}

/// The artifact form of one decision.
fn decision_doc(
    ctx: &mut Policy<'_>,
    d: &IDecision<'_>,
    fact_index: &mut Numbering<FactId>,
    set_index: &mut Numbering<CodeSetId>,
) -> Result<DecisionDoc, String> {
    let program = ctx.program;
    let decision = d.decision;
    // Nodes were made children first: reversed, every node comes before its children.
    let count = d.nodes.len() as u32;
    let map_ref = |r: IRef| match r {
        IRef::Node(n) => Ref::Node(count - 1 - n),
        IRef::Leaf(l) => Ref::Leaf(l),
    };
    let mut nodes = Vec::with_capacity(d.nodes.len());
    let mut node_locs = Vec::with_capacity(d.nodes.len());
    for (n, source) in d.nodes.iter().zip(&d.sources).rev() {
        let mut set = |s: &CodeSetId| set_index.number(*s);
        let test = match &n.test {
            ITest::IsTrue => Test::IsTrue,
            ITest::Compare { strict, value } => Test::Compare {
                op: if *strict { ">" } else { ">=" }.to_string(),
                // A date's threshold as the date it is.
                value: crate::analyse::space::quantity_text(
                    *value,
                    program
                        .fact(n.fact)
                        .map(|f| f.ty)
                        .filter(|t| *t == Type::Date),
                ),
            },
            ITest::EnumIn(e, values) => Test::EnumIn {
                values: values
                    .iter()
                    .map(|v| program.enum_value(*e, *v).to_string())
                    .collect(),
            },
            ITest::CodeIn(s) => Test::CodeIn { set: set(s) },
            ITest::Difference {
                right,
                calendar,
                strict,
                value,
            } => Test::Difference {
                other: fact_index.number(*right),
                op: if *strict { ">" } else { ">=" }.to_string(),
                value: value.to_string(),
                unit: match calendar {
                    true => Some(Unit::Month.name().to_string()),
                    false => difference_unit(program.fact(n.fact).map(|f| f.ty)),
                },
            },
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
                inside: inside.iter().map(&mut set).collect(),
                not_in: not_in.iter().map(&mut set).collect(),
            },
            ITest::Count {
                key, strict, value, ..
            } => {
                let fields = match program.fact(n.fact).map(|f| f.ty) {
                    Some(Type::List(r)) => program.record(r).map(|r| r.fields.as_slice()),
                    _ => None,
                }
                .ok_or_else(|| format!("a count of {}, which is not a list", n.fact.0))?;
                let mut outer = |f: FactId| fact_index.number(f);
                let filter = match d.filters.get(key) {
                    Some(Some(e)) => Some(
                        cond(program, fields, e, &mut set, &mut outer)
                            .ok_or_else(|| format!("the condition of a count of {}", n.fact.0))?,
                    ),
                    Some(None) => None,
                    None => return Err(format!("the count {key} has no condition")),
                };
                Test::Count {
                    op: if *strict { ">" } else { ">=" }.to_string(),
                    value: value.to_string(),
                    filter,
                }
            }
        };
        node_locs.push(Loc {
            agrees: source.agrees,
            ..ctx.loc(source.span, source.rule.as_deref())
        });
        nodes.push(NodeDoc {
            fact: fact_index.number(n.fact),
            test,
            then: map_ref(n.then),
            otherwise: map_ref(n.otherwise),
        });
    }
    let rule_name = |i: RuleId| {
        decision
            .rule(i)
            .map_or_else(|| lost_name("a rule"), |r| r.name.as_str())
    };
    let by_rule = |i: RuleId| {
        let r = decision.rule(i);
        (
            LeafDoc::Rule {
                outcome: decision.outcome_name(r.and_then(|r| r.outcome)).to_string(),
                rule: rule_name(i).to_string(),
            },
            r.map_or(decision.name_span, |r| r.span),
            Some(rule_name(i).to_string()),
        )
    };
    let mut leaves = Vec::with_capacity(d.leaves.len());
    let mut leaf_locs = Vec::with_capacity(d.leaves.len());
    for res in &d.leaves {
        let (leaf, span, rule) = match res {
            // None is left in a diagram (each became its first rule); the same leaf if it were.
            Res::Rule(i) | Res::Agree(i, _) => by_rule(*i),
            Res::Otherwise => (
                LeafDoc::Otherwise {
                    outcome: decision
                        .outcome_name(decision.otherwise.as_ref().and_then(|o| o.outcome))
                        .to_string(),
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
                    .map(|i| decision.outcome_name(decision.rule(*i).and_then(|r| r.outcome)))
                    .map(str::to_string)
                    .collect();
                outcomes.dedup();
                let first = rules.first().and_then(|i| decision.rule(*i));
                (
                    LeafDoc::Conflict {
                        rules: rules.iter().map(|i| rule_name(*i).to_string()).collect(),
                        outcomes,
                    },
                    first.map_or(decision.name_span, |r| r.name_span),
                    first.map(|r| r.name.clone()),
                )
            }
        };
        leaves.push(leaf);
        leaf_locs.push(ctx.loc(span, rule.as_deref()));
    }
    Ok(DecisionDoc {
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
    })
}

/// The artifact form of a count's condition over a record's fields; `None` when it reads
/// something that is not one of them (the checker rules that out). Recursion follows the
/// source's nesting, which the parser bounds.
fn cond(
    program: &Program,
    fields: &[FactId],
    e: &Expr,
    set: &mut dyn FnMut(&CodeSetId) -> u32,
    fact: &mut dyn FnMut(FactId) -> u32,
) -> Option<Cond> {
    let field = |f: &FactId| fields.iter().position(|x| x == f).map(|i| i as u32);
    let all = |es: &[Expr],
               set: &mut dyn FnMut(&CodeSetId) -> u32,
               fact: &mut dyn FnMut(FactId) -> u32| {
        es.iter()
            .map(|x| cond(program, fields, x, set, fact))
            .collect::<Option<Vec<_>>>()
    };
    Some(match &e.kind {
        ExprKind::Const(value) => Cond::Const { value: *value },
        ExprKind::Fact(f) => Cond::IsTrue { field: field(f)? },
        ExprKind::Not(inner) => Cond::Not {
            not: Box::new(cond(program, fields, inner, set, fact)?),
        },
        ExprKind::And(es) => Cond::And {
            all: all(es, set, fact)?,
        },
        ExprKind::Or(es) => Cond::Or {
            any: all(es, set, fact)?,
        },
        ExprKind::Compare { fact: f, op, value } => Cond::Compare {
            field: field(f)?,
            op: op.as_str().to_string(),
            // A date's value as the date it is, as in a node's test.
            value: crate::types::quantity_text(
                *value,
                program.fact(*f).map(|x| x.ty).filter(|t| *t == Type::Date),
            ),
        },
        ExprKind::EnumIn { fact: f, values } => {
            let Type::Enum(en) = program.fact(*f)?.ty else {
                return None;
            };
            Cond::EnumIn {
                field: field(f)?,
                values: values
                    .iter()
                    .map(|v| program.enum_value(en, *v).to_string())
                    .collect(),
            }
        }
        ExprKind::CodeIn { fact: f, set: s } => Cond::CodeIn {
            field: field(f)?,
            set: set(s),
        },
        ExprKind::Window {
            field: f,
            reference,
            amount,
            months,
        } => Cond::Window {
            field: field(f)?,
            before: fact(*reference),
            amount: *amount,
            unit: if *months { "months" } else { "days" }.to_string(),
        },
        ExprKind::FieldIs {
            field: f,
            op,
            fact: x,
        } => Cond::FieldIs {
            field: field(f)?,
            op: op.as_str().to_string(),
            fact: fact(*x),
        },
        _ => return None,
    })
}

/// The unit a difference of two facts is counted in, in an artifact: days for dates, the
/// smallest unit of a duration's family, the unit of factor 1 of a measurement's dimension
/// (`g` for masses); none for numbers and percentages.
fn difference_unit(ty: Option<Type>) -> Option<String> {
    match crate::ir::difference_type(ty?) {
        Type::Quantity(Unit::Percent) => None,
        Type::Quantity(u) => Some(u.name().to_string()),
        _ => None,
    }
}

/// Where a node's test comes from, and how the author's words there read it.
struct NodeSource {
    span: Span,
    rule: Option<String>,
    /// Whether the condition there holds exactly when the test does, or when it does not.
    agrees: Option<bool>,
}

/// Where a node's test comes from: the first rule that reads its fact, and in it the
/// condition (through definitions too) that holds exactly when the test does or when it does
/// not; else the first that says the most about this test (the same threshold, enum values or
/// set); else the first that reads the fact.
fn node_source(space: &Space<'_>, decision: &Decision, node: &INode) -> NodeSource {
    let mut exact = None;
    let mut fallback = None;
    // `procedure not in S`, `kind != x`: a test written negated is a `not` over the test, both
    // with the text of the whole; the text holds when the test inside does not.
    let mut written_negated = std::collections::HashSet::new();
    for rule in &decision.rules {
        for e in space.program.walk(&[&rule.condition]) {
            if let ExprKind::Not(inner) = &e.kind
                && inner.span == e.span
            {
                written_negated.insert(e.span);
            }
            let (fact, same) = match (&e.kind, &node.test) {
                (
                    ExprKind::Relation(r),
                    ITest::Difference {
                        right,
                        calendar,
                        value,
                        ..
                    },
                ) if r.right == *right && r.calendar == *calendar => (r.left, r.value == *value),
                (ExprKind::Relation(_), _) | (_, ITest::Difference { .. }) => continue,
                (ExprKind::Fact(f), ITest::IsTrue) => (*f, true),
                (ExprKind::Compare { fact, value, .. }, ITest::Compare { value: v, .. }) => {
                    (*fact, value == v)
                }
                (ExprKind::EnumIn { fact, .. }, _) => (*fact, true),
                (ExprKind::CodeIn { fact, set }, ITest::CodeIn(s)) => (*fact, set == s),
                (ExprKind::Has { fact, set, .. }, ITest::Has { inside, .. }) => {
                    (*fact, inside.contains(set))
                }
                (
                    ExprKind::ListCount {
                        list,
                        filter,
                        value,
                        ..
                    },
                    ITest::Count { key, value: v, .. },
                ) if count_key(*list, filter.as_deref()) == *key => (*list, value == v),
                _ => continue,
            };
            if fact != node.fact {
                continue;
            }
            let source = NodeSource {
                span: e.span,
                rule: Some(rule.name.clone()),
                agrees: agreement(space, node, e).map(|a| a != written_negated.contains(&e.span)),
            };
            if source.agrees.is_some() {
                return source;
            }
            if same {
                exact.get_or_insert(source);
            } else {
                fallback.get_or_insert(source);
            }
        }
    }
    exact.or(fallback).unwrap_or(NodeSource {
        span: decision.name_span,
        rule: None,
        agrees: None,
    })
}

/// Whether condition `e` holds for exactly the values of the node's fact that pass its test
/// (`Some(true)`), for exactly those that fail it (`Some(false)`), or neither (`None`), over
/// the classes of values the decision tells apart. A test of one class of a set of codes is
/// never the whole of a condition on the set.
fn agreement(space: &Space<'_>, node: &INode, e: &Expr) -> Option<bool> {
    let var = match node.test {
        ITest::Difference {
            right, calendar, ..
        } => *space.term_of.get(&Term {
            left: node.fact,
            right,
            calendar,
        })?,
        _ => *space.var_of.get(&node.fact)?,
    };
    let var = space.vars.get(var as usize)?;
    let samples: &[Num] = match var {
        Var::Numeric(_, d) | Var::Term { domain: d, .. } => &d.samples,
        _ => &[],
    };
    let size = match var {
        Var::Bool(_) => 2,
        Var::Enum(_, e) => space.program.enum_type(*e)?.values.len(),
        Var::Numeric(_, d) | Var::Term { domain: d, .. } => d.samples.len(),
        Var::Code(_, n) => *n,
        Var::ClassCount { .. } | Var::Count(..) => return None,
    };
    let test: Vec<bool> = match &node.test {
        ITest::IsTrue => vec![false, true],
        ITest::Compare { strict, value } | ITest::Difference { strict, value, .. } => samples
            .iter()
            .map(|s| if *strict { s > value } else { s >= value })
            .collect(),
        ITest::EnumIn(_, values) => (0..size as u32).map(|v| values.contains(&v)).collect(),
        ITest::CodeIn(set) => space.class_membership(node.fact, *set),
        ITest::Has { .. } | ITest::Count { .. } => return None,
    };
    let holds: Vec<bool> = match &e.kind {
        ExprKind::Fact(_) => vec![false, true],
        ExprKind::Compare { op, value, .. } | ExprKind::Relation(Relation { op, value, .. }) => {
            samples
                .iter()
                .map(|s| crate::analyse::domain::holds(*s, *op, *value))
                .collect()
        }
        ExprKind::EnumIn { values, .. } => (0..size as u32).map(|v| values.contains(&v)).collect(),
        ExprKind::CodeIn { set, .. } => space.class_membership(node.fact, *set),
        _ => return None,
    };
    if test.len() != size || holds.len() != size {
        return None;
    }
    if test == holds {
        Some(true)
    } else if test.iter().zip(&holds).all(|(t, h)| t != h) {
        Some(false)
    } else {
        None
    }
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
    fn the_source_map_quotes_conditions_in_the_authors_words_and_which_way_they_read() {
        let c = compile_text(
            "fact product: enum { hmo, ppo, medicare }\n\
             decision d (first) {\n outcomes { lcd, plan }\n\
             rule medicare when product == medicare then lcd // the LCD applies\n\
             rule other when product in { hmo, ppo } then plan\n}\n",
        );
        let d = &c.artifact.document().decisions[0];
        // The leaf's rule without the comment beside it.
        let leaf = &d.source_map.leaves[0];
        assert_eq!(leaf.text, "rule medicare when product == medicare then lcd");
        // One test of `product`, quoted where the author wrote it or its opposite.
        let node = &d.source_map.nodes[0];
        let Test::EnumIn { values } = &d.nodes[0].test else {
            panic!("{:?}", d.nodes[0].test)
        };
        let medicare_test = values == &vec!["medicare".to_string()];
        assert_eq!(node.text, "product == medicare");
        assert_eq!(node.agrees, Some(medicare_test), "{values:?}");
        assert_eq!(
            without_comment(r#"a "// not" b /* c */"#),
            r#"a "// not" b "#
        );
    }

    #[test]
    fn a_test_written_negated_reads_the_other_way() {
        let c = compile_text(
            "fact procedure: code<cpt>\nfact product: enum { hmo, ppo, medicare }\n\
             define other_code = procedure not in cpt { 22510 }\n\
             decision d (first) {\n outcomes { lcd, plan, none }\n\
             rule other when other_code then none\n\
             rule medicare when product != hmo then lcd\n\
             otherwise plan\n}\n",
        );
        let d = &c.artifact.document().decisions[0];
        for (node, source) in d.nodes.iter().zip(&d.source_map.nodes) {
            // The text is the test's opposite: `not in` holds for a code outside the set, and
            // `!=` for the values but `hmo`, whichever way the test is compiled.
            let (text, agrees) = match &node.test {
                Test::CodeIn { .. } => ("procedure not in cpt { 22510 }", false),
                Test::EnumIn { values } => ("product != hmo", values != &vec!["hmo".to_string()]),
                other => panic!("{other:?}"),
            };
            assert_eq!(source.text, text);
            assert_eq!(source.agrees, Some(agrees), "{text}: {:?}", node.test);
        }
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
