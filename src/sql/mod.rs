//! The SQL back end: a decision artifact as SQL that decides every row of a facts table inside
//! a database engine (DuckDB, PostgreSQL, Spark SQL), with the artifact's meaning exactly,
//! missing facts (NULL) included (`docs/sql.md`).
//!
//! A row's facts are read into one symbol per variable of each decision (the class of values
//! its tests tell apart, or unknown), and each decision's [`Machine`] is run on them: a chain
//! of lookups in constant arrays, one per group of variables, for the result, and for a
//! pending result a few chains that run the needed diagrams of several variables together and
//! say, a bit per variable, which unknown ones the result depends on. The machine does at build
//! time what the evaluator does for a missing fact at run time, so SQL never has to follow both
//! branches of a test.
//!
//! Numbers are compared exactly: thresholds are exact decimals, or fractions compared by
//! multiplying out; durations are stored in days (days and weeks) or months (months and
//! years). A fact's tests read NULL as unknown everywhere: a compound test (a window, the
//! months between two dates) is guarded so that a missing operand never decides it.

use std::collections::BTreeMap;
use std::fmt::Write;

use medpol_artifact::machine::{Answer, Levelled, Machine, Transitions, Variable, When};
use medpol_artifact::num::{Num, Unit};
use medpol_artifact::{
    Artifact, Cond, DecisionDoc, Document, FactSchema, FactType, LeafDoc, Quantifier, Test,
    parse_num,
};

/// The engine the SQL is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    DuckDb,
    Postgres,
    Spark,
}

impl Dialect {
    pub fn name(self) -> &'static str {
        match self {
            Dialect::DuckDb => "duckdb",
            Dialect::Postgres => "postgres",
            Dialect::Spark => "spark",
        }
    }
}

/// One policy's SQL.
#[derive(Debug, Clone)]
pub struct Sql {
    /// The statements, each ending with `;` at the end of a line.
    pub text: String,
    /// The facts table the decisions read: one row per patient or claim.
    pub facts_table: String,
    /// The view with one row of results per row of the facts table.
    pub decisions_view: String,
}

/// Why an artifact was not compiled to SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlError(pub String);

impl std::fmt::Display for SqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How many variables each step of the query reads on Spark, whose code generator fails on a
/// deeply nested expression; DuckDB and PostgreSQL take each machine in one step (every step
/// costs a pass over the rows).
const SPARK_CHUNK: usize = 8;

/// How many combinations of symbols (unknown included) one lookup of a machine reads at most:
/// consecutive variables are read together, their symbols as one key, so that a chain has a
/// lookup per group rather than per variable (each lookup costs a few passes of arithmetic
/// over the rows). Spark reads one variable per lookup (see [`SPARK_CHUNK`]).
fn key_limit(dialect: Dialect) -> u32 {
    match dialect {
        Dialect::Spark => 1,
        _ => KEY_LIMIT,
    }
}

const KEY_LIMIT: u32 = 27;

/// A decision's machine as lookups over groups of its variables.
struct Plan {
    machine: Machine,
    groups: Vec<Group>,
    result: Lookups,
    /// The needed diagrams of the variables a pending result can need, run a few together.
    needs: Vec<Needs>,
}

/// Consecutive variables read by one lookup, the first the most significant in the key.
struct Group {
    vars: std::ops::Range<usize>,
    /// Each variable's symbols, unknown included.
    radices: Vec<u32>,
    /// How many keys: the product of the radices.
    size: u32,
}

/// A chain of lookups: per group it reads, in order, a table indexed by the state and the
/// group's key. An entry is what the next lookup adds to its key (the next state times the
/// next group's size, plus one); the last table's entries are the answers.
struct Lookups {
    tables: Vec<(usize, Vec<u32>)>,
}

/// Several variables' needed diagrams run as one machine, whose answer has bit `b` set when
/// `vars[b]` is unknown and the result depends on it.
struct Needs {
    vars: Vec<usize>,
    lookups: Lookups,
}

/// The most states a machine run from several diagrams may have before one group (each state
/// a row of its table): past it, the diagrams are run in more machines.
const PRODUCT_STATES: usize = 24;

/// The most diagrams one machine of needed facts runs: its answer's bits stay within a 32-bit
/// integer.
const PRODUCT_BITS: usize = 30;

impl Plan {
    fn new(machine: Machine, limit: u32) -> Result<Plan, SqlError> {
        let mut groups: Vec<Group> = Vec::new();
        for (j, var) in machine.vars.iter().enumerate() {
            let radix = var.symbols.len() as u32 + 1;
            match groups.last_mut() {
                Some(g) if g.size.saturating_mul(radix) <= limit => {
                    g.vars.end = j + 1;
                    g.radices.push(radix);
                    g.size *= radix;
                }
                _ => groups.push(Group {
                    vars: j..j + 1,
                    radices: vec![radix],
                    size: radix,
                }),
            }
        }
        let result =
            Lookups::product(&[(&machine.result.steps, None)], &groups, usize::MAX, |s| {
                s.first().map_or(0, |(state, _)| *state)
            })?
            .ok_or_else(|| SqlError("a machine too large for its lookups".into()))?;
        // The variables whose facts a pending result can need, in order; as many in one
        // machine as keep its tables small.
        let wanted: Vec<usize> = machine
            .needed
            .iter()
            .enumerate()
            .filter(|(_, d)| d.answers.contains(&true))
            .map(|(j, _)| j)
            .collect();
        let mut needs: Vec<Needs> = Vec::new();
        let mut rest = wanted.as_slice();
        while let Some(first) = rest.first() {
            let mut best = Needs::new(&machine, &groups, &[*first], usize::MAX)?
                .ok_or_else(|| SqlError("a machine too large for its lookups".into()))?;
            let mut taken = 1;
            while let Some(more) = rest.get(..=taken).filter(|m| m.len() <= PRODUCT_BITS) {
                match Needs::new(&machine, &groups, more, PRODUCT_STATES)? {
                    Some(n) => {
                        best = n;
                        taken += 1;
                    }
                    None => break,
                }
            }
            needs.push(best);
            rest = rest.get(taken..).unwrap_or_default();
        }
        Ok(Plan {
            machine,
            groups,
            result,
            needs,
        })
    }
}

impl Needs {
    fn new(
        machine: &Machine,
        groups: &[Group],
        vars: &[usize],
        states: usize,
    ) -> Result<Option<Needs>, SqlError> {
        let diagrams: Vec<&Levelled<bool>> = vars
            .iter()
            .map(|j| {
                machine
                    .needed
                    .get(*j)
                    .ok_or_else(|| SqlError("a needed diagram of none".into()))
            })
            .collect::<Result<_, _>>()?;
        let parts: Vec<(&[Transitions], Option<usize>)> = diagrams
            .iter()
            .zip(vars)
            .map(|(d, j)| (d.steps.as_slice(), Some(*j)))
            .collect();
        let lookups = Lookups::product(&parts, groups, states, |ends| {
            ends.iter()
                .zip(&diagrams)
                .enumerate()
                .filter(|(_, ((state, unknown), d))| {
                    *unknown && d.answers.get(*state as usize) == Some(&true)
                })
                .fold(0, |mask, (b, _)| mask | 1 << b)
        })?;
        Ok(lookups.map(|lookups| Needs {
            vars: vars.to_vec(),
            lookups,
        }))
    }
}

impl Lookups {
    /// Diagrams (their steps) run side by side over the groups, each with the variable whose
    /// unknown value it notes (if any), as one chain whose answers `answer` gives from each
    /// diagram's last state and whether its variable was unknown. The states before each group
    /// are only those that give different answers; `None` when there are more than `limit`.
    fn product(
        parts: &[(&[Transitions], Option<usize>)],
        groups: &[Group],
        limit: usize,
        answer: impl Fn(&[(u32, bool)]) -> u32,
    ) -> Result<Option<Lookups>, SqlError> {
        let broken = || SqlError("a machine's step reads past its table".into());
        let group_of = |var: usize| {
            groups
                .iter()
                .position(|g| g.vars.contains(&var))
                .ok_or_else(broken)
        };
        // The groups read, in order: those of the diagrams' steps and of the noted variables.
        let mut read = Vec::new();
        for (steps, var) in parts {
            for step in steps.iter() {
                read.push(group_of(step.var as usize)?);
            }
            if let Some(v) = var {
                read.push(group_of(*v)?);
            }
        }
        read.sort_unstable();
        read.dedup();
        // Forwards: the tuples of states (with the unknowns noted) before each group, and each
        // group's table of which tuple follows.
        type Tuple = Vec<(u32, bool)>;
        let start: Tuple = vec![(0, false); parts.len()];
        let mut before: Vec<Tuple> = vec![start];
        let mut tables: Vec<Vec<usize>> = Vec::with_capacity(read.len());
        for g in &read {
            let group = groups.get(*g).ok_or_else(broken)?;
            let mut after: Vec<Tuple> = Vec::new();
            let mut index: std::collections::HashMap<Tuple, usize> = Default::default();
            let mut table = Vec::with_capacity(before.len() * group.size as usize);
            for tuple in &before {
                for key in 0..group.size {
                    // The key's symbols, the first variable the most significant.
                    let mut symbols = vec![0u32; group.radices.len()];
                    let mut rest = key;
                    for (s, radix) in symbols.iter_mut().zip(&group.radices).rev() {
                        *s = rest % radix;
                        rest /= radix;
                    }
                    let symbol = |var: usize| {
                        symbols
                            .get(var - group.vars.start)
                            .copied()
                            .ok_or_else(broken)
                    };
                    let mut next = tuple.clone();
                    for ((steps, var), (state, unknown)) in parts.iter().zip(next.iter_mut()) {
                        for step in steps
                            .iter()
                            .filter(|s| group.vars.contains(&(s.var as usize)))
                        {
                            *state = *step
                                .next
                                .get(
                                    (*state * (step.symbols + 1) + symbol(step.var as usize)?)
                                        as usize,
                                )
                                .ok_or_else(broken)?;
                        }
                        if let Some(v) = var.filter(|v| group.vars.contains(v)) {
                            let radix =
                                group.radices.get(v - group.vars.start).ok_or_else(broken)?;
                            *unknown = symbol(v)? == radix - 1;
                        }
                    }
                    let n = index.len();
                    let i = *index.entry(next.clone()).or_insert_with(|| {
                        after.push(next);
                        n
                    });
                    table.push(i);
                }
            }
            // Before merging, tuples that answer alike are still apart; far more of them than
            // the limit will not merge down to it, and would only cost time.
            if after.len() > limit.saturating_mul(64) {
                return Ok(None);
            }
            tables.push(table);
            before = after;
        }
        // Backwards: each tuple as its answer, then each table's rows merged where equal.
        let mut class: Vec<u32> = before.iter().map(|t| answer(t)).collect();
        let mut out: Vec<(usize, Vec<u32>)> = Vec::with_capacity(read.len());
        let mut next_size: Option<u32> = None;
        for (g, table) in read.iter().zip(&tables).rev() {
            let size = groups.get(*g).ok_or_else(broken)?.size as usize;
            let mut rows: Vec<Vec<u32>> = Vec::new();
            let mut row_class: std::collections::HashMap<Vec<u32>, u32> = Default::default();
            let mut classes = Vec::with_capacity(table.len() / size.max(1));
            for row in table.chunks(size.max(1)) {
                let row: Vec<u32> = row
                    .iter()
                    .map(|i| class.get(*i).copied().ok_or_else(broken))
                    .collect::<Result<_, _>>()?;
                let n = row_class.len() as u32;
                let c = *row_class.entry(row.clone()).or_insert_with(|| {
                    rows.push(row);
                    n
                });
                classes.push(c);
            }
            if rows.len() > limit {
                return Ok(None);
            }
            let entries = rows
                .iter()
                .flatten()
                .map(|c| match next_size {
                    Some(s) => c * s + 1,
                    None => *c,
                })
                .collect();
            out.push((*g, entries));
            next_size = Some(size as u32);
            class = classes;
        }
        out.reverse();
        Ok(Some(Lookups { tables: out }))
    }
}

/// The name an item of a list goes by in the conditions on it.
const ITEM: &str = "medpol_item";

/// The key column of the facts table and of the decisions view.
pub const KEY: &str = "id";

/// Writes the SQL of one artifact: the facts table (created when missing), the code lookup
/// table, and the decisions view over the facts table.
pub fn generate(artifact: &Artifact, dialect: Dialect) -> Result<Sql, SqlError> {
    let doc = artifact.document();
    let prefix = table_prefix(&doc.policy.id);
    let g = Gen {
        d: dialect,
        doc,
        prefix: prefix.clone(),
        counts: Default::default(),
        masks: Default::default(),
    };
    if let Some(f) = doc.facts.iter().find(|f| f.name == KEY) {
        return Err(SqlError(format!(
            "fact `{}` has the name of the facts table's key column",
            f.name
        )));
    }
    if let Some(f) = doc.facts.iter().find(|f| f.formula.is_some()) {
        return Err(SqlError(format!(
            "fact `{}` is a derived value, which the SQL back end does not compile",
            f.name
        )));
    }
    let mut decisions = Vec::with_capacity(artifact.decisions().len());
    for (i, d) in artifact.decisions().iter().enumerate() {
        let machine = d
            .machine()
            .map_err(|e| SqlError(format!("decision `{}`: {e}", d.name())))?;
        let symbols = machine
            .vars
            .iter()
            .map(|v| g.symbol(d.document(), v))
            .collect::<Result<Vec<_>, _>>()?;
        let plan = Plan::new(machine, key_limit(dialect))?;
        decisions.push((i, d.document(), plan, symbols));
    }

    let facts_table = format!("{prefix}_facts");
    let view = format!("{prefix}_decisions");
    let mut out = String::new();
    let _ = writeln!(
        out,
        "-- {} ({}), version {}: written by medpol for {}.\n-- The facts table, one row per patient or claim, and the decisions view (docs/sql.md).",
        one_line(&doc.policy.title),
        one_line(&doc.policy.id),
        one_line(&doc.policy.version),
        dialect.name()
    );
    if dialect == Dialect::Spark {
        // Whole-stage code generation puts every step of the decisions view into one Java
        // method, which for a large policy exceeds the JVM's 64 KB: Spark logs the failure and
        // falls back, after spending longer than the query. Without it each expression is
        // still compiled.
        out.push_str("SET spark.sql.codegen.wholeStage = false;\n");
    }
    out.push_str(&g.facts_ddl(&facts_table));

    // Each decision's symbols, then its result state, then the answers.
    let q = |s: &str| g.d.ident(s);
    let mut selects = vec![format!("{}.*", q("f"))];
    for (i, _, _, symbols) in &decisions {
        for (j, s) in symbols.iter().enumerate() {
            selects.push(format!("{s} AS {}", q(&format!("d{i}_v{j}"))));
        }
    }
    let mut ctes = Vec::new();
    // The counts first, so that a symbol's tests read each one as a column.
    let counts = g.counts.borrow().clone();
    let masks = g.masks.borrow();
    let source = if counts.is_empty() && masks.is_empty() {
        q(&facts_table)
    } else {
        let mut select = vec![format!("{}.*", q("f"))];
        select.extend(counts.iter().map(|(e, c)| format!("{e} AS {}", q(c))));
        for (k, mask) in masks.iter().enumerate() {
            // Each code with the bits of the classes it is in.
            let mut bits: BTreeMap<&str, u32> = BTreeMap::new();
            for (b, class) in mask.classes.iter().enumerate() {
                for code in class {
                    *bits.entry(code.as_str()).or_default() |= 1 << b;
                }
            }
            let entries: Vec<(String, u32)> =
                bits.iter().map(|(c, b)| (g.d.string(c), *b)).collect();
            select.push(format!(
                "{} AS {}",
                g.d.class_mask(&mask.column, &entries),
                q(&format!("b{k}"))
            ));
        }
        ctes.push((
            "k".to_string(),
            format!(
                "SELECT\n    {}\n  FROM {} AS {}",
                select.join(",\n    "),
                q(&facts_table),
                q("f")
            ),
        ));
        q("k")
    };
    ctes.push((
        "v".to_string(),
        format!(
            "SELECT\n    {}\n  FROM {source} AS {}",
            selects.join(",\n    "),
            q("f")
        ),
    ));
    // The machines' lookups, a few groups of variables per step of the query: an expression
    // nests no deeper than that (Spark's code generator fails on a deep one), and each state is
    // a column computed once per row. The results first; then, for a pending result only, each
    // unknown variable's chain that says whether its facts are needed.
    let mut last = "v".to_string();
    let mut states: BTreeMap<(usize, usize), String> = BTreeMap::new();
    let mut level = 0usize;
    let mut stage = |ctes: &mut Vec<(String, String)>, last: &mut String, columns: Vec<String>| {
        if columns.is_empty() {
            return;
        }
        level += 1;
        let name = format!("s{level}");
        let mut select = vec![format!("{}.*", q(last))];
        select.extend(columns);
        ctes.push((
            name.clone(),
            format!("SELECT\n    {}\n  FROM {}", select.join(",\n    "), q(last)),
        ));
        *last = name;
    };
    // Each group's key, one column per group of several variables.
    let mut keys_columns = Vec::new();
    let mut keys: Vec<Vec<String>> = Vec::new();
    for (i, _, plan, _) in &decisions {
        let mut mine = Vec::new();
        for (k, group) in plan.groups.iter().enumerate() {
            let symbol = |j: usize| q(&format!("d{i}_v{j}"));
            if group.vars.len() == 1 {
                mine.push(symbol(group.vars.start));
                continue;
            }
            let mut weight = 1u32;
            let mut parts = Vec::new();
            for (j, radix) in group.vars.clone().zip(&group.radices).rev() {
                parts.push(match weight {
                    1 => symbol(j),
                    w => format!("{} * {w}", symbol(j)),
                });
                weight *= radix;
            }
            parts.reverse();
            let column = format!("d{i}_g{k}");
            keys_columns.push(format!("{} AS {}", parts.join(" + "), q(&column)));
            mine.push(q(&column));
        }
        keys.push(mine);
    }
    if !keys_columns.is_empty() {
        let mut select = vec![format!("{}.*", q("v"))];
        select.extend(keys_columns);
        ctes.push((
            "g".to_string(),
            format!("SELECT\n    {}\n  FROM {}", select.join(",\n    "), q("v")),
        ));
        last = "g".to_string();
    }
    let widest = decisions
        .iter()
        .map(|(_, _, p, _)| p.groups.len())
        .max()
        .unwrap_or(0);
    let chunk = match dialect {
        Dialect::Spark => SPARK_CHUNK,
        _ => widest.max(1),
    };
    for start in (0..widest).step_by(chunk) {
        let mut columns = Vec::new();
        for ((i, _, plan, _), keys) in decisions.iter().zip(&keys) {
            let key = (*i, 0);
            let from = states.get(&key).map(|c| q(c));
            if let Some(chain) = g.chain(&plan.result, start..start + chunk, from, keys) {
                let column = format!("d{i}_m0_{start}");
                columns.push(format!("{chain} AS {}", q(&column)));
                states.insert(key, column);
            }
        }
        stage(&mut ctes, &mut last, columns);
    }
    // Whether each result is pending, once per row: the needed chains ask it each.
    let pending_columns: Vec<String> = decisions
        .iter()
        .map(|(i, _, plan, _)| {
            format!(
                "{} AS {}",
                g.pending(*i, &plan.machine, &states),
                q(&format!("d{i}_pending"))
            )
        })
        .collect();
    stage(&mut ctes, &mut last, pending_columns);
    for start in (0..widest).step_by(chunk) {
        let mut columns = Vec::new();
        for ((i, _, plan, _), keys) in decisions.iter().zip(&keys) {
            let pending = q(&format!("d{i}_pending"));
            for (k, needs) in plan.needs.iter().enumerate() {
                let key = (*i, k + 1);
                let from = states.get(&key).map(|c| q(c));
                if let Some(chain) = g.chain(&needs.lookups, start..start + chunk, from, keys) {
                    let column = format!("d{i}_n{k}_{start}");
                    columns.push(format!(
                        "CASE WHEN {pending} THEN {chain} END AS {}",
                        q(&column)
                    ));
                    states.insert(key, column);
                }
            }
        }
        stage(&mut ctes, &mut last, columns);
    }
    let mut columns = vec![q(KEY)];
    for (i, doc_d, plan, _) in &decisions {
        columns.extend(g.answers(*i, doc_d, plan, &states)?);
    }
    // PostgreSQL would inline each step into the next, copying every symbol's expression into
    // each of its many uses; materialised, each is computed once per row.
    let fence = match dialect {
        Dialect::Postgres => " MATERIALIZED",
        _ => "",
    };
    let with: Vec<String> = ctes
        .iter()
        .map(|(name, body)| format!("{} AS{fence} (\n  {body}\n)", q(name)))
        .collect();
    let query = format!(
        "WITH {}\nSELECT\n  {}\nFROM {}",
        with.join(",\n"),
        columns.join(",\n  "),
        q(&last)
    );
    out.push_str(&g.d.create_view(&view, &query));
    Ok(Sql {
        text: out,
        facts_table,
        decisions_view: view,
    })
}

/// A policy id as the start of table names: lowercase letters, digits and `_`.
fn table_prefix(id: &str) -> String {
    let mut p: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if !p.starts_with(|c: char| c.is_ascii_lowercase()) {
        p.insert_str(0, "p_");
    }
    p
}

/// Text for a comment: one line, bounded.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect()
}

struct Gen<'a> {
    d: Dialect,
    doc: &'a Document,
    prefix: String,
    /// Counts (of a set's codes, of a list's items) the symbols read, each computed once per
    /// row in a step of its own: (expression, column).
    counts: std::cell::RefCell<Vec<(String, String)>>,
    /// The classes of codes `has any` tests, as bits of a mask per set-of-codes column, each
    /// mask computed once per row in the step of the counts (DuckDB only).
    masks: std::cell::RefCell<Vec<Mask>>,
}

/// Up to [`MASK_BITS`] classes of one set-of-codes column: each row's mask has the bit of
/// every class one of its codes is in.
struct Mask {
    column: String,
    classes: Vec<Vec<String>>,
}

/// The classes of one mask: its values stay within a 32-bit integer.
const MASK_BITS: usize = 30;

fn num(text: &str) -> Result<Num, SqlError> {
    parse_num(text).ok_or_else(|| SqlError(format!("`{}` is not an exact number", one_line(text))))
}

/// A comparison operator of the artifact in SQL.
fn sql_op(op: &str) -> Result<&'static str, SqlError> {
    Ok(match op {
        ">=" => ">=",
        ">" => ">",
        "<=" => "<=",
        "<" => "<",
        "==" => "=",
        "!=" => "<>",
        _ => return Err(SqlError(format!("unknown comparison `{}`", one_line(op)))),
    })
}

/// What one unit of a number fact is, counted in its column: durations are stored in days
/// (days, weeks) or months (months, years); everything else in its own unit.
fn storage_factor(f: &FactSchema) -> Num {
    match (f.ty, f.unit.as_deref().and_then(Unit::parse)) {
        (FactType::Duration, Some(Unit::Week)) => Num::from_int(7),
        (FactType::Duration, Some(Unit::Year)) => Num::from_int(12),
        _ => Num::from_int(1),
    }
}

/// The unit a number fact's column holds.
fn storage_unit(f: &FactSchema) -> Option<Unit> {
    let unit = f.unit.as_deref().and_then(Unit::parse)?;
    Some(match (f.ty, unit) {
        (FactType::Duration, Unit::Week) => Unit::Day,
        (FactType::Duration, Unit::Year) => Unit::Month,
        _ => unit,
    })
}

fn lcm(a: i128, b: i128) -> i128 {
    fn gcd(a: i128, b: i128) -> i128 {
        if b == 0 { a.abs() } else { gcd(b, a % b) }
    }
    if a == 0 || b == 0 {
        return a.max(b);
    }
    (a / gcd(a, b) * b).abs()
}

impl Gen<'_> {
    fn q(&self, s: &str) -> String {
        self.d.ident(s)
    }

    fn fact(&self, i: u32) -> Result<&FactSchema, SqlError> {
        self.doc
            .facts
            .get(i as usize)
            .ok_or_else(|| SqlError(format!("fact {i} of none")))
    }

    fn column(&self, i: u32) -> Result<String, SqlError> {
        Ok(format!("{}.{}", self.q("f"), self.q(&self.fact(i)?.name)))
    }

    /// `expr op value` exactly: a fraction is compared by multiplying it out.
    fn compare(&self, expr: &str, op: &str, value: Num) -> String {
        // An exact decimal is written as one; any other fraction is multiplied out.
        if value.to_string().contains('/') {
            format!(
                "{} * {} {op} {}",
                self.d.widen(expr),
                value.denom(),
                value.numer()
            )
        } else {
            format!("{expr} {op} {}", self.d.number(value))
        }
    }

    /// A variable's symbol for the row: its class of values, or one past the last when its
    /// value is unknown.
    fn symbol(&self, d: &DecisionDoc, var: &Variable) -> Result<String, SqlError> {
        let unknown = var.symbols.len();
        let node = |t: &u32| {
            d.nodes
                .get(*t as usize)
                .ok_or_else(|| SqlError(format!("decision `{}`: node {t} of none", d.name)))
        };
        let first = node(var.tests.first().unwrap_or(&0))?;
        if let Test::CodeIn { .. } = first.test {
            return self.code_symbol(d, var);
        }
        let predicates = var
            .tests
            .iter()
            .map(|t| {
                let n = node(t)?;
                self.predicate(n.fact, &n.test)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let Some(p0) = predicates.first() else {
            return Ok(unknown.to_string());
        };
        let mut out = format!("CASE WHEN ({p0}) IS NULL THEN {unknown}");
        for (i, symbol) in var.symbols.iter().enumerate() {
            let later = var.symbols.get(i + 1..).unwrap_or(&[]);
            if later.is_empty() {
                let _ = write!(out, " ELSE {i} END");
                break;
            }
            // Only the tests that tell this symbol from a later one.
            let parts: Vec<String> = predicates
                .iter()
                .enumerate()
                .filter(|(j, _)| later.iter().any(|s| s.get(*j) != symbol.get(*j)))
                .map(|(j, p)| match symbol.get(j) {
                    Some(true) => format!("({p})"),
                    _ => format!("NOT ({p})"),
                })
                .collect();
            let _ = write!(out, " WHEN {} THEN {i}", parts.join(" AND "));
        }
        Ok(out)
    }

    /// A single-code fact's symbol: its memberships of the sets tested, each symbol's codes
    /// listed (an engine tests a long list of constants with a hash set).
    fn code_symbol(&self, d: &DecisionDoc, var: &Variable) -> Result<String, SqlError> {
        let sets: Vec<u32> = var
            .tests
            .iter()
            .map(|t| match d.nodes.get(*t as usize).map(|n| &n.test) {
                Some(Test::CodeIn { set }) => Ok(*set),
                _ => Err(SqlError(format!(
                    "decision `{}`: a code's tests are not all of sets",
                    d.name
                ))),
            })
            .collect::<Result<_, _>>()?;
        let mut codes: BTreeMap<&str, Vec<bool>> = BTreeMap::new();
        for (j, s) in sets.iter().enumerate() {
            let set = self
                .doc
                .code_sets
                .get(*s as usize)
                .ok_or_else(|| SqlError(format!("code set {s} of none")))?;
            for c in &set.codes {
                let v = codes
                    .entry(c.as_str())
                    .or_insert_with(|| vec![false; sets.len()]);
                if let Some(slot) = v.get_mut(j) {
                    *slot = true;
                }
            }
        }
        let mut by_symbol: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        for (code, signature) in codes {
            let symbol = var
                .symbols
                .iter()
                .position(|s| *s == signature)
                .ok_or_else(|| SqlError(format!("code `{code}` has no class")))?;
            by_symbol
                .entry(symbol)
                .or_default()
                .push(self.d.string(code));
        }
        let col = self.column(var.fact)?;
        let unknown = var.symbols.len();
        // A code in none of the sets: the symbol of no membership (always among them).
        let none = var.symbols.iter().position(|s| s.iter().all(|b| !b));
        let mut out = format!("CASE WHEN {col} IS NULL THEN {unknown}");
        for (symbol, list) in &by_symbol {
            let _ = write!(out, " WHEN {col} IN ({}) THEN {symbol}", list.join(", "));
        }
        match none {
            Some(n) => {
                let _ = write!(out, " ELSE {n} END");
            }
            None => out.push_str(" END"),
        }
        Ok(out)
    }

    /// A test of a fact as a SQL condition: NULL exactly when the variable is unknown.
    fn predicate(&self, fact: u32, test: &Test) -> Result<String, SqlError> {
        let f = self.fact(fact)?.clone();
        let col = self.column(fact)?;
        Ok(match test {
            Test::IsTrue => col,
            Test::Compare { op, value } => {
                let op = sql_op(op)?;
                if f.ty == FactType::Date {
                    format!("{col} {op} {}", self.d.date(value))
                } else {
                    let v = num(value)?
                        .checked_mul(storage_factor(&f))
                        .ok_or_else(|| SqlError("a threshold overflows".into()))?;
                    self.compare(&col, op, v)
                }
            }
            Test::EnumIn { values } => {
                let list: Vec<String> = values.iter().map(|v| self.d.string(v)).collect();
                format!("{col} IN ({})", list.join(", "))
            }
            Test::CodeIn { .. } => {
                return Err(SqlError("a code test outside its variable".into()));
            }
            Test::Has {
                quantifier,
                inside,
                not_in,
            } => {
                // `has any` needs only whether one code is in the class, which an engine finds
                // without removing repeated codes first.
                let all = *quantifier == Quantifier::All;
                if !all && self.d == Dialect::DuckDb {
                    return self.class_bit(&col, inside, not_in);
                }
                let (count, size) = self.class_count(&col, inside, not_in, all)?;
                match all {
                    false => format!("{count} > 0"),
                    true => format!("{count} >= {size}"),
                }
            }
            Test::Difference {
                other,
                op,
                value,
                unit,
            } => {
                let op = sql_op(op)?;
                let g = self.fact(*other)?.clone();
                let other_col = self.column(*other)?;
                let unit = unit.as_deref().and_then(Unit::parse);
                let value = num(value)?;
                match (f.ty, g.ty, unit) {
                    (FactType::Date, FactType::Date, Some(Unit::Month)) => {
                        let months = self.d.months_between(&other_col, &col);
                        format!(
                            "CASE WHEN {col} IS NULL OR {other_col} IS NULL THEN NULL ELSE {} END",
                            self.compare(&format!("({months})"), op, value)
                        )
                    }
                    (FactType::Date, FactType::Date, _) => {
                        let days = self.d.days_between(&other_col, &col);
                        self.compare(&format!("({days})"), op, value)
                    }
                    _ => {
                        // Each fact counted in the difference's unit, from its column's unit.
                        let scale = |x: &FactSchema| match (storage_unit(x), unit) {
                            (Some(s), Some(u)) => s.exact_factor(u),
                            _ => Some(Num::from_int(1)),
                        };
                        let (Some(a), Some(b)) = (scale(&f), scale(&g)) else {
                            return Err(SqlError(format!(
                                "fact `{}` minus `{}` is not in one unit",
                                f.name, g.name
                            )));
                        };
                        let l = lcm(lcm(a.denom(), b.denom()), value.denom());
                        let times = |x: Num| x.checked_mul(Num::from_int(l));
                        let (Some(a), Some(b), Some(v)) = (times(a), times(b), times(value)) else {
                            return Err(SqlError("a difference overflows".into()));
                        };
                        format!(
                            "{} * {} - {} * {} {op} {}",
                            self.d.widen(&col),
                            self.d.number(a),
                            self.d.widen(&other_col),
                            self.d.number(b),
                            self.d.number(v)
                        )
                    }
                }
            }
            Test::Count { op, value, filter } => {
                let op = sql_op(op)?;
                let (met, unknown) = self.count_items(fact, filter.as_ref())?;
                format!(
                    "CASE WHEN {col} IS NULL THEN NULL WHEN {unknown} > 0 THEN NULL ELSE {met} END {op} {}",
                    self.d.number(num(value)?)
                )
            }
        })
    }

    /// The codes of a class: in every set of `inside`, in none of `not_in`.
    fn class_codes(&self, inside: &[u32], not_in: &[u32]) -> Result<Vec<String>, SqlError> {
        let member = |s: &u32, c: &String| {
            self.doc
                .code_sets
                .get(*s as usize)
                .is_some_and(|set| set.codes.binary_search(c).is_ok())
        };
        let first = inside
            .first()
            .and_then(|s| self.doc.code_sets.get(*s as usize))
            .ok_or_else(|| SqlError("a class of codes without its sets".into()))?;
        Ok(first
            .codes
            .iter()
            .filter(|c| inside.iter().all(|s| member(s, c)) && !not_in.iter().any(|s| member(s, c)))
            .cloned()
            .collect())
    }

    /// Whether one of a row's codes lies in a class, as a test of the class's bit in the
    /// column's mask: NULL when the column is.
    fn class_bit(&self, col: &str, inside: &[u32], not_in: &[u32]) -> Result<String, SqlError> {
        let codes = self.class_codes(inside, not_in)?;
        let mut masks = self.masks.borrow_mut();
        let found = masks.iter().enumerate().find_map(|(k, m)| {
            let b = m.classes.iter().position(|c| *c == codes);
            (m.column == col).then_some((k, b?))
        });
        let (k, b) = match found {
            Some(kb) => kb,
            None => {
                let k = match masks
                    .iter()
                    .position(|m| m.column == col && m.classes.len() < MASK_BITS)
                {
                    Some(k) => k,
                    None => {
                        masks.push(Mask {
                            column: col.to_string(),
                            classes: Vec::new(),
                        });
                        masks.len() - 1
                    }
                };
                let mask = masks
                    .get_mut(k)
                    .ok_or_else(|| SqlError("a mask of none".into()))?;
                mask.classes.push(codes);
                (k, mask.classes.len() - 1)
            }
        };
        Ok(format!(
            "({}.{} & {}) <> 0",
            self.q("f"),
            self.q(&format!("b{k}")),
            1u32 << b
        ))
    }

    /// How many of a row's codes lie in a class (an expression; repeated codes counted once
    /// when `distinct`, else as often as given), and the class's size.
    fn class_count(
        &self,
        col: &str,
        inside: &[u32],
        not_in: &[u32],
        distinct: bool,
    ) -> Result<(String, usize), SqlError> {
        let codes: Vec<String> = self
            .class_codes(inside, not_in)?
            .iter()
            .map(|c| self.d.string(c))
            .collect();
        let count = match codes.is_empty() {
            true => format!("CASE WHEN {col} IS NULL THEN NULL ELSE 0 END"),
            false => self.counted(format!(
                "CASE WHEN {col} IS NULL THEN NULL ELSE {} END",
                self.d.count_codes(col, &codes.join(", "), distinct)
            )),
        };
        Ok((count, codes.len()))
    }

    /// How many of a row's items meet a condition, and how many it is unknown for (a field it
    /// needs missing), as expressions; NULL when the list is.
    fn count_items(&self, fact: u32, filter: Option<&Cond>) -> Result<(String, String), SqlError> {
        let f = self.fact(fact)?;
        let record = f
            .record
            .ok_or_else(|| SqlError(format!("list `{}` without its record", f.name)))?;
        let col = self.column(fact)?;
        let cond = match filter {
            Some(c) => self.cond(c, record, ITEM)?,
            None => "TRUE".to_string(),
        };
        Ok((
            self.counted(self.d.count_items(&col, &cond)),
            self.counted(self.d.count_items(&col, &format!("({cond}) IS NULL"))),
        ))
    }

    /// A count as the column that holds it.
    fn counted(&self, expr: String) -> String {
        let mut counts = self.counts.borrow_mut();
        let name = match counts.iter().find(|(e, _)| *e == expr) {
            Some((_, c)) => c.clone(),
            None => {
                let c = format!("n{}", counts.len());
                counts.push((expr, c.clone()));
                c
            }
        };
        format!("{}.{}", self.q("f"), self.q(&name))
    }

    /// The lookups of one diagram in the groups of `range`, from the state `from` (none: the
    /// start), nested; `None` when it reads no group there.
    fn chain(
        &self,
        lookups: &Lookups,
        range: std::ops::Range<usize>,
        from: Option<String>,
        keys: &[String],
    ) -> Option<String> {
        let mut state = from;
        let mut any = false;
        for (group, table) in lookups.tables.iter().filter(|(g, _)| range.contains(g)) {
            any = true;
            let key = keys.get(*group)?;
            let index = match &state {
                None => format!("{key} + 1"),
                Some(s) => format!("{s} + {key}"),
            };
            state = Some(self.d.lookup(table, &index));
        }
        any.then_some(state).flatten()
    }

    /// The state a machine ends in: its last column, or 0 when it reads nothing.
    fn end_state(&self, states: &BTreeMap<(usize, usize), String>, key: (usize, usize)) -> String {
        states.get(&key).map_or("0".to_string(), |c| self.q(c))
    }

    /// Whether a decision's result is pending, from its result machine's last state.
    fn pending(
        &self,
        i: usize,
        machine: &Machine,
        states: &BTreeMap<(usize, usize), String>,
    ) -> String {
        let r = self.end_state(states, (i, 0));
        let pending: Vec<String> = machine
            .result
            .answers
            .iter()
            .enumerate()
            .filter(|(_, a)| **a == Answer::Pending)
            .map(|(j, _)| j.to_string())
            .collect();
        match (pending.len(), machine.result.answers.len()) {
            (0, _) => "FALSE".to_string(),
            (p, n) if p == n => "TRUE".to_string(),
            _ => format!("{r} IN ({})", pending.join(", ")),
        }
    }

    /// A decision's result columns: status, kind, outcome, rule, and the facts needed.
    fn answers(
        &self,
        i: usize,
        d: &DecisionDoc,
        plan: &Plan,
        states: &BTreeMap<(usize, usize), String>,
    ) -> Result<Vec<String>, SqlError> {
        let machine = &plan.machine;
        let r = self.end_state(states, (i, 0));
        let name = |what: &str| self.q(&format!("{}_{what}", d.name));
        let text = |s: Option<&str>| s.map_or("NULL".to_string(), |s| self.d.string(s));
        let mut status = Vec::new();
        let mut kind = Vec::new();
        let mut outcome = Vec::new();
        let mut rule = Vec::new();
        for a in &machine.result.answers {
            let leaf = |l: u32| {
                d.leaves
                    .get(l as usize)
                    .ok_or_else(|| SqlError(format!("decision `{}`: leaf {l} of none", d.name)))
            };
            let (s, k, o, r) = match a {
                Answer::Pending => ("pending", None, None, None),
                Answer::Leaf(l) | Answer::Same(l) => {
                    let single = matches!(a, Answer::Leaf(_));
                    match leaf(*l)? {
                        LeafDoc::Rule { outcome, rule } => (
                            "decided",
                            Some("rule"),
                            Some(outcome.as_str()),
                            single.then_some(rule.as_str()),
                        ),
                        LeafDoc::Otherwise { outcome } => {
                            ("decided", Some("otherwise"), Some(outcome.as_str()), None)
                        }
                        LeafDoc::NoRule => ("decided", Some("no_rule"), None, None),
                        LeafDoc::Conflict { .. } => ("decided", Some("conflict"), None, None),
                    }
                }
            };
            status.push(text(Some(s)));
            kind.push(text(k));
            outcome.push(text(o));
            rule.push(text(r));
        }
        let pick = |values: &[String]| -> String {
            match values {
                [only] => only.clone(),
                _ => {
                    let mut out = format!("CASE {r}");
                    for (j, v) in values.iter().enumerate() {
                        let _ = write!(out, " WHEN {j} THEN {v}");
                    }
                    out.push_str(" END");
                    out
                }
            }
        };
        let needed = if !machine.result.answers.contains(&Answer::Pending) {
            self.d.empty_text_array()
        } else {
            let is_pending = self.q(&format!("d{i}_pending"));
            // For each fact (in the artifact's order), when a pending result needs it.
            let mut when_fact: BTreeMap<u32, Vec<String>> = BTreeMap::new();
            for (k, needs) in plan.needs.iter().enumerate() {
                let mask = self.end_state(states, (i, k + 1));
                for (b, j) in needs.vars.iter().enumerate() {
                    let var = machine
                        .vars
                        .get(*j)
                        .ok_or_else(|| SqlError("a variable of none".into()))?;
                    // The bit is set when the variable is unknown and the result depends on it.
                    let depends = format!("({mask} & {}) <> 0", 1u32 << b);
                    for (fact, when) in &var.needs {
                        let mut parts = vec![depends.clone()];
                        if let Some(w) = self.when(when)? {
                            parts.push(w);
                        }
                        when_fact
                            .entry(*fact)
                            .or_default()
                            .push(format!("({})", parts.join(" AND ")));
                    }
                }
            }
            let items: Vec<String> = when_fact
                .iter()
                .map(|(f, conds)| {
                    Ok(format!(
                        "CASE WHEN {} THEN {} END",
                        conds.join(" OR "),
                        self.d.string(&self.fact(*f)?.name)
                    ))
                })
                .collect::<Result<_, SqlError>>()?;
            format!(
                "CASE WHEN {is_pending} THEN {} ELSE {} END",
                self.d.compact(&items),
                self.d.empty_text_array()
            )
        };
        Ok(vec![
            format!("{} AS {}", pick(&status), name("status")),
            format!("{} AS {}", pick(&kind), name("kind")),
            format!("{} AS {}", pick(&outcome), name("outcome")),
            format!("{} AS {}", pick(&rule), name("rule")),
            format!("{needed} AS {}", name("needed")),
        ])
    }

    /// A condition on missing facts; `None` for one that always holds.
    fn when(&self, w: &When) -> Result<Option<String>, SqlError> {
        let col = |f: &u32| -> Result<String, SqlError> { Ok(self.q(&self.fact(*f)?.name)) };
        Ok(match w {
            When::Always => None,
            When::Missing(f) => Some(format!("{} IS NULL", col(f)?)),
            When::NoneMissing(fs) => {
                let parts = fs
                    .iter()
                    .map(|f| Ok(format!("{} IS NOT NULL", col(f)?)))
                    .collect::<Result<Vec<_>, SqlError>>()?;
                (!parts.is_empty()).then(|| format!("({})", parts.join(" AND ")))
            }
            When::Any(ws) | When::All(ws) => {
                let mut parts = Vec::new();
                for x in ws {
                    match self.when(x)? {
                        Some(p) => parts.push(p),
                        // `Any` with a part that always holds always holds.
                        None if matches!(w, When::Any(_)) => return Ok(None),
                        None => {}
                    }
                }
                let joiner = if matches!(w, When::Any(_)) {
                    " OR "
                } else {
                    " AND "
                };
                match parts.len() {
                    0 if matches!(w, When::Any(_)) => Some("FALSE".to_string()),
                    0 => None,
                    _ => Some(format!("({})", parts.join(joiner))),
                }
            }
        })
    }

    /// The facts table: the key, then one column per fact the patient gives.
    fn facts_ddl(&self, table: &str) -> String {
        let mut types = String::new();
        // The key is unique: a row's codes and items are counted by it.
        let key = match self.d {
            Dialect::Spark => "NOT NULL",
            _ => "PRIMARY KEY",
        };
        let mut columns = vec![format!("{} {} {key}", self.q(KEY), self.d.text_type())];
        // A fact no decision reads changes no result: it gets no column (a record's fields are
        // listed among the facts so, and belong to their list's items).
        for f in self.doc.facts.iter().filter(|f| f.read) {
            let ty = match f.ty {
                FactType::List => {
                    let record = f.record.and_then(|r| self.doc.records.get(r as usize));
                    let fields: Vec<(String, String)> = record
                        .map(|r| {
                            r.fields
                                .iter()
                                .map(|x| (self.q(&x.name), self.scalar_type(x)))
                                .collect()
                        })
                        .unwrap_or_default();
                    let type_name = format!("{}_{}_item", self.prefix, f.name);
                    let (ddl, ty) = self.d.item_list(&self.q(&type_name), &fields);
                    types.push_str(&ddl);
                    ty
                }
                _ => self.scalar_type(f),
            };
            let check = match self.d {
                // Spark's tables take no CHECK constraints.
                Dialect::Spark => None,
                _ => self.check(f),
            };
            match check {
                Some(c) => columns.push(format!("{} {ty} CHECK ({c})", self.q(&f.name))),
                None => columns.push(format!("{} {ty}", self.q(&f.name))),
            }
        }
        let mut out = types;
        let _ = writeln!(
            out,
            "CREATE TABLE IF NOT EXISTS {} (\n  {}\n){};",
            self.q(table),
            columns.join(",\n  "),
            self.d.table_suffix()
        );
        out
    }

    /// What a value of the fact must be, as the facts reader checks it: one of an enum's
    /// values, within a declared range, not negative (durations, percentages, measurements
    /// other than angles), a percentage at most 100.
    fn check(&self, f: &FactSchema) -> Option<String> {
        let col = self.q(&f.name);
        let mut parts = Vec::new();
        if f.ty == FactType::Enum {
            let values: Vec<String> = f.values.iter().map(|v| self.d.string(v)).collect();
            parts.push(format!("{col} IN ({})", values.join(", ")));
        }
        let unit = f.unit.as_deref().and_then(Unit::parse);
        let nonnegative = match f.ty {
            FactType::Duration | FactType::Percent => true,
            FactType::Quantity => unit.is_some_and(Unit::nonnegative),
            _ => false,
        };
        if nonnegative {
            parts.push(format!("{col} >= 0"));
        }
        if f.ty == FactType::Percent {
            parts.push(format!("{col} <= 100"));
        }
        if let Some((lo, hi)) = f.range.as_ref().and_then(|r| r.bounds()) {
            let factor = storage_factor(f);
            if let (Some(lo), Some(hi)) = (lo.checked_mul(factor), hi.checked_mul(factor)) {
                parts.push(self.compare(&col, ">=", lo));
                parts.push(self.compare(&col, "<=", hi));
            }
        }
        (!parts.is_empty()).then(|| parts.join(" AND "))
    }

    fn scalar_type(&self, f: &FactSchema) -> String {
        match f.ty {
            FactType::Bool => "BOOLEAN".into(),
            FactType::Int => "BIGINT".into(),
            FactType::Decimal | FactType::Duration | FactType::Percent | FactType::Quantity => {
                "DECIMAL(18, 6)".into()
            }
            FactType::Enum | FactType::Code => self.d.text_type().into(),
            FactType::Codes => self.d.text_array_type(),
            FactType::Date => "DATE".into(),
            FactType::List => self.d.text_type().into(),
        }
    }

    /// A condition on one item, in SQL's three-valued logic, which is Kleene's as the
    /// evaluator's is; a test with a missing operand is unknown.
    fn cond(&self, c: &Cond, record: u32, item: &str) -> Result<String, SqlError> {
        let rec = self
            .doc
            .records
            .get(record as usize)
            .ok_or_else(|| SqlError(format!("record {record} of none")))?;
        let field = |i: &u32| -> Result<(&FactSchema, String), SqlError> {
            let f = rec
                .fields
                .get(*i as usize)
                .ok_or_else(|| SqlError(format!("field {i} of none")))?;
            Ok((f, self.d.field(item, &self.q(&f.name))))
        };
        let outer = |i: &u32| self.column(*i);
        Ok(match c {
            Cond::Const { value } => if *value { "TRUE" } else { "FALSE" }.to_string(),
            Cond::And { all } => {
                let parts = all
                    .iter()
                    .map(|x| self.cond(x, record, item))
                    .collect::<Result<Vec<_>, _>>()?;
                if parts.is_empty() {
                    "TRUE".into()
                } else {
                    format!("({})", parts.join(" AND "))
                }
            }
            Cond::Or { any } => {
                let parts = any
                    .iter()
                    .map(|x| self.cond(x, record, item))
                    .collect::<Result<Vec<_>, _>>()?;
                if parts.is_empty() {
                    "FALSE".into()
                } else {
                    format!("({})", parts.join(" OR "))
                }
            }
            Cond::Not { not } => format!("(NOT {})", self.cond(not, record, item)?),
            Cond::IsTrue { field: i } => field(i)?.1,
            Cond::Compare {
                field: i,
                op,
                value,
            } => {
                let (f, e) = field(i)?;
                let op = sql_op(op)?;
                if f.ty == FactType::Date {
                    format!("{e} {op} {}", self.d.date(value))
                } else {
                    let v = num(value)?
                        .checked_mul(storage_factor(f))
                        .ok_or_else(|| SqlError("a threshold overflows".into()))?;
                    format!("({})", self.compare(&e, op, v))
                }
            }
            Cond::EnumIn { field: i, values } => {
                let (_, e) = field(i)?;
                let list: Vec<String> = values.iter().map(|v| self.d.string(v)).collect();
                if list.is_empty() {
                    format!("CASE WHEN {e} IS NULL THEN NULL ELSE FALSE END")
                } else {
                    format!("{e} IN ({})", list.join(", "))
                }
            }
            Cond::CodeIn { field: i, set } => {
                let (_, e) = field(i)?;
                let codes = self
                    .doc
                    .code_sets
                    .get(*set as usize)
                    .map(|s| s.codes.iter().map(|c| self.d.string(c)).collect::<Vec<_>>())
                    .unwrap_or_default();
                if codes.is_empty() {
                    format!("CASE WHEN {e} IS NULL THEN NULL ELSE FALSE END")
                } else {
                    format!("{e} IN ({})", codes.join(", "))
                }
            }
            Cond::Window {
                field: i,
                before,
                amount,
                unit,
            } => {
                let (_, e) = field(i)?;
                let end = outer(before)?;
                let start = self.d.date_minus(&end, *amount, unit == "months");
                format!(
                    "CASE WHEN {e} IS NULL OR {end} IS NULL THEN NULL ELSE {e} >= {start} AND {e} <= {end} END"
                )
            }
            Cond::FieldIs { field: i, op, fact } => {
                let (_, e) = field(i)?;
                format!("{e} {} {}", sql_op(op)?, outer(fact)?)
            }
        })
    }
}

impl Dialect {
    fn ident(self, s: &str) -> String {
        match self {
            Dialect::Spark => format!("`{}`", s.replace('`', "``")),
            _ => format!("\"{}\"", s.replace('"', "\"\"")),
        }
    }

    fn string(self, s: &str) -> String {
        let s = s.replace('\'', "''");
        match self {
            // Spark reads backslashes in string literals as escapes.
            Dialect::Spark => format!("'{}'", s.replace('\\', "\\\\")),
            _ => format!("'{s}'"),
        }
    }

    fn number(self, n: Num) -> String {
        n.to_string()
    }

    /// A decimal column made wide enough to be multiplied: DuckDB keeps a product of
    /// `DECIMAL(18, 6)` at 18 digits and fails when it overflows them.
    fn widen(self, expr: &str) -> String {
        match self {
            Dialect::DuckDb => format!("CAST({expr} AS DECIMAL(38, 6))"),
            _ => expr.to_string(),
        }
    }

    fn date(self, text: &str) -> String {
        format!("DATE '{}'", text.replace('\'', ""))
    }

    fn text_type(self) -> &'static str {
        match self {
            Dialect::DuckDb => "VARCHAR",
            Dialect::Postgres => "TEXT",
            Dialect::Spark => "STRING",
        }
    }

    fn text_array_type(self) -> String {
        match self {
            Dialect::DuckDb => "VARCHAR[]".into(),
            Dialect::Postgres => "TEXT[]".into(),
            Dialect::Spark => "ARRAY<STRING>".into(),
        }
    }

    /// The type of a list of items, and what must be declared before it.
    fn item_list(self, type_name: &str, fields: &[(String, String)]) -> (String, String) {
        match self {
            Dialect::DuckDb => {
                let f: Vec<String> = fields.iter().map(|(n, t)| format!("{n} {t}")).collect();
                (String::new(), format!("STRUCT({})[]", f.join(", ")))
            }
            Dialect::Spark => {
                let f: Vec<String> = fields.iter().map(|(n, t)| format!("{n}: {t}")).collect();
                (String::new(), format!("ARRAY<STRUCT<{}>>", f.join(", ")))
            }
            Dialect::Postgres => {
                let f: Vec<String> = fields.iter().map(|(n, t)| format!("{n} {t}")).collect();
                (
                    format!(
                        "DO $$ BEGIN\n  CREATE TYPE {type_name} AS ({});\nEXCEPTION WHEN duplicate_object THEN NULL;\nEND $$;\n",
                        f.join(", ")
                    ),
                    format!("{type_name}[]"),
                )
            }
        }
    }

    fn table_suffix(self) -> &'static str {
        match self {
            Dialect::Spark => " USING parquet",
            _ => "",
        }
    }

    fn create_view(self, view: &str, query: &str) -> String {
        match self {
            Dialect::Postgres => format!(
                "DROP VIEW IF EXISTS {v};\nCREATE VIEW {v} AS\n{query};\n",
                v = self.ident(view)
            ),
            // A temporary view, as the lookup table it reads is one.
            Dialect::Spark => format!(
                "CREATE OR REPLACE TEMPORARY VIEW {} AS\n{query};\n",
                self.ident(view)
            ),
            Dialect::DuckDb => {
                format!("CREATE OR REPLACE VIEW {} AS\n{query};\n", self.ident(view))
            }
        }
    }

    /// Element `index` (from 1) of a constant array of whole numbers.
    fn lookup(self, values: &[u32], index: &str) -> String {
        let list: Vec<String> = values.iter().map(u32::to_string).collect();
        let list = list.join(",");
        match self {
            Dialect::DuckDb => format!("[{list}][{index}]"),
            Dialect::Postgres => format!("(ARRAY[{list}])[{index}]"),
            // `element_at` of Spark 4.3 gives a wrong element for a NULL index where
            // `try_element_at` gives NULL; the index must be an INT.
            Dialect::Spark => format!("try_element_at(array({list}), CAST({index} AS INT))"),
        }
    }

    /// An array of the texts that are not NULL.
    fn compact(self, items: &[String]) -> String {
        let list = items.join(", ");
        match self {
            Dialect::DuckDb => format!("[x FOR x IN [{list}] IF x IS NOT NULL]"),
            Dialect::Postgres => format!("array_remove(ARRAY[{list}]::TEXT[], NULL)"),
            Dialect::Spark => format!("array_compact(array({list}))"),
        }
    }

    fn empty_text_array(self) -> String {
        match self {
            Dialect::DuckDb => "CAST([] AS VARCHAR[])".into(),
            Dialect::Postgres => "CAST(ARRAY[] AS TEXT[])".into(),
            Dialect::Spark => "CAST(array() AS ARRAY<STRING>)".into(),
        }
    }

    /// How many codes of a row's set of codes are among `codes` (a list of string literals),
    /// each counted once when `distinct`.
    fn count_codes(self, column: &str, codes: &str, distinct: bool) -> String {
        match (self, distinct) {
            (Dialect::DuckDb, true) => {
                format!("len(list_distinct([c FOR c IN {column} IF c IN ({codes})]))")
            }
            (Dialect::DuckDb, false) => format!("len([c FOR c IN {column} IF c IN ({codes})])"),
            (Dialect::Postgres, true) => format!(
                "(SELECT count(DISTINCT c) FROM unnest({column}) AS c WHERE c IN ({codes}))"
            ),
            (Dialect::Postgres, false) => {
                format!("(SELECT count(*) FROM unnest({column}) AS c WHERE c IN ({codes}))")
            }
            (Dialect::Spark, true) => {
                format!("size(array_distinct(filter({column}, c -> c IN ({codes}))))")
            }
            (Dialect::Spark, false) => format!("size(filter({column}, c -> c IN ({codes})))"),
        }
    }

    /// A row's mask of classes of codes: the bits of every class one of the column's codes is
    /// in (a map from each code to its bits, looked up per code), 0 for none, NULL when the
    /// column is. DuckDB only: one lookup per code for all the column's classes, where an `IN`
    /// list per class is a comparison per constant, each a pass over all the rows' codes.
    fn class_mask(self, column: &str, entries: &[(String, u32)]) -> String {
        if entries.is_empty() {
            return format!("CASE WHEN {column} IS NULL THEN NULL ELSE 0 END");
        }
        let map: Vec<String> = entries.iter().map(|(c, b)| format!("{c}: {b}")).collect();
        format!(
            "CASE WHEN {column} IS NULL THEN NULL ELSE coalesce(list_bit_or([MAP {{{}}}[c] FOR c IN {column}]), 0) END",
            map.join(", ")
        )
    }

    /// How many items of a list column meet `cond` (written over the item [`ITEM`]): a NULL
    /// condition counts as not met.
    fn count_items(self, column: &str, cond: &str) -> String {
        match self {
            Dialect::DuckDb => format!("len([1 FOR {ITEM} IN {column} IF {cond}])"),
            Dialect::Postgres => {
                format!("(SELECT count(*) FILTER (WHERE {cond}) FROM unnest({column}) AS {ITEM})")
            }
            Dialect::Spark => format!("size(filter({column}, {ITEM} -> {cond}))"),
        }
    }

    /// A field of an item.
    fn field(self, item: &str, name: &str) -> String {
        match self {
            Dialect::Postgres => format!("({item}).{name}"),
            _ => format!("{item}.{name}"),
        }
    }

    /// `later - earlier` in days.
    fn days_between(self, earlier: &str, later: &str) -> String {
        match self {
            Dialect::Spark => format!("datediff({later}, {earlier})"),
            _ => format!("{later} - {earlier}"),
        }
    }

    /// The calendar months completed from `earlier` to `later`, as an age is counted (a month
    /// is completed on the same day of the month, or on a month's last day when it has no such
    /// day); negative when `later` is earlier, as the months completed backwards.
    fn months_between(self, earlier: &str, later: &str) -> String {
        let parts = |e: &str| -> (String, String, String, String) {
            let (y, m, d) = match self {
                Dialect::Postgres => (
                    format!("CAST(extract(year FROM {e}) AS INTEGER)"),
                    format!("CAST(extract(month FROM {e}) AS INTEGER)"),
                    format!("CAST(extract(day FROM {e}) AS INTEGER)"),
                ),
                _ => (
                    format!("year({e})"),
                    format!("month({e})"),
                    format!("day({e})"),
                ),
            };
            let last = match self {
                Dialect::Postgres => format!(
                    "CAST(extract(day FROM (date_trunc('month', {e}) + INTERVAL '1 month' - INTERVAL '1 day')) AS INTEGER)"
                ),
                _ => format!("day(last_day({e}))"),
            };
            (y, m, d, last)
        };
        let forward = |from: &str, to: &str| {
            let (fy, fm, fd, _) = parts(from);
            let (ty, tm, td, tlast) = parts(to);
            format!(
                "(({ty}) * 12 + {tm}) - (({fy}) * 12 + {fm}) - CASE WHEN {td} >= {fd} OR {td} = {tlast} THEN 0 ELSE 1 END"
            )
        };
        format!(
            "CASE WHEN {later} < {earlier} THEN -({}) ELSE {} END",
            forward(later, earlier),
            forward(earlier, later)
        )
    }

    /// A date `amount` days or calendar months before `date` (a month back from the 31st
    /// lands on a shorter month's last day).
    fn date_minus(self, date: &str, amount: u32, months: bool) -> String {
        match (self, months) {
            (Dialect::Spark, true) => format!("add_months({date}, -{amount})"),
            (Dialect::Spark, false) => format!("date_sub({date}, {amount})"),
            (Dialect::DuckDb, true) => format!("CAST({date} - INTERVAL {amount} MONTH AS DATE)"),
            (Dialect::Postgres, true) => {
                format!("CAST({date} - INTERVAL '{amount} months' AS DATE)")
            }
            (_, false) => format!("({date} - {amount})"),
        }
    }
}
