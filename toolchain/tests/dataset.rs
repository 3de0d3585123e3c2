//! `dataset.txt` loading: images and `.npy` files, pre-processing, several
//! inputs per line, and the error for every kind of bad line.

use std::path::{Path, PathBuf};

use rknn_toolchain::calibrate::Samples;
use rknn_toolchain::dataset::{Dataset, ImageOptions};
use rknn_toolchain::npy::NpyArray;
use rknn_toolchain::{BuiltModel, ModelBuilder};
use rknnrt::platform::Platform;

/// A fresh directory under the system temp dir.
fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rknn-dataset-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// x [1,3,4,6] with mean (10, 20, 30) and std 2 -> relu -> output; and
/// optionally a second input z [2, 5].
fn model(two_inputs: bool) -> BuiltModel {
    let mut b = ModelBuilder::new(Platform::Rk3588);
    let x = b.input("x", &[1, 3, 4, 6]).unwrap();
    b.mean_std(x, &[10.0, 20.0, 30.0], &[2.0]).unwrap();
    let y = b.relu(x).unwrap();
    b.output(y).unwrap();
    if two_inputs {
        let z = b.input("z", &[2, 5]).unwrap();
        let r = b.relu(z).unwrap();
        b.output(r).unwrap();
    }
    b.build().unwrap()
}

/// A 6x4 RGB image whose pixel (h, w) is (10h + w, 100 + w, 200 - h).
fn write_png(path: &Path, w: u32, h: u32) {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(10 * y + x) as u8, (100 + x) as u8, (200 - y) as u8])
    });
    img.save(path).unwrap();
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn images_become_normalised_nchw_values() {
    let d = tmp("images");
    write_png(&d.join("a.png"), 6, 4);
    let ds = Dataset::open(&write(&d, "dataset.txt", "# comment\n\na.png\n")).unwrap();
    assert_eq!(ds.lines.len(), 1);
    assert_eq!(ds.lines[0].number, 3);
    let m = model(false);
    let s = ds.samples(&m, ImageOptions::default()).unwrap();
    assert_eq!(s.count(), 1);
    let v = s.sample(0).unwrap().remove(0);
    assert_eq!(v.len(), 72);
    // NCHW: channel c, row h, column w at c*24 + h*6 + w.
    for h in 0..4 {
        for w in 0..6 {
            let px = [(10 * h + w) as f32, (100 + w) as f32, (200 - h) as f32];
            for c in 0..3 {
                let mean = [10.0, 20.0, 30.0][c];
                assert_eq!(
                    v[c * 24 + h * 6 + w],
                    (px[c] - mean) / 2.0,
                    "c{c} h{h} w{w}"
                );
            }
        }
    }
    let bgr = ds.samples(&m, ImageOptions { rgb2bgr: true }).unwrap();
    let b = bgr.sample(0).unwrap().remove(0);
    assert_eq!(b[0], (200.0 - 10.0) / 2.0, "blue goes to channel 0");

    // A larger image is resized to the input's H x W.
    write_png(&d.join("big.png"), 12, 8);
    let ds = Dataset::open(&write(&d, "big.txt", "big.png\n")).unwrap();
    let v = ds
        .samples(&m, ImageOptions::default())
        .unwrap()
        .sample(0)
        .unwrap();
    assert_eq!(v[0].len(), 72);
    assert!(v[0].iter().all(|x| x.is_finite()));
}

#[test]
fn npy_files_in_nchw_or_nhwc_and_several_inputs_per_line() {
    let d = tmp("npy");
    let nchw: Vec<f32> = (0..72).map(|i| i as f32).collect();
    NpyArray::from_f32(&[1, 3, 4, 6], &nchw)
        .write(&d.join("x.npy"))
        .unwrap();
    // The same tensor in NHWC order.
    let mut nhwc = vec![0f32; 72];
    for c in 0..3 {
        for p in 0..24 {
            nhwc[p * 3 + c] = nchw[c * 24 + p];
        }
    }
    NpyArray::from_f32(&[1, 4, 6, 3], &nhwc)
        .write(&d.join("x_nhwc.npy"))
        .unwrap();
    NpyArray::from_f32(&[2, 5], &[1.0; 10])
        .write(&d.join("z.npy"))
        .unwrap();
    let ds = Dataset::open(&write(&d, "d.txt", "x.npy z.npy\nx_nhwc.npy   z.npy\n")).unwrap();
    let m = model(true);
    let s = ds.samples(&m, ImageOptions::default()).unwrap();
    let a = s.sample(0).unwrap();
    let b = s.sample(1).unwrap();
    assert_eq!(a, b, "NHWC files are transposed to NCHW");
    assert_eq!(a[0][0], (0.0 - 10.0) / 2.0);
    assert_eq!(a[0][24], (24.0 - 20.0) / 2.0);
    assert_eq!(a[1], vec![1.0; 10], "2-D inputs get no mean/std");
}

fn error_of(text: &str, files: &[(&str, &[u8])], two_inputs: bool) -> String {
    let d = tmp(&format!("err{}", text.len() * 31 + files.len()));
    for (name, bytes) in files {
        std::fs::write(d.join(name), bytes).unwrap();
    }
    let path = write(&d, "dataset.txt", text);
    let ds = Dataset::open(&path).unwrap();
    let m = model(two_inputs);
    let err = match ds.samples(&m, ImageOptions::default()) {
        Err(e) => e.to_string(),
        Ok(s) => (0..s.count())
            .find_map(|i| s.sample(i).err())
            .expect("an error")
            .to_string(),
    };
    assert!(!err.contains('\n'), "one line: {err}");
    assert!(err.contains("dataset.txt"), "names the dataset: {err}");
    err
}

#[test]
fn bad_lines_name_the_line_the_file_and_the_problem() {
    let good = NpyArray::from_f32(&[1, 3, 4, 6], &[0.0; 72]).to_bytes();
    let wrong = NpyArray::from_f32(&[1, 3, 5, 5], &[0.0; 75]).to_bytes();

    let e = error_of("good.npy\nmissing.npy\n", &[("good.npy", &good)], false);
    assert!(
        e.contains("line 2: ") && e.contains("missing.npy: file not found"),
        "{e}"
    );

    let e = error_of("wrong.npy\n", &[("wrong.npy", &wrong)], false);
    assert!(e.contains("line 1: "), "{e}");
    assert!(
        e.contains("wrong.npy: shape [1, 3, 5, 5] does not match input 'x' [1, 3, 4, 6] (or NHWC [1, 4, 6, 3])"),
        "{e}"
    );

    let e = error_of("cat.jpg\n", &[("cat.jpg", b"not a jpeg at all")], false);
    assert!(e.contains("cat.jpg: cannot decode image"), "{e}");

    let e = error_of(
        "good.npy\n\ngood.npy good.npy\n",
        &[("good.npy", &good)],
        false,
    );
    assert!(
        e.contains("line 3: 2 files for a model with 1 input(s)"),
        "{e}"
    );

    let e = error_of("notes.txt\n", &[("notes.txt", b"hello")], false);
    assert!(e.contains("notes.txt: unsupported file type"), "{e}");

    let e = error_of(
        "broken.npy\n",
        &[("broken.npy", &good[..good.len() - 3])],
        false,
    );
    assert!(
        e.contains("broken.npy: ") && e.contains("data bytes"),
        "{e}"
    );

    let e = error_of("# nothing\n", &[], false);
    assert!(e.contains("no samples"), "{e}");

    let missing = std::env::temp_dir().join("rknn-no-such-dir/dataset.txt");
    let e = Dataset::open(&missing).unwrap_err().to_string();
    assert!(e.contains("rknn-no-such-dir/dataset.txt"), "{e}");
}
