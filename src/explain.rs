//! `medpol explain`: the explanation of each diagnostic code.
//!
//! The text is `docs/diagnostics.md`, compiled in, so the command and the document never
//! differ. Each code has a section headed `## CODE name`.

use crate::diagnostic::Code;

const DOCUMENT: &str = include_str!("../docs/diagnostics.md");

/// The section of `docs/diagnostics.md` about a code, without its heading.
pub fn explain(code: Code) -> Option<&'static str> {
    sections()
        .find(|(c, _)| *c == code.as_str())
        .map(|(_, body)| body)
}

/// Every section: the code in its heading and the text under it.
pub fn sections() -> impl Iterator<Item = (&'static str, &'static str)> {
    let mut rest = DOCUMENT;
    std::iter::from_fn(move || {
        let start = rest.find("\n## ")?;
        let after = rest.get(start + 4..)?;
        let heading_end = after.find('\n').unwrap_or(after.len());
        let heading = after.get(..heading_end)?;
        let body_start = after.get(heading_end..)?;
        let body_end = body_start.find("\n## ").unwrap_or(body_start.len());
        let body = body_start.get(..body_end)?.trim_matches('\n');
        rest = body_start.get(body_end..)?;
        let code = heading.split_whitespace().next()?;
        Some((code, body))
    })
}
