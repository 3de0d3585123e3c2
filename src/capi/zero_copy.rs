//! Zero-copy memory: `rknn_tensor_mem` objects made on a context's device
//! (or imported from an fd or a physical address), and binding them to a
//! context as input, output, weights or internal memory (`docs/zero_copy.md`).
//!
//! `rknn_create_mem_from_mb_blk` (an MPI `MB_BLK`) is declared by the
//! vendor header but exported by no vendor runtime and marked unsupported
//! on every platform; it is not exported here either (`tests/exports.rs`).

use core::ffi::{c_int, c_void};
use std::os::fd::BorrowedFd;
use std::sync::{Arc, Mutex};

use crate::abi::*;
use crate::capi::general::rt_err;
use crate::capi::guard::{call, call_ptr, ApiError};
use crate::capi::{handles, mem_table};
use crate::driver::{AllocRequest, CachePolicy, Device, SyncDir};
use crate::graph::{DType, Layout};
use crate::runtime::attrs::AttrKind;
use crate::runtime::bindings::{IoFormat, UserMemory};

fn param(msg: impl Into<String>) -> ApiError {
    ApiError::new(RKNN_ERR_PARAM_INVALID, msg)
}

/// The device shared by every memory made without a context
/// (`RKNN_MEM_FLAG_ALLOC_NO_CONTEXT` with ctx = 0), opened on first use.
fn default_device() -> Result<Arc<dyn Device>, ApiError> {
    static DEFAULT: Mutex<Option<Arc<dyn Device>>> = Mutex::new(None);
    let mut d = DEFAULT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(dev) = d.as_ref() {
        return Ok(dev.clone());
    }
    let dev: Arc<dyn Device> = Arc::from(crate::driver::open_default().map_err(|e| {
        ApiError::new(
            RKNN_ERR_DEVICE_UNAVAILABLE,
            format!("no device for memory without a context: {e}"),
        )
    })?);
    *d = Some(dev.clone());
    Ok(dev)
}

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
            destroyed: Default::default(),
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

/// The cache/placement bits of `rknn_create_mem2`.
const MEM2_CACHE_BITS: u64 = (RKNN_FLAG_MEMORY_CACHEABLE
    | RKNN_FLAG_MEMORY_NON_CACHEABLE
    | RKNN_FLAG_MEMORY_TRY_ALLOC_SRAM) as u64;

/// The allocation `alloc_flags` of `rknn_create_mem2` ask for.
fn alloc_request(size: usize, alloc_flags: u64) -> Result<AllocRequest, ApiError> {
    let known = MEM2_CACHE_BITS | RKNN_MEM_FLAG_ALLOC_NO_CONTEXT as u64;
    if alloc_flags & !known != 0 {
        return Err(param(format!(
            "unknown alloc_flags bits {:#x} (known: CACHEABLE 1, NON_CACHEABLE 2, TRY_ALLOC_SRAM 4, ALLOC_NO_CONTEXT 0x20000)",
            alloc_flags & !known
        )));
    }
    let cacheable = alloc_flags & RKNN_FLAG_MEMORY_CACHEABLE as u64 != 0;
    let non_cacheable = alloc_flags & RKNN_FLAG_MEMORY_NON_CACHEABLE as u64 != 0;
    if cacheable && non_cacheable {
        return Err(param(
            "alloc_flags has both RKNN_FLAG_MEMORY_CACHEABLE and RKNN_FLAG_MEMORY_NON_CACHEABLE",
        ));
    }
    let mut req = AllocRequest::new(size);
    if non_cacheable {
        req.cache = CachePolicy::NonCacheable;
    }
    req.try_sram = alloc_flags & RKNN_FLAG_MEMORY_TRY_ALLOC_SRAM as u64 != 0;
    Ok(req)
}

/// Allocates `size` bytes of NPU-accessible memory with allocation flags:
/// `RKNN_FLAG_MEMORY_CACHEABLE` (the default) or `..._NON_CACHEABLE`,
/// `RKNN_FLAG_MEMORY_TRY_ALLOC_SRAM`, and `RKNN_MEM_FLAG_ALLOC_NO_CONTEXT`
/// (then `ctx` may be 0: the memory comes from the default device).
/// Returns NULL on failure.
///
/// # Safety
/// Takes no pointers.
#[no_mangle]
pub unsafe extern "C" fn rknn_create_mem2(
    ctx: rknn_context,
    size: u64,
    alloc_flags: u64,
) -> *mut rknn_tensor_mem {
    call_ptr("rknn_create_mem2", || {
        if size == 0 {
            return Err(param("size is 0"));
        }
        let size32 = u32::try_from(size).map_err(|_| {
            param(format!(
                "size {size} exceeds what rknn_tensor_mem.size (uint32_t) can describe"
            ))
        })?;
        let req = alloc_request(size32 as usize, alloc_flags)?;
        let no_context = alloc_flags & RKNN_MEM_FLAG_ALLOC_NO_CONTEXT as u64 != 0;
        let device = if ctx == 0 && no_context {
            default_device()?
        } else if ctx == 0 {
            return Err(ApiError::new(
                RKNN_ERR_CTX_INVALID,
                "ctx is 0: pass a context, or RKNN_MEM_FLAG_ALLOC_NO_CONTEXT in alloc_flags",
            ));
        } else {
            handles::device_of(ctx)?
        };
        let buffer = device.allocate(&req).map_err(|e| {
            ApiError::new(
                RKNN_ERR_MALLOC_FAIL,
                format!("cannot allocate {size} bytes: {e}"),
            )
        })?;
        let obj = mem_table::MemObject {
            buffer,
            device,
            ctx,
            destroyed: Default::default(),
        };
        Ok(mem_table::register(
            obj,
            0,
            RKNN_TENSOR_MEMORY_FLAGS_ALLOC_INSIDE,
        ))
    })
}

/// Whether `fd` is an open descriptor.
fn fd_is_open(fd: i32) -> bool {
    // SAFETY: F_GETFD only reads the descriptor's flags; on a closed or
    // invalid number it fails with EBADF and touches nothing.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

/// Wraps `size` bytes at `offset` of the dma-buf (or memfd) `fd` owned by
/// the caller. The library maps its own duplicate of the fd; the caller's
/// fd stays the caller's (it may be closed after this call). In the
/// struct, `virt_addr` is the caller's `virt_addr` (the start of the fd's
/// buffer; the data is at `virt_addr + offset`), `fd` and `offset` are as
/// given; with `virt_addr` NULL it is the library's mapping of the data
/// and `offset` is 0. Returns NULL when the fd cannot be mapped (a pipe,
/// a socket, a buffer smaller than `offset + size` ...).
///
/// # Safety
/// `virt_addr` is recorded, never dereferenced.
#[no_mangle]
pub unsafe extern "C" fn rknn_create_mem_from_fd(
    ctx: rknn_context,
    fd: i32,
    virt_addr: *mut c_void,
    size: u32,
    offset: i32,
) -> *mut rknn_tensor_mem {
    call_ptr("rknn_create_mem_from_fd", || {
        if size == 0 {
            return Err(param("size is 0"));
        }
        let off =
            usize::try_from(offset).map_err(|_| param(format!("offset {offset} is negative")))?;
        if fd < 0 || !fd_is_open(fd) {
            return Err(param(format!("fd {fd} is not an open file descriptor")));
        }
        let device = handles::device_of(ctx)?;
        // SAFETY: `fd` is open (checked just above) and stays open for the
        // duration of this call (the caller owns it); the device only dups
        // and maps it, and never closes it.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        let buffer = device.import_fd(borrowed, size as usize, off).map_err(|e| {
            param(format!(
                "cannot map {size} bytes at offset {offset} of fd {fd} (it must be a dma-buf or memfd of at least offset + size bytes): {e}"
            ))
        })?;
        let (virt, struct_off) = if virt_addr.is_null() {
            (buffer.as_ptr().cast::<c_void>(), 0)
        } else {
            (virt_addr, offset)
        };
        let desc = rknn_tensor_mem {
            virt_addr: virt,
            phys_addr: buffer.dev_addr().wrapping_sub(struct_off as u64),
            fd,
            offset: struct_off,
            size,
            flags: RKNN_TENSOR_MEMORY_FLAGS_FROM_FD,
            priv_data: std::ptr::null_mut(),
        };
        let obj = mem_table::MemObject {
            buffer,
            device,
            ctx,
            destroyed: Default::default(),
        };
        Ok(mem_table::register_described(obj, desc))
    })
}

/// Wraps physically contiguous memory at `phys_addr` that the caller has
/// mapped at `virt_addr` (`size` bytes). Only devices with physical memory
/// access support it; the host device refuses (NULL and a log line).
///
/// # Safety
/// `virt_addr .. virt_addr + size` must stay mapped and writable until the
/// memory is destroyed.
#[no_mangle]
pub unsafe extern "C" fn rknn_create_mem_from_phys(
    ctx: rknn_context,
    phys_addr: u64,
    virt_addr: *mut c_void,
    size: u32,
) -> *mut rknn_tensor_mem {
    call_ptr("rknn_create_mem_from_phys", || {
        if size == 0 {
            return Err(param("size is 0"));
        }
        let virt = std::ptr::NonNull::new(virt_addr.cast::<u8>())
            .ok_or_else(|| param("virt_addr is NULL"))?;
        let device = handles::device_of(ctx)?;
        // SAFETY: forwarded contract: the caller keeps the range mapped.
        let buffer =
            unsafe { device.import_phys(phys_addr, virt, size as usize) }.map_err(|e| {
                ApiError::new(
                    RKNN_ERR_FAIL,
                    format!(
                        "cannot use physical address {phys_addr:#x} on the {} device: {e}",
                        device.name()
                    ),
                )
            })?;
        let desc = rknn_tensor_mem {
            virt_addr,
            phys_addr,
            fd: buffer.fd(),
            offset: 0,
            size,
            flags: RKNN_TENSOR_MEMORY_FLAGS_FROM_PHYS,
            priv_data: std::ptr::null_mut(),
        };
        let obj = mem_table::MemObject {
            buffer,
            device,
            ctx,
            destroyed: Default::default(),
        };
        Ok(mem_table::register_described(obj, desc))
    })
}

/// The memory object behind `mem`, as the runtime's view.
fn user_mem(mem: *mut rknn_tensor_mem) -> Result<Arc<dyn UserMemory>, ApiError> {
    let obj: Arc<dyn UserMemory> = mem_table::lookup(mem)?;
    Ok(obj)
}

/// Gives the weights memory of a context created with
/// `RKNN_FLAG_MEM_ALLOC_OUTSIDE` (at least `total_weight_size` bytes of
/// `RKNN_QUERY_MEM_SIZE`); the weights are copied into it once.
///
/// # Safety
/// `mem` must be NULL or a pointer returned by this library.
#[no_mangle]
pub unsafe extern "C" fn rknn_set_weight_mem(
    ctx: rknn_context,
    mem: *mut rknn_tensor_mem,
) -> c_int {
    call("rknn_set_weight_mem", || {
        let m = user_mem(mem)?;
        handles::with(ctx, |h| h.ctx.set_weight_memory(m).map_err(rt_err))?;
        Ok(RKNN_SUCC)
    })
}

/// Gives the internal (intermediate) memory: at least
/// `total_internal_size` bytes of `RKNN_QUERY_MEM_SIZE`. Several contexts
/// may share it (their runs are then serialised).
///
/// # Safety
/// `mem` must be NULL or a pointer returned by this library.
#[no_mangle]
pub unsafe extern "C" fn rknn_set_internal_mem(
    ctx: rknn_context,
    mem: *mut rknn_tensor_mem,
) -> c_int {
    call("rknn_set_internal_mem", || {
        let m = user_mem(mem)?;
        handles::with(ctx, |h| h.ctx.set_internal_memory(m).map_err(rt_err))?;
        Ok(RKNN_SUCC)
    })
}

/// Binds `mem` to the input or output `attr` describes (`attr.index`; the
/// direction from `attr.name`, as returned by an input or output attribute
/// query), with the type, layout and `pass_through` of `attr`.
///
/// # Safety
/// `mem` must be NULL or a pointer returned by this library; `attr` must
/// be NULL or point to a valid `rknn_tensor_attr`.
#[no_mangle]
pub unsafe extern "C" fn rknn_set_io_mem(
    ctx: rknn_context,
    mem: *mut rknn_tensor_mem,
    attr: *mut rknn_tensor_attr,
) -> c_int {
    call("rknn_set_io_mem", || {
        // SAFETY: NULL or a valid struct, per the contract.
        let attr = unsafe { attr.as_ref() }.ok_or_else(|| param("attr is NULL"))?;
        let m = user_mem(mem)?;
        handles::with(ctx, |h| set_io_mem(h, m, attr))?;
        Ok(RKNN_SUCC)
    })
}

/// The name in `attr` (up to its NUL).
pub(super) fn attr_name(attr: &rknn_tensor_attr) -> String {
    let bytes: Vec<u8> = attr
        .name
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c.to_ne_bytes()[0])
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn set_io_mem(
    h: &mut handles::Handle,
    m: Arc<dyn UserMemory>,
    attr: &rknn_tensor_attr,
) -> Result<(), ApiError> {
    if h.ctx.flags() & RKNN_FLAG_ASYNC_MASK != 0 {
        return Err(ApiError::new(
            RKNN_ERR_FAIL,
            "the context was created with RKNN_FLAG_ASYNC_MASK, whose previous-frame outputs come through rknn_outputs_get; with zero-copy memory use rknn_run_extend.non_block and rknn_wait instead",
        ));
    }
    let index = attr.index as usize;
    let name = attr_name(attr);
    let is_input = h.ctx.input_info(index).is_some_and(|t| t.name == name);
    let is_output = h.ctx.output_info(index).is_some_and(|t| t.name == name);
    if !is_input && !is_output {
        return Err(param(format!(
            "attr index {index} name '{name}' is neither input {index} nor output {index} of the model (pass the attr as returned by rknn_query)"
        )));
    }
    let dtype = DType::from_rknn(attr.r#type)
        .ok_or_else(|| param(format!("attr type {} is not a tensor type", attr.r#type)))?;
    let layout = Layout::from_rknn(attr.fmt)
        .ok_or_else(|| param(format!("attr fmt {} is not a tensor format", attr.fmt)))?;
    let platform = h.ctx.platform();
    let (info, native_kind) = if is_input {
        (h.ctx.input_info(index), AttrKind::NativeInput)
    } else {
        (h.ctx.output_info(index), AttrKind::NativeOutput)
    };
    let info = info.cloned().ok_or_else(|| param("index out of range"))?;
    if attr.h_stride != 0 && info.shape.len() == 4 {
        let h_dim = match info.layout {
            Layout::Nhwc => info.shape[1],
            _ => info.shape[2],
        };
        if attr.h_stride as usize != h_dim {
            return Err(param(format!(
                "h_stride {} (multi-batch input pitch) is not supported; use 0 or the height {h_dim}",
                attr.h_stride
            )));
        }
    }
    // The native size rule applies when the user keeps the native format.
    let mut native_size = None;
    for kind in [
        native_kind,
        if is_input {
            AttrKind::NativeNhwcInput
        } else {
            AttrKind::NativeNhwcOutput
        },
    ] {
        if let Ok(n) = h.ctx.attr(is_input, index, kind) {
            if n.fmt == layout && n.dtype == dtype {
                native_size = Some(n.size_with_stride as usize);
                break;
            }
        }
    }
    let format = IoFormat::from_attr(
        dtype,
        layout,
        attr.w_stride as usize,
        attr.pass_through != 0,
        is_input,
        platform,
        info.dtype,
    );
    let r = if is_input {
        h.ctx.bind_input(index, m, format, native_size)
    } else {
        h.ctx.bind_output(index, m, format, native_size)
    };
    r.map_err(rt_err)
}

/// Cache maintenance on memory made by this library: `mode`
/// `RKNN_MEMORY_SYNC_TO_DEVICE` (write back before the NPU reads),
/// `..._FROM_DEVICE` (invalidate before the CPU reads) or
/// `..._BIDIRECTIONAL`. `context` may be 0.
///
/// # Safety
/// `mem` must be NULL or a pointer returned by this library.
#[no_mangle]
pub unsafe extern "C" fn rknn_mem_sync(
    context: rknn_context,
    mem: *mut rknn_tensor_mem,
    mode: rknn_mem_sync_mode,
) -> c_int {
    call("rknn_mem_sync", || {
        if context != 0 {
            handles::device_of(context)?;
        }
        let dir = match mode {
            RKNN_MEMORY_SYNC_TO_DEVICE => SyncDir::ToDevice,
            RKNN_MEMORY_SYNC_FROM_DEVICE => SyncDir::FromDevice,
            RKNN_MEMORY_SYNC_BIDIRECTIONAL => SyncDir::Bidirectional,
            other => {
                return Err(param(format!(
                    "mode {other} is not a sync mode (1 TO_DEVICE, 2 FROM_DEVICE, 3 BIDIRECTIONAL)"
                )))
            }
        };
        let obj = mem_table::lookup(mem)?;
        obj.device
            .sync(&obj.buffer, 0, obj.buffer.size(), dir)
            .map_err(|e| ApiError::new(RKNN_ERR_FAIL, format!("cache sync failed: {e}")))?;
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
