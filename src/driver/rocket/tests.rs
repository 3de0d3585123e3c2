//! rocket device tests against a fake accel driver (no hardware).

use std::collections::HashMap;
use std::os::fd::{AsFd, IntoRawFd, RawFd};
use std::sync::{Arc, Mutex};

use nix::errno::Errno;

use super::abi::{self, CreateBo, FiniBo, PrepBo};
use super::{rocket_tasks, RocketBo, RocketDevice};
use crate::driver::discovery::fake_tree::{answer_version, scratch_fd, TempTree};
use crate::driver::discovery::DevRoot;
use crate::driver::ioctl::{
    DrmGemClose, DrmPrimeHandle, IoctlSeam, DRM_IOCTL_GEM_CLOSE, DRM_IOCTL_PRIME_HANDLE_TO_FD,
    DRM_IOCTL_VERSION,
};
use crate::driver::rknpu::abi::Task as RknpuTask;
use crate::driver::{
    AllocRequest, Buffer, CachePolicy, Device, DriverError, Job, SyncDir, TaskRange,
};
use crate::runtime::error::{Error, ErrorKind};

const STRIDE: u64 = 1 << 24;

/// One submitted job as the kernel would read it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SeenJob {
    tasks: Vec<abi::Task>,
    reads: Vec<u32>,
    writes: Vec<u32>,
}

#[derive(Debug, Default)]
struct State {
    calls: Vec<(u32, Vec<u8>)>,
    fail: HashMap<u32, Errno>,
    next: u32,
    live: Vec<u32>,
    closed: Vec<u32>,
    jobs: Vec<SeenJob>,
}

#[derive(Debug, Default)]
struct FakeRocket {
    st: Mutex<State>,
}

impl FakeRocket {
    fn args<T: bytemuck::Pod>(&self, request: u32) -> Vec<T> {
        let st = self.st.lock().unwrap();
        st.calls
            .iter()
            .filter(|(r, _)| *r == request)
            .map(|(_, b)| bytemuck::pod_read_unaligned(b))
            .collect()
    }

    fn fail_next(&self, request: u32, e: Errno) {
        self.st.lock().unwrap().fail.insert(request, e);
    }

    fn requests(&self) -> Vec<u32> {
        self.st.lock().unwrap().calls.iter().map(|c| c.0).collect()
    }
}

/// Reads `n` `T`s at user pointer `ptr`.
///
/// # Safety
/// `ptr` must point to `n` live `T`s.
unsafe fn read_array<T: Copy>(ptr: u64, n: u32) -> Vec<T> {
    // SAFETY: per the contract.
    unsafe { std::slice::from_raw_parts(ptr as *const T, n as usize).to_vec() }
}

impl IoctlSeam for FakeRocket {
    unsafe fn ioctl(&self, _fd: RawFd, request: u32, arg: &mut [u8]) -> Result<i32, Errno> {
        let mut st = self.st.lock().unwrap();
        st.calls.push((request, arg.to_vec()));
        if let Some(e) = st.fail.remove(&request) {
            return Err(e);
        }
        match request {
            DRM_IOCTL_VERSION => {
                answer_version(arg, "rocket", "");
                Ok(0)
            }
            abi::CREATE_BO => {
                let c: &mut CreateBo = bytemuck::from_bytes_mut(arg);
                st.next += 1;
                c.handle = st.next;
                c.dma_address = 0x10_0000 * u64::from(c.handle);
                c.offset = u64::from(c.handle) * STRIDE;
                st.live.push(c.handle);
                Ok(0)
            }
            abi::PREP_BO => Ok(17),
            abi::FINI_BO => Ok(0),
            abi::SUBMIT => {
                let s: abi::Submit = *bytemuck::from_bytes(arg);
                assert_eq!(s.job_struct_size, 40);
                assert_eq!(s.reserved, 0);
                // SAFETY: the device passes live arrays of the given counts
                // for the duration of the call.
                let jobs: Vec<abi::Job> = unsafe { read_array(s.jobs, s.job_count) };
                for j in jobs {
                    assert_eq!(j.task_struct_size, 8);
                    // SAFETY: as above.
                    let seen = unsafe {
                        SeenJob {
                            tasks: read_array(j.tasks, j.task_count),
                            reads: read_array(j.in_bo_handles, j.in_bo_handle_count),
                            writes: read_array(j.out_bo_handles, j.out_bo_handle_count),
                        }
                    };
                    st.jobs.push(seen);
                }
                Ok(0)
            }
            DRM_IOCTL_PRIME_HANDLE_TO_FD => {
                let p: &mut DrmPrimeHandle = bytemuck::from_bytes_mut(arg);
                p.fd = scratch_fd(4096).into_raw_fd();
                Ok(0)
            }
            DRM_IOCTL_GEM_CLOSE => {
                let c: DrmGemClose = *bytemuck::from_bytes(arg);
                st.closed.push(c.handle);
                st.live.retain(|&h| h != c.handle);
                Ok(0)
            }
            _ => Err(Errno::ENOTTY),
        }
    }
}

struct Rig {
    tree: TempTree,
    fake: Arc<FakeRocket>,
    path: std::path::PathBuf,
}

impl Rig {
    fn new() -> Rig {
        let tree = TempTree::new("rocket");
        let path = tree.node("dev/accel/accel0", 1 << 32);
        Rig {
            tree,
            fake: Arc::new(FakeRocket::default()),
            path,
        }
    }

    fn dev(&self) -> RocketDevice {
        RocketDevice::open(
            &self.path,
            &self.tree.path().join("sys/class/accel/accel0"),
            &DevRoot::under(self.tree.path()),
            self.fake.clone(),
            None,
        )
        .expect("open")
    }
}

fn task_records(dev: &RocketDevice, masks: &[u32]) -> Buffer {
    let mut buf = dev.alloc(masks.len() * 40).unwrap();
    for (i, (t, &m)) in buf
        .as_mut_slice()
        .chunks_exact_mut(40)
        .zip(masks)
        .enumerate()
    {
        let task = RknpuTask {
            int_mask: m,
            regcfg_amount: 100 + i as u32,
            regcmd_addr: 0x2000_0000 + 0x100 * i as u64,
            ..RknpuTask::default()
        };
        t.copy_from_slice(bytemuck::bytes_of(&task));
    }
    buf
}

#[test]
fn open_checks_the_driver_name_and_reports_the_device() {
    let rig = Rig::new();
    let dev = rig.dev();
    let info = dev.info();
    assert_eq!(dev.name(), "rocket");
    assert_eq!(info.driver_version, "rocket 0.9.8");
    assert_eq!(info.cores, 3);
    assert!(info.iommu);
    assert_eq!(info.sram_total, 0);
}

#[test]
fn buffers_are_cached_bos_mapped_at_their_offset_and_closed_on_drop() {
    let rig = Rig::new();
    let dev = rig.dev();
    let mut buf = dev
        .allocate(&AllocRequest {
            cache: CachePolicy::WriteCombine,
            try_sram: true,
            ..AllocRequest::new(10_000)
        })
        .unwrap();
    let c = rig.fake.args::<CreateBo>(abi::CREATE_BO);
    assert_eq!(c[0].size, 10_000);
    assert!(buf.cacheable(), "rocket BOs are always cached");
    let handle = buf.backing::<RocketBo>().unwrap().handle();
    assert_eq!(buf.dev_addr(), 0x10_0000 * u64::from(handle));
    assert!(buf.fd() >= 0);
    buf.as_mut_slice()[0] = 0x5a;
    let mut byte = [0u8; 1];
    let file = std::fs::File::open(&rig.path).unwrap();
    std::os::unix::fs::FileExt::read_exact_at(&file, &mut byte, u64::from(handle) * STRIDE)
        .unwrap();
    assert_eq!(byte[0], 0x5a);
    drop(buf);
    assert_eq!(rig.fake.st.lock().unwrap().closed, [handle]);
}

#[test]
fn allocation_without_prime_keeps_working_but_cannot_export() {
    let rig = Rig::new();
    let dev = rig.dev();
    rig.fake
        .fail_next(DRM_IOCTL_PRIME_HANDLE_TO_FD, Errno::EOPNOTSUPP);
    let buf = dev.alloc(64).unwrap();
    assert_eq!(buf.fd(), -1);
    let e = dev.export_fd(&buf).unwrap_err();
    assert!(
        matches!(
            e,
            DriverError::Unsupported {
                device: "rocket",
                ..
            }
        ),
        "{e}"
    );
    rig.fake.fail_next(abi::CREATE_BO, Errno::ENOMEM);
    let e = dev.alloc(64).unwrap_err();
    assert!(e.to_string().contains("ROCKET_CREATE_BO"), "{e}");
    assert_eq!(Error::from(e).kind, ErrorKind::MallocFail);
    #[cfg(target_pointer_width = "64")]
    {
        let e = dev.alloc(1 << 32).unwrap_err();
        assert!(e.to_string().contains("u32 size"), "{e}");
    }
}

#[test]
fn sync_is_fini_for_the_device_and_prep_for_the_cpu() {
    let rig = Rig::new();
    let dev = rig.dev();
    let buf = dev.alloc(4096).unwrap();
    let h = buf.backing::<RocketBo>().unwrap().handle();
    let before = rig.fake.requests().len();
    dev.sync(&buf, 0, 4096, SyncDir::ToDevice).unwrap();
    dev.sync(&buf, 0, 10, SyncDir::FromDevice).unwrap();
    dev.sync(&buf, 0, 10, SyncDir::Bidirectional).unwrap();
    let seq = rig.fake.requests()[before..].to_vec();
    assert_eq!(
        seq,
        [abi::FINI_BO, abi::PREP_BO, abi::FINI_BO, abi::PREP_BO],
        "PREP_BO returning 17 (remaining jiffies) is success"
    );
    let preps = rig.fake.args::<PrepBo>(abi::PREP_BO);
    assert!(preps
        .iter()
        .all(|p| p.handle == h && p.reserved == 0 && p.timeout_ns == i64::MAX));
    assert!(rig
        .fake
        .args::<FiniBo>(abi::FINI_BO)
        .iter()
        .all(|f| f.handle == h));
    assert!(dev.sync(&buf, 4000, 100, SyncDir::ToDevice).is_err());
    rig.fake.fail_next(abi::PREP_BO, Errno::ETIMEDOUT);
    let e = dev.sync(&buf, 0, 1, SyncDir::FromDevice).unwrap_err();
    assert!(e.to_string().contains("ROCKET_PREP_BO"), "{e}");
    assert_eq!(Error::from(e).kind, ErrorKind::Timeout);
}

#[test]
fn imports_are_unsupported_with_the_reason() {
    let rig = Rig::new();
    let dev = rig.dev();
    let fd = scratch_fd(4096);
    let e = dev.import_fd(fd.as_fd(), 4096, 0).unwrap_err();
    assert!(
        e.to_string().contains("NPU address of an imported dma-buf"),
        "{e}"
    );
    let mut mem = vec![0u8; 64];
    let virt = std::ptr::NonNull::new(mem.as_mut_ptr()).unwrap();
    // SAFETY: `mem` outlives the call (which fails anyway).
    let e = unsafe { dev.import_phys(0x1000, virt, 64) }.unwrap_err();
    assert!(e.to_string().contains("IOMMU"), "{e}");
}

#[test]
fn task_records_become_rocket_tasks_with_the_tail_counted() {
    let rig = Rig::new();
    let dev = rig.dev();
    let recs = task_records(&dev, &[0x300, 0x300, 0x100]);
    let got = rocket_tasks(recs.as_slice(), TaskRange { start: 0, count: 3 }).unwrap();
    assert_eq!(
        got,
        [
            abi::Task {
                regcmd: 0x2000_0000,
                regcmd_count: 104
            },
            abi::Task {
                regcmd: 0x2000_0100,
                regcmd_count: 105
            },
            abi::Task {
                regcmd: 0x2000_0200,
                regcmd_count: 106
            },
        ]
    );
    let pool = task_records(&dev, &[0x300, 0xC00]);
    let e = rocket_tasks(pool.as_slice(), TaskRange { start: 0, count: 2 }).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("task 1") && text.contains("0xc00") && text.contains("DPU"),
        "{text}"
    );
    assert!(rocket_tasks(pool.as_slice(), TaskRange { start: 1, count: 2 }).is_err());
}

#[test]
fn submit_lists_buffers_splits_core_ranges_into_jobs_and_waits_on_outputs() {
    let rig = Rig::new();
    let dev = rig.dev();
    let recs = task_records(&dev, &[0x300; 4]);
    let input = dev.alloc(64).unwrap();
    let output = dev.alloc(64).unwrap();
    let (hi, ho) = (
        input.backing::<RocketBo>().unwrap().handle(),
        output.backing::<RocketBo>().unwrap().handle(),
    );
    let reads = [&input, &recs];
    let writes = [&output];
    let job = Job {
        reads: &reads,
        writes: &writes,
        timeout_ms: 100,
        ..Job::new(&recs, 0, 4)
    };
    dev.submit(&job).unwrap();
    {
        let st = rig.fake.st.lock().unwrap();
        assert_eq!(st.jobs.len(), 1);
        assert_eq!(st.jobs[0].tasks.len(), 4);
        assert_eq!(st.jobs[0].reads[0], hi);
        assert_eq!(st.jobs[0].writes, [ho]);
    }
    let prep = *rig.fake.args::<PrepBo>(abi::PREP_BO).last().unwrap();
    assert_eq!(prep.handle, ho);
    assert!(
        prep.timeout_ns > 0 && prep.timeout_ns < i64::MAX,
        "an absolute deadline"
    );

    let split = [
        TaskRange { start: 0, count: 1 },
        TaskRange { start: 1, count: 3 },
    ];
    let multi = Job {
        core_mask: 0x3,
        core_tasks: &split,
        ..job
    };
    dev.submit(&multi).unwrap();
    let st = rig.fake.st.lock().unwrap();
    let lens: Vec<usize> = st.jobs[1..].iter().map(|j| j.tasks.len()).collect();
    assert_eq!(lens, [1, 3], "one rocket job per core range");
}

#[test]
fn submit_limits_and_failures_are_reported() {
    let rig = Rig::new();
    let dev = rig.dev();
    let recs = task_records(&dev, &[0x300; 2]);
    let output = dev.alloc(64).unwrap();
    let e = dev.submit(&Job::new(&recs, 0, 2)).unwrap_err();
    assert!(e.to_string().contains("Job::writes"), "{e}");
    let host = crate::driver::host::HostDevice::new().alloc(64).unwrap();
    let foreign = [&host];
    let e = dev
        .submit(&Job {
            writes: &foreign,
            ..Job::new(&recs, 0, 2)
        })
        .unwrap_err();
    assert!(
        e.to_string().contains("not allocated by this device"),
        "{e}"
    );

    let writes = [&output];
    let job = Job {
        writes: &writes,
        timeout_ms: 50,
        ..Job::new(&recs, 0, 2)
    };
    rig.fake.fail_next(abi::PREP_BO, Errno::ETIMEDOUT);
    let e = dev.submit(&job).unwrap_err();
    let text = e.to_string();
    for needle in ["tasks 0..2", "not ready after 50 ms", "ETIMEDOUT", "500 ms"] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    assert_eq!(Error::from(e).kind, ErrorKind::Timeout);

    rig.fake.fail_next(abi::SUBMIT, Errno::ENOENT);
    let e = dev.submit(&job).unwrap_err();
    assert!(e.to_string().contains("ROCKET_SUBMIT"), "{e}");
}
