//! The zero-copy C API driven from Rust as a C program would: memory made
//! by the runtime, imported from a memfd, weights and internal memory from
//! outside, internal memory shared by two contexts, the model buffer used
//! in place; every result compared with the general (copying) path on the
//! same model and input. Wrong use must be an error, never a crash.

mod common;

use std::ffi::c_void;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::null_mut;

use rknnrt::abi::*;
use rknnrt::capi::general::*;
use rknnrt::capi::handles;
use rknnrt::capi::zero_copy::*;
use rknnrt::runtime::context::RunStats;

const H: usize = 5;
const W: usize = 7;

fn init(model: &[u8], flags: u32) -> rknn_context {
    let mut ctx: rknn_context = 0;
    let mut bytes = model.to_vec();
    // SAFETY: valid storage for the handle and `bytes.len()` bytes.
    let r = unsafe {
        rknn_init(
            &mut ctx,
            bytes.as_mut_ptr().cast(),
            bytes.len() as u32,
            flags,
            null_mut(),
        )
    };
    assert_eq!(r, RKNN_SUCC, "rknn_init");
    ctx
}

fn query_attr(ctx: rknn_context, cmd: rknn_query_cmd, index: u32) -> rknn_tensor_attr {
    let mut a = rknn_tensor_attr {
        index,
        ..Default::default()
    };
    // SAFETY: `a` is a writable struct of the given size.
    let r = unsafe {
        rknn_query(
            ctx,
            cmd,
            (&mut a as *mut rknn_tensor_attr).cast(),
            std::mem::size_of::<rknn_tensor_attr>() as u32,
        )
    };
    assert_eq!(r, RKNN_SUCC, "rknn_query {cmd}");
    a
}

fn mem_size(ctx: rknn_context) -> rknn_mem_size {
    let mut m = rknn_mem_size::default();
    // SAFETY: `m` is a writable struct of the given size.
    let r = unsafe {
        rknn_query(
            ctx,
            RKNN_QUERY_MEM_SIZE,
            (&mut m as *mut rknn_mem_size).cast(),
            std::mem::size_of::<rknn_mem_size>() as u32,
        )
    };
    assert_eq!(r, RKNN_SUCC);
    m
}

/// A deterministic uint8 NHWC image of `h` x `w` x 3.
fn image(h: usize, w: usize, seed: usize) -> Vec<u8> {
    (0..h * w * 3)
        .map(|i| ((i * 37 + seed * 11) % 251) as u8)
        .collect()
}

/// General path: uint8 NHWC in, outputs as float32 (or the model type).
fn general(model: &[u8], img: &[u8], want_float: bool) -> Vec<u8> {
    let ctx = init(model, 0);
    let mut input = rknn_input {
        index: 0,
        buf: img.as_ptr().cast_mut().cast(),
        size: img.len() as u32,
        pass_through: 0,
        r#type: RKNN_TENSOR_UINT8,
        fmt: RKNN_TENSOR_NHWC,
    };
    let mut out = rknn_output {
        want_float: want_float as u8,
        ..Default::default()
    };
    // SAFETY: valid structs and buffers of the sizes given.
    unsafe {
        assert_eq!(rknn_inputs_set(ctx, 1, &mut input), RKNN_SUCC);
        assert_eq!(rknn_run(ctx, null_mut()), RKNN_SUCC);
        assert_eq!(rknn_outputs_get(ctx, 1, &mut out, null_mut()), RKNN_SUCC);
        let v = std::slice::from_raw_parts(out.buf.cast::<u8>(), out.size as usize).to_vec();
        assert_eq!(rknn_outputs_release(ctx, 1, &mut out), RKNN_SUCC);
        assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
        v
    }
}

/// Copies an NHWC uint8 image into memory with rows `w_stride` pixels apart.
fn fill_strided(mem: *mut rknn_tensor_mem, img: &[u8], h: usize, w: usize, w_stride: usize) {
    // SAFETY: `mem` is live and holds at least h * w_stride * 3 bytes
    // (sized from size_with_stride by the callers).
    unsafe {
        let base = (*mem).virt_addr.cast::<u8>().add((*mem).offset as usize);
        for y in 0..h {
            std::ptr::copy_nonoverlapping(
                img[y * w * 3..].as_ptr(),
                base.add(y * w_stride * 3),
                w * 3,
            );
        }
    }
}

fn bytes_of(mem: *mut rknn_tensor_mem, n: usize) -> Vec<u8> {
    // SAFETY: `mem` is live and holds at least `n` bytes.
    unsafe {
        std::slice::from_raw_parts((*mem).virt_addr.cast::<u8>().add((*mem).offset as usize), n)
            .to_vec()
    }
}

fn stats(ctx: rknn_context) -> RunStats {
    handles::with(ctx, |h| Ok(h.ctx.last_run_stats())).expect("live context")
}

/// Binds uint8 NHWC input memory (the native attr with the type changed
/// to UINT8, as the vendor demos do) and float32 NCHW output memory.
fn bind_u8_in_f32_out(
    ctx: rknn_context,
    img: &[u8],
) -> (*mut rknn_tensor_mem, *mut rknn_tensor_mem, usize) {
    let mut ia = query_attr(ctx, RKNN_QUERY_NATIVE_INPUT_ATTR, 0);
    assert_eq!(ia.fmt, RKNN_TENSOR_NHWC);
    assert_eq!(ia.w_stride, 16);
    ia.r#type = RKNN_TENSOR_UINT8;
    let mut oa = query_attr(ctx, RKNN_QUERY_NATIVE_OUTPUT_ATTR, 0);
    oa.r#type = RKNN_TENSOR_FLOAT32;
    oa.fmt = RKNN_TENSOR_NCHW;
    // float32 NCHW of the [1, 2, H, W] output (the native n_elems of an
    // NC1HWC2 int8 output counts the padding channels).
    let out_bytes = 2 * H * W * 4;
    // SAFETY: pointers from the library; attrs are valid structs.
    unsafe {
        let input = rknn_create_mem(ctx, H as u32 * ia.w_stride * 3);
        let output = rknn_create_mem(ctx, 2 * (H * W) as u32 * 4);
        assert!(!input.is_null() && !output.is_null());
        fill_strided(input, img, H, W, ia.w_stride as usize);
        assert_eq!(rknn_set_io_mem(ctx, input, &mut ia), RKNN_SUCC);
        assert_eq!(rknn_set_io_mem(ctx, output, &mut oa), RKNN_SUCC);
        (input, output, out_bytes)
    }
}

#[test]
fn runtime_memory_gives_the_general_paths_results() {
    for int8 in [false, true] {
        let model = common::conv_chain_model(H, W, 1, int8);
        let img = image(H, W, 3);
        let want = general(&model, &img, true);
        let ctx = init(&model, 0);
        let (input, output, n) = bind_u8_in_f32_out(ctx, &img);
        // SAFETY: live context and memory.
        unsafe {
            assert_eq!(rknn_run(ctx, null_mut()), RKNN_SUCC);
            assert_eq!(bytes_of(output, n), want, "int8 = {int8}");
            let s = stats(ctx);
            assert_eq!(s.syncs, 2, "one sync per bound memory and run");
            assert!(s.bytes_copied > 0, "uint8 NHWC needs a conversion");
            // New input data in the same memory is used by the next run.
            let img2 = image(H, W, 9);
            fill_strided(input, &img2, H, W, 16);
            assert_eq!(rknn_run(ctx, null_mut()), RKNN_SUCC);
            assert_eq!(bytes_of(output, n), general(&model, &img2, true));
            assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
            assert_eq!(rknn_destroy_mem(0, input), RKNN_SUCC);
            assert_eq!(rknn_destroy_mem(0, output), RKNN_SUCC);
        }
    }
}

#[test]
fn native_and_nhwc_output_layouts_hold_the_models_bytes() {
    let model = common::conv_chain_model(H, W, 2, true);
    let img = image(H, W, 4);
    let want = general(&model, &img, false); // int8 NCHW [1,2,5,7]
    let ctx = init(&model, 0);
    let mut ia = query_attr(ctx, RKNN_QUERY_NATIVE_INPUT_ATTR, 0);
    ia.r#type = RKNN_TENSOR_UINT8;
    let mut native = query_attr(ctx, RKNN_QUERY_NATIVE_OUTPUT_ATTR, 0);
    assert_eq!(native.fmt, RKNN_TENSOR_NC1HWC2);
    assert_eq!(&native.dims[..5], &[1, 1, 5, 7, 16]);
    let mut nhwc = query_attr(ctx, RKNN_QUERY_NATIVE_NHWC_OUTPUT_ATTR, 0);
    assert_eq!(nhwc.fmt, RKNN_TENSOR_NHWC);
    // SAFETY: pointers from the library; attrs are valid structs.
    unsafe {
        let input = rknn_create_mem(ctx, ia.size_with_stride);
        fill_strided(input, &img, H, W, ia.w_stride as usize);
        assert_eq!(rknn_set_io_mem(ctx, input, &mut ia), RKNN_SUCC);
        let out = rknn_create_mem(ctx, native.size_with_stride);
        assert_eq!(rknn_set_io_mem(ctx, out, &mut native), RKNN_SUCC);
        assert_eq!(rknn_run(ctx, null_mut()), RKNN_SUCC);
        let blocked = bytes_of(out, native.size_with_stride as usize);
        for c in 0..2 {
            for p in 0..H * W {
                assert_eq!(blocked[p * 16 + c], want[c * H * W + p], "c {c} p {p}");
            }
        }
        // Rebinding the same output slot as NHWC.
        let out2 = rknn_create_mem(ctx, nhwc.size_with_stride);
        assert_eq!(rknn_set_io_mem(ctx, out2, &mut nhwc), RKNN_SUCC);
        assert_eq!(rknn_run(ctx, null_mut()), RKNN_SUCC);
        let pixels = bytes_of(out2, H * W * 2);
        for c in 0..2 {
            for p in 0..H * W {
                assert_eq!(pixels[p * 2 + c], want[c * H * W + p]);
            }
        }
        // `out` is no longer set on the context: it can be destroyed.
        assert_eq!(rknn_destroy_mem(ctx, out), RKNN_SUCC);
        assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
        assert_eq!(rknn_destroy_mem(0, input), RKNN_SUCC);
        assert_eq!(rknn_destroy_mem(0, out2), RKNN_SUCC);
    }
}

#[test]
fn matching_formats_are_read_and_written_in_place() {
    let model = common::int8_conv_model(); // x int8 [1,2,3,3]
    let ctx = init(&model, 0);
    let mut ia = query_attr(ctx, RKNN_QUERY_INPUT_ATTR, 0);
    ia.fmt = RKNN_TENSOR_NCHW;
    ia.pass_through = 1;
    let mut oa = query_attr(ctx, RKNN_QUERY_OUTPUT_ATTR, 0);
    assert_eq!((oa.fmt, oa.r#type), (RKNN_TENSOR_NCHW, RKNN_TENSOR_INT8));
    let data: Vec<u8> = (0..18).map(|i| (i as i8 * 7 - 60) as u8).collect();
    // Reference: the general path with the same pass-through data.
    let r = init(&model, 0);
    let mut inp = rknn_input {
        index: 0,
        buf: data.as_ptr().cast_mut().cast(),
        size: 18,
        pass_through: 1,
        r#type: RKNN_TENSOR_INT8,
        fmt: RKNN_TENSOR_NCHW,
    };
    let mut out = rknn_output::default();
    // SAFETY: valid structs, buffers and library pointers.
    unsafe {
        assert_eq!(rknn_inputs_set(r, 1, &mut inp), RKNN_SUCC);
        assert_eq!(rknn_run(r, null_mut()), RKNN_SUCC);
        assert_eq!(rknn_outputs_get(r, 1, &mut out, null_mut()), RKNN_SUCC);
        let want = std::slice::from_raw_parts(out.buf.cast::<u8>(), 18).to_vec();
        assert_eq!(rknn_outputs_release(r, 1, &mut out), RKNN_SUCC);
        assert_eq!(rknn_destroy(r), RKNN_SUCC);

        let im = rknn_create_mem(ctx, 18);
        let om = rknn_create_mem(ctx, 18);
        std::ptr::copy_nonoverlapping(data.as_ptr(), (*im).virt_addr.cast::<u8>(), 18);
        assert_eq!(rknn_set_io_mem(ctx, im, &mut ia), RKNN_SUCC);
        assert_eq!(rknn_set_io_mem(ctx, om, &mut oa), RKNN_SUCC);
        let before = rknnrt::runtime::io::copied_bytes();
        assert_eq!(rknn_run(ctx, null_mut()), RKNN_SUCC);
        assert_eq!(stats(ctx).bytes_copied, 0, "nothing converted");
        assert_eq!(stats(ctx).syncs, 2);
        // Other tests convert in parallel: the global counter only grows.
        assert!(rknnrt::runtime::io::copied_bytes() >= before);
        assert_eq!(bytes_of(om, 18), want);
        assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
        assert_eq!(rknn_destroy_mem(0, im), RKNN_SUCC);
        assert_eq!(rknn_destroy_mem(0, om), RKNN_SUCC);
    }
}

#[test]
fn nc1hwc2_inputs_take_nhwc_data_or_packed_data_with_pass_through() {
    // 2 channels: the native input is NC1HWC2 (C2 = 16 on RK3588).
    let model = common::int8_conv_model();
    let ctx = init(&model, 0);
    let mut ia = query_attr(ctx, RKNN_QUERY_NATIVE_INPUT_ATTR, 0);
    assert_eq!(ia.fmt, RKNN_TENSOR_NC1HWC2);
    assert_eq!(ia.size_with_stride, 3 * 3 * 16);
    let img: Vec<u8> = (0..18).map(|i| (i * 13 % 100) as u8).collect(); // uint8 NHWC
                                                                        // Reference: general path, uint8 NHWC, model-type output.
    let r = init(&model, 0);
    let mut inp = rknn_input {
        index: 0,
        buf: img.as_ptr().cast_mut().cast(),
        size: 18,
        pass_through: 0,
        r#type: RKNN_TENSOR_UINT8,
        fmt: RKNN_TENSOR_NHWC,
    };
    let mut out = rknn_output::default();
    let mut oa = query_attr(ctx, RKNN_QUERY_OUTPUT_ATTR, 0);
    // SAFETY: valid structs, buffers and library pointers.
    unsafe {
        assert_eq!(rknn_inputs_set(r, 1, &mut inp), RKNN_SUCC);
        assert_eq!(rknn_run(r, null_mut()), RKNN_SUCC);
        assert_eq!(rknn_outputs_get(r, 1, &mut out, null_mut()), RKNN_SUCC);
        let want = std::slice::from_raw_parts(out.buf.cast::<u8>(), 18).to_vec();
        assert_eq!(rknn_outputs_release(r, 1, &mut out), RKNN_SUCC);
        assert_eq!(rknn_destroy(r), RKNN_SUCC);

        // pass_through = 0: NHWC data in the NC1HWC2-sized memory.
        ia.r#type = RKNN_TENSOR_UINT8;
        let im = rknn_create_mem(ctx, ia.size_with_stride);
        std::ptr::copy_nonoverlapping(img.as_ptr(), (*im).virt_addr.cast::<u8>(), 18);
        let om = rknn_create_mem(ctx, 18);
        assert_eq!(rknn_set_io_mem(ctx, im, &mut ia), RKNN_SUCC);
        assert_eq!(rknn_set_io_mem(ctx, om, &mut oa), RKNN_SUCC);
        assert_eq!(rknn_run(ctx, null_mut()), RKNN_SUCC);
        assert_eq!(bytes_of(om, 18), want);

        // pass_through = 1: the model's int8 values packed NC1HWC2; the
        // values are those the general path computes from the image.
        let q: Vec<i8> = (0..18)
            .map(|i| {
                let (p, c) = (i / 2, i % 2);
                let (mean, std) = [(10.0f32, 2.0f32), (20.0, 4.0)][c];
                let v = (img[p * 2 + c] as f32 - mean) / std;
                rknnrt::kernels::quant::quantize_i8(v, 64.0, 0)
            })
            .collect();
        let mut packed = [0u8; 3 * 3 * 16];
        for p in 0..9 {
            for c in 0..2 {
                packed[p * 16 + c] = q[p * 2 + c] as u8;
            }
        }
        let mut pa = query_attr(ctx, RKNN_QUERY_NATIVE_INPUT_ATTR, 0);
        pa.pass_through = 1;
        let pm = rknn_create_mem(ctx, pa.size_with_stride);
        std::ptr::copy_nonoverlapping(packed.as_ptr(), (*pm).virt_addr.cast::<u8>(), packed.len());
        assert_eq!(rknn_set_io_mem(ctx, pm, &mut pa), RKNN_SUCC);
        assert_eq!(rknn_run(ctx, null_mut()), RKNN_SUCC);
        assert_eq!(bytes_of(om, 18), want);
        assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
        for m in [im, om, pm] {
            assert_eq!(rknn_destroy_mem(0, m), RKNN_SUCC);
        }
    }
}

/// A memfd of `len` bytes, filled with zeros.
fn memfd(len: usize) -> OwnedFd {
    // SAFETY: a new anonymous file; the name is NUL-terminated.
    let fd = unsafe { libc::syscall(libc::SYS_memfd_create, c"zc-test".as_ptr(), 0) };
    assert!(fd >= 0, "memfd_create");
    // SAFETY: a new descriptor owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    nix::unistd::ftruncate(&fd, len as libc::off_t).expect("ftruncate");
    fd
}

#[test]
fn memory_imported_from_an_fd_at_an_offset() {
    let model = common::conv_chain_model(H, W, 3, false);
    let img = image(H, W, 5);
    let want = general(&model, &img, true);
    let ctx = init(&model, 0);
    let fd = memfd(3 * 4096);
    let mut ia = query_attr(ctx, RKNN_QUERY_NATIVE_INPUT_ATTR, 0);
    ia.r#type = RKNN_TENSOR_UINT8;
    let mut oa = query_attr(ctx, RKNN_QUERY_NATIVE_OUTPUT_ATTR, 0);
    oa.r#type = RKNN_TENSOR_FLOAT32;
    let n = oa.n_elems as usize * 4;
    // SAFETY: library pointers and a live fd.
    unsafe {
        let im = rknn_create_mem_from_fd(ctx, fd.as_raw_fd(), null_mut(), 1000, 100);
        let om = rknn_create_mem_from_fd(ctx, fd.as_raw_fd(), null_mut(), n as u32, 5000);
        assert!(!im.is_null() && !om.is_null());
        assert_eq!((*im).flags, RKNN_TENSOR_MEMORY_FLAGS_FROM_FD);
        assert_eq!((*im).fd, fd.as_raw_fd());
        fill_strided(im, &img, H, W, 16);
        assert_eq!(rknn_set_io_mem(ctx, im, &mut ia), RKNN_SUCC);
        assert_eq!(rknn_set_io_mem(ctx, om, &mut oa), RKNN_SUCC);
        assert_eq!(rknn_run(ctx, null_mut()), RKNN_SUCC);
        assert_eq!(bytes_of(om, n), want);
        // The bytes are in the caller's fd at the offsets given.
        let mut file = std::fs::File::from(fd.try_clone().expect("dup"));
        let mut all = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut all).expect("read");
        assert_eq!(&all[5000..5000 + n], &want[..]);
        assert_eq!(&all[100..100 + W * 3], &img[..W * 3]);
        assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
        assert_eq!(rknn_destroy_mem(0, im), RKNN_SUCC);
        assert_eq!(rknn_destroy_mem(0, om), RKNN_SUCC);
    }
    // The caller's fd is still open and usable.
    assert!(nix::sys::stat::fstat(fd.as_raw_fd()).is_ok());
}

/// Runs `ctx` with `img` through u8 NHWC / f32 NCHW runtime memory;
/// returns the output and the two memories (to destroy).
fn run_zero_copy(ctx: rknn_context, img: &[u8]) -> (Vec<u8>, [*mut rknn_tensor_mem; 2]) {
    let (im, om, n) = bind_u8_in_f32_out(ctx, img);
    // SAFETY: live context.
    assert_eq!(unsafe { rknn_run(ctx, null_mut()) }, RKNN_SUCC);
    (bytes_of(om, n), [im, om])
}

#[test]
fn weights_and_internal_memory_from_outside() {
    let model = common::conv_chain_model(H, W, 4, true);
    let img = image(H, W, 6);
    let want = general(&model, &img, true);
    let ctx = init(&model, RKNN_FLAG_MEM_ALLOC_OUTSIDE);
    let m = mem_size(ctx);
    assert!(m.total_weight_size > 0 && m.total_internal_size > 0);
    assert_eq!(m.total_dma_allocated_size, 0, "nothing allocated inside");
    // SAFETY: library pointers, live context.
    unsafe {
        // IO memory is required first; then weights; then internal memory.
        assert_eq!(rknn_run(ctx, null_mut()), RKNN_ERR_FAIL);
        let out = bind_u8_in_f32_out(ctx, &img);
        assert_eq!(rknn_run(ctx, null_mut()), RKNN_ERR_FAIL, "no weights yet");
        let wm = rknn_create_mem(ctx, m.total_weight_size);
        let small = rknn_create_mem(ctx, m.total_internal_size - 1);
        assert_eq!(rknn_set_internal_mem(ctx, small), RKNN_ERR_PARAM_INVALID);
        let im = rknn_create_mem(ctx, m.total_internal_size);
        assert_eq!(rknn_set_weight_mem(ctx, wm), RKNN_SUCC);
        assert_eq!(
            rknn_run(ctx, null_mut()),
            RKNN_ERR_FAIL,
            "no internal memory yet"
        );
        assert_eq!(rknn_set_internal_mem(ctx, im), RKNN_SUCC);
        assert_eq!(rknn_run(ctx, null_mut()), RKNN_SUCC);
        assert_eq!(bytes_of(out.1, out.2), want);
        // The general path is refused on such a context.
        let mut o = rknn_output::default();
        assert_eq!(rknn_outputs_get(ctx, 1, &mut o, null_mut()), RKNN_ERR_FAIL);
        // Memory in use may be destroyed (the vendor examples free memory
        // before the context): the struct goes at once, the memory with
        // the context, and runs refuse the destroyed memory meanwhile.
        assert_eq!(rknn_destroy_mem(ctx, im), RKNN_SUCC);
        assert_eq!(rknn_destroy_mem(ctx, im), RKNN_ERR_PARAM_INVALID, "twice");
        assert_eq!(
            rknn_run(ctx, null_mut()),
            RKNN_ERR_FAIL,
            "internal memory destroyed"
        );
        assert_eq!(rknn_destroy_mem(ctx, wm), RKNN_SUCC);
        assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
        for mem in [small, out.0, out.1] {
            assert_eq!(rknn_destroy_mem(0, mem), RKNN_SUCC);
        }
    }
}

#[test]
fn weight_memory_needs_mem_alloc_outside() {
    let model = common::conv_chain_model(H, W, 4, false);
    let ctx = init(&model, 0);
    let m = mem_size(ctx);
    // SAFETY: library pointers, live context.
    unsafe {
        let wm = rknn_create_mem(ctx, m.total_weight_size);
        assert_eq!(rknn_set_weight_mem(ctx, wm), RKNN_ERR_FAIL);
        assert_eq!(rknn_destroy_mem(ctx, wm), RKNN_SUCC);
        assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
    }
}

#[test]
fn two_contexts_share_one_internal_buffer() {
    let model_a = common::conv_chain_model(8, 9, 5, true);
    let model_b = common::conv_chain_model(H, W, 6, false);
    let (img_a, img_b) = (image(8, 9, 1), image(H, W, 2));
    let want_a = general(&model_a, &img_a, true);
    let want_b = general(&model_b, &img_b, true);
    let a = init(&model_a, RKNN_FLAG_INTERNAL_ALLOC_OUTSIDE);
    let b = init(&model_b, RKNN_FLAG_INTERNAL_ALLOC_OUTSIDE);
    let (sa, sb) = (mem_size(a), mem_size(b));
    assert_ne!(sa.total_internal_size, sb.total_internal_size);
    let max = sa.total_internal_size.max(sb.total_internal_size);
    // SAFETY: library pointers, live contexts.
    unsafe {
        assert_eq!(
            rknn_run(a, null_mut()),
            RKNN_ERR_FAIL,
            "internal memory not set"
        );
        let big = rknn_create_mem(a, max);
        let view_a =
            rknn_create_mem_from_fd(a, (*big).fd, (*big).virt_addr, sa.total_internal_size, 0);
        let view_b =
            rknn_create_mem_from_fd(b, (*big).fd, (*big).virt_addr, sb.total_internal_size, 0);
        assert!(!view_a.is_null() && !view_b.is_null());
        assert_eq!(rknn_set_internal_mem(a, view_a), RKNN_SUCC);
        assert_eq!(rknn_set_internal_mem(b, view_b), RKNN_SUCC);
        // Ordinary IO on context a, zero-copy on b.
        let mut input = rknn_input {
            index: 0,
            buf: img_a.as_ptr().cast_mut().cast(),
            size: img_a.len() as u32,
            pass_through: 0,
            r#type: RKNN_TENSOR_UINT8,
            fmt: RKNN_TENSOR_NHWC,
        };
        let (bi, bo, bn) = bind_u8_in_f32_out(b, &img_b);
        for _ in 0..3 {
            assert_eq!(rknn_inputs_set(a, 1, &mut input), RKNN_SUCC);
            assert_eq!(rknn_run(a, null_mut()), RKNN_SUCC);
            let mut out = rknn_output {
                want_float: 1,
                ..Default::default()
            };
            assert_eq!(rknn_outputs_get(a, 1, &mut out, null_mut()), RKNN_SUCC);
            let got = std::slice::from_raw_parts(out.buf.cast::<u8>(), out.size as usize);
            assert_eq!(got, &want_a[..]);
            assert_eq!(rknn_outputs_release(a, 1, &mut out), RKNN_SUCC);
            assert_eq!(rknn_run(b, null_mut()), RKNN_SUCC);
            assert_eq!(bytes_of(bo, bn), want_b);
        }
        assert_eq!(rknn_destroy(a), RKNN_SUCC);
        assert_eq!(rknn_destroy(b), RKNN_SUCC);
        for m in [view_a, view_b, big, bi, bo] {
            assert_eq!(rknn_destroy_mem(0, m), RKNN_SUCC);
        }
    }
}

#[test]
fn create_mem2_flags_and_contextless_memory() {
    let model = common::relu_model();
    let ctx = init(&model, 0);
    let no_ctx = u64::from(RKNN_MEM_FLAG_ALLOC_NO_CONTEXT);
    // SAFETY: library pointers only.
    unsafe {
        for flags in [
            0,
            u64::from(RKNN_FLAG_MEMORY_CACHEABLE),
            u64::from(RKNN_FLAG_MEMORY_NON_CACHEABLE),
            u64::from(RKNN_FLAG_MEMORY_TRY_ALLOC_SRAM),
        ] {
            let m = rknn_create_mem2(ctx, 1000, flags);
            assert!(!m.is_null(), "flags {flags:#x}");
            assert_eq!((*m).size, 1000);
            assert!((*m).fd >= 0);
            assert_eq!(rknn_mem_sync(ctx, m, RKNN_MEMORY_SYNC_TO_DEVICE), RKNN_SUCC);
            assert_eq!(rknn_mem_sync(0, m, RKNN_MEMORY_SYNC_FROM_DEVICE), RKNN_SUCC);
            assert_eq!(
                rknn_mem_sync(0, m, RKNN_MEMORY_SYNC_BIDIRECTIONAL),
                RKNN_SUCC
            );
            assert_eq!(rknn_mem_sync(0, m, 7), RKNN_ERR_PARAM_INVALID);
            assert_eq!(rknn_destroy_mem(ctx, m), RKNN_SUCC);
        }
        let both = u64::from(RKNN_FLAG_MEMORY_CACHEABLE | RKNN_FLAG_MEMORY_NON_CACHEABLE);
        assert!(rknn_create_mem2(ctx, 10, both).is_null());
        assert!(rknn_create_mem2(ctx, 10, 1 << 40).is_null());
        assert!(rknn_create_mem2(ctx, 0, 0).is_null());
        assert!(rknn_create_mem2(ctx, 1 << 33, 0).is_null());
        assert!(
            rknn_create_mem2(0, 10, 0).is_null(),
            "ctx 0 needs ALLOC_NO_CONTEXT"
        );
        let m = rknn_create_mem2(0, 4096, no_ctx);
        assert!(!m.is_null());
        assert_eq!(rknn_mem_sync(0, m, RKNN_MEMORY_SYNC_TO_DEVICE), RKNN_SUCC);
        // Bound to a context created later, then destroyed with any ctx.
        let mut oa = query_attr(ctx, RKNN_QUERY_OUTPUT_ATTR, 0);
        assert_eq!(rknn_set_io_mem(ctx, m, &mut oa), RKNN_SUCC);
        assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
        assert_eq!(rknn_destroy_mem(12345, m), RKNN_SUCC);
    }
}

#[test]
fn model_buffer_used_in_place() {
    let model = common::conv_chain_model(H, W, 7, true);
    let img = image(H, W, 8);
    let want = general(&model, &img, true);
    // SAFETY: library pointers, valid structs.
    unsafe {
        let mem = rknn_create_mem2(
            0,
            model.len() as u64 + 64,
            u64::from(RKNN_MEM_FLAG_ALLOC_NO_CONTEXT),
        );
        assert!(!mem.is_null());
        let at = (*mem).virt_addr.cast::<u8>().add(64);
        std::ptr::copy_nonoverlapping(model.as_ptr(), at, model.len());
        let mut ext = rknn_init_extend {
            model_buffer_fd: (*mem).fd,
            model_buffer_flags: (*mem).flags,
            real_model_offset: 64,
            real_model_size: model.len() as u32,
            ..Default::default()
        };
        let mut ctx: rknn_context = 0;
        assert_eq!(
            rknn_init(
                &mut ctx,
                (*mem).virt_addr,
                (*mem).size,
                RKNN_FLAG_MODEL_BUFFER_ZERO_COPY,
                &mut ext
            ),
            RKNN_SUCC
        );
        // The device memory info describes the user's buffer.
        let mut info = rknn_tensor_mem::default();
        assert_eq!(
            rknn_query(
                ctx,
                RKNN_QUERY_DEVICE_MEM_INFO,
                (&mut info as *mut rknn_tensor_mem).cast(),
                40
            ),
            RKNN_SUCC
        );
        assert_eq!(info.virt_addr, at.cast::<c_void>());
        assert_eq!(info.size as usize, model.len());
        assert_eq!(info.fd, (*mem).fd);
        let (got, io) = run_zero_copy(ctx, &img);
        assert_eq!(got, want);
        // Without extend, or with a buffer that is not library memory: errors.
        let mut c2: rknn_context = 0;
        assert_eq!(
            rknn_init(
                &mut c2,
                (*mem).virt_addr,
                (*mem).size,
                RKNN_FLAG_MODEL_BUFFER_ZERO_COPY,
                null_mut()
            ),
            RKNN_ERR_PARAM_INVALID
        );
        let mut plain = model.clone();
        assert_eq!(
            rknn_init(
                &mut c2,
                plain.as_mut_ptr().cast(),
                plain.len() as u32,
                RKNN_FLAG_MODEL_BUFFER_ZERO_COPY,
                &mut ext
            ),
            RKNN_ERR_PARAM_INVALID
        );
        assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
        // With the context gone, the model buffer is free again.
        assert_eq!(rknn_destroy_mem(0, mem), RKNN_SUCC);
        for m in io {
            assert_eq!(rknn_destroy_mem(0, m), RKNN_SUCC);
        }
    }
}

#[test]
fn device_mem_info_of_buffer_and_file_models() {
    let model = common::relu_model();
    let ctx = init(&model, 0);
    let mut info = rknn_tensor_mem::default();
    // SAFETY: valid struct of the given size.
    unsafe {
        assert_eq!(
            rknn_query(
                ctx,
                RKNN_QUERY_DEVICE_MEM_INFO,
                (&mut info as *mut rknn_tensor_mem).cast(),
                40
            ),
            RKNN_SUCC
        );
        assert!(info.fd >= 0);
        assert_eq!(info.size as usize, model.len());
        let copy = std::slice::from_raw_parts(info.virt_addr.cast::<u8>(), model.len());
        assert_eq!(copy, &model[..]);
        assert_eq!(
            rknn_query(
                ctx,
                RKNN_QUERY_DEVICE_MEM_INFO,
                (&mut info as *mut rknn_tensor_mem).cast(),
                39
            ),
            RKNN_ERR_PARAM_INVALID
        );
        assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
    }
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("zc_relu_{}.rknn", std::process::id()));
    std::fs::write(&path, &model).expect("write model");
    let cpath = std::ffi::CString::new(path.to_str().expect("utf-8")).expect("path");
    let mut ctx: rknn_context = 0;
    // SAFETY: a NUL-terminated path and a valid struct.
    unsafe {
        assert_eq!(
            rknn_init(&mut ctx, cpath.as_ptr().cast_mut().cast(), 0, 0, null_mut()),
            RKNN_SUCC
        );
        assert_eq!(
            rknn_query(
                ctx,
                RKNN_QUERY_DEVICE_MEM_INFO,
                (&mut info as *mut rknn_tensor_mem).cast(),
                40
            ),
            RKNN_ERR_FAIL
        );
        assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
    }
    let _ = std::fs::remove_file(path);
}

#[test]
fn disabled_cache_flushes_skip_the_syncs() {
    let model = common::conv_chain_model(H, W, 1, false);
    let img = image(H, W, 3);
    for (flags, syncs) in [
        (RKNN_FLAG_DISABLE_FLUSH_INPUT_MEM_CACHE, 1),
        (RKNN_FLAG_DISABLE_FLUSH_OUTPUT_MEM_CACHE, 1),
        (
            RKNN_FLAG_DISABLE_FLUSH_INPUT_MEM_CACHE | RKNN_FLAG_DISABLE_FLUSH_OUTPUT_MEM_CACHE,
            0,
        ),
    ] {
        let ctx = init(&model, flags);
        let (im, om, n) = bind_u8_in_f32_out(ctx, &img);
        // SAFETY: live context and memory.
        unsafe {
            assert_eq!(rknn_run(ctx, null_mut()), RKNN_SUCC);
            assert_eq!(stats(ctx).syncs, syncs, "flags {flags:#x}");
            assert_eq!(
                rknn_mem_sync(ctx, om, RKNN_MEMORY_SYNC_FROM_DEVICE),
                RKNN_SUCC
            );
            assert_eq!(bytes_of(om, n), general(&model, &img, true));
            assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
            assert_eq!(rknn_destroy_mem(0, im), RKNN_SUCC);
            assert_eq!(rknn_destroy_mem(0, om), RKNN_SUCC);
        }
    }
}

#[test]
fn wrong_use_is_an_error() {
    let model = common::int8_conv_model();
    let ctx = init(&model, 0);
    let mut ia = query_attr(ctx, RKNN_QUERY_NATIVE_INPUT_ATTR, 0);
    let mut oa = query_attr(ctx, RKNN_QUERY_NATIVE_OUTPUT_ATTR, 0);
    // SAFETY: library pointers, valid structs; NULL where the test says.
    unsafe {
        let small = rknn_create_mem(ctx, ia.size_with_stride - 1);
        assert_eq!(rknn_set_io_mem(ctx, small, &mut ia), RKNN_ERR_INPUT_INVALID);
        let osmall = rknn_create_mem(ctx, oa.size_with_stride - 1);
        assert_eq!(
            rknn_set_io_mem(ctx, osmall, &mut oa),
            RKNN_ERR_OUTPUT_INVALID
        );
        let big = rknn_create_mem(ctx, 4096);
        // NULL mem / attr.
        assert_eq!(
            rknn_set_io_mem(ctx, null_mut(), &mut ia),
            RKNN_ERR_PARAM_INVALID
        );
        assert_eq!(
            rknn_set_io_mem(ctx, big, null_mut()),
            RKNN_ERR_PARAM_INVALID
        );
        assert_eq!(rknn_set_weight_mem(ctx, null_mut()), RKNN_ERR_PARAM_INVALID);
        assert_eq!(
            rknn_set_internal_mem(ctx, null_mut()),
            RKNN_ERR_PARAM_INVALID
        );
        assert_eq!(
            rknn_mem_sync(ctx, null_mut(), RKNN_MEMORY_SYNC_TO_DEVICE),
            RKNN_ERR_PARAM_INVALID
        );
        // A struct the library did not make.
        let mut forged = *big;
        assert_eq!(
            rknn_set_io_mem(ctx, &mut forged, &mut ia),
            RKNN_ERR_PARAM_INVALID
        );
        // Unsupported pairs: uint8 output of an int8 model; a bad fmt;
        // an unknown type; a name that is neither input nor output.
        let mut bad = oa;
        bad.r#type = RKNN_TENSOR_UINT8;
        assert_eq!(rknn_set_io_mem(ctx, big, &mut bad), RKNN_ERR_OUTPUT_INVALID);
        let mut bad = ia;
        bad.fmt = 77;
        assert_eq!(rknn_set_io_mem(ctx, big, &mut bad), RKNN_ERR_PARAM_INVALID);
        let mut bad = ia;
        bad.r#type = 99;
        assert_eq!(rknn_set_io_mem(ctx, big, &mut bad), RKNN_ERR_PARAM_INVALID);
        let mut bad = ia;
        bad.name[0] = b'?' as _;
        assert_eq!(rknn_set_io_mem(ctx, big, &mut bad), RKNN_ERR_PARAM_INVALID);
        let mut bad = ia;
        bad.pass_through = 1;
        bad.r#type = RKNN_TENSOR_UINT8; // pass_through data must be the model's type
        assert_eq!(rknn_set_io_mem(ctx, big, &mut bad), RKNN_ERR_INPUT_INVALID);
        assert_eq!(rknn_set_io_mem(ctx, big, &mut ia), RKNN_SUCC);
        // The same memory for the output overlaps the input.
        assert_eq!(rknn_set_io_mem(ctx, big, &mut oa), RKNN_ERR_PARAM_INVALID);
        // Mixing: the general path is refused after set_io_mem.
        let data = [0u8; 18];
        let mut inp = rknn_input {
            index: 0,
            buf: data.as_ptr().cast_mut().cast(),
            size: 18,
            pass_through: 0,
            r#type: RKNN_TENSOR_UINT8,
            fmt: RKNN_TENSOR_NHWC,
        };
        assert_eq!(rknn_inputs_set(ctx, 1, &mut inp), RKNN_ERR_FAIL);
        assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
        for m in [small, osmall, big] {
            assert_eq!(rknn_destroy_mem(0, m), RKNN_SUCC);
        }
        // ... and set_io_mem after the general path.
        let ctx = init(&model, 0);
        assert_eq!(rknn_inputs_set(ctx, 1, &mut inp), RKNN_SUCC);
        let m = rknn_create_mem(ctx, 4096);
        assert_eq!(rknn_set_io_mem(ctx, m, &mut ia), RKNN_ERR_FAIL);
        assert_eq!(
            rknn_destroy_mem(ctx, m),
            RKNN_SUCC,
            "a refused binding keeps no reference"
        );
        // Foreign fds: a pipe, a closed number, negative values.
        let (r, w) = nix::unistd::pipe().expect("pipe");
        assert!(rknn_create_mem_from_fd(ctx, r.as_raw_fd(), null_mut(), 64, 0).is_null());
        drop((r, w));
        assert!(rknn_create_mem_from_fd(ctx, 100_000, null_mut(), 64, 0).is_null());
        assert!(rknn_create_mem_from_fd(ctx, -1, null_mut(), 64, 0).is_null());
        let fd = memfd(4096);
        assert!(rknn_create_mem_from_fd(ctx, fd.as_raw_fd(), null_mut(), 64, -4).is_null());
        assert!(rknn_create_mem_from_fd(ctx, fd.as_raw_fd(), null_mut(), 4096, 1).is_null());
        assert!(rknn_create_mem_from_fd(ctx, fd.as_raw_fd(), null_mut(), 0, 0).is_null());
        // Physical addresses: the host device has none.
        let mut buf = [0u8; 64];
        assert!(rknn_create_mem_from_phys(ctx, 0x1000, buf.as_mut_ptr().cast(), 64).is_null());
        assert!(rknn_create_mem_from_phys(ctx, 0x1000, null_mut(), 64).is_null());
        assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
        // A destroyed context.
        assert!(rknn_create_mem(ctx, 64).is_null());
        assert!(rknn_create_mem_from_fd(ctx, fd.as_raw_fd(), null_mut(), 64, 0).is_null());
    }
}

#[test]
fn contexts_sharing_internal_memory_can_run_from_two_threads() {
    let model_a = common::conv_chain_model(H, W, 8, false);
    let model_b = common::conv_chain_model(H, W, 9, false);
    let (img_a, img_b) = (image(H, W, 3), image(H, W, 4));
    let want_a = general(&model_a, &img_a, true);
    let want_b = general(&model_b, &img_b, true);
    assert_ne!(want_a, want_b);
    let a = init(&model_a, RKNN_FLAG_INTERNAL_ALLOC_OUTSIDE);
    let b = init(&model_b, RKNN_FLAG_INTERNAL_ALLOC_OUTSIDE);
    let size = mem_size(a).total_internal_size;
    // SAFETY: library pointers, live contexts.
    let shared = unsafe { rknn_create_mem(a, size) };
    // SAFETY: as above; the same object on both contexts.
    unsafe {
        assert_eq!(rknn_set_internal_mem(a, shared), RKNN_SUCC);
        assert_eq!(rknn_set_internal_mem(b, shared), RKNN_SUCC);
    }
    let (ai, ao, n) = bind_u8_in_f32_out(a, &img_a);
    let (bi, bo, _) = bind_u8_in_f32_out(b, &img_b);
    // Raw pointers are not Send: pass the addresses.
    let (ao_addr, bo_addr) = (ao as usize, bo as usize);
    let worker = |ctx: rknn_context, out: usize, want: Vec<u8>| {
        std::thread::spawn(move || {
            for _ in 0..200 {
                // SAFETY: live context; `out` is its bound output memory,
                // read only by this thread between its own runs.
                unsafe {
                    assert_eq!(rknn_run(ctx, null_mut()), RKNN_SUCC);
                }
                assert_eq!(bytes_of(out as *mut rknn_tensor_mem, n), want);
            }
        })
    };
    let ta = worker(a, ao_addr, want_a);
    let tb = worker(b, bo_addr, want_b);
    ta.join().expect("thread a");
    tb.join().expect("thread b");
    // SAFETY: library pointers; contexts first.
    unsafe {
        // Internal memory may not overlap IO memory of the same context.
        assert_eq!(rknn_set_internal_mem(a, ao), RKNN_ERR_PARAM_INVALID);
        let mut oa = query_attr(a, RKNN_QUERY_OUTPUT_ATTR, 0);
        oa.r#type = RKNN_TENSOR_FLOAT32;
        assert_eq!(rknn_set_io_mem(a, shared, &mut oa), RKNN_ERR_PARAM_INVALID);
        assert_eq!(rknn_destroy(a), RKNN_SUCC);
        // Destroyed while still set on b: b's runs refuse it.
        assert_eq!(rknn_destroy_mem(0, shared), RKNN_SUCC);
        assert_eq!(rknn_run(b, null_mut()), RKNN_ERR_FAIL);
        assert_eq!(rknn_destroy(b), RKNN_SUCC);
        for m in [ai, ao, bi, bo] {
            assert_eq!(rknn_destroy_mem(0, m), RKNN_SUCC);
        }
    }
}
