// Copyright 2026 the weight-decay authors. MIT license.
// Replays training runs of real torch.optim.AdamW (tools/torch_adamw_fixtures.py) through
// CpuAdamW and GpuAdamW, and asserts the distances measured from torch as bounds.
//
// Each fixture is a pair: <case>.json (groups, options, per-step lr, torch's norms, clip
// coefficients, step sizes, skipped steps and final step count) and <case>.f32, the
// little-endian f32 arrays that `sections` names by [offset, count] in values, each over
// every parameter in engine order: "initial", "grads" (step after step), "final.p",
// "final.m", "final.v", "snapshot.p" (after each step in `snapshots`), "exactSqrt.p" and
// "exactSqrt.snapshot.p" (the same run with a correctly rounded sqrt in Adam's
// denominator), and "default.*" (torch under ATEN_CPU_CAPABILITY=default, no FMA). The
// script's docstring has the details.

import assert from "node:assert/strict";
import {
  type AdamWOptions,
  CpuAdamW,
  GpuAdamW,
  Parameter,
  type ParamGroup,
} from "../mod.ts";
import {
  _biasCorrection2Sqrt,
  _clipCoefficient,
  _stepSize,
} from "../src/_adamw.ts";
import { gpuTest } from "./_gpu.ts";
import { maxUlpDistance } from "./_ulp.ts";

/** What tools/torch_adamw_fixtures.py writes in <case>.json. */
interface TorchFixture {
  torch: string;
  capability: string;
  note: string;
  options: {
    betas: [number, number];
    eps: number;
    maxGradNorm?: number;
    skipNonFinite?: boolean;
  };
  groups: {
    weightDecay: number;
    lrScale: number;
    params: { name: string; shape: number[] }[];
  }[];
  lr: number[];
  skipped: number[];
  step: number;
  /** Per step, torch's total norm before clipping, as f32 bits in hex. */
  gradNorm: string[];
  /** Per step, torch's clamped clip coefficient, as f32 bits in hex. */
  clipCoefficient: string[];
  /** Per taken step and group, torch's f64 `lr / (1 - beta1 ** t)`. */
  stepSize: number[][];
  /** Per taken step, torch's f64 `(1 - beta2 ** t) ** 0.5`. */
  bc2Sqrt: number[];
  snapshots: number[];
  sections: Record<string, [number, number]>;
}

/** A fixture with its arrays. */
interface Case {
  stem: string;
  fixture: TorchFixture;
  /** The number of values of each parameter, in engine order. */
  sizes: number[];
  /** All of them. */
  size: number;
  section(name: string): Float32Array;
}

const FIXTURES = new URL("./fixtures/torch/", import.meta.url);

function readCase(stem: string): Case {
  const fixture: TorchFixture = JSON.parse(
    Deno.readTextFileSync(new URL(`${stem}.json`, FIXTURES)),
  );
  const bytes = Deno.readFileSync(new URL(`${stem}.f32`, FIXTURES));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const section = (name: string) => {
    const found = fixture.sections[name];
    assert.ok(found !== undefined, `${stem}: no section ${name}`);
    const [offset, count] = found;
    return Float32Array.from(
      { length: count },
      (_, i) => view.getFloat32(4 * (offset + i), true),
    );
  };
  const sizes = fixture.groups.flatMap((g) =>
    g.params.map((p) => p.shape.reduce((a, b) => a * b, 1))
  );
  const size = sizes.reduce((a, b) => a + b, 0);
  return { stem, fixture, sizes, size, section };
}

const CASES = ["groups", "betas_0.95", "clip", "skip", "clip_skip"].map(
  readCase,
);

const f32s = (...values: number[]) => new Float32Array(values);
const fromHex = (hex: string) =>
  new Float32Array(Uint32Array.of(parseInt(hex, 16)).buffer)[0]!;

/** The fixture's groups over fresh parameters holding the initial values. */
function groupsOf({ fixture, section }: Case): ParamGroup<Parameter>[] {
  const initial = section("initial");
  let offset = 0;
  return fixture.groups.map((group) => ({
    weightDecay: group.weightDecay,
    lrScale: group.lrScale,
    names: group.params.map((p) => p.name),
    params: group.params.map(({ shape }) => {
      const size = shape.reduce((a, b) => a * b, 1);
      const data = initial.slice(offset, offset + size);
      offset += size;
      return new Parameter(data, shape);
    }),
  }));
}

/** What a replay ends with: every value flattened in engine order. */
interface Replay {
  p: Float32Array;
  m: Float32Array;
  v: Float32Array;
  step: number;
  /** Per step, the engine's gradNorm() (empty when the case has no norm). */
  norms: number[];
  /** Params after each snapshot step, one after the other. */
  snapshots: Float32Array;
}

const concat = (arrays: readonly Float32Array[]) => {
  const out = new Float32Array(arrays.reduce((n, a) => n + a.length, 0));
  let offset = 0;
  for (const a of arrays) {
    out.set(a, offset);
    offset += a.length;
  }
  return out;
};

/** How a replay feeds the engine: the fixture's gradients and options, or others. */
interface Feed {
  options: AdamWOptions;
  /** The gradients of step `t`, one array per parameter. */
  grads(t: number): Float32Array[];
}

/** The fixture's own gradients and options, as torch got them. */
function asRecorded(c: Case): Feed {
  const grads = c.section("grads");
  return {
    options: c.fixture.options,
    grads: (t) => slices(grads, c.sizes, t * c.size),
  };
}

/**
 * The gradients as torch clipped them, each multiplied in f32 by torch's own clip
 * coefficient of its step, and the options without `maxGradNorm`: what is left of
 * a clipping case once clipping itself is taken out.
 */
function clippedByTorch(c: Case): Feed {
  const { maxGradNorm: _, ...options } = c.fixture.options;
  const recorded = asRecorded(c);
  return {
    options,
    grads(t) {
      const coefficient = fromHex(c.fixture.clipCoefficient[t]!);
      return recorded.grads(t).map((g) => g.map((x) => x * coefficient));
    },
  };
}

/** Consecutive slices of `values` from `offset`, one per size. */
function slices(
  values: Float32Array,
  sizes: readonly number[],
  offset: number,
): Float32Array[] {
  return sizes.map((size) => {
    const slice = values.subarray(offset, offset + size);
    offset += size;
    return slice;
  });
}

const hasNorm = ({ maxGradNorm, skipNonFinite }: AdamWOptions) =>
  maxGradNorm !== undefined || skipNonFinite === true;

function replayCpu(c: Case, feed: Feed = asRecorded(c)): Replay {
  const groups = groupsOf(c);
  const params = groups.flatMap((g) => g.params);
  const adamw = new CpuAdamW(groups, feed.options);
  const norms: number[] = [];
  const snapshots: Float32Array[] = [];
  c.fixture.lr.forEach((lr, t) => {
    feed.grads(t).forEach((grad, i) => {
      params[i]!.grad = grad;
    });
    adamw.step(lr);
    if (hasNorm(feed.options)) norms.push(adamw.gradNorm());
    if (c.fixture.snapshots.includes(t + 1)) {
      snapshots.push(concat(params.map((p) => p.data)));
    }
  });
  const state = adamw.state();
  return {
    p: concat(params.map((p) => p.data)),
    m: concat(state.params.map((s) => s.m)),
    v: concat(state.params.map((s) => s.v)),
    step: state.step,
    norms,
    snapshots: concat(snapshots),
  };
}

async function replayGpu(device: GPUDevice, c: Case): Promise<Replay> {
  const groups = groupsOf(c);
  const params = groups.flatMap((g) => g.params);
  const feed = asRecorded(c);
  const adamw = GpuAdamW.create(device, groups, feed.options);
  try {
    const norms: number[] = [];
    const snapshots: Float32Array[] = [];
    for (const [t, lr] of c.fixture.lr.entries()) {
      feed.grads(t).forEach((grad, i) => adamw.writeGrad(params[i]!, grad));
      adamw.step(lr);
      if (hasNorm(feed.options)) norms.push(await adamw.gradNorm());
      if (c.fixture.snapshots.includes(t + 1)) {
        await adamw.syncToHost();
        snapshots.push(concat(params.map((p) => p.data)));
      }
    }
    await adamw.syncToHost();
    const state = await adamw.state();
    return {
      p: concat(params.map((p) => p.data)),
      m: concat(state.params.map((s) => s.m)),
      v: concat(state.params.map((s) => s.v)),
      step: state.step,
      norms,
      snapshots: concat(snapshots),
    };
  } finally {
    adamw.destroy();
  }
}

/**
 * How far values are from torch's: the largest distance in ULP; the largest in ULP of
 * the largest magnitude of the value's own tensor (small where a value near zero is
 * far in its own ULP after updates cancelled); and how many values are not
 * bit-identical.
 */
interface Distance {
  ulp: number;
  scaled: number;
  differ: number;
  of: number;
}

/** The f32 ULP of a magnitude: the spacing of f32 values at `x`. */
const ulpOf = (x: number) =>
  x < 2 ** -126 ? 2 ** -149 : 2 ** (Math.floor(Math.log2(x)) - 23);

function distance(
  actual: Float32Array,
  expected: Float32Array,
  sizes: readonly number[] = [actual.length],
): Distance {
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const e = new Uint32Array(
    expected.buffer,
    expected.byteOffset,
    expected.length,
  );
  // Tensor after tensor, the sizes repeating (a snapshot array holds several copies).
  let scaled = 0;
  for (let begin = 0, k = 0; begin < actual.length; k++) {
    const end = begin + sizes[k % sizes.length]!;
    let scale = 0;
    for (let i = begin; i < end; i++) {
      const magnitude = Math.abs(expected[i]!);
      if (Number.isFinite(magnitude)) scale = Math.max(scale, magnitude);
    }
    for (let i = begin; i < end; i++) {
      // NaN where both are NaN or the same infinity: not a gap.
      const gap = Math.abs(actual[i]! - expected[i]!);
      if (gap > 0) scaled = Math.max(scaled, gap / ulpOf(scale));
    }
    begin = end;
  }
  return {
    ulp: maxUlpDistance(actual, expected),
    scaled,
    differ: a.filter((bits, i) => bits !== e[i]).length,
    of: a.length,
  };
}

const show = ({ ulp, scaled, differ, of }: Distance) =>
  `${ulp} ULP (${scaled.toFixed(1)} of its tensor's largest), ${
    (100 * differ / of).toFixed(1)
  }% differ`;

/** A replay's distances from torch's values. */
interface Measured {
  p: Distance;
  m: Distance;
  v: Distance;
  /** Over every snapshot, then for each. */
  snapshot: Distance;
  snapshots: Distance[];
  norm: Distance;
  /** From torch with a correctly rounded sqrt: p at the end, and after each snapshot. */
  exactP: Distance;
  exactSnapshot: Distance;
  /** From torch under ATEN_CPU_CAPABILITY=default (no FMA). */
  defaultP: Distance;
  defaultM: Distance;
  defaultV: Distance;
  /** From torch under ATEN_CPU_CAPABILITY=default with a correctly rounded sqrt. */
  defaultExactP: Distance;
}

/** Measures a replay against torch's values, and prints the line the README quotes. */
function measure(c: Case, replay: Replay, engine: string): Measured {
  const sizes = c.sizes;
  const d: Measured = {
    p: distance(replay.p, c.section("final.p"), sizes),
    m: distance(replay.m, c.section("final.m"), sizes),
    v: distance(replay.v, c.section("final.v"), sizes),
    snapshot: distance(replay.snapshots, c.section("snapshot.p"), sizes),
    snapshots: c.fixture.snapshots.map((_, j) => {
      const range = [j * c.size, (j + 1) * c.size] as const;
      return distance(
        replay.snapshots.subarray(...range),
        c.section("snapshot.p").subarray(...range),
        sizes,
      );
    }),
    norm: distance(
      Float32Array.from(replay.norms),
      Float32Array.from(c.fixture.gradNorm.map(fromHex)),
    ),
    exactP: distance(replay.p, c.section("exactSqrt.p"), sizes),
    exactSnapshot: distance(
      replay.snapshots,
      c.section("exactSqrt.snapshot.p"),
      sizes,
    ),
    defaultP: distance(replay.p, c.section("default.p"), sizes),
    defaultM: distance(replay.m, c.section("default.m"), sizes),
    defaultV: distance(replay.v, c.section("default.v"), sizes),
    defaultExactP: distance(replay.p, c.section("default.exactSqrt.p"), sizes),
  };
  // deno-lint-ignore no-console -- the measured distance from torch, for the README
  console.log(
    [
      `${engine} ${c.stem}, from torch ${c.fixture.capability}:`,
      `  p ${show(d.p)}`,
      ...c.fixture.snapshots.map((step, j) =>
        `  p after step ${step}: ${show(d.snapshots[j]!)}`
      ),
      `  m ${show(d.m)}; v ${show(d.v)}`,
      ...(replay.norms.length ? [`  gradNorm ${show(d.norm)}`] : []),
      `  p from torch with a correctly rounded sqrt: ${show(d.exactP)}`,
      `  from torch default: p ${show(d.defaultP)}; m ${show(d.defaultM)}; v ${
        show(d.defaultV)
      }`,
      `  p from torch default with a correctly rounded sqrt: ${
        show(d.defaultExactP)
      }`,
    ].join("\n"),
  );
  return d;
}

/** Asserts `d` within bounds: in ULP, and in ULP of the tensor's largest. */
function assertWithin(
  d: Distance,
  bound: { ulp?: number; scaled?: number },
  what: string,
): void {
  if (bound.ulp !== undefined) {
    assert.ok(
      d.ulp <= bound.ulp,
      `${what}: ${show(d)}, bound ${bound.ulp} ULP`,
    );
  }
  if (bound.scaled !== undefined) {
    assert.ok(
      d.scaled <= bound.scaled,
      `${what}: ${show(d)}, bound ${bound.scaled} ULP of its tensor's largest`,
    );
  }
}

Deno.test("torch fixtures come from torch 2.13's AdamW on a CPU with FMA, and FMA changes the moments", () => {
  for (const c of CASES) {
    assert.match(c.fixture.torch, /^2\.13\./);
    assert.ok(["AVX2", "AVX512"].includes(c.fixture.capability));
    // Without FMA (ATEN_CPU_CAPABILITY=default), lerp and addcmul round twice.
    assert.ok(
      distance(c.section("default.m"), c.section("final.m")).differ > 0,
    );
    assert.ok(
      distance(c.section("default.v"), c.section("final.v")).differ > 0,
    );
  }
});

Deno.test("CpuAdamW computes torch's step sizes and bias corrections bit for bit in f32", () => {
  for (const { fixture } of CASES) {
    const [beta1, beta2] = fixture.options.betas;
    let t = 0;
    fixture.lr.forEach((lr, step) => {
      if (fixture.skipped.includes(step)) return;
      const sizes = fixture.stepSize[t]!;
      t++;
      fixture.groups.forEach(({ lrScale }, g) => {
        assert.equal(_stepSize(lr * lrScale, beta1, t), Math.fround(sizes[g]!));
      });
      assert.equal(
        _biasCorrection2Sqrt(beta2, t),
        Math.fround(fixture.bc2Sqrt[t - 1]!),
      );
    });
    assert.equal(t, fixture.step);
  }
});

/** CpuAdamW's distances from torch, measured: bounds in ULP and in ULP of the tensor's largest. */
const CPU_BOUNDS: Record<
  string,
  Record<"p" | "snapshot" | "m" | "v", { ulp: number; scaled: number }>
> = {
  groups: {
    p: { ulp: 131, scaled: 2 },
    snapshot: { ulp: 192, scaled: 2 },
    m: { ulp: 0, scaled: 0 },
    v: { ulp: 0, scaled: 0 },
  },
  "betas_0.95": {
    p: { ulp: 8, scaled: 2 },
    snapshot: { ulp: 64, scaled: 2 },
    m: { ulp: 0, scaled: 0 },
    v: { ulp: 0, scaled: 0 },
  },
  // Clipping: the norm is 1 ULP from torch's in some steps (torch's per-tensor f32
  // norms round differently), so the clipped gradients can differ by an ULP.
  clip: {
    p: { ulp: 1152, scaled: 2 },
    snapshot: { ulp: 24, scaled: 2 },
    m: { ulp: 14, scaled: 2 },
    v: { ulp: 5, scaled: 2 },
  },
  skip: {
    p: { ulp: 9, scaled: 1 },
    snapshot: { ulp: 16, scaled: 2 },
    m: { ulp: 0, scaled: 0 },
    v: { ulp: 0, scaled: 0 },
  },
  "clip_skip": {
    p: { ulp: 98, scaled: 2.5 },
    snapshot: { ulp: 16, scaled: 2 },
    m: { ulp: 7, scaled: 0.5 },
    v: { ulp: 6, scaled: 2 },
  },
};

/** The parameters of groups with lrScale 0, as [begin, end) in engine order. */
function frozenRanges({ fixture, sizes }: Case): [number, number][] {
  const ranges: [number, number][] = [];
  let tensor = 0;
  let offset = 0;
  for (const group of fixture.groups) {
    const end = tensor + group.params.length;
    const size = sizes.slice(tensor, end).reduce((a, b) => a + b, 0);
    if (group.lrScale === 0) ranges.push([offset, offset + size]);
    tensor = end;
    offset += size;
  }
  return ranges;
}

for (const c of CASES) {
  Deno.test(`CpuAdamW replays torch.optim.AdamW within the measured distance: ${c.stem}`, () => {
    const replay = replayCpu(c);
    const d = measure(c, replay, "CpuAdamW");
    const bounds = CPU_BOUNDS[c.stem]!;
    assert.equal(replay.step, c.fixture.step);
    for (const key of ["p", "snapshot", "m", "v"] as const) {
      assertWithin(d[key], bounds[key], `${c.stem} ${key}`);
    }
    if (replay.norms.length) assertWithin(d.norm, { ulp: 1 }, "gradNorm");
    if (c.fixture.options.maxGradNorm === undefined) {
      // The only difference is torch's sqrt: with a correctly rounded one, none.
      assert.equal(d.exactP.differ, 0, `p: ${show(d.exactP)}`);
      assert.equal(
        d.exactSnapshot.differ,
        0,
        `snapshots: ${show(d.exactSnapshot)}`,
      );
    }
    // lr 0: torch leaves the parameters as they were, and so does CpuAdamW.
    for (const [begin, end] of frozenRanges(c)) {
      const initial = c.section("initial").subarray(begin, end);
      assert.deepEqual(c.section("final.p").subarray(begin, end), initial);
      assert.deepEqual(replay.p.subarray(begin, end), initial);
    }
  });
}

for (const c of CASES.filter((c) => c.fixture.options.maxGradNorm)) {
  Deno.test(`CpuAdamW given torch's clipped gradients matches torch bit for bit but its sqrt: ${c.stem}`, () => {
    const replay = replayCpu(c, clippedByTorch(c));
    const same = (values: Float32Array, name: string) =>
      assert.equal(distance(values, c.section(name)).differ, 0, name);
    same(replay.m, "final.m");
    same(replay.v, "final.v");
    same(replay.p, "exactSqrt.p");
    same(replay.snapshots, "exactSqrt.snapshot.p");
    assert.equal(replay.step, c.fixture.step);
  });
}

Deno.test("torch's clip coefficient is reciprocal(norm + 1e-6) * maxNorm, and _clipCoefficient() is within 1 ULP", () => {
  // torch's clip_coef = max_norm / (total_norm + 1e-6) is Tensor.__rtruediv__, which
  // PyTorch implements as total.reciprocal() * max_norm: two f32 roundings, where
  // _clipCoefficient() rounds once (6 of the fixtures' 76 finite steps differ).
  const f = Math.fround;
  for (const { fixture, stem } of CASES) {
    const max = fixture.options.maxGradNorm;
    if (max === undefined) continue;
    fixture.gradNorm.forEach((hex, t) => {
      const norm = fromHex(hex);
      if (!Number.isFinite(norm)) return;
      const torch = fromHex(fixture.clipCoefficient[t]!);
      const reciprocal = Math.min(1, f(f(1 / f(norm + f(1e-6))) * f(max)));
      assert.equal(reciprocal, torch, `${stem} step ${t}`);
      const ours = _clipCoefficient(norm, max);
      assert.ok(
        maxUlpDistance(f32s(ours), f32s(torch)) <= 1,
        `${stem} step ${t}`,
      );
    });
  }
});

/**
 * GpuAdamW's bounds, for any adapter: WGSL's `sqrt` and `/` need not be correctly
 * rounded and its `fma` may round twice (llvmpipe's does), so these are looser than the
 * CPU's; measured on llvmpipe, at most 5 ULP of the tensor's largest for p, 2 for m,
 * 8 ULP for v and 2 for the norm.
 */
const GPU_BOUNDS = {
  p: { scaled: 8 },
  snapshot: { scaled: 4 },
  m: { scaled: 4 },
  v: { ulp: 16 },
  norm: { ulp: 4 },
};

for (const c of CASES) {
  gpuTest(
    `GpuAdamW replays torch.optim.AdamW within the measured distance: ${c.stem}`,
    async (device) => {
      const replay = await replayGpu(device, c);
      const d = measure(c, replay, "GpuAdamW");
      assert.equal(replay.step, c.fixture.step);
      for (const key of ["p", "snapshot", "m", "v"] as const) {
        assertWithin(d[key], GPU_BOUNDS[key], `${c.stem} ${key}`);
      }
      if (replay.norms.length) {
        assertWithin(d.norm, GPU_BOUNDS.norm, "gradNorm");
      }
      if (c.fixture.options.maxGradNorm === undefined) {
        // The moments do not depend on sqrt or the parameters: they equal torch's with
        // FMA, or without it where the adapter's fma rounds twice.
        const fused = d.m.differ + d.v.differ;
        const unfused = d.defaultM.differ + d.defaultV.differ;
        assert.equal(Math.min(fused, unfused), 0, `${fused} and ${unfused}`);
      }
      for (const [begin, end] of frozenRanges(c)) {
        assert.deepEqual(
          replay.p.subarray(begin, end),
          c.section("initial").subarray(begin, end),
        );
      }
    },
  );
}
