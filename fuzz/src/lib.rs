//! Helpers shared by the fuzz targets in `fuzz_targets/`: a byte cursor
//! that turns fuzzer input into argument choices, the checksum fix-up
//! that lets mutated containers reach the JSON and graph checks, the
//! small models the C API targets load, and a quiet logger.
//!
//! The input format of every target is documented in the target; the
//! seed corpus in `corpus/<target>/` is written by `make_seeds.py`
//! (structured targets) and `cargo run --example write_models` (model
//! files).

use std::sync::Once;

/// The models of the C API tests (`tests/common/mod.rs`): an f32 Relu and
/// an int8 Conv with mean/std pre-processing.
#[path = "../../tests/common/mod.rs"]
pub mod models;

/// Reads fuzzer bytes front to back; past the end every read gives zeros,
/// so any input decodes to some choice.
pub struct Cursor<'a> {
    data: &'a [u8],
}

impl<'a> Cursor<'a> {
    /// A cursor over `data`.
    pub fn new(data: &'a [u8]) -> Cursor<'a> {
        Cursor { data }
    }

    /// The next byte (0 when exhausted).
    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// The next little-endian u16.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    /// The next little-endian u32.
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    /// The next f32 (any bit pattern: NaN, infinities, subnormals).
    pub fn f32(&mut self) -> f32 {
        f32::from_bits(self.u32())
    }

    /// A value in `0..n` (`n > 0`) from one byte.
    pub fn below(&mut self, n: u8) -> u8 {
        self.u8() % n
    }

    /// The bytes not read yet.
    pub fn rest(self) -> &'a [u8] {
        self.data
    }
}

/// Offset of the file size (u64) in our container header.
const FILE_SIZE_OFFSET: usize = 0x10;
/// Offset of the CRC32 (u32) in our container header.
const CRC_OFFSET: usize = 0x28;

/// Rewrites the file-size and CRC32 fields of a container header (as
/// `docs/format.md` defines them: CRC32/IEEE of the file without its
/// 4-byte checksum field) so that the reader's integrity checks pass and
/// the mutation is judged by the section, JSON and graph checks. Buffers
/// too short to hold the fields are left alone.
pub fn fix_header(bytes: &mut [u8]) {
    if bytes.len() < CRC_OFFSET + 4 {
        return;
    }
    let len = bytes.len() as u64;
    bytes[FILE_SIZE_OFFSET..FILE_SIZE_OFFSET + 8].copy_from_slice(&len.to_le_bytes());
    let mut h = crc32fast::Hasher::new();
    h.update(&bytes[..CRC_OFFSET]);
    h.update(&bytes[CRC_OFFSET + 4..]);
    let crc = h.finalize();
    bytes[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_le_bytes());
}

/// Routes the runtime's `tracing` events to a subscriber that drops them:
/// the C API logs every refused call, which would flood the fuzzer's
/// output and slow it down. Call at the top of every target.
pub fn quiet() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ =
            tracing::subscriber::set_global_default(tracing::subscriber::NoSubscriber::default());
    });
}
