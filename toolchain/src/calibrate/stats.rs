//! Per-tensor statistics gathered over the calibration set: the value
//! range (first pass) and two histograms over that range (second pass,
//! only for `kl_divergence` and `mmse`).

/// Number of bins of every histogram.
pub const BINS: usize = 2048;

/// Smallest and largest finite value seen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MinMax {
    /// Smallest value (`+inf` before any value).
    pub min: f32,
    /// Largest value (`-inf` before any value).
    pub max: f32,
}

impl Default for MinMax {
    fn default() -> Self {
        MinMax {
            min: f32::INFINITY,
            max: f32::NEG_INFINITY,
        }
    }
}

impl MinMax {
    /// Widens the range to cover `values` (non-finite values are skipped).
    pub fn update(&mut self, values: &[f32]) {
        for &v in values {
            if v.is_finite() {
                self.min = self.min.min(v);
                self.max = self.max.max(v);
            }
        }
    }

    /// True when at least one value was seen.
    pub fn is_set(&self) -> bool {
        self.min <= self.max
    }

    /// Largest magnitude.
    pub fn abs_max(&self) -> f32 {
        if self.is_set() {
            self.min.abs().max(self.max.abs())
        } else {
            0.0
        }
    }
}

/// A histogram of `BINS` equal bins over `[lo, hi]`; values outside are
/// counted in the first or last bin.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    /// Left edge of the first bin.
    pub lo: f32,
    /// Right edge of the last bin.
    pub hi: f32,
    /// Counts.
    pub counts: Vec<f64>,
}

impl Histogram {
    /// Empty histogram over `[lo, hi]`.
    pub fn new(lo: f32, hi: f32) -> Histogram {
        Histogram {
            lo,
            hi,
            counts: vec![0.0; BINS],
        }
    }

    /// Width of one bin (0 for an empty range).
    pub fn bin_width(&self) -> f64 {
        (self.hi as f64 - self.lo as f64) / BINS as f64
    }

    /// Value at the centre of bin `i`.
    pub fn centre(&self, i: usize) -> f64 {
        self.lo as f64 + (i as f64 + 0.5) * self.bin_width()
    }

    /// Value at the left edge of bin `i` (`i == BINS`: the right end).
    pub fn edge(&self, i: usize) -> f64 {
        self.lo as f64 + i as f64 * self.bin_width()
    }

    fn bin(&self, v: f32) -> usize {
        let w = self.bin_width();
        if w <= 0.0 {
            return 0;
        }
        let i = ((v as f64 - self.lo as f64) / w).floor();
        if i <= 0.0 {
            0
        } else {
            (i as usize).min(BINS - 1)
        }
    }

    /// Counts `values`.
    pub fn add(&mut self, values: &[f32]) {
        for &v in values {
            if v.is_finite() {
                let i = self.bin(v);
                self.counts[i] += 1.0;
            }
        }
    }

    /// Counts `|v|` of the non-zero `values` (for a histogram over
    /// `[0, abs_max]`). Exact zeros are skipped: the zero point represents
    /// them exactly whatever the range, and the spike ReLU outputs have at
    /// 0 would otherwise pull the KL search towards tiny thresholds.
    pub fn add_abs(&mut self, values: &[f32]) {
        for &v in values {
            if v.is_finite() && v != 0.0 {
                let i = self.bin(v.abs());
                self.counts[i] += 1.0;
            }
        }
    }

    /// Total count.
    pub fn total(&self) -> f64 {
        self.counts.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_max_skips_non_finite_values() {
        let mut m = MinMax::default();
        assert!(!m.is_set());
        m.update(&[1.0, f32::NAN, -3.0, f32::INFINITY]);
        assert_eq!((m.min, m.max), (-3.0, 1.0));
        assert_eq!(m.abs_max(), 3.0);
    }

    #[test]
    fn histogram_bins_and_clamps() {
        let mut h = Histogram::new(-1.0, 1.0);
        h.add(&[-1.0, 1.0, 0.0, 5.0, -5.0]);
        assert_eq!(h.counts[0], 2.0);
        assert_eq!(h.counts[BINS - 1], 2.0);
        assert_eq!(h.counts[BINS / 2], 1.0);
        assert_eq!(h.total(), 5.0);
        let mut a = Histogram::new(0.0, 2.0);
        a.add_abs(&[-2.0, 0.5, 0.0]);
        assert_eq!(a.total(), 2.0, "zeros are not counted");
        assert_eq!(a.counts[BINS - 1], 1.0);
        assert_eq!(a.counts[BINS / 4], 1.0);
        assert!((h.centre(0) - (-1.0 + 1.0 / BINS as f64)).abs() < 1e-9);
        assert_eq!(h.edge(BINS), 1.0);
    }
}
