//! Files made by Rockchip's toolkits.
//!
//! Recognition ([`recognise_magic`], [`recognise_version`]) lets our own
//! reader refuse them with a message that says what they are (reference:
//! `rknn-vendor-format.md`, "Format generations"). The reader ([`read`])
//! decodes an RK35xx Toolkit2 container (versions 2..=6) into a
//! [`VendorModel`]: IO tensors, the op graph with NPU/CPU placement,
//! constant buffers, the `task` and `regcmd` buffers and the relocation
//! table (`docs/vendor-format.md`). It is safe code that treats the file
//! as hostile: every offset and length is checked, counts are limited,
//! and errors name the field. [`model_meta`] gives the runtime's logical
//! view of it; `runtime::vendor` runs it.

mod attrs;
mod container;
mod flatbuf;
mod graph;
mod meta;
mod program;
mod reader;
mod trailer;

use super::ModelError;

#[cfg(test)]
pub(crate) use attrs::encode as encode_attrs;
pub use attrs::{decode as decode_attrs, AttrValue, Attrs};
pub use container::{ContainerHeader, HEADER_LEN, MAX_JSON, MAX_PAYLOAD};
pub use flatbuf::MAX_VECTOR_LEN;
pub use graph::{
    dtype_name, dtype_of, TensorKind, VendorLayout, VendorNode, VendorTensor, MAX_NATIVE_RANK,
    MAX_NODES, MAX_QUANT_PARAMS, MAX_RANK, MAX_TENSORS,
};
pub use meta::{is_data, model_meta};
pub use program::{
    regcmd_words, RegWrite, RelocEntry, Relocation, Task, MAX_RELOCATIONS, MAX_TASKS,
    PC_TAIL_WORDS, TASK_RECORD_LEN,
};
pub use reader::{read, InputNorm, MemorySizes, VendorModel, MAX_BUFFERS, MAX_GRAPHS};
pub use trailer::{NormDtype, NormTensor, Trailer, MAX_NORM_TENSORS};

fn invalid<T>(msg: String) -> Result<T, ModelError> {
    Err(ModelError::Invalid(msg))
}

const ONLY_RK35XX: &str = "rknnrt runs vendor-compiled models of RKNN-Toolkit2 for \
RK3562/RK3566/RK3568/RK3576/RK3588 (container versions 2 to 6) only; convert the source \
model with rknn-convert, or with the vendor toolkit for one of those platforms";

fn unsupported(what: &str) -> ModelError {
    ModelError::Unsupported(format!("{what}: {ONLY_RK35XX}"))
}

/// Whether `bytes` start like an RK35xx Toolkit2 file: the magic
/// `RKNN\0\0\0\0` and a container version 2 to 6 (the reader, not this
/// check, decides whether the rest is valid).
pub fn is_toolkit2(bytes: &[u8]) -> bool {
    bytes.len() >= 16 && &bytes[..8] == b"RKNN\0\0\0\0" && {
        let mut v = [0u8; 8];
        v.copy_from_slice(&bytes[8..16]);
        (2..=6).contains(&u64::from_le_bytes(v))
    }
}

/// The platform an RK35xx Toolkit2 file targets, from its container and
/// JSON trailer alone (the first entry of `target_platform`); `None` when
/// `bytes` is not such a file or names no known platform. For choosing a
/// device before the model is read in full.
pub fn target_platform(bytes: &[u8]) -> Option<crate::platform::Platform> {
    if !is_toolkit2(bytes) {
        return None;
    }
    let h = container::parse_header(bytes).ok()?;
    let t = trailer::parse(&bytes[h.json]).ok()?;
    t.target_platform
        .first()
        .and_then(|p| crate::platform::Platform::from_name(p))
}

/// Recognises vendor files by their first bytes, before our own magic is
/// checked: encrypted Toolkit2 (`CYPTRKNN`), RKNN3 (`RKNX`), encrypted
/// RKNN3 (`RKCE`), bare OpenVX NBG (`VPMN`) and bare FlatBuffer files
/// (`RKNN` at bytes 4..8). `None` when the file is none of them.
pub fn recognise_magic(bytes: &[u8]) -> Option<ModelError> {
    if bytes.starts_with(b"CYPTRKNN") {
        return Some(unsupported(
            "this is an encrypted RKNN-Toolkit2 model (magic CYPTRKNN), which cannot be read",
        ));
    }
    if bytes.starts_with(b"RKNX") {
        return Some(unsupported(
            "this is an RKNN3 model (magic RKNX, rknn3-toolkit for RK182X co-processors)",
        ));
    }
    if bytes.starts_with(b"RKCE") {
        return Some(unsupported(
            "this is an encrypted RKNN3 model (magic RKCE), which cannot be read",
        ));
    }
    if bytes.starts_with(b"VPMN") {
        return Some(unsupported(
            "this is an OpenVX NBG file (magic VPMN, RKNN-Toolkit v1 for RK1808/RV1109/RV1126)",
        ));
    }
    if bytes.len() >= 8 && &bytes[4..8] == b"RKNN" && &bytes[0..4] != b"RKNN" {
        return Some(unsupported(
            "this is a bare RKNN FlatBuffer (identifier RKNN at byte 4) without the container header",
        ));
    }
    None
}

/// Names a vendor container version (the u64 at offset 8 after the
/// `RKNN\0\0\0\0` magic): `Some(error)` for the vendor's version scheme
/// (bits above the low byte 0x00 or 0x10, low byte non-zero), `None`
/// for anything else.
pub fn recognise_version(version: u64) -> Option<ModelError> {
    let (high, low) = (version >> 8, version & 0xff);
    if !(high == 0 || high == 0x10) || low == 0 {
        return None;
    }
    if (2..=6).contains(&version) {
        return Some(ModelError::Unsupported(format!(
            "this is an RKNN-Toolkit2 model (container version {version:#x}, RK3562/RK3566/RK3568/RK3576/RK3588), \
             which Model::load reads with the vendor reader, not the rknnrt container parser"
        )));
    }
    let what = match version {
        1 | 0x1001 => format!(
            "this is an RKNN-Toolkit v1 model (container version {version:#x}, RK1808/RV1109/RV1126/RK3399Pro)"
        ),
        0x1002 | 0x1003 => format!(
            "this is an RKNN-Toolkit2 model (container version {version:#x}, RK3562/RK3566/RK3568/RK3576/RK3588)"
        ),
        0x1004 => format!(
            "this is an RKNN-Toolkit2 model for RV1103/RV1106 (container version {version:#x})"
        ),
        _ => format!(
            "this looks like a vendor RKNN model of an unknown container version {version:#x}"
        ),
    };
    Some(unsupported(&what))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(e: Option<ModelError>) -> Option<String> {
        e.map(|e| match e {
            ModelError::Unsupported(m) => m,
            other => panic!("expected Unsupported, got {other:?}"),
        })
    }

    #[test]
    fn vendor_version_scheme() {
        for v in [1u64, 0x1001, 0x1002, 0x1003, 0x1004, 0x10ff, 0x7] {
            let m = text(recognise_version(v)).unwrap_or_else(|| panic!("{v:#x}"));
            assert!(m.contains(&format!("{v:#x}")), "{m}");
            assert!(m.contains(ONLY_RK35XX), "{m}");
        }
        for v in [0u64, 0x1000, 0x100, 0x2004, 0x7472_6e72_0000_0100, u64::MAX] {
            assert!(recognise_version(v).is_none(), "{v:#x}");
        }
        for v in 2u64..=6 {
            let m = text(recognise_version(v)).unwrap_or_else(|| panic!("{v:#x}"));
            assert!(m.contains("Model::load"), "{m}");
        }
    }

    #[test]
    fn magics() {
        assert!(text(recognise_magic(b"CYPTRKNN"))
            .unwrap()
            .contains("encrypted"));
        assert!(text(recognise_magic(b"RKNX")).unwrap().contains("RKNN3"));
        assert!(text(recognise_magic(b"RKCE")).unwrap().contains("RKNN3"));
        assert!(text(recognise_magic(b"VPMN")).unwrap().contains("NBG"));
        assert!(text(recognise_magic(b"\x58\0\0\0RKNN"))
            .unwrap()
            .contains("FlatBuffer"));
        assert!(recognise_magic(b"RKNN\0\0\0\0").is_none());
        assert!(recognise_magic(b"RKN").is_none());
        assert!(recognise_magic(b"").is_none());
    }
}
