//! The built `librknnrt.so` has the vendor SONAME and exports exactly the
//! vendor's `rknn_*` functions: every function of the reference export list
//! (reference/rknn-c-api.md §4.1-4.3, §4.6), not the never-exported
//! `rknn_create_mem_from_mb_blk`, and nothing else (no Rust symbols).
//! On a cross target the target's binutils read it (`tests/cross`).

mod cross;

use std::path::PathBuf;
use std::process::Command;

/// Every function of the three vendor headers that the vendor runtime
/// exports (2.x list).
const EXPORTED: [&str; 34] = [
    // rknn_api.h: general
    "rknn_init",
    "rknn_dup_context",
    "rknn_destroy",
    "rknn_query",
    "rknn_inputs_set",
    "rknn_set_batch_core_num",
    "rknn_set_core_mask",
    "rknn_run",
    "rknn_wait",
    "rknn_outputs_get",
    "rknn_outputs_release",
    // rknn_api.h: zero-copy memory
    "rknn_create_mem_from_phys",
    "rknn_create_mem_from_fd",
    "rknn_create_mem",
    "rknn_create_mem2",
    "rknn_destroy_mem",
    "rknn_set_weight_mem",
    "rknn_set_internal_mem",
    "rknn_set_io_mem",
    "rknn_mem_sync",
    // rknn_api.h: dynamic shapes
    "rknn_set_input_shape",
    "rknn_set_input_shapes",
    // rknn_matmul_api.h
    "rknn_matmul_create",
    "rknn_matmul_create_dynamic_shape",
    "rknn_matmul_set_io_mem",
    "rknn_matmul_set_core_mask",
    "rknn_matmul_set_quant_params",
    "rknn_matmul_get_quant_params",
    "rknn_matmul_set_dynamic_shape",
    "rknn_matmul_run",
    "rknn_matmul_destroy",
    "rknn_B_normal_layout_to_native_layout",
    // rknn_custom_op.h
    "rknn_register_custom_ops",
    "rknn_custom_op_get_op_attr",
];

/// The shared library built with this test: in the test executable's
/// directory (`target/<profile>/deps`) or its parent, the newest one.
fn library() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let deps = exe.parent().expect("deps directory");
    let candidates = [deps.join("librknnrt.so"), deps.join("../librknnrt.so")];
    candidates
        .into_iter()
        .filter_map(|p| {
            let modified = p.metadata().ok()?.modified().ok()?;
            Some((modified, p))
        })
        .max()
        .map(|(_, p)| p)
        .expect("librknnrt.so next to the test executable (cdylib build)")
}

/// Output of a binutils tool run on the library.
fn tool(name: &str, args: &[&str]) -> String {
    let lib = library();
    let program = cross::binutil(name);
    let out = Command::new(&program)
        .args(args)
        .arg(&lib)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} {} failed: {}",
        lib.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("tool output is UTF-8")
}

/// `(type letter, name)` of every defined dynamic symbol.
fn dynamic_symbols() -> Vec<(String, String)> {
    tool("nm", &["-D", "--defined-only"])
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields.as_slice() {
                [_, kind, name] | [kind, name] => Some((kind.to_string(), name.to_string())),
                _ => None,
            }
        })
        .collect()
}

#[test]
fn soname_is_librknnrt() {
    let dynamic = tool("readelf", &["-d"]);
    let soname = dynamic
        .lines()
        .find(|l| l.contains("(SONAME)"))
        .unwrap_or_else(|| panic!("no SONAME in:\n{dynamic}"));
    assert!(soname.contains("[librknnrt.so]"), "wrong SONAME: {soname}");
}

#[test]
fn exports_every_vendor_function() {
    let symbols = dynamic_symbols();
    for name in EXPORTED {
        assert!(
            symbols.iter().any(|(kind, n)| n == name && kind == "T"),
            "{name} is not exported as a function"
        );
    }
    assert!(
        !symbols
            .iter()
            .any(|(_, n)| n == "rknn_create_mem_from_mb_blk"),
        "rknn_create_mem_from_mb_blk must not be exported (the vendor does not)"
    );
}

#[test]
fn exports_only_vendor_functions() {
    let symbols = dynamic_symbols();
    assert!(!symbols.is_empty(), "no dynamic symbols found");
    for (kind, name) in &symbols {
        assert!(
            !name.starts_with("_ZN") && !name.starts_with("_R"),
            "Rust symbol exported: {name}"
        );
        assert!(
            name.starts_with("rknn_") && kind == "T",
            "unexpected export: {kind} {name}"
        );
        assert!(
            EXPORTED.contains(&name.as_str()),
            "export {name} is not a vendor function"
        );
    }
}
