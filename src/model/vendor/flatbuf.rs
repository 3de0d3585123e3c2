//! A bounds-checked FlatBuffer walker for the Toolkit2 payload.
//!
//! The vendor schema is not public and several fields are stored with a
//! different type than the reverse-engineered schema declares, so the
//! reader walks tables by vtable slot and decides each field's type
//! itself (`docs/vendor-format.md`). Every offset is checked before it is
//! followed; a failure names the field path (`Model.graphs[0].tensors[3].shape`).
//! The walk is schema driven and never recursive on data, so a cyclic or
//! self-referencing buffer cannot loop.

use std::cell::Cell;

use super::invalid;
use crate::model::ModelError;

/// Most elements of any vector the reader accepts.
pub const MAX_VECTOR_LEN: usize = 1 << 24;
/// Most values (vector elements, string bytes, tables) the reader decodes
/// into memory from one payload. Offsets may be shared, so a small
/// payload could otherwise decode into a huge model.
pub const MAX_DECODED: usize = 1 << 24;

/// The payload bytes with bounds-checked little-endian reads.
#[derive(Clone, Copy)]
pub struct Buf<'a> {
    bytes: &'a [u8],
    decoded: &'a Cell<usize>,
}

/// A table: its position and its vtable's field offsets.
#[derive(Clone, Copy)]
pub struct Table<'a> {
    buf: Buf<'a>,
    pos: usize,
    vtable: usize,
    slots: usize,
    size: usize,
}

/// A vector: the position of its first element and its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vector {
    /// Offset of element 0 in the payload.
    pub start: usize,
    /// Number of elements.
    pub len: usize,
}

impl<'a> Buf<'a> {
    /// Wraps the payload; `decoded` counts what has been decoded so far
    /// (against [`MAX_DECODED`]).
    pub fn new(bytes: &'a [u8], decoded: &'a Cell<usize>) -> Buf<'a> {
        Buf { bytes, decoded }
    }

    /// Accounts for `n` values about to be decoded.
    pub fn charge(&self, n: usize, what: &str) -> Result<(), ModelError> {
        let total = self.decoded.get().saturating_add(n);
        if total > MAX_DECODED {
            return invalid(format!(
                "{what}: the payload decodes to more than {MAX_DECODED} values (shared or looping offsets)"
            ));
        }
        self.decoded.set(total);
        Ok(())
    }

    /// `n` bytes at `pos`, or an error naming `what`.
    pub fn slice(&self, pos: usize, n: usize, what: &str) -> Result<&'a [u8], ModelError> {
        match pos.checked_add(n) {
            Some(end) if end <= self.bytes.len() => Ok(&self.bytes[pos..end]),
            _ => invalid(format!(
                "{what}: {n} bytes at payload offset {pos:#x} run past the end of the {}-byte payload",
                self.bytes.len()
            )),
        }
    }

    /// A little-endian u32.
    pub fn u32(&self, pos: usize, what: &str) -> Result<u32, ModelError> {
        let s = self.slice(pos, 4, what)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }

    /// A little-endian u16.
    pub fn u16(&self, pos: usize, what: &str) -> Result<u16, ModelError> {
        let s = self.slice(pos, 2, what)?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }

    /// Follows the uoffset stored at `pos` (relative to `pos`).
    pub fn follow(&self, pos: usize, what: &str) -> Result<usize, ModelError> {
        let off = self.u32(pos, what)? as usize;
        match pos.checked_add(off) {
            Some(t) if off != 0 && t < self.bytes.len() => Ok(t),
            _ => invalid(format!(
                "{what}: offset {off:#x} at payload offset {pos:#x} points outside the {}-byte payload",
                self.bytes.len()
            )),
        }
    }

    /// The root table (uoffset at 0); checks the `RKNN` file identifier.
    pub fn root(&self) -> Result<Table<'a>, ModelError> {
        let ident = self.slice(4, 4, "FlatBuffer file identifier")?;
        if ident != b"RKNN" {
            return invalid(format!(
                "FlatBuffer file identifier is {ident:02x?}, expected \"RKNN\""
            ));
        }
        let pos = self.follow(0, "FlatBuffer root offset")?;
        self.table(pos, "Model")
    }

    /// The table at `pos`: checks its vtable.
    pub fn table(&self, pos: usize, what: &str) -> Result<Table<'a>, ModelError> {
        let soff = self.u32(pos, what)? as i32 as i64;
        let vt = pos as i64 - soff;
        if vt < 0 || vt as usize >= self.bytes.len() {
            return invalid(format!(
                "{what}: vtable offset {soff} from table at {pos:#x} points outside the payload"
            ));
        }
        let vtable = vt as usize;
        let vlen = self.u16(vtable, what)? as usize;
        let size = self.u16(vtable + 2, what)? as usize;
        if vlen < 4 || !vlen.is_multiple_of(2) {
            return invalid(format!(
                "{what}: vtable at {vtable:#x} has invalid length {vlen}"
            ));
        }
        self.slice(vtable, vlen, what)?;
        if size < 4 {
            return invalid(format!("{what}: table at {pos:#x} has invalid size {size}"));
        }
        self.slice(pos, size, what)?;
        Ok(Table {
            buf: *self,
            pos,
            vtable,
            slots: (vlen - 4) / 2,
            size,
        })
    }

    /// The vector at `pos` of `elem` bytes per element.
    pub fn vector(&self, pos: usize, elem: usize, what: &str) -> Result<Vector, ModelError> {
        let len = self.u32(pos, what)? as usize;
        if len > MAX_VECTOR_LEN {
            return invalid(format!(
                "{what}: vector length {len} exceeds the limit {MAX_VECTOR_LEN}"
            ));
        }
        let start = pos + 4;
        let bytes = len.saturating_mul(elem);
        self.slice(start, bytes, what)?;
        Ok(Vector { start, len })
    }
}

impl<'a> Table<'a> {
    /// Payload offset of field `slot`, `None` when absent; checks that
    /// `width` bytes of it lie inside the table.
    pub fn field(
        &self,
        slot: usize,
        width: usize,
        what: &str,
    ) -> Result<Option<usize>, ModelError> {
        if slot >= self.slots {
            return Ok(None);
        }
        let off = self.buf.u16(self.vtable + 4 + 2 * slot, what)? as usize;
        if off == 0 {
            return Ok(None);
        }
        if off < 4 || off + width > self.size {
            return invalid(format!(
                "{what}: field offset {off} (width {width}) lies outside its {}-byte table at {:#x}",
                self.size, self.pos
            ));
        }
        Ok(Some(self.pos + off))
    }

    /// A scalar byte field.
    pub fn u8(&self, slot: usize, what: &str) -> Result<Option<u8>, ModelError> {
        Ok(match self.field(slot, 1, what)? {
            Some(p) => Some(self.buf.slice(p, 1, what)?[0]),
            None => None,
        })
    }

    /// A scalar 32-bit field.
    pub fn i32(&self, slot: usize, what: &str) -> Result<Option<i32>, ModelError> {
        Ok(match self.field(slot, 4, what)? {
            Some(p) => Some(self.buf.u32(p, what)? as i32),
            None => None,
        })
    }

    /// Target of an offset field.
    fn target(&self, slot: usize, what: &str) -> Result<Option<usize>, ModelError> {
        match self.field(slot, 4, what)? {
            Some(p) => Ok(Some(self.buf.follow(p, what)?)),
            None => Ok(None),
        }
    }

    /// A vector field with `elem`-byte elements (absent: empty).
    pub fn vector(&self, slot: usize, elem: usize, what: &str) -> Result<Vector, ModelError> {
        match self.target(slot, what)? {
            Some(p) => self.buf.vector(p, elem, what),
            None => Ok(Vector { start: 0, len: 0 }),
        }
    }

    /// A byte vector field's bytes (absent: empty).
    pub fn bytes(&self, slot: usize, what: &str) -> Result<&'a [u8], ModelError> {
        let v = self.vector(slot, 1, what)?;
        self.buf.slice(v.start, v.len, what)
    }

    /// A string field (absent: empty); must be UTF-8.
    pub fn string(&self, slot: usize, what: &str) -> Result<String, ModelError> {
        let b = self.bytes(slot, what)?;
        self.buf.charge(b.len(), what)?;
        match std::str::from_utf8(b) {
            Ok(s) => Ok(s.to_owned()),
            Err(e) => invalid(format!("{what}: string is not UTF-8 ({e})")),
        }
    }

    /// A vector of little-endian i32 (absent: empty).
    pub fn i32s(&self, slot: usize, what: &str) -> Result<Vec<i32>, ModelError> {
        let v = self.vector(slot, 4, what)?;
        self.buf.charge(v.len, what)?;
        let b = self.buf.slice(v.start, v.len * 4, what)?;
        Ok(b.chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    /// A vector of little-endian f32 (absent: empty).
    pub fn f32s(&self, slot: usize, what: &str) -> Result<Vec<f32>, ModelError> {
        Ok(self
            .i32s(slot, what)?
            .into_iter()
            .map(|v| f32::from_bits(v as u32))
            .collect())
    }

    /// The tables of a vector-of-tables field (absent: empty); at most
    /// `limit` entries.
    pub fn tables(
        &self,
        slot: usize,
        limit: usize,
        what: &str,
    ) -> Result<Vec<Table<'a>>, ModelError> {
        let v = self.vector(slot, 4, what)?;
        if v.len > limit {
            return invalid(format!(
                "{what}: {} entries exceed the limit {limit}",
                v.len
            ));
        }
        self.buf.charge(v.len, what)?;
        (0..v.len)
            .map(|i| {
                let name = format!("{what}[{i}]");
                let p = self.buf.follow(v.start + 4 * i, &name)?;
                self.buf.table(p, &name)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(b: &mut Vec<u8>, at: usize, v: u32) {
        if b.len() < at + 4 {
            b.resize(at + 4, 0);
        }
        b[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    /// Root table R whose field 0 is a vector of `n` offsets that all
    /// point back at table T (before them).
    fn backwards(n: usize) -> Vec<u8> {
        let mut b = vec![0u8; 32];
        b[4..8].copy_from_slice(b"RKNN");
        // vtable at 8: length 6, table size 8, field 0 at offset 4.
        b[8..14].copy_from_slice(&[6, 0, 8, 0, 4, 0]);
        // R at 16, T at 24; both use the vtable at 8.
        put(&mut b, 0, 16);
        put(&mut b, 16, 8);
        put(&mut b, 24, 16);
        let outer = 32;
        put(&mut b, 20, (outer - 20) as u32);
        put(&mut b, outer, n as u32);
        for i in 0..n {
            let p = outer + 4 + 4 * i;
            put(&mut b, p, (24 - p as i64) as u32);
        }
        b
    }

    #[test]
    fn shared_offsets_hit_the_decode_budget() {
        // Backwards uoffsets are not FlatBuffer offsets: refused.
        let bytes = backwards(4);
        let decoded = Cell::new(0);
        let buf = Buf::new(&bytes, &decoded);
        let root = buf.root().unwrap();
        let e = root.tables(0, usize::MAX, "R.items").err().unwrap();
        assert!(e.to_string().contains("R.items[0]"), "{e}");

        // Forward sharing: R's vector entries all point at one table T
        // placed after them, whose i32 vector is decoded once per entry.
        let n = 1 << 12;
        let mut b = vec![0u8; 16];
        b[4..8].copy_from_slice(b"RKNN");
        b[8..14].copy_from_slice(&[6, 0, 8, 0, 4, 0]);
        put(&mut b, 0, 16);
        put(&mut b, 16, 8);
        put(&mut b, 20, 4); // R.field0 -> vector at 24
        put(&mut b, 24, n as u32);
        let t = 28 + 4 * n;
        for i in 0..n {
            let p = 28 + 4 * i;
            put(&mut b, p, (t - p) as u32);
        }
        put(&mut b, t, (t - 8) as u32); // T's vtable
        put(&mut b, t + 4, 4); // T.field0 -> vector at t + 8
        let len = (MAX_DECODED / n) + 1;
        put(&mut b, t + 8, len as u32);
        b.resize(t + 12 + 4 * len, 0);
        let decoded = Cell::new(0);
        let buf = Buf::new(&b, &decoded);
        let items = buf
            .root()
            .unwrap()
            .tables(0, usize::MAX, "R.items")
            .unwrap();
        let err = items
            .iter()
            .map(|t| t.i32s(0, "T.values"))
            .find_map(Result::err)
            .expect("budget exceeded");
        assert!(err.to_string().contains("decodes to more than"), "{err}");
    }
}
