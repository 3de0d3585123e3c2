//! Layer dumps (`RKNN_LOG_LEVEL=5`, `runtime::dump`) of a model made by
//! this project's own tools, run by the CPU executor: one `.npy` per node
//! output, float32 or (`RKNN_DUMP_QUANT=1`) the tensor's own type, equal to
//! what `rknn_outputs_get` returns for the model output. Vendor models'
//! dumps are tested in `vendor_run.rs`. The log level is read once per
//! process, so the run happens in a child process.

mod common;
mod cross;

use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::ptr::null_mut;

use rknnrt::abi::*;
use rknnrt::capi::general::*;
use rknnrt::npy::NpyArray;

/// Runs the int8 conv model of `tests/common` on a fixed input; returns
/// its output as float32 (want_float) and as int8.
fn run_model() -> (Vec<f32>, Vec<u8>) {
    let mut model = common::int8_conv_model();
    let mut ctx: rknn_context = 0;
    // SAFETY: valid model bytes and out pointer.
    let r = unsafe {
        rknn_init(
            &mut ctx,
            model.as_mut_ptr() as *mut c_void,
            model.len() as u32,
            0,
            null_mut(),
        )
    };
    assert_eq!(r, RKNN_SUCC);
    let mut x: Vec<f32> = (0..18).map(|i| i as f32 * 3.0 - 20.0).collect();
    let mut input = rknn_input {
        index: 0,
        buf: x.as_mut_ptr().cast(),
        size: 72,
        pass_through: 0,
        r#type: RKNN_TENSOR_FLOAT32,
        fmt: RKNN_TENSOR_NCHW,
    };
    // SAFETY: the input points at 72 readable bytes.
    assert_eq!(unsafe { rknn_inputs_set(ctx, 1, &mut input) }, RKNN_SUCC);
    // SAFETY: no extend struct.
    assert_eq!(unsafe { rknn_run(ctx, null_mut()) }, RKNN_SUCC);
    let get = |want_float: u8| {
        // SAFETY: all-zero is a valid rknn_output.
        let mut o: rknn_output = unsafe { std::mem::zeroed() };
        o.want_float = want_float;
        // SAFETY: one output struct; the runtime allocates the buffer.
        assert_eq!(
            unsafe { rknn_outputs_get(ctx, 1, &mut o, null_mut()) },
            RKNN_SUCC
        );
        // SAFETY: the buffer holds `size` bytes until released.
        let v = unsafe { std::slice::from_raw_parts(o.buf as *const u8, o.size as usize) }.to_vec();
        // SAFETY: the struct rknn_outputs_get filled.
        assert_eq!(unsafe { rknn_outputs_release(ctx, 1, &mut o) }, RKNN_SUCC);
        v
    };
    let f = get(1)
        .chunks_exact(4)
        .map(|c| f32::from_ne_bytes(c.try_into().unwrap()))
        .collect();
    let q = get(0);
    assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
    (f, q)
}

/// Child half: runs the model under the parent's environment.
#[test]
fn dump_child() {
    if std::env::var_os("RKNNRT_DUMP_CHILD").is_some() {
        run_model();
    }
}

fn dumps(quant: bool) -> (PathBuf, Vec<String>) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("layer_dumps_{}_{quant}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = cross::command(std::env::current_exe().unwrap())
        .args(["--exact", "dump_child", "--nocapture", "--test-threads=1"])
        .env("RKNNRT_DUMP_CHILD", "1")
        .env("RKNN_LOG_LEVEL", "5")
        .env("RKNN_DUMP_DIR", &dir)
        .env("RKNN_DUMP_QUANT", if quant { "1" } else { "0" })
        .env("RKNNRT_DEVICE", "host")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    (dir, files)
}

#[test]
fn every_node_output_is_dumped_in_float_or_its_own_type() {
    let (want_f, want_q) = run_model();
    let (dir, files) = dumps(false);
    assert_eq!(
        files,
        vec!["000_Conv_y_shape_1_2_3_3_float.npy".to_string()]
    );
    let a = NpyArray::read(&dir.join(&files[0])).unwrap();
    assert_eq!((a.shape.clone(), a.to_f32()), (vec![1, 2, 3, 3], want_f));
    let _ = std::fs::remove_dir_all(&dir);
    let (dir, files) = dumps(true);
    assert_eq!(files, vec!["000_Conv_y_shape_1_2_3_3_int8.npy".to_string()]);
    let a = NpyArray::read(&dir.join(&files[0])).unwrap();
    assert_eq!(a.bytes, want_q);
    let _ = std::fs::remove_dir_all(&dir);
}
