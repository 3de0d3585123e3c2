#!/usr/bin/env python3
"""How the vendor simulator requantises int8 convolutions.

For each single-convolution int8 case of ../shared/fixtures/vendor/ this
recomputes the vendor simulator's output from the ONNX model, the input
and the activation ranges stored in the .rknn (its `quant_tab`), with the
model docs/sim.md ("Against the vendor simulator") describes:

* activation scale `(max(hi, 0) - min(lo, 0)) / 255` (fp32), zero point
  `round(-min(lo, 0) / scale) - 128`;
* per-channel weight scale `s_w[c] = (max(w, 0) - min(w, 0)) / 255` of the
  float weights (not stored in the .rknn), weights `round(w / s_w[c])`,
  bias `round(b / (s_in * s_w[c]))`;
* the exact integer accumulator `A` (input minus its zero point, times the
  weights, plus the bias), then `round(A * s_in * s_w[c] / s_out) + zp_out`
  in floating point, saturated to int8.

It prints, per case and sample, the elements where this model differs
from the vendor output (0 everywhere), and per case the narrowest window
of multipliers `M` for which `round(A * M)` gives the vendor output of a
channel, next to the float scale (inside every window).

Needs numpy and onnx only (not the vendor toolkit).
Usage: python3 tools/vendor_requant_check.py
"""
import ast
import os

import numpy as np
import onnx
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
FX = os.path.join(HERE, "../../shared/fixtures/vendor")
CASES = ["conv3x3", "conv_relu", "conv_depthwise", "conv_stride2", "conv1x1", "conv_64x64", "add_convs"]


def quant_tab(rknn):
    """The `quant_tab` of the model description the .rknn embeds."""
    data = open(rknn, "rb").read()
    start = data.find(b"{'attrs'")
    end = data.find(b"\x00", start)
    return ast.literal_eval(data[start:end].decode())["quant_tab"]


def activation(q):
    lo, hi = min(q["min"][0], 0.0), max(q["max"][0], 0.0)
    scale = float(np.float32((hi - lo) / 255))
    return scale, int(np.round(-lo / scale)) - 128


def conv_weights(model):
    """The model's one convolution (Conv + Add of a 1x1 Conv folded into the
    3x3 centre tap, as the compiler fuses add_convs): weights, bias, attributes."""
    inits = {i.name: numpy_helper.to_array(i).astype(np.float64) for i in model.graph.initializer}
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in convs[0].attribute}
    w, b = inits[convs[0].input[1]].copy(), inits[convs[0].input[2]].copy()
    for extra in convs[1:]:
        w2 = inits[extra.input[1]]
        cy, cx = w.shape[2] // 2, w.shape[3] // 2
        w[:, :, cy, cx] += w2[:, :, 0, 0]
        b += inits[extra.input[2]]
    return w, b, attrs


def accumulate(xq, wq, bq, attrs):
    """Integer convolution of `xq` (C, H, W) with `wq` (O, C/g, kh, kw)."""
    pads, strides, group = attrs.get("pads", [0] * 4), attrs.get("strides", [1, 1]), attrs.get("group", 1)
    o, cg, kh, kw = wq.shape
    xp = np.pad(xq, ((0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    ho = (xp.shape[1] - kh) // strides[0] + 1
    wo = (xp.shape[2] - kw) // strides[1] + 1
    acc = np.zeros((o, ho, wo))
    per = o // group
    for g in range(group):
        for ky in range(kh):
            for kx in range(kw):
                win = xp[g * cg:(g + 1) * cg, ky:ky + strides[0] * ho:strides[0], kx:kx + strides[1] * wo:strides[1]]
                acc[g * per:(g + 1) * per] += np.einsum("oi,ihw->ohw", wq[g * per:(g + 1) * per, :, ky, kx], win)
    return acc + bq[:, None, None]


def main():
    for case in CASES:
        rknn = os.path.join(FX, case, f"{case}.rk3588.i8.rknn")
        tab = quant_tab(rknn)
        s_in, z_in = activation(tab["x"])
        s_out, z_out = activation(tab["y"])
        w, b, attrs = conv_weights(onnx.load(os.path.join(FX, case, f"{case}.onnx")))
        flat = w.reshape(w.shape[0], -1)
        s_w = (np.maximum(flat.max(1), 0) - np.minimum(flat.min(1), 0)) / 255
        wq = np.round(w / s_w[:, None, None, None])
        bq = np.round(b / (s_in * s_w))
        m_float = s_in * s_w / s_out
        relu = any(n.op_type == "Relu" for n in onnx.load(os.path.join(FX, case, f"{case}.onnx")).graph.node)
        lo = np.full(len(s_w), -np.inf)
        hi = np.full(len(s_w), np.inf)
        for s in range(2):
            x = np.load(os.path.join(FX, case, f"inputs/s{s}_x.npy")).astype(np.float64)[0]
            xq = np.clip(np.round(x / s_in) + z_in, -128, 127) - z_in
            acc = accumulate(xq, wq, bq, attrs)
            got = np.clip(np.round(acc * m_float[:, None, None]) + z_out, -128, 127)
            if relu:
                got = np.maximum(got, z_out)
            want = np.round(np.load(os.path.join(FX, case, f"sim_i8/s{s}_y.npy"))[0] / s_out) + z_out
            print(f"{case:15} s{s}: {int((got != want).sum())} of {want.size} elements differ from the vendor simulator")
            # Window of M with round(acc * M) + zp = want (unsaturated elements).
            k = want - z_out
            for c in range(len(s_w)):
                a, t = acc[c].ravel(), k[c].ravel()
                free = (want[c].ravel() > -128) & (want[c].ravel() < 127) & (a != 0)
                if relu:
                    free &= want[c].ravel() > z_out
                a, t = a[free], t[free]
                if a.size == 0:
                    continue
                ends = np.stack([(t - 0.5) / a, (t + 0.5) / a])
                lo[c] = max(lo[c], ends.min(0).max())
                hi[c] = min(hi[c], ends.max(0).min())
        c = int(np.argmin(np.where(np.isfinite(hi - lo), (hi - lo) / m_float, np.inf)))
        inside = bool(np.all((lo <= m_float) & (m_float <= hi)))
        print(f"{case:15} narrowest window: channel {c}, M in [{lo[c]:.10e}, {hi[c]:.10e}] "
              f"(relative width {(hi[c] - lo[c]) / m_float[c]:.1e}); float scale {m_float[c]:.10e}; "
              f"float scale inside every channel's window: {inside}")


if __name__ == "__main__":
    main()
