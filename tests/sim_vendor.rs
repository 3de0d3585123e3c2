//! Vendor-compiled programs (`../shared/fixtures/vendor/`) through
//! `npu::program` on the virtual NPU (`driver::sim`).

use std::path::{Path, PathBuf};

use rknnrt::driver::sim::SimDevice;
use rknnrt::driver::{Device, TaskRange};
use rknnrt::model::vendor::{read, VendorModel};
use rknnrt::npu::program::{JobPlan, VendorProgram};
use rknnrt::platform::Platform;
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/vendor")
}

/// Every (model, precision, file) of the manifest.
fn cases() -> Vec<(String, &'static str, PathBuf)> {
    let text = std::fs::read(fixtures().join("MANIFEST.json")).expect("vendor MANIFEST.json");
    let m: Value = serde_json::from_slice(&text).expect("MANIFEST.json is JSON");
    let mut out = Vec::new();
    for model in m["models"].as_array().expect("models") {
        let name = model["model"].as_str().expect("model name").to_string();
        for prec in ["i8", "fp16"] {
            let file = fixtures()
                .join(&name)
                .join(format!("{name}.rk3588.{prec}.rknn"));
            out.push((name.clone(), prec, file));
        }
    }
    out
}

fn load(file: &Path) -> (Vec<u8>, VendorModel, VendorProgram) {
    let bytes = std::fs::read(file).expect("fixture");
    let model = read(&bytes).expect("vendor model");
    let program = VendorProgram::new(&model, &bytes).expect("vendor program");
    (bytes, model, program)
}

#[test]
fn every_fixture_has_three_schedules_whose_steps_cover_the_task_array() {
    for (name, prec, file) in cases() {
        let (_, model, program) = load(&file);
        let what = format!("{name} {prec}");
        assert_eq!(program.schedules.len(), 3, "{what}");
        let mut covered = vec![0u32; model.tasks.len()];
        for (s, schedule) in program.schedules.iter().enumerate() {
            assert_eq!(schedule.cores, s as u32 + 1, "{what}");
            for step in &schedule.steps {
                assert_eq!(step.parts[0].core, 0, "{what}");
                for p in &step.parts {
                    assert!(p.core < schedule.cores, "{what}");
                    for t in p.tasks.start..p.tasks.start + p.tasks.count {
                        covered[t as usize] += 1;
                    }
                }
            }
        }
        assert!(covered.iter().all(|&c| c == 1), "{what}: {covered:?}");
    }
}

#[test]
fn conv3x3_schedules_and_jobs() {
    let (_, _, program) = load(&fixtures().join("conv3x3/conv3x3.rk3588.i8.rknn"));
    let r = |start, count| TaskRange { start, count };
    let parts: Vec<Vec<Vec<(u32, TaskRange)>>> = program
        .schedules
        .iter()
        .map(|s| {
            s.steps
                .iter()
                .map(|st| st.parts.iter().map(|p| (p.core, p.tasks)).collect())
                .collect()
        })
        .collect();
    assert_eq!(
        parts,
        vec![
            vec![vec![(0, r(0, 1))]],
            vec![vec![(0, r(1, 2)), (1, r(3, 2))]],
            vec![vec![(0, r(5, 2)), (1, r(7, 2)), (2, r(9, 2))]],
        ]
    );
    let dev = SimDevice::new(Platform::Rk3588);
    let bytes = std::fs::read(fixtures().join("conv3x3/conv3x3.rk3588.i8.rknn")).unwrap();
    let loaded = program.load(&dev, &bytes).expect("load");
    assert_eq!(
        loaded.jobs(0).unwrap(),
        vec![JobPlan {
            core_mask: 0,
            task_start: 0,
            task_count: 1,
            core_tasks: vec![]
        }]
    );
    assert_eq!(
        loaded.jobs(0b110).unwrap(),
        vec![JobPlan {
            core_mask: 0b110,
            task_start: 1,
            task_count: 4,
            core_tasks: vec![r(1, 2), r(3, 2)]
        }]
    );
    assert_eq!(loaded.jobs(0b111).unwrap()[0].core_tasks.len(), 3);
    assert!(loaded.jobs(0b1000).is_err());
}

#[test]
fn tiny_cnn_runs_split_operations_as_separate_jobs() {
    let (bytes, _, program) = load(&fixtures().join("tiny_cnn/tiny_cnn.rk3588.i8.rknn"));
    let dev = SimDevice::new(Platform::Rk3588);
    let loaded = program.load(&dev, &bytes).expect("load");
    // 1 core: one chain of every task.
    let one = loaded.jobs(1).unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!((one[0].task_start, one[0].task_count), (0, 16));
    // 2 cores: conv on both, pool on core 0, two convs on both, the rest on core 0.
    let two = loaded.jobs(3).unwrap();
    let masks: Vec<u32> = two.iter().map(|j| j.core_mask).collect();
    assert_eq!(masks, vec![3, 1, 3, 3, 1]);
    assert_eq!((two[4].task_start, two[4].task_count), (22, 12));
}

#[test]
fn loading_patches_addresses_inside_the_programs_buffers() {
    for (name, prec, file) in cases() {
        let (bytes, model, program) = load(&file);
        let dev = SimDevice::new(Platform::Rk3588);
        let loaded = program.load(&dev, &bytes).expect("load");
        let what = format!("{name} {prec}");
        let regcmd = loaded.regcmd();
        let base = regcmd.dev_addr();
        let records = loaded.task_buffer().as_slice();
        for (i, t) in model.tasks.iter().enumerate() {
            let rec = &records[i * 40..i * 40 + 40];
            let addr = u64::from_le_bytes(rec[32..40].try_into().unwrap());
            assert_eq!(addr, base + t.regcmd_addr, "{what} task {i}");
        }
        let words: Vec<u64> = regcmd
            .as_slice()
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        for r in &program.relocs {
            let value = (words[r.word as usize] >> 16) as u32;
            let want = loaded.tensor_address(r.tensor).unwrap() + u64::from(r.offset);
            assert_eq!(u64::from(value), want, "{what} word {}", r.word);
        }
        for &(word, next) in &program.chain_words {
            let value = (words[word as usize] >> 16) as u32;
            assert_eq!(
                u64::from(value),
                base + u64::from(next),
                "{what} chain word {word}"
            );
        }
    }
}

#[test]
fn binding_a_tensor_elsewhere_repatches_its_words() {
    let (bytes, model, program) = load(&fixtures().join("conv3x3/conv3x3.rk3588.i8.rknn"));
    let dev = SimDevice::new(Platform::Rk3588);
    let mut loaded = program.load(&dev, &bytes).expect("load");
    let x = model.inputs[0];
    let user = dev.alloc(4096).unwrap();
    loaded.bind(x, user.dev_addr(), 4096).unwrap();
    assert_eq!(loaded.tensor_address(x), Some(user.dev_addr()));
    let word = |l: &rknnrt::npu::program::LoadedProgram, w: u32| {
        let s = l.regcmd().as_slice();
        let at = w as usize * 8;
        (u64::from_le_bytes(s[at..at + 8].try_into().unwrap()) >> 16) as u32
    };
    for r in program.relocs.iter().filter(|r| r.tensor == x) {
        assert_eq!(
            u64::from(word(&loaded, r.word)),
            user.dev_addr() + u64::from(r.offset)
        );
    }
    assert!(loaded.bind(x, user.dev_addr(), 10).is_err());
    loaded.unbind(x).unwrap();
    let own = loaded.internal().dev_addr() + u64::from(model.tensors[x].mem_offset);
    assert_eq!(loaded.tensor_address(x), Some(own));
}
