//! The facts reader against serde_json: `Facts::read_json` reads JSON text with a reader of its
//! own (for speed, and to name both places of a key given twice). On generated facts texts and
//! on mutations of them (a character deleted, inserted or replaced), it must accept exactly the
//! texts serde_json accepts, refuse a valid text that is not an object, and bind exactly the
//! facts `Facts::read_value` binds from serde_json's value; a text with a key given twice is the
//! one difference, and must be refused.

use proptest::prelude::*;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;

use medpol::artifact::{Artifact, Facts, Options, Unknown};

fn artifact() -> &'static Artifact {
    static ARTIFACT: std::sync::OnceLock<Artifact> = std::sync::OnceLock::new();
    ARTIFACT.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let built = medpol::driver::build_paths(
            &[root.join("policies/bcbsma-484.medpol")],
            &medpol::driver::Options::default(),
        )
        .expect("the policy loads")
        .expect("the policy compiles");
        built.compiled[0].artifact.clone()
    })
}

/// The keys of a JSON object in the order written, duplicates kept.
fn keys(text: &str) -> Option<Vec<String>> {
    struct Keys;
    impl<'de> Visitor<'de> for Keys {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<String>, A::Error> {
            let mut keys = Vec::new();
            while let Some((k, _)) = map.next_entry::<String, serde::de::IgnoredAny>()? {
                keys.push(k);
            }
            Ok(keys)
        }
    }
    serde_json::Deserializer::from_str(text)
        .deserialize_map(Keys)
        .ok()
}

const NAMES: [&str; 8] = [
    "procedures",
    "product",
    "symptomatic",
    "conservative_care",
    "diagnoses",
    "pro\\u0064uct",
    "unknown",
    "fracture_age",
];

const VALUES: [&str; 24] = [
    r#"["22511", "0200T"]"#,
    r#"[]"#,
    r#"["M80.08XA", "C90.00"]"#,
    r#"["22511", 3]"#,
    r#""hmo""#,
    r#""medicare_hmo""#,
    r#""h\u006do""#,
    r#""8 weeks""#,
    r#""42 days""#,
    r#""6""#,
    r#"{"value": 8, "unit": "weeks"}"#,
    r#"{"value": 1.5, "unit": "months", "extra": [null, {}]}"#,
    "true",
    "false",
    "null",
    "0",
    "-12",
    "12.50",
    "1e2",
    "18446744073709551616",
    r#""a \" quote \\ and \/ slash \n""#,
    r#""\ud83d\ude00""#,
    r#"[[], {"a": [true]}]"#,
    r#""tab	inside""#,
];

fn object() -> impl Strategy<Value = String> {
    let member = (0..NAMES.len(), 0..VALUES.len(), 0..3usize);
    prop::collection::vec(member, 0..6).prop_map(|members| {
        let spaces = ["", " ", "\n  "];
        let body: Vec<String> = members
            .into_iter()
            .map(|(k, v, s)| format!("{}\"{}\":{}{}", spaces[s], NAMES[k], spaces[s], VALUES[v]))
            .collect();
        format!("{{{}}}", body.join(","))
    })
}

/// A text and a change to it: none, or a character deleted, inserted or replaced.
fn mutated() -> impl Strategy<Value = String> {
    const INSERT: &[u8] = b"{}[],:\"\\ 0123456789-.eEtrufalsn\t\nx";
    (
        object(),
        0..4usize,
        any::<prop::sample::Index>(),
        0..INSERT.len(),
    )
        .prop_map(|(text, how, at, byte)| {
            let mut bytes = text.into_bytes();
            let at = at.index(bytes.len().max(1)).min(bytes.len());
            let c = INSERT[byte];
            match how {
                1 if at < bytes.len() => {
                    bytes.remove(at);
                }
                2 => bytes.insert(at, c),
                3 if at < bytes.len() => bytes[at] = c,
                _ => {}
            }
            // Every generated and inserted byte is ASCII: the text stays UTF-8.
            String::from_utf8(bytes).unwrap()
        })
}

fn agree(text: &str) -> Result<(), TestCaseError> {
    let artifact = artifact();
    // Unknown keys are skipped, so that the reader's skipping of values is tried too.
    let options = Options {
        unknown: Unknown::Ignore,
        ..Options::default()
    };
    let mut ours = Facts::with_options(artifact, options.clone());
    let ours = ours.read_json(text).map(|()| ours);
    match serde_json::from_str::<Value>(text) {
        // The one kind of valid JSON serde_json refuses: a number past a 64-bit float's range,
        // which medpol refuses only where a fact's value needs it.
        Err(e) if e.to_string().starts_with("number out of range") => {}
        Err(e) => prop_assert!(
            ours.is_err(),
            "serde_json refuses ({e}), medpol accepts {text:?}"
        ),
        Ok(Value::Object(_)) => {
            let keys = keys(text).unwrap();
            let mut unique = keys.clone();
            unique.sort();
            unique.dedup();
            if unique.len() < keys.len() {
                // Refused: for the key given twice, or for a value before it.
                prop_assert!(ours.is_err(), "{text:?} has a key twice");
                return Ok(());
            }
            let value: Value = serde_json::from_str(text).unwrap();
            let mut theirs = Facts::with_options(artifact, options);
            let theirs = theirs.read_value(&value).map(|()| theirs);
            match (&ours, &theirs) {
                (Ok(a), Ok(b)) => prop_assert_eq!(a, b, "{}", text),
                (Err(_), Err(_)) => {}
                _ => prop_assert!(
                    false,
                    "{text:?}: medpol {ours:?}, from the value {theirs:?}"
                ),
            }
        }
        Ok(_) => {
            let err = ours.expect_err("valid JSON that is not an object is refused");
            prop_assert_eq!(
                err.message,
                "the facts must be an object of fact names and values"
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn facts_reader_agrees_with_serde_json(text in mutated()) {
        agree(&text)?;
    }
}

#[test]
fn texts_at_the_edges_agree() {
    for text in [
        "",
        " ",
        "{",
        "}",
        "{}",
        "[]",
        "null",
        "\"x\"",
        "{} ",
        "{}{}",
        "{\"a\"}",
        "{\"a\":}",
        "{\"procedures\":[\"22511\",]}",
        "{\"product\":\"hmo\"",
        "{\"product\":\"\\x\"}",
        "{\"product\":\"\\u12\"}",
        "{\"product\":\"\\udc00\"}",
        "{\"symptomatic\":tru}",
        "{\"symptomatic\":true }",
        "{\"conservative_care\":-}",
        "{\"conservative_care\":01}",
        "{\"conservative_care\":1.}",
        "{\"conservative_care\":1e}",
        "{\"procedures\":[[[[]]]]}",
    ] {
        agree(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    }
}
