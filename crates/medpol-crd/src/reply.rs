//! What the service answers: an HTTP status and a JSON body, and FHIR OperationOutcomes for
//! the errors.

use serde_json::{Value, json};

/// An HTTP status and the JSON sent with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

/// The OperationOutcome issue codes the service uses (FHIR's IssueType).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueCode {
    /// Content not valid against the CDS Hooks or FHIR rules.
    Invalid,
    /// Not JSON, or JSON of the wrong shape.
    Structure,
    /// A required element is missing.
    Required,
    NotFound,
    /// Over a limit of the service.
    TooCostly,
    /// A failure of the service itself.
    Exception,
}

impl IssueCode {
    pub fn code(self) -> &'static str {
        match self {
            IssueCode::Invalid => "invalid",
            IssueCode::Structure => "structure",
            IssueCode::Required => "required",
            IssueCode::NotFound => "not-found",
            IssueCode::TooCostly => "too-costly",
            IssueCode::Exception => "exception",
        }
    }
}

/// An OperationOutcome of one error.
pub fn operation_outcome(code: IssueCode, diagnostics: &str) -> Value {
    json!({
        "resourceType": "OperationOutcome",
        "issue": [{
            "severity": "error",
            "code": code.code(),
            "diagnostics": diagnostics,
        }],
    })
}

impl Reply {
    /// A successful answer.
    pub fn ok(body: Value) -> Reply {
        Reply { status: 200, body }
    }

    /// An error: the status and an OperationOutcome saying why.
    pub fn error(status: u16, code: IssueCode, diagnostics: impl AsRef<str>) -> Reply {
        Reply {
            status,
            body: operation_outcome(code, diagnostics.as_ref()),
        }
    }

    /// 400: the request breaks a rule of CDS Hooks or of the hook.
    pub fn bad(code: IssueCode, diagnostics: impl AsRef<str>) -> Reply {
        Reply::error(400, code, diagnostics)
    }
}
