//! The vendor `.rknn` reader (`rknnrt::model::vendor::read`) on hostile
//! bytes. The seed corpus (`corpus/vendor_reader/`) holds small RK35xx
//! Toolkit2 fixtures; the container has no checksum, so mutations reach
//! the FlatBuffer tables, the task records and the relocation table
//! directly. A model the reader accepts must keep its promises: every
//! task's regcmd block and every relocated word lie inside the regcmd
//! buffer, every tensor index is in range, and the `inspect` report can
//! be printed. A file the reader accepts then goes through what
//! `rknn_init` does with it: the runtime model (`Model::load`), the
//! vendor plan and program build (`runtime::vendor::VendorPlan`: storage,
//! steps, schedules, relocations, chains), loading on the virtual NPU
//! (every address patched) and a run on one and on three cores, where
//! the virtual NPU refuses any access outside memory the program
//! allocated. Errors are fine; a panic, abort or sanitizer report is a
//! bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rknnrt::driver::sim::SimDevice;
use rknnrt::driver::{Buffer, Device};
use rknnrt::model::{vendor, Model};
use rknnrt::platform::Platform;
use rknnrt::runtime::vendor::engine::{Engine, RunMemory, RunObserver};
use rknnrt::runtime::vendor::VendorPlan;

fuzz_target!(|data: &[u8]| {
    let Ok(m) = vendor::read(data) else {
        return;
    };
    let regcmd = &data[m.regcmd.clone()];
    let words = vendor::regcmd_words(regcmd);
    for t in &m.tasks {
        assert!(
            t.regcmd_range().end <= regcmd.len() as u64,
            "task past regcmd"
        );
        let _ = vendor::RegWrite::decode(words[(t.regcmd_addr / 8) as usize]);
    }
    for r in &m.relocations {
        assert!(r.tensor < m.tensors.len());
        for e in &r.entries {
            assert!((e.word as usize) < words.len(), "relocation past regcmd");
        }
    }
    for n in &m.nodes {
        assert!(n
            .inputs
            .iter()
            .chain(&n.outputs)
            .all(|&i| i < m.tensors.len()));
        assert!(n.attrs.end <= data.len());
    }
    for b in &m.buffers {
        assert!(b.end <= data.len());
    }
    assert!(m
        .inputs
        .iter()
        .chain(&m.outputs)
        .all(|&i| i < m.tensors.len()));
    let report = rknn_toolchain::cli::inspect::vendor_report(&m);
    assert!(report.contains("tasks:"));
    program(data);
});

/// The program build and load behind `rknn_init`.
fn program(data: &[u8]) {
    let Ok(model) = Model::load(Box::new(data.to_vec())) else {
        return;
    };
    let Ok(plan) = VendorPlan::new(&model) else {
        return;
    };
    for t in plan.program.relocs.iter().map(|r| r.tensor) {
        assert!(t < model.meta.graph.tensors.len());
    }
    let device = SimDevice::new(Platform::Rk3588);
    let Ok(mut engine) = Engine::load(&plan, &device, model.bytes()) else {
        return;
    };
    let graph = &model.meta.graph;
    let alloc = |ids: &[usize]| -> Option<Vec<Buffer>> {
        ids.iter()
            .map(|&t| device.alloc(plan.stored(t)?.bytes).ok())
            .collect()
    };
    let (Some(inputs), Some(outputs)) = (alloc(&graph.inputs), alloc(&graph.outputs)) else {
        return;
    };
    let mem = RunMemory {
        inputs: inputs.iter().collect(),
        outputs: outputs.iter().collect(),
        internal: None,
        weights: None,
    };
    for mask in [0u32, 7] {
        let _ = engine.run(&plan, graph, &device, &mem, mask, RunObserver::default());
    }
}
