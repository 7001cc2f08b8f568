// Copyright 2026 the weight-decay authors. MIT license.
// GpuAdamW for real runs: the step count on the GPU, steps that never ran, encoders
// interleaved or past the ring, gradient clipping and non-finite skipping in the step's
// own submission, and state round trips that carry the GPU's count.
import assert from "node:assert/strict";
import {
  type AdamWOptions,
  CpuAdamW,
  GpuAdamW,
  Parameter,
  type ParamGroup,
} from "../mod.ts";
import { outwardGradients, random, randomData, twin } from "./_models.ts";
import { gpuTest } from "./_gpu.ts";
import { maxUlpDistance } from "./_ulp.ts";

/** WGSL's sqrt and / need not be correctly rounded, nor fma fused: a few ULP per step. */
const ULP_PER_STEP = 4;

/** Two groups of a few odd-sized tensors, with lrScale 1 and 0.5. */
function model(seed: number): ParamGroup[] {
  const next = random(seed);
  return [0.1, 0].map((weightDecay, g) => ({
    weightDecay,
    lrScale: g === 0 ? 1 : 0.5,
    params: [1025, 7, 300].map((n) => new Parameter(randomData(n, next))),
    names: ["a", "b", "c"].map((n) => `g${g}.${n}`),
  }));
}

/**
 * Gradients for every parameter of the groups, scaled by `scale`, that push each value
 * away from zero: nothing cancels, where a distance in ULP would stop meaning anything.
 */
function gradients(groups: ParamGroup[], seed: number, scale = 1) {
  return outwardGradients(groups.flatMap((g) => g.params), seed).map((grad) => {
    for (let i = 0; i < grad.length; i++) grad[i] = grad[i]! * scale;
    return grad;
  });
}

/** A GPU engine and its CPU reference over twin groups. */
function pair(device: GPUDevice, seed: number, options?: AdamWOptions) {
  const groups = model(seed);
  const cpuGroups = twin(groups);
  return {
    gpu: GpuAdamW.create(device, groups, options),
    cpu: new CpuAdamW(cpuGroups, options),
    gpuParams: groups.flatMap((g) => g.params),
    cpuParams: cpuGroups.flatMap((g) => g.params),
  };
}

type Pair = ReturnType<typeof pair>;

function writeGrads(
  { gpu, gpuParams, cpuParams }: Pair,
  grads: Float32Array[],
) {
  gpuParams.forEach((p, i) => gpu.writeGrad(p, grads[i]!));
  cpuParams.forEach((p, i) => p.grad = grads[i]!);
}

/** Asserts both engines hold the same step count and values within the tolerance. */
async function assertAgree(engines: Pair, steps: number, what: string) {
  const { gpu, cpu, gpuParams, cpuParams } = engines;
  await gpu.syncToHost();
  const gpuState = await gpu.state();
  const cpuState = cpu.state();
  assert.equal(gpuState.step, cpuState.step, `${what}: step count`);
  const tolerance = ULP_PER_STEP * Math.max(1, steps);
  gpuParams.forEach((p, i) => {
    const distances = [
      maxUlpDistance(p.data, cpuParams[i]!.data),
      maxUlpDistance(gpuState.params[i]!.m, cpuState.params[i]!.m),
      maxUlpDistance(gpuState.params[i]!.v, cpuState.params[i]!.v),
    ];
    assert.ok(
      distances.every((d) => d <= tolerance),
      `${what}: ${gpuState.params[i]!.name} differs by ${distances} ULP`,
    );
  });
}

/** Runs `fn` inside a validation scope of its own and returns the error it caused. */
async function expectValidationError(
  device: GPUDevice,
  fn: () => void,
): Promise<GPUError | null> {
  device.pushErrorScope("validation");
  fn();
  return await device.popErrorScope();
}

gpuTest(
  "GpuAdamW counts only steps that ran: never-submitted, dropped and finished encoders do not count",
  async (device) => {
    const engines = pair(device, 1);
    const { gpu, cpu } = engines;
    writeGrads(engines, gradients(model(1), 2));
    gpu.step(1e-2);
    cpu.step(1e-2);

    // Recorded but never submitted: the encoder is dropped.
    gpu.encode(device.createCommandEncoder(), 1e-2);
    // An exception in the caller's code between encode and submit.
    try {
      const encoder = device.createCommandEncoder();
      gpu.encode(encoder, 1e-2);
      throw new Error("the caller's loss was NaN");
    } catch (error) {
      assert.equal((error as Error).message, "the caller's loss was NaN");
    }
    assert.equal((await gpu.state()).step, 1, "only the step that ran counts");
    // The next step is step 2, with step 2's bias corrections.
    const encoder = device.createCommandEncoder();
    gpu.encode(encoder, 5e-3);
    device.queue.submit([encoder.finish()]);
    cpu.step(5e-3);
    await assertAgree(engines, 2, "after dropped encoders");
    gpu.destroy();
  },
);

gpuTest(
  "GpuAdamW.encode() into a finished encoder never counts, and the next call names encode and the cause",
  async (device) => {
    const engines = pair(device, 2);
    const { gpu } = engines;
    writeGrads(engines, gradients(model(2), 3));
    gpu.step(1e-2);
    const finished = device.createCommandEncoder();
    finished.finish();
    // The engine's own error scope catches the error, so the caller's scope sees none.
    const outer = await expectValidationError(
      device,
      () => gpu.encode(finished, 1e-2),
    );
    assert.equal(outer, null);
    const failed =
      /GpuAdamW\.encode failed on the GPU, so the engine can no longer be trusted and refuses every call: .*ended/;
    await assert.rejects(gpu.state(), failed);
    assert.throws(() => gpu.step(1e-2), failed);
    gpu.destroy();
  },
);

gpuTest(
  "GpuAdamW runs interleaved encoders in submission order, each with its own lr and step count",
  async (device) => {
    const engines = pair(device, 3);
    const { gpu, cpu } = engines;
    writeGrads(engines, gradients(model(3), 4));
    const a = device.createCommandEncoder();
    const b = device.createCommandEncoder();
    const lrs = { a: [] as number[], b: [] as number[] };
    for (let i = 0; i < 30; i++) {
      const lr = 1e-3 * (1 + i);
      if (i % 2 === 0) {
        gpu.encode(a, lr);
        lrs.a.push(lr);
      } else {
        gpu.encode(b, lr);
        lrs.b.push(lr);
      }
    }
    // b first: its steps are steps 1-15 on the GPU, a's are 16-30.
    device.queue.submit([b.finish()]);
    device.queue.submit([a.finish()]);
    for (const lr of [...lrs.b, ...lrs.a]) cpu.step(lr);
    await assertAgree(engines, 30, "interleaved encoders");
    gpu.destroy();
  },
);

gpuTest(
  "GpuAdamW refuses a step whose ring slot was rewritten, and every later one, and the next read throws",
  async (device) => {
    const engines = pair(device, 5);
    const { gpu, gpuParams } = engines;
    writeGrads(engines, gradients(model(5), 6));
    gpu.step(1e-2);
    await gpu.syncToHost();
    const before = gpuParams.map((p) => p.data.slice());
    const a = device.createCommandEncoder();
    const b = device.createCommandEncoder();
    // 80 steps alternate between two encoders: more than the ring holds before a submit.
    for (let i = 0; i < 80; i++) gpu.encode(i % 2 === 0 ? a : b, 1e-2);
    device.queue.submit([a.finish(), b.finish()]);
    const refused =
      /GpuAdamW\.syncToHost failed on the GPU, so the engine can no longer be trusted and refuses every call: a step's ring slot was rewritten before the step ran \(more than 64 steps were recorded while its command encoder waited for its submit\), so the GPU refused it and every later step$/;
    await assert.rejects(gpu.syncToHost(), refused);
    gpuParams.forEach((p, i) =>
      assert.deepEqual(p.data, before[i], "nothing is written to the host")
    );
    assert.throws(
      () => gpu.step(1e-2),
      /GpuAdamW\.syncToHost failed on the GPU/,
    );
    await assert.rejects(gpu.state(), /GpuAdamW\.syncToHost failed on the GPU/);
    gpu.destroy();
  },
);

gpuTest(
  "GpuAdamW clips by the global gradient norm on the GPU, as CpuAdamW and torch's clip_grad_norm_",
  async (device) => {
    for (const maxGradNorm of [1, 1e3, Infinity]) {
      const engines = pair(device, 7, { maxGradNorm });
      const { gpu, cpu } = engines;
      for (let step = 1; step <= 4; step++) {
        writeGrads(engines, gradients(model(7), 10 + step, step));
        gpu.step(1e-2);
        cpu.step(1e-2);
        const norm = await gpu.gradNorm();
        assert.ok(
          maxUlpDistance(
            new Float32Array([norm]),
            new Float32Array([cpu.gradNorm()]),
          ) <= 8,
          `maxGradNorm ${maxGradNorm}: norm ${norm} vs ${cpu.gradNorm()}`,
        );
      }
      await assertAgree(engines, 4, `maxGradNorm ${maxGradNorm}`);
      gpu.destroy();
    }
  },
);

gpuTest(
  "GpuAdamW clips a hand-computed case: gradient (3, 4) at max norm 1 moves like (0.6, 0.8)",
  async (device) => {
    const clipped = new Parameter([1, 1]);
    const reference = new Parameter([1, 1]);
    const groups = (
      p: Parameter,
    ) => [{ weightDecay: 0, params: [p], names: ["w"] }];
    using gpu = GpuAdamW.create(device, groups(clipped), { maxGradNorm: 1 });
    const cpu = new CpuAdamW(groups(reference));
    gpu.writeGrad(clipped, new Float32Array([3, 4]));
    const f = Math.fround;
    const coefficient = f(1 / f(5 + f(1e-6)));
    reference.grad = new Float32Array([f(3 * coefficient), f(4 * coefficient)]);
    gpu.step(0.1);
    cpu.step(0.1);
    assert.equal(await gpu.gradNorm(), 5);
    assert.ok(
      maxUlpDistance(await gpu.read(clipped), reference.data) <= ULP_PER_STEP,
    );
  },
);

gpuTest(
  "GpuAdamW with skipNonFinite skips the whole step for one NaN in one tensor: nothing changes, not the step count",
  async (device) => {
    const engines = pair(device, 11, { skipNonFinite: true, maxGradNorm: 5 });
    const { gpu, cpu } = engines;
    const grads = gradients(model(11), 12);
    writeGrads(engines, grads);
    gpu.step(1e-2);
    cpu.step(1e-2);
    await gpu.syncToHost();
    const before = await gpu.state();
    const beforeParams = engines.gpuParams.map((p) => p.data.slice());
    for (const bad of [NaN, Infinity, -Infinity]) {
      const poisoned = grads.map((g) => g.slice());
      poisoned[4]![2] = bad;
      writeGrads(engines, poisoned);
      gpu.step(1e-2);
      cpu.step(1e-2);
      const norm = await gpu.gradNorm();
      assert.ok(
        Number.isNaN(bad) ? Number.isNaN(norm) : norm === Infinity,
        `gradNorm ${norm} for ${bad}`,
      );
      assert.ok(Object.is(cpu.gradNorm(), norm));
      await gpu.syncToHost();
      const after = await gpu.state();
      assert.equal(after.step, 1, "a skipped step does not count");
      assert.deepEqual(after.params, before.params, "moments unchanged");
      engines.gpuParams.forEach((p, i) =>
        assert.deepEqual(p.data, beforeParams[i], "parameters unchanged")
      );
    }
    // A finite step afterwards is step 2.
    writeGrads(engines, grads);
    gpu.step(1e-2);
    cpu.step(1e-2);
    await assertAgree(engines, 2, "after skipped steps");
    gpu.destroy();
  },
);

gpuTest(
  "GpuAdamW counts sums of squares from 2 ** 127 as overflowing, as CpuAdamW does",
  async (device) => {
    const engines = pair(device, 13, { skipNonFinite: true });
    const { gpu, cpu } = engines;
    const grads = gradients(model(13), 14).map((g) => g.fill(2 ** 62));
    writeGrads(engines, grads);
    gpu.step(1e-2);
    cpu.step(1e-2);
    assert.equal(await gpu.gradNorm(), Infinity);
    assert.equal(cpu.gradNorm(), Infinity);
    assert.equal((await gpu.state()).step, 0);
    gpu.destroy();
  },
);

gpuTest(
  "GpuAdamW state round trips mid-run, through JSON, carrying the GPU's step count",
  async (device) => {
    const options = { skipNonFinite: true, maxGradNorm: 2 };
    const steps = (seed: number) =>
      Array.from({ length: 6 }, (_, i) => {
        const grads = gradients(model(17), seed + i);
        if (i === 2) grads[0]![0] = NaN; // skipped: the GPU's count lags the host's
        return grads;
      });
    const run = steps(100);
    const uninterrupted = pair(device, 17, options);
    for (const grads of run) {
      writeGrads(uninterrupted, grads);
      uninterrupted.gpu.step(1e-2);
    }
    await uninterrupted.gpu.syncToHost();

    const first = pair(device, 17, options);
    for (const grads of run.slice(0, 4)) {
      writeGrads(first, grads);
      first.gpu.step(1e-2);
    }
    await first.gpu.syncToHost();
    const saved = JSON.stringify(await first.gpu.state());
    assert.equal(JSON.parse(saved).step, 3, "4 steps, one skipped");

    const groups = twin(model(17));
    groups.forEach((g, i) =>
      g.params.forEach((p, j) => p.data.set(first.gpuParams[i * 3 + j]!.data))
    );
    using resumed = GpuAdamW.create(device, groups, options);
    resumed.loadState(JSON.parse(saved));
    assert.equal((await resumed.state()).step, 3);
    const resumedParams = groups.flatMap((g) => g.params);
    for (const grads of run.slice(4)) {
      resumedParams.forEach((p, i) => resumed.writeGrad(p, grads[i]!));
      resumed.step(1e-2);
    }
    await resumed.syncToHost();
    assert.deepEqual(
      JSON.parse(JSON.stringify(await resumed.state())),
      JSON.parse(JSON.stringify(await uninterrupted.gpu.state())),
    );
    resumedParams.forEach((p, i) =>
      assert.deepEqual(
        p.data,
        uninterrupted.gpuParams[i]!.data,
        `parameter ${i}`,
      )
    );
    first.gpu.destroy();
    uninterrupted.gpu.destroy();
  },
);

gpuTest(
  "GpuAdamW.gradNorm() is refused without maxGradNorm or skipNonFinite, and before any step",
  async (device) => {
    const groups = model(19);
    using plain = GpuAdamW.create(device, groups);
    await assert.rejects(plain.gradNorm(), {
      name: "TypeError",
      message:
        "gradNorm() needs maxGradNorm or skipNonFinite, which compute the norm; set maxGradNorm: Infinity to compute it without clipping",
    });
    using norms = GpuAdamW.create(device, twin(groups), {
      maxGradNorm: Infinity,
    });
    await assert.rejects(norms.gradNorm(), {
      name: "Error",
      message: "GpuAdamW.gradNorm(): no step has run yet",
    });
  },
);

gpuTest(
  "GpuAdamW rejects an lr whose f32 step size overflows, and any NaN factor, before anything changes",
  async (device) => {
    const weight = new Parameter([1, 2]);
    using gpu = GpuAdamW.create(device, [{
      weightDecay: 0,
      params: [weight],
      names: ["w"],
    }]);
    gpu.writeGrad(weight, new Float32Array([1, 1]));
    assert.throws(() => gpu.step(1e39), {
      name: "RangeError",
      message:
        "Expected every group's step size lr / (1 - beta1 ** t) to be finite in f32 (at most about 3.4e38) but group 0 has lr 1e+39, a step size of 1.0000000000000002e+40 at step 1",
    });
    assert.throws(() => gpu.step(4e37), /group 0 has lr 4e\+37/);
    using scheduled = GpuAdamW.create(device, [{
      weightDecay: 0,
      params: [new Parameter([1])],
      names: ["w"],
    }], { scaling: "schedule", maxLr: 1e-320 });
    assert.throws(() => scheduled.step(1), {
      name: "RangeError",
      message:
        'Expected every group\'s learning rate and decay scale to be finite but group 0 has scaling "schedule" with maxLr 1e-320 gives s(lr) = Infinity',
    });
    assert.equal((await gpu.state()).step, 0);
    assert.deepEqual([...await gpu.read(weight)], [1, 2]);
  },
);
