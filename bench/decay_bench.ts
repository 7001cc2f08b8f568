// Copyright 2026 the weight-decay authors. MIT license.
// deno-lint-ignore-file no-console
/**
 * The fused decay step against its baselines, side by side on one device:
 *
 *   deno task bench            (or: deno bench --allow-read --allow-env bench/decay_bench.ts)
 *
 * Each group has a baseline, and `deno bench` prints every other entry's time as a
 * ratio of it. GPU entries run `STEPS` steps and then wait once for the queue, since a
 * wait alone costs ~11 ms in Deno; absolute times on a software adapter mean little.
 *
 * @module
 */

import {
  CpuDecay,
  getParamGroups,
  GpuDecay,
  namedParameters,
  NORM_TYPES,
  Parameter,
  type ParamGroup,
} from "../mod.ts";
import { manyTensors, ResNet50 } from "../tests/_models.ts";
import {
  benchDevice,
  bufferCopy,
  type GpuWork,
  perTensorScale,
  singleBufferScale,
} from "./_baselines.ts";

/** Every group decays, so the fused step touches the same bytes as the baselines. */
const POLICY = [[1e-5, "bias"], [5e-5, NORM_TYPES], 1e-4] as const;
const STEPS = 8;

const { device, adapterName } = await benchDevice();
console.log(`WebGPU adapter: ${adapterName}`);

function gpuBench(
  group: string,
  name: string,
  work: GpuWork,
  baseline = false,
): void {
  Deno.bench({
    name,
    group,
    baseline,
    warmup: 2,
    n: 10,
    async fn() {
      for (let i = 0; i < STEPS; i++) work.step();
      await device.queue.onSubmittedWorkDone();
    },
  });
}

function decayWork(groups: ParamGroup[]): GpuWork {
  const decay = GpuDecay.create(device, groups);
  return { step: () => decay.step(1e-3), destroy: () => decay.destroy() };
}

function sizesOf(groups: ParamGroup[]): number[] {
  return groups.flatMap((g) => g.params.map((p) => p.size));
}

function total(sizes: number[]): number {
  return sizes.reduce((a, b) => a + b, 0);
}

// --- ResNet-50: 161 tensors, 25.6M floats --------------------------------------------
const resnet = getParamGroups(namedParameters(new ResNet50()), POLICY);
const resnetSizes = sizesOf(resnet);
const RESNET = `ResNet-50 (${resnetSizes.length} tensors, ${
  (total(resnetSizes) / 1e6).toFixed(1)
}M floats), ${STEPS} steps`;
gpuBench(
  RESNET,
  "scale kernel over one buffer",
  singleBufferScale(device, total(resnetSizes)),
  true,
);
gpuBench(RESNET, "GpuDecay.step (fused, 3 groups)", decayWork(resnet));
gpuBench(
  RESNET,
  "one dispatch per tensor",
  perTensorScale(device, resnetSizes),
);
gpuBench(
  RESNET,
  "copyBufferToBuffer of the same bytes",
  bufferCopy(device, total(resnetSizes) * 4),
);

// --- 2,000 tensors of 1,000 floats -------------------------------------------------
const many = [{
  weightDecay: 1e-4,
  params: manyTensors(2000, 1000).blocks.map((b) => b.weight),
  names: [],
}];
const MANY = `2,000 tensors of 1,000 floats, ${STEPS} steps`;
gpuBench(
  MANY,
  "scale kernel over one buffer",
  singleBufferScale(device, 2_000_000),
  true,
);
gpuBench(MANY, "GpuDecay.step (fused, 2,000 tensors)", decayWork(many));
gpuBench(
  MANY,
  "GpuDecay.step (one tensor of 2M floats)",
  decayWork([{
    weightDecay: 1e-4,
    params: [new Parameter(new Float32Array(2_000_000))],
    names: ["one"],
  }]),
);
gpuBench(
  MANY,
  "one dispatch per tensor",
  perTensorScale(device, sizesOf(many)),
);
gpuBench(
  MANY,
  "copyBufferToBuffer of the same bytes",
  bufferCopy(device, 8_000_000),
);

// --- The CPU path against a plain copy of the same bytes -----------------------------
function cpuBench(group: string, groups: ParamGroup[]): void {
  const sources = groups.flatMap((g) => g.params.map((p) => p.data));
  const copies = sources.map((data) => new Float32Array(data.length));
  const decay = new CpuDecay(groups);
  Deno.bench({
    name: "Float32Array.prototype.set of the same bytes",
    group,
    baseline: true,
    warmup: 20,
    fn() {
      for (let i = 0; i < sources.length; i++) copies[i]!.set(sources[i]!);
    },
  });
  Deno.bench({
    name: "CpuDecay.step",
    group,
    warmup: 20,
    fn: () => decay.step(1e-3),
  });
}
cpuBench(
  "CPU: ResNet-50",
  getParamGroups(namedParameters(new ResNet50()), POLICY),
);
cpuBench("CPU: 2,000 tensors of 1,000 floats", [{
  weightDecay: 1e-4,
  params: manyTensors(2000, 1000).blocks.map((b) => b.weight),
  names: [],
}]);
