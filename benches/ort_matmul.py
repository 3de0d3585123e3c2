#!/usr/bin/env python3
"""onnxruntime peer for `cargo bench --bench gemm`.

Usage: ort_matmul.py M,K,N [M,K,N ...]

For every shape, times onnxruntime's MatMul (fp16 and fp32 inputs, fp32
or fp16 output as ONNX defines) and MatMulInteger (int8 x int8 -> int32)
with B as an initializer (so onnxruntime may pre-pack it, like our packed
B) on all cores, and prints one line per measurement:

    ort <kind> <M> <K> <N> <median GOPS>

kind is f16, f32 or i8. A kind onnxruntime cannot run prints
`ort <kind> <M> <K> <N> unsupported <reason>`. If onnxruntime is missing
the script prints `ort unavailable <reason>` and exits 0.
"""
import os
import statistics
import sys
import time

try:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    import onnxruntime as ort
except Exception as e:  # noqa: BLE001 - any import failure means no peer
    print(f"ort unavailable {type(e).__name__}: {e}")
    sys.exit(0)


def model(kind, m, k, n, rng):
    if kind == "i8":
        b = rng.integers(-128, 128, size=(k, n), dtype=np.int8)
        a_t, op, out_t = TensorProto.INT8, "MatMulInteger", TensorProto.INT32
        feeds = {"A": rng.integers(-128, 128, size=(m, k), dtype=np.int8)}
    else:
        dt = np.float16 if kind == "f16" else np.float32
        b = rng.uniform(-1, 1, size=(k, n)).astype(dt)
        a_t = TensorProto.FLOAT16 if kind == "f16" else TensorProto.FLOAT
        op, out_t = "MatMul", a_t
        feeds = {"A": rng.uniform(-1, 1, size=(m, k)).astype(dt)}
    node = helper.make_node(op, ["A", "B"], ["C"])
    graph = helper.make_graph(
        [node],
        "mm",
        [helper.make_tensor_value_info("A", a_t, [m, k])],
        [helper.make_tensor_value_info("C", out_t, [m, n])],
        [numpy_helper.from_array(b, "B")],
    )
    mp = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    mp.ir_version = 8
    return mp.SerializeToString(), feeds


def bench(kind, m, k, n, rng):
    blob, feeds = model(kind, m, k, n, rng)
    so = ort.SessionOptions()
    so.intra_op_num_threads = os.cpu_count() or 1
    sess = ort.InferenceSession(blob, so, providers=["CPUExecutionProvider"])
    sess.run(None, feeds)
    once = time.perf_counter()
    sess.run(None, feeds)
    once = time.perf_counter() - once
    reps = max(5, min(50, int(0.5 / max(once, 1e-6))))
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        sess.run(None, feeds)
        times.append(time.perf_counter() - t)
    return 2.0 * m * k * n / statistics.median(times) / 1e9


def main():
    rng = np.random.default_rng(1)
    for arg in sys.argv[1:]:
        m, k, n = (int(x) for x in arg.split(","))
        for kind in ("f16", "f32", "i8"):
            try:
                g = bench(kind, m, k, n, rng)
                print(f"ort {kind} {m} {k} {n} {g:.2f}", flush=True)
            except Exception as e:  # noqa: BLE001 - report and go on
                msg = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
                print(f"ort {kind} {m} {k} {n} unsupported {msg}", flush=True)


if __name__ == "__main__":
    main()
