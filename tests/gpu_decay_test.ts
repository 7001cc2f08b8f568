// Copyright 2026 the weight-decay authors. MIT license.
import assert from "node:assert/strict";
import {
  CpuDecay,
  getParamGroups,
  GpuDecay,
  namedParameters,
  NORM_TYPES,
  Parameter,
  type ParamGroup,
} from "../mod.ts";
import { random, randomData, randomGroups, ResNet50, twin } from "./_models.ts";
import { DECAY_CHUNK_ELEMENTS } from "../src/decay_kernel.ts";
import {
  assertSameF32,
  assertStepCosts,
  bits,
  gpuTest,
  instrument,
} from "./_gpu.ts";

const POLICY = [[1e-2, "bias"], [0, NORM_TYPES], 0.1] as const;

/** Syncs the GPU arena back and compares every parameter with its CPU twin, bit for bit. */
async function assertParity(
  gpu: GpuDecay,
  gpuGroups: ParamGroup[],
  cpuGroups: ParamGroup[],
) {
  await gpu.syncToHost();
  let compared = 0;
  gpuGroups.forEach((group, g) =>
    group.params.forEach((param, i) => {
      const { flushed, nanPayloads } = assertSameF32(
        param.data,
        cpuGroups[g]!.params[i]!.data,
        group.names[i]!,
      );
      assert.equal(
        flushed + nanPayloads,
        0,
        "normal-range values must match exactly",
      );
      compared += param.size;
    })
  );
  return compared;
}

gpuTest(
  "GpuDecay matches CpuDecay bit for bit on a ResNet-50 over several steps",
  async (device) => {
    const model = new ResNet50("random", 7);
    const groups = getParamGroups(namedParameters(model), POLICY);
    const cpuGroups = twin(groups);
    using gpu = GpuDecay.create(device, groups);
    const cpu = new CpuDecay(cpuGroups);
    for (const lr of [0.1, 0.05, 0.5, 0, 0.003]) {
      gpu.step(lr);
      cpu.step(lr);
    }
    assert.equal(gpu.buffers.length, 1, "102 MB fits one 128 MiB shard");
    assert.equal(await assertParity(gpu, groups, cpuGroups), 25_557_032);
  },
);

gpuTest(
  "GpuDecay matches CpuDecay on 2,000 small tensors of odd sizes",
  async (device) => {
    const groups = randomGroups(2000, 1000, 11);
    const cpuGroups = twin(groups);
    using gpu = GpuDecay.create(device, groups);
    const cpu = new CpuDecay(cpuGroups);
    for (const lr of [0.3, 0.01, 1]) {
      gpu.step(lr);
      cpu.step(lr);
    }
    assert.ok((await assertParity(gpu, groups, cpuGroups)) > 900_000);
  },
);

gpuTest(
  "GpuDecay splits the arena into shards and a large tensor across them",
  async (device) => {
    const next = random(3);
    const sizes = [10, 1000, 3000, 7, 0, 1024, 2500, 1];
    const groups: ParamGroup[] = [
      { weightDecay: 0.2, params: [], names: [] },
      { weightDecay: 0.05, params: [], names: [] },
    ];
    sizes.forEach((size, i) => {
      groups[i % 2]!.params.push(new Parameter(randomData(size, next)));
      groups[i % 2]!.names.push(`t${i}`);
    });
    const cpuGroups = twin(groups);
    using gpu = GpuDecay.create(device, groups, { maxShardBytes: 4096 });
    const cpu = new CpuDecay(cpuGroups);
    for (const lr of [0.5, 1, 0.25]) {
      gpu.step(lr);
      cpu.step(lr);
    }
    assert.ok(gpu.buffers.length >= 5, `${gpu.buffers.length} shards`);
    assert.ok(gpu.buffers.every((b) => b.size <= 4096));
    await assertParity(gpu, groups, cpuGroups);
    for (const [g, i] of [[0, 0], [1, 0], [1, 1], [1, 2], [1, 3]] as const) {
      const param = groups[g]!.params[i]!;
      const binding = gpu.binding(param);
      assert.equal(binding.offset! % 256, 0);
      assert.equal(binding.size, param.size * 4);
      assert.deepEqual(
        bits(await gpu.read(param)),
        bits(cpuGroups[g]!.params[i]!.data),
      );
    }
    const spanning = groups[0]!.params[1]!; // 3000 floats, 12000 bytes > 4096
    assert.throws(() => gpu.binding(spanning), {
      name: "RangeError",
      message:
        'Parameter "t2" spans 3 arena shards and cannot be bound as one range; raise maxShardBytes, or request a device with a larger maxStorageBufferBindingSize (now 134217728)',
    });
    assert.deepEqual(
      bits(await gpu.read(spanning)),
      bits(cpuGroups[0]!.params[1]!.data),
    );
    assert.throws(() => gpu.binding(groups[0]!.params[2]!), {
      name: "RangeError",
      message: 'Parameter "t4" has no values, and a binding cannot be empty',
    });
    assert.equal((await gpu.read(groups[0]!.params[2]!)).length, 0);
  },
);

gpuTest(
  "GpuDecay handles empty groups and empty tensors, and rejects an empty model",
  async (device) => {
    const weight = new Parameter([1, 2, 3]);
    const groups: ParamGroup[] = [
      { weightDecay: 0.5, params: [], names: [] },
      {
        weightDecay: 0.5,
        params: [new Parameter([]), weight],
        names: ["empty", "w"],
      },
    ];
    using gpu = GpuDecay.create(device, groups);
    gpu.step(1);
    assert.deepEqual([...await gpu.read(weight)], [0.5, 1, 1.5]);
    assert.throws(() => GpuDecay.create(device, []), {
      name: "TypeError",
      message:
        "Expected groups to hold at least one parameter but found no group: an engine without parameters would silently do nothing",
    });
    using empty = GpuDecay.create(device, [{
      weightDecay: 0.1,
      params: [new Parameter([])],
      names: ["empty"],
    }]);
    empty.step(1);
    await empty.syncToHost();
    assert.deepEqual(empty.buffers, []);
  },
);

gpuTest(
  "GpuDecay.encode() applies each lr when several steps share one submit",
  async (device) => {
    const groups = randomGroups(50, 300, 5);
    const cpuGroups = twin(groups);
    using gpu = GpuDecay.create(device, groups);
    const cpu = new CpuDecay(cpuGroups);
    const encoder = device.createCommandEncoder({
      label: "test several steps",
    });
    for (const lr of [0.1, 0.2, 0.7, 0.05]) {
      gpu.encode(encoder, lr);
      cpu.step(lr);
    }
    device.queue.submit([encoder.finish()]);
    await assertParity(gpu, groups, cpuGroups);
  },
);

gpuTest(
  "GpuDecay.encode() refuses more steps per encoder than its factor ring holds",
  (device) => {
    const weight = new Parameter([1]);
    using gpu = GpuDecay.create(device, [{
      weightDecay: 0.1,
      params: [weight],
      names: ["w"],
    }]);
    const encoder = device.createCommandEncoder();
    for (let i = 0; i < GpuDecay.maxEncodesPerSubmit; i++) {
      gpu.encode(encoder, 0.1);
    }
    assert.throws(() => gpu.encode(encoder, 0.1), {
      name: "RangeError",
      message:
        "Expected at most 64 decay steps in one command encoder (GpuDecay.maxEncodesPerSubmit) but this is step 65; submit and start a new encoder",
    });
    device.queue.submit([encoder.finish()]);
    const next = device.createCommandEncoder();
    gpu.encode(next, 0.1); // a new encoder starts a new count
    device.queue.submit([next.finish()]);
  },
);

gpuTest(
  "GpuDecay.step() writes once, records one pass and one dispatch per shard, allocates nothing",
  (device) =>
    assertStepCosts(
      device,
      // Every group decays, so every shard has work (a shard holding only groups with
      // weight decay 0 gets no dispatch).
      (counted) =>
        GpuDecay.create(
          counted,
          randomGroups(300, 2000, 9).filter((g) => g.weightDecay > 0),
          { maxShardBytes: 1 << 18 },
        ),
    ),
);

gpuTest(
  "GpuDecay skips groups with factor 1 and records nothing when all are 1",
  (device) => {
    const { device: counted, counts } = instrument(device);
    const groups: ParamGroup[] = [
      { weightDecay: 0, params: [new Parameter([1])], names: ["bias"] },
      { weightDecay: 0.1, params: [new Parameter([1])], names: ["weight"] },
    ];
    using gpu = GpuDecay.create(counted, groups);
    const before = counts.beginComputePass ?? 0;
    gpu.step(0);
    assert.equal(
      counts.beginComputePass ?? 0,
      before,
      "lr 0: nothing to record",
    );
    gpu.step(0.1);
    assert.equal(counts.beginComputePass, before + 1);
  },
);

gpuTest("GpuDecay shares one pipeline per device between engines", (device) => {
  const { device: counted, counts } = instrument(device);
  const group =
    () => [{ weightDecay: 0.1, params: [new Parameter([1])], names: ["w"] }];
  using a = GpuDecay.create(counted, group());
  using b = GpuDecay.create(counted, group());
  a.step(0.1);
  b.step(0.1);
  // The decay kernel and the gate, each made once.
  assert.equal(counts.createComputePipeline, 2);
  assert.equal(counts.createShaderModule, 2);
});

gpuTest(
  "GpuDecay spreads work over a 2-D grid when one dimension is too small",
  async (device) => {
    // The engine reads maxComputeWorkgroupsPerDimension; at 7, a tensor of 10.5 chunks
    // needs a 7 x 2 grid, whose 3 surplus workgroups must return without touching anything.
    const { device: small } = instrument(device, {
      maxComputeWorkgroupsPerDimension: 7,
    });
    const floatsPerChunk = DECAY_CHUNK_ELEMENTS * 4; // the arena kernel works in vec4s
    const groups: ParamGroup[] = [{
      weightDecay: 0.1,
      params: [new Parameter(randomData(floatsPerChunk * 10.5 + 3, random(2)))],
      names: ["big"],
    }];
    const cpuGroups = twin(groups);
    using gpu = GpuDecay.create(small, groups);
    const cpu = new CpuDecay(cpuGroups);
    gpu.step(0.3);
    cpu.step(0.3);
    await assertParity(gpu, groups, cpuGroups);
  },
);

gpuTest(
  "GpuDecay.binding() gives 256-byte aligned ranges your kernels can write",
  async (device) => {
    const weight = new Parameter([1, 2, 3, 4, 5]);
    const bias = new Parameter([6, 7]);
    using gpu = GpuDecay.create(device, [{
      weightDecay: 0.5,
      params: [weight, bias],
      names: ["w", "b"],
    }]);
    const binding = gpu.binding(bias);
    assert.equal(binding.offset! % 256, 0);
    assert.equal(binding.size, 8);
    device.queue.writeBuffer(
      binding.buffer,
      binding.offset!,
      new Float32Array([10, 20]),
    );
    gpu.step(1);
    assert.deepEqual([...await gpu.read(bias)], [5, 10]);
    assert.deepEqual([...await gpu.read(weight)], [0.5, 1, 1.5, 2, 2.5]);
    assert.throws(() => gpu.binding(new Parameter([1])), {
      name: "TypeError",
      message:
        "Expected a parameter of this GpuDecay (one of the groups it was made with) but found a Parameter",
    });
  },
);

gpuTest(
  "GpuDecay.syncFromHost() uploads values loaded into the parameters",
  async (device) => {
    const weight = new Parameter(new Float32Array(3000).fill(1));
    using gpu = GpuDecay.create(device, [{
      weightDecay: 0.5,
      params: [weight],
      names: ["w"],
    }], {
      maxShardBytes: 4096,
    });
    weight.data.fill(4);
    gpu.syncFromHost();
    gpu.step(1);
    const values = await gpu.read(weight);
    assert.ok(
      values.every((v) => v === 2),
      "every piece across shards was uploaded",
    );
  },
);

gpuTest("GpuDecay.read() right after step() sees that step", async (device) => {
  const weight = new Parameter([8]);
  using gpu = GpuDecay.create(device, [{
    weightDecay: 0.5,
    params: [weight],
    names: ["w"],
  }]);
  for (const expected of [4, 2, 1]) {
    gpu.step(1);
    assert.deepEqual([...await gpu.read(weight)], [expected]);
  }
  assert.equal(
    weight.data[0],
    8,
    "Parameter.data changes only on syncToHost()",
  );
});

gpuTest("GpuDecay rejects a bad lr and changes nothing", async (device) => {
  const weight = new Parameter([1, 2]);
  const other = new Parameter([3]);
  using gpu = GpuDecay.create(device, [
    { weightDecay: 0.1, params: [weight], names: ["w"] },
    { weightDecay: 0.9, params: [other], names: ["o"] },
  ]);
  for (const lr of [NaN, -1, Infinity]) {
    assert.throws(() => gpu.step(lr), RangeError);
  }
  assert.throws(() => gpu.step(2), {
    name: "RangeError",
    message:
      "Expected lr * weightDecay <= 1 so parameters keep their sign, but group 1 has lr * weightDecay = 2 * 0.9 = 1.8, a factor of -0.8",
  });
  const encoder = device.createCommandEncoder();
  assert.throws(() => gpu.encode(encoder, -0.5), RangeError);
  device.queue.submit([encoder.finish()]);
  assert.deepEqual([...await gpu.read(weight)], [1, 2]);
  assert.deepEqual([...await gpu.read(other)], [3]);
});

gpuTest(
  "GpuDecay rejects bad options, devices and encoders with clear errors",
  (device) => {
    const groups = [{
      weightDecay: 0.1,
      params: [new Parameter([1])],
      names: ["w"],
    }];
    assert.throws(() => GpuDecay.create({} as GPUDevice, groups), {
      name: "TypeError",
      message: "Expected a GPUDevice but found an object",
    });
    assert.throws(
      () => GpuDecay.create(device, groups, { maxShardBytes: 100 }),
      {
        name: "RangeError",
        message:
          "Expected maxShardBytes to be a number from 256 to 134217728 (the device's maxStorageBufferBindingSize and maxBufferSize) but found 100",
      },
    );
    assert.throws(
      () => GpuDecay.create(device, groups, { scaling: "schedule" }),
      RangeError,
    );
    assert.throws(
      () =>
        GpuDecay.create(device, [{ weightDecay: NaN, params: [], names: [] }]),
      RangeError,
    );
    using gpu = GpuDecay.create(device, groups);
    assert.throws(() => gpu.encode({} as GPUCommandEncoder, 0.1), {
      name: "TypeError",
      message: "Expected a GPUCommandEncoder but found an object",
    });
  },
);

gpuTest(
  "GpuDecay.destroy() is idempotent, frees its own buffers, and later calls throw",
  async (device) => {
    const weight = new Parameter([1]);
    const gpu = GpuDecay.create(device, [{
      weightDecay: 0.1,
      params: [weight],
      names: ["w"],
    }]);
    const [shard] = gpu.buffers;
    gpu.destroy();
    gpu.destroy();
    const destroyed = { name: "Error", message: "GpuDecay has been destroyed" };
    assert.throws(() => gpu.step(0.1), destroyed);
    assert.throws(
      () => gpu.encode(device.createCommandEncoder(), 0.1),
      destroyed,
    );
    assert.throws(() => gpu.binding(weight), destroyed);
    assert.throws(() => gpu.syncFromHost(), destroyed);
    await assert.rejects(gpu.read(weight), destroyed);
    await assert.rejects(gpu.syncToHost(), destroyed);
    // A destroyed buffer cannot be copied from: WebGPU reports a validation error.
    device.pushErrorScope("validation");
    const encoder = device.createCommandEncoder();
    encoder.clearBuffer(shard!);
    device.queue.submit([encoder.finish()]);
    assert.ok(await device.popErrorScope(), "the arena shard was destroyed");
  },
);

gpuTest(
  "GpuDecay works with using: leaving the block destroys it",
  (device) => {
    let escaped: GpuDecay;
    {
      using gpu = GpuDecay.create(device, [{
        weightDecay: 0.1,
        params: [new Parameter([1])],
        names: ["w"],
      }]);
      escaped = gpu;
    }
    assert.throws(() => escaped.step(0.1), {
      message: "GpuDecay has been destroyed",
    });
  },
);

Deno.test({
  name: "GpuDecay turns device loss into errors, never a hang",
  ignore: (await import("./_gpu.ts")).ignoreGpu,
  async fn() {
    const { testAdapter } = await import("./_gpu.ts");
    const device = await testAdapter!.requestDevice();
    const weight = new Parameter(new Float32Array(1 << 16));
    const gpu = GpuDecay.create(device, [{
      weightDecay: 0.1,
      params: [weight],
      names: ["w"],
    }]);
    gpu.step(0.1);
    const inFlight = gpu.read(weight).then(
      () => "resolved",
      (error: Error) => error.message,
    );
    device.destroy();
    await device.lost;
    const lost =
      /GpuDecay cannot run: its GPU device was lost \(reason: destroyed/;
    assert.throws(() => gpu.step(0.1), lost);
    assert.throws(
      () => gpu.encode({ beginComputePass() {} } as never, 0.1),
      lost,
    );
    await assert.rejects(gpu.read(weight), lost);
    await assert.rejects(gpu.syncToHost(), lost);
    const outcome = await inFlight;
    assert.ok(
      outcome === "resolved" || lost.test(outcome),
      `read in flight: ${outcome}`,
    );
    gpu.destroy();
  },
});

gpuTest(
  "GpuDecay keeps NaN, infinities, zeros and subnormals by the rule this adapter follows",
  async (device) => {
    const special = new Float32Array([
      NaN,
      Infinity,
      -Infinity,
      -0,
      0,
      1e-45,
      -1e-45,
      1.1e-38,
      3e-39,
      1,
    ]);
    bits(special)[0] = 0x7fc01234; // a NaN with a payload
    const gpuParam = new Parameter(special.slice());
    const cpuParam = new Parameter(special.slice());
    using gpu = GpuDecay.create(device, [{
      weightDecay: 0.5,
      params: [gpuParam],
      names: ["x"],
    }]);
    gpu.step(0.5);
    new CpuDecay([{ weightDecay: 0.5, params: [cpuParam], names: ["x"] }]).step(
      0.5,
    );
    const result = await gpu.read(gpuParam);
    const { flushed, nanPayloads } = assertSameF32(
      result,
      cpuParam.data,
      "special values",
    );
    assert.ok(Number.isNaN(result[0]!));
    assert.deepEqual([...result.subarray(1, 5)], [Infinity, -Infinity, -0, 0]);
    assert.ok(Object.is(result[3], -0), "-0 keeps its sign");
    assert.equal(result[9], 0.75);
    // Record what this adapter does; the README documents both behaviours.
    // deno-lint-ignore no-console -- the adapter's rule is worth seeing in the test log
    console.log(
      `subnormal results flushed: ${flushed} of 4; NaN payloads changed: ${nanPayloads} of 1`,
    );
  },
);

/** A caller-owned buffer holding `values` at byte `offset`, with guard values around them. */
function ownBuffer(
  device: GPUDevice,
  values: Float32Array,
  offset = 0,
  label = "test tensor",
  guardBytes = 8,
): GPUBuffer {
  const buffer = device.createBuffer({
    label,
    size: offset + values.byteLength + guardBytes,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC |
      GPUBufferUsage.COPY_DST,
    mappedAtCreation: true,
  });
  const mapped = new Float32Array(buffer.getMappedRange());
  mapped.fill(-7);
  mapped.set(values, offset / 4);
  buffer.unmap();
  return buffer;
}

gpuTest(
  "GpuDecay.fromBuffers() decays caller-owned buffers and bindings in one pass, like CpuDecay",
  async (device) => {
    const { device: counted, counts } = instrument(device);
    const next = random(21);
    const cpuGroups: ParamGroup[] = [{
      weightDecay: 0.3,
      params: [],
      names: [],
    }, {
      weightDecay: 0.05,
      params: [],
      names: [],
    }];
    const gpuGroups: ParamGroup<GPUBuffer | GPUBufferBinding>[] = cpuGroups.map(
      (g) => ({ ...g, params: [], names: [] }),
    );
    const owned: GPUBuffer[] = [];
    for (let i = 0; i < 23; i++) {
      const values = randomData(1 + Math.floor(next() * 3000), next);
      const whole = i % 3 === 0;
      const offset = whole ? 0 : 4 * Math.floor(next() * 5); // 0..16 bytes: not 16- or 256-aligned
      const buffer = ownBuffer(
        device,
        values,
        offset,
        `tensor ${i}`,
        whole ? 0 : 8,
      );
      owned.push(buffer);
      const g = i % 2;
      cpuGroups[g]!.params.push(new Parameter(values));
      cpuGroups[g]!.names.push(`t${i}`);
      gpuGroups[g]!.params.push(
        whole ? buffer : { buffer, offset, size: values.byteLength },
      );
      gpuGroups[g]!.names.push(`t${i}`);
    }
    using gpu = GpuDecay.fromBuffers(counted, gpuGroups);
    const cpu = new CpuDecay(cpuGroups);
    const passes = counts.beginComputePass ?? 0;
    for (const lr of [0.5, 1, 0.1]) {
      gpu.step(lr);
      cpu.step(lr);
    }
    assert.equal(counts.beginComputePass, passes + 3, "one pass per step");
    // Three bindings per dispatch hold the chunk table, the step's values and the state;
    // each step also runs the one-workgroup gate.
    const perDispatch = device.limits.maxStorageBuffersPerShaderStage - 3;
    assert.equal(
      counts.dispatchWorkgroups,
      3 * (1 + Math.ceil(23 / perDispatch)),
    );
    for (const [g, group] of gpuGroups.entries()) {
      for (const [i, param] of group.params.entries()) {
        const expected = cpuGroups[g]!.params[i]!.data;
        assert.deepEqual(
          bits(await gpu.read(param)),
          bits(expected),
          group.names[i],
        );
        const { buffer, offset = 0 } = "buffer" in param
          ? param
          : { buffer: param };
        const guard = await readWhole(device, buffer);
        assert.ok(
          guard.subarray(0, offset / 4).every((v) => v === -7),
          "bytes before the binding untouched",
        );
        assert.ok(
          guard.subarray(offset / 4 + expected.length).every((v) => v === -7),
          "bytes after untouched",
        );
      }
    }
    assert.deepEqual(new Set(gpu.buffers), new Set(owned));
    gpu.destroy();
    assert.equal(
      (await readWhole(device, owned[0]!)).length > 0,
      true,
      "the caller's buffers survive destroy()",
    );
    for (const buffer of owned) buffer.destroy();
  },
);

async function readWhole(
  device: GPUDevice,
  buffer: GPUBuffer,
): Promise<Float32Array> {
  const staging = device.createBuffer({
    size: buffer.size,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(buffer, 0, staging, 0, buffer.size);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const values = new Float32Array(staging.getMappedRange().slice(0));
  staging.destroy();
  return values;
}

gpuTest(
  "GpuDecay.fromBuffers() decays many tensors packed in one buffer",
  async (device) => {
    const sizes = [5, 1, 4099, 0, 17, 256];
    const values = sizes.map((n, i) => randomData(n, random(i + 1)));
    const total = values.reduce((n, v) => n + v.length, 0);
    const packed = new Float32Array(total);
    let at = 0;
    const bindings = values.map((v) => {
      packed.set(v, at);
      const binding = {
        buffer: undefined as unknown as GPUBuffer,
        offset: at * 4,
        size: v.byteLength,
      };
      at += v.length;
      return binding;
    });
    const buffer = ownBuffer(device, packed);
    for (const binding of bindings) binding.buffer = buffer;
    using gpu = GpuDecay.fromBuffers(device, [{
      weightDecay: 0.25,
      params: bindings,
      names: sizes.map(String),
    }]);
    gpu.step(2);
    const cpu = values.map((v) => new Parameter(v.slice()));
    new CpuDecay([{ weightDecay: 0.25, params: cpu, names: sizes.map(String) }])
      .step(2);
    for (const [i, binding] of bindings.entries()) {
      assert.deepEqual(bits(await gpu.read(binding)), bits(cpu[i]!.data));
    }
    assert.deepEqual(gpu.binding(bindings[2]!), bindings[2]);
  },
);

gpuTest(
  "GpuDecay.fromBuffers() rejects buffers it cannot decay",
  async (device) => {
    const storage = device.createBuffer({
      size: 64,
      usage: GPUBufferUsage.STORAGE,
    });
    const uniform = device.createBuffer({
      label: "uniforms",
      size: 64,
      usage: GPUBufferUsage.UNIFORM,
    });
    const one = (params: unknown[]) =>
      [{
        weightDecay: 0.1,
        params,
        names: params.map((_, i) => `b${i}`),
      }] as never;
    assert.throws(() => GpuDecay.fromBuffers(device, one([uniform])), {
      name: "TypeError",
      message:
        'Expected the buffer of group 0 parameter "b0" to have STORAGE usage (uniforms)',
    });
    assert.throws(() =>
      GpuDecay.fromBuffers(
        device,
        one([{ buffer: storage, offset: 2, size: 8 }]),
      ), {
      name: "RangeError",
      message:
        'Expected group 0 parameter "b0" to have an offset and size that are multiples of 4 but found offset 2, size 8',
    });
    assert.throws(() =>
      GpuDecay.fromBuffers(
        device,
        one([{ buffer: storage, offset: 32, size: 64 }]),
      ), {
      name: "RangeError",
      message:
        'Expected group 0 parameter "b0" to lie inside its buffer of 64 bytes but found offset 32, size 64',
    });
    assert.throws(
      () =>
        GpuDecay.fromBuffers(
          device,
          one([{ buffer: storage, offset: 0, size: 32 }, {
            buffer: storage,
            offset: 28,
            size: 8,
          }]),
        ),
      {
        name: "TypeError",
        message:
          'Expected parameters to hold separate memory but group 0 parameter "b0" and group 0 parameter "b1" overlap in one buffer; each would be decayed twice',
      },
    );
    assert.throws(
      () => GpuDecay.fromBuffers(device, one([new Float32Array(4)])),
      {
        name: "TypeError",
        message:
          'Expected group 0 parameter "b0" to be a GPUBuffer or a GPUBufferBinding but found a Float32Array',
      },
    );
    using gpu = GpuDecay.fromBuffers(device, one([storage]));
    await assert.rejects(gpu.read(storage), {
      name: "TypeError",
      message:
        'Expected the buffer of parameter "b0" to have COPY_SRC usage to be read',
    });
    await assert.rejects(gpu.syncToHost(), {
      name: "TypeError",
      message:
        "syncToHost() needs an arena made by GpuDecay.create; this engine decays buffers you own",
    });
  },
);

/** Wraps `device.createBuffer` so each buffer made records whether it was destroyed. */
function trackBuffers(device: GPUDevice) {
  const made = new Map<GPUBuffer, number>();
  const tracked = new Proxy(device, {
    get(object, key) {
      const value = Reflect.get(object, key, object);
      if (key !== "createBuffer") {
        return typeof value === "function" ? value.bind(object) : value;
      }
      return (descriptor: GPUBufferDescriptor) => {
        const buffer = object.createBuffer(descriptor);
        const destroy = buffer.destroy.bind(buffer);
        made.set(buffer, 0);
        buffer.destroy = () => {
          made.set(buffer, made.get(buffer)! + 1);
          destroy();
        };
        return buffer;
      };
    },
  });
  return { device: tracked, made };
}

gpuTest(
  "GpuDecay.destroy() destroys every buffer it made, and only those",
  async (device) => {
    const { device: tracked, made } = trackBuffers(device);
    const groups = randomGroups(40, 3000, 4);
    const arena = GpuDecay.create(tracked, groups, { maxShardBytes: 1 << 16 });
    arena.step(0.1);
    await arena.read(groups[0]!.params[0]!);
    const own = tracked.createBuffer({
      size: 64,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
    });
    const buffers = GpuDecay.fromBuffers(tracked, [{
      weightDecay: 0.1,
      params: [own],
      names: ["own"],
    }]);
    buffers.step(0.1);
    arena.destroy();
    buffers.destroy();
    arena.destroy();
    assert.equal(
      made.get(own),
      0,
      "the caller's buffer is not the engine's to destroy",
    );
    made.delete(own);
    // One table of ring laps per device, shared by every engine, lives with the device.
    const laps = [...made.keys()].filter((b) =>
      b.label === "weight-decay lap table"
    );
    assert.equal(laps.length, 1, "one lap table for both engines");
    assert.equal(made.get(laps[0]!), 0);
    made.delete(laps[0]!);
    const counts = [...made.values()];
    assert.ok(counts.length > 5, `${counts.length} buffers made`);
    assert.deepEqual(
      counts,
      counts.map(() => 1),
      "each buffer the engines made is destroyed exactly once",
    );
  },
);

gpuTest(
  "creating and destroying 200 engines does not grow memory",
  async (device) => {
    const weight = new Parameter(new Float32Array(1 << 21)); // an 8 MiB arena each time
    const groups = [{ weightDecay: 0.1, params: [weight], names: ["w"] }];
    const cycle = async (times: number) => {
      for (let i = 0; i < times; i++) {
        const gpu = GpuDecay.create(device, groups);
        gpu.step(0.1);
        gpu.destroy();
      }
      await device.queue.onSubmittedWorkDone();
    };
    await cycle(20);
    const before = Deno.memoryUsage().rss;
    for (let round = 0; round < 4; round++) await cycle(50);
    const grown = Deno.memoryUsage().rss - before;
    // A leaked arena would add 8 MiB per engine, 1.6 GiB over 200. Allocator caches and
    // wgpu's own bookkeeping account for up to a few hundred MiB here, and level off
    // after a few thousand engines, so the bound is half of what leaking would cost.
    assert.ok(
      grown < 800 * 2 ** 20,
      `memory grew by ${(grown / 2 ** 20).toFixed(1)} MiB over 200 engines`,
    );
    // deno-lint-ignore no-console -- the figure is worth seeing in the test log
    console.log(
      `resident memory change over 200 engines: ${
        (grown / 2 ** 20).toFixed(1)
      } MiB`,
    );
  },
);

gpuTest(
  "GpuDecay scales the decay as each scaling mode says, like CpuDecay",
  async (device) => {
    const cases = [
      [{ scaling: "lr" }, 0.5, Math.fround(1 - 0.5 * 0.1)],
      [{ scaling: "schedule", maxLr: 2 }, 0.5, Math.fround(1 - 0.25 * 0.1)],
      [{ scaling: "independent" }, 0, Math.fround(1 - 0.1)],
      [{ scaling: "corrected", maxLr: 2 }, 0.5, Math.fround(1 - 0.125 * 0.1)],
    ] as const;
    for (const [options, lr, factor] of cases) {
      const weight = new Parameter([3]);
      using gpu = GpuDecay.create(device, [{
        weightDecay: 0.1,
        params: [weight],
        names: ["w"],
      }], options);
      gpu.step(lr);
      assert.deepEqual(
        [...await gpu.read(weight)],
        [Math.fround(3 * factor)],
        options.scaling,
      );
    }
  },
);
