//! Every file in `tests/cases/test/` is a case for `medpol test`: it is run as a user runs it,
//! from the repository folder, with the arguments its `// args:` line gives (if any), and its
//! exit code, standard output and standard error are compared with its snapshot in
//! `snapshots/`.

use std::path::Path;
use std::process::Command;

fn run(path: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    let relative = path.strip_prefix(root).unwrap();
    let mut args = vec!["test".to_string(), relative.display().to_string()];
    if let Some(line) = text.lines().find_map(|l| l.strip_prefix("// args:")) {
        args.extend(line.split_whitespace().map(str::to_string));
    }
    let out = Command::new(env!("CARGO_BIN_EXE_medpol"))
        .args(&args)
        .current_dir(root)
        .output()
        .unwrap();
    format!(
        "$ medpol {}\nexit {}\n--- stdout\n{}--- stderr\n{}",
        args.join(" "),
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn medpol_test_cases() {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        insta::glob!("cases/test/*.medpol", |path| {
            insta::assert_snapshot!(run(path));
        });
    });
}
