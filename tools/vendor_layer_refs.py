#!/usr/bin/env python3
"""Per-layer outputs of the vendor simulator for the vendor fixtures.

Rebuilds each case of ../shared/fixtures/vendor/MANIFEST.json with
rknn-toolkit2 2.5.0 (same ONNX file, config and calibration set), checks
that the rebuilt model's simulator output for sample 0 equals the
fixture's recorded simulator output, runs accuracy_analysis on sample 0
and keeps the simulator's output of every intermediate layer that the
fixture's .rknn names (the activations produced by its nodes), as float16
.npy files in tests/data/vendor_layers/<model>.<dtype>/<tensor>.npy.
float16 keeps int8 layers exact after re-quantization (|q| <= 128 needs 8
of float16's 11 significand bits) and fp16 layers bit-exact.

tests/vendor_run.rs reads them to name the first layer where the runtime
differs from the vendor simulator; tests never run the toolkit.

Usage: /work/venv-rknn/bin/python tools/vendor_layer_refs.py NAMES.json
where NAMES.json maps each fixture .rknn path to the activation names to
keep (printed by a reader of rknnrt::model::vendor).
"""
import json
import os
import shutil
import sys
import tempfile

import numpy as np
from rknn.api import RKNN

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FX = os.path.join(ROOT, "../shared/fixtures/vendor")
OUT = os.path.join(ROOT, "tests/data/vendor_layers")


def main():
    names = json.load(open(sys.argv[1]))
    manifest = json.load(open(os.path.join(FX, "MANIFEST.json")))
    for case in manifest["cases"]:
        keep = next(v for k, v in names.items() if k.endswith(case["rknn"]))
        if not keep:
            continue
        cfg = case["config"]
        rknn = RKNN(verbose=False)
        extra = {}
        if cfg["do_quantization"]:
            extra = {k: cfg[k] for k in ("quantized_dtype", "quantized_algorithm", "quantized_method")}
        rknn.config(mean_values=cfg["mean_values"], std_values=cfg["std_values"],
                    target_platform=cfg["target_platform"], **extra)
        assert rknn.load_onnx(os.path.join(FX, case["onnx"])) == 0
        dataset = os.path.join(FX, cfg["calibration_dataset"]) if cfg["do_quantization"] else None
        assert rknn.build(do_quantization=cfg["do_quantization"], dataset=dataset) == 0
        sample = case["samples"][0]
        inputs = [os.path.join(FX, p) for p in sample["inputs"].values()]
        work = tempfile.mkdtemp()
        rknn.accuracy_analysis(inputs=inputs, output_dir=work, target=None)
        sim = os.path.join(work, "simulator", "npy")
        for out, ref in sample["sim_outputs"].items():
            got = np.load(os.path.join(sim, out + ".npy"))
            want = np.load(os.path.join(FX, ref))
            assert np.array_equal(got.reshape(want.shape), want), (case["case"], out)
        dst = os.path.join(OUT, case["case"].replace("/", "."))
        os.makedirs(dst, exist_ok=True)
        for name in keep:
            src = os.path.join(sim, name + ".npy")
            if os.path.exists(src):
                np.save(os.path.join(dst, name + ".npy"), np.load(src).astype(np.float16))
        shutil.rmtree(work)
        rknn.release()


if __name__ == "__main__":
    main()
