//! aarch64 NEON int8 micro-kernel without the dot-product extension:
//! 4 × 8 tile, `smull` of int8 pairs into exact int16 products and
//! `sadalp` into int32 pair sums, folded with `addp` at the end.

use std::arch::aarch64::*;

use super::scalar;

/// Tile rows.
pub(crate) const MR: usize = 4;
/// Tile columns.
pub(crate) const NR: usize = 8;

/// Safe entry: checks lengths and the CPU, else the portable kernel.
pub(crate) fn run(rows: usize, kq: usize, a: &[u8], b: &[i8], out: &mut [i32]) {
    let ok = (1..=MR).contains(&rows)
        && a.len() >= kq * MR * 4
        && b.len() >= kq * NR * 4
        && out.len() >= MR * NR
        && crate::kernels::gemm::fast::isa::arm_neon();
    if !ok {
        return scalar::generic(MR, NR, rows, kq, a, b, out, 0);
    }
    let (a, b, o) = (a.as_ptr(), b.as_ptr(), out.as_mut_ptr());
    // SAFETY: NEON is present; `a` holds kq·MR·4 bytes, `b` kq·NR·4 and
    // `out` MR·NR values, which is all the kernel touches.
    unsafe {
        match rows {
            1 => tile::<1>(kq, a, b, o),
            2 => tile::<2>(kq, a, b, o),
            3 => tile::<3>(kq, a, b, o),
            _ => tile::<4>(kq, a, b, o),
        }
    }
}

/// # Safety
/// NEON available; `a`: kq·MR·4 bytes, `b`: kq·NR·4 bytes, `out`: MR·NR
/// values.
#[target_feature(enable = "neon")]
unsafe fn tile<const R: usize>(kq: usize, a: *const u8, b: *const i8, out: *mut i32) {
    // SAFETY: the caller upholds the contract in `# Safety`.
    unsafe {
        // acc[i][g]: columns 2g, 2g+1, each as two partial sums.
        let mut acc = [[vdupq_n_s32(0); 4]; R];
        for q in 0..kq {
            let bp = b.add(q * NR * 4);
            let b0 = vld1q_s8(bp);
            let b1 = vld1q_s8(bp.add(16));
            let ap = a.add(q * MR * 4);
            for (i, row) in acc.iter_mut().enumerate() {
                let av = vreinterpretq_s8_s32(vdupq_n_s32(
                    (ap.add(i * 4) as *const i32).read_unaligned(),
                ));
                let a8 = vget_low_s8(av);
                row[0] = vpadalq_s16(row[0], vmull_s8(vget_low_s8(b0), a8));
                row[1] = vpadalq_s16(row[1], vmull_high_s8(b0, av));
                row[2] = vpadalq_s16(row[2], vmull_s8(vget_low_s8(b1), a8));
                row[3] = vpadalq_s16(row[3], vmull_high_s8(b1, av));
            }
        }
        for (i, row) in acc.iter().enumerate() {
            vst1q_s32(out.add(i * NR), vpaddq_s32(row[0], row[1]));
            vst1q_s32(out.add(i * NR + 4), vpaddq_s32(row[2], row[3]));
        }
    }
}
