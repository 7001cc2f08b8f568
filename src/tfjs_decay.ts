// Copyright 2026 the weight-decay authors. MIT license.
/**
 * Decoupled weight decay for TensorFlow.js variables: with `tf.train.adam`, AdamW.
 *
 * @module
 */

import type { DecayOptions, DecayStep } from "./decay_step.ts";
import type { ParamGroup } from "./groups.ts";
import type { TfNamespace, VariableLike } from "./tfjs_types.ts";
import { _checkScaling, _DecayFactors } from "./_factors.ts";
import { type _CheckedGroup, _checkGroups } from "./_check_groups.ts";
import { _asWebGpuBackend, _TfjsFusedPass } from "./_tfjs_fused.ts";
import { _describe } from "./_describe.ts";
import { _checkKeys } from "./_check_keys.ts";
import { _checkVariable } from "./_tfjs_check.ts";

/**
 * How a {@linkcode TfjsDecay} step ran:
 *
 * - `"fused"`: one WebGPU compute pass over the variables' own GPU buffers;
 * - `"per-variable"`: `variable.assign(tf.mul(variable, factor))` for each variable.
 */
export type TfjsDecayPath = "fused" | "per-variable";

/** Options of {@linkcode TfjsDecay}. */
export interface TfjsDecayOptions extends DecayOptions {
  /**
   * Whether steps on the WebGPU backend may run as one fused pass. `false` keeps every
   * step on the per-variable path, which uses only public TensorFlow.js API.
   *
   * @default {true}
   */
  fused?: boolean;
}

/**
 * Applies decoupled weight decay to TensorFlow.js variables:
 * `variable <- variable * Math.fround(1 - s(lr) * weightDecay)` for every variable of
 * every group, bit for bit what {@linkcode CpuDecay} does to the same values. Call
 * {@linkcode TfjsDecay.step} after each optimizer step; after `tf.train.adam` that
 * makes AdamW, which TensorFlow.js does not have.
 *
 * On the `webgpu` backend (`@tensorflow/tfjs-backend-webgpu`) a step is one compute pass
 * over the buffers the backend keeps the variables in, recorded after the work
 * TensorFlow.js has queued and submitted with it. This reads backend internals
 * (`tensorMap`, its command encoder; checked with 4.22), so it is used only when the
 * backend has them and every decayed variable owns its GPU buffer alone (a step where
 * one does not, e.g. a variable still sharing the tensor it was made from, runs
 * per-variable). Each `variable.assign` (every optimizer step does one per variable)
 * gives a variable a new buffer; a step that finds new buffers first rebuilds the pass:
 * a few small buffers and one bind group per `maxStorageBuffersPerShaderStage - 2`
 * variables (6 by default). On a software adapter (llvmpipe), for 48 variables, a fused
 * step took ~1.1 ms, a rebuild ~0.4 ms more, and the per-variable path ~4 ms
 * (`bench/tfjs_bench.ts`). A variable read back with `data()` keeps a host copy in the
 * backend, which the fused step drops, since it would be stale.
 *
 * Otherwise, and on every other backend, a step runs `tf.mul` and `assign` per
 * variable inside `tf.tidy`, skipping groups whose factor is 1: no tensor is leaked.
 * {@linkcode TfjsDecay.lastPath} tells which path the last step took.
 *
 * @example AdamW for a TensorFlow.js model
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * tf.env().set("PROD", true); // no tfjs-node banner: the cpu backend is meant
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import { getParamGroups, NORM_TYPES } from "@decoupled/weight-decay";
 * import { TfjsDecay, tfjsNamedParameters } from "@decoupled/weight-decay/tfjs";
 * import assert from "node:assert/strict";
 *
 * await tf.setBackend("cpu");
 * const model = tfl.sequential({
 *   layers: [
 *     tfl.layers.dense({ units: 1, inputShape: [2], name: "fc" }),
 *     tfl.layers.layerNormalization({ name: "ln" }),
 *   ],
 * });
 * const groups = getParamGroups(
 *   tfjsNamedParameters<tf.Variable>(model),
 *   [[0, "bias"], [0, NORM_TYPES], 0.1],
 * );
 * using decay = new TfjsDecay(tf, groups);
 *
 * assert.equal(groups[0]!.names[0], "fc.kernel");
 * const kernel = groups[0]!.params[0]!;
 * const before = await kernel.data();
 * const lr = 0.01;
 * // ... optimizer.applyGradients(...) or model.fit(...) for one batch, then:
 * decay.step(lr);
 * const factor = Math.fround(1 - lr * 0.1);
 * assert.deepEqual(await kernel.data(), before.map((w) => Math.fround(w * factor)));
 * assert.equal(decay.lastPath, "per-variable");
 * ```
 */
export class TfjsDecay implements DecayStep {
  readonly #tf: TfNamespace;
  readonly #groups: readonly _CheckedGroup<VariableLike>[];
  readonly #factors: _DecayFactors;
  readonly #fused: _TfjsFusedPass | undefined;
  #lastPath: TfjsDecayPath | undefined;
  #destroyed = false;

  /**
   * Prepares decay for the groups.
   *
   * @param tf The TensorFlow.js namespace the variables belong to
   * (`import * as tf from "@tensorflow/tfjs"`).
   * @param groups Groups of `tf.Variable`s, e.g. from `getParamGroups` over
   * {@linkcode tfjsNamedParameters}.
   * @param options The decay scaling, and whether the WebGPU backend may fuse the step.
   * @throws {TypeError} If `tf` is not the TensorFlow.js namespace, the groups are
   * malformed, a parameter is not a float32 `tf.Variable` or is disposed, or a variable
   * appears twice.
   * @throws {RangeError} If a weight decay is not finite and >= 0, or the scaling needs
   * a `maxLr` that is missing or not > 0.
   */
  constructor(
    tf: TfNamespace,
    groups: ParamGroup<VariableLike>[],
    options?: TfjsDecayOptions,
  ) {
    _checkKeys(options, "TfjsDecay options", ["scaling", "maxLr", "fused"]);
    const scaling = _checkScaling(options);
    _checkNamespace(tf);
    this.#tf = tf;
    this.#groups = _checkGroups(groups, _checkVariable);
    this.#factors = new _DecayFactors(this.#groups, scaling);
    this.#fused = options?.fused === false
      ? undefined
      : new _TfjsFusedPass(this.#groups, {
        ...(options?.scaling === undefined ? {} : { scaling: options.scaling }),
        ...(options?.maxLr === undefined ? {} : { maxLr: options.maxLr }),
      });
  }

  /** The path the last step that changed anything took; `undefined` before it. */
  get lastPath(): TfjsDecayPath | undefined {
    return this.#lastPath;
  }

  /**
   * Applies one step of decay, after everything TensorFlow.js has done so far.
   *
   * @param lr The learning rate, finite and >= 0.
   * @throws {RangeError} If `lr` is negative or not finite, or `s(lr) * weightDecay > 1`
   * for a group; no variable changes then.
   * @throws {Error} If the engine was destroyed, or a variable was disposed; no variable
   * changes then. If the WebGPU device was lost.
   */
  step(lr: number): void {
    if (this.#destroyed) throw new Error("TfjsDecay has been destroyed");
    const factors = this.#factors.compute(lr);
    this.#checkLive();
    if (factors.every((factor) => factor === 1)) return;
    const backend = this.#fused && _asWebGpuBackend(this.#tf.backend());
    if (backend !== undefined && this.#fused!.step(backend, lr)) {
      this.#lastPath = "fused";
      return;
    }
    this.#stepPerVariable(factors);
    this.#lastPath = "per-variable";
  }

  /**
   * Frees the GPU buffers of the fused pass (never a variable). Safe to call twice;
   * `step` throws afterwards.
   */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#fused?.destroy();
  }

  /** Calls {@linkcode TfjsDecay.destroy}, so `using decay = new TfjsDecay(...)` frees it. */
  [Symbol.dispose](): void {
    this.destroy();
  }

  #stepPerVariable(factors: Float32Array): void {
    const tf = this.#tf;
    tf.tidy(() => {
      this.#groups.forEach((group, g) => {
        const factor = factors[g]!;
        if (factor === 1) return;
        const scalar = tf.scalar(factor, "float32");
        for (const variable of group.params) {
          variable.assign(tf.mul(variable, scalar));
        }
      });
    });
  }

  #checkLive(): void {
    this.#groups.forEach((group, g) =>
      group.params.forEach((variable, i) => {
        if (variable.isDisposed) {
          throw new Error(
            `Expected group ${g} parameter ${
              _describe(group.names[i])
            } to be a live tf.Variable but it was disposed`,
          );
        }
      })
    );
  }
}

function _checkNamespace(tf: unknown): asserts tf is TfNamespace {
  const candidate = tf as Partial<Record<keyof TfNamespace, unknown>> | null;
  const missing = (["tidy", "mul", "scalar", "backend"] as const).filter((
    name,
  ) => typeof candidate?.[name] !== "function");
  if (missing.length > 0) {
    throw new TypeError(
      `Expected tf to be the TensorFlow.js namespace (import * as tf from "@tensorflow/tfjs") but found ${
        _describe(tf)
      } without ${missing.join(", ")}`,
    );
  }
}
