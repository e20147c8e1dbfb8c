//! A patient's FHIR resources, by the query that gave them: what a CDS Hooks request's
//! prefetch and the service's own queries bring, or one Bundle given to `medpol eval --fhir`.
//! A query that was not made leaves the facts read from it missing; a query made that found
//! nothing is an answer (no Condition of that code).

use serde_json::Value;

use crate::binding::Query;
use crate::shown;

/// At most this many resources in one record (docs/limits.md).
pub const MAX_RESOURCES: usize = 50_000;

#[derive(Debug, Clone, Default)]
pub struct Record {
    /// Per query (in the order of `Query::ALL`): the resources it found, or `None` when it was
    /// not made.
    found: [Option<Vec<Value>>; 6],
    count: usize,
}

/// The resource type a query's results have.
fn resource_type(query: Query) -> &'static str {
    match query {
        Query::Patient => "Patient",
        Query::Encounter => "Encounter",
        Query::Coverage => "Coverage",
        Query::Conditions => "Condition",
        Query::Observations => "Observation",
        Query::Procedures => "Procedure",
    }
}

fn slot(query: Query) -> usize {
    match query {
        Query::Patient => 0,
        Query::Encounter => 1,
        Query::Coverage => 2,
        Query::Conditions => 3,
        Query::Observations => 4,
        Query::Procedures => 5,
    }
}

impl Record {
    pub fn new() -> Record {
        Record::default()
    }

    /// A record of every resource of a Bundle (of any type): each query counts as made, so a
    /// Bundle without Conditions says the patient has none. Resources of other types are left
    /// out; orders are read from the Bundle by [`orders`].
    pub fn from_bundle(bundle: &Value) -> Result<Record, String> {
        let entries = bundle_entries(bundle)?;
        let mut record = Record::new();
        for query in Query::ALL {
            record.open(query);
        }
        for resource in entries {
            let ty = resource.get("resourceType").and_then(Value::as_str);
            if let Some(query) = Query::ALL
                .into_iter()
                .find(|q| Some(resource_type(*q)) == ty)
            {
                record.push(query, resource.clone())?;
            }
        }
        Ok(record)
    }

    /// A query's result: one resource of its type, or a Bundle (a searchset) of them; other
    /// resources in the Bundle (an OperationOutcome, included resources) are left out. `null`
    /// leaves the query not made.
    pub fn put(&mut self, query: Query, mut value: Value) -> Result<(), String> {
        if value.is_null() {
            return Ok(());
        }
        let ty = value.get("resourceType").and_then(Value::as_str);
        let want = resource_type(query);
        if ty == Some("Bundle") {
            // The entries are moved out, not copied: a prefetch can hold tens of thousands.
            let entries = match value.get_mut("entry").map(Value::take) {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(entries)) => entries,
                Some(_) => return Err("the Bundle's `entry` is not a list".into()),
            };
            if entries.len() > MAX_RESOURCES {
                return Err(format!(
                    "the Bundle has {} entries, more than {MAX_RESOURCES}",
                    entries.len()
                ));
            }
            self.open(query);
            for mut entry in entries {
                let resource = entry.get_mut("resource").map(Value::take);
                if let Some(r) = resource
                    && r.get("resourceType").and_then(Value::as_str) == Some(want)
                {
                    self.push(query, r)?;
                }
            }
            return Ok(());
        }
        if ty != Some(want) {
            return Err(format!(
                "`{}` holds a `{}`, not a {want} or a Bundle of them",
                query.key(),
                shown(ty.unwrap_or("value without a resourceType"))
            ));
        }
        self.open(query);
        self.push(query, value)
    }

    /// Marks the query as made (with nothing found yet).
    fn open(&mut self, query: Query) {
        if let Some(s) = self.found.get_mut(slot(query)) {
            s.get_or_insert_with(Vec::new);
        }
    }

    fn push(&mut self, query: Query, resource: Value) -> Result<(), String> {
        if self.count >= MAX_RESOURCES {
            return Err(format!(
                "the record holds more than {MAX_RESOURCES} resources"
            ));
        }
        self.count += 1;
        if let Some(list) = self.found.get_mut(slot(query)).and_then(Option::as_mut) {
            list.push(resource);
        }
        Ok(())
    }

    /// Whether the query was made.
    pub fn has(&self, query: Query) -> bool {
        self.found.get(slot(query)).is_some_and(Option::is_some)
    }

    /// The resources a query found (`None`: it was not made).
    pub fn get(&self, query: Query) -> Option<&[Value]> {
        self.found.get(slot(query)).and_then(Option::as_deref)
    }

    pub fn resource_count(&self) -> usize {
        self.count
    }
}

/// The resources of a Bundle's entries.
pub fn bundle_entries(bundle: &Value) -> Result<Vec<&Value>, String> {
    if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return Err("not a FHIR Bundle (no `\"resourceType\": \"Bundle\"`)".into());
    }
    let Some(entries) = bundle.get("entry") else {
        return Ok(Vec::new());
    };
    let Some(entries) = entries.as_array() else {
        return Err("the Bundle's `entry` is not a list".into());
    };
    if entries.len() > MAX_RESOURCES {
        return Err(format!(
            "the Bundle has {} entries, more than {MAX_RESOURCES}",
            entries.len()
        ));
    }
    Ok(entries.iter().filter_map(|e| e.get("resource")).collect())
}

/// The resource types a coverage question can be asked for (CRD's orders and appointments).
pub const ORDER_TYPES: &[&str] = &[
    "ServiceRequest",
    "DeviceRequest",
    "MedicationRequest",
    "NutritionOrder",
    "CommunicationRequest",
    "VisionPrescription",
    "Appointment",
];

/// The orders of a Bundle: its resources of the order types.
pub fn orders(bundle: &Value) -> Result<Vec<&Value>, String> {
    Ok(bundle_entries(bundle)?
        .into_iter()
        .filter(|r| {
            r.get("resourceType")
                .and_then(Value::as_str)
                .is_some_and(|t| ORDER_TYPES.contains(&t))
        })
        .collect())
}
