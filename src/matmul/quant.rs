//! Quantization parameters of the three operands: storage, the length and
//! value checks of `rknn_matmul_set_quant_params`, and the per-(group,
//! column) view of B's parameters.
//!
//! Array lengths: A and C are per-layer (length 1). B is per-layer (1),
//! per-channel (N) or per-group (N·K/group_size). Per-group arrays hold,
//! for each column n, the K/group_size groups of that column:
//! `scale[n * (K/group_size) + g]` (user guide 3.5.3.1: "first the
//! K/group_size groups, then N of them"). A zero-point array may be
//! empty (all zero points 0) or as long as the scale array. Defaults:
//! scale 1, zero point 0.

use super::types::{Granularity, QuantKind};
use super::MatmulError;

/// Scales and zero points of one operand, both of the full length.
#[derive(Clone, Debug, PartialEq)]
pub struct OperandQuant {
    /// Scales (each finite and > 0).
    pub scale: Vec<f32>,
    /// Zero points (same length as `scale`).
    pub zp: Vec<i32>,
}

impl OperandQuant {
    /// `len` entries of scale 1, zero point 0.
    pub fn identity(len: usize) -> OperandQuant {
        OperandQuant {
            scale: vec![1.0; len],
            zp: vec![0; len],
        }
    }

    /// Checks user arrays against the expected length `len` and builds the
    /// parameters. `what` names the operand and granularity for messages.
    pub fn from_arrays(
        scale: &[f32],
        zp: &[i32],
        len: usize,
        what: &str,
    ) -> Result<OperandQuant, MatmulError> {
        if scale.len() != len {
            return Err(MatmulError::param(format!(
                "{what}: scale_len is {}, expected {len}",
                scale.len()
            )));
        }
        if !zp.is_empty() && zp.len() != len {
            return Err(MatmulError::param(format!(
                "{what}: zp_len is {}, expected {len} (or 0 for all-zero zero points)",
                zp.len()
            )));
        }
        if let Some(bad) = scale.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
            return Err(MatmulError::param(format!(
                "{what}: scale {bad} is not a finite positive number"
            )));
        }
        if let Some(bad) = zp.iter().find(|z| !(-128..=127).contains(*z)) {
            return Err(MatmulError::param(format!(
                "{what}: zero point {bad} is outside -128..127"
            )));
        }
        Ok(OperandQuant {
            scale: scale.to_vec(),
            zp: if zp.is_empty() {
                vec![0; len]
            } else {
                zp.to_vec()
            },
        })
    }
}

/// How B's parameters are indexed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BQuantLayout {
    /// Granularity.
    pub granularity: Granularity,
    /// Rows of K per group (K itself unless per-group).
    pub group: usize,
    /// Groups along K.
    pub groups: usize,
    /// Columns.
    pub n: usize,
}

impl BQuantLayout {
    /// The layout for `kind` on a K×N B with `group_size` (per-group only).
    pub fn new(
        kind: QuantKind,
        group_size: usize,
        k: usize,
        n: usize,
    ) -> Result<BQuantLayout, MatmulError> {
        let (group, groups) = match kind.granularity {
            Granularity::PerGroup => {
                if group_size == 0 || !k.is_multiple_of(group_size) {
                    return Err(MatmulError::param(format!(
                        "group_size {group_size} must be positive and divide K = {k} for per-group quantization of B"
                    )));
                }
                (group_size, k / group_size)
            }
            _ => (k, 1),
        };
        Ok(BQuantLayout {
            granularity: kind.granularity,
            group,
            groups,
            n,
        })
    }

    /// Length of B's scale and zero-point arrays.
    pub fn param_count(&self) -> usize {
        match self.granularity {
            Granularity::PerLayer => 1,
            Granularity::PerChannel => self.n,
            Granularity::PerGroup => self.n * self.groups,
        }
    }

    /// Index of the parameters of group `g` (along K), column `n`.
    #[inline]
    pub fn at(&self, g: usize, n: usize) -> usize {
        match self.granularity {
            Granularity::PerLayer => 0,
            Granularity::PerChannel => n,
            Granularity::PerGroup => n * self.groups + g,
        }
    }
}

/// Parameters of all three operands.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantParams {
    /// A (per-layer).
    pub a: OperandQuant,
    /// B (see [`BQuantLayout`]).
    pub b: OperandQuant,
    /// C (per-layer).
    pub c: OperandQuant,
}

impl QuantParams {
    /// Defaults: every scale 1, every zero point 0.
    pub fn defaults(b_len: usize) -> QuantParams {
        QuantParams {
            a: OperandQuant::identity(1),
            b: OperandQuant::identity(b_len),
            c: OperandQuant::identity(1),
        }
    }

    /// The single scale B's integers carry once normalized: the largest
    /// scale (`rknn_matmul_get_quant_params`).
    pub fn b_normalized_scale(&self) -> f32 {
        self.b.scale.iter().copied().fold(0.0, f32::max)
    }
}
