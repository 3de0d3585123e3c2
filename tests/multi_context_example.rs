//! `examples/multi_context_threads.c` (rknn_dup_context from 4 pthreads,
//! every output compared with the single-threaded reference) compiled
//! against `include/` and the `librknnrt.so` built with this test
//! (through the cross harness on board targets) and run on the int8 and
//! f32 conv chain models. `.ci/memcheck.sh` runs it under valgrind.

mod common;
mod cross;

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn dup_context_from_four_threads_matches_one_thread() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("multi_context_example_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let lib = cross::library_dir();
    let exe = dir.join("multi_context_threads");
    let out = Command::new(cross::cc())
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-O1", "-pthread"])
        .arg(format!("-I{}", root().join("include").display()))
        .arg(root().join("examples/multi_context_threads.c"))
        .arg(format!("-L{}", lib.display()))
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .args(["-lrknnrt", "-o"])
        .arg(&exe)
        .output()
        .expect("C compiler");
    assert!(
        out.status.success(),
        "{} multi_context_threads.c failed:\n{}",
        cross::cc(),
        String::from_utf8_lossy(&out.stderr)
    );
    for (name, bytes) in [
        ("chain_int8.rknn", common::conv_chain_model(12, 12, 2, true)),
        ("chain_f32.rknn", common::conv_chain_model(16, 20, 1, false)),
    ] {
        let model = dir.join(name);
        std::fs::write(&model, bytes).expect("write model");
        let run = cross::command(&exe)
            .arg(&model)
            .arg("40")
            .env("LD_LIBRARY_PATH", &lib)
            .env_remove("RKNN_LOG_LEVEL")
            .output()
            .expect("run example");
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert!(
            run.status.success(),
            "{name}: {:?}\n{stdout}\n{}",
            run.status,
            String::from_utf8_lossy(&run.stderr)
        );
        assert_eq!(
            stdout
                .matches("runs equal the single-threaded outputs")
                .count(),
            4,
            "{stdout}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}
