#!/usr/bin/env python3
"""Generates the dynamic-shape test data (toolchain/tests/dynamic_shape.rs,
examples/rknn_dynshape_demo.c, .ci/memcheck.sh).

model.onnx: one image input x [1, 3, 'height', 'width'] (float, values in
[0, 1]) with random weights:

* Conv 3->8 3x3 pad 1 + ReLU; Conv 8->8 3x3 stride 2 with
  auto_pad=SAME_UPPER + ReLU -> b [1, 8, ceil(H/2), ceil(W/2)] (the pads
  depend on the input's parity);
* feat = Reshape(b, [0, 8, -1]) -> [1, 8, H'W'] (a target resolved per size);
* tail = Slice(b, starts=[-4], ends=[big], axes=[3]) -> the last 4 columns
  (a start resolved per size);
* prob = Softmax(Gemm(Flatten(GlobalAveragePool(b)), 8->10)) -> [1, 10].

The three shape sets are SETS below (set 1 is the largest). For each set k:
input_<k>.bin holds a uint8 NHWC image (H*W*3 bytes) and ref_<k>_<j>.bin
the float32 onnxruntime output j (feat, tail, prob) for that image
divided by 255 (the .rknn is built with mean 0 and std 255). calib_<i>.npy
(listed in dataset.txt) are uint8-range float32 images of the largest set
for int8 calibration.

shape_const.onnx: y = x * float(Shape(x)[2]) for x [1, 3, 'h', 'w'], a model
whose constant is computed from the input shape: the compiler must refuse
to make it dynamic.

Run from this directory: python3 gen_dynamic.py (needs onnx, onnxruntime,
numpy). Output is deterministic.
"""

import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
SETS = [(24, 40), (32, 32), (17, 21)]
OPSET = 17


def model(rng):
    def w(name, shape, scale):
        return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)

    inits = [
        w("w1", (8, 3, 3, 3), 0.4),
        w("b1", (8,), 0.1),
        w("w2", (8, 8, 3, 3), 0.15),
        w("b2", (8,), 0.1),
        w("wg", (10, 8), 0.5),
        w("bg", (10,), 0.1),
        numpy_helper.from_array(np.array([0, 8, -1], dtype=np.int64), "feat_shape"),
        numpy_helper.from_array(np.array([-4], dtype=np.int64), "tail_starts"),
        numpy_helper.from_array(np.array([1 << 30], dtype=np.int64), "tail_ends"),
        numpy_helper.from_array(np.array([3], dtype=np.int64), "tail_axes"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["a"], name="relu1"),
        helper.make_node("Conv", ["a", "w2", "b2"], ["c2"], name="conv2", strides=[2, 2],
                         kernel_shape=[3, 3], auto_pad="SAME_UPPER"),
        helper.make_node("Relu", ["c2"], ["b"], name="relu2"),
        helper.make_node("Reshape", ["b", "feat_shape"], ["feat"], name="flatten_hw"),
        helper.make_node("Slice", ["b", "tail_starts", "tail_ends", "tail_axes"], ["tail"],
                         name="tail"),
        helper.make_node("GlobalAveragePool", ["b"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["gf"], name="flatten"),
        helper.make_node("Gemm", ["gf", "wg", "bg"], ["logits"], name="fc", transB=1),
        helper.make_node("Softmax", ["logits"], ["prob"], name="softmax", axis=1),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "height", "width"])
    outs = [
        helper.make_tensor_value_info("feat", TensorProto.FLOAT, [1, 8, None]),
        helper.make_tensor_value_info("tail", TensorProto.FLOAT, [1, 8, None, 4]),
        helper.make_tensor_value_info("prob", TensorProto.FLOAT, [1, 10]),
    ]
    graph = helper.make_graph(nodes, "dynamic_shape_test", [x], outs, inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                          producer_name="rknnrt gen_dynamic.py")
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def shape_const():
    inits = [numpy_helper.from_array(np.array(2, dtype=np.int64), "axis2")]
    nodes = [
        helper.make_node("Shape", ["x"], ["s"], name="shape"),
        helper.make_node("Gather", ["s", "axis2"], ["h"], name="height"),
        helper.make_node("Cast", ["h"], ["hf"], name="cast", to=TensorProto.FLOAT),
        helper.make_node("Mul", ["x", "hf"], ["y"], name="scale"),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "h", "w"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, "h", "w"])
    graph = helper.make_graph(nodes, "shape_const", [x], [y], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                          producer_name="rknnrt gen_dynamic.py")
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def main():
    rng = np.random.default_rng(2024)
    m = model(rng)
    path = os.path.join(HERE, "model.onnx")
    onnx.save(m, path)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    for k, (h, w) in enumerate(SETS):
        img = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        img.tofile(os.path.join(HERE, f"input_{k}.bin"))
        x = (img.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]
        for j, out in enumerate(sess.run(None, {"x": x})):
            out.astype(np.float32).tofile(os.path.join(HERE, f"ref_{k}_{j}.bin"))
    hmax, wmax = SETS[1]
    names = []
    for i in range(4):
        calib = rng.integers(0, 256, size=(1, 3, hmax, wmax)).astype(np.float32)
        name = f"calib_{i}.npy"
        np.save(os.path.join(HERE, name), calib)
        names.append(name)
    with open(os.path.join(HERE, "dataset.txt"), "w") as f:
        f.write("\n".join(names) + "\n")
    onnx.save(shape_const(), os.path.join(HERE, "shape_const.onnx"))


if __name__ == "__main__":
    main()
