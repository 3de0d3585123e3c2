//! ONNX import of small committed models (`tests/onnx/`, made by
//! `make_models.py`): a CNN with BatchNormalization and a folded shape
//! sub-graph against onnxruntime, symbolic input dims, external data, and
//! one-line errors for malformed models.

#[path = "common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use rknn_toolchain::onnx::{import, import_bytes, ImportOptions};
use rknn_toolchain::quantize::to_fp16;
use rknnrt::graph::Op;
use rknnrt::platform::Platform;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/onnx")
}

fn opts() -> ImportOptions {
    ImportOptions::new(Platform::Rk3588)
}

fn with_batch(n: usize) -> ImportOptions {
    let mut o = opts();
    o.input_shapes = BTreeMap::from([("x".to_string(), vec![n, 3, 8, 8])]);
    o
}

fn error(name: &str) -> String {
    let e = import(&dir().join(name), &opts()).unwrap_err().to_string();
    assert!(!e.contains('\n'), "one line: {e}");
    e
}

#[test]
fn cnn_matches_onnxruntime_in_fp32_and_fp16() {
    let model = import(&dir().join("cnn.onnx"), &with_batch(2)).unwrap();
    // The Shape/Gather/Unsqueeze/Concat sub-graph is folded away; the
    // BatchNormalization is a per-channel Mul and Add.
    let ops: Vec<&str> = model.graph.nodes.iter().map(|n| n.op.type_name()).collect();
    assert_eq!(ops, ["Conv", "Mul", "Add", "Relu", "Reshape", "Gemm"]);
    assert!(matches!(model.graph.nodes[0].op, Op::Conv { .. }));
    assert_eq!(model.graph.nodes[0].name, "conv");
    // Initializers keep their ONNX names.
    assert!(model.tensor_id("w").is_some() && model.tensor_id("fc").is_some());
    let y_id = model.graph.outputs[0];
    assert_eq!(model.graph.tensors[y_id].name, "y");
    assert_eq!(model.graph.tensors[y_id].shape, [2, 5]);
    let x = common::read_npy(&dir().join("cnn_x.npy"));
    let want = common::read_npy(&dir().join("cnn_y.npy"));
    let got = common::run_f32(&model.write().unwrap(), std::slice::from_ref(&x.data));
    assert!(
        common::max_abs_err(&got[0], &want.data) < 1e-4,
        "{:?} vs {:?}",
        got[0],
        want.data
    );
    let half = to_fp16(&model).unwrap();
    let got = common::run_f32(&half.write().unwrap(), &[x.data]);
    assert!(common::cosine(&got[0], &want.data) > 0.999);
}

#[test]
fn symbolic_dims_need_a_shape() {
    let e = error("cnn.onnx");
    assert!(e.contains("input 'x'") && e.contains("'N'"), "{e}");
    let m = import(&dir().join("cnn.onnx"), &with_batch(1)).unwrap();
    assert_eq!(m.graph.tensors[m.graph.inputs[0]].shape, [1, 3, 8, 8]);
    let mut bad = opts();
    bad.input_shapes = BTreeMap::from([("x".to_string(), vec![1, 4, 8, 8])]);
    let e = import(&dir().join("cnn.onnx"), &bad)
        .unwrap_err()
        .to_string();
    assert!(e.contains("dimension 1 = 3"), "{e}");
}

#[test]
fn inputs_and_outputs_cut_the_graph() {
    let mut o = with_batch(1);
    o.outputs = vec!["r".into()];
    let m = import(&dir().join("cnn.onnx"), &o).unwrap();
    let ops: Vec<&str> = m.graph.nodes.iter().map(|n| n.op.type_name()).collect();
    assert_eq!(ops, ["Conv", "Mul", "Add", "Relu"]);
    let mut o = opts();
    o.inputs = vec!["flat".into()];
    o.input_shapes = BTreeMap::from([("flat".to_string(), vec![1, 64])]);
    let m = import(&dir().join("cnn.onnx"), &o).unwrap();
    let ops: Vec<&str> = m.graph.nodes.iter().map(|n| n.op.type_name()).collect();
    assert_eq!(ops, ["Gemm"]);
}

#[test]
fn external_data_is_read_relative_to_the_model() {
    let m = import(&dir().join("external.onnx"), &opts()).unwrap();
    let got = common::run_f32(&m.write().unwrap(), &[vec![1.0; 6]]);
    assert_eq!(got[0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let bytes = std::fs::read(dir().join("external.onnx")).unwrap();
    let e = import_bytes(&bytes, &opts()).unwrap_err().to_string();
    assert!(e.contains("model's directory"), "{e}");
}

#[test]
fn malformed_models_give_one_line_errors() {
    let e = error("unknown_op.onnx");
    assert!(
        e.contains("node 'sin1' (Sin, opset 13)") && e.contains("not supported"),
        "{e}"
    );
    let e = error("folded_only.onnx");
    assert!(
        e.contains("'abs1' (Abs, opset 13)") && e.contains("constant inputs"),
        "{e}"
    );
    let e = error("custom_domain.onnx");
    assert!(e.contains("'foo1'") && e.contains("com.example"), "{e}");
    let e = error("missing_init.onnx");
    assert!(e.contains("'add1'") && e.contains("'nowhere'"), "{e}");
    let e = error("old_opset.onnx");
    assert!(e.contains("opset 6"), "{e}");
    let e = error("upsample_fractional.onnx");
    assert!(
        e.contains("'up1' (Upsample, opset 9)") && e.contains("non-integer scale"),
        "{e}"
    );
    let e = error("bad_attr.onnx");
    assert!(e.contains("'lrelu1'") && e.contains("'gamma'"), "{e}");
    let bytes = std::fs::read(dir().join("cnn.onnx")).unwrap();
    for cut in [1, 10, bytes.len() / 2, bytes.len() - 1] {
        let e = import_bytes(&bytes[..cut], &opts())
            .unwrap_err()
            .to_string();
        assert!(!e.contains('\n') && e.starts_with("ONNX import"), "{e}");
    }
}

#[test]
fn mutated_models_never_panic() {
    // Every byte of the CNN flipped three ways: the importer may refuse,
    // and what it accepts must serialize, but nothing may panic.
    let bytes = std::fs::read(dir().join("cnn.onnx")).unwrap();
    let mut accepted = 0;
    for i in 0..bytes.len() {
        for x in [0x01u8, 0x80, 0xff] {
            let mut b = bytes.clone();
            b[i] ^= x;
            if let Ok(m) = import_bytes(&b, &with_batch(1)) {
                accepted += 1;
                let _ = m.write();
            }
        }
    }
    assert!(accepted > 0, "some mutations (e.g. in weights) must import");
}

#[test]
fn legacy_opsets_match_onnxruntime() {
    // Attribute forms and defaults of older opsets (make_legacy.py): each
    // model imported, run through the C API, compared with onnxruntime.
    let legacy = dir().join("legacy");
    let manifest: BTreeMap<String, usize> =
        serde_json::from_slice(&std::fs::read(legacy.join("manifest.json")).unwrap()).unwrap();
    assert!(manifest.len() >= 30);
    let mut failures = Vec::new();
    for (name, outputs) in &manifest {
        let model = match import(&legacy.join(format!("{name}.onnx")), &opts()) {
            Ok(m) => m,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let x = common::read_npy(&legacy.join(format!("{name}_x.npy")));
        let got = common::run_f32(&model.write().unwrap(), &[x.data]);
        assert_eq!(got.len(), *outputs, "{name}");
        for (k, g) in got.iter().enumerate() {
            let want = common::read_npy(&legacy.join(format!("{name}_y{k}.npy")));
            let tol = 1e-5 * common::value_range(&want.data).max(1.0);
            let nan_mismatch = g
                .iter()
                .zip(&want.data)
                .any(|(a, b)| a.is_nan() != b.is_nan());
            if g.len() != want.data.len()
                || nan_mismatch
                || common::max_abs_err(g, &want.data) > tol
            {
                failures.push(format!("{name} output {k}: {g:?} vs {:?}", want.data));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
