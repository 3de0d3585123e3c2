//! NPU cores as the host device sees them: which core masks and batch
//! core numbers a platform accepts, and how many CPU worker threads a
//! context's kernels use for a mask (`docs/multicore.md`).
//!
//! On the host device a core mask is a thread budget: a context whose mask
//! selects `n` cores runs its GEMM-based kernels (Conv, ConvTranspose,
//! Gemm, MatMul) on up to `n` threads, never more than the machine has.
//! `RKNN_NPU_CORE_AUTO` — the vendor's "one idle core" — is one thread;
//! `RKNN_NPU_CORE_ALL` is every core of the platform.

use super::error::{Error, ErrorKind, Result};
use crate::platform::Platform;

/// `RKNN_NPU_CORE_AUTO`.
pub const CORE_AUTO: u32 = 0;
/// `RKNN_NPU_CORE_ALL`.
pub const CORE_ALL: u32 = 0xffff;

/// Checks `mask` for `rknn_set_core_mask` on `platform`: single-core
/// platforms refuse every mask (`RKNN_ERR_FAIL`, as the vendor does);
/// multi-core ones accept AUTO, ALL and any non-empty subset of their
/// cores (`RKNN_ERR_PARAM_INVALID` otherwise).
pub fn check_mask(platform: Platform, mask: u32) -> Result<()> {
    if platform.cores() == 1 {
        return Err(Error::new(
            ErrorKind::Fail,
            format!(
                "core mask is not supported on {} (single-core NPU)",
                platform.name()
            ),
        ));
    }
    if !platform.core_mask_valid(mask) {
        return Err(Error::new(
            ErrorKind::ParamInvalid,
            format!(
                "invalid core mask {mask:#x} for {} ({} cores: valid masks are 0 (AUTO), 0xffff (ALL) and subsets of {:#x})",
                platform.name(),
                platform.cores(),
                (1u32 << platform.cores()) - 1
            ),
        ));
    }
    Ok(())
}

/// NPU cores `mask` selects on `platform` (AUTO: one, ALL: all).
pub fn cores_of(platform: Platform, mask: u32) -> usize {
    match mask {
        CORE_AUTO => 1,
        CORE_ALL => platform.cores() as usize,
        m => (m & ((1u32 << platform.cores()) - 1)).count_ones().max(1) as usize,
    }
}

/// CPU threads a context with `mask` uses on the host device: one per
/// selected NPU core, at most the CPUs available to the process.
pub fn threads_for_mask(platform: Platform, mask: u32) -> usize {
    cores_of(platform, mask).min(crate::kernels::fast_gemm::threads::cores())
}

/// Checks `n` for `rknn_set_batch_core_num` on `platform`: 1 ..= the
/// platform's cores on multi-core platforms; single-core platforms refuse
/// the call (the vendor documents it for RK3588 and RK3576 only).
pub fn check_batch_core_num(platform: Platform, n: i32) -> Result<usize> {
    let cores = platform.cores();
    if cores == 1 {
        return Err(Error::new(
            ErrorKind::Fail,
            format!(
                "rknn_set_batch_core_num is not supported on {} (single-core NPU)",
                platform.name()
            ),
        ));
    }
    match usize::try_from(n) {
        Ok(k) if (1..=cores as usize).contains(&k) => Ok(k),
        _ => Err(Error::new(
            ErrorKind::ParamInvalid,
            format!(
                "core_num {n} out of range for {} (1 ..= {cores})",
                platform.name()
            ),
        )),
    }
}

/// Context priority from the `RKNN_FLAG_PRIOR_*` bits of the init flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Priority {
    /// `RKNN_FLAG_PRIOR_HIGH` (0, the default).
    #[default]
    High,
    /// `RKNN_FLAG_PRIOR_MEDIUM` (1).
    Medium,
    /// `RKNN_FLAG_PRIOR_LOW` (2).
    Low,
}

impl Priority {
    /// The priority of init `flags`; MEDIUM and LOW together are refused.
    pub fn from_flags(flags: u32) -> Result<Priority> {
        match flags & 0x3 {
            0 => Ok(Priority::High),
            1 => Ok(Priority::Medium),
            2 => Ok(Priority::Low),
            _ => Err(Error::new(
                ErrorKind::ParamInvalid,
                "RKNN_FLAG_PRIOR_MEDIUM (0x1) and RKNN_FLAG_PRIOR_LOW (0x2) together: choose one priority",
            )),
        }
    }

    /// The vendor macro's word (`high`, `medium`, `low`).
    pub fn name(self) -> &'static str {
        match self {
            Priority::High => "high",
            Priority::Medium => "medium",
            Priority::Low => "low",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_per_platform() {
        let p = Platform::Rk3588;
        for ok in [0, 1, 2, 4, 3, 5, 6, 7, 0xffff] {
            assert!(check_mask(p, ok).is_ok(), "{ok:#x}");
        }
        for bad in [8, 0xf, 0x10000, 0xfffe] {
            assert_eq!(
                check_mask(p, bad).unwrap_err().kind,
                ErrorKind::ParamInvalid
            );
        }
        assert!(check_mask(Platform::Rk3576, 3).is_ok());
        assert!(check_mask(Platform::Rk3576, 4).is_err());
        for single in [Platform::Rk3566, Platform::Rk3568, Platform::Rk3562] {
            assert_eq!(check_mask(single, 0).unwrap_err().kind, ErrorKind::Fail);
        }
    }

    #[test]
    fn cores_and_threads() {
        let p = Platform::Rk3588;
        assert_eq!(cores_of(p, CORE_AUTO), 1);
        assert_eq!(cores_of(p, 1), 1);
        assert_eq!(cores_of(p, 5), 2);
        assert_eq!(cores_of(p, 7), 3);
        assert_eq!(cores_of(p, CORE_ALL), 3);
        assert_eq!(cores_of(Platform::Rk3576, CORE_ALL), 2);
        let cpus = crate::kernels::fast_gemm::threads::cores();
        assert_eq!(threads_for_mask(p, CORE_ALL), 3.min(cpus));
        assert_eq!(threads_for_mask(p, CORE_AUTO), 1);
    }

    #[test]
    fn batch_core_num_range() {
        assert_eq!(check_batch_core_num(Platform::Rk3588, 3).ok(), Some(3));
        assert_eq!(check_batch_core_num(Platform::Rk3576, 2).ok(), Some(2));
        for bad in [0, -1, 4] {
            assert_eq!(
                check_batch_core_num(Platform::Rk3588, bad)
                    .unwrap_err()
                    .kind,
                ErrorKind::ParamInvalid
            );
        }
        assert_eq!(
            check_batch_core_num(Platform::Rk3576, 3).unwrap_err().kind,
            ErrorKind::ParamInvalid
        );
        assert_eq!(
            check_batch_core_num(Platform::Rk3568, 1).unwrap_err().kind,
            ErrorKind::Fail
        );
    }

    #[test]
    fn priorities() {
        assert_eq!(Priority::from_flags(0).ok(), Some(Priority::High));
        assert_eq!(Priority::from_flags(0x8 | 1).ok(), Some(Priority::Medium));
        assert_eq!(Priority::from_flags(2).ok(), Some(Priority::Low));
        assert!(Priority::from_flags(3).is_err());
    }
}
