//! The per-layer accuracy analysis on ModelBuilder-built models: the
//! quantized side is the written `.rknn` (loaded back), the entire error of
//! the output equals what the runtime computes, and the worst layer is the
//! one made bad on purpose.

use rknn_toolchain::accuracy::{self, cosine, Report};
use rknn_toolchain::calibrate::interp::{self, Program};
use rknn_toolchain::calibrate::{self, CalibOptions};
use rknn_toolchain::cli::infer;
use rknn_toolchain::dataset::RawInput;
use rknn_toolchain::quantize::{self, WeightGranularity};
use rknn_toolchain::{BuiltModel, ConvParams, ModelBuilder, Weights};
use rknnrt::graph::{DType, Layout};
use rknnrt::model::Model;
use rknnrt::platform::Platform;

const SHAPE: [usize; 4] = [1, 4, 6, 6];

fn values(seed: usize) -> Vec<f32> {
    (0..144)
        .map(|i| (((i + 3 * seed) * 31 + seed) % 23) as f32 / 11.0 - 1.0)
        .collect()
}

/// conv1 (relu) -> conv2 -> output "y". conv2's output channel 0 has a
/// weight of 50 on input channel 3, which conv1 never makes positive (its
/// weights and bias for that channel are negative): per-layer weights make
/// conv2 the worst layer.
fn model() -> BuiltModel {
    let mut b = ModelBuilder::new(Platform::Rk3588);
    let x = b.input("x", &SHAPE).unwrap();
    let mut w1: Vec<f32> = (0..16).map(|i| ((i * 5) % 7) as f32 / 7.0 - 0.3).collect();
    w1[12..16].fill(-1.0);
    let w1 = Weights::new(&[4, 4, 1, 1], w1).unwrap();
    let h = b
        .conv2d(
            x,
            w1,
            Some(vec![0.1, 0.0, 0.2, -5.0]),
            ConvParams::default().relu(),
        )
        .unwrap();
    b.set_name(h, "h").unwrap();
    let mut w2: Vec<f32> = (0..16).map(|i| ((i * 3) % 5) as f32 / 5.0 - 0.4).collect();
    for c in 0..4 {
        w2[c * 4 + 3] = 0.0;
    }
    w2[3] = 50.0;
    let w2 = Weights::new(&[4, 4, 1, 1], w2).unwrap();
    let y = b.conv2d(h, w2, None, ConvParams::default()).unwrap();
    b.set_name(y, "y").unwrap();
    b.output(y).unwrap();
    b.build().unwrap()
}

fn raw(v: &[f32]) -> RawInput {
    RawInput {
        dtype: DType::F32,
        layout: Layout::Nchw,
        shape: SHAPE.to_vec(),
        bytes: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
    }
}

/// Writes `q`, loads it back and analyses it against `float` on `x`.
fn analyze(float: &BuiltModel, q: &BuiltModel, x: &[f32]) -> (Report, Model) {
    let bytes = q.write().unwrap();
    let loaded = Model::load(Box::new(bytes.clone())).unwrap();
    let program = Program::from_meta(&loaded.meta, loaded.weights()).unwrap();
    let fin = &float.graph.tensors[float.graph.inputs[0]];
    let qin = &loaded.meta.graph.tensors[loaded.meta.graph.inputs[0]];
    let report = accuracy::analyze(
        &Program::from_built(float),
        vec![interp::from_f32(fin, x).unwrap()],
        &program,
        vec![infer::runtime_input(&raw(x), qin, &loaded.meta.preprocess[0]).unwrap()],
    )
    .unwrap();
    (report, Model::load(Box::new(bytes)).unwrap())
}

#[test]
fn int8_analysis_names_the_bad_layer_and_matches_the_runtime() {
    let float = model();
    let samples: Vec<Vec<Vec<f32>>> = (0..6).map(|k| vec![values(k)]).collect();
    let opts = CalibOptions {
        weights: WeightGranularity::PerLayer,
        progress: false,
        ..CalibOptions::default()
    };
    let q = calibrate::quantize(&float, &samples, &opts).unwrap();
    let x = values(11);
    let (report, loaded) = analyze(&float, &q, &x);
    let text = report.to_text();
    eprintln!("{text}");
    let names: Vec<&str> = report.rows.iter().map(|r| r.tensor.as_str()).collect();
    assert_eq!(names, vec!["x", "h", "y"]);
    assert_eq!(report.rows[0].op, "Input");
    assert!(report.rows[0].entire.cos > 0.999);
    assert_eq!(report.worst_single().unwrap().tensor, "y");
    assert!(
        text.contains("worst layer (single error): [Conv] y"),
        "{text}"
    );

    // The output's entire error is the runtime's result against the float
    // model's.
    let runtime = infer::run(loaded, &[raw(&x)]).unwrap().remove(0).values;
    let float_out = {
        let p = Program::from_built(&float);
        let fin = &float.graph.tensors[float.graph.inputs[0]];
        let out = p
            .run(vec![interp::from_f32(fin, &x).unwrap()], &mut |_, _| Ok(()))
            .unwrap();
        let oinfo = &float.graph.tensors[float.graph.outputs[0]];
        interp::to_f32(oinfo, out[0].bytes()).unwrap()
    };
    let y = report.row("y").unwrap();
    assert!((y.entire.cos - cosine(&float_out, &runtime)).abs() < 1e-9);
    assert!((y.entire.euc - accuracy::euclidean(&float_out, &runtime)).abs() < 1e-6);
    // conv2 stays bad when fed the float inputs: its own weights are the
    // problem.
    let single = y.single.unwrap();
    assert!(single.cos < 0.99, "{}", single.cos);

    // Per-channel weights repair it.
    let opts = CalibOptions {
        progress: false,
        ..CalibOptions::default()
    };
    let qc = calibrate::quantize(&float, &samples, &opts).unwrap();
    let (rc, _) = analyze(&float, &qc, &x);
    let yc = rc.row("y").unwrap();
    assert!(
        yc.single.unwrap().cos > single.cos,
        "{} vs {}",
        yc.single.unwrap().cos,
        single.cos
    );
}

#[test]
fn fp16_analysis_is_close_everywhere() {
    let float = model();
    let h = quantize::to_fp16(&float).unwrap();
    let (report, _) = analyze(&float, &h, &values(4));
    assert_eq!(report.rows.len(), 3);
    for r in &report.rows {
        assert!(r.entire.cos > 0.9999, "{}: {}", r.tensor, r.entire.cos);
        assert!(r.single.unwrap().cos > 0.9999, "{}", r.tensor);
    }
    assert_eq!(report.outputs, vec!["y".to_string()]);
}
