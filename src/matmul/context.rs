//! One matmul context: its specification, shapes, quantization parameters
//! and the operands re-laid at `rknn_matmul_set_io_mem` time, so that a
//! run only computes.

use crate::abi::*;
use crate::platform::Platform;

use super::compute::{self, AData, BData, CValues};
use super::layout::{self, Geometry, Kind};
use super::quant::{BQuantLayout, OperandQuant, QuantParams};
use super::rules::{self, NativeShapes};
use super::types::{Elem, Granularity, Layout, MatmulType, QuantKind, Shape};
use super::MatmulError;

/// The creation parameters of a matmul, decoded and checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spec {
    /// Platform whose rules apply.
    pub platform: Platform,
    /// Operand types.
    pub ty: MatmulType,
    /// Layout of B.
    pub b_layout: Layout,
    /// Layout of A and C.
    pub ac_layout: Layout,
    /// Quantization of B.
    pub b_quant: QuantKind,
    /// Group size (per-group B only).
    pub group_size: usize,
}

impl Spec {
    /// Decodes and checks `info` (all but M/K/N) for `platform`.
    pub fn from_info(info: &rknn_matmul_info, platform: Platform) -> Result<Spec, MatmulError> {
        let ty = MatmulType::from_raw(info.r#type)?;
        rules::check_type(platform, ty)?;
        let b_layout = Layout::from_raw(info.B_layout, "B_layout")?;
        let ac_layout = Layout::from_raw(info.AC_layout, "AC_layout")?;
        rules::check_layouts(platform, b_layout, ac_layout)?;
        let b_quant = QuantKind::from_raw(info.B_quant_type, "B_quant_type")?;
        let ac_quant = QuantKind::from_raw(info.AC_quant_type, "AC_quant_type")?;
        if ac_quant.granularity != Granularity::PerLayer {
            return Err(MatmulError::param(format!(
                "AC_quant_type {} is not supported: A and C are quantized per layer (0 or 1)",
                info.AC_quant_type
            )));
        }
        let (_, b, _) = ty.elems();
        if !b.is_int() && b_quant.granularity != Granularity::PerLayer {
            return Err(MatmulError::param(format!(
                "B_quant_type {} needs an integer B; {} has an fp16 B",
                info.B_quant_type,
                ty.name()
            )));
        }
        let group_size = if b_quant.granularity == Granularity::PerGroup {
            usize::try_from(info.group_size)
                .ok()
                .filter(|&g| g > 0)
                .ok_or_else(|| {
                    MatmulError::param(format!(
                        "group_size {} must be positive for per-group quantization of B",
                        info.group_size
                    ))
                })?
        } else {
            0
        };
        Ok(Spec {
            platform,
            ty,
            b_layout,
            ac_layout,
            b_quant,
            group_size,
        })
    }
}

/// Which matrix of a matmul.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand {
    /// Left operand, M×K.
    A,
    /// Right operand, K×N.
    B,
    /// Result, M×N.
    C,
}

impl Operand {
    /// The operand named `name` (`"A"`, `"B"` or `"C"`, as reported in
    /// `rknn_matmul_tensor_attr.name`).
    pub fn from_name(name: &str) -> Result<Operand, MatmulError> {
        match name {
            "A" => Ok(Operand::A),
            "B" => Ok(Operand::B),
            "C" => Ok(Operand::C),
            _ => Err(MatmulError::param(format!(
                "name '{name}' is not one of the matmul tensors A, B, C"
            ))),
        }
    }

    /// The name reported in `rknn_matmul_tensor_attr.name`.
    pub fn name(self) -> &'static str {
        match self {
            Operand::A => "A",
            Operand::B => "B",
            Operand::C => "C",
        }
    }
}

/// B in normal layout as given (before quantization parameters apply).
#[derive(Clone, Debug)]
enum BRaw {
    F32(Vec<f32>),
    Int(Vec<i8>),
}

/// A matmul context.
#[derive(Debug)]
pub struct MatmulContext {
    spec: Spec,
    native: NativeShapes,
    shapes: Vec<Shape>,
    current: usize,
    b_qlayout: BQuantLayout,
    params: QuantParams,
    a: Option<AData>,
    b_raw: Option<BRaw>,
    b: Option<BData>,
    core_mask: u32,
}

impl MatmulContext {
    /// A context for `spec` with the shapes it may run (one for a static
    /// matmul); every shape is checked, and all must share K and N.
    pub fn new(spec: Spec, shapes: Vec<Shape>) -> Result<MatmulContext, MatmulError> {
        let first = *shapes
            .first()
            .ok_or_else(|| MatmulError::param("at least one shape is needed"))?;
        for s in &shapes {
            rules::check_shape(spec.platform, spec.ty, *s)?;
            if s.k != first.k || s.n != first.n {
                return Err(MatmulError::param(format!(
                    "shape ({}, {}, {}) differs from ({}, {}, {}) in K or N; only M may vary between shapes",
                    s.m, s.k, s.n, first.m, first.k, first.n
                )));
            }
        }
        let b_qlayout = BQuantLayout::new(spec.b_quant, spec.group_size, first.k, first.n)?;
        Ok(MatmulContext {
            native: rules::native_shapes(spec.platform, spec.ty),
            params: QuantParams::defaults(b_qlayout.param_count()),
            spec,
            shapes,
            current: 0,
            b_qlayout,
            a: None,
            b_raw: None,
            b: None,
            core_mask: 0,
        })
    }

    /// The specification.
    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    /// The shapes given at creation.
    pub fn shapes(&self) -> &[Shape] {
        &self.shapes
    }

    /// The current shape.
    pub fn shape(&self) -> Shape {
        self.shapes[self.current]
    }

    /// Geometry of `op` in its layout for shape `s`.
    pub fn geometry(&self, op: Operand, s: Shape) -> Geometry {
        match op {
            Operand::A => Geometry::a(s, self.spec.ac_layout, &self.native),
            Operand::B => Geometry::b(
                s,
                self.spec.b_layout,
                &self.native,
                rules::b_segment_k(self.spec.platform),
            ),
            Operand::C => Geometry::c(s, self.spec.ac_layout, &self.native),
        }
    }

    /// Element type of `op`.
    pub fn elem(&self, op: Operand) -> Elem {
        let (a, b, c) = self.spec.ty.elems();
        match op {
            Operand::A => a,
            Operand::B => b,
            Operand::C => c,
        }
    }

    /// Bytes `op` needs in the current shape.
    pub fn required_size(&self, op: Operand) -> usize {
        self.elem(op)
            .bytes_for(self.geometry(op, self.shape()).count())
    }

    /// The `rknn_matmul_tensor_attr` of `op` for shape `s`.
    pub fn tensor_attr(&self, op: Operand, s: Shape) -> rknn_matmul_tensor_attr {
        let g = self.geometry(op, s);
        let elem = self.elem(op);
        let mut attr = rknn_matmul_tensor_attr::default();
        for (d, ch) in attr.name.iter_mut().zip(op.name().bytes()) {
            *d = ch as core::ffi::c_char;
        }
        let dims = g.dims();
        attr.n_dims = dims.len() as u32;
        attr.dims[..dims.len()].copy_from_slice(&dims);
        attr.size = u32::try_from(elem.bytes_for(g.count())).unwrap_or(u32::MAX);
        attr.r#type = elem.tensor_type();
        attr
    }

    /// The `rknn_matmul_io_attr` for shape `s`.
    pub fn io_attr(&self, s: Shape) -> rknn_matmul_io_attr {
        rknn_matmul_io_attr {
            A: self.tensor_attr(Operand::A, s),
            B: self.tensor_attr(Operand::B, s),
            C: self.tensor_attr(Operand::C, s),
        }
    }

    /// Selects one of the creation shapes. Returns whether the shape
    /// changed; if so A must be set again (B, whose K and N are fixed,
    /// stays).
    pub fn set_shape(&mut self, s: Shape) -> Result<bool, MatmulError> {
        let idx = self.shapes.iter().position(|x| *x == s).ok_or_else(|| {
            let list: Vec<String> = self
                .shapes
                .iter()
                .map(|x| format!("({}, {}, {})", x.m, x.k, x.n))
                .collect();
            MatmulError::param(format!(
                "shape ({}, {}, {}) is not one of the creation shapes: {}",
                s.m,
                s.k,
                s.n,
                list.join(", ")
            ))
        })?;
        let changed = idx != self.current;
        if changed {
            self.current = idx;
            self.a = None;
        }
        Ok(changed)
    }

    /// Records the core mask (checked against the platform); on the host
    /// device it sets how many threads `run` uses (`docs/multicore.md`).
    pub fn set_core_mask(&mut self, mask: u32) -> Result<(), MatmulError> {
        let p = self.spec.platform;
        if !p.core_mask_valid(mask) {
            return Err(MatmulError::fail(format!(
                "core mask {mask:#x} is not supported on {} ({} NPU core{})",
                p.name(),
                p.cores(),
                if p.cores() == 1 { "" } else { "s" }
            )));
        }
        self.core_mask = mask;
        Ok(())
    }

    /// The recorded core mask.
    pub fn core_mask(&self) -> u32 {
        self.core_mask
    }

    /// Re-lays `src` (operand `op` in its layout) into normal layout and
    /// keeps it for the runs that follow. C is only checked for size.
    pub fn set_operand(&mut self, op: Operand, src: &[u8]) -> Result<(), MatmulError> {
        let need = self.required_size(op);
        if src.len() < need {
            return Err(MatmulError::param(format!(
                "memory for {} holds {} bytes, {need} needed",
                op.name(),
                src.len()
            )));
        }
        if op == Operand::C {
            return Ok(());
        }
        let s = self.shape();
        let elem = self.elem(op);
        let from = self.geometry(op, s);
        let norm = Geometry {
            kind: Kind::Norm,
            ..from
        };
        let count = norm.count();
        let normal: std::borrow::Cow<'_, [u8]> = if from.kind == Kind::Norm {
            std::borrow::Cow::Borrowed(src)
        } else {
            let mut buf = vec![0u8; elem.bytes_for(count)];
            layout::relayout(src, &from, &mut buf, &norm, elem);
            std::borrow::Cow::Owned(buf)
        };
        match (op, elem) {
            (Operand::A, Elem::F16) => {
                self.a = Some(AData::F32(layout::decode_f16(&normal, count)))
            }
            (Operand::A, e) => self.a = Some(AData::I8(layout::decode_int(&normal, e, count))),
            (_, Elem::F16) => self.b_raw = Some(BRaw::F32(layout::decode_f16(&normal, count))),
            (_, e) => self.b_raw = Some(BRaw::Int(layout::decode_int(&normal, e, count))),
        }
        if op == Operand::B {
            self.prepare_b()?;
        }
        Ok(())
    }

    /// Derives the GEMM-ready (packed) B from the raw B and the parameters.
    fn prepare_b(&mut self) -> Result<(), MatmulError> {
        let (a_elem, _, c_elem) = self.spec.ty.elems();
        let l = self.b_qlayout;
        let (k, n) = (l.group * l.groups, l.n);
        self.b = match self.b_raw.as_ref() {
            None => None,
            Some(BRaw::F32(v)) => Some(BData::pack_f32(k, n, v)?),
            Some(BRaw::Int(v)) if a_elem == Elem::F16 => Some(BData::pack_f32(
                k,
                n,
                &compute::dequantize_b(v, &self.params.b, &l),
            )?),
            Some(BRaw::Int(v))
                if c_elem.is_int()
                    && c_elem != Elem::I8
                    && l.granularity != Granularity::PerLayer =>
            {
                let s_max = self.params.b_normalized_scale();
                Some(BData::pack_int(
                    n,
                    &compute::normalize_b(v, &self.params.b, &l, s_max),
                    OperandQuant {
                        scale: vec![s_max],
                        zp: vec![0],
                    },
                    BQuantLayout {
                        granularity: Granularity::PerLayer,
                        group: k,
                        groups: 1,
                        n: l.n,
                    },
                )?)
            }
            Some(BRaw::Int(v)) => Some(BData::pack_int(n, v, self.params.b.clone(), l)?),
        };
        Ok(())
    }

    /// Sets the parameters of `op` (see [`super::quant`] for lengths).
    pub fn set_quant(&mut self, op: Operand, scale: &[f32], zp: &[i32]) -> Result<(), MatmulError> {
        match op {
            Operand::A => self.params.a = OperandQuant::from_arrays(scale, zp, 1, "A (per layer)")?,
            Operand::C => self.params.c = OperandQuant::from_arrays(scale, zp, 1, "C (per layer)")?,
            Operand::B => {
                let what = match self.b_qlayout.granularity {
                    Granularity::PerLayer => "B (per layer)",
                    Granularity::PerChannel => "B (per channel: N)",
                    Granularity::PerGroup => "B (per group: N*K/group_size)",
                };
                self.params.b =
                    OperandQuant::from_arrays(scale, zp, self.b_qlayout.param_count(), what)?;
                self.prepare_b()?;
            }
        }
        Ok(())
    }

    /// The current parameters.
    pub fn quant(&self) -> &QuantParams {
        &self.params
    }

    /// The single scale of `op`: A's or C's scale, or B's normalized scale.
    pub fn scale_of(&self, op: Operand) -> f32 {
        match op {
            Operand::A => self.params.a.scale[0],
            Operand::B => self.params.b_normalized_scale(),
            Operand::C => self.params.c.scale[0],
        }
    }

    /// Whether A and B are set for the current shape.
    pub fn inputs_ready(&self) -> Result<(), MatmulError> {
        if self.a.is_none() {
            return Err(MatmulError::fail(
                "A is not set for the current shape: call rknn_matmul_set_io_mem for A first",
            ));
        }
        if self.b.is_none() {
            return Err(MatmulError::fail(
                "B is not set: call rknn_matmul_set_io_mem for B first",
            ));
        }
        Ok(())
    }

    /// Computes C into `out` (C's memory, in C's layout).
    pub fn run(&self, out: &mut [u8]) -> Result<(), MatmulError> {
        self.inputs_ready()?;
        let (Some(a), Some(b)) = (&self.a, &self.b) else {
            return Err(MatmulError::fail("A or B is not set"));
        };
        let s = self.shape();
        let c = self.elem(Operand::C);
        let need = self.required_size(Operand::C);
        if out.len() < need {
            return Err(MatmulError::param(format!(
                "memory for C holds {} bytes, {need} needed",
                out.len()
            )));
        }
        // The core mask is the kernels' thread budget, as for model
        // contexts (`docs/multicore.md`).
        let threads = crate::runtime::cores::threads_for_mask(self.spec.platform, self.core_mask);
        let values = crate::kernels::fast_gemm::threads::with_thread_budget(threads, || {
            compute::compute(s, a, b, &self.params.a, &self.params.c, c)
        })?;
        write_c(&values, c, &self.geometry(Operand::C, s), &mut out[..need]);
        Ok(())
    }
}

/// Writes normal-layout results into C's memory in C's geometry.
fn write_c(values: &CValues, c: Elem, g: &Geometry, out: &mut [u8]) {
    if g.kind == Kind::Norm {
        if let (CValues::F32(v), Elem::F32) = (values, c) {
            for (d, x) in out.chunks_exact_mut(4).zip(v) {
                d.copy_from_slice(&x.to_le_bytes());
            }
            return;
        }
    } else {
        out.fill(0);
    }
    for r in 0..g.rows {
        for col in 0..g.cols {
            let i = r * g.cols + col;
            layout::put_raw(out, c, g.index(r, col), compute::encode(c, values, i));
        }
    }
}
