//! ONNX backend node tests through the importer and the C API (fp32 and
//! fp16); see `runner.rs` for the tolerances and `docs/ops.md` for the
//! table. The data comes from `RKNNRT_ONNX_NODE_DIR` or the `onnx` Python
//! package; without either the test fails unless `RKNNRT_SKIP_ONNX_NODE=1`.

mod runner;

use runner::Outcome;

#[test]
fn onnx_backend_node_tests() {
    if std::env::var("RKNNRT_SKIP_ONNX_NODE").as_deref() == Ok("1") {
        eprintln!("RKNNRT_SKIP_ONNX_NODE=1: ONNX node tests skipped");
        return;
    }
    let dir = runner::node_dir().unwrap_or_else(|e| {
        panic!("ONNX node test data not found: {e}. Set RKNNRT_ONNX_NODE_DIR, install onnx==1.19.1, or set RKNNRT_SKIP_ONNX_NODE=1")
    });
    let results = runner::run_all(&dir);
    assert!(
        results.len() > 400,
        "only {} cases of supported ops found in {}",
        results.len(),
        dir.display()
    );
    let mut unexpected = Vec::new();
    let mut passed = 0;
    for r in &results {
        for (half, o) in [(false, &r.fp32), (true, &r.fp16)] {
            match o {
                Outcome::Pass => passed += 1,
                Outcome::Refused(reason) => {
                    assert!(
                        !reason.contains('\n') && !reason.is_empty(),
                        "{}: refusal is not one line: {reason:?}",
                        r.case
                    );
                }
                Outcome::Fail(reason) => {
                    if !runner::KNOWN
                        .iter()
                        .any(|(c, h, _)| *c == r.case && *h == half)
                    {
                        unexpected.push(format!(
                            "{} ({}): {reason}",
                            r.case,
                            if half { "fp16" } else { "fp32" }
                        ));
                    }
                }
            }
        }
    }
    assert!(
        unexpected.is_empty(),
        "{} unexpected failures:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
    // The bulk must pass: a regression that turns passes into refusals
    // shows here (the table in docs/ops.md has the exact counts).
    assert!(passed >= 600, "only {passed} fp32+fp16 passes");
}
