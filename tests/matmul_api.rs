//! Matmul API flows and errors through the C functions: dynamic shapes,
//! memory ownership, set_io_mem semantics, core masks and every refused
//! argument the issue lists.

mod matmul_util;

use std::ptr::null_mut;

use matmul_util::*;
use rknnrt::abi::*;
use rknnrt::capi::matmul::*;
use rknnrt::capi::zero_copy::{rknn_create_mem, rknn_destroy_mem};
use rknnrt::matmul::{rules, MatmulType};
use rknnrt::platform::Platform;

fn info(m: i32, k: i32, n: i32, ty: u32) -> rknn_matmul_info {
    rknn_matmul_info {
        M: m,
        K: k,
        N: n,
        r#type: ty,
        ..Default::default()
    }
}

fn i32s(bytes: &[u8], n: usize) -> Vec<i32> {
    (0..n).map(|i| raw_at(E::I32, bytes, i) as i32).collect()
}

fn naive_i8(a: &Mat, b: &Mat, m: usize, k: usize, n: usize) -> Vec<i32> {
    (0..m * n)
        .map(|x| {
            let (i, j) = (x / n, x % n);
            (0..k)
                .map(|p| (a.val[i * k + p] * b.val[p * n + j]) as i32)
                .sum()
        })
        .collect()
}

#[test]
fn dynamic_shapes_switch_between_runs_with_memory_sized_for_the_largest() {
    let _g = platform_lock("rk3588");
    let (k, n) = (64usize, 32usize);
    let mut shapes = [
        rknn_matmul_shape { M: 1, K: 64, N: 32 },
        rknn_matmul_shape { M: 4, K: 64, N: 32 },
        rknn_matmul_shape {
            M: 17,
            K: 64,
            N: 32,
        },
    ];
    let mut io = [rknn_matmul_io_attr::default(); 3];
    let mut inf = info(0, 0, 0, RKNN_INT8_MM_INT8_TO_INT32);
    inf.B_layout = 1;
    inf.AC_layout = 1;
    let mut ctx: rknn_matmul_ctx = 0;
    // SAFETY: valid pointers, three shapes and three io_attrs.
    let r = unsafe {
        rknn_matmul_create_dynamic_shape(
            &mut ctx,
            &mut inf,
            3,
            shapes.as_mut_ptr(),
            io.as_mut_ptr(),
        )
    };
    assert_eq!(r, RKNN_SUCC);
    for (s, a) in shapes.iter().zip(&io) {
        assert_eq!(a.A.dims[1], s.M as u32, "A native [K/16, M, 16]");
        assert_eq!(a.C.size as i32, s.M * 32 * 4);
    }
    let max = |f: fn(&rknn_matmul_io_attr) -> u32| io.iter().map(f).max().unwrap();
    let mut s = Session {
        ctx,
        io: io[0],
        mems: Vec::new(),
    };
    let am = s.mem(max(|a| a.A.size) as usize, &[]);
    let cm = s.mem(max(|a| a.C.size) as usize, &[]);
    let mut rng = Rng::new(9);
    let b = random(&mut rng, E::I8, k * n);
    let bm = s.mem(
        io[0].B.size as usize,
        &to_bytes(E::I8, &b_native(&b.raw, k, n, 32, 32, 8192)),
    );
    assert_eq!(s.set(bm, 'B'), RKNN_SUCC, "B is bound once");
    for round in 0..2 {
        for (i, shape) in shapes.iter_mut().enumerate().rev() {
            // SAFETY: valid pointers.
            assert_eq!(
                unsafe { rknn_matmul_set_dynamic_shape(ctx, shape) },
                RKNN_SUCC
            );
            let m = shape.M as usize;
            s.io = io[i];
            let a = random(&mut rng, E::I8, m * k);
            let packed = to_bytes(E::I8, &norm_to_perf(&a.raw, m, k, 16));
            // SAFETY: `am` holds the largest A.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    packed.as_ptr(),
                    (*am).virt_addr.cast::<u8>(),
                    packed.len(),
                )
            };
            assert_eq!(s.set(am, 'A'), RKNN_SUCC);
            assert_eq!(s.set(cm, 'C'), RKNN_SUCC);
            assert_eq!(s.run(), RKNN_SUCC, "round {round} shape {i}");
            let c = Session::bytes(cm);
            let c_raw: Vec<u32> = (0..m * n).map(|x| raw_at(E::I32, &c, x)).collect();
            let got: Vec<i32> = perf_to_norm(&c_raw, m, n, 4)
                .into_iter()
                .map(|v| v as i32)
                .collect();
            assert_eq!(got, naive_i8(&a, &b, m, k, n), "round {round} shape {i}");
        }
    }
    // A shape that was not given, and running after a switch before A is
    // set again, are refused.
    let mut other = rknn_matmul_shape { M: 2, K: 64, N: 32 };
    // SAFETY: valid pointers.
    assert_eq!(
        unsafe { rknn_matmul_set_dynamic_shape(ctx, &mut other) },
        RKNN_ERR_PARAM_INVALID
    );
    // SAFETY: valid pointers.
    assert_eq!(
        unsafe { rknn_matmul_set_dynamic_shape(ctx, &mut shapes[2]) },
        RKNN_SUCC
    );
    assert_eq!(
        s.run(),
        RKNN_ERR_FAIL,
        "A must be set again after a shape change"
    );
}

#[test]
fn dynamic_shapes_must_share_k_and_n() {
    let _g = platform_lock("rk3588");
    let mut shapes = [
        rknn_matmul_shape { M: 1, K: 64, N: 32 },
        rknn_matmul_shape {
            M: 1,
            K: 128,
            N: 32,
        },
    ];
    let mut io = [rknn_matmul_io_attr::default(); 2];
    let mut inf = info(0, 0, 0, RKNN_INT8_MM_INT8_TO_INT32);
    let mut ctx: rknn_matmul_ctx = 0;
    // SAFETY: valid pointers.
    unsafe {
        assert_eq!(
            rknn_matmul_create_dynamic_shape(
                &mut ctx,
                &mut inf,
                2,
                shapes.as_mut_ptr(),
                io.as_mut_ptr()
            ),
            RKNN_ERR_PARAM_INVALID
        );
        assert_eq!(
            rknn_matmul_create_dynamic_shape(
                &mut ctx,
                &mut inf,
                0,
                shapes.as_mut_ptr(),
                io.as_mut_ptr()
            ),
            RKNN_ERR_PARAM_INVALID
        );
        assert_eq!(
            rknn_matmul_create_dynamic_shape(&mut ctx, &mut inf, 1, null_mut(), io.as_mut_ptr()),
            RKNN_ERR_PARAM_INVALID
        );
    }
}

#[test]
fn set_io_mem_relays_the_data_when_called() {
    let _g = platform_lock("rk3588");
    let (m, k, n) = (2usize, 32usize, 32usize);
    let mut inf = info(m as i32, k as i32, n as i32, RKNN_INT8_MM_INT8_TO_INT32);
    let mut s = Session::create(&mut inf).expect("create");
    let mut rng = Rng::new(3);
    let a = random(&mut rng, E::I8, m * k);
    let b = random(&mut rng, E::I8, k * n);
    let am = s.mem(s.io.A.size as usize, &to_bytes(E::I8, &a.raw));
    let bm = s.mem(s.io.B.size as usize, &to_bytes(E::I8, &b.raw));
    let cm = s.mem(s.io.C.size as usize, &[]);
    assert_eq!(s.run(), RKNN_ERR_FAIL, "run before any memory is set");
    assert_eq!(s.set(am, 'A'), RKNN_SUCC);
    assert_eq!(s.run(), RKNN_ERR_FAIL, "run before B is set");
    assert_eq!(s.set(bm, 'B'), RKNN_SUCC);
    assert_eq!(s.run(), RKNN_ERR_FAIL, "run before C is set");
    assert_eq!(s.set(cm, 'C'), RKNN_SUCC);
    assert_eq!(s.run(), RKNN_SUCC);
    let first = i32s(&Session::bytes(cm), m * n);
    assert_eq!(first, naive_i8(&a, &b, m, k, n));
    // New contents of A take effect only after another set_io_mem.
    let a2 = random(&mut rng, E::I8, m * k);
    let bytes = to_bytes(E::I8, &a2.raw);
    // SAFETY: `am` holds A.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), (*am).virt_addr.cast::<u8>(), bytes.len())
    };
    assert_eq!(s.run(), RKNN_SUCC);
    assert_eq!(i32s(&Session::bytes(cm), m * n), first);
    assert_eq!(s.set(am, 'A'), RKNN_SUCC);
    assert_eq!(s.run(), RKNN_SUCC);
    assert_eq!(i32s(&Session::bytes(cm), m * n), naive_i8(&a2, &b, m, k, n));
    // Memory still set may be destroyed (the vendor demo frees memory
    // before the context); the context keeps the bytes alive but refuses
    // to write a destroyed C.
    s.mems.retain(|&x| x != cm);
    // SAFETY: a live context and memory.
    assert_eq!(unsafe { rknn_destroy_mem(s.ctx, cm) }, RKNN_SUCC);
    assert_eq!(s.run(), RKNN_ERR_FAIL, "C was destroyed");
    assert_eq!(s.set(bm, 'B'), RKNN_SUCC);
    let cm2 = s.mem(s.io.C.size as usize, &[]);
    assert_eq!(s.set(cm2, 'C'), RKNN_SUCC);
    assert_eq!(s.run(), RKNN_SUCC, "new C memory");
}

#[test]
fn memory_checks() {
    let _g = platform_lock("rk3588");
    let mut inf = info(4, 64, 32, RKNN_FLOAT16_MM_FLOAT16_TO_FLOAT32);
    let mut s = Session::create(&mut inf).expect("create");
    let small = s.mem(s.io.A.size as usize - 2, &[]);
    assert_eq!(s.set(small, 'A'), RKNN_ERR_PARAM_INVALID, "too small for A");
    let mut attr = s.io.A;
    attr.name[0] = b'X' as core::ffi::c_char;
    let a = s.mem(s.io.A.size as usize, &[]);
    // SAFETY: valid pointers; a foreign rknn_tensor_mem is detected.
    unsafe {
        assert_eq!(
            rknn_matmul_set_io_mem(s.ctx, a, &mut attr),
            RKNN_ERR_PARAM_INVALID,
            "unknown name"
        );
        assert_eq!(
            rknn_matmul_set_io_mem(s.ctx, a, null_mut()),
            RKNN_ERR_PARAM_INVALID
        );
        assert_eq!(
            rknn_matmul_set_io_mem(s.ctx, null_mut(), &mut s.io.A),
            RKNN_ERR_PARAM_INVALID
        );
        let mut fake = rknn_tensor_mem::default();
        assert_eq!(
            rknn_matmul_set_io_mem(s.ctx, &mut fake, &mut s.io.A),
            RKNN_ERR_PARAM_INVALID
        );
        assert_eq!(
            rknn_matmul_set_io_mem(0xdead, a, &mut s.io.A),
            RKNN_ERR_CTX_INVALID
        );
    }
}

#[test]
fn create_rejects_bad_info() {
    let _g = platform_lock("rk3588");
    let mut ctx: rknn_matmul_ctx = 0;
    let mut io = rknn_matmul_io_attr::default();
    let code = |mut i: rknn_matmul_info| {
        let mut ctx: rknn_matmul_ctx = 0;
        let mut io = rknn_matmul_io_attr::default();
        // SAFETY: valid pointers.
        unsafe { rknn_matmul_create(&mut ctx, &mut i, &mut io) }
    };
    // SAFETY: NULL info and ctx are detected.
    unsafe {
        assert_eq!(
            rknn_matmul_create(&mut ctx, null_mut(), &mut io),
            RKNN_ERR_PARAM_INVALID
        );
        assert_eq!(
            rknn_matmul_create(null_mut(), &mut info(1, 32, 32, 2), &mut io),
            RKNN_ERR_PARAM_INVALID
        );
        assert_eq!(
            rknn_matmul_create(&mut ctx, &mut info(1, 32, 32, 2), null_mut()),
            RKNN_ERR_PARAM_INVALID
        );
    }
    assert_eq!(
        code(info(1, 48, 32, 2)),
        RKNN_ERR_PARAM_INVALID,
        "K not aligned to 32"
    );
    assert_eq!(
        code(info(1, 10272, 32, 2)),
        RKNN_ERR_PARAM_INVALID,
        "K above 10240"
    );
    assert_eq!(
        code(info(1, 32, 48, 2)),
        RKNN_ERR_PARAM_INVALID,
        "int8 N not aligned to 32"
    );
    assert_eq!(
        code(info(1, 32, 4128, 2)),
        RKNN_ERR_PARAM_INVALID,
        "N above 4096"
    );
    assert_eq!(
        code(info(1, 32, 96, 10)),
        RKNN_ERR_PARAM_INVALID,
        "int4 N not aligned to 64"
    );
    assert_eq!(
        code(info(1, 32, 8256, 10)),
        RKNN_ERR_PARAM_INVALID,
        "int4 N above 8192"
    );
    assert_eq!(code(info(0, 32, 32, 2)), RKNN_ERR_PARAM_INVALID, "M = 0");
    assert_eq!(
        code(info(1, 32, 32, 13)),
        RKNN_ERR_PARAM_INVALID,
        "type 13 does not exist"
    );
    let mut i = info(1, 32, 32, 2);
    i.AC_layout = 2;
    assert_eq!(code(i), RKNN_ERR_PARAM_INVALID, "TP_NORM is for B only");
    let mut i = info(1, 32, 32, 2);
    i.AC_quant_type = RKNN_QUANT_TYPE_PER_CHANNEL_SYM as i16;
    assert_eq!(code(i), RKNN_ERR_PARAM_INVALID, "A/C are per layer");
    let mut i = info(1, 64, 32, 5);
    i.B_quant_type = RKNN_QUANT_TYPE_PER_GROUP_SYM as i16;
    i.group_size = 48;
    assert_eq!(code(i), RKNN_ERR_PARAM_INVALID, "group_size must divide K");
    let mut i = info(1, 64, 32, 1);
    i.B_quant_type = RKNN_QUANT_TYPE_PER_CHANNEL_SYM as i16;
    assert_eq!(code(i), RKNN_ERR_PARAM_INVALID, "fp16 B is not quantized");
    assert_eq!(
        code(info(1, 32, 32, 2)),
        RKNN_SUCC,
        "the aligned shape itself is fine"
    );
}

#[test]
fn unsupported_types_are_rejected_per_platform_with_the_supported_set() {
    for platform in ["rk3566", "rk3568", "rk3562"] {
        let _g = platform_lock(platform);
        let mut i = info(1, 32, 32, RKNN_INT8_MM_INT8_TO_INT8);
        let mut ctx: rknn_matmul_ctx = 0;
        let mut io = rknn_matmul_io_attr::default();
        // SAFETY: valid pointers.
        assert_eq!(
            unsafe { rknn_matmul_create(&mut ctx, &mut i, &mut io) },
            RKNN_ERR_PARAM_INVALID
        );
        let p = Platform::from_name(platform).unwrap();
        let msg = rules::check_type(p, MatmulType(RKNN_INT8_MM_INT8_TO_INT8))
            .unwrap_err()
            .message;
        assert!(msg.contains(platform), "{msg}");
        assert!(
            msg.contains("RKNN_FLOAT16_MM_FLOAT16_TO_FLOAT32, RKNN_INT8_MM_INT8_TO_INT32"),
            "{msg}"
        );
        // TP_NORM B: only RK3566/RK3568 refuse it.
        let mut i = info(1, 32, 32, RKNN_INT8_MM_INT8_TO_INT32);
        i.B_layout = 2;
        // SAFETY: valid pointers.
        let r = unsafe { rknn_matmul_create(&mut ctx, &mut i, &mut io) };
        if platform == "rk3562" {
            assert_eq!(r, RKNN_SUCC);
            // SAFETY: a live context.
            assert_eq!(unsafe { rknn_matmul_destroy(ctx) }, RKNN_SUCC);
        } else {
            assert_eq!(r, RKNN_ERR_PARAM_INVALID);
        }
    }
}

#[test]
fn quant_params_lengths_and_values_are_checked() {
    let _g = platform_lock("rk3588");
    let mut i = info(1, 64, 32, RKNN_FLOAT16_MM_INT8_TO_FLOAT32);
    i.B_quant_type = RKNN_QUANT_TYPE_PER_GROUP_ASYM as i16;
    i.group_size = 32;
    let mut s = Session::create(&mut i).expect("create");
    let groups = 32 * 64 / 32;
    assert_eq!(
        s.quant("B", &vec![0.1; groups], &vec![1; groups]),
        RKNN_SUCC
    );
    assert_eq!(
        s.quant("B", &vec![0.1; groups], &[]),
        RKNN_SUCC,
        "zp_len 0: all zero"
    );
    assert_eq!(
        s.quant("B", &[0.1; 32], &[]),
        RKNN_ERR_PARAM_INVALID,
        "per-channel length for per-group"
    );
    assert_eq!(
        s.quant("B", &vec![0.1; groups], &[0; 3]),
        RKNN_ERR_PARAM_INVALID,
        "zp length"
    );
    assert_eq!(
        s.quant("B", &vec![-0.1; groups], &[]),
        RKNN_ERR_PARAM_INVALID,
        "negative scale"
    );
    assert_eq!(
        s.quant("A", &[0.1, 0.2], &[0, 0]),
        RKNN_ERR_PARAM_INVALID,
        "A is per layer"
    );
    assert_eq!(
        s.quant("C", &[1.0], &[300]),
        RKNN_ERR_PARAM_INVALID,
        "zero point range"
    );
    assert_eq!(
        s.quant("D", &[1.0], &[0]),
        RKNN_ERR_PARAM_INVALID,
        "unknown name"
    );
    // SAFETY: NULL params are detected.
    assert_eq!(
        unsafe { rknn_matmul_set_quant_params(s.ctx, null_mut()) },
        RKNN_ERR_PARAM_INVALID
    );
    let mut i = info(1, 64, 32, RKNN_INT8_MM_INT8_TO_INT32);
    i.B_quant_type = RKNN_QUANT_TYPE_PER_CHANNEL_SYM as i16;
    let mut s = Session::create(&mut i).expect("create");
    assert_eq!(
        s.quant("B", &[0.5], &[0]),
        RKNN_ERR_PARAM_INVALID,
        "per-channel needs N"
    );
    assert_eq!(s.quant("B", &[0.5; 32], &[0; 32]), RKNN_SUCC);
    let mut scale = 0f32;
    // SAFETY: NULL params selects B; NULL scale is refused.
    unsafe {
        assert_eq!(
            rknn_matmul_get_quant_params(s.ctx, null_mut(), &mut scale),
            RKNN_SUCC
        );
        assert_eq!(
            rknn_matmul_get_quant_params(s.ctx, null_mut(), null_mut()),
            RKNN_ERR_PARAM_INVALID
        );
    }
    assert_eq!(scale, 0.5);
}

#[test]
fn core_masks_follow_the_platform() {
    for (platform, mask, want) in [
        ("rk3588", RKNN_NPU_CORE_0_1_2, RKNN_SUCC),
        ("rk3588", RKNN_NPU_CORE_AUTO, RKNN_SUCC),
        ("rk3576", RKNN_NPU_CORE_0_1, RKNN_SUCC),
        ("rk3576", RKNN_NPU_CORE_2, RKNN_ERR_FAIL),
        ("rk3566", RKNN_NPU_CORE_0, RKNN_ERR_FAIL),
    ] {
        let _g = platform_lock(platform);
        let s = Session::create(&mut info(1, 32, 32, 2)).expect("create");
        // SAFETY: takes no pointers.
        assert_eq!(
            unsafe { rknn_matmul_set_core_mask(s.ctx, mask) },
            want,
            "{platform} {mask}"
        );
    }
}

#[test]
fn contexts_and_their_ids() {
    let _g = platform_lock("rk3588");
    let s = Session::create(&mut info(1, 32, 32, 2)).expect("create");
    // SAFETY: rknn_create_mem on a matmul context allocates on its device.
    unsafe {
        let m = rknn_create_mem(s.ctx, 64);
        assert!(!m.is_null());
        assert_eq!(rknn_destroy_mem(s.ctx, m), RKNN_SUCC);
        assert_eq!(rknn_matmul_run(0), RKNN_ERR_CTX_INVALID);
        assert_eq!(rknn_matmul_destroy(0), RKNN_ERR_CTX_INVALID);
    }
    let id = s.ctx;
    drop(s);
    // SAFETY: takes no pointers; the id is released.
    unsafe {
        assert_eq!(rknn_matmul_destroy(id), RKNN_ERR_CTX_INVALID);
        assert!(rknn_create_mem(id, 64).is_null());
    }
}

#[test]
fn b_conversion_rejects_bad_arguments() {
    let _g = platform_lock("rk3588");
    let mut i = info(1, 64, 32, 2);
    let mut buf = vec![0u8; 64 * 32];
    let mut out = vec![0u8; 64 * 32];
    // SAFETY: NULLs are detected; sizes are checked before any access.
    unsafe {
        assert_eq!(
            rknn_B_normal_layout_to_native_layout(
                buf.as_mut_ptr().cast(),
                out.as_mut_ptr().cast(),
                64,
                32,
                null_mut()
            ),
            RKNN_ERR_PARAM_INVALID
        );
        assert_eq!(
            rknn_B_normal_layout_to_native_layout(
                null_mut(),
                out.as_mut_ptr().cast(),
                64,
                32,
                &mut i
            ),
            RKNN_ERR_PARAM_INVALID
        );
        assert_eq!(
            rknn_B_normal_layout_to_native_layout(
                buf.as_mut_ptr().cast(),
                out.as_mut_ptr().cast(),
                40,
                32,
                &mut i
            ),
            RKNN_ERR_PARAM_INVALID
        );
    }
}

#[test]
fn a_panic_in_run_is_caught_and_the_context_keeps_working() {
    let _g = platform_lock("rk3588");
    let (m, k, n) = (1usize, 32usize, 32usize);
    let mut s = Session::create(&mut info(1, 32, 32, RKNN_INT8_MM_INT8_TO_INT32)).expect("create");
    let mut rng = Rng::new(11);
    let a = random(&mut rng, E::I8, m * k);
    let b = random(&mut rng, E::I8, k * n);
    let am = s.mem(s.io.A.size as usize, &to_bytes(E::I8, &a.raw));
    let bm = s.mem(s.io.B.size as usize, &to_bytes(E::I8, &b.raw));
    let cm = s.mem(s.io.C.size as usize, &[]);
    assert_eq!(s.set(am, 'A'), RKNN_SUCC);
    assert_eq!(s.set(bm, 'B'), RKNN_SUCC);
    assert_eq!(s.set(cm, 'C'), RKNN_SUCC);
    rknnrt::capi::guard::force_panic_in(Some("rknn_matmul_run"));
    assert_eq!(s.run(), RKNN_ERR_FAIL);
    assert_eq!(s.run(), RKNN_SUCC);
    assert_eq!(i32s(&Session::bytes(cm), m * n), naive_i8(&a, &b, m, k, n));
}
