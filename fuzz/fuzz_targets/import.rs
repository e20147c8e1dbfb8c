//! `paste::import` (`medpol codes import`) on arbitrary bytes: any panic, hang or failed
//! assertion here breaks the rule that a pasted table only ever gets a report.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medpol::paste::{Options, import};
use medpol::source::{SourceFile, Sources};
use medpol::tables::TableSet;
use medpol::types::Date;

fuzz_target!(|data: &[u8]| {
    let options = Options {
        system: None,
        date: Date::parse("2026-06-01").unwrap(),
        name: None,
    };
    let imported = import(data, TableSet::shipped(), &options).expect("within the size limit");
    for change in &imported.changes {
        assert!(!change.message.contains('\n'), "{}", change.message);
    }
    // Every block is medpol that parses and is in the formatter's style (tests/import.rs also
    // checks what each block expands to).
    for block in &imported.blocks {
        let mut sources = Sources::new();
        let id = sources.add(SourceFile::new("block.medpol", None, block.text.clone()));
        let formatted = medpol::format::format(id, &block.text).expect("the block parses");
        assert_eq!(formatted, block.text);
        let codes: usize = block.items.iter().map(|i| i.codes.len()).sum();
        assert_eq!(codes, block.codes.len());
    }
});
