// Copyright 2026 the weight-decay authors. MIT license.
/**
 * What the TensorFlow.js adapter needs of TensorFlow.js, as structural types: the
 * adapter never imports TensorFlow.js, so it works with the copy (and version) the
 * caller has, and a real `tf` namespace, `tf.Variable` or `tf.LayersModel` fits these
 * types as is.
 *
 * @module
 */

/**
 * A tensor as the adapter passes it along: what `tf.mul` returns and
 * `Variable.assign` takes. The adapter never looks inside.
 */
export interface TensorHandle {
  /** The key of the tensor's data in its backend. */
  readonly dataId: object;
  /** Frees the tensor. */
  dispose(): void;
}

/**
 * A `tf.Variable`: the mutable tensor that training updates in place.
 *
 * @example A tf.Variable is a VariableLike
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * tf.env().set("PROD", true); // no tfjs-node banner: the cpu backend is meant
 * import type { VariableLike } from "@decoupled/weight-decay/tfjs";
 * import assert from "node:assert/strict";
 *
 * await tf.setBackend("cpu");
 * const weight: VariableLike = tf.variable(tf.tensor1d([1, 2]));
 * assert.equal(weight.size, 2);
 * weight.dispose();
 * ```
 */
export interface VariableLike extends TensorHandle {
  /** The element type; the adapter decays `"float32"` variables only. */
  readonly dtype: string;
  /** The number of elements. */
  readonly size: number;
  /** True once the variable was disposed. */
  readonly isDisposed: boolean;
  /**
   * Makes the variable hold `newValue`'s data; TensorFlow.js gives it a new `dataId`.
   *
   * @param newValue A tensor of the variable's shape and dtype.
   */
  assign(newValue: TensorHandle): void;
}

/**
 * The functions of the `tf` namespace the adapter calls: pass
 * `import * as tf from "@tensorflow/tfjs"` (or `tfjs-core`) as is.
 *
 * @example The tf namespace is a TfNamespace
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import type { TfNamespace } from "@decoupled/weight-decay/tfjs";
 * import assert from "node:assert/strict";
 *
 * const namespace: TfNamespace = tf;
 * assert.equal(typeof namespace.tidy, "function");
 * ```
 */
export interface TfNamespace {
  /**
   * Runs `fn` and frees every tensor it made and did not return.
   *
   * @param fn The work.
   * @returns What `fn` returns.
   */
  tidy(fn: () => void): unknown;
  /**
   * Multiplies two tensors element-wise, broadcasting a scalar.
   *
   * @param a A tensor or variable.
   * @param b A tensor or variable.
   * @returns A new tensor.
   */
  mul(a: unknown, b: unknown): TensorHandle;
  /**
   * Makes a scalar tensor.
   *
   * @param value The value.
   * @param dtype The element type.
   * @returns A new tensor.
   */
  scalar(value: number, dtype: "float32"): TensorHandle;
  /**
   * The backend now in use (`tf.getBackend()` names it).
   *
   * @returns The backend object.
   */
  backend(): object;
}

/**
 * A weight of a layer (`LayerVariable` in TensorFlow.js layers).
 *
 * @example A LayerVariable is a LayerVariableLike
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * tf.env().set("PROD", true); // no tfjs-node banner: the cpu backend is meant
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import type { LayerVariableLike } from "@decoupled/weight-decay/tfjs";
 * import assert from "node:assert/strict";
 *
 * const dense = tfl.layers.dense({ units: 2, inputShape: [3], name: "fc" });
 * tfl.sequential({ layers: [dense] });
 * const kernel: LayerVariableLike = dense.trainableWeights[0]!;
 * assert.equal(kernel.originalName, "fc/kernel");
 * ```
 */
export interface LayerVariableLike {
  /**
   * Its scoped name, `layerName/weightName`, before TensorFlow.js appends `_1`, `_2`, ...
   * to make it unique among all variables.
   */
  readonly originalName: string;
  /**
   * Its value.
   *
   * @returns The `tf.Variable` that training updates.
   */
  read(): unknown;
}

/**
 * A layer (`tf.layers.Layer`): a name and the weights training updates. A layer that
 * also has `layers` is a model used as a layer.
 *
 * @example A layer is a LayerLike
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * tf.env().set("PROD", true); // no tfjs-node banner: the cpu backend is meant
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import type { LayerLike } from "@decoupled/weight-decay/tfjs";
 * import assert from "node:assert/strict";
 *
 * const layer: LayerLike = tfl.layers.dense({ units: 2, name: "fc" });
 * assert.equal(layer.name, "fc");
 * ```
 */
export interface LayerLike {
  /** Its name, unique in its model. */
  readonly name: string;
  /**
   * The weights training updates: empty for a frozen layer (`trainable = false`), and
   * never the moving statistics of a batch normalization.
   */
  readonly trainableWeights: readonly LayerVariableLike[];
}

/**
 * A model of TensorFlow.js layers (`tf.LayersModel`, `tf.Sequential`).
 *
 * @example A model is a LayersModelLike
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * tf.env().set("PROD", true); // no tfjs-node banner: the cpu backend is meant
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import type { LayersModelLike } from "@decoupled/weight-decay/tfjs";
 * import assert from "node:assert/strict";
 *
 * const model: LayersModelLike = tfl.sequential({
 *   layers: [tfl.layers.dense({ units: 2, inputShape: [3] })],
 * });
 * assert.equal(model.layers.length, 1);
 * ```
 */
export interface LayersModelLike extends LayerLike {
  /** Its layers, in order; a layer may itself be a model. */
  readonly layers: readonly LayerLike[];
}
