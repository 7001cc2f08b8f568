// Copyright 2026 the weight-decay authors. MIT license.
/**
 * The fused AdamW step against what it replaces and against what it cannot beat, on a
 * ResNet-50 layout and on 2,000 tensors of 1,000 values:
 *
 * - *fused*: `GpuAdamW.step()`, one pass: the gate, then one dispatch per shard;
 * - *single-buffer limit*: the same math once over the same bytes, one buffer each for
 *   p, g, m and v, with no tables: the speed a fused multi-tensor step aims for;
 * - *four passes*: decay, first moment, second moment and update, one whole-buffer pass
 *   each, as unfused element-wise kernels do it (more memory traffic);
 * - *per-tensor dispatch*: the limit's kernel dispatched once per tensor;
 * - *fused with `maxGradNorm` and `skipNonFinite`*: the gradient-norm reduction added
 *   to the same submission (one more dispatch per shard);
 * - *host clipping*: the gradients read back each step, their norm summed on the host,
 *   then the limit's kernel with the clip coefficient: the round trip the GPU
 *   reduction avoids.
 *
 * Every baseline calls the arena kernel's own per-value math (`adamw_step` of
 * `ADAMW_MATH_WGSL`); on the small layout the run first checks that one step of each
 * gives the engine's parameters bit for bit. Run by `deno task bench`.
 *
 * @module
 */

import {
  getParamGroups,
  GpuAdamW,
  namedParameters,
  NORM_TYPES,
  Parameter,
  type ParamGroup,
} from "../mod.ts";
import { manyTensors, random, randomData, ResNet50 } from "../tests/_models.ts";
import { AdamWBaselines } from "./_adamw_baselines.ts";
import { reductions } from "./_reduce_baselines.ts";
import { count, describe, MANY, MANY_SIZE } from "./decay_bench.ts";
import { ADAMW_CHUNK_ELEMENTS, REDUCE_CHUNKS } from "../src/decay_kernel.ts";
import type { Comparison, Section } from "./_harness.ts";

const POLICY = [[0, "bias"], [0, NORM_TYPES], 0.05] as const;
const LR = 1e-3;
const WEIGHT_DECAY = 0.05;
/** Small enough that every step clips: random gradients have a norm in the hundreds. */
const MAX_GRAD_NORM = 1;
/** Values of the model whose step is all fixed cost. */
const TINY = 1024;

const LIMIT = "single-buffer limit";
const FUSED = "GpuAdamW.step (fused)";
const FOUR = "four passes (decay, m, v, update)";
const PER_TENSOR = "one dispatch per tensor";
const CLIPPED = "GpuAdamW.step, maxGradNorm + skipNonFinite";
const HOST = "clipping on the host (gradients read back each step)";

/** The AdamW comparisons, one per layout. */
export const adamwSection: Section = {
  name: "AdamW",
  async *comparisons({ device }) {
    const resnet = getParamGroups(
      namedParameters(new ResNet50("random", 3)),
      POLICY,
    );
    yield await comparison(device, `ResNet-50 (${describe(resnet)})`, resnet, {
      steps: [4, 4, 2],
      check: false,
      repetitions: 7,
    });
    yield reductionAlone(device, resnet);
    const many = getParamGroups(
      namedParameters(manyTensors(MANY, MANY_SIZE, "random", 4)),
      POLICY,
    );
    const title = `${count(MANY)} tensors of ${count(MANY_SIZE)} values`;
    yield await comparison(device, title, many, {
      steps: [12, 3, 2],
      check: true,
      repetitions: 7,
    });
    yield await fixedCost(device);
  },
};

/** The engines and baselines of one layout, made alike. */
interface Setup {
  readonly fused: GpuAdamW;
  readonly clipped: GpuAdamW;
  readonly baselines: AdamWBaselines;
  destroy(): void;
}

/**
 * Both engines over `groups` with the same random gradients, and the baselines over a
 * copy of the fused engine's shard; with `check`, first the check that every baseline
 * computes the engine's values.
 */
async function setUp(
  device: GPUDevice,
  groups: ParamGroup[],
  check: boolean,
): Promise<Setup> {
  const params = groups.flatMap((g) => g.params);
  const fused = GpuAdamW.create(device, groups);
  const next = random(6);
  for (const param of params) {
    fused.writeGrad(param, randomData(param.size, next));
  }
  const clipped = GpuAdamW.create(device, groups, {
    maxGradNorm: MAX_GRAD_NORM,
    skipNonFinite: true,
  });
  if (fused.buffers.length !== 1) {
    throw new Error("The AdamW baselines need a model that fits one shard");
  }
  const shard = {
    params: fused.buffers[0]!,
    grads: fused.gradBinding(params[0]!).buffer,
    tensors: params.filter((p) => p.size > 0).map((p) => fused.binding(p)),
  };
  copy(device, shard.grads, clipped.gradBinding(params[0]!).buffer);
  const baselines = new AdamWBaselines(device, shard, {
    lr: LR,
    weightDecay: WEIGHT_DECAY,
    maxGradNorm: MAX_GRAD_NORM,
  });
  if (check) await assertSameMath(device, fused, baselines);
  return {
    fused,
    clipped,
    baselines,
    destroy() {
      fused.destroy();
      clipped.destroy();
      baselines.destroy();
    },
  };
}

const NOTES = [
  "the limit reads p, g, m, v and writes p, m, v once, with the arena kernel's math (adamw_step), over one buffer each",
  `clipping: maxGradNorm ${MAX_GRAD_NORM}, so every step clips; the host-clipping baseline steps with the limit's kernel, so it is timed at its best`,
];

async function comparison(
  device: GPUDevice,
  title: string,
  groups: ParamGroup[],
  options: {
    /** K: for most variants (clipping on the GPU too), for per-tensor dispatch, and for clipping on the host. */
    steps: readonly [number, number, number];
    /** Whether to check first that every baseline computes the engine's values. */
    check: boolean;
    repetitions?: number;
  },
): Promise<Comparison> {
  const { fused, clipped, baselines, destroy } = await setUp(
    device,
    groups,
    options.check,
  );
  const [steps, perTensorSteps, hostSteps] = options.steps;
  const clipping = "fused, clipping and skipping";
  return {
    title,
    timer: { kind: "gpu", device, steps },
    repetitions: options.repetitions ?? 5,
    variants: [
      { name: LIMIT, step: baselines.limit },
      { name: FUSED, step: () => fused.step(LR) },
      { name: FOUR, step: baselines.fourPasses },
      { name: PER_TENSOR, step: baselines.perTensor, steps: perTensorSteps },
      { name: CLIPPED, step: () => clipped.step(LR) },
      { name: HOST, step: baselines.hostClipped, steps: hostSteps },
    ],
    figures: [
      { label: "fused", candidate: FUSED, baseline: LIMIT, terms: "limit" },
      { label: "fused", candidate: FUSED, baseline: FOUR },
      { label: "fused", candidate: FUSED, baseline: PER_TENSOR },
      {
        label: clipping,
        candidate: CLIPPED,
        baseline: LIMIT,
        terms: "limit",
        goal: { atLeast: 0.85 },
      },
      { label: clipping, candidate: CLIPPED, baseline: FUSED },
      {
        label: "the gradient-norm reduction",
        candidate: CLIPPED,
        baseline: FUSED,
        terms: "extra",
      },
      { label: clipping, candidate: CLIPPED, baseline: HOST },
    ],
    notes: NOTES,
    destroy,
  };
}

/**
 * The gradient-norm reduction's dispatch alone, over as many gradients as `groups`
 * hold, against the same per-element work with one partial per lane: what the
 * workgroup reduction (workgroup memory and barriers) costs.
 */
function reductionAlone(device: GPUDevice, groups: ParamGroup[]): Comparison {
  const floats = groups.reduce(
    (n, g) => n + g.params.reduce((m, p) => m + Math.ceil(p.size / 4) * 4, 0),
    0,
  );
  const { engine, perLane, destroy } = reductions(device, floats);
  const one = `GRAD_NORM_REDUCE_WGSL: ${REDUCE_CHUNKS} chunks per workgroup`;
  const lanes = "the same loads and sums, one chunk per workgroup";
  return {
    title: `the gradient-norm reduction alone, ${
      (floats / 1e6).toFixed(1)
    }M gradients`,
    timer: { kind: "gpu", device, steps: 8 },
    variants: [
      { name: lanes, step: perLane.step },
      { name: one, step: engine.step },
    ],
    figures: [{
      label: "the engine's reduce kernel",
      candidate: one,
      baseline: lanes,
    }],
    notes: [
      `one dispatch each, every lane writing its own partial (no barriers); the baseline runs a workgroup per AdamW chunk (${
        count(ADAMW_CHUNK_ELEMENTS)
      } vec4s), the engine's kernel one per ${REDUCE_CHUNKS} chunks, reading each chunk's end from its chunk table`,
    ],
    destroy,
  };
}

/**
 * What a step costs besides its bytes: one tensor of `TINY` values, where the gate, the
 * one-workgroup reduction and update dispatches, the slot's `writeBuffer` and the
 * submit are all there is.
 */
async function fixedCost(device: GPUDevice): Promise<Comparison> {
  const groups = [{
    weightDecay: WEIGHT_DECAY,
    lrScale: 1,
    params: [new Parameter(new Float32Array(TINY))],
    names: ["tiny"],
  }];
  const { fused, clipped, baselines, destroy } = await setUp(
    device,
    groups,
    false,
  );
  return {
    title: `one tensor of ${count(TINY)} values`,
    timer: { kind: "gpu", device, steps: 64 },
    repetitions: 9,
    variants: [
      { name: LIMIT, step: baselines.limit },
      { name: FUSED, step: () => fused.step(LR) },
      { name: CLIPPED, step: () => clipped.step(LR) },
      { name: HOST, step: baselines.hostClipped, steps: 8 },
    ],
    figures: [
      {
        label: "the fused step's fixed cost",
        candidate: FUSED,
        baseline: LIMIT,
        terms: "extra",
      },
      {
        label: "the reduction's fixed cost",
        candidate: CLIPPED,
        baseline: FUSED,
        terms: "extra",
      },
      {
        label: "the host round trip's fixed cost",
        candidate: HOST,
        baseline: LIMIT,
        terms: "extra",
      },
    ],
    notes: NOTES,
    destroy,
  };
}

function copy(device: GPUDevice, from: GPUBuffer, to: GPUBuffer): void {
  const encoder = device.createCommandEncoder({ label: "bench copy" });
  encoder.copyBufferToBuffer(from, 0, to, 0, from.size);
  device.queue.submit([encoder.finish()]);
}

/**
 * Takes the engine's first step and one step of each baseline from the same start, and
 * throws unless every baseline gives the engine's parameters bit for bit. The engine
 * is left one step on, the baselines where they started.
 */
async function assertSameMath(
  device: GPUDevice,
  engine: GpuAdamW,
  baselines: AdamWBaselines,
): Promise<void> {
  const shard = engine.buffers[0]!;
  const start = device.createBuffer({
    label: "bench adamw start",
    size: shard.size,
    usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
  copy(device, shard, start);
  engine.step(LR);
  const expected = await read(device, shard);
  for (
    const [name, step] of [
      [LIMIT, baselines.limit],
      [FOUR, baselines.fourPasses],
      [PER_TENSOR, baselines.perTensor],
    ] as const
  ) {
    baselines.reset(start);
    step();
    const found = await read(device, baselines.params);
    const at = found.findIndex((bits, i) => bits !== expected[i]);
    if (at !== -1) {
      throw new Error(
        `${name} differs from GpuAdamW after one step at value ${at}: 0x${
          found[at]!.toString(16)
        }, expected 0x${expected[at]!.toString(16)}`,
      );
    }
  }
  baselines.reset(start);
  start.destroy();
}

/** A buffer's contents as f32 bit patterns. */
async function read(
  device: GPUDevice,
  buffer: GPUBuffer,
): Promise<Uint32Array> {
  const staging = device.createBuffer({
    label: "bench read",
    size: buffer.size,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  copy(device, buffer, staging);
  await staging.mapAsync(GPUMapMode.READ);
  const bits = new Uint32Array(staging.getMappedRange().slice(0));
  staging.unmap();
  staging.destroy();
  return bits;
}
