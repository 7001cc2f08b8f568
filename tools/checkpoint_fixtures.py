#!/usr/bin/env python3
# Copyright 2026 the weight-decay authors. MIT license.
"""Dev-time: checkpoints written by real PyTorch for tests/checkpoint_test.ts, and a check
that a checkpoint written by saveCheckpoint loads into PyTorch.

    /work/venv/bin/python tools/checkpoint_fixtures.py make          # writes the fixtures
    /work/venv/bin/python tools/checkpoint_fixtures.py check DIR     # loads DIR/model.safetensors

Fixtures (tests/fixtures/checkpoint/):
- tied_both.safetensors: a model whose output layer shares the embedding's weight, saved
  with save_file over a state_dict of clones (both names, equal values).
- tied_dedup.safetensors: the same model saved with safetensors.torch.save_model, which
  keeps one name of each shared tensor.
- tied.json: the model's names, shapes and values as f32 bits, and which name
  save_model kept.
Tests and CI never run this script.
"""
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file, save_model

HERE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "checkpoint"


class Tied(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(5, 3)
        self.norm = torch.nn.LayerNorm(3)
        self.head = torch.nn.Linear(3, 5, bias=False)
        self.head.weight = self.embed.weight


def bits(t):
    return t.detach().contiguous().view(torch.int32).flatten().tolist()


def make():
    torch.manual_seed(7)
    model = Tied()
    HERE.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    save_file(state, HERE / "tied_both.safetensors", metadata={"format": "pt"})
    save_model(model, str(HERE / "tied_dedup.safetensors"))
    kept = sorted(load_file(HERE / "tied_dedup.safetensors").keys())
    json.dump(
        {
            "names": list(state.keys()),
            "shapes": {k: list(v.shape) for k, v in state.items()},
            "bits": {k: [x & 0xFFFFFFFF for x in bits(v)] for k, v in state.items()},
            "dedupKeys": kept,
        },
        open(HERE / "tied.json", "w"),
        indent=1,
    )
    print("wrote", sorted(p.name for p in HERE.iterdir()))


def check(directory):
    state = load_file(Path(directory) / "model.safetensors")
    print({k: (str(v.dtype), list(v.shape)) for k, v in state.items()})
    module = torch.nn.Module()
    for name, tensor in state.items():
        *path, leaf = name.split(".")
        owner = module
        for part in path:
            if not hasattr(owner, part):
                owner.add_module(part, torch.nn.Module())
            owner = getattr(owner, part)
        owner.register_parameter(leaf, torch.nn.Parameter(torch.zeros_like(tensor)))
    result = module.load_state_dict(state, strict=True)
    print("load_state_dict(strict=True):", result)
    for name, tensor in module.state_dict().items():
        assert torch.equal(tensor, state[name]), name
    print("every value loaded")


if __name__ == "__main__":
    {"make": lambda: make(), "check": lambda: check(sys.argv[2])}[sys.argv[1]]()
