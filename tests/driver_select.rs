//! `RKNNRT_DEVICE` through `rknn_init`: `auto` falls back to the host
//! device quietly where there is no NPU, an explicit `rknpu`/`rocket`
//! without the device fails with `RKNN_ERR_DEVICE_UNAVAILABLE` and a clear
//! log line, unknown names are refused with the valid ones listed. Each
//! case runs in a child process so the environment stays private to it.

mod common;
mod cross;

use std::ptr::null_mut;
use std::sync::Arc;

use rknnrt::abi::*;
use rknnrt::capi::general::*;
use rknnrt::driver::discovery::{find_rknpu, find_rocket, DevRoot};
use rknnrt::driver::ioctl::Kernel;

/// Child half: `rknn_init` must return `RKNNRT_DRIVER_CHILD` (a code).
#[test]
fn init_child() {
    let Ok(want) = std::env::var("RKNNRT_DRIVER_CHILD") else {
        return;
    };
    let want: i32 = want.parse().expect("expected code");
    let mut model = common::relu_model();
    let mut ctx: rknn_context = 0;
    // SAFETY: valid out pointer and model bytes; no extend struct.
    let ret = unsafe {
        rknn_init(
            &mut ctx,
            model.as_mut_ptr().cast(),
            model.len() as u32,
            0,
            null_mut(),
        )
    };
    assert_eq!(ret, want);
    if ret == RKNN_SUCC {
        assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
    }
}

/// Runs `init_child` with `RKNNRT_DEVICE=device` at `RKNN_LOG_LEVEL=level`
/// expecting `code`; returns its stderr.
fn run(device: &str, level: u32, code: i32) -> String {
    let out = cross::command(std::env::current_exe().unwrap())
        .args(["--exact", "init_child", "--nocapture", "--test-threads=1"])
        .env("RKNNRT_DRIVER_CHILD", code.to_string())
        .env("RKNNRT_DEVICE", device)
        .env("RKNN_LOG_LEVEL", level.to_string())
        .env_remove("RKNNRT_PLATFORM")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "RKNNRT_DEVICE={device}: {err}");
    err
}

fn no_npu() -> bool {
    let root = DevRoot::system();
    let seam = Arc::new(Kernel);
    find_rknpu(&*seam, &root).is_empty() && find_rocket(&*seam, &root).is_empty()
}

#[test]
fn auto_picks_host_quietly_and_logs_the_choice_at_info_level() {
    if !no_npu() {
        eprintln!("an NPU node is present: the host fallback is not what auto picks here");
        return;
    }
    let quiet = run("auto", 1, RKNN_SUCC);
    assert!(
        !quiet.contains("E RKNN") && !quiet.contains("W RKNN"),
        "{quiet}"
    );
    let told = run("", 3, RKNN_SUCC);
    let line = told
        .lines()
        .find(|l| l.contains("device: host"))
        .unwrap_or_else(|| panic!("no device line in: {told}"));
    assert!(line.starts_with("I RKNN: ["), "{line}");
    assert!(line.contains("no NPU device found"), "{line}");
}

#[test]
fn explicit_npu_devices_without_hardware_fail_init_with_device_unavailable() {
    let root = DevRoot::system();
    let seam = Arc::new(Kernel);
    for (name, absent) in [
        ("rknpu", find_rknpu(&*seam, &root).is_empty()),
        ("rocket", find_rocket(&*seam, &root).is_empty()),
    ] {
        if !absent {
            continue;
        }
        let err = run(name, 0, RKNN_ERR_DEVICE_UNAVAILABLE);
        let line = err
            .lines()
            .find(|l| l.contains(&format!("RKNNRT_DEVICE={name}")))
            .unwrap_or_else(|| panic!("no log line in: {err}"));
        assert!(line.starts_with("E RKNN: ["), "{line}");
        assert!(line.contains(&format!("no {name} device found")), "{line}");
    }
}

#[test]
fn unknown_device_names_list_the_valid_ones() {
    let err = run("tpu", 0, RKNN_ERR_PARAM_INVALID);
    assert!(
        err.contains("RKNNRT_DEVICE=tpu") && err.contains("auto, rknpu, rocket, host, sim"),
        "{err}"
    );
    run("HOST", 0, RKNN_SUCC);
    run("sim", 0, RKNN_SUCC);
}
