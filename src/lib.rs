//! medpol: a compiler and linter for medical coverage policy criteria.
//!
//! The pipeline is a sequence of stages, each one public function (see `docs/architecture.md`):
//! [`syntax::parse`] turns text into a syntax tree, [`check::check`] resolves names and types
//! into the typed model of a project. Diagnostics are plain data ([`diagnostic::Diagnostic`]),
//! rendered only at the edges by [`render`].

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

// The generated parser names `alloc` when pest is built without `std` (which drops pest's
// per-call stack probe; the parser's own nesting limit already bounds recursion).
extern crate alloc;

pub mod analyse;
/// Decision artifacts and their evaluation: the `medpol-artifact` crate, which programs that
/// only evaluate use without the compiler.
pub use medpol_artifact as artifact;
pub mod ast;
pub mod check;
/// Code systems and the format of their codes (shared with the artifact crate).
pub use medpol_artifact::codes;
pub mod codeset;
pub mod compile;
pub mod diagnostic;
pub mod diff;
pub mod driver;
pub mod evaluate;
pub mod explain;
pub mod fhir;
pub mod format;
pub mod input;
pub mod ir;
#[cfg(feature = "cli")]
pub mod lsp;
pub mod paste;
pub mod project;
pub mod render;
pub mod report;
pub mod source;
pub mod sql;
pub mod syntax;
pub mod tables;
pub mod testing;
pub mod types;
