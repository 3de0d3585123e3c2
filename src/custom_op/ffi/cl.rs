//! The OpenCL calls GPU custom ops need, resolved at run time from
//! `libOpenCL.so` (the board's GPU driver; nothing is linked at build
//! time): one context and in-order command queue on the first GPU device,
//! and a program and kernel per op built from the op's source.
//!
//! Signatures and constants are those of the OpenCL 1.2 C API (`cl.h`).

use core::ffi::{c_char, c_void, CStr};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use super::dl::Library;

type Handle = *mut c_void;
type Notify = Option<unsafe extern "C" fn(*const c_char, *const c_void, usize, *mut c_void)>;
type BuildNotify = Option<unsafe extern "C" fn(Handle, *mut c_void)>;

/// `CL_SUCCESS`.
const SUCCESS: i32 = 0;
/// `CL_DEVICE_TYPE_GPU`.
const DEVICE_TYPE_GPU: u64 = 1 << 2;
/// `CL_PROGRAM_BUILD_LOG`.
const PROGRAM_BUILD_LOG: u32 = 0x1183;
/// Most build-log bytes quoted in an error.
const MAX_LOG: usize = 4096;

/// The entry points, resolved from the library.
struct Api {
    _lib: Library,
    get_platform_ids: unsafe extern "C" fn(u32, *mut Handle, *mut u32) -> i32,
    get_device_ids: unsafe extern "C" fn(Handle, u64, u32, *mut Handle, *mut u32) -> i32,
    create_context: unsafe extern "C" fn(
        *const isize,
        u32,
        *const Handle,
        Notify,
        *mut c_void,
        *mut i32,
    ) -> Handle,
    create_command_queue: unsafe extern "C" fn(Handle, Handle, u64, *mut i32) -> Handle,
    create_program_with_source:
        unsafe extern "C" fn(Handle, u32, *const *const c_char, *const usize, *mut i32) -> Handle,
    build_program: unsafe extern "C" fn(
        Handle,
        u32,
        *const Handle,
        *const c_char,
        BuildNotify,
        *mut c_void,
    ) -> i32,
    get_program_build_info:
        unsafe extern "C" fn(Handle, Handle, u32, usize, *mut c_void, *mut usize) -> i32,
    create_kernel: unsafe extern "C" fn(Handle, *const c_char, *mut i32) -> Handle,
    release_kernel: unsafe extern "C" fn(Handle) -> i32,
    release_program: unsafe extern "C" fn(Handle) -> i32,
    release_command_queue: unsafe extern "C" fn(Handle) -> i32,
    release_context: unsafe extern "C" fn(Handle) -> i32,
}

// SAFETY: the API holds function pointers and an open library; OpenCL
// entry points are thread-safe (OpenCL 1.2 appendix A.2) except
// `clSetKernelArg` on one kernel, which this crate never calls.
unsafe impl Send for Api {}
// SAFETY: see `Send`.
unsafe impl Sync for Api {}

/// Where `libOpenCL.so` is looked for: `RKNNRT_OPENCL_LIB` when set,
/// otherwise the sonames, plus the vendor directories on Android.
fn candidates() -> Vec<PathBuf> {
    if let Some(p) = std::env::var_os("RKNNRT_OPENCL_LIB").filter(|p| !p.is_empty()) {
        return vec![PathBuf::from(p)];
    }
    let mut c: Vec<PathBuf> = ["libOpenCL.so", "libOpenCL.so.1"]
        .iter()
        .map(PathBuf::from)
        .collect();
    if cfg!(target_os = "android") {
        let dir = if cfg!(target_pointer_width = "64") {
            "lib64"
        } else {
            "lib"
        };
        c.push(PathBuf::from(format!("/vendor/{dir}/libOpenCL.so")));
        c.push(PathBuf::from(format!("/system/vendor/{dir}/libOpenCL.so")));
    }
    c
}

fn load_api() -> Result<Api, String> {
    let mut errors = Vec::new();
    let lib = candidates()
        .iter()
        .find_map(|p| match Library::open(p) {
            Ok(l) => Some(l),
            Err(e) => {
                errors.push(e);
                None
            }
        })
        .ok_or_else(|| {
            format!(
                "OpenCL is not available: libOpenCL.so could not be loaded ({})",
                errors.join("; ")
            )
        })?;
    // SAFETY: each name is resolved with its `cl.h` function type.
    unsafe {
        Ok(Api {
            get_platform_ids: lib.function(c"clGetPlatformIDs")?,
            get_device_ids: lib.function(c"clGetDeviceIDs")?,
            create_context: lib.function(c"clCreateContext")?,
            create_command_queue: lib.function(c"clCreateCommandQueue")?,
            create_program_with_source: lib.function(c"clCreateProgramWithSource")?,
            build_program: lib.function(c"clBuildProgram")?,
            get_program_build_info: lib.function(c"clGetProgramBuildInfo")?,
            create_kernel: lib.function(c"clCreateKernel")?,
            release_kernel: lib.function(c"clReleaseKernel")?,
            release_program: lib.function(c"clReleaseProgram")?,
            release_command_queue: lib.function(c"clReleaseCommandQueue")?,
            release_context: lib.function(c"clReleaseContext")?,
            _lib: lib,
        })
    }
}

/// The process-wide OpenCL library (loaded once; kept for the process).
fn api() -> Result<&'static Api, String> {
    static API: OnceLock<Result<Api, String>> = OnceLock::new();
    API.get_or_init(load_api).as_ref().map_err(Clone::clone)
}

fn check(what: &str, code: i32) -> Result<(), String> {
    if code == SUCCESS {
        Ok(())
    } else {
        Err(format!("{what} failed with OpenCL error {code}"))
    }
}

/// A context and command queue on the first GPU device.
#[derive(Debug)]
pub struct Gpu {
    device: Handle,
    context: Handle,
    queue: Handle,
}

// SAFETY: OpenCL handles may be used from any thread (see `Api`).
unsafe impl Send for Gpu {}
// SAFETY: see `Send`.
unsafe impl Sync for Gpu {}

impl Gpu {
    /// Opens the first GPU of the first platform that has one.
    pub fn open() -> Result<Gpu, String> {
        let api = api()?;
        let mut n = 0u32;
        // SAFETY: a count query: no array, a valid out-pointer.
        check("clGetPlatformIDs", unsafe {
            (api.get_platform_ids)(0, std::ptr::null_mut(), &mut n)
        })?;
        let mut platforms = vec![std::ptr::null_mut(); n as usize];
        // SAFETY: `platforms` holds `n` entries.
        check("clGetPlatformIDs", unsafe {
            (api.get_platform_ids)(n, platforms.as_mut_ptr(), std::ptr::null_mut())
        })?;
        let device = platforms
            .iter()
            .find_map(|&p| {
                let mut d: Handle = std::ptr::null_mut();
                // SAFETY: one entry requested into `d`.
                let code = unsafe {
                    (api.get_device_ids)(p, DEVICE_TYPE_GPU, 1, &mut d, std::ptr::null_mut())
                };
                (code == SUCCESS && !d.is_null()).then_some(d)
            })
            .ok_or("OpenCL is loaded but reports no GPU device")?;
        let mut err = 0i32;
        // SAFETY: one valid device, no properties or callback.
        let context = unsafe {
            (api.create_context)(
                std::ptr::null(),
                1,
                &device,
                None,
                std::ptr::null_mut(),
                &mut err,
            )
        };
        check("clCreateContext", err)?;
        // SAFETY: a live context and its device; default properties.
        let queue = unsafe { (api.create_command_queue)(context, device, 0, &mut err) };
        if let Err(e) = check("clCreateCommandQueue", err) {
            // SAFETY: the context was created above and is released once.
            unsafe { (api.release_context)(context) };
            return Err(e);
        }
        Ok(Gpu {
            device,
            context,
            queue,
        })
    }

    /// The build log of `program`, cut to [`MAX_LOG`] bytes.
    fn build_log(&self, api: &Api, program: Handle) -> String {
        let mut log = vec![0u8; MAX_LOG];
        let mut len = 0usize;
        // SAFETY: `log` holds MAX_LOG writable bytes; `len` is valid.
        let code = unsafe {
            (api.get_program_build_info)(
                program,
                self.device,
                PROGRAM_BUILD_LOG,
                log.len(),
                log.as_mut_ptr().cast(),
                &mut len,
            )
        };
        if code != SUCCESS {
            return String::new();
        }
        log.truncate(len.min(MAX_LOG));
        String::from_utf8_lossy(&log)
            .trim_end_matches('\0')
            .trim()
            .to_string()
    }

    /// Builds `source` with `options` and creates kernel `name`.
    pub fn kernel(
        self: &Arc<Gpu>,
        source: &[u8],
        name: &CStr,
        options: &CStr,
    ) -> Result<Kernel, String> {
        let api = api()?;
        let mut err = 0i32;
        let text = source.as_ptr().cast::<c_char>();
        let len = source.len();
        // SAFETY: one string of `len` bytes (lengths given, so no NUL is
        // needed); a live context.
        let program =
            unsafe { (api.create_program_with_source)(self.context, 1, &text, &len, &mut err) };
        check("clCreateProgramWithSource", err)?;
        let release = |p: Handle| {
            // SAFETY: `p` was created above and is released once.
            unsafe { (api.release_program)(p) };
        };
        // SAFETY: a live program and device; `options` is NUL-terminated.
        let code = unsafe {
            (api.build_program)(
                program,
                1,
                &self.device,
                options.as_ptr(),
                None,
                std::ptr::null_mut(),
            )
        };
        if code != SUCCESS {
            let log = self.build_log(api, program);
            release(program);
            return Err(format!(
                "clBuildProgram failed with OpenCL error {code}: {log}"
            ));
        }
        // SAFETY: a built program; `name` is NUL-terminated.
        let kernel = unsafe { (api.create_kernel)(program, name.as_ptr(), &mut err) };
        if let Err(e) = check(&format!("clCreateKernel({})", name.to_string_lossy()), err) {
            release(program);
            return Err(e);
        }
        Ok(Kernel {
            gpu: self.clone(),
            program,
            kernel,
        })
    }
}

impl Drop for Gpu {
    fn drop(&mut self) {
        if let Ok(api) = api() {
            // SAFETY: created in `open`, released once; every kernel holds
            // an `Arc<Gpu>`, so none is alive any more.
            unsafe {
                (api.release_command_queue)(self.queue);
                (api.release_context)(self.context);
            }
        }
    }
}

/// A built kernel of one GPU op.
#[derive(Debug)]
pub struct Kernel {
    gpu: Arc<Gpu>,
    program: Handle,
    kernel: Handle,
}

// SAFETY: OpenCL handles may be used from any thread (see `Api`).
unsafe impl Send for Kernel {}
// SAFETY: see `Send`.
unsafe impl Sync for Kernel {}

impl Kernel {
    /// The `cl_context`, `cl_command_queue` and `cl_kernel` handed to the
    /// op's callbacks (`rknn_gpu_op_context`).
    pub fn handles(&self) -> [*mut c_void; 3] {
        [self.gpu.context, self.gpu.queue, self.kernel]
    }
}

impl Drop for Kernel {
    fn drop(&mut self) {
        if let Ok(api) = api() {
            // SAFETY: created in `Gpu::kernel`, released once.
            unsafe {
                (api.release_kernel)(self.kernel);
                (api.release_program)(self.program);
            }
        }
    }
}
