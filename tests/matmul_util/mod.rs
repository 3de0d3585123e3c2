//! Helpers of the matmul tests: the platform switch, data generation,
//! the vendor guide's reference packings (written from the guide's
//! formulas, independent of `src/matmul`) and a naive reference matmul.

#![allow(dead_code)]

use std::sync::{Mutex, MutexGuard};

use rknnrt::abi::*;
use rknnrt::capi::matmul::*;
use rknnrt::capi::zero_copy::{rknn_create_mem, rknn_destroy_mem};

/// Serializes the tests that set `RKNNRT_PLATFORM` (read at create time).
pub fn platform_lock(platform: &str) -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    let g = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    std::env::set_var("RKNNRT_PLATFORM", platform);
    std::env::set_var("RKNNRT_DEVICE", "host");
    g
}

/// Every platform name.
pub const PLATFORMS: [&str; 5] = ["rk3588", "rk3576", "rk3566", "rk3568", "rk3562"];

/// Rows of K per B segment on `platform`.
pub fn segment(platform: &str) -> usize {
    match platform {
        "rk3588" => 8192,
        "rk3576" => 4096,
        _ => usize::MAX,
    }
}

/// xorshift64* test data.
pub struct Rng(u64);

impl Rng {
    /// A generator.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    /// 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Integer in lo..=hi.
    pub fn int(&mut self, lo: i32, hi: i32) -> i32 {
        lo + (self.next() % ((hi - lo + 1) as u64)) as i32
    }
    /// f32 in [lo, hi).
    pub fn float(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * ((self.next() >> 40) as f32 / (1u64 << 24) as f32)
    }
}

/// Element kinds as the tests see them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum E {
    F16,
    Bf16,
    F32,
    I4,
    I8,
    I16,
    I32,
}

impl E {
    /// From an `rknn_tensor_type`.
    pub fn of(t: rknn_tensor_type) -> E {
        match t {
            RKNN_TENSOR_FLOAT16 => E::F16,
            RKNN_TENSOR_BFLOAT16 => E::Bf16,
            RKNN_TENSOR_FLOAT32 => E::F32,
            RKNN_TENSOR_INT4 => E::I4,
            RKNN_TENSOR_INT8 => E::I8,
            RKNN_TENSOR_INT16 => E::I16,
            RKNN_TENSOR_INT32 => E::I32,
            other => panic!("unexpected tensor type {other}"),
        }
    }
    /// Bytes of `n` elements.
    pub fn bytes(self, n: usize) -> usize {
        match self {
            E::I4 => n.div_ceil(2),
            E::I8 => n,
            E::F16 | E::Bf16 | E::I16 => 2 * n,
            E::F32 | E::I32 => 4 * n,
        }
    }
}

/// A matrix as raw element bit patterns plus its real values.
#[derive(Clone, Debug)]
pub struct Mat {
    /// Bit patterns (int4: the low nibble).
    pub raw: Vec<u32>,
    /// Values (integers as f64 for integer types).
    pub val: Vec<f64>,
}

/// Random `n` elements of `e`.
pub fn random(rng: &mut Rng, e: E, n: usize) -> Mat {
    let mut raw = Vec::with_capacity(n);
    let mut val = Vec::with_capacity(n);
    for _ in 0..n {
        match e {
            E::F16 => {
                let h = half::f16::from_f32(rng.float(-1.0, 1.0));
                raw.push(u32::from(h.to_bits()));
                val.push(f64::from(h.to_f32()));
            }
            E::I8 => {
                let v = rng.int(-128, 127);
                raw.push(v as u8 as u32);
                val.push(f64::from(v));
            }
            E::I4 => {
                let v = rng.int(-8, 7);
                raw.push((v as u32) & 0xf);
                val.push(f64::from(v));
            }
            other => panic!("no random input of {other:?}"),
        }
    }
    Mat { raw, val }
}

/// Serializes raw elements (int4: even index in the low nibble).
pub fn to_bytes(e: E, raw: &[u32]) -> Vec<u8> {
    let mut out = vec![0u8; e.bytes(raw.len())];
    for (i, &v) in raw.iter().enumerate() {
        match e {
            E::I4 => out[i / 2] |= ((v & 0xf) as u8) << (4 * (i % 2)),
            E::I8 => out[i] = v as u8,
            E::F16 | E::Bf16 | E::I16 => {
                out[2 * i..2 * i + 2].copy_from_slice(&(v as u16).to_le_bytes())
            }
            E::F32 | E::I32 => out[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes()),
        }
    }
    out
}

/// Reads raw element `i`.
pub fn raw_at(e: E, bytes: &[u8], i: usize) -> u32 {
    match e {
        E::I4 => u32::from((bytes[i / 2] >> (4 * (i % 2))) & 0xf),
        E::I8 => u32::from(bytes[i]),
        E::F16 | E::Bf16 | E::I16 => {
            u32::from(u16::from_le_bytes([bytes[2 * i], bytes[2 * i + 1]]))
        }
        E::F32 | E::I32 => u32::from_le_bytes(bytes[4 * i..4 * i + 4].try_into().unwrap()),
    }
}

/// The value of a raw C element.
pub fn value_of(e: E, raw: u32) -> f64 {
    match e {
        E::F16 => f64::from(half::f16::from_bits(raw as u16).to_f32()),
        E::Bf16 => f64::from(half::bf16::from_bits(raw as u16).to_f32()),
        E::F32 => f64::from(f32::from_bits(raw)),
        E::I8 => f64::from(raw as u8 as i8),
        E::I16 => f64::from(raw as u16 as i16),
        E::I32 => f64::from(raw as i32),
        E::I4 => f64::from(((raw as u8) << 4) as i8 >> 4),
    }
}

/// Guide 3.5.4: A or C from [rows, cols] to [ceil(cols/sub), rows, sub],
/// padding with zeros.
pub fn norm_to_perf(src: &[u32], rows: usize, cols: usize, sub: usize) -> Vec<u32> {
    let outer = cols.div_ceil(sub);
    let mut dst = vec![0u32; outer * rows * sub];
    for i in 0..outer {
        for m in 0..rows {
            for j in 0..sub {
                let ki = i * sub + j;
                if ki < cols {
                    dst[i * rows * sub + m * sub + j] = src[m * cols + ki];
                }
            }
        }
    }
    dst
}

/// The inverse of [`norm_to_perf`].
pub fn perf_to_norm(src: &[u32], rows: usize, cols: usize, sub: usize) -> Vec<u32> {
    let mut dst = vec![0u32; rows * cols];
    for m in 0..rows {
        for c in 0..cols {
            dst[m * cols + c] = src[(c / sub) * rows * sub + m * sub + c % sub];
        }
    }
    dst
}

/// Guide 3.5.4: B from [K, N] to [N/subN, K/subK, subN, subK], one
/// segment.
fn b_native_one(src: &[u32], k: usize, n: usize, sub_n: usize, sub_k: usize) -> Vec<u32> {
    let n_rem = n.div_ceil(sub_n);
    let k_rem = k.div_ceil(sub_k);
    let mut dst = vec![0u32; n_rem * k_rem * sub_n * sub_k];
    for i in 0..n_rem {
        for j in 0..k_rem {
            for nn in 0..sub_n {
                let ni = i * sub_n + nn;
                for kk in 0..sub_k {
                    let ki = j * sub_k + kk;
                    if ki < k && ni < n {
                        dst[((i * k_rem + j) * sub_n + nn) * sub_k + kk] = src[ki * n + ni];
                    }
                }
            }
        }
    }
    dst
}

/// Guide 3.5.4.1: B native with K split into segments of `seg` rows,
/// each converted separately, concatenated.
pub fn b_native(
    src: &[u32],
    k: usize,
    n: usize,
    sub_n: usize,
    sub_k: usize,
    seg: usize,
) -> Vec<u32> {
    let mut out = Vec::new();
    let mut k0 = 0;
    while k0 < k {
        let kt = seg.min(k - k0);
        out.extend(b_native_one(
            &src[k0 * n..(k0 + kt) * n],
            kt,
            n,
            sub_n,
            sub_k,
        ));
        k0 += kt;
    }
    out
}

/// [K, N] to [N, K].
pub fn transpose(src: &[u32], k: usize, n: usize) -> Vec<u32> {
    let mut dst = vec![0u32; k * n];
    for r in 0..k {
        for c in 0..n {
            dst[c * k + r] = src[r * n + c];
        }
    }
    dst
}

/// One matmul set up through the C API.
pub struct Session {
    pub ctx: rknn_matmul_ctx,
    pub io: rknn_matmul_io_attr,
    pub mems: Vec<*mut rknn_tensor_mem>,
}

impl Session {
    /// Creates a context; `Err(code)` on failure.
    pub fn create(info: &mut rknn_matmul_info) -> Result<Session, i32> {
        let mut ctx: rknn_matmul_ctx = 0;
        let mut io = rknn_matmul_io_attr::default();
        // SAFETY: valid pointers.
        let r = unsafe { rknn_matmul_create(&mut ctx, info, &mut io) };
        if r != RKNN_SUCC {
            return Err(r);
        }
        Ok(Session {
            ctx,
            io,
            mems: Vec::new(),
        })
    }

    /// Allocates memory on the context and fills it with `bytes`.
    pub fn mem(&mut self, size: usize, bytes: &[u8]) -> *mut rknn_tensor_mem {
        // SAFETY: a live context; the memory is `size` bytes.
        unsafe {
            let m = rknn_create_mem(self.ctx, size as u32);
            assert!(!m.is_null(), "rknn_create_mem({size})");
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                (*m).virt_addr.cast::<u8>(),
                bytes.len().min(size),
            );
            self.mems.push(m);
            m
        }
    }

    /// Sets memory for the operand `attr` names.
    pub fn set(&mut self, mem: *mut rknn_tensor_mem, which: char) -> i32 {
        let mut attr = match which {
            'A' => self.io.A,
            'B' => self.io.B,
            _ => self.io.C,
        };
        // SAFETY: valid pointers.
        unsafe { rknn_matmul_set_io_mem(self.ctx, mem, &mut attr) }
    }

    /// Sets quant params for `name`.
    pub fn quant(&mut self, name: &str, scale: &[f32], zp: &[i32]) -> i32 {
        let mut p = rknn_quant_params::default();
        for (d, c) in p.name.iter_mut().zip(name.bytes()) {
            *d = c as core::ffi::c_char;
        }
        let mut s = scale.to_vec();
        let mut z = zp.to_vec();
        p.scale = if s.is_empty() {
            std::ptr::null_mut()
        } else {
            s.as_mut_ptr()
        };
        p.scale_len = s.len() as i32;
        p.zp = if z.is_empty() {
            std::ptr::null_mut()
        } else {
            z.as_mut_ptr()
        };
        p.zp_len = z.len() as i32;
        // SAFETY: valid pointers and lengths.
        unsafe { rknn_matmul_set_quant_params(self.ctx, &mut p) }
    }

    /// Runs.
    pub fn run(&self) -> i32 {
        // SAFETY: takes no pointers.
        unsafe { rknn_matmul_run(self.ctx) }
    }

    /// The bytes of memory `m`.
    pub fn bytes(m: *mut rknn_tensor_mem) -> Vec<u8> {
        // SAFETY: `m` is live memory of `size` bytes.
        unsafe {
            std::slice::from_raw_parts((*m).virt_addr.cast::<u8>(), (*m).size as usize).to_vec()
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // SAFETY: the context and memory are live; the context goes first
        // so the memory is no longer set.
        unsafe {
            assert_eq!(rknn_matmul_destroy(self.ctx), RKNN_SUCC);
            for &m in &self.mems {
                assert_eq!(rknn_destroy_mem(self.ctx, m), RKNN_SUCC);
            }
        }
    }
}

/// Element types of A, B and C of a matmul type.
pub fn elems(ty: u32) -> (E, E, E) {
    match ty {
        1 => (E::F16, E::F16, E::F32),
        2 => (E::I8, E::I8, E::I32),
        3 => (E::I8, E::I8, E::I8),
        4 => (E::F16, E::F16, E::F16),
        5 => (E::F16, E::I8, E::F32),
        6 => (E::F16, E::I8, E::F16),
        7 => (E::F16, E::I4, E::F32),
        8 => (E::F16, E::I4, E::F16),
        9 => (E::I8, E::I8, E::F32),
        10 => (E::I4, E::I4, E::I16),
        11 => (E::I8, E::I4, E::I32),
        12 => (E::F16, E::I4, E::Bf16),
        15 => (E::I8, E::I4, E::F16),
        _ => panic!("type {ty}"),
    }
}

/// Quantization used by a reference computation.
#[derive(Clone, Debug)]
pub struct Q {
    pub sa: f32,
    pub za: i32,
    /// B scales/zps per (group, column): index `n * groups + g`.
    pub sb: Vec<f32>,
    pub zb: Vec<i32>,
    pub groups: usize,
    pub sc: f32,
    pub zc: i32,
}

impl Q {
    /// Per-layer parameters.
    pub fn per_layer(sa: f32, za: i32, sb: f32, zb: i32, sc: f32, zc: i32) -> Q {
        Q {
            sa,
            za,
            sb: vec![sb],
            zb: vec![zb],
            groups: 1,
            sc,
            zc,
        }
    }
    fn b_at(&self, k: usize, n: usize, kk: usize) -> (f32, i32) {
        let g = k / (kk / self.groups);
        let i = if self.sb.len() == 1 {
            0
        } else {
            n * self.groups + g
        };
        (self.sb[i], self.zb[i])
    }
}

/// The expected C values (normal layout) of a matmul type, and the
/// tolerance of each: 0 for integer C.
pub fn reference(
    ty: u32,
    m: usize,
    k: usize,
    n: usize,
    a: &Mat,
    b: &Mat,
    q: &Q,
) -> (Vec<f64>, f64) {
    let (ea, _, ec) = elems(ty);
    let mut out = vec![0f64; m * n];
    for i in 0..m {
        for j in 0..n {
            if ea == E::F16 {
                let mut s = 0f64;
                for p in 0..k {
                    let bv = b.val[p * n + j];
                    let bv = if elems(ty).1 == E::F16 {
                        bv
                    } else {
                        let (sb, zb) = q.b_at(p, j, k);
                        f64::from((bv as i32 - zb) as f32 * sb)
                    };
                    s += a.val[i * k + p] * bv;
                }
                out[i * n + j] = s;
            } else {
                // Integer A: exact accumulator (per-layer B), then C's stage.
                let mut acc: i64 = 0;
                let (sb, zb) = q.b_at(0, j, k);
                for p in 0..k {
                    acc += (a.val[i * k + p] as i64 - q.za as i64)
                        * (b.val[p * n + j] as i64 - zb as i64);
                }
                out[i * n + j] = match ec {
                    E::I32 => acc as f64,
                    E::I16 => acc.clamp(i16::MIN as i64, i16::MAX as i64) as f64,
                    E::I8 => {
                        let mult = q.sa * sb / q.sc;
                        // The project's one rounding rule.
                        rknnrt::kernels::quant::round((acc as i32) as f32 * mult)
                            .clamp(-128.0 - q.zc as f32, 127.0 - q.zc as f32)
                            as f64
                            + q.zc as f64
                    }
                    _ => acc as f64 * f64::from(q.sa) * f64::from(sb),
                };
            }
        }
    }
    let tol = match ec {
        E::F16 => 1.0 / 1024.0,
        E::Bf16 => 1.0 / 128.0,
        E::F32 => 1e-5,
        _ => 0.0,
    };
    (out, tol)
}

/// Compares results: exact for integers, else relative `tol` of the
/// value plus an accumulation allowance.
pub fn check(got: &[f64], want: &[f64], tol: f64, k: usize, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(0f64, |m, v| m.max(v.abs())).max(1.0);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        if tol == 0.0 {
            assert_eq!(g, w, "{what}: element {i}");
        } else {
            let allow = tol * w.abs() + 1e-6 * (k as f64) * scale + tol * 1e-3;
            assert!(
                (g - w).abs() <= allow,
                "{what}: element {i}: got {g}, want {w}"
            );
        }
    }
}
