//! `tests/c/capi_flow.c` (the general C API end to end, every return value
//! checked) compiled with gcc against `include/` and the `librknnrt.so`
//! built with this test, run on the models of `tests/common` written to
//! disk. `.ci/memcheck.sh` runs the same program under valgrind.

mod common;
mod cross;

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn temp_dir() -> PathBuf {
    let d =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("capi_flow_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

#[test]
fn c_program_runs_the_general_api_end_to_end() {
    let dir = temp_dir();
    let relu = dir.join("relu_f32.rknn");
    let conv = dir.join("conv_int8.rknn");
    std::fs::write(&relu, common::relu_model()).expect("write model");
    std::fs::write(&conv, common::int8_conv_model()).expect("write model");

    let lib = cross::library_dir();
    let exe = dir.join("capi_flow");
    let out = Command::new(cross::cc())
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-O1"])
        .arg(format!("-I{}", root().join("include").display()))
        .arg(root().join("tests/c/capi_flow.c"))
        .arg(format!("-L{}", lib.display()))
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .args(["-lrknnrt", "-lm", "-o"])
        .arg(&exe)
        .output()
        .expect("gcc");
    assert!(
        out.status.success(),
        "gcc failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let run = cross::command(&exe)
        .arg(&relu)
        .arg(&conv)
        .env("LD_LIBRARY_PATH", &lib)
        .env_remove("RKNN_LOG_LEVEL")
        .output()
        .expect("run capi_flow");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "capi_flow failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.starts_with("capi_flow: all checks passed"),
        "{stdout}"
    );
    // The error paths were taken and logged in the vendor format, and
    // none of them was a caught panic.
    assert!(stderr.contains("E RKNN: ["), "{stderr}");
    assert!(!stderr.contains("internal error"), "{stderr}");
    std::fs::remove_dir_all(&dir).expect("clean up");
}
