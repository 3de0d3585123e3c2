//! The outer Toolkit2 container: `RKNN\0\0\0\0`, u64 version, u64
//! payload size, 40 reserved bytes, payload, u64 JSON length, JSON
//! (`rknn-vendor-format.md` section 1).

use std::ops::Range;

use super::{invalid, recognise_magic, unsupported};
use crate::model::ModelError;

/// The container header of a vendor file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerHeader {
    /// The u64 container version at offset 8 (2..=6 for RK35xx files).
    pub version: u64,
    /// Size of the header in bytes (64 for every version this reader accepts).
    pub header_len: usize,
    /// Byte range of the FlatBuffer payload in the file.
    pub payload: Range<usize>,
    /// Byte range of the JSON trailer in the file.
    pub json: Range<usize>,
    /// Size of the file in bytes.
    pub file_size: usize,
}

/// Header length of versions whose low byte is above 1.
pub const HEADER_LEN: usize = 64;
/// Largest payload accepted (FlatBuffers cannot exceed 2 GiB).
pub const MAX_PAYLOAD: u64 = 1 << 31;
/// Largest JSON trailer accepted (16 MiB).
pub const MAX_JSON: u64 = 16 << 20;

fn u64_at(bytes: &[u8], pos: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[pos..pos + 8]);
    u64::from_le_bytes(b)
}

/// Checks the magic, version and sizes; RV110x (`0x1004`), Toolkit v1,
/// encrypted and RKNN3 files are refused with a message naming them.
pub fn parse_header(bytes: &[u8]) -> Result<ContainerHeader, ModelError> {
    if let Some(e) = recognise_magic(bytes) {
        return Err(e);
    }
    let n = bytes.len();
    if n < 16 || &bytes[..8] != b"RKNN\0\0\0\0" {
        let head = &bytes[..n.min(8)];
        return invalid(format!(
            "container magic: the file starts with {head:02x?}, not \"RKNN\\0\\0\\0\\0\" ({n} bytes)"
        ));
    }
    let version = u64_at(bytes, 8);
    match version {
        2..=6 => {}
        0x1004 => {
            return Err(unsupported(
                "this is an RKNN-Toolkit2 model for RV1103/RV1106 (container version 0x1004), \
                 whose flat payload this reader does not decode",
            ))
        }
        1 | 0x1001 => {
            return Err(unsupported(&format!(
                "this is an RKNN-Toolkit v1 model (container version {version:#x}, RK1808/RV1109/RV1126/RK3399Pro)"
            )))
        }
        0x1002 | 0x1003 => {
            return Err(unsupported(&format!(
                "this is an RKNN-Toolkit2 model of container version {version:#x}, which this reader does not decode"
            )))
        }
        _ => {
            return invalid(format!(
                "container version {version:#x} is not a Toolkit2 RK35xx version (2..=6)"
            ))
        }
    }
    if n < HEADER_LEN {
        return invalid(format!(
            "container header: the file is {n} bytes, shorter than the {HEADER_LEN}-byte header"
        ));
    }
    let payload_len = u64_at(bytes, 16);
    if !(8..=MAX_PAYLOAD).contains(&payload_len) {
        return invalid(format!(
            "container payload size {payload_len} is outside 8..={MAX_PAYLOAD}"
        ));
    }
    let payload_end = HEADER_LEN as u64 + payload_len;
    if payload_end + 8 > n as u64 {
        return invalid(format!(
            "container payload size {payload_len} plus the JSON length field runs past the end of the {n}-byte file (truncated)"
        ));
    }
    let payload_end = payload_end as usize;
    let json_len = u64_at(bytes, payload_end);
    let json_start = payload_end + 8;
    let avail = (n - json_start) as u64;
    if json_len > MAX_JSON || json_len > avail {
        return invalid(format!(
            "container JSON length {json_len} exceeds the {avail} bytes left in the file (limit {MAX_JSON})"
        ));
    }
    let json_end = json_start + json_len as usize;
    if json_end != n {
        return invalid(format!(
            "container: {} bytes follow the JSON trailer (file size {n})",
            n - json_end
        ));
    }
    Ok(ContainerHeader {
        version,
        header_len: HEADER_LEN,
        payload: HEADER_LEN..payload_end,
        json: json_start..json_end,
        file_size: n,
    })
}
