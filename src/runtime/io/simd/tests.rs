//! The shared suite: every implementation available on this CPU must
//! produce exactly the bytes of the scalar reference, for every channel
//! count, sink, odd widths and unaligned slices.

use super::*;

/// Small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn byte(&mut self) -> u8 {
        (self.next() >> 56) as u8
    }
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
}

fn levels() -> Vec<Level> {
    let mut v = vec![Level::Scalar];
    let best = detect();
    if best != Level::Scalar {
        v.push(best);
    }
    #[cfg(target_arch = "x86_64")]
    if best == (Level::Avx2 { f16c: true }) {
        v.push(Level::Avx2 { f16c: false });
    }
    v
}

const WIDTHS: [usize; 12] = [0, 1, 5, 15, 16, 17, 31, 32, 33, 47, 65, 131];

fn coeff_sets(rng: &mut Rng) -> Vec<QuantCoeffs> {
    let mut v = vec![
        // Exact ties: x * 0.5 hits .5 for every odd byte.
        QuantCoeffs {
            a: [0.5; 4],
            b: [0.0, -0.5, 0.25, -64.0],
            zp: [0.0, 3.0, -128.0, 127.0],
            pad: 0x80,
        },
        // Typical image normalization, scale 1/255 and zp -128.
        QuantCoeffs {
            a: [
                1.0 / (58.395 * 0.0186),
                1.0 / (57.12 * 0.0186),
                1.0 / (57.375 * 0.0186),
                1.0,
            ],
            b: [
                -123.675 / (58.395 * 0.0186),
                -116.28 / (57.12 * 0.0186),
                -103.53 / (57.375 * 0.0186),
                -128.0,
            ],
            zp: [-14.0, -14.0, -14.0, 0.0],
            pad: 0xf2,
        },
        // Saturation both ways.
        QuantCoeffs {
            a: [3.0, -3.0, 1e6, -1e-3],
            b: [-200.0, 200.0, -1e8, 0.4],
            zp: [10.0, -10.0, 0.0, 0.0],
            pad: 7,
        },
    ];
    for _ in 0..4 {
        let mut q = v[0];
        for i in 0..4 {
            q.a[i] = (rng.unit() - 0.5) * 4.0;
            q.b[i] = (rng.unit() - 0.5) * 300.0;
            q.zp[i] = ((rng.byte() as i32) - 128) as f32;
        }
        q.pad = rng.byte();
        v.push(q);
    }
    v
}

#[test]
fn int8_rows_match_the_scalar_reference() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let sets = coeff_sets(&mut rng);
    let mut checked = 0;
    for level in levels() {
        for c in 1..=4 {
            let sinks: Vec<Option<usize>> = vec![None, Some(c), Some(8), Some(16)];
            for &w in &WIDTHS {
                for (si, q) in sets.iter().enumerate() {
                    let src_off = si % 3;
                    let dst_off = (si * 5) % 7;
                    let src: Vec<u8> = (0..w * c + src_off).map(|_| rng.byte()).collect();
                    let src = &src[src_off..];
                    for &sink_c2 in &sinks {
                        let plane = w + 3;
                        let len = match sink_c2 {
                            None => (c - 1) * plane + w,
                            Some(c2) => w * c2,
                        };
                        let mut want = vec![0xabu8; len + dst_off + 9];
                        let mut got = want.clone();
                        fn sink(
                            d: &mut [u8],
                            off: usize,
                            len: usize,
                            plane: usize,
                            c2: Option<usize>,
                        ) -> Sink<'_> {
                            match c2 {
                                None => Sink::Planar {
                                    dst: &mut d[off..],
                                    plane,
                                },
                                Some(c2) => Sink::Blocked {
                                    dst: &mut d[off..off + len],
                                    c2,
                                },
                            }
                        }
                        scalar_u8_i8(
                            c,
                            src,
                            0,
                            w,
                            q,
                            &mut sink(&mut want, dst_off, len, plane, sink_c2),
                        );
                        u8_i8_row(
                            level,
                            c,
                            src,
                            w,
                            q,
                            sink(&mut got, dst_off, len, plane, sink_c2),
                        );
                        assert_eq!(got, want, "{level:?} c={c} w={w} sink={sink_c2:?} set={si}");
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked > 0);
}

#[test]
fn float_rows_match_the_scalar_reference() {
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    let norms = [
        NormCoeffs {
            mean: [0.0; 4],
            std: [1.0; 4],
        },
        NormCoeffs {
            mean: [123.675, 116.28, 103.53, 0.5],
            std: [58.395, 57.12, 57.375, 255.0],
        },
        // Tiny std: f16 overflow to infinity and subnormal results.
        NormCoeffs {
            mean: [100.0, 0.0, 255.0, 1.0],
            std: [1e-3, 1e5, -7.0, 3e6],
        },
    ];
    for level in levels() {
        for c in 1..=4 {
            for &w in &WIDTHS {
                for (ni, n) in norms.iter().enumerate() {
                    let off = ni % 3;
                    let src: Vec<u8> = (0..w * c + off).map(|_| rng.byte()).collect();
                    let src = &src[off..];
                    let plane = w + 1;
                    for elem in [4usize, 2] {
                        let len = ((c - 1) * plane + w) * elem;
                        let mut want = vec![0x5au8; len + off + 3];
                        let mut got = want.clone();
                        if elem == 4 {
                            scalar_u8_f32(c, src, 0, w, n, &mut want[off..], plane);
                            u8_f32_row(level, c, src, w, n, &mut got[off..], plane);
                        } else {
                            scalar_u8_f16(c, src, 0, w, n, &mut want[off..], plane);
                            u8_f16_row(level, c, src, w, n, &mut got[off..], plane);
                        }
                        assert_eq!(got, want, "{level:?} c={c} w={w} elem={elem} set={ni}");
                    }
                }
            }
        }
    }
}

#[test]
fn fused_formula_rounds_with_the_switch() {
    // 0.5 * x + 0 for x = 3 is exactly 1.5.
    let r = fused_i8(3, 0.5, 0.0, 0.0) as i8;
    assert_eq!(r as f32, quant::round(1.5));
    assert_eq!(fused_i8(255, 1.0, 0.0, 0.0) as i8, 127);
    assert_eq!(fused_i8(0, 1.0, -300.0, 0.0) as i8, -128);
    assert_eq!(fused_i8(10, 1.0, 0.0, -128.0) as i8, -118);
}

#[cfg(target_arch = "x86_64")]
#[test]
fn avx2_rounding_equals_the_scalar_switch() {
    if detect() == Level::Scalar {
        return;
    }
    let mut vals: Vec<f32> = vec![
        0.0,
        -0.0,
        0.5,
        -0.5,
        0.499_999_97,
        -0.499_999_97,
        1.5,
        2.5,
        -2.5,
        8_388_607.5,
        8_388_608.0,
        4_194_304.5,
        -4_194_304.5,
        1e30,
        -1e30,
        16_777_215.0,
    ];
    for k in -300i32..300 {
        let h = k as f32 + 0.5;
        let mut up = h;
        let mut down = h;
        for _ in 0..4 {
            vals.extend([up, down]);
            up = f32::from_bits(up.to_bits() + 1);
            down = f32::from_bits(down.to_bits() - 1);
        }
    }
    let mut rng = Rng(99);
    for _ in 0..20_000 {
        let v = f32::from_bits(rng.next() as u32);
        if v.is_finite() {
            vals.push(v);
        }
    }
    for chunk in vals.chunks(8) {
        let mut lanes = [0f32; 8];
        lanes[..chunk.len()].copy_from_slice(chunk);
        let got = x86::round_lanes(lanes);
        for (g, v) in got.iter().zip(lanes) {
            assert_eq!(g.to_bits(), quant::round(v).to_bits(), "round({v:e})");
        }
    }
}

/// The definition's table of one channel (mean, std, scale, zero point).
fn table(mean: f32, std: f32, scale: f32, zp: i32) -> [u8; 256] {
    let ch = crate::runtime::io::engine::Chan {
        sub: mean,
        div: std,
        mul: 1.0,
        qinv: 1.0 / scale,
        qzp: zp,
    };
    crate::runtime::io::engine::u8_tables(crate::graph::DType::I8, &[ch])[0]
}

fn fixed_for(mean: f32, std: f32, scale: f32, zp: i32) -> Option<FixedChan> {
    let t = table(mean, std, scale, zp);
    let f = FixedChan::search(&t, 1.0 / (std as f64 * scale as f64))?;
    for x in 0..=255u8 {
        assert_eq!(f.eval(x), t[x as usize], "x={x} {f:?}");
    }
    Some(f)
}

/// Parameter sets seen in practice must take the fixed-point path.
#[test]
fn typical_parameters_have_an_exact_fixed_point_form() {
    let typical = [
        (123.675, 58.395, 0.018_658, -14),
        (116.28, 57.12, 0.018_658, -14),
        (103.53, 57.375, 0.018_658, -14),
        (0.0, 255.0, 1.0 / 255.0, -128),
        (0.0, 255.0, 1.0 / 256.0, -128),
        (0.0, 1.0, 1.0 / 255.0, -128),
        (0.0, 1.0, 1.0, -128),
        (0.0, 1.0, 1.0, 0),
        (127.5, 127.5, 1.0 / 128.0, 0),
        (128.0, 1.0, 1.0, 0),
        (0.0, 58.0, 0.02, 5),
        // Constant results (everything saturates).
        (-1e6, 1.0, 1.0, 0),
    ];
    for (m, s, sc, zp) in typical {
        assert!(
            fixed_for(m, s, sc, zp).is_some(),
            "no fixed form for mean {m} std {s} scale {sc} zp {zp}"
        );
    }
}

/// Decreasing tables (negative std) have no form; random parameters have
/// one most of the time, and every form found reproduces its table (checked
/// in `fixed_for`).
#[test]
fn fixed_point_search_is_exact_or_declines() {
    assert!(fixed_for(10.0, -3.0, 0.05, 0).is_none());
    let mut rng = Rng(0x5eed);
    let mut found = 0;
    for _ in 0..200 {
        let mean = rng.unit() * 255.0;
        let std = 20.0 + rng.unit() * 280.0;
        let scale = 0.003 + rng.unit() * 0.05;
        let zp = rng.byte() as i32 - 128;
        found += fixed_for(mean, std, scale, zp).is_some() as usize;
    }
    assert!(found > 120, "only {found} of 200 random sets have a form");
}

#[test]
fn fixed_point_rows_match_the_scalar_reference_and_the_tables() {
    let mut rng = Rng(0x0f1e_2d3c_4b5a_6978);
    let params = [
        [
            (123.675, 58.395, 0.018_658, -14),
            (116.28, 57.12, 0.018_658, -14),
            (103.53, 57.375, 0.018_658, -14),
            (50.0, 10.0, 0.018_658, -14),
        ],
        [
            (0.0, 255.0, 1.0 / 255.0, -128),
            (0.0, 1.0, 1.0, 3),
            (127.5, 127.5, 1.0 / 128.0, 0),
            (0.0, 1.0, 1.0 / 255.0, -128),
        ],
    ];
    let widths = [0, 1, 16, 31, 32, 33, 63, 64, 65, 95, 131];
    let mut checked = 0;
    for (pi, set) in params.iter().enumerate() {
        let tables: Vec<[u8; 256]> = set
            .iter()
            .map(|&(m, s, sc, z)| table(m, s, sc, z))
            .collect();
        let mut f = FixedCoeffs {
            ch: [UNUSED; 4],
            pad: 0xf2 - pi as u8,
        };
        for (i, &(m, s, sc, z)) in set.iter().enumerate() {
            f.ch[i] =
                fixed_for(m, s, sc, z).unwrap_or_else(|| panic!("no form for {m} {s} {sc} {z}"));
        }
        for level in levels() {
            for c in 1..=4 {
                for &w in &widths {
                    let off = (w + c) % 5;
                    let src: Vec<u8> = (0..w * c + off).map(|_| rng.byte()).collect();
                    let src = &src[off..];
                    for sink_c2 in [None, Some(8), Some(16)] {
                        let plane = w + 5;
                        let len = match sink_c2 {
                            None => (c - 1) * plane + w,
                            Some(c2) => w * c2,
                        };
                        let mut want = vec![0x3cu8; len + off + 7];
                        let mut got = want.clone();
                        fn sink(
                            d: &mut [u8],
                            off: usize,
                            len: usize,
                            plane: usize,
                            c2: Option<usize>,
                        ) -> Sink<'_> {
                            match c2 {
                                None => Sink::Planar {
                                    dst: &mut d[off..],
                                    plane,
                                },
                                Some(c2) => Sink::Blocked {
                                    dst: &mut d[off..off + len],
                                    c2,
                                },
                            }
                        }
                        // The reference from the tables themselves.
                        for x in 0..w {
                            for ch in 0..sink_c2.unwrap_or(c) {
                                let (i, v) = match sink_c2 {
                                    None => (ch * plane + x, tables[ch][src[x * c + ch] as usize]),
                                    Some(c2) if ch < c => {
                                        (x * c2 + ch, tables[ch][src[x * c + ch] as usize])
                                    }
                                    Some(c2) => (x * c2 + ch, f.pad),
                                };
                                want[off + i] = v;
                            }
                        }
                        let mut scalar = want.clone();
                        scalar_u8_i8_fixed(
                            c,
                            src,
                            0,
                            w,
                            &f,
                            &mut sink(&mut scalar, off, len, plane, sink_c2),
                        );
                        assert_eq!(scalar, want, "scalar c={c} w={w} sink={sink_c2:?} set={pi}");
                        u8_i8_fixed_row(
                            level,
                            c,
                            src,
                            w,
                            &f,
                            sink(&mut got, off, len, plane, sink_c2),
                        );
                        assert_eq!(got, want, "{level:?} c={c} w={w} sink={sink_c2:?} set={pi}");
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked > 0);
}
