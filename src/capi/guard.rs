//! The panic barrier and error reporting shared by every `extern "C"`
//! function.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};

/// An API failure: the `RKNN_ERR_*` code to return and the message to log.
#[derive(Debug)]
pub struct ApiError {
    /// Negative `RKNN_ERR_*` value.
    pub code: i32,
    /// What went wrong (logged after the function name).
    pub message: String,
}

impl ApiError {
    /// A failure with `code` and `message`.
    pub fn new(code: i32, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
        }
    }
}

/// Runs `body` for the C function `func`: returns its code, or logs the
/// error (`E RKNN: func, message`) and returns the error code. A panic is
/// caught, logged as an internal error and reported as `RKNN_ERR_FAIL`.
pub fn call(func: &'static str, body: impl FnOnce() -> Result<i32, ApiError>) -> i32 {
    crate::log::init();
    match catch_unwind(AssertUnwindSafe(|| {
        forced_panic_point(func);
        body()
    })) {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            tracing::error!("{func}, {}", e.message);
            e.code
        }
        Err(panic) => {
            tracing::error!("{func}, internal error: {}", panic_message(&panic));
            -1
        }
    }
}

/// Like [`call`] for functions returning a pointer: NULL on failure.
pub fn call_ptr<T>(func: &'static str, body: impl FnOnce() -> Result<*mut T, ApiError>) -> *mut T {
    crate::log::init();
    match catch_unwind(AssertUnwindSafe(|| {
        forced_panic_point(func);
        body()
    })) {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => {
            tracing::error!("{func}, {}", e.message);
            std::ptr::null_mut()
        }
        Err(panic) => {
            tracing::error!("{func}, internal error: {}", panic_message(&panic));
            std::ptr::null_mut()
        }
    }
}

/// FNV-1a hash of the C function name armed by [`force_panic_in`];
/// 0 when disarmed.
static FORCED_PANIC: AtomicU64 = AtomicU64::new(0);

/// FNV-1a (64-bit) of `name`, never 0 (so 0 can mean "disarmed").
fn name_hash(name: &str) -> u64 {
    let h = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    h.max(1)
}

/// Test-only hook proving the panic barrier (`tests/panic_barrier.rs`):
/// arms a one-shot panic inside the guarded body of the C function named
/// `func` (e.g. `"rknn_query"`); the next call of that function panics
/// before doing any work, and the barrier must turn the panic into an
/// `internal error` log line and `RKNN_ERR_FAIL` (or NULL). `None`
/// disarms. Compiled in every build so the shipped barrier is the one
/// tested; disarmed it costs one relaxed atomic load per C call. Not part
/// of the C API.
#[doc(hidden)]
pub fn force_panic_in(func: Option<&str>) {
    FORCED_PANIC.store(func.map_or(0, name_hash), Ordering::Relaxed);
}

/// Panics if [`force_panic_in`] armed `func`, disarming it first.
fn forced_panic_point(func: &str) {
    let armed = FORCED_PANIC.load(Ordering::Relaxed);
    if armed != 0
        && armed == name_hash(func)
        && FORCED_PANIC
            .compare_exchange(armed, 0, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        panic!("forced panic in {func} (guard::force_panic_in test hook)");
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}
