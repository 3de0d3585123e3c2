//! The `.rknn` container (docs/format.md) and the semantic checks run on
//! load: round trips, hostile files (truncated, bit-flipped, crafted
//! section tables), vendor files, and one test per validation rule.

use std::collections::BTreeSet;

use rknnrt::graph::{
    Activation, AttrValue, BinaryOp, CoordMode, CustomAttr, CustomOp, DType, Graph, Layout,
    NearestMode, Node, Op, PadMode, Quant, ReduceOp, ResizeMode, Storage, Target, TensorId,
    TensorInfo, Window,
};
use rknnrt::model::{
    parse, parse_layout, write, write_with_programs, InputPreprocess, Model, ModelError, ModelMeta,
    FORMAT_TAG, FORMAT_VERSION, MAGIC, SECTION_METADATA, SECTION_NPU_PROGRAM, SECTION_REQUIRED,
    SECTION_WEIGHTS,
};
use rknnrt::platform::Platform;

// ---------------------------------------------------------------------------
// Building graphs by hand

/// A graph under construction plus its weights section.
struct Builder {
    graph: Graph,
    weights: Vec<u8>,
}

impl Builder {
    fn new() -> Builder {
        Builder {
            graph: Graph::default(),
            weights: Vec::new(),
        }
    }

    fn act(&mut self, name: &str, shape: &[usize], dtype: DType) -> TensorId {
        self.graph
            .add_tensor(TensorInfo::activation(name, shape.to_vec(), dtype))
    }

    fn qact(&mut self, name: &str, shape: &[usize], dtype: DType, q: Quant) -> TensorId {
        let id = self.act(name, shape, dtype);
        self.graph.tensors[id].quant = Some(q);
        id
    }

    fn input(&mut self, name: &str, shape: &[usize], dtype: DType) -> TensorId {
        let id = self.act(name, shape, dtype);
        self.graph.inputs.push(id);
        id
    }

    /// A weight at the next 64-aligned offset, filled with a byte pattern.
    fn weight(&mut self, name: &str, shape: &[usize], dtype: DType) -> TensorId {
        let mut t = TensorInfo::activation(name, shape.to_vec(), dtype);
        let offset = self.weights.len().div_ceil(64) * 64;
        let len = t.bytes();
        self.weights.resize(offset, 0);
        self.weights
            .extend((0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(offset as u8)));
        t.storage = Storage::Weight {
            offset: offset as u64,
            len: len as u64,
        };
        self.graph.add_tensor(t)
    }

    fn node(&mut self, name: &str, op: Op, inputs: &[TensorId], outputs: &[TensorId]) {
        self.graph.add_node(Node {
            name: name.into(),
            op,
            inputs: inputs.to_vec(),
            outputs: outputs.to_vec(),
            target: Target::Cpu,
        });
    }

    fn finish(self) -> (ModelMeta, Vec<u8>) {
        let preprocess = vec![InputPreprocess::default(); self.graph.inputs.len()];
        let meta = ModelMeta {
            graph: self.graph,
            preprocess,
            platform: Platform::Rk3588,
            custom_string: "built by tests/model_container.rs".into(),
            producer: "rknnrt tests".into(),
            internal_size: 4096,
            batch_size: 1,
            shape_sets: Vec::new(),
        };
        (meta, self.weights)
    }
}

fn window(k: usize, s: usize, p: usize) -> Window {
    Window {
        kernel: [k, k],
        stride: [s, s],
        pads: [p; 4],
        dilation: [1, 1],
    }
}

/// Which `Op` variant; the match has no wildcard so a new variant must be
/// added here (and to `every_op_model`).
fn variant(op: &Op) -> usize {
    match op {
        Op::Conv { .. } => 0,
        Op::ConvTranspose { .. } => 1,
        Op::Gemm { .. } => 2,
        Op::MatMul => 3,
        Op::Binary { .. } => 4,
        Op::Unary { .. } => 5,
        Op::PRelu => 6,
        Op::MaxPool { .. } => 7,
        Op::AveragePool { .. } => 8,
        Op::GlobalAveragePool => 9,
        Op::GlobalMaxPool => 10,
        Op::Concat { .. } => 11,
        Op::Split { .. } => 12,
        Op::Slice { .. } => 13,
        Op::Reshape => 14,
        Op::Transpose { .. } => 15,
        Op::Pad { .. } => 16,
        Op::Resize { .. } => 17,
        Op::Softmax { .. } => 18,
        Op::LayerNorm { .. } => 19,
        Op::Reduce { .. } => 20,
        Op::Gather { .. } => 21,
        Op::ArgMax { .. } => 22,
        Op::Cast { .. } => 23,
        Op::Quantize => 24,
        Op::Dequantize => 25,
        Op::Custom(_) => 26,
    }
}
const VARIANTS: usize = 27;

/// A float model that uses every op (plus an int8 Conv), with shapes
/// written out by hand from the ONNX definitions.
fn every_op_model() -> (ModelMeta, Vec<u8>) {
    use DType::*;
    let mut b = Builder::new();
    let x = b.input("x", &[1, 4, 8, 8], F32);
    let w_conv = b.weight("w_conv", &[8, 4, 3, 3], F32);
    let b_conv = b.weight("b_conv", &[8], F32);
    let c1 = b.act("conv", &[1, 8, 8, 8], F32);
    b.node(
        "conv",
        Op::Conv {
            window: window(3, 1, 1),
            group: 1,
            activation: Some(Activation::Relu),
        },
        &[x, w_conv, b_conv],
        &[c1],
    );
    let w_ct = b.weight("w_ct", &[8, 4, 2, 2], F32);
    let ct = b.act("ct", &[1, 4, 16, 16], F32);
    b.node(
        "ct",
        Op::ConvTranspose {
            window: window(2, 2, 0),
            group: 1,
            output_padding: [0, 0],
            activation: None,
        },
        &[c1, w_ct],
        &[ct],
    );
    let mp = b.act("mp", &[1, 4, 8, 8], F32);
    b.node(
        "mp",
        Op::MaxPool {
            window: window(2, 2, 0),
            ceil_mode: false,
        },
        &[ct],
        &[mp],
    );
    let ap = b.act("ap", &[1, 4, 8, 8], F32);
    b.node(
        "ap",
        Op::AveragePool {
            window: window(3, 1, 1),
            ceil_mode: true,
            count_include_pad: false,
        },
        &[mp],
        &[ap],
    );
    let add = b.act("add", &[1, 4, 8, 8], F32);
    b.node(
        "add",
        Op::Binary {
            op: BinaryOp::Add,
            activation: Some(Activation::Clip {
                min: -1.0,
                max: 6.0,
            }),
        },
        &[ap, x],
        &[add],
    );
    let sg = b.act("sg", &[1, 4, 8, 8], F32);
    b.node(
        "sg",
        Op::Unary {
            act: Activation::Gelu { tanh_approx: false },
        },
        &[add],
        &[sg],
    );
    let slope = b.weight("slope", &[4, 1, 1], F32);
    let pr = b.act("pr", &[1, 4, 8, 8], F32);
    b.node("pr", Op::PRelu, &[sg, slope], &[pr]);
    let cat = b.act("cat", &[1, 12, 8, 8], F32);
    b.node("cat", Op::Concat { axis: 1 }, &[pr, c1], &[cat]);
    let s1 = b.act("s1", &[1, 6, 8, 8], F32);
    let s2 = b.act("s2", &[1, 6, 8, 8], F32);
    b.node("split", Op::Split { axis: 1 }, &[cat], &[s1, s2]);
    let sl = b.act("sl", &[1, 6, 4, 8], F32);
    b.node(
        "slice",
        Op::Slice {
            axes: vec![2, 3],
            starts: vec![0, -1],
            steps: vec![2, -1],
        },
        &[s1],
        &[sl],
    );
    let tr = b.act("tr", &[1, 6, 8, 4], F32);
    b.node(
        "tr",
        Op::Transpose {
            perm: vec![0, 1, 3, 2],
        },
        &[sl],
        &[tr],
    );
    let pd = b.act("pd", &[1, 6, 10, 6], F32);
    b.node(
        "pad",
        Op::Pad {
            pads: vec![0, 0, 1, 1, 0, 0, 1, 1],
            mode: PadMode::Constant { value: 0.5 },
        },
        &[tr],
        &[pd],
    );
    let rs = b.act("rs", &[1, 6, 20, 12], F32);
    b.node(
        "resize",
        Op::Resize {
            mode: ResizeMode::Nearest,
            coord: CoordMode::Asymmetric,
            nearest: NearestMode::Floor,
        },
        &[pd],
        &[rs],
    );
    let gap = b.act("gap", &[1, 6, 1, 1], F32);
    b.node("gap", Op::GlobalAveragePool, &[rs], &[gap]);
    let gmp = b.act("gmp", &[1, 6, 1, 1], F32);
    b.node("gmp", Op::GlobalMaxPool, &[s2], &[gmp]);
    let flat = b.act("flat", &[1, 6], F32);
    b.node("flatten", Op::Reshape, &[gap], &[flat]);
    let wg = b.weight("wg", &[10, 6], F32);
    let cg = b.weight("cg", &[10], F32);
    let gm = b.act("gemm", &[1, 10], F32);
    b.node(
        "gemm",
        Op::Gemm {
            alpha: 1.0,
            beta: 1.0,
            trans_a: false,
            trans_b: true,
            activation: None,
        },
        &[flat, wg, cg],
        &[gm],
    );
    let wm = b.weight("wm", &[10, 5], F32);
    let mm = b.act("mm", &[1, 5], F32);
    b.node("mm", Op::MatMul, &[gm, wm], &[mm]);
    let sm = b.act("sm", &[1, 5], F32);
    b.node("sm", Op::Softmax { axis: 1 }, &[mm], &[sm]);
    let ln_s = b.weight("ln_scale", &[5], F32);
    let ln_b = b.weight("ln_bias", &[5], F32);
    let ln = b.act("ln", &[1, 5], F32);
    b.node(
        "ln",
        Op::LayerNorm {
            axis: 1,
            epsilon: 1e-5,
        },
        &[sm, ln_s, ln_b],
        &[ln],
    );
    let rm = b.act("rm", &[1, 1], F32);
    b.node(
        "rm",
        Op::Reduce {
            op: ReduceOp::Mean,
            axes: vec![1],
            keepdims: true,
        },
        &[ln],
        &[rm],
    );
    let idx = b.weight("idx", &[3], I64);
    let ga = b.act("gather", &[1, 3], F32);
    b.node("gather", Op::Gather { axis: 1 }, &[ln, idx], &[ga]);
    let am = b.act("argmax", &[1], I64);
    b.node(
        "argmax",
        Op::ArgMax {
            axis: 1,
            keepdims: false,
            select_last_index: true,
        },
        &[ga],
        &[am],
    );
    let cs = b.act("cast", &[1], F32);
    b.node("cast", Op::Cast { to: F32 }, &[am], &[cs]);
    let q = b.qact("q", &[1, 3], I8, Quant::per_tensor(0.02, -3));
    b.node("q", Op::Quantize, &[ga], &[q]);
    let dq = b.act("dq", &[1, 3], F32);
    b.node("dq", Op::Dequantize, &[q], &[dq]);
    let mul = b.act("mul", &[1, 3], F32);
    b.node(
        "mul",
        Op::Binary {
            op: BinaryOp::Mul,
            activation: None,
        },
        &[dq, cs],
        &[mul],
    );
    // An int8 convolution with per-channel weights and an int32 bias.
    let xq = b.qact("xq", &[1, 4, 8, 8], I8, Quant::per_tensor(0.05, 0));
    b.node("xq", Op::Quantize, &[x], &[xq]);
    let wq = b.weight("wq", &[2, 4, 1, 1], I8);
    b.graph.tensors[wq].quant = Some(Quant::per_channel(vec![0.01, 0.02], vec![0, 0], 0));
    let bq = b.weight("bq", &[2], I32);
    let yq = b.qact("yq", &[1, 2, 8, 8], I8, Quant::per_tensor(0.1, 5));
    b.node(
        "conv_q",
        Op::Conv {
            window: window(1, 1, 0),
            group: 1,
            activation: Some(Activation::Relu6),
        },
        &[xq, wq, bq],
        &[yq],
    );
    let cst = b.act("cst", &[1, 3], F32);
    b.node(
        "cst",
        Op::Custom(CustomOp {
            op_type: "cstScale".into(),
            attrs: vec![
                CustomAttr {
                    name: "alpha".into(),
                    value: AttrValue::Float(0.5),
                },
                CustomAttr {
                    name: "mode".into(),
                    value: AttrValue::String("fast".into()),
                },
            ],
            fallback: Some(Box::new(Op::Unary {
                act: Activation::Relu,
            })),
        }),
        &[mul],
        &[cst],
    );
    b.graph.outputs = vec![cst, rm, gmp, yq];
    let (mut meta, w) = b.finish();
    meta.preprocess[0] = InputPreprocess {
        mean: vec![0.5, 0.4, 0.3, 0.2],
        std: vec![0.25, 0.25, 0.5, 1.0],
    };
    (meta, w)
}

/// A one-node model: small enough to corrupt at every byte.
fn small_model() -> (ModelMeta, Vec<u8>) {
    let mut b = Builder::new();
    let x = b.input("x", &[1, 2], DType::F32);
    let w = b.weight("w", &[1, 2], DType::F32);
    let y = b.act("y", &[1, 2], DType::F32);
    b.node(
        "add",
        Op::Binary {
            op: BinaryOp::Add,
            activation: None,
        },
        &[x, w],
        &[y],
    );
    b.graph.outputs = vec![y];
    let (mut meta, w) = b.finish();
    meta.custom_string.clear();
    (meta, w)
}

fn invalid_reason(r: Result<(ModelMeta, std::ops::Range<usize>), ModelError>) -> String {
    match r {
        Err(ModelError::Invalid(m)) => m,
        Err(e) => panic!("expected Invalid, got {e:?}"),
        Ok(_) => panic!("expected Invalid, the file was accepted"),
    }
}

fn unsupported_reason(bytes: &[u8]) -> String {
    match parse(bytes) {
        Err(ModelError::Unsupported(m)) => m,
        Err(e) => panic!("expected Unsupported, got {e:?}"),
        Ok(_) => panic!("expected Unsupported, the file was accepted"),
    }
}

// ---------------------------------------------------------------------------
// Round trips

#[test]
fn round_trip_every_op() {
    let (meta, weights) = every_op_model();
    let used: BTreeSet<usize> = meta.graph.nodes.iter().map(|n| variant(&n.op)).collect();
    assert_eq!(used.len(), VARIANTS, "every Op variant is used");
    meta.validate(weights.len() as u64)
        .expect("the model is valid");

    let file = write(&meta, &weights);
    assert_eq!(&file[..8], MAGIC);
    let (back, range) = parse(&file).expect("parse");
    assert_eq!(back, meta);
    assert_eq!(&file[range.clone()], &weights[..]);
    assert_eq!(range.start % 64, 0, "weights section is 64-aligned");
    assert_eq!(write(&back, &file[range]), file, "writing is deterministic");
}

#[test]
fn model_load_uses_the_weights_in_place() {
    let (meta, weights) = every_op_model();
    let file = write(&meta, &weights);
    let model = Model::load(Box::new(file)).expect("load");
    assert_eq!(model.meta, meta);
    assert_eq!(model.weights(), &weights[..]);
}

#[test]
fn npu_program_sections_round_trip() {
    let (meta, weights) = small_model();
    let p1: Vec<u8> = (0..100u8).collect();
    let p2 = vec![7u8; 3];
    let file = write_with_programs(
        &meta,
        &weights,
        &[(Platform::Rk3588, &p1), (Platform::Rk3566, &p2)],
    );
    let layout = parse_layout(&file).expect("layout");
    assert_eq!(layout.npu_programs.len(), 2);
    assert_eq!(layout.npu_programs[0].platform, Platform::Rk3588);
    assert_eq!(&file[layout.npu_programs[0].range.clone()], &p1[..]);
    assert_eq!(layout.npu_programs[1].platform, Platform::Rk3566);
    assert_eq!(&file[layout.npu_programs[1].range.clone()], &p2[..]);
    let (back, range) = parse(&file).expect("parse");
    assert_eq!(back, meta);
    assert_eq!(&file[range], &weights[..]);
}

// ---------------------------------------------------------------------------
// An independent writer for crafted files, following docs/format.md.

struct Sec {
    kind: u32,
    flags: u32,
    offset: u64,
    length: u64,
    platform: u32,
    data: Vec<u8>,
}

impl Sec {
    fn new(kind: u32, data: Vec<u8>) -> Sec {
        Sec {
            kind,
            flags: SECTION_REQUIRED,
            offset: 0,
            length: data.len() as u64,
            platform: 0,
            data,
        }
    }
}

/// Lays out `secs` after the header and table (64-aligned, in order) unless
/// a section already has a non-zero offset; writes data where it fits.
fn craft(secs: &mut [Sec]) -> Vec<u8> {
    let mut pos = 64 + 32 * secs.len() as u64;
    for s in secs.iter_mut() {
        if s.offset == 0 {
            pos = pos.div_ceil(64) * 64;
            s.offset = pos;
            pos += s.data.len() as u64;
        }
    }
    let end = secs
        .iter()
        .map(|s| (s.offset + s.data.len() as u64).min(1 << 20))
        .max()
        .unwrap_or(0)
        .max(64 + 32 * secs.len() as u64);
    let mut f = vec![0u8; end as usize];
    f[..8].copy_from_slice(MAGIC);
    f[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    f[12..16].copy_from_slice(FORMAT_TAG);
    f[0x1C..0x20].copy_from_slice(&(secs.len() as u32).to_le_bytes());
    f[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
    for (i, s) in secs.iter().enumerate() {
        let e = 64 + 32 * i;
        f[e..e + 4].copy_from_slice(&s.kind.to_le_bytes());
        f[e + 4..e + 8].copy_from_slice(&s.flags.to_le_bytes());
        f[e + 8..e + 16].copy_from_slice(&s.offset.to_le_bytes());
        f[e + 16..e + 24].copy_from_slice(&s.length.to_le_bytes());
        f[e + 24..e + 28].copy_from_slice(&s.platform.to_le_bytes());
        let o = s.offset as usize;
        if o + s.data.len() <= f.len() {
            f[o..o + s.data.len()].copy_from_slice(&s.data);
        }
    }
    reseal(&mut f);
    f
}

/// Rewrites the file size and CRC32 fields after an edit.
fn reseal(f: &mut [u8]) {
    let n = f.len() as u64;
    f[0x10..0x18].copy_from_slice(&n.to_le_bytes());
    let mut h = crc32fast::Hasher::new();
    h.update(&f[..0x28]);
    h.update(&f[0x2C..]);
    let crc = h.finalize();
    f[0x28..0x2C].copy_from_slice(&crc.to_le_bytes());
}

fn small_secs() -> Vec<Sec> {
    let (meta, weights) = small_model();
    vec![
        Sec::new(SECTION_METADATA, serde_json::to_vec(&meta).unwrap()),
        Sec::new(SECTION_WEIGHTS, weights),
    ]
}

#[test]
fn independent_writer_matches_the_spec() {
    let mut secs = small_secs();
    let f = craft(&mut secs);
    let (meta, range) = parse(&f).expect("a file written from the spec parses");
    assert_eq!(meta, small_model().0);
    assert_eq!(range.start as u64, secs[1].offset);
    // Our writer produces the same bytes as the spec-following one.
    let (m, w) = small_model();
    assert_eq!(write(&m, &w), f);
}

// ---------------------------------------------------------------------------
// Hostile files

#[test]
fn zero_length_file() {
    let m = invalid_reason(parse(&[]));
    assert!(m.contains("empty"), "{m}");
}

#[test]
fn truncated_at_every_length() {
    let (meta, weights) = small_model();
    let file = write(&meta, &weights);
    assert!(file.len() < 4096, "small file: {} bytes", file.len());
    for n in 0..file.len() {
        let m = invalid_reason(parse(&file[..n]));
        assert!(!m.is_empty(), "truncated to {n}");
    }
    parse(&file).expect("the full file parses");
}

#[test]
fn every_single_bit_flip_is_rejected() {
    let (meta, weights) = small_model();
    let file = write(&meta, &weights);
    let mut f = file.clone();
    for byte in 0..f.len() {
        for bit in 0..8 {
            f[byte] ^= 1 << bit;
            let m = invalid_reason(parse(&f));
            if byte >= 0x18 {
                assert!(m.contains("checksum"), "byte {byte} bit {bit}: {m}");
            } else if byte >= 0x10 {
                assert!(m.contains("header says the file is"), "byte {byte}: {m}");
            }
            f[byte] ^= 1 << bit;
        }
    }
    assert_eq!(f, file);
}

#[test]
fn section_past_the_end() {
    let mut secs = small_secs();
    secs[0].length += 5000;
    let f = craft(&mut secs);
    let m = invalid_reason(parse(&f));
    assert!(
        m.contains("metadata section (entry 0) offset 128") && m.contains("exceeds file size"),
        "{m}"
    );

    let mut secs = small_secs();
    secs[1].offset = u64::MAX - 63;
    let f = craft(&mut secs);
    let m = invalid_reason(parse(&f));
    assert!(
        m.contains("weights section") && m.contains("exceeds file size"),
        "{m}"
    );
}

#[test]
fn section_table_past_the_end() {
    let mut f = craft(&mut small_secs());
    let n = f.len() as u64;
    f[0x20..0x28].copy_from_slice(&n.to_le_bytes());
    reseal(&mut f);
    let m = invalid_reason(parse(&f));
    assert!(m.contains("section table offset"), "{m}");

    let mut f = craft(&mut small_secs());
    f[0x1C..0x20].copy_from_slice(&1000u32.to_le_bytes());
    reseal(&mut f);
    let m = invalid_reason(parse(&f));
    assert!(m.contains("section count 1000"), "{m}");
}

#[test]
fn overlapping_sections() {
    let mut secs = small_secs();
    let f = craft(&mut secs);
    // Point the weights at the metadata.
    let mut g = f.clone();
    g[64 + 32 + 8..64 + 32 + 16].copy_from_slice(&secs[0].offset.to_le_bytes());
    g[64 + 32 + 16..64 + 32 + 24].copy_from_slice(&8u64.to_le_bytes());
    reseal(&mut g);
    let m = invalid_reason(parse(&g));
    assert!(m.contains("overlaps"), "{m}");
    // A section over the section table.
    let mut g = f;
    g[64 + 32 + 8..64 + 32 + 16].copy_from_slice(&64u64.to_le_bytes());
    reseal(&mut g);
    let m = invalid_reason(parse(&g));
    assert!(m.contains("overlaps") && m.contains("section table"), "{m}");
}

#[test]
fn misaligned_weights_section() {
    let mut secs = small_secs();
    let meta_end = 128 + secs[0].data.len() as u64;
    secs[1].offset = meta_end.div_ceil(64) * 64 + 8;
    let f = craft(&mut secs);
    let m = invalid_reason(parse(&f));
    assert!(
        m.contains("weights section") && m.contains("not a multiple of 64"),
        "{m}"
    );
}

#[test]
fn misaligned_weight_tensor() {
    let (mut meta, mut weights) = small_model();
    weights.resize(128, 0);
    let w = meta
        .graph
        .tensors
        .iter_mut()
        .find(|t| t.is_weight())
        .unwrap();
    w.storage = Storage::Weight { offset: 4, len: 8 };
    let m = invalid_reason(parse(&write(&meta, &weights)));
    assert!(m.contains("offset 4 is not a multiple of 64"), "{m}");
}

#[test]
fn bad_json() {
    for (json, want) in [
        (&b"{not json"[..], "not valid model JSON"),
        (b"", "not valid model JSON"),
        (b"{\"graph\": 5}", "not valid model JSON"),
        (b"\xff\xfe", "not valid model JSON"),
    ] {
        let mut secs = small_secs();
        secs[0] = Sec::new(SECTION_METADATA, json.to_vec());
        let m = invalid_reason(parse(&craft(&mut secs)));
        assert!(m.contains(want), "{m}");
    }
}

#[test]
fn deeply_nested_json_is_refused_without_overflowing_the_stack() {
    let mut json = vec![b'['; 100_000];
    json.extend(vec![b']'; 100_000]);
    let mut secs = small_secs();
    secs[0] = Sec::new(SECTION_METADATA, json);
    let m = invalid_reason(parse(&craft(&mut secs)));
    assert!(m.contains("not valid model JSON"), "{m}");
}

#[test]
fn unknown_sections() {
    // Optional: skipped.
    let mut secs = small_secs();
    let mut extra = Sec::new(77, vec![1, 2, 3]);
    extra.flags = 0;
    secs.push(extra);
    parse(&craft(&mut secs)).expect("unknown optional section is skipped");
    // Required: refused.
    let mut secs = small_secs();
    secs.push(Sec::new(77, vec![1, 2, 3]));
    let m = invalid_reason(parse(&craft(&mut secs)));
    assert!(m.contains("kind 77") && m.contains("required"), "{m}");
}

type SecEdit = fn(&mut Vec<Sec>);

#[test]
fn section_table_rules() {
    let cases: Vec<(SecEdit, &str)> = vec![
        (|s| drop(s.remove(1)), "no weights section"),
        (|s| drop(s.remove(0)), "no metadata section"),
        (
            |s| s.push(Sec::new(SECTION_WEIGHTS, vec![])),
            "more than one weights section",
        ),
        (|s| s[1].flags = 6, "unknown flags"),
        (|s| s[1].platform = 1, "platform code 1"),
        (
            |s| {
                let mut p = Sec::new(SECTION_NPU_PROGRAM, vec![0; 8]);
                p.platform = 99;
                s.push(p)
            },
            "unknown platform code 99",
        ),
        (
            |s| {
                for _ in 0..2 {
                    let mut p = Sec::new(SECTION_NPU_PROGRAM, vec![0; 8]);
                    p.platform = 1;
                    s.push(p)
                }
            },
            "more than one NPU program section for rk3588",
        ),
    ];
    for (edit, want) in cases {
        let mut secs = small_secs();
        edit(&mut secs);
        let m = invalid_reason(parse(&craft(&mut secs)));
        assert!(m.contains(want), "want {want:?}: {m}");
    }
}

#[test]
fn header_rules() {
    let base = craft(&mut small_secs());
    let cases: Vec<(usize, Vec<u8>, &str)> = vec![
        (8, 0x101u32.to_le_bytes().to_vec(), "format version 0x101"),
        (0x18, 1u32.to_le_bytes().to_vec(), "file flags"),
        (0x30, vec![1], "reserved header bytes"),
        (
            0x20,
            60u64.to_le_bytes().to_vec(),
            "section table offset 60",
        ),
    ];
    for (at, bytes, want) in cases {
        let mut f = base.clone();
        f[at..at + bytes.len()].copy_from_slice(&bytes);
        reseal(&mut f);
        let m = invalid_reason(parse(&f));
        assert!(m.contains(want), "want {want:?}: {m}");
    }
    // Optional hint flags (bits 16..32) are ignored.
    let mut f = base.clone();
    f[0x18..0x1C].copy_from_slice(&0x0001_0000u32.to_le_bytes());
    reseal(&mut f);
    parse(&f).expect("hint flags are ignored");
    // A wrong file size is reported as truncation or corruption.
    let mut f = base;
    f.push(0);
    let m = invalid_reason(parse(&f));
    assert!(m.contains("header says the file is"), "{m}");
}

#[test]
fn not_an_rknn_file() {
    let m = invalid_reason(parse(b"\x7fELF\x02\x01\x01\0 and more bytes"));
    assert!(m.contains("not an RKNN model"), "{m}");
    let m = invalid_reason(parse(b"RKN"));
    assert!(m.contains("not an RKNN model"), "{m}");
    // Our magic with a version that is neither ours nor the vendor's.
    let mut f = MAGIC.to_vec();
    f.extend(0x0012_3456u64.to_le_bytes());
    let m = invalid_reason(parse(&f));
    assert!(m.contains("unknown container version 0x123456"), "{m}");
}

// ---------------------------------------------------------------------------
// Vendor files

/// A vendor container: magic, u64 version, u64 payload size, a 40-byte
/// reserved block for versions > 1, the payload, u64 JSON length, JSON.
fn vendor_file(version: u64, payload: &[u8]) -> Vec<u8> {
    let mut f = MAGIC.to_vec();
    f.extend(version.to_le_bytes());
    f.extend((payload.len() as u64).to_le_bytes());
    if version & 0xff > 1 {
        f.extend([0u8; 40]);
    }
    f.extend(payload);
    let json = br#"{"version": "2.5.0", "target_platform": ["rk3588"]}"#;
    f.extend((json.len() as u64).to_le_bytes());
    f.extend(json);
    f
}

#[test]
fn vendor_files_are_recognised() {
    // Toolkit2 FlatBuffer payload: root offset, then the identifier RKNN.
    let fb = [0x58, 0, 0, 0, b'R', b'K', b'N', b'N', 0, 0, 0, 0];
    let cases: Vec<(Vec<u8>, &[&str])> = vec![
        (vendor_file(1, &[0; 16]), &["Toolkit v1", "0x1"]),
        (vendor_file(0x1001, &[0; 16]), &["Toolkit v1", "0x1001"]),
        (vendor_file(6, &fb), &["Toolkit2", "version 0x6", "RK3588"]),
        (vendor_file(2, &fb), &["Toolkit2", "version 0x2"]),
        (vendor_file(0x1003, &fb), &["Toolkit2", "0x1003"]),
        (vendor_file(0x1004, &[0; 64]), &["RV1103/RV1106", "0x1004"]),
        (vendor_file(7, &fb), &["unknown container version 0x7"]),
        (
            [&b"CYPTRKNN"[..], &1u32.to_le_bytes(), &[0; 60]].concat(),
            &["encrypted", "CYPTRKNN"],
        ),
        ([&b"RKNX"[..], &[0; 0x60]].concat(), &["RKNN3", "RKNX"]),
        (
            [
                &b"RKCE"[..],
                &1u32.to_le_bytes(),
                &2u32.to_le_bytes(),
                &[0; 20],
            ]
            .concat(),
            &["encrypted RKNN3"],
        ),
        ([&b"VPMN"[..], &[0; 100]].concat(), &["NBG"]),
        (fb.to_vec(), &["bare RKNN FlatBuffer"]),
    ];
    for (bytes, wants) in cases {
        let m = unsupported_reason(&bytes);
        for w in wants {
            assert!(m.contains(w), "want {w:?}: {m}");
        }
        // Toolkit2 RK35xx files are for the vendor reader (Model::load);
        // every other flavour names what this runtime does run.
        assert!(
            m.contains("Model::load") || m.contains("runs vendor-compiled models of RKNN-Toolkit2"),
            "{m}"
        );
        // Only the first 8 bytes of an encrypted file are needed.
        if bytes.starts_with(b"CYPTRKNN") {
            unsupported_reason(&bytes[..8]);
        }
    }
}

#[test]
fn vendor_fixtures_are_recognised() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/vendor");
    let mut seen = 0;
    for model in std::fs::read_dir(&dir).expect("vendor fixtures (../shared/fixtures/vendor)") {
        let model = model.unwrap().path();
        if !model.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&model).unwrap() {
            let path = file.unwrap().path();
            if path.extension().is_some_and(|e| e == "rknn") {
                let m = unsupported_reason(&std::fs::read(&path).unwrap());
                assert!(m.contains("Toolkit2") && m.contains("0x6"), "{path:?}: {m}");
                seen += 1;
            }
        }
    }
    assert!(seen >= 2, "found {seen} vendor .rknn files");
}

// ---------------------------------------------------------------------------
// Semantic validation: one case per rule, through write + parse.

type Edit = fn(&mut ModelMeta, &mut Vec<u8>);

fn find(meta: &ModelMeta, name: &str) -> TensorId {
    meta.graph
        .tensors
        .iter()
        .position(|t| t.name == name)
        .unwrap_or_else(|| panic!("no tensor {name}"))
}

fn node_mut<'a>(meta: &'a mut ModelMeta, name: &str) -> &'a mut Node {
    meta.graph
        .nodes
        .iter_mut()
        .find(|n| n.name == name)
        .unwrap_or_else(|| panic!("no node {name}"))
}

fn tensor_mut<'a>(meta: &'a mut ModelMeta, name: &str) -> &'a mut TensorInfo {
    let id = find(meta, name);
    &mut meta.graph.tensors[id]
}

#[test]
fn semantic_rules() {
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "tensor id out of range",
            |m, _| node_mut(m, "sm").inputs[0] = 999,
            "refers to tensor 999",
        ),
        (
            "graph output id out of range",
            |m, _| m.graph.outputs.push(12345),
            "refers to tensor 12345",
        ),
        (
            "tensor name too long",
            |m, _| tensor_mut(m, "sm").name = "n".repeat(256),
            "256 bytes, more than the limit 255",
        ),
        (
            "rank above 16",
            |m, _| tensor_mut(m, "sm").shape = vec![1; 17],
            "rank 17, more than the maximum 16",
        ),
        (
            "element count overflow",
            |m, _| tensor_mut(m, "sm").shape = vec![1 << 30; 4],
            "element count overflows",
        ),
        (
            "tensor too large",
            |m, _| tensor_mut(m, "sm").shape = vec![1 << 20, 1 << 20],
            "larger than the limit",
        ),
        (
            "zero dimension",
            |m, _| tensor_mut(m, "sm").shape = vec![1, 0],
            "zero-length dimension 1",
        ),
        (
            "layout needs rank 4",
            |m, _| tensor_mut(m, "sm").layout = Layout::Nhwc,
            "layout Nhwc but rank 2",
        ),
        (
            "weight offset misaligned",
            |m, _| {
                if let Storage::Weight { offset, .. } = &mut tensor_mut(m, "wg").storage {
                    *offset += 32;
                }
            },
            "is not a multiple of 64",
        ),
        (
            "weight length differs from its shape",
            |m, _| {
                if let Storage::Weight { len, .. } = &mut tensor_mut(m, "wg").storage {
                    *len -= 4;
                }
            },
            "need 240 bytes",
        ),
        (
            "weight outside the weights section",
            |_, w| w.truncate(w.len() - 1),
            "exceeds the weights section",
        ),
        (
            "graph input is a weight",
            |m, _| m.graph.inputs[0] = find(m, "wg"),
            "graph input 'wg'",
        ),
        (
            "graph input produced by a node",
            |m, _| {
                let sm = find(m, "sm");
                m.graph.inputs.push(sm);
                m.preprocess.push(InputPreprocess::default());
            },
            "is a graph input",
        ),
        (
            "activation produced twice",
            |m, _| node_mut(m, "ln").outputs[0] = find(m, "sm"),
            "already produced",
        ),
        (
            "nodes out of order",
            |m, _| m.graph.nodes.swap(0, 1),
            "used before it is produced",
        ),
        (
            "activation never produced",
            |m, _| {
                m.graph
                    .add_tensor(TensorInfo::activation("orphan", vec![1], DType::F32));
            },
            "'orphan' (tensor",
        ),
        (
            "wrong input count",
            |m, _| node_mut(m, "sm").inputs.push(0),
            "has 2 inputs and 1 outputs",
        ),
        (
            "output shape differs from inference",
            |m, _| tensor_mut(m, "conv").shape = vec![1, 8, 7, 7],
            "but the op computes [1, 8, 8, 8]",
        ),
        (
            "int8 Conv without quantization",
            |m, _| tensor_mut(m, "yq").quant = None,
            "output 'yq' is I8 but has no quantization parameters",
        ),
        (
            "int8 Conv with a float bias",
            |m, w| {
                let bq = find(m, "bq");
                m.graph.tensors[bq].dtype = DType::F32;
                let _ = w;
            },
            "needs an int32 bias",
        ),
        (
            "Quantize output without quantization",
            |m, _| tensor_mut(m, "q").quant = None,
            "output 'q' is I8 but has no quantization parameters",
        ),
        (
            "Gather with float indices",
            |m, w| {
                let idx = find(m, "idx");
                let t = &mut m.graph.tensors[idx];
                t.dtype = DType::F32;
                t.storage = Storage::Weight {
                    offset: match t.storage {
                        Storage::Weight { offset, .. } => offset,
                        Storage::Activation => 0,
                    },
                    len: 12,
                };
                let _ = w;
            },
            "Gather takes int32 or int64 indices",
        ),
        (
            "negative quantization scale",
            |m, _| tensor_mut(m, "q").quant = Some(Quant::per_tensor(-1.0, 0)),
            "scales must be finite and positive",
        ),
        (
            "zero point out of range",
            |m, _| tensor_mut(m, "q").quant = Some(Quant::per_tensor(1.0, 300)),
            "zero point 300 is outside the range of I8",
        ),
        (
            "per-channel length differs from the channel count",
            |m, _| {
                tensor_mut(m, "wq").quant = Some(Quant::per_channel(vec![1.0; 3], vec![0; 3], 0))
            },
            "3 per-channel scales but 2 channels",
        ),
        (
            "quantization axis out of range",
            |m, _| {
                tensor_mut(m, "wq").quant = Some(Quant::per_channel(vec![1.0; 2], vec![0; 2], 7))
            },
            "axis 7 is out of range",
        ),
        (
            "per-channel weights on the wrong axis",
            |m, _| {
                tensor_mut(m, "wq").quant = Some(Quant::per_channel(vec![1.0; 4], vec![0; 4], 1))
            },
            "only the output-channel axis 0",
        ),
        (
            "quantization on a float tensor",
            |m, _| tensor_mut(m, "sm").quant = Some(Quant::per_tensor(1.0, 0)),
            "only integer tensors are quantized",
        ),
        (
            "Cast output type differs",
            |m, _| tensor_mut(m, "cast").dtype = DType::F16,
            "the Cast is to F32",
        ),
        (
            "ArgMax output not int64",
            |m, _| tensor_mut(m, "argmax").dtype = DType::I32,
            "ArgMax produces unquantized int64",
        ),
        (
            "mixed float types",
            |m, _| tensor_mut(m, "sm").dtype = DType::F16,
            "the op needs one element type",
        ),
        (
            "preprocess count",
            |m, _| m.preprocess.clear(),
            "0 pre-processing entries for 1 graph inputs",
        ),
        (
            "mean count",
            |m, _| m.preprocess[0].mean = vec![1.0, 2.0, 3.0],
            "3 mean values, but 4 channels",
        ),
        (
            "std zero",
            |m, _| m.preprocess[0].std = vec![1.0, 0.0, 1.0, 1.0],
            "std value of 0",
        ),
        (
            "custom string too long",
            |m, _| m.custom_string = "c".repeat(1024),
            "custom string is 1024 bytes",
        ),
        (
            "internal size too large",
            |m, _| m.internal_size = u64::MAX,
            "internal size",
        ),
        (
            "no graph inputs",
            |m, _| {
                m.graph.inputs.clear();
                m.preprocess.clear();
            },
            "at least one of each",
        ),
        (
            "duplicate graph output",
            |m, _| {
                let o = m.graph.outputs[0];
                m.graph.outputs.push(o);
            },
            "listed twice",
        ),
        (
            "graph output never produced",
            |m, _| {
                let t = m
                    .graph
                    .add_tensor(TensorInfo::activation("ghost", vec![1], DType::F32));
                m.graph.outputs.push(t);
            },
            "graph output 'ghost' (tensor",
        ),
        (
            "split lengths do not sum to the axis",
            |m, _| {
                tensor_mut(m, "s2").shape = vec![1, 5, 8, 8];
            },
            "sum to 11, but the input has 12",
        ),
        (
            "slice beyond the input",
            |m, _| {
                if let Op::Slice { starts, .. } = &mut node_mut(m, "slice").op {
                    starts[0] = 2;
                }
            },
            "cannot produce 4 elements",
        ),
        (
            "reshape changes the element count",
            |m, _| tensor_mut(m, "flat").shape = vec![1, 7],
            "changes the element count",
        ),
        (
            "transpose with an invalid perm",
            |m, _| {
                node_mut(m, "tr").op = Op::Transpose {
                    perm: vec![0, 1, 3, 3],
                }
            },
            "is not a permutation",
        ),
        (
            "reduce axis out of range",
            |m, _| {
                node_mut(m, "rm").op = Op::Reduce {
                    op: ReduceOp::Mean,
                    axes: vec![2],
                    keepdims: true,
                }
            },
            "axis 2 is out of range",
        ),
        (
            "resize of a rank-1 tensor",
            |m, _| {
                let cs = find(m, "cg");
                let n = node_mut(m, "resize");
                n.inputs[0] = cs;
            },
            "must have rank >= 2",
        ),
    ];
    let (meta, weights) = every_op_model();
    for (rule, edit, want) in cases {
        let (mut m, mut w) = (meta.clone(), weights.clone());
        edit(&mut m, &mut w);
        let file = write(&m, &w);
        let reason = match parse(&file) {
            Err(ModelError::Invalid(r)) => r,
            other => panic!("rule {rule:?}: expected Invalid, got {other:?}"),
        };
        assert!(
            reason.contains(want),
            "rule {rule:?}: want {want:?} in {reason:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Mutations behind a valid checksum: exercise the parser and the semantic
// checks (a plain bit flip stops at the checksum).

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn resealed_mutations_never_panic() {
    let (meta, weights) = every_op_model();
    let file = write(&meta, &weights);
    let layout = parse_layout(&file).unwrap();
    let json = layout.metadata.clone();
    let digits: Vec<usize> = json.clone().filter(|&i| file[i].is_ascii_digit()).collect();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let (mut accepted, mut semantic, mut other) = (0, 0, 0);
    for round in 0..3000 {
        let mut f = file.clone();
        for _ in 0..1 + rng.below(3) {
            if round % 2 == 0 {
                // Keep the JSON well formed: change one digit.
                let i = digits[rng.below(digits.len())];
                f[i] = b'0' + rng.below(10) as u8;
            } else {
                // Anything after the magic and version.
                let i = 16 + rng.below(f.len() - 16);
                f[i] = rng.next() as u8;
            }
        }
        reseal(&mut f);
        match parse(&f) {
            Ok((m, range)) => {
                m.validate(range.len() as u64)
                    .expect("accepted models are valid");
                accepted += 1;
            }
            Err(ModelError::Invalid(msg)) if msg.starts_with("graph:") => semantic += 1,
            Err(ModelError::Invalid(_)) => other += 1,
            Err(e) => panic!("round {round}: unexpected {e:?}"),
        }
    }
    assert!(semantic > 100, "semantic rejections: {semantic}");
    assert!(other > 100, "structural rejections: {other}");
    assert!(accepted > 0, "some digit changes keep the model valid");
}

#[test]
fn load_reports_errors() {
    match Model::load(Box::new(Vec::<u8>::new())) {
        Err(ModelError::Invalid(m)) => assert!(m.contains("empty"), "{m}"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    // A Toolkit2 container goes to the vendor reader, which finds no
    // FlatBuffer in these 8 bytes.
    match Model::load(Box::new(vendor_file(6, &[0; 8]))) {
        Err(ModelError::Invalid(m)) => assert!(m.contains("FlatBuffer"), "{m}"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    match Model::load(Box::new(vendor_file(0x1004, &[0; 64]))) {
        Err(ModelError::Unsupported(m)) => assert!(m.contains("RV1103"), "{m}"),
        other => panic!("expected Unsupported, got {other:?}"),
    }
}
