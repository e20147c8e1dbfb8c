//! The SQL back end: a decision artifact as SQL that decides every row of a facts table inside
//! a database engine (DuckDB, PostgreSQL, Spark SQL), with the artifact's meaning exactly,
//! missing facts (NULL) included (`docs/sql.md`).
//!
//! A row's facts are read into one symbol per variable of each decision (the class of values
//! its tests tell apart, or unknown), and each decision's [`Machine`] is run on them: a chain
//! of lookups in constant arrays, one per variable, for the result, and for a pending result
//! one chain per unknown variable to say whether the result depends on it. The machine does at
//! build time what the evaluator does for a missing fact at run time, so SQL never has to
//! follow both branches of a test.
//!
//! Numbers are compared exactly: thresholds are exact decimals, or fractions compared by
//! multiplying out; durations are stored in days (days and weeks) or months (months and
//! years). A fact's tests read NULL as unknown everywhere: a compound test (a window, the
//! months between two dates) is guarded so that a missing operand never decides it.

use std::collections::BTreeMap;
use std::fmt::Write;

use medpol_artifact::machine::{Answer, Levelled, Machine, Variable, When};
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
    pub const ALL: [Dialect; 3] = [Dialect::DuckDb, Dialect::Postgres, Dialect::Spark];

    pub fn name(self) -> &'static str {
        match self {
            Dialect::DuckDb => "duckdb",
            Dialect::Postgres => "postgres",
            Dialect::Spark => "spark",
        }
    }

    pub fn parse(text: &str) -> Option<Dialect> {
        Dialect::ALL.into_iter().find(|d| d.name() == text)
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

/// How many variables each step of the query reads.
const CHUNK: usize = 8;

/// The key column of the facts table and of the decisions view.
pub const KEY: &str = "id";

/// Writes the SQL of one artifact: the facts table (created when missing), the code lookup
/// table, and the decisions view over the facts table.
pub fn generate(artifact: &Artifact, dialect: Dialect) -> Result<Sql, SqlError> {
    let doc = artifact.document();
    let prefix = table_prefix(&doc.policy.id);
    let mut g = Gen {
        d: dialect,
        doc,
        prefix: prefix.clone(),
        lookups: Vec::new(),
        codes_aggs: BTreeMap::new(),
        list_aggs: BTreeMap::new(),
        code_joins: Vec::new(),
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
        decisions.push((i, d.document(), machine, symbols));
    }

    let facts_table = format!("{prefix}_facts");
    let codes_table = format!("{prefix}_codes");
    let view = format!("{prefix}_decisions");
    let mut out = String::new();
    let _ = writeln!(
        out,
        "-- {} ({}), version {}: written by medpol for {}.\n-- The facts table, one row per patient or claim (docs/sql.md), and the decisions view.",
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
    out.push_str(&g.codes_ddl(&codes_table));

    // Each decision's symbols, then its result state, then the answers.
    let q = |s: &str| g.d.ident(s);
    let mut selects = vec![format!("{}.*", q("f"))];
    for (i, _, _, symbols) in &decisions {
        for (j, s) in symbols.iter().enumerate() {
            selects.push(format!("{s} AS {}", q(&format!("d{i}_v{j}"))));
        }
    }
    let mut from = format!("{} AS {}", q(&facts_table), q("f"));
    for agg in g.codes_aggs.values() {
        let _ = write!(
            from,
            "\n  LEFT JOIN {} ON {}.{} = {}.{}",
            q(&agg.name),
            q(&agg.name),
            q(KEY),
            q("f"),
            q(KEY)
        );
    }
    for agg in g.list_aggs.values() {
        let _ = write!(
            from,
            "\n  LEFT JOIN {} ON {}.{} = {}.{}",
            q(&agg.name),
            q(&agg.name),
            q(KEY),
            q("f"),
            q(KEY)
        );
    }
    for (alias, lookup, column) in &g.code_joins {
        let _ = write!(
            from,
            "\n  LEFT JOIN {} AS {} ON {}.{} = {lookup} AND {}.{} = {}.{}",
            q(&codes_table),
            q(alias),
            q(alias),
            q("lookup"),
            q(alias),
            q("code"),
            q("f"),
            q(column)
        );
    }
    let mut ctes = Vec::new();
    for agg in g.codes_aggs.values() {
        ctes.push((
            agg.name.clone(),
            g.codes_cte(agg, &facts_table, &codes_table),
        ));
    }
    for agg in g.list_aggs.values() {
        ctes.push((agg.name.clone(), g.list_cte(agg, &facts_table)?));
    }
    ctes.push((
        "v".to_string(),
        format!("SELECT\n    {}\n  FROM {from}", selects.join(",\n    ")),
    ));
    // The machines' lookups, a few variables per step of the query: an expression nests no
    // deeper than that (Spark's code generator fails on a deep one), and each state is a
    // column computed once per row. The results first; then, for a pending result only, each
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
    let widest = decisions
        .iter()
        .map(|(_, _, m, _)| m.vars.len())
        .max()
        .unwrap_or(0);
    for start in (0..widest).step_by(CHUNK) {
        let mut columns = Vec::new();
        for (i, _, machine, _) in &decisions {
            let key = (*i, 0);
            let from = states.get(&key).map_or("0".to_string(), |c| q(c));
            if let Some(chain) = g.chain(&machine.result, start, &from, *i) {
                let column = format!("d{i}_m0_{start}");
                columns.push(format!("{chain} AS {}", q(&column)));
                states.insert(key, column);
            }
        }
        stage(&mut ctes, &mut last, columns);
    }
    for start in (0..widest).step_by(CHUNK) {
        let mut columns = Vec::new();
        for (i, _, machine, _) in &decisions {
            let pending = g.pending(*i, machine, &states);
            for (j, (var, diagram)) in machine.vars.iter().zip(&machine.needed).enumerate() {
                let key = (*i, j + 1);
                let from = states.get(&key).map_or("0".to_string(), |c| q(c));
                if let Some(chain) = g.chain(diagram, start, &from, *i) {
                    let column = format!("d{i}_m{}_{start}", j + 1);
                    let unknown = format!("{} = {}", q(&format!("d{i}_v{j}")), var.symbols.len());
                    columns.push(format!(
                        "CASE WHEN {pending} AND {unknown} THEN {chain} END AS {}",
                        q(&column)
                    ));
                    states.insert(key, column);
                }
            }
        }
        stage(&mut ctes, &mut last, columns);
    }
    let mut columns = vec![q(KEY)];
    for (i, doc_d, machine, _) in &decisions {
        columns.extend(g.answers(*i, doc_d, machine, &states)?);
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

/// A class of codes: the codes in every set of the first list and in none of the second.
type ClassKey = (Vec<u32>, Vec<u32>);

/// A set-of-codes fact's classes, counted per row.
struct CodesAgg {
    name: String,
    column: String,
    /// Each class, and its lookup id.
    classes: Vec<(ClassKey, u32)>,
}

/// A list fact's counts, per row: for each condition, the items that meet it and the items
/// it is unknown for.
struct ListAgg {
    name: String,
    column: String,
    record: u32,
    terms: Vec<Option<Cond>>,
    /// The facts of the patient the conditions read.
    outer: Vec<u32>,
}

struct Gen<'a> {
    d: Dialect,
    doc: &'a Document,
    prefix: String,
    /// Rows of the code lookup table: (lookup, code, class).
    lookups: Vec<(u32, String, u32)>,
    codes_aggs: BTreeMap<u32, CodesAgg>,
    list_aggs: BTreeMap<u32, ListAgg>,
    /// A join of the lookup table for a single-code fact: (alias, lookup, column).
    code_joins: Vec<(String, u32, String)>,
}

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
    fn symbol(&mut self, d: &DecisionDoc, var: &Variable) -> Result<String, SqlError> {
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

    /// A single-code fact's symbol: its memberships of the sets tested, from the lookup table.
    fn code_symbol(&mut self, d: &DecisionDoc, var: &Variable) -> Result<String, SqlError> {
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
        let none: Vec<bool> = vec![false; sets.len()];
        let outside = var.symbols.iter().position(|s| *s == none);
        let lookup = self.next_lookup();
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
        for (code, signature) in codes {
            let symbol = var
                .symbols
                .iter()
                .position(|s| *s == signature)
                .ok_or_else(|| SqlError(format!("code `{code}` has no class")))?;
            self.lookups.push((lookup, code.to_string(), symbol as u32));
        }
        let alias = format!("k{lookup}");
        let column = self.fact(var.fact)?.name.clone();
        let class = format!("{}.{}", self.q(&alias), self.q("class"));
        self.code_joins.push((alias, lookup, column));
        let col = self.column(var.fact)?;
        let unknown = var.symbols.len();
        Ok(match outside {
            Some(o) => {
                format!("CASE WHEN {col} IS NULL THEN {unknown} ELSE coalesce({class}, {o}) END")
            }
            None => format!("CASE WHEN {col} IS NULL THEN {unknown} ELSE {class} END"),
        })
    }

    fn next_lookup(&self) -> u32 {
        let used = self.lookups.iter().map(|l| l.0 + 1).max().unwrap_or(0);
        let aggs = self
            .codes_aggs
            .values()
            .flat_map(|a| a.classes.iter().map(|c| c.1 + 1))
            .max()
            .unwrap_or(0);
        used.max(aggs)
    }

    /// A test of a fact as a SQL condition: NULL exactly when the variable is unknown.
    fn predicate(&mut self, fact: u32, test: &Test) -> Result<String, SqlError> {
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
                let (n, size) = self.class_count(fact, inside, not_in)?;
                let count = format!("CASE WHEN {col} IS NULL THEN NULL ELSE coalesce({n}, 0) END");
                match quantifier {
                    Quantifier::Any => format!("{count} > 0"),
                    Quantifier::All => format!("{count} >= {size}"),
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
                let (met, unknown) = self.count_columns(fact, filter.clone())?;
                format!(
                    "CASE WHEN {col} IS NULL THEN NULL WHEN coalesce({unknown}, 0) > 0 THEN NULL ELSE coalesce({met}, 0) END {op} {}",
                    self.d.number(num(value)?)
                )
            }
        })
    }

    /// The column counting a row's codes of a class, and the class's size.
    fn class_count(
        &mut self,
        fact: u32,
        inside: &[u32],
        not_in: &[u32],
    ) -> Result<(String, usize), SqlError> {
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
        let codes: Vec<String> = first
            .codes
            .iter()
            .filter(|c| inside.iter().all(|s| member(s, c)) && !not_in.iter().any(|s| member(s, c)))
            .cloned()
            .collect();
        let key = (inside.to_vec(), not_in.to_vec());
        let existing = self
            .codes_aggs
            .get(&fact)
            .and_then(|a| a.classes.iter().find(|c| c.0 == key).map(|c| c.1));
        let lookup = match existing {
            Some(l) => l,
            None => {
                let l = self.next_lookup();
                for c in &codes {
                    self.lookups.push((l, c.clone(), 1));
                }
                let name = format!("c{fact}");
                let column = self.fact(fact)?.name.clone();
                self.codes_aggs
                    .entry(fact)
                    .or_insert_with(|| CodesAgg {
                        name,
                        column,
                        classes: Vec::new(),
                    })
                    .classes
                    .push((key, l));
                l
            }
        };
        Ok((
            format!(
                "{}.{}",
                self.q(&format!("c{fact}")),
                self.q(&format!("n{lookup}"))
            ),
            codes.len(),
        ))
    }

    /// The columns counting a row's items that meet a condition and those it is unknown for.
    fn count_columns(
        &mut self,
        fact: u32,
        filter: Option<Cond>,
    ) -> Result<(String, String), SqlError> {
        let f = self.fact(fact)?;
        let record = f
            .record
            .ok_or_else(|| SqlError(format!("list `{}` without its record", f.name)))?;
        let column = f.name.clone();
        let agg = self.list_aggs.entry(fact).or_insert_with(|| ListAgg {
            name: format!("l{fact}"),
            column,
            record,
            terms: Vec::new(),
            outer: Vec::new(),
        });
        let term = match agg.terms.iter().position(|t| *t == filter) {
            Some(t) => t,
            None => {
                if let Some(c) = &filter {
                    outer_facts(c, &mut agg.outer);
                }
                agg.terms.push(filter);
                agg.terms.len() - 1
            }
        };
        let table = self.q(&format!("l{fact}"));
        Ok((
            format!("{table}.{}", self.q(&format!("t{term}"))),
            format!("{table}.{}", self.q(&format!("u{term}"))),
        ))
    }

    /// The lookups of one machine's steps that read variables `start..start + CHUNK`, from
    /// the state `from`, nested; `None` when it has no such step.
    fn chain<T>(
        &self,
        machine: &Levelled<T>,
        start: usize,
        from: &str,
        decision: usize,
    ) -> Option<String> {
        let range = start as u32..(start + CHUNK) as u32;
        let mut state = from.to_string();
        let mut any = false;
        for step in machine.steps.iter().filter(|s| range.contains(&s.var)) {
            any = true;
            let width = step.symbols + 1;
            let symbol = self.q(&format!("d{decision}_v{}", step.var));
            let index = if state == "0" {
                format!("{symbol} + 1")
            } else {
                format!("{state} * {width} + {symbol} + 1")
            };
            state = self.d.lookup(&step.next, &index);
        }
        any.then_some(state)
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
        machine: &Machine,
        states: &BTreeMap<(usize, usize), String>,
    ) -> Result<Vec<String>, SqlError> {
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
        let pending: Vec<usize> = machine
            .result
            .answers
            .iter()
            .enumerate()
            .filter(|(_, a)| **a == Answer::Pending)
            .map(|(j, _)| j)
            .collect();
        let needed = if pending.is_empty() {
            self.d.empty_text_array()
        } else {
            let is_pending = match machine.result.answers.len() {
                1 => "TRUE".to_string(),
                _ => format!(
                    "{r} IN ({})",
                    pending
                        .iter()
                        .map(|p| p.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            // For each fact (in the artifact's order), when a pending result needs it.
            let mut when_fact: BTreeMap<u32, Vec<String>> = BTreeMap::new();
            for (j, (var, diagram)) in machine.vars.iter().zip(&machine.needed).enumerate() {
                let depends = match diagram.answers.as_slice() {
                    [only] if diagram.steps.is_empty() => {
                        if !only {
                            continue;
                        }
                        None
                    }
                    answers => {
                        let state = self.end_state(states, (i, j + 1));
                        let ones: Vec<u32> = answers.iter().map(|a| u32::from(*a)).collect();
                        Some(format!(
                            "{} = 1",
                            self.d.lookup(&ones, &format!("{state} + 1"))
                        ))
                    }
                };
                let unknown = format!("{} = {}", self.q(&format!("d{i}_v{j}")), var.symbols.len());
                for (fact, when) in &var.needs {
                    let mut parts = vec![unknown.clone()];
                    parts.extend(depends.clone());
                    if let Some(w) = self.when(when)? {
                        parts.push(w);
                    }
                    when_fact
                        .entry(*fact)
                        .or_default()
                        .push(format!("({})", parts.join(" AND ")));
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
        for f in &self.doc.facts {
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

    /// The code lookup table: for each lookup, its codes and their classes.
    fn codes_ddl(&self, table: &str) -> String {
        if self.d == Dialect::Spark {
            return self.codes_view(table);
        }
        let mut out = self.d.drop_table(&self.q(table));
        let _ = writeln!(
            out,
            "CREATE TABLE {} (\n  {} INTEGER NOT NULL,\n  {} {} NOT NULL,\n  {} INTEGER NOT NULL{}\n){};",
            self.q(table),
            self.q("lookup"),
            self.q("code"),
            self.d.text_type(),
            self.q("class"),
            match self.d {
                Dialect::Spark => String::new(),
                _ => format!(
                    ",\n  PRIMARY KEY ({}, {})",
                    self.q("lookup"),
                    self.q("code")
                ),
            },
            self.d.table_suffix()
        );
        for chunk in self.lookups.chunks(500) {
            let rows: Vec<String> = chunk
                .iter()
                .map(|(l, c, k)| format!("({l}, {}, {k})", self.d.string(c)))
                .collect();
            let _ = writeln!(
                out,
                "INSERT INTO {} VALUES\n  {};",
                self.q(table),
                rows.join(",\n  ")
            );
        }
        out
    }

    /// Spark's lookup table: a temporary view of constant rows. A table would be files in the
    /// warehouse folder, which a session without a metastore cannot drop again, so running the
    /// file a second time would fail.
    fn codes_view(&self, table: &str) -> String {
        let q = |s: &str| self.q(s);
        let rows: Vec<String> = self
            .lookups
            .iter()
            .map(|(l, c, k)| format!("({l}, {}, {k})", self.d.string(c)))
            .collect();
        let body = if rows.is_empty() {
            format!(
                "SELECT CAST(NULL AS INT) AS {}, CAST(NULL AS STRING) AS {}, CAST(NULL AS INT) AS {} WHERE FALSE",
                q("lookup"),
                q("code"),
                q("class")
            )
        } else {
            format!(
                "SELECT * FROM VALUES\n  {}\n  AS {}({}, {}, {})",
                rows.join(",\n  "),
                q("t"),
                q("lookup"),
                q("code"),
                q("class")
            )
        };
        format!(
            "CREATE OR REPLACE TEMPORARY VIEW {} AS\n{body};\n",
            q(table)
        )
    }

    /// Per row: for each class of a set-of-codes fact, how many of its codes the row has.
    fn codes_cte(&self, agg: &CodesAgg, facts: &str, codes: &str) -> String {
        let q = |s: &str| self.q(s);
        let counts: Vec<String> = agg
            .classes
            .iter()
            .map(|(_, l)| {
                format!(
                    "count(DISTINCT CASE WHEN {}.{} = {l} THEN {}.{} END) AS {}",
                    q("k"),
                    q("lookup"),
                    q("x"),
                    q("code"),
                    q(&format!("n{l}"))
                )
            })
            .collect();
        let lookups: Vec<String> = agg.classes.iter().map(|(_, l)| l.to_string()).collect();
        format!(
            "SELECT {x}.{id},\n    {}\n  FROM ({}) AS {x}\n  JOIN {} AS {k} ON {k}.{code} = {x}.{code} AND {k}.{lookup} IN ({})\n  GROUP BY {x}.{id}",
            counts.join(",\n    "),
            self.d
                .explode(&q(KEY), &q(&agg.column), &q("code"), &q(facts)),
            q(codes),
            lookups.join(", "),
            x = q("x"),
            k = q("k"),
            id = q(KEY),
            code = q("code"),
            lookup = q("lookup"),
        )
    }

    /// Per row: for each condition on a list's items, the items that meet it and those it is
    /// unknown for.
    fn list_cte(&self, agg: &ListAgg, facts: &str) -> Result<String, SqlError> {
        let q = |s: &str| self.q(s);
        let item = format!("{}.{}", q("x"), q("it"));
        let mut columns = Vec::new();
        for (t, term) in agg.terms.iter().enumerate() {
            let cond = match term {
                Some(c) => self.cond(c, agg.record, &item),
                None => Ok("TRUE".to_string()),
            }?;
            columns.push(format!(
                "count(CASE WHEN {cond} THEN 1 END) AS {}",
                q(&format!("t{t}"))
            ));
            columns.push(format!(
                "count(CASE WHEN ({cond}) IS NULL THEN 1 END) AS {}",
                q(&format!("u{t}"))
            ));
        }
        let outer: Vec<String> = agg
            .outer
            .iter()
            .filter_map(|o| self.fact(*o).ok())
            .map(|f| format!("{}.{}", q("f"), q(&f.name)))
            .collect();
        Ok(format!(
            "SELECT {x}.{id},\n    {}\n  FROM ({}) AS {x}\n  GROUP BY {x}.{id}",
            columns.join(",\n    "),
            self.d.explode_items(
                &q(KEY),
                &outer,
                &q(&agg.column),
                &q("it"),
                &q(facts),
                &q("f")
            ),
            x = q("x"),
            id = q(KEY),
        ))
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
        let outer = |i: &u32| -> Result<String, SqlError> {
            Ok(format!("{}.{}", self.q("x"), self.q(&self.fact(*i)?.name)))
        };
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

/// The facts of the patient a condition reads.
fn outer_facts(c: &Cond, out: &mut Vec<u32>) {
    match c {
        Cond::And { all: cs } | Cond::Or { any: cs } => cs.iter().for_each(|x| outer_facts(x, out)),
        Cond::Not { not } => outer_facts(not, out),
        Cond::Window { before: x, .. } | Cond::FieldIs { fact: x, .. } if !out.contains(x) => {
            out.push(*x);
        }
        _ => {}
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

    fn drop_table(self, table: &str) -> String {
        format!("DROP TABLE IF EXISTS {table};\n")
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

    /// One row per code of a set-of-codes column, with the row's key.
    fn explode(self, key: &str, column: &str, code: &str, table: &str) -> String {
        match self {
            Dialect::Spark => format!("SELECT {key}, explode({column}) AS {code} FROM {table}"),
            _ => format!("SELECT {key}, unnest({column}) AS {code} FROM {table}"),
        }
    }

    /// One row per item of a list column, with the row's key and the facts its conditions
    /// read.
    fn explode_items(
        self,
        key: &str,
        outer: &[String],
        column: &str,
        item: &str,
        table: &str,
        alias: &str,
    ) -> String {
        let mut select = vec![format!("{alias}.{key}")];
        select.extend(outer.iter().cloned());
        let f = match self {
            Dialect::Spark => "explode",
            _ => "unnest",
        };
        select.push(format!("{f}({alias}.{column}) AS {item}"));
        format!("SELECT {} FROM {table} AS {alias}", select.join(", "))
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
