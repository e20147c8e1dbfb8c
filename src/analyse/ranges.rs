//! Findings about facts with declared ranges: a condition the range alone makes impossible
//! or always true says so, since the range, not the condition, decides it.

use crate::diagnostic::{Diagnostic, shown};
use crate::ir::{Expr, Program};

/// Adds to `diag` a note for each fact `e` reads that has a declared range:
/// "`pain` is declared from 0 to 10".
pub fn with_ranges(program: &Program, e: &Expr, mut diag: Diagnostic) -> Diagnostic {
    for id in program.facts_read(e) {
        let Some(fact) = program.fact(id) else {
            continue;
        };
        if let Some((low, high)) = fact.range {
            let text = |n| super::space::quantity_text(n, Some(fact.ty));
            diag = diag.note(format!(
                "`{}` is declared from {} to {}",
                shown(&fact.name),
                text(low),
                text(high)
            ));
        }
    }
    diag
}
