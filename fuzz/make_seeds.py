#!/usr/bin/env python3
"""Writes the seed corpus of the structured fuzz targets (inputs_set,
convert_input) in the byte formats their doc comments describe. The model
seeds of rknn_reader come from `cargo run --example write_test_models --
fuzz/corpus/rknn_reader`. Run from anywhere: python3 fuzz/make_seeds.py"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

F32, F16, I8, U8 = 0, 1, 2, 3
NCHW, NHWC, NC1HWC2, UNDEF = 0, 1, 2, 3


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def inp(index, typ, fmt, pass_through, size, null=0):
    return bytes([index, typ, fmt, pass_through]) + struct.pack("<I", size) + bytes([null, 0, 0, 0])


def out(want_float, prealloc, index, size=0):
    return bytes([want_float, prealloc, index, 0]) + struct.pack("<I", size)


def inputs_set(name, model, inputs, outputs, release, payload):
    data = bytes([model, len(inputs)]) + b"".join(inputs)
    data += bytes([len(outputs)]) + b"".join(outputs) + bytes([release]) + payload
    write("inputs_set", name, data)


def f32s(values):
    return b"".join(struct.pack("<f", v) for v in values)


# f32 Relu (x [1,3,4,4]): float32 NCHW in, float out handed out by the runtime.
inputs_set("relu_f32_nchw", 0, [inp(0, F32, NCHW, 0, 192)], [out(1, 0, 0)], 0,
           f32s([(i - 24) / 8.0 for i in range(48)]))
# f32 Relu: float16 NHWC in, two outputs asked for (one more than the model has).
inputs_set("relu_f16_nhwc_two_outputs", 0, [inp(0, F16, NHWC, 0, 96)],
           [out(1, 0, 0), out(0, 0, 1)], 1, bytes(range(96)))
# int8 Conv (x [1,2,3,3]): uint8 NHWC image, int8 output into a preallocated buffer.
inputs_set("conv_u8_nhwc_prealloc", 1, [inp(0, U8, NHWC, 0, 18)], [out(0, 1, 0, 18)], 0,
           bytes(range(0, 180, 10)))
# int8 Conv: pass-through int8 NC1HWC2 (C2 16 on rk3588), float output.
inputs_set("conv_i8_nc1hwc2_pass_through", 1, [inp(0, I8, NC1HWC2, 1, 144)], [out(1, 1, 0, 72)], 0,
           bytes((i * 7) % 256 for i in range(144)))


def tensor(dims, dtype, layout, quant=b"\x00"):
    return bytes([len(dims)] + dims + [dtype, layout]) + quant


def per_tensor(scale, zp):
    return b"\x01" + struct.pack("<fi", scale, zp) + b"\x00"


def per_channel(axis, pairs):
    q = bytes([2, len(pairs), axis])
    for s, z in pairs:
        q += struct.pack("<fi", s, z)
    return q + b"\x00"


def floats(values):
    return bytes([len(values)]) + f32s(values)


def spec(layout, c2=0, w_stride=0):
    return bytes([layout, c2, w_stride])


def convert(name, dst, mean, std, src_dtype, src_spec, pass_through, dst_spec, out_len, payload):
    data = dst + floats(mean) + floats(std)
    data += bytes([src_dtype]) + src_spec + bytes([pass_through]) + dst_spec
    data += b"\x00" if out_len is None else b"\x01" + struct.pack("<H", out_len)
    write("convert_input", name, data + payload)


convert("u8_nhwc_to_i8_nchw_mean_std", tensor([1, 3, 4, 4], I8, NCHW, per_tensor(0.05, -3)),
        [10.0, 20.0, 30.0], [2.0, 4.0, 8.0], U8, spec(NHWC), 0, spec(NCHW), None, bytes(range(48)))
convert("f32_nchw_to_f16_nc1hwc2", tensor([1, 3, 3, 2], F16, NHWC), [], [], F32, spec(NCHW), 0,
        spec(NC1HWC2, 8), None, f32s([i / 4.0 for i in range(18)]))
convert("u8_flat_to_f32", tensor([3, 5], F32, UNDEF), [], [], U8, spec(UNDEF), 0, spec(UNDEF), 60,
        bytes(range(15)))
convert("f32_strided_nhwc_per_channel_i8", tensor([1, 2, 2, 2], I8, NCHW, per_channel(1, [(0.1, 0), (0.2, 5)])),
        [1.0], [0.5], F32, spec(NHWC, 0, 3), 0, spec(NCHW), None, f32s([i - 6.0 for i in range(12)]))
