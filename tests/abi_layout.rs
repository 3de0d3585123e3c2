//! Compiles `tests/c/abi_layout.c` against the generated headers in
//! `include/` and runs it: struct sizes and offsets, enum and define values,
//! function types and helper strings must match the vendor ABI. The same
//! file is compiled as C++, and syntax-checked for ILP32 (32-bit ARM) and,
//! when a cross compiler is installed, for aarch64. On a cross target the
//! target's compiler builds it and the program runs under the runner
//! (`tests/cross`).

mod cross;

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn source() -> PathBuf {
    root().join("tests/c/abi_layout.c")
}

fn include() -> String {
    format!("-I{}", root().join("include").display())
}

/// Whether `compiler` can be started.
fn available(compiler: &str) -> bool {
    Command::new(compiler)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs `cmd` and panics with its output when it fails.
fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Builds the program with `compiler` and `flags`, runs it and checks it
/// reports success.
fn build_and_run(compiler: &str, flags: &[&str], exe: &Path) {
    run(Command::new(compiler)
        .args(flags)
        .args(["-Wall", "-Wextra", "-Werror"])
        .arg(include())
        .arg(source())
        .arg("-o")
        .arg(exe));
    let stdout = run(&mut cross::command(exe));
    assert!(
        stdout.contains("abi_layout: ok"),
        "unexpected output: {stdout}"
    );
}

#[test]
fn c_program_checks_the_abi() {
    let exe = Path::new(env!("CARGO_TARGET_TMPDIR")).join("abi_layout_c");
    build_and_run(&cross::cc(), &["-std=c11", "-pedantic"], &exe);
}

#[test]
fn cpp_program_checks_the_abi() {
    let exe = Path::new(env!("CARGO_TARGET_TMPDIR")).join("abi_layout_cpp");
    build_and_run(&cross::cxx(), &["-std=c++11", "-x", "c++"], &exe);
}

/// Syntax-checks the layout part of the program with `compiler`.
fn check_layout(compiler: &str, flags: &[&str]) {
    run(Command::new(compiler)
        .args(flags)
        .args([
            "-std=c11",
            "-Wall",
            "-Werror",
            "-DABI_LAYOUT_ONLY",
            "-fsyntax-only",
        ])
        .arg(include())
        .arg(source()));
}

#[test]
fn ilp32_arm_layouts() {
    if cfg!(target_arch = "arm") {
        check_layout(&cross::cc(), &[]);
    } else if available("arm-linux-gnueabihf-gcc") {
        check_layout("arm-linux-gnueabihf-gcc", &[]);
    } else if cfg!(target_arch = "x86_64") {
        // The proxy the reference numbers come from: i386 with 8-byte
        // aligned 64-bit integers (as AAPCS32) and `__arm__` defined.
        check_layout(
            "gcc",
            &["-m32", "-malign-double", "-ffreestanding", "-D__arm__"],
        );
    } else {
        eprintln!("no 32-bit ARM compiler and no x86 gcc: ILP32 layouts not checked");
    }
}

#[test]
fn aarch64_layouts() {
    if cfg!(target_arch = "aarch64") {
        check_layout(&cross::cc(), &[]);
    } else if available("aarch64-linux-gnu-gcc") {
        check_layout("aarch64-linux-gnu-gcc", &[]);
    } else {
        eprintln!("no aarch64 compiler: aarch64 layouts not checked");
    }
}
