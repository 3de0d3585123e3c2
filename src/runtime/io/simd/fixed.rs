//! Exact 16-bit fixed-point forms of uint8 → int8 channel tables.
//!
//! A uint8 channel has only 256 inputs, so its conversion is a 256-entry
//! int8 table `T` (built from the definition by `engine::u8_tables`). For
//! monotone tables this module searches integer parameters such that
//!
//! ```text
//! xc = min(sat_sub_u8(x, lo), n)                 // clamp to the live range
//! X  = xc * 256 + o                               // u16 (one byte unpack)
//! v  = wrap16(((X * m) >> 16) + b) as i16         // unsigned multiply-high
//! q  = sat_i8(v >> r)                             // arithmetic shift
//! ```
//!
//! equals `T[x]` for all 256 bytes (checked exhaustively by
//! [`FixedChan::search`]; no form means the float kernels are used). Every
//! step maps to one cheap vector instruction on AVX2 and NEON.

/// Integer parameters of one channel (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FixedChan {
    /// Bytes below `lo` give the same result as `lo`.
    pub lo: u8,
    /// Width of the live range: bytes above `lo + n` give `T[lo + n]`.
    pub n: u8,
    /// Low byte of the multiplicand (a sub-unit offset).
    pub o: u8,
    /// Multiplier (multiply-high, unsigned).
    pub m: u16,
    /// Offset added after the multiply (wrapping).
    pub b: u16,
    /// Arithmetic right shift of the result, 0..=8.
    pub r: u8,
}

/// Fixed-point parameters of up to four channels of a row kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FixedCoeffs {
    /// Per channel; entries past the channel count are unused.
    pub ch: [FixedChan; 4],
    /// Byte written into padding channels of blocked rows.
    pub pad: u8,
}

/// The identity-like placeholder for unused channels.
pub(crate) const UNUSED: FixedChan = FixedChan {
    lo: 0,
    n: 0,
    o: 0,
    m: 0,
    b: 0,
    r: 0,
};

/// How far (in multiplier steps) the search looks around the ideal
/// multiplier, and how many shifts below the largest it tries.
const WINDOW: i64 = 48;
const SHIFTS: u32 = 3;

impl FixedChan {
    /// The integer formula for one byte: exactly what every vector
    /// implementation computes.
    #[inline(always)]
    pub(crate) fn eval(&self, x: u8) -> u8 {
        let xc = x.saturating_sub(self.lo).min(self.n);
        let big = ((xc as u32) << 8) | self.o as u32;
        let v = (((big * self.m as u32) >> 16) as u16).wrapping_add(self.b) as i16;
        (v >> self.r).clamp(-128, 127) as i8 as u8
    }

    /// Parameters reproducing `table` (int8 results as bytes) for every
    /// byte, or `None`. `slope` is the real slope of the conversion in
    /// output units per input step (`1 / (std * scale)`), used to centre
    /// the search; the result never depends on it being accurate.
    pub(crate) fn search(table: &[u8; 256], slope: f64) -> Option<FixedChan> {
        let t: Vec<i64> = table.iter().map(|&v| v as i8 as i64).collect();
        if t.windows(2).any(|p| p[1] < p[0]) {
            return None;
        }
        let lo = t.iter().rposition(|&v| v == t[0]).unwrap_or(0);
        let hi = t.iter().position(|&v| v == t[255]).unwrap_or(255);
        if hi <= lo {
            let c = FixedChan {
                b: t[0] as i16 as u16,
                ..UNUSED
            };
            return c.verified(table);
        }
        let live = &t[lo..=hi];
        let n = hi - lo;
        let span = live[n] - live[0] + 1;
        if !(slope.is_finite() && slope > 0.0) {
            return None;
        }
        // The largest shift keeping both the multiplier and the results
        // (2^r per output step) inside 16 bits.
        let mut rmax = 8u32;
        while rmax > 0 && (slope * (1u64 << (rmax + 8)) as f64 > 65535.0 || span << rmax > 65536) {
            rmax -= 1;
        }
        for r in (rmax.saturating_sub(SHIFTS - 1)..=rmax).rev() {
            let ideal = (slope * (1u64 << (r + 8)) as f64).round() as i64;
            for d in 0..=2 * WINDOW {
                let step = (d + 1) / 2;
                // `ideal` saturates at i64::MAX for huge slopes (a
                // denormal std): no 16-bit multiplier then, not overflow.
                let m = if d % 2 == 1 {
                    ideal.saturating_add(step)
                } else {
                    ideal.saturating_sub(step)
                };
                if !(0..=65535).contains(&m) {
                    continue;
                }
                if let Some(c) = Self::offsets(live, r, m) {
                    let c = FixedChan {
                        lo: lo as u8,
                        n: n as u8,
                        ..c
                    };
                    if let Some(c) = c.verified(table) {
                        return Some(c);
                    }
                }
            }
        }
        None
    }

    /// For a fixed shift `r` and multiplier `m`, an offset pair `(o, b)`
    /// with `2^r t_i <= floor((256 i + o) m / 2^16) + b < 2^r (t_i + 1)`
    /// for every live index `i` (for saturated `t_i` the bound on the far
    /// side is the i16 limit instead): with `beta = o m + 65536 b` that is
    /// `beta` in `[2^r t_i 2^16 - 256 i m, 2^r (t_i + 1) 2^16 - 256 i m)`.
    fn offsets(live: &[i64], r: u32, m: i64) -> Option<FixedChan> {
        let (mut lo, mut hi) = (i64::MIN, i64::MAX);
        for (i, &ti) in live.iter().enumerate() {
            let base = 256 * i as i64 * m;
            // Saturated results only need `v` on the right side (and
            // inside i16, where the final saturation produces them).
            let vlo = if ti == -128 { -32768 } else { ti << r };
            let vhi = if ti == 127 { 32768 } else { (ti + 1) << r };
            lo = lo.max((vlo << 16) - base);
            hi = hi.min((vhi << 16) - base);
            if lo >= hi {
                return None;
            }
        }
        (0..=255i64).find_map(|o| {
            let b = (lo - o * m).div_euclid(65536) + i64::from((lo - o * m).rem_euclid(65536) != 0);
            (o * m + 65536 * b < hi).then_some(FixedChan {
                o: o as u8,
                m: m as u16,
                b: b as i16 as u16,
                r: r as u8,
                ..UNUSED
            })
        })
    }

    fn verified(self, table: &[u8; 256]) -> Option<FixedChan> {
        (0..=255u8)
            .all(|x| self.eval(x) == table[x as usize])
            .then_some(self)
    }
}
