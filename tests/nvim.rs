//! A real editor: headless Neovim with `medpol lsp` as the language server of a policy with a
//! known error (`tests/cases/nvim/`), configured as `docs/editors.md` shows. Where Neovim is
//! not installed the test is reported as ignored, and a note on standard error says why;
//! `.ci/run` installs Neovim on CI.
//!
//! This file has its own test harness (`harness = false` in `Cargo.toml`, libtest-mimic):
//! libtest fixes what is ignored when the test is compiled, and whether Neovim is there is only
//! known when it runs.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};

const TEST: &str = "neovim_shows_the_error_of_a_policy";

fn main() {
    let args = Arguments::from_args();
    let found = Command::new("nvim")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!(
            "note: Neovim (`nvim`) is not installed, so {TEST} is ignored; install the Debian package `neovim` to run it"
        );
    }
    let trial = Trial::test(TEST, neovim_shows_the_error_of_a_policy).with_ignored_flag(!found);
    libtest_mimic::run(&args, vec![trial]).exit();
}

fn neovim_shows_the_error_of_a_policy() -> Result<(), Failed> {
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/nvim");
    // Removed when dropped, also when the test fails.
    let scratch = tempfile::Builder::new().prefix("medpol-nvim-").tempdir()?;
    let out = scratch.path().join("diagnostics.txt");
    let mut nvim = Command::new("nvim")
        .args(["--headless", "--clean", "-c"])
        .arg(format!("luafile {}", cases.join("medpol.lua").display()))
        .env("MEDPOL_BIN", env!("CARGO_BIN_EXE_medpol"))
        .env("MEDPOL_POLICY", cases.join("broken.medpol"))
        .env("MEDPOL_OUT", &out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start Neovim: {e}"))?;
    // The script waits 20 s at most for diagnostics; this only keeps a stuck editor from
    // hanging the test.
    let deadline = Instant::now() + Duration::from_secs(60);
    while nvim.try_wait()?.is_none() {
        if Instant::now() > deadline {
            nvim.kill()?;
            return Err("Neovim did not finish".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let diagnostics = std::fs::read_to_string(&out)?;
    // `symptomatc` on line 5 (zero-based 4), column 15: as `medpol check` reports it.
    if diagnostics
        .lines()
        .any(|l| l == "4:15 E0101 unknown name `symptomatc`")
    {
        Ok(())
    } else {
        Err(format!("Neovim did not show the unknown name; it showed:\n{diagnostics}").into())
    }
}
