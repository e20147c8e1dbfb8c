//! `docs/diagnostics.md` explains every code, in code order, and each example in it really
//! produces its code.

use medpol::check::{ImportMap, check};
use medpol::diagnostic::Code;
use medpol::source::FileId;

#[test]
fn every_code_has_one_section_in_order() {
    let sections: Vec<&str> = medpol::explain::sections().map(|(code, _)| code).collect();
    let codes: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(sections, codes);
    for (code, body) in medpol::explain::sections() {
        assert!(!body.trim().is_empty(), "{code} has an empty section");
    }
}

#[test]
fn headings_give_the_code_and_its_name() {
    let doc = include_str!("../docs/diagnostics.md");
    for code in Code::ALL {
        let heading = format!("\n## {} {}\n", code.as_str(), code.name());
        assert!(
            doc.contains(&heading),
            "missing heading `{}`",
            heading.trim()
        );
    }
}

/// The fenced blocks of one language in a section.
fn blocks<'a>(body: &'a str, lang: &str) -> Vec<&'a str> {
    let fence = format!("```{lang}\n");
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(start) = rest.find(&fence) {
        let after = &rest[start + fence.len()..];
        let Some(end) = after.find("```") else { break };
        out.push(&after[..end]);
        rest = &after[end + 3..];
    }
    out
}

#[test]
fn every_example_produces_its_code() {
    let mut checked = 0;
    for (code_text, body) in medpol::explain::sections() {
        let code = Code::parse(code_text).expect("a known code");
        for example in blocks(body, "medpol") {
            let parsed = medpol::syntax::parse(FileId(0), example);
            let result = check(
                &[parsed.file],
                &ImportMap::new(),
                medpol::tables::TableSet::shipped(),
                &[],
            );
            let mut found: Vec<Code> = parsed
                .diagnostics
                .iter()
                .chain(&result.diagnostics)
                .map(|d| d.code)
                .collect();
            // As `medpol check` does: the analysis runs on a model without errors.
            if !parsed
                .diagnostics
                .iter()
                .chain(&result.diagnostics)
                .any(|d| d.is_error())
            {
                let options = medpol::analyse::Options::default();
                let analysis = medpol::analyse::analyse(result.valid().unwrap(), &options);
                found.extend(analysis.diagnostics.iter().map(|d| d.code));
            }
            assert!(
                found.contains(&code),
                "the example of {code_text} gives {found:?}, not {code_text}:\n{example}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} examples were checked");
}

#[test]
fn explain_returns_the_section() {
    let body = medpol::explain::explain(Code::UnknownName).expect("a section");
    assert!(body.contains("did you mean"));
    assert!(!body.contains("## "), "a section stops at the next heading");
}
