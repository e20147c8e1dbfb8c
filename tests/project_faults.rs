//! Faults a project meets on disk, made here because they cannot be kept in the repository:
//! files too large or not files at all, folders that cannot be read, temporaries a killed
//! build left. Each is a diagnostic for that path (or a quiet clean-up), and the rest of the
//! project is still checked.

use std::path::Path;
use std::process::{Command, Output};

fn scratch(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("medpol-project-faults-{name}-"))
        .tempdir()
        .expect("a scratch folder")
}

fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("create the folder");
    }
    std::fs::write(path, text).expect("write the file");
}

#[path = "support/run.rs"]
mod run;
use run::{medpol, text};

/// A policy file with one error, so that a report shows it was checked.
const BROKEN: &str = "fact a: bool\ndefine d = a and nope\n";

#[test]
fn a_table_that_is_a_device_is_reported_not_read() {
    // `/dev/zero` as a table grew the process to 6.4 GB before it was killed.
    let dir = scratch("device-table");
    write(
        &dir.path().join("medpol.yaml"),
        "tables:\n  files: [/dev/zero]\n",
    );
    write(&dir.path().join("p.medpol"), BROKEN);
    let out = medpol(&["check", "--format", "short", "."], dir.path());
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        stdout.contains(
            "error[E0201]: cannot read the code table `/dev/zero`: it is a device or socket, not a file"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("p.medpol:2:18: error[E0101]"), "{stdout}");
}

#[test]
fn a_policy_file_past_the_limit_is_reported_and_the_rest_checked() {
    let dir = scratch("big-source");
    let big = std::fs::File::create(dir.path().join("big.medpol")).expect("create");
    big.set_len(medpol::input::Kind::Source.limit() + 1)
        .expect("a sparse file");
    write(&dir.path().join("p.medpol"), BROKEN);
    // An import of the big file brings nothing, and what it would have brought is not an
    // unknown name.
    write(
        &dir.path().join("user.medpol"),
        "import \"big.medpol\"\ndefine e = from_big\n",
    );
    let out = medpol(&["check", "--format", "short", "."], dir.path());
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "big.medpol:1:1: error[E0206]: cannot read `big.medpol`: it is larger than 64 MiB, the limit for a policy file",
            "p.medpol:2:8: warning[W0102]: definition `d` is never used",
            "p.medpol:2:18: error[E0101]: unknown name `nope`",
            "user.medpol:2:8: warning[W0102]: definition `e` is never used",
        ],
        "{stdout}"
    );
}

#[test]
fn a_medpol_yaml_past_its_limit_is_reported_and_the_policies_checked() {
    let dir = scratch("big-config");
    let config = std::fs::File::create(dir.path().join("medpol.yaml")).expect("create");
    config
        .set_len(medpol::input::Kind::Project.limit() + 1)
        .expect("a sparse file");
    write(&dir.path().join("p.medpol"), BROKEN);
    let out = medpol(&["check", "--format", "short", "."], dir.path());
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        stdout.contains("medpol.yaml:1:1: error[E0201]: cannot read `medpol.yaml`: it is larger than 1 MiB, the limit for a project file"),
        "{stdout}"
    );
    assert!(stdout.contains("p.medpol:2:18: error[E0101]"), "{stdout}");
}

/// Runs `medpol` as a user without privileges when this test runs as root (for whom a
/// folder with mode 000 is still readable), through `setpriv`; `None` when that cannot be done.
fn medpol_unprivileged(args: &[&str], dir: &Path, locked: &Path) -> Option<Output> {
    if std::fs::read_dir(locked).is_err() {
        return Some(medpol(args, dir));
    }
    // Root: the folder stays readable, so run as `nobody`, who needs to reach the project.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).ok()?;
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_medpol"))
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    // `setpriv` missing its privileges (a container without them) cannot run the test.
    if text(&out.stderr).starts_with("setpriv:") {
        return None;
    }
    Some(out)
}

#[cfg(unix)]
#[test]
fn an_unreadable_folder_is_a_warning_only_where_the_patterns_reach() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("locked-folder");
    let locked = dir.path().join("node_modules");
    write(&locked.join("dep.medpol"), BROKEN);
    write(&dir.path().join("policies/p.medpol"), BROKEN);
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    let args = ["check", "--format", "short", "."];
    let Some(out) = medpol_unprivileged(&args, dir.path(), &locked) else {
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).ok();
        eprintln!("skipped: running as root and `setpriv` cannot drop the privileges");
        return;
    };
    // The default pattern, `**/*.medpol`, reaches the folder: a warning, and the rest checked.
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "policies/p.medpol:2:8: warning[W0102]: definition `d` is never used",
            "policies/p.medpol:2:18: error[E0101]: unknown name `nope`",
            "warning[W0207]: cannot read the folder `node_modules`: permission denied",
        ],
        "{stdout}"
    );
    // Patterns that cannot reach it: the folder is not read, and nothing is said.
    write(
        &dir.path().join("medpol.yaml"),
        "files: [\"policies/*.medpol\"]\n",
    );
    let out = medpol_unprivileged(&args, dir.path(), &locked).expect("ran before");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).ok();
    assert_eq!(
        text(&out.stdout),
        "policies/p.medpol:2:8: warning[W0102]: definition `d` is never used\n\
         policies/p.medpol:2:18: error[E0101]: unknown name `nope`\n",
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn build_removes_the_temporaries_of_killed_builds() {
    let dir = scratch("stale-temporaries");
    write(
        &dir.path().join("p.medpol"),
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/build/tiny.medpol"),
        )
        .expect("the tiny policy"),
    );
    let out_dir = dir.path().join("out");
    // A process id above Linux's largest (2^22) was never a live process.
    let stale = out_dir.join(".tiny.json.4194305.tmp");
    // This test's own process is alive: its temporary may be a build writing now.
    let live = out_dir.join(format!(".tiny.json.{}.tmp", std::process::id()));
    let other = out_dir.join(".notes.tmp");
    for f in [&stale, &live, &other] {
        write(f, "partial");
    }
    let out = medpol(&["build", "p.medpol", "--out", "out"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!stale.exists(), "the killed build's temporary is removed");
    assert!(live.exists(), "a live process's temporary is kept");
    assert!(other.exists(), "files of other names are not medpol's");
}

#[cfg(unix)]
#[test]
fn a_pipe_or_device_named_as_a_policy_file_is_reported_not_waited_on() {
    let dir = scratch("named-special");
    write(&dir.path().join("p.medpol"), BROKEN);
    let fifo = dir.path().join("pipe.medpol");
    let made = Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("skipped: `mkfifo` cannot make a named pipe here");
        return;
    }
    let out = medpol(
        &["check", "--format", "short", "pipe.medpol", "/dev/null"],
        dir.path(),
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "/dev/null:1:1: error[E0206]: cannot read `/dev/null`: it is a pipe, device or socket, not a file",
            "pipe.medpol:1:1: error[E0206]: cannot read `pipe.medpol`: it is a pipe, device or socket, not a file",
        ],
        "{stdout}"
    );
}
