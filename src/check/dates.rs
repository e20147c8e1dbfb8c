//! Dates: date literals against the calendar, and `service_date`, the date of service, a fact
//! every file can read without declaring it.

use super::{Checker, Symbol};
use crate::ast;
use crate::diagnostic::{Code, Diagnostic, shown};
use crate::ir::{Fact, FactId};
use crate::source::{FileId, Span};
use crate::types::{Date, Type};

/// The name of the date of service.
pub const SERVICE_DATE: &str = "service_date";

/// How the date of service is described where a fact's description shows (hovers, the
/// artifact's input schema).
pub const SERVICE_DATE_DESCRIPTION: &str = "the date of service";

impl Checker<'_> {
    /// A date as written, checked against the calendar (`2021-02-29` is not on it).
    pub(super) fn date(&mut self, text: &str, span: Span) -> Option<Date> {
        let date = Date::parse(text);
        if date.is_none() {
            self.report(
                Diagnostic::new(
                    Code::InvalidDate,
                    format!("`{}` is not a date on the calendar", shown(text)),
                )
                .primary(span, "no such date")
                .help("dates are written `YYYY-MM-DD`, with a month from 01 to 12 and a day that month has"),
            );
        }
        date
    }

    /// A name the language declares, for a file that does not declare it itself.
    pub(super) fn predeclared_symbol(&mut self, file: FileId, name: &ast::Ident) -> Option<Symbol> {
        let declared = self.scope(file)?.names.contains_key(&name.name);
        (!declared && name.name == SERVICE_DATE).then(|| self.service_date(name))
    }

    /// The date of service, made when a file first names it without declaring a name of its
    /// own so (declaring one is an error, see [`Checker::predeclared`]). One fact for the whole
    /// program: every policy reads the same input. Its place is that first use, for the
    /// places a fact's declaration is shown.
    fn service_date(&mut self, name: &ast::Ident) -> Symbol {
        let id = match self.service_date {
            Some(id) => id,
            None => {
                let id = FactId(self.program.facts.len() as u32);
                self.program.facts.push(Fact {
                    name: SERVICE_DATE.to_string(),
                    ty: Type::Date,
                    description: Some(SERVICE_DATE_DESCRIPTION.to_string()),
                    file: name.span.file,
                    span: name.span,
                    name_span: name.span,
                    range: None,
                    documented: false,
                    record: None,
                    derived: None,
                });
                self.service_date = Some(id);
                id
            }
        };
        Symbol::Fact(id)
    }

    /// Reports a declaration of a name the language declares itself.
    pub(super) fn predeclared(&mut self, name: &ast::Ident) {
        if name.name == SERVICE_DATE {
            self.report(
                Diagnostic::new(
                    Code::PredeclaredName,
                    format!("`{SERVICE_DATE}` is declared by the language"),
                )
                .primary(name.span, "declared again here")
                .help(format!(
                    "`{SERVICE_DATE}` is {SERVICE_DATE_DESCRIPTION}, a `date` every file can read; \
                     remove this declaration, or give this one another name"
                )),
            );
        }
    }
}
