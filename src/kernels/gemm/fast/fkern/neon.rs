//! aarch64 NEON float micro-kernel: 8 × 8 tile, two q accumulators per
//! row, `fmla` by scalar.

use std::arch::aarch64::*;

use super::scalar;

/// Tile rows.
pub(crate) const MR: usize = 8;
/// Tile columns.
pub(crate) const NR: usize = 8;

/// Safe entry: checks lengths and the CPU, else the portable kernel.
pub(crate) fn run(rows: usize, kc: usize, a: &[f32], b: &[f32], out: &mut [f32]) {
    let ok = (1..=MR).contains(&rows)
        && a.len() >= kc * MR
        && b.len() >= kc * NR
        && out.len() >= MR * NR
        && crate::kernels::gemm::fast::isa::arm_neon();
    if !ok {
        return scalar::generic(MR, NR, rows, kc, a, b, out);
    }
    let (a, b, o) = (a.as_ptr(), b.as_ptr(), out.as_mut_ptr());
    // SAFETY: NEON is present; `a` holds kc·MR values, `b` kc·NR and
    // `out` MR·NR, which is all the kernel reads and writes.
    unsafe {
        match rows {
            1 => tile::<1>(kc, a, b, o),
            2 => tile::<2>(kc, a, b, o),
            3 => tile::<3>(kc, a, b, o),
            4 => tile::<4>(kc, a, b, o),
            5 => tile::<5>(kc, a, b, o),
            6 => tile::<6>(kc, a, b, o),
            7 => tile::<7>(kc, a, b, o),
            _ => tile::<8>(kc, a, b, o),
        }
    }
}

/// # Safety
/// NEON available; `a`: kc·MR, `b`: kc·NR, `out`: MR·NR values.
#[target_feature(enable = "neon")]
unsafe fn tile<const R: usize>(kc: usize, a: *const f32, b: *const f32, out: *mut f32) {
    // SAFETY: the caller upholds the contract in `# Safety`.
    unsafe {
        let mut c0 = [vdupq_n_f32(0.0); R];
        let mut c1 = [vdupq_n_f32(0.0); R];
        for p in 0..kc {
            let bp = b.add(p * NR);
            let b0 = vld1q_f32(bp);
            let b1 = vld1q_f32(bp.add(4));
            let ap = a.add(p * MR);
            for i in 0..R {
                let av = *ap.add(i);
                c0[i] = vfmaq_n_f32(c0[i], b0, av);
                c1[i] = vfmaq_n_f32(c1[i], b1, av);
            }
        }
        for i in 0..R {
            vst1q_f32(out.add(i * NR), c0[i]);
            vst1q_f32(out.add(i * NR + 4), c1[i]);
        }
    }
}
