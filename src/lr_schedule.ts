// Copyright 2026 the weight-decay authors. MIT license.
/**
 * Learning-rate schedules that are plain functions of the step and also plain data, so
 * an optimizer that takes one can save it with its config and rebuild it on load.
 *
 * @module
 */

import { _describe } from "./_describe.ts";
import { _checkKeys } from "./_check_keys.ts";

/** Options of {@linkcode warmupCosine}, optax's `warmup_cosine_decay_schedule`. */
export interface WarmupCosineOptions {
  /**
   * The learning rate at step 0, where the linear warmup starts; finite and >= 0.
   *
   * @default {0}
   */
  initLr?: number;
  /** The learning rate the warmup reaches at `warmupSteps`; finite and >= 0. */
  peakLr: number;
  /** Steps of linear warmup from `initLr` to `peakLr`: an integer >= 0. */
  warmupSteps: number;
  /**
   * The length of the whole schedule, warmup included, as optax counts it: the cosine
   * decays from `peakLr` at `warmupSteps` to `endLr` at `decaySteps`. An integer
   * greater than `warmupSteps`.
   */
  decaySteps: number;
  /**
   * The learning rate at `decaySteps` and after; finite and >= 0.
   *
   * @default {0}
   */
  endLr?: number;
}

/** The data of a schedule: what {@linkcode LrSchedule.config} holds. */
export interface LrScheduleConfig {
  /** A {@linkcode warmupCosine} schedule, with every option filled in. */
  readonly warmupCosine: Readonly<Required<WarmupCosineOptions>>;
}

/**
 * A learning rate per step: a function of the step count (0 for the first step) that
 * also carries its own description, {@linkcode LrSchedule.config}, as plain JSON data.
 */
export interface LrSchedule {
  /**
   * The learning rate of a step.
   *
   * @param step Steps taken before this one: 0 for the first; finite and >= 0.
   * @returns The learning rate, finite and >= 0.
   * @throws {RangeError} If `step` is negative or not finite.
   */
  (step: number): number;
  /** What the schedule is, as data that `JSON.stringify` writes as is. */
  readonly config: LrScheduleConfig;
}

/** Schedules made here: only these are saved as data by optimizers that take them. */
const _schedules = new WeakSet<object>();

/**
 * Linear warmup, then cosine decay: optax's `warmup_cosine_decay_schedule` with the
 * same arguments and formula. At step `t`:
 *
 * - `t < warmupSteps`: `initLr + (peakLr - initLr) * t / warmupSteps`;
 * - `warmupSteps <= t`: `peakLr * ((1 - a) * 0.5 * (1 + cos(pi * u)) + a)` with
 *   `u = min(t - warmupSteps, d) / d`, `d = decaySteps - warmupSteps` and
 *   `a = endLr / peakLr` (0 when `peakLr` is 0), so `endLr` from `decaySteps` on.
 *
 * `step` counts the steps taken before the one the rate is for, so the first step gets
 * `initLr`: with the default `initLr` of 0 it changes nothing, as in optax and in
 * Hugging Face's `get_cosine_schedule_with_warmup`. Computed in f64.
 *
 * @param options The rates and the step counts.
 * @returns The schedule: call it with a step count, or pass it as an optimizer's
 * learning rate.
 * @throws {TypeError} If `options` is not an object or has an unknown key.
 * @throws {RangeError} If a rate is not finite and >= 0, `warmupSteps` is not an
 * integer >= 0, or `decaySteps` is not an integer greater than `warmupSteps`.
 *
 * @example A warmup over 10 steps, then a cosine to a tenth of the peak at step 100
 * ```ts
 * import { warmupCosine } from "@decoupled/weight-decay/tfjs";
 * import assert from "node:assert/strict";
 *
 * const lr = warmupCosine({ peakLr: 1e-3, warmupSteps: 10, decaySteps: 100, endLr: 1e-4 });
 * assert.equal(lr(0), 0);
 * assert.equal(lr(5), 5e-4);
 * assert.equal(lr(10), 1e-3);
 * assert.ok(Math.abs(lr(55) - 5.5e-4) < 1e-12); // halfway down the cosine
 * assert.equal(lr(100), 1e-4);
 * assert.equal(lr(1000), 1e-4);
 * assert.deepEqual(JSON.parse(JSON.stringify(lr.config)), {
 *   warmupCosine: { initLr: 0, peakLr: 1e-3, warmupSteps: 10, decaySteps: 100, endLr: 1e-4 },
 * });
 * ```
 */
export function warmupCosine(options: WarmupCosineOptions): LrSchedule {
  if (options === undefined) {
    throw new TypeError(
      "Expected warmupCosine options { peakLr, warmupSteps, decaySteps } but found undefined",
    );
  }
  _checkKeys(options, "warmupCosine options", WARMUP_COSINE_KEYS);
  const { initLr = 0, peakLr, warmupSteps, decaySteps, endLr = 0 } = options;
  for (
    const [name, value] of [["initLr", initLr], ["peakLr", peakLr], [
      "endLr",
      endLr,
    ]] as const
  ) {
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
      throw new RangeError(
        `Expected ${name} to be a finite number >= 0 but found ${
          _describe(value)
        }`,
      );
    }
  }
  if (!Number.isSafeInteger(warmupSteps) || warmupSteps < 0) {
    throw new RangeError(
      `Expected warmupSteps to be an integer >= 0 but found ${
        _describe(warmupSteps)
      }`,
    );
  }
  if (!Number.isSafeInteger(decaySteps) || !(decaySteps > warmupSteps)) {
    throw new RangeError(
      `Expected decaySteps (the whole schedule, warmup included) to be an integer greater than warmupSteps (${warmupSteps}) but found ${
        _describe(decaySteps)
      }`,
    );
  }
  const config: LrScheduleConfig = Object.freeze({
    warmupCosine: Object.freeze({
      initLr,
      peakLr,
      warmupSteps,
      decaySteps,
      endLr,
    }),
  });
  const alpha = peakLr === 0 ? 0 : endLr / peakLr;
  const decay = decaySteps - warmupSteps;
  const schedule = (step: number): number => {
    if (typeof step !== "number" || !Number.isFinite(step) || step < 0) {
      throw new RangeError(
        `Expected step to be a finite number >= 0 but found ${_describe(step)}`,
      );
    }
    if (step < warmupSteps) {
      return (initLr - peakLr) * (1 - step / warmupSteps) + peakLr;
    }
    const progress = Math.min(step - warmupSteps, decay) / decay;
    const cosine = 0.5 * (1 + Math.cos(Math.PI * progress));
    return peakLr * ((1 - alpha) * cosine + alpha);
  };
  const made = Object.assign(schedule, { config }) as LrSchedule;
  _schedules.add(made);
  return made;
}

const WARMUP_COSINE_KEYS = [
  "initLr",
  "peakLr",
  "warmupSteps",
  "decaySteps",
  "endLr",
] as const;

/** The data of a schedule made here, or undefined for any other value. */
export function _scheduleConfig(value: unknown): LrScheduleConfig | undefined {
  return typeof value === "function" && _schedules.has(value)
    ? (value as LrSchedule).config
    : undefined;
}

/**
 * The schedule a config describes.
 *
 * @throws {TypeError} If it is not `{ warmupCosine: { ... } }`, or has unknown keys.
 * @throws {RangeError} As {@linkcode warmupCosine} does.
 */
export function _scheduleFromConfig(config: unknown): LrSchedule {
  _checkKeys(config, "learning-rate schedule", ["warmupCosine"]);
  const options = (config as Partial<LrScheduleConfig> | undefined)
    ?.warmupCosine;
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Expected a learning-rate schedule { warmupCosine: { peakLr, warmupSteps, decaySteps } } but found ${
        _describe(config)
      }`,
    );
  }
  return warmupCosine(options);
}
