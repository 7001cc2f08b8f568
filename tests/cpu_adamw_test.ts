// Copyright 2026 the weight-decay authors. MIT license.
import assert from "node:assert/strict";
import { CpuAdamW, Parameter, type ParamGroup } from "../mod.ts";
import { maxUlpDistance } from "./_ulp.ts";

const f32 = Math.fround;
const group = (weightDecay: number, ...params: Parameter[]): ParamGroup => ({
  weightDecay,
  params,
  names: params.map((_, i) => `p${i}`),
});
const f32s = (...values: number[]) => new Float32Array(values);

Deno.test("CpuAdamW.step() matches two AdamW steps computed by hand within 1 ULP", () => {
  // lr 0.01, weightDecay 0.1, betas (0.9, 0.999), eps 1e-8.
  const weight = new Parameter([1, -2, 0.5]);
  const adamw = new CpuAdamW([group(0.1, weight)]);

  // Step 1: m = 0.1 g and v = 0.001 g^2, so after bias correction m / sqrt(v) = sign(g):
  // p = p * (1 - 0.01 * 0.1) - 0.01 * sign(g).
  weight.grad = f32s(0.1, -0.5, 2);
  adamw.step(0.01);
  assert.ok(
    maxUlpDistance(weight.data, f32s(0.989, -1.988, 0.4895)) <= 1,
    `${weight.data}`,
  );
  const [first] = adamw.state().params;
  assert.ok(maxUlpDistance(first!.m, f32s(0.01, -0.05, 0.2)) <= 1);
  assert.ok(maxUlpDistance(first!.v, f32s(1e-5, 2.5e-4, 4e-3)) <= 1);

  // Step 2, g = (0.2, 0.5, -1): m = 0.09 g1 + 0.1 g2, v = 0.000999 g1^2 + 0.001 g2^2,
  // bias corrections 1 - 0.9^2 = 0.19 and 1 - 0.999^2 = 0.001999. For the first value,
  // m^ = 0.029 / 0.19 = 0.152631..., v^ = 0.00004999 / 0.001999 = 0.025007...,
  // p = 0.989 * 0.999 - 0.01 * 0.152631 / 0.158137 = 0.978359...
  weight.grad = f32s(0.2, 0.5, -1);
  adamw.step(0.01);
  assert.ok(
    maxUlpDistance(
      weight.data,
      f32s(0.97835918135, -1.98653831598, 0.48634712967),
    ) <= 1,
    `${weight.data}`,
  );
  assert.equal(adamw.state().step, 2);
});

Deno.test("CpuAdamW.step() rounds every operation to f32 in PyTorch's fused op order", () => {
  const weight = new Parameter([0.75]);
  const adamw = new CpuAdamW([group(0.5, weight)], {
    betas: [0.8, 0.99],
    eps: 1e-6,
  });
  weight.grad = f32s(0.3);
  adamw.step(0.2);
  const g = f32(0.3);
  const m = f32(f32(f32(0.8) * 0) + f32(f32(1 - 0.8) * g));
  const v = f32(f32(f32(0.99) * 0) + f32(f32(f32(1 - 0.99) * g) * g));
  const stepSize = f32(0.2 / (1 - 0.8));
  const denom = f32(
    f32(f32(Math.sqrt(v)) / f32(Math.sqrt(1 - 0.99))) + f32(1e-6),
  );
  const decayed = f32(0.75 * f32(1 - 0.2 * 0.5));
  assert.equal(weight.data[0], f32(decayed - f32(f32(stepSize * m) / denom)));
  assert.equal(adamw.state().params[0]!.m[0], m);
  assert.equal(adamw.state().params[0]!.v[0], v);
});

Deno.test("CpuAdamW.step() still applies Adam to groups with weight decay 0", () => {
  const bias = new Parameter([1]);
  const adamw = new CpuAdamW([group(0, bias)]);
  bias.grad = f32s(-3);
  adamw.step(0.1);
  assert.ok(maxUlpDistance(bias.data, f32s(1.1)) <= 1, `${bias.data}`);
});

Deno.test("CpuAdamW.step() with lr 0 moves no parameter but updates moments and the step count", () => {
  const weight = new Parameter([1, -0, 5]);
  const adamw = new CpuAdamW([group(0.1, weight)]);
  weight.grad = f32s(2, 1, -1);
  adamw.step(0);
  assert.deepEqual([...weight.data], [1, -0, 5]);
  assert.ok(Object.is(weight.data[1], -0));
  const { step, params } = adamw.state();
  assert.equal(step, 1);
  assert.deepEqual([...params[0]!.m], [f32(0.2), f32(0.1), f32(-0.1)]);
});

Deno.test("CpuAdamW.step() with zero gradients only decays", () => {
  const weight = new Parameter([2, -4]);
  const adamw = new CpuAdamW([group(0.5, weight)]);
  weight.grad = new Float32Array(2);
  for (let i = 0; i < 3; i++) adamw.step(0.5);
  assert.deepEqual([...weight.data], [2 * 0.75 ** 3, -4 * 0.75 ** 3]);
  const { params } = adamw.state();
  assert.deepEqual([...params[0]!.m, ...params[0]!.v], [0, 0, 0, 0]);
});

Deno.test("CpuAdamW.step() scales the decay but not the Adam update", () => {
  const scheduled = new Parameter([1]);
  const plain = new Parameter([1]);
  scheduled.grad = plain.grad = f32s(0);
  new CpuAdamW([group(0.5, scheduled)], { scaling: "schedule", maxLr: 0.4 })
    .step(0.1);
  new CpuAdamW([group(0.5, plain)]).step(0.1);
  assert.equal(scheduled.data[0], f32(1 - 0.1 / 0.4 * 0.5));
  assert.equal(plain.data[0], f32(1 - 0.1 * 0.5));
});

Deno.test("CpuAdamW rejects betas and eps outside their ranges", () => {
  const groups = [group(0.1, new Parameter([1]))];
  const cases: [unknown, string, string][] = [
    [
      { betas: [1, 0.999] },
      "RangeError",
      "Expected betas[0] to be a number in [0, 1) but found 1",
    ],
    [
      { betas: [0.9, -0.1] },
      "RangeError",
      "Expected betas[1] to be a number in [0, 1) but found -0.1",
    ],
    [
      { betas: [0.9, NaN] },
      "RangeError",
      "Expected betas[1] to be a number in [0, 1) but found NaN",
    ],
    [
      { betas: [0.9] },
      "TypeError",
      "Expected betas to be a pair [beta1, beta2] but found [0.9]",
    ],
    [
      { betas: 0.9 },
      "TypeError",
      "Expected betas to be a pair [beta1, beta2] but found 0.9",
    ],
    [
      { eps: 0 },
      "RangeError",
      "Expected eps to be a finite number > 0 but found 0",
    ],
    [
      { eps: -1e-8 },
      "RangeError",
      "Expected eps to be a finite number > 0 but found -1e-8",
    ],
    [
      { eps: Infinity },
      "RangeError",
      "Expected eps to be a finite number > 0 but found Infinity",
    ],
    [
      { eps: 1e-40 },
      "RangeError",
      "Expected eps to be at least 2 ** -126, the smallest normal f32, but found 1e-40",
    ],
    [
      { scaling: "corrected" },
      "RangeError",
      'Expected maxLr to be a finite number > 0 for scaling "corrected" but found undefined',
    ],
  ];
  for (const [options, name, message] of cases) {
    assert.throws(() => new CpuAdamW(groups, options as never), {
      name,
      message,
    });
  }
  // The edges of the ranges: betas 0 make each step sign descent.
  const weight = new Parameter([1]);
  weight.grad = f32s(2);
  new CpuAdamW([group(0, weight)], { betas: [0, 0], eps: 2 ** -126 }).step(0.1);
  assert.equal(weight.data[0], f32(0.9));
});

Deno.test("CpuAdamW.step() rejects a bad lr or gradient before changing anything", () => {
  const weight = new Parameter([1, 2]);
  const bias = new Parameter([3]);
  const adamw = new CpuAdamW([group(0.1, weight), group(0, bias)]);
  weight.grad = f32s(1, 1);
  bias.grad = f32s(1);
  adamw.step(0.1);
  const before = { data: [...weight.data, ...bias.data], state: adamw.state() };

  for (const lr of [NaN, -1]) {
    assert.throws(() => adamw.step(lr), {
      name: "RangeError",
      message: `Expected lr to be a finite number >= 0 but found ${lr}`,
    });
  }
  assert.throws(() => adamw.step(20), {
    name: "RangeError",
    message:
      "Expected lr * weightDecay <= 1 so parameters keep their sign, but group 0 has lr * weightDecay = 20 * 0.1 = 2, a factor of -1",
  });
  bias.grad = f32s(1, 2);
  assert.throws(() => adamw.step(0.1), {
    name: "RangeError",
    message:
      'Expected the gradient of group 1 parameter "p0" to hold 1 values but found 2',
  });
  bias.grad = [1] as unknown as Float32Array;
  assert.throws(() => adamw.step(0.1), {
    name: "TypeError",
    message:
      'Expected the gradient of group 1 parameter "p0" to be a Float32Array but found [1]',
  });
  bias.grad = undefined;
  assert.throws(() => adamw.step(0.1), {
    name: "TypeError",
    message:
      'Expected the gradient of group 1 parameter "p0" to be a Float32Array but found undefined',
  });
  assert.deepEqual([...weight.data, ...bias.data], before.data);
  assert.deepEqual(adamw.state(), before.state);
});

Deno.test("CpuAdamW.state() and loadState() continue training bit for bit", () => {
  const make = () => new Parameter([0.5, -1, 2, 0]);
  const grads = [f32s(1, -2, 0.5, 3), f32s(-1, 0.25, 2, -3), f32s(0, 1, 1, 1)];
  const through = make();
  const straight = new CpuAdamW([group(0.2, through)]);
  const first = make();
  const before = new CpuAdamW([group(0.2, first)]);
  for (const grad of grads.slice(0, 2)) {
    through.grad = first.grad = grad;
    straight.step(0.05);
    before.step(0.05);
  }
  const resumed = new Parameter(first.data.slice());
  const after = new CpuAdamW([group(0.2, resumed)]);
  after.loadState(before.state());
  for (const grad of grads) {
    through.grad = resumed.grad = grad;
    straight.step(0.05);
    after.step(0.05);
  }
  assert.deepEqual(
    new Uint32Array(resumed.data.buffer),
    new Uint32Array(through.data.buffer),
  );
  assert.deepEqual(after.state(), straight.state());
  assert.equal(after.state().step, 5);
});

Deno.test("CpuAdamW.loadState() rejects a state of other parameters and changes nothing", () => {
  const weight = new Parameter([1, 2]);
  const bias = new Parameter([3]);
  const adamw = new CpuAdamW([
    { weightDecay: 0.1, params: [weight], names: ["fc.weight"] },
    { weightDecay: 0, params: [bias], names: ["fc.bias"] },
  ]);
  weight.grad = f32s(1, 1);
  bias.grad = f32s(1);
  adamw.step(0.1);
  const good = adamw.state();
  // Valid but different from the engine's state: loading any part of it shows.
  const other = {
    step: 7,
    params: good.params.map(({ name, m }) => ({
      name,
      m: new Float32Array(m.length).fill(9),
      v: new Float32Array(m.length).fill(9),
    })),
  };
  const entry = (i: number, change: object) => ({
    ...other,
    params: other.params.map((p, j) => j === i ? { ...p, ...change } : p),
  });
  const cases: [unknown, string, string][] = [
    [null, "TypeError", "Expected state to be { step, params } but found null"],
    [
      { ...other, step: -1 },
      "RangeError",
      "Expected state.step to be an integer from 0 to 2 ** 32 - 1 but found -1",
    ],
    [
      { ...other, step: 1.5 },
      "RangeError",
      "Expected state.step to be an integer from 0 to 2 ** 32 - 1 but found 1.5",
    ],
    [
      { ...other, step: 2 ** 32 },
      "RangeError",
      "Expected state.step to be an integer from 0 to 2 ** 32 - 1 but found 4294967296",
    ],
    [
      { ...other, params: {} },
      "TypeError",
      "Expected state.params to be an array but found an object",
    ],
    [
      { ...other, params: other.params.slice(1) },
      "RangeError",
      "Expected state.params to hold 2 parameters but found 1",
    ],
    [
      entry(1, { name: "fc.weight" }),
      "TypeError",
      'Expected state.params[1] to be parameter "fc.bias" but found "fc.weight"',
    ],
    [
      entry(1, { v: "0" }),
      "TypeError",
      'Expected state.params[1].v of parameter "fc.bias" to be a Float32Array or an array of numbers but found "0"',
    ],
    [
      entry(1, { v: ["0"] }),
      "TypeError",
      'Expected state.params[1].v of parameter "fc.bias" to hold only numbers but found "0" at index 0',
    ],
    [
      entry(0, { v: f32s(1, -1) }),
      "RangeError",
      'Expected state.params[0].v of parameter "fc.weight" to hold finite values >= 0 but found -1 at index 1',
    ],
    [
      entry(0, { v: [1, Infinity] }),
      "RangeError",
      'Expected state.params[0].v of parameter "fc.weight" to hold finite values >= 0 but found Infinity at index 1',
    ],
    [
      entry(1, { m: f32s(NaN) }),
      "RangeError",
      'Expected state.params[1].m of parameter "fc.bias" to hold finite values but found NaN at index 0',
    ],
    [
      entry(1, { m: new Float32Array(2) }),
      "RangeError",
      'Expected state.params[1].m of parameter "fc.bias" to hold 1 values but found 2',
    ],
  ];
  for (const [state, name, message] of cases) {
    assert.throws(() => adamw.loadState(state as never), { name, message });
  }
  assert.deepEqual(adamw.state(), good);
});
