//! `examples/rknn_matmul_api_demo.c` compiled against `include/` and the
//! `librknnrt.so` built with this test (through the cross harness on a
//! cross target), run with the vendor demo's command line on several
//! types, layouts and platforms: it must report a correct result and its
//! GOPS.

mod cross;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn build(dir: &Path) -> PathBuf {
    let exe = dir.join("rknn_matmul_api_demo");
    let lib = cross::library_dir();
    let out = Command::new(cross::cc())
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-O1"])
        .arg(format!("-I{}", root().join("include").display()))
        .arg(root().join("examples/rknn_matmul_api_demo.c"))
        .arg(format!("-L{}", lib.display()))
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-lrknnrt")
        .arg("-lm")
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("C compiler");
    assert!(
        out.status.success(),
        "{} failed:\n{}",
        cross::cc(),
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

fn run(exe: &Path, platform: &str, args: &[&str]) -> Output {
    cross::command(exe)
        .args(args)
        .env("LD_LIBRARY_PATH", cross::library_dir())
        .env("RKNNRT_PLATFORM", platform)
        .env("RKNNRT_DEVICE", "host")
        .env_remove("RKNN_LOG_LEVEL")
        .output()
        .expect("start rknn_matmul_api_demo")
}

#[test]
fn demo_checks_its_results_on_types_layouts_and_platforms() {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("matmul_demo_{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let exe = build(&dir);
    let cases: &[(&str, &[&str])] = &[
        ("rk3588", &["2", "4,64,32"]),
        ("rk3588", &["1", "17,64,32", "1", "1", "3", "7", "0"]),
        ("rk3588", &["3", "5,64,64", "0", "1", "2"]),
        ("rk3588", &["4", "3,96,48", "2", "0", "2"]),
        ("rk3588", &["5", "2,64,64", "1", "1", "2"]),
        ("rk3588", &["7", "2,64,64", "2", "1", "2"]),
        ("rk3588", &["8", "1,64,64", "1", "0", "2"]),
        ("rk3588", &["9", "3,64,64", "0", "0", "2"]),
        ("rk3588", &["10", "3,64,128", "1", "1", "2"]),
        ("rk3588", &["11", "2,64,64", "0", "1", "2"]),
        ("rk3588", &["12", "2,64,64", "1", "0", "2"]),
        ("rk3588", &["15", "2,64,64", "2", "1", "2"]),
        ("rk3588", &["6", "2,8224,32", "1", "0", "1", "0", "0"]),
        ("rk3576", &["7", "2,4128,16", "1", "1", "1", "3", "0"]),
        ("rk3566", &["2", "3,64,32", "1", "1", "2", "0"]),
        ("rk3562", &["1", "3,64,32", "1", "1", "2"]),
    ];
    for (platform, args) in cases {
        let out = run(&exe, platform, args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{platform} {args:?}:\n{stdout}\n{stderr}"
        );
        assert!(
            stdout.contains("matmul result is correct"),
            "{platform} {args:?}:\n{stdout}"
        );
        assert!(stdout.contains("GOPS = "), "{stdout}");
        assert!(stdout.contains("name=A, dims="), "{stdout}");
    }
    // A type the platform lacks fails at create.
    let out = run(&exe, "rk3566", &["3", "4,64,32"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("rknn_matmul_create fail! ret=-5"));
    let _ = std::fs::remove_dir_all(&dir);
}
