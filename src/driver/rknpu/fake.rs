//! A fake `rknpu` driver behind the ioctl seam: it records every call,
//! plays MEM_CREATE/MAP/DESTROY/SYNC, SUBMIT, the actions and PRIME with
//! real fds (unlinked scratch files stand for dma-bufs), and fails the
//! next call of a request with an injected errno.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex};

use nix::errno::Errno;

use super::abi::{
    action, mem, Action, MemCreate, MemDestroy, MemMap, MemSync, Node, Requests, Submit,
};
use super::RknpuDevice;
use crate::driver::discovery::fake_tree::{answer_version, scratch_fd, TempTree};
use crate::driver::discovery::DevRoot;
use crate::driver::ioctl::{
    DrmGemClose, DrmPrimeHandle, IoctlSeam, DMA_BUF_IOCTL_SYNC, DRM_IOCTL_GEM_CLOSE,
    DRM_IOCTL_PRIME_FD_TO_HANDLE, DRM_IOCTL_PRIME_HANDLE_TO_FD, DRM_IOCTL_VERSION,
};
use crate::driver::DriverError;

/// Bytes of device-file offset space per handle (MEM_MAP offsets).
pub const MAP_STRIDE: u64 = 1 << 24;

/// A live fake object.
#[derive(Clone, Copy, Debug)]
pub struct Obj {
    pub size: u64,
    pub flags: u32,
    pub obj_addr: u64,
    pub dma_addr: u64,
}

/// The fake driver's state.
#[derive(Debug, Default)]
pub struct State {
    /// Every call: request and the argument bytes as passed in.
    pub calls: Vec<(u32, Vec<u8>)>,
    fail: HashMap<u32, Errno>,
    next_handle: u32,
    pub objects: HashMap<u32, Obj>,
    /// (st_dev, st_ino) of files that count as dma-bufs → handle (0: not
    /// imported yet).
    dmabufs: HashMap<(u64, u64), u32>,
    /// MEM_DESTROY arguments seen.
    pub destroyed: Vec<MemDestroy>,
    /// GEM_CLOSE handles seen.
    pub closed: Vec<u32>,
    /// task_counter written back by a failing SUBMIT.
    pub submit_counter: u32,
    pub drv_version: u32,
    pub hw_version: u32,
    pub iommu: u32,
    pub sram_total: u32,
    pub sram_free: u32,
    pub drm_name: &'static str,
}

/// The fake.
#[derive(Debug)]
pub struct Fake {
    pub node: Node,
    pub req: Requests,
    pub state: Mutex<State>,
}

fn inode(fd: RawFd) -> Option<(u64, u64)> {
    let st = nix::sys::stat::fstat(fd).ok()?;
    Some((st.st_dev as u64, st.st_ino as u64))
}

fn file_len(fd: RawFd) -> u64 {
    nix::sys::stat::fstat(fd).map_or(0, |st| st.st_size as u64)
}

impl Fake {
    /// A 0.9.8 driver on an RK3588 with an IOMMU and no SRAM.
    pub fn new(node: Node) -> Fake {
        Fake {
            node,
            req: Requests::of(node),
            state: Mutex::new(State {
                next_handle: 1,
                drv_version: 908,
                hw_version: 0x4649_5245,
                iommu: 1,
                drm_name: "rknpu",
                ..State::default()
            }),
        }
    }

    /// The state, locked.
    pub fn st(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// Fails the next `request` with `e`.
    pub fn fail_next(&self, request: u32, e: Errno) {
        self.st().fail.insert(request, e);
    }

    /// The argument structs of every call of `request`, decoded.
    pub fn args<T: bytemuck::Pod>(&self, request: u32) -> Vec<T> {
        self.st()
            .calls
            .iter()
            .filter(|(r, _)| *r == request)
            .map(|(_, b)| bytemuck::pod_read_unaligned(b))
            .collect()
    }

    /// A new scratch file of `len` bytes that the fake treats as a dma-buf.
    pub fn dmabuf(&self, len: u64) -> OwnedFd {
        let fd = scratch_fd(len);
        let key = inode(fd.as_raw_fd()).expect("fstat");
        self.st().dmabufs.insert(key, 0);
        fd
    }

    fn new_object(st: &mut State, size: u64, flags: u32) -> (u32, Obj) {
        let handle = st.next_handle;
        st.next_handle += 1;
        let size = size.div_ceil(4096) * 4096;
        let obj = Obj {
            size,
            flags,
            obj_addr: 0xffff_ff80_0000_0000 | (u64::from(handle) << 20),
            dma_addr: 0x1000_0000 + (u64::from(handle) << 20),
        };
        st.objects.insert(handle, obj);
        (handle, obj)
    }

    fn mem_create(&self, st: &mut State, a: &mut MemCreate) -> Result<i32, Errno> {
        if a.handle != 0 && self.node == Node::Drm {
            let o = st.objects.get(&a.handle).ok_or(Errno::EINVAL)?;
            (a.size, a.obj_addr, a.dma_addr) = (o.size, o.obj_addr, o.dma_addr);
            return Ok(0);
        }
        if a.handle != 0 {
            // Misc build: import the dma-buf fd in `handle`.
            let fd = a.handle as RawFd;
            let key = inode(fd).ok_or(Errno::EBADF)?;
            if !st.dmabufs.contains_key(&key) {
                return Err(Errno::EINVAL);
            }
            let (_, o) = Self::new_object(st, file_len(fd), a.flags);
            (a.size, a.obj_addr, a.dma_addr) = (o.size, o.obj_addr, o.dma_addr);
            return Ok(0);
        }
        if a.size == 0 {
            return Err(Errno::EINVAL);
        }
        let (handle, o) = Self::new_object(st, a.size, a.flags);
        (a.size, a.obj_addr, a.dma_addr) = (o.size, o.obj_addr, o.dma_addr);
        a.handle = match self.node {
            Node::Drm => handle,
            Node::Misc => {
                let fd = scratch_fd(o.size);
                let key = inode(fd.as_raw_fd()).expect("fstat");
                st.dmabufs.insert(key, handle);
                fd.into_raw_fd() as u32
            }
        };
        Ok(0)
    }

    fn dispatch(&self, st: &mut State, request: u32, arg: &mut [u8]) -> Result<i32, Errno> {
        let r = self.req;
        match request {
            DRM_IOCTL_VERSION if self.node == Node::Drm => {
                answer_version(arg, st.drm_name, "20240828");
                Ok(0)
            }
            x if x == r.action => {
                let a: &mut Action = bytemuck::from_bytes_mut(arg);
                a.value = match a.flags {
                    action::GET_DRV_VERSION => st.drv_version,
                    action::GET_HW_VERSION => st.hw_version,
                    action::GET_IOMMU_EN => st.iommu,
                    action::GET_TOTAL_SRAM_SIZE => st.sram_total,
                    action::GET_FREE_SRAM_SIZE => st.sram_free,
                    _ => return Err(Errno::EINVAL),
                };
                Ok(0)
            }
            x if x == r.mem_create => self.mem_create(st, bytemuck::from_bytes_mut(arg)),
            x if x == r.mem_map => {
                let m: &mut MemMap = bytemuck::from_bytes_mut(arg);
                if !st.objects.contains_key(&m.handle) {
                    return Err(Errno::EINVAL);
                }
                m.offset = u64::from(m.handle) * MAP_STRIDE;
                Ok(0)
            }
            x if x == r.mem_destroy => {
                let d: MemDestroy = *bytemuck::from_bytes_mut(arg);
                st.destroyed.push(d);
                let key = match self.node {
                    Node::Drm => Some(d.handle),
                    Node::Misc => st
                        .objects
                        .iter()
                        .find(|(_, o)| o.obj_addr == d.obj_addr)
                        .map(|(h, _)| *h),
                };
                key.and_then(|k| st.objects.remove(&k))
                    .map(|_| 0)
                    .ok_or(Errno::EINVAL)
            }
            x if x == r.mem_sync => {
                let m: &mut MemSync = bytemuck::from_bytes_mut(arg);
                let o = st
                    .objects
                    .values()
                    .find(|o| o.obj_addr == m.obj_addr)
                    .ok_or(Errno::EFAULT)?;
                if o.flags & mem::CACHEABLE == 0 || m.offset + m.size > o.size {
                    return Err(Errno::EINVAL);
                }
                Ok(0)
            }
            x if x == r.submit => {
                let s: &mut Submit = bytemuck::from_bytes_mut(arg);
                if s.task_number == 0 {
                    return Err(Errno::EINVAL);
                }
                s.task_counter = s.task_number;
                s.hw_elapse_time = 1234;
                Ok(0)
            }
            DRM_IOCTL_PRIME_HANDLE_TO_FD => {
                let p: &mut DrmPrimeHandle = bytemuck::from_bytes_mut(arg);
                let o = *st.objects.get(&p.handle).ok_or(Errno::ENOENT)?;
                let fd = scratch_fd(o.size);
                let key = inode(fd.as_raw_fd()).expect("fstat");
                st.dmabufs.insert(key, p.handle);
                p.fd = fd.into_raw_fd();
                Ok(0)
            }
            DRM_IOCTL_PRIME_FD_TO_HANDLE => {
                let p: &mut DrmPrimeHandle = bytemuck::from_bytes_mut(arg);
                let key = inode(p.fd).ok_or(Errno::EBADF)?;
                let known = *st.dmabufs.get(&key).ok_or(Errno::EINVAL)?;
                p.handle = if known != 0 && st.objects.contains_key(&known) {
                    known
                } else {
                    let (h, _) = Self::new_object(st, file_len(p.fd), 0);
                    st.dmabufs.insert(key, h);
                    h
                };
                Ok(0)
            }
            DRM_IOCTL_GEM_CLOSE => {
                let c: DrmGemClose = *bytemuck::from_bytes_mut(arg);
                st.closed.push(c.handle);
                st.objects.remove(&c.handle).map(|_| 0).ok_or(Errno::EINVAL)
            }
            DMA_BUF_IOCTL_SYNC => Ok(0),
            _ => Err(Errno::ENOTTY),
        }
    }
}

impl IoctlSeam for Fake {
    unsafe fn ioctl(&self, _fd: RawFd, request: u32, arg: &mut [u8]) -> Result<i32, Errno> {
        let mut st = self.st();
        st.calls.push((request, arg.to_vec()));
        if let Some(e) = st.fail.remove(&request) {
            if request == self.req.submit {
                let counter = st.submit_counter;
                let s: &mut Submit = bytemuck::from_bytes_mut(arg);
                s.task_counter = counter;
            }
            return Err(e);
        }
        self.dispatch(&mut st, request, arg)
    }
}

/// A fake tree with one rknpu node, the fake driver, and a way to open it.
pub struct Rig {
    /// The temporary `/dev` + `/sys` tree.
    pub tree: TempTree,
    /// The fake driver.
    pub fake: Arc<Fake>,
    /// The device node.
    pub path: std::path::PathBuf,
}

impl Rig {
    /// A tree with a DRM or misc node of the fake driver.
    pub fn new(node: Node) -> Rig {
        let tree = TempTree::new("rknpu");
        let rel = match node {
            Node::Drm => "dev/dri/renderD129",
            Node::Misc => "dev/rknpu",
        };
        // Sparse: MEM_MAP offsets are handle × 16 MiB into this file.
        let path = tree.node(rel, 1 << 34);
        Rig {
            tree,
            fake: Arc::new(Fake::new(node)),
            path,
        }
    }

    /// Opens the device over the fake.
    pub fn open(&self) -> Result<RknpuDevice, DriverError> {
        RknpuDevice::open(
            &self.path,
            self.fake.node,
            &self.tree.path().join("sys/class/drm/renderD129"),
            &DevRoot::under(self.tree.path()),
            self.fake.clone(),
            None,
        )
    }

    /// Opens the device, which must succeed.
    pub fn dev(&self) -> RknpuDevice {
        self.open().expect("open")
    }
}
