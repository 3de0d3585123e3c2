//! Our container: reader and writer (the spec is docs/format.md).
//!
//! The reader is safe code that treats the file as hostile: it checks the
//! magic (recognising vendor files), the version, the size, the CRC32, the
//! section table (bounds with checked arithmetic, alignment, overlap,
//! unknown kinds), the metadata JSON and finally the model's semantics
//! ([`ModelMeta::validate`]).

mod header;

use std::ops::Range;

pub use self::header::HEADER_LEN;
use self::header::{checksum, platform_code, platform_from_code, Entry, Header, ENTRY_LEN};
use super::{vendor, ModelError, ModelMeta};
use crate::platform::Platform;

/// Magic bytes at the start of every `.rknn` file (ours and the vendor's).
pub const MAGIC: &[u8; 8] = b"RKNN\0\0\0\0";
/// The container version this build writes and reads (u32 at offset 8).
/// Vendor versions are 1–6 and 0x1001–0x1004 in a u64 whose bytes 12..16
/// are zero; ours always carries [`FORMAT_TAG`] there, so the two can
/// never be confused.
pub const FORMAT_VERSION: u32 = 0x100;
/// Bytes 12..16 of our header: marks the file as rknnrt's format.
pub const FORMAT_TAG: &[u8; 4] = b"rnrt";

/// Section kind: UTF-8 JSON of [`ModelMeta`].
pub const SECTION_METADATA: u32 = 1;
/// Section kind: the weights that `Storage::Weight` offsets point into.
pub const SECTION_WEIGHTS: u32 = 2;
/// Section kind: a compiled NPU program for the entry's platform.
pub const SECTION_NPU_PROGRAM: u32 = 3;
/// Section flag: a reader that does not know the section's kind must
/// refuse the file (otherwise it skips the section).
pub const SECTION_REQUIRED: u32 = 1;
/// File flags a reader must understand (bits 0..16); none are defined in
/// this version. Bits 16..32 are hints a reader may ignore.
pub const FILE_FLAGS_REQUIRED_MASK: u32 = 0xffff;

/// Alignment of every section's offset in the file.
pub const SECTION_ALIGN: u64 = 64;
/// Most entries in the section table.
pub const MAX_SECTIONS: u32 = 64;
/// Largest metadata section (64 MiB).
pub const MAX_METADATA_LEN: u64 = 64 << 20;

/// A compiled NPU program section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NpuProgram {
    /// Platform the program was compiled for.
    pub platform: Platform,
    /// Byte range of the section in the file.
    pub range: Range<usize>,
}

/// Where the sections of a checked container are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// The metadata JSON.
    pub metadata: Range<usize>,
    /// The weights section.
    pub weights: Range<usize>,
    /// NPU program sections, in table order.
    pub npu_programs: Vec<NpuProgram>,
}

fn invalid<T>(msg: String) -> Result<T, ModelError> {
    Err(ModelError::Invalid(msg))
}

fn kind_name(kind: u32) -> String {
    match kind {
        SECTION_METADATA => "metadata section".into(),
        SECTION_WEIGHTS => "weights section".into(),
        SECTION_NPU_PROGRAM => "NPU program section".into(),
        k => format!("section of kind {k}"),
    }
}

/// Parses and validates a container; returns the metadata and the byte
/// range of the weights section inside `bytes`.
pub fn parse(bytes: &[u8]) -> Result<(ModelMeta, Range<usize>), ModelError> {
    let layout = parse_layout(bytes)?;
    let json = &bytes[layout.metadata.clone()];
    let meta: ModelMeta = serde_json::from_slice(json).map_err(|e| {
        ModelError::Invalid(format!("metadata section is not valid model JSON: {e}"))
    })?;
    meta.validate(layout.weights.len() as u64)?;
    Ok((meta, layout.weights))
}

/// Checks everything but the metadata's contents: header, checksum and
/// section table. Vendor files give [`ModelError::Unsupported`].
pub fn parse_layout(bytes: &[u8]) -> Result<Layout, ModelError> {
    let header = check_header(bytes)?;
    let len = bytes.len() as u64;
    if header.section_count == 0 || header.section_count > MAX_SECTIONS {
        return invalid(format!(
            "section count {} is outside 1..={MAX_SECTIONS}",
            header.section_count
        ));
    }
    let table_len = header.section_count as u64 * ENTRY_LEN as u64;
    let t = header.table_offset;
    if t < HEADER_LEN as u64 || t % 8 != 0 {
        return invalid(format!(
            "section table offset {t} must be at least {HEADER_LEN} and a multiple of 8"
        ));
    }
    let table_end = match t.checked_add(table_len) {
        Some(end) if end <= len => end,
        _ => {
            return invalid(format!(
                "section table offset {t} + length {table_len} exceeds file size {len}"
            ))
        }
    };
    let table = &bytes[t as usize..table_end as usize];
    let entries: Vec<Entry> = table.chunks_exact(ENTRY_LEN).map(Entry::decode).collect();
    sections(&entries, t..table_end, len)
}

/// Magic, version, size and checksum.
fn check_header(bytes: &[u8]) -> Result<Header, ModelError> {
    let n = bytes.len();
    if n == 0 {
        return invalid("file is empty (0 bytes)".into());
    }
    if let Some(e) = vendor::recognise_magic(bytes) {
        return Err(e);
    }
    if n < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        let head = &bytes[..n.min(8)];
        return invalid(format!(
            "not an RKNN model: the file starts with {head:02x?} instead of the magic \"RKNN\\0\\0\\0\\0\" ({n} bytes)"
        ));
    }
    if n < 16 {
        return invalid(format!(
            "file is {n} bytes, too short for the RKNN version field"
        ));
    }
    if &bytes[12..16] != FORMAT_TAG {
        let version = header::u64_at(bytes, 8);
        return Err(vendor::recognise_version(version).unwrap_or_else(|| {
            ModelError::Invalid(format!(
                "unknown container version {version:#x} (neither rknnrt's format nor a known vendor version)"
            ))
        }));
    }
    if n < HEADER_LEN {
        return invalid(format!(
            "file is {n} bytes, shorter than the {HEADER_LEN}-byte header (truncated)"
        ));
    }
    let h = Header::decode(bytes);
    if h.version != FORMAT_VERSION {
        return invalid(format!(
            "format version {:#x} is not supported by this build (it reads version {FORMAT_VERSION:#x})",
            h.version
        ));
    }
    if h.file_size != n as u64 {
        return invalid(format!(
            "header says the file is {} bytes, but it is {n} bytes (truncated or corrupt)",
            h.file_size
        ));
    }
    let crc = checksum(bytes);
    if crc != h.crc {
        return invalid(format!(
            "checksum mismatch: the header says {:#010x}, the contents give {crc:#010x} (the file is corrupt)",
            h.crc
        ));
    }
    if bytes[0x2C..HEADER_LEN].iter().any(|&b| b != 0) {
        return invalid("reserved header bytes 0x2c..0x40 are not zero".into());
    }
    if h.flags & FILE_FLAGS_REQUIRED_MASK != 0 {
        return invalid(format!(
            "file flags {:#x} require features this runtime does not know",
            h.flags & FILE_FLAGS_REQUIRED_MASK
        ));
    }
    Ok(h)
}

/// Checks the section entries: bounds, alignment, overlap, kinds.
fn sections(entries: &[Entry], table: Range<u64>, len: u64) -> Result<Layout, ModelError> {
    // Occupied byte ranges (start, end, description) for the overlap check.
    let mut used: Vec<(u64, u64, String)> = vec![
        (0, HEADER_LEN as u64, "the header".into()),
        (table.start, table.end, "the section table".into()),
    ];
    let mut metadata = None;
    let mut weights = None;
    let mut npu_programs: Vec<NpuProgram> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let name = format!("{} (entry {i})", kind_name(e.kind));
        if e.reserved != 0 || e.flags & !SECTION_REQUIRED != 0 {
            return invalid(format!(
                "{name} has unknown flags {:#x} or a non-zero reserved field",
                e.flags
            ));
        }
        let end = match e.offset.checked_add(e.length) {
            Some(end) if end <= len => end,
            _ => {
                return invalid(format!(
                    "{name} offset {} + length {} exceeds file size {len}",
                    e.offset, e.length
                ))
            }
        };
        if e.offset % SECTION_ALIGN != 0 {
            return invalid(format!(
                "{name} offset {} is not a multiple of {SECTION_ALIGN}",
                e.offset
            ));
        }
        if e.length > 0 {
            used.push((e.offset, end, name.clone()));
        }
        let range = e.offset as usize..end as usize;
        let known = matches!(
            e.kind,
            SECTION_METADATA | SECTION_WEIGHTS | SECTION_NPU_PROGRAM
        );
        if !known {
            if e.flags & SECTION_REQUIRED != 0 {
                return invalid(format!(
                    "{name} is marked required, but this runtime does not know the kind"
                ));
            }
            continue;
        }
        if e.kind != SECTION_NPU_PROGRAM && e.platform != 0 {
            return invalid(format!(
                "{name} has platform code {}, expected 0",
                e.platform
            ));
        }
        match e.kind {
            SECTION_METADATA => {
                if e.length > MAX_METADATA_LEN {
                    return invalid(format!(
                        "{name} is {} bytes, more than the limit {MAX_METADATA_LEN}",
                        e.length
                    ));
                }
                if metadata.replace(range).is_some() {
                    return invalid("the file has more than one metadata section".into());
                }
            }
            SECTION_WEIGHTS => {
                if weights.replace(range).is_some() {
                    return invalid("the file has more than one weights section".into());
                }
            }
            _ => {
                let Some(platform) = platform_from_code(e.platform) else {
                    return invalid(format!("{name} has unknown platform code {}", e.platform));
                };
                if npu_programs.iter().any(|p| p.platform == platform) {
                    return invalid(format!(
                        "the file has more than one NPU program section for {}",
                        platform.name()
                    ));
                }
                npu_programs.push(NpuProgram { platform, range });
            }
        }
    }
    used.sort_by_key(|u| (u.0, u.1));
    for w in used.windows(2) {
        if w[1].0 < w[0].1 {
            return invalid(format!(
                "{} (bytes {}..{}) overlaps {} (bytes {}..{})",
                w[1].2, w[1].0, w[1].1, w[0].2, w[0].0, w[0].1
            ));
        }
    }
    let Some(metadata) = metadata else {
        return invalid("the file has no metadata section".into());
    };
    let Some(weights) = weights else {
        return invalid("the file has no weights section".into());
    };
    Ok(Layout {
        metadata,
        weights,
        npu_programs,
    })
}

/// Serializes a model; `weights` is the weights section that the graph's
/// weight offsets point into. The writer does not validate: call
/// [`ModelMeta::validate`] first to know that [`parse`] will accept the
/// result.
pub fn write(meta: &ModelMeta, weights: &[u8]) -> Vec<u8> {
    write_with_programs(meta, weights, &[])
}

fn align(n: u64) -> u64 {
    n.div_ceil(SECTION_ALIGN) * SECTION_ALIGN
}

/// Like [`write()`], adding one NPU program section per `(platform, bytes)`.
pub fn write_with_programs(
    meta: &ModelMeta,
    weights: &[u8],
    programs: &[(Platform, &[u8])],
) -> Vec<u8> {
    // Derived `Serialize` on structs, enums, strings, numbers and vectors
    // (no maps) cannot fail.
    let json = serde_json::to_vec(meta).expect("ModelMeta serializes to JSON");
    let mut parts: Vec<(u32, u32, &[u8])> =
        vec![(SECTION_METADATA, 0, &json), (SECTION_WEIGHTS, 0, weights)];
    parts.extend(
        programs
            .iter()
            .map(|(p, b)| (SECTION_NPU_PROGRAM, platform_code(*p), *b)),
    );
    let table_offset = HEADER_LEN as u64;
    let mut pos = table_offset + (parts.len() * ENTRY_LEN) as u64;
    let mut entries = Vec::with_capacity(parts.len());
    for (kind, platform, data) in &parts {
        pos = align(pos);
        entries.push(Entry {
            kind: *kind,
            flags: if *kind == SECTION_NPU_PROGRAM {
                0
            } else {
                SECTION_REQUIRED
            },
            offset: pos,
            length: data.len() as u64,
            platform: *platform,
            reserved: 0,
        });
        pos += data.len() as u64;
    }
    let mut out = vec![0u8; pos as usize];
    let h = Header {
        version: FORMAT_VERSION,
        file_size: pos,
        flags: 0,
        section_count: parts.len() as u32,
        table_offset,
        crc: 0,
    };
    out[..HEADER_LEN].copy_from_slice(&h.encode(MAGIC, FORMAT_TAG));
    for (i, (e, (_, _, data))) in entries.iter().zip(&parts).enumerate() {
        let at = HEADER_LEN + i * ENTRY_LEN;
        out[at..at + ENTRY_LEN].copy_from_slice(&e.encode());
        let o = e.offset as usize;
        out[o..o + data.len()].copy_from_slice(data);
    }
    let crc = checksum(&out);
    out[header::CRC_OFFSET..header::CRC_OFFSET + 4].copy_from_slice(&crc.to_le_bytes());
    out
}
