//! User memory bound to a context (the zero-copy API): input and output
//! memory with the user's type and layout, weights and internal memory
//! given from outside, and the model buffer itself.
//!
//! The runtime does not know the C `rknn_tensor_mem` objects; it sees them
//! through [`UserMemory`], held by `Arc`, so memory stays alive while a
//! context uses it, even after the user destroyed its C object (then runs
//! refuse it: [`UserMemory::destroyed`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use super::error::{Error, ErrorKind, Result};
use super::io::{self, LayoutSpec};
use crate::driver::{Buffer, Device};
use crate::graph::{DType, Layout, TensorInfo};
use crate::model::InputPreprocess;
use crate::platform::Platform;

/// Device memory the user created (`rknn_create_mem*`) and lends to a
/// context.
pub trait UserMemory: Send + Sync + std::fmt::Debug {
    /// The memory: exactly the bytes the user's object describes (for
    /// memory imported at an offset, its first byte is at that offset).
    fn buffer(&self) -> &Buffer;
    /// The device that made or imported it (for cache maintenance).
    fn device(&self) -> &dyn Device;
    /// The user destroyed the object (`rknn_destroy_mem`) while a context
    /// still held it: the bytes stay valid, but a run must not use them.
    fn destroyed(&self) -> bool {
        false
    }
}

/// The data format of bound IO memory, from the user's `rknn_tensor_attr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoFormat {
    /// Element type of the user's bytes.
    pub dtype: DType,
    /// Layout of the user's bytes (NHWC with its row pitch, NC1HWC2 with
    /// its C2, `Undefined` for the model's order).
    pub layout: LayoutSpec,
    /// Inputs: the bytes are already in the model's type (no mean/std,
    /// no quantization).
    pub pass_through: bool,
}

impl IoFormat {
    /// The format an attribute describes on `platform` for a tensor of
    /// type `model_dtype`: `fmt` NHWC keeps `w_stride` (pixels, 0 =
    /// width); NC1HWC2 keeps the native blocks of the model's type
    /// (`Platform::c2`), also when the user changes the element type (the
    /// user guide scales the size by the element size, §5.2.3). For
    /// inputs, NC1HWC2 without `pass_through` means NHWC data the runtime
    /// packs (user guide 2.3.0 §5.2.3 c).
    pub fn from_attr(
        dtype: DType,
        layout: Layout,
        w_stride: usize,
        pass_through: bool,
        input: bool,
        platform: Platform,
        model_dtype: DType,
    ) -> IoFormat {
        let layout = match layout {
            Layout::Nhwc => LayoutSpec::nhwc_strided(w_stride),
            Layout::Nc1hwc2 if input && !pass_through => LayoutSpec::NHWC,
            Layout::Nc1hwc2 => LayoutSpec::nc1hwc2(platform.c2(model_dtype.size())),
            other => LayoutSpec::of(other),
        };
        IoFormat {
            dtype,
            layout,
            pass_through: input && pass_through,
        }
    }
}

/// User memory bound to one input or output.
#[derive(Clone, Debug)]
pub struct IoBinding {
    /// The memory.
    pub mem: Arc<dyn UserMemory>,
    /// How its bytes are laid out.
    pub format: IoFormat,
    /// The executor reads (input) or writes (output) the memory directly:
    /// the format is exactly the executor's tensor.
    pub in_place: bool,
    /// Bytes of the memory the data occupies.
    pub bytes: usize,
}

fn io_err(kind: ErrorKind, what: &str, e: io::IoError) -> Error {
    Error::new(kind, format!("{what}: {e}"))
}

/// Checks input memory of `format` for `info` (which the executor stores
/// as `stored`) and decides whether the executor can read it in place.
/// `native_size` is the native `size_with_stride` when the format is the
/// native one (the memory must hold at least that much).
pub fn bind_input(
    mem: Arc<dyn UserMemory>,
    format: IoFormat,
    info: &TensorInfo,
    stored: LayoutSpec,
    pre: &InputPreprocess,
    what: &str,
    native_size: Option<usize>,
) -> Result<IoBinding> {
    let kind = ErrorKind::InputInvalid;
    let bytes = io::source_size(info, format.dtype, format.layout, format.pass_through)
        .map_err(|e| io_err(kind, what, e))?;
    check_size(&*mem, bytes.max(native_size.unwrap_or(0)), what, kind)?;
    let in_place = io::reads_in_place(
        format.dtype,
        format.layout,
        format.pass_through,
        pre,
        info,
        stored,
    )
    .map_err(|e| io_err(kind, what, e))?;
    Ok(IoBinding {
        mem,
        format,
        in_place,
        bytes,
    })
}

/// Checks output memory of `format` for `info` (stored by the executor
/// as `stored`, `stored_bytes` long; the conversion must be one the
/// runtime does) and decides whether the executor can write it in place
/// (`direct`: the tensor has its own output buffer in the plan).
pub fn bind_output(
    mem: Arc<dyn UserMemory>,
    format: IoFormat,
    info: &TensorInfo,
    stored: (LayoutSpec, usize),
    what: &str,
    native_size: Option<usize>,
    direct: bool,
) -> Result<IoBinding> {
    let kind = ErrorKind::OutputInvalid;
    let bytes =
        io::output_size_to(info, format.dtype, format.layout).map_err(|e| io_err(kind, what, e))?;
    check_size(&*mem, bytes.max(native_size.unwrap_or(0)), what, kind)?;
    // Validate the conversion once, on zeros into scratch memory, so an
    // unsupported type/layout pair fails here and not in every run.
    let zeros = vec![0u8; stored.1];
    let mut scratch = vec![0u8; bytes];
    io::convert_output_from(
        &zeros,
        stored.0,
        info,
        format.dtype,
        format.layout,
        &mut scratch,
    )
    .map_err(|e| io_err(kind, what, e))?;
    let in_place = direct
        && io::writes_in_place_from(info, stored.0, format.dtype, format.layout)
            .map_err(|e| io_err(kind, what, e))?;
    Ok(IoBinding {
        mem,
        format,
        in_place,
        bytes,
    })
}

/// Fails unless `mem` holds at least `need` bytes.
pub fn check_size(mem: &dyn UserMemory, need: usize, what: &str, kind: ErrorKind) -> Result<()> {
    let have = mem.buffer().size();
    if have < need {
        return Err(Error::new(
            kind,
            format!("{what}: the memory holds {have} bytes, {need} are required"),
        ));
    }
    Ok(())
}

/// Internal (intermediate) memory given from outside, with the lock that
/// serialises runs of every context using the same memory.
#[derive(Debug)]
pub struct InternalMem {
    /// The memory.
    pub mem: Arc<dyn UserMemory>,
    /// Held for the duration of a run.
    pub lock: Arc<Mutex<()>>,
}

impl InternalMem {
    /// Wraps `mem`, sharing the run lock of every other binding of the same
    /// memory: the same object, or another object over the same fd (views
    /// made with `rknn_create_mem_from_fd`, the vendor's reuse pattern).
    pub fn new(mem: Arc<dyn UserMemory>) -> InternalMem {
        let lock = run_lock(mem.buffer());
        InternalMem { mem, lock }
    }
}

/// The identity of the memory behind `buf`: the file (device, inode) of
/// its fd, or its address when it has none.
// `dev_t` / `ino_t` are u64 on some targets and narrower on others.
#[allow(clippy::unnecessary_cast)]
fn memory_key(buf: &Buffer) -> (u64, u64) {
    if buf.fd() >= 0 {
        if let Ok(st) = nix::sys::stat::fstat(buf.fd()) {
            return (st.st_dev as u64, st.st_ino as u64);
        }
    }
    (u64::MAX, buf.as_ptr() as u64)
}

/// Run locks by memory identity (see [`memory_key`]).
type LockTable = HashMap<(u64, u64), Weak<Mutex<()>>>;

fn run_lock(buf: &Buffer) -> Arc<Mutex<()>> {
    static LOCKS: OnceLock<Mutex<LockTable>> = OnceLock::new();
    let mut map = LOCKS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    map.retain(|_, w| w.strong_count() > 0);
    let key = memory_key(buf);
    if let Some(lock) = map.get(&key).and_then(Weak::upgrade) {
        return lock;
    }
    let lock = Arc::new(Mutex::new(()));
    map.insert(key, Arc::downgrade(&lock));
    lock
}

/// Model bytes used in place from user memory
/// (`RKNN_FLAG_MODEL_BUFFER_ZERO_COPY`), for `Model::load`.
#[derive(Debug)]
pub struct MemBytes {
    mem: Arc<dyn UserMemory>,
    range: std::ops::Range<usize>,
}

impl MemBytes {
    /// `len` bytes at `offset` of `mem`; fails when they are not inside.
    pub fn new(mem: Arc<dyn UserMemory>, offset: usize, len: usize) -> Result<MemBytes> {
        let size = mem.buffer().size();
        match offset.checked_add(len) {
            Some(end) if end <= size && len > 0 => Ok(MemBytes {
                mem,
                range: offset..end,
            }),
            _ => Err(Error::new(
                ErrorKind::ParamInvalid,
                format!(
                    "model of {len} bytes at offset {offset} is not inside the {size}-byte memory"
                ),
            )),
        }
    }
}

impl AsRef<[u8]> for MemBytes {
    fn as_ref(&self) -> &[u8] {
        // The memory is shared with C code, which may write it; as with a
        // mapped model file (`loader::from_path`), the parser validates
        // the bytes once at load and later reads only weight bytes, where
        // any value is acceptable.
        &self.mem.buffer().as_slice()[self.range.clone()]
    }
}

/// Where the model's bytes live, for `RKNN_QUERY_DEVICE_MEM_INFO`.
#[derive(Clone, Debug)]
pub struct ModelMemory {
    /// CPU address of the first byte of the model.
    pub virt: usize,
    /// Device address of the first byte.
    pub dev_addr: u64,
    /// fd of the device buffer.
    pub fd: i32,
    /// Bytes.
    pub size: usize,
    /// Keeps the buffer (and so the fd) alive.
    pub keep: Arc<dyn std::any::Any + Send + Sync>,
}

/// A device buffer shared between the model (its bytes) and the context
/// (its description).
#[derive(Debug)]
pub struct SharedBuffer(pub Arc<Buffer>);

impl AsRef<[u8]> for SharedBuffer {
    fn as_ref(&self) -> &[u8] {
        self.0.as_slice()
    }
}

/// Copies the caller's model bytes once into a device buffer and parses
/// them (as `loader::from_bytes`), also describing the buffer.
pub fn load_into_device(
    device: &dyn Device,
    bytes: &[u8],
) -> Result<(crate::model::Model, ModelMemory)> {
    if bytes.is_empty() {
        return Err(Error::new(ErrorKind::ModelInvalid, "model buffer is empty"));
    }
    let mut buf = device.alloc(bytes.len())?;
    buf.as_mut_slice().copy_from_slice(bytes);
    let buf = Arc::new(buf);
    let info = ModelMemory {
        virt: buf.as_ptr() as usize,
        dev_addr: buf.dev_addr(),
        fd: buf.fd(),
        size: buf.size(),
        keep: buf.clone(),
    };
    let model = crate::model::Model::load(Box::new(SharedBuffer(buf)))?;
    Ok((model, info))
}

/// Parses a model used in place from user memory.
pub fn load_in_place(
    mem: Arc<dyn UserMemory>,
    offset: usize,
    len: usize,
) -> Result<(crate::model::Model, ModelMemory)> {
    let bytes = MemBytes::new(mem.clone(), offset, len)?;
    let buf = mem.buffer();
    let info = ModelMemory {
        virt: buf.as_ptr() as usize + offset,
        dev_addr: buf.dev_addr() + offset as u64,
        fd: buf.fd(),
        size: len,
        keep: Arc::new(mem.clone()),
    };
    let model = crate::model::Model::load(Box::new(bytes))?;
    Ok((model, info))
}

/// A raw view of a buffer for the executor.
pub(crate) fn region(buf: &Buffer) -> super::exec::Region {
    super::exec::Region {
        ptr: buf.as_ptr(),
        len: buf.size(),
        fd: buf.fd(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::host::HostDevice;
    use crate::graph::Quant;

    #[derive(Debug)]
    struct Mem(Buffer, HostDevice);

    impl UserMemory for Mem {
        fn buffer(&self) -> &Buffer {
            &self.0
        }
        fn device(&self) -> &dyn Device {
            &self.1
        }
    }

    fn mem(size: usize) -> Arc<dyn UserMemory> {
        let dev = HostDevice::new();
        Arc::new(Mem(dev.alloc(size).expect("alloc"), dev))
    }

    #[test]
    fn formats_follow_the_attribute_and_the_native_blocks() {
        let p = Platform::Rk3588;
        let f = IoFormat::from_attr(DType::U8, Layout::Nhwc, 16, false, true, p, DType::I8);
        assert_eq!(f.layout, LayoutSpec::nhwc_strided(16));
        // NC1HWC2 without pass_through: NHWC data (user guide §5.2.3 c).
        let f = IoFormat::from_attr(DType::I8, Layout::Nc1hwc2, 0, false, true, p, DType::I8);
        assert_eq!(f.layout, LayoutSpec::NHWC);
        let f = IoFormat::from_attr(DType::I8, Layout::Nc1hwc2, 0, true, true, p, DType::I8);
        assert_eq!((f.layout, f.pass_through), (LayoutSpec::nc1hwc2(16), true));
        // A float32 view of an int8 output keeps the int8 blocks.
        let f = IoFormat::from_attr(DType::F32, Layout::Nc1hwc2, 0, true, false, p, DType::I8);
        assert_eq!((f.layout, f.pass_through), (LayoutSpec::nc1hwc2(16), false));
        let f = IoFormat::from_attr(
            DType::F16,
            Layout::Nc1hwc2,
            0,
            false,
            false,
            Platform::Rk3566,
            DType::F16,
        );
        assert_eq!(f.layout, LayoutSpec::nc1hwc2(4));
    }

    const NCHW: LayoutSpec = LayoutSpec::NCHW;

    #[test]
    fn in_place_only_for_the_executors_own_format() {
        let mut t = TensorInfo::activation("x", vec![1, 2, 3, 3], DType::I8);
        t.quant = Some(Quant::per_tensor(0.5, 0));
        let pre = InputPreprocess::default();
        let nchw = |dtype, pass_through| IoFormat {
            dtype,
            layout: LayoutSpec::NCHW,
            pass_through,
        };
        let b =
            bind_input(mem(18), nchw(DType::I8, true), &t, NCHW, &pre, "in", None).expect("bind");
        assert!(b.in_place);
        assert_eq!(b.bytes, 18);
        // Quantized values need arithmetic without pass_through.
        let b =
            bind_input(mem(18), nchw(DType::I8, false), &t, NCHW, &pre, "in", None).expect("bind");
        assert!(!b.in_place);
        let nhwc = IoFormat {
            dtype: DType::I8,
            layout: LayoutSpec::NHWC,
            pass_through: true,
        };
        assert!(
            !bind_input(mem(18), nhwc, &t, NCHW, &pre, "in", None)
                .expect("bind")
                .in_place
        );
        // Too small, also against the native size.
        assert!(bind_input(mem(17), nchw(DType::I8, true), &t, NCHW, &pre, "in", None).is_err());
        assert!(bind_input(
            mem(18),
            nchw(DType::I8, true),
            &t,
            NCHW,
            &pre,
            "in",
            Some(144)
        )
        .is_err());
        // Outputs: in place only for the plan's own output buffer.
        let o = bind_output(
            mem(18),
            nchw(DType::I8, false),
            &t,
            (NCHW, 18),
            "out",
            None,
            true,
        )
        .expect("bind");
        assert!(o.in_place);
        let o = bind_output(
            mem(18),
            nchw(DType::I8, false),
            &t,
            (NCHW, 18),
            "out",
            None,
            false,
        )
        .expect("bind");
        assert!(!o.in_place);
        let f = nchw(DType::F32, false);
        assert!(bind_output(mem(71), f, &t, (NCHW, 18), "out", None, true).is_err());
        assert!(
            !bind_output(mem(72), f, &t, (NCHW, 18), "out", None, true)
                .expect("bind")
                .in_place
        );
        assert!(bind_output(
            mem(72),
            nchw(DType::U8, false),
            &t,
            (NCHW, 18),
            "out",
            None,
            true
        )
        .is_err());
    }

    #[test]
    fn views_of_one_fd_share_a_run_lock() {
        let dev = HostDevice::new();
        let a = dev.alloc(4096).expect("alloc");
        // SAFETY: the buffer's fd is open while `a` lives.
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(a.fd()) };
        let view = dev.import_fd(fd, 100, 0).expect("import");
        let other = dev.alloc(4096).expect("alloc");
        let (la, lv, lo) = (run_lock(&a), run_lock(&view), run_lock(&other));
        assert!(Arc::ptr_eq(&la, &lv));
        assert!(!Arc::ptr_eq(&la, &lo));
    }
}
