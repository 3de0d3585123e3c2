//! What `rknn_custom_op_get_op_attr` answers: each custom node's
//! attributes encoded once for C (dtype, element count, runtime-owned
//! data), found through the `internal_ctx` value of the node's
//! `rknn_custom_op_context`.
//!
//! The table is process-wide and separate from the context handles, so a
//! callback can read attributes while `rknn_run` holds its context.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use super::ffi::raw::RawBuf;
use crate::abi::rknn_custom_op_interal_context as InternalCtx;
use crate::graph::{AttrValue, CustomOp, DType};

/// One attribute as C sees it.
#[derive(Debug)]
pub struct Encoded {
    /// `rknn_tensor_type` of the elements.
    pub dtype: u32,
    /// Number of elements (bytes of a string, without its NUL).
    pub n_elems: u32,
    /// The elements (a string is followed by a NUL).
    data: RawBuf,
}

impl Encoded {
    fn new(dtype: DType, n_elems: usize, bytes: &[u8]) -> Encoded {
        Encoded {
            dtype: dtype.to_rknn(),
            n_elems: u32::try_from(n_elems).unwrap_or(u32::MAX),
            data: RawBuf::new(bytes),
        }
    }

    fn of(v: &AttrValue) -> Encoded {
        fn le<T: Copy, const N: usize>(v: &[T], f: impl Fn(T) -> [u8; N]) -> Vec<u8> {
            v.iter().flat_map(|&x| f(x)).collect()
        }
        match v {
            AttrValue::Int(x) => Encoded::new(DType::I64, 1, &x.to_le_bytes()),
            AttrValue::Ints(v) => Encoded::new(DType::I64, v.len(), &le(v, i64::to_le_bytes)),
            AttrValue::Float(x) => Encoded::new(DType::F32, 1, &x.to_le_bytes()),
            AttrValue::Floats(v) => Encoded::new(DType::F32, v.len(), &le(v, f32::to_le_bytes)),
            AttrValue::Int32s(v) => Encoded::new(DType::I32, v.len(), &le(v, i32::to_le_bytes)),
            AttrValue::Bools(v) => {
                let bytes: Vec<u8> = v.iter().map(|&b| u8::from(b)).collect();
                Encoded::new(DType::Bool, v.len(), &bytes)
            }
            AttrValue::String(s) => Encoded::string(s),
        }
    }

    fn string(s: &str) -> Encoded {
        let mut bytes = s.as_bytes().to_vec();
        bytes.push(0);
        Encoded::new(DType::U8, s.len(), &bytes)
    }

    /// The data pointer for C (NULL for no elements).
    pub fn data(&self) -> *mut core::ffi::c_void {
        if self.n_elems == 0 {
            std::ptr::null_mut()
        } else {
            self.data.as_ptr()
        }
    }
}

/// The attributes of one custom node.
#[derive(Debug)]
pub struct NodeAttrs {
    /// Node name (answers "name" when the node has no such attribute).
    pub node: String,
    /// Op type.
    pub op_type: String,
    entries: Vec<(String, Encoded)>,
    name: Encoded,
}

impl NodeAttrs {
    /// Encodes the attributes of node `node` of op `c`.
    pub fn new(node: &str, c: &CustomOp) -> NodeAttrs {
        NodeAttrs {
            node: node.to_string(),
            op_type: c.op_type.clone(),
            entries: c
                .attrs
                .iter()
                .map(|a| (a.name.clone(), Encoded::of(&a.value)))
                .collect(),
            name: Encoded::string(node),
        }
    }

    /// The attribute `name`: the node's own, else the node name for
    /// "name" (as a UINT8 string), else `None`.
    pub fn find(&self, name: &str) -> Option<&Encoded> {
        self.entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, e)| e)
            .or((name == "name").then_some(&self.name))
    }
}

#[derive(Default)]
struct Table {
    next: InternalCtx,
    live: HashMap<InternalCtx, Arc<NodeAttrs>>,
}

fn table() -> MutexGuard<'static, Table> {
    static TABLE: OnceLock<Mutex<Table>> = OnceLock::new();
    TABLE
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Publishes `attrs` and returns the `internal_ctx` value that finds them
/// (never 0). Release it with [`unpublish`].
pub fn publish(attrs: Arc<NodeAttrs>) -> InternalCtx {
    let mut t = table();
    let id = loop {
        t.next = t.next.wrapping_add(1);
        let id = t.next;
        if id != 0 && !t.live.contains_key(&id) {
            break id;
        }
    };
    t.live.insert(id, attrs);
    id
}

/// Withdraws the attributes published as `id`.
pub fn unpublish(id: InternalCtx) {
    table().live.remove(&id);
}

/// The attributes published as `id`.
pub fn lookup(id: InternalCtx) -> Option<Arc<NodeAttrs>> {
    table().live.get(&id).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::CustomAttr;

    fn read<T: Copy>(e: &Encoded) -> Vec<T> {
        // SAFETY: the buffer holds `n_elems` aligned elements of `T`
        // (chosen by the test to match `dtype`).
        unsafe { std::slice::from_raw_parts(e.data().cast::<T>(), e.n_elems as usize) }.to_vec()
    }

    #[test]
    fn values_are_encoded_with_vendor_types() {
        let c = CustomOp {
            op_type: "cstSoftmax".into(),
            attrs: vec![
                CustomAttr {
                    name: "axis".into(),
                    value: AttrValue::Int(-1),
                },
                CustomAttr {
                    name: "alpha".into(),
                    value: AttrValue::Float(0.5),
                },
                CustomAttr {
                    name: "mode".into(),
                    value: AttrValue::String("fast".into()),
                },
                CustomAttr {
                    name: "flags".into(),
                    value: AttrValue::Bools(vec![true, false]),
                },
                CustomAttr {
                    name: "empty".into(),
                    value: AttrValue::Ints(vec![]),
                },
            ],
            fallback: None,
        };
        let a = NodeAttrs::new("sm0", &c);
        let axis = a.find("axis").unwrap();
        assert_eq!((axis.dtype, axis.n_elems), (DType::I64.to_rknn(), 1));
        assert_eq!(read::<i64>(axis), [-1]);
        assert_eq!(read::<f32>(a.find("alpha").unwrap()), [0.5]);
        let mode = a.find("mode").unwrap();
        assert_eq!((mode.dtype, mode.n_elems), (DType::U8.to_rknn(), 4));
        // SAFETY: a string is stored with its NUL.
        let s = unsafe { std::ffi::CStr::from_ptr(mode.data().cast()) };
        assert_eq!(s.to_str().unwrap(), "fast");
        assert_eq!(read::<u8>(a.find("flags").unwrap()), [1, 0]);
        assert!(a.find("empty").unwrap().data().is_null());
        let name = a.find("name").unwrap();
        assert_eq!(read::<u8>(name), b"sm0");
        assert!(a.find("missing").is_none());
    }

    #[test]
    fn published_attributes_are_found_until_withdrawn() {
        let c = CustomOp {
            op_type: "cstX".into(),
            attrs: vec![],
            fallback: None,
        };
        let id = publish(Arc::new(NodeAttrs::new("n", &c)));
        assert_ne!(id, 0);
        assert_eq!(lookup(id).unwrap().op_type, "cstX");
        unpublish(id);
        assert!(lookup(id).is_none());
    }
}
