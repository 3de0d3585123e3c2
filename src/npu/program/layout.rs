//! Where every tensor of a vendor program lives: weight memory, auxiliary
//! memory and internal memory, laid out as the vendor runtime does
//! (`reference/rknn-vendor-format.md` §3.3, Model slot 19, Tensor slot 13).
//!
//! * Weight memory: the NPU and CPU constants (kinds 4 and 5), their
//!   buffers concatenated in buffer order, each 64-byte aligned; the total
//!   must equal the planned weight size.
//! * Auxiliary memory: the auxiliary constants (kind 8) the same way; the
//!   total must equal the third planned size when there is one.
//! * Internal memory: activations, and also the model's inputs and
//!   outputs, at their `mem_offset`; activations must fit the planned
//!   size, inputs and outputs may extend it.
//! * Extra memory: tensors of other kinds that have a buffer of their own
//!   (e.g. the kind-6 `Sigmoid` tensor that a LUT upload task addresses),
//!   laid out like the constants. The vendor plan has no size for it.

use std::ops::Range;

use crate::model::vendor::{TensorKind, VendorModel};
use crate::model::ModelError;

/// Alignment of each constant in weight and auxiliary memory.
pub const CONST_ALIGN: u64 = 64;
/// Most bytes of internal memory a program may ask for.
pub const MAX_INTERNAL: u64 = 1 << 31;

/// One of the memories a program uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Region {
    /// Constants (weights, biases, shape constants, scratch constants).
    Weights,
    /// Auxiliary constants (kind 8).
    Aux,
    /// Activations and, in the vendor plan, the model inputs and outputs.
    Internal,
    /// Buffers of tensors of other kinds that the streams address.
    Extra,
}

impl Region {
    /// Name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Region::Weights => "weight memory",
            Region::Aux => "auxiliary memory",
            Region::Internal => "internal memory",
            Region::Extra => "extra memory",
        }
    }
}

/// Where one tensor's bytes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// Which memory.
    pub region: Region,
    /// Byte offset inside it.
    pub offset: u64,
    /// Bytes the tensor may use from there.
    pub size: u64,
}

/// One constant's bytes: copied from `file` (a range of the model file)
/// to `offset` of `region` when the program is loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConstCopy {
    /// Weights, Aux or Extra.
    pub region: Region,
    /// Destination offset.
    pub offset: u64,
    /// Source bytes in the model file.
    pub file: Range<usize>,
}

/// The memory plan of a vendor program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryLayout {
    /// Bytes of weight memory.
    pub weight_size: u64,
    /// Bytes of auxiliary memory (0 when the model has none).
    pub aux_size: u64,
    /// Bytes of internal memory.
    pub internal_size: u64,
    /// Bytes of extra memory (0 when no tensor needs it).
    pub extra_size: u64,
    /// Per tensor (same index as `VendorModel::tensors`): where it lives,
    /// `None` for tensors without memory (the regcmd and task buffers,
    /// placeholders).
    pub tensors: Vec<Option<Placement>>,
    /// The constants to copy at load time.
    pub consts: Vec<ConstCopy>,
}

impl MemoryLayout {
    /// Plans the memories of `model` and checks them against the sizes
    /// the compiler recorded.
    pub fn plan(model: &VendorModel) -> Result<MemoryLayout, ModelError> {
        let invalid = |m: String| Err(ModelError::Invalid(m));
        let mut tensors = vec![None; model.tensors.len()];
        let mut consts = Vec::new();
        let mut order: Vec<(usize, usize)> = model
            .tensors
            .iter()
            .enumerate()
            .filter(|(_, t)| !matches!(t.kind, TensorKind::Regcmd | TensorKind::Task))
            .filter_map(|(i, t)| t.buffer.map(|b| (b, i)))
            .collect();
        order.sort_unstable();
        let (mut weight_end, mut aux_end, mut extra_end) = (0u64, 0u64, 0u64);
        for w in order.windows(2) {
            if w[0].0 == w[1].0 {
                return invalid(format!(
                    "tensors {} and {} share buffer {}",
                    model.tensors[w[0].1].name, model.tensors[w[1].1].name, w[0].0
                ));
            }
        }
        for (buffer, i) in order {
            let t = &model.tensors[i];
            let file = model.buffers[buffer].clone();
            let len = file.len() as u64;
            let (region, end) = match t.kind {
                TensorKind::AuxConst => (Region::Aux, &mut aux_end),
                TensorKind::NpuConst | TensorKind::CpuConst => (Region::Weights, &mut weight_end),
                _ => (Region::Extra, &mut extra_end),
            };
            let offset = *end;
            *end = offset + len.next_multiple_of(CONST_ALIGN);
            tensors[i] = Some(Placement {
                region,
                offset,
                size: len,
            });
            consts.push(ConstCopy {
                region,
                offset,
                file,
            });
        }
        // A model without constants may record another size here (a
        // two-input element-wise model records its IO extent, with an
        // internal size of 0).
        if weight_end != model.memory.weight && weight_end != 0 {
            return invalid(format!(
                "the constants take {weight_end} bytes of weight memory (64-byte aligned, in \
                 buffer order) but the model plans {}",
                model.memory.weight
            ));
        }
        let aux_size = u64::from(model.memory.aux.unwrap_or(0));
        if aux_end != aux_size {
            return invalid(format!(
                "the auxiliary constants take {aux_end} bytes but the model plans {aux_size}"
            ));
        }
        let mut internal_size = model.memory.internal;
        for (i, t) in model.tensors.iter().enumerate() {
            if !matches!(
                t.kind,
                TensorKind::Input | TensorKind::Output | TensorKind::Activation
            ) {
                continue;
            }
            let size = u64::from(t.size.unwrap_or(0));
            let offset = u64::from(t.mem_offset);
            let end = offset + size;
            if t.kind == TensorKind::Activation && end > model.memory.internal {
                return invalid(format!(
                    "tensors[{i}] ({}): {size} bytes at offset {offset} exceed the {} bytes of \
                     internal memory",
                    t.name, model.memory.internal
                ));
            }
            if end > MAX_INTERNAL {
                return invalid(format!(
                    "tensors[{i}] ({}): {size} bytes at offset {offset} exceed the limit of \
                     {MAX_INTERNAL} bytes",
                    t.name
                ));
            }
            // Inputs and outputs may lie past the planned size (when the
            // plan has no activations it records 0): the memory grows.
            internal_size = internal_size.max(end);
            tensors[i] = Some(Placement {
                region: Region::Internal,
                offset,
                size,
            });
        }
        Ok(MemoryLayout {
            weight_size: weight_end,
            aux_size,
            internal_size,
            extra_size: extra_end,
            tensors,
            consts,
        })
    }
}
