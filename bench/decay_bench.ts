// Copyright 2026 the weight-decay authors. MIT license.
/**
 * The fused decay step against its baselines, on a ResNet-50 and on 2,000 small
 * tensors: the simplest scale kernel over one buffer holding every value (the limit),
 * and one dispatch per tensor; and the CPU engine against a naive loop and a copy.
 * Run by `deno task bench` (see `bench/main.ts`).
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
import { perTensorScale, singleBufferScale } from "./_baselines.ts";
import type { Comparison, Figure, Section, Variant } from "./_harness.ts";

/** Every group decays, so the fused step touches the same bytes as the baselines. */
const POLICY = [[1e-5, "bias"], [5e-5, NORM_TYPES], 1e-4] as const;
const LR = 1e-3;
const LIMIT = "scale kernel over one buffer";
const PER_TENSOR = "one dispatch per tensor";
const FUSED = "GpuDecay.step (fused)";
/** The layout of many small tensors: how many, and floats each. */
export const MANY = 2000;
export const MANY_SIZE = 1000;

/**
 * A count as the output writes it.
 *
 * @param n The count.
 * @returns E.g. "2,000".
 */
export function count(n: number): string {
  return n.toLocaleString("en-US");
}

/** A layout to decay: its groups and what to call it. */
interface Layout {
  readonly title: string;
  readonly groups: ParamGroup[];
}

/**
 * The decay comparisons: fused against the limit and against per-tensor dispatch on
 * each layout, then the CPU engine.
 */
export const decaySection: Section = {
  name: "Decay",
  async *comparisons({ device }) {
    yield gpuComparison(device, resnet(), { steps: 8, perTensorSteps: 8 });
    yield gpuComparison(device, many(), {
      steps: 24,
      perTensorSteps: 3,
      oneTensor: true,
      repetitions: 7,
    });
    yield fixedCost(device);
    for (const layout of [resnet(), many()]) yield cpuComparison(layout);
  },
};

/** Floats of the model whose step is all fixed cost. */
const TINY = 1024;

/**
 * What a step costs besides its bytes: one tensor of `TINY` floats, where the fused
 * step's gate dispatch, its step slot's `writeBuffer` and its submit are all there is.
 */
function fixedCost(device: GPUDevice): Comparison {
  const fused = GpuDecay.create(device, [{
    weightDecay: 1e-4,
    lrScale: 1,
    params: [new Parameter(new Float32Array(TINY))],
    names: ["tiny"],
  }]);
  const limit = singleBufferScale(device, TINY);
  return {
    title: `one tensor of ${count(TINY)} floats on the GPU`,
    timer: { kind: "gpu", device, steps: 64 },
    repetitions: 9,
    variants: [
      { name: LIMIT, step: limit.step },
      { name: FUSED, step: () => fused.step(LR) },
    ],
    figures: [
      { label: "fused", candidate: FUSED, baseline: LIMIT, terms: "limit" },
      {
        label: "the fused step's fixed cost",
        candidate: FUSED,
        baseline: LIMIT,
        terms: "extra",
      },
    ],
    notes: [
      "the limit is one dispatch, the fused step two (the gate, then the update) after one writeBuffer",
    ],
    destroy() {
      fused.destroy();
      limit.destroy();
    },
  };
}

function resnet(): Layout {
  const groups = getParamGroups(namedParameters(new ResNet50()), POLICY);
  return {
    title: `ResNet-50 (${describe(groups)}, 3 groups)`,
    groups,
  };
}

function many(): Layout {
  const params = manyTensors(MANY, MANY_SIZE).blocks.map((b) => b.weight);
  return {
    title: `${count(MANY)} tensors of ${count(MANY_SIZE)} floats`,
    groups: [{ weightDecay: 1e-4, lrScale: 1, params, names: [] }],
  };
}

/**
 * The layout's size in words, e.g. "161 tensors, 25.6M floats".
 *
 * @param groups The groups.
 * @returns The words.
 */
export function describe(groups: readonly ParamGroup[]): string {
  const sizes = sizesOf(groups);
  return `${count(sizes.length)} tensors, ${
    (total(sizes) / 1e6).toFixed(1)
  }M floats`;
}

function sizesOf(groups: readonly ParamGroup[]): number[] {
  return groups.flatMap((g) => g.params.map((p) => p.size));
}

function total(sizes: readonly number[]): number {
  return sizes.reduce((a, b) => a + b, 0);
}

function gpuComparison(
  device: GPUDevice,
  layout: Layout,
  options: {
    /** K, and K for per-tensor dispatch. */
    steps: number;
    perTensorSteps: number;
    /** Whether to add one tensor of all the values: a step should cost the same. */
    oneTensor?: boolean;
    repetitions?: number;
  },
): Comparison {
  const sizes = sizesOf(layout.groups);
  const floats = total(sizes);
  const fused = GpuDecay.create(device, layout.groups);
  const limit = singleBufferScale(device, floats);
  const perTensor = perTensorScale(device, sizes);
  const variants: Variant[] = [
    { name: LIMIT, step: limit.step },
    { name: FUSED, step: () => fused.step(LR) },
    { name: PER_TENSOR, step: perTensor.step, steps: options.perTensorSteps },
  ];
  const figures: Figure[] = [
    { label: "fused", candidate: FUSED, baseline: LIMIT, terms: "limit" },
    { label: "fused", candidate: FUSED, baseline: PER_TENSOR },
  ];
  const destroy = [fused, limit, perTensor];
  if (options.oneTensor) {
    const one = GpuDecay.create(device, [{
      weightDecay: 1e-4,
      lrScale: 1,
      params: [new Parameter(new Float32Array(floats))],
      names: ["one"],
    }]);
    const name = `GpuDecay.step, one tensor of ${floats / 1e6}M floats`;
    variants.push({ name, step: () => one.step(LR) });
    figures.push({
      label: `one tensor of ${floats / 1e6}M floats`,
      candidate: name,
      baseline: LIMIT,
      terms: "limit",
    });
    destroy.push(one);
  }
  return {
    title: `${layout.title} on the GPU`,
    timer: { kind: "gpu", device, steps: options.steps },
    repetitions: options.repetitions ?? 5,
    variants,
    figures,
    notes: [
      `the limit is the plainest kernel: one vec4 per thread over one buffer of all ${floats} values, the factor in a uniform`,
    ],
    destroy: () => destroy.forEach((work) => work.destroy()),
  };
}

function cpuComparison(layout: Layout): Comparison {
  const { groups } = layout;
  const sources = groups.flatMap((g) => g.params.map((p) => p.data));
  const copies = sources.map((data) => new Float32Array(data.length));
  const decay = new CpuDecay(groups);
  const naive = "naive loop per tensor";
  const copy = "Float32Array.prototype.set of the same bytes";
  return {
    title: `${layout.title} on the CPU`,
    timer: { kind: "host", minMs: 100 },
    repetitions: 7,
    variants: [
      { name: naive, step: () => naiveDecay(groups, LR) },
      { name: "CpuDecay.step", step: () => decay.step(LR) },
      {
        name: copy,
        step: () => sources.forEach((data, i) => copies[i]!.set(data)),
      },
    ],
    figures: [
      { label: "CpuDecay.step", candidate: "CpuDecay.step", baseline: naive },
      {
        label: "CpuDecay.step",
        candidate: "CpuDecay.step",
        baseline: copy,
        terms: "limit",
      },
    ],
    notes: [
      "the naive loop: for each group its factor Math.fround(1 - lr * wd), then data[i] *= factor over each tensor",
    ],
  };
}

/** What a loop over tensors does without an engine: the same f32 products. */
function naiveDecay(groups: readonly ParamGroup[], lr: number): void {
  for (const group of groups) {
    const factor = Math.fround(1 - lr * group.weightDecay);
    for (const { data } of group.params) {
      for (let i = 0; i < data.length; i++) data[i]! *= factor;
    }
  }
}
