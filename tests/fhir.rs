//! FHIR bindings, facts read from FHIR records, CRD answers and DTR questionnaires, on the
//! shipped policies: every binding in `tests/cases/fhir/binding/` is checked against them and
//! its diagnostics compared with a snapshot; the Bundle and QuestionnaireResponse cases are
//! read and answered as `medpol eval --fhir` and the CRD service do.

use std::path::Path;
use std::sync::OnceLock;

use medpol::artifact::{Artifact, Facts};
use medpol::render;
use medpol::source::{SourceFile, Sources};
use medpol_artifact::date::Date;
use medpol_fhir::binding::{Binding, Query};
use medpol_fhir::crd::{self, Context};
use medpol_fhir::record::{self, Record};
use medpol_fhir::{extract, questionnaire};
use serde_json::{Value, json};

fn artifacts() -> &'static [Artifact] {
    static BUILT: OnceLock<Vec<Artifact>> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
        let built = medpol::driver::build_paths(&[root], &medpol::driver::Options::default())
            .expect("the policies load")
            .expect("the policies compile");
        built.compiled.into_iter().map(|c| c.artifact).collect()
    })
}

fn bind(path: &Path) -> (Option<Binding>, String) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut sources = Sources::new();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let id = sources.add(SourceFile::new(name, None, text.clone()));
    let (binding, diagnostics) = medpol::fhir::bind(id, &text, artifacts(), true);
    let short = render::short::render(&sources, &diagnostics);
    let human = render::human::render(&sources, &diagnostics, render::human::Color::Never);
    (binding, format!("--- short\n{short}--- human\n{human}"))
}

fn shipped() -> &'static Binding {
    static BINDING: OnceLock<Binding> = OnceLock::new();
    BINDING.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/fhir.yaml");
        let (binding, report) = bind(&path);
        binding.unwrap_or_else(|| panic!("the shipped binding has errors:\n{report}"))
    })
}

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("../snapshots");
    s.set_prepend_module_to_snapshot(false);
    s
}

fn case(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cases/fhir")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn today() -> Date {
    Date::parse("2026-12-07").unwrap()
}

#[test]
fn binding_cases() {
    settings().bind(|| {
        insta::glob!("cases/fhir/binding/*.yaml", |path| {
            let (binding, report) = bind(path);
            // Every case is wrong: none gives a binding.
            assert!(binding.is_none(), "{} binds:\n{report}", path.display());
            insta::assert_snapshot!(report);
        });
    });
}

#[test]
fn the_shipped_binding_has_only_unbound_facts_to_say() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/fhir.yaml");
    let (binding, report) = bind(&path);
    assert!(binding.is_some(), "{report}");
    for line in report.lines().filter(|l| l.contains('[')) {
        assert!(
            line.contains("W0509") || !line.starts_with("policies"),
            "{line}"
        );
    }
    let prefetch = shipped().prefetch();
    assert_eq!(
        prefetch.get("coverage").map(String::as_str),
        Some("Coverage?patient={{context.patientId}}&status=active")
    );
    assert!(prefetch.contains_key("conditions"));
    assert!(prefetch.contains_key("encounter"));
}

/// The 484 Bundle's facts: the confirmed diagnosis only (the refuted one is left out), the
/// order's code, the plan's product line, the encounter's setting.
#[test]
fn facts_from_a_bundle() {
    let bundle = case("484-bundle.json");
    let policy = shipped().policy("bcbsma-484").unwrap();
    let record = Record::from_bundle(&bundle).unwrap();
    let orders = record::orders(&bundle).unwrap();
    let subject = extract::Subject {
        orders: &orders,
        coverage: record.get(Query::Coverage).and_then(|c| c.first()),
        today: today(),
    };
    let extracted = extract::facts(policy, &record, &subject);
    assert_eq!(
        Value::Object(extracted.facts.clone()),
        json!({
            "diagnoses": ["M80.08XA"],
            "procedures": ["22511"],
            "facility_procedures": [],
            "product": "hmo",
            "setting": "outpatient",
        })
    );
    assert!(extracted.notes.is_empty(), "{:?}", extracted.notes);
    // The artifact's own reader takes them.
    Facts::from_value(&policy.artifact, &Value::Object(extracted.facts)).unwrap();
}

/// A record in the forms records use: an ICD-10-CM code without its dot, a Condition without
/// statuses, a malformed code (left out with a note), an unmapped plan.
#[test]
fn odd_records_leave_facts_missing_with_notes() {
    let policy = shipped().policy("bcbsma-484").unwrap();
    let mut record = Record::new();
    record
        .put(
            Query::Conditions,
            json!({"resourceType": "Bundle", "type": "searchset", "entry": [
                {"resource": {"resourceType": "Condition", "code": {"coding": [
                    {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "M8008XA"}]}}},
                {"resource": {"resourceType": "Condition", "code": {"coding": [
                    {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "not a code"}]}}},
                {"resource": {"resourceType": "OperationOutcome"}}
            ]}),
        )
        .unwrap();
    record
        .put(
            Query::Coverage,
            json!({"resourceType": "Coverage", "id": "c", "status": "active", "class": [
                {"type": {"coding": [{"code": "plan"}]}, "value": "GOLD"}]}),
        )
        .unwrap();
    assert!(
        record
            .put(Query::Patient, json!({"resourceType": "Coverage"}))
            .is_err()
    );
    let order = json!({"resourceType": "ServiceRequest", "id": "o", "code": {"coding": [
        {"system": "http://www.ama-assn.org/go/cpt", "code": "22511"}]}});
    let orders = [&order];
    let subject = extract::Subject {
        orders: &orders,
        coverage: record.get(Query::Coverage).and_then(|c| c.first()),
        today: today(),
    };
    let extracted = extract::facts(policy, &record, &subject);
    assert_eq!(extracted.facts.get("diagnoses"), Some(&json!(["M80.08XA"])));
    assert_eq!(extracted.facts.get("product"), None);
    assert_eq!(
        extracted.facts.get("setting"),
        None,
        "no encounter was fetched"
    );
    insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("fhir_odd_record_notes", extracted.notes.join("\n"));
    });
}

fn answer(bundle: &Value, order_code: &str) -> Value {
    let record = Record::from_bundle(bundle).unwrap();
    let mut order = record::orders(bundle).unwrap()[0].clone();
    order["code"]["coding"][0]["code"] = json!(order_code);
    let ctx = Context {
        today: today(),
        base_url: "http://crd.example.org",
        hook_instance: "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
    };
    let answered = crd::answer(shipped(), &record, &order, &ctx);
    assert_eq!(answered.extensions.len(), 1, "{answered:?}");
    let ext = answered.extensions[0].clone();
    assert_eq!(crd::violations(&ext), Vec::<String>::new(), "{ext:#}");
    ext
}

fn element<'a>(ext: &'a Value, name: &str) -> Vec<&'a Value> {
    ext["extension"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["url"] == name)
        .collect()
}

#[test]
fn crd_answers_for_the_bundles_order() {
    let bundle = case("484-bundle.json");
    // Vertebroplasty for an HMO member, outpatient: prior authorization is needed, and whether
    // it is covered waits for the clinical facts the record does not hold.
    let ext = answer(&bundle, "22511");
    assert_eq!(element(&ext, "covered")[0]["valueCode"], "conditional");
    assert_eq!(element(&ext, "pa-needed")[0]["valueCode"], "auth-needed");
    assert_eq!(element(&ext, "doc-needed")[0]["valueCode"], "clinical");
    assert_eq!(element(&ext, "info-needed")[0]["valueCode"], "OTH");
    assert_eq!(
        element(&ext, "questionnaire")[0]["valueCanonical"],
        "http://crd.example.org/fhir/Questionnaire/bcbsma-484.0fa2"
    );
    settings().bind(|| {
        insta::assert_snapshot!(
            "fhir_crd_22511_hmo_outpatient",
            serde_json::to_string_pretty(&ext).unwrap()
        )
    });

    // Sacroplasty is investigational for every product: not covered, and no pa-needed (q2).
    let ext = answer(&bundle, "0200T");
    assert_eq!(element(&ext, "covered")[0]["valueCode"], "not-covered");
    assert!(element(&ext, "pa-needed").is_empty());
    assert!(element(&ext, "info-needed").is_empty());
    assert_eq!(
        element(&ext, "billingCode")[0]["valueCoding"],
        json!({"system": "http://www.ama-assn.org/go/cpt", "code": "0200T"})
    );
}

#[test]
fn an_order_no_policy_addresses_is_indeterminate_with_the_reason() {
    let bundle = case("484-bundle.json");
    let record = Record::from_bundle(&bundle).unwrap();
    let mut order = record::orders(&bundle).unwrap()[0].clone();
    order["code"]["coding"][0]["code"] = json!("27447");
    let ctx = Context {
        today: today(),
        base_url: "http://crd.example.org",
        hook_instance: "x",
    };
    // CRD's primary hooks answer every order (hook-16); the shipped binding leaves the answer
    // for an order none of its policies addresses at its default.
    let answered = crd::answer(shipped(), &record, &order, &ctx);
    let ext = &answered.extensions[0];
    assert!(crd::violations(ext).is_empty(), "{ext:#}");
    assert_eq!(element(ext, "covered")[0]["valueCode"], "indeterminate");
    assert!(element(ext, "pa-needed").is_empty());
    assert_eq!(
        element(ext, "reason")[0]["valueCodeableConcept"]["text"],
        "no coverage policy of this service addresses this order"
    );
}

#[test]
fn the_questionnaire_answered_decides() {
    let bundle = case("484-bundle.json");
    let q = questionnaire::by_id(shipped(), "bcbsma-484.0fa2", "http://crd.example.org").unwrap();
    let links: Vec<&str> = q["item"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["linkId"].as_str().unwrap())
        .collect();
    assert_eq!(
        links,
        [
            "conservative_care",
            "fracture_age",
            "hospitalized",
            "ambulation_prevented",
            "pain_from_nonhealing_fracture",
            "prophylactic",
            "symptomatic"
        ]
    );
    assert!(questionnaire::by_id(shipped(), "bcbsma-484.zz", "x").is_none());
    assert!(questionnaire::by_id(shipped(), "no-such-policy", "x").is_none());
    settings().bind(|| {
        insta::assert_snapshot!(
            "fhir_questionnaire_484",
            serde_json::to_string_pretty(&q).unwrap()
        )
    });

    let policy = shipped().policy("bcbsma-484").unwrap();
    let record = Record::from_bundle(&bundle).unwrap();
    let orders = record::orders(&bundle).unwrap();
    let subject = extract::Subject {
        orders: &orders,
        coverage: record.get(Query::Coverage).and_then(|c| c.first()),
        today: today(),
    };
    let mut facts = extract::facts(policy, &record, &subject).facts;
    let answers =
        questionnaire::facts_from_response(&policy.artifact, &case("484-response.json")).unwrap();
    facts.extend(answers);
    let facts = Facts::from_value(&policy.artifact, &Value::Object(facts)).unwrap();
    let coverage = policy.artifact.decision("coverage").unwrap();
    assert_eq!(
        coverage.decide(&facts).outcome(),
        Some("medically_necessary")
    );
}

/// Every shipped policy's whole questionnaire, answered with a value of each item's type, reads
/// back as facts the artifact takes.
#[test]
fn every_questionnaire_reads_back_as_facts() {
    for policy in shipped().policies() {
        let doc = policy.artifact.document();
        let all: Vec<u32> = (0..doc.facts.len() as u32)
            .filter(|&f| doc.facts[f as usize].read && doc.facts[f as usize].formula.is_none())
            .collect();
        let q = questionnaire::for_artifact(&policy.artifact, &all, "http://x");
        let mut items = Vec::new();
        for item in q["item"].as_array().unwrap() {
            let fact = doc
                .facts
                .iter()
                .find(|f| f.name == item["linkId"].as_str().unwrap())
                .unwrap();
            let answer = match item["type"].as_str().unwrap() {
                "boolean" => json!({"valueBoolean": true}),
                "integer" => {
                    json!({"valueInteger": fact.range.as_ref().map_or(1, |r| r.min.parse::<i64>().unwrap())})
                }
                "decimal" => {
                    json!({"valueDecimal": fact.range.as_ref().map_or(1.0, |r| r.min.parse::<f64>().unwrap())})
                }
                "quantity" => {
                    let unit = item["extension"][0]["valueCoding"]["code"].clone();
                    let value = fact
                        .range
                        .as_ref()
                        .map_or(1.0, |r| r.min.parse::<f64>().unwrap());
                    json!({"valueQuantity": {"value": value, "code": unit}})
                }
                "choice" => json!({"valueCoding": item["answerOption"][0]["valueCoding"].clone()}),
                "date" => json!({"valueDate": "2024-03-31"}),
                // Codes, and lists of records, are left unanswered: missing facts.
                _ => continue,
            };
            items.push(json!({"linkId": item["linkId"], "answer": [answer]}));
        }
        let response =
            json!({"resourceType": "QuestionnaireResponse", "status": "completed", "item": items});
        let facts = questionnaire::facts_from_response(&policy.artifact, &response)
            .unwrap_or_else(|e| panic!("{}: {e}", policy.policy_id()));
        assert_eq!(facts.len(), items.len(), "{}", policy.policy_id());
        Facts::from_value(&policy.artifact, &Value::Object(facts))
            .unwrap_or_else(|e| panic!("{}: {e}", policy.policy_id()));
    }
}

#[test]
fn a_response_naming_no_fact_is_refused() {
    let policy = shipped().policy("bcbsma-484").unwrap();
    let err = questionnaire::facts_from_response(
        &policy.artifact,
        &json!({"resourceType": "QuestionnaireResponse", "item": [{"linkId": "weight", "answer": [{"valueDecimal": 1}]}]}),
    )
    .unwrap_err();
    assert_eq!(err, "item `weight` names no fact of policy `bcbsma-484`");
}

/// The invariant checker finds what each invariant forbids.
#[test]
fn violations_name_the_invariant() {
    let base = |extra: Vec<Value>| {
        let mut e = vec![
            json!({"url": "coverage", "valueReference": {"reference": "Coverage/c"}}),
            json!({"url": "date", "valueDate": "2026-12-07"}),
            json!({"url": "coverage-assertion-id", "valueString": "x"}),
        ];
        e.extend(extra);
        json!({"url": crd::EXTENSION_URL, "extension": e})
    };
    let code = |url: &str, c: &str| json!({"url": url, "valueCode": c});
    let cases = [
        (
            vec![
                code("covered", "covered"),
                json!({"url": "questionnaire", "valueCanonical": "q"}),
            ],
            "q1",
        ),
        (
            vec![code("covered", "not-covered"), code("pa-needed", "no-auth")],
            "q2",
        ),
        (vec![code("covered", "conditional")], "q3"),
        (
            vec![code("covered", "covered"), code("info-needed", "OTH")],
            "q3",
        ),
        (
            vec![
                code("covered", "covered"),
                code("pa-needed", "no-auth"),
                code("doc-purpose", "withpa"),
            ],
            "q4",
        ),
        (
            vec![code("covered", "covered"), code("pa-needed", "satisfied")],
            "q5",
        ),
        (vec![code("covered", "indeterminate")], "q9"),
        (vec![code("covered", "maybe")], "value set"),
    ];
    for (extra, expected) in cases {
        let v = crd::violations(&base(extra.clone()));
        assert!(
            v.iter().any(|m| m.contains(expected)),
            "{extra:?} gives {v:?}, not {expected}"
        );
    }
    assert!(crd::violations(&base(vec![code("covered", "covered")])).is_empty());
}

#[path = "support/patients.rs"]
mod patients;

/// A patient's facts written as FHIR: the bound facts as the record a CRD call brings (a
/// Condition per diagnosis with a refuted one beside them, the order's codes, the Coverage's
/// plan, the Encounter's class) and the rest as a QuestionnaireResponse's answers. Facts the
/// FHIR form cannot hold are dropped from the patient (the order's two sets are known
/// together: one missing is the empty set).
fn as_fhir(facts: &mut serde_json::Map<String, Value>) -> (Record, Value, Value) {
    let mut record = Record::new();
    let mut codings = Vec::new();
    for (fact, system) in [
        ("procedures", "http://www.ama-assn.org/go/cpt"),
        (
            "facility_procedures",
            "http://www.cms.gov/Medicare/Coding/ICD10",
        ),
    ] {
        let codes = facts.entry(fact).or_insert(json!([])).clone();
        for c in codes.as_array().unwrap() {
            codings.push(json!({"system": system, "code": c}));
        }
    }
    let order = json!({"resourceType": "ServiceRequest", "id": "o1", "status": "draft",
        "intent": "order", "code": {"coding": codings}});
    if let Some(diagnoses) = facts.get("diagnoses") {
        let mut entries: Vec<Value> = diagnoses
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                json!({"resource": {"resourceType": "Condition",
                "clinicalStatus": {"coding": [{"code": "active"}]},
                "verificationStatus": {"coding": [{"code": "confirmed"}]},
                "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": c}]}}})
            })
            .collect();
        entries.push(json!({"resource": {"resourceType": "Condition",
            "verificationStatus": {"coding": [{"code": "refuted"}]},
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C41.2"}]}}}));
        record
            .put(
                Query::Conditions,
                json!({"resourceType": "Bundle", "entry": entries}),
            )
            .unwrap();
    }
    let plan = facts.get("product").map(|p| match p.as_str().unwrap() {
        "medicare_hmo" => "MA-HMO".to_string(),
        "medicare_ppo" => "MA-PPO".to_string(),
        other => other.to_ascii_uppercase(),
    });
    let class: Vec<Value> = plan
        .into_iter()
        .map(|v| json!({"type": {"coding": [{"code": "plan"}]}, "value": v}))
        .collect();
    record
        .put(
            Query::Coverage,
            json!({"resourceType": "Coverage", "id": "cov", "status": "active", "class": class}),
        )
        .unwrap();
    if let Some(setting) = facts.get("setting") {
        let code = if setting == "inpatient" { "IMP" } else { "AMB" };
        record
            .put(
                Query::Encounter,
                json!({"resourceType": "Encounter", "class": {"code": code}}),
            )
            .unwrap();
    }
    let bound = [
        "procedures",
        "facility_procedures",
        "diagnoses",
        "product",
        "setting",
    ];
    let mut items = Vec::new();
    facts.retain(|name, value| {
        if bound.contains(&name.as_str()) {
            return true;
        }
        let answer = match value {
            Value::Bool(b) => json!({"valueBoolean": b}),
            Value::String(s) => {
                let Some((n, unit)) = s.split_once(' ') else {
                    return false;
                };
                if n.contains('/') {
                    return false;
                }
                let code = match unit {
                    "weeks" => "wk",
                    "days" => "d",
                    _ => return false,
                };
                json!({"valueQuantity": {"value": n.parse::<f64>().unwrap(), "code": code}})
            }
            _ => return false,
        };
        items.push(json!({"linkId": name, "answer": [answer]}));
        true
    });
    let response =
        json!({"resourceType": "QuestionnaireResponse", "status": "completed", "item": items});
    (record, order, response)
}

/// Generated patients of policy 484, with missing facts, written as FHIR records and
/// questionnaire answers: the facts read back are the patient's, and the CRD answer is the
/// one its decisions give on the facts the record holds.
#[test]
fn generated_patients_through_fhir_and_crd() {
    let policy = shipped().policy("bcbsma-484").unwrap();
    let artifact = &policy.artifact;
    let generator = patients::Generator::new(artifact.document());
    let mut rng = patients::Rng::new(484);
    let covered_map = |o: &str| match o {
        "medically_necessary" => Some("covered"),
        "investigational" => Some("not-covered"),
        _ => None,
    };
    let pa_map = |o: &str| match o {
        "required" => Some("auth-needed"),
        "not_required" => Some("no-auth"),
        _ => None,
    };
    let ctx = Context {
        today: today(),
        base_url: "http://x",
        hook_instance: "h",
    };
    let mut answers: std::collections::BTreeMap<String, usize> = Default::default();
    for i in 0..3000 {
        let (facts, _) = generator.patient(&mut rng, &i.to_string());
        let mut facts = facts.as_object().unwrap().clone();
        let (record, order, response) = as_fhir(&mut facts);
        let orders = [&order];
        let subject = extract::Subject {
            orders: &orders,
            coverage: record.get(Query::Coverage).and_then(|c| c.first()),
            today: today(),
        };
        let from_record = extract::facts(policy, &record, &subject).facts;
        let mut read = from_record.clone();
        read.extend(questionnaire::facts_from_response(artifact, &response).unwrap());
        let expected = Facts::from_value(artifact, &Value::Object(facts.clone())).unwrap();
        let got = Facts::from_value(artifact, &Value::Object(read)).unwrap();
        assert!(got == expected, "patient {i}: {facts:?}");

        // The CRD answer, from the record alone, against the decisions on the same facts.
        let on_record = Facts::from_value(artifact, &Value::Object(from_record)).unwrap();
        let mapped = |decision: &str, map: &dyn Fn(&str) -> Option<&'static str>| {
            let d = artifact.decision(decision).unwrap();
            let e = d.evaluate(&on_record);
            let mut codes: Vec<Option<&str>> = e
                .leaves
                .iter()
                .map(|l| match d.leaf(*l).unwrap() {
                    medpol::artifact::LeafDoc::Rule { outcome, .. }
                    | medpol::artifact::LeafDoc::Otherwise { outcome } => map(outcome),
                    other => panic!("{other:?}"),
                })
                .collect();
            codes.sort();
            codes.dedup();
            match codes.as_slice() {
                [one] => one.map(str::to_string),
                _ => Some("conditional".to_string()),
            }
        };
        let covered = mapped("coverage", &covered_map);
        let pa =
            mapped("prior_auth", &pa_map).filter(|_| covered.as_deref() != Some("not-covered"));
        let answered = crd::answer(shipped(), &record, &order, &ctx);
        // What 484 does not answer (Medicare members, other services) is the binding's answer
        // for unaddressed orders: `indeterminate`.
        let covered = covered.or_else(|| Some("indeterminate".to_string()));
        match &covered {
            None => unreachable!(),
            Some(c) => {
                let ext = &answered.extensions[0];
                assert!(crd::violations(ext).is_empty(), "{ext:#}");
                let got = |name: &str| {
                    element(ext, name)
                        .first()
                        .map(|e| e["valueCode"].as_str().unwrap().to_string())
                };
                assert_eq!(got("covered").as_ref(), Some(c), "patient {i}: {facts:?}");
                assert_eq!(got("pa-needed"), pa, "patient {i}: {facts:?}");
                *answers
                    .entry(format!("{c}/{}", pa.as_deref().unwrap_or("-")))
                    .or_default() += 1;
            }
        }
    }
    // The patients reach every kind of answer the record alone can give (the clinical facts are
    // unbound: only a sacroplasty decides `covered`, as not covered), so the comparison can
    // fail.
    for kind in [
        "not-covered/-",
        "indeterminate/-",
        "indeterminate/auth-needed",
        "conditional/auth-needed",
        "conditional/no-auth",
        "conditional/conditional",
    ] {
        assert!(
            answers.get(kind).is_some_and(|n| *n > 0),
            "no patient got {kind}: {answers:?}"
        );
    }
}

/// `expires-after` gives the answer an `expiry-date`: the answer's date plus the amount.
#[test]
fn an_answer_expires_as_the_binding_says() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/fhir.yaml");
    let text = std::fs::read_to_string(path).unwrap().replace(
        "      pa-needed:\n        decision: prior_auth\n",
        "      expires-after: 90 days\n      pa-needed:\n        decision: prior_auth\n",
    );
    assert!(text.contains("expires-after"));
    let mut sources = Sources::new();
    let id = sources.add(SourceFile::new("fhir.yaml", None, text.clone()));
    let (binding, diagnostics) = medpol::fhir::bind(id, &text, artifacts(), true);
    let binding = binding.unwrap_or_else(|| panic!("{diagnostics:?}"));
    let bundle = case("484-bundle.json");
    let record = Record::from_bundle(&bundle).unwrap();
    let order = record::orders(&bundle).unwrap()[0].clone();
    let ctx = Context {
        today: today(),
        base_url: "http://x",
        hook_instance: "h",
    };
    let answered = crd::answer(&binding, &record, &order, &ctx);
    let ext = &answered.extensions[0];
    assert!(crd::violations(ext).is_empty(), "{ext:#}");
    assert_eq!(element(ext, "expiry-date")[0]["valueDate"], "2027-03-07");
}
