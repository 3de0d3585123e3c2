//! A registered op: the checked contents of one C `rknn_custom_op`.

use core::ffi::c_char;
use std::ffi::CString;
use std::path::PathBuf;
use std::sync::Arc;

use super::ffi::callback::Callbacks;
use super::ffi::dl::Library;
use super::ffi::raw::{ClSource, OwnedOp};
use crate::abi::{RKNN_MAX_NAME_LEN, RKNN_TARGET_TYPE_CPU, RKNN_TARGET_TYPE_GPU};

/// Where a registered op came from.
#[derive(Clone, Debug)]
pub enum Origin {
    /// `rknn_register_custom_ops` from the application.
    Application,
    /// A `librkcst_*.so` plugin; the library stays open while the op is
    /// registered.
    Plugin {
        /// The plugin file.
        path: PathBuf,
        /// The open library (its code holds the callbacks).
        lib: Arc<Library>,
    },
}

impl Origin {
    /// Words for messages: "the application" or "plugin <path>".
    pub fn describe(&self) -> String {
        match self {
            Origin::Application => "the application".to_string(),
            Origin::Plugin { path, .. } => format!("plugin {}", path.display()),
        }
    }
}

/// The OpenCL part of a GPU op.
#[derive(Clone, Debug)]
pub struct GpuProgram {
    /// Kernel function name (`cl_kernel_name`).
    pub kernel_name: CString,
    /// Source text or file (`cl_kernel_source`, `cl_source_size`).
    pub source: ClSource,
    /// Build options (`cl_build_options`, may be empty).
    pub build_options: CString,
}

/// A checked custom-op definition.
#[derive(Clone, Debug)]
pub struct OpDef {
    /// The op type it computes.
    pub op_type: String,
    /// The application's version number of the op.
    pub version: u32,
    /// The callbacks.
    pub callbacks: Callbacks,
    /// OpenCL program of a GPU op; `None` for a CPU op.
    pub gpu: Option<GpuProgram>,
    /// Who registered it.
    pub origin: Origin,
}

/// The text of a fixed `char[256]` field: NUL-terminated UTF-8.
fn fixed_str(a: &[c_char; RKNN_MAX_NAME_LEN], what: &str) -> Result<String, String> {
    let bytes: &[u8] = bytemuck::cast_slice(&a[..]);
    let n = bytes.iter().position(|&b| b == 0).ok_or_else(|| {
        format!("{what} is not NUL-terminated within its {RKNN_MAX_NAME_LEN} bytes")
    })?;
    String::from_utf8(bytes[..n].to_vec()).map_err(|_| format!("{what} is not valid UTF-8"))
}

impl OpDef {
    /// Checks a C op: a NUL-terminated, non-empty `op_type`; `version`
    /// at least 1; `target` CPU or GPU; `compute` set (`compute_native`
    /// is not supported and ignored with a warning); for a GPU op a
    /// kernel name and source (build options may be empty).
    pub fn from_c(o: &OwnedOp, origin: Origin) -> Result<OpDef, String> {
        let op = &o.op;
        let op_type = fixed_str(&op.op_type, "op_type")?;
        if op_type.is_empty() {
            return Err("op_type is empty".to_string());
        }
        let named = |msg: String| format!("op '{op_type}': {msg}");
        if op.version == 0 {
            return Err(named(
                "version is 0; set the op's version number (the vendor demos use 1)".into(),
            ));
        }
        let compute = op
            .compute
            .ok_or_else(|| named("compute is NULL (the compute callback is required)".into()))?;
        if op.compute_native.is_some() {
            tracing::warn!(
                "rknn_register_custom_ops: op '{op_type}' sets compute_native, which this runtime does not use; compute runs instead"
            );
        }
        let gpu = match op.target {
            RKNN_TARGET_TYPE_CPU => None,
            RKNN_TARGET_TYPE_GPU => {
                let kernel_name = fixed_str(&op.cl_kernel_name, "cl_kernel_name").map_err(named)?;
                if kernel_name.is_empty() {
                    return Err(named(
                        "cl_kernel_name is empty (a GPU op needs its OpenCL kernel name)".into(),
                    ));
                }
                let build_options =
                    fixed_str(&op.cl_build_options, "cl_build_options").map_err(named)?;
                let source = match &o.cl_source {
                    None => {
                        return Err(named(
                            "cl_kernel_source is NULL (a GPU op needs OpenCL source text or a .cl path)"
                                .into(),
                        ))
                    }
                    Some(Err(e)) => return Err(named(e.clone())),
                    Some(Ok(s)) => s.clone(),
                };
                let c = |s: String| CString::new(s).map_err(|_| named("NUL in a name".into()));
                Some(GpuProgram {
                    kernel_name: c(kernel_name)?,
                    source,
                    build_options: c(build_options)?,
                })
            }
            t => {
                return Err(named(format!(
                    "target {t} is not a target (1 RKNN_TARGET_TYPE_CPU, 2 RKNN_TARGET_TYPE_GPU)"
                )))
            }
        };
        Ok(OpDef {
            op_type,
            version: op.version,
            callbacks: Callbacks {
                init: op.init,
                prepare: op.prepare,
                compute,
                destroy: op.destroy,
            },
            gpu,
            origin,
        })
    }

    /// "CPU" or "GPU".
    pub fn target_name(&self) -> &'static str {
        if self.gpu.is_some() {
            "GPU"
        } else {
            "CPU"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::{rknn_custom_op, rknn_custom_op_context, rknn_custom_op_tensor};
    use core::ffi::c_int;

    unsafe extern "C" fn compute(
        _: *mut rknn_custom_op_context,
        _: *mut rknn_custom_op_tensor,
        _: u32,
        _: *mut rknn_custom_op_tensor,
        _: u32,
    ) -> c_int {
        0
    }

    fn op(ty: &str) -> rknn_custom_op {
        let mut op = rknn_custom_op {
            version: 1,
            target: RKNN_TARGET_TYPE_CPU,
            compute: Some(compute),
            ..Default::default()
        };
        for (d, b) in op.op_type.iter_mut().zip(ty.bytes()) {
            *d = b as c_char;
        }
        op
    }

    fn check(op: rknn_custom_op) -> Result<OpDef, String> {
        OpDef::from_c(
            &OwnedOp {
                op,
                cl_source: None,
            },
            Origin::Application,
        )
    }

    #[test]
    fn a_cpu_op_is_accepted() {
        let d = check(op("cstSoftmax")).unwrap();
        assert_eq!(d.op_type, "cstSoftmax");
        assert_eq!(d.target_name(), "CPU");
        assert!(d.callbacks.init.is_none());
    }

    #[test]
    fn bad_fields_are_named() {
        let err = |o: rknn_custom_op| check(o).unwrap_err();
        assert!(err(op("")).contains("op_type is empty"));
        let mut o = op("x");
        o.op_type = [b'a' as c_char; RKNN_MAX_NAME_LEN];
        assert!(err(o).contains("not NUL-terminated"));
        let mut o = op("cstA");
        o.compute = None;
        assert!(err(o).contains("op 'cstA': compute is NULL"));
        let mut o = op("cstA");
        o.version = 0;
        assert!(err(o).contains("version is 0"));
        let mut o = op("cstA");
        o.target = 7;
        assert!(err(o).contains("target 7"));
        let mut o = op("cstA");
        o.target = RKNN_TARGET_TYPE_GPU;
        assert!(err(o).contains("cl_kernel_name is empty"));
        o.cl_kernel_name[0] = b'k' as c_char;
        assert!(err(o).contains("cl_kernel_source is NULL"));
    }
}
