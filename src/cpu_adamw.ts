// Copyright 2026 the weight-decay authors. MIT license.
/**
 * AdamW on the host in f32, the reference {@linkcode GpuAdamW} is tested against.
 *
 * @module
 */

import type { AdamWOptions, AdamWState } from "./adamw.ts";
import type { ParamGroup } from "./groups.ts";
import type { Parameter } from "./parameter.ts";
import { _checkScaling, _DecayFactors } from "./_factors.ts";
import { _checkHostGroups } from "./_check_groups.ts";
import {
  _AdamWScalars,
  _checkAdamWOptions,
  _checkState,
  _checkValues,
  BETA1,
  BETA2,
  BIAS_CORRECTION2_SQRT,
  EPS,
  ONE_MINUS_BETA1,
  ONE_MINUS_BETA2,
  STEP_SIZE,
} from "./_adamw.ts";
import { _describe } from "./_describe.ts";

/** One parameter as the engine keeps it. */
interface _Entry {
  readonly name: string;
  /** Names it in messages, e.g. `group 0 parameter "fc.bias"`. */
  readonly where: string;
  readonly param: Parameter;
  readonly m: Float32Array;
  readonly v: Float32Array;
}

/**
 * AdamW as `torch.optim.AdamW` computes it, on the host, in f32: per step and per value,
 * the group's decoupled decay `p = p * Math.fround(1 - s(lr) * weightDecay)`, then
 * `m = b1 * m + (1 - b1) * g`, `v = b2 * v + (1 - b2) * g * g` and
 * `p = p - step_size * m / (sqrt(v) / sqrt(1 - b2^t) + eps)` with
 * `step_size = lr / (1 - b1^t)`, in the op order of PyTorch's fused CUDA kernel, each
 * operation rounded to f32. Scalars are computed once per step in f64 and rounded to
 * f32, as {@linkcode GpuAdamW} computes them.
 *
 * Gradients are read from each parameter's `grad`. Groups with weight decay 0 still get
 * the Adam update. The step count `t` is kept by the engine; moments start at zero.
 *
 * @example Two steps on a tiny model
 * ```ts
 * import { CpuAdamW, Parameter } from "@decoupled/weight-decay";
 * import assert from "node:assert/strict";
 *
 * const weight = new Parameter([1, -1]);
 * const adamw = new CpuAdamW([{ weightDecay: 0.01, params: [weight], names: ["w"] }]);
 * weight.grad = new Float32Array([0.3, -2]);
 * adamw.step(0.1); // Adam's first step moves each value by about lr, against its gradient
 * assert.ok(Math.abs(weight.data[0]! - (1 * (1 - 0.1 * 0.01) - 0.1)) < 1e-6);
 * assert.ok(Math.abs(weight.data[1]! - (-1 * (1 - 0.1 * 0.01) + 0.1)) < 1e-6);
 * assert.equal(adamw.state().step, 1);
 * ```
 */
export class CpuAdamW {
  readonly #factors: _DecayFactors;
  readonly #scalars: _AdamWScalars;
  readonly #groups: readonly (readonly _Entry[])[];
  #step = 0;

  /**
   * Prepares AdamW for the groups, with both moments of every parameter at zero.
   *
   * @param groups The parameter groups, e.g. from {@linkcode getParamGroups}.
   * @param options Adam's betas and eps, and the decay scaling.
   * @throws {TypeError} If the groups are malformed, a parameter has no `Float32Array`
   * data, two parameters share memory, or `betas` is not a pair.
   * @throws {RangeError} If a weight decay is not finite and >= 0, a beta is not in
   * [0, 1), `eps` is not finite and at least `2 ** -126`, or the scaling needs a `maxLr`
   * that is missing or not > 0.
   */
  constructor(groups: ParamGroup<Parameter>[], options?: AdamWOptions) {
    const scaling = _checkScaling(options);
    const hyper = _checkAdamWOptions(options);
    const checked = _checkHostGroups(groups);
    this.#factors = new _DecayFactors(checked, scaling);
    this.#scalars = new _AdamWScalars(hyper);
    this.#groups = checked.map((group, g) =>
      group.params.map((param, i) => ({
        name: group.names[i]!,
        where: `group ${g} parameter ${_describe(group.names[i])}`,
        param,
        m: new Float32Array(param.data.length),
        v: new Float32Array(param.data.length),
      }))
    );
  }

  /**
   * Takes one AdamW step with every parameter's `grad`.
   *
   * @param lr The learning rate, finite and >= 0.
   * @throws {RangeError} If `lr` is negative or not finite, `s(lr) * weightDecay > 1` for
   * a group, or a gradient does not hold as many values as its parameter.
   * @throws {TypeError} If a parameter's `grad` is not a `Float32Array`.
   * Nothing changes when it throws, the step count included.
   */
  step(lr: number): void {
    const factors = this.#factors.compute(lr);
    const groups = this.#groups;
    for (const entries of groups) {
      for (const { param, where } of entries) {
        _checkValues(param.grad, param.data.length, `the gradient of ${where}`);
      }
    }
    const scalars = this.#scalars.compute(lr, ++this.#step);
    for (let g = 0; g < groups.length; g++) {
      const entries = groups[g]!;
      for (let i = 0; i < entries.length; i++) {
        const { param, m, v } = entries[i]!;
        _update(param.data, param.grad!, m, v, factors[g]!, scalars);
      }
    }
  }

  /**
   * The step count and copies of both moments of every parameter.
   *
   * @returns The state, which {@linkcode CpuAdamW.loadState} and
   * {@linkcode GpuAdamW.loadState} take back.
   */
  state(): AdamWState {
    return {
      step: this.#step,
      params: this.#groups.flat().map(({ name, m, v }) => ({
        name,
        m: m.slice(),
        v: v.slice(),
      })),
    };
  }

  /**
   * Restores a state saved by `state()` of this engine or of a {@linkcode GpuAdamW} over
   * the same groups. The values are copied.
   *
   * @param state The step count and moments, one entry per parameter in order.
   * @throws {TypeError} If the state is not `{ step, params }`, an entry names another
   * parameter, or a moment is not a `Float32Array`.
   * @throws {RangeError} If the step is not an integer >= 0, or the number of entries or
   * of a moment's values is wrong. Nothing changes when it throws.
   */
  loadState(state: AdamWState): void {
    const entries = this.#groups.flat();
    const { step, params } = _checkState(
      state,
      entries.map(({ name, param }) => ({ name, size: param.data.length })),
    );
    entries.forEach(({ m, v }, i) => {
      m.set(params[i]!.m);
      v.set(params[i]!.v);
    });
    this.#step = step;
  }
}

/**
 * One AdamW step of one tensor, each operation rounded to f32. An f64 operation on f32
 * values rounded once to f32 gives the correctly rounded f32 result for `+ - * /` and
 * `sqrt`, so `Math.fround` of each is exactly the f32 operation.
 */
function _update(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  factor: number,
  scalars: Float32Array,
): void {
  const f = Math.fround;
  const beta1 = scalars[BETA1]!;
  const oneMinusBeta1 = scalars[ONE_MINUS_BETA1]!;
  const beta2 = scalars[BETA2]!;
  const oneMinusBeta2 = scalars[ONE_MINUS_BETA2]!;
  const stepSize = scalars[STEP_SIZE]!;
  const biasCorrection2Sqrt = scalars[BIAS_CORRECTION2_SQRT]!;
  const eps = scalars[EPS]!;
  for (let i = 0; i < p.length; i++) {
    const grad = g[i]!;
    const mi = f(f(beta1 * m[i]!) + f(oneMinusBeta1 * grad));
    const vi = f(f(beta2 * v[i]!) + f(f(oneMinusBeta2 * grad) * grad));
    m[i] = mi;
    v[i] = vi;
    const denom = f(f(f(Math.sqrt(vi)) / biasCorrection2Sqrt) + eps);
    p[i] = f(f(p[i]! * factor) - f(f(stepSize * mi) / denom));
  }
}
