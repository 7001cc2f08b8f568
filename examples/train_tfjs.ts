// deno-lint-ignore-file no-console
// Copyright 2026 the weight-decay authors. MIT license.
/**
 * Trains a small TensorFlow.js model with AdamW, which TensorFlow.js does not have:
 * `tf.train.adam` takes the gradient step and {@linkcode TfjsDecay} applies decoupled
 * weight decay after every batch.
 *
 * What it shows:
 *
 * - `tfjsNamedParameters` names the model's trainable weights (`hidden1.kernel`,
 *   `bn.gamma`, ...) with their layers as owners; the moving mean and variance of the
 *   batch normalization are not trainable and never appear.
 * - The basecls "mobile" policy `[[0, "bias"], [0, NORM_TYPES], 4e-5]` decays the dense
 *   kernels only. TensorFlow.js calls normalization weights `gamma` and `beta`, which
 *   the `"bias"` rule would miss; the `NORM_TYPES` rule catches them by layer class.
 *   (4e-5 is basecls's value for SGD, where it barely moves the weights over a short
 *   run; PyTorch's `AdamW` defaults to 1e-2.)
 * - `model.fit` runs the training; its `onBatchEnd` callback calls `decay.step(lr)`. The
 *   decay runs after Adam's update, not before it as in PyTorch's `AdamW`: the two
 *   orders differ by a term of order `lr² * weightDecay`.
 * - Once per epoch the run checks the decay step itself: every decayed weight equals
 *   `Math.fround(w * Math.fround(1 - lr * weightDecay))` and every other weight is bit
 *   for bit unchanged. It fails on any mismatch, if the loss does not fall, or on a
 *   WebGPU validation error.
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
  NORM_TYPES,
  type ParamGroup,
} from "@decoupled/weight-decay";
import { TfjsDecay, tfjsNamedParameters } from "@decoupled/weight-decay/tfjs";

const SAMPLES = 256;
const INPUTS = 8;
const HIDDEN = 32;
const EPOCHS = 12;
const BATCH_SIZE = 32;
const LR = 1e-2;
const SEED = 2026;
/** The basecls "mobile" policy: biases and normalization layers are not decayed. */
const POLICY = [[0, "bias"], [0, NORM_TYPES], 4e-5] as const;
/** The run fails unless the last epoch's loss is at most this fraction of the first's. */
const REQUIRED_LOSS_RATIO = 0.5;

const BATCHES_PER_EPOCH = Math.ceil(SAMPLES / BATCH_SIZE);

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
 * Steps the decay and checks what it did to every weight: decayed ones scaled by their
 * group's f32 factor, the others bit for bit unchanged.
 */
async function checkedStep(
  decay: TfjsDecay,
  groups: readonly ParamGroup<tf.Variable>[],
  lr: number,
): Promise<void> {
  const variables = groups.flatMap((g) => g.params);
  const before = await readAll(variables);
  decay.step(lr);
  const after = await readAll(variables);
  let at = 0;
  for (const { weightDecay, params, names } of groups) {
    const factor = Math.fround(1 - lr * weightDecay);
    params.forEach((variable, i) => {
      for (let k = at; k < at + variable.size; k++) {
        const expected = weightDecay === 0
          ? before[k]!
          : Math.fround(before[k]! * factor);
        if (!Object.is(after[k], expected)) {
          throw new Error(
            `${
              names[i]
            } (weight decay ${weightDecay}): expected ${expected} after the decay step but found ${
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
  for (const { weightDecay, names } of groups) {
    console.log(`weight decay ${weightDecay}: ${names.join(", ")}`);
  }
  const initialNorms = await Promise.all(
    groups.map((g) => Promise.all(g.params.map(norm))),
  );

  model.compile({ optimizer: tf.train.adam(LR), loss: "meanSquaredError" });
  using decay = new TfjsDecay(tf, groups);
  const losses: number[] = [];
  const started = performance.now();
  await failOnValidationError(() =>
    model.fit(xs, ys, {
      epochs: EPOCHS,
      batchSize: BATCH_SIZE,
      shuffle: false,
      verbose: 0,
      callbacks: {
        onBatchEnd: async (batch) => {
          if (batch === BATCHES_PER_EPOCH - 1) {
            await checkedStep(decay, groups, LR);
          } else decay.step(LR);
        },
        onEpochEnd: (epoch, logs) => {
          losses.push(logs!.loss!);
          console.log(
            `epoch ${String(epoch + 1).padStart(2)}  loss ${
              logs!.loss!.toFixed(6)
            }`,
          );
        },
      },
    })
  );
  const seconds = (performance.now() - started) / 1000;

  const steps = EPOCHS * BATCHES_PER_EPOCH;
  for (const [g, { weightDecay, params, names }] of groups.entries()) {
    const scale = Math.fround(1 - LR * weightDecay) ** steps;
    const effect = weightDecay === 0
      ? "not decayed (weight decay 0)"
      : `decay alone scaled it by ${
        scale.toFixed(6)
      } (weight decay ${weightDecay})`;
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
    } in ${steps} steps of AdamW, ${
      seconds.toFixed(2)
    } s; decay path: ${decay.lastPath}`,
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
