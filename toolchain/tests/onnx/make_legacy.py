"""Small single-op models in older opsets (attribute forms, old defaults)
with onnxruntime outputs, for tests/onnx_import.rs (`legacy_opsets`).

    python3 toolchain/tests/onnx/make_legacy.py

Writes legacy/<name>.onnx, legacy/<name>_x.npy, legacy/<name>_y<k>.npy and
legacy/manifest.json (name -> number of outputs).
"""
import json
import os

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "legacy")
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(11)
manifest = {}


def case(name, opset, nodes, x_shape, n_out=1, inits=()):
    x = rng.standard_normal(x_shape).astype(np.float32)
    outs = [f"y{k}" for k in range(n_out)]
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outs],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in inits],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 7
    data = model.SerializeToString()
    ys = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"x": x})
    with open(os.path.join(OUT, name + ".onnx"), "wb") as f:
        f.write(data)
    np.save(os.path.join(OUT, name + "_x.npy"), x)
    for k, y in enumerate(ys):
        np.save(os.path.join(OUT, f"{name}_y{k}.npy"), y.astype(np.float32))
    manifest[name] = n_out


N = helper.make_node
f32 = np.float32
case("softmax_opset11_axis1", 11, [N("Softmax", ["x"], ["y0"], axis=1)], (2, 3, 4))
case("softmax_opset11_default", 11, [N("Softmax", ["x"], ["y0"])], (2, 3, 4))
case("softmax_opset13_default", 13, [N("Softmax", ["x"], ["y0"])], (2, 3, 4))
case("clip_opset7_attrs", 7, [N("Clip", ["x"], ["y0"], min=-0.5, max=0.7)], (2, 5))
case("clip_opset7_max_only", 7, [N("Clip", ["x"], ["y0"], max=0.2)], (2, 5))
case("clip_opset12_inputs", 12, [N("Clip", ["x", "lo", "hi"], ["y0"])], (2, 5),
     inits=[("lo", f32(-0.3)), ("hi", f32(0.4))])
case("slice_opset9_attrs", 9, [N("Slice", ["x"], ["y0"], starts=[1, -3], ends=[100, -1], axes=[1, 2])], (2, 4, 5))
case("slice_opset13_steps", 13, [N("Slice", ["x", "s", "e", "a", "st"], ["y0"])], (2, 6, 5),
     inits=[("s", np.array([-1, 0], np.int64)), ("e", np.array([-100, 5], np.int64)),
            ("a", np.array([1, 2], np.int64)), ("st", np.array([-2, 2], np.int64))])
case("pad_opset7_reflect", 7, [N("Pad", ["x"], ["y0"], pads=[0, 0, 1, 2, 0, 0, 2, 1], mode="reflect")], (1, 2, 4, 4))
case("pad_opset7_constant", 7, [N("Pad", ["x"], ["y0"], pads=[0, 1, 1, 0, 0, 2, 0, 1], value=1.5)], (1, 2, 3, 3))
case("pad_opset13_edge", 13, [N("Pad", ["x", "p"], ["y0"], mode="edge")], (1, 2, 3, 3),
     inits=[("p", np.array([0, 0, 2, 1, 0, 0, 1, 2], np.int64))])
case("upsample_opset7", 7, [N("Upsample", ["x"], ["y0"], scales=[1.0, 1.0, 2.0, 3.0])], (1, 2, 3, 3))
case("upsample_opset9", 9, [N("Upsample", ["x", "sc"], ["y0"])], (1, 2, 3, 3),
     inits=[("sc", np.array([1, 1, 2, 2], np.float32))])
case("upsample_opset9_linear", 9, [N("Upsample", ["x", "sc"], ["y0"], mode="linear")], (1, 2, 3, 4),
     inits=[("sc", np.array([1, 1, 2, 1.5], np.float32))])
case("resize_opset10_linear", 10, [N("Resize", ["x", "sc"], ["y0"], mode="linear")], (1, 2, 4, 4),
     inits=[("sc", np.array([1, 1, 0.5, 1.5], np.float32))])
case("resize_opset10_nearest", 10, [N("Resize", ["x", "sc"], ["y0"])], (1, 2, 3, 3),
     inits=[("sc", np.array([1, 1, 2, 2], np.float32))])
case("resize_opset11_linear_align", 11,
     [N("Resize", ["x", "roi", "sc", "sz"], ["y0"], mode="linear", coordinate_transformation_mode="align_corners")],
     (1, 2, 3, 4), inits=[("roi", np.zeros(0, np.float32)), ("sc", np.zeros(0, np.float32)),
                          ("sz", np.array([1, 2, 5, 7], np.int64))])
case("squeeze_unsqueeze_opset11", 11,
     [N("Unsqueeze", ["x"], ["u"], axes=[0, 3]), N("Squeeze", ["u"], ["y0"], axes=[0])], (2, 3, 4))
case("reduce_mean_opset11", 11, [N("ReduceMean", ["x"], ["y0"], axes=[1, -1], keepdims=0)], (2, 3, 4))
case("reduce_sum_opset13_input", 13, [N("ReduceSum", ["x", "ax"], ["y0"], keepdims=1)], (2, 3, 4),
     inits=[("ax", np.array([0, 2], np.int64))])
case("reduce_max_opset18_input", 18, [N("ReduceMax", ["x", "ax"], ["y0"], keepdims=0)], (2, 3, 4),
     inits=[("ax", np.array([1], np.int64))])
case("split_opset11_attr", 11, [N("Split", ["x"], ["y0", "y1"], axis=1, split=[1, 3])], (2, 4, 3), n_out=2)
case("split_opset13_input", 13, [N("Split", ["x", "s"], ["y0", "y1"], axis=-1)], (2, 4, 5), n_out=2,
     inits=[("s", np.array([2, 3], np.int64))])
case("split_opset18_num_outputs", 18, [N("Split", ["x"], ["y0", "y1", "y2"], axis=1, num_outputs=3)], (2, 7), n_out=3)
case("batchnorm_opset7", 7, [N("BatchNormalization", ["x", "s", "b", "m", "v"], ["y0"], epsilon=1e-3)], (2, 3, 4, 4),
     inits=[("s", rng.uniform(0.5, 1.5, 3).astype(f32)), ("b", rng.standard_normal(3).astype(f32)),
            ("m", rng.standard_normal(3).astype(f32)), ("v", rng.uniform(0.5, 1.5, 3).astype(f32))])
case("dropout_opset7", 7, [N("Dropout", ["x"], ["y0"], ratio=0.3)], (2, 5))
case("gemm_opset7", 7, [N("Gemm", ["x", "w", "c"], ["y0"], alpha=0.5, beta=2.0, transB=1)], (3, 4),
     inits=[("w", rng.standard_normal((5, 4)).astype(f32)), ("c", rng.standard_normal(5).astype(f32))])
case("activations_opset7", 7,
     [N("LeakyRelu", ["x"], ["a"]), N("HardSigmoid", ["a"], ["y0"])], (2, 6))
case("maxpool_opset10_ceil", 10, [N("MaxPool", ["x"], ["y0"], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)], (1, 2, 6, 6))
case("averagepool_opset7_same", 7,
     [N("AveragePool", ["x"], ["y0"], kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER", count_include_pad=1)],
     (1, 2, 5, 5))
case("conv_opset7_same_lower", 7,
     [N("Conv", ["x", "w"], ["y0"], auto_pad="SAME_LOWER", strides=[2, 2])], (1, 2, 5, 5),
     inits=[("w", rng.standard_normal((3, 2, 2, 2)).astype(f32))])
case("conv1d_opset11", 11, [N("Conv", ["x", "w", "b"], ["y0"], pads=[1, 2], dilations=[2])], (1, 2, 9),
     inits=[("w", rng.standard_normal((3, 2, 3)).astype(f32)), ("b", rng.standard_normal(3).astype(f32))])
case("convtranspose_opset11_output_shape", 11,
     [N("ConvTranspose", ["x", "w"], ["y0"], strides=[2, 2], output_shape=[8, 9])], (1, 2, 4, 4),
     inits=[("w", rng.standard_normal((2, 3, 3, 3)).astype(f32))])
case("qdq_opset10", 10,
     [N("QuantizeLinear", ["x", "s", "z"], ["q"]), N("DequantizeLinear", ["q", "s", "z"], ["y0"])], (2, 5),
     inits=[("s", f32(0.02)), ("z", np.uint8(128))])
case("qdq_opset13_axis", 13,
     [N("QuantizeLinear", ["x", "s", "z"], ["q"], axis=1), N("DequantizeLinear", ["q", "s", "z"], ["y0"], axis=1)],
     (2, 3, 4), inits=[("s", np.array([0.01, 0.02, 0.03], f32)), ("z", np.array([0, 5, -5], np.int8))])
case("flatten_transpose_opset9", 9,
     [N("Transpose", ["x"], ["t"]), N("Flatten", ["t"], ["y0"], axis=2)], (2, 3, 4))
case("pow_square_cube", 13,
     [N("Pow", ["x", "two"], ["p2"]), N("Pow", ["p2", "three"], ["p6"]), N("Pow", ["x", "one"], ["p1"]),
      N("Add", ["p6", "p1"], ["y0"])], (2, 5),
     inits=[("two", np.array(2.0, np.float32)), ("three", np.array(3.0, np.float32)),
            ("one", np.array(1.0, np.float32))])
case("shape_subgraph_folded", 13,
     [N("Shape", ["x"], ["s"]), N("Gather", ["s", "i0"], ["n"]), N("Greater", ["n", "one"], ["g"]),
      N("Where", ["g", "n", "one"], ["w"]), N("Mod", ["w", "three"], ["md"]), N("Add", ["md", "w"], ["a"]),
      N("Cast", ["a"], ["af"], to=TensorProto.FLOAT), N("Floor", ["af"], ["fl"]),
      N("Cast", ["fl"], ["ai"], to=TensorProto.INT64), N("Concat", ["ai", "m1"], ["t"], axis=0),
      N("Reshape", ["x", "t"], ["y0"])],
     (2, 3, 4), inits=[("i0", np.array([0], np.int64)), ("one", np.array([1], np.int64)),
                       ("three", np.array([3], np.int64)), ("m1", np.array([-1], np.int64))])

with open(os.path.join(OUT, "manifest.json"), "w") as f:
    json.dump(manifest, f, indent=1, sort_keys=True)
print(len(manifest), "cases")
