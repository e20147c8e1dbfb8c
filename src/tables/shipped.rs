//! The tables built into medpol, embedded in the binary (`tables/README.md` says where each
//! comes from and how it was imported).

use super::{Table, TableError, TableSet};

const SHIPPED: &[(&str, &[u8])] = &[
    (
        "icd10cm-2025.mpt",
        include_bytes!("../../tables/icd10cm-2025.mpt"),
    ),
    (
        "icd10cm-2026-04.mpt",
        include_bytes!("../../tables/icd10cm-2026-04.mpt"),
    ),
    (
        "icd10pcs-2025.mpt",
        include_bytes!("../../tables/icd10pcs-2025.mpt"),
    ),
    (
        "cpt-local.mpt",
        include_bytes!("../../tables/cpt-local.mpt"),
    ),
];

/// Loads every shipped table; one that fails is left out and its error kept in the set.
pub(super) fn load() -> TableSet {
    let mut set = TableSet::new();
    for (file, bytes) in SHIPPED {
        if let Err(e) = Table::from_bytes(*bytes).and_then(|t| set.add(t)) {
            set.errors
                .push(TableError::new(format!("tables/{file}: {e}")));
        }
    }
    set
}
