//! Golden tests of the Conv / ConvTranspose / Gemm / MatMul / pooling
//! kernels against onnxruntime. The data is made by
//! `tests/golden/gen_kernels_a.py` (every `tests/golden/ops/a_*` case).

use std::path::{Path, PathBuf};

use rknnrt::graph::{DType, Op, Quant, TensorInfo};
use rknnrt::kernels::{execute, In, Out};
use serde::Deserialize;

#[derive(Deserialize)]
struct TensorFile {
    file: String,
    shape: Vec<usize>,
    dtype: String,
    quant: Option<Quant>,
}

#[derive(Deserialize)]
struct Case {
    op: Op,
    inputs: Vec<TensorFile>,
    outputs: Vec<TensorFile>,
    /// fp32: relative tolerance; int8: allowed difference in steps.
    tolerance: f64,
}

/// A tensor's description and its bytes in a 4-byte aligned buffer.
struct Loaded {
    info: TensorInfo,
    words: Vec<u32>,
}

impl Loaded {
    fn bytes(&self) -> &[u8] {
        &bytemuck::cast_slice(&self.words)[..self.info.bytes()]
    }
}

fn dtype(name: &str) -> DType {
    match name {
        "f32" => DType::F32,
        "i8" => DType::I8,
        "i32" => DType::I32,
        other => panic!("unknown dtype {other}"),
    }
}

fn load(dir: &Path, t: &TensorFile, read_data: bool) -> Loaded {
    let mut info = TensorInfo::activation(t.file.clone(), t.shape.clone(), dtype(&t.dtype));
    info.quant = t.quant.clone();
    let mut words = vec![0u32; info.bytes().div_ceil(4)];
    if read_data {
        let raw = std::fs::read(dir.join(&t.file)).expect("read tensor file");
        assert_eq!(
            raw.len(),
            info.bytes(),
            "{}: size of {}",
            dir.display(),
            t.file
        );
        bytemuck::cast_slice_mut::<u32, u8>(&mut words)[..raw.len()].copy_from_slice(&raw);
    }
    Loaded { info, words }
}

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/ops");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("golden directory")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("a_"))
        })
        .collect();
    dirs.sort();
    dirs
}

/// Runs one case; returns a description of the mismatch, if any.
fn check(dir: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(dir.join("case.json")).map_err(|e| e.to_string())?;
    let case: Case = serde_json::from_str(&text).map_err(|e| format!("case.json: {e}"))?;
    let inputs: Vec<Loaded> = case.inputs.iter().map(|t| load(dir, t, true)).collect();
    let expected: Vec<Loaded> = case.outputs.iter().map(|t| load(dir, t, true)).collect();
    let mut outputs: Vec<Loaded> = case.outputs.iter().map(|t| load(dir, t, false)).collect();
    {
        let ins: Vec<In<'_>> = inputs
            .iter()
            .map(|t| In {
                info: &t.info,
                data: t.bytes(),
            })
            .collect();
        let mut outs: Vec<Out<'_>> = outputs
            .iter_mut()
            .map(|t| {
                let len = t.info.bytes();
                Out {
                    info: &t.info,
                    data: &mut bytemuck::cast_slice_mut(&mut t.words)[..len],
                }
            })
            .collect();
        execute(&case.op, &ins, &mut outs).map_err(|e| format!("execute: {e}"))?;
    }
    for (got, want) in outputs.iter().zip(&expected) {
        match got.info.dtype {
            DType::F32 => {
                let g: &[f32] = bytemuck::cast_slice(got.bytes());
                let w: &[f32] = bytemuck::cast_slice(want.bytes());
                let scale = w.iter().fold(1f32, |m, v| m.max(v.abs())) as f64;
                for (i, (a, b)) in g.iter().zip(w).enumerate() {
                    let err = (*a as f64 - *b as f64).abs();
                    if err > case.tolerance * scale {
                        return Err(format!("element {i}: got {a}, want {b}"));
                    }
                }
            }
            DType::I8 => {
                let g: &[i8] = bytemuck::cast_slice(got.bytes());
                let w: &[i8] = bytemuck::cast_slice(want.bytes());
                for (i, (a, b)) in g.iter().zip(w).enumerate() {
                    if (*a as i32 - *b as i32).abs() as f64 > case.tolerance {
                        return Err(format!("element {i}: got {a}, want {b}"));
                    }
                }
            }
            other => return Err(format!("unexpected output type {other:?}")),
        }
    }
    Ok(())
}

#[test]
fn kernels_a_match_onnxruntime() {
    let dirs = cases();
    assert!(
        dirs.len() >= 30,
        "expected the a_* golden cases, found {}",
        dirs.len()
    );
    let failures: Vec<String> = dirs
        .iter()
        .filter_map(|d| check(d).err().map(|e| format!("{}: {e}", d.display())))
        .collect();
    assert!(
        failures.is_empty(),
        "golden mismatches:\n{}",
        failures.join("\n")
    );
}
