//! Every kernel family this CPU supports, forced one by one, against a
//! naive reference: odd sizes, tails of every tile and block, M = 1,
//! strided operands, extreme int8 values and zero points, two threads.

use half::f16;

use super::*;
use crate::kernels::testutil::Rng;

/// (m, k, n): tile tails, K not a multiple of 4 or of the blocks, row
/// blocks past `MC` = 240, reduction blocks past 256 / 512.
const SHAPES: [(usize, usize, usize); 9] = [
    (1, 1, 1),
    (1, 300, 37),
    (2, 3, 5),
    (3, 7, 33),
    (7, 17, 9),
    (9, 513, 70),
    (17, 4, 64),
    (33, 600, 31),
    (245, 45, 40),
];

fn naive(
    m: usize,
    k: usize,
    n: usize,
    a: impl Fn(usize, usize) -> f64,
    b: impl Fn(usize, usize) -> f64,
) -> Vec<f64> {
    let mut c = vec![0f64; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k).map(|p| a(i, p) * b(p, j)).sum();
        }
    }
    c
}

fn check_close(got: &[f32], ldc: usize, want: &[f64], n: usize, k: usize, what: &str) {
    for (i, w) in want.chunks_exact(n).enumerate() {
        for (j, &w) in w.iter().enumerate() {
            let g = got[i * ldc + j] as f64 - 0.25;
            let tol = 1e-5 * (k as f64).sqrt() * (1.0 + w.abs());
            assert!((g - w).abs() <= tol, "{what}: ({i},{j}) got {g} want {w}");
        }
    }
}

#[test]
fn f32_every_family_matches_naive() {
    let mut rng = Rng::new(11);
    for isa in FloatIsa::supported() {
        for &(m, k, n) in &SHAPES {
            for (ta, tb) in [(false, false), (true, true)] {
                let ad = rng.f32s(m * k, -1.0, 1.0);
                let bd = rng.f32s(k * n, -1.0, 1.0);
                let a = if ta {
                    MatRef::transposed(&ad, m)
                } else {
                    MatRef::row_major(&ad, k)
                };
                let b = if tb {
                    MatRef::transposed(&bd, k)
                } else {
                    MatRef::row_major(&bd, n)
                };
                let packed = PackedB::pack_for(isa, k, n, FloatB::F32(b)).unwrap();
                let want = naive(m, k, n, |i, p| a.at(i, p) as f64, |p, j| b.at(p, j) as f64);
                for threads in [Threads::Fixed(1), Threads::Fixed(2), Threads::Auto] {
                    let ldc = n + 3;
                    let mut c = vec![0.25f32; m * ldc];
                    gemm_f32(m, FloatA::F32(a), &packed, &mut c, ldc, threads).unwrap();
                    check_close(
                        &c,
                        ldc,
                        &want,
                        n,
                        k,
                        &format!("{isa:?} {m}x{k}x{n} {threads:?}"),
                    );
                    for row in c.chunks_exact(ldc) {
                        assert!(row[n..].iter().all(|&x| x == 0.25), "padding untouched");
                    }
                }
            }
        }
    }
}

#[test]
fn f16_and_dequantised_int8_operands_match_naive() {
    let mut rng = Rng::new(12);
    for isa in FloatIsa::supported() {
        for &(m, k, n) in &SHAPES {
            let ah: Vec<f16> = rng
                .f32s(m * k, -2.0, 2.0)
                .into_iter()
                .map(f16::from_f32)
                .collect();
            let bh: Vec<f16> = rng
                .f32s(k * n, -2.0, 2.0)
                .into_iter()
                .map(f16::from_f32)
                .collect();
            let a = MatRef::row_major(&ah, k);
            let b = MatRef::row_major(&bh, n);
            let packed = PackedB::pack_for(isa, k, n, FloatB::F16(b)).unwrap();
            let want = naive(
                m,
                k,
                n,
                |i, p| a.at(i, p).to_f64(),
                |p, j| b.at(p, j).to_f64(),
            );
            let mut c = vec![0.25f32; m * n];
            gemm_f32(m, FloatA::F16(a), &packed, &mut c, n, Threads::Fixed(2)).unwrap();
            check_close(&c, n, &want, n, k, &format!("f16 {isa:?} {m}x{k}x{n}"));

            let bq = rng.i8s(k * n);
            let scale: Vec<f32> = (0..n).map(|_| rng.f32(0.01, 0.1)).collect();
            let zp: Vec<i32> = (0..n).map(|_| rng.range(-128, 127) as i32).collect();
            let bm = MatRef::row_major(&bq, n);
            let packed = PackedB::pack_for(
                isa,
                k,
                n,
                FloatB::I8 {
                    b: bm,
                    scale: &scale,
                    zp: &zp,
                },
            )
            .unwrap();
            let deq = |p: usize, j: usize| ((bm.at(p, j) as i32 - zp[j]) as f32 * scale[j]) as f64;
            let want = naive(m, k, n, |i, p| a.at(i, p).to_f64(), deq);
            let mut c = vec![0.25f32; m * n];
            gemm_f32(m, FloatA::F16(a), &packed, &mut c, n, Threads::Fixed(1)).unwrap();
            check_close(&c, n, &want, n, k, &format!("f16xi8 {isa:?} {m}x{k}x{n}"));
        }
    }
}

fn naive_i8(
    m: usize,
    k: usize,
    n: usize,
    a: &MatRef<i8>,
    za: &[i32],
    b: &MatRef<i8>,
    zb: &[i32],
) -> Vec<i64> {
    let zpa = |i: usize| if za.len() == 1 { za[0] } else { za[i] } as i64;
    let zpb = |j: usize| if zb.len() == 1 { zb[0] } else { zb[j] } as i64;
    let mut c = vec![0i64; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k)
                .map(|p| (a.at(i, p) as i64 - zpa(i)) * (b.at(p, j) as i64 - zpb(j)))
                .sum();
        }
    }
    c
}

/// A and B of random, all −128, or all 127 values.
fn fill(rng: &mut Rng, len: usize, mode: usize) -> Vec<i8> {
    match mode {
        0 => rng.i8s(len),
        1 => vec![-128; len],
        _ => vec![127; len],
    }
}

#[test]
fn int8_every_family_is_exact() {
    let mut rng = Rng::new(13);
    for isa in IntIsa::supported() {
        for &(m, k, n) in &SHAPES {
            for (mode_a, mode_b) in [(0, 0), (1, 1), (1, 2), (2, 1), (2, 2)] {
                let ad = fill(&mut rng, m * k, mode_a);
                let bd = fill(&mut rng, k * n, mode_b);
                let a = MatRef::row_major(&ad, k);
                let b = if mode_a == 0 {
                    MatRef::transposed(&bd, k)
                } else {
                    MatRef::row_major(&bd, n)
                };
                let packed = PackedI8B::pack_for(isa, k, n, b).unwrap();
                let zas = [
                    vec![0],
                    vec![-128],
                    (0..m).map(|_| rng.range(-128, 127) as i32).collect(),
                ];
                let zbs = [
                    vec![0],
                    vec![127],
                    (0..n).map(|_| rng.range(-128, 127) as i32).collect(),
                ];
                for (za, zb) in zas.iter().zip(&zbs) {
                    let want = naive_i8(m, k, n, &a, za, &b, zb);
                    for threads in [Threads::Fixed(1), Threads::Fixed(2)] {
                        let ldc = n + 1;
                        let mut c = vec![5i32; m * ldc];
                        gemm_i8(m, a, za, &packed, zb, &mut c, ldc, threads).unwrap();
                        for i in 0..m {
                            for j in 0..n {
                                assert_eq!(
                                    c[i * ldc + j] as i64 - 5,
                                    want[i * n + j],
                                    "{isa:?} {m}x{k}x{n} modes {mode_a}/{mode_b} ({i},{j})"
                                );
                            }
                            assert_eq!(c[i * ldc + n], 5, "padding untouched");
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn unavailable_families_and_bad_shapes_are_errors() {
    let b = [0i8; 12];
    let m = MatRef::row_major(&b, 4);
    for isa in IntIsa::ALL {
        let r = PackedI8B::pack_for(isa, 3, 4, m);
        assert_eq!(r.is_ok(), isa.available(), "{isa:?}");
    }
    for isa in FloatIsa::ALL {
        let f = [0f32; 12];
        let r = PackedB::pack_for(isa, 3, 4, FloatB::F32(MatRef::row_major(&f, 4)));
        assert_eq!(r.is_ok(), isa.available(), "{isa:?}");
    }
    #[cfg(target_arch = "aarch64")]
    assert!(
        IntIsa::Neon.available() && FloatIsa::Neon.available(),
        "NEON is mandatory on aarch64"
    );
    assert_eq!(PackedI8B::pack(4, 4, m).err(), Some(GemmError::Shape));
    let packed = PackedI8B::pack(3, 4, m).unwrap();
    let a = [0i8; 6];
    let mut c = [0i32; 8];
    let am = MatRef::row_major(&a, 3);
    assert!(gemm_i8(2, am, &[0], &packed, &[0], &mut c, 4, Threads::Auto).is_ok());
    assert_eq!(
        gemm_i8(2, am, &[0, 0, 0], &packed, &[0], &mut c, 4, Threads::Auto),
        Err(GemmError::Shape)
    );
    assert_eq!(
        gemm_i8(2, am, &[0], &packed, &[0, 0], &mut c, 4, Threads::Auto),
        Err(GemmError::Shape)
    );
    assert_eq!(
        gemm_i8(3, am, &[0], &packed, &[0], &mut c, 4, Threads::Auto),
        Err(GemmError::Shape)
    );
    assert_eq!(
        gemm_i8(2, am, &[0], &packed, &[0], &mut c[..7], 4, Threads::Auto),
        Err(GemmError::Shape)
    );
    let s = [1f32; 2];
    let bad = FloatB::I8 {
        b: m,
        scale: &s,
        zp: &[0],
    };
    assert_eq!(PackedB::pack(3, 4, bad).err(), Some(GemmError::Shape));
}

#[test]
fn f16_conversions_match_half() {
    let mut rng = Rng::new(14);
    let src: Vec<f32> = rng
        .f32s(77, -70000.0, 70000.0)
        .into_iter()
        .chain([0.0, -0.0, 1e-8, 65520.0, f32::INFINITY])
        .collect();
    let mut h = vec![f16::ZERO; src.len()];
    super::f16::f32_to_f16(&src, &mut h);
    for (x, y) in src.iter().zip(&h) {
        assert_eq!(y.to_bits(), half::f16::from_f32(*x).to_bits(), "{x}");
    }
    let mut back = vec![0f32; h.len()];
    super::f16::f16_to_f32(&h, &mut back);
    for (x, y) in h.iter().zip(&back) {
        assert_eq!(x.to_f32().to_bits(), y.to_bits());
    }
}

#[test]
fn int4_nibbles_low_first_round_trip() {
    let vals: Vec<i8> = (-8..8).chain([3, -1, 7]).collect();
    let mut packed = vec![0u8; vals.len().div_ceil(2)];
    int4::pack_int4(&vals, &mut packed);
    assert_eq!(packed[0], 0x98, "-8 low nibble, -7 high nibble");
    assert_eq!(
        packed[9], 0x07,
        "odd count: high nibble of the last byte is zero"
    );
    let mut back = vec![0i8; vals.len()];
    int4::unpack_int4(&packed, &mut back);
    assert_eq!(back, vals);
    let mut longer = vec![1i8; 4];
    int4::unpack_int4(&[0xf1], &mut longer);
    assert_eq!(longer, [1, -1, 0, 0]);
}

#[test]
fn thread_split_covers_every_panel_once() {
    for (panels, parts) in [(1, 2), (7, 2), (8, 3), (100, 7)] {
        let r = threads::split(panels, parts);
        assert_eq!(r.first().map(|x| x.start), Some(0));
        assert_eq!(r.last().map(|x| x.end), Some(panels));
        assert!(r.windows(2).all(|w| w[0].end == w[1].start));
    }
    let ranges = threads::split(100, 9);
    let sums = threads::run_dynamic(&ranges, 3, |r| (r.start, r.sum::<usize>()));
    assert_eq!(sums.iter().map(|s| s.1).sum::<usize>(), 4950);
    assert_eq!(
        sums.iter().map(|s| s.0).collect::<Vec<_>>(),
        ranges.iter().map(|r| r.start).collect::<Vec<_>>(),
        "range order"
    );
    assert_eq!(Threads::Auto.count(1000, 10), 1);
    assert_eq!(Threads::Fixed(4).count(1, 3), 3);
    assert_eq!(Threads::Fixed(0).count(1, 3), 1);
}

#[test]
fn thread_budget_caps_auto_and_is_restored() {
    let big = threads::PARALLEL_MIN_MACS;
    let all = threads::cores();
    assert_eq!(Threads::Auto.count(big, 1000), all);
    threads::with_thread_budget(1, || {
        assert_eq!(Threads::Auto.count(big, 1000), 1);
        assert_eq!(Threads::Fixed(2).count(1, 3), 2, "Fixed ignores the budget");
        threads::with_thread_budget(64, || {
            assert_eq!(threads::thread_budget(), all, "never more than the cores");
        });
        assert_eq!(threads::thread_budget(), 1, "inner budget restored");
    });
    assert_eq!(Threads::Auto.count(big, 1000), all);
    let other = std::thread::spawn(threads::thread_budget);
    threads::with_thread_budget(1, || {
        assert_eq!(other.join().ok(), Some(all), "budgets are per thread");
    });
}
