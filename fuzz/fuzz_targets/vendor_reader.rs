//! The vendor `.rknn` reader (`rknnrt::model::vendor::read`) on hostile
//! bytes. The seed corpus (`corpus/vendor_reader/`) holds small RK35xx
//! Toolkit2 fixtures; the container has no checksum, so mutations reach
//! the FlatBuffer tables, the task records and the relocation table
//! directly. A model the reader accepts must keep its promises: every
//! task's regcmd block and every relocated word lie inside the regcmd
//! buffer, every tensor index is in range, and the `inspect` report can
//! be printed. Errors are fine; a panic, abort or sanitizer report is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rknnrt::model::vendor;

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
});
