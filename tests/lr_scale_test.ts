// Copyright 2026 the weight-decay authors. MIT license.
// Every engine steps group g with lr * lrScale_g: replays with lrScale 0, 0.1 and 1.
import assert from "node:assert/strict";
import {
  CpuAdamW,
  CpuDecay,
  type DecayScaling,
  GpuAdamW,
  GpuDecay,
  Parameter,
  type ParamGroup,
} from "../mod.ts";
import { outwardGradients, random, randomData, twin } from "./_models.ts";
import { bits, gpuTest } from "./_gpu.ts";
import { maxUlpDistance } from "./_ulp.ts";

const SCALES = [0, 0.1, 1];

function groups(seed: number): ParamGroup[] {
  const next = random(seed);
  return SCALES.map((lrScale, g) => ({
    weightDecay: 0.2,
    lrScale,
    params: [new Parameter(randomData(1000 + g, next))],
    names: [`g${g}`],
  }));
}

const f = Math.fround;

Deno.test("CpuDecay decays group g by fround(1 - s(lr * lrScale_g) * weightDecay), in every scaling", () => {
  const lr = 0.5;
  const cases: [DecayScaling, (lrG: number) => number][] = [
    ["lr", (lrG) => lrG],
    ["schedule", (lrG) => lrG / 2],
    ["independent", () => 1],
    ["corrected", (lrG) => lrG * lrG / 2],
  ];
  for (const [scaling, s] of cases) {
    const gs = groups(1);
    const before = gs.map((g) => g.params[0]!.data.slice());
    new CpuDecay(gs, { scaling, maxLr: 2 }).step(lr);
    gs.forEach((g, i) => {
      const factor = f(1 - s(lr * SCALES[i]!) * 0.2);
      const expected = before[i]!.map((v) => f(v * factor));
      assert.deepEqual(
        g.params[0]!.data,
        expected,
        `${scaling}, lrScale ${SCALES[i]}`,
      );
    });
    if (scaling !== "independent") {
      assert.deepEqual(
        gs[0]!.params[0]!.data,
        before[0],
        `${scaling}: lrScale 0 freezes`,
      );
    }
  }
});

gpuTest(
  "GpuDecay equals CpuDecay bit for bit with lrScale 0, 0.1 and 1",
  async (device) => {
    for (const scaling of ["lr", "independent"] as const) {
      const gpuGroups = groups(2);
      const cpuGroups = twin(gpuGroups);
      using gpu = GpuDecay.create(device, gpuGroups, { scaling });
      const cpu = new CpuDecay(cpuGroups, { scaling });
      for (const lr of [0.1, 0.7, 0.3]) {
        gpu.step(lr);
        cpu.step(lr);
      }
      await gpu.syncToHost();
      gpuGroups.forEach((g, i) =>
        assert.deepEqual(
          bits(g.params[0]!.data),
          bits(cpuGroups[i]!.params[0]!.data),
          `${scaling} lrScale ${SCALES[i]}`,
        )
      );
    }
  },
);

gpuTest(
  "GpuAdamW and CpuAdamW agree with lrScale 0, 0.1 and 1; lrScale 0 moves nothing but the moments",
  async (device) => {
    const gpuGroups = groups(3);
    const cpuGroups = twin(gpuGroups);
    const initial = gpuGroups.map((g) => g.params[0]!.data.slice());
    using gpu = GpuAdamW.create(device, gpuGroups);
    const cpu = new CpuAdamW(cpuGroups);
    const params = gpuGroups.flatMap((g) => g.params);
    for (let step = 0; step < 5; step++) {
      const grads = outwardGradients(
        cpuGroups.flatMap((g) => g.params),
        10 + step,
      );
      params.forEach((p, i) => gpu.writeGrad(p, grads[i]!));
      cpuGroups.forEach((g, i) => g.params[0]!.grad = grads[i]!);
      gpu.step(1e-2);
      cpu.step(1e-2);
    }
    await gpu.syncToHost();
    const state = await gpu.state();
    gpuGroups.forEach((g, i) => {
      assert.ok(
        maxUlpDistance(g.params[0]!.data, cpuGroups[i]!.params[0]!.data) <= 20,
        `lrScale ${SCALES[i]}`,
      );
    });
    assert.deepEqual(
      gpuGroups[0]!.params[0]!.data,
      initial[0],
      "frozen on the GPU",
    );
    assert.deepEqual(
      cpuGroups[0]!.params[0]!.data,
      initial[0],
      "frozen on the CPU",
    );
    assert.ok(
      state.params[0]!.m.some((m) => m !== 0),
      "its moments still advance",
    );
    assert.notDeepEqual(gpuGroups[1]!.params[0]!.data, initial[1]);
  },
);
