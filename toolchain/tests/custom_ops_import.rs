//! Custom ops in the compiler: ONNX nodes outside the standard op set
//! become `Op::Custom` with their attributes as typed values; output
//! shapes come from `--custom-op` / yml rules; a standard type with the
//! `builtin` rule keeps the built-in op as fallback; fp16 builds cast
//! around custom ops; int8 builds keep them (and what cannot be computed
//! after them) in float. The models are in `tests/custom_ops/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[path = "../../tests/cross/mod.rs"]
mod cross;

use rknn_toolchain::calibrate::{self, CalibOptions};
use rknn_toolchain::cli::yml;
use rknn_toolchain::onnx::{import, CustomRule, ImportOptions};
use rknn_toolchain::quantize::to_fp16;
use rknn_toolchain::{BuiltModel, ModelBuilder};
use rknnrt::graph::{AttrValue, CustomOp, DType, Op};
use rknnrt::platform::Platform;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/custom_ops")
        .join(name)
}

fn opts(rules: &[(&str, &str)]) -> ImportOptions {
    let mut o = ImportOptions::new(Platform::Rk3588);
    o.custom_ops = rules
        .iter()
        .map(|(t, r)| (t.to_string(), r.parse::<CustomRule>().unwrap()))
        .collect();
    o
}

fn custom(m: &BuiltModel, i: usize) -> &CustomOp {
    match &m.graph.nodes[i].op {
        Op::Custom(c) => c,
        other => panic!("node {i} is {}", other.type_name()),
    }
}

fn error(name: &str, rules: &[(&str, &str)]) -> String {
    let e = import(&data(name), &opts(rules)).unwrap_err().to_string();
    assert!(!e.contains('\n'), "one line: {e}");
    e
}

#[test]
fn attributes_are_kept_as_typed_values() {
    let m = import(
        &data("custom_domain.onnx"),
        &opts(&[("ScaleShift", "same-as-input")]),
    )
    .unwrap();
    let c = custom(&m, 0);
    assert_eq!(c.op_type, "ScaleShift");
    assert_eq!(m.graph.nodes[0].name, "scale_shift");
    assert!(c.fallback.is_none());
    let want = [
        ("scale", AttrValue::Float(2.0)),
        ("shift", AttrValue::Int(1)),
        ("mode", AttrValue::String("fast".into())),
        ("axes", AttrValue::Ints(vec![0, 1])),
        ("weights", AttrValue::Floats(vec![0.25, 0.75])),
        ("flags", AttrValue::Bools(vec![true, false, true])),
        ("ids", AttrValue::Int32s(vec![7, -3])),
    ];
    for (name, value) in want {
        assert_eq!(c.attr(name), Some(&value), "{name}");
    }
    let out = m.graph.nodes[0].outputs[0];
    assert_eq!(m.graph.tensors[out].shape, [1, 8]);
    assert_eq!(m.graph.tensors[out].dtype, DType::F32);
    assert_eq!(m.graph.nodes[1].op.type_name(), "Relu");
    // The node survives the file format.
    let parsed = rknnrt::model::Model::load(Box::new(m.write().unwrap())).unwrap();
    assert_eq!(parsed.meta.graph.nodes[0].op, m.graph.nodes[0].op);
}

#[test]
fn a_custom_op_needs_a_rule() {
    let e = error("custom_domain.onnx", &[]);
    for part in [
        "node 'scale_shift' (ScaleShift",
        "domain 'com.example'",
        "--custom-op ScaleShift=same-as-input",
        "custom_ops entry",
    ] {
        assert!(e.contains(part), "{part}: {e}");
    }
    let e = error("softmax_argmax.onnx", &[]);
    assert!(
        e.contains("'cstSoftmax' is a custom op (not a standard ONNX op)"),
        "{e}"
    );
    let e = error(
        "softmax_argmax.onnx",
        &[("cstSoftmax", "1x4x8x8:float32,1x4:float32")],
    );
    assert!(e.contains("gives 2 output shapes, the node has 1"), "{e}");
    let e = error("softmax_argmax.onnx", &[("cstSoftmax", "builtin")]);
    assert!(e.contains("rule builtin needs a standard ONNX op"), "{e}");
    let e = "1x1x8x8:float32,".parse::<CustomRule>().unwrap_err();
    assert!(e.contains("empty output"), "{e}");
    let e = "1xAx8".parse::<CustomRule>().unwrap_err();
    assert!(e.contains("'A' in '1xAx8' is not a dimension"), "{e}");
}

#[test]
fn a_replaced_standard_op_keeps_its_built_in_fallback() {
    let m = import(
        &data("softmax_argmax.onnx"),
        &opts(&[("cstSoftmax", "same-as-input"), ("ArgMax", "builtin")]),
    )
    .unwrap();
    let types: Vec<&str> = m.graph.nodes.iter().map(|n| n.op.type_name()).collect();
    assert_eq!(types, ["Conv", "Relu", "cstSoftmax", "ArgMax"]);
    assert_eq!(custom(&m, 2).attr("axis"), Some(&AttrValue::Int(1)));
    let argmax = custom(&m, 3);
    assert_eq!(
        argmax.fallback.as_deref(),
        Some(&Op::ArgMax {
            axis: 1,
            keepdims: true,
            select_last_index: false
        })
    );
    let index = m.graph.nodes[3].outputs[0];
    assert_eq!(m.graph.tensors[index].shape, [1, 1, 8, 8]);
    assert_eq!(m.graph.tensors[index].dtype, DType::I64);

    // Explicit shapes equal to the built-in op's keep the fallback;
    // other shapes drop it (it would not compute the same outputs).
    let explicit = import(
        &data("softmax_argmax.onnx"),
        &opts(&[("cstSoftmax", "same-as-input"), ("ArgMax", "1x1x8x8:int64")]),
    )
    .unwrap();
    assert!(custom(&explicit, 3).fallback.is_some());
    let other = import(
        &data("softmax_argmax.onnx"),
        &opts(&[("cstSoftmax", "same-as-input"), ("ArgMax", "same-as-input")]),
    )
    .unwrap();
    assert!(custom(&other, 3).fallback.is_none());
}

#[test]
fn fp16_builds_cast_around_custom_ops() {
    let m = import(
        &data("softmax_argmax.onnx"),
        &opts(&[("cstSoftmax", "same-as-input"), ("ArgMax", "builtin")]),
    )
    .unwrap();
    let half = to_fp16(&m).unwrap();
    let g = &half.graph;
    let dtype = |t: usize| g.tensors[t].dtype;
    let softmax = g
        .nodes
        .iter()
        .position(|n| n.op.type_name() == "cstSoftmax")
        .unwrap();
    let input = g.nodes[softmax].inputs[0];
    assert_eq!(dtype(input), DType::F32);
    let cast = g.nodes.iter().find(|n| n.outputs == [input]).unwrap();
    assert_eq!(cast.op, Op::Cast { to: DType::F32 });
    assert_eq!(dtype(cast.inputs[0]), DType::F16);
    // Custom to custom stays float32, no cast between.
    let argmax = &g.nodes[softmax + 1];
    assert_eq!(argmax.inputs, g.nodes[softmax].outputs);
    assert_eq!(dtype(g.outputs[0]), DType::F32);
    half.write().expect("valid fp16 model");
}

/// x -> custom op (with or without a built-in fallback) -> Conv -> y.
fn custom_then_conv(fallback: bool) -> BuiltModel {
    let mut b = ModelBuilder::new(Platform::Rk3588);
    let x = b.input("x", &[1, 2, 4, 4]).unwrap();
    let op = CustomOp {
        op_type: "Relu".into(),
        attrs: Vec::new(),
        fallback: fallback.then(|| {
            Box::new(Op::Unary {
                act: rknnrt::graph::Activation::Relu,
            })
        }),
    };
    let c = b
        .custom(op, &[x], &[(vec![1, 2, 4, 4], DType::F32)])
        .unwrap()[0];
    let w = rknn_toolchain::Weights::new(&[2, 2, 1, 1], vec![0.5, -0.25, 0.75, 1.0]).unwrap();
    let y = b
        .conv2d(c, w, None, rknn_toolchain::ConvParams::default())
        .unwrap();
    b.output(y).unwrap();
    b.build().unwrap()
}

#[test]
fn calibration_runs_fallbacks_and_keeps_the_rest_float() {
    let samples: Vec<Vec<Vec<f32>>> = (0..3)
        .map(|k| {
            vec![(0..32)
                .map(|i| ((i * 7 + k * 3) % 11) as f32 / 5.0 - 1.0)
                .collect()]
        })
        .collect();
    let opts = CalibOptions {
        progress: false,
        ..CalibOptions::default()
    };
    let conv_input = |m: &BuiltModel| {
        let conv = m
            .graph
            .nodes
            .iter()
            .find(|n| n.op.type_name() == "Conv")
            .unwrap();
        m.graph.tensors[conv.inputs[0]].dtype
    };
    // With a fallback the compiler computes the op: the Conv after it is
    // calibrated and runs in int8.
    let q = calibrate::quantize(&custom_then_conv(true), &samples, &opts).unwrap();
    assert_eq!(conv_input(&q), DType::I8);
    assert!(q.graph.nodes.iter().any(|n| n.op == Op::Quantize));
    q.write().unwrap();
    // Without one, nothing after the op can be calibrated: float32.
    let q = calibrate::quantize(&custom_then_conv(false), &samples, &opts).unwrap();
    assert_eq!(conv_input(&q), DType::F32);
    assert!(!q.graph.nodes.iter().any(|n| n.op == Op::Quantize));
    q.write().unwrap();
}

#[test]
fn yml_configs_give_rules() {
    let text = r#"
models:
  name: m
  platform: onnx
  model_file_path: softmax_argmax.onnx
  quantize: false
  custom_ops:
    cstSoftmax: same-as-input
    ArgMax: builtin
    cstTopK:
      outputs:
        - shape: [1, 5]
          dtype: float32
        - shape: [1, 5]
          dtype: int64
"#;
    let cfg = yml::parse(&data("m.yml"), text, Some(Platform::Rk3588)).unwrap();
    let want = BTreeMap::from([
        ("cstSoftmax".to_string(), CustomRule::SameAsInput),
        ("ArgMax".to_string(), CustomRule::Builtin),
        (
            "cstTopK".to_string(),
            CustomRule::Outputs(vec![(vec![1, 5], DType::F32), (vec![1, 5], DType::I64)]),
        ),
    ]);
    assert_eq!(cfg.plan.custom_ops, want);
    let bad = text.replace("dtype: int64", "dtype: int8");
    let e = yml::parse(&data("m.yml"), &bad, Some(Platform::Rk3588))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("custom_ops.cstTopK.outputs[1]") && e.contains("int8"),
        "{e}"
    );
}

#[test]
fn the_cli_names_the_op_without_a_rule() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let out = cross::command(env!("CARGO_BIN_EXE_rknn-convert"))
        .args(["build", data("softmax_argmax.onnx").to_str().unwrap()])
        .args(["-t", "rk3588", "--quiet", "-o"])
        .arg(dir.join("custom_ops_no_rule.rknn"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("'cstSoftmax' is a custom op") && err.contains("--custom-op cstSoftmax="),
        "{err}"
    );
    let out = cross::command(env!("CARGO_BIN_EXE_rknn-convert"))
        .args(["build", data("softmax_argmax.onnx").to_str().unwrap()])
        .args(["-t", "rk3588", "--custom-op", "cstSoftmax", "-o"])
        .arg(dir.join("custom_ops_bad_rule.rknn"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not TYPE=RULE"), "{err}");
}
