// Copyright 2026 the weight-decay authors. MIT license.
/**
 * The contract every decay engine keeps: `step(lr)` multiplies each group's parameters
 * by `Math.fround(1 - s(lr) * weightDecay)`, where `s` is the chosen scaling.
 *
 * @module
 */

/**
 * Anything that applies decoupled weight decay once per optimizer step.
 *
 * Where to call it: `torch.optim.AdamW` decays the parameters *before* the Adam update
 * of the same step, so calling `step(lr)` just before your optimizer's update matches it
 * exactly; calling it just after differs by terms of order `lr² · weightDecay`, which is
 * also what "Adam, then decay" loops (such as TensorFlow.js with `tf.train.adam`) do.
 *
 * @example A decay step in a training loop
 * ```ts
 * import { CpuDecay, type DecayStep, Parameter } from "@decoupled/weight-decay";
 * import assert from "node:assert/strict";
 *
 * const weight = new Parameter([1, 2]);
 * const decay: DecayStep = new CpuDecay([{ weightDecay: 0.5, params: [weight], names: ["w"] }]);
 * decay.step(0.1); // factor 1 - 0.1 * 0.5 = 0.95
 * assert.deepEqual([...weight.data], [Math.fround(0.95), Math.fround(2 * Math.fround(0.95))]);
 * ```
 */
export interface DecayStep {
  /**
   * Applies one step of decay to every group.
   *
   * @param lr The learning rate of this step, finite and >= 0.
   * @throws {RangeError} If `lr` is negative or not finite, or makes a factor negative;
   * nothing is changed then.
   */
  step(lr: number): void;
}

/**
 * What the decay multiplies, `s(lr_g)` in `p <- p * (1 - s(lr_g) * weightDecay)`, where
 * `lr_g = lr * lrScale` is the group's own learning rate (as timm's scheduler sets
 * `param_group["lr"] = lr * lr_scale`):
 *
 * - `"lr"`: `s = lr_g`, as PyTorch's `AdamW` and optax's `adamw` do;
 * - `"schedule"`: `s = lr_g / maxLr`, the schedule multiplier of Loshchilov & Hutter's
 *   "Decoupled Weight Decay Regularization" (`eta_t`), so `weightDecay` is the decay
 *   per step at peak learning rate;
 * - `"independent"`: `s = 1`, decay that ignores the learning rate (big_vision style);
 * - `"corrected"`: `s = lr_g * lr_g / maxLr`, timm's "corrected" weight decay, which
 *   keeps the equilibrium norm independent of the peak learning rate (`maxLr` is the
 *   base learning rate).
 *
 * A group with `lrScale` 0 is frozen: no update and no decay, except under
 * `"independent"`, whose decay does not depend on the learning rate. AdamW's moments
 * and step count still advance for it, as PyTorch's do at lr 0.
 */
export type DecayScaling = "lr" | "schedule" | "independent" | "corrected";

/** The scaling modes, in documentation order. */
export const DECAY_SCALINGS: readonly DecayScaling[] = Object.freeze([
  "lr",
  "schedule",
  "independent",
  "corrected",
]);

/** Options of every decay engine. */
export interface DecayOptions {
  /**
   * What the decay multiplies; see {@linkcode DecayScaling}.
   *
   * @default {"lr"}
   */
  scaling?: DecayScaling;
  /**
   * The peak learning rate of the schedule, finite and > 0; required by `"schedule"` and
   * `"corrected"`, ignored otherwise.
   */
  maxLr?: number;
}
