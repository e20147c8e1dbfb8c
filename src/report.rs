//! The public list of services that need prior authorization (CMS-0057-F asks payers to
//! publish it), per product line, read from the policies the CRD service answers with
//! (`docs/report.md`).
//!
//! For each policy of the FHIR binding with a `pa-needed` mapping, every code of its code sets
//! in the system of a fact bound to the order is put to the mapped decision as an order of that
//! one code, once per value of the fact bound to the Coverage (the product line): the order's
//! code facts of that system hold the code, those of another system nothing, the product fact
//! holds the product, every other fact is missing. The leaves the decision can still reach say
//! whether prior authorization is required always, on some of the missing facts, or never.

use medpol_artifact::{Evaluation, FactSchema, FactType, Facts, LeafDoc};
use medpol_fhir::binding::{Binding, PolicyBinding};

use crate::codes::System;
use crate::tables::TableSet;

/// The list: the policies it was made from and a row per policy, product line and code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriorAuthList {
    /// Every policy with a `pa-needed` mapping, by id.
    pub policies: Vec<PolicyInfo>,
    /// Every (policy, product line, code), by policy, product line (in the order of the
    /// fact's values), code system (in the order of the order's facts) and code; each says
    /// whether prior authorization is needed, also when it is not.
    pub rows: Vec<Row>,
}

/// A policy of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyInfo {
    pub id: String,
    pub title: String,
    pub version: String,
    pub effective: Option<String>,
    /// The values of the fact bound to the Coverage; empty when the policy has none (its rows
    /// hold for every product line).
    pub products: Vec<String>,
}

/// Whether a service needs prior authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Requirement {
    /// Every result the decision can give means prior authorization is needed.
    Required,
    /// Some results mean it is needed, others not: it depends on facts of the order or the
    /// patient (the row's condition says which).
    Depends,
    /// Every result means it is not needed.
    NotRequired,
    /// No result means it is needed, and some do not answer (an outcome mapped to
    /// `not-addressed`, no rule, a conflict).
    NotAddressed,
}

impl Requirement {
    /// The word of the list's files: `required`, `depends`, `not-required`, `not-addressed`.
    pub fn code(self) -> &'static str {
        match self {
            Requirement::Required => "required",
            Requirement::Depends => "depends",
            Requirement::NotRequired => "not-required",
            Requirement::NotAddressed => "not-addressed",
        }
    }

    /// Whether the service belongs to the list of services that need prior authorization.
    pub fn listed(self) -> bool {
        matches!(self, Requirement::Required | Requirement::Depends)
    }
}

/// One service of one policy for one product line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub policy: String,
    pub title: String,
    pub version: String,
    pub effective: Option<String>,
    /// The product line; `None`: every product line (the policy has no product fact).
    pub product: Option<String>,
    pub system: System,
    pub code: String,
    /// The code's description in the release the policy's sets were expanded against; empty
    /// when the table has none (CPT's descriptors are licensed).
    pub description: String,
    pub requirement: Requirement,
    /// For `depends`: when it is required (`required when setting is inpatient`) or the facts
    /// it depends on (`depends on: setting, urgent`); else empty, or why the row could not be
    /// decided.
    pub condition: String,
    /// The rules whose results give the requirement: those that require prior authorization
    /// for `required` and `depends`, those that do not for `not-required`; `otherwise` for the
    /// decision's `otherwise`.
    pub rules: Vec<String>,
}

/// The prior-authorization list of a binding's CRD policies, descriptions read from `tables`.
pub fn prior_auth(binding: &Binding, tables: &TableSet) -> PriorAuthList {
    let mut policies: Vec<&PolicyBinding> = binding
        .crd_policies()
        .filter(|p| p.prior_auth().is_some())
        .collect();
    policies.sort_by(|a, b| a.policy_id().cmp(b.policy_id()));
    let mut list = PriorAuthList {
        policies: Vec::new(),
        rows: Vec::new(),
    };
    for policy in policies {
        let (info, rows) = policy_rows(policy, tables);
        list.policies.push(info);
        list.rows.extend(rows);
    }
    list
}

/// A fact of the order that holds its codes.
struct OrderFact<'a> {
    schema: &'a FactSchema,
    system: System,
}

/// One order, product line and code put to the decision.
struct Service<'a> {
    product: Option<(&'a str, &'a str)>,
    system: System,
    code: &'a str,
}

fn policy_rows(policy: &PolicyBinding, tables: &TableSet) -> (PolicyInfo, Vec<Row>) {
    let artifact = &policy.artifact;
    let doc = artifact.document();
    let product = policy
        .product_fact()
        .and_then(|f| doc.facts.get(f as usize))
        .filter(|f| f.ty == FactType::Enum);
    let info = PolicyInfo {
        id: doc.policy.id.clone(),
        title: doc.policy.title.clone(),
        version: doc.policy.version.clone(),
        effective: doc.policy.effective.clone(),
        products: product.map(|f| f.values.clone()).unwrap_or_default(),
    };
    let Some((decision, meaning)) = policy.prior_auth() else {
        return (info, Vec::new());
    };
    let Some(decision) = artifact.decisions().get(decision) else {
        return (info, Vec::new());
    };
    let order: Vec<OrderFact> = policy
        .order_facts()
        .into_iter()
        .filter_map(|f| doc.facts.get(f as usize))
        .filter(|f| matches!(f.ty, FactType::Code | FactType::Codes))
        .filter_map(|f| {
            Some(OrderFact {
                schema: f,
                system: System::parse(f.system.as_deref()?)?,
            })
        })
        .collect();
    let mut systems: Vec<System> = Vec::new();
    for f in &order {
        if !systems.contains(&f.system) {
            systems.push(f.system);
        }
    }
    // Every code of the sets of each system, sorted (a code in several sets once).
    let codes: Vec<(System, Vec<&str>)> = systems
        .iter()
        .map(|&system| {
            let mut codes: Vec<&str> = doc
                .code_sets
                .iter()
                .filter(|s| System::parse(&s.system) == Some(system))
                .flat_map(|s| s.codes.iter().map(String::as_str))
                .collect();
            codes.sort_unstable();
            codes.dedup();
            (system, codes)
        })
        .collect();
    let products: Vec<Option<(&str, &str)>> = match product {
        Some(f) => f
            .values
            .iter()
            .map(|v| Some((f.name.as_str(), v.as_str())))
            .collect(),
        None => vec![None],
    };
    let judge = Judge {
        decision,
        meaning: &meaning,
    };
    let mut rows = Vec::new();
    for product in products {
        for (system, codes) in &codes {
            for code in codes {
                let service = Service {
                    product,
                    system: *system,
                    code,
                };
                let (requirement, condition, rules) = match facts_of(policy, &order, &service) {
                    Ok(facts) => judge.row(&facts, doc),
                    Err(e) => (
                        Requirement::NotAddressed,
                        format!("the code cannot be evaluated: {e}"),
                        Vec::new(),
                    ),
                };
                rows.push(Row {
                    policy: info.id.clone(),
                    title: info.title.clone(),
                    version: info.version.clone(),
                    effective: info.effective.clone(),
                    product: product.map(|(_, v)| v.to_string()),
                    system: *system,
                    code: (*code).to_string(),
                    description: description(tables, doc, *system, code),
                    requirement,
                    condition,
                    rules,
                });
            }
        }
    }
    (info, rows)
}

/// The facts of an order of one code: the order's code facts of the code's system hold it,
/// its sets of another system are empty, the product fact holds the product line.
fn facts_of(
    policy: &PolicyBinding,
    order: &[OrderFact],
    service: &Service,
) -> Result<Facts, medpol_artifact::FactError> {
    let mut facts = Facts::new(&policy.artifact);
    if let Some((fact, value)) = service.product {
        facts.set_enum(fact, value)?;
    }
    for f in order {
        let name = f.schema.name.as_str();
        match (f.schema.ty, f.system == service.system) {
            (FactType::Codes, true) => facts.set_codes(name, [service.code])?,
            (FactType::Codes, false) => facts.set_codes(name, std::iter::empty::<&str>())?,
            (FactType::Code, true) => facts.set_code(name, service.code)?,
            // A code fact of another system: the order has no code of it, left missing.
            _ => {}
        }
    }
    Ok(facts)
}

/// The `pa-needed` decision and what each of its outcomes means.
struct Judge<'a> {
    decision: &'a medpol_artifact::Decision,
    meaning: &'a [Option<bool>],
}

impl Judge<'_> {
    /// What a leaf means: `Some(true)` prior authorization needed, `Some(false)` not,
    /// `None` not addressed (or no outcome).
    fn leaf(&self, leaf: u32) -> Option<bool> {
        let outcome = match self.decision.leaf(leaf) {
            Some(LeafDoc::Rule { outcome, .. } | LeafDoc::Otherwise { outcome }) => outcome,
            _ => return None,
        };
        let index = self
            .decision
            .document()
            .outcomes
            .iter()
            .position(|o| o == outcome)?;
        self.meaning.get(index).copied().flatten()
    }

    fn requirement(&self, e: &Evaluation) -> Requirement {
        let answers: Vec<Option<bool>> = e.leaves.iter().map(|&l| self.leaf(l)).collect();
        if answers.is_empty() {
            Requirement::NotAddressed
        } else if answers.iter().all(|a| *a == Some(true)) {
            Requirement::Required
        } else if answers.contains(&Some(true)) {
            Requirement::Depends
        } else if answers.iter().all(|a| *a == Some(false)) {
            Requirement::NotRequired
        } else {
            Requirement::NotAddressed
        }
    }

    /// The rules of the reachable leaves that give `answer` (all of them for `None`).
    fn rules(&self, e: &Evaluation, answer: Option<bool>) -> Vec<String> {
        let mut rules: Vec<String> = Vec::new();
        for &leaf in &e.leaves {
            if answer.is_some() && self.leaf(leaf) != answer {
                continue;
            }
            let name = match self.decision.leaf(leaf) {
                Some(LeafDoc::Rule { rule, .. }) => rule.as_str(),
                Some(LeafDoc::Otherwise { .. }) => "otherwise",
                _ => continue,
            };
            if !rules.iter().any(|r| r == name) {
                rules.push(name.to_string());
            }
        }
        rules
    }

    fn row(
        &self,
        facts: &Facts,
        doc: &medpol_artifact::Document,
    ) -> (Requirement, String, Vec<String>) {
        let e = self.decision.evaluate(facts);
        let requirement = self.requirement(&e);
        let rules = match requirement {
            Requirement::Required | Requirement::Depends => self.rules(&e, Some(true)),
            Requirement::NotRequired => self.rules(&e, Some(false)),
            Requirement::NotAddressed => self.rules(&e, None),
        };
        let condition = if requirement == Requirement::Depends {
            self.condition(facts, &e, doc)
        } else {
            String::new()
        };
        (requirement, condition, rules)
    }

    /// When a `depends` row is required: for the values of the one enum fact it depends on,
    /// else the facts it depends on.
    fn condition(&self, facts: &Facts, e: &Evaluation, doc: &medpol_artifact::Document) -> String {
        let needed: Vec<&FactSchema> = e
            .needed
            .iter()
            .filter_map(|&f| doc.facts.get(f as usize))
            .collect();
        let names = |fs: &[&FactSchema]| {
            fs.iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let all = format!("depends on: {}", names(&needed));
        let enums: Vec<&&FactSchema> = needed.iter().filter(|f| f.ty == FactType::Enum).collect();
        let [fact] = enums.as_slice() else {
            return all;
        };
        let mut required: Vec<&str> = Vec::new();
        let mut parts: Vec<String> = Vec::new();
        for value in &fact.values {
            let mut with = facts.clone();
            if with.set_enum(&fact.name, value).is_err() {
                return all;
            }
            let e = self.decision.evaluate(&with);
            match self.requirement(&e) {
                Requirement::Required => required.push(value),
                Requirement::Depends => {
                    let others: Vec<&FactSchema> = e
                        .needed
                        .iter()
                        .filter_map(|&f| doc.facts.get(f as usize))
                        .collect();
                    parts.push(format!(
                        "when {} is {value}, depends on: {}",
                        fact.name,
                        names(&others)
                    ));
                }
                Requirement::NotRequired | Requirement::NotAddressed => {}
            }
        }
        if !required.is_empty() {
            parts.insert(
                0,
                format!("required when {} is {}", fact.name, or_list(&required)),
            );
        }
        if parts.is_empty() {
            all
        } else {
            parts.join("; ")
        }
    }
}

/// `a`, `a or b`, `a, b or c`.
fn or_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// A code's description in the release the artifact's sets of its system were expanded
/// against (else the newest release of the system): the long one, else the short one; empty
/// when the table does not have the code.
fn description(
    tables: &TableSet,
    doc: &medpol_artifact::Document,
    system: System,
    code: &str,
) -> String {
    let table = doc
        .tables
        .iter()
        .find(|t| System::parse(&t.system) == Some(system))
        .and_then(|t| tables.get(&t.release))
        .or_else(|| tables.latest(system));
    let Some(entry) = table.and_then(|t| t.lookup(code)) else {
        return String::new();
    };
    let long = entry.long();
    if long.trim().is_empty() {
        entry.short().unwrap_or_default()
    } else {
        long
    }
}

#[cfg(test)]
mod tests {
    use super::or_list;

    #[test]
    fn values_are_joined_with_or() {
        assert_eq!(or_list(&[]), "");
        assert_eq!(or_list(&["inpatient"]), "inpatient");
        assert_eq!(or_list(&["a", "b"]), "a or b");
        assert_eq!(or_list(&["a", "b", "c"]), "a, b or c");
    }
}
