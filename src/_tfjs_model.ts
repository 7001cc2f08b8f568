// Copyright 2026 the weight-decay authors. MIT license.
// Recognises a TensorFlow.js layers model where a source of Parameters is expected, to
// point at tfjsNamedParameters instead of finding nothing.

/** A TensorFlow.js layers model: it has `layers` and `trainableWeights` arrays. */
export function _isTfjsModel(value: unknown): boolean {
  const candidate = value as
    | { layers?: unknown; trainableWeights?: unknown }
    | null;
  return typeof candidate === "object" && candidate !== null &&
    Array.isArray(candidate.layers) &&
    Array.isArray(candidate.trainableWeights);
}
