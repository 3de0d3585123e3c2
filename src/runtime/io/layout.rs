//! Tensor layouts on the CPU side of the API: logical 4-D dimensions, the
//! element mapping of NCHW / NHWC (with width stride) / NC1HWC2, padding,
//! NC1HWC2 packing and the native attributes reported to zero-copy users.

use crate::graph::{DType, Layout, TensorInfo};
use crate::platform::Platform;

use super::engine;
use super::{IoError, IoResult};

/// Logical dimensions of a 4-D image tensor, whatever its memory layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dims4 {
    /// Batch.
    pub n: usize,
    /// Channels.
    pub c: usize,
    /// Height.
    pub h: usize,
    /// Width.
    pub w: usize,
}

impl Dims4 {
    /// Dimensions from `[N, C, H, W]`.
    pub fn new(n: usize, c: usize, h: usize, w: usize) -> Dims4 {
        Dims4 { n, c, h, w }
    }

    /// The logical dimensions of `info` when it is a 4-D tensor in NCHW or
    /// NHWC; `None` for tensors handled in model order (non-4-D, or a 4-D
    /// tensor whose layout is `Undefined`).
    pub fn from_info(info: &TensorInfo) -> Option<Dims4> {
        match (info.shape.as_slice(), info.layout) {
            ([n, c, h, w], Layout::Nchw) => Some(Dims4::new(*n, *c, *h, *w)),
            ([n, h, w, c], Layout::Nhwc) => Some(Dims4::new(*n, *c, *h, *w)),
            _ => None,
        }
    }

    /// Number of logical elements, `None` on overflow.
    pub fn elems(&self) -> Option<usize> {
        self.n
            .checked_mul(self.c)?
            .checked_mul(self.h)?
            .checked_mul(self.w)
    }
}

/// A memory layout together with its layout parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayoutSpec {
    /// The layout.
    pub layout: Layout,
    /// Channels per block for [`Layout::Nc1hwc2`] (ignored otherwise).
    pub c2: usize,
    /// Row pitch in pixels for [`Layout::Nhwc`]; 0 means the width.
    pub w_stride: usize,
}

impl LayoutSpec {
    /// Dense NCHW.
    pub const NCHW: LayoutSpec = LayoutSpec::of(Layout::Nchw);
    /// Dense NHWC.
    pub const NHWC: LayoutSpec = LayoutSpec::of(Layout::Nhwc);
    /// The model's own order (`RKNN_TENSOR_UNDEFINED`).
    pub const UNDEFINED: LayoutSpec = LayoutSpec::of(Layout::Undefined);

    /// `layout` without stride or block parameters.
    pub const fn of(layout: Layout) -> LayoutSpec {
        LayoutSpec {
            layout,
            c2: 0,
            w_stride: 0,
        }
    }

    /// NHWC with rows `w_stride` pixels apart.
    pub const fn nhwc_strided(w_stride: usize) -> LayoutSpec {
        LayoutSpec {
            layout: Layout::Nhwc,
            c2: 0,
            w_stride,
        }
    }

    /// NC1HWC2 with `c2` channels per block.
    pub const fn nc1hwc2(c2: usize) -> LayoutSpec {
        LayoutSpec {
            layout: Layout::Nc1hwc2,
            c2,
            w_stride: 0,
        }
    }
}

/// How logical `(n, c, h, w)` maps to an element index in one buffer.
/// Every layout is linear in `w`: element `(n, c, h, w)` is at
/// `base(n, c, h) + w * step()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Map {
    kind: MapKind,
    d: Dims4,
    ws: usize,
    c2: usize,
    c1: usize,
    len: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MapKind {
    Nchw,
    Nhwc,
    Blocked,
}

fn overflow() -> IoError {
    IoError::Invalid("tensor size overflows".into())
}

impl Map {
    /// A dense buffer of `elems` elements in model order (one row).
    pub(crate) fn flat(elems: usize) -> Map {
        Map {
            kind: MapKind::Nchw,
            d: Dims4::new(1, 1, 1, elems),
            ws: elems,
            c2: 1,
            c1: 1,
            len: elems,
        }
    }

    /// The mapping of `spec` for a 4-D tensor of logical dims `d`;
    /// `Undefined` means `model` (the tensor's own 4-D layout).
    pub(crate) fn image(spec: LayoutSpec, d: Dims4, model: Layout) -> IoResult<Map> {
        let layout = match spec.layout {
            Layout::Undefined => model,
            l => l,
        };
        let ws = if spec.w_stride == 0 {
            d.w
        } else {
            spec.w_stride
        };
        if ws != d.w && layout != Layout::Nhwc {
            return Err(IoError::Invalid(format!(
                "w_stride {} only applies to NHWC (width {})",
                spec.w_stride, d.w
            )));
        }
        if ws < d.w {
            return Err(IoError::Invalid(format!(
                "w_stride {ws} is smaller than the width {}",
                d.w
            )));
        }
        let elems = d.elems().ok_or_else(overflow)?;
        let (kind, c2, c1, len) = match layout {
            Layout::Nchw | Layout::Undefined => (MapKind::Nchw, 1, d.c, elems),
            Layout::Nhwc => {
                let len =
                    d.n.checked_mul(d.h)
                        .and_then(|v| v.checked_mul(ws))
                        .and_then(|v| v.checked_mul(d.c))
                        .ok_or_else(overflow)?;
                (MapKind::Nhwc, 1, d.c, len)
            }
            Layout::Nc1hwc2 => {
                let c2 = spec.c2;
                if c2 == 0 {
                    return Err(IoError::Invalid("NC1HWC2 needs C2 >= 1".into()));
                }
                let c1 = d.c.div_ceil(c2);
                let len =
                    d.n.checked_mul(c1)
                        .and_then(|v| v.checked_mul(d.h))
                        .and_then(|v| v.checked_mul(d.w))
                        .and_then(|v| v.checked_mul(c2))
                        .ok_or_else(overflow)?;
                (MapKind::Blocked, c2, c1, len)
            }
        };
        Ok(Map {
            kind,
            d,
            ws,
            c2,
            c1,
            len,
        })
    }

    /// Logical dimensions.
    pub(crate) fn dims(&self) -> Dims4 {
        self.d
    }

    /// Storage elements, padding included.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Storage bytes for elements of `elem` bytes.
    pub(crate) fn bytes(&self, elem: usize) -> IoResult<usize> {
        self.len.checked_mul(elem).ok_or_else(overflow)
    }

    /// Element index of `(n, c, h, 0)`.
    #[inline]
    pub(crate) fn base(&self, n: usize, c: usize, h: usize) -> usize {
        let d = self.d;
        match self.kind {
            MapKind::Nchw => ((n * d.c + c) * d.h + h) * d.w,
            MapKind::Nhwc => (n * d.h + h) * self.ws * d.c + c,
            MapKind::Blocked => {
                (((n * self.c1 + c / self.c2) * d.h + h) * d.w) * self.c2 + c % self.c2
            }
        }
    }

    /// Distance in elements between neighbouring pixels of a row.
    #[inline]
    pub(crate) fn step(&self) -> usize {
        match self.kind {
            MapKind::Nchw => 1,
            MapKind::Nhwc => self.d.c,
            MapKind::Blocked => self.c2,
        }
    }

    /// Distance between channel planes when the layout is planar (NCHW).
    pub(crate) fn plane(&self) -> Option<usize> {
        (self.kind == MapKind::Nchw).then_some(self.d.h * self.d.w)
    }

    /// Pixel pitch when every row holds all channels of a pixel together
    /// (NHWC: `C`; NC1HWC2 with one block: `C2`).
    pub(crate) fn pixel_pitch(&self) -> Option<usize> {
        match self.kind {
            MapKind::Nhwc => Some(self.d.c),
            MapKind::Blocked if self.c1 == 1 => Some(self.c2),
            _ => None,
        }
    }

    /// True when the buffer has no padding elements.
    pub(crate) fn is_dense(&self) -> bool {
        match self.kind {
            MapKind::Nchw => true,
            MapKind::Nhwc => self.ws == self.d.w,
            MapKind::Blocked => self.d.c.is_multiple_of(self.c2),
        }
    }

    /// True when `self` and `other` place every element identically.
    pub(crate) fn same_as(&self, other: &Map) -> bool {
        if self.d != other.d || self.len != other.len {
            return false;
        }
        let trivially_planar = |m: &Map| match m.kind {
            MapKind::Nchw => true,
            MapKind::Nhwc => m.d.c == 1 && m.ws == m.d.w,
            MapKind::Blocked => m.d.c == 1 && m.c2 == 1,
        };
        self == other || (trivially_planar(self) && trivially_planar(other))
    }

    /// Writes `pad` (one element's bytes) into every padding element:
    /// pixels past the width in strided NHWC rows and channels past `C`
    /// in the last NC1HWC2 block.
    pub(crate) fn fill_padding(&self, dst: &mut [u8], pad: &[u8]) {
        if self.is_dense() {
            return;
        }
        let e = pad.len();
        let d = self.d;
        let fill = |s: &mut [u8]| {
            if pad.iter().all(|&b| b == 0) {
                s.fill(0);
            } else {
                for chunk in s.chunks_exact_mut(e) {
                    chunk.copy_from_slice(pad);
                }
            }
        };
        match self.kind {
            MapKind::Nchw => {}
            MapKind::Nhwc => {
                for n in 0..d.n {
                    for h in 0..d.h {
                        let row = (n * d.h + h) * self.ws * d.c;
                        let from = (row + d.w * d.c) * e;
                        let to = (row + self.ws * d.c) * e;
                        fill(&mut dst[from..to]);
                    }
                }
            }
            MapKind::Blocked => {
                let valid = d.c - (self.c1 - 1) * self.c2;
                for n in 0..d.n {
                    for h in 0..d.h {
                        let row = self.base(n, (self.c1 - 1) * self.c2, h);
                        for x in 0..d.w {
                            let px = row + x * self.c2;
                            fill(&mut dst[(px + valid) * e..(px + self.c2) * e]);
                        }
                    }
                }
            }
        }
    }
}

/// Fails with [`IoError::BufferTooSmall`] when `given < required`.
pub(crate) fn require(what: &'static str, required: usize, given: usize) -> IoResult<()> {
    if given < required {
        return Err(IoError::BufferTooSmall {
            what,
            required,
            given,
        });
    }
    Ok(())
}

/// Packs an NCHW or NHWC tensor (`src_layout`) of `elem`-byte elements into
/// NC1HWC2 with `c2` channels per block. Padding channels are set to `pad`
/// (one element's bytes; the zero point for quantized tensors, zero for
/// float). Returns the bytes written.
pub fn pack_nc1hwc2(
    src: &[u8],
    src_layout: LayoutSpec,
    d: Dims4,
    c2: usize,
    pad: &[u8],
    dst: &mut [u8],
) -> IoResult<usize> {
    let elem = pad.len();
    if elem == 0 || elem > 8 {
        return Err(IoError::Invalid(format!("element size {elem}")));
    }
    if matches!(src_layout.layout, Layout::Nc1hwc2 | Layout::Undefined) {
        return Err(IoError::Invalid("source must be NCHW or NHWC".into()));
    }
    let sm = Map::image(src_layout, d, Layout::Nchw)?;
    let dm = Map::image(LayoutSpec::nc1hwc2(c2), d, Layout::Nchw)?;
    let (sb, db) = (sm.bytes(elem)?, dm.bytes(elem)?);
    require("source", sb, src.len())?;
    require("destination", db, dst.len())?;
    engine::copy_layout(src, &sm, &mut dst[..db], &dm, elem);
    dm.fill_padding(dst, pad);
    Ok(db)
}

/// Unpacks an NC1HWC2 tensor (`c2` channels per block, `elem`-byte
/// elements, logical dims `d`) into NCHW or NHWC (`dst_layout`, which may
/// carry a width stride). Padding channels are dropped. Returns the bytes
/// written.
pub fn unpack_nc1hwc2(
    src: &[u8],
    d: Dims4,
    c2: usize,
    elem: usize,
    dst_layout: LayoutSpec,
    dst: &mut [u8],
) -> IoResult<usize> {
    if elem == 0 || elem > 8 {
        return Err(IoError::Invalid(format!("element size {elem}")));
    }
    if matches!(dst_layout.layout, Layout::Nc1hwc2 | Layout::Undefined) {
        return Err(IoError::Invalid("destination must be NCHW or NHWC".into()));
    }
    let sm = Map::image(LayoutSpec::nc1hwc2(c2), d, Layout::Nchw)?;
    let dm = Map::image(dst_layout, d, Layout::Nchw)?;
    let (sb, db) = (sm.bytes(elem)?, dm.bytes(elem)?);
    require("source", sb, src.len())?;
    require("destination", db, dst.len())?;
    engine::copy_layout(src, &sm, &mut dst[..db], &dm, elem);
    dm.fill_padding(dst, &[0u8; 8][..elem]);
    Ok(db)
}

/// A tensor's native (NPU-preferred) attributes, as reported by
/// `RKNN_QUERY_NATIVE_*_ATTR`; see `docs/io.md` for the rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NativeAttr {
    /// Native layout.
    pub layout: Layout,
    /// Dimensions in `layout` order (`[N, H, W, C]`, `[N, C1, H, W, C2]`,
    /// or the model's dims for NCHW / UNDEFINED).
    pub dims: Vec<usize>,
    /// Element type (the model tensor's type).
    pub dtype: DType,
    /// Elements described by `dims`.
    pub n_elems: usize,
    /// `n_elems` times the element size.
    pub size: usize,
    /// Row pitch in pixels for NHWC inputs; 0 otherwise (vendor: "0 means
    /// equal to width").
    pub w_stride: usize,
    /// Bytes to allocate for the tensor, stride padding included.
    pub size_with_stride: usize,
    /// The layout with its parameters, ready for the conversion functions.
    pub spec: LayoutSpec,
}

fn align_up(v: usize, a: usize) -> Option<usize> {
    v.checked_add(a - 1).map(|s| s / a * a)
}

fn attr(
    info: &TensorInfo,
    layout: Layout,
    dims: Vec<usize>,
    w_stride: usize,
    stride_elems: usize,
    spec: LayoutSpec,
) -> IoResult<NativeAttr> {
    let es = info.dtype.size();
    let n_elems = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(overflow)?;
    let size = n_elems.checked_mul(es).ok_or_else(overflow)?;
    let size_with_stride = stride_elems.checked_mul(es).ok_or_else(overflow)?;
    Ok(NativeAttr {
        layout,
        dims,
        dtype: info.dtype,
        n_elems,
        size,
        w_stride,
        size_with_stride,
        spec,
    })
}

fn model_order(info: &TensorInfo, align: usize) -> IoResult<NativeAttr> {
    let layout = if Dims4::from_info(info).is_some() {
        info.layout
    } else {
        Layout::Undefined
    };
    let elems = info.elems();
    let padded = if layout == Layout::Undefined {
        // Non-4-D zero-copy buffers: total size aligned (bytes).
        let bytes = elems.checked_mul(info.dtype.size()).ok_or_else(overflow)?;
        align_up(bytes, align).ok_or_else(overflow)? / info.dtype.size()
    } else {
        elems
    };
    attr(
        info,
        layout,
        info.shape.clone(),
        0,
        padded,
        LayoutSpec::of(layout),
    )
}

fn is_npu_type(t: DType) -> bool {
    matches!(t, DType::I8 | DType::U8 | DType::F16)
}

fn blocked(info: &TensorInfo, d: Dims4, platform: Platform) -> IoResult<NativeAttr> {
    let c2 = platform.c2(info.dtype.size());
    let c1 = d.c.div_ceil(c2);
    let dims = vec![d.n, c1, d.h, d.w, c2];
    let padded = dims
        .iter()
        .try_fold(1usize, |a, &v| a.checked_mul(v))
        .ok_or_else(overflow)?;
    attr(
        info,
        Layout::Nc1hwc2,
        dims,
        0,
        padded,
        LayoutSpec::nc1hwc2(c2),
    )
}

/// Native attributes of a model input (`RKNN_QUERY_NATIVE_INPUT_ATTR`):
/// 4-D inputs with 1, 3 or 4 channels are NHWC with the width aligned to
/// [`Platform::input_width_align`]; other 4-D inputs of NPU types (int8,
/// uint8, fp16) are NC1HWC2 with [`Platform::c2`]; other 4-D inputs
/// (bool, int64, fp32, ...) stay NCHW; non-4-D inputs are UNDEFINED with
/// the byte size aligned to the same alignment.
pub fn native_input_attr(info: &TensorInfo, platform: Platform) -> IoResult<NativeAttr> {
    let align = platform.input_width_align();
    let Some(d) = Dims4::from_info(info) else {
        return model_order(info, align);
    };
    let float_or_npu = is_npu_type(info.dtype) || info.dtype == DType::F32;
    if matches!(d.c, 1 | 3 | 4) && float_or_npu {
        let ws = align_up(d.w, align).ok_or_else(overflow)?;
        let padded =
            d.n.checked_mul(d.h)
                .and_then(|v| v.checked_mul(ws))
                .and_then(|v| v.checked_mul(d.c))
                .ok_or_else(overflow)?;
        return attr(
            info,
            Layout::Nhwc,
            vec![d.n, d.h, d.w, d.c],
            ws,
            padded,
            LayoutSpec::nhwc_strided(ws),
        );
    }
    if is_npu_type(info.dtype) {
        return blocked(info, d, platform);
    }
    model_order(info, 1)
}

/// Native attributes of a model output (`RKNN_QUERY_NATIVE_OUTPUT_ATTR`):
/// 4-D outputs of NPU types are NC1HWC2; everything else is reported in
/// model order without padding.
pub fn native_output_attr(info: &TensorInfo, platform: Platform) -> IoResult<NativeAttr> {
    match Dims4::from_info(info) {
        Some(d) if is_npu_type(info.dtype) => blocked(info, d, platform),
        _ => model_order(info, 1),
    }
}

/// Native NHWC attributes of a model output
/// (`RKNN_QUERY_NATIVE_NHWC_OUTPUT_ATTR`): 4-D outputs as dense NHWC,
/// others in model order.
pub fn native_nhwc_output_attr(info: &TensorInfo) -> IoResult<NativeAttr> {
    match Dims4::from_info(info) {
        Some(d) => {
            let dims = vec![d.n, d.h, d.w, d.c];
            let elems = d.elems().ok_or_else(overflow)?;
            attr(info, Layout::Nhwc, dims, 0, elems, LayoutSpec::NHWC)
        }
        None => model_order(info, 1),
    }
}

#[cfg(test)]
mod tests;
