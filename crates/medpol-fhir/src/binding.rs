//! The binding: where each fact of a project's policies comes from in FHIR R4, and how each
//! policy's decisions answer CRD. Read from `fhir.yaml` ([`parse`]), checked against the
//! artifacts ([`check`]); `docs/crd.md` documents the format.

use std::collections::{BTreeMap, BTreeSet};

use medpol_artifact::codes::{CodeForm, CodeItem, System, parse_code};
use medpol_artifact::ucum::Ucum;
use medpol_artifact::{Artifact, FactSchema, FactType, LeafDoc};
use serde::Deserialize;

use crate::crd::{CoverageCode, PaCode};
use crate::{shown, system_of_uri, system_uri};

/// A binding file is at most this long (docs/limits.md).
pub const MAX_BINDING: usize = 1 << 20;

// ------------------------------------------------------------------ the file

/// `fhir.yaml` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBinding {
    /// Sources by fact name, for every policy with a fact of that name.
    #[serde(default)]
    pub facts: BTreeMap<String, RawSource>,
    /// Per policy id: sources that replace the project's for that policy, and its CRD mapping.
    #[serde(default)]
    pub policies: BTreeMap<String, RawPolicy>,
    /// What the CRD service answers for an order no policy addresses.
    #[serde(default)]
    pub unaddressed: Option<RawUnaddressed>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawUnaddressed {
    pub covered: String,
    pub pa_needed: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    #[serde(default)]
    pub facts: BTreeMap<String, RawSource>,
    /// How the policy's decisions answer CRD; a policy without it is not used by the service.
    #[serde(default)]
    pub crd: Option<RawCrd>,
}

/// One source: exactly one of its keys.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawSource {
    pub condition: Option<RawCodes>,
    pub procedure: Option<RawCodes>,
    pub order: Option<RawCodes>,
    pub observation: Option<RawObservation>,
    pub coverage: Option<RawValues>,
    pub encounter_class: Option<RawValues>,
    pub birth_date: Option<RawEmpty>,
    pub service_date: Option<RawEmpty>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawCodes {
    pub system: String,
    /// For a bool fact: the codes whose presence makes it true (codes, `M80.-` patterns).
    #[serde(default)]
    pub codes: Vec<String>,
    pub clinical_status: Option<Vec<String>>,
    pub verification_status: Option<Vec<String>>,
    pub status: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawObservation {
    /// `system|code`, one or several (`http://loinc.org|38267-1`).
    pub code: OneOrMany,
    /// The UCUM unit the observations are recorded in, when the fact has a unit or is a
    /// plain number read from a Quantity (`kg/m2`, `1`).
    pub unit: Option<String>,
    /// Only observations this recent at the date of service: `24 months`, `90 days`.
    pub within: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl Default for OneOrMany {
    fn default() -> Self {
        OneOrMany::Many(Vec::new())
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawValues {
    /// For Coverage: the `Coverage.class` type whose value names the product (`plan`); without
    /// it, `Coverage.type`'s codes do.
    pub class: Option<String>,
    /// Enum value → the FHIR codes or class values that mean it.
    pub values: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEmpty {}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawCrd {
    pub covered: RawMapped,
    pub pa_needed: Option<RawMapped>,
    /// How long an answer holds: `expiry-date` is the answer's date plus this (`30 days`).
    pub expires_after: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMapped {
    pub decision: String,
    /// Outcome → CRD code, or `not-addressed` when the policy does not answer for that outcome.
    pub outcomes: BTreeMap<String, String>,
}

/// Reads `fhir.yaml`'s text. A problem here is the whole file's (`path` is empty or names the
/// place the YAML reader gave).
pub fn parse(text: &str) -> Result<RawBinding, Problem> {
    if text.len() > MAX_BINDING {
        return Err(Problem::new(
            ProblemCode::InvalidBinding,
            Vec::new(),
            format!(
                "the binding is {} bytes, past the limit of {MAX_BINDING}",
                text.len()
            ),
        ));
    }
    serde_saphyr::from_str::<Option<RawBinding>>(text)
        .map(Option::unwrap_or_default)
        .map_err(|e| {
            Problem::new(
                ProblemCode::InvalidBinding,
                Vec::new(),
                format!(
                    "the binding cannot be read: {}",
                    medpol_artifact::yaml_message(&e)
                ),
            )
        })
}

// ------------------------------------------------------------------ problems

/// What is wrong with a binding; the compiler shows each as a diagnostic of its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProblemCode {
    /// E0501: the file cannot be read, or a source is malformed.
    InvalidBinding,
    /// E0502: a fact or policy the artifacts do not have.
    UnknownBinding,
    /// E0503: a source that cannot give a value of the fact's type.
    BindingType,
    /// E0504: a unit that does not convert to the fact's unit.
    BindingUnit,
    /// E0505: a code system URI that is not one of the FHIR URIs, or of another system.
    BindingCodeSystem,
    /// E0506: an enum value the fact does not have, or a value left unmapped.
    BindingEnumValue,
    /// E0507: a CRD mapping that names an unknown decision, outcome or code, or leaves an
    /// outcome out.
    CrdMapping,
    /// E0508: a path of a decision whose answer breaks one of CRD's invariants.
    CoverageInformationInvalid,
    /// W0509: a fact a CRD policy reads that no source gives: it is always asked for.
    UnboundFact,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub code: ProblemCode,
    /// The keys leading to the place in the file (`["policies", "bcbsma-484", "crd"]`).
    pub path: Vec<String>,
    pub message: String,
    pub help: Option<String>,
}

impl Problem {
    fn new(code: ProblemCode, path: Vec<String>, message: String) -> Problem {
        Problem {
            code,
            path,
            message,
            help: None,
        }
    }

    fn help(mut self, help: impl Into<String>) -> Problem {
        self.help = Some(help.into());
        self
    }
}

// ------------------------------------------------------------------ the checked binding

/// A binding checked against the artifacts: every source gives a value of its fact's type,
/// every CRD mapping covers every outcome.
#[derive(Debug, Clone)]
pub struct Binding {
    policies: Vec<PolicyBinding>,
    pub(crate) unaddressed: Unaddressed,
}

/// The answer for an order no CRD policy addresses (CRD's primary hooks answer every order):
/// by default `indeterminate`, with the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unaddressed {
    pub covered: CoverageCode,
    pub pa_needed: Option<PaCode>,
}

impl Default for Unaddressed {
    fn default() -> Self {
        Unaddressed {
            covered: CoverageCode::Indeterminate,
            pa_needed: None,
        }
    }
}

/// One policy: its artifact, a source per fact (or none), and its CRD mapping.
#[derive(Debug, Clone)]
pub struct PolicyBinding {
    pub artifact: Artifact,
    /// Parallel to the artifact's facts.
    pub(crate) sources: Vec<Option<Source>>,
    pub(crate) crd: Option<CrdMap>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    Condition {
        system: System,
        codes: Vec<CodeItem>,
        clinical: Vec<String>,
        verification: Vec<String>,
    },
    Procedure {
        system: System,
        codes: Vec<CodeItem>,
        status: Vec<String>,
    },
    Order {
        system: System,
        codes: Vec<CodeItem>,
    },
    Observation {
        codes: Vec<(String, String)>,
        /// The UCUM unit the values are read in; `None` for a bool or a date.
        unit: Option<String>,
        within: Option<Within>,
    },
    Coverage {
        class: Option<String>,
        values: Vec<(String, Vec<String>)>,
    },
    EncounterClass {
        values: Vec<(String, Vec<String>)>,
    },
    BirthDate,
    ServiceDate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Within {
    Days(i64),
    Months(i64),
}

/// Which query of the record a source reads (a prefetch key of the CDS Hooks service).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Query {
    Patient,
    Encounter,
    Coverage,
    Conditions,
    Observations,
    Procedures,
}

impl Query {
    pub const ALL: [Query; 6] = [
        Query::Patient,
        Query::Encounter,
        Query::Coverage,
        Query::Conditions,
        Query::Observations,
        Query::Procedures,
    ];

    /// The prefetch key.
    pub fn key(self) -> &'static str {
        match self {
            Query::Patient => "patient",
            Query::Encounter => "encounter",
            Query::Coverage => "coverage",
            Query::Conditions => "conditions",
            Query::Observations => "observations",
            Query::Procedures => "procedures",
        }
    }

    pub fn from_key(key: &str) -> Option<Query> {
        Query::ALL.into_iter().find(|q| q.key() == key)
    }
}

impl Source {
    /// The query whose result the source reads; `None` for the order itself.
    pub(crate) fn query(&self) -> Option<Query> {
        match self {
            Source::Condition { .. } => Some(Query::Conditions),
            Source::Procedure { .. } => Some(Query::Procedures),
            Source::Observation { .. } => Some(Query::Observations),
            Source::Coverage { .. } => Some(Query::Coverage),
            Source::EncounterClass { .. } => Some(Query::Encounter),
            Source::BirthDate => Some(Query::Patient),
            Source::Order { .. } | Source::ServiceDate => None,
        }
    }
}

/// How a policy's decisions answer CRD.
#[derive(Debug, Clone)]
pub(crate) struct CrdMap {
    pub covered: Mapped<CoverageCode>,
    pub pa_needed: Option<Mapped<PaCode>>,
    /// Days an answer holds.
    pub expires_after: Option<Within>,
}

/// A decision and, parallel to its outcomes, what each means (`None`: not addressed).
#[derive(Debug, Clone)]
pub(crate) struct Mapped<C> {
    pub decision: usize,
    pub outcomes: Vec<Option<C>>,
}

impl<C: Copy> Mapped<C> {
    /// What a leaf means: its outcome's code; a leaf without an outcome (no rule, a conflict)
    /// is `Err(())`, which the answer calls indeterminate.
    pub(crate) fn leaf(&self, artifact: &Artifact, leaf: u32) -> Result<Option<C>, ()> {
        let decision = artifact.decisions().get(self.decision).ok_or(())?;
        let outcome = match decision.leaf(leaf) {
            Some(LeafDoc::Rule { outcome, .. } | LeafDoc::Otherwise { outcome }) => outcome,
            _ => return Err(()),
        };
        let index = decision
            .document()
            .outcomes
            .iter()
            .position(|o| o == outcome)
            .ok_or(())?;
        self.outcomes.get(index).copied().ok_or(())
    }
}

impl Binding {
    pub fn policies(&self) -> &[PolicyBinding] {
        &self.policies
    }

    pub fn policy(&self, id: &str) -> Option<&PolicyBinding> {
        self.policies.iter().find(|p| p.artifact.policy_id() == id)
    }

    /// The policies the CRD service answers with (those with a `crd` mapping).
    pub fn crd_policies(&self) -> impl Iterator<Item = &PolicyBinding> {
        self.policies.iter().filter(|p| p.crd.is_some())
    }

    /// The queries the CRD policies' sources read, always with the Coverage (CRD's answer
    /// names it).
    pub fn queries(&self) -> BTreeSet<Query> {
        let mut out = BTreeSet::from([Query::Coverage]);
        for p in self.crd_policies() {
            out.extend(p.sources.iter().flatten().filter_map(Source::query));
        }
        out
    }

    /// CDS Hooks prefetch templates for the queries (key → FHIR query).
    pub fn prefetch(&self) -> BTreeMap<&'static str, String> {
        let observation_codes: BTreeSet<String> = self
            .crd_policies()
            .flat_map(|p| p.sources.iter().flatten())
            .filter_map(|s| match s {
                Source::Observation { codes, .. } => Some(codes),
                _ => None,
            })
            .flatten()
            .map(|(system, code)| format!("{system}|{code}"))
            .collect();
        self.queries()
            .into_iter()
            .map(|q| {
                let template = match q {
                    Query::Patient => "Patient/{{context.patientId}}".to_string(),
                    Query::Encounter => "Encounter/{{context.encounterId}}".to_string(),
                    Query::Coverage => {
                        "Coverage?patient={{context.patientId}}&status=active".to_string()
                    }
                    Query::Conditions => "Condition?patient={{context.patientId}}".to_string(),
                    Query::Procedures => "Procedure?patient={{context.patientId}}".to_string(),
                    Query::Observations => format!(
                        "Observation?patient={{{{context.patientId}}}}&code={}",
                        observation_codes
                            .iter()
                            .map(String::as_str)
                            .collect::<Vec<_>>()
                            .join(",")
                    ),
                };
                (q.key(), template)
            })
            .collect()
    }
}

impl PolicyBinding {
    pub fn policy_id(&self) -> &str {
        self.artifact.policy_id()
    }

    pub fn has_crd(&self) -> bool {
        self.crd.is_some()
    }

    /// The query a fact's source reads (`None`: the fact has no source, or comes from the order
    /// or its date).
    pub fn fact_query(&self, fact: u32) -> Option<Query> {
        self.sources
            .get(fact as usize)
            .and_then(Option::as_ref)
            .and_then(Source::query)
    }

    /// Whether a fact has a source at all.
    pub fn is_bound(&self, fact: u32) -> bool {
        self.sources.get(fact as usize).is_some_and(Option::is_some)
    }

    pub(crate) fn source(&self, fact: u32) -> Option<&Source> {
        self.sources.get(fact as usize).and_then(Option::as_ref)
    }

    /// The facts that come from the order (its codes and its date).
    pub fn order_facts(&self) -> Vec<u32> {
        (0..self.sources.len() as u32)
            .filter(|&f| {
                matches!(
                    self.source(f),
                    Some(Source::Order { .. } | Source::ServiceDate)
                )
            })
            .collect()
    }

    /// The enum fact bound to the Coverage: the product line (for `report prior-auth`).
    pub fn product_fact(&self) -> Option<u32> {
        (0..self.sources.len() as u32)
            .find(|&f| matches!(self.source(f), Some(Source::Coverage { .. })))
    }

    /// The decision that gives `pa-needed`, and for each of its outcomes whether it means
    /// prior authorization is needed (`Some(true)`), not needed (`Some(false)`) or is not
    /// addressed / not a yes-or-no (`None`).
    pub fn prior_auth(&self) -> Option<(usize, Vec<Option<bool>>)> {
        let pa = self.crd.as_ref()?.pa_needed.as_ref()?;
        Some((
            pa.decision,
            pa.outcomes
                .iter()
                .map(|c| match c {
                    Some(PaCode::AuthNeeded | PaCode::PerformPa) => Some(true),
                    Some(PaCode::NoAuth) => Some(false),
                    _ => None,
                })
                .collect(),
        ))
    }
}

// ------------------------------------------------------------------ checking

/// Checks a binding against the artifacts of the project. The binding comes back only when
/// nothing is wrong but warnings. With `whole` false the artifacts are only some of the
/// project's (an artifact evaluated on its own), so a fact or policy none of them has is not
/// an error.
pub fn check(
    raw: &RawBinding,
    artifacts: &[Artifact],
    whole: bool,
) -> (Option<Binding>, Vec<Problem>) {
    let mut problems = Vec::new();
    // Sources given project-wide are checked against every policy that has the fact; a name no
    // policy has is an error of its own.
    for name in raw.facts.keys().filter(|_| whole) {
        if !artifacts.iter().any(|a| a.fact_index(name).is_some()) {
            let all: Vec<&str> = artifacts
                .iter()
                .flat_map(|a| a.document().facts.iter().map(|f| f.name.as_str()))
                .collect();
            problems.push(unknown_fact(
                vec!["facts".into(), name.clone()],
                name,
                &all,
                "the project",
            ));
        }
    }
    for id in raw.policies.keys().filter(|_| whole) {
        if !artifacts.iter().any(|a| a.policy_id() == id) {
            let ids: Vec<&str> = artifacts.iter().map(Artifact::policy_id).collect();
            let mut p = Problem::new(
                ProblemCode::UnknownBinding,
                vec!["policies".into(), id.clone()],
                format!("the project has no policy `{}`", shown(id)),
            );
            if let Some(best) = closest(id, &ids) {
                p = p.help(format!("did you mean `{best}`?"));
            }
            problems.push(p);
        }
    }
    let unaddressed = match &raw.unaddressed {
        None => Unaddressed::default(),
        Some(u) => check_unaddressed(u).unwrap_or_else(|p| {
            problems.push(p);
            Unaddressed::default()
        }),
    };
    let mut policies = Vec::new();
    for artifact in artifacts {
        let id = artifact.policy_id().to_string();
        let own = raw.policies.get(&id);
        let facts = &artifact.document().facts;
        let mut sources = vec![None; facts.len()];
        if let Some(own) = own {
            for name in own.facts.keys() {
                if artifact.fact_index(name).is_none() {
                    let all: Vec<&str> = facts.iter().map(|f| f.name.as_str()).collect();
                    problems.push(unknown_fact(
                        vec!["policies".into(), id.clone(), "facts".into(), name.clone()],
                        name,
                        &all,
                        &format!("policy `{}`", shown(&id)),
                    ));
                }
            }
        }
        for (index, fact) in facts.iter().enumerate() {
            let (raw_source, path) = match own.and_then(|p| p.facts.get(&fact.name)) {
                Some(s) => (
                    s,
                    vec![
                        "policies".into(),
                        id.clone(),
                        "facts".into(),
                        fact.name.clone(),
                    ],
                ),
                None => match raw.facts.get(&fact.name) {
                    Some(s) => (s, vec!["facts".into(), fact.name.clone()]),
                    None => continue,
                },
            };
            match check_source(raw_source, artifact, fact, &path) {
                Ok(s) => {
                    if let Some(slot) = sources.get_mut(index) {
                        *slot = Some(s);
                    }
                }
                Err(p) => problems.push(p),
            }
        }
        let crd = own.and_then(|p| p.crd.as_ref()).and_then(|c| {
            let path = vec!["policies".into(), id.clone(), "crd".into()];
            match check_crd(c, artifact, &path) {
                Ok(m) => Some(m),
                Err(mut ps) => {
                    problems.append(&mut ps);
                    None
                }
            }
        });
        let policy = PolicyBinding {
            artifact: artifact.clone(),
            sources,
            crd,
        };
        if policy.crd.is_some() {
            problems.extend(unbound_facts(&policy));
            problems.extend(crate::crd::check_paths(&policy, &unaddressed));
        }
        policies.push(policy);
    }
    // A project-wide source is checked once per policy with the fact: say each problem once.
    let mut seen = BTreeSet::new();
    problems.retain(|p| seen.insert((p.path.clone(), p.message.clone())));
    let ok = problems.iter().all(|p| p.code == ProblemCode::UnboundFact);
    (
        ok.then_some(Binding {
            policies,
            unaddressed,
        }),
        problems,
    )
}

fn unknown_fact(path: Vec<String>, name: &str, all: &[&str], of: &str) -> Problem {
    let mut p = Problem::new(
        ProblemCode::UnknownBinding,
        path,
        format!("{of} has no fact `{}`", shown(name)),
    );
    if let Some(best) = closest(name, all) {
        p = p.help(format!("did you mean `{best}`?"));
    }
    p
}

fn closest<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::normalized_levenshtein(name, c), *c))
        .filter(|(s, _)| *s >= 0.6)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

fn kind_of(fact: &FactSchema) -> String {
    match (fact.ty, &fact.unit, &fact.system) {
        (FactType::Codes, _, Some(s)) => format!("a set of {} codes", system_name(s)),
        (FactType::Code, _, Some(s)) => format!("one {} code", system_name(s)),
        (FactType::Duration, Some(u), _) => format!("a duration in {u}"),
        (FactType::Quantity, Some(u), _) => format!("a measurement in `{u}`"),
        (FactType::Bool, ..) => "a bool".into(),
        (FactType::Int, ..) => "a whole number".into(),
        (FactType::Decimal, ..) => "a number".into(),
        (FactType::Percent, ..) => "a percentage".into(),
        (FactType::Enum, ..) => "an enum".into(),
        (FactType::Date, ..) => "a date".into(),
        (FactType::List, ..) => "a list".into(),
        _ => "a value".into(),
    }
}

fn system_name(name: &str) -> &'static str {
    System::parse(name).map_or("unknown", System::display)
}

fn type_error(path: &[String], fact: &FactSchema, source: &str, gives: &str) -> Problem {
    Problem::new(
        ProblemCode::BindingType,
        path.to_vec(),
        format!(
            "fact `{}` is {}, but `{source}` gives {gives}",
            fact.name,
            kind_of(fact)
        ),
    )
}

fn check_source(
    raw: &RawSource,
    artifact: &Artifact,
    fact: &FactSchema,
    path: &[String],
) -> Result<Source, Problem> {
    let given: Vec<&str> = [
        raw.condition.as_ref().map(|_| "condition"),
        raw.procedure.as_ref().map(|_| "procedure"),
        raw.order.as_ref().map(|_| "order"),
        raw.observation.as_ref().map(|_| "observation"),
        raw.coverage.as_ref().map(|_| "coverage"),
        raw.encounter_class.as_ref().map(|_| "encounter-class"),
        raw.birth_date.as_ref().map(|_| "birth-date"),
        raw.service_date.as_ref().map(|_| "service-date"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if given.len() != 1 {
        return Err(Problem::new(
            ProblemCode::InvalidBinding,
            path.to_vec(),
            format!(
                "fact `{}` needs exactly one source, and has {}",
                fact.name,
                if given.is_empty() {
                    "none".to_string()
                } else {
                    given.join(" and ")
                }
            ),
        )
        .help("a source is one of `condition`, `procedure`, `order`, `observation`, `coverage`, `encounter-class`, `birth-date`, `service-date`"));
    }
    let _ = artifact;
    if let Some(c) = &raw.condition {
        let (system, codes) = check_codes(c, fact, path, "condition")?;
        if c.status.is_some() {
            return Err(bad_key(
                path,
                "condition",
                "status",
                "clinical-status` and `verification-status",
            ));
        }
        let clinical = check_statuses(
            c.clinical_status.as_deref(),
            &[
                "active",
                "recurrence",
                "relapse",
                "inactive",
                "remission",
                "resolved",
            ],
            &["active", "recurrence", "relapse"],
            path,
            "clinical-status",
        )?;
        let verification = check_statuses(
            c.verification_status.as_deref(),
            &[
                "unconfirmed",
                "provisional",
                "differential",
                "confirmed",
                "refuted",
                "entered-in-error",
            ],
            &["confirmed"],
            path,
            "verification-status",
        )?;
        return Ok(Source::Condition {
            system,
            codes,
            clinical,
            verification,
        });
    }
    if let Some(c) = &raw.procedure {
        let (system, codes) = check_codes(c, fact, path, "procedure")?;
        if c.clinical_status.is_some() || c.verification_status.is_some() {
            return Err(bad_key(path, "procedure", "clinical-status", "status"));
        }
        let status = check_statuses(
            c.status.as_deref(),
            &[
                "preparation",
                "in-progress",
                "not-done",
                "on-hold",
                "stopped",
                "completed",
                "entered-in-error",
                "unknown",
            ],
            &["completed"],
            path,
            "status",
        )?;
        return Ok(Source::Procedure {
            system,
            codes,
            status,
        });
    }
    if let Some(c) = &raw.order {
        let (system, codes) = check_codes(c, fact, path, "order")?;
        if c.clinical_status.is_some() || c.verification_status.is_some() || c.status.is_some() {
            return Err(bad_key(path, "order", "status", "system` and `codes"));
        }
        return Ok(Source::Order { system, codes });
    }
    if let Some(o) = &raw.observation {
        return check_observation(o, fact, path);
    }
    if let Some(v) = &raw.coverage {
        let values = check_values(v, fact, path, "coverage")?;
        return Ok(Source::Coverage {
            class: v.class.clone(),
            values,
        });
    }
    if let Some(v) = &raw.encounter_class {
        if v.class.is_some() {
            return Err(bad_key(path, "encounter-class", "class", "values"));
        }
        let values = check_values(v, fact, path, "encounter-class")?;
        return Ok(Source::EncounterClass { values });
    }
    if raw.birth_date.is_some() {
        return match (fact.ty, fact.unit.as_deref()) {
            (FactType::Date, _) => Ok(Source::BirthDate),
            (FactType::Duration, Some(_)) => Ok(Source::BirthDate),
            _ => Err(type_error(
                path,
                fact,
                "birth-date",
                "a date, or an age (a duration) at the date of service",
            )),
        };
    }
    match fact.ty {
        FactType::Date => Ok(Source::ServiceDate),
        _ => Err(type_error(path, fact, "service-date", "a date")),
    }
}

fn bad_key(path: &[String], source: &str, key: &str, has: &str) -> Problem {
    Problem::new(
        ProblemCode::InvalidBinding,
        path.to_vec(),
        format!("`{source}` has no `{key}`"),
    )
    .help(format!("`{source}` takes `{has}`"))
}

fn check_codes(
    raw: &RawCodes,
    fact: &FactSchema,
    path: &[String],
    source: &str,
) -> Result<(System, Vec<CodeItem>), Problem> {
    let Some(system) = system_of_uri(&raw.system) else {
        let known: Vec<&str> = System::ALL.iter().map(|s| system_uri(*s)).collect();
        let mut p = Problem::new(
            ProblemCode::BindingCodeSystem,
            path.to_vec(),
            format!(
                "`{}` is not the FHIR URI of a code system medpol knows",
                shown(&raw.system)
            ),
        );
        p = p.help(match closest(&raw.system, &known) {
            Some(best) => format!("did you mean `{best}`?"),
            None => format!("the URIs are {}", known.join(", ")),
        });
        return Err(p);
    };
    let mut items = Vec::new();
    for written in &raw.codes {
        match parse_code(system, written) {
            Ok(CodeForm::Exact(c)) => items.push(CodeItem::Exact(c)),
            Ok(CodeForm::Prefix(c)) => items.push(CodeItem::Prefix(c)),
            Err(e) => {
                return Err(Problem::new(
                    ProblemCode::BindingCodeSystem,
                    path.to_vec(),
                    format!(
                        "`{}` is not a valid {} code: {}",
                        shown(written),
                        system.display(),
                        e.reason
                    ),
                ));
            }
        }
    }
    let fact_system = fact.system.as_deref().and_then(System::parse);
    match fact.ty {
        FactType::Codes | FactType::Code => {
            if fact.ty == FactType::Code && source != "order" {
                return Err(type_error(
                    path,
                    fact,
                    source,
                    "every matching code of the record, a set",
                ));
            }
            if fact_system != Some(system) {
                return Err(Problem::new(
                    ProblemCode::BindingCodeSystem,
                    path.to_vec(),
                    format!(
                        "fact `{}` holds {} codes, but the source reads {} (`{}`)",
                        fact.name,
                        fact.system.as_deref().map_or("unknown", system_name),
                        system.display(),
                        system_uri(system)
                    ),
                )
                .help(format!(
                    "the URI of {} is `{}`",
                    fact.system.as_deref().map_or("unknown", system_name),
                    fact_system.map_or("", system_uri)
                )));
            }
            if !items.is_empty() {
                return Err(Problem::new(
                    ProblemCode::InvalidBinding,
                    path.to_vec(),
                    format!(
                        "fact `{}` takes every {} code of the record; `codes` is for a bool fact",
                        fact.name,
                        system.display()
                    ),
                ));
            }
        }
        FactType::Bool => {
            if items.is_empty() {
                return Err(Problem::new(
                    ProblemCode::InvalidBinding,
                    path.to_vec(),
                    format!(
                        "bool fact `{}` needs the `codes` whose presence makes it true",
                        fact.name
                    ),
                ));
            }
        }
        _ => return Err(type_error(path, fact, source, "codes")),
    }
    Ok((system, items))
}

fn check_statuses(
    given: Option<&[String]>,
    allowed: &[&str],
    default: &[&str],
    path: &[String],
    key: &str,
) -> Result<Vec<String>, Problem> {
    let Some(given) = given else {
        return Ok(default.iter().map(|s| (*s).to_string()).collect());
    };
    for s in given {
        if !allowed.contains(&s.as_str()) {
            return Err(Problem::new(
                ProblemCode::BindingEnumValue,
                path.to_vec(),
                format!("`{}` is not a {key} of FHIR R4", shown(s)),
            )
            .help(format!("the codes are {}", allowed.join(", "))));
        }
    }
    Ok(given.to_vec())
}

fn check_values(
    raw: &RawValues,
    fact: &FactSchema,
    path: &[String],
    source: &str,
) -> Result<Vec<(String, Vec<String>)>, Problem> {
    if fact.ty != FactType::Enum {
        return Err(type_error(path, fact, source, "one of an enum's values"));
    }
    for value in raw.values.keys() {
        if !fact.values.contains(value) {
            return Err(Problem::new(
                ProblemCode::BindingEnumValue,
                path.to_vec(),
                format!("fact `{}` has no value `{}`", fact.name, shown(value)),
            )
            .help(format!("its values are {}", fact.values.join(", "))));
        }
    }
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for (value, codes) in &raw.values {
        for code in codes {
            if let Some(other) = seen.insert(code, value) {
                return Err(Problem::new(
                    ProblemCode::BindingEnumValue,
                    path.to_vec(),
                    format!("`{}` means both `{other}` and `{value}`", shown(code)),
                ));
            }
        }
    }
    Ok(fact
        .values
        .iter()
        .map(|v| (v.clone(), raw.values.get(v).cloned().unwrap_or_default()))
        .collect())
}

fn check_observation(
    raw: &RawObservation,
    fact: &FactSchema,
    path: &[String],
) -> Result<Source, Problem> {
    let written = match &raw.code {
        OneOrMany::One(c) => vec![c.clone()],
        OneOrMany::Many(c) => c.clone(),
    };
    if written.is_empty() {
        return Err(Problem::new(
            ProblemCode::InvalidBinding,
            path.to_vec(),
            "an observation needs at least one `code`".into(),
        ));
    }
    let mut codes = Vec::new();
    for c in &written {
        match c.split_once('|') {
            Some((system, code))
                if !system.is_empty() && !code.is_empty() && !code.contains('|') =>
            {
                codes.push((system.to_string(), code.to_string()));
            }
            _ => {
                return Err(Problem::new(
                    ProblemCode::InvalidBinding,
                    path.to_vec(),
                    format!("`{}` is not written `system|code`", shown(c)),
                )
                .help("for example `http://loinc.org|38267-1`"));
            }
        }
    }
    let within = raw
        .within
        .as_deref()
        .map(|w| {
            parse_within(w).ok_or_else(|| {
                Problem::new(
                    ProblemCode::InvalidBinding,
                    path.to_vec(),
                    format!(
                        "`{}` is not an amount of days, weeks, months or years",
                        shown(w)
                    ),
                )
                .help("for example `24 months` or `90 days`")
            })
        })
        .transpose()?;
    let unit = match fact.ty {
        FactType::Bool | FactType::Date => {
            if raw.unit.is_some() {
                return Err(Problem::new(
                    ProblemCode::BindingUnit,
                    path.to_vec(),
                    format!(
                        "fact `{}` is {}: an observation's unit says nothing of it",
                        fact.name,
                        kind_of(fact)
                    ),
                ));
            }
            None
        }
        FactType::Int
        | FactType::Decimal
        | FactType::Percent
        | FactType::Quantity
        | FactType::Duration => {
            let unit = match (&raw.unit, fact.ty) {
                (Some(u), _) => u.clone(),
                (None, FactType::Int | FactType::Decimal) => "1".to_string(),
                (None, FactType::Percent) => "%".to_string(),
                (None, _) => {
                    return Err(Problem::new(
                        ProblemCode::BindingUnit,
                        path.to_vec(),
                        format!(
                            "fact `{}` is {}: say the observations' UCUM `unit`",
                            fact.name,
                            kind_of(fact)
                        ),
                    ));
                }
            };
            check_unit(&unit, fact, path)?;
            Some(unit)
        }
        _ => {
            return Err(type_error(
                path,
                fact,
                "observation",
                "a value, a flag or a date",
            ));
        }
    };
    Ok(Source::Observation {
        codes,
        unit,
        within,
    })
}

/// The UCUM units a duration fact's unit word is.
pub(crate) fn duration_ucum(unit: &str) -> Option<&'static str> {
    Some(match unit {
        "days" => "d",
        "weeks" => "wk",
        "months" => "mo",
        "years" => "a",
        _ => return None,
    })
}

fn check_unit(unit: &str, fact: &FactSchema, path: &[String]) -> Result<(), Problem> {
    let unitless = unit == "1" || (unit.starts_with('{') && unit.ends_with('}'));
    let ok = match fact.ty {
        // A plain number is read as the observations record it, in the unit bound.
        FactType::Int | FactType::Decimal => unitless || Ucum::parse(unit).is_some(),
        FactType::Percent => unit == "%",
        FactType::Quantity => {
            let (Some(given), Some(own)) = (
                Ucum::parse(unit),
                fact.unit.as_deref().and_then(Ucum::parse),
            ) else {
                return Err(unknown_unit(unit, path));
            };
            given.dim() == own.dim()
        }
        FactType::Duration => {
            // Days and weeks convert exactly, as do months and years; across them only a
            // calendar can, which a measurement does not carry.
            let own = fact.unit.as_deref().unwrap_or("");
            match unit {
                "d" | "wk" => matches!(own, "days" | "weeks"),
                "mo" | "a" => matches!(own, "months" | "years"),
                _ => false,
            }
        }
        _ => false,
    };
    if !unitless
        && !matches!(fact.ty, FactType::Quantity | FactType::Duration)
        && unit != "%"
        && Ucum::parse(unit).is_none()
    {
        return Err(unknown_unit(unit, path));
    }
    if ok {
        return Ok(());
    }
    Err(Problem::new(
        ProblemCode::BindingUnit,
        path.to_vec(),
        format!(
            "observations in `{}` do not convert exactly to fact `{}`, {}",
            shown(unit),
            fact.name,
            kind_of(fact)
        ),
    )
    .help(match fact.ty {
        FactType::Duration => {
            "a duration in days or weeks reads `d` or `wk`; in months or years, `mo` or `a`"
                .to_string()
        }
        FactType::Int | FactType::Decimal => {
            "a plain number reads a unitless value: `1` or an annotation such as `{T-score}`"
                .to_string()
        }
        FactType::Percent => "a percentage reads `%`".to_string(),
        _ => format!(
            "write a unit of the same dimension as `{}`",
            fact.unit.as_deref().unwrap_or("")
        ),
    }))
}

fn unknown_unit(unit: &str, path: &[String]) -> Problem {
    let mut p = Problem::new(
        ProblemCode::BindingUnit,
        path.to_vec(),
        format!("`{}` is not a UCUM code of the unit table", shown(unit)),
    );
    if let Some(s) = Ucum::suggest(unit) {
        p = p.help(format!("did you mean `{s}`?"));
    }
    p
}

pub(crate) fn parse_within(text: &str) -> Option<Within> {
    let (amount, unit) = text.trim().split_once(' ')?;
    let n: i64 = amount.parse().ok().filter(|n| *n >= 0 && *n <= 100_000)?;
    Some(match unit.trim() {
        "day" | "days" => Within::Days(n),
        "week" | "weeks" => Within::Days(n * 7),
        "month" | "months" => Within::Months(n),
        "year" | "years" => Within::Months(n * 12),
        _ => return None,
    })
}

fn check_crd(raw: &RawCrd, artifact: &Artifact, path: &[String]) -> Result<CrdMap, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut sub = path.to_vec();
    sub.push("covered".into());
    let covered = check_mapped(
        &raw.covered,
        artifact,
        &sub,
        CoverageCode::parse,
        CoverageCode::ALL,
    )
    .map_err(|p| problems.push(p))
    .ok();
    let pa_needed = raw.pa_needed.as_ref().and_then(|m| {
        let mut sub = path.to_vec();
        sub.push("pa-needed".into());
        check_mapped(m, artifact, &sub, PaCode::parse, PaCode::ALL)
            .map_err(|p| problems.push(p))
            .ok()
    });
    let expires_after = raw.expires_after.as_deref().and_then(|w| {
        let parsed = parse_within(w);
        if parsed.is_none() {
            let mut sub = path.to_vec();
            sub.push("expires-after".into());
            problems.push(
                Problem::new(
                    ProblemCode::CrdMapping,
                    sub,
                    format!(
                        "`{}` is not an amount of days, weeks, months or years",
                        shown(w)
                    ),
                )
                .help("for example `30 days`"),
            );
        }
        parsed
    });
    match covered {
        Some(covered) if problems.is_empty() => Ok(CrdMap {
            covered,
            pa_needed,
            expires_after,
        }),
        _ => Err(problems),
    }
}

fn check_mapped<C: Copy>(
    raw: &RawMapped,
    artifact: &Artifact,
    path: &[String],
    parse: fn(&str) -> Option<C>,
    all: &[&str],
) -> Result<Mapped<C>, Problem> {
    let names: Vec<&str> = artifact.decisions().iter().map(|d| d.name()).collect();
    let Some(decision) = artifact
        .decisions()
        .iter()
        .position(|d| d.name() == raw.decision)
    else {
        let mut p = Problem::new(
            ProblemCode::CrdMapping,
            path.to_vec(),
            format!(
                "policy `{}` has no decision `{}`",
                artifact.policy_id(),
                shown(&raw.decision)
            ),
        );
        p = p.help(format!("its decisions are {}", names.join(", ")));
        return Err(p);
    };
    let outcomes = artifact
        .decisions()
        .get(decision)
        .map(|d| d.document().outcomes.clone())
        .unwrap_or_default();
    let mut out_path = path.to_vec();
    out_path.push("outcomes".into());
    for name in raw.outcomes.keys() {
        if !outcomes.contains(name) {
            return Err(Problem::new(
                ProblemCode::CrdMapping,
                out_path,
                format!(
                    "decision `{}` has no outcome `{}`",
                    raw.decision,
                    shown(name)
                ),
            )
            .help(format!("its outcomes are {}", outcomes.join(", "))));
        }
    }
    let mut mapped = Vec::new();
    for outcome in &outcomes {
        let Some(code) = raw.outcomes.get(outcome) else {
            return Err(Problem::new(
                ProblemCode::CrdMapping,
                out_path,
                format!(
                    "outcome `{outcome}` of decision `{}` is not mapped to an answer",
                    raw.decision
                ),
            )
            .help(format!(
                "map it to one of {}, or to `not-addressed`",
                all.join(", ")
            )));
        };
        if code == "not-addressed" {
            mapped.push(None);
            continue;
        }
        match parse(code) {
            Some(c) => mapped.push(Some(c)),
            None => {
                return Err(Problem::new(
                    ProblemCode::CrdMapping,
                    out_path,
                    format!("`{}` is not a code of this element", shown(code)),
                )
                .help(format!(
                    "the codes are {} and `not-addressed`",
                    all.join(", ")
                )));
            }
        }
    }
    Ok(Mapped {
        decision,
        outcomes: mapped,
    })
}

fn check_unaddressed(raw: &RawUnaddressed) -> Result<Unaddressed, Problem> {
    let path = vec!["unaddressed".to_string()];
    let bad = |code: &str, allowed: &str| {
        Problem::new(
            ProblemCode::CrdMapping,
            path.clone(),
            format!(
                "`{}` cannot answer an order no policy addresses",
                shown(code)
            ),
        )
        .help(format!("write one of {allowed}"))
    };
    let covered = match CoverageCode::parse(&raw.covered) {
        Some(
            c @ (CoverageCode::Covered | CoverageCode::NotCovered | CoverageCode::Indeterminate),
        ) => c,
        _ => {
            return Err(bad(
                &raw.covered,
                "`covered`, `not-covered`, `indeterminate`",
            ));
        }
    };
    let pa_needed = match raw.pa_needed.as_deref() {
        None => None,
        Some(code) => match PaCode::parse(code) {
            Some(
                p @ (PaCode::NoAuth
                | PaCode::AuthNeeded
                | PaCode::PerformPa
                | PaCode::Indeterminate),
            ) => Some(p),
            _ => {
                return Err(bad(
                    code,
                    "`no-auth`, `auth-needed`, `performpa`, `indeterminate`",
                ));
            }
        },
    };
    if covered == CoverageCode::NotCovered && pa_needed.is_some() {
        return Err(Problem::new(
            ProblemCode::CoverageInformationInvalid,
            path,
            "`not-covered` cannot come with `pa-needed` (crd-ci-q2)".into(),
        ));
    }
    Ok(Unaddressed { covered, pa_needed })
}

/// A CRD policy's facts that no source gives: the service always asks for them.
fn unbound_facts(policy: &PolicyBinding) -> Vec<Problem> {
    let read: Vec<&str> = policy
        .artifact
        .document()
        .facts
        .iter()
        .enumerate()
        .filter(|(i, f)| f.read && f.formula.is_none() && !policy.is_bound(*i as u32))
        .map(|(_, f)| f.name.as_str())
        .collect();
    if read.is_empty() {
        return Vec::new();
    }
    let id = policy.policy_id();
    vec![
        Problem::new(
            ProblemCode::UnboundFact,
            vec!["policies".into(), id.to_string()],
            format!(
                "{} fact{} of policy `{id}` come{} from no FHIR source: {}",
                read.len(),
                if read.len() == 1 { "" } else { "s" },
                if read.len() == 1 { "s" } else { "" },
                read.iter()
                    .take(12)
                    .map(|f| format!("`{f}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
                    + if read.len() > 12 { ", …" } else { "" }
            ),
        )
        .help("the service asks for them with a questionnaire when a decision needs them"),
    ]
}
