//! FHIR R4 facts for medpol decision artifacts, and Da Vinci CRD coverage information from
//! their decisions.
//!
//! A project's binding (`fhir.yaml`, [`binding`]) says where each fact of its policies comes
//! from in a patient's FHIR record: a Condition's code, the order's code, an Observation's
//! value, the Coverage's plan, the Patient's birth date, the Encounter's class, the date of
//! service. [`binding::check`] checks it against the artifacts as the compiler checks a policy
//! (unknown facts, types, units, code systems by their FHIR URIs, the CRD mapping of every
//! outcome), and gives a [`binding::Binding`] that cannot be inconsistent with them.
//!
//! [`record::Record`] holds the resources of one patient (a Bundle, or a CDS Hooks request's
//! prefetch and what was fetched for it); [`extract::facts`] reads a policy's facts from it.
//! [`crd::answer`] decides one order with every policy the service uses and writes CRD's
//! coverage-information extension, which [`crd::violations`] checks against CRD's invariants.
//! [`questionnaire`] turns the facts a pending decision needs into a DTR Questionnaire, and a
//! QuestionnaireResponse back into facts. `docs/crd.md` is the guide.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::string_slice,
    clippy::panic,
    clippy::unreachable,
    clippy::todo,
    clippy::unimplemented
)]

pub mod binding;
pub mod crd;
pub mod extract;
pub mod questionnaire;
pub mod record;

use medpol_artifact::codes::System;

/// The FHIR URI of a code system medpol knows (terminology.hl7.org's identifiers).
pub fn system_uri(system: System) -> &'static str {
    match system {
        System::Icd10Cm => "http://hl7.org/fhir/sid/icd-10-cm",
        System::Icd10Pcs => "http://www.cms.gov/Medicare/Coding/ICD10",
        System::Cpt => "http://www.ama-assn.org/go/cpt",
        System::Hcpcs => "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
    }
}

/// The code system a FHIR URI names: the canonical URIs, and the OIDs and older URIs records
/// still carry.
pub fn system_of_uri(uri: &str) -> Option<System> {
    Some(match uri {
        "http://hl7.org/fhir/sid/icd-10-cm" | "urn:oid:2.16.840.1.113883.6.90" => System::Icd10Cm,
        "http://www.cms.gov/Medicare/Coding/ICD10"
        | "http://hl7.org/fhir/sid/icd-10-pcs"
        | "urn:oid:2.16.840.1.113883.6.4" => System::Icd10Pcs,
        "http://www.ama-assn.org/go/cpt" | "urn:oid:2.16.840.1.113883.6.12" => System::Cpt,
        "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
        | "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
        | "urn:oid:2.16.840.1.113883.6.285" => System::Hcpcs,
        _ => return None,
    })
}

/// UCUM's FHIR URI: Quantity.system of a measurement.
pub const UCUM: &str = "http://unitsofmeasure.org";

/// Text of a value shown in a message: at most 60 characters, so that no message echoes an
/// input without bound.
pub(crate) fn shown(text: &str) -> String {
    let mut out: String = text.chars().take(60).collect();
    if text.chars().nth(60).is_some() {
        out.push('…');
    }
    out.escape_debug().to_string()
}

/// Longer text written into an answer (a rule's text, a reason): at most 400 characters.
pub(crate) fn shown_long(text: &str) -> String {
    let mut out: String = text.chars().take(400).collect();
    if text.chars().nth(400).is_some() {
        out.push('…');
    }
    out
}
