//! A real editor: headless Neovim with `medpol lsp` as the language server of a policy with a
//! known error (`tests/cases/nvim/`), configured as `docs/editors.md` shows. Where Neovim is
//! not installed the test says so and passes; `.ci/run` installs it when it can.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn neovim_shows_the_error_of_a_policy() {
    let found = Command::new("nvim")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        println!(
            "skipped: Neovim (`nvim`) is not installed; install the Debian package `neovim` to run this test"
        );
        return;
    }
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/nvim");
    let out = std::env::temp_dir().join(format!("medpol-nvim-{}.txt", std::process::id()));
    let _ = std::fs::remove_file(&out);
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
        .unwrap();
    // The script waits 20 s at most for diagnostics; this only keeps a stuck editor from
    // hanging the test.
    let deadline = Instant::now() + Duration::from_secs(60);
    while nvim.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            nvim.kill().unwrap();
            panic!("Neovim did not finish");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let diagnostics = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    // `symptomatc` on line 5 (zero-based 4), column 15: as `medpol check` reports it.
    assert!(
        diagnostics
            .lines()
            .any(|l| l == "4:15 E0101 unknown name `symptomatc`"),
        "{diagnostics}"
    );
}
