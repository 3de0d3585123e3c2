//! Zero-copy memory: `rknn_tensor_mem` objects made on a context's device.

use core::ffi::c_int;

use crate::abi::*;
use crate::capi::guard::{call, call_ptr, ApiError};
use crate::capi::{handles, mem_table};

/// Allocates `size` bytes of NPU-accessible memory on the device of `ctx`
/// (a model or matmul context). Returns NULL on failure.
///
/// # Safety
/// Takes no pointers.
#[no_mangle]
pub unsafe extern "C" fn rknn_create_mem(ctx: rknn_context, size: u32) -> *mut rknn_tensor_mem {
    call_ptr("rknn_create_mem", || {
        if size == 0 {
            return Err(ApiError::new(RKNN_ERR_PARAM_INVALID, "size is 0"));
        }
        let device = handles::device_of(ctx)?;
        let buffer = device.alloc(size as usize).map_err(|e| {
            ApiError::new(
                RKNN_ERR_MALLOC_FAIL,
                format!("cannot allocate {size} bytes: {e}"),
            )
        })?;
        let obj = mem_table::MemObject {
            buffer,
            device,
            ctx,
        };
        Ok(mem_table::register(
            obj,
            0,
            RKNN_TENSOR_MEMORY_FLAGS_ALLOC_INSIDE,
        ))
    })
}

/// Frees the `rknn_tensor_mem` struct and exactly the memory it created
/// (an imported fd is not closed: only the library's own duplicate is).
///
/// # Safety
/// `mem` must be NULL or a pointer returned by this library; pointers it
/// did not return are detected and refused.
#[no_mangle]
pub unsafe extern "C" fn rknn_destroy_mem(ctx: rknn_context, mem: *mut rknn_tensor_mem) -> c_int {
    call("rknn_destroy_mem", || {
        let _ = ctx;
        mem_table::destroy(mem)?;
        Ok(RKNN_SUCC)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::host::HostDevice;
    use std::sync::Arc;

    #[test]
    fn create_and_destroy_on_a_reserved_context() {
        let id = handles::reserve_id(Arc::new(HostDevice::new()));
        // SAFETY: only pointers returned by the library are passed back.
        unsafe {
            let mem = rknn_create_mem(id, 100);
            assert!(!mem.is_null());
            assert_eq!((*mem).size, 100);
            assert!((*mem).fd >= 0);
            assert_eq!((*mem).flags, RKNN_TENSOR_MEMORY_FLAGS_ALLOC_INSIDE);
            (*mem).virt_addr.cast::<u8>().add(99).write(5);
            assert_eq!(rknn_destroy_mem(id, mem), RKNN_SUCC);
            assert_eq!(rknn_destroy_mem(id, mem), RKNN_ERR_PARAM_INVALID);
            assert_eq!(
                rknn_destroy_mem(id, core::ptr::null_mut()),
                RKNN_ERR_PARAM_INVALID
            );
            assert!(rknn_create_mem(id, 0).is_null());
        }
        handles::release_id(id);
        // SAFETY: takes no pointers.
        assert!(unsafe { rknn_create_mem(id, 100) }.is_null());
    }
}
