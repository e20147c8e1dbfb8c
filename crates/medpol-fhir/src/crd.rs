//! Da Vinci CRD (STU 2.2) coverage information from medpol decisions.
//!
//! For one order and one Coverage, each CRD policy of the binding is evaluated on the facts
//! read from the record; its `covered` decision's leaves, mapped through the binding, give
//! `covered` (one code when every leaf the facts leave open means the same, else
//! `conditional`), and its `pa-needed` decision `pa-needed` the same way. The facts a
//! conditional answer waits for become `info-needed`, a reason naming them and a DTR
//! questionnaire; documented facts a decided answer rests on become `doc-needed`. Several
//! policies answering for one order are joined into one extension per Coverage, the most
//! restrictive answer winning. [`violations`] checks an extension against CRD's invariants, and
//! the binding's check runs it on every combination of the decisions' results.

use std::collections::BTreeSet;

use medpol_artifact::date::Date;
use medpol_artifact::{Artifact, Evaluation, Facts, LeafDoc, Options, Unknown};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::binding::{
    Binding, Mapped, PolicyBinding, Problem, ProblemCode, Source, Unaddressed, Within,
};
use crate::extract::{self, Subject};
use crate::questionnaire;
use crate::record::Record;

pub const EXTENSION_URL: &str =
    "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information";

/// `covered`'s codes (CRD value set coverageInfo).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CoverageCode {
    Covered,
    Conditional,
    Indeterminate,
    NotCovered,
}

impl CoverageCode {
    pub const ALL: &'static [&'static str] =
        &["covered", "not-covered", "conditional", "indeterminate"];

    pub fn parse(code: &str) -> Option<CoverageCode> {
        Some(match code {
            "covered" => CoverageCode::Covered,
            "not-covered" => CoverageCode::NotCovered,
            "conditional" => CoverageCode::Conditional,
            "indeterminate" => CoverageCode::Indeterminate,
            _ => return None,
        })
    }

    pub fn code(self) -> &'static str {
        match self {
            CoverageCode::Covered => "covered",
            CoverageCode::NotCovered => "not-covered",
            CoverageCode::Conditional => "conditional",
            CoverageCode::Indeterminate => "indeterminate",
        }
    }
}

/// `pa-needed`'s codes (CRD value set coveragePaDetail), least restrictive first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PaCode {
    NoAuth,
    Satisfied,
    Conditional,
    Indeterminate,
    PerformPa,
    AuthNeeded,
}

impl PaCode {
    pub const ALL: &'static [&'static str] = &[
        "no-auth",
        "auth-needed",
        "satisfied",
        "performpa",
        "conditional",
        "indeterminate",
    ];

    pub fn parse(code: &str) -> Option<PaCode> {
        Some(match code {
            "no-auth" => PaCode::NoAuth,
            "auth-needed" => PaCode::AuthNeeded,
            "satisfied" => PaCode::Satisfied,
            "performpa" => PaCode::PerformPa,
            "conditional" => PaCode::Conditional,
            "indeterminate" => PaCode::Indeterminate,
            _ => return None,
        })
    }

    pub fn code(self) -> &'static str {
        match self {
            PaCode::NoAuth => "no-auth",
            PaCode::AuthNeeded => "auth-needed",
            PaCode::Satisfied => "satisfied",
            PaCode::PerformPa => "performpa",
            PaCode::Conditional => "conditional",
            PaCode::Indeterminate => "indeterminate",
        }
    }
}

/// What the service needs to answer: the date of the answer, its own address (for the
/// questionnaires' canonical URLs) and the hook call (for the assertion ids).
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub today: Date,
    pub base_url: &'a str,
    pub hook_instance: &'a str,
}

/// The answer for one order: a coverage-information extension per Coverage some policy
/// answers for (none when no policy addresses the order), and notes on what was left out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrderAnswer {
    pub extensions: Vec<Value>,
    pub notes: Vec<String>,
}

/// One policy's answer for one order and Coverage, before it is written as the extension.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Assessment {
    pub covered: Option<CoverageCode>,
    pub pa: Option<PaCode>,
    /// Facts conditional results wait for, by policy (policy id, fact names), with what each
    /// is in CRD's terms.
    pub waiting: Vec<(String, Vec<String>)>,
    pub info: BTreeSet<&'static str>,
    /// Documented facts decided results rest on.
    pub documentation: Vec<String>,
    pub clinical: bool,
    pub reasons: Vec<String>,
    pub questionnaires: Vec<String>,
    pub billing: Vec<(String, String)>,
    pub expiry: Option<Date>,
}

/// Answers one order: for each active Coverage of the record, every CRD policy of the binding.
pub fn answer(binding: &Binding, record: &Record, order: &Value, ctx: &Context<'_>) -> OrderAnswer {
    let mut out = OrderAnswer::default();
    let coverages: Vec<&Value> = record
        .get(crate::binding::Query::Coverage)
        .unwrap_or(&[])
        .iter()
        .filter(|c| {
            c.get("status")
                .and_then(Value::as_str)
                .is_none_or(|s| s == "active")
        })
        .collect();
    let orders = [order];
    for coverage in coverages {
        let subject = Subject {
            orders: &orders,
            coverage: Some(coverage),
            today: ctx.today,
        };
        let mut joined: Option<Assessment> = None;
        for policy in binding.crd_policies() {
            let extracted = extract::facts(policy, record, &subject);
            out.notes.extend(
                extracted
                    .notes
                    .iter()
                    .map(|n| format!("{}: {n}", policy.policy_id())),
            );
            let Some(a) = assess(policy, &extracted.facts, order, ctx, &binding.unaddressed) else {
                continue;
            };
            joined = Some(match joined {
                None => a,
                Some(j) => join(j, a),
            });
        }
        // CRD's primary hooks answer every order: one no policy addresses gets the binding's
        // answer for that, with the reason.
        let joined = joined.or_else(|| {
            Some(Assessment {
                covered: Some(binding.unaddressed.covered),
                pa: binding.unaddressed.pa_needed,
                reasons: vec!["no coverage policy of this service addresses this order".into()],
                ..Assessment::default()
            })
        });
        if let Some(a) = joined {
            let id = assertion_id(ctx.hook_instance, order, coverage);
            out.extensions
                .push(extension(&a, coverage_reference(coverage), ctx.today, &id));
        }
    }
    out
}

fn coverage_reference(coverage: &Value) -> Value {
    match coverage.get("id").and_then(Value::as_str) {
        Some(id) => json!({"reference": format!("Coverage/{id}")}),
        None => json!({"display": "the patient's active coverage"}),
    }
}

/// A trace id unique to the call, the order and the Coverage, the same when the call is
/// replayed.
fn assertion_id(hook_instance: &str, order: &Value, coverage: &Value) -> String {
    let mut h = Sha256::new();
    for part in [
        hook_instance,
        order
            .get("resourceType")
            .and_then(Value::as_str)
            .unwrap_or(""),
        order.get("id").and_then(Value::as_str).unwrap_or(""),
        coverage.get("id").and_then(Value::as_str).unwrap_or(""),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What one decision's evaluation means through its mapping: one code, conditional (several),
/// not addressed (`None`), or no outcome at all (`Err`).
enum Meaning<C> {
    One(C),
    Several,
    NotAddressed,
    NoOutcome,
}

fn meaning<C: Copy + PartialEq>(
    artifact: &Artifact,
    mapped: &Mapped<C>,
    e: &Evaluation,
) -> Meaning<C> {
    let mut seen: Vec<Option<C>> = Vec::new();
    for &leaf in &e.leaves {
        match mapped.leaf(artifact, leaf) {
            Ok(c) => {
                if !seen.contains(&c) {
                    seen.push(c);
                }
            }
            Err(()) => {
                if e.is_decided() {
                    return Meaning::NoOutcome;
                }
                return Meaning::Several;
            }
        }
    }
    match seen.as_slice() {
        [Some(c)] => Meaning::One(*c),
        [None] | [] => Meaning::NotAddressed,
        _ => Meaning::Several,
    }
}

/// One policy's answer, or `None` when it does not address the order.
pub(crate) fn assess(
    policy: &PolicyBinding,
    facts_json: &serde_json::Map<String, Value>,
    order: &Value,
    ctx: &Context<'_>,
    unaddressed: &Unaddressed,
) -> Option<Assessment> {
    let crd = policy.crd.as_ref()?;
    let artifact = &policy.artifact;
    let id = artifact.policy_id().to_string();
    let mut facts = Facts::with_options(
        artifact,
        Options {
            unknown: Unknown::Reject,
            ..Options::default()
        },
    );
    let mut a = Assessment::default();
    if let Err(e) = facts.read_value(&Value::Object(facts_json.clone())) {
        a.covered = Some(CoverageCode::Indeterminate);
        a.reasons.push(format!(
            "{id}: the record's facts cannot be read: {}",
            e.message
        ));
        return Some(a);
    }
    let covered_decision = artifact.decisions().get(crd.covered.decision)?;
    let covered_eval = covered_decision.evaluate(&facts);
    let mut evaluations = vec![(crd.covered.decision, covered_eval.clone())];
    let mut covered_addressed = true;
    a.covered = Some(match meaning(artifact, &crd.covered, &covered_eval) {
        Meaning::NotAddressed => {
            covered_addressed = false;
            unaddressed.covered
        }
        Meaning::One(c) => c,
        Meaning::Several => CoverageCode::Conditional,
        Meaning::NoOutcome => {
            a.reasons.push(format!(
                "{id}: no rule of decision `{}` decides this order",
                covered_decision.name()
            ));
            CoverageCode::Indeterminate
        }
    });
    if let Some(pa) = &crd.pa_needed
        && let Some(decision) = artifact.decisions().get(pa.decision)
    {
        {
            let e = decision.evaluate(&facts);
            a.pa = match meaning(artifact, pa, &e) {
                Meaning::NotAddressed => None,
                Meaning::One(c) => Some(c),
                Meaning::Several => Some(PaCode::Conditional),
                Meaning::NoOutcome => {
                    a.reasons.push(format!(
                        "{id}: no rule of decision `{}` decides this order",
                        decision.name()
                    ));
                    Some(PaCode::Indeterminate)
                }
            };
            evaluations.push((pa.decision, e));
        }
    }
    // A policy that answers neither element does not address the order; one that answers
    // only `pa-needed` leaves `covered` to the binding's answer for unaddressed orders.
    if !covered_addressed {
        a.pa?;
        a.reasons.push(format!(
            "{id} {}: this service does not answer whether this order is covered",
            covered_decision.name()
        ));
    }
    // What each result rests on: the rule that decides, the facts it waits for.
    let mut needed: BTreeSet<u32> = BTreeSet::new();
    let mut rested: BTreeSet<u32> = BTreeSet::new();
    let conditional = [
        a.covered == Some(CoverageCode::Conditional),
        a.pa == Some(PaCode::Conditional),
    ];
    for ((index, e), is_conditional) in evaluations.iter().zip(conditional) {
        let Some(decision) = artifact.decisions().get(*index) else {
            continue;
        };
        if is_conditional {
            needed.extend(e.needed.iter().copied());
        } else {
            rested.extend(e.path.iter().map(|s| s.fact));
            rested.extend(e.tested.iter().copied());
            if let [leaf] = e.leaves.as_slice()
                && let Some(text) = leaf_text(decision, *leaf)
            {
                a.reasons.push(format!("{id} {}: {text}", decision.name()));
            }
        }
    }
    if !needed.is_empty() || conditional.iter().any(|c| *c) {
        let names: Vec<String> = artifact
            .fact_names(&needed.iter().copied().collect::<Vec<_>>())
            .into_iter()
            .map(str::to_string)
            .collect();
        for &f in &needed {
            a.info.insert(info_code(policy, f));
            // Only what a clinician or the back office can answer is asked in a questionnaire;
            // an order's code or date is the order's to change.
            if !matches!(
                policy.source(f),
                Some(Source::Order { .. } | Source::ServiceDate)
            ) {
                a.clinical = true;
            }
        }
        if a.info.is_empty() {
            a.info.insert("OTH");
        }
        let asked: Vec<u32> = needed
            .iter()
            .copied()
            .filter(|&f| {
                !matches!(
                    policy.source(f),
                    Some(Source::Order { .. } | Source::ServiceDate)
                )
            })
            .collect();
        if !asked.is_empty() {
            a.questionnaires.push(questionnaire::canonical(
                &policy.artifact,
                &asked,
                ctx.base_url,
            ));
        }
        a.waiting.push((id.clone(), names));
    }
    let documented: Vec<String> = artifact
        .documentation_needed(rested.iter().copied())
        .into_iter()
        .map(str::to_string)
        .collect();
    if !documented.is_empty() && a.covered != Some(CoverageCode::NotCovered) {
        a.documentation = documented;
    }
    a.billing = billing_codes(policy, order);
    a.expiry = match crd.expires_after {
        Some(Within::Days(n)) => Date::from_days(ctx.today.days() + n),
        Some(Within::Months(n)) => ctx.today.add_months(n),
        None => artifact
            .document()
            .policy
            .ends
            .as_deref()
            .and_then(Date::parse),
    };
    Some(a)
}

fn leaf_text(decision: &medpol_artifact::Decision, leaf: u32) -> Option<String> {
    let text = decision
        .document()
        .source_map
        .leaves
        .get(leaf as usize)
        .map(|l| l.text.trim().to_string())
        .filter(|t| !t.is_empty());
    let name = match decision.leaf(leaf)? {
        LeafDoc::Rule { rule, .. } => format!("rule `{rule}`"),
        LeafDoc::Otherwise { outcome } => format!("otherwise `{outcome}`"),
        _ => return None,
    };
    // The source line names the rule and quotes its text; without one, the rule's name.
    Some(match text {
        Some(t) => crate::shown_long(&t),
        None => name,
    })
}

/// CRD's name for what a missing fact is.
fn info_code(policy: &PolicyBinding, fact: u32) -> &'static str {
    match policy.source(fact) {
        Some(Source::Order { .. }) => "detail-code",
        Some(Source::ServiceDate) => "timeframe",
        Some(Source::EncounterClass { .. }) => "location",
        _ => "OTH",
    }
}

/// The order's codes the policy's code sets hold: the codes its answer is for.
fn billing_codes(policy: &PolicyBinding, order: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let sets = &policy.artifact.document().code_sets;
    for concept in extract::order_concepts(order) {
        for coding in concept
            .get("coding")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (Some(system), Some(code)) = (
                coding.get("system").and_then(Value::as_str),
                coding.get("code").and_then(Value::as_str),
            ) else {
                continue;
            };
            let Some(sys) = crate::system_of_uri(system) else {
                continue;
            };
            let held = sets.iter().any(|s| {
                s.system == sys.name() && s.codes.binary_search_by(|c| c.as_str().cmp(code)).is_ok()
            });
            let pair = (crate::system_uri(sys).to_string(), code.to_string());
            if held && !out.contains(&pair) {
                out.push(pair);
            }
        }
    }
    out
}

/// Two policies' answers for one order and Coverage: the more restrictive of each element.
fn join(mut a: Assessment, b: Assessment) -> Assessment {
    a.covered = a.covered.max(b.covered);
    a.pa = a.pa.max(b.pa);
    a.waiting.extend(b.waiting);
    a.info.extend(b.info);
    for d in b.documentation {
        if !a.documentation.contains(&d) {
            a.documentation.push(d);
        }
    }
    a.clinical |= b.clinical;
    a.reasons.extend(b.reasons);
    a.questionnaires.extend(b.questionnaires);
    for p in b.billing {
        if !a.billing.contains(&p) {
            a.billing.push(p);
        }
    }
    a.expiry = match (a.expiry, b.expiry) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    };
    a
}

fn sub(url: &str, key: &str, value: Value) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("url".into(), Value::String(url.into()));
    m.insert(key.into(), value);
    Value::Object(m)
}

/// The coverage-information extension of an assessment; its elements are made consistent here
/// (no `pa-needed` beside `not-covered`, `info-needed` exactly when something is conditional),
/// which the binding's check proves for every path of the decisions.
pub(crate) fn extension(a: &Assessment, coverage: Value, today: Date, assertion_id: &str) -> Value {
    let covered = a.covered.unwrap_or(CoverageCode::Indeterminate);
    let not_covered = covered == CoverageCode::NotCovered;
    let pa = if not_covered { None } else { a.pa };
    let conditional = covered == CoverageCode::Conditional || pa == Some(PaCode::Conditional);
    let mut ext = vec![
        sub("coverage", "valueReference", coverage),
        sub("covered", "valueCode", json!(covered.code())),
    ];
    if let Some(pa) = pa {
        ext.push(sub("pa-needed", "valueCode", json!(pa.code())));
    }
    let mut reasons: Vec<String> = a.reasons.clone();
    let asking = conditional && !a.questionnaires.is_empty();
    let documenting = !not_covered && !a.documentation.is_empty();
    if asking {
        ext.push(sub(
            "doc-needed",
            "valueCode",
            json!(if a.clinical { "clinical" } else { "admin" }),
        ));
    } else if documenting {
        ext.push(sub("doc-needed", "valueCode", json!("clinical")));
    }
    if documenting {
        let purpose = if matches!(pa, Some(PaCode::AuthNeeded | PaCode::PerformPa)) {
            "withpa"
        } else {
            "withclaim"
        };
        ext.push(sub("doc-purpose", "valueCode", json!(purpose)));
        reasons.push(format!(
            "documentation in the record must support: {}",
            a.documentation.join(", ")
        ));
    }
    if conditional {
        let info: BTreeSet<&str> = if a.info.is_empty() {
            BTreeSet::from(["OTH"])
        } else {
            a.info.clone()
        };
        for code in info {
            ext.push(sub("info-needed", "valueCode", json!(code)));
        }
        for (policy, names) in &a.waiting {
            if names.is_empty() {
                reasons.push(format!(
                    "{policy}: the answer depends on the order's details"
                ));
            } else {
                reasons.push(format!("{policy} needs: {}", names.join(", ")));
            }
        }
        if a.waiting.is_empty() {
            reasons.push("the answer depends on information not yet given".into());
        }
    }
    if (covered == CoverageCode::Indeterminate || pa == Some(PaCode::Indeterminate))
        && reasons.is_empty()
    {
        reasons.push("the payer's rules could not be evaluated for this order".into());
    }
    for (system, code) in &a.billing {
        ext.push(sub(
            "billingCode",
            "valueCoding",
            json!({"system": system, "code": code}),
        ));
    }
    for r in reasons {
        ext.push(sub(
            "reason",
            "valueCodeableConcept",
            json!({"text": crate::shown_long(&r)}),
        ));
    }
    if asking {
        for q in &a.questionnaires {
            ext.push(sub("questionnaire", "valueCanonical", json!(q)));
        }
    }
    ext.push(sub("date", "valueDate", json!(today.to_string())));
    ext.push(sub(
        "coverage-assertion-id",
        "valueString",
        json!(assertion_id),
    ));
    if let Some(expiry) = a.expiry {
        ext.push(sub("expiry-date", "valueDate", json!(expiry.to_string())));
    }
    json!({"url": EXTENSION_URL, "extension": ext})
}

// ------------------------------------------------------------------ invariants

/// The invariants (crd-ci-q1 to q9 of CRD 2.2.1) and cardinalities a coverage-information
/// extension breaks, each as `q3: ...`; empty when it is valid.
pub fn violations(extension: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if extension.get("url").and_then(Value::as_str) != Some(EXTENSION_URL) {
        out.push("the extension's url is not CRD's coverage-information".to_string());
    }
    let subs: Vec<&Value> = extension
        .get("extension")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let of = |name: &str| -> Vec<&Value> {
        subs.iter()
            .filter(|s| s.get("url").and_then(Value::as_str) == Some(name))
            .copied()
            .collect()
    };
    let code = |s: &Value| {
        s.get("valueCode")
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let codes = |name: &str| -> Vec<String> { of(name).into_iter().filter_map(code).collect() };
    const ELEMENTS: &[(&str, usize, usize, &str, &[&str])] = &[
        ("coverage", 1, 1, "valueReference", &[]),
        ("covered", 1, 1, "valueCode", CoverageCode::ALL),
        ("pa-needed", 0, 1, "valueCode", PaCode::ALL),
        (
            "doc-needed",
            0,
            usize::MAX,
            "valueCode",
            &[
                "clinical",
                "admin",
                "patient",
                "conditional",
                "indeterminate",
            ],
        ),
        (
            "doc-purpose",
            0,
            usize::MAX,
            "valueCode",
            &["withpa", "withclaim", "withorder", "retain-doc", "OTH"],
        ),
        (
            "info-needed",
            0,
            usize::MAX,
            "valueCode",
            &[
                "performer",
                "location",
                "timeframe",
                "contract-window",
                "detail-code",
                "OTH",
            ],
        ),
        ("billingCode", 0, usize::MAX, "valueCoding", &[]),
        ("reason", 0, usize::MAX, "valueCodeableConcept", &[]),
        ("detail", 0, usize::MAX, "", &[]),
        ("dependency", 0, usize::MAX, "valueReference", &[]),
        ("questionnaire", 0, usize::MAX, "valueCanonical", &[]),
        ("date", 1, 1, "valueDate", &[]),
        ("coverage-assertion-id", 1, 1, "valueString", &[]),
        ("satisfied-pa-id", 0, 1, "valueString", &[]),
        ("contact", 0, usize::MAX, "valueContactDetail", &[]),
        ("expiry-date", 0, 1, "valueDate", &[]),
    ];
    for s in &subs {
        let url = s.get("url").and_then(Value::as_str).unwrap_or("");
        if !ELEMENTS.iter().any(|(n, ..)| *n == url) {
            out.push(format!(
                "`{}` is not an element of coverage-information",
                crate::shown(url)
            ));
        }
    }
    for (name, min, max, value, allowed) in ELEMENTS {
        let found = of(name);
        if found.len() < *min || found.len() > *max {
            out.push(format!(
                "`{name}` appears {} times, and must appear {}",
                found.len(),
                if min == max {
                    format!("{min} time")
                } else if *max == usize::MAX {
                    format!("at least {min} times")
                } else {
                    format!("{min} to {max} times")
                }
            ));
        }
        for s in found {
            if !value.is_empty() && s.get(*value).is_none() {
                out.push(format!("`{name}` has no `{value}`"));
            }
            if !allowed.is_empty() && code(s).is_none_or(|c| !allowed.contains(&c.as_str())) {
                out.push(format!(
                    "`{name}` has a code outside its required value set"
                ));
            }
        }
    }
    let covered = codes("covered");
    let pa = codes("pa-needed");
    let doc = codes("doc-needed");
    let purposes = codes("doc-purpose");
    let info = codes("info-needed");
    let has = |name: &str| !of(name).is_empty();
    if has("questionnaire") && !has("doc-needed") {
        out.push("q1: a questionnaire is only allowed when doc-needed exists".into());
    }
    if covered.iter().any(|c| c == "not-covered") && has("pa-needed") {
        out.push("q2: pa-needed must not exist when covered is not-covered".into());
    }
    let any_conditional = covered
        .iter()
        .chain(&pa)
        .chain(&doc)
        .any(|c| c == "conditional");
    if any_conditional != has("info-needed") {
        out.push(
            "q3: info-needed exists if and only if covered, pa-needed or doc-needed is conditional"
                .into(),
        );
    }
    // The expression of 2.2.1 writes `noauth`; the code is `no-auth` (its description's intent).
    if pa
        .iter()
        .any(|c| matches!(c.as_str(), "satisfied" | "no-auth" | "not-covered"))
        && purposes.iter().any(|p| p == "withpa")
    {
        out.push("q4: doc-purpose cannot be withpa when pa-needed is satisfied or no-auth".into());
    }
    if pa.iter().any(|c| c == "satisfied") != has("satisfied-pa-id") {
        out.push("q5: satisfied-pa-id exists if and only if pa-needed is satisfied".into());
    }
    if info.iter().any(|c| c == "OTH") && !has("reason") {
        out.push("q6: info-needed OTH needs a reason".into());
    }
    for r in of("reason") {
        let text = r
            .get("valueCodeableConcept")
            .and_then(|c| c.get("text"))
            .and_then(Value::as_str)
            .is_some_and(|t| !t.is_empty());
        if !text {
            out.push(
                "q7: a reason without text must be coded from CRD's coverageAssertionReasons"
                    .into(),
            );
        }
    }
    if purposes.iter().any(|p| p != "conditional") && !has("reason") {
        out.push("q8: doc-purpose needs a reason".into());
    }
    if covered
        .iter()
        .chain(&pa)
        .chain(&doc)
        .any(|c| c == "indeterminate")
        && !has("reason")
    {
        out.push("q9: indeterminate needs a reason".into());
    }
    out
}

/// Every combination of results a CRD policy's decisions can give, written as the extension
/// and checked: the build's proof that no patient gets an invalid answer.
pub(crate) fn check_paths(policy: &PolicyBinding, unaddressed: &Unaddressed) -> Vec<Problem> {
    let Some(crd) = &policy.crd else {
        return Vec::new();
    };
    let artifact = &policy.artifact;
    let results = |decision: usize,
                   map: &dyn Fn(u32) -> Result<Option<u8>, ()>|
     -> Vec<(Option<u8>, String)> {
        let Some(d) = artifact.decisions().get(decision) else {
            return Vec::new();
        };
        let mut out: Vec<(Option<u8>, String)> = Vec::new();
        for leaf in 0..d.document().leaves.len() as u32 {
            let described = match d.leaf(leaf) {
                Some(LeafDoc::Rule { outcome, .. } | LeafDoc::Otherwise { outcome }) => {
                    format!("`{outcome}`")
                }
                _ => "no outcome".to_string(),
            };
            let m = map(leaf).unwrap_or(Some(u8::MAX));
            if !out.iter().any(|(c, _)| *c == m) {
                out.push((m, described));
            }
        }
        out
    };
    let cov_map = |leaf: u32| crd.covered.leaf(artifact, leaf).map(|c| c.map(|c| c as u8));
    let mut covered = results(crd.covered.decision, &cov_map);
    if covered.len() > 1 {
        covered.push((
            Some(CoverageCode::Conditional as u8),
            "facts still missing".into(),
        ));
    }
    let mut pas: Vec<(Option<u8>, String)> = vec![(None, "no pa-needed".into())];
    if let Some(pa) = &crd.pa_needed {
        let pa_map = |leaf: u32| pa.leaf(artifact, leaf).map(|c| c.map(|c| c as u8));
        let r = results(pa.decision, &pa_map);
        if r.len() > 1 {
            pas.push((
                Some(PaCode::Conditional as u8),
                "facts still missing".into(),
            ));
        }
        pas.extend(r);
    }
    let documented = artifact.document().facts.iter().any(|f| f.documentation);
    let covered_codes = [
        CoverageCode::Covered,
        CoverageCode::Conditional,
        CoverageCode::Indeterminate,
        CoverageCode::NotCovered,
    ];
    let pa_codes = [
        PaCode::NoAuth,
        PaCode::Satisfied,
        PaCode::Conditional,
        PaCode::Indeterminate,
        PaCode::PerformPa,
        PaCode::AuthNeeded,
    ];
    let mut problems = Vec::new();
    let id = artifact.policy_id();
    for (c, c_text) in &covered {
        // An outcome the service does not answer takes the binding's answer for those.
        let c = c.unwrap_or(unaddressed.covered as u8);
        let cov = covered_codes
            .get(c as usize)
            .copied()
            .unwrap_or(CoverageCode::Indeterminate);
        for (p, p_text) in &pas {
            let pa = p.map(|p| {
                pa_codes
                    .get(p as usize)
                    .copied()
                    .unwrap_or(PaCode::Indeterminate)
            });
            for doc in [false, true].into_iter().filter(|d| !*d || documented) {
                let conditional =
                    cov == CoverageCode::Conditional || pa == Some(PaCode::Conditional);
                let a = Assessment {
                    covered: Some(cov),
                    pa,
                    waiting: if conditional {
                        vec![(id.to_string(), Vec::new())]
                    } else {
                        Vec::new()
                    },
                    info: BTreeSet::new(),
                    documentation: if doc {
                        vec!["documented".into()]
                    } else {
                        Vec::new()
                    },
                    clinical: conditional,
                    reasons: Vec::new(),
                    questionnaires: if conditional {
                        vec!["urn:check".into()]
                    } else {
                        Vec::new()
                    },
                    billing: Vec::new(),
                    expiry: None,
                };
                let Some(today) = Date::parse("2000-01-01") else {
                    continue;
                };
                let ext = extension(&a, json!({"reference": "Coverage/check"}), today, "check");
                for v in violations(&ext) {
                    problems.push(Problem {
                        code: ProblemCode::CoverageInformationInvalid,
                        path: vec!["policies".into(), id.to_string(), "crd".into()],
                        message: format!(
                            "covered from {c_text} ({}) with {p_text}{} gives an invalid coverage-information: {v}",
                            cov.code(),
                            pa.map(|p| format!(" ({})", p.code())).unwrap_or_default(),
                        ),
                        help: Some(match pa {
                            Some(PaCode::Satisfied) => "`satisfied` needs the id of the prior authorization that satisfies it, which a policy's decision does not know; map the outcome to `no-auth` or `auth-needed`".into(),
                            _ => "map the outcome to another code".into(),
                        }),
                    });
                }
            }
        }
    }
    problems.sort_by(|a, b| a.message.cmp(&b.message));
    problems.dedup_by(|a, b| a.message == b.message);
    problems
}
