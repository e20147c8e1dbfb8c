//! Every file in `tests/cases/check/` and `tests/cases/analysis/` is a case: it is checked as `medpol check FILE` would,
//! and the report in the short form and the terminal form (without colour) is compared with
//! its snapshot in `snapshots/`. Every folder in `tests/cases/projects/` is checked as a project.

use std::path::Path;

use medpol::driver::check_paths;
use medpol::render;

fn report(path: &Path) -> String {
    let report = check_paths(&[path.to_path_buf()], &medpol::driver::Options::default())
        .expect("the case loads");
    let short = render::short::render(&report.sources, &report.diagnostics);
    let human = render::human::render(
        &report.sources,
        &report.diagnostics,
        render::human::Color::Never,
    );
    format!("--- short\n{short}--- human\n{human}")
}

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("../snapshots");
    s.set_prepend_module_to_snapshot(false);
    s.add_filter(&regex_escape(env!("CARGO_MANIFEST_DIR")), "[ROOT]");
    s
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$#&-~".contains(c);
            special
                .then_some('\\')
                .into_iter()
                .chain(std::iter::once(c))
        })
        .collect()
}

#[test]
fn check_cases() {
    settings().bind(|| {
        insta::glob!("cases/check/*.medpol", |path| {
            insta::assert_snapshot!(report(path));
        });
    });
}

#[test]
fn analysis_cases() {
    settings().bind(|| {
        insta::glob!("cases/analysis/*.medpol", |path| {
            insta::assert_snapshot!(report(path));
        });
    });
}

#[test]
fn project_cases() {
    settings().bind(|| {
        insta::glob!("cases/projects/*", |path| {
            if path.is_dir() {
                insta::assert_snapshot!(report(path));
            }
        });
    });
}
