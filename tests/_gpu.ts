// Copyright 2026 the weight-decay authors. MIT license.
// One place decides whether GPU tests run: they run on whatever adapter exists
// (llvmpipe on machines without a GPU), are ignored with a visible reason when there is
// none, and fail instead when WEIGHT_DECAY_REQUIRE_ADAPTER is set, as CI sets it.

import assert from "node:assert/strict";

const adapter = await navigator.gpu?.requestAdapter() ?? null;
const required = Deno.env.get("WEIGHT_DECAY_REQUIRE_ADAPTER") === "1";
if (adapter === null) {
  const message =
    "No WebGPU adapter: navigator.gpu.requestAdapter() returned null";
  if (required) {
    throw new Error(
      `${message}, and WEIGHT_DECAY_REQUIRE_ADAPTER=1 forbids skipping GPU tests`,
    );
  }
  // deno-lint-ignore no-console -- a skipped GPU test must be loud
  console.warn(
    `%c${message}; every GPU test is IGNORED`,
    "color: red; font-weight: bold",
  );
}

/** The adapter the GPU tests run on, or null when there is none. */
export const testAdapter: GPUAdapter | null = adapter;

/** True when GPU tests cannot run. */
export const ignoreGpu: boolean = adapter === null;

/** A short name of the adapter, for benchmark reports. */
export function adapterName(): string {
  if (adapter === null) return "no adapter";
  const { description, vendor, architecture } = adapter.info;
  return description || [vendor, architecture].filter(Boolean).join(" ") ||
    "unknown adapter";
}

/**
 * A test that runs `fn` on a fresh device inside validation and out-of-memory error
 * scopes, fails on any WebGPU error, and destroys the device afterwards.
 */
export function gpuTest(
  name: string,
  fn: (device: GPUDevice) => Promise<void> | void,
  limits?: Record<string, number>,
): void {
  Deno.test({
    name,
    ignore: ignoreGpu,
    async fn() {
      const device = await adapter!.requestDevice(
        limits ? { requiredLimits: limits } : undefined,
      );
      device.pushErrorScope("validation");
      device.pushErrorScope("out-of-memory");
      let failure: unknown;
      try {
        await fn(device);
      } catch (error) {
        failure = error;
      }
      const outOfMemory = await device.popErrorScope();
      const validation = await device.popErrorScope();
      device.destroy();
      if (failure !== undefined) throw failure;
      if (validation !== null) {
        throw new Error(`WebGPU validation error: ${validation.message}`);
      }
      if (outOfMemory !== null) {
        throw new Error(`WebGPU out-of-memory error: ${outOfMemory.message}`);
      }
    },
  });
}

/** Bit patterns of f32 values, so comparisons tell -0 from 0 and compare NaNs exactly. */
export function bits(values: Float32Array): Uint32Array {
  return new Uint32Array(values.buffer, values.byteOffset, values.length);
}

/** Calls made through an instrumented device, by method name. */
export type CallCounts = Record<string, number>;

/**
 * Wraps a device so that calls to it, its queue, its command encoders and their compute
 * passes are counted. `limits` overrides some limits the engine reads (not the device's
 * real ones), to drive code paths such as the 2-D grid with small numbers.
 */
export function instrument(
  device: GPUDevice,
  limits: Partial<Record<keyof GPUSupportedLimits, number>> = {},
): { device: GPUDevice; counts: CallCounts } {
  const counts: CallCounts = {};
  const wrap = <T extends object>(
    target: T,
    children: Record<string, (value: object) => object> = {},
  ): T =>
    new Proxy(target, {
      get(object, key) {
        const value = Reflect.get(object, key, object);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          counts[String(key)] = (counts[String(key)] ?? 0) + 1;
          const result = value.apply(object, args);
          const child = children[String(key)];
          return child === undefined ? result : child(result);
        };
      },
    });
  const pass = (value: object) => wrap(value);
  const encoder = (value: object) => wrap(value, { beginComputePass: pass });
  const queue = wrap(device.queue);
  const fakeLimits = new Proxy(device.limits, {
    get: (object, key) =>
      key in limits
        ? limits[key as keyof GPUSupportedLimits]
        : Reflect.get(object, key, object),
  });
  const proxy = new Proxy(device, {
    get(object, key) {
      if (key === "queue") return queue;
      if (key === "limits") return fakeLimits;
      const value = Reflect.get(object, key, object);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        counts[String(key)] = (counts[String(key)] ?? 0) + 1;
        const result = value.apply(object, args);
        return key === "createCommandEncoder" ? encoder(result) : result;
      };
    },
  });
  return { device: proxy, counts };
}

/**
 * Makes an engine of several shards on an instrumented `device`, takes 25 steps and
 * asserts what a fused step costs: one `writeBuffer`, one compute pass, one dispatch per
 * shard (and `extraPerShard` more, e.g. AdamW's gradient-norm reduction) plus the gate,
 * and one submit per step, and no GPU object created. Destroys the engine.
 */
export async function assertStepCosts(
  device: GPUDevice,
  create: (device: GPUDevice) => {
    step(lr: number): void;
    readonly buffers: readonly GPUBuffer[];
    destroy(): void;
  },
  extraPerShard = 0,
): Promise<void> {
  const { device: counted, counts } = instrument(device);
  const engine = create(counted);
  try {
    const shards = engine.buffers.length;
    assert.ok(shards >= 2, `${shards} shards`);
    const before = { ...counts };
    const steps = 25;
    for (let i = 0; i < steps; i++) engine.step(0.01 * (i + 1));
    const delta = (key: string) => (counts[key] ?? 0) - (before[key] ?? 0);
    assert.equal(delta("writeBuffer"), steps, "one writeBuffer per step");
    assert.equal(delta("beginComputePass"), steps, "one compute pass per step");
    assert.equal(
      delta("dispatchWorkgroups"),
      steps * (shards * (1 + extraPerShard) + 1),
      "one dispatch per shard, and the gate",
    );
    assert.equal(delta("submit"), steps);
    for (
      const create of [
        "createBuffer",
        "createBindGroup",
        "createComputePipeline",
        "createShaderModule",
      ]
    ) {
      assert.equal(delta(create), 0, `${create} during steps`);
    }
    await device.queue.onSubmittedWorkDone();
  } finally {
    engine.destroy();
  }
}

/**
 * Asserts that GPU results equal CPU results bit for bit, except where WGSL allows a
 * difference: a subnormal result may be flushed to zero of the same sign, and a NaN may
 * carry another payload. Returns how often each allowance was used, so tests can report
 * the rule the adapter follows instead of skipping those values.
 */
export function assertSameF32(
  gpu: Float32Array,
  cpu: Float32Array,
  what: string,
): { flushed: number; nanPayloads: number } {
  if (gpu.length !== cpu.length) {
    throw new Error(`${what}: ${gpu.length} values, expected ${cpu.length}`);
  }
  const g = bits(gpu);
  const c = bits(cpu);
  let flushed = 0;
  let nanPayloads = 0;
  for (let i = 0; i < g.length; i++) {
    if (g[i] === c[i]) continue;
    const cpuValue = cpu[i]!;
    if (Number.isNaN(cpuValue) && Number.isNaN(gpu[i]!)) {
      nanPayloads++;
      continue;
    }
    const subnormal = cpuValue !== 0 && Math.abs(cpuValue) < 2 ** -126;
    if (subnormal && gpu[i] === 0 && (g[i]! >>> 31) === (c[i]! >>> 31)) {
      flushed++;
      continue;
    }
    throw new Error(
      `${what}[${i}]: GPU ${gpu[i]} (0x${
        g[i]!.toString(16)
      }) but CPU ${cpuValue} (0x${c[i]!.toString(16)})`,
    );
  }
  return { flushed, nanPayloads };
}
