//! Helpers shared by the end-to-end tests: running a `.rknn` through the
//! C API (`rknnrt::capi::general`), reading `.npy` fixtures, comparing
//! outputs.

#![allow(dead_code)]

use std::ffi::{c_void, CString};
use std::path::{Path, PathBuf};
use std::ptr::null_mut;

use rknnrt::abi::*;
use rknnrt::capi::general::*;
use rknnrt::graph::DType;

/// The repository root (the toolchain crate's parent).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("toolchain/ has a parent")
        .to_path_buf()
}

/// `../shared/fixtures/vendor` from the repository root.
pub fn vendor_fixtures() -> PathBuf {
    let dir = repo_root().join("../shared/fixtures/vendor");
    assert!(
        dir.join("MANIFEST.json").is_file(),
        "vendor fixtures not found at {} (the shared folder next to the repository)",
        dir.display()
    );
    dir
}

/// A float32 `.npy` file: shape and values (C order).
#[derive(Clone, Debug, PartialEq)]
pub struct Npy {
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Values.
    pub data: Vec<f32>,
}

/// Reads a little-endian float32, C-order `.npy` (format 1.x or 2.x).
pub fn read_npy(path: &Path) -> Npy {
    let bytes =
        std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    parse_npy(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Parses `.npy` bytes holding `<f4` data.
pub fn parse_npy(bytes: &[u8]) -> Result<Npy, String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("not an NPY file".into());
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(format!("unsupported NPY version {v}")),
    };
    let header = bytes
        .get(start..start + header_len)
        .ok_or("truncated header")?;
    let header = std::str::from_utf8(header).map_err(|_| "header is not UTF-8")?;
    let field = |key: &str| -> Result<&str, String> {
        let at = header
            .find(&format!("'{key}'"))
            .ok_or(format!("no '{key}' in header"))?;
        let rest = &header[at + key.len() + 2..];
        Ok(rest.trim_start().trim_start_matches(':').trim_start())
    };
    if !field("descr")?.starts_with("'<f4'") {
        return Err(format!("only '<f4' data is supported: {header}"));
    }
    if !field("fortran_order")?.starts_with("False") {
        return Err("only C-order arrays are supported".into());
    }
    let shape_text = field("shape")?;
    let close = shape_text.find(')').ok_or("malformed shape")?;
    let shape = shape_text[1..close]
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|e| format!("shape: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let elems: usize = shape.iter().product();
    let body = &bytes[start + header_len..];
    if body.len() != elems * 4 {
        return Err(format!(
            "{} data bytes for shape {shape:?} ({elems} floats)",
            body.len()
        ));
    }
    let data = body
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok(Npy { shape, data })
}

/// One input for [`Session::set_inputs`].
#[derive(Clone, Debug)]
pub enum Input {
    /// Float32 data in the model's order (NCHW for 4-D tensors).
    F32(Vec<f32>),
    /// Int64 data (index inputs), passed in the model's own type.
    I64(Vec<i64>),
}

/// A context created from model bytes; destroyed on drop.
pub struct Session {
    ctx: rknn_context,
    n_inputs: u32,
    n_outputs: u32,
    input_ranks: Vec<u32>,
}

fn zeroed<T: Default>() -> T {
    T::default()
}

impl Session {
    /// `rknn_init` on `model` (copied by the runtime), then the IO counts
    /// and input ranks.
    pub fn new(model: &[u8]) -> Result<Session, i32> {
        let mut ctx: rknn_context = 0;
        // SAFETY: valid pointers; `model` outlives the call, which copies it.
        let r = unsafe {
            rknn_init(
                &mut ctx,
                model.as_ptr() as *mut c_void,
                model.len() as u32,
                0,
                null_mut(),
            )
        };
        Session::created(ctx, r)
    }

    /// `rknn_init` on the model file at `path` (`size = 0`: the runtime
    /// maps the file).
    pub fn from_path(path: &Path) -> Result<Session, i32> {
        let c_path = CString::new(path.as_os_str().as_encoded_bytes()).expect("path without NUL");
        let mut ctx: rknn_context = 0;
        // SAFETY: `c_path` is NUL-terminated and outlives the call; size 0
        // makes rknn_init read it as a path.
        let r = unsafe { rknn_init(&mut ctx, c_path.as_ptr() as *mut c_void, 0, 0, null_mut()) };
        Session::created(ctx, r)
    }

    fn created(ctx: rknn_context, r: i32) -> Result<Session, i32> {
        if r != RKNN_SUCC {
            return Err(r);
        }
        let mut s = Session {
            ctx,
            n_inputs: 0,
            n_outputs: 0,
            input_ranks: Vec::new(),
        };
        let mut n: rknn_input_output_num = zeroed();
        // SAFETY: `n` is a writable struct of the size given.
        let r = unsafe {
            rknn_query(
                ctx,
                RKNN_QUERY_IN_OUT_NUM,
                &mut n as *mut _ as *mut c_void,
                std::mem::size_of_val(&n) as u32,
            )
        };
        if r != RKNN_SUCC {
            return Err(r);
        }
        s.n_inputs = n.n_input;
        s.n_outputs = n.n_output;
        for i in 0..n.n_input {
            s.input_ranks.push(s.attr(RKNN_QUERY_INPUT_ATTR, i)?.n_dims);
        }
        Ok(s)
    }

    /// The raw handle.
    pub fn ctx(&self) -> rknn_context {
        self.ctx
    }

    /// Number of outputs.
    pub fn n_outputs(&self) -> usize {
        self.n_outputs as usize
    }

    /// An attribute query (`cmd` is one of the *_ATTR queries).
    pub fn attr(&self, cmd: rknn_query_cmd, index: u32) -> Result<rknn_tensor_attr, i32> {
        let mut a: rknn_tensor_attr = zeroed();
        a.index = index;
        // SAFETY: `a` is a writable rknn_tensor_attr of the size given.
        let r = unsafe {
            rknn_query(
                self.ctx,
                cmd,
                &mut a as *mut _ as *mut c_void,
                std::mem::size_of_val(&a) as u32,
            )
        };
        if r == RKNN_SUCC {
            Ok(a)
        } else {
            Err(r)
        }
    }

    /// `rknn_inputs_set` with one entry per model input: float32 data in
    /// NCHW (4-D) or model order (other ranks), int64 in the model's type.
    pub fn set_inputs(&self, inputs: &mut [Input]) -> Result<(), i32> {
        assert_eq!(inputs.len(), self.n_inputs as usize, "input count");
        let mut list: Vec<rknn_input> = inputs
            .iter_mut()
            .enumerate()
            .map(|(i, inp)| {
                let mut r: rknn_input = zeroed();
                r.index = i as u32;
                r.fmt = if self.input_ranks[i] == 4 {
                    RKNN_TENSOR_NCHW
                } else {
                    RKNN_TENSOR_UNDEFINED
                };
                match inp {
                    Input::F32(v) => {
                        r.buf = v.as_mut_ptr().cast();
                        r.size = (v.len() * 4) as u32;
                        r.r#type = RKNN_TENSOR_FLOAT32;
                    }
                    Input::I64(v) => {
                        r.buf = v.as_mut_ptr().cast();
                        r.size = (v.len() * 8) as u32;
                        r.r#type = DType::I64.to_rknn();
                    }
                }
                r
            })
            .collect();
        // SAFETY: every entry points into `inputs`, alive for the call.
        let r = unsafe { rknn_inputs_set(self.ctx, list.len() as u32, list.as_mut_ptr()) };
        if r == RKNN_SUCC {
            Ok(())
        } else {
            Err(r)
        }
    }

    /// `rknn_run`.
    pub fn run(&self) -> Result<(), i32> {
        // SAFETY: valid context, no extend struct.
        let r = unsafe { rknn_run(self.ctx, null_mut()) };
        if r == RKNN_SUCC {
            Ok(())
        } else {
            Err(r)
        }
    }

    /// Every output as float32 (`want_float = 1`, NCHW for 4-D).
    pub fn outputs_f32(&self) -> Result<Vec<Vec<f32>>, i32> {
        let mut outs: Vec<rknn_output> = (0..self.n_outputs)
            .map(|i| {
                let mut o: rknn_output = zeroed();
                o.index = i;
                o.want_float = 1;
                o
            })
            .collect();
        // SAFETY: `outs` holds n_outputs writable structs.
        let r =
            unsafe { rknn_outputs_get(self.ctx, self.n_outputs, outs.as_mut_ptr(), null_mut()) };
        if r != RKNN_SUCC {
            return Err(r);
        }
        let values = outs
            .iter()
            .map(|o| {
                // SAFETY: the runtime lent `size` bytes of f32 at `buf`
                // until rknn_outputs_release.
                unsafe { std::slice::from_raw_parts(o.buf as *const f32, o.size as usize / 4) }
                    .to_vec()
            })
            .collect();
        // SAFETY: releasing exactly the buffers lent above.
        let r = unsafe { rknn_outputs_release(self.ctx, self.n_outputs, outs.as_mut_ptr()) };
        assert_eq!(r, RKNN_SUCC, "rknn_outputs_release");
        Ok(values)
    }

    /// Sets the inputs, runs, returns every output as float32.
    pub fn infer(&self, inputs: &mut [Input]) -> Result<Vec<Vec<f32>>, i32> {
        self.set_inputs(inputs)?;
        self.run()?;
        self.outputs_f32()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let r = rknn_destroy(self.ctx);
        assert_eq!(r, RKNN_SUCC, "rknn_destroy");
    }
}

/// Runs `model` once on float32 inputs and returns its float32 outputs;
/// panics with the C API error code on failure.
pub fn run_f32(model: &[u8], inputs: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let s = Session::new(model).unwrap_or_else(|e| panic!("rknn_init failed: {e}"));
    let mut inputs: Vec<Input> = inputs.iter().cloned().map(Input::F32).collect();
    s.infer(&mut inputs)
        .unwrap_or_else(|e| panic!("inference failed: {e}"))
}

/// Cosine similarity of two equally long vectors (1 for two zero vectors).
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "cosine of different lengths");
    let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x as f64, y as f64);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 && bb == 0.0 {
        return 1.0;
    }
    ab / (aa.sqrt() * bb.sqrt()).max(f64::MIN_POSITIVE)
}

/// Largest absolute difference.
pub fn max_abs_err(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "max_abs_err of different lengths");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// `max - min` of the values (1 when they are all equal).
pub fn value_range(v: &[f32]) -> f32 {
    let lo = v.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if hi > lo {
        hi - lo
    } else {
        1.0
    }
}

/// Deterministic pseudo-random values in `[lo, hi)` (xorshift32).
pub fn values(n: usize, seed: u32, lo: f32, hi: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9e37_79b9).wrapping_add(0x7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            lo + (hi - lo) * ((s >> 8) as f32 / (1u32 << 24) as f32)
        })
        .collect()
}
