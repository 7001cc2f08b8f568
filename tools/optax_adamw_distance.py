# Copyright 2026 the weight-decay authors. MIT license.
"""Prints how far optax.adamw lands from CpuAdamW on the torch fixtures.

Dev-time only, and nothing in the tests needs it. Needs jax and optax (pip install optax):

    /work/venv/bin/python tools/optax_adamw_distance.py

It replays tests/fixtures/torch/<case> (tools/torch_adamw_fixtures.py describes the
format) through optax: one optax.adamw per group under optax.partition, each with the
group's weight decay and a schedule of lr * lrScale (as f32, JAX's default dtype), and
optax.clip_by_global_norm(maxGradNorm) before it in the case that clips. CpuAdamW's own
results are in the fixtures, measured bit for bit by tests/torch_adamw_test.ts: in the
cases that do not clip, its moments are torch's "final.m" and "final.v", its parameters
torch's "exactSqrt.p" (torch with a correctly rounded sqrt). The case that clips is
measured from torch.

Measured with jax 0.10.2 and optax 0.2.8 on CPU: with betas (0.9, 0.999) the parameters
land up to 113 ULP of their tensor's largest from CpuAdamW, since optax computes the bias
corrections 1 - b^t in f32 from f32(b), so sqrt(1 - 0.999^t) is about 110 ULP low at
every t; with (0.9, 0.95), 7. Its moments (b1 * mu + (1 - b1) * g, not torch's lerp) are
within 5 to 9 ULP of their tensor's largest.

Each line gives the largest distance in ULP, the share of values not bit-identical, and
the largest distance in ULP of the largest magnitude of the value's own tensor (which
stays meaningful where updates cancel near zero), as tests/torch_adamw_test.ts does.
"""

import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import optax

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "torch"
CASES = ["groups", "betas_0.95", "clip"]


def ordinals(values):
    bits = values.view(np.int32).astype(np.int64)
    return np.where(bits < 0, -(bits & 0x7FFFFFFF), bits)


def distance(actual, expected, sizes):
    gap = np.abs(ordinals(actual) - ordinals(expected))
    scaled, k = 0.0, 0
    for n in sizes:
        scale = float(np.max(np.abs(expected[k:k + n])))
        ulp = 2.0 ** (np.floor(np.log2(scale)) - 23) if scale > 0 else 2.0 ** -149
        diff = np.abs(actual[k:k + n].astype(np.float64) - expected[k:k + n])
        scaled = max(scaled, float(np.max(diff)) / ulp)
        k += n
    return f"{int(gap.max())} ULP ({scaled:.1f} of its tensor's largest), " \
           f"{100 * float(np.mean(gap != 0)):.1f}% differ"


def replay(stem):
    fixture = json.loads((FIXTURES / f"{stem}.json").read_text())
    values = np.fromfile(FIXTURES / f"{stem}.f32", "<f4")

    def section(name):
        offset, count = fixture["sections"][name]
        return values[offset:offset + count]

    sizes = [int(np.prod(p["shape"])) for g in fixture["groups"] for p in g["params"]]
    labels = [str(i) for i, g in enumerate(fixture["groups"]) for _ in g["params"]]
    split = lambda flat: [jnp.asarray(x) for x in np.split(flat, np.cumsum(sizes)[:-1])]
    beta1, beta2 = fixture["options"]["betas"]

    def schedule(scale):
        table = jnp.asarray(np.array([lr * scale for lr in fixture["lr"]], np.float32))
        return lambda count: table[count]

    adamw = optax.partition({
        str(i): optax.adamw(schedule(g["lrScale"]), b1=beta1, b2=beta2,
                            eps=fixture["options"]["eps"], weight_decay=g["weightDecay"])
        for i, g in enumerate(fixture["groups"])
    }, labels)
    max_norm = fixture["options"].get("maxGradNorm")
    tx = adamw if max_norm is None else optax.chain(optax.clip_by_global_norm(max_norm), adamw)
    params = split(section("initial"))
    state = tx.init(params)

    @jax.jit
    def step(params, state, grads):
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    size, grads = sum(sizes), section("grads")
    for t in range(len(fixture["lr"])):
        params, state = step(params, state, split(grads[t * size:(t + 1) * size]))
    inner = (state if max_norm is None else state[1]).inner_states
    adam = [inner[label].inner_state[0] for label in labels]
    p = np.concatenate([np.asarray(x) for x in params])
    m = np.concatenate([np.asarray(a.mu[i]) for i, a in enumerate(adam)])
    v = np.concatenate([np.asarray(a.nu[i]) for i, a in enumerate(adam)])
    # Under clipping CpuAdamW's values are not in the fixtures (its norm rounds
    # differently from torch's): that case is measured from torch.
    source, final_p = ("CpuAdamW", "exactSqrt.p") if max_norm is None else ("torch", "final.p")
    print(f"optax.adamw {stem}, from {source}:")
    print(f"  p {distance(p, section(final_p), sizes)}")
    print(f"  m {distance(m, section('final.m'), sizes)}; v {distance(v, section('final.v'), sizes)}")


def main():
    print(f"jax {jax.__version__}, optax {optax.__version__}, {jax.devices()[0].platform}")
    for stem in CASES:
        replay(stem)


if __name__ == "__main__":
    main()
