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
  /**
   * Clips the gradients by their global L2 norm before each step, as PyTorch's
   * `torch.nn.utils.clip_grad_norm_(params, maxGradNorm)` does before `optimizer.step()`:
   * with `norm = sqrt(sum of g²)` over every gradient of every group, each gradient is
   * multiplied by `min(1, maxGradNorm / (norm + 1e-6))` (in f32). The gradients as
   * written are left as they are. On the GPU the norm is reduced in the step's own
   * submission: nothing is read back. A step whose norm is not finite is not clipped
   * (use `skipNonFinite`). A number > 0: finite in f32, or `Infinity` to compute the
   * norm for `gradNorm()` without clipping. Unset: no clipping and no norm.
   */
  maxGradNorm?: number;
  /**
   * Skips every step whose gradients hold a NaN or an infinity, or whose sum of squares
   * reaches `2 ** 127` (past f32, where the GPU sums): such a step changes nothing, not
   * the parameters, the moments or the step count, as PyTorch's `GradScaler` skips
   * `optimizer.step()` after an overflow. `gradNorm()` then reports NaN or Infinity.
   *
   * @default {false}
   */
  skipNonFinite?: boolean;
}

/**
 * An AdamW engine's state, for checkpoints: the step count and both moments of every
 * parameter. {@linkcode GpuAdamW.state} and {@linkcode CpuAdamW.state} return it, and
 * `loadState` on either engine takes it back, so training can move between them.
 *
 * It holds no parameter values: save those yourself (they are the model), or save
 * both with `saveCheckpoint`. `JSON.stringify(state)` writes the moments as arrays of
 * numbers, and `loadState` takes them back, bit for bit.
 *
 * @example Saving state as JSON, and resuming from it
 * ```ts
 * import { type AdamWState, CpuAdamW, Parameter } from "@decoupled/weight-decay";
 * import assert from "node:assert/strict";
 *
 * const weight = new Parameter([1, 2]);
 * weight.grad = new Float32Array([0.1, -0.1]);
 * const groups = [{ weightDecay: 0.01, params: [weight], names: ["w"] }];
 * const adamw = new CpuAdamW(groups);
 * adamw.step(1e-3);
 * const state: AdamWState = adamw.state();
 * const text = JSON.stringify(state);
 *
 * const resumed = new CpuAdamW(groups);
 * resumed.loadState(JSON.parse(text));
 * assert.deepEqual(resumed.state(), state);
 * ```
 */
export interface AdamWState {
  /**
   * Steps taken so far, `t` (skipped steps do not count); the next step is `t + 1`. An
   * integer from 0 to `2 ** 32 - 1`.
   */
  step: number;
  /**
   * One entry per parameter, in the engine's order (group by group, each group's
   * parameters in order), named as in the groups: the first moment `m` and the second
   * moment `v`, each with as many values as the parameter.
   */
  params: { name: string; m: Float32Array; v: Float32Array }[];
}

/**
 * An {@linkcode AdamWState} as `JSON.parse` gives it back: moments as arrays of numbers.
 * `loadState` takes either form.
 */
export interface AdamWStateJson {
  /** Steps taken so far. */
  step: number;
  /** One entry per parameter, in the engine's order. */
  params: {
    name: string;
    m: Float32Array | readonly number[];
    v: Float32Array | readonly number[];
  }[];
}
