//! rknpu device tests against the fake driver (no hardware).

use std::io::{Read, Seek, SeekFrom};
use std::os::fd::{AsFd, AsRawFd};

use nix::errno::Errno;

use super::abi::{mem, MemCreate, MemDestroy, MemSync, Node, SubcoreTask, Submit, Task};
use super::fake::{Fake, Rig, MAP_STRIDE};
use super::{RknpuDevice, RknpuObject};
use crate::driver::discovery::DevRoot;
use crate::driver::ioctl::{
    DmaBufSync, DrmPrimeHandle, DMA_BUF_IOCTL_SYNC, DRM_IOCTL_PRIME_FD_TO_HANDLE,
};
use crate::driver::{
    AllocRequest, Buffer, CachePolicy, Device, DriverError, Job, SyncDir, TaskRange,
};
use crate::platform::Platform;
use crate::runtime::error::{Error, ErrorKind};

fn req(size: usize, cache: CachePolicy) -> AllocRequest {
    AllocRequest {
        cache,
        ..AllocRequest::new(size)
    }
}

fn kind(e: DriverError) -> ErrorKind {
    Error::from(e).kind
}

#[test]
fn open_reads_versions_sram_iommu_and_platform() {
    let rig = Rig::new(Node::Drm);
    rig.fake.st().sram_total = 956 * 1024;
    rig.fake.st().sram_free = 512 * 1024;
    rig.tree.file(
        "sys/class/drm/renderD129/device/of_node/compatible",
        b"rockchip,rk3588-rknpu\0rockchip,rknpu\0",
    );
    let dev = rig.dev();
    let info = dev.info();
    assert_eq!(dev.name(), "rknpu");
    assert_eq!(info.platform, Platform::Rk3588);
    assert_eq!(info.driver_version, "0.9.8 (20240828)");
    assert_eq!(info.hw_version, Some(0x4649_5245));
    assert_eq!(info.cores, 3);
    assert!(info.iommu);
    assert_eq!(info.sram_total, 956 * 1024);
    rig.fake.st().sram_free = 100 * 1024;
    assert_eq!(
        dev.info().sram_free,
        100 * 1024,
        "free SRAM is queried live"
    );
}

#[test]
fn open_without_a_compatible_uses_the_hw_version_then_the_fallback() {
    let rig = Rig::new(Node::Misc);
    rig.fake.st().hw_version = 0x4649_5247;
    assert_eq!(rig.dev().info().platform, Platform::Rk3576);
    rig.fake.st().hw_version = 0;
    let dev = RknpuDevice::open(
        &rig.path,
        Node::Misc,
        rig.tree.path(),
        &DevRoot::under(rig.tree.path()),
        rig.fake.clone(),
        Some(Platform::Rk3568),
    )
    .unwrap();
    assert_eq!(dev.info().platform, Platform::Rk3568);
    assert_eq!(dev.info().cores, 1);
}

#[test]
fn open_refuses_other_drivers_and_says_why() {
    let rig = Rig::new(Node::Drm);
    rig.fake.st().drm_name = "panfrost";
    let e = rig.open().unwrap_err();
    assert!(
        matches!(&e, DriverError::Unavailable(m) if m.contains("panfrost") && m.contains("renderD129")),
        "{e}"
    );
    rig.fake.st().drm_name = "rknpu";
    rig.fake.fail_next(rig.fake.req.action, Errno::ENOTTY);
    let e = rig.open().unwrap_err();
    assert!(
        matches!(&e, DriverError::Unavailable(m) if m.contains("GET_DRV_VERSION") && m.contains("ENOTTY")),
        "{e}"
    );
    assert_eq!(kind(e), ErrorKind::DeviceUnavailable);
}

#[test]
fn allocation_flags_follow_the_request() {
    let rig = Rig::new(Node::Drm);
    let dev = rig.dev();
    let cases = [
        (req(100, CachePolicy::Cacheable), mem::CACHEABLE),
        (req(100, CachePolicy::NonCacheable), mem::NON_CACHEABLE),
        (req(100, CachePolicy::WriteCombine), mem::WRITE_COMBINE),
        (
            AllocRequest {
                kernel_mapping: true,
                ..req(100, CachePolicy::WriteCombine)
            },
            mem::WRITE_COMBINE | mem::KERNEL_MAPPING,
        ),
        // No SRAM on this device: the wish is dropped.
        (
            AllocRequest {
                try_sram: true,
                ..req(100, CachePolicy::Cacheable)
            },
            mem::CACHEABLE,
        ),
    ];
    for (r, want) in cases {
        let buf = dev.allocate(&r).unwrap();
        let got = rig.fake.args::<MemCreate>(rig.fake.req.mem_create);
        let flags = got.last().unwrap().flags;
        // IOMMU on, DRM build: scattered pages; always zeroed.
        assert_eq!(flags, want | mem::ZEROING | mem::NON_CONTIGUOUS, "{r:?}");
        assert_eq!(buf.cacheable(), r.cache == CachePolicy::Cacheable);
        assert_eq!(buf.backing::<RknpuObject>().unwrap().flags(), flags);
    }
    rig.fake.st().sram_total = 1 << 20;
    rig.fake.st().iommu = 0;
    let dev = rig.dev();
    let _buf = dev
        .allocate(&AllocRequest {
            try_sram: true,
            ..req(100, CachePolicy::NonCacheable)
        })
        .unwrap();
    let got = rig.fake.args::<MemCreate>(rig.fake.req.mem_create);
    assert_eq!(
        got.last().unwrap().flags,
        mem::ZEROING | mem::TRY_ALLOC_SRAM
    );
}

#[test]
fn allocation_maps_the_object_exports_an_fd_and_destroys_on_drop() {
    let rig = Rig::new(Node::Drm);
    let dev = rig.dev();
    let mut buf = dev.alloc(5000).unwrap();
    let obj = buf.backing::<RknpuObject>().unwrap();
    let (handle, obj_addr) = (obj.handle(), obj.obj_addr());
    let o = rig.fake.st().objects[&handle];
    assert_eq!(o.size, 8192);
    assert_eq!(buf.size(), 5000);
    assert_eq!(buf.dev_addr(), o.dma_addr);
    assert!(buf.fd() >= 0, "a PRIME fd");
    // The mapping is the device file at the MEM_MAP offset.
    buf.as_mut_slice()[..4].copy_from_slice(b"npu!");
    let mut file = std::fs::File::open(&rig.path).unwrap();
    file.seek(SeekFrom::Start(u64::from(handle) * MAP_STRIDE))
        .unwrap();
    let mut head = [0u8; 4];
    file.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"npu!");
    // export_fd: a new descriptor of the same dma-buf.
    let exported = dev.export_fd(&buf).unwrap();
    assert_ne!(exported.as_raw_fd(), buf.fd());
    let same = |a: i32, b: i32| {
        let (x, y) = (
            nix::sys::stat::fstat(a).unwrap(),
            nix::sys::stat::fstat(b).unwrap(),
        );
        (x.st_dev, x.st_ino) == (y.st_dev, y.st_ino)
    };
    assert!(same(exported.as_raw_fd(), buf.fd()));
    drop(buf);
    let destroyed = rig.fake.st().destroyed.clone();
    assert_eq!(destroyed.len(), 1);
    assert_eq!(destroyed[0].handle, handle);
    assert_eq!(destroyed[0].obj_addr, obj_addr);
    assert!(rig.fake.st().objects.is_empty());
}

#[test]
fn misc_build_maps_the_returned_dma_buf_and_destroys_by_obj_addr() {
    let rig = Rig::new(Node::Misc);
    let dev = rig.dev();
    let mut buf = dev.allocate(&req(4096, CachePolicy::Cacheable)).unwrap();
    let flags = rig.fake.args::<MemCreate>(rig.fake.req.mem_create)[0].flags;
    assert_eq!(flags & mem::NON_CONTIGUOUS, 0, "the misc build rejects it");
    assert_eq!(
        rig.fake
            .args::<super::abi::MemMap>(rig.fake.req.mem_map)
            .len(),
        0
    );
    let obj_addr = buf.backing::<RknpuObject>().unwrap().obj_addr();
    assert_eq!(
        buf.backing::<RknpuObject>().unwrap().handle() as i32,
        buf.fd()
    );
    buf.as_mut_slice()[4095] = 9;
    let mut file = std::fs::File::from(dev.export_fd(&buf).unwrap());
    let mut all = Vec::new();
    file.read_to_end(&mut all).unwrap();
    assert_eq!(all[4095], 9, "the buffer maps its dma-buf fd");
    drop(buf);
    let destroyed: Vec<MemDestroy> = rig.fake.st().destroyed.clone();
    assert_eq!(destroyed.len(), 1);
    assert_eq!(destroyed[0].obj_addr, obj_addr);
}

#[test]
fn allocation_errors_map_to_runtime_errors_with_the_call_named() {
    let rig = Rig::new(Node::Drm);
    let dev = rig.dev();
    rig.fake.fail_next(rig.fake.req.mem_create, Errno::ENOMEM);
    let e = dev.alloc(1 << 20).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("RKNPU_MEM_CREATE") && text.contains("ENOMEM"),
        "{text}"
    );
    assert_eq!(kind(e), ErrorKind::MallocFail);

    rig.fake.fail_next(rig.fake.req.mem_create, Errno::EINVAL);
    assert_eq!(kind(dev.alloc(10).unwrap_err()), ErrorKind::ParamInvalid);

    // MEM_MAP fails after the object exists: it is destroyed again.
    rig.fake.fail_next(rig.fake.req.mem_map, Errno::EIO);
    let e = dev.alloc(10).unwrap_err();
    assert!(
        matches!(&e, DriverError::Ioctl { call: "RKNPU_MEM_MAP", reason } if reason.contains("EIO")),
        "{e}"
    );
    assert_eq!(kind(e), ErrorKind::Fail);
    assert_eq!(rig.fake.st().destroyed.len(), 1);
    assert!(rig.fake.st().objects.is_empty());
}

#[test]
fn sync_uses_mem_sync_for_cacheable_objects_only() {
    let rig = Rig::new(Node::Drm);
    let dev = rig.dev();
    let buf = dev.alloc(8192).unwrap();
    let obj_addr = buf.backing::<RknpuObject>().unwrap().obj_addr();
    dev.sync(&buf, 4096, 100, SyncDir::ToDevice).unwrap();
    dev.sync(&buf, 0, 8192, SyncDir::FromDevice).unwrap();
    dev.sync(&buf, 0, 1, SyncDir::Bidirectional).unwrap();
    let syncs = rig.fake.args::<MemSync>(rig.fake.req.mem_sync);
    let seen: Vec<_> = syncs
        .iter()
        .map(|s| (s.flags, s.obj_addr, s.offset, s.size))
        .collect();
    assert_eq!(
        seen,
        [
            (1, obj_addr, 4096, 100),
            (2, obj_addr, 0, 8192),
            (3, obj_addr, 0, 1)
        ]
    );
    let e = dev.sync(&buf, 8000, 500, SyncDir::ToDevice).unwrap_err();
    assert!(matches!(e, DriverError::Invalid(_)), "{e}");

    // Non-cacheable: nothing to do (the driver would say EINVAL).
    let wc = dev.allocate(&req(64, CachePolicy::WriteCombine)).unwrap();
    dev.sync(&wc, 0, 64, SyncDir::Bidirectional).unwrap();
    assert_eq!(rig.fake.args::<MemSync>(rig.fake.req.mem_sync).len(), 3);

    rig.fake.fail_next(rig.fake.req.mem_sync, Errno::EFAULT);
    let e = dev.sync(&buf, 0, 64, SyncDir::ToDevice).unwrap_err();
    assert!(e.to_string().contains("RKNPU_MEM_SYNC"), "{e}");
    assert!(e.to_string().contains("EFAULT"), "{e}");

    // A buffer of another device is refused, not passed to the kernel.
    let host = crate::driver::host::HostDevice::new().alloc(64).unwrap();
    let e = dev.sync(&host, 0, 64, SyncDir::ToDevice).unwrap_err();
    assert!(e.to_string().contains("did not create"), "{e}");
    let other = rig.dev().alloc(64).unwrap();
    assert!(dev.sync(&other, 0, 64, SyncDir::ToDevice).is_err());
}

#[test]
fn import_of_a_dma_buf_with_offset_and_release_by_gem_close() {
    let rig = Rig::new(Node::Drm);
    let dev = rig.dev();
    let dmabuf = rig.fake.dmabuf(3 * 4096);
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::File::from(dmabuf.try_clone().unwrap());
        f.write_all_at(b"hello", 4096 + 10).unwrap();
    }
    let buf = dev.import_fd(dmabuf.as_fd(), 100, 4096 + 10).unwrap();
    assert_eq!(&buf.as_slice()[..5], b"hello");
    let handle = rig
        .fake
        .args::<DrmPrimeHandle>(DRM_IOCTL_PRIME_FD_TO_HANDLE)[0]
        .fd;
    assert_eq!(handle, dmabuf.as_raw_fd());
    let obj = buf.backing::<RknpuObject>().unwrap();
    let o = rig.fake.st().objects[&obj.handle()];
    assert_eq!(buf.dev_addr(), o.dma_addr + 4096 + 10);
    assert!(obj.imported());
    // Imported memory syncs through its dma-buf.
    dev.sync(&buf, 0, 100, SyncDir::Bidirectional).unwrap();
    let flags: Vec<u64> = rig
        .fake
        .args::<DmaBufSync>(DMA_BUF_IOCTL_SYNC)
        .iter()
        .map(|s| s.flags)
        .collect();
    assert_eq!(flags, [7, 3]);
    let h = obj.handle();
    drop(buf);
    assert_eq!(rig.fake.st().closed, [h]);
    assert!(rig.fake.st().destroyed.is_empty());
}

#[test]
fn import_errors_are_clear() {
    let rig = Rig::new(Node::Drm);
    let dev = rig.dev();
    // A plain file (a memfd, say) is not a dma-buf.
    let plain = crate::driver::discovery::fake_tree::scratch_fd(4096);
    let e = dev.import_fd(plain.as_fd(), 4096, 0).unwrap_err();
    assert!(e.to_string().contains("not a dma-buf"), "{e}");
    assert_eq!(kind(e), ErrorKind::ParamInvalid);
    // Beyond its end: refused, and the imported handle is released.
    let dmabuf = rig.fake.dmabuf(4096);
    let e = dev.import_fd(dmabuf.as_fd(), 4096, 1).unwrap_err();
    assert!(e.to_string().contains("exceed"), "{e}");
    assert_eq!(rig.fake.st().closed.len(), 1);
}

#[test]
fn importing_an_own_export_shares_the_handle_until_the_last_buffer_goes() {
    let rig = Rig::new(Node::Drm);
    let dev = rig.dev();
    let buf = dev.alloc(4096).unwrap();
    let handle = buf.backing::<RknpuObject>().unwrap().handle();
    let fd = dev.export_fd(&buf).unwrap();
    let again = dev.import_fd(fd.as_fd(), 4096, 0).unwrap();
    assert_eq!(again.backing::<RknpuObject>().unwrap().handle(), handle);
    drop(buf);
    assert!(
        rig.fake.st().destroyed.is_empty(),
        "the import still uses it"
    );
    assert!(rig.fake.st().objects.contains_key(&handle));
    drop(again);
    let st = rig.fake.st();
    assert_eq!(st.destroyed.len(), 1, "released once, by MEM_DESTROY");
    assert!(st.closed.is_empty());
}

#[test]
fn misc_import_passes_the_fd_to_mem_create() {
    let rig = Rig::new(Node::Misc);
    let dev = rig.dev();
    let dmabuf = rig.fake.dmabuf(8192);
    let buf = dev.import_fd(dmabuf.as_fd(), 8192, 0).unwrap();
    let mc = rig.fake.args::<MemCreate>(rig.fake.req.mem_create);
    assert_eq!(mc[0].handle as i32, buf.fd(), "our own dup of the fd");
    drop(buf);
    assert_eq!(rig.fake.st().destroyed.len(), 1);
    let plain = crate::driver::discovery::fake_tree::scratch_fd(4096);
    let e = dev.import_fd(plain.as_fd(), 4096, 0).unwrap_err();
    assert!(e.to_string().contains("not a dma-buf"), "{e}");
    assert_eq!(rig.fake.st().destroyed.len(), 1, "nothing to destroy");
}

#[test]
fn physical_import_needs_a_device_without_iommu() {
    let rig = Rig::new(Node::Drm);
    let mut backing = vec![0u8; 4096];
    let virt = std::ptr::NonNull::new(backing.as_mut_ptr()).unwrap();
    // SAFETY: `backing` outlives every buffer made here.
    let e = unsafe { rig.dev().import_phys(0x1000_0000, virt, 4096) }.unwrap_err();
    assert!(
        matches!(&e, DriverError::Unsupported { device: "rknpu", what } if what.contains("IOMMU")),
        "{e}"
    );
    rig.fake.st().iommu = 0;
    let dev = rig.dev();
    // SAFETY: as above.
    let buf = unsafe { dev.import_phys(0x1000_0000, virt, 4096) }.unwrap();
    assert_eq!(buf.dev_addr(), 0x1000_0000);
    assert_eq!(buf.fd(), -1);
    assert!(!buf.cacheable());
    dev.sync(&buf, 0, 4096, SyncDir::ToDevice).unwrap();
    assert!(dev.export_fd(&buf).is_err());
    // SAFETY: as above.
    let e = unsafe { dev.import_phys(0xffff_f000, virt, 8192) }.unwrap_err();
    assert!(e.to_string().contains("32-bit"), "{e}");
    drop(buf);
}

/// A kernel-mapped task buffer with `n` valid tasks.
fn task_buffer(dev: &RknpuDevice, n: usize) -> Buffer {
    let mut buf = dev
        .allocate(&AllocRequest {
            kernel_mapping: true,
            ..req(n * 40, CachePolicy::WriteCombine)
        })
        .unwrap();
    for (i, t) in buf.as_mut_slice().chunks_exact_mut(40).enumerate() {
        let task = Task {
            enable_mask: 0xd,
            int_mask: 0x300,
            int_clear: 0x1ffff,
            regcfg_amount: 104,
            regcmd_addr: 0x1000_0000 + 0x1000 * i as u64,
            ..Task::default()
        };
        t.copy_from_slice(bytemuck::bytes_of(&task));
    }
    buf
}

fn last_submit(fake: &Fake) -> Submit {
    *fake.args::<Submit>(fake.req.submit).last().unwrap()
}

#[test]
fn submit_fills_the_vendor_struct() {
    let rig = Rig::new(Node::Drm);
    let dev = rig.dev();
    let tasks = task_buffer(&dev, 6);
    let obj_addr = tasks.backing::<RknpuObject>().unwrap().obj_addr();
    let mut job = Job::new(&tasks, 1, 4);
    job.timeout_ms = 1000;
    dev.submit(&job).unwrap();
    let s = last_submit(&rig.fake);
    assert_eq!(s.flags, 0x5, "PC | PINGPONG, blocking");
    assert_eq!((s.task_start, s.task_number, s.timeout), (1, 4, 1000));
    assert_eq!(s.task_obj_addr, obj_addr);
    assert_eq!(s.fence_fd, -1);
    assert_eq!(s.core_mask, 0);
    let r = SubcoreTask {
        task_start: 1,
        task_number: 4,
    };
    assert_eq!(
        s.subcore_task,
        [r, r, r, SubcoreTask::default(), SubcoreTask::default()]
    );

    job.core_mask = 0x2;
    dev.submit(&job).unwrap();
    let s = last_submit(&rig.fake);
    assert_eq!(s.subcore_task[1], r);
    assert_eq!(s.subcore_task[0], SubcoreTask::default());

    let split = [
        TaskRange { start: 0, count: 2 },
        TaskRange { start: 2, count: 2 },
        TaskRange { start: 4, count: 2 },
    ];
    let job3 = Job {
        core_mask: 0x7,
        core_tasks: &split,
        ..Job::new(&tasks, 0, 6)
    };
    dev.submit(&job3).unwrap();
    let s = last_submit(&rig.fake);
    let slot = |a, b| SubcoreTask {
        task_start: a,
        task_number: b,
    };
    assert_eq!(s.subcore_task[..2], [SubcoreTask::default(); 2]);
    assert_eq!(s.subcore_task[2..], [slot(0, 2), slot(2, 2), slot(4, 2)]);

    let job2 = Job {
        core_mask: 0x5,
        core_tasks: &split[..2],
        ..Job::new(&tasks, 0, 6)
    };
    dev.submit(&job2).unwrap();
    let s = last_submit(&rig.fake);
    assert_eq!(s.subcore_task[0], slot(0, 2));
    assert_eq!(s.subcore_task[1], SubcoreTask::default());
    assert_eq!(s.subcore_task[2], slot(2, 2));
}

#[test]
fn submit_validation_happens_before_the_kernel_sees_the_job() {
    let rig = Rig::new(Node::Drm);
    let dev = rig.dev();
    let tasks = task_buffer(&dev, 2);
    let check = |job: &Job<'_>, needle: &str| {
        let e = dev.submit(job).unwrap_err();
        assert!(e.to_string().contains(needle), "{needle}: {e}");
        assert_eq!(kind(e), ErrorKind::ParamInvalid);
    };
    check(
        &Job {
            core_mask: 0x8,
            ..Job::new(&tasks, 0, 2)
        },
        "core mask 0x8",
    );
    check(&Job::new(&tasks, 1, 2), "do not fit");
    check(&Job::new(&tasks, 0, 0), "do not fit");
    check(
        &Job {
            core_mask: 0x3,
            ..Job::new(&tasks, 0, 2)
        },
        "one per core",
    );
    let plain = dev.alloc(80).unwrap();
    check(&Job::new(&plain, 0, 1), "kernel mapping");
    let host = crate::driver::host::HostDevice::new().alloc(80).unwrap();
    check(&Job::new(&host, 0, 1), "not allocated by this device");
    let mut bad = task_buffer(&dev, 2);
    bad.as_mut_slice()[40 + 12..40 + 16].copy_from_slice(&0x100u32.to_le_bytes());
    check(&Job::new(&bad, 0, 2), "pair form");
    assert!(rig.fake.args::<Submit>(rig.fake.req.submit).is_empty());
}

#[test]
fn submit_failures_say_which_tasks_cores_and_what_the_driver_reported() {
    let rig = Rig::new(Node::Drm);
    let dev = rig.dev();
    let tasks = task_buffer(&dev, 4);
    rig.fake.st().submit_counter = 1;
    rig.fake.fail_next(rig.fake.req.submit, Errno::ETIMEDOUT);
    let job = Job {
        core_mask: 0x4,
        timeout_ms: 200,
        ..Job::new(&tasks, 0, 4)
    };
    let e = dev.submit(&job).unwrap_err();
    let text = e.to_string();
    for needle in [
        "RKNPU_SUBMIT",
        "tasks 0..4",
        "core 2",
        "timeout 200 ms",
        "ETIMEDOUT",
        "1 of 4 tasks",
        "task 1 did not finish",
        "renderD129",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    assert_eq!(kind(e), ErrorKind::Timeout);

    rig.fake.st().submit_counter = 0;
    rig.fake.fail_next(rig.fake.req.submit, Errno::EINVAL);
    let e = dev.submit(&Job::new(&tasks, 0, 4)).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("a core the driver picks"), "{text}");
    assert!(text.contains("EINVAL"), "{text}");
    assert!(matches!(e, DriverError::Job(_)));
    assert_eq!(kind(e), ErrorKind::Fail);

    rig.fake.fail_next(rig.fake.req.submit, Errno::EFAULT);
    let e = dev.submit(&Job::new(&tasks, 2, 2)).unwrap_err();
    assert!(e.to_string().contains("task 2 did not finish"), "{e}");
}

#[test]
fn single_core_chips_use_the_top_level_range() {
    let rig = Rig::new(Node::Drm);
    rig.tree.file(
        "sys/firmware/devicetree/base/compatible",
        b"rockchip,rk3568\0",
    );
    let dev = rig.dev();
    assert_eq!(dev.info().cores, 1);
    let tasks = task_buffer(&dev, 2);
    dev.submit(&Job::new(&tasks, 0, 2)).unwrap();
    let s = last_submit(&rig.fake);
    assert_eq!((s.task_start, s.task_number), (0, 2));
    let e = dev
        .submit(&Job {
            core_mask: 0x2,
            ..Job::new(&tasks, 0, 2)
        })
        .unwrap_err();
    assert!(e.to_string().contains("rk3568"), "{e}");
}
