//! The shipped policies check clean.

use medpol::diagnostic::Severity;
use medpol::driver::check_paths;

#[test]
fn shipped_policies_check_clean() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let report = check_paths(&[root], &medpol::driver::Options::default()).expect("policies load");
    let shown = medpol::render::short::render(&report.sources, &report.diagnostics);
    assert!(
        report.diagnostics.is_empty(),
        "policies/ has findings:\n{shown}"
    );
    assert_eq!(report.files, 12);
    assert_eq!(report.count(Severity::Error), 0);
}
