// Copyright 2026 the weight-decay authors. MIT license.
import assert from "node:assert/strict";
import {
  type AdamWState,
  CpuAdamW,
  getParamGroups,
  GpuAdamW,
  type GpuAdamWOptions,
  namedParameters,
  NORM_TYPES,
  Parameter,
  type ParamGroup,
} from "../mod.ts";
import {
  outwardGradients,
  random,
  randomData,
  randomGroups,
  ResNet50,
  twin,
} from "./_models.ts";
import {
  assertStepCosts,
  bits,
  gpuTest,
  ignoreGpu,
  instrument,
  testAdapter,
} from "./_gpu.ts";
import { maxUlpDistance } from "./_ulp.ts";

const POLICY = [[1e-2, "bias"], [0, NORM_TYPES], 0.1] as const;

/**
 * The tolerance: WGSL's `sqrt` and `/` need not be correctly rounded (and a compiler may
 * fuse a multiply and an add), so each step may add a few ULP to each value. Tests use
 * gradients that push every parameter away from zero: nothing then cancels, where the
 * distance in ULP of a result near zero would stop meaning anything.
 */
const ULP_PER_STEP = 4;

const f32s = (...values: number[]) => new Float32Array(values);

/** A GpuAdamW and a CpuAdamW over twin copies of the same groups. */
function pair(
  device: GPUDevice,
  groups: ParamGroup[],
  options?: GpuAdamWOptions,
) {
  const cpuGroups = twin(groups);
  const { maxShardBytes: _, ...cpuOptions } = options ?? {};
  return {
    gpu: GpuAdamW.create(device, groups, options),
    cpu: new CpuAdamW(cpuGroups, cpuOptions),
    gpuParams: groups.flatMap((g) => g.params),
    cpuParams: cpuGroups.flatMap((g) => g.params),
  };
}

/** Gives both engines the same gradients and steps both. */
function stepBoth(
  { gpu, cpu, gpuParams, cpuParams }: ReturnType<typeof pair>,
  grads: readonly Float32Array[],
  lr: number,
): void {
  gpuParams.forEach((param, i) => {
    gpu.writeGrad(param, grads[i]!);
    cpuParams[i]!.grad = grads[i]!;
  });
  gpu.step(lr);
  cpu.step(lr);
}

/** The largest distance in ULP between the engines' parameters, m and v. */
async function distances(
  { gpu, cpu, gpuParams, cpuParams }: ReturnType<typeof pair>,
): Promise<{ p: number; m: number; v: number }> {
  await gpu.syncToHost();
  const gpuState = await gpu.state();
  const cpuState = cpu.state();
  assert.equal(gpuState.step, cpuState.step);
  const max = { p: 0, m: 0, v: 0 };
  gpuParams.forEach((param, i) => {
    const g = gpuState.params[i]!;
    const c = cpuState.params[i]!;
    max.p = Math.max(max.p, maxUlpDistance(param.data, cpuParams[i]!.data));
    max.m = Math.max(max.m, maxUlpDistance(g.m, c.m));
    max.v = Math.max(max.v, maxUlpDistance(g.v, c.v));
  });
  return max;
}

function assertWithin(
  max: { p: number; m: number; v: number },
  steps: number,
  what: string,
): void {
  const tolerance = ULP_PER_STEP * steps;
  for (const [name, ulps] of Object.entries(max)) {
    assert.ok(
      ulps <= tolerance,
      `${what}: ${name} differs by ${ulps} ULP after ${steps} steps, more than ${tolerance}`,
    );
  }
}

gpuTest(
  "GpuAdamW agrees with CpuAdamW within 4 ULP per step over 20 steps on ResNet-50",
  async (device) => {
    const groups = getParamGroups(
      namedParameters(new ResNet50("random", 7)),
      POLICY,
    );
    const engines = pair(device, groups);
    using _ = engines.gpu;
    const gradients = [1, 2].map((seed) =>
      outwardGradients(engines.gpuParams, seed)
    );
    for (let t = 1; t <= 20; t++) {
      stepBoth(engines, gradients[t % 2]!, 1e-3 * (1 + t % 5));
    }
    const max = await distances(engines);
    // deno-lint-ignore no-console -- the measured distance is worth seeing in the test log
    console.log(`ResNet-50, 20 steps: max ULP ${JSON.stringify(max)}`);
    assertWithin(max, 20, "ResNet-50");
  },
);

gpuTest(
  "GpuAdamW agrees with CpuAdamW within 4 ULP per step after each of 20 steps on 2,000 small tensors",
  async (device) => {
    const engines = pair(device, randomGroups(2000, 1000, 11));
    using _ = engines.gpu;
    const gradients = [3, 4, 5].map((seed) =>
      outwardGradients(engines.gpuParams, seed)
    );
    const worst = { p: 0, m: 0, v: 0 };
    for (let t = 1; t <= 20; t++) {
      stepBoth(engines, gradients[t % 3]!, 5e-3 * (1 + t % 3));
      const max = await distances(engines);
      assertWithin(max, t, `step ${t}`);
      worst.p = Math.max(worst.p, max.p);
      worst.m = Math.max(worst.m, max.m);
      worst.v = Math.max(worst.v, max.v);
    }
    // deno-lint-ignore no-console -- the measured distance is worth seeing in the test log
    console.log(`2,000 tensors, 20 steps: max ULP ${JSON.stringify(worst)}`);
  },
);

gpuTest(
  "GpuAdamW takes CpuAdamW's hand-checked steps, also with lr 0 and with zero gradients",
  async (device) => {
    const weight = new Parameter([1, -2, 0.5]);
    const bias = new Parameter([0.25]);
    const engines = pair(device, [
      { weightDecay: 0.1, params: [weight], names: ["weight"] },
      { weightDecay: 0, params: [bias], names: ["bias"] },
    ]);
    using gpu = engines.gpu;
    stepBoth(engines, [f32s(0.1, -0.5, 2), f32s(-1)], 0.01);
    // Adam's first step is sign descent: p * (1 - lr * weightDecay) - lr * sign(g).
    const first = await gpu.read(weight);
    assert.ok(maxUlpDistance(first, f32s(0.989, -1.988, 0.4895)) <= 1);
    assert.ok(maxUlpDistance(await gpu.read(bias), f32s(0.26)) <= 1);
    stepBoth(engines, [f32s(0.2, 0.5, -1), f32s(0.5)], 0.01);
    assertWithin(await distances(engines), 2, "two steps");

    const before = bits(await gpu.read(weight)).slice();
    stepBoth(engines, [f32s(3, 3, 3), f32s(3)], 0);
    assert.deepEqual(
      bits(await gpu.read(weight)),
      before,
      "lr 0 moves nothing",
    );
    assert.equal((await gpu.state()).step, 3, "but counts the step");

    const zeros = [new Float32Array(3), new Float32Array(1)];
    stepBoth(engines, zeros, 0.01);
    stepBoth(engines, zeros, 0.01);
    assertWithin(await distances(engines), 5, "zero gradients");
  },
);

gpuTest(
  "GpuAdamW.state() and loadState() continue training bit for bit in a new engine",
  async (device) => {
    const options = { betas: [0.8, 0.99], eps: 1e-6 } as const;
    const groups = randomGroups(60, 700, 4);
    const params = groups.flatMap((g) => g.params);
    const gradients = [1, 2, 3, 4, 5, 6].map((seed) => {
      const next = random(seed);
      return params.map((p) => randomData(p.size, next));
    });
    const run = (engine: GpuAdamW, own: Parameter[], seeds: number[]) => {
      for (const seed of seeds) {
        own.forEach((p, i) => engine.writeGrad(p, gradients[seed]![i]!));
        engine.step(0.01 * (seed + 1));
      }
    };
    using first = GpuAdamW.create(device, groups, options);
    run(first, params, [0, 1, 2]);
    await first.syncToHost();
    const saved = await first.state();
    assert.equal(saved.step, 3);

    const copies = twin(groups);
    const copyParams = copies.flatMap((g) => g.params);
    using second = GpuAdamW.create(device, copies, options);
    second.loadState(saved);
    run(first, params, [3, 4, 5]);
    run(second, copyParams, [3, 4, 5]);
    await first.syncToHost();
    await second.syncToHost();
    params.forEach((p, i) =>
      assert.deepEqual(bits(copyParams[i]!.data), bits(p.data))
    );
    assert.deepEqual(await second.state(), await first.state());
  },
);

gpuTest(
  "GpuAdamW.state() holds the moment of the call, not steps submitted while it waits",
  async (device) => {
    const weight = new Parameter([1, 2]);
    const engines = pair(device, [{
      weightDecay: 0,
      params: [weight],
      names: ["w"],
    }]);
    using gpu = engines.gpu;
    stepBoth(engines, [f32s(1, -1)], 0.1);
    const pending = gpu.state();
    gpu.writeGrad(weight, f32s(5, 5));
    gpu.step(0.1);
    const state = await pending;
    const expected = engines.cpu.state();
    assert.equal(state.step, 1);
    assert.ok(maxUlpDistance(state.params[0]!.m, expected.params[0]!.m) <= 4);
    assert.equal((await gpu.state()).step, 2);
  },
);

gpuTest(
  "GpuAdamW.loadState() rejects a state of other parameters and changes nothing",
  async (device) => {
    const weight = new Parameter([1, 2]);
    const bias = new Parameter([3]);
    using gpu = GpuAdamW.create(device, [
      { weightDecay: 0.1, params: [weight], names: ["fc.weight"] },
      { weightDecay: 0, params: [bias], names: ["fc.bias"] },
    ]);
    gpu.writeGrad(weight, f32s(1, 1));
    gpu.step(0.1);
    const good = await gpu.state();
    const other: AdamWState = {
      step: 9,
      params: good.params.map(({ name, m }) => ({
        name,
        m: new Float32Array(m.length).fill(9),
        v: new Float32Array(m.length).fill(9),
      })),
    };
    assert.throws(
      () =>
        gpu.loadState({
          ...other,
          params: [other.params[0]!, { ...other.params[1]!, name: "fc.w" }],
        }),
      {
        name: "TypeError",
        message:
          'Expected state.params[1] to be parameter "fc.bias" but found "fc.w"',
      },
    );
    assert.throws(
      () =>
        gpu.loadState({
          ...other,
          params: [other.params[0]!, { ...other.params[1]!, v: f32s(1, 2) }],
        }),
      {
        name: "RangeError",
        message:
          'Expected state.params[1].v of parameter "fc.bias" to hold 1 values but found 2',
      },
    );
    assert.deepEqual(await gpu.state(), good);
    gpu.loadState(other);
    assert.deepEqual(await gpu.state(), other);
  },
);

gpuTest(
  "GpuAdamW.step() writes once, records one pass and one dispatch per shard, allocates nothing",
  (device) =>
    assertStepCosts(
      device,
      (counted) =>
        GpuAdamW.create(counted, randomGroups(300, 2000, 9), {
          maxShardBytes: 1 << 20,
        }),
    ),
);

gpuTest(
  "GpuAdamW.encode() applies each lr and step count when several steps share one submit",
  async (device) => {
    const engines = pair(device, randomGroups(40, 300, 5));
    using gpu = engines.gpu;
    const grads = outwardGradients(engines.gpuParams, 8);
    engines.gpuParams.forEach((p, i) => {
      gpu.writeGrad(p, grads[i]!);
      engines.cpuParams[i]!.grad = grads[i]!;
    });
    const encoder = device.createCommandEncoder({ label: "test four steps" });
    for (const lr of [0.1, 0.02, 0.07, 0.05]) {
      gpu.encode(encoder, lr);
      engines.cpu.step(lr);
    }
    device.queue.submit([encoder.finish()]);
    assertWithin(await distances(engines), 4, "four steps in one submit");
  },
);

gpuTest(
  "GpuAdamW.encode() refuses more steps per encoder than its ring holds",
  async (device) => {
    const weight = new Parameter([1]);
    using gpu = GpuAdamW.create(device, [{
      weightDecay: 0.1,
      params: [weight],
      names: ["w"],
    }]);
    const encoder = device.createCommandEncoder();
    for (let i = 0; i < GpuAdamW.maxEncodesPerSubmit; i++) {
      gpu.encode(encoder, 0.1);
    }
    assert.throws(() => gpu.encode(encoder, 0.1), {
      name: "RangeError",
      message:
        "Expected at most 64 AdamW steps in one command encoder (GpuAdamW.maxEncodesPerSubmit) but this is step 65; submit and start a new encoder",
    });
    assert.throws(() => gpu.encode({} as GPUCommandEncoder, 0.1), {
      name: "TypeError",
      message: "Expected a GPUCommandEncoder but found an object",
    });
    device.queue.submit([encoder.finish()]);
    assert.equal((await gpu.state()).step, 64, "refused steps are not counted");
  },
);

gpuTest(
  "GpuAdamW spreads work over a 2-D grid when one dimension is too small",
  async (device) => {
    // At 7 workgroups a dimension, 100,000-value tensors need grids of 7 x n whose
    // surplus workgroups must return.
    const { device: small } = instrument(device, {
      maxComputeWorkgroupsPerDimension: 7,
    });
    const engines = pair(small, randomGroups(3, 100_000, 2));
    using _ = engines.gpu;
    for (const seed of [1, 2]) {
      stepBoth(engines, outwardGradients(engines.gpuParams, seed), 0.01);
    }
    assertWithin(await distances(engines), 2, "2-D grid");
  },
);

gpuTest(
  "GpuAdamW reads gradients written through gradBinding() at 256-byte aligned ranges",
  async (device) => {
    const weight = new Parameter([1, 2, 3, 4, 5]);
    const bias = new Parameter([6, 7]);
    const engines = pair(device, [{
      weightDecay: 0.5,
      params: [weight, bias],
      names: ["w", "b"],
    }]);
    using gpu = engines.gpu;
    for (const param of [weight, bias]) {
      for (const range of [gpu.binding(param), gpu.gradBinding(param)]) {
        assert.equal(range.offset! % 256, 0);
        assert.equal(range.size, param.size * 4);
      }
      assert.notEqual(gpu.binding(param).buffer, gpu.gradBinding(param).buffer);
    }
    const grads = [f32s(-1, -2, -3, -4, -5), f32s(-0.5, 0.5)];
    engines.gpuParams.forEach((param, i) => {
      const { buffer, offset } = gpu.gradBinding(param);
      device.queue.writeBuffer(buffer, offset!, grads[i]!);
      engines.cpuParams[i]!.grad = grads[i]!;
    });
    gpu.step(0.1);
    engines.cpu.step(0.1);
    assertWithin(await distances(engines), 1, "gradients from gradBinding()");
    assert.throws(() => gpu.gradBinding(new Parameter([1])), {
      name: "TypeError",
      message:
        "Expected a parameter of this GpuAdamW (one of the groups it was made with) but found a Parameter",
    });
  },
);

gpuTest(
  "GpuAdamW splits its arenas into shards and a large tensor across them",
  async (device) => {
    const next = random(3);
    const sizes = [10, 1000, 3000, 7, 0, 1024, 2500, 1];
    const groups: ParamGroup[] = [
      { weightDecay: 0.2, params: [], names: [] },
      { weightDecay: 0, params: [], names: [] },
    ];
    sizes.forEach((size, i) => {
      groups[i % 2]!.params.push(new Parameter(randomData(size, next)));
      groups[i % 2]!.names.push(`t${i}`);
    });
    const engines = pair(device, groups, { maxShardBytes: 4096 });
    using gpu = engines.gpu;
    for (const seed of [1, 2, 3]) {
      stepBoth(engines, outwardGradients(engines.gpuParams, seed), 0.05);
    }
    assertWithin(await distances(engines), 3, "sharded");
    const spanning = groups[0]!.params[1]!; // 3000 floats, 12000 bytes > 4096
    assert.throws(() => gpu.gradBinding(spanning), {
      name: "RangeError",
      message:
        'Parameter "t2" spans 3 arena shards and cannot be bound as one range; raise maxShardBytes, or request a device with a larger maxStorageBufferBindingSize (now 134217728)',
    });
    assert.throws(() => gpu.binding(groups[0]!.params[2]!), {
      name: "RangeError",
      message: 'Parameter "t4" has no values, and a binding cannot be empty',
    });
    const state = await gpu.state();
    assert.equal(state.params[2]!.name, "t4");
    assert.equal(state.params[2]!.m.length, 0);
  },
);

gpuTest(
  "GpuAdamW counts the steps of a model of empty tensors on the GPU, and rejects an empty model",
  async (device) => {
    assert.throws(() => GpuAdamW.create(device, []), {
      name: "TypeError",
      message:
        "Expected groups to hold at least one parameter but found no group: an engine without parameters would silently do nothing",
    });
    const empty = new Parameter([]);
    using gpu = GpuAdamW.create(device, [{
      weightDecay: 0.1,
      params: [empty],
      names: ["empty"],
    }]);
    gpu.step(0.1);
    gpu.step(0.1);
    await gpu.syncToHost();
    const state = await gpu.state();
    assert.equal(state.step, 2);
    assert.deepEqual(state.params.map((p) => [p.name, p.m.length]), [[
      "empty",
      0,
    ]]);
  },
);

gpuTest(
  "GpuAdamW rejects bad lr, options and gradients with clear errors and changes nothing",
  async (device) => {
    const weight = new Parameter([1, 2]);
    const groups = [{ weightDecay: 0.5, params: [weight], names: ["w"] }];
    assert.throws(() => GpuAdamW.create({} as GPUDevice, groups), {
      name: "TypeError",
      message: "Expected a GPUDevice but found an object",
    });
    assert.throws(() => GpuAdamW.create(device, groups, { eps: 0 }), {
      name: "RangeError",
      message: "Expected eps to be a finite number > 0 but found 0",
    });
    assert.throws(
      () => GpuAdamW.create(device, groups, { betas: [0.9, 1] }),
      {
        name: "RangeError",
        message: "Expected betas[1] to be a number in [0, 1) but found 1",
      },
    );
    assert.throws(
      () => GpuAdamW.create(device, groups, { maxShardBytes: 100 }),
      {
        name: "RangeError",
        message:
          "Expected maxShardBytes to be a number from 256 to 134217728 (the device's maxStorageBufferBindingSize and maxBufferSize) but found 100",
      },
    );
    using gpu = GpuAdamW.create(device, groups);
    gpu.writeGrad(weight, f32s(1, -1));
    gpu.step(0.1);
    const values = await gpu.read(weight);
    const state = await gpu.state();

    for (const lr of [NaN, -1, Infinity]) {
      assert.throws(() => gpu.step(lr), {
        name: "RangeError",
        message: `Expected lr to be a finite number >= 0 but found ${lr}`,
      });
    }
    assert.throws(() => gpu.step(3), {
      name: "RangeError",
      message:
        "Expected lr * weightDecay <= 1 so parameters keep their sign, but group 0 has lr * weightDecay = 3 * 0.5 = 1.5, a factor of -0.5",
    });
    const encoder = device.createCommandEncoder();
    assert.throws(() => gpu.encode(encoder, -0.5), RangeError);
    device.queue.submit([encoder.finish()]);
    assert.throws(() => gpu.writeGrad(weight, f32s(1, 2, 3)), {
      name: "RangeError",
      message:
        'Expected the gradient of parameter "w" to hold 2 values but found 3',
    });
    assert.throws(() => gpu.writeGrad(weight, [9, 9] as never), {
      name: "TypeError",
      message:
        'Expected the gradient of parameter "w" to be a Float32Array but found [9, 9]',
    });
    assert.throws(() => gpu.writeGrad(new Parameter([1]), f32s(1)), {
      name: "TypeError",
      message:
        "Expected a parameter of this GpuAdamW (one of the groups it was made with) but found a Parameter",
    });
    assert.deepEqual(bits(await gpu.read(weight)), bits(values));
    assert.deepEqual(await gpu.state(), state);
    // The gradient is still the one written before the refused calls.
    gpu.step(0.1);
    const cpuWeight = new Parameter([1, 2]);
    const cpu = new CpuAdamW([{ ...groups[0]!, params: [cpuWeight] }]);
    cpuWeight.grad = f32s(1, -1);
    cpu.step(0.1);
    cpu.step(0.1);
    assert.ok(maxUlpDistance(await gpu.read(weight), cpuWeight.data) <= 8);
  },
);

gpuTest("GpuAdamW shares one pipeline per device between engines", (device) => {
  const { device: counted, counts } = instrument(device);
  const group =
    () => [{ weightDecay: 0.1, params: [new Parameter([1])], names: ["w"] }];
  using a = GpuAdamW.create(counted, group());
  using b = GpuAdamW.create(counted, group());
  a.step(0.1);
  b.step(0.1);
  // The update kernel and the gate, each made once.
  assert.equal(counts.createComputePipeline, 2);
  assert.equal(counts.createShaderModule, 2);
});

gpuTest(
  "GpuAdamW.destroy() is idempotent, frees its own buffers, and later calls throw",
  async (device) => {
    const weight = new Parameter([1]);
    const gpu = GpuAdamW.create(device, [{
      weightDecay: 0.1,
      params: [weight],
      names: ["w"],
    }]);
    const owned = [gpu.binding(weight).buffer, gpu.gradBinding(weight).buffer];
    gpu.destroy();
    gpu.destroy();
    const destroyed = { name: "Error", message: "GpuAdamW has been destroyed" };
    assert.throws(() => gpu.step(0.1), destroyed);
    assert.throws(
      () => gpu.encode(device.createCommandEncoder(), 0.1),
      destroyed,
    );
    assert.throws(() => gpu.binding(weight), destroyed);
    assert.throws(() => gpu.gradBinding(weight), destroyed);
    assert.throws(() => gpu.writeGrad(weight, f32s(1)), destroyed);
    assert.throws(() => gpu.syncFromHost(), destroyed);
    assert.throws(() => gpu.loadState({ step: 0, params: [] }), destroyed);
    await assert.rejects(gpu.read(weight), destroyed);
    await assert.rejects(gpu.syncToHost(), destroyed);
    await assert.rejects(gpu.state(), destroyed);
    for (const buffer of owned) {
      // A destroyed buffer cannot be used: WebGPU reports a validation error.
      device.pushErrorScope("validation");
      const encoder = device.createCommandEncoder();
      encoder.clearBuffer(buffer);
      device.queue.submit([encoder.finish()]);
      assert.ok(await device.popErrorScope(), `${buffer.label} was destroyed`);
    }
    {
      using scoped = GpuAdamW.create(device, [{
        weightDecay: 0,
        params: [weight],
        names: ["w"],
      }]);
      scoped.step(0.1);
      owned.push(scoped.binding(weight).buffer);
    }
    device.pushErrorScope("validation");
    device.queue.writeBuffer(owned.at(-1)!, 0, f32s(1));
    assert.ok(await device.popErrorScope(), "using destroyed it");
  },
);

gpuTest(
  "GpuAdamW.syncFromHost() uploads values loaded into the parameters",
  async (device) => {
    const weight = new Parameter(new Float32Array(3000).fill(1));
    using gpu = GpuAdamW.create(device, [{
      weightDecay: 0.5,
      params: [weight],
      names: ["w"],
    }], { maxShardBytes: 4096 });
    weight.data.fill(4);
    gpu.syncFromHost();
    gpu.step(1); // zero gradients: decay only
    const values = await gpu.read(weight);
    assert.ok(values.every((v) => v === 2), "every piece was uploaded");
  },
);

Deno.test({
  name: "GpuAdamW turns device loss into errors, never a hang",
  ignore: ignoreGpu,
  async fn() {
    const device = await testAdapter!.requestDevice();
    const weight = new Parameter(new Float32Array(1 << 16));
    const gpu = GpuAdamW.create(device, [{
      weightDecay: 0.1,
      params: [weight],
      names: ["w"],
    }]);
    gpu.step(0.1);
    const inFlight = gpu.state().then(
      () => "resolved",
      (error: Error) => error.message,
    );
    device.destroy();
    await device.lost;
    const lost =
      /GpuAdamW cannot run: its GPU device was lost \(reason: destroyed/;
    assert.throws(() => gpu.step(0.1), lost);
    assert.throws(() => gpu.writeGrad(weight, weight.data), lost);
    await assert.rejects(gpu.read(weight), lost);
    await assert.rejects(gpu.state(), lost);
    const outcome = await inFlight;
    assert.ok(
      outcome === "resolved" || lost.test(outcome),
      `state() in flight: ${outcome}`,
    );
    gpu.destroy();
  },
});
