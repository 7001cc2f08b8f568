# Copyright 2026 the weight-decay authors. MIT license.
"""Writes tests/fixtures/timm/*.json from real timm, for tests/layer_decay_test.ts.

Dev-time only; the tests never run Python. Needs torch and timm:

    /work/venv/bin/python tools/timm_fixtures.py

Each fixture holds a model's group_matcher(coarse=False) in our JSON form (tuples become
arrays), its parameter names in named_parameters() order, the layer id timm's
group_parameters(..., reverse=True) gives each, and the lr_scale that
param_groups_layer_decay(model, weight_decay=0.05, ...) gives each, and, for the layers
where this C library's pow is not correctly rounded, the correctly rounded scale.
"""

import json
import pathlib
from fractions import Fraction

import timm
import torch
from timm.models import group_parameters
from timm.optim import param_groups_layer_decay

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "timm"

# (file stem, architecture, layer_decay, min_scale, why it is here)
CASES = [
    ("vit_base_patch16_224", "vit_base_patch16_224", 0.75, 0.0,
     "the final norm is MATCH_PREV_GROUP and joins the last block"),
    ("vit_base_patch16_224_min_scale", "vit_base_patch16_224", 0.75, 0.1,
     "min_scale clamps the early layers"),
    ("deit_small_patch16_224", "deit_small_patch16_224", 0.75, 0.0, "DeiT"),
    ("beit_base_patch16_224", "beit_base_patch16_224", 0.75, 0.0,
     "BEiT, the paper's model; rel_pos_bias in the stem"),
    ("swin_tiny_patch4_window7_224", "swin_tiny_patch4_window7_224", 0.75, 0.0,
     "keys of three numbers; a downsample suffix (0,) shares its key with block 0"),
    ("convnext_tiny", "convnext_tiny", 0.75, 0.0,
     "stages and blocks; the head norm is unmatched, so in the last layer"),
    ("convnext_tiny_decay_0.65", "convnext_tiny", 0.65, 0.0, "another layer_decay"),
    ("eva02_tiny_patch14_224", "eva02_tiny_patch14_224", 0.75, 0.0, "EVA-02"),
    ("vit_little_patch16_reg4_gap_256", "vit_little_patch16_reg4_gap_256", 0.75, 0.0,
     "register tokens in the stem"),
    ("resnet50", "resnet50", 0.75, 0.0,
     "a CNN; the stem regex '^conv1|bn1|maxpool' must not match layer1.0.bn1"),
    ("densenet121", "densenet121", 0.75, 0.0,
     "MATCH_PREV_GROUP inside the network: each transition joins its block's last layer"),
]


def to_json_matcher(matcher):
    """timm's dict group_matcher with tuples as lists, as LayerDecay.groupMatcher."""
    assert isinstance(matcher, dict), f"not a dict matcher: {matcher!r}"
    out = {}
    for key, spec in matcher.items():
        if spec is None or isinstance(spec, str):
            out[key] = spec
        else:
            out[key] = [[regex, None if suffix is None else list(suffix)]
                        for regex, suffix in spec]
    return out


def libm_dependent(layer_decay, min_scale, layer_count):
    """The layers whose scale this C library's pow does not round correctly, with the
    correctly rounded scale: another libm (or V8's x * x for exponent 2) may give that."""
    out = {}
    for layer in range(layer_count):
        k = layer_count - 1 - layer
        exact = max(min_scale, float(Fraction(layer_decay) ** k))
        if exact != max(min_scale, layer_decay ** k):
            out[str(layer)] = exact
    return out


def fixture(arch, layer_decay, min_scale, note):
    torch.manual_seed(0)
    model = timm.create_model(arch, pretrained=False)
    matcher = model.group_matcher(coarse=False)
    names = [name for name, _ in model.named_parameters()]
    layer_map = group_parameters(model, matcher, reverse=True)
    groups = param_groups_layer_decay(
        model, weight_decay=0.05, layer_decay=layer_decay, min_scale=min_scale)
    name_of = {id(param): name for name, param in model.named_parameters()}
    scale_of = {}
    for group in groups:
        for param in group["params"]:
            scale_of[name_of[id(param)]] = group["lr_scale"]
    assert sorted(scale_of) == sorted(names), "every parameter must be in a group"
    layer_count = max(layer_map.values()) + 1
    return {
        "arch": arch,
        "timm": timm.__version__,
        "note": note,
        "layerDecay": layer_decay,
        "minScale": min_scale,
        "groupMatcher": to_json_matcher(matcher),
        "layerCount": layer_count,
        "names": names,
        "layers": [layer_map[name] for name in names],
        "scales": [scale_of[name] for name in names],
        "correctlyRounded": libm_dependent(layer_decay, min_scale, layer_count),
    }


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for stem, arch, layer_decay, min_scale, note in CASES:
        data = fixture(arch, layer_decay, min_scale, note)
        # One name per line keeps diffs readable; floats are written as repr, which
        # JSON.parse reads back to the same double.
        text = json.dumps(data, indent=2) + "\n"
        (OUT / f"{stem}.json").write_text(text)
        print(f"{stem}: {len(data['names'])} names, {data['layerCount']} layers")


if __name__ == "__main__":
    main()
