//! No leaks: 10,000 create/destroy cycles of each kind of zero-copy memory
//! (with and without a context) leave the process's open fds and mappings
//! unchanged. One test in its own binary, so no other test opens files or
//! maps memory meanwhile.

mod common;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::null_mut;

use rknnrt::abi::*;
use rknnrt::capi::general::*;
use rknnrt::capi::zero_copy::*;

const CYCLES: usize = 10_000;

fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

fn map_count() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .expect("/proc/self/maps")
        .lines()
        .count()
}

/// Runs `cycle` `CYCLES` times and checks that fds and mappings are back
/// to where they were after the first cycle (which may set up lazily
/// created state such as the default device or the logger).
fn check(kind: &str, mut cycle: impl FnMut()) {
    cycle();
    let (fds, maps) = (fd_count(), map_count());
    for _ in 0..CYCLES {
        cycle();
    }
    assert_eq!(fd_count(), fds, "{kind}: open fds changed");
    assert_eq!(map_count(), maps, "{kind}: mappings changed");
}

#[test]
fn create_destroy_cycles_leave_fds_and_mappings_unchanged() {
    let mut model = common::conv_chain_model(4, 4, 1, false);
    let mut ctx: rknn_context = 0;
    // SAFETY: valid storage and `model.len()` bytes.
    let r = unsafe {
        rknn_init(
            &mut ctx,
            model.as_mut_ptr().cast(),
            model.len() as u32,
            0,
            null_mut(),
        )
    };
    assert_eq!(r, RKNN_SUCC);
    // A caller-owned memfd for the fd imports.
    // SAFETY: a new anonymous file; the name is NUL-terminated.
    let raw = unsafe { libc::syscall(libc::SYS_memfd_create, c"leak-test".as_ptr(), 0) };
    assert!(raw >= 0);
    // SAFETY: a new descriptor owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw as i32) };
    nix::unistd::ftruncate(&fd, 16384).expect("ftruncate");
    let no_ctx = u64::from(RKNN_MEM_FLAG_ALLOC_NO_CONTEXT);
    let mut attr = rknn_tensor_attr {
        index: 0,
        ..Default::default()
    };
    // SAFETY: `attr` is a writable struct of the given size.
    let r = unsafe {
        rknn_query(
            ctx,
            RKNN_QUERY_OUTPUT_ATTR,
            (&mut attr as *mut rknn_tensor_attr).cast(),
            std::mem::size_of::<rknn_tensor_attr>() as u32,
        )
    };
    assert_eq!(r, RKNN_SUCC);

    // SAFETY (all closures): only pointers returned by the library are
    // passed back; the fd stays open for the whole test.
    check("rknn_create_mem", || unsafe {
        let m = rknn_create_mem(ctx, 1000);
        assert!(!m.is_null());
        assert_eq!(rknn_destroy_mem(ctx, m), RKNN_SUCC);
    });
    check("rknn_create_mem2 with a context", || unsafe {
        let m = rknn_create_mem2(ctx, 5000, u64::from(RKNN_FLAG_MEMORY_NON_CACHEABLE));
        assert!(!m.is_null());
        assert_eq!(rknn_destroy_mem(ctx, m), RKNN_SUCC);
    });
    check("rknn_create_mem2 without a context", || unsafe {
        let m = rknn_create_mem2(0, 5000, no_ctx);
        assert!(!m.is_null());
        assert_eq!(rknn_destroy_mem(0, m), RKNN_SUCC);
    });
    check("rknn_create_mem_from_fd", || unsafe {
        let m = rknn_create_mem_from_fd(ctx, fd.as_raw_fd(), null_mut(), 4000, 4196);
        assert!(!m.is_null());
        assert_eq!(rknn_destroy_mem(ctx, m), RKNN_SUCC);
    });
    // SAFETY: the library's pointer and a valid attribute.
    let keeper = unsafe { rknn_create_mem(ctx, attr.size) };
    // SAFETY: as above.
    assert_eq!(
        unsafe { rknn_set_io_mem(ctx, keeper, &mut attr) },
        RKNN_SUCC
    );
    check("rknn_set_io_mem, rebinding and a run", || unsafe {
        let m = rknn_create_mem(ctx, attr.size);
        assert_eq!(rknn_set_io_mem(ctx, m, &mut attr), RKNN_SUCC);
        assert_eq!(rknn_run(ctx, null_mut()), RKNN_SUCC);
        // Destroyed while set: the struct goes now, the memory when the
        // binding lets go; runs refuse it meanwhile.
        assert_eq!(rknn_destroy_mem(ctx, m), RKNN_SUCC);
        assert_eq!(rknn_run(ctx, null_mut()), RKNN_ERR_FAIL);
        // Binding another memory releases `m`'s memory.
        assert_eq!(rknn_set_io_mem(ctx, keeper, &mut attr), RKNN_SUCC);
    });
    // SAFETY: the library's pointers; the context goes first, which frees
    // the memory still bound to it.
    unsafe {
        assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
        assert_eq!(rknn_destroy_mem(0, keeper), RKNN_SUCC);
    }
}
