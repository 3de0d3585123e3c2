//! `cargo bench --bench gemm`: the fast GEMM kernels on the matmul API's
//! benchmark shapes, fp16 → fp32 and int8 → int32, with B row-major
//! (packed on every call, the `NORM` case) and pre-packed (what the
//! `NATIVE` layout amounts to). Reports median GOPS, the percentage of
//! this machine's peak measured in the same run (a tight FMA / VNNI loop
//! on every core used), and the ratio to onnxruntime's MatMul /
//! MatMulInteger on the same shapes (`benches/ort_matmul.py`).
//!
//! `GEMM_BENCH_SHAPES="M,K,N M,K,N"` overrides the shapes and
//! `GEMM_BENCH_THREADS=N` forces the thread count (default: automatic).

use std::collections::HashMap;
use std::hint::black_box;
use std::process::Command;
use std::time::Instant;

use half::f16;
use rknnrt::kernels::fast_gemm::{
    gemm_f32, gemm_i8, threads, FloatA, FloatB, FloatIsa, IntIsa, MatRef, PackedB, PackedI8B,
    Threads,
};

const SHAPES: [(usize, usize, usize); 4] = [
    (1, 4096, 4096),
    (64, 4096, 4096),
    (256, 256, 256),
    (512, 3840, 4096),
];

/// Median seconds of `f` over enough repetitions for ~0.6 s (3 to 50).
fn median_secs(mut f: impl FnMut()) -> f64 {
    f();
    let t = Instant::now();
    f();
    let once = t.elapsed().as_secs_f64();
    let reps = ((0.6 / once.max(1e-6)) as usize).clamp(3, 50);
    let mut v: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs `per_thread(iters)` (which returns its op count) on `cores`
/// threads at once, each timing its own loop, and returns the best summed
/// GOPS of many short rounds (short rounds, like the median of short GEMM
/// runs, are mostly not preempted on a shared machine).
fn peak(cores: usize, per_thread: fn(u64) -> f64) -> f64 {
    let iters = 200_000u64;
    (0..40)
        .map(|_| {
            std::thread::scope(|s| {
                let hs: Vec<_> = (0..cores)
                    .map(|_| {
                        s.spawn(move || {
                            let t = Instant::now();
                            let ops = per_thread(iters);
                            ops / t.elapsed().as_secs_f64() / 1e9
                        })
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap_or(0.0)).sum::<f64>()
            })
        })
        .fold(0.0, f64::max)
}

/// Peak loops (AVX-512 intrinsics are stable since Rust 1.89).
#[cfg(target_arch = "x86_64")]
mod peak_x86 {
    use std::arch::x86_64::*;
    use std::hint::black_box;

    /// 12 independent zmm FMA chains; returns flops.
    pub fn fma512(iters: u64) -> f64 {
        // SAFETY: only called when AVX-512F is detected.
        unsafe { fma512_inner(iters) }
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn fma512_inner(iters: u64) -> f64 {
        let x = _mm512_set1_ps(black_box(1.0000001));
        let y = _mm512_set1_ps(black_box(0.9999999));
        let mut acc = [_mm512_set1_ps(black_box(0.5)); 12];
        for _ in 0..iters {
            for a in acc.iter_mut() {
                *a = _mm512_fmadd_ps(*a, x, y);
            }
        }
        black_box(
            acc.iter()
                .fold(_mm512_setzero_ps(), |s, &a| _mm512_add_ps(s, a)),
        );
        iters as f64 * 12.0 * 16.0 * 2.0
    }

    /// 12 independent ymm FMA chains; returns flops.
    pub fn fma256(iters: u64) -> f64 {
        // SAFETY: only called when AVX2 and FMA are detected.
        unsafe { fma256_inner(iters) }
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn fma256_inner(iters: u64) -> f64 {
        let x = _mm256_set1_ps(black_box(1.0000001));
        let y = _mm256_set1_ps(black_box(0.9999999));
        let mut acc = [_mm256_set1_ps(black_box(0.5)); 12];
        for _ in 0..iters {
            for a in acc.iter_mut() {
                *a = _mm256_fmadd_ps(*a, x, y);
            }
        }
        black_box(
            acc.iter()
                .fold(_mm256_setzero_ps(), |s, &a| _mm256_add_ps(s, a)),
        );
        iters as f64 * 12.0 * 8.0 * 2.0
    }

    /// 12 independent `vpdpbusd` chains; returns int8 ops (2 per MAC).
    pub fn vnni(iters: u64) -> f64 {
        // SAFETY: only called when AVX-512 VNNI is detected.
        unsafe { vnni_inner(iters) }
    }

    #[target_feature(enable = "avx512f,avx512vnni")]
    unsafe fn vnni_inner(iters: u64) -> f64 {
        let x = _mm512_set1_epi32(black_box(0x0102_0304));
        let y = _mm512_set1_epi32(black_box(0x0506_0708));
        let mut acc = [_mm512_set1_epi32(black_box(1)); 12];
        for _ in 0..iters {
            for a in acc.iter_mut() {
                *a = _mm512_dpbusd_epi32(*a, x, y);
            }
        }
        black_box(
            acc.iter()
                .fold(_mm512_setzero_si512(), |s, &a| _mm512_add_epi32(s, a)),
        );
        iters as f64 * 12.0 * 64.0 * 2.0
    }

    /// 12 independent `vpmaddwd` + `vpaddd` chains (the AVX2 int8 path's
    /// inner pair); returns int8 ops (2 per MAC).
    pub fn maddwd(iters: u64) -> f64 {
        // SAFETY: only called when AVX2 is detected.
        unsafe { maddwd_inner(iters) }
    }

    #[target_feature(enable = "avx2")]
    unsafe fn maddwd_inner(iters: u64) -> f64 {
        let x = _mm256_set1_epi16(black_box(3));
        let mut acc = [_mm256_set1_epi32(black_box(1)); 12];
        for _ in 0..iters {
            for a in acc.iter_mut() {
                *a = _mm256_add_epi32(*a, _mm256_madd_epi16(x, x));
            }
        }
        black_box(
            acc.iter()
                .fold(_mm256_setzero_si256(), |s, &a| _mm256_add_epi32(s, a)),
        );
        iters as f64 * 12.0 * 16.0 * 2.0
    }
}

/// Peak f32 and int8 GOPS for the kernel families in use.
fn peaks(cores: usize) -> (Option<f64>, Option<f64>) {
    #[cfg(target_arch = "x86_64")]
    {
        let f = match FloatIsa::best() {
            FloatIsa::Avx512 => Some(peak(cores, peak_x86::fma512)),
            FloatIsa::Avx2 => Some(peak(cores, peak_x86::fma256)),
            _ => None,
        };
        let i = match IntIsa::best() {
            IntIsa::Avx512Vnni => Some(peak(cores, peak_x86::vnni)),
            IntIsa::Avx2 => Some(peak(cores, peak_x86::maddwd)),
            _ => None,
        };
        (f, i)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        (None, None)
    }
}

/// onnxruntime GOPS by (kind, m, k, n).
type OrtTable = HashMap<(String, usize, usize, usize), f64>;

/// onnxruntime GOPS by (kind, m, k, n), or why there are none.
fn ort(shapes: &[(usize, usize, usize)]) -> Result<OrtTable, String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/ort_matmul.py");
    let args: Vec<String> = shapes
        .iter()
        .map(|(m, k, n)| format!("{m},{k},{n}"))
        .collect();
    let out = Command::new("python3")
        .arg(script)
        .args(&args)
        .output()
        .map_err(|e| format!("python3 not runnable: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if let Some(line) = text.lines().find(|l| l.starts_with("ort unavailable")) {
        return Err(line.to_string());
    }
    let mut map = HashMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if let [_, kind, m, k, n, g] = f.as_slice() {
            if let (Ok(m), Ok(k), Ok(n), Ok(g)) = (m.parse(), k.parse(), n.parse(), g.parse()) {
                map.insert((kind.to_string(), m, k, n), g);
            }
        }
    }
    if map.is_empty() {
        return Err(format!(
            "no results from {script}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(map)
}

fn shapes() -> Vec<(usize, usize, usize)> {
    let Ok(s) = std::env::var("GEMM_BENCH_SHAPES") else {
        return SHAPES.to_vec();
    };
    s.split_whitespace()
        .filter_map(|t| {
            let v: Vec<usize> = t.split(',').filter_map(|x| x.parse().ok()).collect();
            match v.as_slice() {
                [m, k, n] => Some((*m, *k, *n)),
                _ => None,
            }
        })
        .collect()
}

struct Row {
    shape: (usize, usize, usize),
    what: &'static str,
    gops: f64,
    peak: Option<f64>,
    ort: Option<f64>,
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let shapes = shapes();
    let threads = std::env::var("GEMM_BENCH_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .map_or(Threads::Auto, Threads::Fixed);
    let mut seed = 0x1234_5678u32;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    println!(
        "gemm bench: {} cores, float kernels {:?}, int8 kernels {:?}",
        threads::cores(),
        FloatIsa::best(),
        IntIsa::best()
    );
    let show = |p: Option<f64>| p.map_or("n/a".to_string(), |p| format!("{p:.1} GOPS"));
    let ort = ort(&shapes);
    if let Err(e) = &ort {
        println!("onnxruntime: not measured ({e}); ratios omitted");
    }
    let ort_of = |kind: &str, (m, k, n): (usize, usize, usize)| {
        ort.as_ref()
            .ok()
            .and_then(|map| map.get(&(kind.to_string(), m, k, n)).copied())
    };
    let mut rows = Vec::new();
    for &(m, k, n) in &shapes {
        // The machine may be shared: the peak is re-measured next to
        // every shape so both see the same load.
        let used = match threads {
            Threads::Fixed(t) => t.clamp(1, threads::cores()),
            Threads::Auto => threads::cores(),
        };
        let (fpeak, ipeak) = peaks(used);
        println!(
            "{m},{k},{n}: peak ({used} threads) f32 FMA {}, int8 {}",
            show(fpeak),
            show(ipeak)
        );
        let ops = 2.0 * (m * k * n) as f64;
        let ah: Vec<f16> = (0..m * k)
            .map(|_| f16::from_f32((rnd() % 2001) as f32 / 1000.0 - 1.0))
            .collect();
        let bh: Vec<f16> = (0..k * n)
            .map(|_| f16::from_f32((rnd() % 2001) as f32 / 1000.0 - 1.0))
            .collect();
        let a = FloatA::F16(MatRef::row_major(&ah, k));
        let bm = FloatB::F16(MatRef::row_major(&bh, n));
        let mut c = vec![0f32; m * n];
        let packed = PackedB::pack(k, n, bm).expect("pack f16 B");
        let t = median_secs(|| {
            let p = PackedB::pack(k, n, bm).expect("pack f16 B");
            gemm_f32(m, a, &p, &mut c, n, threads).expect("f16 gemm");
            black_box(&c);
        });
        let ort_f16 = ort_of("f16", (m, k, n));
        rows.push(Row {
            shape: (m, k, n),
            what: "f16->f32 NORM",
            gops: ops / t / 1e9,
            peak: fpeak,
            ort: ort_f16,
        });
        let t = median_secs(|| {
            gemm_f32(m, a, &packed, &mut c, n, threads).expect("f16 gemm");
            black_box(&c);
        });
        rows.push(Row {
            shape: (m, k, n),
            what: "f16->f32 packed",
            gops: ops / t / 1e9,
            peak: fpeak,
            ort: ort_f16,
        });
        drop(packed);

        let ai: Vec<i8> = (0..m * k).map(|_| rnd() as i8).collect();
        let bi: Vec<i8> = (0..k * n).map(|_| rnd() as i8).collect();
        let a = MatRef::row_major(&ai, k);
        let b = MatRef::row_major(&bi, n);
        let mut c = vec![0i32; m * n];
        let packed = PackedI8B::pack(k, n, b).expect("pack int8 B");
        let t = median_secs(|| {
            let p = PackedI8B::pack(k, n, b).expect("pack int8 B");
            gemm_i8(m, a, &[3], &p, &[-5], &mut c, n, threads).expect("int8 gemm");
            black_box(&c);
        });
        let ort_i8 = ort_of("i8", (m, k, n));
        rows.push(Row {
            shape: (m, k, n),
            what: "i8->i32 NORM",
            gops: ops / t / 1e9,
            peak: ipeak,
            ort: ort_i8,
        });
        let t = median_secs(|| {
            gemm_i8(m, a, &[3], &packed, &[-5], &mut c, n, threads).expect("int8 gemm");
            black_box(&c);
        });
        rows.push(Row {
            shape: (m, k, n),
            what: "i8->i32 packed",
            gops: ops / t / 1e9,
            peak: ipeak,
            ort: ort_i8,
        });
    }
    println!();
    println!("| M,K,N | kernel | GOPS | % of peak | ORT GOPS | ratio vs ORT |");
    println!("|---|---|---:|---:|---:|---:|");
    for r in &rows {
        let (m, k, n) = r.shape;
        let pct = r
            .peak
            .map_or("n/a".into(), |p| format!("{:.1}", 100.0 * r.gops / p));
        let (og, ratio) = r.ort.map_or(("n/a".into(), "n/a".into()), |o| {
            (format!("{o:.1}"), format!("{:.2}x", r.gops / o))
        });
        println!(
            "| {m},{k},{n} | {} | {:.1} | {pct} | {og} | {ratio} |",
            r.what, r.gops
        );
    }
    if let Some(f32_ort) = shapes
        .iter()
        .find_map(|&s| ort_of("f32", s).map(|g| (s, g)))
    {
        println!(
            "\n(onnxruntime fp32 MatMul for reference, first shape {:?}: {:.1} GOPS)",
            f32_ort.0, f32_ort.1
        );
    }
}
