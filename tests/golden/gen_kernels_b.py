#!/usr/bin/env python3
"""Golden data for the element-wise, normalization, reduction, movement and
conversion kernels (`tests/kernels_b_golden.rs`).

Each case builds a small ONNX model with onnx.helper, runs it in
onnxruntime (graph optimizations off, so DequantizeLinear -> op ->
QuantizeLinear chains are not fused), and writes
`tests/golden/ops/b_<case>/`:

  case.json  {"op": <serde JSON of rknnrt::graph::Op>,
              "inputs":  [{"file", "shape", "dtype", "quant"}],
              "outputs": [{"file", "shape", "dtype", "quant"}],
              "tol": "exact" | "f32" | "q1"}
  in<i>.bin / out<i>.bin   raw little-endian tensor data

Tolerances: "exact" (bytes equal: data movement, casts, argmax),
"f32" (|got - want| <= 1e-5 * |want| + 1e-6), "q1" (8-bit outputs within
one step: onnxruntime quantizes with round-half-to-even and x / scale,
rknnrt with the build's rounding switch and x * (1 / scale)).

Run from the repository root: python3 tests/golden/gen_kernels_b.py
"""

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

OUT = Path(__file__).resolve().parent / "ops"
OPSET = 20
RNG = np.random.default_rng(20240611)

DTYPES = {
    np.dtype(np.float32): ("F32", TensorProto.FLOAT),
    np.dtype(np.float16): ("F16", TensorProto.FLOAT16),
    np.dtype(np.int8): ("I8", TensorProto.INT8),
    np.dtype(np.uint8): ("U8", TensorProto.UINT8),
    np.dtype(np.int16): ("I16", TensorProto.INT16),
    np.dtype(np.int32): ("I32", TensorProto.INT32),
    np.dtype(np.int64): ("I64", TensorProto.INT64),
    np.dtype(np.bool_): ("Bool", TensorProto.BOOL),
}


def run_ort(nodes, feeds, outputs, inits=()):
    """Runs a graph. feeds: {name: array}; outputs: [(name, numpy dtype)]."""
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(n, DTYPES[a.dtype][1], a.shape) for n, a in feeds.items()],
        [helper.make_tensor_value_info(n, DTYPES[np.dtype(t)][1], None) for n, t in outputs],
        initializer=[numpy_helper.from_array(np.asarray(a), n) for n, a in inits],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 9
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run([n for n, _ in outputs], feeds)


def quant(scale, zp, axis=0):
    scale = np.atleast_1d(np.asarray(scale, np.float32))
    zp = np.atleast_1d(np.asarray(zp, np.int64))
    return {"scale": [float(s) for s in scale], "zero_point": [int(z) for z in zp], "axis": axis}


CASES = []


def emit(name, op, ins, outs, tol):
    """ins / outs: lists of (array, quant dict or None)."""
    d = OUT / f"b_{name}"
    d.mkdir(parents=True)

    def desc(prefix, i, a, q):
        a = np.ascontiguousarray(a)
        f = f"{prefix}{i}.bin"
        a.astype(a.dtype.newbyteorder("<")).tofile(d / f)
        return {"file": f, "shape": list(a.shape), "dtype": DTYPES[a.dtype][0], "quant": q}

    case = {
        "op": op,
        "inputs": [desc("in", i, a, q) for i, (a, q) in enumerate(ins)],
        "outputs": [desc("out", i, a, q) for i, (a, q) in enumerate(outs)],
        "tol": tol,
    }
    (d / "case.json").write_text(json.dumps(case, indent=1) + "\n")
    CASES.append(name)


def simple(name, op, node_type, arrays, out_dtype=np.float32, tol="f32", n_out=1, consts=(), **attrs):
    """One ONNX node on graph inputs `arrays` (plus constant inputs)."""
    feeds = {f"x{i}": a for i, a in enumerate(arrays)}
    const_names = [f"c{i}" for i in range(len(consts))]
    inputs = list(feeds) + const_names
    outs = [(f"y{i}", out_dtype) for i in range(n_out)]
    node = helper.make_node(node_type, inputs, [n for n, _ in outs], **attrs)
    res = run_ort([node], feeds, outs, list(zip(const_names, consts)))
    emit(name, op, [(a, None) for a in arrays], [(r, None) for r in res], tol)


def f32(*shape, lo=-3.0, hi=3.0):
    return RNG.uniform(lo, hi, size=shape).astype(np.float32)


def i8(*shape):
    return RNG.integers(-128, 128, size=shape, dtype=np.int8)


def act_json(t, **kw):
    return dict({"type": t}, **kw)


def binary_cases():
    for name, onnx_op, shapes in [
        ("add", "Add", ([2, 3, 4], [4])),
        ("sub", "Sub", ([2, 1, 4], [3, 1])),
        ("mul", "Mul", ([], [2, 3])),
        ("div", "Div", ([3, 4], [1, 4])),
        ("max", "Max", ([2, 3], [2, 1])),
        ("min", "Min", ([1], [5])),
    ]:
        a = f32(*shapes[0])
        b = f32(*shapes[1])
        if onnx_op == "Div":
            b = np.where(np.abs(b) < 0.5, 1.0, b).astype(np.float32)
        op = {"type": "binary", "op": name, "activation": None}
        simple(f"binary_{name}", op, onnx_op, [a, b])
    # Fused activation: Add followed by Relu / Clip.
    a, b = f32(2, 3, 4), f32(3, 1)
    for act, extra_nodes, inits in [
        (act_json("relu"), [helper.make_node("Relu", ["t"], ["y0"])], []),
        (
            act_json("clip", min=-0.5, max=1.0),
            [helper.make_node("Clip", ["t", "lo", "hi"], ["y0"])],
            [("lo", np.float32(-0.5)), ("hi", np.float32(1.0))],
        ),
    ]:
        nodes = [helper.make_node("Add", ["x0", "x1"], ["t"])] + extra_nodes
        (y,) = run_ort(nodes, {"x0": a, "x1": b}, [("y0", np.float32)], inits)
        op = {"type": "binary", "op": "add", "activation": act}
        emit(f"binary_add_{act['type']}", op, [(a, None), (b, None)], [(y, None)], "f32")
    # Shape arithmetic on int64.
    for name, onnx_op in [("add", "Add"), ("mul", "Mul"), ("sub", "Sub")]:
        a = RNG.integers(-50, 50, size=[2, 3]).astype(np.int64)
        b = RNG.integers(-50, 50, size=[3]).astype(np.int64)
        op = {"type": "binary", "op": name, "activation": None}
        simple(f"binary_{name}_i64", op, onnx_op, [a, b], out_dtype=np.int64, tol="exact")
    # int8 in real units: DequantizeLinear -> Add/Mul -> QuantizeLinear.
    for name, onnx_op in [("add", "Add"), ("mul", "Mul")]:
        qa, qb = i8(2, 3, 4), i8(1, 3, 1)
        sa, za, sb, zb, so, zo = 0.05, 3, 0.02, -4, 0.06, -2
        if onnx_op == "Mul":
            so = 0.01
        nodes = [
            helper.make_node("DequantizeLinear", ["x0", "sa", "za"], ["a"]),
            helper.make_node("DequantizeLinear", ["x1", "sb", "zb"], ["b"]),
            helper.make_node(onnx_op, ["a", "b"], ["t"]),
            helper.make_node("QuantizeLinear", ["t", "so", "zo"], ["y0"]),
        ]
        inits = [
            ("sa", np.float32(sa)), ("za", np.int8(za)),
            ("sb", np.float32(sb)), ("zb", np.int8(zb)),
            ("so", np.float32(so)), ("zo", np.int8(zo)),
        ]
        (y,) = run_ort(nodes, {"x0": qa, "x1": qb}, [("y0", np.int8)], inits)
        op = {"type": "binary", "op": name, "activation": None}
        emit(f"binary_{name}_i8", op, [(qa, quant(sa, za)), (qb, quant(sb, zb))], [(y, quant(so, zo))], "q1")


def unary_cases():
    x = f32(3, 17, lo=-6.0, hi=6.0)
    for act, node in [
        (act_json("relu"), ("Relu", {})),
        (act_json("leaky_relu", alpha=0.1), ("LeakyRelu", {"alpha": 0.1})),
        (act_json("sigmoid"), ("Sigmoid", {})),
        (act_json("tanh"), ("Tanh", {})),
        (act_json("hard_sigmoid", alpha=0.2, beta=0.5), ("HardSigmoid", {"alpha": 0.2, "beta": 0.5})),
        (act_json("hard_swish"), ("HardSwish", {})),
        (act_json("gelu", tanh_approx=False), ("Gelu", {})),
        (act_json("gelu", tanh_approx=True), ("Gelu", {"approximate": "tanh"})),
        (act_json("exp"), ("Exp", {})),
    ]:
        name = act["type"] + ("_tanh" if act.get("tanh_approx") else "")
        simple(f"unary_{name}", {"type": "unary", "act": act}, node[0], [x], **node[1])
    simple("unary_sqrt", {"type": "unary", "act": act_json("sqrt")}, "Sqrt", [np.abs(x)])
    # Clip / Relu6 take bounds as inputs.
    for act, lo, hi in [(act_json("clip", min=-1.5, max=2.0), -1.5, 2.0), (act_json("relu6"), 0.0, 6.0)]:
        simple(f"unary_{act['type']}", {"type": "unary", "act": act}, "Clip", [x * 2],
               consts=[np.float32(lo), np.float32(hi)])
    # SiLU as x * sigmoid(x).
    nodes = [helper.make_node("Sigmoid", ["x0"], ["s"]), helper.make_node("Mul", ["x0", "s"], ["y0"])]
    (y,) = run_ort(nodes, {"x0": x}, [("y0", np.float32)])
    emit("unary_silu", {"type": "unary", "act": act_json("silu")}, [(x, None)], [(y, None)], "f32")
    # int8 LUT vs DequantizeLinear -> Sigmoid -> QuantizeLinear.
    q = np.arange(-128, 128, dtype=np.int8).reshape(16, 16)
    si, zi, so, zo = 0.05, 10, 1.0 / 256.0, -128
    nodes = [
        helper.make_node("DequantizeLinear", ["x0", "si", "zi"], ["a"]),
        helper.make_node("Sigmoid", ["a"], ["t"]),
        helper.make_node("QuantizeLinear", ["t", "so", "zo"], ["y0"]),
    ]
    inits = [("si", np.float32(si)), ("zi", np.int8(zi)), ("so", np.float32(so)), ("zo", np.int8(zo))]
    (y,) = run_ort(nodes, {"x0": q}, [("y0", np.int8)], inits)
    emit("unary_sigmoid_i8", {"type": "unary", "act": act_json("sigmoid")},
         [(q, quant(si, zi))], [(y, quant(so, zo))], "q1")


def prelu_cases():
    simple("prelu", {"type": "p_relu"}, "PRelu", [f32(2, 3, 4, 4), f32(3, 1, 1, lo=0.0, hi=0.5)])
    simple("prelu_scalar_slope", {"type": "p_relu"}, "PRelu", [f32(2, 5), f32(1, lo=0.0, hi=0.5)])


def normalize_cases():
    x = f32(2, 3, 5, lo=-5.0, hi=5.0)
    simple("softmax_axis1", {"type": "softmax", "axis": 1}, "Softmax", [x], axis=1)
    simple("softmax_last", {"type": "softmax", "axis": 2}, "Softmax", [x * 10], axis=-1)
    simple("layer_norm_last", {"type": "layer_norm", "axis": 2, "epsilon": 1e-5}, "LayerNormalization",
           [x, f32(5, lo=0.5, hi=1.5), f32(5)], axis=-1, epsilon=1e-5)
    simple("layer_norm_axis1_nobias", {"type": "layer_norm", "axis": 1, "epsilon": 1e-3},
           "LayerNormalization", [x, f32(3, 5, lo=0.5, hi=1.5)], axis=1, epsilon=1e-3)


def reduce_cases():
    x = f32(2, 3, 4, 5)
    for kind, onnx_op in [("mean", "ReduceMean"), ("sum", "ReduceSum"), ("max", "ReduceMax")]:
        for axes, keep in [([1], 1), ([2, 3], 1), ([0, 3], 0), ([0, 1, 2, 3], 0)]:
            op = {"type": "reduce", "op": kind, "axes": axes, "keepdims": bool(keep)}
            tag = "".join(map(str, axes))
            simple(f"reduce_{kind}_{tag}_k{keep}", op, onnx_op, [x],
                   consts=[np.array(axes, np.int64)], keepdims=keep)
    for dt, arr in [("f32", f32(3, 4, 5)), ("i8", i8(3, 4, 5)), ("u8", i8(3, 4, 5).view(np.uint8))]:
        arr = np.round(arr) if dt == "f32" else arr  # ties exercise select_last_index
        for axis, keep, last in [(1, 1, 0), (2, 0, 1), (0, 1, 1)]:
            op = {"type": "arg_max", "axis": axis, "keepdims": bool(keep), "select_last_index": bool(last)}
            simple(f"argmax_{dt}_a{axis}_k{keep}_l{last}", op, "ArgMax", [arr], out_dtype=np.int64,
                   tol="exact", axis=axis, keepdims=keep, select_last_index=last)


def movement_cases():
    a, b, c = f32(2, 1, 3), f32(2, 4, 3), f32(2, 2, 3)
    simple("concat_f32", {"type": "concat", "axis": 1}, "Concat", [a, b, c], tol="exact", axis=1)
    h = [f32(2, 3).astype(np.float16), f32(1, 3).astype(np.float16)]
    simple("concat_f16", {"type": "concat", "axis": 0}, "Concat", h, out_dtype=np.float16, tol="exact", axis=0)
    simple("concat_i8", {"type": "concat", "axis": 2}, "Concat", [i8(2, 2, 3), i8(2, 2, 1)],
           out_dtype=np.int8, tol="exact", axis=2)
    simple("split_f32", {"type": "split", "axis": 2}, "Split", [f32(2, 3, 6)], tol="exact", n_out=3,
           consts=[np.array([1, 3, 2], np.int64)], axis=2)
    simple("split_i64", {"type": "split", "axis": 0}, "Split",
           [RNG.integers(-9, 9, size=[4, 2]).astype(np.int64)], out_dtype=np.int64, tol="exact", n_out=2,
           consts=[np.array([3, 1], np.int64)], axis=0)
    x = f32(3, 5, 7)
    for tag, starts, ends, axes, steps in [
        ("pos", [1, 0], [3, 7], [0, 2], [1, 2]),
        ("neg", [4, 6], [-6, 0], [1, 2], [-1, -2]),
        ("mixed", [-1, 1], [-100, 5], [0, 1], [-2, 3]),
    ]:
        (y,) = run_ort([helper.make_node("Slice", ["x0", "s", "e", "a", "p"], ["y0"])], {"x0": x},
                       [("y0", np.float32)],
                       [("s", np.array(starts, np.int64)), ("e", np.array(ends, np.int64)),
                        ("a", np.array(axes, np.int64)), ("p", np.array(steps, np.int64))])
        # Resolved starts (what the compiler stores): negative counted from the end, clamped.
        res = []
        for s, ax, st in zip(starts, axes, steps):
            dim = x.shape[ax]
            s = s + dim if s < 0 else s
            res.append(min(max(s, 0), dim) if st > 0 else min(max(s, -1), dim - 1))
        op = {"type": "slice", "axes": axes, "starts": res, "steps": steps}
        emit(f"slice_{tag}", op, [(x, None)], [(y, None)], "exact")
    xi = i8(2, 3, 4)
    simple("reshape_i8", {"type": "reshape"}, "Reshape", [xi], out_dtype=np.int8, tol="exact",
           consts=[np.array([4, 6], np.int64)])
    for tag, arr, perm in [
        ("nhwc", f32(2, 3, 4, 5), [0, 2, 3, 1]),
        ("nchw", f32(1, 4, 5, 3).astype(np.float16), [0, 3, 1, 2]),
        ("swap", i8(2, 3, 5, 4), [0, 1, 3, 2]),
        ("general", RNG.integers(-9, 9, size=[2, 3, 4]).astype(np.int64), [2, 0, 1]),
    ]:
        simple(f"transpose_{tag}", {"type": "transpose", "perm": perm}, "Transpose", [arr],
               out_dtype=arr.dtype, tol="exact", perm=perm)
    x = f32(1, 2, 3, 4)
    pads = [0, 0, 1, 2, 0, 1, 2, 1]
    for mode, extra in [("constant", {"value": 1.5}), ("reflect", {}), ("edge", {})]:
        consts = [np.array(pads, np.int64)] + ([np.float32(1.5)] if mode == "constant" else [])
        op = {"type": "pad", "pads": pads, "mode": dict({"type": mode}, **extra)}
        simple(f"pad_{mode}", op, "Pad", [x], tol="exact", consts=consts, mode=mode)
    for tag, arr, idx, axis in [
        ("a0_i64", f32(5, 3), np.array([[0, -1], [2, -5]], np.int64), 0),
        ("a1_i32", i8(2, 4, 3), np.array([3, 0, -2], np.int32), 1),
    ]:
        (y,) = run_ort([helper.make_node("Gather", ["x0", "x1"], ["y0"], axis=axis)],
                       {"x0": arr, "x1": idx}, [("y0", arr.dtype)])
        emit(f"gather_{tag}", {"type": "gather", "axis": axis}, [(arr, None), (idx, None)], [(y, None)], "exact")


def resize_cases():
    x = f32(1, 2, 3, 4)
    sizes_list = [("up", [1, 2, 7, 9]), ("down", [1, 2, 2, 3])]
    for coord, nearest in [
        ("asymmetric", "floor"),
        ("half_pixel", "round_prefer_floor"),
        ("align_corners", "round_prefer_ceil"),
        ("pytorch_half_pixel", "ceil"),
    ]:
        for tag, sizes in sizes_list:
            op = {"type": "resize", "mode": "nearest", "coord": coord, "nearest": nearest}
            simple(f"resize_nearest_{coord}_{tag}", op, "Resize", [x], tol="exact",
                   consts=[np.array([], np.float32), np.array([], np.float32), np.array(sizes, np.int64)],
                   mode="nearest", coordinate_transformation_mode=coord, nearest_mode=nearest)
    for coord in ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric"]:
        for tag, sizes in sizes_list:
            op = {"type": "resize", "mode": "linear", "coord": coord, "nearest": "round_prefer_floor"}
            simple(f"resize_linear_{coord}_{tag}", op, "Resize", [x],
                   consts=[np.array([], np.float32), np.array([], np.float32), np.array(sizes, np.int64)],
                   mode="linear", coordinate_transformation_mode=coord)


def avoid_ties(x, scale):
    """Moves values whose x / scale lies near a rounding tie (onnxruntime
    rounds ties to even, rknnrt by its switch) away from it."""
    f = x / scale
    frac = np.abs(f - np.floor(f) - 0.5)
    return np.where(frac < 0.02, x + 0.1 * scale, x).astype(np.float32)


def convert_cases():
    x = f32(3, 7, lo=-100.0, hi=100.0)
    for to, dt in [("I32", np.int32), ("I8", np.int8), ("F16", np.float16), ("Bool", np.bool_),
                   ("I64", np.int64), ("U8", np.uint8)]:
        src = x
        if dt == np.uint8:
            src = np.abs(x)
        if dt == np.bool_:
            src = np.where(np.abs(x) < 40, 0.0, x).astype(np.float32)
        simple(f"cast_f32_{to.lower()}", {"type": "cast", "to": to}, "Cast", [src], out_dtype=dt, tol="exact",
               to=DTYPES[np.dtype(dt)][1])
    for name, arr, to in [
        ("i64_f32", RNG.integers(-1000, 1000, size=[9]).astype(np.int64), "F32"),
        ("f16_f32", f32(9).astype(np.float16), "F32"),
        ("u8_f32", RNG.integers(0, 256, size=[9]).astype(np.uint8), "F32"),
        ("i32_i8", RNG.integers(-128, 128, size=[9]).astype(np.int32), "I8"),
        ("bool_f32", RNG.integers(0, 2, size=[9]).astype(np.bool_), "F32"),
        ("i8_i64", i8(9), "I64"),
    ]:
        dt = {"F32": np.float32, "I8": np.int8, "I64": np.int64}[to]
        simple(f"cast_{name}", {"type": "cast", "to": to}, "Cast", [arr], out_dtype=dt, tol="exact",
               to=DTYPES[np.dtype(dt)][1])
    # QuantizeLinear / DequantizeLinear, per-tensor and per-axis.
    x = f32(2, 3, 4, lo=-4.0, hi=4.0)
    for tag, dt, scale, zp, axis in [
        ("i8", np.int8, 0.03, -5, 1),
        ("u8", np.uint8, 0.025, 128, 1),
        ("i8_axis1", np.int8, np.array([0.02, 0.04, 0.05], np.float32), np.array([0, -3, 4]), 1),
    ]:
        per_axis = np.ndim(scale) > 0
        s_arr = np.asarray(scale, np.float32)
        z_arr = np.asarray(zp).astype(dt)
        bshape = [1, 3, 1] if per_axis else []
        xs = avoid_ties(x, s_arr.reshape(bshape))
        (q,) = run_ort([helper.make_node("QuantizeLinear", ["x0", "s", "z"], ["y0"], axis=axis)], {"x0": xs},
                       [("y0", dt)], [("s", s_arr), ("z", z_arr)])
        qd = quant(scale, zp, axis if per_axis else 0)
        emit(f"quantize_{tag}", {"type": "quantize"}, [(xs, None)], [(q, qd)], "exact")
        (d,) = run_ort([helper.make_node("DequantizeLinear", ["x0", "s", "z"], ["y0"], axis=axis)], {"x0": q},
                       [("y0", np.float32)], [("s", s_arr), ("z", z_arr)])
        emit(f"dequantize_{tag}", {"type": "dequantize"}, [(q, qd)], [(d, None)], "f32")
    qi = RNG.integers(-100000, 100000, size=[8]).astype(np.int32)
    (d,) = run_ort([helper.make_node("DequantizeLinear", ["x0", "s", "z"], ["y0"])], {"x0": qi},
                   [("y0", np.float32)], [("s", np.float32(0.001)), ("z", np.int32(7))])
    emit("dequantize_i32", {"type": "dequantize"}, [(qi, quant(0.001, 7))], [(d, None)], "f32")


def main():
    if OUT.exists():
        for d in OUT.glob("b_*"):
            shutil.rmtree(d)
    OUT.mkdir(parents=True, exist_ok=True)
    binary_cases()
    unary_cases()
    prelu_cases()
    normalize_cases()
    reduce_cases()
    movement_cases()
    resize_cases()
    convert_cases()
    total = sum(f.stat().st_size for d in OUT.glob("b_*") for f in d.iterdir())
    print(f"{len(CASES)} cases, {total} bytes")


if __name__ == "__main__":
    main()
