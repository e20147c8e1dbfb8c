use super::*;

fn fmt(text: &str) -> String {
    match format(FileId(0), text) {
        Ok(out) => out,
        Err(e) => panic!("{e}: {e:?}\n{text}"),
    }
}

#[test]
fn spacing_and_indentation_are_normalised() {
    let text = "fact   a :bool\nfact b: enum{x,y}   \"the b\"\ndecision d(first){outcomes{yes no}\nrule r when a and b==x then yes\notherwise no}\n";
    assert_eq!(
        fmt(text),
        "fact a: bool\nfact b: enum { x, y } \"the b\"\n\ndecision d (first) {\n  outcomes { yes, no }\n  rule r when a and b == x then yes\n  otherwise no\n}\n"
    );
}

#[test]
fn comments_stay_where_they_are() {
    let text = "// head\n\nfact a: bool // trailing\n/* own */\nfact b: bool\n";
    assert_eq!(
        fmt(text),
        "// head\n\nfact a: bool   // trailing\n/* own */\nfact b: bool\n"
    );
}

#[test]
fn long_chains_break_one_term_a_line() {
    let names: Vec<String> = (0..12).map(|i| format!("condition_number_{i}")).collect();
    let facts: String = names.iter().map(|n| format!("fact {n}: bool\n")).collect();
    let text = format!("{facts}define all_of_them = {}\n", names.join(" and "));
    let out = fmt(&text);
    assert!(out.contains("define all_of_them =\n  condition_number_0\n  and condition_number_1\n"));
    assert_eq!(fmt(&out), out);
}

#[test]
fn syntax_errors_are_refused_with_their_diagnostics() {
    let Err(Error::Syntax(d)) = format(FileId(3), "fact a bool\n") else {
        panic!("a syntax error must be refused");
    };
    let codes: Vec<_> = d.iter().map(|d| (d.code, d.primary_span())).collect();
    assert_eq!(
        codes,
        vec![(
            Code::SyntaxError,
            Some(crate::source::Span::new(FileId(3), 7, 11))
        )]
    );
}

#[test]
fn spans_are_stripped_from_the_shape() {
    assert_eq!(
        strip_spans("Ident { name: \"a\", span: Span { file: FileId(0), start: 1, end: 2 } }"),
        "Ident { name: \"a\", span:  }"
    );
}
