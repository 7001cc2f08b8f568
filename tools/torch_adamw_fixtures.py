# Copyright 2026 the weight-decay authors. MIT license.
"""Writes tests/fixtures/torch/<case>.json and <case>.f32 from real torch.optim.AdamW,
for tests/torch_adamw_test.ts.

Dev-time only; the tests never run Python. Needs torch and numpy:

    /work/venv/bin/python tools/torch_adamw_fixtures.py

Each case trains a few tensors of odd sizes in several parameter groups for 40 steps of
a warm-up and cosine lr schedule, as timm's scheduler drives it (group lr = lr *
lr_scale), with torch's default AdamW on this CPU (the single-tensor path; the script
checks that). Some cases clip with clip_grad_norm_ before each step, and some skip the
steps whose gradients hold a NaN or an infinity, as GradScaler skips optimizer.step().
Each case is run again with a correctly rounded sqrt, and in child processes under
ATEN_CPU_CAPABILITY=default (no FMA), whose final values are stored too, and avx2, whose
distance from this CPU's run is only printed (AVX2 and AVX-512 agree bit for bit).

Format. <case>.json holds everything but the tensors:

    torch, capability        torch.__version__, torch.backends.cpu.get_cpu_capability()
    note                     what the case is for
    options                  { betas, eps, maxGradNorm?, skipNonFinite? } as AdamWOptions
    groups                   [{ weightDecay, lrScale, params: [{ name, shape }] }], in
                             engine order (group by group, each group's params in order)
    lr                       the base lr of every step (the engine's step(lr) argument)
    skipped                  the 0-based indices of the steps torch did not take
    step                     torch's final state["step"] (equal for every parameter)
    gradNorm                 per step, torch's total norm of the gradients before clipping
                             (clip_grad_norm_'s return, or get_total_norm where the case
                             does not clip), as 8 hex digits of the f32 bits; [] if none
    clipCoefficient          per step, torch's min(1, max_norm / (total_norm + 1e-6)) as
                             f32 bits in hex (only for cases that clip)
    stepSize, bc2Sqrt        per taken step and group, the f64 step_size lr / (1 - b1^t)
                             and sqrt(1 - b2^t) that torch's Python code computes
    snapshots                the 1-based step counts after which "snapshot" params are
                             stored
    sections                 { name: [offset, count] } into <case>.f32, in f32 values

<case>.f32 is the concatenation of little-endian f32 arrays, each over all parameters in
engine order: "initial" (the parameters before step 1), "grads" (every step's
gradients, step by step, as written before clipping), "final.p", "final.m" (exp_avg),
"final.v" (exp_avg_sq), "snapshot.p" (params after each snapshot step, one after the
other); "exactSqrt.p" and "exactSqrt.snapshot.p", the same run with Adam's sqrt
replaced by the correctly rounded one (torch's is MKL VML's, 1 ULP off for about a
fifth of the values; the moments do not change); and "default.p", "default.m",
"default.v", "default.exactSqrt.p", the final values under ATEN_CPU_CAPABILITY=default
(no FMA: lerp and addcmul round twice).
"""

import contextlib
import json
import math
import os
import pathlib
import subprocess
import sys

import numpy as np
import torch
import torch.optim.adam as torch_adam

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "torch"
STEPS = 40
SNAPSHOTS = [1, 2, 10]

# Odd sizes on purpose: not multiples of 4, 8 or 16, so vector tails run everywhere.
BIG_GROUPS = [
    {"weightDecay": 0.05, "lrScale": 1.0, "params": [
        ("blocks.0.attn.qkv.weight", [3, 43]), ("blocks.0.mlp.fc1.weight", [1031]),
        ("head.weight", [7])]},
    {"weightDecay": 0.0, "lrScale": 1.0, "params": [
        ("head.bias", [1]), ("norm.bias", [5]), ("blocks.0.norm1.weight", [17])]},
    {"weightDecay": 0.05, "lrScale": 0.5625, "params": [
        ("blocks.1.attn.qkv.weight", [3, 11]), ("blocks.1.mlp.fc1.weight", [63])]},
    {"weightDecay": 0.0, "lrScale": 0.421875, "params": [("blocks.1.norm1.bias", [13])]},
    {"weightDecay": 0.1, "lrScale": 0.0, "params": [
        ("patch_embed.proj.weight", [31]), ("pos_embed", [100])]},
    {"weightDecay": 0.05, "lrScale": 0.65 ** 2, "params": [("blocks.2.mlp.fc2.weight", [65])]},
]

SMALL_GROUPS = [
    {"weightDecay": 0.1, "lrScale": 1.0, "params": [
        ("fc1.weight", [7]), ("fc2.weight", [3, 43])]},
    {"weightDecay": 0.0, "lrScale": 1.0, "params": [
        ("fc1.bias", [5]), ("norm.weight", [17])]},
    {"weightDecay": 0.1, "lrScale": 0.0, "params": [("embed.weight", [31])]},
    {"weightDecay": 0.05, "lrScale": 0.65, "params": [("fc3.weight", [63])]},
]

# (stem, seed, groups, betas, peak lr, clip, skip, note)
CASES = [
    ("groups", 1, BIG_GROUPS, (0.9, 0.999), 3e-3, False, False,
     "six groups: weight decay 0.05, 0 and 0.1, lrScale 1, 0.5625, 0.421875, 0.65**2 "
     "and 0 (frozen)"),
    ("betas_0.95", 2, SMALL_GROUPS, (0.9, 0.95), 1e-2, False, False,
     "betas (0.9, 0.95) as LLM recipes use them"),
    ("clip", 3, SMALL_GROUPS, (0.9, 0.999), 1e-2, True, False,
     "clip_grad_norm_(params, max_norm) before each step, some steps clipped, some not"),
    ("skip", 4, SMALL_GROUPS, (0.9, 0.999), 1e-2, False, True,
     "steps with a NaN or an infinity in a gradient are not taken, as GradScaler skips "
     "them; the norm is torch's get_total_norm"),
    ("clip_skip", 5, SMALL_GROUPS, (0.9, 0.999), 1e-2, True, True,
     "GradScaler's loop with clipping: clip_grad_norm_, then no step if non-finite"),
]

# Steps (0-based) whose gradients get a NaN or an infinity in the skip cases.
NON_FINITE = {6: math.nan, 17: math.inf, 18: math.nan, 29: -math.inf}


def schedule(peak):
    """Linear warm-up over 5 steps, then cosine down to peak / 100."""
    lrs = []
    for t in range(STEPS):
        if t < 5:
            lrs.append(peak * (t + 1) / 5)
        else:
            progress = (t - 5) / (STEPS - 5)
            lrs.append(peak / 100 + (peak - peak / 100) * 0.5 * (1 + math.cos(math.pi * progress)))
    return lrs


def inputs(seed, groups, clip, skip):
    """Initial parameters and every step's gradients, the same in every process."""
    rng = np.random.default_rng(seed)
    shapes = [shape for group in groups for _, shape in group["params"]]
    initial = []
    for i, shape in enumerate(shapes):
        n = int(np.prod(shape))
        if i % 4 == 1:  # biases start at zero
            initial.append(np.zeros(n, np.float32))
        else:
            sign = rng.choice([-1.0, 1.0], n)
            initial.append((sign * 10 ** rng.uniform(-1.5, 0.3, n)).astype(np.float32))
    # Half the tensors have gradients with a persistent direction per element, the other
    # half fresh noise every step; magnitudes span 1e-8 .. 1e2, and about 1 in 10 is 0.
    bases = [rng.choice([-1.0, 1.0], v.size) * 10 ** rng.uniform(-8, 2, v.size) for v in initial]
    grads = []
    for t in range(STEPS):
        step_scale = 10 ** rng.uniform(-1.5, 1.0) if clip else 1.0
        step = []
        for i, base in enumerate(bases):
            n = base.size
            if i % 2 == 0:
                g = base * rng.uniform(0.5, 1.5, n) * np.where(rng.random(n) < 0.1, -1, 1)
            else:
                g = rng.choice([-1.0, 1.0], n) * 10 ** rng.uniform(-8, 2, n)
            g = np.where(rng.random(n) < 0.1, 0.0, g) * step_scale
            step.append(g.astype(np.float32))
        if skip and t in NON_FINITE:
            tensor = (3 * t) % len(step)
            step[tensor][(7 * t) % step[tensor].size] = NON_FINITE[t]
        grads.append(step)
    if clip:
        norms = [math.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in s))
                 for s in grads]
        finite = sorted(n for n in norms if math.isfinite(n))
        max_norm = float(f"{finite[len(finite) // 2]:.2g}")
    else:
        max_norm = None
    return initial, grads, max_norm


class SingleTensorCalls:
    """Counts the calls of torch's single-tensor Adam, to show it is the path taken."""

    def __enter__(self):
        self.count = 0
        self.original = torch_adam._single_tensor_adam

        def counted(*args, **kwargs):
            self.count += 1
            return self.original(*args, **kwargs)

        torch_adam._single_tensor_adam = counted
        return self

    def __exit__(self, *_):
        torch_adam._single_tensor_adam = self.original


class CorrectlyRoundedSqrt:
    """Replaces Tensor.sqrt, which torch's Adam calls for its denominator, by the correctly
    rounded sqrt (numpy's, in f64, rounded to f32: exact for f32 inputs). torch's own is
    MKL VML's, 1 ULP off for about a fifth of the values."""

    def __enter__(self):
        self.original = torch.Tensor.sqrt
        torch.Tensor.sqrt = lambda t: torch.from_numpy(
            np.sqrt(t.detach().numpy().astype(np.float64)).astype(np.float32))
        return self

    def __exit__(self, *_):
        torch.Tensor.sqrt = self.original


def f32_hex(value):
    return format(int(np.float32(value).view(np.uint32)), "08x")


def run_torch(case, exact_sqrt=False):
    """Trains one case with torch; returns its inputs, final values and what it measured.
    With `exact_sqrt`, Adam's sqrt is the correctly rounded one."""
    _, seed, groups, betas, peak, clip, skip, _ = case
    initial, grads, max_norm = inputs(seed, groups, clip, skip)
    shapes = [shape for group in groups for _, shape in group["params"]]
    params = [torch.nn.Parameter(torch.from_numpy(v.copy()).reshape(shape))
              for v, shape in zip(initial, shapes)]
    torch_groups, k = [], 0
    for group in groups:
        count = len(group["params"])
        torch_groups.append({"params": params[k:k + count], "weight_decay": group["weightDecay"],
                             "lr_scale": group["lrScale"]})
        k += count
    optimizer = torch.optim.AdamW(torch_groups, lr=peak, betas=betas, eps=1e-8)
    for group in optimizer.param_groups:
        assert group["foreach"] is None and group["fused"] is None and not group["capturable"]
    lrs = schedule(peak)
    meta = {"lr": lrs, "skipped": [], "step": 0, "gradNorm": [], "clipCoefficient": [],
            "stepSize": [], "bc2Sqrt": [], "maxNorm": max_norm}
    snapshots = []
    sqrt = CorrectlyRoundedSqrt() if exact_sqrt else contextlib.nullcontext()
    with SingleTensorCalls() as calls, sqrt:
        for t, lr in enumerate(lrs):
            for group in optimizer.param_groups:  # as timm's scheduler sets it
                group["lr"] = lr * group["lr_scale"]
            for param, g in zip(params, grads[t]):
                param.grad = torch.from_numpy(g.copy()).reshape(param.shape)
            if clip:
                norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
                coefficient = torch.clamp(max_norm / (norm + 1e-6), max=1.0)
                meta["clipCoefficient"].append(f32_hex(coefficient.item()))
            else:
                norm = torch.nn.utils.get_total_norm([p.grad for p in params])
            if clip or skip:
                meta["gradNorm"].append(f32_hex(norm.item()))
            if skip and not all(np.isfinite(g).all() for g in grads[t]):
                meta["skipped"].append(t)
            else:
                optimizer.step()
                taken = meta["step"] = meta["step"] + 1
                meta["stepSize"].append([group["lr"] / (1 - betas[0] ** taken)
                                         for group in optimizer.param_groups])
                meta["bc2Sqrt"].append((1 - betas[1] ** taken) ** 0.5)
            if t + 1 in SNAPSHOTS:
                snapshots.append(np.concatenate([p.detach().numpy().ravel() for p in params]))
    # adam() runs _single_tensor_adam once per group and step.
    assert calls.count == meta["step"] * len(groups), f"{calls.count} single-tensor calls"
    state = [optimizer.state[p] for p in params]
    steps = {float(s["step"]) for s in state}
    assert steps == {float(meta["step"])}, steps
    flat = lambda arrays: np.concatenate([np.asarray(a, np.float32).ravel() for a in arrays])
    final = {
        "final.p": flat(p.detach().numpy() for p in params),
        "final.m": flat(s["exp_avg"].numpy() for s in state),
        "final.v": flat(s["exp_avg_sq"].numpy() for s in state),
    }
    return initial, grads, final, np.concatenate(snapshots), meta


def replay_child(stem, path):
    """In a child process: run one case and write its final p, m, v, then p with the
    correctly rounded sqrt, to `path`."""
    case = next(c for c in CASES if c[0] == stem)
    _, _, final, _, _ = run_torch(case)
    _, _, exact, _, _ = run_torch(case, exact_sqrt=True)
    np.concatenate([final["final.p"], final["final.m"], final["final.v"],
                    exact["final.p"]]).tofile(path)
    print(torch.backends.cpu.get_cpu_capability())


def under_capability(stem, capability, size):
    path = OUT / f".{stem}.{capability}.tmp"
    env = dict(os.environ, ATEN_CPU_CAPABILITY=capability)
    out = subprocess.run([sys.executable, __file__, "--replay", stem, str(path)], env=env,
                         check=True, capture_output=True, text=True).stdout.strip()
    assert out.lower() == capability, f"asked for {capability}, torch used {out}"
    values = np.fromfile(path, np.float32)
    path.unlink()
    return {k: values[i * size:(i + 1) * size]
            for i, k in enumerate(["p", "m", "v", "exactSqrt.p"])}


def ulp(a, b):
    """Max distance in ULP and the share of values not bit-identical."""
    ia = a.view(np.int32).astype(np.int64)
    ib = b.view(np.int32).astype(np.int64)
    ia = np.where(ia < 0, -(ia & 0x7FFFFFFF), ia)
    ib = np.where(ib < 0, -(ib & 0x7FFFFFFF), ib)
    d = np.abs(ia - ib)
    return int(d.max()), float(np.mean(a.view(np.uint32) != b.view(np.uint32)))


def sqrt_report(v):
    """How often torch's sqrt differs from the correctly rounded one."""
    t = torch.sqrt(torch.from_numpy(v)).numpy()
    exact = np.sqrt(v.astype(np.float64)).astype(np.float32)
    return ulp(t, exact)


def write_case(case):
    stem, _, groups, betas, _, clip, skip, note = case
    initial, grads, final, snapshots, meta = run_torch(case)
    _, _, exact, exact_snapshots, _ = run_torch(case, exact_sqrt=True)
    size = sum(v.size for v in initial)
    default = under_capability(stem, "default", size)
    avx2 = under_capability(stem, "avx2", size)
    arrays = {
        "initial": np.concatenate(initial),
        "grads": np.concatenate([np.concatenate(s) for s in grads]),
        **final,
        "snapshot.p": snapshots,
        "exactSqrt.p": exact["final.p"],
        "exactSqrt.snapshot.p": exact_snapshots,
        **{f"default.{k}": v for k, v in default.items()},
    }
    sections, offset = {}, 0
    for name, values in arrays.items():
        sections[name] = [offset, int(values.size)]
        offset += values.size
    options = {"betas": list(betas), "eps": 1e-8}
    if clip:
        options["maxGradNorm"] = meta["maxNorm"]
    if skip:
        options["skipNonFinite"] = True
    data = {
        "torch": torch.__version__,
        "capability": torch.backends.cpu.get_cpu_capability(),
        "note": note,
        "options": options,
        "groups": [{"weightDecay": g["weightDecay"], "lrScale": g["lrScale"],
                    "params": [{"name": n, "shape": s} for n, s in g["params"]]}
                   for g in groups],
        **{k: meta[k] for k in ["lr", "skipped", "step", "gradNorm", "clipCoefficient",
                                "stepSize", "bc2Sqrt"]},
        "snapshots": SNAPSHOTS,
        "sections": sections,
    }
    (OUT / f"{stem}.json").write_text(json.dumps(data, indent=2) + "\n")
    np.concatenate(list(arrays.values())).astype("<f4").tofile(OUT / f"{stem}.f32")
    print(f"{stem}: {size} values, {meta['step']} steps taken of {STEPS}, "
          f"max_norm {meta['maxNorm']}, {4 * offset} bytes")
    if clip:
        clipped = sum(int(h, 16) != 0x3F800000 for h in meta["clipCoefficient"])
        print(f"  clipped steps: {clipped} of {STEPS}")
    for k in "pmv":
        d, share = ulp(default[k], final[f"final.{k}"])
        d2, share2 = ulp(avx2[k], final[f"final.{k}"])
        print(f"  {k}: default vs {data['capability']}: max {d} ULP, {100 * share:.1f}% differ; "
              f"avx2: max {d2} ULP, {100 * share2:.1f}% differ")
    d, share = sqrt_report(final["final.v"])
    print(f"  torch.sqrt(final v) vs correctly rounded: max {d} ULP, {100 * share:.1f}% differ")
    d, share = ulp(exact["final.p"], final["final.p"])
    print(f"  p with the correctly rounded sqrt: max {d} ULP, {100 * share:.1f}% differ")
    for k in "mv":
        assert ulp(exact[f"final.{k}"], final[f"final.{k}"])[0] == 0, "sqrt changed a moment"


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--replay":
        replay_child(sys.argv[2], sys.argv[3])
        return
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"torch {torch.__version__}, capability {torch.backends.cpu.get_cpu_capability()}")
    for case in CASES:
        write_case(case)


if __name__ == "__main__":
    main()
