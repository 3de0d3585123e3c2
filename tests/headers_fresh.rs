//! The committed headers in `include/` are exactly what cbindgen generates
//! from `src/abi/` and `src/capi/`. With `RKNNRT_BLESS_HEADERS=1` the test
//! rewrites them instead (see docs/abi.md).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// One generated header.
struct Header {
    /// File name in `include/`.
    file: &'static str,
    /// cbindgen configuration, relative to the repository root.
    config: &'static str,
    /// The `src/abi/` module with the header's types and constants.
    abi_src: &'static str,
}

const HEADERS: [Header; 3] = [
    Header {
        file: "rknn_api.h",
        config: "cbindgen.toml",
        abi_src: "api.rs",
    },
    Header {
        file: "rknn_matmul_api.h",
        config: "cbindgen/rknn_matmul_api.toml",
        abi_src: "matmul.rs",
    },
    Header {
        file: "rknn_custom_op.h",
        config: "cbindgen/rknn_custom_op.toml",
        abi_src: "custom_op.rs",
    },
];

/// The header that declares the C function `name`, by the vendor's naming:
/// matmul functions in `rknn_matmul_api.h`, custom-op functions in
/// `rknn_custom_op.h`, everything else in `rknn_api.h`.
fn header_of(name: &str) -> &'static str {
    if name.starts_with("rknn_matmul_") || name.starts_with("rknn_B_") {
        "rknn_matmul_api.h"
    } else if name.starts_with("rknn_custom_op_") || name == "rknn_register_custom_ops" {
        "rknn_custom_op.h"
    } else {
        "rknn_api.h"
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, recursively, in a stable order.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// Names of the `extern "C" fn` items defined in the capi sources.
fn capi_functions() -> BTreeSet<String> {
    let mut files = Vec::new();
    rust_files(&root().join("src/capi"), &mut files);
    let mut names = BTreeSet::new();
    for file in files {
        let text = fs::read_to_string(&file).expect("read capi source");
        for (pos, _) in text.match_indices("extern \"C\" fn ") {
            let rest = &text[pos + "extern \"C\" fn ".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            names.insert(name);
        }
    }
    names
}

/// Generates one header with cbindgen.
fn generate(header: &Header, functions: &BTreeSet<String>) -> String {
    let root = root();
    let mut config = cbindgen::Config::from_file(root.join(header.config))
        .unwrap_or_else(|e| panic!("{}: {e}", header.config));
    config.export.exclude.extend(
        functions
            .iter()
            .filter(|f| header_of(f) != header.file)
            .cloned(),
    );
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src/abi").join(header.abi_src))
        .with_src(root.join("src/capi/mod.rs"))
        .generate()
        .unwrap_or_else(|e| panic!("cbindgen for {}: {e}", header.file));
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("cbindgen writes UTF-8")
}

#[test]
fn headers_are_fresh() {
    let functions = capi_functions();
    let bless = std::env::var("RKNNRT_BLESS_HEADERS").is_ok_and(|v| v == "1");
    let mut stale = Vec::new();
    for header in &HEADERS {
        let generated = generate(header, &functions);
        let path = root().join("include").join(header.file);
        let committed = fs::read_to_string(&path).unwrap_or_default();
        if generated != committed {
            if bless {
                fs::write(&path, &generated).expect("write header");
            } else {
                stale.push(header.file);
            }
        }
    }
    assert!(
        stale.is_empty(),
        "stale headers {stale:?}: run `RKNNRT_BLESS_HEADERS=1 cargo test --test headers_fresh` \
         and commit include/"
    );
}

/// The vendor prototypes (reference/rknn-c-api.md §4.1-4.3), with array
/// parameters written as the pointers they are.
const PROTOTYPES: [(&str, &str); 35] = [
    ("rknn_api.h", "int rknn_init(rknn_context *context, void *model, uint32_t size, uint32_t flag, rknn_init_extend *extend)"),
    ("rknn_api.h", "int rknn_dup_context(rknn_context *context_in, rknn_context *context_out)"),
    ("rknn_api.h", "int rknn_destroy(rknn_context context)"),
    ("rknn_api.h", "int rknn_query(rknn_context context, rknn_query_cmd cmd, void *info, uint32_t size)"),
    ("rknn_api.h", "int rknn_inputs_set(rknn_context context, uint32_t n_inputs, rknn_input *inputs)"),
    ("rknn_api.h", "int rknn_set_batch_core_num(rknn_context context, int core_num)"),
    ("rknn_api.h", "int rknn_set_core_mask(rknn_context context, rknn_core_mask core_mask)"),
    ("rknn_api.h", "int rknn_run(rknn_context context, rknn_run_extend *extend)"),
    ("rknn_api.h", "int rknn_wait(rknn_context context, rknn_run_extend *extend)"),
    ("rknn_api.h", "int rknn_outputs_get(rknn_context context, uint32_t n_outputs, rknn_output *outputs, rknn_output_extend *extend)"),
    ("rknn_api.h", "int rknn_outputs_release(rknn_context context, uint32_t n_ouputs, rknn_output *outputs)"),
    ("rknn_api.h", "rknn_tensor_mem *rknn_create_mem_from_phys(rknn_context ctx, uint64_t phys_addr, void *virt_addr, uint32_t size)"),
    ("rknn_api.h", "rknn_tensor_mem *rknn_create_mem_from_fd(rknn_context ctx, int32_t fd, void *virt_addr, uint32_t size, int32_t offset)"),
    ("rknn_api.h", "rknn_tensor_mem *rknn_create_mem_from_mb_blk(rknn_context ctx, void *mb_blk, int32_t offset)"),
    ("rknn_api.h", "rknn_tensor_mem *rknn_create_mem(rknn_context ctx, uint32_t size)"),
    ("rknn_api.h", "rknn_tensor_mem *rknn_create_mem2(rknn_context ctx, uint64_t size, uint64_t alloc_flags)"),
    ("rknn_api.h", "int rknn_destroy_mem(rknn_context ctx, rknn_tensor_mem *mem)"),
    ("rknn_api.h", "int rknn_set_weight_mem(rknn_context ctx, rknn_tensor_mem *mem)"),
    ("rknn_api.h", "int rknn_set_internal_mem(rknn_context ctx, rknn_tensor_mem *mem)"),
    ("rknn_api.h", "int rknn_set_io_mem(rknn_context ctx, rknn_tensor_mem *mem, rknn_tensor_attr *attr)"),
    ("rknn_api.h", "int rknn_set_input_shape(rknn_context ctx, rknn_tensor_attr *attr)"),
    ("rknn_api.h", "int rknn_set_input_shapes(rknn_context ctx, uint32_t n_inputs, rknn_tensor_attr *attr)"),
    ("rknn_api.h", "int rknn_mem_sync(rknn_context context, rknn_tensor_mem *mem, rknn_mem_sync_mode mode)"),
    ("rknn_matmul_api.h", "int rknn_matmul_create(rknn_matmul_ctx *ctx, rknn_matmul_info *info, rknn_matmul_io_attr *io_attr)"),
    ("rknn_matmul_api.h", "int rknn_matmul_create_dynamic_shape(rknn_matmul_ctx *ctx, rknn_matmul_info *info, int shape_num, rknn_matmul_shape *dynamic_shapes, rknn_matmul_io_attr *io_attrs)"),
    ("rknn_matmul_api.h", "int rknn_matmul_set_io_mem(rknn_matmul_ctx ctx, rknn_tensor_mem *mem, rknn_matmul_tensor_attr *attr)"),
    ("rknn_matmul_api.h", "int rknn_matmul_set_core_mask(rknn_matmul_ctx context, rknn_core_mask core_mask)"),
    ("rknn_matmul_api.h", "int rknn_matmul_set_quant_params(rknn_matmul_ctx context, rknn_quant_params *params)"),
    ("rknn_matmul_api.h", "int rknn_matmul_get_quant_params(rknn_matmul_ctx ctx, rknn_quant_params *params, float *scale)"),
    ("rknn_matmul_api.h", "int rknn_matmul_set_dynamic_shape(rknn_matmul_ctx ctx, rknn_matmul_shape *shape)"),
    ("rknn_matmul_api.h", "int rknn_matmul_run(rknn_matmul_ctx ctx)"),
    ("rknn_matmul_api.h", "int rknn_matmul_destroy(rknn_matmul_ctx ctx)"),
    ("rknn_matmul_api.h", "int rknn_B_normal_layout_to_native_layout(void *B_input, void *B_output, int K, int N, rknn_matmul_info *info)"),
    ("rknn_custom_op.h", "int rknn_register_custom_ops(rknn_context ctx, rknn_custom_op *op, uint32_t custom_op_num)"),
    ("rknn_custom_op.h", "void rknn_custom_op_get_op_attr(rknn_custom_op_context *op_ctx, const char *attr_name, rknn_custom_op_attr *op_attr)"),
];

/// The function declarations of a generated header (the body of its
/// `extern "C"` block), normalized: one line each, single spaces, no
/// `struct`/`extern` keywords.
fn declarations(header: &str) -> BTreeSet<String> {
    let start = header
        .find("extern \"C\" {")
        .and_then(|i| header[i..].find("#endif").map(|j| i + j + "#endif".len()))
        .expect("extern \"C\" block");
    let end = start
        + header[start..]
            .find("#ifdef __cplusplus")
            .expect("end of the extern \"C\" block");
    header[start..end]
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join(" ")
        .split(';')
        .map(|decl| {
            decl.replace('(', "( ")
                .split_whitespace()
                .filter(|w| *w != "struct" && *w != "extern")
                .collect::<Vec<_>>()
                .join(" ")
                .replace("( ", "(")
        })
        .filter(|d| !d.is_empty())
        .collect()
}

#[test]
fn prototypes_match_the_vendor() {
    let functions = capi_functions();
    for header in &HEADERS {
        let generated = generate(header, &functions);
        let want: BTreeSet<String> = PROTOTYPES
            .iter()
            .filter(|(file, _)| *file == header.file)
            .map(|(_, proto)| proto.to_string())
            .collect();
        let got = declarations(&generated);
        let missing: Vec<_> = want.difference(&got).collect();
        let extra: Vec<_> = got.difference(&want).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{}: missing {missing:#?}, unexpected {extra:#?}",
            header.file
        );
    }
}
