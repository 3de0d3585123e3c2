//! Feature data in memory: cubes stored as 16-byte atoms (NC1HWC2), one
//! atom per pixel and surface, lines and surfaces apart by strides that
//! each engine derives from its own registers.

use super::super::memory::AddressSpace;

/// Bytes of one atom (one pixel of one surface).
pub const ATOM: usize = 16;

/// Where a cube lies: the first atom and the strides in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Device address of surface 0, line 0, pixel 0.
    pub base: u64,
    /// Bytes from one line to the next.
    pub line: i64,
    /// Bytes from one surface to the next.
    pub surf: i64,
}

/// A cube's atoms: `surfaces × h × w` atoms of 16 bytes, in that order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Atoms {
    /// Surfaces (C1).
    pub surfaces: usize,
    /// Lines.
    pub h: usize,
    /// Pixels per line.
    pub w: usize,
    /// `surfaces * h * w * 16` bytes.
    pub bytes: Vec<u8>,
}

impl Atoms {
    /// An all-zero cube.
    pub fn zeroed(surfaces: usize, h: usize, w: usize) -> Atoms {
        Atoms {
            surfaces,
            h,
            w,
            bytes: vec![0; surfaces * h * w * ATOM],
        }
    }

    /// Byte offset of atom `(s, y, x)`.
    pub fn at(&self, s: usize, y: usize, x: usize) -> usize {
        ((s * self.h + y) * self.w + x) * ATOM
    }
}

/// Start addresses of every line of the cube, in atom order.
fn lines(geo: &Geometry, surfaces: usize, h: usize) -> Result<Vec<u64>, String> {
    let mut out = Vec::with_capacity(surfaces * h);
    for s in 0..surfaces {
        for y in 0..h {
            let off = geo.surf * s as i64 + geo.line * y as i64;
            let addr = geo.base as i64 + off;
            if addr < 0 {
                return Err(format!(
                    "surface {s}, line {y} lies below address 0 (base {:#x}, line stride {}, \
                     surface stride {})",
                    geo.base, geo.line, geo.surf
                ));
            }
            out.push(addr as u64);
        }
    }
    Ok(out)
}

/// Reads `surfaces × h × w` atoms laid out as `geo` says.
pub fn read(
    space: &AddressSpace,
    geo: &Geometry,
    surfaces: usize,
    h: usize,
    w: usize,
    what: &str,
) -> Result<Atoms, String> {
    let mut atoms = Atoms::zeroed(surfaces, h, w);
    let seg = w * ATOM;
    if seg == 0 {
        return Ok(atoms);
    }
    let starts = lines(geo, surfaces, h)?;
    let lo = starts.iter().copied().min().unwrap_or(geo.base);
    let hi = starts
        .iter()
        .map(|a| a + seg as u64)
        .max()
        .unwrap_or(geo.base);
    // One read of the whole extent when it is dense enough, else per line.
    if hi - lo <= 4 * (surfaces * h * seg) as u64 {
        let all = space.read_vec(lo, (hi - lo) as usize, what)?;
        for (i, &a) in starts.iter().enumerate() {
            let from = (a - lo) as usize;
            atoms.bytes[i * seg..(i + 1) * seg].copy_from_slice(&all[from..from + seg]);
        }
    } else {
        for (i, &a) in starts.iter().enumerate() {
            space.read(a, &mut atoms.bytes[i * seg..(i + 1) * seg], what)?;
        }
    }
    Ok(atoms)
}

/// Writes `atoms` laid out as `geo` says.
pub fn write(
    space: &AddressSpace,
    geo: &Geometry,
    atoms: &Atoms,
    what: &str,
) -> Result<(), String> {
    let seg = atoms.w * ATOM;
    if seg == 0 {
        return Ok(());
    }
    let starts = lines(geo, atoms.surfaces, atoms.h)?;
    let dense = geo.line == seg as i64 && geo.surf == (seg * atoms.h) as i64;
    if dense {
        return space.write(geo.base, &atoms.bytes, what);
    }
    for (i, &a) in starts.iter().enumerate() {
        space.write(a, &atoms.bytes[i * seg..(i + 1) * seg], what)?;
    }
    Ok(())
}
