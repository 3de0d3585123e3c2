//! The zero-copy C examples (`examples/zero_copy_*.c`) compiled against
//! `include/` and the `librknnrt.so` built with this test (through the
//! cross harness on board targets) and run on the models of
//! `tests/common`: each compares its zero-copy output with the general API
//! on the same model and exits 0 only when they are equal.
//! `.ci/memcheck.sh` runs the same programs under valgrind.

mod common;
mod cross;

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh directory with the two chain models written into it.
fn setup(tag: &str) -> (PathBuf, PathBuf, PathBuf) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("zero_copy_examples_{}_{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let f32_model = dir.join("conv_chain_f32.rknn");
    let int8_model = dir.join("conv_chain_int8.rknn");
    std::fs::write(&f32_model, common::conv_chain_model(16, 20, 1, false)).expect("write");
    std::fs::write(&int8_model, common::conv_chain_model(12, 12, 2, true)).expect("write");
    (dir, f32_model, int8_model)
}

/// Compiles `examples/<name>.c` into `dir`.
fn build(dir: &Path, name: &str) -> PathBuf {
    let lib = cross::library_dir();
    let exe = dir.join(name);
    let out = Command::new(cross::cc())
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-O1"])
        .arg(format!("-I{}", root().join("include").display()))
        .arg(root().join(format!("examples/{name}.c")))
        .arg(format!("-L{}", lib.display()))
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .args(["-lrknnrt", "-o"])
        .arg(&exe)
        .output()
        .expect("C compiler");
    assert!(
        out.status.success(),
        "{} {name}.c failed:\n{}",
        cross::cc(),
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// Runs the example with `args` and returns its stdout; fails the test on
/// a non-zero exit.
fn run(exe: &Path, args: &[&Path]) -> String {
    let out = cross::command(exe)
        .args(args)
        .env("LD_LIBRARY_PATH", cross::library_dir())
        .env_remove("RKNN_LOG_LEVEL")
        .output()
        .expect("run example");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{} failed ({:?}):\n{stdout}\n{}",
        exe.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// `needle` occurs `n` times in `text`.
fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

#[test]
fn runtime_allocated_memory() {
    let (dir, f32_model, int8_model) = setup("runtime");
    let exe = build(&dir, "zero_copy_runtime_mem");
    for m in [&f32_model, &int8_model] {
        let out = run(&exe, &[m]);
        assert_eq!(count(&out, "equals the general API"), 3, "{out}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn memory_from_an_fd_the_program_created() {
    let (dir, f32_model, int8_model) = setup("fd");
    let exe = build(&dir, "zero_copy_from_fd");
    for m in [&f32_model, &int8_model] {
        let out = run(&exe, &[m]);
        assert_eq!(
            count(&out, "memory from an fd: zero-copy output equals"),
            1,
            "{out}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn weights_and_internal_memory_allocated_outside() {
    let (dir, f32_model, int8_model) = setup("outside");
    let exe = build(&dir, "zero_copy_alloc_outside");
    for m in [&f32_model, &int8_model] {
        let out = run(&exe, &[m]);
        assert!(out.contains("allocated inside: 0"), "{out}");
        assert_eq!(count(&out, "equals the general API"), 1, "{out}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn two_contexts_share_one_internal_buffer() {
    let (dir, f32_model, int8_model) = setup("reuse");
    let exe = build(&dir, "zero_copy_internal_reuse");
    let out = run(&exe, &[&f32_model, &int8_model]);
    assert!(out.contains("shared buffer: 5120 bytes"), "{out}");
    assert_eq!(count(&out, "model a: zero-copy output equals"), 3, "{out}");
    assert_eq!(count(&out, "model b: zero-copy output equals"), 3, "{out}");
    let _ = std::fs::remove_dir_all(dir);
}
