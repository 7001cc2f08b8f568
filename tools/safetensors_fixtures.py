#!/usr/bin/env python3
# Copyright 2026 the weight-decay authors. MIT license.
"""Safetensors fixtures made by real PyTorch, and a check of our writer against it.

Dev-time only: tests and CI never run Python. Needs torch and safetensors
(/work/venv/bin/python has both). From the repository root:

    python tools/safetensors_fixtures.py make    # rewrites tests/fixtures/safetensors/
    python tools/safetensors_fixtures.py check   # our writer's files load in PyTorch

`make` writes, with the values each must read as:
  tiny_model.safetensors  save_file(model.state_dict()) of a tiny conv/bn/linear model
                          (F32 tensors, and BatchNorm's I64 scalar num_batches_tracked)
  tiny_model.json         names in data order, dtypes, shapes, values
  halves.safetensors      F16 and BF16 tensors: edge bit patterns of every kind
                          (zeros, subnormals, normals, infinities, quiet and signalling
                          NaNs) and random values
  halves.json             the f32 bits PyTorch's .float() gives for each element

`check` makes our writer (through Deno) write files from the fixture, then loads them
with safetensors.torch.load_file and model.load_state_dict(strict=True), compares every
tensor, and runs the Rust crate's validator on edge cases (empty and scalar tensors,
Unicode names and metadata, sub-byte F4, no tensors at all).
"""

import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import safetensors
import torch
from safetensors.torch import load_file, save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "safetensors")
DENO = os.path.join(ROOT, "tools", "deno")


class Tiny(torch.nn.Module):
    """Names as a real model has them: nested modules, a ModuleList, BatchNorm buffers."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 2, 2)
        self.bn = torch.nn.BatchNorm2d(2)
        self.fc = torch.nn.Linear(8, 3)
        self.layers = torch.nn.ModuleList([torch.nn.Linear(3, 2)])

    def forward(self, x):
        x = self.bn(self.conv(x)).flatten(1)
        return self.layers[0](self.fc(x))


def tiny_model():
    torch.manual_seed(0)
    model = Tiny()
    model.train()
    with torch.no_grad():
        model(torch.randn(4, 1, 3, 3))  # moves BatchNorm's running statistics
    return model


def f32_bits(tensor):
    return tensor.float().flatten().view(torch.int32).numpy().astype(np.uint32).tolist()


def halves():
    signs = [0, 1]
    f16_bits = [
        (s << 15) | (e << 10) | m
        for s in signs
        for e in range(32)
        for m in [0, 1, 0x155, 0x200, 0x2AA, 0x3FF]
    ]
    bf16_bits = [
        (s << 15) | (e << 7) | m
        for s in signs
        for e in [0, 1, 2, 64, 126, 127, 128, 200, 254, 255]
        for m in [0, 1, 0x40, 0x55, 0x7F]
    ]

    def from_bits(bits, dtype):
        array = np.array(bits, dtype=np.uint16).view(np.int16)
        return torch.from_numpy(array).view(dtype)

    torch.manual_seed(1)
    return {
        "f16_edges": from_bits(f16_bits, torch.float16),
        "f16_random": (torch.randn(2, 3, 4) * 100).half(),
        "bf16_edges": from_bits(bf16_bits, torch.bfloat16),
        "bf16_random": (torch.randn(3, 5) * 1e-3).bfloat16(),
    }


def describe(tensors):
    """Names in the file's data order, each with dtype, shape and expected values."""
    result = {}
    for name, tensor in tensors.items():
        entry = {"dtype": str(tensor.dtype).removeprefix("torch."), "shape": list(tensor.shape)}
        if tensor.dtype.is_floating_point:
            entry["f32_bits"] = f32_bits(tensor)
        else:
            entry["values"] = tensor.flatten().tolist()
        result[name] = entry
    return result


def data_order(path):
    with open(path, "rb") as file:
        (length,) = struct.unpack("<Q", file.read(8))
        header = json.loads(file.read(length))
    header.pop("__metadata__", None)
    return sorted(header, key=lambda name: header[name]["data_offsets"])


def make():
    os.makedirs(FIXTURES, exist_ok=True)
    for stem, tensors in [("tiny_model", tiny_model().state_dict()), ("halves", halves())]:
        path = os.path.join(FIXTURES, f"{stem}.safetensors")
        metadata = {"format": "pt"}
        save_file(dict(tensors), path, metadata=metadata)
        order = data_order(path)
        expected = {
            "metadata": metadata,
            "order": order,
            "tensors": describe({name: tensors[name] for name in order}),
        }
        expected_path = os.path.join(FIXTURES, f"{stem}.json")
        with open(expected_path, "w") as file:
            json.dump(expected, file)
        # In deno fmt's layout, so `deno fmt --check` passes.
        subprocess.run([DENO, "fmt", "--quiet", expected_path], cwd=ROOT, check=True)
        print(f"wrote {path} ({os.path.getsize(path)} bytes), {len(order)} tensors")


WRITER = """
import {
  _SafetensorsWriter,
  readSafetensors,
  writeSafetensors,
} from "SOURCE";

const [fixture, out] = Deno.args;
using file = await readSafetensors(fixture);
const tensors = new Map();
for (const [name, info] of file.tensors) {
  tensors.set(
    name,
    info.dtype === "F32"
      ? { shape: info.shape, data: await file.read(name) }
      : { dtype: info.dtype, shape: info.shape, bytes: await file.readBytes(name) },
  );
}
await writeSafetensors(`${out}/same_order.safetensors`, tensors, {
  metadata: file.metadata,
});
await writeSafetensors(`${out}/reversed.safetensors`, [...tensors].reverse());

const entries = [...file.tensors.values()].map(({ name, dtype, shape }) => ({
  name,
  dtype,
  shape,
}));
const writer = await _SafetensorsWriter.create(
  `${out}/streamed.safetensors`,
  entries,
  file.metadata,
);
for (const name of file.tensors.keys()) {
  const bytes = await file.readBytes(name);
  for (let i = 0; i < bytes.length; i += 7) await writer.write(bytes.subarray(i, i + 7));
}
await writer.commit();

await writeSafetensors(`${out}/edge.safetensors`, {
  "empty": { shape: [0, 3], data: new Float32Array(0) },
  "scalar": { shape: [], data: Float32Array.of(3.5) },
  "ünï.cödé \\"quoted\\"": { shape: [2], data: Float32Array.of(-0, Infinity) },
  "half": { dtype: "F16", shape: [2], bytes: new Uint8Array([0x00, 0x3c, 0x01, 0x80]) },
  "brain": { dtype: "BF16", shape: [1], bytes: new Uint8Array([0x80, 0x3f]) },
}, { metadata: { "ключ": "значение", "empty": "", "json": "{\\"a\\": [1]}" } });
await writeSafetensors(`${out}/subbyte.safetensors`, {
  "f4": { dtype: "F4", shape: [2, 3], bytes: new Uint8Array([0x12, 0x34, 0x56]) },
  "f6": { dtype: "F6_E2M3", shape: [4], bytes: new Uint8Array([1, 2, 3]) },
});
await writeSafetensors(`${out}/nothing.safetensors`, {});
"""


def run_writer(fixture, out):
    script = os.path.join(out, "writer.ts")
    source = "file://" + os.path.join(ROOT, "src", "safetensors.ts")
    with open(script, "w") as file:
        file.write(WRITER.replace("SOURCE", source))
    subprocess.run(
        [DENO, "run", "--quiet", "--allow-read",
         "--allow-write", script, fixture, out],
        cwd=ROOT,
        check=True,
    )


def same_tensors(loaded, expected, what):
    assert loaded.keys() == expected.keys(), f"{what}: names differ"
    for name, tensor in expected.items():
        got = loaded[name]
        assert got.dtype == tensor.dtype and got.shape == tensor.shape, f"{what}: {name}"
        bytes_of = lambda t: t.contiguous().flatten().view(torch.uint8)  # noqa: E731
        assert torch.equal(bytes_of(got), bytes_of(tensor)), f"{what}: {name} values differ"


def check():
    fixture = os.path.join(FIXTURES, "tiny_model.safetensors")
    original = load_file(fixture)
    with tempfile.TemporaryDirectory() as out:
        run_writer(fixture, out)
        for stem in ["same_order", "reversed", "streamed"]:
            path = os.path.join(out, f"{stem}.safetensors")
            loaded = load_file(path)
            same_tensors(loaded, original, stem)
            model = Tiny()
            model.load_state_dict(loaded, strict=True)
            same_tensors(model.state_dict(), original, f"{stem} after load_state_dict")
            with safetensors.safe_open(path, "pt") as file:
                metadata = file.metadata()
            print(f"ok  {stem}: load_file + load_state_dict(strict=True), "
                  f"{len(loaded)} tensors equal, metadata {metadata}")
        for stem in ["same_order", "streamed"]:
            with open(os.path.join(out, f"{stem}.safetensors"), "rb") as ours, \
                    open(fixture, "rb") as theirs:
                identical = ours.read() == theirs.read()
            print(f"{'ok ' if identical else 'BAD'} {stem}: byte-identical to PyTorch's file: {identical}")
            assert identical

        edge = load_file(os.path.join(out, "edge.safetensors"))
        assert edge["empty"].shape == (0, 3) and edge["empty"].dtype == torch.float32
        assert edge["scalar"].shape == () and edge["scalar"].item() == 3.5
        unicode = edge['ünï.cödé "quoted"']
        assert unicode.tolist() == [0.0, float("inf")] and torch.signbit(unicode[0])
        assert edge["half"].dtype == torch.float16 and edge["half"].tolist() == [1.0, -2 ** -24]
        assert edge["brain"].dtype == torch.bfloat16 and edge["brain"].item() == 1.0
        with safetensors.safe_open(os.path.join(out, "edge.safetensors"), "pt") as file:
            assert file.metadata() == {"ключ": "значение", "empty": "", "json": '{"a": [1]}'}
        print("ok  edge: empty [0, 3], scalar [], Unicode name, F16, BF16, Unicode metadata")

        for stem in ["edge", "subbyte", "nothing"]:
            with open(os.path.join(out, f"{stem}.safetensors"), "rb") as file:
                views = safetensors.deserialize(file.read())
            print(f"ok  {stem}: the Rust crate's deserialize accepts it: "
                  f"{[(name, view['dtype'], view['shape']) for name, view in views]}")


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "make"
    {"make": make, "check": check}[command]()
