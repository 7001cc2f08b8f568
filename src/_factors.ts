// Copyright 2026 the weight-decay authors. MIT license.
// The decay contract shared by every engine: validated options, and per-step factors
// computed once on the host, checked before anything is changed.

import {
  DECAY_SCALINGS,
  type DecayOptions,
  type DecayScaling,
} from "./decay_step.ts";
import { _describe } from "./_describe.ts";

/** The validated scaling of a decay engine. */
export interface _Scaling {
  readonly scaling: DecayScaling;
  readonly maxLr: number;
}

/**
 * Validates decay options.
 *
 * @throws {TypeError} If options is not an object.
 * @throws {RangeError} If `scaling` is unknown, or `maxLr` is missing, not finite or
 * not > 0 where the scaling needs it.
 */
export function _checkScaling(options: DecayOptions | undefined): _Scaling {
  if (options === undefined) return { scaling: "lr", maxLr: NaN };
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Expected options to be an object but found ${_describe(options)}`,
    );
  }
  const scaling = options.scaling ?? "lr";
  if (!DECAY_SCALINGS.includes(scaling)) {
    throw new RangeError(
      `Expected scaling to be one of ${
        DECAY_SCALINGS.map((s) => `"${s}"`).join(", ")
      } but found ${_describe(scaling)}`,
    );
  }
  if (scaling !== "schedule" && scaling !== "corrected") {
    return { scaling, maxLr: NaN };
  }
  const maxLr = options.maxLr;
  if (typeof maxLr !== "number" || !Number.isFinite(maxLr) || maxLr <= 0) {
    throw new RangeError(
      `Expected maxLr to be a finite number > 0 for scaling "${scaling}" but found ${
        _describe(maxLr)
      }`,
    );
  }
  return { scaling, maxLr };
}

/**
 * Checks a learning rate.
 *
 * @throws {RangeError} If `lr` is not a finite number >= 0.
 */
function _checkLr(lr: number): void {
  if (typeof lr !== "number" || !Number.isFinite(lr) || lr < 0) {
    throw new RangeError(
      `Expected lr to be a finite number >= 0 but found ${_describe(lr)}`,
    );
  }
}

/** `s(lr)`: what the decay multiplies under a scaling, for a group's own lr. */
function _scaledLr({ scaling, maxLr }: _Scaling, lr: number): number {
  switch (scaling) {
    case "lr":
      return lr;
    case "schedule":
      return lr / maxLr;
    case "independent":
      return 1;
    case "corrected":
      return lr * lr / maxLr;
  }
}

/** What a decay engine keeps of a group: its weight decay and lr scale. */
export interface _GroupValues {
  readonly weightDecay: number;
  readonly lrScale: number;
}

/**
 * The per-group values of one step, written into arrays made at construction, so
 * computing them allocates nothing: each group's learning rate `lr * lrScale` and its
 * decay factor `Math.fround(1 - s(lr * lrScale) * weightDecay)`.
 */
export class _DecayFactors {
  /** The factors of the last `compute`, one per group, each an f32 value. */
  readonly values: Float32Array<ArrayBuffer>;
  /** The learning rate of each group in the last `compute`, `lr * lrScale` in f64. */
  readonly groupLr: Float64Array;
  readonly #weightDecays: Float64Array;
  readonly #lrScales: Float64Array;
  readonly #scaling: _Scaling;

  constructor(groups: readonly _GroupValues[], scaling: _Scaling) {
    this.#weightDecays = Float64Array.from(groups, (g) => g.weightDecay);
    this.#lrScales = Float64Array.from(groups, (g) => g.lrScale);
    this.values = new Float32Array(groups.length);
    this.groupLr = new Float64Array(groups.length);
    this.#scaling = scaling;
  }

  /**
   * Computes the values for `lr`.
   *
   * @returns {@linkcode _DecayFactors.values}, filled in.
   * @throws {RangeError} If `lr` is not finite and >= 0, or a group's learning rate, its
   * decay scale `s` or its factor is not finite, or a factor would be below 0; the
   * values are unchanged then.
   */
  compute(lr: number): Float32Array<ArrayBuffer> {
    _checkLr(lr);
    const weightDecays = this.#weightDecays;
    const lrScales = this.#lrScales;
    for (let g = 0; g < weightDecays.length; g++) {
      const groupLr = lr * lrScales[g]!;
      const scaled = _scaledLr(this.#scaling, groupLr);
      // Written to reject NaN too: every comparison with NaN is false.
      if (!(Number.isFinite(groupLr) && Number.isFinite(scaled))) {
        this.#throwNotFinite(lr, groupLr, scaled, g);
      }
      if (!(1 - scaled * weightDecays[g]! >= 0)) {
        this.#throwNegative(lr, scaled, g);
      }
    }
    for (let g = 0; g < weightDecays.length; g++) {
      const groupLr = lr * lrScales[g]!;
      this.groupLr[g] = groupLr;
      this.values[g] = 1 - _scaledLr(this.#scaling, groupLr) * weightDecays[g]!;
    }
    return this.values;
  }

  #term(lr: number, group: number): string {
    const lrScale = this.#lrScales[group]!;
    return lrScale === 1 ? `lr ${lr}` : `lr * lrScale = ${lr} * ${lrScale}`;
  }

  #throwNotFinite(
    lr: number,
    groupLr: number,
    scaled: number,
    group: number,
  ): never {
    const { scaling, maxLr } = this.#scaling;
    const what = Number.isFinite(groupLr)
      ? `scaling "${scaling}" with maxLr ${maxLr} gives s(lr) = ${scaled}`
      : `${this.#term(lr, group)} = ${groupLr}`;
    throw new RangeError(
      `Expected every group's learning rate and decay scale to be finite but group ${group} has ${what}`,
    );
  }

  #throwNegative(lr: number, scaled: number, group: number): never {
    const weightDecay = this.#weightDecays[group]!;
    const lrScale = this.#lrScales[group]!;
    const term = this.#scaling.scaling === "lr"
      ? lrScale === 1
        ? `lr * weightDecay = ${lr} * ${weightDecay}`
        : `lr * lrScale * weightDecay = ${lr} * ${lrScale} * ${weightDecay}`
      : `s(lr) * weightDecay = ${scaled} * ${weightDecay} (scaling "${this.#scaling.scaling}", ${
        this.#term(lr, group)
      })`;
    throw new RangeError(
      `Expected lr * weightDecay <= 1 so parameters keep their sign, but group ${group} has ${term} = ${
        scaled * weightDecay
      }, a factor of ${1 - scaled * weightDecay}`,
    );
  }
}
