//! The board path up to the ioctl: every vendor fixture loaded and run
//! through the runtime's vendor engine on the real `rknpu` device code,
//! over the recording fake kernel (`fake.rs`), for every core mask. Each
//! recorded `RKNPU_SUBMIT` is checked the way the kernel and the NPU would
//! use it: the task buffer is a kernel-mapped object of this device, every
//! core's range lies inside it, every task's regcmd block lies inside an
//! allocated object at a 32-bit address, tasks of one range chain to each
//! other with the right fetch amounts, the last task of a schedule ends
//! its chain, every relocated word addresses an allocated object, and the
//! core mask matches the `subcore_task` slots in use.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::abi::{job, mem, Node, SubcoreTask, Submit, Task};
use super::fake::{Obj, Rig, MAP_STRIDE};
use crate::driver::{Buffer, Device};
use crate::model::Model;
use crate::npu::pc;
use crate::platform::Platform;
use crate::runtime::vendor::engine::{Engine, RunMemory, RunObserver};
use crate::runtime::vendor::VendorPlan;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/vendor")
}

fn fixture_files() -> Vec<PathBuf> {
    let text = std::fs::read(fixtures().join("MANIFEST.json")).expect("vendor MANIFEST.json");
    let m: serde_json::Value = serde_json::from_slice(&text).expect("JSON");
    m["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| fixtures().join(c["rknn"].as_str().expect("rknn")))
        .collect()
}

/// The NPU's view of the fake's memory: device addresses of live objects
/// read through the sparse device file at their `MEM_MAP` offsets.
struct Dma<'a> {
    path: &'a Path,
    objects: Vec<(u32, Obj)>,
}

impl Dma<'_> {
    /// The object holding `len` bytes at `addr`, or why not.
    fn object(&self, addr: u64, len: u64, what: &str) -> (u32, Obj) {
        assert!(
            addr + len <= 1 << 32,
            "{what}: {addr:#x}+{len} is not 32-bit"
        );
        *self
            .objects
            .iter()
            .find(|(_, o)| addr >= o.dma_addr && addr + len <= o.dma_addr + o.size)
            .unwrap_or_else(|| {
                panic!("{what}: {len} bytes at {addr:#x} are in no allocated object")
            })
    }

    fn read(&self, addr: u64, len: usize, what: &str) -> Vec<u8> {
        let (handle, o) = self.object(addr, len as u64, what);
        let mut f = std::fs::File::open(self.path).expect("device file");
        f.seek(SeekFrom::Start(
            u64::from(handle) * MAP_STRIDE + (addr - o.dma_addr),
        ))
        .expect("seek");
        let mut b = vec![0u8; len];
        f.read_exact(&mut b).expect("read");
        b
    }

    fn words(&self, addr: u64, n: usize, what: &str) -> Vec<u64> {
        self.read(addr, n * 8, what)
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect()
    }
}

fn value(word: u64) -> u64 {
    (word >> 16) & 0xffff_ffff
}

/// The tasks each core of `s` runs, by core.
fn ranges(s: &Submit, chip_cores: u32) -> Vec<(u32, SubcoreTask)> {
    if s.core_mask == 0 {
        let r = s.subcore_task[0];
        assert_eq!((r.task_start, r.task_number), (s.task_start, s.task_number));
        assert_eq!(
            s.subcore_task[..3],
            [r; 3],
            "mask 0 fills every core's slot"
        );
        return vec![(0, r)];
    }
    let cores: Vec<u32> = (0..chip_cores)
        .filter(|c| s.core_mask & (1 << c) != 0)
        .collect();
    let slot = |c: u32, k: usize| {
        if cores.len() == 3 {
            s.subcore_task[2 + k]
        } else {
            s.subcore_task[c as usize]
        }
    };
    let used: Vec<(u32, SubcoreTask)> = cores
        .iter()
        .enumerate()
        .map(|(k, &c)| (c, slot(c, k)))
        .collect();
    for (c, r) in &used {
        assert!(
            r.task_number > 0,
            "core {c} is in the mask but has no tasks"
        );
    }
    let in_use = s.subcore_task.iter().filter(|r| r.task_number > 0).count();
    assert_eq!(in_use, used.len(), "slots in use vs cores in the mask");
    used
}

/// Checks every submission recorded since `from`; returns how many.
fn check_submits(rig: &Rig, plan: &VendorPlan, from: usize, mask: u32, what: &str) -> usize {
    let st = rig.fake.st();
    let dma = Dma {
        path: &rig.path,
        objects: st.objects.iter().map(|(&h, &o)| (h, o)).collect(),
    };
    let req = rig.fake.req.submit;
    let submits: Vec<Submit> = st.calls[from..]
        .iter()
        .filter(|(r, _)| *r == req)
        .map(|(_, b)| bytemuck::pod_read_unaligned(b))
        .collect();
    drop(st);
    let platform = Platform::Rk3588;
    let relocated: std::collections::HashSet<u32> =
        plan.program.relocs.iter().map(|r| r.word).collect();
    for (n, s) in submits.iter().enumerate() {
        let what = format!("{what}, submit {n}");
        assert_eq!(s.flags, job::PC | job::PINGPONG, "{what}");
        let (_, tasks_obj) = *dma
            .objects
            .iter()
            .find(|(_, o)| o.obj_addr == s.task_obj_addr)
            .unwrap_or_else(|| panic!("{what}: task_obj_addr is no live object"));
        assert_ne!(
            tasks_obj.flags & mem::KERNEL_MAPPING,
            0,
            "{what}: kernel mapping"
        );
        if mask == 0 {
            assert_eq!(s.core_mask, 0, "{what}");
        } else {
            assert_eq!(s.core_mask & !mask, 0, "{what}: cores outside the mask");
        }
        let records = tasks_obj.size / 40;
        for (core, r) in ranges(s, platform.cores()) {
            let what = format!("{what}, core {core}");
            assert!(
                u64::from(r.task_start) + u64::from(r.task_number) <= records,
                "{what}: tasks past the buffer"
            );
            let bytes = dma.read(
                tasks_obj.dma_addr + u64::from(r.task_start) * 40,
                r.task_number as usize * 40,
                &what,
            );
            let tasks: Vec<Task> = bytes
                .chunks_exact(40)
                .map(bytemuck::pod_read_unaligned)
                .collect();
            for (k, t) in tasks.iter().enumerate() {
                let what = format!("{what}, task {}", r.task_start as usize + k);
                assert!(t.regcfg_amount > 0, "{what}");
                let len = (t.regcfg_amount + pc::TAIL_WORDS) as usize;
                let words = dma.words(t.regcmd_addr, len, &what);
                let (_, stream) = dma.object(t.regcmd_addr, 8, &what);
                let first = ((t.regcmd_addr - stream.dma_addr) / 8) as u32;
                for (i, &w) in words[..t.regcfg_amount as usize].iter().enumerate() {
                    if relocated.contains(&(first + i as u32)) {
                        dma.object(
                            value(w),
                            1,
                            &format!("{what}, relocated word {}", first + i as u32),
                        );
                    }
                }
                let tail = pc::parse_tail(&words[t.regcfg_amount as usize..])
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                match tasks.get(k + 1) {
                    Some(next) => {
                        assert_eq!(
                            tail.next.map(u64::from),
                            Some(next.regcmd_addr),
                            "{what}: chain"
                        );
                        assert_eq!(
                            tail.next_amount,
                            pc::data_amount(next.regcfg_amount, platform),
                            "{what}: fetch amount"
                        );
                    }
                    None => {
                        assert!(
                            super::abi::int_mask_is_pair_form(t.int_mask),
                            "{what}: int_mask {:#x}",
                            t.int_mask
                        );
                        if let Some(next) = tail.next {
                            dma.object(u64::from(next), 8, &format!("{what}: chain word"));
                        }
                        if n + 1 == submits.len() {
                            assert_eq!(
                                tail.next, None,
                                "{what}: the schedule's last task ends its chain"
                            );
                        }
                    }
                }
            }
        }
    }
    submits.len()
}

#[test]
fn every_fixture_submits_consistent_jobs_on_every_core_mask() {
    for file in fixture_files() {
        let rig = Rig::new(Node::Drm);
        let dev = rig.dev();
        let bytes = std::fs::read(&file).expect("fixture");
        let model = Model::load(Box::new(bytes)).expect("model");
        let plan = VendorPlan::new(&model).expect("plan");
        let mut engine = Engine::load(&plan, &dev, model.bytes()).expect("load");
        let graph = &model.meta.graph;
        let alloc = |t: usize| -> Buffer {
            dev.alloc(plan.stored(t).expect("stored").bytes)
                .expect("alloc")
        };
        let inputs: Vec<Buffer> = graph.inputs.iter().map(|&t| alloc(t)).collect();
        let outputs: Vec<Buffer> = graph.outputs.iter().map(|&t| alloc(t)).collect();
        let mem = RunMemory {
            inputs: inputs.iter().collect(),
            outputs: outputs.iter().collect(),
            internal: None,
            weights: None,
        };
        for mask in [0u32, 1, 2, 4, 3, 5, 6, 7] {
            let what = format!("{}, core mask {mask:#x}", file.display());
            let from = rig.fake.st().calls.len();
            engine
                .run(&plan, graph, &dev, &mem, mask, RunObserver::default())
                .unwrap_or_else(|e| panic!("{what}: {}", e.message));
            assert!(check_submits(&rig, &plan, from, mask, &what) > 0, "{what}");
            // Per-node jobs (layer times) obey the same rules.
            let from = rig.fake.st().calls.len();
            let mut times = Vec::new();
            let obs = RunObserver {
                timings: Some(&mut times),
                dumper: None,
            };
            engine
                .run(&plan, graph, &dev, &mem, mask, obs)
                .unwrap_or_else(|e| panic!("{what}: {}", e.message));
            check_submits(&rig, &plan, from, mask, &format!("{what}, per node"));
        }
    }
}
