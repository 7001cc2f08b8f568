// Copyright 2026 the weight-decay authors. MIT license.
/**
 * The contract of the AdamW engines: their options, and the state they save and load.
 *
 * @module
 */

import type { DecayOptions } from "./decay_step.ts";

/**
 * Options of {@linkcode CpuAdamW} and {@linkcode GpuAdamW}: Adam's hyperparameters, and
 * the scaling of the decoupled weight decay that each group's `weightDecay` sets.
 *
 * @example Options as PyTorch's `AdamW(betas=(0.9, 0.95), eps=1e-8)`
 * ```ts
 * import { type AdamWOptions, CpuAdamW, Parameter } from "@decoupled/weight-decay";
 * import assert from "node:assert/strict";
 *
 * const options: AdamWOptions = { betas: [0.9, 0.95], eps: 1e-8 };
 * const weight = new Parameter([1]);
 * weight.grad = new Float32Array([0.5]);
 * new CpuAdamW([{ weightDecay: 0, params: [weight], names: ["w"] }], options).step(0.1);
 * assert.ok(Math.abs(weight.data[0]! - 0.9) < 1e-6); // Adam's first step: lr * sign(g)
 * ```
 */
export interface AdamWOptions extends DecayOptions {
  /**
   * The decay rates `[beta1, beta2]` of the first and second moment estimates, each in
   * `[0, 1)`.
   *
   * @default {[0.9, 0.999]}
   */
  betas?: readonly [number, number];
  /**
   * Added to the denominator for numerical stability: a finite number, at least
   * `2 ** -126` (the smallest normal f32), since it is applied in f32.
   *
   * @default {1e-8}
   */
  eps?: number;
}

/**
 * An AdamW engine's state, for checkpoints: the step count and both moments of every
 * parameter. {@linkcode GpuAdamW.state} and {@linkcode CpuAdamW.state} return it, and
 * `loadState` on either engine takes it back, so training can move between them.
 *
 * It holds no parameter values: save those yourself (they are the model).
 *
 * @example Saving state as JSON-friendly arrays
 * ```ts
 * import { type AdamWState, CpuAdamW, Parameter } from "@decoupled/weight-decay";
 * import assert from "node:assert/strict";
 *
 * const weight = new Parameter([1, 2]);
 * weight.grad = new Float32Array([0.1, -0.1]);
 * const adamw = new CpuAdamW([{ weightDecay: 0.01, params: [weight], names: ["w"] }]);
 * adamw.step(1e-3);
 * const state: AdamWState = adamw.state();
 * const saved = JSON.stringify({
 *   step: state.step,
 *   params: state.params.map(({ name, m, v }) => ({ name, m: [...m], v: [...v] })),
 * });
 * assert.equal(JSON.parse(saved).step, 1);
 * ```
 */
export interface AdamWState {
  /** Steps taken so far, `t`; the next step is `t + 1`. A non-negative integer. */
  step: number;
  /**
   * One entry per parameter, in the engine's order (group by group, each group's
   * parameters in order), named as in the groups: the first moment `m` and the second
   * moment `v`, each with as many values as the parameter.
   */
  params: { name: string; m: Float32Array; v: Float32Array }[];
}
