//! Runtime errors, each tied to the `RKNN_ERR_*` code the C API returns.

/// Which `RKNN_ERR_*` a failure maps to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// `RKNN_ERR_FAIL` (-1).
    Fail,
    /// `RKNN_ERR_DEVICE_UNAVAILABLE` (-3).
    DeviceUnavailable,
    /// `RKNN_ERR_MALLOC_FAIL` (-4).
    MallocFail,
    /// `RKNN_ERR_PARAM_INVALID` (-5).
    ParamInvalid,
    /// `RKNN_ERR_MODEL_INVALID` (-6).
    ModelInvalid,
    /// `RKNN_ERR_TIMEOUT` (-7).
    Timeout,
    /// `RKNN_ERR_INPUT_INVALID` (-8).
    InputInvalid,
    /// `RKNN_ERR_OUTPUT_INVALID` (-9).
    OutputInvalid,
    /// `RKNN_ERR_TARGET_PLATFORM_UNMATCH` (-13).
    PlatformMismatch,
}

impl ErrorKind {
    /// The C return code.
    pub fn code(self) -> i32 {
        match self {
            ErrorKind::Fail => -1,
            ErrorKind::DeviceUnavailable => -3,
            ErrorKind::MallocFail => -4,
            ErrorKind::ParamInvalid => -5,
            ErrorKind::ModelInvalid => -6,
            ErrorKind::Timeout => -7,
            ErrorKind::InputInvalid => -8,
            ErrorKind::OutputInvalid => -9,
            ErrorKind::PlatformMismatch => -13,
        }
    }
}

/// A runtime failure with the message the C API logs.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    /// The error class.
    pub kind: ErrorKind,
    /// What went wrong, for the log line.
    pub message: String,
}

impl Error {
    /// A new error.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
        }
    }
}

impl From<crate::model::ModelError> for Error {
    fn from(e: crate::model::ModelError) -> Error {
        let kind = match e {
            crate::model::ModelError::Io { .. } => ErrorKind::Fail,
            _ => ErrorKind::ModelInvalid,
        };
        Error::new(kind, e.to_string())
    }
}

impl From<crate::driver::DriverError> for Error {
    fn from(e: crate::driver::DriverError) -> Error {
        use crate::driver::DriverError as D;
        let kind = match e {
            D::Unavailable(_) => ErrorKind::DeviceUnavailable,
            D::Alloc { .. } => ErrorKind::MallocFail,
            D::Invalid(_) => ErrorKind::ParamInvalid,
            D::Unsupported { .. } | D::Ioctl { .. } | D::Job(_) => ErrorKind::Fail,
            D::Timeout(_) => ErrorKind::Timeout,
        };
        Error::new(kind, e.to_string())
    }
}

/// Result alias of the runtime.
pub type Result<T> = std::result::Result<T, Error>;
