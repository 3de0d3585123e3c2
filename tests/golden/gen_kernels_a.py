#!/usr/bin/env python3
"""Golden data for the Conv / ConvTranspose / Gemm / MatMul / pooling kernels.

Builds one small ONNX model per case with the `onnx` helper API, runs it with
onnxruntime and writes `tests/golden/ops/a_<case>/`:

  case.json   {"op": <the op in rknnrt's serde JSON form>,
               "inputs":  [{"file", "shape", "dtype", "quant"}...],
               "outputs": [{"file", "shape", "dtype", "quant"}...],
               "tolerance": fp32 relative tolerance, or int8 steps}
  *.bin       raw little-endian tensor data

Run from the repository root: python3 tests/golden/gen_kernels_a.py
Regenerating rewrites every a_* directory (the data is deterministic).
"""

import json
import os
import shutil

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ops")
RNG = np.random.default_rng(1234)
ONNX_TYPE = {np.float32: TensorProto.FLOAT, np.int8: TensorProto.INT8, np.int32: TensorProto.INT32}
DTYPE_NAME = {np.float32: "f32", np.int8: "i8", np.int32: "i32"}


def window(kernel, stride=(1, 1), pads=(0, 0, 0, 0), dilation=(1, 1)):
    return {"kernel": list(kernel), "stride": list(stride), "pads": list(pads), "dilation": list(dilation)}


def quant(scale, zero_point, axis=0):
    scale = np.atleast_1d(np.asarray(scale, dtype=np.float32))
    zero_point = np.atleast_1d(np.asarray(zero_point, dtype=np.int64))
    return {"scale": [float(s) for s in scale], "zero_point": [int(z) for z in zero_point], "axis": axis}


def run_model(nodes, feeds, outputs, opset=19, extra_inits=()):
    """feeds: list of (name, array) graph inputs; outputs: list of (name, np type, shape)."""
    g_inputs = [helper.make_tensor_value_info(n, ONNX_TYPE[a.dtype.type], a.shape) for n, a in feeds]
    g_outputs = [helper.make_tensor_value_info(n, ONNX_TYPE[t], None) for n, t, _ in outputs]
    graph = helper.make_graph(nodes, "g", g_inputs, g_outputs, initializer=list(extra_inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 9
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run([n for n, _, _ in outputs], dict(feeds))


def write_case(name, op, inputs, outputs, tolerance):
    """inputs/outputs: list of (array, quant or None)."""
    d = os.path.join(OUT, "a_" + name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)

    def entries(prefix, items):
        out = []
        for i, (a, q) in enumerate(items):
            a = np.ascontiguousarray(a)
            f = f"{prefix}{i}.bin"
            a.astype(a.dtype.newbyteorder("<")).tofile(os.path.join(d, f))
            out.append({"file": f, "shape": list(a.shape), "dtype": DTYPE_NAME[a.dtype.type], "quant": q})
        return out

    case = {"op": op, "inputs": entries("in", inputs), "outputs": entries("out", outputs), "tolerance": tolerance}
    with open(os.path.join(d, "case.json"), "w") as f:
        json.dump(case, f, indent=1)
        f.write("\n")


def randn(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


ACT_NODES = {
    None: (None, []),
    "relu": ({"type": "relu"}, lambda i, o: [helper.make_node("Relu", [i], [o])]),
    "relu6": ({"type": "clip", "min": 0.0, "max": 6.0}, None),
    "leaky": ({"type": "leaky_relu", "alpha": 0.1}, lambda i, o: [helper.make_node("LeakyRelu", [i], [o], alpha=0.1)]),
    "sigmoid": ({"type": "sigmoid"}, lambda i, o: [helper.make_node("Sigmoid", [i], [o])]),
    "hardswish": ({"type": "hard_swish"}, lambda i, o: [helper.make_node("HardSwish", [i], [o])]),
}


def with_activation(node, act, feeds):
    """Appends the activation node after `node` (output 'pre' -> 'y'). Returns (nodes, act json, extra inits)."""
    if act is None:
        node.output[0] = "y"
        return [node], None, []
    node.output[0] = "pre"
    if act == "relu6":
        inits = [helper.make_tensor("lo", TensorProto.FLOAT, [], [0.0]), helper.make_tensor("hi", TensorProto.FLOAT, [], [6.0])]
        return [node, helper.make_node("Clip", ["pre", "lo", "hi"], ["y"])], ACT_NODES[act][0], inits
    return [node] + ACT_NODES[act][1]("pre", "y"), ACT_NODES[act][0], []


def conv_case(name, x_shape, w_shape, kernel, stride=(1, 1), pads=(0, 0, 0, 0), dilation=(1, 1), group=1, bias=True, act=None):
    x, w = randn(*x_shape), randn(*w_shape) * 0.5
    feeds = [("x", x), ("w", w)]
    if bias:
        feeds.append(("b", randn(w_shape[0])))
    node = helper.make_node("Conv", [n for n, _ in feeds], ["y"], kernel_shape=list(kernel), strides=list(stride),
                            pads=list(pads), dilations=list(dilation), group=group)
    nodes, act_json, inits = with_activation(node, act, feeds)
    (y,) = run_model(nodes, feeds, [("y", np.float32, None)], extra_inits=inits)
    op = {"type": "conv", "window": window(kernel, stride, pads, dilation), "group": group, "activation": act_json}
    write_case(name, op, [(a, None) for _, a in feeds], [(y, None)], 1e-4)


def conv_transpose_case(name, x_shape, w_shape, kernel, stride, pads, dilation, group, output_padding, act=None):
    x, w, b = randn(*x_shape), randn(*w_shape) * 0.5, randn(w_shape[1] * group)
    feeds = [("x", x), ("w", w), ("b", b)]
    node = helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], kernel_shape=list(kernel), strides=list(stride),
                            pads=list(pads), dilations=list(dilation), group=group, output_padding=list(output_padding))
    nodes, act_json, inits = with_activation(node, act, feeds)
    (y,) = run_model(nodes, feeds, [("y", np.float32, None)], extra_inits=inits)
    op = {"type": "conv_transpose", "window": window(kernel, stride, pads, dilation), "group": group,
          "output_padding": list(output_padding), "activation": act_json}
    write_case(name, op, [(a, None) for _, a in feeds], [(y, None)], 1e-4)


def gemm_case(name, a_shape, b_shape, c_shape, alpha, beta, trans_a, trans_b, act=None):
    feeds = [("a", randn(*a_shape)), ("b", randn(*b_shape))]
    if c_shape is not None:
        feeds.append(("c", randn(*c_shape)))
    node = helper.make_node("Gemm", [n for n, _ in feeds], ["y"], alpha=alpha, beta=beta, transA=int(trans_a), transB=int(trans_b))
    nodes, act_json, inits = with_activation(node, act, feeds)
    (y,) = run_model(nodes, feeds, [("y", np.float32, None)], extra_inits=inits)
    op = {"type": "gemm", "alpha": alpha, "beta": beta, "trans_a": trans_a, "trans_b": trans_b, "activation": act_json}
    write_case(name, op, [(a, None) for _, a in feeds], [(y, None)], 1e-4)


def matmul_case(name, a_shape, b_shape):
    feeds = [("a", randn(*a_shape)), ("b", randn(*b_shape))]
    (y,) = run_model([helper.make_node("MatMul", ["a", "b"], ["y"])], feeds, [("y", np.float32, None)])
    write_case(name, {"type": "mat_mul"}, [(a, None) for _, a in feeds], [(y, None)], 1e-4)


def pool_case(name, onnx_op, x_shape, kernel=None, stride=(1, 1), pads=(0, 0, 0, 0), dilation=(1, 1), ceil=False,
              include_pad=None):
    x = randn(*x_shape)
    attrs = {}
    if kernel is not None:
        attrs = dict(kernel_shape=list(kernel), strides=list(stride), pads=list(pads), ceil_mode=int(ceil))
        if dilation != (1, 1):
            attrs["dilations"] = list(dilation)
    if include_pad is not None:
        attrs["count_include_pad"] = int(include_pad)
    (y,) = run_model([helper.make_node(onnx_op, ["x"], ["y"], **attrs)], [("x", x)], [("y", np.float32, None)])
    if onnx_op == "MaxPool":
        op = {"type": "max_pool", "window": window(kernel, stride, pads, dilation), "ceil_mode": ceil}
    elif onnx_op == "AveragePool":
        op = {"type": "average_pool", "window": window(kernel, stride, pads, dilation), "ceil_mode": ceil,
              "count_include_pad": bool(include_pad)}
    elif onnx_op == "GlobalAveragePool":
        op = {"type": "global_average_pool"}
    else:
        op = {"type": "global_max_pool"}
    write_case(name, op, [(x, None)], [(y, None)], 1e-4)


def randi8(*shape):
    return RNG.integers(-128, 128, size=shape, dtype=np.int8)


def qconv_case(name, x_shape, w_shape, kernel, stride=(1, 1), pads=(0, 0, 0, 0), group=1, per_channel=False):
    m = w_shape[0]
    x, w = randi8(*x_shape), randi8(*w_shape)
    sx, zx = np.float32(0.02), np.int8(5)
    sw = (RNG.uniform(0.002, 0.01, m) if per_channel else np.array([0.005])).astype(np.float32)
    zw = np.zeros(sw.shape, dtype=np.int8)
    sy, zy = np.float32(0.05 * np.sqrt(w_shape[1] * kernel[0] * kernel[1]) * 0.1), np.int8(-3)
    b = RNG.integers(-2000, 2000, size=m, dtype=np.int32)
    feeds = [("x", x), ("sx", np.atleast_1d(sx).reshape([])), ("zx", np.atleast_1d(zx).reshape([])), ("w", w),
             ("sw", sw if per_channel else sw.reshape([])), ("zw", zw if per_channel else zw.reshape([])),
             ("sy", np.atleast_1d(sy).reshape([])), ("zy", np.atleast_1d(zy).reshape([])), ("b", b)]
    feeds = [(n, np.asarray(a)) for n, a in feeds]
    node = helper.make_node("QLinearConv", [n for n, _ in feeds], ["y"], kernel_shape=list(kernel), strides=list(stride),
                            pads=list(pads), group=group)
    (y,) = run_model([node], feeds, [("y", np.int8, None)])
    op = {"type": "conv", "window": window(kernel, stride, pads), "group": group, "activation": None}
    write_case(name, op, [(x, quant(sx, zx)), (w, quant(sw, zw, 0)), (b, None)], [(y, quant(sy, zy))], 1)


def qmatmul_case(name, a_shape, b_shape):
    a, b = randi8(*a_shape), randi8(*b_shape)
    sa, za, sb, zb = np.float32(0.03), np.int8(-4), np.float32(0.02), np.int8(2)
    sy, zy = np.float32(0.03 * 0.02 * 8 * np.sqrt(a_shape[-1])), np.int8(1)
    feeds = [("a", a), ("sa", np.asarray(sa)), ("za", np.asarray(za)), ("b", b), ("sb", np.asarray(sb)),
             ("zb", np.asarray(zb)), ("sy", np.asarray(sy)), ("zy", np.asarray(zy))]
    (y,) = run_model([helper.make_node("QLinearMatMul", [n for n, _ in feeds], ["y"])], feeds, [("y", np.int8, None)])
    write_case(name, {"type": "mat_mul"}, [(a, quant(sa, za)), (b, quant(sb, zb))], [(y, quant(sy, zy))], 1)


def maxpool_i8_case(name, x_shape, kernel, stride, pads, ceil):
    x = randi8(*x_shape)
    node = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=list(kernel), strides=list(stride), pads=list(pads),
                            ceil_mode=int(ceil))
    (y,) = run_model([node], [("x", x)], [("y", np.int8, None)])
    q = quant(0.1, -2)
    op = {"type": "max_pool", "window": window(kernel, stride, pads), "ceil_mode": ceil}
    write_case(name, op, [(x, q)], [(y, q)], 0)


def main():
    for d in os.listdir(OUT) if os.path.isdir(OUT) else []:
        if d.startswith("a_"):
            shutil.rmtree(os.path.join(OUT, d))
    conv_case("conv_basic", (1, 3, 8, 8), (4, 3, 3, 3), (3, 3), pads=(1, 1, 1, 1))
    conv_case("conv_stride2_asym_pads", (2, 4, 9, 7), (6, 4, 3, 2), (3, 2), stride=(2, 2), pads=(0, 1, 2, 1), bias=False)
    conv_case("conv_dilation", (1, 2, 10, 11), (3, 2, 3, 3), (3, 3), pads=(2, 2, 2, 2), dilation=(2, 2))
    conv_case("conv_group", (1, 6, 7, 7), (9, 2, 3, 3), (3, 3), stride=(1, 2), pads=(1, 0, 1, 1), group=3)
    conv_case("conv_depthwise_relu", (1, 8, 9, 10), (8, 1, 3, 3), (3, 3), pads=(1, 1, 1, 1), group=8, act="relu")
    conv_case("conv_depthwise_s2", (1, 5, 11, 9), (5, 1, 5, 3), (5, 3), stride=(2, 2), pads=(2, 1, 2, 0), dilation=(1, 2), group=5)
    conv_case("conv_1x1_relu6", (1, 16, 5, 5), (8, 16, 1, 1), (1, 1), act="relu6")
    conv_case("conv_leaky", (1, 3, 6, 6), (4, 3, 3, 3), (3, 3), stride=(2, 1), pads=(1, 1, 0, 0), act="leaky")
    conv_case("conv_sigmoid", (1, 3, 5, 5), (2, 3, 2, 2), (2, 2), act="sigmoid")
    conv_case("conv_hardswish", (1, 4, 6, 5), (4, 4, 3, 3), (3, 3), pads=(1, 1, 1, 1), act="hardswish")
    conv_transpose_case("convt_s2", (1, 3, 4, 5), (3, 2, 3, 3), (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 1, (1, 1))
    conv_transpose_case("convt_group_dil", (1, 4, 3, 3), (4, 3, 2, 3), (2, 3), (1, 2), (0, 1, 1, 0), (2, 1), 2, (0, 1))
    conv_transpose_case("convt_k4_relu", (2, 2, 5, 4), (2, 3, 4, 4), (4, 4), (2, 2), (1, 1, 1, 1), (1, 1), 1, (0, 0), act="relu")
    gemm_case("gemm_plain", (3, 5), (5, 4), (4,), 1.0, 1.0, False, False)
    gemm_case("gemm_trans_alpha_beta", (5, 3), (4, 5), (3, 1), 0.5, 2.0, True, True)
    gemm_case("gemm_no_c_relu", (2, 7), (6, 7), None, 1.0, 1.0, False, True, act="relu")
    gemm_case("gemm_full_c", (4, 33), (33, 6), (4, 6), 1.5, 0.25, False, False)
    matmul_case("matmul_2d", (4, 6), (6, 5))
    matmul_case("matmul_batched_broadcast", (2, 1, 3, 4), (3, 4, 6))
    matmul_case("matmul_vector_lhs", (4,), (2, 4, 3))
    matmul_case("matmul_vector_rhs", (2, 3, 4), (4,))
    pool_case("maxpool_2x2", "MaxPool", (1, 2, 6, 6), (2, 2), (2, 2))
    pool_case("maxpool_ceil_pads", "MaxPool", (1, 3, 7, 9), (3, 3), (2, 2), (1, 1, 1, 1), ceil=True)
    pool_case("maxpool_dilation", "MaxPool", (1, 2, 9, 8), (2, 2), (1, 1), (1, 0, 0, 1), dilation=(2, 2))
    pool_case("maxpool_ceil_asym", "MaxPool", (2, 2, 8, 7), (3, 2), (2, 3), (0, 1, 2, 0), ceil=True)
    pool_case("avgpool_exclude_pad", "AveragePool", (1, 3, 7, 9), (3, 3), (2, 2), (1, 1, 1, 1), include_pad=False)
    pool_case("avgpool_include_pad", "AveragePool", (1, 3, 7, 9), (3, 3), (2, 2), (1, 1, 1, 1), include_pad=True)
    pool_case("avgpool_ceil_include_pad", "AveragePool", (1, 2, 8, 8), (3, 3), (2, 2), (0, 0, 1, 1), ceil=True, include_pad=True)
    pool_case("avgpool_ceil_exclude_pad", "AveragePool", (1, 2, 8, 7), (3, 2), (2, 2), (1, 0, 1, 1), ceil=True, include_pad=False)
    pool_case("global_avgpool", "GlobalAveragePool", (2, 3, 5, 7))
    pool_case("global_maxpool", "GlobalMaxPool", (2, 3, 5, 7))
    qconv_case("qconv_per_tensor", (1, 3, 7, 7), (4, 3, 3, 3), (3, 3), pads=(1, 1, 1, 1))
    qconv_case("qconv_per_channel_s2", (1, 4, 9, 8), (6, 4, 3, 3), (3, 3), stride=(2, 2), pads=(0, 1, 1, 0), per_channel=True)
    qconv_case("qconv_depthwise", (1, 6, 8, 8), (6, 1, 3, 3), (3, 3), pads=(1, 1, 1, 1), group=6, per_channel=True)
    qconv_case("qconv_1x1", (1, 16, 4, 5), (8, 16, 1, 1), (1, 1), per_channel=True)
    qmatmul_case("qmatmul_batched", (2, 3, 16), (16, 5))
    maxpool_i8_case("maxpool_i8", (1, 2, 7, 7), (3, 3), (2, 2), (1, 1, 1, 1), True)


if __name__ == "__main__":
    main()
