// Copyright 2026 the weight-decay authors. MIT license.
// deno-lint-ignore-file no-console
/**
 * A GPT-2 medium layout (355M parameters, 1.4 GB of f32) through GpuDecay: the arena
 * needs several shards, and the token embedding (206 MB) is larger than one shard, so
 * it is split across two. Reports the peak memory of the upload and times the fused
 * step against the plain scale kernel over the same bytes:
 *
 *   deno task bench:big
 *
 * It needs about 5 GB of memory on a software adapter (the model on the host, the
 * arena, and the baseline's buffers) and a few minutes.
 *
 * @module
 */

import {
  getParamGroups,
  GpuDecay,
  namedParameters,
  NORM_TYPES,
  Parameter,
} from "../mod.ts";
import { benchDevice, singleBufferScale } from "./_baselines.ts";

const STEPS = 2;
const GIB = 2 ** 30;

class Linear {
  weight: Parameter;
  bias: Parameter;
  constructor(inputs: number, outputs: number) {
    this.weight = zeros([inputs, outputs]);
    this.bias = zeros([outputs]);
  }
}
class LayerNorm {
  weight = zeros([1024]);
  bias = zeros([1024]);
}
class Embedding {
  weight: Parameter;
  constructor(count: number, width: number) {
    this.weight = zeros([count, width]);
  }
}

function zeros(shape: number[]): Parameter {
  return new Parameter(
    new Float32Array(shape.reduce((a, b) => a * b, 1)),
    shape,
  );
}

/** GPT-2 medium: 24 blocks of width 1024, a 50,257-token vocabulary. */
function gpt2Medium() {
  const block = () => ({
    ln_1: new LayerNorm(),
    attn: { c_attn: new Linear(1024, 3072), c_proj: new Linear(1024, 1024) },
    ln_2: new LayerNorm(),
    mlp: { c_fc: new Linear(1024, 4096), c_proj: new Linear(4096, 1024) },
  });
  return {
    wte: new Embedding(50257, 1024),
    wpe: new Embedding(1024, 1024),
    h: Array.from({ length: 24 }, block),
    ln_f: new LayerNorm(),
  };
}

/** Resident memory now and its peak since the last reset, from /proc (Linux). */
function memory(): { rss: number; peak: number } {
  const status = Deno.readTextFileSync("/proc/self/status");
  const field = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)![1]) * 1024;
  return { rss: field("VmRSS"), peak: field("VmHWM") };
}

function resetPeak(): void {
  Deno.writeTextFileSync("/proc/self/clear_refs", "5");
}

const { device, adapterName } = await benchDevice();
const model = gpt2Medium();
// Every group decays, so the fused step touches the same bytes as the baseline.
const groups = getParamGroups(namedParameters(model), [[1e-5, "bias"], [
  5e-5,
  NORM_TYPES,
], 0.1]);
const floats = groups.reduce(
  (n, g) => n + g.params.reduce((m, p) => m + p.size, 0),
  0,
);
const modelBytes = floats * 4;

const before = memory();
resetPeak();
const decay = GpuDecay.create(device, groups);
await device.queue.onSubmittedWorkDone();
const after = memory();
const uploadPeak = after.peak - before.rss;
const largestShard = Math.max(...decay.buffers.map((b) => b.size));

console.log(`WebGPU adapter: ${adapterName}`);
console.log(
  `GPT-2 medium layout: ${(floats / 1e6).toFixed(1)}M parameters, ${
    (modelBytes / GIB).toFixed(2)
  } GiB, ` +
    `${decay.buffers.length} shards of at most ${
      (largestShard / 2 ** 20).toFixed(0)
    } MiB`,
);
console.log(
  `upload: resident memory peaked ${
    (uploadPeak / GIB).toFixed(2)
  } GiB above the model on the host: ` +
    `the arena (${
      (modelBytes / GIB).toFixed(2)
    } GiB, in host memory on a software adapter) and ` +
    `${
      ((uploadPeak - modelBytes) / 2 ** 20).toFixed(0)
    } MiB of staging (one shard is ` +
    `${
      (largestShard / 2 ** 20).toFixed(0)
    } MiB); a second full host copy would add ` +
    `${(modelBytes / GIB).toFixed(2)} GiB more`,
);

const GROUP = `GPT-2 medium (${
  (floats / 1e6).toFixed(0)
}M floats, ${decay.buffers.length} shards), ${STEPS} steps`;
const scale = singleBufferScale(device, floats);
Deno.bench({
  name: "scale kernel over the same bytes (one dispatch per 128 MiB buffer)",
  group: GROUP,
  baseline: true,
  warmup: 1,
  n: 4,
  async fn() {
    for (let i = 0; i < STEPS; i++) scale.step();
    await device.queue.onSubmittedWorkDone();
  },
});
Deno.bench({
  name: "GpuDecay.step (fused)",
  group: GROUP,
  warmup: 1,
  n: 4,
  async fn() {
    for (let i = 0; i < STEPS; i++) decay.step(1e-3);
    await device.queue.onSubmittedWorkDone();
  },
});
