//! The virtual NPU's memory: host mappings (memfd + mmap, so every buffer
//! has a real fd) placed in a simulated 32-bit device address space.
//!
//! Each buffer is one [`Region`] at a page-aligned device address, never
//! 0, with at least one unmapped guard page before the next region. The
//! region owns its mapping; the [`Buffer`] handed out borrows it and holds
//! a [`SimBacking`] that takes the region out of the address space when
//! the buffer drops. Jobs reach memory only through [`AddressSpace::read`]
//! and [`AddressSpace::write`], which look the address up and check that
//! the whole access lies inside one live region.

use std::collections::BTreeMap;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::driver::map::{self, PAGE};
use crate::driver::{Buffer, DriverError};

/// Lowest device address handed out (everything below stays unmapped, so
/// small addresses, and 0, are always invalid).
pub const SPACE_START: u64 = 0x0010_0000;
/// One past the highest device address (a 32-bit space).
pub const SPACE_END: u64 = 1 << 32;

/// A host mapping standing for one device buffer.
#[derive(Debug)]
pub struct Region {
    /// Device address of the first mapped byte.
    start: u64,
    /// Mapping base and length.
    base: NonNull<u8>,
    map_len: usize,
}

// SAFETY: the region owns its mapping; its bytes are only touched under
// the address-space lock (jobs) or through the `Buffer` that borrows it,
// whose owner follows the device rule that the CPU and a job do not use a
// buffer at the same time.
unsafe impl Send for Region {}
// SAFETY: see `Send`.
unsafe impl Sync for Region {}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: `base`/`map_len` is the mapping this region made and
        // owns; nothing refers to it once the last `Arc` is gone.
        unsafe { map::unmap(self.base, self.map_len) };
    }
}

/// The live regions by device address.
#[derive(Debug, Default)]
pub struct AddressSpace {
    regions: BTreeMap<u64, Arc<Region>>,
}

/// Shared handle to an address space.
pub type Space = Arc<Mutex<AddressSpace>>;

/// Locks `space`, recovering from a poisoned lock (the map is always left
/// consistent: every change is a single insert or remove).
pub fn lock(space: &Space) -> MutexGuard<'_, AddressSpace> {
    space.lock().unwrap_or_else(|p| p.into_inner())
}

/// Attached to every buffer of the sim device: removes its region from
/// the address space when the buffer drops.
#[derive(Debug)]
pub struct SimBacking {
    space: Space,
    start: u64,
}

impl Drop for SimBacking {
    fn drop(&mut self) {
        lock(&self.space).regions.remove(&self.start);
    }
}

impl SimBacking {
    /// Whether the buffer belongs to the address space `space`.
    pub fn belongs_to(&self, space: &Space) -> bool {
        Arc::ptr_eq(&self.space, space)
    }
}

impl AddressSpace {
    /// The lowest page-aligned gap of `len` bytes plus a guard page.
    fn find_gap(&self, len: u64) -> Option<u64> {
        let need = len.next_multiple_of(PAGE as u64) + PAGE as u64;
        let mut cursor = SPACE_START;
        for r in self.regions.values() {
            if r.start >= cursor + need {
                break;
            }
            cursor = cursor.max(r.start + r.map_len as u64 + PAGE as u64);
        }
        (cursor + need <= SPACE_END).then_some(cursor)
    }

    /// The region holding `addr .. addr + len`, and the offset of `addr`
    /// inside its mapping.
    fn find(&self, addr: u64, len: u64) -> Option<(&Region, usize)> {
        let (_, r) = self.regions.range(..=addr).next_back()?;
        let off = addr - r.start;
        (off.checked_add(len)? <= r.map_len as u64).then_some((r.as_ref(), off as usize))
    }

    fn out_of_bounds(&self, addr: u64, len: u64, what: &str) -> String {
        let near = match self.regions.range(..=addr).next_back() {
            Some((_, r)) => format!(
                "; the nearest buffer below is {:#x}..{:#x}",
                r.start,
                r.start + r.map_len as u64
            ),
            None => String::new(),
        };
        format!(
            "{what}: {len} bytes at device address {addr:#x} are not inside one live buffer{near}"
        )
    }

    /// Copies `out.len()` bytes from device address `addr`.
    pub fn read(&self, addr: u64, out: &mut [u8], what: &str) -> Result<(), String> {
        let len = out.len() as u64;
        let (r, off) = self
            .find(addr, len)
            .ok_or_else(|| self.out_of_bounds(addr, len, what))?;
        // SAFETY: `off + len <= map_len` (checked by `find`), the mapping
        // is live (the region is in the map, which we hold locked), and
        // `out` is a separate Rust slice.
        unsafe {
            std::ptr::copy_nonoverlapping(r.base.as_ptr().add(off), out.as_mut_ptr(), out.len());
        }
        Ok(())
    }

    /// `len` bytes from device address `addr`.
    pub fn read_vec(&self, addr: u64, len: usize, what: &str) -> Result<Vec<u8>, String> {
        let mut v = vec![0u8; len];
        self.read(addr, &mut v, what)?;
        Ok(v)
    }

    /// Copies `data` to device address `addr`.
    pub fn write(&self, addr: u64, data: &[u8], what: &str) -> Result<(), String> {
        let len = data.len() as u64;
        let (r, off) = self
            .find(addr, len)
            .ok_or_else(|| self.out_of_bounds(addr, len, what))?;
        // SAFETY: as in `read`, with the mapping writable (PROT_WRITE).
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), r.base.as_ptr().add(off), data.len());
        }
        Ok(())
    }
}

/// Maps `len` bytes of `fd` from the page-aligned `offset` and enters the
/// mapping in `space`; returns the buffer view of `size` bytes starting
/// `lead` bytes into the mapping.
pub fn map_into(
    space: &Space,
    fd: BorrowedFd<'_>,
    offset: usize,
    lead: usize,
    size: usize,
    buffer_fd: OwnedFd,
) -> Result<Buffer, DriverError> {
    let fail = |reason: String| DriverError::Alloc { size, reason };
    let (base, map_len) = map::map_shared(fd, offset as u64, lead + size.max(1))
        .map_err(|e| fail(format!("mmap of fd {}: {e}", fd.as_raw_fd())))?;
    let mut guard = lock(space);
    let Some(start) = guard.find_gap(map_len as u64) else {
        // SAFETY: the mapping was just made and is referenced nowhere.
        unsafe { map::unmap(base, map_len) };
        return Err(fail(format!(
            "the simulated 32-bit NPU address space has no room for {map_len} more bytes"
        )));
    };
    let region = Arc::new(Region {
        start,
        base,
        map_len,
    });
    guard.regions.insert(start, Arc::clone(&region));
    drop(guard);
    let keep = RegionKeep {
        backing: SimBacking {
            space: Arc::clone(space),
            start,
        },
        _region: region,
    };
    // SAFETY: `base + lead .. + size` lies inside the mapping (`map_len >=
    // lead + size`), and the mapping lives as long as the buffer: the
    // buffer's backing holds an `Arc` of the region, dropped after the
    // buffer's own fields.
    let buf = unsafe {
        let ptr = NonNull::new_unchecked(base.as_ptr().add(lead));
        Buffer::from_borrowed(ptr, size, Some(buffer_fd), start + lead as u64)
    };
    Ok(buf.with_backing(Box::new(keep)))
}

/// The backing of every sim buffer: first takes the region out of the
/// address space (so no job can reach it), then releases the buffer's
/// hold on the mapping (unmapped with the last holder).
#[derive(Debug)]
pub struct RegionKeep {
    backing: SimBacking,
    /// Held for its drop: the mapping outlives the buffer.
    _region: Arc<Region>,
}

impl RegionKeep {
    /// Whether the buffer belongs to the address space `space`.
    pub fn belongs_to(&self, space: &Space) -> bool {
        self.backing.belongs_to(space)
    }
}

/// A new memfd of `map_len` bytes (page multiple).
pub fn new_memfd(map_len: usize) -> Result<OwnedFd, String> {
    let fd = super::super::host::memfd(c"rknnrt-sim").map_err(|e| format!("memfd_create: {e}"))?;
    let len = libc::off_t::try_from(map_len).map_err(|_| "size exceeds off_t".to_string())?;
    nix::unistd::ftruncate(fd.as_fd(), len).map_err(|e| format!("ftruncate: {e}"))?;
    Ok(fd)
}
