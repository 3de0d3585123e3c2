//! Gemm and MatMul: optimized kernels against naive references.

use crate::graph::{Activation, Op, Quant};
use crate::kernels::quant;
use crate::kernels::testutil::{
    assert_close, dequantize, f32_out, i8_out, quantize, run, Rng, Tensor,
};

/// Naive f32 Gemm: Y = act(alpha * op(A) op(B) + beta * C).
#[allow(clippy::too_many_arguments)]
fn naive_gemm(
    a: &[f32],
    b: &[f32],
    c: Option<(&[f32], &[usize])>,
    (m, n, k): (usize, usize, usize),
    (ta, tb): (bool, bool),
    alpha: f32,
    beta: f32,
    act: Option<Activation>,
) -> Vec<f32> {
    let mut y = vec![0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut s = 0f32;
            for p in 0..k {
                let av = if ta { a[p * m + i] } else { a[i * k + p] };
                let bv = if tb { b[j * k + p] } else { b[p * n + j] };
                s += av * bv;
            }
            let mut v = alpha * s;
            if let Some((c, shape)) = c {
                let ci = match shape {
                    [] => 0,
                    [cn] => {
                        if *cn == 1 {
                            0
                        } else {
                            j
                        }
                    }
                    [cm, cn] => {
                        let r = if *cm == 1 { 0 } else { i };
                        let q = if *cn == 1 { 0 } else { j };
                        r * cn + q
                    }
                    _ => unreachable!(),
                };
                v += beta * c[ci];
            }
            y[i * n + j] = act.map_or(v, |a| a.apply(v));
        }
    }
    y
}

fn gemm_op(alpha: f32, beta: f32, ta: bool, tb: bool, act: Option<Activation>) -> Op {
    Op::Gemm {
        alpha,
        beta,
        trans_a: ta,
        trans_b: tb,
        activation: act,
    }
}

#[test]
fn gemm_f32_matches_naive() {
    let mut rng = Rng::new(10);
    let cases: &[(usize, usize, usize)] = &[(1, 1, 1), (3, 7, 5), (8, 300, 17), (17, 5, 290)];
    let c_shapes: &[fn(usize, usize) -> Vec<usize>] = &[
        |_, _| vec![],
        |_, n| vec![n],
        |m, _| vec![m, 1],
        |m, n| vec![m, n],
        |_, _| vec![1],
    ];
    for &(m, n, k) in cases {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            for (ci, shape_of) in c_shapes.iter().enumerate() {
                let (alpha, beta) = (0.5 + ci as f32 * 0.25, 1.5 - ci as f32 * 0.5);
                let act = [None, Some(Activation::Relu), Some(Activation::Tanh)][ci % 3];
                let a = rng.f32s(m * k, -1.0, 1.0);
                let b = rng.f32s(k * n, -1.0, 1.0);
                let c_shape = shape_of(m, n);
                let c = rng.f32s(c_shape.iter().product(), -1.0, 1.0);
                let a_shape = if ta { [k, m] } else { [m, k] };
                let b_shape = if tb { [n, k] } else { [k, n] };
                let op = gemm_op(alpha, beta, ta, tb, act);
                let got = run(
                    &op,
                    &[
                        &Tensor::f32(&a_shape, &a),
                        &Tensor::f32(&b_shape, &b),
                        &Tensor::f32(&c_shape, &c),
                    ],
                    f32_out(&[m, n]),
                )
                .unwrap();
                let want = naive_gemm(
                    &a,
                    &b,
                    Some((&c, &c_shape)),
                    (m, n, k),
                    (ta, tb),
                    alpha,
                    beta,
                    act,
                );
                assert_close(
                    &got.as_f32(),
                    &want,
                    1e-5,
                    &format!("gemm {m}x{n}x{k} {ta} {tb} c{ci}"),
                );
            }
        }
    }
}

#[test]
fn gemm_f32_without_c() {
    let mut rng = Rng::new(11);
    let (m, n, k) = (5, 6, 7);
    let a = rng.f32s(m * k, -1.0, 1.0);
    let b = rng.f32s(k * n, -1.0, 1.0);
    let op = gemm_op(2.0, 1.0, false, false, None);
    let got = run(
        &op,
        &[&Tensor::f32(&[m, k], &a), &Tensor::f32(&[k, n], &b)],
        f32_out(&[m, n]),
    )
    .unwrap();
    let want = naive_gemm(&a, &b, None, (m, n, k), (false, false), 2.0, 1.0, None);
    assert_close(&got.as_f32(), &want, 1e-5, "gemm without C");
}

#[test]
fn gemm_rejects_bad_shapes_and_types() {
    let op = gemm_op(1.0, 1.0, false, false, None);
    let a = Tensor::f32(&[2, 3], &[0.0; 6]);
    let b = Tensor::f32(&[4, 2], &[0.0; 8]);
    assert!(run(&op, &[&a, &b], f32_out(&[2, 2])).is_err());
    let b = Tensor::f32(&[3, 2], &[0.0; 6]);
    assert!(run(&op, &[&a, &b], f32_out(&[2, 3])).is_err());
    let c = Tensor::f32(&[3], &[0.0; 3]);
    assert!(run(&op, &[&a, &b, &c], f32_out(&[2, 2])).is_err());
    let ai = Tensor::i32(&[2, 3], &[0; 6]);
    assert!(run(&op, &[&ai, &b], f32_out(&[2, 2])).is_err());
}

/// Naive int8 Gemm (no activation other than the clamp ones).
#[allow(clippy::too_many_arguments)]
fn naive_gemm_i8(
    a: &[i8],
    (sa, za): (f32, i32),
    b: &[i8],
    sb: &[f32],
    c: Option<&[i32]>,
    (m, n, k): (usize, usize, usize),
    tb: bool,
    (sy, zy): (f32, i32),
) -> Vec<i8> {
    let mut y = vec![0i8; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut acc = c.map_or(0, |c| c[j]);
            for p in 0..k {
                let bv = if tb { b[j * k + p] } else { b[p * n + j] };
                acc += (a[i * k + p] as i32 - za) * bv as i32;
            }
            let sbj = if sb.len() == 1 { sb[0] } else { sb[j] };
            y[i * n + j] = quant::requantize_i8(acc, 1.0 * sa * sbj / sy, zy);
        }
    }
    y
}

#[test]
fn gemm_i8_matches_naive_and_f32() {
    let mut rng = Rng::new(12);
    for &(m, n, k, tb, per_channel) in &[
        (1, 1, 1, false, false),
        (3, 7, 5, true, true),
        (9, 260, 33, false, true),
        (6, 10, 300, true, false),
    ] {
        let (sa, za) = (0.02f32, rng.range(-10, 10) as i32);
        let sb: Vec<f32> = if per_channel {
            (0..n).map(|_| rng.f32(0.002, 0.01)).collect()
        } else {
            vec![0.005]
        };
        let a = rng.i8s(m * k);
        let b = rng.i8s(k * n);
        let c = rng.i32s(n, -5000, 5000);
        let (sy, zy) = (0.02f32 * (k as f32).sqrt(), 3);
        let b_axis = if tb { 0 } else { 1 };
        let bq = if per_channel {
            Quant::per_channel(sb.clone(), vec![0; n], b_axis)
        } else {
            Quant::per_tensor(sb[0], 0)
        };
        let b_shape = if tb { [n, k] } else { [k, n] };
        let op = gemm_op(1.0, 1.0, false, tb, None);
        let got = run(
            &op,
            &[
                &Tensor::i8(&[m, k], &a, Quant::per_tensor(sa, za)),
                &Tensor::i8(&b_shape, &b, bq),
                &Tensor::i32(&[n], &c),
            ],
            i8_out(&[m, n], sy, zy),
        )
        .unwrap()
        .as_i8();
        let want = naive_gemm_i8(&a, (sa, za), &b, &sb, Some(&c), (m, n, k), tb, (sy, zy));
        assert_eq!(got, want, "int8 gemm {m}x{n}x{k}");
        // Against f32 on the dequantized operands.
        let af = dequantize(&a, sa, za);
        let bf: Vec<f32> = (0..k * n)
            .map(|i| {
                let j = if tb { i / k } else { i % n };
                b[i] as f32 * if per_channel { sb[j] } else { sb[0] }
            })
            .collect();
        let cf: Vec<f32> = (0..n)
            .map(|j| c[j] as f32 * sa * if per_channel { sb[j] } else { sb[0] })
            .collect();
        let yf = naive_gemm(
            &af,
            &bf,
            Some((&cf, &[n])),
            (m, n, k),
            (false, tb),
            1.0,
            1.0,
            None,
        );
        let expect = quantize(&yf, sy, zy);
        for (g, e) in got.iter().zip(&expect) {
            assert!(
                (*g as i32 - *e as i32).abs() <= 1,
                "int8 vs f32: {g} vs {e}"
            );
        }
    }
}

#[test]
fn gemm_i8_fused_activation_and_unsupported_beta() {
    let mut rng = Rng::new(13);
    let (m, n, k) = (4, 5, 6);
    let a = rng.i8s(m * k);
    let b = rng.i8s(k * n);
    let at = Tensor::i8(&[m, k], &a, Quant::per_tensor(0.05, 0));
    let bt = Tensor::i8(&[k, n], &b, Quant::per_tensor(0.01, 0));
    let out = i8_out(&[m, n], 0.1, -20);
    let plain = run(
        &gemm_op(1.0, 1.0, false, false, None),
        &[&at, &bt],
        out.clone(),
    )
    .unwrap()
    .as_i8();
    let relu = run(
        &gemm_op(1.0, 1.0, false, false, Some(Activation::Relu)),
        &[&at, &bt],
        out.clone(),
    )
    .unwrap()
    .as_i8();
    for (p, r) in plain.iter().zip(&relu) {
        assert_eq!(*r, (*p).max(-20));
    }
    let sig = run(
        &gemm_op(1.0, 1.0, false, false, Some(Activation::Sigmoid)),
        &[&at, &bt],
        i8_out(&[m, n], 1.0 / 256.0, -128),
    )
    .unwrap()
    .as_i8();
    for i in 0..m {
        for j in 0..n {
            let acc: i32 = (0..k)
                .map(|p| a[i * k + p] as i32 * b[p * n + j] as i32)
                .sum();
            let v = Activation::Sigmoid.apply(acc as f32 * 0.05 * 0.01);
            let want = quant::quantize_i8(v, 256.0, -128);
            assert_eq!(sig[i * n + j], want);
        }
    }
    let ct = Tensor::i32(&[n], &[0; 5]);
    assert!(run(
        &gemm_op(1.0, 0.5, false, false, None),
        &[&at, &bt, &ct],
        out
    )
    .is_err());
}

/// Naive batched matmul over explicit numpy broadcasting.
fn naive_matmul(
    a: &[f32],
    a_shape: &[usize],
    b: &[f32],
    b_shape: &[usize],
) -> (Vec<f32>, Vec<usize>) {
    let a2: Vec<usize> = if a_shape.len() == 1 {
        vec![1, a_shape[0]]
    } else {
        a_shape.to_vec()
    };
    let b2: Vec<usize> = if b_shape.len() == 1 {
        vec![b_shape[0], 1]
    } else {
        b_shape.to_vec()
    };
    let (m, k) = (a2[a2.len() - 2], a2[a2.len() - 1]);
    let n = b2[b2.len() - 1];
    let ab = &a2[..a2.len() - 2];
    let bb = &b2[..b2.len() - 2];
    let rank = ab.len().max(bb.len());
    let pad = |s: &[usize]| -> Vec<usize> {
        let mut v = vec![1; rank - s.len()];
        v.extend_from_slice(s);
        v
    };
    let (ab, bb) = (pad(ab), pad(bb));
    let batch: Vec<usize> = ab.iter().zip(&bb).map(|(&x, &y)| x.max(y)).collect();
    let total: usize = batch.iter().product();
    let mut y = Vec::with_capacity(total * m * n);
    for t in 0..total {
        // Unravel t over batch, then ravel into each operand.
        let mut rem = t;
        let mut idx = vec![0; rank];
        for d in (0..rank).rev() {
            idx[d] = rem % batch[d];
            rem /= batch[d];
        }
        let ravel = |s: &[usize]| {
            idx.iter()
                .zip(s)
                .fold(0, |acc, (&i, &d)| acc * d + if d == 1 { 0 } else { i })
        };
        let (ao, bo) = (ravel(&ab) * m * k, ravel(&bb) * k * n);
        for i in 0..m {
            for j in 0..n {
                let mut s = 0f32;
                for p in 0..k {
                    s += a[ao + i * k + p] * b[bo + p * n + j];
                }
                y.push(s);
            }
        }
    }
    let mut shape = batch;
    if a_shape.len() > 1 {
        shape.push(m);
    }
    if b_shape.len() > 1 {
        shape.push(n);
    }
    (y, shape)
}

const MATMUL_SHAPES: &[(&[usize], &[usize])] = &[
    (&[3, 4], &[4, 5]),
    (&[4], &[4, 5]),
    (&[3, 4], &[4]),
    (&[7], &[7]),
    (&[2, 3, 4], &[4, 5]),
    (&[2, 1, 3, 4], &[3, 4, 6]),
    (&[1, 5, 9], &[2, 1, 9, 3]),
    (&[2, 3, 300], &[2, 300, 7]),
];

#[test]
fn matmul_f32_matches_naive() {
    let mut rng = Rng::new(14);
    for &(sa, sb) in MATMUL_SHAPES {
        let a = rng.f32s(sa.iter().product(), -1.0, 1.0);
        let b = rng.f32s(sb.iter().product(), -1.0, 1.0);
        let (want, shape) = naive_matmul(&a, sa, &b, sb);
        let got = run(
            &Op::MatMul,
            &[&Tensor::f32(sa, &a), &Tensor::f32(sb, &b)],
            f32_out(&shape),
        )
        .unwrap();
        assert_close(
            &got.as_f32(),
            &want,
            1e-5,
            &format!("matmul {sa:?} x {sb:?}"),
        );
    }
    let bad = run(
        &Op::MatMul,
        &[
            &Tensor::f32(&[2, 3], &[0.0; 6]),
            &Tensor::f32(&[2, 3], &[0.0; 6]),
        ],
        f32_out(&[2, 3]),
    );
    assert!(bad.is_err());
}

#[test]
fn matmul_i8_matches_naive_and_f32() {
    let mut rng = Rng::new(15);
    for &(sa_shape, sb_shape) in MATMUL_SHAPES {
        let a = rng.i8s(sa_shape.iter().product());
        let b = rng.i8s(sb_shape.iter().product());
        let (qa, qb) = ((0.03f32, 5), (0.02f32, -3));
        let af = dequantize(&a, qa.0, qa.1);
        let bf = dequantize(&b, qb.0, qb.1);
        let (yf, shape) = naive_matmul(&af, sa_shape, &bf, sb_shape);
        let k = sa_shape[sa_shape.len() - 1] as f32;
        let (sy, zy) = (0.03 * 0.02 * 60.0 * k.sqrt(), -2);
        let got = run(
            &Op::MatMul,
            &[
                &Tensor::i8(sa_shape, &a, Quant::per_tensor(qa.0, qa.1)),
                &Tensor::i8(sb_shape, &b, Quant::per_tensor(qb.0, qb.1)),
            ],
            i8_out(&shape, sy, zy),
        )
        .unwrap()
        .as_i8();
        // Exact reference: integer accumulation of the same products.
        let ai: Vec<f32> = a.iter().map(|&v| (v as i32 - qa.1) as f32).collect();
        let bi: Vec<f32> = b.iter().map(|&v| (v as i32 - qb.1) as f32).collect();
        let (acc, _) = naive_matmul(&ai, sa_shape, &bi, sb_shape);
        let want: Vec<i8> = acc
            .iter()
            .map(|&s| quant::requantize_i8(s as i32, qa.0 * qb.0 / sy, zy))
            .collect();
        assert_eq!(got, want, "int8 matmul {sa_shape:?} x {sb_shape:?}");
        let expect = quantize(&yf, sy, zy);
        for (g, e) in got.iter().zip(&expect) {
            assert!((*g as i32 - *e as i32).abs() <= 1);
        }
    }
}
