//! Portable float micro-kernel, also the fallback of the SIMD families.

/// Tile rows.
pub(crate) const MR: usize = 4;
/// Tile columns.
pub(crate) const NR: usize = 8;

/// The portable kernel at its own tile shape.
pub(crate) fn run(rows: usize, kc: usize, a: &[f32], b: &[f32], out: &mut [f32]) {
    generic(MR, NR, rows, kc, a, b, out);
}

/// An `mr` × `nr` tile at any shape (reads what the slices hold).
pub(crate) fn generic(
    mr: usize,
    nr: usize,
    rows: usize,
    kc: usize,
    a: &[f32],
    b: &[f32],
    out: &mut [f32],
) {
    for (r, o) in out.chunks_exact_mut(nr).take(rows.min(mr)).enumerate() {
        o.fill(0.0);
        for (p, brow) in b.chunks_exact(nr).take(kc).enumerate() {
            let av = a.get(p * mr + r).copied().unwrap_or(0.0);
            for (x, &bv) in o.iter_mut().zip(brow) {
                *x += av * bv;
            }
        }
    }
}
