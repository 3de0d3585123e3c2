//! Golden tests of the element-wise, normalization, reduction, movement and
//! conversion kernels against onnxruntime. The data is made by
//! `tests/golden/gen_kernels_b.py` (`tests/golden/ops/b_*/`).

use std::path::{Path, PathBuf};

use rknnrt::graph::{DType, Op, Quant, TensorInfo};
use rknnrt::kernels::{execute, In, Out};
use serde::Deserialize;

#[derive(Deserialize)]
struct TensorFile {
    file: String,
    shape: Vec<usize>,
    dtype: DType,
    quant: Option<Quant>,
}

#[derive(Deserialize)]
struct Case {
    op: Op,
    inputs: Vec<TensorFile>,
    outputs: Vec<TensorFile>,
    tol: String,
}

/// Bytes in an 8-aligned buffer (kernels view data as typed slices).
struct Aligned {
    words: Vec<u64>,
    len: usize,
}

impl Aligned {
    fn new(len: usize) -> Aligned {
        Aligned {
            words: vec![0; len.div_ceil(8)],
            len,
        }
    }

    fn from(bytes: &[u8]) -> Aligned {
        let mut a = Aligned::new(bytes.len());
        a.bytes_mut().copy_from_slice(bytes);
        a
    }

    fn bytes(&self) -> &[u8] {
        &bytemuck::cast_slice(&self.words)[..self.len]
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut bytemuck::cast_slice_mut(&mut self.words)[..self.len]
    }
}

fn info(t: &TensorFile) -> TensorInfo {
    let mut i = TensorInfo::activation(t.file.clone(), t.shape.clone(), t.dtype);
    i.quant = t.quant.clone();
    i
}

fn to_f64(dtype: DType, b: &[u8]) -> Vec<f64> {
    match dtype {
        DType::F32 => b
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64)
            .collect(),
        DType::F16 => b
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes(c.try_into().unwrap()).to_f64())
            .collect(),
        DType::I8 => b.iter().map(|&v| v as i8 as f64).collect(),
        DType::U8 => b.iter().map(|&v| v as f64).collect(),
        other => panic!("no numeric comparison for {other:?}"),
    }
}

/// Compares one output; returns a description of the first mismatch.
fn compare(tol: &str, dtype: DType, got: &[u8], want: &[u8]) -> Result<(), String> {
    if got.len() != want.len() {
        return Err(format!("{} bytes, want {}", got.len(), want.len()));
    }
    if tol == "exact" {
        return match got.iter().zip(want).position(|(g, w)| g != w) {
            None => Ok(()),
            Some(i) => Err(format!("byte {i}: got {}, want {}", got[i], want[i])),
        };
    }
    let (g, w) = (to_f64(dtype, got), to_f64(dtype, want));
    for (i, (g, w)) in g.iter().zip(&w).enumerate() {
        let ok = match tol {
            "f32" => (g - w).abs() <= 1e-5 * w.abs() + 1e-6,
            "q1" => (g - w).abs() <= 1.0,
            other => return Err(format!("unknown tolerance {other}")),
        };
        if !ok {
            return Err(format!("element {i}: got {g}, want {w}"));
        }
    }
    Ok(())
}

fn run_case(dir: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(dir.join("case.json")).map_err(|e| e.to_string())?;
    let case: Case = serde_json::from_str(&text).map_err(|e| format!("case.json: {e}"))?;
    let read = |t: &TensorFile| -> Result<Aligned, String> {
        let b = std::fs::read(dir.join(&t.file)).map_err(|e| format!("{}: {e}", t.file))?;
        Ok(Aligned::from(&b))
    };
    let in_infos: Vec<TensorInfo> = case.inputs.iter().map(info).collect();
    let out_infos: Vec<TensorInfo> = case.outputs.iter().map(info).collect();
    let in_data = case
        .inputs
        .iter()
        .map(read)
        .collect::<Result<Vec<_>, _>>()?;
    let want = case
        .outputs
        .iter()
        .map(read)
        .collect::<Result<Vec<_>, _>>()?;
    let mut out_data: Vec<Aligned> = out_infos.iter().map(|i| Aligned::new(i.bytes())).collect();
    {
        let ins: Vec<In<'_>> = in_infos
            .iter()
            .zip(&in_data)
            .map(|(info, d)| In {
                info,
                data: d.bytes(),
            })
            .collect();
        let mut outs: Vec<Out<'_>> = out_infos
            .iter()
            .zip(out_data.iter_mut())
            .map(|(info, d)| Out {
                info,
                data: d.bytes_mut(),
            })
            .collect();
        execute(&case.op, &ins, &mut outs).map_err(|e| format!("execute: {e}"))?;
    }
    for (k, ((o, w), info)) in out_data.iter().zip(&want).zip(&out_infos).enumerate() {
        compare(&case.tol, info.dtype, o.bytes(), w.bytes())
            .map_err(|e| format!("output {k}: {e}"))?;
    }
    Ok(())
}

fn case_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/ops");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("tests/golden/ops")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("b_"))
        })
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn kernels_b_match_onnxruntime() {
    let dirs = case_dirs();
    assert!(dirs.len() >= 100, "only {} golden cases found", dirs.len());
    let failures: Vec<String> = dirs
        .iter()
        .filter_map(|d| {
            run_case(d)
                .err()
                .map(|e| format!("{}: {e}", d.file_name().unwrap().to_string_lossy()))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        dirs.len(),
        failures.join("\n")
    );
}

#[test]
fn case_ops_use_the_serde_form() {
    // Every case's op re-serializes to JSON that parses back to the same op,
    // so the files use exactly `serde_json::to_string(&Op)`'s vocabulary.
    for d in case_dirs() {
        let text = std::fs::read_to_string(d.join("case.json")).unwrap();
        let case: Case = serde_json::from_str(&text).unwrap();
        let again: Op = serde_json::from_str(&serde_json::to_string(&case.op).unwrap()).unwrap();
        assert_eq!(again, case.op, "{}", d.display());
    }
}
