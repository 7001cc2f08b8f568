// Copyright 2026 the weight-decay authors. MIT license.
/**
 * Decoupled weight decay on the host, the reference every other engine matches bit for bit.
 *
 * @module
 */

import type { DecayOptions, DecayStep } from "./decay_step.ts";
import type { ParamGroup } from "./groups.ts";
import type { Parameter } from "./parameter.ts";
import { _checkScaling, _DecayFactors } from "./_factors.ts";
import {
  _checkHostGroups,
  _checkHostUnchanged,
  _hostEntries,
  type _HostEntry,
} from "./_check_groups.ts";
import { _checkKeys } from "./_check_keys.ts";
import { _hostCheckpoint, _registerCheckpoint } from "./_checkpoint_access.ts";

/**
 * Applies decoupled weight decay in place on the host:
 * `data[i] = data[i] * Math.fround(1 - s(lr) * weightDecay)` for every parameter of every
 * group. Each product is one correctly rounded f32 multiply, as on the GPU, so results
 * equal {@linkcode GpuDecay}'s bit for bit (for results in the normal range).
 *
 * Groups whose factor is exactly 1 (weight decay 0) are not touched. A step allocates
 * nothing. The groups are read once, at construction; later edits to them change nothing.
 *
 * @example AdamW-style decay, right before each optimizer update
 * ```ts
 * import { CpuDecay, getParamGroups, Parameter } from "@decoupled/weight-decay";
 * import assert from "node:assert/strict";
 *
 * const weight = new Parameter([1, -2]);
 * const bias = new Parameter([3]);
 * const groups = getParamGroups(
 *   [{ name: "fc.weight", param: weight }, { name: "fc.bias", param: bias }],
 *   [[0, "bias"], 0.01],
 * );
 * const decay = new CpuDecay(groups);
 * decay.step(0.5); // factor Math.fround(1 - 0.5 * 0.01)
 * const factor = Math.fround(0.995);
 * assert.deepEqual([...weight.data], [factor, Math.fround(-2 * factor)]);
 * assert.deepEqual([...bias.data], [3]);
 * ```
 */
export class CpuDecay implements DecayStep {
  readonly #factors: _DecayFactors;
  readonly #data: Float32Array[][];
  readonly #entries: readonly _HostEntry[];

  /**
   * Prepares decay for the groups.
   *
   * @param groups The parameter groups, e.g. from {@linkcode getParamGroups}.
   * @param options The decay scaling.
   * @throws {TypeError} If the groups are malformed, a parameter has no `Float32Array`
   * data, or two parameters share memory (both would be decayed).
   * @throws {RangeError} If a weight decay is not finite and >= 0, a shape disagrees
   * with its data, or the scaling needs a `maxLr` that is missing or not > 0.
   */
  constructor(groups: ParamGroup<Parameter>[], options?: DecayOptions) {
    _checkKeys(options, "CpuDecay options", ["scaling", "maxLr"]);
    const scaling = _checkScaling(options);
    const checked = _checkHostGroups(groups);
    this.#factors = new _DecayFactors(checked, scaling);
    this.#data = checked.map((g) => g.params.map((p) => p.data));
    this.#entries = _hostEntries(checked);
    _registerCheckpoint(this, () => _hostCheckpoint("CpuDecay", this.#entries));
  }

  /**
   * Applies one step of decay.
   *
   * @param lr The learning rate, finite and >= 0.
   * @throws {RangeError} If `lr` is negative or not finite, a group's `lr * lrScale` or
   * decay scale is not finite, or `s(lr) * weightDecay > 1` for a group; no parameter
   * changes then.
   * @throws {TypeError} If a parameter's `data` was detached, resized or replaced since
   * the engine was made; no parameter changes then.
   */
  step(lr: number): void {
    const factors = this.#factors.compute(lr);
    _checkHostUnchanged(this.#entries);
    const groups = this.#data;
    for (let g = 0; g < groups.length; g++) {
      const factor = factors[g]!;
      if (factor === 1) continue;
      const tensors = groups[g]!;
      for (let t = 0; t < tensors.length; t++) _scale(tensors[t]!, factor);
    }
  }
}

/**
 * `data[i] *= factor` for every value. The body is written eight values at a time on
 * purpose: a one-line loop is small enough for V8's mid-tier compiler (Maglev) to inline
 * into `step`, where it runs 2.5x slower than the optimized loop for hundreds of steps;
 * this one is not inlined and is as fast as the one-line loop at its best.
 */
function _scale(data: Float32Array, factor: number): void {
  const length = data.length;
  const whole = length - (length % 8);
  let i = 0;
  for (; i < whole; i += 8) {
    data[i]! *= factor;
    data[i + 1]! *= factor;
    data[i + 2]! *= factor;
    data[i + 3]! *= factor;
    data[i + 4]! *= factor;
    data[i + 5]! *= factor;
    data[i + 6]! *= factor;
    data[i + 7]! *= factor;
  }
  for (; i < length; i++) data[i]! *= factor;
}
