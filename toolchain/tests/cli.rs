//! The `rknn-convert` binary: infer on a ModelBuilder-built model, the
//! build/yml/accuracy flow on an ONNX test model, and the error cases
//! (one line on stderr, exit status 1).

use std::path::{Path, PathBuf};

// The program runner of the root crate's tests (qemu-user on cross
// targets), so the CLI binary runs under the same emulator as the tests.
#[path = "../../tests/cross/mod.rs"]
mod cross;

use rknn_toolchain::calibrate::{self, CalibOptions};
use rknn_toolchain::cli::infer;
use rknn_toolchain::dataset::RawInput;
use rknn_toolchain::npy::NpyArray;
use rknn_toolchain::{BuiltModel, ConvParams, ModelBuilder, Weights};
use rknnrt::graph::{DType, Layout};
use rknnrt::model::Model;
use rknnrt::platform::Platform;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn cli(args: &[&str]) -> Run {
    let out = cross::command(env!("CARGO_BIN_EXE_rknn-convert"))
        .args(args)
        .output()
        .expect("run rknn-convert");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `args`, expects exit status 1 and one stderr line containing all
/// of `parts`.
fn fails(args: &[&str], parts: &[&str]) -> String {
    let r = cli(args);
    assert_eq!(
        r.code, 1,
        "{args:?}: stdout {} stderr {}",
        r.stdout, r.stderr
    );
    let line = r.stderr.trim_end();
    assert_eq!(line.lines().count(), 1, "one line: {line}");
    assert!(line.starts_with("rknn-convert: error: "), "{line}");
    for p in parts {
        assert!(line.contains(p), "{line} should contain {p}");
    }
    line.to_string()
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rknn-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// conv(relu) -> global average pool, input x [1, 2, 6, 6].
fn float_model() -> BuiltModel {
    let mut b = ModelBuilder::new(Platform::Rk3588);
    let x = b.input("x", &[1, 2, 6, 6]).unwrap();
    let w: Vec<f32> = (0..3 * 2 * 9)
        .map(|i| ((i * 7) % 11) as f32 / 10.0 - 0.5)
        .collect();
    let w = Weights::new(&[3, 2, 3, 3], w).unwrap();
    let y = b
        .conv2d(
            x,
            w,
            Some(vec![0.1, -0.2, 0.3]),
            ConvParams::default().pads(1).relu(),
        )
        .unwrap();
    let p = b.global_avg_pool(y).unwrap();
    b.set_name(p, "pooled").unwrap();
    b.output(p).unwrap();
    b.build().unwrap()
}

fn input_values(seed: usize) -> Vec<f32> {
    (0..72)
        .map(|i| (((i + seed) * 37) % 19) as f32 / 9.0 - 1.0)
        .collect()
}

fn int8_model(float: &BuiltModel) -> BuiltModel {
    let samples: Vec<Vec<Vec<f32>>> = (0..4).map(|k| vec![input_values(k)]).collect();
    let opts = CalibOptions {
        progress: false,
        ..CalibOptions::default()
    };
    calibrate::quantize(float, &samples, &opts).unwrap()
}

#[test]
fn infer_writes_the_runtime_outputs_as_npy() {
    let d = tmp("infer");
    let q = int8_model(&float_model());
    let model = d.join("m.rknn");
    q.save(&model).unwrap();
    let x = d.join("x.npy");
    NpyArray::from_f32(&[1, 2, 6, 6], &input_values(9))
        .write(&x)
        .unwrap();
    let out = d.join("out");
    let r = cli(&["infer", s(&model), "--input", s(&x), "--out-dir", s(&out)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("pooled"), "{}", r.stdout);
    let got = NpyArray::read(&out.join("pooled.npy")).unwrap();
    assert_eq!(got.shape, vec![1, 3, 1, 1]);
    let raw = RawInput {
        dtype: DType::F32,
        layout: Layout::Nchw,
        shape: vec![1, 2, 6, 6],
        bytes: input_values(9)
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
    };
    let lib = infer::run(Model::load(Box::new(q.write().unwrap())).unwrap(), &[raw]).unwrap();
    assert_eq!(got.to_f32(), lib[0].values);

    // Error cases: wrong shape, missing file, wrong count, bad model.
    let wrong = d.join("wrong.npy");
    NpyArray::from_f32(&[1, 2, 5, 5], &[0.0; 50])
        .write(&wrong)
        .unwrap();
    fails(
        &[
            "infer",
            s(&model),
            "--input",
            s(&wrong),
            "--out-dir",
            s(&out),
        ],
        &[
            "wrong.npy",
            "shape [1, 2, 5, 5] does not match input 'x' [1, 2, 6, 6]",
        ],
    );
    fails(
        &[
            "infer",
            s(&model),
            "--input",
            "/nonexistent/a.npy",
            "--out-dir",
            s(&out),
        ],
        &["/nonexistent/a.npy: file not found"],
    );
    fails(
        &[
            "infer",
            s(&model),
            "--input",
            s(&x),
            "--input",
            s(&x),
            "--out-dir",
            s(&out),
        ],
        &["2 input file(s) for a model with 1 input(s)"],
    );
    let truncated = d.join("truncated.rknn");
    std::fs::write(&truncated, &q.write().unwrap()[..40]).unwrap();
    fails(
        &[
            "infer",
            s(&truncated),
            "--input",
            s(&x),
            "--out-dir",
            s(&out),
        ],
        &["truncated.rknn"],
    );
}

#[test]
fn build_and_yml_errors_are_one_line() {
    let d = tmp("errors");
    let out = d.join("m.rknn");
    fails(
        &[
            "build",
            "/nonexistent/model.onnx",
            "-t",
            "rk3588",
            "-o",
            s(&out),
        ],
        &["/nonexistent/model.onnx: file not found"],
    );
    let onnx = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/models/resnet18/model.onnx");
    let bytes = std::fs::read(&onnx).unwrap();
    let truncated = d.join("truncated.onnx");
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    fails(
        &["build", s(&truncated), "-t", "rk3588", "-o", s(&out)],
        &["truncated.onnx"],
    );
    fails(
        &["build", s(&onnx), "-t", "rk9999", "-o", s(&out)],
        &["unknown target platform 'rk9999'"],
    );
    fails(
        &[
            "build",
            s(&onnx),
            "-t",
            "rk3588",
            "--dataset",
            "d.txt",
            "--algorithm",
            "best",
            "-o",
            s(&out),
        ],
        &["unknown quantized_algorithm 'best'"],
    );
    fails(
        &[
            "build",
            s(&onnx),
            "-t",
            "rk3588",
            "--input-shape",
            "input:1,3",
            "-o",
            s(&out),
        ],
        &["--input-shape 'input:1,3'"],
    );
    let yml = d.join("model_config.yml");
    std::fs::write(
        &yml,
        "models:\n  name: m\n  platform: onnx\n  model_file_path: m.onnx\n  quantize: false\n  configs:\n    mean_value: [0, 0, 0]\n",
    )
    .unwrap();
    fails(
        &["-t", "rk3588", "-i", s(&yml), "-o", s(&d)],
        &["unknown key 'models.configs.mean_value'"],
    );
    fails(
        &["-t", "rk3588", "-i", "/nonexistent/c.yml", "-o", s(&d)],
        &["/nonexistent/c.yml"],
    );
    assert!(!out.exists(), "no model written on error");
}

/// The ONNX flow: build (int8, dataset), a wrong-shape dataset line,
/// yml mode (fp16), infer and accuracy on resnet18.
#[test]
fn onnx_build_yml_infer_and_accuracy() {
    let d = tmp("onnx");
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/models/resnet18");
    let onnx = models.join("model.onnx");
    let int8 = d.join("r18.rknn");
    let r = cli(&[
        "build",
        s(&onnx),
        "-t",
        "rk3588",
        "--dataset",
        s(&models.join("dataset.txt")),
        "--algorithm",
        "mmse",
        "--custom-string",
        "hello",
        "--no-progress",
        "-o",
        s(&int8),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for part in [
        "Conv",
        "NPU",
        "model size:",
        "internal memory:",
        "naive sum",
        "wall time:",
    ] {
        assert!(
            r.stdout.contains(part),
            "summary lacks {part}: {}",
            r.stdout
        );
    }

    // A dataset whose second line has the wrong shape.
    let wrong = d.join("wrong.npy");
    NpyArray::from_f32(&[1, 3, 16, 16], &[0.0; 768])
        .write(&wrong)
        .unwrap();
    let ds = d.join("dataset.txt");
    std::fs::write(
        &ds,
        format!("{}\nwrong.npy\n", s(&models.join("calib_0.npy"))),
    )
    .unwrap();
    fails(
        &[
            "build",
            s(&onnx),
            "-t",
            "rk3588",
            "--dataset",
            s(&ds),
            "--no-progress",
            "-o",
            s(&d.join("x.rknn")),
        ],
        &[
            "dataset.txt: line 2: ",
            "wrong.npy: shape [1, 3, 16, 16] does not match input",
        ],
    );

    // yml mode: fp16.
    std::fs::copy(&onnx, d.join("net.onnx")).unwrap();
    let yml = d.join("model_config.yml");
    std::fs::write(
        &yml,
        "models:\n  name: r18_fp16\n  platform: onnx\n  model_file_path: ./net.onnx\n  quantize: false\n  configs:\n    optimization_level: 3\n",
    )
    .unwrap();
    let out_dir = d.join("out");
    let r = cli(&[
        "-t",
        "rk3588",
        "-i",
        s(&yml),
        "-o",
        s(&out_dir),
        "--no-progress",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("warning: configs.optimization_level"),
        "{}",
        r.stderr
    );
    assert!(out_dir.join("r18_fp16.rknn").is_file());

    // infer and accuracy.
    let x = models.join("test_0.npy");
    let r = cli(&[
        "infer",
        s(&int8),
        "--input",
        s(&x),
        "--out-dir",
        s(&d.join("inf")),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let got = NpyArray::read(&d.join("inf/logits.npy")).unwrap().to_f32();
    let want = NpyArray::read(&models.join("test_0_out_0.npy"))
        .unwrap()
        .to_f32();
    let cos = rknn_toolchain::accuracy::cosine(&want, &got);
    assert!(cos > 0.99, "{cos}");
    let snap = d.join("snapshot");
    let r = cli(&[
        "accuracy",
        s(&onnx),
        "--rknn",
        s(&int8),
        "--input",
        s(&x),
        "--out-dir",
        s(&snap),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = std::fs::read_to_string(snap.join("error_analysis.txt")).unwrap();
    assert!(
        text.contains("worst layer (single error): [Conv]"),
        "{text}"
    );
    assert!(text.contains("output logits: cos 0.99"), "{text}");
    assert!(r.stdout.contains("[Input] input"), "{}", r.stdout);
}
