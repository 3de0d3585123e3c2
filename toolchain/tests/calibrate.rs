//! Calibration algorithms and weight granularity, each on a model where it
//! changes the result; quantized models run through the rknnrt runtime.

use rknn_toolchain::accuracy::cosine;
use rknn_toolchain::calibrate::{self, Algorithm, CalibOptions, Calibration};
use rknn_toolchain::cli::infer;
use rknn_toolchain::dataset::RawInput;
use rknn_toolchain::quantize::WeightGranularity;
use rknn_toolchain::{BuiltModel, ConvParams, ModelBuilder, Weights};
use rknnrt::graph::{DType, Layout, TensorId};
use rknnrt::model::Model;
use rknnrt::platform::Platform;

/// xorshift64* with Box-Muller normals: deterministic test data.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f32 {
        let (u, v) = (self.uniform().max(1e-12), self.uniform());
        ((-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()) as f32
    }
}

const SHAPE: [usize; 4] = [1, 4, 128, 128];
const PLANE: usize = SHAPE[2] * SHAPE[3];

fn raw(values: &[f32]) -> RawInput {
    RawInput {
        dtype: DType::F32,
        layout: Layout::Nchw,
        shape: SHAPE.to_vec(),
        bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    }
}

/// Output 0 of `model` on `x`, through the runtime.
fn run(model: &BuiltModel, x: &[f32]) -> Vec<f32> {
    let m = Model::load(Box::new(model.write().unwrap())).unwrap();
    infer::run(m, &[raw(x)]).unwrap().remove(0).values
}

/// x -> 1x1 conv (4 -> 4 channels, given weights) -> output.
fn conv_model(w: Vec<f32>) -> (BuiltModel, TensorId, TensorId) {
    let mut b = ModelBuilder::new(Platform::Rk3588);
    let x = b.input("x", &SHAPE).unwrap();
    let w = Weights::new(&[4, 4, 1, 1], w).unwrap();
    let y = b
        .conv2d(
            x,
            w,
            Some(vec![0.1, -0.1, 0.05, 0.0]),
            ConvParams::default(),
        )
        .unwrap();
    b.output(y).unwrap();
    (b.build().unwrap(), x, y)
}

fn mixing_weights(rng: &mut Rng) -> Vec<f32> {
    (0..16).map(|_| rng.normal() * 0.5).collect()
}

/// `n` samples of standard normal values with two outliers (+60 and -60)
/// in the whole set: rare values far from the bulk.
fn rare_outliers(rng: &mut Rng, n: usize) -> Vec<Vec<Vec<f32>>> {
    let mut set: Vec<Vec<Vec<f32>>> = (0..n).map(|_| vec![bulk_sample(rng)]).collect();
    set[0][0][5] = 60.0;
    set[n - 1][0][PLANE + 17] = -60.0;
    set
}

fn bulk_sample(rng: &mut Rng) -> Vec<f32> {
    (0..SHAPE.iter().product::<usize>())
        .map(|_| rng.normal())
        .collect()
}

fn calibrate_with(model: &BuiltModel, samples: &Vec<Vec<Vec<f32>>>, a: Algorithm) -> Calibration {
    let opts = CalibOptions {
        algorithm: a,
        weights: WeightGranularity::PerChannel,
        progress: false,
    };
    calibrate::calibrate(model, samples, &opts).unwrap()
}

fn width((lo, hi): (f32, f32)) -> f32 {
    hi - lo
}

/// Calibrates `model` with `normal` and with `other` on `samples`; checks
/// that `other` clips (range below `max_ratio` of the observed width) where
/// `normal` does not; returns the lowest output cosine of both int8 models
/// against the float model on `test`.
fn compare_algorithms(
    model: &BuiltModel,
    tensors: &[TensorId],
    samples: &Vec<Vec<Vec<f32>>>,
    other: Algorithm,
    max_ratio: f32,
    test: &[Vec<f32>],
) -> (f64, f64) {
    let normal = calibrate_with(model, samples, Algorithm::Normal);
    let clipped = calibrate_with(model, samples, other);
    for &t in tensors {
        let seen = normal.observed[&t];
        assert_eq!(normal.ranges[&t], seen, "normal is min/max");
        assert_eq!(clipped.observed[&t], seen);
        let c = clipped.ranges[&t];
        eprintln!("tensor {t}: observed {seen:?}, {} {c:?}", other.name());
        assert!(
            width(c) < max_ratio * width(seen),
            "{} clips: {c:?} of {seen:?}",
            other.name()
        );
        assert!(c.0 >= seen.0 && c.1 <= seen.1);
    }
    let score = |cal: &Calibration| {
        let q = rknn_toolchain::quantize::quantize_int8(model, &cal.config()).unwrap();
        test.iter()
            .map(|t| cosine(&run(model, t), &run(&q, t)))
            .fold(f64::INFINITY, f64::min)
    };
    (score(&normal), score(&clipped))
}

fn clipping_test(algorithm: Algorithm) {
    let mut rng = Rng(0x5eed);
    let (model, x, y) = conv_model(mixing_weights(&mut rng));
    let samples = rare_outliers(&mut rng, 16);
    // Test data of the bulk distribution (the outliers are rare).
    let test: Vec<Vec<f32>> = (0..2).map(|_| bulk_sample(&mut rng)).collect();
    let (cn, cc) = compare_algorithms(&model, &[x, y], &samples, algorithm, 0.5, &test);
    eprintln!(
        "cosine on bulk data: normal {cn:.5}, {} {cc:.5}",
        algorithm.name()
    );
    assert!(
        1.0 - cc < 0.25 * (1.0 - cn),
        "{} {cc} vs normal {cn}",
        algorithm.name()
    );
}

#[test]
fn kl_divergence_clips_rare_outliers_that_min_max_keeps() {
    clipping_test(Algorithm::KlDivergence);
}

#[test]
fn mmse_clips_rare_outliers_that_min_max_keeps() {
    // With 2^20 values per tensor, the rounding error saved by clipping
    // the two outliers outweighs their clipping error.
    clipping_test(Algorithm::Mmse);
}

#[test]
fn per_channel_weights_beat_per_layer_on_uneven_channel_scales() {
    // Output channel 0 has a weight of 40 on input channel 3, which the
    // data never excites (a dead channel); the other weights are ~0.5.
    let mut rng = Rng(42);
    let mut w = mixing_weights(&mut rng);
    for c in 0..4 {
        w[c * 4 + 3] = 0.0;
    }
    w[3] = 40.0;
    let (model, _, _) = conv_model(w);
    let sample = |rng: &mut Rng| {
        let mut v = bulk_sample(rng);
        v[3 * PLANE..].fill(0.0);
        v
    };
    let samples: Vec<Vec<Vec<f32>>> = (0..8).map(|_| vec![sample(&mut rng)]).collect();
    let test = sample(&mut rng);
    // Output channels 1..3 (channel 0 is coarse either way: its scale is
    // set by the weight of 40).
    let reference = run(&model, &test)[PLANE..].to_vec();
    let cos = |weights: WeightGranularity| {
        let opts = CalibOptions {
            algorithm: Algorithm::Normal,
            weights,
            progress: false,
        };
        let q = calibrate::quantize(&model, &samples, &opts).unwrap();
        cosine(&reference, &run(&q, &test)[PLANE..])
    };
    let (channel, layer) = (
        cos(WeightGranularity::PerChannel),
        cos(WeightGranularity::PerLayer),
    );
    eprintln!("cosine: per-channel {channel:.5}, per-layer {layer:.5}");
    assert!(channel > 0.999, "{channel}");
    assert!(
        layer < channel - 0.01,
        "per-layer {layer} vs per-channel {channel}"
    );
}

#[test]
fn data_movement_outputs_inherit_and_empty_sets_are_refused() {
    let mut b = ModelBuilder::new(Platform::Rk3588);
    let x = b.input("x", &SHAPE).unwrap();
    let r = b.relu(x).unwrap();
    let flat = b.reshape(r, &[1, -1]).unwrap();
    b.output(flat).unwrap();
    let model = b.build().unwrap();
    let mut rng = Rng(7);
    let samples: Vec<Vec<Vec<f32>>> = (0..3).map(|_| vec![bulk_sample(&mut rng)]).collect();
    let cal = calibrate_with(&model, &samples, Algorithm::Normal);
    assert!(cal.ranges.contains_key(&r));
    assert!(
        !cal.ranges.contains_key(&flat),
        "Reshape inherits its input's parameters"
    );
    assert_eq!(cal.observed[&r].0, 0.0);
    let q = calibrate::quantize(&model, &samples, &CalibOptions::default()).unwrap();
    let out = &q.graph.tensors[q.graph.outputs[0]];
    let relu_out = q
        .graph
        .tensors
        .iter()
        .find(|t| t.name == model.graph.tensors[r].name)
        .unwrap();
    assert_eq!(out.quant, relu_out.quant);

    let none: Vec<Vec<Vec<f32>>> = Vec::new();
    let err = calibrate::calibrate(&model, &none, &CalibOptions::default()).unwrap_err();
    assert!(err.to_string().contains("no samples"), "{err}");
    let wrong = vec![vec![vec![0.0; 5]]];
    let err = calibrate::calibrate(&model, &wrong, &CalibOptions::default()).unwrap_err();
    assert!(err.to_string().contains("values, got 5"), "{err}");
}
