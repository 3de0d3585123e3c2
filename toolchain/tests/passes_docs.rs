//! `docs/ops.md` carries the placement table generated from
//! `placement::markdown_table`; this test fails when it is stale.
//! Regenerate with `RKNNRT_BLESS_DOCS=1 cargo test -p rknn-toolchain --test passes_docs`.

use std::path::Path;

const BEGIN: &str = "<!-- placement table: generated, do not edit -->\n";
const END: &str = "<!-- end of placement table -->";

#[test]
fn ops_doc_has_the_current_placement_table() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/ops.md");
    let doc = std::fs::read_to_string(&path).expect("docs/ops.md exists");
    let start = doc.find(BEGIN).expect("begin marker") + BEGIN.len();
    let end = doc.find(END).expect("end marker");
    let table = rknn_toolchain::placement::markdown_table();
    if doc[start..end] != table {
        if std::env::var_os("RKNNRT_BLESS_DOCS").is_some() {
            let fresh = format!("{}{}{}", &doc[..start], table, &doc[end..]);
            std::fs::write(&path, fresh).expect("write docs/ops.md");
        } else {
            panic!(
                "the placement table in docs/ops.md is stale; run with RKNNRT_BLESS_DOCS=1 or the onnx_node_report example"
            );
        }
    }
    assert!(table.lines().count() > rknn_toolchain::placement::TABLE.len());
}
