//! Grammar errors in words a policy author knows.

use pest::Parser as _;
use pest::error::{Error, ErrorVariant, InputLocation};

use super::{Grammar, Rule};
use crate::diagnostic::{Code, Diagnostic};
use crate::source::{FileId, Span};

/// Parses the chunk again with pest's error detail switched on, to learn the literal tokens it
/// expected. The switch is process-wide and is never turned off again, so that a parse running
/// at the same time on another thread cannot lose its detail.
pub(super) fn with_detail(err: Error<Rule>, chunk: &str) -> Error<Rule> {
    pest::set_error_detail(true);
    match Grammar::parse(Rule::chunk, chunk) {
        Err(detailed) => detailed,
        Ok(_) => err,
    }
}

/// Where the error is in the chunk and what was expected there.
///
/// pest's detailed attempts reach farther than its plain error (they follow literal tokens
/// too), so they are tried first: the farthest point, moved back to the start of a word it
/// falls inside (a failed unit `weekz` fails after `week`). When they have nothing to say
/// there (the attempt ended inside a lookahead, such as the reserved-word check of a name),
/// the plain error, at its own position, is used.
pub(super) fn locate(err: &Error<Rule>, chunk: &str) -> (usize, Option<String>) {
    let raw = raw_position(err).min(chunk.len());
    if let Some(attempts) = err.parse_attempts()
        && attempts.max_position >= raw
    {
        let at = snap_to_word(chunk, attempts.max_position.min(chunk.len()));
        let mut tokens = Vec::new();
        let mut rules = Vec::new();
        for token in attempts.expected_tokens() {
            tokens.push(token.to_string());
        }
        for stack in attempts.call_stacks() {
            if let Some(r) = stack.deepest.get_rule() {
                rules.push(*r);
            }
        }
        if let Some(phrase) = phrase(&tokens, &rules, after_word(chunk, at)) {
            return (at, Some(phrase));
        }
    }
    let rules = match &err.variant {
        ErrorVariant::ParsingError { positives, .. } => positives.clone(),
        ErrorVariant::CustomError { .. } => Vec::new(),
    };
    (raw, phrase(&[], &rules, after_word(chunk, raw)))
}

fn raw_position(err: &Error<Rule>) -> usize {
    match err.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    }
}

fn snap_to_word(chunk: &str, far: usize) -> usize {
    let before = chunk.get(..far).unwrap_or("");
    let word_len: usize = before
        .chars()
        .rev()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .map(char::len_utf8)
        .sum();
    let at_word = chunk
        .get(far..)
        .and_then(|r| r.chars().next())
        .is_some_and(|c| c.is_alphanumeric() || c == '_');
    if at_word && word_len > 0 {
        far - word_len
    } else {
        far
    }
}

/// The text right before a position is part of a word.
fn after_word(chunk: &str, at: usize) -> bool {
    chunk
        .get(..at)
        .and_then(|b| b.chars().next_back())
        .is_some_and(|c| c.is_alphanumeric() || c == '_')
}

/// What a rule means to an author, or nothing for rules that only add noise.
fn describe(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::ident | Rule::import_names => "a name",
        Rule::string | Rule::str_body => "a string",
        Rule::number | Rule::literal => "a number",
        Rule::integer => "a whole number",
        Rule::fact_range => "a range such as `in 0..10`",
        Rule::range_bound => "a number",
        Rule::date => "a date (`YYYY-MM-DD`)",
        Rule::quantity => "a quantity such as `6 weeks`",
        Rule::unit | Rule::ucum_code | Rule::ucum_bracket | Rule::type_unit => {
            "a unit (`days`, `weeks`, `months`, `years`, `%` or a UCUM code such as `kg`)"
        }
        Rule::atom | Rule::set_item => "a code",
        Rule::value => "a value",
        Rule::chunk
        | Rule::declaration
        | Rule::EOI
        | Rule::kw_policy
        | Rule::kw_import
        | Rule::kw_fact
        | Rule::kw_codes
        | Rule::kw_define
        | Rule::kw_decision
        | Rule::kw_test
        | Rule::kw_constraint
        | Rule::kw_record => NEW_DECLARATION,
        Rule::field_decl => "a field such as `relief: percent`",
        Rule::list_value | Rule::item_value => "a list such as `[ { ... } ]`",
        Rule::list_count | Rule::kw_count => "a count such as `count(sessions)`",
        Rule::kw_where => "`where`",
        Rule::within_tail | Rule::kw_within => "`within`",
        Rule::kw_before => "`before`",
        Rule::meta_entry => "a policy entry such as `title`",
        Rule::type_expr | Rule::named_type | Rule::type_arg => "a type",
        Rule::set_expr | Rule::set_term | Rule::system_set | Rule::set_literal => {
            "a set such as `{ ... }`"
        }
        Rule::set_op => "`+` or `-`",
        Rule::expr
        | Rule::and_expr
        | Rule::not_expr
        | Rule::predicate
        | Rule::operand
        | Rule::paren => "a condition",
        Rule::compare_tail | Rule::cmp_op => COMPARISON,
        Rule::arith_tail | Rule::arith_op => "`+`, `-`, `*` or `/`",
        Rule::in_tail => "`in`",
        Rule::has_tail => "`has`",
        Rule::quantifier => "`any`, `all` or `none`",
        Rule::conversion => "`as`",
        // These only start a condition.
        Rule::count | Rule::count_kind | Rule::kw_at | Rule::kw_exactly | Rule::kw_not => {
            "a condition"
        }
        Rule::kw_true | Rule::kw_false => "a condition",
        Rule::decision_item => "`rule`, `otherwise` or `outcomes`",
        Rule::outcomes_clause => "`outcomes`",
        Rule::inputs_clause => "`inputs`",
        Rule::rule_decl => "`rule`",
        Rule::otherwise_clause => "`otherwise`",
        Rule::given_clause => "`given`",
        Rule::expect_clause => "`expect`",
        Rule::assignment => "a fact name",
        Rule::kw_from => "`from`",
        Rule::kw_outcomes => "`outcomes`",
        Rule::kw_inputs => "`inputs`",
        Rule::kw_rule => "`rule`",
        Rule::kw_when => "`when`",
        Rule::kw_then => "`then`",
        Rule::kw_otherwise => "`otherwise`",
        Rule::kw_given => "`given`",
        Rule::kw_expect => "`expect`",
        Rule::kw_enum => "`enum`",
        Rule::kw_and => "`and`",
        Rule::kw_or => "`or`",
        Rule::kw_in => "`in`",
        Rule::kw_has => "`has`",
        Rule::kw_of => "`of`",
        Rule::kw_as => "`as`",
        Rule::kw_least => "`least`",
        Rule::kw_documented => "`documented`",
        Rule::kw_most => "`most`",
        // A literal token inside these failed; the tokens say which.
        Rule::enum_type
        | Rule::policy_decl
        | Rule::import_decl
        | Rule::fact_decl
        | Rule::codes_decl
        | Rule::define_decl
        | Rule::decision_decl
        | Rule::test_decl
        | Rule::constraint_decl
        | Rule::record_decl
        | Rule::keyword
        | Rule::declaration_word
        | Rule::WHITESPACE
        | Rule::line_char
        | Rule::str_char => return None,
    })
}

pub(super) fn syntax_error(
    expected: Option<String>,
    file: FileId,
    text: &str,
    chunk_start: usize,
    at: usize,
    chunk_end: usize,
) -> Diagnostic {
    let at = at.min(text.len());
    let found = Found::at(text, at, chunk_end);
    let message = match &expected {
        Some(expected) => format!("expected {expected}, found {}", found.describe()),
        None => format!("unexpected {}", found.describe()),
    };
    let (span, label) = if found.ends_declaration {
        // The declaration stopped short: point after its last token, where the missing part goes.
        let end = last_token_end(text, chunk_start, chunk_end);
        (
            Span::new(file, end, end),
            match &expected {
                Some(e) => format!("expected {e} after this"),
                None => "the declaration is not finished".to_string(),
            },
        )
    } else {
        (
            Span::new(file, at, at + found.len),
            match &expected {
                Some(e) => format!("expected {e}"),
                None => "unexpected here".to_string(),
            },
        )
    };
    let mut d = Diagnostic::new(Code::SyntaxError, message).primary(span, label);
    if let Some(help) = help(&found, expected.as_deref().unwrap_or(""), text, at) {
        d = d.help(help);
    } else if found.ends_declaration && !found.end_of_file {
        d = d.help(
            "a declaration ends where the next line starting with a declaration keyword begins",
        );
    }
    d
}

/// Literal tokens worth naming in "expected ...": punctuation and keywords that give a
/// declaration its shape. Tokens that only start a value or a condition (`not`, `true`, `-`,
/// a digit) are left to the rule phrases ("a condition").
/// Listed in this order.
const STRUCTURAL: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    ":",
    "=",
    ",",
    "..",
    "<",
    ">",
    "when",
    "then",
    "rule",
    "otherwise",
    "outcomes",
    "inputs",
    "given",
    "expect",
    "from",
    "of",
    "and",
    "or",
    "in",
    "has",
    "as",
    "least",
    "most",
];

const COMPARISON: &str = "a comparison (`==`, `!=`, `<`, `<=`, `>`, `>=`)";

const NEW_DECLARATION: &str = "a new declaration";

/// "a name, `:` or `{`": what the expected tokens and rules mean to an author.
fn phrase(literals: &[String], rules: &[Rule], after_word: bool) -> Option<String> {
    let mut tokens: Vec<(usize, String)> = Vec::new();
    let mut phrases: Vec<&'static str> = Vec::new();
    let comparing = literals.iter().any(|t| t == "==");
    if comparing {
        phrases.push(COMPARISON);
    }
    for token in literals {
        if comparing && (token == "<" || token == ">") {
            continue;
        }
        if let Some(rank) = STRUCTURAL.iter().position(|s| s == token) {
            tokens.push((rank, format!("`{token}`")));
        } else if token == "\"" {
            phrases.push("a string");
        } else if super::scan::DECLARATION_KEYWORDS.contains(&token.as_str()) {
            phrases.push(NEW_DECLARATION);
        }
    }
    phrases.extend(rules.iter().copied().filter_map(describe));
    if after_word {
        // Right after a word, the word itself could have gone on; that is not worth saying.
        phrases.retain(|r| *r != "a name" && *r != "a code");
    }
    let opens_value = phrases
        .iter()
        .any(|r| matches!(*r, "a condition" | "a value" | "a set such as `{ ... }`"));
    tokens.sort();
    let mut all: Vec<String> = Vec::new();
    for (_, t) in tokens {
        if opens_value && (t == "`(`" || t == "`{`") {
            continue;
        }
        if !all.contains(&t) {
            all.push(t);
        }
    }
    for p in phrases {
        if !all.iter().any(|x| x == p) {
            all.push(p.to_string());
        }
    }
    if all.len() > 1 {
        // In the middle of a line a new declaration is possible but never what the author meant.
        all.retain(|p| p != NEW_DECLARATION);
    }
    match all.len() {
        0 => None,
        1 => all.pop(),
        n => {
            let (init, last) = all.split_at(n - 1);
            Some(format!("{} or {}", init.join(", "), last.join("")))
        }
    }
}

/// The text at the error position.
struct Found {
    text: String,
    len: usize,
    /// The error is where the chunk ends: the declaration was cut short.
    ends_declaration: bool,
    end_of_file: bool,
}

impl Found {
    fn at(text: &str, at: usize, chunk_end: usize) -> Found {
        let rest = text.get(at..).unwrap_or("");
        let end_of_file = rest.trim().is_empty();
        let ends_declaration = at >= chunk_end || end_of_file;
        let mut len = 0;
        for c in rest.chars() {
            if c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '*' | '%') {
                len += c.len_utf8();
            } else {
                break;
            }
        }
        if len == 0 {
            let two = rest.get(..2).unwrap_or("");
            len = if matches!(two, "==" | "!=" | "<=" | ">=" | "=>" | "&&" | "||" | "..") {
                2
            } else {
                rest.chars().next().map_or(0, char::len_utf8)
            };
        }
        let shown = rest.get(..len).unwrap_or("");
        Found {
            text: shown.to_string(),
            len,
            ends_declaration,
            end_of_file,
        }
    }

    fn describe(&self) -> String {
        if self.end_of_file {
            return "end of file".to_string();
        }
        match self.text.as_str() {
            "" => "end of file".to_string(),
            "\n" | "\r" => "end of line".to_string(),
            t => format!("`{}`", crate::diagnostic::shown(t)),
        }
    }
}

/// Where the last token of a chunk ends (before trailing blanks and comments).
fn last_token_end(text: &str, chunk_start: usize, chunk_end: usize) -> usize {
    let chunk = text.get(chunk_start..chunk_end).unwrap_or("");
    let mut end = chunk.trim_end().len();
    // Drop trailing line comments: a line's content ends before its `//`.
    while let Some(line_start) = chunk
        .get(..end)
        .and_then(|c| c.rfind(['\n', '\r']).map(|i| i + 1))
    {
        let line = chunk.get(line_start..end).unwrap_or("");
        let code = line.split("//").next().unwrap_or("").trim_end();
        if code.trim().is_empty() {
            end = chunk.get(..line_start).unwrap_or("").trim_end().len();
        } else {
            end = line_start + code.len();
            break;
        }
    }
    chunk_start + end
}

/// The declaration keyword a word starts with, as the grammar's `declaration_word` reads it
/// (`fact`, `test-1`, not `factor`).
fn declaration_keyword(word: &str) -> Option<&'static str> {
    super::scan::DECLARATION_KEYWORDS.iter().copied().find(|k| {
        word.strip_prefix(k)
            .is_some_and(|rest| !rest.chars().next().is_some_and(pest::unicode::XID_CONTINUE))
    })
}

fn help(found: &Found, expected: &str, text: &str, at: usize) -> Option<String> {
    let word = found.text.as_str();
    if expected.contains("a name") && super::RESERVED.contains(&word) {
        return Some(format!("`{word}` is a reserved word; choose another name"));
    }
    if (expected.contains("a code") || expected.contains("a value"))
        && let Some(keyword) = declaration_keyword(word)
    {
        return Some(if found.ends_declaration {
            format!(
                "`{keyword}` at the start of a line begins a new declaration, so the one before ends here; a declaration keyword is never a code or a value"
            )
        } else {
            format!("`{keyword}` is a declaration keyword: it is never a code or a value")
        });
    }
    match word {
        "=>" => return Some("a rule reads `rule NAME when CONDITION then OUTCOME`".to_string()),
        "&&" => return Some("write `and`".to_string()),
        "||" => return Some("write `or`".to_string()),
        "!" => return Some("write `not`, or `!=` to compare".to_string()),
        "=" if expected.contains("`==`") => return Some("compare with `==`".to_string()),
        ":" if expected.contains("`when`") => {
            return Some("a rule reads `rule NAME when CONDITION then OUTCOME`".to_string());
        }
        _ => {}
    }
    // A misspelt unit right after a number: `6 weekz`.
    let before = text.get(..at).unwrap_or("").trim_end();
    if before.ends_with(|c: char| c.is_ascii_digit()) && word.chars().all(char::is_alphabetic) {
        let units = ["days", "weeks", "months", "years", "percent"];
        if let Some(unit) = units
            .iter()
            .find(|u| strsim::damerau_levenshtein(u, &word.to_lowercase()) <= 2)
        {
            return Some(format!("did you mean the unit `{unit}`?"));
        }
    }
    None
}
