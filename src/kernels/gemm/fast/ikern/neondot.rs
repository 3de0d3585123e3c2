//! aarch64 dot-product int8 micro-kernel: 8 × 8 tile, `sdot` of a
//! broadcast group of four A values with four columns of B.

use std::arch::aarch64::*;

use super::scalar;

/// Tile rows.
pub(crate) const MR: usize = 8;
/// Tile columns.
pub(crate) const NR: usize = 8;

/// Safe entry: checks lengths and the CPU, else the portable kernel.
pub(crate) fn run(rows: usize, kq: usize, a: &[u8], b: &[i8], out: &mut [i32]) {
    let ok = (1..=MR).contains(&rows)
        && a.len() >= kq * MR * 4
        && b.len() >= kq * NR * 4
        && out.len() >= MR * NR
        && crate::kernels::gemm::fast::isa::arm_dot();
    if !ok {
        return scalar::generic(MR, NR, rows, kq, a, b, out, 0);
    }
    let (a, b, o) = (a.as_ptr(), b.as_ptr(), out.as_mut_ptr());
    // SAFETY: NEON and dotprod are present; `a` holds kq·MR·4 bytes, `b`
    // kq·NR·4 and `out` MR·NR values, which is all the kernel touches.
    unsafe {
        match rows {
            1 => tile::<1>(kq, a, b, o),
            2 => tile::<2>(kq, a, b, o),
            3 => tile::<3>(kq, a, b, o),
            4 => tile::<4>(kq, a, b, o),
            5 => tile::<5>(kq, a, b, o),
            6 => tile::<6>(kq, a, b, o),
            7 => tile::<7>(kq, a, b, o),
            _ => tile::<8>(kq, a, b, o),
        }
    }
}

/// # Safety
/// NEON and dotprod available; `a`: kq·MR·4 bytes, `b`: kq·NR·4 bytes,
/// `out`: MR·NR values.
#[target_feature(enable = "neon,dotprod")]
unsafe fn tile<const R: usize>(kq: usize, a: *const u8, b: *const i8, out: *mut i32) {
    // SAFETY: the caller upholds the contract in `# Safety`.
    unsafe {
        let mut c0 = [vdupq_n_s32(0); R];
        let mut c1 = [vdupq_n_s32(0); R];
        for q in 0..kq {
            let bp = b.add(q * NR * 4);
            let b0 = vld1q_s8(bp);
            let b1 = vld1q_s8(bp.add(16));
            let ap = a.add(q * MR * 4);
            for i in 0..R {
                let av = vreinterpretq_s8_s32(vdupq_n_s32(
                    (ap.add(i * 4) as *const i32).read_unaligned(),
                ));
                c0[i] = sdot(c0[i], b0, av);
                c1[i] = sdot(c1[i], b1, av);
            }
        }
        for i in 0..R {
            vst1q_s32(out.add(i * NR), c0[i]);
            vst1q_s32(out.add(i * NR + 4), c1[i]);
        }
    }
}

/// `acc + sdot(b, a)`: per 32-bit lane, the dot product of four int8
/// pairs (the `vdotq_s32` intrinsic is not stable yet).
///
/// # Safety
/// The dot-product extension must be available.
#[inline]
#[target_feature(enable = "neon,dotprod")]
unsafe fn sdot(acc: int32x4_t, b: int8x16_t, a: int8x16_t) -> int32x4_t {
    let mut acc = acc;
    // SAFETY: register-only instruction, available per the contract.
    unsafe {
        std::arch::asm!(
            "sdot {acc:v}.4s, {b:v}.16b, {a:v}.16b",
            acc = inout(vreg) acc,
            b = in(vreg) b,
            a = in(vreg) a,
            options(pure, nomem, nostack),
        );
    }
    acc
}
