// Copyright 2026 the weight-decay authors. MIT license.
// The AdamW contract shared by every engine: validated options and gradients, the
// per-step scalars computed on the host in f64 as PyTorch computes them, the global
// gradient norm and clip coefficient, and state checked before it is loaded.

import type { AdamWOptions, AdamWState, AdamWStateJson } from "./adamw.ts";
import { _describe } from "./_describe.ts";

/** The smallest normal f32: eps below it could be flushed to zero on a GPU. */
const MIN_EPS = 2 ** -126;

/** The names of every AdamW option, for the unknown-key check. */
export const ADAMW_OPTION_KEYS: readonly string[] = [
  "betas",
  "eps",
  "maxGradNorm",
  "skipNonFinite",
  "scaling",
  "maxLr",
];

/** What PyTorch's and other libraries' spellings of AdamW options mean here. */
export const ADAMW_OPTION_HINTS: Readonly<Record<string, string>> = {
  "beta1": "use betas: [beta1, beta2]",
  "beta2": "use betas: [beta1, beta2]",
  "betas1": "use betas: [beta1, beta2]",
  "epsilon": "use eps",
  "clipNorm": "use maxGradNorm",
  "amsgrad": "AMSGrad is not implemented",
  "foreach": "every step is one fused pass already",
  "fused": "every step is one fused pass already",
  "capturable": "the step count always lives where the step runs",
};

/** Adam's validated hyperparameters. */
export interface _AdamWHyper {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /**
   * The clipping threshold of the global gradient norm: 0 when the norm is not
   * computed, Infinity when it is computed but never clips.
   */
  readonly maxGradNorm: number;
  readonly skipNonFinite: boolean;
}

/**
 * Validates Adam's options; the caller has checked the keys and that `options` is an
 * object or undefined.
 *
 * @throws {TypeError} If `betas` is not an array of two, or `skipNonFinite` is not a
 * boolean.
 * @throws {RangeError} If a beta is not in [0, 1), `eps` is not a finite number of at
 * least the smallest normal f32, or `maxGradNorm` is not a finite number > 0.
 */
export function _checkAdamWOptions(
  options: AdamWOptions | undefined,
): _AdamWHyper {
  const betas: unknown = options?.betas ?? [0.9, 0.999];
  if (!Array.isArray(betas) || betas.length !== 2) {
    throw new TypeError(
      `Expected betas to be a pair [beta1, beta2] but found ${
        _describe(betas)
      }`,
    );
  }
  betas.forEach((beta: unknown, i) => {
    if (typeof beta !== "number" || !(beta >= 0 && beta < 1)) {
      throw new RangeError(
        `Expected betas[${i}] to be a number in [0, 1) but found ${
          _describe(beta)
        }`,
      );
    }
  });
  const eps: unknown = options?.eps ?? 1e-8;
  if (typeof eps !== "number" || !Number.isFinite(eps) || eps <= 0) {
    throw new RangeError(
      `Expected eps to be a finite number > 0 but found ${_describe(eps)}`,
    );
  }
  if (eps < MIN_EPS) {
    throw new RangeError(
      `Expected eps to be at least 2 ** -126, the smallest normal f32, but found ${eps}`,
    );
  }
  const maxGradNorm: unknown = options?.maxGradNorm;
  if (
    maxGradNorm !== undefined &&
    (typeof maxGradNorm !== "number" || !(Math.fround(maxGradNorm) > 0) ||
      (Number.isFinite(maxGradNorm) &&
        !Number.isFinite(Math.fround(maxGradNorm))))
  ) {
    throw new RangeError(
      `Expected maxGradNorm to be a number > 0 (finite in f32, or Infinity to compute the norm without clipping) but found ${
        _describe(maxGradNorm)
      }`,
    );
  }
  const skipNonFinite: unknown = options?.skipNonFinite ?? false;
  if (typeof skipNonFinite !== "boolean") {
    throw new TypeError(
      `Expected skipNonFinite to be a boolean but found ${
        _describe(skipNonFinite)
      }`,
    );
  }
  return {
    beta1: betas[0],
    beta2: betas[1],
    eps,
    maxGradNorm: maxGradNorm ?? 0,
    skipNonFinite,
  };
}

/**
 * `1 - beta ** t` in f64, as PyTorch's default AdamW computes `bias_correction1` and
 * `bias_correction2` with Python floats.
 */
export function _biasCorrection(beta: number, t: number): number {
  return 1 - beta ** t;
}

/** `sqrt(1 - beta2 ** t)` rounded once to f32, as PyTorch passes it to its f32 kernels. */
export function _biasCorrection2Sqrt(beta2: number, t: number): number {
  return Math.fround(_biasCorrection(beta2, t) ** 0.5);
}

/**
 * `1 / (1 - beta1 ** t)` in f64 rounded once to f32: the GPU's bias-correction table
 * holds it, indexed by the GPU's own step count.
 */
export function _inverseBiasCorrection1(beta1: number, t: number): number {
  return Math.fround(1 / _biasCorrection(beta1, t));
}

/**
 * The step size `lr / (1 - beta1 ** t)` as `CpuAdamW` and PyTorch compute it: in f64,
 * rounded once to f32. `GpuAdamW`, which learns `t` only on the GPU, computes
 * `Math.fround(lr)` times `_inverseBiasCorrection1` in f32 instead: the two differ by
 * about an ULP of the step size at most.
 */
export function _stepSize(lr: number, beta1: number, t: number): number {
  return Math.fround(lr / _biasCorrection(beta1, t));
}

/**
 * Checks that each group's learning rate gives a finite f32 step size at every step:
 * the largest is at step 1, `lr / (1 - beta1)`.
 *
 * @throws {RangeError} Naming the group, if one does not; nothing is changed then.
 */
export function _checkStepSizes(
  groupLr: Float64Array,
  { beta1 }: _AdamWHyper,
): void {
  for (let g = 0; g < groupLr.length; g++) {
    const first = Math.fround(groupLr[g]! / _biasCorrection(beta1, 1));
    if (!Number.isFinite(first) || !Number.isFinite(Math.fround(groupLr[g]!))) {
      throw new RangeError(
        `Expected every group's step size lr / (1 - beta1 ** t) to be finite in f32 (at most about 3.4e38) but group ${g} has lr ${
          groupLr[g]
        }, a step size of ${groupLr[g]! / (1 - beta1)} at step 1`,
      );
    }
  }
}

/** The smallest f32 sum of squares treated as an overflow: 2 ** 127, as the GPU reduction has it. */
export const NORM_SQUARES_OVERFLOW = 2 ** 127;

/**
 * The global gradient norm of PyTorch's `clip_grad_norm_`, its squares summed in f64 in
 * the order of `items`, reading each one's gradient with `gradOf` (so a step allocates
 * nothing): `NaN` if any value is NaN, `Infinity` if any is infinite or the sum
 * reaches 2 ** 127 (the GPU reduction sums in f32), else `sqrt(sum)` rounded to f32.
 */
export function _globalNorm<T>(
  items: readonly T[],
  gradOf: (item: T) => Float32Array,
): number {
  let sum = 0;
  let hasNaN = false;
  let hasInfinity = false;
  for (const item of items) {
    const grad = gradOf(item);
    for (let i = 0; i < grad.length; i++) {
      const value = grad[i]!;
      if (Number.isFinite(value)) sum += value * value;
      else if (Number.isNaN(value)) hasNaN = true;
      else hasInfinity = true;
    }
  }
  if (hasNaN) return NaN;
  if (hasInfinity || sum >= NORM_SQUARES_OVERFLOW) return Infinity;
  return Math.fround(Math.sqrt(sum));
}

/**
 * The clip coefficient of PyTorch's `clip_grad_norm_` in f32:
 * `min(1, maxGradNorm / (norm + 1e-6))`, rounded as PyTorch rounds it; 1 when not
 * clipping, or when the norm is not finite (the step is then skipped with
 * `skipNonFinite`, or runs unclipped).
 */
export function _clipCoefficient(norm: number, maxGradNorm: number): number {
  if (maxGradNorm === 0 || !Number.isFinite(norm)) return 1;
  const f = Math.fround;
  // PyTorch's `max_norm / (total_norm + 1e-6)` is `Tensor.__rtruediv__`: a reciprocal,
  // then a multiply, each rounded to f32.
  return Math.min(1, f(f(1 / f(norm + f(1e-6))) * f(maxGradNorm)));
}

/**
 * `fma(a, b, c)` of f32 values rounded once to f32, as the fused multiply-add of
 * PyTorch's vectorized CPU kernels (AVX2, AVX-512) computes `lerp` and `addcmul`.
 * `a * b` is exact in f64 (two 24-bit significands); `s = a * b + c` rounds once in f64,
 * and the error of that sum (exact, by Knuth's TwoSum) decides the only case where
 * rounding `s` to f32 would round twice: `s` exactly halfway between two f32 values.
 */
export function _fmaF32(a: number, b: number, c: number): number {
  const product = a * b;
  const sum = product + c;
  const rounded = Math.fround(sum);
  if (rounded === sum || !Number.isFinite(rounded)) return rounded;
  const virtual = sum - product;
  const error = (product - (sum - virtual)) + (c - virtual);
  if (error === 0) return rounded;
  const other = _nextF32(rounded, sum > rounded ? 1 : -1);
  if ((rounded + other) / 2 !== sum) return rounded;
  // Halfway in f64, but the exact value lies on the side of the error's sign.
  return (error > 0) === (other > rounded) ? other : rounded;
}

const _scratch = new Float32Array(1);
const _scratchBits = new Int32Array(_scratch.buffer);

/** The next f32 after the finite f32 `value`, up (`direction` 1) or down (-1). */
function _nextF32(value: number, direction: 1 | -1): number {
  if (value === 0) return direction * 2 ** -149;
  _scratch[0] = value;
  _scratchBits[0]! += (value > 0) === (direction > 0) ? 1 : -1;
  return _scratch[0]!;
}

/**
 * Checks an array of f32 values (a gradient, a moment) before anything is changed.
 *
 * @param what Names it, e.g. `the gradient of parameter "fc.bias"`.
 * @throws {TypeError} If `values` is not a `Float32Array`.
 * @throws {RangeError} If it does not hold `size` values.
 */
export function _checkValues(
  values: unknown,
  size: number,
  what: string,
): asserts values is Float32Array {
  if (!(values instanceof Float32Array)) {
    throw new TypeError(
      `Expected ${what} to be a Float32Array but found ${_describe(values)}`,
    );
  }
  if (values.length !== size) {
    throw new RangeError(
      `Expected ${what} to hold ${size} values but found ${values.length}`,
    );
  }
}

/** A parameter as state names it: its name and number of values, in engine order. */
export interface _StateSlot {
  readonly name: string;
  readonly size: number;
}

/** A state whose moments are checked, f32 arrays of the right lengths. */
export interface _CheckedState {
  readonly step: number;
  readonly params: readonly {
    readonly m: Float32Array;
    readonly v: Float32Array;
  }[];
}

/**
 * Checks all of a state before any of it is loaded: its shape, every moment's length,
 * and every value (first moments finite, second moments finite and >= 0). Moments may
 * be `Float32Array`s or arrays of numbers (a state that went through JSON).
 *
 * @throws {TypeError} If the state is not `{ step, params }`, an entry names another
 * parameter, or a moment is neither a `Float32Array` nor an array of numbers.
 * @throws {RangeError} If the step is not an integer in [0, 2 ** 32), the number of
 * entries or of a moment's values is wrong, or a value is out of its range; the
 * message names the parameter and the index.
 */
export function _checkState(
  state: unknown,
  slots: readonly _StateSlot[],
): _CheckedState {
  if (typeof state !== "object" || state === null) {
    throw new TypeError(
      `Expected state to be { step, params } but found ${_describe(state)}`,
    );
  }
  const { step, params } = state as Partial<AdamWState>;
  if (
    typeof step !== "number" || !Number.isSafeInteger(step) || step < 0 ||
    step >= 2 ** 32
  ) {
    throw new RangeError(
      `Expected state.step to be an integer from 0 to 2 ** 32 - 1 but found ${
        _describe(step)
      }`,
    );
  }
  if (!Array.isArray(params)) {
    throw new TypeError(
      `Expected state.params to be an array but found ${_describe(params)}`,
    );
  }
  if (params.length !== slots.length) {
    throw new RangeError(
      `Expected state.params to hold ${slots.length} parameters but found ${params.length}`,
    );
  }
  const checked = params.map((entry: unknown, i) => {
    const { name, size } = slots[i]!;
    const where = `state.params[${i}]`;
    if (typeof entry !== "object" || entry === null) {
      throw new TypeError(
        `Expected ${where} to be { name, m, v } but found ${_describe(entry)}`,
      );
    }
    const moments = entry as Partial<AdamWStateJson["params"][number]>;
    if (moments.name !== name) {
      throw new TypeError(
        `Expected ${where} to be parameter ${_describe(name)} but found ${
          _describe(moments.name)
        }`,
      );
    }
    const what = (key: string) =>
      `${where}.${key} of parameter ${_describe(name)}`;
    return {
      m: _checkMoment(moments.m, size, what("m"), false),
      v: _checkMoment(moments.v, size, what("v"), true),
    };
  });
  return { step, params: checked };
}

function _checkMoment(
  values: unknown,
  size: number,
  what: string,
  second: boolean,
): Float32Array {
  const array = values instanceof Float32Array
    ? values
    : Array.isArray(values)
    ? _numbers(values, what)
    : undefined;
  if (array === undefined) {
    throw new TypeError(
      `Expected ${what} to be a Float32Array or an array of numbers but found ${
        _describe(values)
      }`,
    );
  }
  if (array.length !== size) {
    throw new RangeError(
      `Expected ${what} to hold ${size} values but found ${array.length}`,
    );
  }
  for (let i = 0; i < array.length; i++) {
    const value = array[i]!;
    if (!Number.isFinite(value) || (second && value < 0)) {
      throw new RangeError(
        `Expected ${what} to hold ${
          second ? "finite values >= 0" : "finite values"
        } but found ${_describe(value)} at index ${i}`,
      );
    }
  }
  return array;
}

function _numbers(values: readonly unknown[], what: string): Float32Array {
  const index = values.findIndex((value) => typeof value !== "number");
  if (index !== -1) {
    throw new TypeError(
      `Expected ${what} to hold only numbers but found ${
        _describe(values[index])
      } at index ${index}`,
    );
  }
  return Float32Array.from(values as number[]);
}

/**
 * Gives a state a `toJSON` that writes its moments as arrays of numbers, so
 * `JSON.stringify(state)` round-trips through `JSON.parse` into `loadState` (every f32
 * value prints as the shortest decimal that reads back as itself).
 */
export function _jsonFriendly(state: AdamWState): AdamWState {
  Object.defineProperty(state, "toJSON", {
    value: (): AdamWStateJson => ({
      step: state.step,
      params: state.params.map(({ name, m, v }) => ({
        name,
        m: Array.from(m),
        v: Array.from(v),
      })),
    }),
  });
  return state;
}

/** An AdamW engine's hyperparameters as a checkpoint's metadata records them. */
export function _adamWMetadata(
  { beta1, beta2, eps, maxGradNorm, skipNonFinite }: _AdamWHyper,
  { scaling, maxLr }: { readonly scaling: string; readonly maxLr: number },
): Record<string, string> {
  return {
    betas: JSON.stringify([beta1, beta2]),
    eps: String(eps),
    ...(maxGradNorm === 0 ? {} : { maxGradNorm: String(maxGradNorm) }),
    skipNonFinite: String(skipNonFinite),
    scaling,
    ...(Number.isNaN(maxLr) ? {} : { maxLr: String(maxLr) }),
  };
}
