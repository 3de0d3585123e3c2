//! The source-op attributes of a vendor node (Node slot 9): a BSON
//! document `{name: {dtype: "i" | "is" | "f" | "s" ..., value: ...}}`,
//! e.g. `{axis: {dtype: "i", value: 1}}` or `{kernel_shape: {dtype: "is",
//! value: [2, 2]}}`. Decoded on demand (for the ops the runtime runs on
//! the CPU) by a bounds-checked reader: every length is checked against
//! its enclosing document, nesting is limited, unknown element types are
//! refused.

use std::collections::BTreeMap;

use super::invalid;
use crate::model::ModelError;

/// Deepest nesting accepted (attribute, its `value`, an array).
const MAX_DEPTH: usize = 4;

/// One attribute value.
#[derive(Clone, Debug, PartialEq)]
pub enum AttrValue {
    /// An integer (`int32` or `int64`, or a bool as 0/1).
    Int(i64),
    /// A double.
    Float(f64),
    /// A string.
    Str(String),
    /// An array of integers.
    Ints(Vec<i64>),
    /// An array of numbers with at least one double.
    Floats(Vec<f64>),
    /// A nested document.
    Doc(Vec<(String, AttrValue)>),
    /// A value of no interest here (null, binary, a mixed array).
    Other,
}

/// A node's attributes by name.
pub type Attrs = BTreeMap<String, AttrValue>;

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
    what: &'a str,
}

impl<'a> Reader<'a> {
    fn fail<T>(&self, msg: &str) -> Result<T, ModelError> {
        invalid(format!(
            "{}: attribute BSON at byte {}: {msg}",
            self.what, self.pos
        ))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ModelError> {
        match self.pos.checked_add(n) {
            Some(end) if end <= self.b.len() => {
                let s = &self.b[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            _ => self.fail(&format!("{n} bytes run past the document")),
        }
    }

    fn i32(&mut self) -> Result<i32, ModelError> {
        let b = self.take(4)?;
        Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, ModelError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    fn cstring(&mut self) -> Result<String, ModelError> {
        let rest = &self.b[self.pos.min(self.b.len())..];
        let Some(n) = rest.iter().position(|&c| c == 0) else {
            return self.fail("unterminated name");
        };
        let s = std::str::from_utf8(&rest[..n])
            .map(str::to_string)
            .or_else(|_| self.fail("name is not UTF-8"))?;
        self.pos += n + 1;
        Ok(s)
    }

    /// A document: `(key, value)` pairs, the document's bytes checked
    /// to lie inside the parent.
    fn document(&mut self, depth: usize) -> Result<Vec<(String, AttrValue)>, ModelError> {
        if depth > MAX_DEPTH {
            return self.fail("documents nest too deeply");
        }
        let start = self.pos;
        let len = self.i32()?;
        let end = match usize::try_from(len) {
            Ok(l) if l >= 5 && start.checked_add(l).is_some_and(|e| e <= self.b.len()) => start + l,
            _ => return self.fail(&format!("document length {len}")),
        };
        let mut out = Vec::new();
        loop {
            if self.pos >= end {
                return self.fail("document without its terminating 0");
            }
            let ty = self.take(1)?[0];
            if ty == 0 {
                break;
            }
            let key = self.cstring()?;
            let value = match ty {
                0x01 => AttrValue::Float(f64::from_bits(self.u64()?)),
                0x02 => {
                    let n = self.i32()?;
                    let n = usize::try_from(n)
                        .ok()
                        .filter(|&n| n >= 1)
                        .map_or_else(|| self.fail(&format!("string length {n}")), Ok)?;
                    let s = self.take(n)?;
                    let text = std::str::from_utf8(&s[..n - 1])
                        .map(str::to_string)
                        .or_else(|_| self.fail("string is not UTF-8"))?;
                    AttrValue::Str(text)
                }
                0x03 => AttrValue::Doc(self.document(depth + 1)?),
                0x04 => array(self.document(depth + 1)?),
                0x05 => {
                    let n = self.i32()?;
                    let n = usize::try_from(n)
                        .map_or_else(|_| self.fail(&format!("binary length {n}")), Ok)?;
                    self.take(n + 1)?;
                    AttrValue::Other
                }
                0x08 => AttrValue::Int(i64::from(self.take(1)?[0] != 0)),
                0x0a => AttrValue::Other,
                0x10 => AttrValue::Int(i64::from(self.i32()?)),
                0x12 => AttrValue::Int(self.u64()? as i64),
                other => return self.fail(&format!("element type {other:#04x} of '{key}'")),
            };
            out.push((key, value));
        }
        if self.pos != end {
            return self.fail(&format!(
                "document ends at byte {}, its length says {end}",
                self.pos
            ));
        }
        Ok(out)
    }
}

/// An array document (keys "0", "1", ...) as a list of numbers.
fn array(items: Vec<(String, AttrValue)>) -> AttrValue {
    let mut ints = Vec::with_capacity(items.len());
    let mut floats = Vec::with_capacity(items.len());
    let mut any_float = false;
    for (_, v) in items {
        match v {
            AttrValue::Int(i) => {
                ints.push(i);
                floats.push(i as f64);
            }
            AttrValue::Float(f) => {
                any_float = true;
                floats.push(f);
            }
            _ => return AttrValue::Other,
        }
    }
    if any_float {
        AttrValue::Floats(floats)
    } else {
        AttrValue::Ints(ints)
    }
}

/// Decodes a node's attribute bytes. Empty input, or a document of zeros
/// (what output operators carry), has no attributes.
pub fn decode(bytes: &[u8], what: &str) -> Result<Attrs, ModelError> {
    if bytes.iter().all(|&b| b == 0) {
        return Ok(Attrs::new());
    }
    let mut r = Reader {
        b: bytes,
        pos: 0,
        what,
    };
    let top = r.document(0)?;
    if r.pos != bytes.len() {
        return r.fail("bytes follow the document");
    }
    Ok(top
        .into_iter()
        .map(|(name, v)| {
            // Each attribute is `{dtype, value}`; keep its value.
            let value = match v {
                AttrValue::Doc(fields) => fields
                    .into_iter()
                    .find(|(k, _)| k == "value")
                    .map_or(AttrValue::Other, |(_, v)| v),
                plain => plain,
            };
            (name, value)
        })
        .collect())
}

/// Encodes attributes the way the vendor files hold them (for tests of
/// the readers and the CPU ops).
#[cfg(test)]
pub(crate) fn encode(attrs: &[(&str, AttrValue)]) -> Vec<u8> {
    fn doc(items: &[(String, AttrValue)]) -> Vec<u8> {
        let mut body = Vec::new();
        for (k, v) in items {
            let (ty, payload): (u8, Vec<u8>) = match v {
                AttrValue::Int(i) => (0x10, (*i as i32).to_le_bytes().to_vec()),
                AttrValue::Float(f) => (0x01, f.to_bits().to_le_bytes().to_vec()),
                AttrValue::Str(s) => {
                    let mut p = ((s.len() + 1) as i32).to_le_bytes().to_vec();
                    p.extend_from_slice(s.as_bytes());
                    p.push(0);
                    (0x02, p)
                }
                AttrValue::Ints(v) => (
                    0x04,
                    doc(&v
                        .iter()
                        .enumerate()
                        .map(|(i, x)| (i.to_string(), AttrValue::Int(*x)))
                        .collect::<Vec<_>>()),
                ),
                AttrValue::Floats(v) => (
                    0x04,
                    doc(&v
                        .iter()
                        .enumerate()
                        .map(|(i, x)| (i.to_string(), AttrValue::Float(*x)))
                        .collect::<Vec<_>>()),
                ),
                AttrValue::Doc(d) => (0x03, doc(d)),
                AttrValue::Other => (0x0a, Vec::new()),
            };
            body.push(ty);
            body.extend_from_slice(k.as_bytes());
            body.push(0);
            body.extend_from_slice(&payload);
        }
        let mut out = ((body.len() + 5) as i32).to_le_bytes().to_vec();
        out.extend_from_slice(&body);
        out.push(0);
        out
    }
    let items: Vec<(String, AttrValue)> = attrs
        .iter()
        .map(|(k, v)| {
            let dtype = match v {
                AttrValue::Int(_) => "i",
                AttrValue::Ints(_) => "is",
                AttrValue::Float(_) => "f",
                AttrValue::Floats(_) => "fs",
                _ => "s",
            };
            (
                k.to_string(),
                AttrValue::Doc(vec![
                    ("dtype".into(), AttrValue::Str(dtype.into())),
                    ("value".into(), v.clone()),
                ]),
            )
        })
        .collect();
    doc(&items)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes of a real node: `{axis: {dtype: "i", value: 1}}` (a softmax of
    /// the tiny_cnn fixture).
    const SOFTMAX: [u8; 40] = [
        0x28, 0, 0, 0, 3, b'a', b'x', b'i', b's', 0, 0x1d, 0, 0, 0, 2, b'd', b't', b'y', b'p',
        b'e', 0, 2, 0, 0, 0, b'i', 0, 0x10, b'v', b'a', b'l', b'u', b'e', 0, 1, 0, 0, 0, 0, 0,
    ];

    #[test]
    fn real_and_encoded_documents_decode() {
        let a = decode(&SOFTMAX, "n").unwrap();
        assert_eq!(a.get("axis"), Some(&AttrValue::Int(1)));
        let bytes = encode(&[
            ("perm", AttrValue::Ints(vec![0, 2, 3, 1])),
            ("mode", AttrValue::Str("nearest".into())),
            ("alpha", AttrValue::Float(0.25)),
        ]);
        let a = decode(&bytes, "n").unwrap();
        assert_eq!(a["perm"], AttrValue::Ints(vec![0, 2, 3, 1]));
        assert_eq!(a["mode"], AttrValue::Str("nearest".into()));
        assert_eq!(a["alpha"], AttrValue::Float(0.25));
        assert!(decode(&[0; 16], "n").unwrap().is_empty());
        assert!(decode(&[], "n").unwrap().is_empty());
    }

    #[test]
    fn hostile_documents_are_refused() {
        let mut long = SOFTMAX;
        long[0] = 0x7f;
        let mut inner = SOFTMAX;
        inner[10] = 0x7f;
        let mut ty = SOFTMAX;
        ty[27] = 0x7e;
        let mut unterminated = SOFTMAX;
        unterminated[39] = 1;
        for (bytes, what) in [
            (&long[..], "document length"),
            (&inner[..], "document length"),
            (&ty[..], "element type"),
            (&unterminated[..], "unterminated name"),
            (&SOFTMAX[..20], "document length"),
        ] {
            let e = decode(bytes, "Graph.nodes[3]").unwrap_err().to_string();
            assert!(e.contains("Graph.nodes[3]") && e.contains(what), "{e}");
        }
        // Nesting beyond the limit.
        let mut deep = AttrValue::Int(1);
        for _ in 0..8 {
            deep = AttrValue::Doc(vec![("x".into(), deep)]);
        }
        let e = decode(&encode(&[("a", deep)]), "n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("nest"), "{e}");
    }
}
