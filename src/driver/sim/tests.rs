//! The virtual NPU on small hand-made programs: memory and addresses,
//! the PC chain walker and its errors, and each engine.

use std::os::fd::{AsFd, BorrowedFd};

use super::SimDevice;
use crate::driver::{AllocRequest, Buffer, CachePolicy, Device, Job, TaskRange};
use crate::npu::pc;
use crate::npu::regs::{self, cna, core, dpu, dpu_rdma, ppu, ppu_rdma, Reg};
use crate::platform::Platform;

fn dev() -> SimDevice {
    SimDevice::new(Platform::Rk3588)
}

/// A task under construction: register writes; the tail is added by
/// [`Program::build`].
#[derive(Clone, Default)]
struct TaskWords {
    words: Vec<u64>,
    enable: u32,
}

impl TaskWords {
    fn new(enable: u32) -> TaskWords {
        TaskWords {
            words: Vec::new(),
            enable,
        }
    }

    fn w(mut self, reg: &Reg, value: u32) -> TaskWords {
        self.words.push(regs::encode(reg, value));
        self
    }
}

/// Tasks laid out in a regcmd buffer (each 64-byte aligned, chained by
/// their tails) and their records in a task buffer.
struct Program {
    regcmd: Buffer,
    tasks: Buffer,
}

impl Program {
    fn build(dev: &SimDevice, tasks: &[TaskWords]) -> Program {
        let mut offsets = Vec::new();
        let mut at = 0usize;
        for t in tasks {
            offsets.push(at);
            at += ((t.words.len() + 4) * 8).next_multiple_of(64);
        }
        let mut regcmd = dev.alloc(at).unwrap();
        let mut records = dev
            .allocate(&AllocRequest {
                size: tasks.len() * 40,
                cache: CachePolicy::WriteCombine,
                try_sram: false,
                kernel_mapping: true,
            })
            .unwrap();
        let base = regcmd.dev_addr();
        for (i, t) in tasks.iter().enumerate() {
            let mut words = t.words.clone();
            match tasks.get(i + 1) {
                Some(next) => {
                    words.push(regs::encode(
                        &regs::pc::BASE_ADDRESS,
                        (base as usize + offsets[i + 1]) as u32,
                    ));
                    words.push(regs::encode(
                        &regs::pc::REGISTER_AMOUNTS,
                        pc::data_amount(next.words.len() as u32, Platform::Rk3588),
                    ));
                }
                None => {
                    words.push(0);
                    words.push(regs::encode(&regs::pc::REGISTER_AMOUNTS, 0));
                }
            }
            words.push(regs::PREPARE_WORD);
            words.push(regs::op_enable_word(t.enable));
            let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
            regcmd.as_mut_slice()[offsets[i]..offsets[i] + bytes.len()].copy_from_slice(&bytes);
            let rec = &mut records.as_mut_slice()[i * 40..(i + 1) * 40];
            let fields = [
                0u32,
                i as u32,
                t.enable,
                0x300,
                0x1ffff,
                0,
                t.words.len() as u32,
                0,
            ];
            for (k, f) in fields.iter().enumerate() {
                rec[4 * k..4 * k + 4].copy_from_slice(&f.to_le_bytes());
            }
            rec[32..40].copy_from_slice(&(base + offsets[i] as u64).to_le_bytes());
        }
        Program {
            regcmd,
            tasks: records,
        }
    }

    fn run(&self, dev: &SimDevice, start: u32, count: u32) -> Result<(), String> {
        dev.submit(&Job::new(&self.tasks, start, count))
            .map_err(|e| e.to_string())
    }

    /// Overwrites word `index` of task `task`'s stream (tail included).
    fn poke(&mut self, task: usize, index: usize, word: u64) {
        let rec = &self.tasks.as_slice()[task * 40..task * 40 + 40];
        let addr = u64::from_le_bytes(rec[32..40].try_into().unwrap());
        let at = (addr - self.regcmd.dev_addr()) as usize + index * 8;
        self.regcmd.as_mut_slice()[at..at + 8].copy_from_slice(&word.to_le_bytes());
    }
}

/// A DPU task copying `channels` int8 channels of a 1x1 cube from `src`
/// to `dst` (flying mode, every stage bypassed).
fn copy_task(src: u64, dst: u64, channels: u32) -> TaskWords {
    TaskWords::new(0x18)
        .w(&dpu::S_POINTER, 0x0e)
        .w(&dpu_rdma::S_POINTER, 0x0e)
        .w(&dpu::FEATURE_MODE_CFG, 0x1e5)
        .w(&dpu::DATA_FORMAT, 0)
        .w(&dpu::DST_BASE_ADDR, dst as u32)
        .w(&dpu::DST_SURF_STRIDE, 0x10)
        .w(&dpu::DATA_CUBE_WIDTH, 0)
        .w(&dpu::DATA_CUBE_HEIGHT, 0)
        .w(
            &dpu::DATA_CUBE_CHANNEL,
            ((channels - 1) << 16) | (channels - 1),
        )
        .w(&dpu::BS_CFG, 0x53)
        .w(&dpu::BN_CFG, 0x53)
        .w(&dpu::EW_CFG, 0x383)
        .w(&dpu::OUT_CVT_SCALE, 1)
        .w(&dpu::WDMA_SIZE_0, channels - 1)
        .w(&dpu::WDMA_SIZE_1, 0)
        .w(&dpu_rdma::DATA_CUBE_WIDTH, 0)
        .w(&dpu_rdma::DATA_CUBE_HEIGHT, 0)
        .w(&dpu_rdma::DATA_CUBE_CHANNEL, channels - 1)
        .w(&dpu_rdma::SRC_BASE_ADDR, src as u32)
        .w(&dpu_rdma::ERDMA_CFG, 1)
        .w(&dpu_rdma::FEATURE_MODE_CFG, 0x7801)
}

#[test]
fn addresses_are_nonzero_aligned_apart_and_reused() {
    let d = dev();
    let a = d.alloc(100).unwrap();
    let b = d.alloc(5000).unwrap();
    assert!(a.dev_addr() >= super::memory::SPACE_START);
    assert_eq!(a.dev_addr() % 4096, 0);
    assert_eq!(b.dev_addr() % 4096, 0);
    assert!(
        b.dev_addr() >= a.dev_addr() + 8192,
        "a guard page lies between buffers"
    );
    assert!(b.dev_addr() + 8192 < 1 << 32);
    let freed = a.dev_addr();
    drop(a);
    let c = d.alloc(10).unwrap();
    assert_eq!(c.dev_addr(), freed, "the lowest free range is reused");
    assert_eq!(d.name(), "sim");
    assert_eq!(d.info().cores, 3);
}

#[test]
fn fds_are_real_and_imports_see_the_same_memory() {
    let d = dev();
    let mut a = d.alloc(8192).unwrap();
    a.as_mut_slice()[4100] = 42;
    let fd = d.export_fd(&a).unwrap();
    let b = d.import_fd(fd.as_fd(), 100, 4096).unwrap();
    assert_eq!(b.as_slice()[4], 42);
    assert_ne!(b.dev_addr(), a.dev_addr());
    // SAFETY: `a`'s own descriptor, open while `a` lives.
    let own = unsafe { BorrowedFd::borrow_raw(a.fd()) };
    assert!(
        d.import_fd(own, 10_000, 0).is_err(),
        "past the end of the file"
    );
    d.sync(&a, 0, 8192, crate::driver::SyncDir::ToDevice)
        .unwrap();
    assert!(d
        .sync(&a, 1, 8192, crate::driver::SyncDir::ToDevice)
        .is_err());
}

#[test]
fn a_chain_of_tasks_runs_in_order() {
    let d = dev();
    let mut mem = d.alloc(4096).unwrap();
    for i in 0..16 {
        mem.as_mut_slice()[i] = i as u8 + 1;
    }
    let (src, mid, dst) = (mem.dev_addr(), mem.dev_addr() + 256, mem.dev_addr() + 512);
    let p = Program::build(&d, &[copy_task(src, mid, 16), copy_task(mid, dst, 16)]);
    p.run(&d, 0, 2).unwrap();
    let m = mem.as_slice();
    assert_eq!(&m[512..528], &m[0..16]);
    assert_eq!(m[527], 16);
}

#[test]
fn chain_errors_name_the_task_and_what_is_wrong() {
    let d = dev();
    let mem = d.alloc(4096).unwrap();
    let a = mem.dev_addr();
    let tasks = [copy_task(a, a + 256, 16), copy_task(a + 256, a + 512, 16)];

    // The job runs more tasks than the chain holds.
    let p = Program::build(&d, &tasks);
    let mut broken = Program::build(&d, &tasks);
    let words = tasks[0].words.len();
    broken.poke(0, words, 0);
    broken.poke(0, words + 1, regs::encode(&regs::pc::REGISTER_AMOUNTS, 0));
    let e = broken.run(&d, 0, 2).unwrap_err();
    assert!(
        e.contains("task 1") && e.contains("task 0 ended the chain"),
        "{e}"
    );

    // A tail whose amount does not match the next task's record.
    let mut bad_amount = Program::build(&d, &tasks);
    bad_amount.poke(0, words + 1, regs::encode(&regs::pc::REGISTER_AMOUNTS, 3));
    let e = bad_amount.run(&d, 0, 2).unwrap_err();
    assert!(e.contains("task 1") && e.contains("3 units"), "{e}");

    // A truncated stream: the record's amount stops before the tail.
    let mut short = Program::build(&d, &tasks[..1]);
    let rec = &mut short.tasks.as_mut_slice()[24..28];
    rec.copy_from_slice(&5u32.to_le_bytes());
    let e = short.run(&d, 0, 1).unwrap_err();
    assert!(
        e.contains("task 0") && e.contains("no op-enable word"),
        "{e}"
    );

    // An unknown register.
    let mut unknown = Program::build(&d, &tasks[..1]);
    unknown.poke(0, 3, (0x0201u64 << 48) | (0x1234u64 << 16) | 0x1018);
    let e = unknown.run(&d, 0, 1).unwrap_err();
    assert!(
        e.contains("task 0") && e.contains("0x1018") && e.contains("0x1234"),
        "{e}"
    );

    // A register written through another block's target.
    let mut wrong = Program::build(&d, &tasks[..1]);
    wrong.poke(0, 3, (0x0201u64 << 48) | 0x4020);
    let e = wrong.run(&d, 0, 1).unwrap_err();
    assert!(
        e.contains("DPU_DST_BASE_ADDR") && e.contains("CNA target"),
        "{e}"
    );

    // A field value the engines do not implement.
    let t = copy_task(a, a + 256, 16).w(&dpu::FEATURE_MODE_CFG, 0x1e5 | (1 << 30));
    let e = Program::build(&d, &[t]).run(&d, 0, 1).unwrap_err();
    assert!(
        e.contains("task 0") && e.contains("TP_EN") && e.contains("0x400001e5"),
        "{e}"
    );

    // An access outside every live buffer.
    let e = Program::build(&d, &[copy_task(a, a + 4096, 16)])
        .run(&d, 0, 1)
        .unwrap_err();
    assert!(e.contains("task 0") && e.contains("DPU write"), "{e}");
    assert!(e.contains(&format!("{:#x}", a + 4096)), "{e}");

    // An op-enable mask no engine handles.
    let e = Program::build(&d, &[TaskWords::new(0x04).w(&core::MISC_CFG, 1)])
        .run(&d, 0, 1)
        .unwrap_err();
    assert!(e.contains("op-enable mask 0x4"), "{e}");

    // Task ranges outside the task buffer, core masks past the chip.
    assert!(p.run(&d, 1, 2).unwrap_err().contains("do not fit"));
    let mut job = Job::new(&p.tasks, 0, 2);
    job.core_mask = 0b1000;
    assert!(d.submit(&job).is_err());
    job.core_mask = 0b11;
    let ranges = [
        TaskRange { start: 0, count: 1 },
        TaskRange { start: 1, count: 1 },
    ];
    job.core_tasks = &ranges;
    d.submit(&job).unwrap();
    // A task buffer from another device is refused.
    let other = dev();
    let foreign = Program::build(&other, &tasks);
    assert!(d.submit(&Job::new(&foreign.tasks, 0, 1)).is_err());
}

#[test]
fn an_int8_convolution_requantises_with_bias_multiplier_and_output_scale() {
    // 1x1 convolution, 2 input channels, 1 kernel over a 2x1 image:
    // acc = 3·x0 - 2·x1, + bias 100, · 16384 >> 14 (=1), · 3 >> 1 + 5.
    let d = dev();
    let mut mem = d.alloc(4096).unwrap();
    let base = mem.dev_addr();
    let (input, weights, bias, out) = (base, base + 256, base + 512, base + 1024);
    let m = mem.as_mut_slice();
    // Input NC1HWC2 (C2 = 16): pixel 0 = (10, 4), pixel 1 = (-7, 9).
    m[0] = 10;
    m[1] = 4;
    m[16] = (-7i8) as u8;
    m[17] = 9;
    // Weights [1 block][1 block][1][1][kernel][16 channels].
    m[256] = 3;
    m[257] = (-2i8) as u8;
    // Operand block of BRDMA_DATA_USE 0b101: 8 x i32 ALU, 8 x i16 multipliers.
    m[512..516].copy_from_slice(&100i32.to_le_bytes());
    m[512 + 32..512 + 34].copy_from_slice(&16384i16.to_le_bytes());
    let conv = TaskWords::new(0x1d)
        .w(&dpu::S_POINTER, 0x0e)
        .w(&dpu_rdma::S_POINTER, 0x0e)
        .w(&cna::CONV_CON1, 0)
        .w(&cna::CONV_CON3, 0x9)
        .w(&cna::DATA_SIZE0, (2 << 16) | 1)
        .w(&cna::DATA_SIZE1, (1 << 16) | 16)
        .w(&cna::DATA_SIZE2, 2)
        .w(&cna::DATA_SIZE3, 2)
        .w(&cna::WEIGHT_SIZE0, 16)
        .w(&cna::WEIGHT_SIZE1, 16)
        .w(&cna::WEIGHT_SIZE2, (1 << 24) | (1 << 16) | 1)
        .w(&cna::CVT_CON0, 0xb)
        .w(&cna::FEATURE_DATA_ADDR, input as u32)
        .w(&cna::DMA_CON1, 8)
        .w(&cna::DMA_CON2, (-6i32 as u32) & 0x0fff_ffff)
        .w(&cna::DCOMP_ADDR0, weights as u32)
        .w(&cna::PAD_CON1, 0)
        .w(&core::MISC_CFG, 1)
        .w(&core::DATAOUT_SIZE_0, 1)
        .w(&core::DATAOUT_SIZE_1, 15)
        .w(&dpu::FEATURE_MODE_CFG, 0x1e4)
        .w(&dpu::DATA_FORMAT, 0xe0)
        .w(&dpu::DST_BASE_ADDR, out as u32)
        .w(&dpu::DST_SURF_STRIDE, 32)
        .w(&dpu::DATA_CUBE_WIDTH, 1)
        .w(&dpu::DATA_CUBE_HEIGHT, 0)
        .w(&dpu::DATA_CUBE_CHANNEL, 15)
        .w(&dpu::BS_CFG, 0x20140)
        .w(&dpu::BS_MUL_CFG, 0xe01)
        .w(&dpu::BS_OW_CFG, 0x126)
        .w(&dpu::BN_CFG, 0x53)
        .w(&dpu::EW_CFG, 0x383)
        .w(&dpu::OUT_CVT_OFFSET, 5)
        .w(&dpu::OUT_CVT_SCALE, 3)
        .w(&dpu::OUT_CVT_SHIFT, 1)
        .w(&dpu::WDMA_SIZE_0, 15)
        .w(&dpu::WDMA_SIZE_1, 1)
        .w(&dpu_rdma::BRDMA_CFG, 0b1010)
        .w(&dpu_rdma::BS_BASE_ADDR, bias as u32)
        .w(&dpu_rdma::ERDMA_CFG, 1);
    Program::build(&d, &[conv]).run(&d, 0, 1).unwrap();
    let m = mem.as_slice();
    // Pixel 0: 3·10 - 2·4 + 100 = 122 -> ·3 >> 1 = 183 (183 round) + 5 -> clamp 127.
    // Pixel 1: -21 - 18 + 100 = 61 -> 183/2 = 91.5 -> 92 + 5 = 97.
    assert_eq!(m[1024] as i8, 127);
    assert_eq!(m[1040] as i8, 97);
    // Channels without weights get the bias-free offset only: 0 -> 5.
    assert_eq!(m[1025] as i8, 5);
}

#[test]
fn max_and_average_pooling() {
    let d = dev();
    let mut mem = d.alloc(4096).unwrap();
    let base = mem.dev_addr();
    // A 2x2 int8 cube, channel 0 = 1, -3, 8, 2; channel 1 = 1, 2, 2, 2.
    for (p, (a, b)) in [(1i8, 1i8), (-3, 2), (8, 2), (2, 2)].iter().enumerate() {
        mem.as_mut_slice()[p * 16] = *a as u8;
        mem.as_mut_slice()[p * 16 + 1] = *b as u8;
    }
    let pool = |method: u32, out: u64| {
        TaskWords::new(0x60)
            .w(&ppu::S_POINTER, 0x0e)
            .w(&ppu_rdma::S_POINTER, 0x0e)
            .w(&ppu::DATA_CUBE_IN_WIDTH, 1)
            .w(&ppu::DATA_CUBE_IN_HEIGHT, 1)
            .w(&ppu::DATA_CUBE_IN_CHANNEL, 15)
            .w(&ppu::DATA_CUBE_OUT_WIDTH, 0)
            .w(&ppu::DATA_CUBE_OUT_HEIGHT, 0)
            .w(&ppu::DATA_CUBE_OUT_CHANNEL, 15)
            .w(&ppu::OPERATION_MODE_CFG, 0x10 | method)
            .w(&ppu::POOLING_KERNEL_CFG, 0x110101)
            .w(&ppu::RECIP_KERNEL_WIDTH, 0x8000)
            .w(&ppu::RECIP_KERNEL_HEIGHT, 0x8000)
            .w(&ppu::DST_BASE_ADDR, out as u32)
            .w(&ppu::DST_SURF_STRIDE, 16)
            .w(&ppu_rdma::CUBE_IN_WIDTH, 1)
            .w(&ppu_rdma::CUBE_IN_HEIGHT, 1)
            .w(&ppu_rdma::CUBE_IN_CHANNEL, 15)
            .w(&ppu_rdma::SRC_BASE_ADDR, base as u32)
            .w(&ppu_rdma::SRC_LINE_STRIDE, 32)
            .w(&ppu_rdma::SRC_SURF_STRIDE, 64)
            .w(&ppu_rdma::DATA_FORMAT, 1)
    };
    Program::build(&d, &[pool(1, base + 256), pool(0, base + 512)])
        .run(&d, 0, 2)
        .unwrap();
    let m = mem.as_slice();
    assert_eq!((m[256] as i8, m[257] as i8), (8, 2));
    // Means 2 and 1.75: ties and fractions round to nearest (even).
    assert_eq!((m[512] as i8, m[513] as i8), (2, 2));
}

#[test]
fn the_cna_converts_unsigned_input_as_mesa_programs_it() {
    // A 1x1 identity convolution (weights 1, DPU bypassed) of one pixel of
    // uint8 values 200 and 3 with CVT offset -128, scale 16384, truncate 14.
    let d = dev();
    let mut mem = d.alloc(4096).unwrap();
    let base = mem.dev_addr();
    let m = mem.as_mut_slice();
    m[0] = 200;
    m[1] = 3;
    m[256] = 1;
    m[256 + 16 + 1] = 1;
    let cvt = 0x1_0000 * 16384 + 0xff80;
    let conv = TaskWords::new(0x1d)
        .w(&dpu::S_POINTER, 0x0e)
        .w(&cna::CONV_CON1, 0)
        .w(&cna::CONV_CON3, 0x9)
        .w(&cna::DATA_SIZE0, (1 << 16) | 1)
        .w(&cna::DATA_SIZE1, (1 << 16) | 16)
        .w(&cna::DATA_SIZE2, 1)
        .w(&cna::DATA_SIZE3, 1)
        .w(&cna::WEIGHT_SIZE0, 32)
        .w(&cna::WEIGHT_SIZE1, 16)
        .w(&cna::WEIGHT_SIZE2, (1 << 24) | (1 << 16) | 2)
        .w(&cna::CVT_CON0, (14 << 4) | (14 << 10))
        .w(&cna::CVT_CON1, cvt)
        .w(&cna::CVT_CON2, cvt)
        .w(&cna::FEATURE_DATA_ADDR, base as u32)
        .w(&cna::DMA_CON1, 4)
        .w(&cna::DMA_CON2, (-3i32 as u32) & 0x0fff_ffff)
        .w(&cna::DCOMP_ADDR0, (base + 256) as u32)
        .w(&core::MISC_CFG, 1)
        .w(&core::DATAOUT_SIZE_1, 15)
        .w(&dpu::FEATURE_MODE_CFG, 0x1e4)
        .w(&dpu::DST_BASE_ADDR, (base + 1024) as u32)
        .w(&dpu::DST_SURF_STRIDE, 16)
        .w(&dpu::DATA_CUBE_CHANNEL, 15)
        .w(&dpu::BS_CFG, 0x53)
        .w(&dpu::BN_CFG, 0x53)
        .w(&dpu::EW_CFG, 0x383)
        .w(&dpu::OUT_CVT_SCALE, 1)
        .w(&dpu::WDMA_SIZE_0, 15)
        .w(&dpu_rdma::ERDMA_CFG, 1);
    Program::build(&d, &[conv]).run(&d, 0, 1).unwrap();
    let out = &mem.as_slice()[1024..1026];
    assert_eq!((out[0] as i8, out[1] as i8), (72, -125));
}
