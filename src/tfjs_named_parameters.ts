// Copyright 2026 the weight-decay authors. MIT license.
/**
 * Names the trainable weights of a TensorFlow.js layers model, so a policy can group
 * them by name and by layer class.
 *
 * @module
 */

import type { NamedParameter } from "./parameter.ts";
import type {
  LayerLike,
  LayersModelLike,
  LayerVariableLike,
  VariableLike,
} from "./tfjs_types.ts";
import { _describe } from "./_describe.ts";

/**
 * Every trainable weight of a TensorFlow.js layers model as a named parameter: the
 * weight's `tf.Variable`, named `layerName.weightName` (`"fc.kernel"`,
 * `"batch_normalization_BatchNormalization1.gamma"`), with the layer as its owner, so
 * class patterns such as `NORM_TYPES` (which lists `BatchNormalization` and
 * `LayerNormalization`) match it.
 *
 * The weight name is the variable's scoped name after the layer's scope, with `/`
 * turned into `.`: a `Bidirectional` layer's weights are named
 * `"bidirectional.forward_lstm.kernel"`. A wrapper layer (`TimeDistributed`,
 * `Bidirectional`) owns the weights of the layer it wraps. The layers of a model used
 * as a layer are named under the model's name: `"encoder.fc.kernel"`.
 *
 * Only trainable weights are returned: not the moving mean and variance of a batch
 * normalization, and nothing of a frozen layer or model (`trainable = false`). A weight
 * reachable twice (a layer shared by the model and a nested model) is returned once,
 * under the first name found, with the other in `aliases`. Weights come in layer order.
 *
 * @typeParam V The variable type: `tf.Variable`, to get TensorFlow.js's own type back.
 * @param model The model: a `tf.LayersModel` or `tf.Sequential`.
 * @returns The named weights.
 * @throws {TypeError} If `model` has no `layers` array, or a layer's weights are not
 * variables.
 *
 * @example The basecls "mobile" policy on a TensorFlow.js model
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * tf.env().set("PROD", true); // no tfjs-node banner: the cpu backend is meant
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import { getParamGroups, NORM_TYPES } from "@decoupled/weight-decay";
 * import { tfjsNamedParameters } from "@decoupled/weight-decay/tfjs";
 * import assert from "node:assert/strict";
 *
 * const model = tfl.sequential({
 *   layers: [
 *     tfl.layers.dense({ units: 4, inputShape: [3], name: "fc" }),
 *     tfl.layers.batchNormalization({ name: "bn" }),
 *   ],
 * });
 * const named = tfjsNamedParameters(model);
 * assert.deepEqual(named.map((p) => p.name), ["fc.kernel", "fc.bias", "bn.gamma", "bn.beta"]);
 *
 * const groups = getParamGroups(named, [[0, "bias"], [0, NORM_TYPES], 4e-5]);
 * assert.deepEqual(groups.map((g) => [g.weightDecay, g.names]), [
 *   [4e-5, ["fc.kernel"]],
 *   [0, ["fc.bias", "bn.gamma", "bn.beta"]],
 * ]);
 * ```
 */
export function tfjsNamedParameters<V extends VariableLike = VariableLike>(
  model: LayersModelLike,
): NamedParameter<V>[] {
  if (!_isModel(model)) {
    throw new TypeError(
      `Expected model to be a TensorFlow.js LayersModel with a layers array but found ${
        _describe(model)
      }`,
    );
  }
  const found = new Map<
    unknown,
    NamedParameter<V> & { aliases: { name: string; owner: object }[] }
  >();
  const add = (name: string, weight: LayerVariableLike, owner: object) => {
    const variable = _readVariable<V>(weight, name);
    const first = found.get(variable);
    if (first === undefined) {
      found.set(variable, { name, param: variable, owner, aliases: [] });
    } else first.aliases.push({ name, owner });
  };
  const visit = (
    container: LayersModelLike,
    prefix: string,
    trainable: ReadonlySet<LayerVariableLike>,
  ) => {
    for (const layer of container.layers) {
      if (_isModel(layer)) {
        const inner = layer.trainableWeights.filter((w) => trainable.has(w));
        visit(layer, `${prefix}${layer.name}.`, new Set(inner));
        continue;
      }
      for (const weight of layer.trainableWeights) {
        if (!trainable.has(weight)) continue;
        add(
          `${prefix}${layer.name}.${_weightName(weight, layer)}`,
          weight,
          layer,
        );
      }
    }
  };
  // A model's trainableWeights are its layers' (none when it is frozen): the sets let
  // tfjs decide what is trainable, at every level of nesting.
  visit(model, "", new Set(model.trainableWeights));
  return [...found.values()].map(({ aliases, ...entry }) =>
    aliases.length === 0 ? entry : { ...entry, aliases }
  );
}

function _isModel(value: unknown): value is LayersModelLike {
  const candidate = value as Partial<LayersModelLike> | null;
  return typeof candidate === "object" && candidate !== null &&
    Array.isArray(candidate.layers) &&
    Array.isArray(candidate.trainableWeights) &&
    typeof candidate.name === "string";
}

/** The weight's scoped name after its layer's scope, dotted. */
function _weightName(weight: LayerVariableLike, layer: LayerLike): string {
  const scope = `${layer.name}/`;
  const name = weight.originalName;
  return (name.startsWith(scope) ? name.slice(scope.length) : name)
    .replaceAll("/", ".");
}

function _readVariable<V>(weight: LayerVariableLike, name: string): V {
  const variable = weight.read() as Partial<VariableLike> | null;
  if (
    typeof variable !== "object" || variable === null ||
    typeof variable.assign !== "function" ||
    typeof variable.dataId !== "object"
  ) {
    throw new TypeError(
      `Expected weight ${_describe(name)} to read as a tf.Variable but found ${
        _describe(variable)
      }`,
    );
  }
  return variable as V;
}
