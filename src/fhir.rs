//! The FHIR binding of a project (`fhir.yaml`): read and checked against the project's
//! artifacts by `medpol_fhir::binding`, its problems reported as diagnostics that point at the
//! key they are about (`docs/crd.md`, codes `E05xx`).

use medpol_fhir::binding::{self, Binding, Problem, ProblemCode};

use crate::artifact::Artifact;
use crate::diagnostic::{Code, Diagnostic};
use crate::source::{FileId, Span};

/// Reads and checks a binding against a project's artifacts (`whole`: all of them; else some,
/// whose missing facts and policies are not errors). The binding comes back when nothing is
/// wrong but warnings.
pub fn bind(
    file: FileId,
    text: &str,
    artifacts: &[Artifact],
    whole: bool,
) -> (Option<Binding>, Vec<Diagnostic>) {
    let raw = match binding::parse(text) {
        Ok(raw) => raw,
        Err(p) => return (None, vec![diagnostic(file, text, p)]),
    };
    let (bound, problems) = binding::check(&raw, artifacts, whole);
    let diagnostics = problems
        .into_iter()
        .map(|p| diagnostic(file, text, p))
        .collect();
    (bound, diagnostics)
}

fn code(c: ProblemCode) -> Code {
    match c {
        ProblemCode::InvalidBinding => Code::InvalidBinding,
        ProblemCode::UnknownBinding => Code::UnknownBinding,
        ProblemCode::BindingType => Code::BindingType,
        ProblemCode::BindingUnit => Code::BindingUnit,
        ProblemCode::BindingCodeSystem => Code::BindingCodeSystem,
        ProblemCode::BindingEnumValue => Code::BindingEnumValue,
        ProblemCode::CrdMapping => Code::CrdMapping,
        ProblemCode::CoverageInformationInvalid => Code::CoverageInformationInvalid,
        ProblemCode::UnboundFact => Code::UnboundFact,
    }
}

fn diagnostic(file: FileId, text: &str, p: Problem) -> Diagnostic {
    let mut d = Diagnostic::new(code(p.code), p.message);
    let (start, end) = locate(text, &p.path).unwrap_or((0, 0));
    d = d.primary(Span::new(file, start, end), "");
    if let Some(help) = p.help {
        d = d.help(help);
    }
    d
}

/// The byte range of the key a path of keys leads to in block-style YAML, or of the deepest
/// key of the path found (a key inside a `{ ... }` mapping is found through its parent).
fn locate(text: &str, path: &[String]) -> Option<(usize, usize)> {
    let mut stack: Vec<(usize, &str)> = Vec::new();
    let mut best: Option<(usize, (usize, usize))> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let body = line.trim_end_matches(['\n', '\r']);
        let indent = body.len() - body.trim_start_matches(' ').len();
        let rest = body.get(indent..).unwrap_or("");
        if rest.is_empty() || rest.starts_with('#') || rest.starts_with('-') {
            continue;
        }
        let Some(colon) = rest.find(':') else {
            continue;
        };
        let key = rest
            .get(..colon)
            .unwrap_or("")
            .trim()
            .trim_matches(['"', '\'']);
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        stack.push((indent, key));
        let depth = stack.len();
        let matches = depth <= path.len()
            && stack
                .iter()
                .zip(path)
                .all(|((_, k), want)| *k == want.as_str());
        if matches && best.is_none_or(|(d, _)| depth > d) {
            best = Some((depth, (start + indent, start + indent + colon)));
        }
    }
    best.map(|(_, span)| span)
}

#[cfg(test)]
mod tests {
    use super::locate;

    #[test]
    fn a_path_leads_to_its_key_or_the_deepest_found() {
        let text = "facts:\n  diagnoses:\n    condition: { system: x }\npolicies:\n  p:\n    crd:\n      covered: {}\n";
        let at = |path: &[&str]| {
            let path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
            locate(text, &path).and_then(|(s, e)| text.get(s..e))
        };
        assert_eq!(at(&["facts", "diagnoses"]), Some("diagnoses"));
        assert_eq!(
            at(&["policies", "p", "crd", "covered", "outcomes"]),
            Some("covered")
        );
        assert_eq!(at(&["policies", "q"]), Some("policies"));
        assert_eq!(at(&["nothing"]), None);
    }
}
