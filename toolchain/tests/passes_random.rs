//! Random chains of the patterns the passes rewrite (convolutions,
//! per-channel and non-per-channel Mul/Add/Sub/Div, activations, Pads of
//! every kind before Conv and pools, Transpose/Reshape round trips, extra
//! outputs in the middle, mean/std on the input): for each seed the model
//! runs before and after `passes::optimize` through the C API and the
//! outputs must agree. This checks the exactness conditions against
//! cases nobody wrote by hand.

mod common;

use common::{max_abs_err, run_f32, value_range, values};
use rknn_toolchain::passes::optimize;
use rknn_toolchain::{ConstData, ConvParams, ModelBuilder, PoolParams, Weights};
use rknnrt::graph::PadMode;
use rknnrt::platform::Platform;

/// xorshift32 choices.
struct Rng(u32);

impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }

    fn below(&mut self, n: u32) -> usize {
        (self.next() % n) as usize
    }
}

fn build(seed: u32) -> rknn_toolchain::BuiltModel {
    let mut r = Rng(seed.wrapping_mul(2_654_435_761) | 1);
    let mut b = ModelBuilder::new(Platform::Rk3588);
    let c0 = 3;
    let x = b.input("x", &[1, c0, 10, 10]).unwrap();
    if r.below(2) == 0 {
        b.mean_std(x, &[10.0, 20.0, 30.0], &[2.0, 4.0, 8.0])
            .unwrap();
    }
    let mut t = x;
    let mut k = 0u32;
    let mut fresh = |b: &mut ModelBuilder, shape: &[usize], lo: f32, hi: f32| {
        k += 1;
        let n = shape.iter().product();
        b.constant(
            &format!("k{k}"),
            shape,
            ConstData::F32(values(n, seed * 100 + k, lo, hi)),
        )
        .unwrap()
    };
    let mut outputs = 0;
    for step in 0..8 {
        let shape = b.shape(t).unwrap().to_vec();
        let (c, h) = (shape[1], shape[2]);
        match r.below(8) {
            0 => {
                let depthwise = r.below(3) == 0;
                let kk = if r.below(2) == 0 || h < 5 { 1 } else { 3 };
                let pads = if kk == 3 { r.below(2) } else { 0 };
                let m = if depthwise { c } else { 1 + r.below(4) };
                let cg = if depthwise { 1 } else { c };
                let w = Weights::new(
                    &[m, cg, kk, kk],
                    values(m * cg * kk * kk, seed + step, -1.0, 1.0),
                )
                .unwrap();
                let bias = (r.below(2) == 0).then(|| values(m, seed + 50, -1.0, 1.0));
                let mut p = ConvParams::default().pads(pads);
                if depthwise {
                    p = p.group(c);
                }
                t = b.conv2d(t, w, bias, p).unwrap();
            }
            1..=3 => {
                let cshape: Vec<usize> = match r.below(4) {
                    0 => vec![c, 1, 1],
                    1 => vec![1, c, 1, 1],
                    2 => vec![1],
                    _ => vec![shape[3]],
                };
                let s = fresh(&mut b, &cshape, 0.5, 1.5);
                t = match (r.below(4), r.below(2)) {
                    (0, 0) => b.mul(t, s),
                    (0, _) => b.mul(s, t),
                    (1, 0) => b.add(t, s),
                    (1, _) => b.add(s, t),
                    (2, _) => b.sub(t, s),
                    _ => b.div(t, s),
                }
                .unwrap();
            }
            4 => {
                t = match r.below(5) {
                    0 => b.relu(t),
                    1 => b.relu6(t),
                    2 => b.clip(t, -1.0, 1.0),
                    3 => b.leaky_relu(t, 0.2),
                    _ => b.sigmoid(t),
                }
                .unwrap();
            }
            5 => {
                let consumer = r.below(3);
                // The lowest float only pads max pooling (elsewhere it
                // overflows and both models compute garbage).
                let mode = match r.below(4) {
                    0 | 1 => PadMode::Constant { value: 0.0 },
                    2 if consumer == 1 => PadMode::Constant { value: f32::MIN },
                    2 => PadMode::Constant { value: 0.5 },
                    _ => PadMode::Reflect,
                };
                let p = [r.below(2), r.below(2), r.below(2), r.below(2)];
                let pads = [0, 0, p[0], p[1], 0, 0, p[2], p[3]];
                let padded = b.pad(t, &pads, mode).unwrap();
                t = match consumer {
                    0 => {
                        let w = Weights::new(&[c, c, 3, 3], values(c * c * 9, seed + 7, -1.0, 1.0))
                            .unwrap();
                        b.conv2d(padded, w, None, ConvParams::default().pads(r.below(2)))
                            .unwrap()
                    }
                    1 => b
                        .max_pool2d(padded, PoolParams::new(3).stride(1).pads(r.below(2)))
                        .unwrap(),
                    _ => b
                        .avg_pool2d(
                            padded,
                            PoolParams::new(3).stride(1).pads(r.below(2)),
                            r.below(2) == 0,
                        )
                        .unwrap(),
                };
            }
            6 => {
                if r.below(2) == 0 {
                    let u = b.transpose(t, &[0, 2, 3, 1]).unwrap();
                    t = b.transpose(u, &[0, 3, 1, 2]).unwrap();
                } else {
                    let n: usize = shape.iter().product();
                    let u = b.reshape(t, &[1, n as i64]).unwrap();
                    let dims: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
                    t = b.reshape(u, &dims).unwrap();
                }
            }
            _ => {
                if t != x && outputs < 2 && !b.graph().outputs.contains(&t) {
                    b.output(t).unwrap();
                    outputs += 1;
                }
            }
        }
    }
    if !b.graph().outputs.contains(&t) {
        b.output(t).unwrap();
    }
    b.build().unwrap()
}

#[test]
fn random_pattern_chains_keep_their_outputs() {
    let mut shrunk = 0;
    for seed in 1..=200 {
        let m = build(seed);
        let (opt, report) = optimize(m.clone()).unwrap();
        assert!(opt.graph.nodes.len() <= m.graph.nodes.len());
        shrunk += usize::from(opt.graph.nodes.len() < m.graph.nodes.len());
        let x = vec![values(300, seed, 0.0, 255.0)];
        let want = run_f32(&m.write().unwrap(), &x);
        let got = run_f32(&opt.write().unwrap(), &x);
        for (a, b) in want.iter().zip(&got) {
            assert!(
                a.iter().chain(b).all(|v| v.is_finite()),
                "seed {seed}: non-finite output"
            );
            let tol = 1e-4 * value_range(a).max(1.0);
            let err = max_abs_err(a, b);
            assert!(
                err <= tol,
                "seed {seed}: error {err} > {tol}; changes {:?}",
                report.changes
            );
        }
    }
    assert!(shrunk > 150, "only {shrunk} of 200 graphs shrank");
}
