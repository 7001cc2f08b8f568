// Copyright 2026 the weight-decay authors. MIT license.
// The AdamW contract shared by both engines: validated options and gradients, the
// per-step scalars computed once on the host, and state checked before it is loaded.

import type { AdamWOptions, AdamWState } from "./adamw.ts";
import { ADAMW_SCALARS } from "./decay_kernel.ts";
import { _describe } from "./_describe.ts";

/** Positions in the per-step scalars, the order of the kernel's `AdamWScalars` struct. */
export const BETA1 = 0;
export const ONE_MINUS_BETA1 = 1;
export const BETA2 = 2;
export const ONE_MINUS_BETA2 = 3;
export const STEP_SIZE = 4;
export const BIAS_CORRECTION2_SQRT = 5;
export const EPS = 6;

/** The smallest normal f32: eps below it could be flushed to zero on a GPU. */
const MIN_EPS = 2 ** -126;

/** Adam's validated hyperparameters. */
export interface _AdamWHyper {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
}

/**
 * Validates Adam's options; the caller has checked that `options` is an object or
 * undefined (with `_checkScaling`).
 *
 * @throws {TypeError} If `betas` is not an array of two.
 * @throws {RangeError} If a beta is not in [0, 1), or `eps` is not a finite number of
 * at least the smallest normal f32.
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
  return { beta1: betas[0], beta2: betas[1], eps };
}

/**
 * The scalars of one step, computed in f64 and rounded to f32 once: the betas, their
 * complements, `lr / (1 - beta1^t)`, `sqrt(1 - beta2^t)` and eps. Written into one
 * array made at construction, so computing them allocates nothing.
 */
export class _AdamWScalars {
  /** The scalars of the last `compute`, at the positions named above. */
  readonly values: Float32Array<ArrayBuffer> = new Float32Array(ADAMW_SCALARS);
  readonly #beta1: number;
  readonly #beta2: number;

  constructor({ beta1, beta2, eps }: _AdamWHyper) {
    this.#beta1 = beta1;
    this.#beta2 = beta2;
    this.values[BETA1] = beta1;
    this.values[ONE_MINUS_BETA1] = 1 - beta1;
    this.values[BETA2] = beta2;
    this.values[ONE_MINUS_BETA2] = 1 - beta2;
    this.values[EPS] = eps;
  }

  /**
   * Computes the scalars of step `t` (from 1) at learning rate `lr`, checked by the
   * caller.
   *
   * @returns {@linkcode _AdamWScalars.values}, filled in.
   */
  compute(lr: number, t: number): Float32Array<ArrayBuffer> {
    this.values[STEP_SIZE] = lr / (1 - this.#beta1 ** t);
    this.values[BIAS_CORRECTION2_SQRT] = Math.sqrt(1 - this.#beta2 ** t);
    return this.values;
  }
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

/**
 * Checks all of a state before any of it is loaded.
 *
 * @throws {TypeError} If the state is not `{ step, params }`, an entry names another
 * parameter, or a moment is not a `Float32Array`.
 * @throws {RangeError} If the step is not an integer >= 0, or the number of entries or
 * of a moment's values is wrong.
 */
export function _checkState(
  state: unknown,
  slots: readonly _StateSlot[],
): AdamWState {
  if (typeof state !== "object" || state === null) {
    throw new TypeError(
      `Expected state to be { step, params } but found ${_describe(state)}`,
    );
  }
  const { step, params } = state as Partial<AdamWState>;
  if (typeof step !== "number" || !Number.isSafeInteger(step) || step < 0) {
    throw new RangeError(
      `Expected state.step to be an integer >= 0 but found ${_describe(step)}`,
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
  params.forEach((entry: unknown, i) => {
    const { name, size } = slots[i]!;
    const where = `state.params[${i}]`;
    if (typeof entry !== "object" || entry === null) {
      throw new TypeError(
        `Expected ${where} to be { name, m, v } but found ${_describe(entry)}`,
      );
    }
    const moments = entry as Partial<AdamWState["params"][number]>;
    if (moments.name !== name) {
      throw new TypeError(
        `Expected ${where} to be parameter ${_describe(name)} but found ${
          _describe(moments.name)
        }`,
      );
    }
    for (const key of ["m", "v"] as const) {
      _checkValues(
        moments[key],
        size,
        `${where}.${key} of parameter ${_describe(name)}`,
      );
    }
  });
  return state as AdamWState;
}
