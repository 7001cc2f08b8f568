// Copyright 2026 the weight-decay authors. MIT license.
// Everything a TfjsAdamW does, apart from being a tf.Optimizer: its options and slots,
// the choice of path for each step, its weights, and its config.

import type { ParamGroup } from "./groups.ts";
import type { DecayScaling } from "./decay_step.ts";
import type { _NamedTensor, _Tf, _Variable } from "./_tfjs_adamw_types.ts";
import {
  _ensureMoments,
  _sameShape,
  type _Slot,
  _slotConfig,
  _slotFromConfig,
  _SlotIndex,
  _variableKey,
  _variableName,
} from "./_tfjs_adamw_slots.ts";
import {
  type _BiasTables,
  _biasTables,
  _opsStep,
  type _StepContext,
} from "./_tfjs_adamw_ops.ts";
import { _hostStep } from "./_tfjs_adamw_host.ts";
import { _TfjsAdamWFused } from "./_tfjs_adamw_fused.ts";
import { _asWebGpuBackend } from "./_tfjs_fused.ts";
import { _checkGroups } from "./_check_groups.ts";
import { _checkScaling, _DecayFactors } from "./_factors.ts";
import {
  type _AdamWHyper,
  _checkAdamWOptions,
  _checkState,
  _checkStepSizes,
  ADAMW_OPTION_HINTS,
  ADAMW_OPTION_KEYS,
} from "./_adamw.ts";
import { _checkKeys } from "./_check_keys.ts";
import { _describe } from "./_describe.ts";
import {
  _scheduleConfig,
  _scheduleFromConfig,
  type LrScheduleConfig,
} from "./lr_schedule.ts";
import { _checkVariable } from "./_tfjs_check.ts";

/** How a step ran; see `TfjsAdamWPath`. */
export type _Path = "fused" | "host" | "per-variable";

/** The options a TfjsAdamW takes, as `tfjsAdamW` documents them. */
export interface _Options {
  learningRate?: number | ((step: number) => number);
  betas?: readonly [number, number];
  eps?: number;
  maxGradNorm?: number;
  skipNonFinite?: boolean;
  scaling?: DecayScaling;
  maxLr?: number;
  fused?: boolean;
}

/** The option keys, for the unknown-key check and the config. */
export const OPTION_KEYS: readonly string[] = [
  "learningRate",
  ...ADAMW_OPTION_KEYS,
  "fused",
];

/** What other optimizers' spellings mean here. */
const OPTION_HINTS: Readonly<Record<string, string>> = {
  ...ADAMW_OPTION_HINTS,
  "lr": "use learningRate",
  "learning_rate": "use learningRate",
  "clipnorm": "use maxGradNorm",
  "clipvalue": "clipping by value is not implemented; use maxGradNorm",
  "amsgrad": "AMSGrad is not implemented",
};

/** The validated options. */
interface _Settings {
  readonly learningRate: number | ((step: number) => number);
  readonly hyper: _AdamWHyper;
  readonly scaling: DecayScaling;
  /** The peak learning rate of the decay scaling; NaN when it needs none. */
  readonly maxLr: number;
  readonly fused: boolean;
}

/** The groups' values, in group order. */
type _Groups = readonly {
  readonly weightDecay: number;
  readonly lrScale: number;
}[];

/** How a TfjsAdamW is made: from live groups or from a saved config. */
export interface _CoreSpec {
  readonly settings: _Settings;
  readonly groups: _Groups;
  readonly slots: readonly _Slot[];
}

/**
 * Validates the options: unknown keys, the learning rate, Adam's options and the decay
 * scaling, whose `maxLr` defaults to the learning rate's peak.
 *
 * @throws {TypeError} If `options` is not an object, has an unknown key, or an option
 * has the wrong type.
 * @throws {RangeError} If an option is out of range.
 */
export function _checkOptions(options: _Options | undefined): _Settings {
  _checkKeys(options, "TfjsAdamW options", OPTION_KEYS, OPTION_HINTS);
  const learningRate = options?.learningRate ?? 1e-3;
  const schedule = _scheduleConfig(learningRate);
  if (typeof learningRate === "number") {
    if (!Number.isFinite(learningRate) || learningRate < 0) {
      throw new RangeError(
        `Expected learningRate to be a finite number >= 0 but found ${
          _describe(learningRate)
        }`,
      );
    }
  } else if (typeof learningRate !== "function") {
    throw new TypeError(
      `Expected learningRate to be a number or a function of the step (such as warmupCosine(...)) but found ${
        _describe(learningRate)
      }`,
    );
  }
  const peak = typeof learningRate === "number"
    ? learningRate
    : schedule?.warmupCosine.peakLr;
  const maxLrOrPeak = options?.maxLr ?? peak;
  const { scaling, maxLr } = _checkScaling({
    ...(options?.scaling === undefined ? {} : { scaling: options.scaling }),
    ...(maxLrOrPeak === undefined ? {} : { maxLr: maxLrOrPeak }),
  });
  const fused = options?.fused ?? true;
  if (typeof fused !== "boolean") {
    throw new TypeError(
      `Expected fused to be a boolean but found ${_describe(fused)}`,
    );
  }
  return {
    learningRate,
    hyper: _checkAdamWOptions(options),
    scaling,
    maxLr,
    fused,
  };
}

/**
 * The spec of an optimizer over live groups.
 *
 * @throws {TypeError} As `_checkGroups`, or if a parameter is not a float32
 * `tf.Variable`.
 * @throws {RangeError} As `_checkGroups`.
 */
export function _specFromGroups(
  tf: _Tf,
  groups: readonly ParamGroup<_Variable>[],
  options: _Options | undefined,
): _CoreSpec {
  const settings = _checkOptions(options);
  const checked = _checkGroups(groups, _checkVariable);
  const slots: _Slot[] = [];
  checked.forEach((group, g) =>
    group.params.forEach((variable, i) =>
      slots.push({
        index: slots.length,
        group: g,
        name: group.names[i]!,
        shape: Object.freeze([...variable.shape]),
        size: variable.size,
        key: _variableKey(variable.name),
        savedName: variable.name,
        variable,
        m: undefined,
        v: undefined,
      })
    )
  );
  for (const slot of slots) _ensureMoments(tf, slot);
  return { settings, groups: checked, slots };
}

/**
 * The spec of an optimizer saved with `getConfig`, its slots not yet bound.
 *
 * @throws {TypeError} If the config is not one `getConfig` writes.
 * @throws {RangeError} If a value in it is out of range.
 */
export function _specFromConfig(config: unknown): _CoreSpec {
  _checkKeys(config, "TfjsAdamW config", [
    ...OPTION_KEYS,
    "groups",
    // tfjs-layers adds it to every config it deserializes.
    "customObjects",
  ]);
  const {
    groups,
    customObjects: _,
    learningRate,
    maxGradNorm,
    ...rest
  } = config as Record<string, unknown>;
  const settings = _checkOptions({
    ...rest,
    ...(learningRate === undefined ? {} : {
      learningRate: typeof learningRate === "number"
        ? learningRate
        : _scheduleFromConfig(learningRate),
    }),
    // JSON has no Infinity: getConfig writes it as a string.
    ...(maxGradNorm === undefined ? {} : {
      maxGradNorm: maxGradNorm === "Infinity" ? Infinity : maxGradNorm,
    }),
  } as _Options);
  if (!Array.isArray(groups)) {
    throw new TypeError(
      `Expected config.groups to be an array but found ${_describe(groups)}`,
    );
  }
  const slots: _Slot[] = [];
  const checked = groups.map((group: unknown, g) => {
    const where = `config.groups[${g}]`;
    _checkKeys(group, where, ["weightDecay", "lrScale", "params"]);
    const { weightDecay, lrScale, params } = (group ?? {}) as Record<
      string,
      unknown
    >;
    if (!Array.isArray(params)) {
      throw new TypeError(
        `Expected ${where}.params to be an array but found ${
          _describe(params)
        }`,
      );
    }
    params.forEach((param, i) =>
      slots.push(
        _slotFromConfig(param, slots.length, g, `${where}.params[${i}]`),
      )
    );
    return { weightDecay, lrScale };
  });
  // Checks the values as groups of live variables would be checked.
  const values = _checkGroups(
    checked.map((group, g) => ({
      ...group,
      params: slots.filter((slot) => slot.group === g),
    })) as ParamGroup<_Slot>[],
    () => {},
  );
  return { settings, groups: values, slots };
}

/** A tf.Variable as a group holds it. */

/** A TfjsAdamW's state and steps. */
export class _TfjsAdamWCore {
  readonly #tf: _Tf;
  readonly #settings: _Settings;
  readonly #groups: _Groups;
  readonly #index: _SlotIndex;
  readonly #factors: _DecayFactors;
  readonly #fused: _TfjsAdamWFused;
  /** The step count `t`, as an int32 scalar, where the paths keep it. */
  readonly #step: _Variable;
  /** `t` as the host knows it: always, except after a device-decided skip. */
  #knownStep: number | undefined = 0;
  #tables: _BiasTables | undefined;
  #lastPath: _Path | undefined;
  #disposed = false;

  constructor(tf: _Tf, spec: _CoreSpec) {
    this.#tf = tf;
    this.#settings = spec.settings;
    this.#groups = spec.groups;
    this.#index = new _SlotIndex(spec.slots);
    const { scaling, maxLr, hyper } = spec.settings;
    this.#factors = new _DecayFactors(spec.groups, { scaling, maxLr });
    this.#fused = new _TfjsAdamWFused(spec.groups, {
      betas: [hyper.beta1, hyper.beta2],
      eps: hyper.eps,
      ...(hyper.maxGradNorm === 0 ? {} : { maxGradNorm: hyper.maxGradNorm }),
      skipNonFinite: hyper.skipNonFinite,
      scaling,
      ...(Number.isNaN(maxLr) ? {} : { maxLr }),
    });
    this.#step = tf.tidy(() => tf.variable(tf.scalar(0, "int32"), false));
  }

  get lastPath(): _Path | undefined {
    return this.#lastPath;
  }

  /**
   * Takes one step with the gradients, at the learning rate of step `iterations`.
   *
   * @throws {TypeError} If the optimizer was disposed, or as `_SlotIndex.resolve`.
   * @throws {RangeError} If the learning rate is bad, or as `_SlotIndex.resolve`.
   * @throws {Error} If the fused path's GPU work failed.
   */
  apply(
    gradients: Record<string, unknown> | readonly _NamedTensor[],
    iterations: number,
  ): void {
    this.#checkUsable();
    const tf = this.#tf;
    const active = this.#index.resolve(tf, gradients);
    const lr = this.#lrAt(iterations);
    const factors = this.#factors.compute(lr);
    _checkStepSizes(this.#factors.groupLr, this.#settings.hyper);
    if (active.length === 0) return;
    const context: _StepContext = {
      tf,
      hyper: this.#settings.hyper,
      active,
      factors,
      groupLr: this.#factors.groupLr,
      step: this.#step,
      knownStep: this.#knownStep,
    };
    if (this.#settings.fused) {
      const webgpu = _asWebGpuBackend(tf.backend());
      const fused = webgpu && this.#fused.step(tf, webgpu, context, lr);
      if (fused) {
        this.#knownStep = fused.count;
        this.#lastPath = "fused";
        return;
      }
    }
    this.#fused.flush(tf, this.#step);
    const current = { ...context, knownStep: this.#knownStep };
    if (this.#settings.fused && tf.getBackend() === "cpu") {
      this.#knownStep = _hostStep(current);
      this.#lastPath = "host";
      return;
    }
    this.#knownStep = _opsStep(
      current,
      () => this.#tables ??= _biasTables(tf, this.#settings.hyper),
    );
    this.#lastPath = "per-variable";
  }

  /**
   * The weights as TensorFlow.js's Adam names and orders them: `iter` (a new int32
   * scalar, the caller's), each slot's first moment (`<variable>/m`), each one's second
   * (`<variable>/v`), then the step count as `step` if it differs from `iter`.
   */
  async getWeights(iterations: number): Promise<_NamedTensor[]> {
    this.#checkUsable();
    const tf = this.#tf;
    this.#fused.flush(tf, this.#step);
    const { slots } = this.#index;
    for (const slot of slots) _ensureMoments(tf, slot);
    const t = this.#knownStep ?? (await this.#step.data())[0]!;
    return [
      { name: "iter", tensor: tf.scalar(iterations, "int32") },
      ...slots.map((slot) => ({
        name: `${_variableName(slot)}/m`,
        tensor: slot.m!,
      })),
      ...slots.map((slot) => ({
        name: `${_variableName(slot)}/v`,
        tensor: slot.v!,
      })),
      ...(t === iterations ? [] : [{ name: "step", tensor: this.#step }]),
    ];
  }

  /**
   * Loads weights that `getWeights` gave (or TensorFlow.js's Adam, for the same
   * variables), all checked before any is loaded.
   *
   * @returns The iteration count they hold.
   * @throws {TypeError} If they are not `{ name, tensor }` entries, or a moment's name
   * is not its slot's.
   * @throws {RangeError} If their number, a shape, the iteration count, the step count
   * or a moment's values are out of range.
   */
  async setWeights(weights: readonly _NamedTensor[]): Promise<number> {
    this.#checkUsable();
    const tf = this.#tf;
    const { slots } = this.#index;
    const n = slots.length;
    if (
      !Array.isArray(weights) ||
      (weights.length !== 2 * n + 1 && weights.length !== 2 * n + 2)
    ) {
      throw new RangeError(
        `Expected ${
          2 * n + 1
        } weights (iter, then the first and the second moment of each of the ${n} parameters) or ${
          2 * n + 2
        } (and the step count) but found ${
          Array.isArray(weights) ? weights.length : _describe(weights)
        }`,
      );
    }
    weights.forEach((entry, i) => {
      if (typeof entry?.tensor?.data !== "function") {
        throw new TypeError(
          `Expected weight ${i} to be { name, tensor } but found ${
            _describe(entry)
          }`,
        );
      }
    });
    const moments = (k: number, suffix: "m" | "v") => {
      const slot = slots[k]!;
      const { name, tensor } = weights[1 + k + (suffix === "v" ? n : 0)]!;
      const expected = `${_variableName(slot)}/${suffix}`;
      if (
        typeof name !== "string" || !name.endsWith(`/${suffix}`) ||
        _variableKey(name.slice(0, -2)) !== slot.key
      ) {
        throw new TypeError(
          `Expected weight ${1 + k + (suffix === "v" ? n : 0)} to be ${
            _describe(expected)
          } of parameter ${_describe(slot.name)} but found ${_describe(name)}`,
        );
      }
      if (!_sameShape(tensor.shape, slot.shape)) {
        throw new RangeError(
          `Expected weight ${_describe(name)} to have the shape ${
            _describe(slot.shape)
          } of parameter ${_describe(slot.name)} but found ${
            _describe(tensor.shape)
          }`,
        );
      }
      return tensor;
    };
    const tensors = slots.map((_, k) => [moments(k, "m"), moments(k, "v")]);
    const [iterValues, stepValues, ...values] = await Promise.all([
      weights[0]!.tensor.data(),
      weights.length === 2 * n + 2 ? weights[2 * n + 1]!.tensor.data() : null,
      ...tensors.flat().map((tensor) => tensor.data()),
    ]);
    const iterations = iterValues![0];
    if (
      iterValues!.length !== 1 || !Number.isSafeInteger(iterations) ||
      iterations! < 0
    ) {
      throw new RangeError(
        `Expected weight 0 (iter) to be one integer >= 0 but found ${
          _describe(Array.from(iterValues!))
        }`,
      );
    }
    const state = _checkState(
      {
        step: stepValues === null ? iterations : stepValues[0],
        params: slots.map((slot, k) => ({
          name: slot.name,
          m: Float32Array.from(values[2 * k]!),
          v: Float32Array.from(values[2 * k + 1]!),
        })),
      },
      slots,
    );
    tf.tidy(() => {
      slots.forEach((slot, k) => {
        const { m, v } = state.params[k]!;
        const tensor = (data: Float32Array) =>
          tf.tensor(data, slot.shape, "float32");
        if (slot.m === undefined) slot.m = tf.variable(tensor(m), false);
        else slot.m.assign(tensor(m));
        if (slot.v === undefined) slot.v = tf.variable(tensor(v), false);
        else slot.v.assign(tensor(v));
      });
      this.#step.assign(tf.scalar(state.step, "int32"));
    });
    this.#fused.discardState();
    this.#knownStep = state.step;
    return iterations!;
  }

  /**
   * The config `_specFromConfig` takes back: the options, and each group's values and
   * parameters (names, shapes and variable names, for binding them on load).
   *
   * @throws {TypeError} If the learning rate is a function that is not a schedule made
   * by `warmupCosine`, which cannot be saved.
   */
  getConfig(): Record<string, unknown> {
    const { learningRate, hyper, scaling, maxLr, fused } = this.#settings;
    let rate: number | LrScheduleConfig;
    if (typeof learningRate === "number") rate = learningRate;
    else {
      const schedule = _scheduleConfig(learningRate);
      if (schedule === undefined) {
        throw new TypeError(
          `Expected a learning rate that can be saved with the model (a number, or a schedule from warmupCosine) but found ${
            _describe(learningRate)
          }`,
        );
      }
      rate = schedule;
    }
    return {
      learningRate: rate,
      betas: [hyper.beta1, hyper.beta2],
      eps: hyper.eps,
      ...(hyper.maxGradNorm === 0 ? {} : {
        maxGradNorm: Number.isFinite(hyper.maxGradNorm)
          ? hyper.maxGradNorm
          : "Infinity",
      }),
      skipNonFinite: hyper.skipNonFinite,
      scaling,
      ...(Number.isNaN(maxLr) ? {} : { maxLr }),
      fused,
      groups: this.#groups.map(({ weightDecay, lrScale }, g) => ({
        weightDecay,
        lrScale,
        params: this.#index.slots.filter((slot) => slot.group === g).map(
          _slotConfig,
        ),
      })),
    };
  }

  /** Frees every tensor and GPU buffer the optimizer made; safe to call twice. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#fused.destroy();
    for (const slot of this.#index.slots) {
      slot.m?.dispose();
      slot.v?.dispose();
    }
    this.#step.dispose();
    this.#tables?.first.dispose();
    this.#tables?.second.dispose();
  }

  #checkUsable(): void {
    if (this.#disposed) throw new Error("TfjsAdamW has been disposed");
    this.#fused.check();
  }

  #lrAt(iterations: number): number {
    const { learningRate } = this.#settings;
    if (typeof learningRate === "number") return learningRate;
    const lr = learningRate(iterations);
    if (typeof lr !== "number" || !Number.isFinite(lr) || lr < 0) {
      throw new RangeError(
        `Expected learningRate(${iterations}) to be a finite number >= 0 but found ${
          _describe(lr)
        }`,
      );
    }
    return lr;
  }
}
