// deno-lint-ignore-file no-console
// Copyright 2026 the weight-decay authors. MIT license.
/**
 * Trains a small TensorFlow.js model with AdamW, which TensorFlow.js does not have:
 * {@linkcode tfjsAdamW} is a `tf.Optimizer` with `torch.optim.AdamW`'s semantics that
 * `model.compile` takes, driven by parameter groups.
 *
 * What it shows:
 *
 * - `tfjsNamedParameters` names the model's trainable weights (`hidden1.kernel`,
 *   `bn.gamma`, ...) with their layers as owners; the moving mean and variance of the
 *   batch normalization are not trainable and never appear.
 * - One policy sets two things per weight: the weight decay (PyTorch's AdamW default
 *   of 1e-2, but none on biases and normalization layers, which TensorFlow.js calls
 *   `gamma` and `beta`: the `NORM_TYPES` rule catches them by layer class), and a
 *   learning-rate scale by layer, so the first layers learn slower than the head.
 * - The learning rate is a warmup + cosine schedule, one line; `model.fit` runs the
 *   training and prints the loss per epoch.
 * - At the end the run checks the decay alone: a fresh optimizer over the same groups
 *   takes one step with zero gradients (so Adam moves nothing), after which every
 *   decayed weight equals `Math.fround(w * Math.fround(1 - lr * lrScale * weightDecay))`
 *   and every bias and norm weight is bit for bit unchanged. It fails on any mismatch,
 *   if the loss does not fall, or on a WebGPU validation error.
 *
 * Run it from the repository root, on TensorFlow.js's cpu backend or, to see the fused
 * WebGPU pass, on its webgpu backend:
 *
 * ```sh
 * ./tools/deno run examples/train_tfjs.ts
 * ./tools/deno run examples/train_tfjs.ts --webgpu
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-webgpu";
import * as tfl from "@tensorflow/tfjs-layers";
import {
  getParamGroups,
  type GroupPolicy,
  NORM_TYPES,
  type ParamGroup,
} from "@decoupled/weight-decay";
import {
  tfjsAdamW,
  tfjsNamedParameters,
  warmupCosine,
} from "@decoupled/weight-decay/tfjs";

// Deno looks like Node.js to TensorFlow.js, whose cpu backend then advises installing
// tfjs-node; the flag is read only for that once TensorFlow.js is loaded.
tf.env().set("IS_NODE", false);

const SAMPLES = 256;
const INPUTS = 8;
const HIDDEN = 32;
const EPOCHS = 12;
const BATCH_SIZE = 32;
const PEAK_LR = 1e-2;
const WARMUP_STEPS = 8;
const SEED = 2026;
const POLICY: GroupPolicy = {
  weightDecay: [[0, "bias"], [0, NORM_TYPES], 1e-2],
  lrScale: [[0.5, "^(hidden1|bn)\\."], [0.75, "^(hidden2|ln)\\."], 1],
};
/** The run fails unless the last epoch's loss is at most this fraction of the first's. */
const REQUIRED_LOSS_RATIO = 0.5;

const STEPS = EPOCHS * Math.ceil(SAMPLES / BATCH_SIZE);

/** A regression onto a fixed random nonlinear "teacher" (seeded: every run is the same). */
function teacherData(): { xs: tf.Tensor; ys: tf.Tensor } {
  return tf.tidy(() => {
    const xs = tf.randomNormal([SAMPLES, INPUTS], 0, 1, "float32", SEED);
    const w = tf.randomNormal([INPUTS, 1], 0, 1, "float32", SEED + 1);
    const first = tf.slice(xs, [0, 0], [-1, 1]);
    const ys = tf.add(tf.tanh(tf.matMul(xs, w)), tf.mul(0.3, tf.square(first)));
    return { xs, ys };
  });
}

function buildModel(): tfl.Sequential {
  const seeded = (offset: number) =>
    tfl.initializers.glorotUniform({ seed: SEED + offset });
  return tfl.sequential({
    layers: [
      tfl.layers.dense({
        units: HIDDEN,
        inputShape: [INPUTS],
        activation: "relu",
        kernelInitializer: seeded(10),
        name: "hidden1",
      }),
      tfl.layers.batchNormalization({ name: "bn" }),
      tfl.layers.dense({
        units: HIDDEN,
        activation: "relu",
        kernelInitializer: seeded(11),
        name: "hidden2",
      }),
      tfl.layers.layerNormalization({ name: "ln" }),
      tfl.layers.dense({
        units: 1,
        kernelInitializer: seeded(12),
        name: "out",
      }),
    ],
  });
}

/** Every variable's values, read back in one transfer (one map on webgpu). */
async function readAll(
  variables: readonly tf.Variable[],
): Promise<Float32Array> {
  const flat = tf.tidy(() =>
    tf.concat(variables.map((v) => tf.reshape(v, [-1])))
  );
  const values = await flat.data() as Float32Array;
  flat.dispose();
  return values;
}

/**
 * Checks the decay alone: one step of a fresh optimizer over the same groups, with
 * zero gradients, so Adam's update is exactly zero. Decayed weights must be scaled by
 * their group's f32 factor, the others left bit for bit as they were.
 */
async function checkDecay(
  groups: readonly ParamGroup<tf.Variable>[],
  lr: number,
): Promise<void> {
  const variables = groups.flatMap((g) => g.params);
  const before = await readAll(variables);
  const zeros = variables.map((v) => ({
    name: v.name,
    tensor: tf.zerosLike(v),
  }));
  using check = tfjsAdamW(tf, [...groups], { learningRate: lr });
  check.applyGradients(zeros);
  tf.dispose(zeros.map((z) => z.tensor));
  const after = await readAll(variables);
  let at = 0;
  for (const { weightDecay, lrScale = 1, params, names } of groups) {
    const factor = Math.fround(1 - lr * lrScale * weightDecay);
    params.forEach((variable, i) => {
      for (let k = at; k < at + variable.size; k++) {
        const expected = weightDecay === 0
          ? before[k]!
          : Math.fround(before[k]! * factor);
        if (!Object.is(after[k], expected)) {
          throw new Error(
            `${
              names[i]
            } (weight decay ${weightDecay}): expected ${expected} after a step of decay alone but found ${
              after[k]
            }`,
          );
        }
      }
      at += variable.size;
    });
  }
}

/**
 * Runs `work` inside a validation error scope of the webgpu backend's device and throws
 * on any validation error, which would otherwise only be logged while the run went on.
 */
async function failOnValidationError(work: () => Promise<unknown>) {
  if (tf.getBackend() !== "webgpu") return void await work();
  const { device } = tf.backend() as unknown as { device: GPUDevice };
  device.pushErrorScope("validation");
  const failure = await work().then(() => undefined, (error: unknown) => error);
  const validation = await device.popErrorScope();
  if (validation !== null) {
    // Usually the cause of any other failure, so it is reported first.
    throw new Error(`WebGPU validation error: ${validation.message}`, {
      cause: failure,
    });
  }
  if (failure !== undefined) throw failure;
}

/** The L2 norm of a variable. */
async function norm(variable: tf.Variable): Promise<number> {
  const result = tf.tidy(() => tf.norm(variable));
  const [value] = await result.data();
  result.dispose();
  return value!;
}

async function main(): Promise<void> {
  const backend = Deno.args.includes("--webgpu") ? "webgpu" : "cpu";
  if (!await tf.setBackend(backend)) {
    throw new Error(`TensorFlow.js has no ${backend} backend here`);
  }
  console.log(`backend: ${tf.getBackend()}`);
  const { xs, ys } = teacherData();
  const model = buildModel();
  const groups = getParamGroups(
    tfjsNamedParameters<tf.Variable>(model),
    POLICY,
  );
  for (const { weightDecay, lrScale = 1, names } of groups) {
    console.log(
      `weight decay ${weightDecay}, lr scale ${lrScale}: ${names.join(", ")}`,
    );
  }
  const initialNorms = await Promise.all(
    groups.map((g) => Promise.all(g.params.map(norm))),
  );

  const learningRate = warmupCosine({
    peakLr: PEAK_LR,
    warmupSteps: WARMUP_STEPS,
    decaySteps: STEPS,
    endLr: PEAK_LR / 10,
  });
  console.log(
    `learning rate: warmup to ${PEAK_LR} over ${WARMUP_STEPS} steps, then a cosine to ${
      PEAK_LR / 10
    } at step ${STEPS}`,
  );
  using optimizer = tfjsAdamW(tf, groups, { learningRate });
  model.compile({ optimizer, loss: "meanSquaredError" });
  const losses: number[] = [];
  const started = performance.now();
  let epochStarted = started;
  await failOnValidationError(async () => {
    await model.fit(xs, ys, {
      epochs: EPOCHS,
      batchSize: BATCH_SIZE,
      shuffle: false,
      verbose: 0,
      callbacks: {
        onEpochEnd: (epoch, logs) => {
          losses.push(logs!.loss!);
          const now = performance.now();
          console.log(
            `epoch ${String(epoch + 1).padStart(2)}  loss ${
              logs!.loss!.toFixed(6)
            }  ${((now - epochStarted) / 1000).toFixed(2)} s`,
          );
          epochStarted = now;
        },
      },
    });
    await checkDecay(groups, learningRate(STEPS));
  });
  const seconds = (performance.now() - started) / 1000;

  for (const [g, group] of groups.entries()) {
    const { weightDecay, lrScale = 1, params, names } = group;
    let scale = 1;
    for (let t = 0; t < STEPS; t++) {
      scale *= Math.fround(1 - learningRate(t) * lrScale * weightDecay);
    }
    const effect = weightDecay === 0
      ? "not decayed (weight decay 0)"
      : `decay alone scaled it by ${
        scale.toFixed(6)
      } (weight decay ${weightDecay}, lr scale ${lrScale})`;
    for (const [i, variable] of params.entries()) {
      console.log(
        `${names[i]}: norm ${initialNorms[g]![i]!.toFixed(3)} -> ${
          (await norm(variable)).toFixed(3)
        }, ${effect}`,
      );
    }
  }
  const [first, last] = [losses[0]!, losses.at(-1)!];
  console.log(
    `loss ${first.toFixed(6)} -> ${
      last.toFixed(6)
    } in ${optimizer.iterations} steps of AdamW, ${
      seconds.toFixed(2)
    } s; optimizer path: ${optimizer.lastPath}`,
  );
  tf.dispose([xs, ys]);
  model.dispose();
  if (!(last <= REQUIRED_LOSS_RATIO * first)) {
    throw new Error(
      `Expected the last epoch's loss to be at most ${REQUIRED_LOSS_RATIO} of the first's (${first}) but found ${last}`,
    );
  }
}

await main();
