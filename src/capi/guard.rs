//! The panic barrier and error reporting shared by every `extern "C"`
//! function.

use std::panic::{catch_unwind, AssertUnwindSafe};

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
    match catch_unwind(AssertUnwindSafe(body)) {
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
    match catch_unwind(AssertUnwindSafe(body)) {
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

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}
