//! The `rknn_init` flag combinations this runtime refuses, each with the
//! reason (`docs/runtime.md`, "Init flags").

use super::guard::ApiError;
use crate::abi::*;
use crate::driver::Device;
use crate::runtime::cores::Priority;

fn param(msg: impl Into<String>) -> ApiError {
    ApiError::new(RKNN_ERR_PARAM_INVALID, msg)
}

/// Checks `flag` for a context on `device`; returns the priority it asks
/// for.
pub fn check(flag: u32, device: &dyn Device) -> Result<Priority, ApiError> {
    let priority = Priority::from_flags(flag).map_err(super::general::rt_err)?;
    let fences = flag & (RKNN_FLAG_FENCE_IN_OUTSIDE | RKNN_FLAG_FENCE_OUT_OUTSIDE);
    if fences != 0 {
        let which = match fences {
            RKNN_FLAG_FENCE_IN_OUTSIDE => "RKNN_FLAG_FENCE_IN_OUTSIDE",
            RKNN_FLAG_FENCE_OUT_OUTSIDE => "RKNN_FLAG_FENCE_OUT_OUTSIDE",
            _ => "RKNN_FLAG_FENCE_IN_OUTSIDE | RKNN_FLAG_FENCE_OUT_OUTSIDE",
        };
        let why = match device.name() {
            "rknpu" => "fences are sync_file fds of single NPU jobs (RKNPU_JOB_FENCE_IN/OUT), and a run here is never one job (CPU kernels, or NPU jobs with CPU steps between and after them); use rknn_run_extend.non_block and rknn_wait".to_string(),
            name => format!("the {name} device has no fences (sync_file fds come only from the rknpu driver's NPU jobs); use rknn_run_extend.non_block and rknn_wait"),
        };
        return Err(ApiError::new(
            RKNN_ERR_FAIL,
            format!("{which} ({fences:#x}) cannot be used: {why}"),
        ));
    }
    if flag & RKNN_FLAG_ASYNC_MASK != 0 {
        if flag & RKNN_FLAG_COLLECT_MODEL_INFO_ONLY != 0 {
            return Err(param(
                "RKNN_FLAG_ASYNC_MASK with RKNN_FLAG_COLLECT_MODEL_INFO_ONLY: the context cannot run",
            ));
        }
        if flag & RKNN_FLAG_MEM_ALLOC_OUTSIDE != 0 {
            return Err(param(
                "RKNN_FLAG_ASYNC_MASK with RKNN_FLAG_MEM_ALLOC_OUTSIDE: asynchronous mode returns the previous frame through rknn_outputs_get, which a context whose memory is all set with rknn_set_io_mem cannot use; use rknn_run_extend.non_block and rknn_wait",
            ));
        }
    }
    Ok(priority)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::host::HostDevice;

    #[test]
    fn refused_combinations() {
        let host = HostDevice::new();
        let code = |f: u32| check(f, &host).err().map(|e| e.code);
        assert_eq!(code(0), None);
        assert_eq!(code(RKNN_FLAG_ASYNC_MASK | RKNN_FLAG_PRIOR_LOW), None);
        assert_eq!(
            code(RKNN_FLAG_PRIOR_MEDIUM | RKNN_FLAG_PRIOR_LOW),
            Some(RKNN_ERR_PARAM_INVALID)
        );
        assert_eq!(code(RKNN_FLAG_FENCE_IN_OUTSIDE), Some(RKNN_ERR_FAIL));
        assert_eq!(
            code(RKNN_FLAG_FENCE_OUT_OUTSIDE | RKNN_FLAG_ASYNC_MASK),
            Some(RKNN_ERR_FAIL)
        );
        assert_eq!(
            code(RKNN_FLAG_ASYNC_MASK | RKNN_FLAG_COLLECT_MODEL_INFO_ONLY),
            Some(RKNN_ERR_PARAM_INVALID)
        );
        assert_eq!(
            code(RKNN_FLAG_ASYNC_MASK | RKNN_FLAG_MEM_ALLOC_OUTSIDE),
            Some(RKNN_ERR_PARAM_INVALID)
        );
        assert_eq!(
            check(RKNN_FLAG_PRIOR_MEDIUM, &host).ok(),
            Some(Priority::Medium)
        );
    }
}
