//! The C toolchain and program runner the integration tests use, so the
//! same tests work on the host and on a cross target under qemu-user.
//!
//! On the host nothing is set and the tests use `gcc`, `g++`, `nm` and
//! run programs directly. For a cross target (`tools/cross.sh` sets
//! these, see `docs/targets.md`):
//!
//! | variable | meaning |
//! |---|---|
//! | `RKNNRT_TEST_CC` | C compiler for the target (`aarch64-linux-gnu-gcc`) |
//! | `RKNNRT_TEST_CXX` | C++ compiler (default: `RKNNRT_TEST_CC` with `gcc` → `g++`) |
//! | `RKNNRT_TEST_RUNNER` | command line prefix that runs a target program (`qemu-aarch64 -L /usr/aarch64-linux-gnu`), split at spaces |
//!
//! Binutils (`nm`) take the prefix of the C compiler (`aarch64-linux-gnu-`).

#![allow(dead_code)]

use std::ffi::OsStr;
use std::process::Command;

/// A non-empty environment variable.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The C compiler for the target.
pub fn cc() -> String {
    var("RKNNRT_TEST_CC").unwrap_or_else(|| "gcc".to_string())
}

/// The C++ compiler for the target.
pub fn cxx() -> String {
    var("RKNNRT_TEST_CXX").unwrap_or_else(|| match var("RKNNRT_TEST_CC") {
        Some(cc) if cc.ends_with("gcc") => format!("{}g++", &cc[..cc.len() - 3]),
        _ => "g++".to_string(),
    })
}

/// A binutils program (`nm`) for the target: the C compiler's prefix
/// (`aarch64-linux-gnu-`) plus `tool`.
pub fn binutil(tool: &str) -> String {
    match var("RKNNRT_TEST_CC") {
        Some(cc) if cc.ends_with("-gcc") => format!("{}{tool}", &cc[..cc.len() - 3]),
        _ => tool.to_string(),
    }
}

/// The runner prefix (empty on the host).
pub fn runner() -> Vec<String> {
    var("RKNNRT_TEST_RUNNER")
        .map(|r| r.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Whether target programs run through an emulator (a cross target).
pub fn emulated() -> bool {
    !runner().is_empty()
}

/// A command that runs the target program `program` (through the runner
/// on a cross target).
pub fn command(program: impl AsRef<OsStr>) -> Command {
    match runner().split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(program);
            c
        }
        None => Command::new(program),
    }
}

/// Directory of the `librknnrt.so` built with the running test: the test
/// executable's directory (`target/<profile>/deps`) or its parent,
/// whichever holds the newest library.
pub fn library_dir() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let deps = exe.parent().expect("deps directory").to_path_buf();
    [deps.clone(), deps.join("..")]
        .into_iter()
        .filter_map(|d| {
            let modified = d.join("librknnrt.so").metadata().ok()?.modified().ok()?;
            Some((modified, d))
        })
        .max()
        .map(|(_, d)| d)
        .expect("librknnrt.so next to the test executable (cdylib build)")
}
