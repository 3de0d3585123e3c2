//! Writes the small models of the C API tests (`tests/common/mod.rs`) as
//! `.rknn` files into a directory, for programs that need a model on disk:
//! `.ci/memcheck.sh` and the fuzz seed corpus (`fuzz/corpus/`).
//!
//! ```sh
//! cargo run --example write_test_models -- <dir>
//! ```
//! writes `<dir>/relu_f32.rknn` (x [1,3,4,4] f32 -> Relu),
//! `<dir>/conv_int8.rknn` (int8 1x1 Conv with mean/std pre-processing) and
//! `<dir>/conv_chain_f32.rknn` / `<dir>/conv_chain_int8.rknn` (two 1x1
//! Convs with weights and an intermediate in the internal arena, on 16x20
//! and 12x12 images: the zero-copy examples).

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::PathBuf;

fn main() {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: write_test_models <dir>");
        std::process::exit(2);
    };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("cannot create {}: {e}", dir.display());
        std::process::exit(1);
    }
    for (name, bytes) in [
        ("relu_f32.rknn", common::relu_model()),
        ("conv_int8.rknn", common::int8_conv_model()),
        (
            "conv_chain_f32.rknn",
            common::conv_chain_model(16, 20, 1, false),
        ),
        (
            "conv_chain_int8.rknn",
            common::conv_chain_model(12, 12, 2, true),
        ),
        ("custom_ops.rknn", common::custom_op_model()),
    ] {
        let path = dir.join(name);
        if let Err(e) = std::fs::write(&path, bytes) {
            eprintln!("cannot write {}: {e}", path.display());
            std::process::exit(1);
        }
        println!("{}", path.display());
    }
}
