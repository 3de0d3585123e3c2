#!/usr/bin/env python3
"""Compact, builder-ready descriptions of the vendor fixture models.

For every model listed in MODELS this reads
`../shared/fixtures/vendor/<model>/<model>.onnx` (relative to the repository
root) and writes next to this script:

  <model>.json   the layer sequence in a form `ModelBuilder` can rebuild
  <model>.bin    every constant the layers use, little-endian float32

JSON layout:

  {"model": name,
   "inputs":  [{"name", "shape"}],        graph inputs, ONNX order
   "outputs": [name...],                  graph outputs, ONNX order
   "mean": [...] | null, "std": [...] | null   per-channel pre-processing the
                                           fixture declares (tiny_cnn only)
   "nodes": [{"op", "inputs": [names], "output": name, ...attributes}]}

A constant is `{"offset": <f32 index into the .bin>, "shape": [...]}`. Ops:

  conv           w, b (or null), stride [2], pads [4], dilation [2], group
  gemm           w, b (or null), alpha, beta, trans_a, trans_b
  matmul         w (constant B)
  add            two tensor inputs
  relu, sigmoid  -
  leaky_relu     alpha
  maxpool        kernel [2], stride [2], pads [4], ceil_mode
  avgpool        the same plus count_include_pad
  global_avgpool -
  flatten        axis
  softmax        axis
  concat         axis
  resize         size [h, w], mode, coord, nearest (ONNX spellings)

BatchNormalization after a Conv is folded into that Conv's weights and bias
(the runtime's op set has no BatchNorm):
  k = gamma / sqrt(var + eps);  w' = w * k[:, None, None, None];
  b' = (b - mean) * k + beta.

Self-check: the compact description is turned back into an ONNX graph
(folded weights, no BatchNorm) and run with onnxruntime on the fixture's test
inputs; the outputs must match the fixture's recorded onnxruntime outputs to
1e-5 of their range, so the JSON is known to describe the same function.

Run from the repository root: python3 tests/golden/graphs/gen_graphs.py
The output is deterministic.
"""

import json
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
VENDOR = os.path.normpath(os.path.join(ROOT, "..", "shared", "fixtures", "vendor"))

MODELS = [
    "tiny_cnn",
    "conv3x3",
    "conv_relu",
    "conv1x1",
    "conv_64x64",
    "conv_depthwise",
    "conv_stride2",
    "add_convs",
    "maxpool",
    "avgpool",
    "global_avgpool",
    "gemm",
    "matmul",
    "concat",
    "sigmoid_leakyrelu",
    "resize_nearest2x",
    "multi_io",
]

# Pre-processing the fixtures README documents (the toolkit's mean_values /
# std_values); onnxruntime received (x - mean) / std.
PREPROCESS = {
    "tiny_cnn": ([123.675, 116.28, 103.53], [58.395, 57.12, 57.375]),
}


def attrs(node):
    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


class Exporter:
    def __init__(self, model):
        self.model = model
        self.inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        self.blob = []
        self.size = 0
        self.shapes = {}
        for i in model.graph.input:
            dims = [d.dim_value for d in i.type.tensor_type.shape.dim]
            self.shapes[i.name] = dims

    def const(self, arr):
        arr = np.ascontiguousarray(arr, dtype="<f4")
        ref = {"offset": self.size, "shape": list(arr.shape)}
        self.blob.append(arr.tobytes())
        self.size += arr.size
        return ref

    def export(self):
        g = self.model.graph
        nodes = list(g.node)
        out_nodes = []
        skip = set()
        for idx, n in enumerate(nodes):
            if idx in skip:
                continue
            a = attrs(n)
            op = n.op_type
            if op == "Conv":
                w = self.inits[n.input[1]].astype(np.float64)
                b = self.inits[n.input[2]].astype(np.float64) if len(n.input) > 2 and n.input[2] else None
                output = n.output[0]
                # Fold a following BatchNormalization that is this conv's only reader.
                nxt = nodes[idx + 1] if idx + 1 < len(nodes) else None
                if nxt is not None and nxt.op_type == "BatchNormalization" and nxt.input[0] == output:
                    readers = [m for m in nodes if output in m.input]
                    assert len(readers) == 1, "conv output read by more than the BatchNorm"
                    gamma, beta, mean, var = (self.inits[nxt.input[k]].astype(np.float64) for k in range(1, 5))
                    eps = attrs(nxt).get("epsilon", 1e-5)
                    k = gamma / np.sqrt(var + eps)
                    w = w * k[:, None, None, None]
                    b = ((b if b is not None else 0.0) - mean) * k + beta
                    output = nxt.output[0]
                    skip.add(idx + 1)
                kernel = list(a.get("kernel_shape", w.shape[2:]))
                assert kernel == list(w.shape[2:])
                assert a.get("auto_pad", "NOTSET") == "NOTSET"
                pads = list(a.get("pads", [0, 0, 0, 0]))
                out_nodes.append({
                    "op": "conv", "inputs": [n.input[0]], "output": output,
                    "w": self.const(w), "b": self.const(b) if b is not None else None,
                    "stride": list(a.get("strides", [1, 1])),
                    # ONNX pads are [top, left, bottom, right] for 2-D: the
                    # builder's order.
                    "pads": pads,
                    "dilation": list(a.get("dilations", [1, 1])),
                    "group": int(a.get("group", 1)),
                })
            elif op == "Gemm":
                c = self.inits.get(n.input[2]) if len(n.input) > 2 and n.input[2] else None
                out_nodes.append({
                    "op": "gemm", "inputs": [n.input[0]], "output": n.output[0],
                    "w": self.const(self.inits[n.input[1]]),
                    "b": self.const(c) if c is not None else None,
                    "alpha": float(a.get("alpha", 1.0)), "beta": float(a.get("beta", 1.0)),
                    "trans_a": bool(a.get("transA", 0)), "trans_b": bool(a.get("transB", 0)),
                })
            elif op == "MatMul":
                assert n.input[1] in self.inits and n.input[0] not in self.inits
                out_nodes.append({
                    "op": "matmul", "inputs": [n.input[0]], "output": n.output[0],
                    "w": self.const(self.inits[n.input[1]]),
                })
            elif op == "Add":
                assert not any(i in self.inits for i in n.input)
                out_nodes.append({"op": "add", "inputs": list(n.input), "output": n.output[0]})
            elif op in ("Relu", "Sigmoid"):
                out_nodes.append({"op": op.lower(), "inputs": [n.input[0]], "output": n.output[0]})
            elif op == "LeakyRelu":
                out_nodes.append({"op": "leaky_relu", "inputs": [n.input[0]], "output": n.output[0],
                                  "alpha": float(a.get("alpha", 0.01))})
            elif op in ("MaxPool", "AveragePool"):
                assert a.get("auto_pad", "NOTSET") == "NOTSET"
                kernel = list(a["kernel_shape"])
                entry = {
                    "op": "maxpool" if op == "MaxPool" else "avgpool",
                    "inputs": [n.input[0]], "output": n.output[0],
                    "kernel": kernel, "stride": list(a.get("strides", [1, 1])),
                    "pads": list(a.get("pads", [0, 0, 0, 0])),
                    "ceil_mode": bool(a.get("ceil_mode", 0)),
                }
                if op == "AveragePool":
                    entry["count_include_pad"] = bool(a.get("count_include_pad", 0))
                out_nodes.append(entry)
            elif op == "GlobalAveragePool":
                out_nodes.append({"op": "global_avgpool", "inputs": [n.input[0]], "output": n.output[0]})
            elif op == "Flatten":
                out_nodes.append({"op": "flatten", "inputs": [n.input[0]], "output": n.output[0],
                                  "axis": int(a.get("axis", 1))})
            elif op == "Softmax":
                out_nodes.append({"op": "softmax", "inputs": [n.input[0]], "output": n.output[0],
                                  "axis": int(a.get("axis", -1))})
            elif op == "Concat":
                out_nodes.append({"op": "concat", "inputs": list(n.input), "output": n.output[0],
                                  "axis": int(a["axis"])})
            elif op == "Resize":
                scales = self.inits[n.input[2]]
                src = self.shapes[n.input[0]]
                size = [int(np.floor(src[k] * scales[k])) for k in (2, 3)]
                assert list(scales[:2]) == [1.0, 1.0]
                out_nodes.append({
                    "op": "resize", "inputs": [n.input[0]], "output": n.output[0], "size": size,
                    "mode": a.get("mode", "nearest"),
                    "coord": a.get("coordinate_transformation_mode", "half_pixel"),
                    "nearest": a.get("nearest_mode", "round_prefer_floor"),
                })
            else:
                raise SystemExit(f"unsupported op {op} in {g.name}")
            self.track_shape(out_nodes[-1])
        return out_nodes

    def track_shape(self, node):
        """Output shape of a compact node (needed for Resize sizes)."""
        s = [list(self.shapes[i]) for i in node["inputs"]]
        op = node["op"]
        if op == "conv":
            n, _, h, w = s[0]
            m, _, kh, kw = node["w"]["shape"]
            p, st, d = node["pads"], node["stride"], node["dilation"]
            oh = (h + p[0] + p[2] - d[0] * (kh - 1) - 1) // st[0] + 1
            ow = (w + p[1] + p[3] - d[1] * (kw - 1) - 1) // st[1] + 1
            out = [n, m, oh, ow]
        elif op in ("maxpool", "avgpool"):
            n, c, h, w = s[0]
            k, p, st = node["kernel"], node["pads"], node["stride"]
            assert not node["ceil_mode"], "ceil_mode pooling is not exported"
            out = [n, c, (h + p[0] + p[2] - k[0]) // st[0] + 1, (w + p[1] + p[3] - k[1]) // st[1] + 1]
        elif op == "global_avgpool":
            out = s[0][:2] + [1, 1]
        elif op == "gemm":
            wshape = node["w"]["shape"]
            out = [s[0][0], wshape[0] if node["trans_b"] else wshape[1]]
        elif op == "matmul":
            out = s[0][:-1] + [node["w"]["shape"][-1]]
        elif op == "flatten":
            ax = node["axis"]
            out = [int(np.prod(s[0][:ax])), int(np.prod(s[0][ax:]))]
        elif op == "concat":
            out = list(s[0])
            out[node["axis"]] = sum(x[node["axis"]] for x in s)
        elif op == "resize":
            out = s[0][:2] + node["size"]
        else:
            out = list(s[0])
        self.shapes[node["output"]] = out


def to_onnx(desc, blob):
    """Rebuilds an ONNX model from the compact description (self-check)."""
    data = np.frombuffer(blob, dtype="<f4")
    inits = []
    nodes = []

    def const(ref, name):
        n = int(np.prod(ref["shape"]))
        arr = data[ref["offset"]:ref["offset"] + n].reshape(ref["shape"])
        inits.append(numpy_helper.from_array(arr.astype(np.float32), name))
        return name

    for k, nd in enumerate(desc["nodes"]):
        op, ins, out = nd["op"], nd["inputs"], nd["output"]
        if op == "conv":
            args = ins + [const(nd["w"], f"w{k}")] + ([const(nd["b"], f"b{k}")] if nd["b"] else [])
            nodes.append(helper.make_node("Conv", args, [out], strides=nd["stride"], pads=nd["pads"],
                                          dilations=nd["dilation"], group=nd["group"]))
        elif op == "gemm":
            args = ins + [const(nd["w"], f"w{k}")] + ([const(nd["b"], f"b{k}")] if nd["b"] else [])
            nodes.append(helper.make_node("Gemm", args, [out], alpha=nd["alpha"], beta=nd["beta"],
                                          transA=int(nd["trans_a"]), transB=int(nd["trans_b"])))
        elif op == "matmul":
            nodes.append(helper.make_node("MatMul", ins + [const(nd["w"], f"w{k}")], [out]))
        elif op == "add":
            nodes.append(helper.make_node("Add", ins, [out]))
        elif op == "relu":
            nodes.append(helper.make_node("Relu", ins, [out]))
        elif op == "sigmoid":
            nodes.append(helper.make_node("Sigmoid", ins, [out]))
        elif op == "leaky_relu":
            nodes.append(helper.make_node("LeakyRelu", ins, [out], alpha=nd["alpha"]))
        elif op in ("maxpool", "avgpool"):
            kw = dict(kernel_shape=nd["kernel"], strides=nd["stride"], pads=nd["pads"],
                      ceil_mode=int(nd["ceil_mode"]))
            if op == "avgpool":
                kw["count_include_pad"] = int(nd["count_include_pad"])
            nodes.append(helper.make_node("MaxPool" if op == "maxpool" else "AveragePool", ins, [out], **kw))
        elif op == "global_avgpool":
            nodes.append(helper.make_node("GlobalAveragePool", ins, [out]))
        elif op == "flatten":
            nodes.append(helper.make_node("Flatten", ins, [out], axis=nd["axis"]))
        elif op == "softmax":
            nodes.append(helper.make_node("Softmax", ins, [out], axis=nd["axis"]))
        elif op == "concat":
            nodes.append(helper.make_node("Concat", ins, [out], axis=nd["axis"]))
        elif op == "resize":
            sizes = numpy_helper.from_array(np.array([0, 0] + nd["size"], dtype=np.int64), f"sz{k}")
            inits.append(sizes)
            nodes.append(helper.make_node("Resize", ins + ["", "", f"sz{k}"], [out], mode=nd["mode"],
                                          coordinate_transformation_mode=nd["coord"],
                                          nearest_mode=nd["nearest"]))
    g_in = [helper.make_tensor_value_info(i["name"], TensorProto.FLOAT, i["shape"]) for i in desc["inputs"]]
    g_out = [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in desc["outputs"]]
    model = helper.make_model(helper.make_graph(nodes, "check", g_in, g_out, initializer=inits),
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def fix_resize_sizes(model, shapes):
    for init in model.graph.initializer:
        if init.name.startswith("sz"):
            arr = numpy_helper.to_array(init).copy()
            node = next(n for n in model.graph.node if n.op_type == "Resize" and n.input[3] == init.name)
            src = shapes[node.input[0]]
            arr[0], arr[1] = src[0], src[1]
            init.CopyFrom(numpy_helper.from_array(arr, init.name))


def self_check(name, desc, blob, shapes):
    model = to_onnx(desc, blob)
    fix_resize_sizes(model, shapes)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    mean_std = PREPROCESS.get(name)
    for s in (0, 1):
        feeds = {}
        for i in desc["inputs"]:
            x = np.load(os.path.join(VENDOR, name, "inputs", f"s{s}_{i['name']}.npy"))
            if mean_std is not None:
                m = np.array(mean_std[0], dtype=np.float32).reshape(1, -1, 1, 1)
                d = np.array(mean_std[1], dtype=np.float32).reshape(1, -1, 1, 1)
                x = (x - m) / d
            feeds[i["name"]] = x.astype(np.float32)
        got = sess.run(desc["outputs"], feeds)
        for o, y in zip(desc["outputs"], got):
            ref = np.load(os.path.join(VENDOR, name, "ort", f"s{s}_{o}.npy"))
            rng = float(ref.max() - ref.min()) or 1.0
            err = float(np.abs(y - ref).max())
            assert err <= 1e-5 * rng, f"{name} sample {s} output {o}: err {err} range {rng}"


def compact_json(desc):
    """JSON with one node per line (small diffs, readable)."""
    head = {k: v for k, v in desc.items() if k != "nodes"}
    lines = [json.dumps(head)[:-1] + ', "nodes": [']
    lines += [" " + json.dumps(n) + ("," if k + 1 < len(desc["nodes"]) else "") for k, n in enumerate(desc["nodes"])]
    lines.append("]}")
    return "\n".join(lines) + "\n"


def main():
    total = 0
    for name in MODELS:
        model = onnx.load(os.path.join(VENDOR, name, f"{name}.onnx"))
        ex = Exporter(model)
        nodes = ex.export()
        mean_std = PREPROCESS.get(name)
        desc = {
            "model": name,
            "inputs": [{"name": i.name, "shape": ex.shapes[i.name]} for i in model.graph.input],
            "outputs": [o.name for o in model.graph.output],
            "mean": mean_std[0] if mean_std else None,
            "std": mean_std[1] if mean_std else None,
            "nodes": nodes,
        }
        blob = b"".join(ex.blob)
        self_check(name, desc, blob, ex.shapes)
        with open(os.path.join(HERE, f"{name}.json"), "w") as f:
            f.write(compact_json(desc))
        with open(os.path.join(HERE, f"{name}.bin"), "wb") as f:
            f.write(blob)
        total += len(blob)
        print(f"{name}: {len(nodes)} nodes, {len(blob)} bytes of weights")
    print(f"total weights: {total} bytes")


if __name__ == "__main__":
    main()
