//! The ONNX importer on hostile bytes.
//!
//! Each input is decoded as an ONNX `ModelProto` and imported
//! (`rknn_toolchain::onnx::import_bytes`, every symbolic dimension fixed
//! to 1 for the input named `x`, custom-op rules for the types of
//! `toolchain/tests/custom_ops/`); a model the importer accepts is then
//! serialized and converted to fp16. Errors are fine; a panic, abort or
//! sanitizer report is a bug. Seeds: the models of `toolchain/tests/onnx/`
//! and `toolchain/tests/custom_ops/` (`corpus/onnx_import/`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rknn_toolchain::onnx::{import_bytes, CustomRule, ImportOptions};
use rknnrt::platform::Platform;

fuzz_target!(|data: &[u8]| {
    rknnrt_fuzz::quiet();
    let mut opts = ImportOptions::new(Platform::Rk3588);
    opts.input_shapes.insert("x".into(), vec![1, 3, 8, 8]);
    for (ty, rule) in [
        ("cstSoftmax", CustomRule::SameAsInput),
        ("ArgMax", CustomRule::Builtin),
        ("ScaleShift", CustomRule::SameAsInput),
        ("cstDualResidual", CustomRule::SameAsInput),
    ] {
        opts.custom_ops.insert(ty.into(), rule);
    }
    if let Ok(model) = import_bytes(data, &opts) {
        let _ = model.write();
        if let Ok(half) = rknn_toolchain::quantize::to_fp16(&model) {
            let _ = half.write();
        }
    }
});
