//! Running the `medpol` binary as a user does, for the tests that check its output.

use std::path::Path;
use std::process::{Command, Output};

/// `medpol ARGS` in `dir`, its output captured.
pub fn medpol(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_medpol"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("medpol runs")
}

/// Output bytes as text (invalid UTF-8 replaced).
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
