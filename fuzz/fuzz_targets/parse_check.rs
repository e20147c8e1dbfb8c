//! Parse, check and render arbitrary bytes: any panic, stack overflow or hang here breaks the
//! rule that bad input only ever gets a diagnostic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medpol::check::{ImportMap, check};
use medpol::render::{human, json, short};
use medpol::source::{SourceFile, Sources};
use medpol::syntax::{decode, parse};

fuzz_target!(|data: &[u8]| {
    let (text, invalid) = decode(data.to_vec());
    let mut sources = Sources::new();
    let id = sources.add(SourceFile::new("fuzz.medpol", None, text));
    let mut diagnostics: Vec<_> = invalid.map(|bad| bad.diagnostic(id)).into_iter().collect();
    let parsed = parse(id, sources.text(id));
    diagnostics.extend(parsed.diagnostics);
    let checked = check(
        &[parsed.file],
        &ImportMap::new(),
        medpol::tables::TableSet::shipped(),
        &[],
    );
    diagnostics.extend(checked.diagnostics.iter().cloned());
    // Without an error the model is complete: the driver reports E0901 otherwise.
    if !diagnostics.iter().any(|d| d.is_error())
        && let Err(why) = checked.valid()
    {
        panic!("no error, yet the model is not valid: {why}");
    }

    // A label outside the text, or inside a character, is the next thing to break an editor
    // or a renderer; tests/proptest_tokens.rs holds the same rule.
    let text = sources.text(id);
    for label in diagnostics.iter().flat_map(|d| &d.labels) {
        let (start, end) = (label.span.start as usize, label.span.end as usize);
        assert_eq!(label.span.file, id, "{label:?} is in another file");
        assert!(
            start <= end && end <= text.len(),
            "{label:?} is outside the text"
        );
        assert!(
            text.is_char_boundary(start) && text.is_char_boundary(end),
            "{label:?} cuts a character"
        );
    }

    short::render(&sources, &diagnostics);
    json::render(&sources, &diagnostics, 1);
    human::render(&sources, &diagnostics, human::Color::Never);
});
