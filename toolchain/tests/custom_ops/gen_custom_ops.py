#!/usr/bin/env python3
"""Generates the custom-op test data of toolchain/tests/custom_ops*.rs.

Three small ONNX models built with the onnx helper API:

* softmax_argmax.onnx: x [1,3,8,8] -> Conv 3x3 (3->4) -> Relu ->
  cstSoftmax(axis=1) -> prob [1,4,8,8] (output 0) -> ArgMax(axis=1,
  keepdims=1) -> index [1,1,8,8] int64 (output 1). cstSoftmax is the
  vendor guide's custom op; ArgMax is a standard op the application
  replaces with its own (compiled with --custom-op ArgMax=builtin).
  Golden outputs come from onnxruntime on the same graph with a standard
  Softmax.
* dual_residual.onnx: a, b [1,3,10,10] -> cstDualResidual(alpha=0.5) ->
  out0 = a*alpha - b, out1 = b*alpha - a (the vendor PyTorch demo's op:
  two inputs, two outputs, a float attribute). Golden outputs computed
  with numpy.
* custom_domain.onnx: x [1,8] -> com.example ScaleShift (every attribute
  kind: int, float, string, ints, floats, bool/int32 tensors) -> Relu ->
  y; for the importer's tests.

Binary files are raw little-endian arrays in C order: <name>_input*.bin
(float32), <name>_<output>.bin (float32, or int64 for the ArgMax index).
Also: calib_<i>.npy and dataset.txt (4 samples of softmax_argmax's input
distribution) for an int8 build.

Run from this directory: python3 gen_custom_ops.py (needs onnx,
onnxruntime, numpy). Output is deterministic.
"""

import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
HERE = os.path.dirname(os.path.abspath(__file__))


def save(model, name):
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(HERE, name))


def raw(name, array):
    array.tofile(os.path.join(HERE, name))


def softmax_argmax(rng):
    w = (rng.standard_normal((4, 3, 3, 3)) * 0.5).astype(np.float32)
    b = (rng.standard_normal(4) * 0.1).astype(np.float32)

    def graph(softmax_type):
        nodes = [
            helper.make_node("Conv", ["x", "w", "b"], ["conv"], name="conv", pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["conv"], ["relu"], name="relu"),
            helper.make_node(softmax_type, ["relu"], ["prob"], name="softmax", axis=1),
            helper.make_node("ArgMax", ["prob"], ["index"], name="argmax", axis=1, keepdims=1),
        ]
        g = helper.make_graph(
            nodes,
            "softmax_argmax",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
            [
                helper.make_tensor_value_info("prob", TensorProto.FLOAT, [1, 4, 8, 8]),
                helper.make_tensor_value_info("index", TensorProto.INT64, [1, 1, 8, 8]),
            ],
            [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
        )
        return helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)])

    reference = graph("Softmax")
    custom = graph("cstSoftmax")
    # A custom op is not in the ONNX schema: check the reference only.
    onnx.checker.check_model(reference)
    onnx.save(custom, os.path.join(HERE, "softmax_argmax.onnx"))

    x = rng.uniform(-1.0, 1.0, (1, 3, 8, 8)).astype(np.float32)
    sess = ort.InferenceSession(reference.SerializeToString(), providers=["CPUExecutionProvider"])
    prob, index = sess.run(None, {"x": x})
    raw("softmax_argmax_input.bin", x)
    raw("softmax_argmax_prob.bin", prob.astype(np.float32))
    raw("softmax_argmax_index.bin", index.astype(np.int64))

    lines = []
    for i in range(4):
        name = f"calib_{i}.npy"
        np.save(os.path.join(HERE, name), rng.uniform(-1.0, 1.0, (1, 3, 8, 8)).astype(np.float32))
        lines.append(name)
    with open(os.path.join(HERE, "dataset.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


def dual_residual(rng):
    alpha = 0.5
    node = helper.make_node(
        "cstDualResidual", ["a", "b"], ["out0", "out1"], name="dual_residual", alpha=alpha
    )
    shape = [1, 3, 10, 10]
    g = helper.make_graph(
        [node],
        "dual_residual",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape) for n in ("a", "b")],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape) for n in ("out0", "out1")],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)])
    onnx.save(m, os.path.join(HERE, "dual_residual.onnx"))
    a = rng.uniform(-2.0, 2.0, shape).astype(np.float32)
    b = rng.uniform(-2.0, 2.0, shape).astype(np.float32)
    raw("dual_residual_input0.bin", a)
    raw("dual_residual_input1.bin", b)
    raw("dual_residual_out0.bin", (a * np.float32(alpha) - b).astype(np.float32))
    raw("dual_residual_out1.bin", (b * np.float32(alpha) - a).astype(np.float32))


def custom_domain():
    node = helper.make_node(
        "ScaleShift",
        ["x"],
        ["s"],
        name="scale_shift",
        domain="com.example",
        scale=2.0,
        shift=1,
        mode="fast",
        axes=[0, 1],
        weights=[0.25, 0.75],
        flags=numpy_helper.from_array(np.array([True, False, True]), "flags"),
        ids=numpy_helper.from_array(np.array([7, -3], dtype=np.int32), "ids"),
    )
    relu = helper.make_node("Relu", ["s"], ["y"], name="relu")
    g = helper.make_graph(
        [node, relu],
        "custom_domain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])],
    )
    m = helper.make_model(
        g,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("com.example", 1)],
    )
    onnx.save(m, os.path.join(HERE, "custom_domain.onnx"))


def main():
    rng = np.random.default_rng(20240606)
    softmax_argmax(rng)
    dual_residual(rng)
    custom_domain()


if __name__ == "__main__":
    main()
