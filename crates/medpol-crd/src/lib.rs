//! A Da Vinci CRD (STU 2.2) service over CDS Hooks 2.0, answering from medpol decision
//! artifacts through a checked FHIR binding (`medpol_fhir`).
//!
//! The parts, each usable alone:
//!
//! - [`hook`]: the four services (`order-sign-crd`, `order-select-crd`, `order-dispatch-crd`,
//!   `appointment-book-crd`), their discovery document, and a request read and checked into a
//!   [`hook::Call`] (the orders in scope, the prefetch, the FHIR server and its token).
//! - [`decide`]: the answer to a call, in two steps: [`decide::begin`] reads the call and the
//!   prefetch into a record and says what the record still lacks ([`decide::Plan`]); what was
//!   fetched for it goes to [`decide::Pending::finish`], which answers every order. The server
//!   and `medpol replay` call these same two functions, so a replay decides exactly as the
//!   server did.
//! - [`fetch`]: the queries the prefetch lacks, from the hook's FHIR server (time-limited,
//!   size-limited, paged).
//! - [`audit`]: one JSON line per call, appended and flushed before the response is sent.
//! - [`replay`]: an audit log decided again with today's artifacts, and what changed.
//! - [`serve`] and [`run`]: the HTTP server (axum on tokio).
//!
//! `docs/crd.md` is the guide; `docs/decisions/0010-crd-server.md` records the choices.
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

pub mod audit;
pub mod clock;
pub mod decide;
pub mod fetch;
pub mod hook;
pub mod replay;
pub mod reply;
mod server;

pub use reply::{IssueCode, Reply};
pub use server::{Config, Service, run, serve};

/// A request body may be at most this large by default (`--max-request`).
pub const DEFAULT_MAX_REQUEST: usize = 16 << 20;

/// At most this many resources in one call: the request's and what is fetched for it
/// (`medpol_fhir::record::MAX_RESOURCES`).
pub const MAX_RESOURCES: usize = medpol_fhir::record::MAX_RESOURCES;

/// Text of a value shown in a message: at most 60 characters, so that no message echoes an
/// input without bound.
pub(crate) fn shown(text: &str) -> String {
    let mut out: String = text.chars().take(60).collect();
    if text.chars().nth(60).is_some() {
        out.push('…');
    }
    out.escape_debug().to_string()
}
