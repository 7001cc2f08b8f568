// Copyright 2026 the weight-decay authors. MIT license.
/**
 * AdamW on the host in f32, the reference {@linkcode GpuAdamW} is tested against.
 *
 * @module
 */

import type { AdamWOptions, AdamWState, AdamWStateJson } from "./adamw.ts";
import type { ParamGroup } from "./groups.ts";
import type { Parameter } from "./parameter.ts";
import { _checkScaling, _DecayFactors } from "./_factors.ts";
import {
  _checkHostGroups,
  _checkHostUnchanged,
  _hostEntries,
  type _HostEntry,
} from "./_check_groups.ts";
import {
  type _AdamWHyper,
  _adamWMetadata,
  _biasCorrection2Sqrt,
  _checkAdamWOptions,
  _checkState,
  _checkStepSizes,
  _checkValues,
  _clipCoefficient,
  _fmaF32,
  _globalNorm,
  _jsonFriendly,
  _stepSize,
  ADAMW_OPTION_HINTS,
  ADAMW_OPTION_KEYS,
} from "./_adamw.ts";
import { _checkKeys } from "./_check_keys.ts";
import { _hostCheckpoint, _registerCheckpoint } from "./_checkpoint_access.ts";

/** One parameter as the engine keeps it. */
interface _Entry extends _HostEntry<Parameter> {
  readonly group: number;
  readonly m: Float32Array;
  readonly v: Float32Array;
}

/**
 * AdamW on the host in f32, exactly as `torch.optim.AdamW` computes it on a CPU with
 * AVX2 or AVX-512 (its default single-tensor path), and the reference
 * {@linkcode GpuAdamW} is tested against. Per step `t` and per value, with the group's
 * learning rate `lr_g = lr * lrScale` and gradient `g` (times the clip coefficient
 * under `maxGradNorm`):
 *
 * - `p = p * Math.fround(1 - s(lr_g) * weightDecay)` (`param.mul_(1 - lr * wd)`);
 * - `m = fma(1 - b1, g - m, m)` (`exp_avg.lerp_(grad, 1 - beta1)`, one rounding, as
 *   PyTorch's vectorized lerp; for `1 - b1 >= 0.5`, `fma(-b1, g - m, g)`);
 * - `v = fma((1 - b2) * g, g, b2 * v)` (`exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2)`);
 * - `p = p + (-step_size * m) / (sqrt(v) / sqrt(1 - b2^t) + eps)`
 *   (`param.addcdiv_(exp_avg, denom, value=-step_size)`), with `step_size =
 *   lr_g / (1 - b1^t)` and `sqrt(1 - b2^t)` computed in f64 and rounded once to f32, as
 *   PyTorch does ({@linkcode GpuAdamW}, which learns `t` on the GPU, takes
 *   `f32(lr_g) * f32(1 / (1 - b1^t))`, within about an ULP of it),
 *
 * every other operation rounded to f32. Measured against `torch.optim.AdamW` 2.13 on
 * an AVX-512 CPU (`tests/torch_adamw_test.ts` replays committed fixtures), the moments
 * are equal bit for bit without clipping, and so are the parameters when PyTorch's
 * `sqrt` is replaced by a correctly rounded one: PyTorch's CPU `sqrt` (MKL VML, high
 * accuracy mode) is 1 ULP off for 15-20% of values, this one is exact. With clipping,
 * PyTorch's per-tensor norms round differently from this one's (f64 over every value),
 * so values agree within a few ULP.
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
  readonly #hyper: _AdamWHyper;
  readonly #entries: readonly _Entry[];
  #step = 0;
  #gradNorm: number | undefined;

  /**
   * Prepares AdamW for the groups, with both moments of every parameter at zero.
   *
   * @param groups The parameter groups, e.g. from {@linkcode getParamGroups}.
   * @param options Adam's betas and eps, clipping and skipping, and the decay scaling.
   * @throws {TypeError} If the groups are malformed or have an unknown key, a parameter
   * has no `Float32Array` data, two parameters share memory, `betas` is not a pair, or
   * an option is unknown.
   * @throws {RangeError} If a weight decay or lrScale is not finite and >= 0, a beta is
   * not in [0, 1), `eps` is not finite and at least `2 ** -126`, `maxGradNorm` is not >
   * 0, or the scaling needs a `maxLr` that is missing or not > 0.
   */
  constructor(groups: ParamGroup<Parameter>[], options?: AdamWOptions) {
    _checkKeys(
      options,
      "CpuAdamW options",
      ADAMW_OPTION_KEYS,
      ADAMW_OPTION_HINTS,
    );
    const scaling = _checkScaling(options);
    this.#hyper = _checkAdamWOptions(options);
    const checked = _checkHostGroups(groups);
    this.#factors = new _DecayFactors(checked, scaling);
    const groupOf = checked.flatMap((group, g) => group.params.map(() => g));
    this.#entries = _hostEntries(checked).map((entry, i) => ({
      ...entry,
      group: groupOf[i]!,
      m: new Float32Array(entry.size),
      v: new Float32Array(entry.size),
    }));
    _registerCheckpoint(this, () =>
      _hostCheckpoint(
        "CpuAdamW",
        this.#entries,
        (set, i) =>
          set === "exp_avg" ? this.#entries[i]!.m : this.#entries[i]!.v,
        {
          metadata: _adamWMetadata(this.#hyper, scaling),
          step: () => Promise.resolve(this.#step),
          load: async (step, loaded, fill) => {
            for (const [i, { m, v }] of this.#entries.entries()) {
              if (!loaded[i]) continue;
              await fill(i, "exp_avg", 0, m);
              await fill(i, "exp_avg_sq", 0, v);
            }
            this.#step = step;
          },
        },
      ));
  }

  /**
   * Takes one AdamW step with every parameter's `grad`.
   *
   * @param lr The learning rate, finite and >= 0.
   * @throws {RangeError} If `lr` is negative or not finite, a group's learning rate or
   * step size is not finite in f32, `s(lr) * weightDecay > 1` for a group, or a
   * gradient does not hold as many values as its parameter.
   * @throws {TypeError} If a parameter's `grad` is not a `Float32Array`, or its `data`
   * was detached, resized or replaced since the engine was made.
   * Nothing changes when it throws, the step count included.
   */
  step(lr: number): void {
    const factors = this.#factors.compute(lr);
    const { groupLr } = this.#factors;
    const hyper = this.#hyper;
    _checkStepSizes(groupLr, hyper);
    const entries = this.#entries;
    _checkHostUnchanged(entries);
    for (const { param, where, size } of entries) {
      _checkValues(param.grad, size, `the gradient of ${where}`);
    }
    let coefficient = 1;
    if (hyper.maxGradNorm !== 0 || hyper.skipNonFinite) {
      const norm = _globalNorm(entries, _gradOf);
      this.#gradNorm = norm;
      if (hyper.skipNonFinite && !Number.isFinite(norm)) return;
      coefficient = _clipCoefficient(norm, hyper.maxGradNorm);
    }
    const t = ++this.#step;
    const bc2Sqrt = _biasCorrection2Sqrt(hyper.beta2, t);
    for (const { group, data, param, m, v } of entries) {
      _update(
        data,
        param.grad!,
        m,
        v,
        factors[group]!,
        _stepSize(groupLr[group]!, hyper.beta1, t),
        bc2Sqrt,
        coefficient,
        hyper,
      );
    }
  }

  /**
   * The global gradient norm of the last step, before clipping: the value PyTorch's
   * `clip_grad_norm_` returns. A skipped step has one too (NaN or Infinity).
   *
   * @returns The norm, rounded to f32.
   * @throws {TypeError} If neither `maxGradNorm` nor `skipNonFinite` is set, since the
   * norm is computed only then (set `maxGradNorm: Infinity` to compute it without
   * clipping).
   * @throws {Error} If no step has been taken.
   */
  gradNorm(): number {
    const { maxGradNorm, skipNonFinite } = this.#hyper;
    if (maxGradNorm === 0 && !skipNonFinite) {
      throw new TypeError(
        "gradNorm() needs maxGradNorm or skipNonFinite, which compute the norm; set maxGradNorm: Infinity to compute it without clipping",
      );
    }
    if (this.#gradNorm === undefined) {
      throw new Error("CpuAdamW.gradNorm(): no step has been taken yet");
    }
    return this.#gradNorm;
  }

  /**
   * The step count and copies of both moments of every parameter.
   *
   * @returns The state, which {@linkcode CpuAdamW.loadState} and
   * {@linkcode GpuAdamW.loadState} take back, also through JSON.
   */
  state(): AdamWState {
    return _jsonFriendly({
      step: this.#step,
      params: this.#entries.map(({ name, m, v }) => ({
        name,
        m: m.slice(),
        v: v.slice(),
      })),
    });
  }

  /**
   * Restores a state saved by `state()` of this engine or of a {@linkcode GpuAdamW} over
   * the same groups, as it is or after a JSON round trip. The values are copied.
   *
   * @param state The step count and moments, one entry per parameter in order.
   * @throws {TypeError} If the state is not `{ step, params }`, an entry names another
   * parameter, or a moment is neither a `Float32Array` nor an array of numbers.
   * @throws {RangeError} If the step is not an integer from 0 to `2 ** 32 - 1`, the
   * number of entries or of a moment's values is wrong, a first moment is not finite,
   * or a second moment is negative or not finite (the message names the parameter and
   * the index). Nothing changes when it throws.
   */
  loadState(state: AdamWState | AdamWStateJson): void {
    const entries = this.#entries;
    const { step, params } = _checkState(state, entries);
    entries.forEach(({ m, v }, i) => {
      m.set(params[i]!.m);
      v.set(params[i]!.v);
    });
    this.#step = step;
  }
}

/** The gradient of an entry, checked present by `step`. */
const _gradOf = (entry: _Entry): Float32Array => entry.param.grad!;

/** One AdamW step of one tensor, each operation rounded to f32 as PyTorch rounds it. */
export function _update(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  factor: number,
  stepSize: number,
  bc2Sqrt: number,
  coefficient: number,
  { beta1, beta2, eps }: _AdamWHyper,
): void {
  const f = Math.fround;
  const weight = f(1 - beta1);
  // PyTorch's lerp: start + w * (end - start) for |w| < 0.5, else end - (1 - w) * (end - start).
  const fromGrad = Math.abs(weight) >= 0.5;
  const lerpCoefficient = fromGrad ? f(weight - 1) : weight;
  const b2 = f(beta2);
  const oneMinusB2 = f(1 - beta2);
  const epsilon = f(eps);
  const negativeStep = -stepSize;
  for (let i = 0; i < p.length; i++) {
    const grad = coefficient === 1 ? g[i]! : f(g[i]! * coefficient);
    const previous = m[i]!;
    const mi = _fmaF32(
      lerpCoefficient,
      f(grad - previous),
      fromGrad ? grad : previous,
    );
    const vi = _fmaF32(f(oneMinusB2 * grad), grad, f(b2 * v[i]!));
    m[i] = mi;
    v[i] = vi;
    const denom = f(f(f(Math.sqrt(vi)) / bc2Sqrt) + epsilon);
    p[i] = f(f(p[i]! * factor) + f(f(negativeStep * mi) / denom));
  }
}
