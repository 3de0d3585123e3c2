//! Dynamic input shapes through the C functions (`docs/dynamic_shapes.md`):
//! the range and current-attribute queries, `rknn_set_input_shapes` with
//! every kind of wrong shape set, switching sets between runs in the
//! general and the zero-copy flows without new memory, static models
//! refusing shape changes, and the checks of shape sets in a model file.

mod common;

use std::ffi::{c_void, CStr};
use std::ptr::null_mut;

use bytemuck::Zeroable;
use rknnrt::abi::*;
use rknnrt::capi::dynamic::{rknn_set_input_shape, rknn_set_input_shapes};
use rknnrt::capi::general::*;
use rknnrt::capi::zero_copy::{rknn_create_mem, rknn_destroy_mem, rknn_set_io_mem};
use rknnrt::graph::{
    BinaryOp, DType, Graph, Node, Op, ShapeSet, Storage, Target, TensorInfo, Window,
};
use rknnrt::model::{InputPreprocess, Model, ModelMeta};
use rknnrt::platform::Platform;
use rknnrt::runtime::dynamic::{ShapeRequest, ShapeTable};

/// Conv weights [2,3,1,1] and bias [2] of the single-input model.
const W: [f32; 6] = [0.5, -1.0, 0.25, 1.5, 0.75, -0.5];
const B: [f32; 2] = [0.1, -0.2];

fn weights_bytes() -> Vec<u8> {
    let mut w = vec![0u8; 72];
    for (i, v) in W.iter().enumerate() {
        w[i * 4..i * 4 + 4].copy_from_slice(&v.to_le_bytes());
    }
    for (i, v) in B.iter().enumerate() {
        w[64 + i * 4..68 + i * 4].copy_from_slice(&v.to_le_bytes());
    }
    w
}

/// x [1,3,h,w] -> 1x1 conv (3->2, bias) -> c -> Reshape -> y [1, 2hw];
/// c -> GlobalAveragePool -> z [1,2,1,1].
fn conv_graph(h: usize, w: usize) -> Graph {
    let mut g = Graph::default();
    let x = g.add_tensor(TensorInfo::activation("x", vec![1, 3, h, w], DType::F32));
    let mut wt = TensorInfo::activation("w", vec![2, 3, 1, 1], DType::F32);
    wt.storage = Storage::Weight { offset: 0, len: 24 };
    let wt = g.add_tensor(wt);
    let mut bt = TensorInfo::activation("b", vec![2], DType::F32);
    bt.storage = Storage::Weight { offset: 64, len: 8 };
    let bt = g.add_tensor(bt);
    let c = g.add_tensor(TensorInfo::activation("c", vec![1, 2, h, w], DType::F32));
    let y = g.add_tensor(TensorInfo::activation("y", vec![1, 2 * h * w], DType::F32));
    let z = g.add_tensor(TensorInfo::activation("z", vec![1, 2, 1, 1], DType::F32));
    g.inputs.push(x);
    g.outputs.extend([y, z]);
    let node = |name: &str, op: Op, inputs: Vec<usize>, out: usize| Node {
        name: name.into(),
        op,
        inputs,
        outputs: vec![out],
        target: Target::Cpu,
    };
    let window = Window {
        kernel: [1, 1],
        stride: [1, 1],
        pads: [0; 4],
        dilation: [1, 1],
    };
    g.add_node(node(
        "conv",
        Op::Conv {
            window,
            group: 1,
            activation: None,
        },
        vec![x, wt, bt],
        c,
    ));
    g.add_node(node("flatten", Op::Reshape, vec![c], y));
    g.add_node(node("gap", Op::GlobalAveragePool, vec![c], z));
    g
}

/// The shape sets of the single-input model, in set order; set 1 (the
/// largest) is stored on the graph.
const SETS: [(usize, usize); 3] = [(2, 2), (4, 6), (3, 5)];

fn meta(graph: Graph, sets: Vec<ShapeSet>) -> ModelMeta {
    let preprocess = vec![InputPreprocess::default(); graph.inputs.len()];
    ModelMeta {
        graph,
        preprocess,
        platform: Platform::Rk3588,
        custom_string: String::new(),
        producer: "rknnrt-tests".to_string(),
        internal_size: 0,
        batch_size: 1,
        shape_sets: sets,
    }
}

fn dynamic_meta() -> ModelMeta {
    let base = conv_graph(4, 6);
    let sets = SETS
        .iter()
        .map(|&(h, w)| ShapeSet::between(&base, &conv_graph(h, w)))
        .collect();
    meta(base, sets)
}

fn dynamic_model() -> Vec<u8> {
    rknnrt::model::write(&dynamic_meta(), &weights_bytes())
}

/// a [1,n] and b [1,m] -> Concat -> y [1,n+m]; sets (2,3) and (4,1).
fn two_input_model() -> Vec<u8> {
    let graph = |n: usize, m: usize| {
        let mut g = Graph::default();
        let a = g.add_tensor(TensorInfo::activation("a", vec![1, n], DType::F32));
        let b = g.add_tensor(TensorInfo::activation("b", vec![1, m], DType::F32));
        let y = g.add_tensor(TensorInfo::activation("y", vec![1, n + m], DType::F32));
        g.inputs.extend([a, b]);
        g.outputs.push(y);
        g.add_node(Node {
            name: "concat".into(),
            op: Op::Concat { axis: 1 },
            inputs: vec![a, b],
            outputs: vec![y],
            target: Target::Cpu,
        });
        g
    };
    let base = graph(2, 3);
    let sets = vec![
        ShapeSet::between(&base, &graph(2, 3)),
        ShapeSet::between(&base, &graph(4, 1)),
    ];
    rknnrt::model::write(&meta(base, sets), &[])
}

/// What the single-input model computes for an NCHW input of h x w.
fn reference(x: &[f32], h: usize, w: usize) -> (Vec<f32>, Vec<f32>) {
    let hw = h * w;
    let mut y = vec![0f32; 2 * hw];
    for o in 0..2 {
        for p in 0..hw {
            y[o * hw + p] = B[o] + (0..3).map(|c| W[o * 3 + c] * x[c * hw + p]).sum::<f32>();
        }
    }
    let z = (0..2)
        .map(|o| y[o * hw..(o + 1) * hw].iter().sum::<f32>() / hw as f32)
        .collect();
    (y, z)
}

/// An NCHW input of h x w and the same values as NHWC.
fn input(h: usize, w: usize, seed: usize) -> (Vec<f32>, Vec<f32>) {
    let nchw: Vec<f32> = (0..3 * h * w)
        .map(|i| ((i * 7 + seed * 3) % 11) as f32 / 4.0 - 1.0)
        .collect();
    let mut nhwc = vec![0f32; nchw.len()];
    for c in 0..3 {
        for p in 0..h * w {
            nhwc[p * 3 + c] = nchw[c * h * w + p];
        }
    }
    (nchw, nhwc)
}

fn init(bytes: &[u8]) -> rknn_context {
    let mut ctx: rknn_context = 0;
    // SAFETY: valid pointers; `bytes` outlives the call.
    let r = unsafe {
        rknn_init(
            &mut ctx,
            bytes.as_ptr() as *mut c_void,
            bytes.len() as u32,
            0,
            null_mut(),
        )
    };
    assert_eq!(r, RKNN_SUCC, "rknn_init");
    ctx
}

fn query<T>(ctx: rknn_context, cmd: rknn_query_cmd, v: &mut T) -> i32 {
    // SAFETY: `v` is a valid, writable T.
    unsafe {
        rknn_query(
            ctx,
            cmd,
            v as *mut T as *mut c_void,
            std::mem::size_of::<T>() as u32,
        )
    }
}

fn attr(ctx: rknn_context, cmd: rknn_query_cmd, index: u32) -> Result<rknn_tensor_attr, i32> {
    let mut a = rknn_tensor_attr {
        index,
        ..Default::default()
    };
    match query(ctx, cmd, &mut a) {
        RKNN_SUCC => Ok(a),
        e => Err(e),
    }
}

fn dims(a: &rknn_tensor_attr) -> Vec<u32> {
    a.dims[..a.n_dims as usize].to_vec()
}

fn name(a: &rknn_tensor_attr) -> String {
    // SAFETY: the runtime NUL-terminates names.
    unsafe { CStr::from_ptr(a.name.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// An attribute asking for `shape` in `fmt` for input `index`.
fn shape_attr(index: u32, shape: &[u32], fmt: rknn_tensor_format) -> rknn_tensor_attr {
    let mut a = rknn_tensor_attr {
        index,
        n_dims: shape.len() as u32,
        fmt,
        ..Default::default()
    };
    a.dims[..shape.len()].copy_from_slice(shape);
    a
}

fn set_shapes(ctx: rknn_context, attrs: &mut [rknn_tensor_attr]) -> i32 {
    // SAFETY: `attrs` holds `len` valid structs.
    unsafe { rknn_set_input_shapes(ctx, attrs.len() as u32, attrs.as_mut_ptr()) }
}

/// Chooses the set of the single-input model with input h x w (NHWC).
fn choose(ctx: rknn_context, h: usize, w: usize) -> i32 {
    set_shapes(
        ctx,
        &mut [shape_attr(0, &[1, h as u32, w as u32, 3], RKNN_TENSOR_NHWC)],
    )
}

fn run(ctx: rknn_context) -> i32 {
    // SAFETY: plain call.
    unsafe { rknn_run(ctx, null_mut()) }
}

fn set_nhwc_input(ctx: rknn_context, data: &mut [f32]) -> i32 {
    let mut inp = rknn_input {
        buf: data.as_mut_ptr().cast(),
        size: (data.len() * 4) as u32,
        r#type: RKNN_TENSOR_FLOAT32,
        fmt: RKNN_TENSOR_NHWC,
        ..Default::default()
    };
    // SAFETY: one valid input whose buffer holds `size` bytes.
    unsafe { rknn_inputs_set(ctx, 1, &mut inp) }
}

/// Both outputs as float32.
fn float_outputs(ctx: rknn_context) -> Result<Vec<Vec<f32>>, i32> {
    let mut outs = [rknn_output::default(), rknn_output::default()];
    for (i, o) in outs.iter_mut().enumerate() {
        o.index = i as u32;
        o.want_float = 1;
    }
    // SAFETY: two valid outputs.
    let r = unsafe { rknn_outputs_get(ctx, 2, outs.as_mut_ptr(), null_mut()) };
    if r != RKNN_SUCC {
        return Err(r);
    }
    let v = outs
        .iter()
        // SAFETY: the runtime lent `size` bytes at `buf`.
        .map(|o| {
            unsafe { std::slice::from_raw_parts(o.buf as *const f32, o.size as usize / 4) }.to_vec()
        })
        .collect();
    // SAFETY: releasing what was handed out.
    assert_eq!(
        unsafe { rknn_outputs_release(ctx, 2, outs.as_mut_ptr()) },
        RKNN_SUCC
    );
    Ok(v)
}

fn close(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= 1e-5, "{got:?} != {want:?}");
    }
}

#[test]
fn range_and_attribute_queries() {
    let ctx = init(&dynamic_model());
    let mut range = rknn_input_range::zeroed();
    assert_eq!(
        query(ctx, RKNN_QUERY_INPUT_DYNAMIC_RANGE, &mut range),
        RKNN_SUCC
    );
    assert_eq!(range.shape_number, 3);
    assert_eq!(range.fmt, RKNN_TENSOR_NHWC);
    assert_eq!(range.n_dims, 4);
    // SAFETY: NUL-terminated by the runtime.
    assert_eq!(
        unsafe { CStr::from_ptr(range.name.as_ptr()) }.to_str(),
        Ok("x")
    );
    for (s, &(h, w)) in SETS.iter().enumerate() {
        assert_eq!(range.dyn_range[s][..4], [1, h as u32, w as u32, 3]);
        assert_eq!(range.dyn_range[s][4], 0);
    }
    assert_eq!(range.dyn_range[3], [0; RKNN_MAX_DIMS]);
    range.index = 1;
    assert_eq!(
        query(ctx, RKNN_QUERY_INPUT_DYNAMIC_RANGE, &mut range),
        RKNN_ERR_PARAM_INVALID
    );
    let mut small = rknn_tensor_attr::default();
    assert_eq!(
        query(ctx, RKNN_QUERY_INPUT_DYNAMIC_RANGE, &mut small),
        RKNN_ERR_PARAM_INVALID,
        "a buffer smaller than rknn_input_range"
    );

    // Before any set: the plain queries describe the stored (largest) set,
    // the current ones refuse.
    let a = attr(ctx, RKNN_QUERY_INPUT_ATTR, 0).unwrap();
    assert_eq!(
        (dims(&a), a.fmt, name(&a)),
        (vec![1, 4, 6, 3], RKNN_TENSOR_NHWC, "x".into())
    );
    let o = attr(ctx, RKNN_QUERY_OUTPUT_ATTR, 0).unwrap();
    assert_eq!(dims(&o), vec![1, 48]);
    for cmd in [
        RKNN_QUERY_CURRENT_INPUT_ATTR,
        RKNN_QUERY_CURRENT_OUTPUT_ATTR,
        RKNN_QUERY_CURRENT_NATIVE_INPUT_ATTR,
        RKNN_QUERY_CURRENT_NATIVE_OUTPUT_ATTR,
    ] {
        assert_eq!(attr(ctx, cmd, 0).unwrap_err(), RKNN_ERR_FAIL, "cmd {cmd}");
    }

    assert_eq!(choose(ctx, 3, 5), RKNN_SUCC);
    let a = attr(ctx, RKNN_QUERY_CURRENT_INPUT_ATTR, 0).unwrap();
    assert_eq!(
        (dims(&a), a.fmt, a.size, a.n_elems),
        (vec![1, 3, 5, 3], RKNN_TENSOR_NHWC, 180, 45)
    );
    let o = attr(ctx, RKNN_QUERY_CURRENT_OUTPUT_ATTR, 0).unwrap();
    assert_eq!(
        (dims(&o), o.fmt, name(&o)),
        (vec![1, 30], RKNN_TENSOR_UNDEFINED, "y".into())
    );
    let z = attr(ctx, RKNN_QUERY_CURRENT_OUTPUT_ATTR, 1).unwrap();
    assert_eq!((dims(&z), z.fmt), (vec![1, 2, 1, 1], RKNN_TENSOR_NCHW));
    // The native input of a 3-channel image is NHWC with the width
    // aligned to 16 on rk3588.
    let n = attr(ctx, RKNN_QUERY_CURRENT_NATIVE_INPUT_ATTR, 0).unwrap();
    assert_eq!(
        (dims(&n), n.fmt, n.w_stride),
        (vec![1, 3, 5, 3], RKNN_TENSOR_NHWC, 16)
    );
    assert_eq!(n.size_with_stride, 3 * 16 * 3 * 4);
    let n = attr(ctx, RKNN_QUERY_CURRENT_NATIVE_OUTPUT_ATTR, 0).unwrap();
    assert_eq!(dims(&n), vec![1, 30]);
    assert_eq!(
        attr(ctx, RKNN_QUERY_CURRENT_INPUT_ATTR, 1).unwrap_err(),
        RKNN_ERR_PARAM_INVALID
    );
    // The plain queries still answer the stored set.
    let a = attr(ctx, RKNN_QUERY_INPUT_ATTR, 0).unwrap();
    assert_eq!(dims(&a), vec![1, 4, 6, 3]);
    let n = attr(ctx, RKNN_QUERY_NATIVE_INPUT_ATTR, 0).unwrap();
    assert_eq!(dims(&n), vec![1, 4, 6, 3]);
    assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
}

#[test]
fn wrong_shape_sets_are_refused_and_leave_the_context_usable() {
    let ctx = init(&dynamic_model());
    let nhwc = |h: u32, w: u32| shape_attr(0, &[1, h, w, 3], RKNN_TENSOR_NHWC);
    // Not one of the sets; NCHW dims under an NHWC fmt; wrong rank;
    // a layout that cannot describe a shape.
    assert_eq!(set_shapes(ctx, &mut [nhwc(5, 5)]), RKNN_ERR_FAIL);
    assert_eq!(
        set_shapes(ctx, &mut [shape_attr(0, &[1, 3, 3, 5], RKNN_TENSOR_NHWC)]),
        RKNN_ERR_FAIL
    );
    assert_eq!(
        set_shapes(ctx, &mut [shape_attr(0, &[1, 3, 5], RKNN_TENSOR_UNDEFINED)]),
        RKNN_ERR_FAIL
    );
    assert_eq!(
        set_shapes(
            ctx,
            &mut [shape_attr(0, &[1, 1, 3, 5, 16], RKNN_TENSOR_NC1HWC2)]
        ),
        RKNN_ERR_FAIL
    );
    // Argument errors.
    assert_eq!(
        set_shapes(ctx, &mut [nhwc(3, 5), nhwc(3, 5)]),
        RKNN_ERR_PARAM_INVALID
    );
    assert_eq!(set_shapes(ctx, &mut []), RKNN_ERR_PARAM_INVALID);
    // SAFETY: a NULL attribute array is refused before any read.
    assert_eq!(
        unsafe { rknn_set_input_shapes(ctx, 1, null_mut()) },
        RKNN_ERR_PARAM_INVALID
    );
    assert_eq!(
        unsafe { rknn_set_input_shape(ctx, null_mut()) },
        RKNN_ERR_PARAM_INVALID
    );
    let mut bad_index = nhwc(3, 5);
    bad_index.index = 1;
    assert_eq!(set_shapes(ctx, &mut [bad_index]), RKNN_ERR_PARAM_INVALID);
    let mut bad_name = nhwc(3, 5);
    bad_name.name[0] = b'q' as _;
    assert_eq!(set_shapes(ctx, &mut [bad_name]), RKNN_ERR_PARAM_INVALID);
    let mut too_many_dims = nhwc(3, 5);
    too_many_dims.n_dims = 17;
    assert_eq!(
        set_shapes(ctx, &mut [too_many_dims]),
        RKNN_ERR_PARAM_INVALID
    );
    let mut bad_fmt = nhwc(3, 5);
    bad_fmt.fmt = 99;
    assert_eq!(set_shapes(ctx, &mut [bad_fmt]), RKNN_ERR_PARAM_INVALID);
    assert_eq!(set_shapes(9999, &mut [nhwc(3, 5)]), RKNN_ERR_CTX_INVALID);
    // Nothing was chosen by the failures.
    assert_eq!(
        attr(ctx, RKNN_QUERY_CURRENT_INPUT_ATTR, 0).unwrap_err(),
        RKNN_ERR_FAIL
    );

    // The right name, NCHW dims with an NCHW fmt, and the singular call
    // (one input) all choose a set.
    let mut named = nhwc(2, 2);
    named.name[0] = b'x' as _;
    assert_eq!(set_shapes(ctx, &mut [named]), RKNN_SUCC);
    assert_eq!(
        set_shapes(ctx, &mut [shape_attr(0, &[1, 3, 3, 5], RKNN_TENSOR_NCHW)]),
        RKNN_SUCC
    );
    assert_eq!(
        dims(&attr(ctx, RKNN_QUERY_CURRENT_INPUT_ATTR, 0).unwrap()),
        vec![1, 3, 5, 3]
    );
    let mut one = nhwc(4, 6);
    // SAFETY: one valid attribute.
    assert_eq!(unsafe { rknn_set_input_shape(ctx, &mut one) }, RKNN_SUCC);
    assert_eq!(
        dims(&attr(ctx, RKNN_QUERY_CURRENT_INPUT_ATTR, 0).unwrap()),
        vec![1, 4, 6, 3]
    );
    // A failure keeps the current set.
    assert_eq!(set_shapes(ctx, &mut [nhwc(7, 7)]), RKNN_ERR_FAIL);
    assert_eq!(
        dims(&attr(ctx, RKNN_QUERY_CURRENT_INPUT_ATTR, 0).unwrap()),
        vec![1, 4, 6, 3]
    );
    assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
}

#[test]
fn the_error_lists_the_supported_shapes_as_the_vendor_does() {
    let model = Model::load(Box::new(dynamic_model())).unwrap();
    let table = ShapeTable::build(&model).unwrap().unwrap();
    let req = |dims: Vec<u32>, layout| ShapeRequest {
        index: 0,
        name: "x".into(),
        dims,
        layout,
    };
    let e = table
        .find(&[req(vec![1, 3, 224, 224], rknnrt::graph::Layout::Nhwc)])
        .unwrap_err();
    let lines: Vec<&str> = e.message.lines().collect();
    assert_eq!(
        lines,
        [
            "rknn_set_input_shapes error, input name = x supported input shapes are as follows:",
            " shape = [1,2,2,3], layout = NHWC",
            " shape = [1,4,6,3], layout = NHWC",
            " shape = [1,3,5,3], layout = NHWC",
            "while get rknn_tensor_attr[0].name = x, dims = [1, 3, 224, 224], fmt = NHWC",
        ]
    );
    assert_eq!(
        table
            .find(&[req(vec![1, 4, 6, 3], rknnrt::graph::Layout::Nhwc)])
            .unwrap(),
        1
    );

    // Two inputs: each shape exists, but not in the same set.
    let model = Model::load(Box::new(two_input_model())).unwrap();
    let table = ShapeTable::build(&model).unwrap().unwrap();
    let two = |n: u32, m: u32| {
        [
            ShapeRequest {
                index: 0,
                name: String::new(),
                dims: vec![1, n],
                layout: rknnrt::graph::Layout::Undefined,
            },
            ShapeRequest {
                index: 1,
                name: String::new(),
                dims: vec![1, m],
                layout: rknnrt::graph::Layout::Undefined,
            },
        ]
    };
    let e = table.find(&two(2, 1)).unwrap_err();
    assert!(
        e.message.contains("not one of the model's shape sets"),
        "{}",
        e.message
    );
    assert!(
        e.message.contains(
            " set 1: a shape = [1,4], layout = UNDEFINED; b shape = [1,1], layout = UNDEFINED"
        ),
        "{}",
        e.message
    );
    assert_eq!(table.find(&two(4, 1)).unwrap(), 1);
    let mut swapped = two(2, 3);
    swapped.swap(0, 1);
    assert_eq!(
        table.find(&swapped).unwrap(),
        0,
        "attributes address inputs by index"
    );
}

#[test]
fn two_inputs_are_chosen_together() {
    let ctx = init(&two_input_model());
    let undef = |i: u32, n: u32| shape_attr(i, &[1, n], RKNN_TENSOR_UNDEFINED);
    assert_eq!(
        set_shapes(ctx, &mut [undef(0, 2), undef(1, 1)]),
        RKNN_ERR_FAIL
    );
    assert_eq!(set_shapes(ctx, &mut [undef(0, 4)]), RKNN_ERR_PARAM_INVALID);
    assert_eq!(
        set_shapes(ctx, &mut [undef(0, 4), undef(0, 4)]),
        RKNN_ERR_PARAM_INVALID
    );
    let mut one = undef(0, 4);
    // SAFETY: one valid attribute.
    assert_eq!(
        unsafe { rknn_set_input_shape(ctx, &mut one) },
        RKNN_ERR_FAIL
    );
    assert_eq!(set_shapes(ctx, &mut [undef(0, 4), undef(1, 1)]), RKNN_SUCC);
    let mut a = [1f32, 2.0, 3.0, 4.0];
    let mut b = [5f32];
    let mut inputs = [rknn_input::default(), rknn_input::default()];
    for (i, (inp, data)) in inputs.iter_mut().zip([&mut a[..], &mut b[..]]).enumerate() {
        inp.index = i as u32;
        inp.buf = data.as_mut_ptr().cast();
        inp.size = (data.len() * 4) as u32;
        inp.r#type = RKNN_TENSOR_FLOAT32;
        inp.fmt = RKNN_TENSOR_UNDEFINED;
    }
    // SAFETY: two valid inputs.
    assert_eq!(
        unsafe { rknn_inputs_set(ctx, 2, inputs.as_mut_ptr()) },
        RKNN_SUCC
    );
    assert_eq!(run(ctx), RKNN_SUCC);
    let mut out = rknn_output {
        want_float: 1,
        ..Default::default()
    };
    // SAFETY: one valid output.
    assert_eq!(
        unsafe { rknn_outputs_get(ctx, 1, &mut out, null_mut()) },
        RKNN_SUCC
    );
    // SAFETY: the runtime lent `size` bytes.
    let y = unsafe { std::slice::from_raw_parts(out.buf as *const f32, out.size as usize / 4) };
    assert_eq!(y, [1.0, 2.0, 3.0, 4.0, 5.0]);
    // SAFETY: releasing what was handed out.
    assert_eq!(unsafe { rknn_outputs_release(ctx, 1, &mut out) }, RKNN_SUCC);
    assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
}

#[test]
fn general_flow_switches_sets_between_runs() {
    let ctx = init(&dynamic_model());
    let (_, mut x) = input(4, 6, 0);
    // Nothing runs or takes data before a set is chosen.
    assert_eq!(set_nhwc_input(ctx, &mut x), RKNN_ERR_FAIL);
    assert_eq!(run(ctx), RKNN_ERR_FAIL);

    let mut mem = rknn_mem_size::default();
    assert_eq!(query(ctx, RKNN_QUERY_MEM_SIZE, &mut mem), RKNN_SUCC);
    let allocated = mem.total_dma_allocated_size;
    for (k, &(h, w)) in [SETS[0], SETS[1], SETS[2], SETS[0], SETS[1]]
        .iter()
        .enumerate()
    {
        assert_eq!(choose(ctx, h, w), RKNN_SUCC);
        // The last run's outputs and the inputs are gone with the old set.
        assert_eq!(float_outputs(ctx).unwrap_err(), RKNN_ERR_FAIL);
        assert_eq!(run(ctx), RKNN_ERR_FAIL, "input not set for the new shapes");
        let (nchw, mut nhwc) = input(h, w, k);
        let mut wrong = vec![0f32; nhwc.len() - 3];
        assert_eq!(set_nhwc_input(ctx, &mut wrong), RKNN_ERR_INPUT_INVALID);
        assert_eq!(set_nhwc_input(ctx, &mut nhwc), RKNN_SUCC);
        assert_eq!(run(ctx), RKNN_SUCC);
        let outs = float_outputs(ctx).unwrap();
        let (y, z) = reference(&nchw, h, w);
        close(&outs[0], &y);
        close(&outs[1], &z);
        // Choosing the current set again keeps inputs and outputs.
        assert_eq!(choose(ctx, h, w), RKNN_SUCC);
        assert_eq!(float_outputs(ctx).unwrap().len(), 2);
        assert_eq!(run(ctx), RKNN_SUCC);
        assert_eq!(query(ctx, RKNN_QUERY_MEM_SIZE, &mut mem), RKNN_SUCC);
        assert_eq!(
            mem.total_dma_allocated_size, allocated,
            "no memory is allocated when switching"
        );
    }
    assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
}

#[test]
fn zero_copy_flow_switches_sets_with_memory_for_the_largest() {
    let ctx = init(&dynamic_model());
    // Memory sized from the plain (largest) attributes, as the vendor demo does.
    let a = attr(ctx, RKNN_QUERY_INPUT_ATTR, 0).unwrap();
    // SAFETY: plain calls; the memory is destroyed below.
    let in_mem = unsafe { rknn_create_mem(ctx, a.size_with_stride) };
    let out_mems: Vec<*mut rknn_tensor_mem> = (0..2)
        .map(|j| {
            let o = attr(ctx, RKNN_QUERY_OUTPUT_ATTR, j).unwrap();
            // SAFETY: plain call.
            unsafe { rknn_create_mem(ctx, o.n_elems * 4) }
        })
        .collect();
    assert!(!in_mem.is_null() && out_mems.iter().all(|m| !m.is_null()));
    let mut cur = attr(ctx, RKNN_QUERY_INPUT_ATTR, 0).unwrap();
    // SAFETY: valid memory and attribute.
    assert_eq!(
        unsafe { rknn_set_io_mem(ctx, in_mem, &mut cur) },
        RKNN_ERR_FAIL,
        "no set chosen yet"
    );

    let mut mem = rknn_mem_size::default();
    let mut allocated = None;
    for (k, &(h, w)) in [SETS[1], SETS[0], SETS[2], SETS[1]].iter().enumerate() {
        assert_eq!(choose(ctx, h, w), RKNN_SUCC);
        if k > 0 {
            assert_eq!(
                run(ctx),
                RKNN_ERR_FAIL,
                "memory set for the previous shapes"
            );
        }
        // uint8 NHWC images, as the vendor demo gives them.
        let mut ia = attr(ctx, RKNN_QUERY_CURRENT_INPUT_ATTR, 0).unwrap();
        ia.r#type = RKNN_TENSOR_UINT8;
        let pixels: Vec<u8> = (0..h * w * 3).map(|i| ((i * 7 + k) % 13) as u8).collect();
        let mut nchw = vec![0f32; pixels.len()];
        for (p, &v) in pixels.iter().enumerate() {
            nchw[(p % 3) * h * w + p / 3] = v as f32;
        }
        // SAFETY: the memory holds the largest input; this one is smaller.
        unsafe {
            std::ptr::copy_nonoverlapping(
                pixels.as_ptr(),
                (*in_mem).virt_addr.cast::<u8>(),
                pixels.len(),
            );
        }
        // SAFETY: valid memory and attribute.
        assert_eq!(unsafe { rknn_set_io_mem(ctx, in_mem, &mut ia) }, RKNN_SUCC);
        for (j, &m) in out_mems.iter().enumerate() {
            let mut oa = attr(ctx, RKNN_QUERY_CURRENT_OUTPUT_ATTR, j as u32).unwrap();
            oa.r#type = RKNN_TENSOR_FLOAT32;
            // SAFETY: valid memory and attribute.
            assert_eq!(unsafe { rknn_set_io_mem(ctx, m, &mut oa) }, RKNN_SUCC);
        }
        assert_eq!(run(ctx), RKNN_SUCC);
        let (y, z) = reference(&nchw, h, w);
        // SAFETY: the outputs were written as float32 into the memory.
        let got = |m: *mut rknn_tensor_mem, n: usize| unsafe {
            std::slice::from_raw_parts((*m).virt_addr.cast::<f32>(), n).to_vec()
        };
        close(&got(out_mems[0], y.len()), &y);
        close(&got(out_mems[1], 2), &z);
        assert_eq!(query(ctx, RKNN_QUERY_MEM_SIZE, &mut mem), RKNN_SUCC);
        let now = mem.total_dma_allocated_size;
        assert_eq!(
            *allocated.get_or_insert(now),
            now,
            "no memory is allocated when switching"
        );
    }
    assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
    for m in std::iter::once(in_mem).chain(out_mems) {
        // SAFETY: memory made above, destroyed once.
        assert_eq!(unsafe { rknn_destroy_mem(ctx, m) }, RKNN_SUCC);
    }
}

#[test]
fn memory_is_planned_for_the_largest_set() {
    let model = Model::load(Box::new(dynamic_model())).unwrap();
    let table = ShapeTable::build(&model).unwrap().unwrap();
    let largest = (0..table.len())
        .map(|s| table.set(s).unwrap().plan.arena_size)
        .max()
        .unwrap();
    assert_eq!(table.arena_size(), largest);
    assert_eq!(table.input_bytes(0), 4 * 6 * 3 * 4);
    assert_eq!(table.output_bytes(0), 48 * 4);

    let ctx = init(&dynamic_model());
    let mut mem = rknn_mem_size::default();
    assert_eq!(query(ctx, RKNN_QUERY_MEM_SIZE, &mut mem), RKNN_SUCC);
    assert_eq!(mem.total_internal_size as usize, largest);
    assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
}

#[test]
fn static_models_refuse_shape_changes() {
    let ctx = init(&common::relu_model());
    let mut same = [shape_attr(0, &[1, 4, 4, 3], RKNN_TENSOR_NHWC)];
    assert_eq!(set_shapes(ctx, &mut same), RKNN_ERR_MODEL_INVALID);
    // SAFETY: one valid attribute.
    assert_eq!(
        unsafe { rknn_set_input_shape(ctx, same.as_mut_ptr()) },
        RKNN_ERR_MODEL_INVALID
    );
    let mut range = rknn_input_range::zeroed();
    assert_eq!(
        query(ctx, RKNN_QUERY_INPUT_DYNAMIC_RANGE, &mut range),
        RKNN_ERR_MODEL_INVALID
    );
    // A static model's current shapes are its shapes.
    assert_eq!(
        dims(&attr(ctx, RKNN_QUERY_CURRENT_INPUT_ATTR, 0).unwrap()),
        vec![1, 4, 4, 3]
    );
    assert_eq!(rknn_destroy(ctx), RKNN_SUCC);
}

#[test]
fn files_with_broken_shape_sets_are_refused() {
    let refuse = |m: &ModelMeta, part: &str| {
        let bytes = rknnrt::model::write(m, &weights_bytes());
        let e = Model::load(Box::new(bytes)).unwrap_err().to_string();
        assert!(e.contains(part), "{e} should contain {part}");
    };
    let mut m = dynamic_meta();
    m.shape_sets.push(m.shape_sets[0].clone());
    refuse(&m, "shape sets 0 and 3 have the same input shapes");

    let mut m = dynamic_meta();
    m.shape_sets.remove(1);
    refuse(&m, "are not one of its 2 shape sets");

    let mut m = dynamic_meta();
    m.shape_sets[0].inputs[0] = vec![1, 3, 2];
    refuse(&m, "shape set 0: input 0 'x' has shape [1, 3, 2] of rank 3");

    let mut m = dynamic_meta();
    m.shape_sets[2].outputs.clear();
    refuse(&m, "shape set 2: node 1 'flatten'");

    let mut m = dynamic_meta();
    let base = m.shape_sets[1].clone();
    m.shape_sets = (0..513)
        .map(|i| {
            let mut s = base.clone();
            s.inputs[0][0] = i + 1;
            s
        })
        .collect();
    refuse(&m, "513 shape sets, more than the limit 512");

    // A set whose op is another kind of op than the graph's node.
    let mut m = dynamic_meta();
    m.shape_sets[0].ops.push(rknnrt::graph::SetOp {
        node: 2,
        op: Op::Binary {
            op: BinaryOp::Add,
            activation: None,
        },
    });
    refuse(
        &m,
        "node 2 'gap' is a GlobalAveragePool, the set gives a Add",
    );
}

#[test]
fn static_files_are_unchanged() {
    // A model without sets writes no `shape_sets` key, so files of static
    // models are byte for byte what they were.
    let mut m = dynamic_meta();
    m.shape_sets.clear();
    let json = serde_json::to_string(&m).unwrap();
    assert!(!json.contains("shape_sets"), "{json}");
    let bytes = rknnrt::model::write(&m, &weights_bytes());
    assert!(!Model::load(Box::new(bytes)).unwrap().meta.is_dynamic());
}
