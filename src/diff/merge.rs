//! Two versions of a policy as one program, so that one space of patients holds both: the new
//! program as it is, and the old version's facts mapped onto the new facts of the same name
//! and kind (a patient is described by the same facts whichever version reads them), with
//! its definitions, code sets (each with the codes of its own version's releases), decisions
//! and constraints added beside the new ones. An old definition or set whose name the new
//! version also uses is named `name (old)` while the two differ.

use std::collections::HashMap;

use crate::codeset::CodeSets;
use crate::ir::*;
use crate::types::{EnumId, Num, RecordId, Type};

/// The names one version's policy reads: its facts (and the fields of its lists) and its
/// definitions, each name once (a policy's file and its imports share one scope).
#[derive(Debug, Default)]
pub struct Scope {
    pub facts: HashMap<String, FactId>,
    pub defines: HashMap<String, DefineId>,
}

impl Scope {
    /// What the conditions read, through definitions.
    pub fn of(program: &Program, conditions: &[&Expr]) -> Scope {
        let mut scope = Scope::default();
        for e in program.walk(conditions) {
            if let ExprKind::Define(d) = &e.kind
                && let Some(x) = program.define(*d)
            {
                scope.defines.insert(x.name.clone(), *d);
            }
        }
        let mut facts: Vec<FactId> = Vec::new();
        for e in conditions {
            facts.extend(program.facts_read(e));
        }
        for f in facts {
            if let Some(x) = program.fact(f) {
                scope.facts.insert(x.name.clone(), f);
            }
        }
        scope
    }
}

/// The two versions as one program.
pub struct Merged {
    pub program: Program,
    pub code_sets: CodeSets,
    /// Each old fact's fact in the merged program (by old id).
    facts: Vec<FactId>,
    sets: Vec<CodeSetId>,
    defines: Vec<DefineId>,
    /// For an old enum fact (by old id): each of its values' index in the merged fact's type.
    values: HashMap<FactId, Vec<u32>>,
    /// Facts both versions declare with different types (compared as two facts), by name.
    pub retyped: Vec<(String, String, String)>,
}

impl Merged {
    pub fn fact(&self, old: FactId) -> FactId {
        self.facts.get(old.index()).copied().unwrap_or(old)
    }

    /// The old fact a merged fact stands for, if any.
    pub fn old_fact(&self, merged: FactId) -> Option<FactId> {
        self.facts
            .iter()
            .position(|f| *f == merged)
            .map(|i| FactId(i as u32))
    }

    /// The merged value of an old enum fact's value.
    fn value(&self, old: FactId, v: u32) -> u32 {
        self.values
            .get(&old)
            .and_then(|m| m.get(v as usize))
            .copied()
            .unwrap_or(v)
    }

    /// The old value of an old enum fact that a merged value stands for.
    pub fn old_value(&self, old: FactId, merged: u32) -> Option<u32> {
        match self.values.get(&old) {
            Some(map) => map.iter().position(|v| *v == merged).map(|i| i as u32),
            None => Some(merged),
        }
    }

    /// The old definitions the old policy reads, by merged id, with the new definition of
    /// the same name the new policy reads.
    pub fn define_pairs(&self, old: &Scope, new: &Scope) -> Vec<(DefineId, DefineId)> {
        old.defines
            .iter()
            .filter_map(|(name, d)| {
                let n = new.defines.get(name)?;
                Some((*self.defines.get(d.index())?, *n))
            })
            .collect()
    }

    /// The definitions of both versions that share a name and differ in meaning (the old
    /// one still named `(old)`), in merged ids.
    pub fn changed_defines(
        &self,
        old: &Scope,
        new: &Scope,
        new_program: &Program,
    ) -> std::collections::BTreeSet<DefineId> {
        self.define_pairs(old, new)
            .into_iter()
            .filter(|(o, n)| {
                let names = (self.program.define(*o), new_program.define(*n));
                matches!(names, (Some(a), Some(b)) if a.name != b.name)
            })
            .flat_map(|(o, n)| [o, n])
            .collect()
    }

    /// Gives an old definition its own name back (it means what the new one of that name
    /// means).
    pub fn same_define(&mut self, merged: DefineId, name: &str) {
        if let Some(d) = self.program.defines.get_mut(merged.index()) {
            d.name = name.to_string();
        }
    }

    /// A condition of the old program, in merged ids.
    pub fn expr(&self, e: &Expr) -> Expr {
        let kind = match &e.kind {
            ExprKind::Error => ExprKind::Error,
            ExprKind::Const(b) => ExprKind::Const(*b),
            ExprKind::Fact(f) => ExprKind::Fact(self.fact(*f)),
            ExprKind::Define(d) => {
                ExprKind::Define(self.defines.get(d.index()).copied().unwrap_or(*d))
            }
            ExprKind::Not(x) => ExprKind::Not(Box::new(self.expr(x))),
            ExprKind::And(es) => ExprKind::And(es.iter().map(|x| self.expr(x)).collect()),
            ExprKind::Or(es) => ExprKind::Or(es.iter().map(|x| self.expr(x)).collect()),
            ExprKind::Compare { fact, op, value } => ExprKind::Compare {
                fact: self.fact(*fact),
                op: *op,
                value: *value,
            },
            ExprKind::EnumIn { fact, values } => {
                let mut values: Vec<u32> = values.iter().map(|v| self.value(*fact, *v)).collect();
                values.sort_unstable();
                ExprKind::EnumIn {
                    fact: self.fact(*fact),
                    values,
                }
            }
            ExprKind::CodeIn { fact, set } => ExprKind::CodeIn {
                fact: self.fact(*fact),
                set: self.set(*set),
            },
            ExprKind::Has {
                fact,
                quantifier,
                set,
            } => ExprKind::Has {
                fact: self.fact(*fact),
                quantifier: *quantifier,
                set: self.set(*set),
            },
            ExprKind::Count { kind, k, items } => ExprKind::Count {
                kind: *kind,
                k: *k,
                items: items.iter().map(|x| self.expr(x)).collect(),
            },
            ExprKind::ListCount {
                list,
                filter,
                op,
                value,
            } => ExprKind::ListCount {
                list: self.fact(*list),
                filter: filter.as_ref().map(|f| Box::new(self.expr(f))),
                op: *op,
                value: *value,
            },
            ExprKind::Window {
                field,
                reference,
                amount,
                months,
            } => ExprKind::Window {
                field: self.fact(*field),
                reference: self.fact(*reference),
                amount: *amount,
                months: *months,
            },
            ExprKind::FieldIs { field, op, fact } => ExprKind::FieldIs {
                field: self.fact(*field),
                op: *op,
                fact: self.fact(*fact),
            },
            ExprKind::Relation(r) => ExprKind::Relation(self.relation(r)),
        };
        Expr { kind, span: e.span }
    }

    fn set(&self, s: CodeSetId) -> CodeSetId {
        self.sets.get(s.index()).copied().unwrap_or(s)
    }

    /// The model keeps the fact with the smaller id on the left of a difference, so one pair
    /// of facts is one term: mapped ids may need the sides swapped (`a - b <= v` is
    /// `b - a >= -v`). Calendar months are not swapped (they count from the right fact): such
    /// a term stays a term of its own.
    fn relation(&self, r: &Relation) -> Relation {
        let (left, right) = (self.fact(r.left), self.fact(r.right));
        let negated = Num::from_int(0).checked_sub(r.value);
        match negated {
            Some(value) if left > right && !r.calendar => Relation {
                left: right,
                right: left,
                op: r.op.flipped(),
                value,
                calendar: false,
            },
            _ => Relation { left, right, ..*r },
        }
    }
}

/// Whether an old fact's type and a new one's are the same kind of value (enums and lists
/// by their values and fields, which the merge joins or maps).
fn same_kind(old: &Program, a: Type, new: &Program, b: Type) -> bool {
    match (a, b) {
        (Type::Enum(_), Type::Enum(_)) => true,
        (Type::List(x), Type::List(y)) => {
            let (Some(x), Some(y)) = (old.record(x), new.record(y)) else {
                return false;
            };
            x.name == y.name
                && x.fields.iter().all(|f| {
                    let Some(of) = old.fact(*f) else { return false };
                    y.fields.iter().any(|g| {
                        new.fact(*g).is_some_and(|nf| {
                            nf.name == of.name && same_kind(old, of.ty, new, nf.ty)
                        })
                    })
                })
        }
        _ => a == b,
    }
}

/// Merges the old program into the new one (see the module's comment). `old_sets` and
/// `new_sets` are each program's code sets expanded against its own releases.
///
/// Names are matched within the scopes: the facts and definitions each policy reads (a
/// project's files each have their own names, so a name alone may stand for another file's
/// fact).
pub fn merge(
    old: &Program,
    old_sets: &CodeSets,
    new: &Program,
    new_sets: &CodeSets,
    (old_scope, scope): (&Scope, &Scope),
) -> Merged {
    let mut program = new.clone();
    // Tests belong to each version; the merged program answers no test.
    program.tests.clear();
    let mut m = Merged {
        program,
        code_sets: CodeSets::default(),
        facts: vec![FactId(u32::MAX); old.facts.len()],
        sets: Vec::with_capacity(old.code_sets.len()),
        defines: Vec::with_capacity(old.defines.len()),
        values: HashMap::new(),
        retyped: Vec::new(),
    };
    let top = |_: &Program, name: &str| scope.facts.get(name).copied();
    // Records: mapped by name where every old field has a new one of its kind.
    let mut records: HashMap<u32, RecordId> = HashMap::new();
    for (i, r) in old.records.iter().enumerate() {
        let matched = (0..new.records.len()).find(|&n| {
            same_kind(
                old,
                Type::List(RecordId(i as u32)),
                new,
                Type::List(RecordId(n as u32)),
            )
        });
        let id = match matched {
            Some(n) => RecordId(n as u32),
            None => {
                let id = RecordId(m.program.records.len() as u32);
                let mut copy = r.clone();
                copy.fields.clear();
                if new.records.iter().any(|n| n.name == r.name) {
                    copy.name = format!("{} (old)", r.name);
                }
                m.program.records.push(copy);
                id
            }
        };
        records.insert(i as u32, id);
    }
    for (i, f) in old.facts.iter().enumerate() {
        let old_id = FactId(i as u32);
        let found = match f.record {
            None if old_scope.facts.get(&f.name) == Some(&old_id) => top(new, &f.name),
            None => None,
            Some(r) => records.get(&r.0).and_then(|nr| {
                let rec = m.program.record(*nr)?;
                rec.fields
                    .iter()
                    .copied()
                    .find(|g| new.fact(*g).is_some_and(|x| x.name == f.name))
            }),
        };
        let matched = found.filter(|n| {
            new.fact(*n)
                .is_some_and(|nf| same_kind(old, f.ty, new, nf.ty))
        });
        if let (Some(n), None) = (found, matched)
            && let Some(nf) = new.fact(n)
        {
            m.retyped
                .push((f.name.clone(), f.ty.syntax(), nf.ty.syntax()));
        }
        let id = match matched {
            Some(n) => {
                join_fact(&mut m, old, old_id, n);
                n
            }
            None => {
                let id = FactId(m.program.facts.len() as u32);
                let mut copy = f.clone();
                if found.is_some() {
                    copy.name = format!("{} (old)", f.name);
                }
                copy.ty = match f.ty {
                    Type::Enum(e) => {
                        let values = old
                            .enum_type(e)
                            .map(|t| t.values.clone())
                            .unwrap_or_default();
                        m.program.enums.push(EnumType { values });
                        Type::Enum(EnumId(m.program.enums.len() as u32 - 1))
                    }
                    Type::List(r) => Type::List(records.get(&r.0).copied().unwrap_or(r)),
                    t => t,
                };
                copy.record = f.record.map(|r| records.get(&r.0).copied().unwrap_or(r));
                if let Some(r) = copy.record
                    && let Some(rec) = m.program.records.get_mut(r.0 as usize)
                    && r.0 as usize >= new.records.len()
                {
                    rec.fields.push(id);
                }
                m.program.facts.push(copy);
                id
            }
        };
        if let Some(slot) = m.facts.get_mut(i) {
            *slot = id;
        }
    }
    // Derived values added from the old version compute from the merged facts.
    for (i, f) in old.facts.iter().enumerate() {
        let id = m.fact(FactId(i as u32));
        if id.index() < new.facts.len() {
            continue;
        }
        if let Some(d) = &f.derived {
            let formula = d.formula.map(&|x: &FactId| m.fact(*x));
            if let Some(fact) = m.program.facts.get_mut(id.index()) {
                fact.derived = Some(Derived {
                    formula,
                    written: d.written.clone(),
                });
            }
        }
    }
    // Code sets: every old set added, with its own codes; named as in the new version when
    // it holds the same codes.
    let base = new.code_sets.len() as u32;
    m.sets = (0..old.code_sets.len() as u32)
        .map(|i| CodeSetId(base + i))
        .collect();
    for (i, s) in old.code_sets.iter().enumerate() {
        let mut copy = s.clone();
        copy.expr = set_expr(&m, &s.expr);
        if let Some(name) = &s.name
            && let Some(n) = new
                .code_sets
                .iter()
                .position(|x| x.name.as_ref() == Some(name))
            && new_sets.members(CodeSetId(n as u32)) != old_sets.members(CodeSetId(i as u32))
        {
            copy.name = Some(format!("{name} (old)"));
        }
        m.program.code_sets.push(copy);
    }
    let old_ids: Vec<CodeSetId> = (0..old.code_sets.len() as u32).map(CodeSetId).collect();
    m.code_sets = new_sets.joined(old_sets, &old_ids);
    // Definitions: every old one added; one whose name the new version uses is `(old)` until
    // the caller finds the two mean the same (`same_define`).
    let base = new.defines.len() as u32;
    m.defines = (0..old.defines.len() as u32)
        .map(|i| DefineId(base + i))
        .collect();
    for d in &old.defines {
        let mut copy = d.clone();
        copy.body = match &d.body {
            DefineBody::Condition(e) => DefineBody::Condition(m.expr(e)),
            DefineBody::Alias { fact, scale } => DefineBody::Alias {
                fact: m.fact(*fact),
                scale: *scale,
            },
            DefineBody::Difference { left, right } => DefineBody::Difference {
                left: m.fact(*left),
                right: m.fact(*right),
            },
            other => other.clone(),
        };
        if new.defines.iter().any(|x| x.name == d.name) {
            copy.name = format!("{} (old)", d.name);
        }
        m.program.defines.push(copy);
    }
    // Decisions and constraints of the old version, beside the new ones (their policy is the
    // caller's business: constraints are read through `constraints`).
    for d in &old.decisions {
        let mut copy = d.clone();
        copy.policy = None;
        for r in &mut copy.rules {
            r.condition = m.expr(&r.condition);
        }
        m.program.decisions.push(copy);
    }
    for c in &old.constraints {
        let mut copy = c.clone();
        copy.condition = m.expr(&c.condition);
        m.program.constraints.push(copy);
    }
    m
}

/// Maps an old fact onto the new one: an enum takes the old values the new one lacks (a
/// patient may have them in the old version), a range spans both.
fn join_fact(m: &mut Merged, old: &Program, old_id: FactId, n: FactId) {
    let (Some(of), Some(nf)) = (old.fact(old_id), m.program.fact(n).cloned()) else {
        return;
    };
    if let (Type::Enum(oe), Type::Enum(ne)) = (of.ty, nf.ty) {
        let old_values: Vec<String> = old
            .enum_type(oe)
            .map(|t| t.values.iter().map(|(v, _)| v.clone()).collect())
            .unwrap_or_default();
        let mut values = m
            .program
            .enum_type(ne)
            .map(|t| t.values.clone())
            .unwrap_or_default();
        let mut map = Vec::with_capacity(old_values.len());
        let mut grown = false;
        for v in &old_values {
            match values.iter().position(|(x, _)| x == v) {
                Some(i) => map.push(i as u32),
                None => {
                    values.push((v.clone(), crate::source::Span::default()));
                    map.push(values.len() as u32 - 1);
                    grown = true;
                }
            }
        }
        if grown {
            m.program.enums.push(EnumType { values });
            let id = EnumId(m.program.enums.len() as u32 - 1);
            if let Some(f) = m.program.facts.get_mut(n.index()) {
                f.ty = Type::Enum(id);
            }
        }
        m.values.insert(old_id, map);
    }
    if let (Some((a, b)), Some((c, d))) = (of.range, nf.range)
        && let Some(f) = m.program.facts.get_mut(n.index())
    {
        f.range = Some((a.min(c), b.max(d)));
    } else if of.range.is_none()
        && let Some(f) = m.program.facts.get_mut(n.index())
    {
        f.range = None;
    }
}

fn set_expr(m: &Merged, e: &SetExpr) -> SetExpr {
    match e {
        SetExpr::Items(items) => SetExpr::Items(items.clone()),
        SetExpr::Ref(id) => SetExpr::Ref(m.set(*id)),
        SetExpr::Chain { first, rest } => SetExpr::Chain {
            first: Box::new(set_expr(m, first)),
            rest: rest.iter().map(|(op, x)| (*op, set_expr(m, x))).collect(),
        },
    }
}
