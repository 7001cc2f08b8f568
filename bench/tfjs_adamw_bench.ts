// Copyright 2026 the weight-decay authors. MIT license.
/**
 * One optimizer step of `tfjsAdamW` against what TensorFlow.js users run today,
 * `tf.train.adam` and then `TfjsDecay`, on a model of 12 dense + layer normalization
 * blocks of width 64 (48 variables), on the webgpu and the cpu backends; a section of
 * `deno task bench` (`--only "TensorFlow.js AdamW"`).
 *
 * Every variant steps its own copy of the model with the same gradients, from one real
 * backward pass (so on webgpu they are in GPU buffers, as in training); the forward and
 * backward passes themselves are left out, being the same for every optimizer. A last
 * comparison shows what a fused step pays per variable on the device: two copies (the
 * gradient in, the variable out of the arena, which the fused path does), against one
 * bind group (which a pass over the variables' own buffers would need every step,
 * since every gradient is a new buffer).
 *
 * @module
 */

import { getParamGroups, NORM_TYPES, type ParamGroup } from "../mod.ts";
import {
  tfjsAdamW,
  type TfjsAdamWPath,
  TfjsDecay,
  tfjsNamedParameters,
} from "../tfjs.ts";
import type { Comparison, Section } from "./_harness.ts";
import type { Tensor, Variable } from "@tensorflow/tfjs-core";
import { tfjsWebGpu } from "./tfjs_bench.ts";

type Tf = Awaited<ReturnType<typeof tfjsWebGpu>>["tf"];

const POLICY = [[0, "bias"], [0, NORM_TYPES], 0.05] as const;
const BLOCKS = 12;
const WIDTH = 64;
const LR = 1e-3;
const BASELINE = "tf.train.adam + TfjsDecay";
const ADAM = "tf.train.adam alone";
const OURS = "tfjsAdamW";
const OPS = "tfjsAdamW, fused: false";

/** One optimizer step of a variant, and the path it took. */
interface Variant {
  step(): void;
  path?(): TfjsAdamWPath | undefined;
}

/** A fresh model's groups, and its gradients from one backward pass. */
function modelAndGradients(
  tf: Tf,
  deepModel: Awaited<ReturnType<typeof tfjsWebGpu>>["models"]["deepModel"],
): {
  groups: ParamGroup<Variable>[];
  grads: { name: string; tensor: Tensor }[];
} {
  const model = deepModel(BLOCKS, WIDTH);
  const groups = getParamGroups(
    tfjsNamedParameters<Variable>(model),
    POLICY,
  );
  const variables = groups.flatMap((g) => g.params);
  const xs = tf.randomNormal([32, WIDTH], 0, 1, "float32", 1);
  const ys = tf.randomNormal([32, WIDTH], 0, 1, "float32", 2);
  const { value, grads } = tf.variableGrads(
    () => tf.losses.meanSquaredError(ys, model.apply(xs) as Tensor),
    variables,
  );
  tf.dispose([xs, ys, value]);
  return {
    groups,
    grads: variables.map((v) => ({ name: v.name, tensor: grads[v.name]! })),
  };
}

/** The variants, each over its own model, and how to free what they made. */
function variants(
  { tf, models: { deepModel } }: Awaited<ReturnType<typeof tfjsWebGpu>>,
): { all: Record<string, Variant>; destroy(): void } {
  const adamDecay = modelAndGradients(tf, deepModel);
  const adamOnly = modelAndGradients(tf, deepModel);
  const fast = modelAndGradients(tf, deepModel);
  const perVariable = modelAndGradients(tf, deepModel);
  const adam = tf.train.adam(LR);
  const adam2 = tf.train.adam(LR);
  const decay = new TfjsDecay(tf, adamDecay.groups);
  const fused = tfjsAdamW(tf, fast.groups, { learningRate: LR });
  const ops = tfjsAdamW(tf, perVariable.groups, {
    learningRate: LR,
    fused: false,
  });
  const all: Record<string, Variant> = {
    [BASELINE]: {
      step: () => {
        adam.applyGradients(adamDecay.grads);
        decay.step(LR);
      },
    },
    [ADAM]: { step: () => adam2.applyGradients(adamOnly.grads) },
    [OURS]: {
      step: () => fused.applyGradients(fast.grads),
      path: () => fused.lastPath,
    },
    [OPS]: {
      step: () => ops.applyGradients(perVariable.grads),
      path: () => ops.lastPath,
    },
  };
  return {
    all,
    destroy() {
      decay.destroy();
      for (const optimizer of [adam, adam2, fused, ops]) optimizer.dispose();
    },
  };
}

/** The four optimizers on one backend, timed side by side. */
async function optimizers(
  backend: "webgpu" | "cpu",
): Promise<Comparison> {
  const tfjs = await tfjsWebGpu();
  const { tf, device, flush } = tfjs;
  if (!await tf.setBackend(backend)) throw new Error(`no ${backend} backend`);
  const { all, destroy } = variants(tfjs);
  for (const { step } of Object.values(all)) step(); // uploads, builds, warms up
  const paths = Object.entries(all).flatMap(([name, { path }]) => {
    const taken = path?.();
    return taken === undefined ? [] : [`${name} took the "${taken}" path`];
  });
  return {
    title: `one step of ${BLOCKS * 4} variables on the ${backend} backend`,
    timer: backend === "webgpu"
      ? { kind: "gpu", device, steps: 32, flush }
      : { kind: "host", minMs: 200 },
    variants: Object.entries(all).map(([name, { step }]) => ({
      name,
      step,
      ...(backend === "webgpu" && name !== OURS ? { steps: 2 } : {}),
    })),
    figures: [
      {
        label: OURS,
        candidate: OURS,
        baseline: BASELINE,
        goal: backend === "webgpu" ? { atLeast: 3 } : { atLeast: 1 },
      },
      { label: OURS, candidate: OURS, baseline: ADAM },
      { label: OPS, candidate: OPS, baseline: BASELINE },
    ],
    notes: [
      `${BLOCKS} dense + layer normalization blocks of width ${WIDTH}; every variant steps its own copy with the gradients of one backward pass`,
      ...paths,
    ],
    destroy,
  };
}

/** What a fused step pays per variable, against what binding their buffers would. */
async function copyCosts(): Promise<Comparison> {
  const { tf, device } = await tfjsWebGpu();
  await tf.setBackend("webgpu");
  const variables = BLOCKS * 4;
  const size = WIDTH * WIDTH * 4;
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC |
    GPUBufferUsage.COPY_DST;
  const buffers = Array.from(
    { length: 4 * variables },
    () => device.createBuffer({ size, usage }),
  );
  const arena = device.createBuffer({ size: variables * size, usage });
  const layout = device.createBindGroupLayout({
    entries: [0, 1, 2, 3].map((binding) => ({
      binding,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type: "storage" as const },
    })),
  });
  const copies = `${2 * variables} copies to and from an arena, one submit`;
  const bindGroups = `${variables} bind groups of (p, g, m, v)`;
  return {
    title: `per fused step, for ${variables} variables of ${WIDTH}x${WIDTH}`,
    timer: { kind: "host", minMs: 100 },
    variants: [
      {
        name: copies,
        step() {
          const encoder = device.createCommandEncoder();
          for (let i = 0; i < variables; i++) {
            encoder.copyBufferToBuffer(buffers[i]!, 0, arena, i * size, size);
            encoder.copyBufferToBuffer(arena, i * size, buffers[i]!, 0, size);
          }
          device.queue.submit([encoder.finish()]);
        },
      },
      {
        name: bindGroups,
        step() {
          for (let i = 0; i < variables; i++) {
            device.createBindGroup({
              layout,
              entries: [0, 1, 2, 3].map((k) => ({
                binding: k,
                resource: { buffer: buffers[4 * i + k]! },
              })),
            });
          }
        },
      },
    ],
    figures: [{ label: "copies", candidate: copies, baseline: bindGroups }],
    notes: [
      "host time to record and submit; why the fused path packs the variables into an arena with copies instead of binding their own buffers",
    ],
    destroy() {
      for (const buffer of [...buffers, arena]) buffer.destroy();
    },
  };
}

/** tfjsAdamW against tf.train.adam + TfjsDecay, on both backends. */
export const tfjsAdamWSection: Section = {
  name: "TensorFlow.js AdamW",
  async *comparisons() {
    yield await optimizers("webgpu");
    yield await copyCosts();
    yield await optimizers("cpu");
  },
};
