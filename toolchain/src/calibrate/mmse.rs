//! `mmse`: the clipping range `[lo, hi]` that minimises the expected
//! squared error of asymmetric int8 quantization, on a histogram of the
//! tensor's values over `[min, max]`.
//!
//! For a candidate range the error is the clipping error of the values
//! outside it, `Σ count·(centre − clip)²` over the bins outside, plus the
//! rounding error of the values inside, `N_in · Δ² / 12` with
//! `Δ = (hi − lo) / 255` (uniform rounding error). Prefix sums of
//! `count`, `count·x` and `count·x²` make each candidate O(1). Candidate
//! ends are bin edges on a grid of every [`STEP`]-th bin; the range always
//! contains 0 (as the asymmetric parameters do).

use super::stats::Histogram;

/// Candidate ends are every `STEP`-th bin edge.
pub const STEP: usize = 8;

/// The best `[lo, hi]` for `hist`.
pub fn range(hist: &Histogram) -> (f32, f32) {
    let bins = hist.counts.len();
    let mut s0 = vec![0f64; bins + 1];
    let mut s1 = vec![0f64; bins + 1];
    let mut s2 = vec![0f64; bins + 1];
    for (i, &c) in hist.counts.iter().enumerate() {
        let x = hist.centre(i);
        s0[i + 1] = s0[i] + c;
        s1[i + 1] = s1[i] + c * x;
        s2[i + 1] = s2[i] + c * x * x;
    }
    // Σ_{k in a..b} c·(x − t)²
    let sq = |a: usize, b: usize, t: f64| {
        let (n, sx, sxx) = (s0[b] - s0[a], s1[b] - s1[a], s2[b] - s2[a]);
        sxx - 2.0 * t * sx + t * t * n
    };
    let candidates: Vec<usize> = (0..=bins).step_by(STEP).chain([bins]).collect();
    let mut best = (f64::INFINITY, hist.lo, hist.hi);
    for &a in &candidates {
        let lo = hist.edge(a).min(0.0);
        for &b in candidates.iter().filter(|&&b| b > a) {
            let hi = hist.edge(b).max(0.0);
            if hi <= lo {
                continue;
            }
            let delta = (hi - lo) / 255.0;
            let inside = s0[b] - s0[a];
            let err = sq(0, a, lo) + sq(b, bins, hi) + inside * delta * delta / 12.0;
            if err < best.0 {
                best = (err, lo as f32, hi as f32);
            }
        }
    }
    (best.1, best.2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_data_keeps_its_range() {
        let v: Vec<f32> = (0..10000).map(|i| i as f32 / 5000.0 - 1.0).collect();
        let mut h = Histogram::new(-1.0, 1.0);
        h.add(&v);
        let (lo, hi) = range(&h);
        assert!(lo < -0.9 && hi > 0.9, "{lo} {hi}");
    }

    #[test]
    fn a_rare_outlier_is_clipped_when_clipping_costs_less_than_rounding() {
        // 10^6 values in [-1, 1) and one at 20: clipping it costs ~19^2 =
        // 361, keeping it costs 10^6 * (21/255)^2 / 12 = 565.
        let mut v: Vec<f32> = (0..1_000_000)
            .map(|i| (i % 200) as f32 / 100.0 - 1.0)
            .collect();
        v.push(20.0);
        let mut h = Histogram::new(-1.0, 20.0);
        h.add(&v);
        let (lo, hi) = range(&h);
        assert!(lo <= -0.9, "{lo}");
        // Optimum of (20 - hi)^2 + 10^6 (hi + 1)^2 / (255^2 * 12): hi = 8.2.
        assert!((hi - 8.2).abs() < 0.2, "{hi}");
        // With 10^4 values keeping the outlier is cheaper (5.6 vs 361).
        let mut h = Histogram::new(-1.0, 20.0);
        h.add(&v[v.len() - 10_001..]);
        assert!(range(&h).1 > 19.0);
    }
}
