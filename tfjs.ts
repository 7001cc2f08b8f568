// Copyright 2026 the weight-decay authors. MIT license.
/**
 * Weight-decay groups and decoupled weight decay for TensorFlow.js: with
 * `tf.train.adam`, the AdamW that TensorFlow.js lacks.
 *
 * {@linkcode tfjsNamedParameters} names the trainable weights of a layers model
 * (`"fc.kernel"`, `"bn.gamma"`) with their layers as owners, so a policy such as basecls's
 * `[[0, "bias"], [0, NORM_TYPES], 4e-5]` groups them; {@linkcode TfjsDecay} decays the
 * groups after each optimizer step, in one fused pass on the WebGPU backend.
 *
 * This module never imports TensorFlow.js: pass your own `tf` namespace, so the
 * adapter works with whichever version you use.
 *
 * @example AdamW on a model with a batch normalization
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * tf.env().set("PROD", true); // no tfjs-node banner: the cpu backend is meant
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import { getParamGroups, NORM_TYPES } from "@decoupled/weight-decay";
 * import { TfjsDecay, tfjsNamedParameters } from "@decoupled/weight-decay/tfjs";
 * import assert from "node:assert/strict";
 *
 * await tf.setBackend("cpu");
 * const model = tfl.sequential({
 *   layers: [
 *     tfl.layers.dense({ units: 8, inputShape: [4], name: "hidden" }),
 *     tfl.layers.batchNormalization({ name: "bn" }),
 *     tfl.layers.dense({ units: 1, name: "out" }),
 *   ],
 * });
 * const groups = getParamGroups(
 *   tfjsNamedParameters(model),
 *   [[0, "bias"], [0, NORM_TYPES], 4e-5],
 * );
 * assert.deepEqual(groups.map((g) => [g.weightDecay, g.names]), [
 *   [4e-5, ["hidden.kernel", "out.kernel"]],
 *   [0, ["hidden.bias", "bn.gamma", "bn.beta", "out.bias"]],
 * ]);
 *
 * const lr = 1e-2;
 * model.compile({ optimizer: tf.train.adam(lr), loss: "meanSquaredError" });
 * using decay = new TfjsDecay(tf, groups);
 * const xs = tf.randomNormal([32, 4]);
 * const ys = tf.randomNormal([32, 1]);
 * for (let step = 0; step < 3; step++) {
 *   await model.trainOnBatch(xs, ys);
 *   decay.step(lr); // Adam's update, then decoupled decay: AdamW
 * }
 * tf.dispose([xs, ys]);
 * ```
 *
 * @module
 */

export { tfjsNamedParameters } from "./src/tfjs_named_parameters.ts";
export { TfjsDecay } from "./src/tfjs_decay.ts";
export type { TfjsDecayOptions, TfjsDecayPath } from "./src/tfjs_decay.ts";
export { registerTfjsAdamW, tfjsAdamW } from "./src/tfjs_adamw.ts";
export type {
  TfjsAdamW,
  TfjsAdamWNamespace,
  TfjsAdamWOptions,
  TfjsAdamWPath,
} from "./src/tfjs_adamw.ts";
export { warmupCosine } from "./src/lr_schedule.ts";
export type {
  LrSchedule,
  LrScheduleConfig,
  WarmupCosineOptions,
} from "./src/lr_schedule.ts";
export type {
  LayerLike,
  LayersModelLike,
  LayerVariableLike,
  TensorHandle,
  TfNamespace,
  VariableLike,
} from "./src/tfjs_types.ts";
