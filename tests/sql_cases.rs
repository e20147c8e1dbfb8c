//! The SQL `medpol build --target sql` writes, per dialect, for each policy under
//! `tests/cases/sql/compile` (insta snapshots in `snapshots/`: a change to the SQL shows in
//! review), and a policy that cannot be written as SQL said while the others are written.
//! Whether the SQL means what `eval` means is `tests/sql.rs`, on the engines.

#[path = "support/run.rs"]
mod run;

use std::path::Path;

#[test]
fn each_dialect_writes_the_sql_of_each_case() {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.bind(|| {
        insta::glob!("cases/sql/compile/*.medpol", |path| {
            for dialect in ["duckdb", "postgres", "spark"] {
                let out = tempfile::tempdir().unwrap();
                let result = run::medpol(
                    &[
                        "build",
                        path.to_str().unwrap(),
                        "--target",
                        "sql",
                        "--dialect",
                        dialect,
                        "-o",
                        out.path().to_str().unwrap(),
                    ],
                    Path::new(env!("CARGO_MANIFEST_DIR")),
                );
                assert!(result.status.success(), "{}", run::text(&result.stderr));
                let file = std::fs::read_dir(out.path())
                    .unwrap()
                    .next()
                    .unwrap()
                    .unwrap()
                    .path();
                let name = format!("{dialect}@{}", path.file_name().unwrap().to_string_lossy());
                insta::assert_snapshot!(name, std::fs::read_to_string(file).unwrap());
            }
        });
    });
}

#[test]
fn a_policy_with_a_derived_value_is_said_and_the_others_are_written() {
    let out = tempfile::tempdir().unwrap();
    let result = run::medpol(
        &[
            "build",
            "tests/cases/differential",
            "--target",
            "sql",
            "-o",
            out.path().to_str().unwrap(),
        ],
        Path::new(env!("CARGO_MANIFEST_DIR")),
    );
    assert_eq!(result.status.code(), Some(1));
    let stderr = run::text(&result.stderr);
    assert!(
        stderr.contains(
            "error: policy `bmi`: not written as SQL: fact `bmi` is a derived value, which the SQL back end does not compile"
        ),
        "{stderr}"
    );
    let mut written: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(
        written,
        [
            "days-and-months.sql",
            "explore-merges-different-tests.sql",
            "explore-misses-equal-chains.sql",
            "pending-after-many-missing-facts.sql"
        ]
    );
}
