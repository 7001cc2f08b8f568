// Copyright 2026 the weight-decay authors. MIT license.
import assert from "node:assert/strict";
import { CpuDecay, Parameter, type ParamGroup } from "../mod.ts";

const f32 = Math.fround;
const group = (weightDecay: number, ...params: Parameter[]): ParamGroup => ({
  weightDecay,
  params,
  names: params.map((_, i) => `p${i}`),
});

Deno.test("CpuDecay.step() multiplies by Math.fround(1 - lr * weightDecay) in f32", () => {
  const weight = new Parameter([1, -2, 0.5, 3.3]);
  new CpuDecay([group(0.01, weight)]).step(0.1);
  const factor = f32(1 - 0.1 * 0.01);
  assert.equal(factor, 0.9990000128746033);
  assert.deepEqual([...weight.data], [
    factor,
    f32(-2 * factor),
    f32(0.5 * factor),
    f32(f32(3.3) * factor),
  ]);
  assert.deepEqual([...weight.data], [
    0.9990000128746033,
    -1.9980000257492065,
    0.49950000643730164,
    3.2967000007629395,
  ]);
});

Deno.test("CpuDecay.step() applies each step's own lr", () => {
  const weight = new Parameter([10]);
  const decay = new CpuDecay([group(0.5, weight)]);
  decay.step(0.2); // factor 0.9
  decay.step(1); // factor 0.5
  decay.step(0); // factor 1
  assert.equal(weight.data[0], f32(f32(10 * f32(0.9)) * 0.5));
});

Deno.test("CpuDecay.step() leaves groups with weight decay 0 untouched", () => {
  const bias = new Parameter([NaN, -0, 1e-45]);
  const weight = new Parameter([2]);
  new CpuDecay([group(0, bias), group(0.25, weight)]).step(2);
  assert.ok(Number.isNaN(bias.data[0]!));
  assert.ok(Object.is(bias.data[1], -0));
  assert.equal(bias.data[2], f32(1e-45));
  assert.equal(weight.data[0], 1);
});

Deno.test("CpuDecay.step() keeps NaN, infinities and the sign of zero as x * f does", () => {
  const weight = new Parameter([NaN, Infinity, -Infinity, -0, 0]);
  new CpuDecay([group(0.1, weight)]).step(1);
  assert.ok(Number.isNaN(weight.data[0]!));
  assert.equal(weight.data[1], Infinity);
  assert.equal(weight.data[2], -Infinity);
  assert.ok(Object.is(weight.data[3], -0));
  assert.ok(Object.is(weight.data[4], 0));
});

Deno.test("CpuDecay.step() zeroes parameters when lr * weightDecay is exactly 1", () => {
  const weight = new Parameter([5, -5]);
  new CpuDecay([group(0.5, weight)]).step(2);
  assert.deepEqual([...weight.data], [0, -0]);
});

Deno.test("CpuDecay.step() rejects a bad lr before changing anything", () => {
  const weight = new Parameter([1, 2]);
  const decay = new CpuDecay([group(0.1, weight)]);
  for (const lr of [-1e-3, NaN, Infinity, "0.1"]) {
    assert.throws(() => decay.step(lr as number), {
      name: "RangeError",
      message: `Expected lr to be a finite number >= 0 but found ${
        typeof lr === "string" ? `"${lr}"` : lr
      }`,
    });
  }
  assert.deepEqual([...weight.data], [1, 2]);
});

Deno.test("CpuDecay.step() rejects a negative factor in any group before changing any group", () => {
  const first = new Parameter([1]);
  const second = new Parameter([1]);
  const decay = new CpuDecay([group(0.1, first), group(0.6, second)]);
  assert.throws(() => decay.step(2), {
    name: "RangeError",
    message:
      "Expected lr * weightDecay <= 1 so parameters keep their sign, but group 1 has lr * weightDecay = 2 * 0.6 = 1.2, a factor of -0.19999999999999996",
  });
  assert.equal(first.data[0], 1);
  assert.equal(second.data[0], 1);
});

Deno.test("CpuDecay scales the decay as each scaling mode says", () => {
  const run = (
    options: ConstructorParameters<typeof CpuDecay>[1],
    lr: number,
  ) => {
    const weight = new Parameter([1]);
    new CpuDecay([group(0.1, weight)], options).step(lr);
    return weight.data[0];
  };
  assert.equal(run({ scaling: "lr" }, 0.5), f32(1 - 0.5 * 0.1));
  assert.equal(
    run({ scaling: "schedule", maxLr: 2 }, 0.5),
    f32(1 - 0.25 * 0.1),
  );
  assert.equal(run({ scaling: "independent" }, 0.5), f32(1 - 0.1));
  assert.equal(
    run({ scaling: "independent" }, 0),
    f32(1 - 0.1),
    "lr-free: decays at lr 0",
  );
  assert.equal(
    run({ scaling: "corrected", maxLr: 2 }, 0.5),
    f32(1 - 0.125 * 0.1),
  );
  assert.equal(
    run({ scaling: "schedule", maxLr: 1e-3 }, 1e-3),
    f32(1 - 0.1),
    "wd per step at peak",
  );
});

Deno.test("CpuDecay rejects scaling options it cannot honour", () => {
  const groups = [group(0.1, new Parameter([1]))];
  for (const maxLr of [undefined, 0, -1, NaN, Infinity]) {
    assert.throws(() => new CpuDecay(groups, { scaling: "schedule", maxLr }), {
      name: "RangeError",
      message:
        `Expected maxLr to be a finite number > 0 for scaling "schedule" but found ${maxLr}`,
    });
  }
  assert.throws(
    () => new CpuDecay(groups, { scaling: "corrected" }),
    /for scaling "corrected"/,
  );
  assert.throws(() => new CpuDecay(groups, { scaling: "cosine" as never }), {
    name: "RangeError",
    message:
      'Expected scaling to be one of "lr", "schedule", "independent", "corrected" but found "cosine"',
  });
  assert.throws(() => new CpuDecay(groups, 0.1 as never), {
    name: "TypeError",
    message: "Expected CpuDecay options to be an object but found 0.1",
  });
  new CpuDecay(groups, { scaling: "lr", maxLr: -1 }); // maxLr is ignored where unused
});

Deno.test("CpuDecay rejects malformed groups", () => {
  const p = new Parameter([1]);
  assert.throws(() => new CpuDecay({} as never), {
    name: "TypeError",
    message:
      "Expected groups to be an array of { weightDecay, params } but found an object",
  });
  assert.throws(() => new CpuDecay([group(-1e-4, p)]), {
    name: "RangeError",
    message:
      "Expected group 0 weightDecay to be a finite number >= 0 but found -0.0001",
  });
  assert.throws(
    () => new CpuDecay([{ weightDecay: 0.1, params: p } as never]),
    {
      name: "TypeError",
      message: "Expected group 0 params to be an array but found a Parameter",
    },
  );
  assert.throws(() => new CpuDecay([group(0.1, { data: [1, 2] } as never)]), {
    name: "TypeError",
    message:
      'Expected group 0 parameter "p0" to hold its values in a Float32Array but found [1, 2]',
  });
  assert.throws(
    () =>
      new CpuDecay([
        group(0.1, { data: new Float32Array(3), shape: [2, 2] } as never),
      ]),
    {
      name: "RangeError",
      message:
        'Expected group 0 parameter "p0" shape [2, 2] to hold its 3 values',
    },
  );
});

Deno.test("CpuDecay rejects a parameter that would be decayed twice", () => {
  const p = new Parameter([1]);
  assert.throws(
    () => new CpuDecay([group(0.1, p), group(0.2, new Parameter([1]), p)]),
    {
      name: "TypeError",
      message:
        'Expected each parameter in one place but group 1 parameter "p1" is also group 0 parameter "p0"; it would be decayed twice',
    },
  );
  const memory = new Float32Array(8);
  const a = new Parameter(memory.subarray(0, 5));
  const b = new Parameter(memory.subarray(4, 8));
  assert.throws(() => new CpuDecay([group(0.1, a), group(0.1, b)]), {
    name: "TypeError",
    message:
      'Expected parameters to hold separate memory but group 0 parameter "p0" and group 1 parameter "p0" overlap in one ArrayBuffer; each would be decayed twice',
  });
  const c = new Parameter(memory.subarray(5, 8));
  new CpuDecay([group(0.1, a, c)]); // adjacent views of one buffer are fine
});

Deno.test("CpuDecay reads the groups once; later edits change nothing", () => {
  const p = new Parameter([1]);
  const other = new Parameter([1]);
  const groups = [group(0.5, p)];
  const decay = new CpuDecay(groups);
  groups[0]!.params.push(other);
  groups[0]!.weightDecay = 0;
  decay.step(1);
  assert.equal(p.data[0], 0.5);
  assert.equal(other.data[0], 1);
});
