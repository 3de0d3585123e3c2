"""Generates the small ONNX models and golden data of tests/onnx_import.rs.

    python3 toolchain/tests/onnx/make_models.py

Needs onnx, onnxruntime and numpy; the Rust tests only read the outputs.
"""
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(7)


def save(model, name):
    onnx.save(model, os.path.join(HERE, name))


def cnn():
    """Conv + BatchNorm + Relu, a Shape/Gather/Unsqueeze/Concat/Reshape
    sub-graph, Gemm; symbolic batch dimension 'N'."""
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32) * 0.3
    b = rng.standard_normal(4).astype(np.float32) * 0.1
    scale = rng.uniform(0.5, 1.5, 4).astype(np.float32)
    bias = rng.standard_normal(4).astype(np.float32) * 0.1
    mean = rng.standard_normal(4).astype(np.float32) * 0.1
    var = rng.uniform(0.5, 1.5, 4).astype(np.float32)
    fc = rng.standard_normal((5, 4 * 4 * 4)).astype(np.float32) * 0.1
    inits = [
        numpy_helper.from_array(w, "w"),
        numpy_helper.from_array(b, "b"),
        numpy_helper.from_array(scale, "scale"),
        numpy_helper.from_array(bias, "bias"),
        numpy_helper.from_array(mean, "mean"),
        numpy_helper.from_array(var, "var"),
        numpy_helper.from_array(fc, "fc"),
        numpy_helper.from_array(np.array(0, np.int64), "zero"),
        numpy_helper.from_array(np.array([-1], np.int64), "minus_one"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("BatchNormalization", ["c", "scale", "bias", "mean", "var"], ["bn"], name="bn"),
        helper.make_node("Relu", ["bn"], ["r"], name="relu"),
        helper.make_node("Shape", ["r"], ["s"], name="shape"),
        helper.make_node("Gather", ["s", "zero"], ["n"], name="gather", axis=0),
        helper.make_node("Unsqueeze", ["n", "zero"], ["n1"], name="unsqueeze"),
        helper.make_node("Concat", ["n1", "minus_one"], ["target"], name="concat", axis=0),
        helper.make_node("Reshape", ["r", "target"], ["flat"], name="reshape"),
        helper.make_node("Gemm", ["flat", "fc"], ["y"], name="fc", transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    save(model, "cnn.onnx")
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    y = ort.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]
    np.save(os.path.join(HERE, "cnn_x.npy"), x)
    np.save(os.path.join(HERE, "cnn_y.npy"), y)


def external():
    """An Add whose constant lives in external.bin (offset 16)."""
    c = np.arange(6, dtype=np.float32).reshape(2, 3)
    with open(os.path.join(HERE, "external.bin"), "wb") as f:
        f.write(b"\0" * 16 + c.tobytes())
    t = helper.make_tensor("c", TensorProto.FLOAT, [2, 3], vals=[])
    t.ClearField("float_data")
    t.data_location = TensorProto.EXTERNAL
    for k, v in [("location", "external.bin"), ("offset", "16"), ("length", "24")]:
        e = t.external_data.add()
        e.key, e.value = k, v
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "c"], ["y"], name="add")],
        "external",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
        [t],
    )
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), "external.onnx")


def single(name, node, opset=13, inits=()):
    graph = helper.make_graph(
        [node],
        name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        list(inits),
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    save(m, name + ".onnx")


def upsample_fractional():
    """Nearest Upsample (opset 9) with scale 1.5: refused (old rounding)."""
    graph = helper.make_graph(
        [helper.make_node("Upsample", ["x", "sc"], ["y"], name="up1")],
        "upsample_fractional",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 2, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 3, 3])],
        [numpy_helper.from_array(np.array([1, 1, 1.5, 1.5], np.float32), "sc")],
    )
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 9)]), "upsample_fractional.onnx")


cnn()
external()
upsample_fractional()
single("unknown_op", helper.make_node("Sin", ["x"], ["y"], name="sin1"))
single("folded_only", helper.make_node("Abs", ["x"], ["y"], name="abs1"))
single("custom_domain", helper.make_node("Foo", ["x"], ["y"], name="foo1", domain="com.example"))
single("missing_init", helper.make_node("Add", ["x", "nowhere"], ["y"], name="add1"))
single("old_opset", helper.make_node("Relu", ["x"], ["y"], name="relu1"), opset=6)
single("bad_attr", helper.make_node("LeakyRelu", ["x"], ["y"], name="lrelu1", alpha=0.1, gamma=2.0))
