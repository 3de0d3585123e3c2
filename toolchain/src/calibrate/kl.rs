//! `kl_divergence`: the TensorRT-style threshold search (Migacz, "8-bit
//! Inference with TensorRT", GTC 2017) on a histogram of `|x|`.
//!
//! The histogram has [`BINS`](super::stats::BINS) = 2048 bins over
//! `[0, max|x|]`. For every candidate end bin `i` from `levels` to 2048:
//! the reference distribution `P` is bins `0..i` with every count past `i`
//! added to bin `i - 1` (the values that would be clipped); the candidate
//! `Q` merges bins `0..i` into `levels` groups and spreads each group's
//! count evenly over its non-empty bins. Both are normalised, empty `Q`
//! bins under a non-empty `P` bin get a small epsilon, and the threshold is
//! the right edge of bin `i` with the smallest `KL(P || Q)`.
//!
//! Candidates below the 99.9th percentile of `|x|` are not considered: a
//! distribution offset from 0 (a Sigmoid output in [0.16, 0.83]) has empty
//! low bins, and the first candidate that reaches its mass would put
//! everything in one bin of both `P` and `Q` — divergence 0 for a
//! threshold that clips nearly every value. For the zero-centred
//! distributions the search was designed for this bound lies inside the
//! bulk, far below the thresholds it picks.
//!
//! `levels` is the number of int8 steps one side of the range gets: 255
//! for a one-sided tensor (all values ≥ 0 or ≤ 0: asymmetric int8 spends
//! all 256 codes on one side) and 128 otherwise.

use super::stats::Histogram;

/// Smoothing for `Q` bins that are empty where `P` is not.
const EPS: f64 = 1e-4;

/// Fraction of the values a threshold must keep at least.
const KEEP: f64 = 0.999;

/// The threshold (in the histogram's units) minimising the divergence.
pub fn threshold(hist: &Histogram, levels: usize) -> f64 {
    let counts = &hist.counts;
    let bins = counts.len();
    let levels = levels.clamp(1, bins);
    let total: f64 = counts.iter().sum();
    if total <= 0.0 {
        return hist.edge(bins);
    }
    // suffix[i] = sum of counts[i..]
    let mut suffix = vec![0f64; bins + 1];
    for i in (0..bins).rev() {
        suffix[i] = suffix[i + 1] + counts[i];
    }
    // Smallest end bin keeping KEEP of the values.
    let first = (1..=bins)
        .find(|&i| total - suffix[i] >= KEEP * total)
        .unwrap_or(bins);
    let mut best = (f64::INFINITY, bins);
    let mut p = vec![0f64; bins];
    let mut q = vec![0f64; bins];
    for i in levels.max(first)..=bins {
        p[..i].copy_from_slice(&counts[..i]);
        p[i - 1] += suffix[i];
        for j in 0..levels {
            let start = j * i / levels;
            let end = ((j + 1) * i / levels).max(start + 1).min(i);
            let group = &counts[start..end];
            let sum: f64 = group.iter().sum();
            let nonzero = group.iter().filter(|&&c| c > 0.0).count();
            for (k, &c) in group.iter().enumerate() {
                q[start + k] = if c > 0.0 { sum / nonzero as f64 } else { 0.0 };
            }
        }
        let p_sum: f64 = p[..i].iter().sum();
        let q_sum: f64 = q[..i].iter().sum();
        if p_sum <= 0.0 || q_sum <= 0.0 {
            continue;
        }
        let mut kl = 0.0;
        for k in 0..i {
            if p[k] > 0.0 {
                let pk = p[k] / p_sum;
                let qk = (q[k] / q_sum).max(EPS / q_sum.max(1.0));
                kl += pk * (pk / qk).ln();
            }
        }
        if kl < best.0 {
            best = (kl, i);
        }
    }
    hist.edge(best.1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calibrate::stats::BINS;

    #[test]
    fn uniform_data_keeps_the_full_range() {
        let mut h = Histogram::new(0.0, 1.0);
        let v: Vec<f32> = (0..20000).map(|i| i as f32 / 20000.0).collect();
        h.add_abs(&v);
        let t = threshold(&h, 128);
        assert!(t > 0.95, "{t}");
    }

    #[test]
    fn rare_outliers_are_clipped() {
        // A bulk in [0, 1) plus a few values near 100.
        let mut v: Vec<f32> = (0..50000).map(|i| (i % 1000) as f32 / 1000.0).collect();
        v.extend([99.0, 100.0, 98.5]);
        let mut h = Histogram::new(0.0, 100.0);
        h.add_abs(&v);
        // The smallest threshold the search allows is `levels` bins.
        let t = threshold(&h, 255);
        assert!((t - 255.0 * 100.0 / BINS as f64).abs() < 1e-9, "{t}");
        let t = threshold(&h, 128);
        assert!(t < 10.0, "{t}");
    }

    #[test]
    fn a_distribution_offset_from_zero_is_not_collapsed() {
        // Values in [0.16, 0.83] (a Sigmoid output): no mass near 0.
        let v: Vec<f32> = (0..30000)
            .map(|i| 0.16 + 0.67 * (i as f32 / 30000.0))
            .collect();
        let mut h = Histogram::new(0.0, 0.83);
        h.add_abs(&v);
        let t = threshold(&h, 255);
        assert!(t > 0.8, "{t}");
    }

    #[test]
    fn empty_histogram_keeps_its_range() {
        let h = Histogram::new(0.0, 2.0);
        assert_eq!(threshold(&h, 128), 2.0);
    }
}
