// Copyright 2026 the weight-decay authors. MIT license.
/**
 * AdamW for TensorFlow.js: a `tf.Optimizer` with `torch.optim.AdamW` semantics and
 * parameter groups, for `model.compile` and `model.fit`.
 *
 * @module
 */

import type { ParamGroup } from "./groups.ts";
import type { AdamWOptions } from "./adamw.ts";
import type { TensorHandle, TfNamespace, VariableLike } from "./tfjs_types.ts";
import type { _NamedTensor, _Tf, _Variable } from "./_tfjs_adamw_types.ts";
import { TF_FUNCTIONS } from "./_tfjs_adamw_types.ts";
import {
  _specFromConfig,
  _specFromGroups,
  _TfjsAdamWCore,
} from "./_tfjs_adamw_core.ts";
import { _describe } from "./_describe.ts";

/**
 * How a {@linkcode TfjsAdamW} step ran:
 *
 * - `"fused"`: on the `webgpu` backend, one submission: the gradients copied into a
 *   {@linkcode GpuAdamW} arena, one compute pass for decay and Adam of every variable,
 *   and each variable's values copied back into its own buffer;
 * - `"host"`: on the `cpu` backend, {@linkcode CpuAdamW}'s own arithmetic on the
 *   variables' values (bit for bit CpuAdamW's results), one new tensor per variable
 *   and moment;
 * - `"per-variable"`: TensorFlow.js operations per variable, on any backend.
 */
export type TfjsAdamWPath = "fused" | "host" | "per-variable";

/**
 * Options of {@linkcode tfjsAdamW}: the learning rate, and those of
 * {@linkcode AdamWOptions} (Adam's betas and eps, `maxGradNorm`, `skipNonFinite`, the
 * decay scaling).
 *
 * @example The options of a fine-tuning run
 * ```ts
 * import { type TfjsAdamWOptions, warmupCosine } from "@decoupled/weight-decay/tfjs";
 * import assert from "node:assert/strict";
 *
 * const options: TfjsAdamWOptions = {
 *   learningRate: warmupCosine({ peakLr: 3e-4, warmupSteps: 100, decaySteps: 10_000 }),
 *   betas: [0.9, 0.95],
 *   maxGradNorm: 1,
 * };
 * assert.equal((options.learningRate as (step: number) => number)(100), 3e-4);
 * ```
 */
export interface TfjsAdamWOptions extends AdamWOptions {
  /**
   * The learning rate: a number, or a function of the step count (steps taken before
   * this one: 0 for the first), called once per step. Each group steps with
   * `learningRate * lrScale`. Only a number or a schedule from
   * {@linkcode warmupCosine} can be saved with the model
   * (`model.save(..., { includeOptimizer: true })`).
   *
   * @default {1e-3}
   */
  learningRate?: number | ((step: number) => number);
  /**
   * The peak learning rate, for the `"schedule"` and `"corrected"` decay scalings.
   *
   * @default {the learning rate itself, or a warmupCosine schedule's peakLr}
   */
  maxLr?: number;
  /**
   * Whether steps may take the fast paths: one fused pass on the `webgpu` backend, and
   * CpuAdamW's arithmetic on the `cpu` backend. `false` runs every step on the
   * per-variable path of public TensorFlow.js operations.
   *
   * @default {true}
   */
  fused?: boolean;
}

/**
 * A TensorFlow.js optimizer with `torch.optim.AdamW`'s semantics, made by
 * {@linkcode tfjsAdamW}: an instance of your `tf.Optimizer`, so `model.compile`,
 * `model.fit`, `optimizer.minimize` and `applyGradients` take it. These are the
 * members it adds or defines.
 */
export interface TfjsAdamW {
  /** How the last step that changed anything ran; `undefined` before it. */
  readonly lastPath: TfjsAdamWPath | undefined;
  /** Steps taken (`applyGradients` calls), TensorFlow.js's count; the schedule's step. */
  readonly iterations: number;
  /**
   * Takes one AdamW step: each group's decay, then Adam, for every variable with a
   * gradient (a variable whose gradient is null or absent is left as it is).
   *
   * @param variableGradients Gradients by variable name, or `[{ name, tensor }]`, as
   * `computeGradients` gives them.
   * @throws {TypeError} If a gradient's variable is in no group (a layer added after
   * the groups were made), is not a registered variable, or a gradient is not a float32
   * tensor. Nothing changes then.
   * @throws {RangeError} If a gradient's shape is not its variable's, or the learning
   * rate is not finite and >= 0 or makes a decay factor negative. Nothing changes then.
   * @throws {Error} If the optimizer was disposed, or its WebGPU work failed before.
   */
  applyGradients(
    variableGradients:
      | Readonly<Record<string, TensorHandle | null>>
      | readonly { name: string; tensor: TensorHandle | null }[],
  ): void;
  /**
   * The state as TensorFlow.js's Adam names and orders it: `iter` (a new int32 scalar,
   * yours to dispose), then each parameter's first moment `<variable name>/m` and each
   * one's second `<variable name>/v`, in group order; then, only if some step was
   * skipped by `skipNonFinite`, the step count as `step`. The moments are the
   * optimizer's own tensors.
   *
   * @returns The named tensors.
   * @throws {Error} If the optimizer was disposed, or its WebGPU work failed.
   */
  getWeights(): Promise<{ name: string; tensor: TensorHandle }[]>;
  /**
   * Restores state from `getWeights` (or from `tf.train.adam` over the same variables):
   * iterations, moments and step count, all checked before any is loaded.
   *
   * @param weightValues The named tensors; they stay yours.
   * @throws {TypeError} If an entry is not `{ name, tensor }`, or a moment is named for
   * another variable.
   * @throws {RangeError} If there are not `2n + 1` or `2n + 2` of them, a shape is
   * wrong, a count is not an integer >= 0, or a moment holds a value out of range.
   */
  setWeights(
    weightValues: readonly { name: string; tensor: TensorHandle }[],
  ): Promise<void>;
  /**
   * The options and groups as plain data, which `model.save` writes into the model's
   * training config and `tf.loadLayersModel` gives back to `fromConfig`. Each group's
   * parameters are saved by name, shape and variable name; the loaded optimizer binds
   * each to the variable of the same name (without the `_1`, `_2`, ... that
   * TensorFlow.js appends to keep names unique in a process) when it first gets its
   * gradient.
   *
   * @returns The config.
   * @throws {TypeError} If the learning rate is a function not made by
   * {@linkcode warmupCosine}: it cannot be saved.
   */
  getConfig(): Record<string, unknown>;
  /** Frees its moments, its step count and its WebGPU buffers; safe to call twice. */
  dispose(): void;
  /** Calls `dispose`, for `using optimizer = tfjsAdamW(...)`. */
  [Symbol.dispose](): void;
}

/**
 * What {@linkcode tfjsAdamW} needs of the `tf` namespace, besides what
 * {@linkcode TfNamespace} lists: pass `import * as tf from "@tensorflow/tfjs"` (or
 * `tfjs-core`) as is. It also calls `tensor`, `zeros`, `variable`, `add`, `sub`, `div`,
 * `minimum`, `sqrt`, `square`, `sum`, `isFinite`, `cast`, `where`, `gather` and
 * `getBackend`, and checks for them at run time.
 *
 * @example The tf namespace is a TfjsAdamWNamespace
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import type { TfjsAdamWNamespace } from "@decoupled/weight-decay/tfjs";
 * import assert from "node:assert/strict";
 *
 * const namespace: TfjsAdamWNamespace = tf;
 * assert.equal(typeof namespace.Optimizer, "function");
 * ```
 */
export interface TfjsAdamWNamespace extends TfNamespace {
  /** `tf.Optimizer`, the base class of every TensorFlow.js optimizer. */
  readonly Optimizer: abstract new (...args: never[]) => object;
  /** `tf.serialization`, where TfjsAdamW registers its class. */
  readonly serialization: {
    /**
     * Registers a class for deserialization by its `className`.
     *
     * @param cls The class.
     * @returns The class.
     */
    registerClass(cls: never): unknown;
  };
  /**
   * The TensorFlow.js engine, whose `registeredVariables` name every variable.
   *
   * @returns The engine.
   */
  engine(): object;
}

/** The class name TfjsAdamW saves in a model's training config. */
const CLASS_NAME = "TfjsAdamW";

/**
 * AdamW for TensorFlow.js, which has none: an optimizer for `model.compile`, with
 * `torch.optim.AdamW`'s semantics, parameter groups and a learning rate that can be a
 * schedule. Per step `t`, for each group with `lr_g = lr * lrScale` and each variable
 * with a gradient `g` (times the clip coefficient under `maxGradNorm`), as
 * {@linkcode CpuAdamW} computes it: `p = p * Math.fround(1 - s(lr_g) * weightDecay)`
 * (decay first, as PyTorch does), then Adam with bias correction. `t` counts the steps
 * that ran, the decay scaling `s` is the `scaling` option's, and `maxGradNorm` clips by
 * the global norm over every gradient of the step.
 *
 * The optimizer is an instance of your `tf.Optimizer` (this module never imports
 * TensorFlow.js: the class is made from the `tf` you pass, once per copy of
 * TensorFlow.js, and registered with `tf.serialization` as `"TfjsAdamW"`). Every
 * variable that gets a gradient must be in a group: a variable in none (a layer added
 * after the groups were made) is a TypeError naming it, never skipped.
 *
 * Steps take the fastest path the backend allows (see {@linkcode TfjsAdamWPath};
 * `lastPath` tells which ran):
 *
 * - on `cpu`, CpuAdamW's own arithmetic: the results are CpuAdamW's bit for bit;
 * - on `webgpu`, one submission with one compute pass for the whole update, over an
 *   arena with copies from and to the variables' own buffers. It reads internals of
 *   `@tensorflow/tfjs-backend-webgpu` (checked with 4.22); a step whose tensors are not
 *   all in that backend's GPU buffers (or CPU copies) runs per-variable. Its GPU work
 *   runs in error scopes: a GPU error makes every later call throw, and never becomes
 *   values. It agrees with CpuAdamW as {@linkcode GpuAdamW} does: within 4 ULP per step;
 * - elsewhere, per-variable TensorFlow.js operations, within 4 ULP per step of
 *   CpuAdamW (each operation rounds on its own; CpuAdamW fuses the moments'
 *   multiply-adds).
 *
 * State: both moments of every parameter and the step count are tensors the optimizer
 * owns (`getWeights` gives them, named as `tf.train.adam` names its own); on the fused
 * path they stay in the arena between steps and are copied back when something else
 * needs them. `tf.memory().numTensors` does not change from step to step.
 *
 * Saving: `model.save(handler, { includeOptimizer: true })` saves the options, the
 * groups and the state; `tf.loadLayersModel` restores them, after
 * {@linkcode registerTfjsAdamW} in a process that has not made a TfjsAdamW yet. The
 * groups are saved by parameter name and variable name; the loaded optimizer binds
 * each parameter to the variable whose name matches (without the `_N` suffix
 * TensorFlow.js adds to keep names unique), so training continues where it stopped.
 *
 * @typeParam T The type of your `tf` namespace, so the optimizer has your
 * `tf.Optimizer`'s type.
 * @param tf The TensorFlow.js namespace (`import * as tf from "@tensorflow/tfjs"`).
 * @param groups Groups of `tf.Variable`s with their weight decay and lrScale:
 * `getParamGroups(tfjsNamedParameters(model), policy)`.
 * @param options The learning rate, Adam's options, clipping and skipping, the decay
 * scaling, and whether to use the fast paths.
 * @returns The optimizer.
 * @throws {TypeError} If `tf` is not the TensorFlow.js namespace, the groups are
 * malformed or have an unknown key, a parameter is not a float32 `tf.Variable` or
 * appears twice, `betas` is not a pair, or an option is unknown (with what to use
 * instead, e.g. for `lr`).
 * @throws {RangeError} If a weight decay or lrScale is not finite and >= 0, the
 * learning rate is not finite and >= 0, a beta is not in [0, 1), `eps` is below
 * `2 ** -126`, `maxGradNorm` is not > 0, or the scaling needs a `maxLr` that is missing.
 *
 * @example Training a layers model on the cpu backend, with a schedule and two groups
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * tf.env().set("PROD", true); // no tfjs-node banner: the cpu backend is meant
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import { getParamGroups, NORM_TYPES } from "@decoupled/weight-decay";
 * import { tfjsAdamW, tfjsNamedParameters, warmupCosine } from "@decoupled/weight-decay/tfjs";
 * import assert from "node:assert/strict";
 *
 * await tf.setBackend("cpu");
 * const model = tfl.sequential({
 *   layers: [
 *     tfl.layers.dense({ units: 8, inputShape: [4], name: "hidden" }),
 *     tfl.layers.layerNormalization({ name: "ln" }),
 *     tfl.layers.dense({ units: 1, name: "head" }),
 *   ],
 * });
 * const groups = getParamGroups(tfjsNamedParameters(model), {
 *   weightDecay: [[0, "bias"], [0, NORM_TYPES], 0.05],
 *   lrScale: [[2, "^head\\."], 1], // the head learns twice as fast
 * });
 * const optimizer = tfjsAdamW(tf, groups, {
 *   learningRate: warmupCosine({ peakLr: 1e-2, warmupSteps: 2, decaySteps: 20 }),
 * });
 * model.compile({ optimizer, loss: "meanSquaredError" });
 *
 * const xs = tf.randomNormal([16, 4], 0, 1, "float32", 1);
 * const ys = tf.randomNormal([16, 1], 0, 1, "float32", 2);
 * const history = await model.fit(xs, ys, { epochs: 3, batchSize: 8, verbose: 0 });
 * assert.equal(history.history.loss!.length, 3);
 * assert.equal(optimizer.iterations, 6);
 * assert.equal(optimizer.lastPath, "host"); // CpuAdamW's arithmetic
 * tf.dispose([xs, ys]);
 * model.dispose();
 * optimizer.dispose();
 * ```
 */
export function tfjsAdamW<T extends TfjsAdamWNamespace>(
  tf: T,
  groups: ParamGroup<VariableLike>[],
  options?: TfjsAdamWOptions,
): InstanceType<T["Optimizer"]> & TfjsAdamW {
  const namespace = _checkNamespace(tf);
  const spec = _specFromGroups(
    namespace,
    groups as ParamGroup<_Variable>[],
    options,
  );
  const Class = _classFor(namespace);
  return new Class(new _TfjsAdamWCore(namespace, spec)) as unknown as
    & InstanceType<T["Optimizer"]>
    & TfjsAdamW;
}

/**
 * Registers TfjsAdamW's class with `tf.serialization`, so that `tf.loadLayersModel`
 * can restore a model saved with its optimizer. Making an optimizer with
 * {@linkcode tfjsAdamW} registers it too; call this first in a process that loads a
 * model before making one. Calling it again does nothing.
 *
 * @param tf The TensorFlow.js namespace.
 * @throws {TypeError} If `tf` is not the TensorFlow.js namespace.
 *
 * @example Resuming training from a saved model, optimizer included
 * ```ts ignore
 * import * as tf from "@tensorflow/tfjs";
 * import { registerTfjsAdamW } from "@decoupled/weight-decay/tfjs";
 *
 * registerTfjsAdamW(tf);
 * const model = await tf.loadLayersModel("file://checkpoints/model.json");
 * await model.fit(xs, ys, { epochs: 10 }); // moments, step count and groups restored
 * ```
 */
export function registerTfjsAdamW(tf: TfjsAdamWNamespace): void {
  _classFor(_checkNamespace(tf));
}

/** What TfjsAdamW's subclass calls of `tf.Optimizer`. */
declare abstract class _OptimizerBase {
  protected iterations_: number;
  get iterations(): number;
  protected incrementIterations(): void;
  getWeights(): Promise<unknown[]>;
  setWeights(weightValues: never[]): Promise<void>;
  dispose(): void;
}

/** TfjsAdamW's class for one copy of TensorFlow.js. */
type _TfjsAdamWClass = new (core: _TfjsAdamWCore) => TfjsAdamW;

/** One class per copy of TensorFlow.js, keyed by its `tf.Optimizer`. */
const _classes = new WeakMap<object, _TfjsAdamWClass>();

function _classFor(tf: _Tf): _TfjsAdamWClass {
  const cached = _classes.get(tf.Optimizer);
  if (cached !== undefined) return cached;
  const Base = tf.Optimizer as unknown as abstract new () => _OptimizerBase;
  class TfjsAdamWOptimizer extends Base implements TfjsAdamW {
    /** The name tfjs-layers saves the class under (`tf.serialization`). */
    static get className(): string {
      return CLASS_NAME;
    }

    /** Makes an optimizer from a saved config, its parameters bound on first use. */
    static fromConfig(
      cls: _TfjsAdamWClass,
      config: Record<string, unknown>,
    ): TfjsAdamW {
      return new cls(new _TfjsAdamWCore(tf, _specFromConfig(config)));
    }

    readonly #core: _TfjsAdamWCore;

    constructor(core: _TfjsAdamWCore) {
      super();
      this.#core = core;
    }

    get lastPath(): TfjsAdamWPath | undefined {
      return this.#core.lastPath;
    }

    applyGradients(
      variableGradients:
        | Readonly<Record<string, TensorHandle | null>>
        | readonly { name: string; tensor: TensorHandle | null }[],
    ): void {
      this.#core.apply(
        variableGradients as Record<string, unknown> | _NamedTensor[],
        this.iterations,
      );
      this.incrementIterations();
    }

    override async getWeights(): Promise<
      { name: string; tensor: TensorHandle }[]
    > {
      return await this.#core.getWeights(this.iterations);
    }

    override async setWeights(
      weightValues: readonly { name: string; tensor: TensorHandle }[],
    ): Promise<void> {
      this.iterations_ = await this.#core.setWeights(
        weightValues as readonly _NamedTensor[],
      );
    }

    getConfig(): Record<string, unknown> {
      return this.#core.getConfig();
    }

    override dispose(): void {
      this.#core.dispose();
      super.dispose();
    }

    [Symbol.dispose](): void {
      this.dispose();
    }
  }
  tf.serialization.registerClass(TfjsAdamWOptimizer);
  _classes.set(tf.Optimizer, TfjsAdamWOptimizer);
  return TfjsAdamWOptimizer;
}

function _checkNamespace(tf: unknown): _Tf {
  const candidate = tf as Partial<Record<string, unknown>> | null;
  const missing: string[] = TF_FUNCTIONS.filter((name) =>
    typeof candidate?.[name] !== "function"
  );
  const serialization = candidate?.serialization as
    | { registerClass?: unknown }
    | undefined;
  if (typeof serialization?.registerClass !== "function") {
    missing.push("serialization.registerClass");
  }
  if (missing.length > 0) {
    throw new TypeError(
      `Expected tf to be the TensorFlow.js namespace (import * as tf from "@tensorflow/tfjs") but found ${
        _describe(tf)
      } without ${missing.join(", ")}`,
    );
  }
  return tf as _Tf;
}
