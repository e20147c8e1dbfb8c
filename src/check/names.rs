//! Name helpers: "did you mean" suggestions and look-alike letters.

use unicode_script::UnicodeScript;

/// Suggestions are worked out for at most this many misses per run: each one compares the
/// name with every candidate, and a generated file can have millions of misses.
pub const SUGGESTION_BUDGET: usize = 200;

/// Names longer than this are never compared for suggestions (edit distance is quadratic).
const MAX_COMPARED_LEN: usize = 64;

/// The visible skeleton of a name: look-alike letters replaced by the letter they imitate.
pub fn skeleton(name: &str) -> String {
    unicode_security::skeleton(name).collect()
}

/// The candidate closest to `name`, if one is close enough to be a likely typo.
pub fn suggest<'c>(name: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    if name.chars().count() > MAX_COMPARED_LEN {
        return None;
    }
    let lower = name.to_lowercase();
    let skel = skeleton(name);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if c == name || c.chars().count() > MAX_COMPARED_LEN {
            continue;
        }
        let score = if c.to_lowercase() == lower || skeleton(c) == skel {
            0
        } else if name.chars().count() < 3 {
            // Every short name is a small edit away from every other.
            continue;
        } else {
            let d = strsim::damerau_levenshtein(&lower, &c.to_lowercase());
            let limit = (name.chars().count().max(c.chars().count()) / 3).max(1);
            if d > limit {
                continue;
            }
            d
        };
        if best.is_none_or(|(s, b)| score < s || (score == s && c < b)) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}

/// A letter in a name that looks like a different (ASCII) letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookAlike {
    pub found: char,
    pub looks_like: char,
    pub script: String,
}

/// The non-ASCII letters of a name that imitate ASCII ones, such as the Cyrillic `у` in
/// `sуmptomatic`.
pub fn look_alikes(name: &str) -> Vec<LookAlike> {
    if name.is_ascii() {
        return Vec::new();
    }
    let mut found = Vec::new();
    for c in name.chars().filter(|c| !c.is_ascii()) {
        let mut buf = [0u8; 4];
        let skel: Vec<char> = unicode_security::skeleton(c.encode_utf8(&mut buf)).collect();
        if let [ascii] = skel.as_slice()
            && ascii.is_ascii_alphanumeric()
            && !found.iter().any(|l: &LookAlike| l.found == c)
        {
            found.push(LookAlike {
                found: c,
                looks_like: *ascii,
                script: format!("{:?}", c.script()),
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let names = ["symptomatic", "hospitalized", "setting"];
        assert_eq!(suggest("symptomatc", names), Some("symptomatic"));
        assert_eq!(suggest("Setting", names), Some("setting"));
        assert_eq!(suggest("xyz", names), None);
    }

    #[test]
    fn suggests_the_ascii_twin_of_a_look_alike() {
        assert_eq!(
            suggest("s\u{0443}mptomatic", ["symptomatic"]),
            Some("symptomatic")
        );
    }

    #[test]
    fn finds_cyrillic_look_alikes() {
        let found = look_alikes("s\u{0443}mptom\u{0430}tic");
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].looks_like, 'y');
        assert_eq!(found[0].script, "Cyrillic");
        assert_eq!(found[1].looks_like, 'a');
        assert!(
            look_alikes("café").is_empty(),
            "é is not confusable with an ASCII letter"
        );
    }
}
