// Copyright 2026 the weight-decay authors. MIT license.
// A fault never becomes data: destroyed buffers, mapped or foreign caller buffers and
// detached host memory give an error (at the latest on the next call), and nothing is
// written to the host.
import assert from "node:assert/strict";
import {
  CpuAdamW,
  CpuDecay,
  GpuAdamW,
  GpuDecay,
  Parameter,
  type ParamGroup,
} from "../mod.ts";
import { gpuTest, testAdapter } from "./_gpu.ts";

function groups(): ParamGroup[] {
  return [
    {
      weightDecay: 0.1,
      params: [new Parameter([1, 2, 3]), new Parameter([4, 5])],
      names: ["fc.weight", "fc.bias"],
    },
  ];
}

const snapshot = (gs: ParamGroup[]) =>
  gs.flatMap((g) => g.params.map((p) => [...p.data]));

/** Waits until `call` throws an error matching `pattern`: errors of submitted work arrive asynchronously. */
async function nextCallThrows(call: () => unknown, pattern: RegExp) {
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      await call();
    } catch (error) {
      assert.match(String((error as Error).message), pattern);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail(`no call threw ${pattern}`);
}

/** Makes `buffer.buffer` detached by transferring it away. */
function detach(data: Float32Array): void {
  structuredClone(data.buffer, { transfer: [data.buffer as ArrayBuffer] });
}

gpuTest(
  "GpuDecay.syncToHost() with a destroyed arena rejects and writes nothing; every later call throws",
  async (device) => {
    const gs = groups();
    const decay = GpuDecay.create(device, gs);
    decay.step(0.5);
    const before = snapshot(gs);
    decay.buffers[0]!.destroy();
    const failed =
      /GpuDecay\.syncToHost failed on the GPU, so the engine can no longer be trusted and refuses every call: /;
    await assert.rejects(decay.syncToHost(), failed);
    assert.deepEqual(snapshot(gs), before, "no zeros written to the host");
    assert.throws(() => decay.step(0.5), failed);
    await assert.rejects(decay.read(gs[0]!.params[0]!), failed);
    decay.destroy();
  },
);

gpuTest(
  "GpuDecay.read() of a destroyed arena rejects instead of returning zeros",
  async (device) => {
    const gs = groups();
    const decay = GpuDecay.create(device, gs);
    decay.buffers[0]!.destroy();
    await assert.rejects(
      decay.read(gs[0]!.params[0]!),
      /GpuDecay\.read failed on the GPU/,
    );
    decay.destroy();
  },
);

gpuTest(
  "GpuAdamW.state() and read() with a destroyed arena reject; a step on it fails the engine",
  async (device) => {
    const gs = groups();
    const adamw = GpuAdamW.create(device, gs);
    adamw.buffers[0]!.destroy();
    adamw.step(0.1);
    await nextCallThrows(
      () => adamw.step(0.1),
      /GpuAdamW\.step failed on the GPU, so the engine can no longer be trusted/,
    );
    await assert.rejects(adamw.state(), /GpuAdamW\.step failed on the GPU/);
    await assert.rejects(
      adamw.read(gs[0]!.params[0]!),
      /GpuAdamW\.step failed on the GPU/,
    );
    assert.throws(
      () => adamw.writeGrad(gs[0]!.params[0]!, new Float32Array(3)),
      /GpuAdamW\.step failed/,
    );
    adamw.destroy();
  },
);

gpuTest(
  "GpuDecay.fromBuffers() with a destroyed caller buffer: the step's rejected submission fails the engine",
  async (device) => {
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC |
      GPUBufferUsage.COPY_DST;
    const kept = device.createBuffer({ size: 16, usage });
    const lost = device.createBuffer({ size: 16, usage });
    const decay = GpuDecay.fromBuffers(device, [{
      weightDecay: 0.1,
      params: [kept, lost],
      names: ["kept", "lost"],
    }]);
    lost.destroy();
    decay.step(0.5);
    await nextCallThrows(
      () => decay.step(0.5),
      /^GpuDecay\.step failed on the GPU, so the engine can no longer be trusted and refuses every call: .+/,
    );
    await assert.rejects(decay.read(kept), /GpuDecay\.step failed/);
    decay.destroy();
    kept.destroy();
  },
);

gpuTest(
  "GpuDecay.fromBuffers() refuses a step while a caller buffer is mapped, naming the parameter",
  async (device) => {
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
    const plain = device.createBuffer({ size: 16, usage });
    const mapped = device.createBuffer({
      size: 16,
      usage,
      mappedAtCreation: true,
    });
    const decay = GpuDecay.fromBuffers(device, [{
      weightDecay: 0.1,
      params: [plain, mapped],
      names: ["plain", "being.filled"],
    }]);
    assert.throws(() => decay.step(0.5), {
      name: "TypeError",
      message:
        'Expected the buffer of parameter "being.filled" to be unmapped for the step, but it is mapped; unmap it first',
    });
    assert.throws(
      () => decay.encode(device.createCommandEncoder(), 0.5),
      /"being\.filled" to be unmapped/,
    );
    mapped.unmap();
    decay.step(0.5); // unmapped: the engine was never failed by the refused step
    await decay.read(plain);
    decay.destroy();
    plain.destroy();
    mapped.destroy();
  },
);

gpuTest(
  "GpuDecay.fromBuffers() with a buffer of another device fails, at the latest on the next call",
  async (device) => {
    const other = await testAdapter!.requestDevice();
    const foreign = other.createBuffer({
      size: 16,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
    });
    const decay = GpuDecay.fromBuffers(device, [{
      weightDecay: 0.1,
      params: [foreign],
      names: ["elsewhere"],
    }]);
    await nextCallThrows(
      () => decay.step(0.5),
      /^GpuDecay\.(fromBuffers|step) failed on the GPU, so the engine can no longer be trusted/,
    );
    decay.destroy();
    other.destroy();
  },
);

gpuTest(
  "syncToHost() with one parameter's ArrayBuffer detached writes nothing and names it",
  async (device) => {
    for (const create of [GpuDecay.create, GpuAdamW.create]) {
      const gs = groups();
      const engine = create(device, gs);
      engine.step(0.5);
      const first = gs[0]!.params[0]!;
      const second = gs[0]!.params[1]!;
      const before = [...first.data];
      detach(second.data);
      await assert.rejects(engine.syncToHost(), {
        name: "TypeError",
        message:
          'Expected group 0 parameter "fc.bias" to still hold its 2 values in the array it had when the engine was made but its ArrayBuffer was detached',
      });
      assert.deepEqual(
        [...first.data],
        before,
        "the first parameter is untouched",
      );
      assert.throws(() => engine.syncFromHost(), /"fc\.bias" to still hold/);
      engine.destroy();
    }
  },
);

Deno.test("CpuDecay and CpuAdamW refuse a step when host data was detached, resized or replaced", () => {
  const detachedGroups = groups();
  const decay = new CpuDecay(detachedGroups);
  const weight = detachedGroups[0]!.params[0]!;
  detach(detachedGroups[0]!.params[1]!.data);
  assert.throws(() => decay.step(0.5), {
    name: "TypeError",
    message:
      'Expected group 0 parameter "fc.bias" to still hold its 2 values in the array it had when the engine was made but its ArrayBuffer was detached',
  });
  assert.deepEqual([...weight.data], [1, 2, 3], "nothing decayed");

  const resizable = new ArrayBuffer(8, { maxByteLength: 64 });
  const growing = new Parameter(new Float32Array(resizable));
  const adamw = new CpuAdamW([{
    weightDecay: 0,
    params: [growing],
    names: ["w"],
  }]);
  growing.grad = new Float32Array(2);
  resizable.resize(16);
  assert.throws(() => adamw.step(0.1), {
    name: "TypeError",
    message:
      'Expected group 0 parameter "w" to still hold its 2 values in the array it had when the engine was made but its data now holds 4 values',
  });

  const replaced = new Parameter([1, 2]);
  const replacing = new CpuDecay([{
    weightDecay: 0.1,
    params: [replaced],
    names: ["w"],
  }]);
  (replaced as { data: Float32Array }).data = new Float32Array([1, 2]);
  assert.throws(
    () => replacing.step(0.1),
    /"w" to still hold its 2 values in the array it had when the engine was made but its data was replaced by another array/,
  );
});

gpuTest(
  "GpuAdamW.loadState() rejects a negative second moment before loading anything",
  async (device) => {
    const gs = groups();
    using adamw = GpuAdamW.create(device, gs);
    const state = await adamw.state();
    const bad = {
      step: 5,
      params: state.params.map((p, i) => ({
        name: p.name,
        m: new Float32Array(p.m.length).fill(1),
        v: i === 1 ? new Float32Array([0, -1]) : new Float32Array(p.v.length),
      })),
    };
    assert.throws(() => adamw.loadState(bad), {
      name: "RangeError",
      message:
        'Expected state.params[1].v of parameter "fc.bias" to hold finite values >= 0 but found -1 at index 1',
    });
    assert.deepEqual(await adamw.state(), state);
  },
);

gpuTest(
  "GpuDecay: 100 encodes alternating between two encoders are refused on the GPU, and the next read throws",
  async (device) => {
    const gs = groups();
    const decay = GpuDecay.create(device, gs);
    const before = snapshot(gs);
    const a = device.createCommandEncoder();
    const b = device.createCommandEncoder();
    for (let i = 0; i < 100; i++) decay.encode(i % 2 === 0 ? a : b, 0.01);
    device.queue.submit([a.finish(), b.finish()]);
    await assert.rejects(
      decay.syncToHost(),
      /GpuDecay\.syncToHost failed on the GPU, so the engine can no longer be trusted and refuses every call: a step's ring slot was rewritten before the step ran/,
    );
    assert.deepEqual(snapshot(gs), before, "nothing written to the host");
    assert.throws(() => decay.step(0.01), /GpuDecay\.syncToHost failed/);
    decay.destroy();
  },
);

gpuTest(
  "GpuDecay: 60 encodes alternating between two encoders, all within the ring, each apply their own lr",
  async (device) => {
    const gs = groups();
    const cpuGroups = groups();
    const decay = GpuDecay.create(device, gs);
    const cpu = new CpuDecay(cpuGroups);
    const a = device.createCommandEncoder();
    const b = device.createCommandEncoder();
    const lr = (i: number) => 0.01 * (1 + i % 7);
    for (let i = 0; i < 60; i++) decay.encode(i % 2 === 0 ? a : b, lr(i));
    device.queue.submit([b.finish(), a.finish()]);
    // The GPU runs b's steps (odd i), then a's: the CPU takes them in that order.
    for (let i = 1; i < 60; i += 2) cpu.step(lr(i));
    for (let i = 0; i < 60; i += 2) cpu.step(lr(i));
    await decay.syncToHost();
    assert.deepEqual(snapshot(gs), snapshot(cpuGroups));
    decay.destroy();
  },
);
