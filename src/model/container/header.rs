//! Byte layout of the fixed header and the section table
//! (docs/format.md, sections 2 and 3). Pure encoding and decoding; the
//! consistency checks live in [`super::parse_layout`].

use crate::platform::Platform;

/// Size of the fixed header.
pub const HEADER_LEN: usize = 64;
/// Size of one section table entry.
pub const ENTRY_LEN: usize = 32;
/// Offset of the CRC32 field in the header.
pub const CRC_OFFSET: usize = 0x28;

/// Header fields after the magic (all little-endian).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Format version (0x08, u32).
    pub version: u32,
    /// Total file size (0x10, u64).
    pub file_size: u64,
    /// File flags (0x18, u32).
    pub flags: u32,
    /// Number of section table entries (0x1C, u32).
    pub section_count: u32,
    /// Offset of the section table (0x20, u64).
    pub table_offset: u64,
    /// CRC32 of the file without this field (0x28, u32).
    pub crc: u32,
}

/// One section table entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Section kind.
    pub kind: u32,
    /// Section flags.
    pub flags: u32,
    /// Offset from the start of the file.
    pub offset: u64,
    /// Length in bytes.
    pub length: u64,
    /// Platform code (0 = none).
    pub platform: u32,
    /// Reserved, zero.
    pub reserved: u32,
}

pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

pub(crate) fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

impl Header {
    /// Decodes the header from the first [`HEADER_LEN`] bytes of `b`
    /// (the caller checks the length).
    pub fn decode(b: &[u8]) -> Header {
        Header {
            version: u32_at(b, 0x08),
            file_size: u64_at(b, 0x10),
            flags: u32_at(b, 0x18),
            section_count: u32_at(b, 0x1C),
            table_offset: u64_at(b, 0x20),
            crc: u32_at(b, CRC_OFFSET),
        }
    }

    /// Encodes the header with `magic` and `tag`.
    pub fn encode(&self, magic: &[u8; 8], tag: &[u8; 4]) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0..8].copy_from_slice(magic);
        h[0x08..0x0C].copy_from_slice(&self.version.to_le_bytes());
        h[0x0C..0x10].copy_from_slice(tag);
        h[0x10..0x18].copy_from_slice(&self.file_size.to_le_bytes());
        h[0x18..0x1C].copy_from_slice(&self.flags.to_le_bytes());
        h[0x1C..0x20].copy_from_slice(&self.section_count.to_le_bytes());
        h[0x20..0x28].copy_from_slice(&self.table_offset.to_le_bytes());
        h[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&self.crc.to_le_bytes());
        h
    }
}

impl Entry {
    /// Decodes an entry from [`ENTRY_LEN`] bytes.
    pub fn decode(b: &[u8]) -> Entry {
        Entry {
            kind: u32_at(b, 0),
            flags: u32_at(b, 4),
            offset: u64_at(b, 8),
            length: u64_at(b, 16),
            platform: u32_at(b, 24),
            reserved: u32_at(b, 28),
        }
    }

    /// Encodes the entry.
    pub fn encode(&self) -> [u8; ENTRY_LEN] {
        let mut e = [0u8; ENTRY_LEN];
        e[0..4].copy_from_slice(&self.kind.to_le_bytes());
        e[4..8].copy_from_slice(&self.flags.to_le_bytes());
        e[8..16].copy_from_slice(&self.offset.to_le_bytes());
        e[16..24].copy_from_slice(&self.length.to_le_bytes());
        e[24..28].copy_from_slice(&self.platform.to_le_bytes());
        e[28..32].copy_from_slice(&self.reserved.to_le_bytes());
        e
    }
}

/// The platform code stored in section entries (docs/format.md 3.2).
pub fn platform_code(p: Platform) -> u32 {
    match p {
        Platform::Rk3588 => 1,
        Platform::Rk3576 => 2,
        Platform::Rk3566 => 3,
        Platform::Rk3568 => 4,
        Platform::Rk3562 => 5,
    }
}

/// The platform of a section platform code.
pub fn platform_from_code(code: u32) -> Option<Platform> {
    Platform::ALL
        .into_iter()
        .find(|&p| platform_code(p) == code)
}

/// CRC32 (IEEE) of `bytes` without the 4-byte checksum field.
pub fn checksum(bytes: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&bytes[..CRC_OFFSET]);
    h.update(&bytes[CRC_OFFSET + 4..]);
    h.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip() {
        let h = Header {
            version: 0x100,
            file_size: 0x1122_3344_5566,
            flags: 0x8001_0000,
            section_count: 3,
            table_offset: 64,
            crc: 0xdead_beef,
        };
        let b = h.encode(b"RKNN\0\0\0\0", b"rnrt");
        assert_eq!(&b[..16], b"RKNN\0\0\0\0\0\x01\0\0rnrt");
        assert_eq!(Header::decode(&b), h);
        assert!(b[0x2C..].iter().all(|&x| x == 0));
    }

    #[test]
    fn entry_round_trip() {
        let e = Entry {
            kind: 3,
            flags: 1,
            offset: 4096,
            length: 77,
            platform: 5,
            reserved: 0,
        };
        assert_eq!(Entry::decode(&e.encode()), e);
    }

    #[test]
    fn platform_codes() {
        for p in Platform::ALL {
            assert_eq!(platform_from_code(platform_code(p)), Some(p));
        }
        assert_eq!(platform_from_code(0), None);
        assert_eq!(platform_from_code(6), None);
    }

    #[test]
    fn checksum_skips_its_field() {
        let mut b = vec![0u8; 100];
        let c = checksum(&b);
        b[CRC_OFFSET] = 0xff;
        assert_eq!(checksum(&b), c);
        b[0] = 1;
        assert_ne!(checksum(&b), c);
    }
}
