//! The matmul API through its C functions: every type × layout × platform
//! on odd and boundary shapes against a naive reference (exact for
//! integer C, within fp16/bf16 rounding for float C), io_attr shapes per
//! platform, and `rknn_B_normal_layout_to_native_layout` against the
//! vendor guide's packing.

mod matmul_util;

use matmul_util::*;
use rknnrt::abi::*;
use rknnrt::capi::matmul::*;
use rknnrt::matmul::rules;
use rknnrt::platform::Platform;

/// Runs one case; returns `Err(code)` when create fails.
#[allow(clippy::too_many_arguments)]
fn run_case(
    platform: &str,
    ty: u32,
    (m, k, n): (usize, usize, usize),
    b_layout: i16,
    ac_layout: i16,
    q: &Q,
    seed: u64,
) -> Result<(), i32> {
    let (ea, eb, ec) = elems(ty);
    let mut info = rknn_matmul_info {
        M: m as i32,
        K: k as i32,
        N: n as i32,
        r#type: ty,
        B_layout: b_layout,
        AC_layout: ac_layout,
        ..Default::default()
    };
    let mut s = Session::create(&mut info)?;
    let what =
        format!("{platform} type {ty} ({m},{k},{n}) B_layout {b_layout} AC_layout {ac_layout}");
    let mut rng = Rng::new(seed);
    let a = random(&mut rng, ea, m * k);
    let b = random(&mut rng, eb, k * n);
    if ea != E::F16 {
        assert_eq!(s.quant("A", &[q.sa], &[q.za]), RKNN_SUCC, "{what}");
    }
    if eb != E::F16 {
        assert_eq!(s.quant("B", &q.sb, &q.zb), RKNN_SUCC, "{what}");
    }
    assert_eq!(s.quant("C", &[q.sc], &[q.zc]), RKNN_SUCC, "{what}");
    let a_raw = if ac_layout == 1 {
        norm_to_perf(&a.raw, m, k, s.io.A.dims[2] as usize)
    } else {
        a.raw.clone()
    };
    let b_raw = match b_layout {
        1 => b_native(
            &b.raw,
            k,
            n,
            s.io.B.dims[2] as usize,
            s.io.B.dims[3] as usize,
            segment(platform),
        ),
        2 => transpose(&b.raw, k, n),
        _ => b.raw.clone(),
    };
    let a_bytes = to_bytes(ea, &a_raw);
    let b_bytes = to_bytes(eb, &b_raw);
    assert_eq!(a_bytes.len(), s.io.A.size as usize, "{what}: A size");
    assert_eq!(b_bytes.len(), s.io.B.size as usize, "{what}: B size");
    assert_eq!(ec.bytes(m * n), s.io.C.size as usize, "{what}: C size");
    let am = s.mem(s.io.A.size as usize, &a_bytes);
    let bm = s.mem(s.io.B.size as usize, &b_bytes);
    let cm = s.mem(s.io.C.size as usize, &[]);
    assert_eq!(s.set(am, 'A'), RKNN_SUCC, "{what}");
    assert_eq!(s.set(bm, 'B'), RKNN_SUCC, "{what}");
    assert_eq!(s.set(cm, 'C'), RKNN_SUCC, "{what}");
    assert_eq!(s.run(), RKNN_SUCC, "{what}");
    let c_bytes = Session::bytes(cm);
    let c_raw: Vec<u32> = (0..m * n).map(|i| raw_at(ec, &c_bytes, i)).collect();
    let c_raw = if ac_layout == 1 {
        perf_to_norm(&c_raw, m, n, s.io.C.dims[2] as usize)
    } else {
        c_raw
    };
    let got: Vec<f64> = c_raw.iter().map(|&r| value_of(ec, r)).collect();
    let (want, tol) = reference(ty, m, k, n, &a, &b, q);
    check(&got, &want, tol, k, &what);
    Ok(())
}

fn platform_of(name: &str) -> Platform {
    Platform::from_name(name).expect("platform")
}

fn type_ids(platform: &str) -> Vec<u32> {
    rules::supported_types(platform_of(platform))
        .iter()
        .map(|t| t.0)
        .collect()
}

fn layouts(platform: &str) -> Vec<(i16, i16)> {
    let tp = !matches!(platform, "rk3566" | "rk3568");
    let mut v = Vec::new();
    for b in [0i16, 1, 2] {
        if b == 2 && !tp {
            continue;
        }
        for ac in [0i16, 1] {
            v.push((b, ac));
        }
    }
    v
}

fn default_q(ty: u32) -> Q {
    match elems(ty) {
        (E::I8 | E::I4, _, E::I8) => Q::per_layer(0.05, 3, 0.02, -2, 0.7, -5),
        (E::I8 | E::I4, _, _) => Q::per_layer(0.05, 3, 0.02, -2, 1.0, 0),
        _ => Q::per_layer(1.0, 0, 0.03, 1, 1.0, 0),
    }
}

#[test]
fn every_type_layout_and_platform_on_odd_and_aligned_shapes() {
    let mut seed = 1;
    for platform in PLATFORMS {
        let _g = platform_lock(platform);
        for ty in type_ids(platform) {
            let l = rules::limits(platform_of(platform), rknnrt::matmul::MatmulType(ty));
            let shapes = [
                (1, l.k_align, l.n_align),
                (2, l.k_align * 2, l.n_align),
                (3, l.k_align, l.n_align * 2),
                (17, l.k_align * 3, l.n_align * 3),
            ];
            for (b_layout, ac_layout) in layouts(platform) {
                for &shape in &shapes {
                    seed += 1;
                    run_case(
                        platform,
                        ty,
                        shape,
                        b_layout,
                        ac_layout,
                        &default_q(ty),
                        seed,
                    )
                    .unwrap_or_else(|code| {
                        panic!("{platform} type {ty} {shape:?}: create failed {code}")
                    });
                }
            }
        }
    }
}

#[test]
fn k_and_n_maxima_and_b_segments() {
    // K > 8192 on rk3588 and K > 4096 on rk3576 split B into segments in
    // native layout; K = 10240 is the maximum everywhere.
    type Case = (&'static str, u32, (usize, usize, usize), i16, i16);
    let cases: &[Case] = &[
        ("rk3588", 2, (2, 8224, 32), 1, 0),
        ("rk3588", 1, (1, 10240, 16), 1, 1),
        ("rk3588", 10, (3, 8256, 64), 1, 1),
        ("rk3576", 2, (2, 4128, 32), 1, 1),
        ("rk3576", 7, (1, 10240, 16), 1, 0),
        ("rk3576", 4, (1, 4160, 16), 2, 1),
        ("rk3566", 2, (1, 10240, 16), 1, 1),
        ("rk3562", 1, (2, 32, 4096), 1, 1),
        ("rk3588", 11, (1, 32, 8192), 1, 0),
        ("rk3588", 3, (17, 64, 4096), 0, 1),
    ];
    for (i, &(platform, ty, shape, b, ac)) in cases.iter().enumerate() {
        let _g = platform_lock(platform);
        run_case(platform, ty, shape, b, ac, &default_q(ty), 1000 + i as u64)
            .unwrap_or_else(|code| panic!("{platform} type {ty} {shape:?}: create failed {code}"));
    }
}

#[test]
fn per_channel_and_per_group_b() {
    let _g = platform_lock("rk3588");
    let (m, k, n) = (3, 64, 32);
    for ty in [5u32, 7, 8, 12, 3, 9, 15] {
        for (quant_type, groups) in [
            (RKNN_QUANT_TYPE_PER_CHANNEL_ASYM, 1usize),
            (RKNN_QUANT_TYPE_PER_GROUP_SYM, 2),
        ] {
            let (ea, eb, ec) = elems(ty);
            let n = if eb == E::I4 { 64 } else { n };
            let len = if groups == 1 { n } else { n * groups };
            let mut rng = Rng::new(ty as u64 * 7 + groups as u64);
            let sb: Vec<f32> = (0..len).map(|_| rng.float(0.01, 0.05)).collect();
            let zb: Vec<i32> = if quant_type == RKNN_QUANT_TYPE_PER_GROUP_SYM {
                vec![0; len]
            } else {
                (0..len).map(|_| rng.int(-3, 3)).collect()
            };
            let q = Q {
                sa: 0.04,
                za: -1,
                sb,
                zb,
                groups,
                sc: 0.5,
                zc: 2,
            };
            let mut info = rknn_matmul_info {
                M: m as i32,
                K: k as i32,
                N: n as i32,
                r#type: ty,
                B_quant_type: quant_type as i16,
                group_size: (k / groups) as i16,
                ..Default::default()
            };
            let mut s = Session::create(&mut info).expect("create");
            let a = random(&mut rng, ea, m * k);
            let b = random(&mut rng, eb, k * n);
            // Per-group arrays: the K/group_size groups of column 0, then
            // of column 1, ...
            assert_eq!(
                s.quant("B", &q.sb, if groups == 1 { &q.zb } else { &[] }),
                RKNN_SUCC
            );
            assert_eq!(s.quant("A", &[q.sa], &[q.za]), RKNN_SUCC);
            assert_eq!(s.quant("C", &[q.sc], &[q.zc]), RKNN_SUCC);
            let am = s.mem(s.io.A.size as usize, &to_bytes(ea, &a.raw));
            let bm = s.mem(s.io.B.size as usize, &to_bytes(eb, &b.raw));
            let cm = s.mem(s.io.C.size as usize, &[]);
            assert_eq!(s.set(am, 'A'), RKNN_SUCC);
            assert_eq!(s.set(bm, 'B'), RKNN_SUCC);
            assert_eq!(s.set(cm, 'C'), RKNN_SUCC);
            assert_eq!(s.run(), RKNN_SUCC);
            let c = Session::bytes(cm);
            let got: Vec<f64> = (0..m * n)
                .map(|i| value_of(ec, raw_at(ec, &c, i)))
                .collect();
            let want = grouped_reference(ty, (m, k, n), &a, &b, &q);
            let tol = match ec {
                E::F16 => 1.0 / 1024.0,
                E::Bf16 => 1.0 / 128.0,
                E::F32 => 1e-5,
                _ => 0.0,
            };
            let what = format!("type {ty} quant {quant_type}");
            if ec == E::I8 {
                // Requantized from a float sum over groups: one step of
                // rounding difference at most.
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (g - w).abs() <= 1.0,
                        "{what}: element {i}: got {g}, want {w}"
                    );
                }
            } else {
                check(&got, &want, tol, k, &what);
            }
        }
    }
}

/// Reference with per-(group, column) B parameters for any A type.
fn grouped_reference(
    ty: u32,
    (m, k, n): (usize, usize, usize),
    a: &Mat,
    b: &Mat,
    q: &Q,
) -> Vec<f64> {
    let (ea, _, ec) = elems(ty);
    let gs = k / q.groups;
    let mut out = vec![0f64; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut s = 0f64;
            for p in 0..k {
                let idx = if q.sb.len() == n {
                    j
                } else {
                    j * q.groups + p / gs
                };
                let bq = (b.val[p * n + j] - f64::from(q.zb[idx])) * f64::from(q.sb[idx]);
                let av = if ea == E::F16 {
                    a.val[i * k + p]
                } else {
                    (a.val[i * k + p] - f64::from(q.za)) * f64::from(q.sa)
                };
                s += av * bq;
            }
            out[i * n + j] = if ec == E::I8 {
                ((s / f64::from(q.sc)).round() + f64::from(q.zc)).clamp(-128.0, 127.0)
            } else {
                s
            };
        }
    }
    out
}

#[test]
fn integer_c_with_per_channel_b_uses_the_normalized_scale() {
    let _g = platform_lock("rk3588");
    let (m, k, n) = (2, 32, 32);
    let mut info = rknn_matmul_info {
        M: m,
        K: k,
        N: n,
        r#type: RKNN_INT8_MM_INT8_TO_INT32,
        B_quant_type: RKNN_QUANT_TYPE_PER_CHANNEL_SYM as i16,
        ..Default::default()
    };
    let mut s = Session::create(&mut info).expect("create");
    // Columns alternate scale 0.1 and 0.05: the normalized scale is 0.1
    // and odd columns are halved (rounded half away from zero).
    let sb: Vec<f32> = (0..n)
        .map(|j| if j % 2 == 0 { 0.1 } else { 0.05 })
        .collect();
    assert_eq!(s.quant("B", &sb, &[]), RKNN_SUCC);
    let mut p = rknn_quant_params::default();
    p.name[0] = b'B' as core::ffi::c_char;
    let mut scale = 0f32;
    // SAFETY: valid pointers.
    assert_eq!(
        unsafe { rknn_matmul_get_quant_params(s.ctx, &mut p, &mut scale) },
        RKNN_SUCC
    );
    assert_eq!(scale, 0.1);
    let mut rng = Rng::new(5);
    let a = random(&mut rng, E::I8, (m * k) as usize);
    let b = random(&mut rng, E::I8, (k * n) as usize);
    let am = s.mem(s.io.A.size as usize, &to_bytes(E::I8, &a.raw));
    let bm = s.mem(s.io.B.size as usize, &to_bytes(E::I8, &b.raw));
    let cm = s.mem(s.io.C.size as usize, &[]);
    assert_eq!(s.set(am, 'A'), RKNN_SUCC);
    assert_eq!(s.set(bm, 'B'), RKNN_SUCC);
    assert_eq!(s.set(cm, 'C'), RKNN_SUCC);
    assert_eq!(s.run(), RKNN_SUCC);
    let c = Session::bytes(cm);
    let (m, k, n) = (m as usize, k as usize, n as usize);
    for i in 0..m {
        for (j, &sbj) in sb.iter().enumerate() {
            let mut acc = 0i64;
            for p in 0..k {
                let bv = b.val[p * n + j] as f32 * (sbj / 0.1);
                acc += a.val[i * k + p] as i64
                    * rknnrt::kernels::quant::round(bv).clamp(-128.0, 127.0) as i64;
            }
            assert_eq!(
                value_of(E::I32, raw_at(E::I32, &c, i * n + j)),
                acc as f64,
                "({i},{j})"
            );
        }
    }
}

#[test]
fn io_attr_reports_the_reference_shapes() {
    // (platform, type, B_layout, AC_layout, M, K, N, A dims, B dims, C dims)
    type Case = (
        &'static str,
        u32,
        i16,
        i16,
        usize,
        usize,
        usize,
        Vec<u32>,
        Vec<u32>,
        Vec<u32>,
    );
    let cases: Vec<Case> = vec![
        (
            "rk3566",
            2,
            1,
            1,
            5,
            64,
            32,
            vec![8, 5, 8],
            vec![2, 2, 16, 32],
            vec![8, 5, 4],
        ),
        (
            "rk3568",
            1,
            1,
            1,
            5,
            64,
            32,
            vec![16, 5, 4],
            vec![4, 4, 8, 16],
            vec![8, 5, 4],
        ),
        (
            "rk3562",
            2,
            1,
            1,
            5,
            64,
            32,
            vec![4, 5, 16],
            vec![2, 2, 16, 32],
            vec![8, 5, 4],
        ),
        (
            "rk3562",
            1,
            1,
            1,
            5,
            64,
            32,
            vec![8, 5, 8],
            vec![4, 2, 8, 32],
            vec![8, 5, 4],
        ),
        (
            "rk3588",
            2,
            1,
            1,
            5,
            64,
            64,
            vec![4, 5, 16],
            vec![2, 2, 32, 32],
            vec![16, 5, 4],
        ),
        (
            "rk3588",
            1,
            1,
            1,
            5,
            64,
            64,
            vec![8, 5, 8],
            vec![4, 2, 16, 32],
            vec![16, 5, 4],
        ),
        (
            "rk3588",
            10,
            1,
            1,
            5,
            64,
            128,
            vec![2, 5, 32],
            vec![2, 2, 64, 32],
            vec![16, 5, 8],
        ),
        (
            "rk3588",
            7,
            1,
            0,
            5,
            64,
            128,
            vec![5, 64],
            vec![2, 2, 64, 32],
            vec![5, 128],
        ),
        // RK3576: a mixed-type B takes the block of its C type's same-type case.
        (
            "rk3576",
            7,
            1,
            0,
            5,
            64,
            128,
            vec![5, 64],
            vec![8, 2, 16, 32],
            vec![5, 128],
        ),
        (
            "rk3576",
            11,
            1,
            0,
            5,
            64,
            128,
            vec![5, 64],
            vec![4, 2, 32, 32],
            vec![5, 128],
        ),
        (
            "rk3588",
            2,
            2,
            0,
            5,
            64,
            64,
            vec![5, 64],
            vec![64, 64],
            vec![5, 64],
        ),
        (
            "rk3588",
            2,
            0,
            0,
            5,
            64,
            64,
            vec![5, 64],
            vec![64, 64],
            vec![5, 64],
        ),
    ];
    for (platform, ty, b, ac, m, k, n, ad, bd, cd) in cases {
        let _g = platform_lock(platform);
        let mut info = rknn_matmul_info {
            M: m as i32,
            K: k as i32,
            N: n as i32,
            r#type: ty,
            B_layout: b,
            AC_layout: ac,
            ..Default::default()
        };
        let s = Session::create(&mut info).unwrap_or_else(|c| panic!("{platform} {ty}: {c}"));
        let dims = |a: &rknn_matmul_tensor_attr| a.dims[..a.n_dims as usize].to_vec();
        assert_eq!(dims(&s.io.A), ad, "{platform} type {ty} A");
        assert_eq!(dims(&s.io.B), bd, "{platform} type {ty} B");
        assert_eq!(dims(&s.io.C), cd, "{platform} type {ty} C");
        let (ea, eb, ec) = elems(ty);
        assert_eq!(s.io.A.size as usize, ea.bytes(m * k));
        assert_eq!(s.io.B.size as usize, eb.bytes(k * n));
        assert_eq!(s.io.C.size as usize, ec.bytes(m * n));
        let name = |a: &rknn_matmul_tensor_attr| a.name[0] as u8 as char;
        assert_eq!(
            (name(&s.io.A), name(&s.io.B), name(&s.io.C)),
            ('A', 'B', 'C')
        );
        assert_eq!(E::of(s.io.C.r#type), ec);
    }
}

#[test]
fn b_normal_to_native_matches_the_guide_packing_for_every_type_and_platform() {
    for platform in PLATFORMS {
        let _g = platform_lock(platform);
        for ty in type_ids(platform) {
            let l = rules::limits(platform_of(platform), rknnrt::matmul::MatmulType(ty));
            let seg = segment(platform);
            let mut ks = vec![l.k_align * 2];
            if seg < 10240 {
                ks.push(seg + l.k_align);
            }
            for k in ks {
                let n = l.n_align * 2;
                let (_, eb, _) = elems(ty);
                let mut info = rknn_matmul_info {
                    M: 1,
                    K: k as i32,
                    N: n as i32,
                    r#type: ty,
                    B_layout: 1,
                    ..Default::default()
                };
                let s = Session::create(&mut info).expect("create");
                let (sub_n, sub_k) = (s.io.B.dims[2] as usize, s.io.B.dims[3] as usize);
                let mut rng = Rng::new(ty as u64 + k as u64);
                let b = random(&mut rng, eb, k * n);
                let mut input = to_bytes(eb, &b.raw);
                let mut out = vec![0xa5u8; s.io.B.size as usize];
                // SAFETY: buffers of the normal and native B sizes.
                let r = unsafe {
                    rknn_B_normal_layout_to_native_layout(
                        input.as_mut_ptr().cast(),
                        out.as_mut_ptr().cast(),
                        k as i32,
                        n as i32,
                        &mut info,
                    )
                };
                assert_eq!(r, RKNN_SUCC, "{platform} type {ty} K {k}");
                let want = to_bytes(eb, &b_native(&b.raw, k, n, sub_n, sub_k, seg));
                assert_eq!(out, want, "{platform} type {ty} K {k} N {n}");
                drop(s);
                // Round trip: the converted bytes set as a NATIVE B give
                // exactly the product of the normal B.
                let a = random(&mut rng, elems(ty).0, k);
                let c_native = product(&mut info, &a, &out);
                info.B_layout = 0;
                let c_norm = product(&mut info, &a, &input);
                assert_eq!(c_native, c_norm, "{platform} type {ty} K {k}: round trip");
            }
        }
    }
}

/// C bytes of a one-row matmul with A `a` and B given as `b_bytes`.
fn product(info: &mut rknn_matmul_info, a: &Mat, b_bytes: &[u8]) -> Vec<u8> {
    let (ea, _, _) = elems(info.r#type);
    let mut s = Session::create(info).expect("create");
    let am = s.mem(s.io.A.size as usize, &to_bytes(ea, &a.raw));
    let bm = s.mem(s.io.B.size as usize, b_bytes);
    let cm = s.mem(s.io.C.size as usize, &[]);
    assert_eq!(s.set(am, 'A'), RKNN_SUCC);
    assert_eq!(s.set(bm, 'B'), RKNN_SUCC);
    assert_eq!(s.set(cm, 'C'), RKNN_SUCC);
    assert_eq!(s.run(), RKNN_SUCC);
    Session::bytes(cm)
}
