// deno-lint-ignore-file no-console
// Copyright 2026 the weight-decay authors. MIT license.
/**
 * One optimizer step of `tfjsAdamW` against what TensorFlow.js users run today,
 * `tf.train.adam` and then `TfjsDecay`, on a model of 12 dense + layer normalization
 * blocks of width 64 (48 variables), on the webgpu and the cpu backends:
 *
 *   deno bench --allow-read --allow-env bench/tfjs_adamw_bench.ts
 *
 * Every variant steps its own copy of the model with the same gradients, from one real
 * backward pass (so on webgpu they are in GPU buffers, as in training); the forward and
 * backward passes themselves are left out, being the same for every optimizer.
 *
 * The figures printed first are the results: the variants take turns within each of
 * `ROUNDS` rounds (tfjs's kernels get slower the longer a Deno process runs, which
 * turns would otherwise charge to whichever ran last), and each variant's figure is
 * the median over the rounds, with the smallest and largest. On webgpu a round times
 * one step then one wait, and `K` steps then one wait (the wait alone costs ~11 ms in
 * Deno), and takes the marginal cost `(T(K) - T(1)) / (K - 1)`; on cpu, where nothing
 * waits, `T(K) / K`. Each variant's K (printed) makes a timing last about `TARGET_MS`.
 * The `Deno.bench` entries after them time K steps then one wait, a few times each,
 * for tf.train.adam + TfjsDecay and tfjsAdamW (all four on cpu).
 * The whole run takes about two minutes on llvmpipe.
 *
 * The last group compares, on the backend's device, what a fused step pays per
 * variable: two copies (the gradient in, the variable out of the arena, which the
 * fused path does), or one bind group (which a pass over the variables' own buffers
 * would need every step, since every gradient is a new buffer).
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
import { adapterName, ignoreGpu } from "../tests/_gpu.ts";
import { deepModel, tf } from "../tests/_tfjs.ts";

const POLICY = [[0, "bias"], [0, NORM_TYPES], 0.05] as const;
const BLOCKS = 12;
const WIDTH = 64;
const LR = 1e-3;
/**
 * Each variant's K: enough steps for about this many ms, so the wait (and its jitter)
 * is small next to the steps, and slow variants stay short (tf.train.adam takes ~0.2 s
 * a step on llvmpipe); a power of two from 8 to 128.
 */
const TARGET_MS = 250;
const ROUNDS = 5;

/** One optimizer step of a variant, and the path it took. */
interface Variant {
  step(): void;
  path?(): TfjsAdamWPath | undefined;
  /** Steps per timing, set from a first timing. */
  steps?: number;
}

/** A fresh model's groups, and its gradients from one backward pass. */
function modelAndGradients(): {
  groups: ParamGroup<tf.Variable>[];
  grads: { name: string; tensor: tf.Tensor }[];
} {
  const model = deepModel(BLOCKS, WIDTH);
  const groups = getParamGroups(
    tfjsNamedParameters<tf.Variable>(model),
    POLICY,
  );
  const variables = groups.flatMap((g) => g.params);
  const xs = tf.randomNormal([32, WIDTH], 0, 1, "float32", 1);
  const ys = tf.randomNormal([32, WIDTH], 0, 1, "float32", 2);
  const { value, grads } = tf.variableGrads(
    () => tf.losses.meanSquaredError(ys, model.apply(xs) as tf.Tensor),
    variables,
  );
  tf.dispose([xs, ys, value]);
  return {
    groups,
    grads: variables.map((v) => ({ name: v.name, tensor: grads[v.name]! })),
  };
}

/** The variants, each over its own model. */
function variants(): Record<string, Variant> {
  const adamDecay = modelAndGradients();
  const adamOnly = modelAndGradients();
  const fast = modelAndGradients();
  const perVariable = modelAndGradients();
  const adam = tf.train.adam(LR);
  const adam2 = tf.train.adam(LR);
  const decay = new TfjsDecay(tf, adamDecay.groups);
  const fused = tfjsAdamW(tf, fast.groups, { learningRate: LR });
  const ops = tfjsAdamW(tf, perVariable.groups, {
    learningRate: LR,
    fused: false,
  });
  return {
    "tf.train.adam + TfjsDecay": {
      step: () => {
        adam.applyGradients(adamDecay.grads);
        decay.step(LR);
      },
    },
    "tf.train.adam alone": { step: () => adam2.applyGradients(adamOnly.grads) },
    "tfjsAdamW": {
      step: () => fused.applyGradients(fast.grads),
      path: () => fused.lastPath,
    },
    "tfjsAdamW, fused: false": {
      step: () => ops.applyGradients(perVariable.grads),
      path: () => ops.lastPath,
    },
  };
}

/** The webgpu backend's internals the benchmark reads. */
interface WebGpuBackend {
  device: GPUDevice;
  commandEncoder: GPUCommandEncoder | null;
  submitQueue(): void;
}

/** Submits what the webgpu backend holds and waits for the queue; nothing on cpu. */
async function finish(): Promise<void> {
  if (tf.getBackend() !== "webgpu") return;
  const backend = tf.backend() as unknown as WebGpuBackend;
  if (backend.commandEncoder !== null) backend.submitQueue();
  await backend.device.queue.onSubmittedWorkDone();
}

async function time(step: () => void, steps: number): Promise<number> {
  await finish();
  const start = performance.now();
  for (let i = 0; i < steps; i++) step();
  await finish();
  return performance.now() - start;
}

/** Median, smallest and largest of some values. */
function stats(values: number[]): { median: number; min: number; max: number } {
  const sorted = values.toSorted((a, b) => a - b);
  return {
    median: sorted[sorted.length >> 1]!,
    min: sorted[0]!,
    max: sorted.at(-1)!,
  };
}

/** ms per step of each variant in each round, the variants taking turns. */
async function measure(
  all: Record<string, Variant>,
  marginal: boolean,
): Promise<Record<string, number[]>> {
  const perStep: Record<string, number[]> = {};
  for (const variant of Object.values(all)) {
    const estimate = await time(variant.step, 8) / 8;
    const wanted = Math.log2(TARGET_MS / Math.max(estimate, 1e-3));
    variant.steps = 2 ** Math.min(7, Math.max(3, Math.round(wanted)));
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, { step, steps = 8 }] of Object.entries(all)) {
      const one = marginal ? await time(step, 1) : 0;
      const many = await time(step, steps);
      (perStep[name] ??= []).push(
        marginal ? (many - one) / (steps - 1) : many / steps,
      );
    }
  }
  return perStep;
}

async function report(
  backend: "webgpu" | "cpu",
): Promise<Record<string, Variant>> {
  await tf.setBackend(backend);
  const all = variants();
  for (const { step } of Object.values(all)) step(); // uploads, builds, warms up
  const perStep = await measure(all, backend === "webgpu");
  const baseline = stats(perStep["tf.train.adam + TfjsDecay"]!).median;
  const adam = stats(perStep["tf.train.adam alone"]!).median;
  console.log(
    `\n${backend} backend${
      backend === "webgpu" ? ` on ${adapterName()}` : ""
    }: one step of ${BLOCKS * 4} variables, ms per step${
      backend === "webgpu" ? " (marginal)" : ""
    }, median [min, max] over ${ROUNDS} rounds`,
  );
  for (const [name, { path, steps }] of Object.entries(all)) {
    const { median, min, max } = stats(perStep[name]!);
    const taken = path?.();
    console.log(
      `  ${name.padEnd(26)} K ${String(steps).padStart(3)} ${
        median.toFixed(3).padStart(9)
      } [${min.toFixed(3)}, ${max.toFixed(3)}]   ${
        (baseline / median).toFixed(2)
      }x adam+decay, ${(adam / median).toFixed(2)}x adam${
        taken === undefined ? "" : `   (path: ${taken})`
      }`,
    );
  }
  return all;
}

function registerBenches(
  backend: "webgpu" | "cpu",
  all: Record<string, Variant>,
): void {
  for (const [name, { step, steps = 8 }] of Object.entries(all)) {
    const slow = name !== "tf.train.adam + TfjsDecay" && name !== "tfjsAdamW";
    if (backend === "webgpu" && slow) continue;
    Deno.bench({
      name: `${name}, ${steps} steps${
        backend === "webgpu" ? " then one wait" : ""
      }`,
      group: `${backend}: one step of ${BLOCKS * 4} variables`,
      baseline: name === "tf.train.adam + TfjsDecay",
      ignore: backend === "webgpu" && ignoreGpu,
      n: backend === "webgpu" ? 2 : 3,
      warmup: 0,
      async fn(b) {
        await tf.setBackend(backend);
        await finish();
        b.start();
        for (let i = 0; i < steps; i++) step();
        await finish();
        b.end();
      },
    });
  }
}

/** What a pass over the variables' own buffers pays per step instead of copies. */
function registerCopyCosts(): void {
  const device = (tf.backend() as unknown as WebGpuBackend).device;
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
  const group =
    `webgpu: per step, for ${variables} variables of ${WIDTH}x${WIDTH}`;
  Deno.bench({
    name: `${
      2 * variables
    } copies between their buffers and an arena, one submit`,
    group,
    baseline: true,
    warmup: 5,
    fn() {
      const encoder = device.createCommandEncoder();
      for (let i = 0; i < variables; i++) {
        encoder.copyBufferToBuffer(buffers[i]!, 0, arena, i * size, size);
        encoder.copyBufferToBuffer(arena, i * size, buffers[i]!, 0, size);
      }
      device.queue.submit([encoder.finish()]);
    },
  });
  Deno.bench({
    name:
      `${variables} bind groups of (p, g, m, v), as binding their own buffers needs`,
    group,
    warmup: 5,
    fn() {
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
  });
}

if (ignoreGpu) {
  console.log("No WebGPU adapter: the webgpu benchmarks are IGNORED");
} else {
  const webgpu = await report("webgpu");
  registerBenches("webgpu", webgpu);
  registerCopyCosts();
}
registerBenches("cpu", await report("cpu"));
