#!/usr/bin/env python3
"""Generates the whole-model test data of toolchain/tests/whole_models.rs.

Four small ONNX models with random weights, built with the onnx helper API:

* mobilenet_v2: MobileNetV2-style inverted residual blocks (1x1 expand +
  ReLU6, 3x3 depthwise + ReLU6, 1x1 linear projection, residual Add),
  global average pool, Gemm classifier;
* resnet18: a reduced-width ResNet-18 (4 stages x 2 basic blocks, 1x1
  strided downsampling shortcuts), max pool, global average pool, Gemm;
* yolo_head: a YOLO-style detector: strided SiLU convs, nearest Resize x2,
  Concat with the finer feature map, two 1x1 heads with Sigmoid;
* transformer: one pre-norm transformer block: LayerNormalization,
  2-head self-attention (MatMul, Softmax), residual Adds, a ReLU MLP.

For each model `<name>/` holds `model.onnx`, 8 calibration inputs
`calib_<i>.npy` listed in `dataset.txt`, and 2 test inputs `test_<i>.npy`
with the onnxruntime outputs `test_<i>_out_<k>.npy`. Inputs of one model
come from one distribution (seeded), so calibration matches the test data.

Run from this directory: python3 gen_models.py (needs onnx, onnxruntime,
numpy). Output is deterministic.
"""

import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
HERE = os.path.dirname(os.path.abspath(__file__))


class Net:
    """Collects nodes and initializers with unique names."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.nodes = []
        self.inits = []
        self.count = 0

    def name(self, base):
        self.count += 1
        return f"{base}_{self.count}"

    def const(self, base, array):
        n = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(array), n))
        return n

    def node(self, op, inputs, base, n_out=1, **attrs):
        outs = [self.name(base) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op, inputs, outs, name=self.name(op.lower()), **attrs))
        return outs[0] if n_out == 1 else outs

    def conv(self, x, cin, cout, k, stride=1, group=1, bias=True):
        fan_in = cin // group * k * k
        w = self.rng.normal(0, np.sqrt(2.0 / fan_in), (cout, cin // group, k, k)).astype(np.float32)
        ins = [x, self.const("w", w)]
        if bias:
            ins.append(self.const("b", self.rng.normal(0, 0.1, cout).astype(np.float32)))
        pad = k // 2
        return self.node("Conv", ins, "conv", kernel_shape=[k, k], strides=[stride, stride],
                         pads=[pad] * 4, group=group)

    def relu(self, x):
        return self.node("Relu", [x], "relu")

    def relu6(self, x):
        lo = self.const("lo", np.array(0.0, np.float32))
        hi = self.const("hi", np.array(6.0, np.float32))
        return self.node("Clip", [x, lo, hi], "relu6")

    def silu(self, x):
        s = self.node("Sigmoid", [x], "sig")
        return self.node("Mul", [x, s], "silu")

    def gemm(self, x, k, n):
        w = self.rng.normal(0, np.sqrt(1.0 / k), (n, k)).astype(np.float32)
        b = self.rng.normal(0, 0.1, n).astype(np.float32)
        return self.node("Gemm", [x, self.const("fc_w", w), self.const("fc_b", b)], "fc", transB=1)

    def matmul(self, x, k, n, bias=True):
        w = self.rng.normal(0, np.sqrt(1.0 / k), (k, n)).astype(np.float32)
        y = self.node("MatMul", [x, self.const("mm_w", w)], "mm")
        if bias:
            y = self.node("Add", [y, self.const("mm_b", self.rng.normal(0, 0.1, n).astype(np.float32))], "mm_add")
        return y

    def model(self, name, inputs, outputs):
        graph = helper.make_graph(self.nodes, name, inputs, outputs, self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="rknnrt gen_models.py")
        m.ir_version = 8
        onnx.checker.check_model(m, full_check=True)
        return m


def value(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def mobilenet_v2():
    n = Net(1)
    x = "input"
    y = n.relu6(n.conv(x, 3, 16, 3, stride=2))  # 16x16
    # (expansion, out channels, stride)
    cin = 16
    for t, c, s in [(1, 16, 1), (4, 24, 2), (4, 24, 1), (4, 32, 2), (4, 32, 1)]:
        hidden = cin * t
        h = y
        if t != 1:
            h = n.relu6(n.conv(h, cin, hidden, 1))
        h = n.relu6(n.conv(h, hidden, hidden, 3, stride=s, group=hidden))
        h = n.conv(h, hidden, c, 1)
        if s == 1 and cin == c:
            h = n.node("Add", [y, h], "res")
        y, cin = h, c
    y = n.relu6(n.conv(y, cin, 64, 1))
    y = n.node("GlobalAveragePool", [y], "gap")
    y = n.node("Flatten", [y], "flat", axis=1)
    y = n.gemm(y, 64, 10)
    n.nodes[-1].output[0] = "logits"
    return n.model("mobilenet_v2", [value(x, [1, 3, 32, 32])], [value("logits", [1, 10])])


def resnet18():
    n = Net(2)
    x = "input"
    y = n.relu(n.conv(x, 3, 8, 3))
    y = n.node("MaxPool", [y], "pool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])  # 16x16
    cin = 8
    for stage, c in enumerate([8, 16, 24, 32]):
        for block in range(2):
            s = 2 if stage > 0 and block == 0 else 1
            h = n.relu(n.conv(y, cin, c, 3, stride=s))
            h = n.conv(h, c, c, 3)
            short = y if (s == 1 and cin == c) else n.conv(y, cin, c, 1, stride=s)
            y = n.relu(n.node("Add", [h, short], "res"))
            cin = c
    y = n.node("GlobalAveragePool", [y], "gap")
    y = n.node("Flatten", [y], "flat", axis=1)
    y = n.gemm(y, 32, 10)
    n.nodes[-1].output[0] = "logits"
    return n.model("resnet18", [value(x, [1, 3, 32, 32])], [value("logits", [1, 10])])


def yolo_head():
    n = Net(3)
    x = "images"
    p3 = n.silu(n.conv(x, 3, 16, 3, stride=2))  # 24x24
    p4 = n.silu(n.conv(p3, 16, 32, 3, stride=2))  # 12x12
    p5 = n.silu(n.conv(p4, 32, 48, 3, stride=2))  # 6x6
    up = n.node("Resize", [p5, "", n.const("scales", np.array([1, 1, 2, 2], np.float32))], "up",
                mode="nearest")
    cat = n.node("Concat", [up, p4], "cat", axis=1)
    f4 = n.silu(n.conv(cat, 80, 32, 1))
    outs = []
    for name, feat, c in [("out_stride16", f4, 32), ("out_stride32", p5, 48)]:
        h = n.conv(feat, c, 3 * (5 + 4), 1)
        n.nodes.append(helper.make_node("Sigmoid", [h], [name], name=n.name("head_sigmoid")))
        outs.append(name)
    return n.model("yolo_head", [value(x, [1, 3, 48, 48])],
                   [value(outs[0], [1, 27, 12, 12]), value(outs[1], [1, 27, 6, 6])])


def layer_norm(n, x, d):
    g = n.const("ln_g", (1.0 + n.rng.normal(0, 0.1, d)).astype(np.float32))
    b = n.const("ln_b", n.rng.normal(0, 0.1, d).astype(np.float32))
    return n.node("LayerNormalization", [x, g, b], "ln", axis=-1, epsilon=1e-5)


def transformer():
    n = Net(4)
    seq, d, heads = 16, 32, 2
    dh = d // heads
    x = "tokens"
    h = layer_norm(n, x, d)
    split_shape = n.const("split_shape", np.array([1, seq, heads, dh], np.int64))

    def heads_of(t):
        r = n.node("Reshape", [t, split_shape], "split")
        return n.node("Transpose", [r], "heads", perm=[0, 2, 1, 3])  # [1, H, S, dh]

    q = heads_of(n.matmul(h, d, d))
    k = heads_of(n.matmul(h, d, d))
    v = heads_of(n.matmul(h, d, d))
    kt = n.node("Transpose", [k], "kt", perm=[0, 1, 3, 2])
    s = n.node("MatMul", [q, kt], "scores")
    s = n.node("Mul", [s, n.const("scale", np.array(1.0 / np.sqrt(dh), np.float32))], "scaled")
    p = n.node("Softmax", [s], "attn", axis=-1)
    a = n.node("MatMul", [p, v], "ctx")
    a = n.node("Transpose", [a], "merge", perm=[0, 2, 1, 3])
    a = n.node("Reshape", [a, n.const("merge_shape", np.array([1, seq, d], np.int64))], "merged")
    a = n.matmul(a, d, d)
    x1 = n.node("Add", [x, a], "res1")
    h2 = layer_norm(n, x1, d)
    m = n.relu(n.matmul(h2, d, 2 * d))
    m = n.matmul(m, 2 * d, d)
    n.nodes.append(helper.make_node("Add", [x1, m], ["output"], name=n.name("res2")))
    return n.model("transformer", [value(x, [1, seq, d])], [value("output", [1, seq, d])])


def inputs_for(name, shape, rng):
    if name == "transformer":
        return rng.normal(0, 1, shape).astype(np.float32)
    # image-like: values in [-1, 1] with some spatial structure
    base = rng.uniform(-1, 1, shape).astype(np.float32)
    return np.clip(base + rng.normal(0, 0.1, shape).astype(np.float32), -1, 1)


def main():
    for name, build in [("mobilenet_v2", mobilenet_v2), ("resnet18", resnet18),
                        ("yolo_head", yolo_head), ("transformer", transformer)]:
        d = os.path.join(HERE, name)
        os.makedirs(d, exist_ok=True)
        model = build()
        path = os.path.join(d, "model.onnx")
        onnx.save(model, path)
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        inp = sess.get_inputs()[0]
        rng = np.random.default_rng(100 + len(name))
        lines = []
        for i in range(8):
            f = f"calib_{i}.npy"
            np.save(os.path.join(d, f), inputs_for(name, inp.shape, rng))
            lines.append(f)
        with open(os.path.join(d, "dataset.txt"), "w") as fh:
            fh.write("\n".join(lines) + "\n")
        for i in range(2):
            x = inputs_for(name, inp.shape, rng)
            np.save(os.path.join(d, f"test_{i}.npy"), x)
            for k, out in enumerate(sess.run(None, {inp.name: x})):
                np.save(os.path.join(d, f"test_{i}_out_{k}.npy"), out.astype(np.float32))
        print(name, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
