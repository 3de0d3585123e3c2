//! Fused activations: applied in place on f32 results, and folded into
//! the requantization of int8 results (docs/numerics.md, "Fused
//! activations").

use super::quant;
use crate::graph::Activation;

/// Applies an optional fused activation to f32 values in place.
pub(crate) fn apply_f32(act: Option<Activation>, data: &mut [f32]) {
    match act {
        None => {}
        Some(Activation::Relu) => data.iter_mut().for_each(|v| *v = v.max(0.0)),
        Some(a) => data.iter_mut().for_each(|v| *v = a.apply(*v)),
    }
}

/// How an int8 output is produced from an int32 accumulator.
#[derive(Clone, Copy, Debug)]
enum Epilogue {
    /// The activation is a clamp in real units, so it becomes a clamp of
    /// the quantized value (exact, because rounding is monotonic and
    /// real 0 maps to the zero point exactly).
    Clamp { lo: i8, hi: i8 },
    /// Any other activation: the accumulator's real value is computed in
    /// f32, the activation applied, and the result quantized.
    Float(Activation),
}

/// The output stage of an int8 kernel: requantization of an int32
/// accumulator into the output's (scale, zero point), with the fused
/// activation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct I8Output {
    epilogue: Epilogue,
    out_scale: f32,
    out_zp: i32,
}

impl I8Output {
    /// Output stage for an int8 tensor with per-tensor `(out_scale,
    /// out_zp)` and an optional fused activation.
    pub(crate) fn new(act: Option<Activation>, out_scale: f32, out_zp: i32) -> I8Output {
        let bound = |real: f32| -> i8 {
            let q = quant::round(real / out_scale) + out_zp as f32;
            q.clamp(-128.0, 127.0) as i8
        };
        let zp = out_zp.clamp(-128, 127) as i8;
        let epilogue = match act {
            None => Epilogue::Clamp { lo: -128, hi: 127 },
            Some(Activation::Relu) => Epilogue::Clamp { lo: zp, hi: 127 },
            Some(Activation::Relu6) => Epilogue::Clamp {
                lo: zp,
                hi: bound(6.0),
            },
            Some(Activation::Clip { min, max }) if !min.is_nan() && !max.is_nan() => {
                // `Activation::apply` gives `max` when min > max; so does this.
                let hi = bound(max);
                Epilogue::Clamp {
                    lo: bound(min).min(hi),
                    hi,
                }
            }
            Some(a) => Epilogue::Float(a),
        };
        I8Output {
            epilogue,
            out_scale,
            out_zp,
        }
    }

    /// The int8 output for accumulator `acc`, whose real value is
    /// `acc * acc_scale`; `multiplier` is `acc_scale / out_scale`
    /// (precomputed by the caller, per output channel).
    #[inline(always)]
    pub(crate) fn requant(&self, acc: i32, multiplier: f32, acc_scale: f32) -> i8 {
        match self.epilogue {
            Epilogue::Clamp { lo, hi } => {
                quant::requantize_i8(acc, multiplier, self.out_zp).clamp(lo, hi)
            }
            Epilogue::Float(a) => {
                let real = a.apply(acc as f32 * acc_scale);
                quant::quantize_i8(real, 1.0 / self.out_scale, self.out_zp)
            }
        }
    }

    /// True when the fused activation is folded into integer clamping.
    #[cfg(test)]
    pub(crate) fn is_integer(&self) -> bool {
        matches!(self.epilogue, Epilogue::Clamp { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamp_activations_match_float_path() {
        let (scale, zp) = (0.05f32, -7);
        for act in [
            Activation::Relu,
            Activation::Relu6,
            Activation::Clip {
                min: -1.0,
                max: 2.5,
            },
        ] {
            let int = I8Output::new(Some(act), scale, zp);
            assert!(int.is_integer());
            let float = I8Output {
                epilogue: Epilogue::Float(act),
                out_scale: scale,
                out_zp: zp,
            };
            let acc_scale = 0.0125f32;
            let mult = acc_scale / scale;
            for acc in -20000..20000 {
                let a = int.requant(acc, mult, acc_scale);
                let b = float.requant(acc, mult, acc_scale);
                assert!(
                    (a as i32 - b as i32).abs() <= 1,
                    "{act:?} acc {acc}: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn inverted_clip_gives_max_like_f32() {
        let out = I8Output::new(Some(Activation::Clip { min: 2.0, max: 1.0 }), 0.1, 0);
        let f = Activation::Clip { min: 2.0, max: 1.0 };
        for acc in [-500, 0, 15, 500] {
            let want = quant::quantize_i8(f.apply(acc as f32 * 0.01), 10.0, 0);
            assert_eq!(out.requant(acc, 0.1, 0.01), want);
        }
    }

    #[test]
    fn relu_clamps_at_zero_point() {
        let out = I8Output::new(Some(Activation::Relu), 0.1, 10);
        assert_eq!(out.requant(-1000, 0.01, 0.001), 10);
        assert_eq!(out.requant(1000, 0.01, 0.001), 20);
        let none = I8Output::new(None, 0.1, 10);
        assert_eq!(none.requant(-1000, 0.01, 0.001), 0);
        assert_eq!(none.requant(100_000, 0.01, 0.001), 127);
    }

    #[test]
    fn float_activation_uses_accumulator_value() {
        let out = I8Output::new(Some(Activation::Sigmoid), 1.0 / 256.0, -128);
        // real 0 -> sigmoid 0.5 -> 128 steps above -128.
        assert_eq!(out.requant(0, 1.0, 1.0), 0);
    }
}
