//! Contexts used from many threads at once: 8 threads, each with its own
//! context (from `rknn_init`, `rknn_dup_context` or
//! `RKNN_FLAG_SHARE_WEIGHT_MEM`), 2,000 runs each on different inputs;
//! every output must equal the single-threaded result, and the process's
//! open fds, mappings and resident memory must not grow. One test in its
//! own binary, so no other test opens files or maps memory meanwhile.
//!
//! `RKNNRT_STRESS_RUNS` changes the number of runs per thread (default
//! 2,000, the count).

mod common;
mod cross;

use std::ffi::c_void;
use std::ptr::null_mut;
use std::sync::Arc;

use rknnrt::abi::*;
use rknnrt::capi::general::*;

const THREADS: usize = 8;
/// Distinct inputs, cycled with a different offset in every thread.
const INPUTS: usize = 97;
/// One input: x [1,3,4,4] as NHWC uint8.
const IN: usize = 48;
/// One output: y [1,2,4,4] as float32.
const OUT: usize = 32;

fn runs() -> usize {
    std::env::var("RKNNRT_STRESS_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

fn init(bytes: &[u8], flags: u32, share_with: Option<rknn_context>) -> rknn_context {
    let mut ext = rknn_init_extend {
        ctx: share_with.unwrap_or(0),
        ..Default::default()
    };
    let mut ctx: rknn_context = 0;
    // SAFETY: valid pointers; `bytes` and `ext` outlive the call.
    let r = unsafe {
        rknn_init(
            &mut ctx,
            bytes.as_ptr() as *mut c_void,
            bytes.len() as u32,
            flags,
            &mut ext,
        )
    };
    assert_eq!(r, RKNN_SUCC);
    ctx
}

fn input(seed: usize) -> Vec<u8> {
    (0..IN)
        .map(|i| ((i * 37 + seed * 101) % 251) as u8)
        .collect()
}

/// One inference through the general API.
fn infer(ctx: rknn_context, x: &mut [u8]) -> [f32; OUT] {
    let mut inp = rknn_input {
        index: 0,
        buf: x.as_mut_ptr().cast(),
        size: IN as u32,
        r#type: RKNN_TENSOR_UINT8,
        fmt: RKNN_TENSOR_NHWC,
        ..Default::default()
    };
    let mut y = [0f32; OUT];
    let mut out = rknn_output {
        index: 0,
        want_float: 1,
        is_prealloc: 1,
        buf: y.as_mut_ptr().cast(),
        size: (OUT * 4) as u32,
    };
    // SAFETY: valid structs whose buffers outlive the calls.
    unsafe {
        assert_eq!(rknn_inputs_set(ctx, 1, &mut inp), RKNN_SUCC);
        assert_eq!(rknn_run(ctx, null_mut()), RKNN_SUCC);
        assert_eq!(rknn_outputs_get(ctx, 1, &mut out, null_mut()), RKNN_SUCC);
    }
    y
}

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

/// Resident pages (`/proc/self/statm`, second field).
fn resident_pages() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .expect("/proc/self/statm")
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("statm resident")
}

/// Runs `runs` inferences on each of 8 threads, on contexts made in the
/// three ways, checking every output against `reference`.
fn round(model: &Arc<Vec<u8>>, reference: &Arc<Vec<[f32; OUT]>>, runs: usize) {
    let base = init(model, 0, None);
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let ctx = match t % 3 {
                0 => init(model, 0, None),
                1 => {
                    let (mut src, mut dup) = (base, 0);
                    // SAFETY: valid handle storage.
                    assert_eq!(unsafe { rknn_dup_context(&mut src, &mut dup) }, RKNN_SUCC);
                    dup
                }
                _ => init(model, RKNN_FLAG_SHARE_WEIGHT_MEM, Some(base)),
            };
            let reference = Arc::clone(reference);
            std::thread::spawn(move || {
                for i in 0..runs {
                    let seed = (t * 31 + i) % INPUTS;
                    let got = infer(ctx, &mut input(seed));
                    assert_eq!(got, reference[seed], "thread {t}, run {i}, input {seed}");
                }
                assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
            })
        })
        .collect();
    for h in handles {
        h.join().expect("worker thread");
    }
    assert_eq!(rknn_destroy(base), RKNN_SUCC);
}

#[test]
fn eight_threads_agree_with_one_and_leak_nothing() {
    // glibc gives contended threads new 64 MiB malloc arenas (up to 8 per
    // core) at any time; one arena keeps the mapping count meaningful.
    #[cfg(target_env = "gnu")]
    // SAFETY: a plain allocator setting, made before the threads start.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
    let model = Arc::new(common::conv_chain_model(4, 4, 7, true));
    let single = init(&model, 0, None);
    let reference: Arc<Vec<[f32; OUT]>> =
        Arc::new((0..INPUTS).map(|s| infer(single, &mut input(s))).collect());
    assert_eq!(rknn_destroy(single), RKNN_SUCC);
    assert!(
        reference.windows(2).any(|w| w[0] != w[1]),
        "the inputs give different outputs"
    );
    // A first round sets up what is created once (allocator arenas of
    // the threads, the logger, the default device).
    round(&model, &reference, 50);
    let (fds, maps, rss) = (fd_count(), map_count(), resident_pages());
    round(&model, &reference, runs());
    assert_eq!(fd_count(), fds, "open fds changed");
    assert_eq!(map_count(), maps, "mappings changed");
    // Under qemu-user the resident size is the emulator's, whose code
    // cache grows on its own; fds and mappings above are the program's.
    if !cross::emulated() {
        let grown = resident_pages().saturating_sub(rss);
        // Page-granular allocator noise is allowed; a leak of one output
        // buffer (128 bytes) per run would be 2 MB.
        assert!(grown <= 64, "resident memory grew by {grown} pages");
    }
}
