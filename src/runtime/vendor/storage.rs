//! How a vendor model keeps its feature tensors in memory: the native
//! layout of each input, output and activation (NC1HWC2 blocks, NHWC rows
//! padded to the row alignment, or model order), derived from the file's
//! native shape, layout code, size and row alignment, and checked against
//! them. The conversions of `runtime::io` read and write these layouts.

use crate::graph::{Layout, TensorInfo};
use crate::model::vendor::{TensorKind, VendorLayout, VendorTensor};
use crate::model::ModelError;
use crate::runtime::io::{self, LayoutSpec};

/// A feature tensor as the NPU program stores it.
#[derive(Clone, Debug, PartialEq)]
pub struct Stored {
    /// The tensor for the conversions: its logical description, with a
    /// 4-D `[N, C, H, W]` shape when the logical shape has another rank
    /// but the storage is blocked (`[1, 64]` stored as `[1, 4, 1, 1, 16]`
    /// is viewed as `[1, 64, 1, 1]`, the same element order).
    pub view: TensorInfo,
    /// The memory layout of `view`.
    pub spec: LayoutSpec,
    /// Bytes the tensor occupies: the file's size, at least the layout's.
    pub bytes: usize,
    /// The native shape as the file gives it (`[N, C1, H, W, C2]` ...).
    pub native_dims: Vec<usize>,
}

fn err<T>(t: &VendorTensor, msg: String) -> Result<T, ModelError> {
    Err(ModelError::Invalid(format!(
        "tensor '{}' ({}): {msg}",
        t.name,
        t.kind.name()
    )))
}

fn dims(t: &VendorTensor, v: &[i32], what: &str) -> Result<Vec<usize>, ModelError> {
    v.iter()
        .map(|&d| usize::try_from(d))
        .collect::<Result<_, _>>()
        .or_else(|_| err(t, format!("{what} {v:?} has a negative dimension")))
}

fn product(v: &[usize]) -> Option<usize> {
    v.iter().try_fold(1usize, |a, &d| a.checked_mul(d))
}

/// The 4-D view of `info` for a blocked native shape `[N, C1, H, W, C2]`.
fn view4(t: &VendorTensor, info: &TensorInfo, native: &[usize]) -> Result<TensorInfo, ModelError> {
    if info.shape.len() == 4 {
        return Ok(info.clone());
    }
    let (n, h, w) = (native[0], native[2], native[3]);
    let plane = n.checked_mul(h).and_then(|v| v.checked_mul(w));
    let elems = info.elems();
    match plane {
        Some(p) if p > 0 && elems.is_multiple_of(p) && info.shape.first() == Some(&n) => {
            let mut v = info.clone();
            v.shape = vec![n, elems / p, h, w];
            v.layout = Layout::Nchw;
            Ok(v)
        }
        _ => err(
            t,
            format!(
                "logical shape {:?} does not fit the native shape {native:?}",
                info.shape
            ),
        ),
    }
}

/// The storage of feature tensor `t` (logical description `info`).
pub fn stored(t: &VendorTensor, info: &TensorInfo) -> Result<Stored, ModelError> {
    let native = dims(t, &t.native_shape, "native shape")?;
    let (view, spec) = match t.layout {
        VendorLayout::Nc1hwc2 => {
            if native.len() != 5 {
                return err(t, format!("NC1HWC2 tensor with native shape {native:?}"));
            }
            let view = view4(t, info, &native)?;
            let (n, c, h, w) = (view.shape[0], view.shape[1], view.shape[2], view.shape[3]);
            let (c1, c2) = (native[1], native[4]);
            if native[0] != n || native[2] != h || native[3] != w || c2 == 0 {
                return err(
                    t,
                    format!(
                        "native shape {native:?} does not match the logical [N, C, H, W] = {:?}",
                        view.shape
                    ),
                );
            }
            if c1.checked_mul(c2).is_none_or(|cap| cap < c) {
                return err(
                    t,
                    format!("native shape {native:?} holds fewer than its {c} channels"),
                );
            }
            // Batches beyond the first would start at C1 blocks, not at
            // ceil(C / C2) as the conversions assume.
            if n > 1 && c1 != c.div_ceil(c2) {
                return err(
                    t,
                    format!("batch {n} with {c1} channel blocks for {c} channels is not supported"),
                );
            }
            let spec = match t.w_align {
                // One block holding exactly the channels: NHWC rows padded
                // to the row alignment.
                Some(a) if c1 == 1 && c2 == c => {
                    LayoutSpec::nhwc_strided(w.next_multiple_of(a as usize))
                }
                _ => LayoutSpec::nc1hwc2(c2),
            };
            (view, spec)
        }
        VendorLayout::Nchw | VendorLayout::Undefined => {
            if product(&native) != Some(info.elems()) && !native.is_empty() {
                return err(
                    t,
                    format!(
                        "native shape {native:?} does not hold the {} elements of {:?}",
                        info.elems(),
                        info.shape
                    ),
                );
            }
            (info.clone(), LayoutSpec::of(info.layout))
        }
        other => {
            return err(
                t,
                format!("layout {} is not a feature-map layout", other.name()),
            )
        }
    };
    let need = io::output_size_to(&view, view.dtype, spec)
        .or_else(|e| err(t, format!("{e}")))?
        .max(1);
    // The file's size may be padded (a 32-byte output in a 64-byte slot)
    // or, for scratch views, smaller than the layout: the larger counts.
    Ok(Stored {
        view,
        spec,
        bytes: need.max(t.size.unwrap_or(0) as usize),
        native_dims: native,
    })
}

/// Whether the tensor is a feature map the runtime stores and converts
/// (inputs, outputs, activations).
pub fn is_feature(t: &VendorTensor) -> bool {
    matches!(
        t.kind,
        TensorKind::Input | TensorKind::Output | TensorKind::Activation
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{DType, Quant};

    fn tensor(layout: VendorLayout, shape: &[i32], native: &[i32], size: u32) -> VendorTensor {
        VendorTensor {
            name: "t".into(),
            dtype_code: 3,
            layout,
            kind: TensorKind::Activation,
            native_shape: native.to_vec(),
            shape: shape.to_vec(),
            qnt_method: String::new(),
            qnt_type: String::new(),
            min: vec![],
            max: vec![],
            scale: vec![],
            zero_point: vec![],
            size: Some(size),
            mem_offset: 0,
            buffer: None,
            w_align: None,
        }
    }

    fn info(shape: &[usize]) -> TensorInfo {
        let mut i = TensorInfo::activation("t", shape.to_vec(), DType::I8);
        i.quant = Some(Quant::per_tensor(0.5, 0));
        i
    }

    #[test]
    fn blocked_nhwc_and_flat_storage() {
        // 8 int8 channels in one 16-channel block.
        let t = tensor(
            VendorLayout::Nc1hwc2,
            &[1, 8, 16, 16],
            &[1, 1, 16, 16, 16],
            4096,
        );
        let s = stored(&t, &info(&[1, 8, 16, 16])).unwrap();
        assert_eq!((s.spec, s.bytes), (LayoutSpec::nc1hwc2(16), 4096));
        // Padded blocks beyond ceil(C / C2) (a depthwise output) for batch 1.
        let t = tensor(
            VendorLayout::Nc1hwc2,
            &[1, 16, 4, 4],
            &[1, 4, 4, 4, 16],
            1024,
        );
        assert_eq!(stored(&t, &info(&[1, 16, 4, 4])).unwrap().bytes, 1024);
        // Four channels with a row alignment of 16 pixels: strided NHWC.
        let mut t = tensor(VendorLayout::Nc1hwc2, &[1, 4, 8, 8], &[1, 1, 8, 8, 4], 512);
        t.w_align = Some(16);
        let s = stored(&t, &info(&[1, 4, 8, 8])).unwrap();
        assert_eq!((s.spec, s.bytes), (LayoutSpec::nhwc_strided(16), 512));
        // A vector stored in blocks is viewed as [N, C, 1, 1].
        let t = tensor(VendorLayout::Nc1hwc2, &[1, 64], &[1, 4, 1, 1, 16], 64);
        let s = stored(&t, &info(&[1, 64])).unwrap();
        assert_eq!(s.view.shape, vec![1, 64, 1, 1]);
        // Model order.
        let t = tensor(VendorLayout::Undefined, &[1, 32], &[1, 32], 64);
        let s = stored(&t, &info(&[1, 32])).unwrap();
        assert_eq!((s.spec, s.bytes), (LayoutSpec::UNDEFINED, 64));
    }

    #[test]
    fn inconsistent_storage_is_refused() {
        let bad = [
            tensor(
                VendorLayout::Nc1hwc2,
                &[1, 8, 16, 16],
                &[1, 1, 16, 16],
                4096,
            ),
            tensor(
                VendorLayout::Nc1hwc2,
                &[1, 40, 4, 4],
                &[1, 2, 4, 4, 16],
                512,
            ),
            tensor(VendorLayout::Nc1hwc2, &[1, 8, 4, 4], &[1, 1, 4, 5, 16], 512),
            tensor(
                VendorLayout::Nc1hwc2,
                &[2, 16, 4, 4],
                &[2, 4, 4, 4, 16],
                8192,
            ),
            tensor(VendorLayout::Undefined, &[1, 32], &[1, 31], 64),
            tensor(VendorLayout::NativeWeight, &[1, 32], &[1, 32], 64),
        ];
        for t in bad {
            let i = info(&t.shape.iter().map(|&d| d as usize).collect::<Vec<_>>());
            let e = stored(&t, &i).unwrap_err().to_string();
            assert!(e.contains("tensor 't'"), "{e}");
        }
    }
}
