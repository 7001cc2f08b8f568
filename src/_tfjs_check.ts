// Copyright 2026 the weight-decay authors. MIT license.
// What makes a parameter a TensorFlow.js variable the adapters can step.

import { _describe } from "./_describe.ts";

/**
 * Checks that a group's parameter is a live float32 `tf.Variable`.
 *
 * @param where Names it in messages, e.g. `group 0 parameter "fc.kernel"`.
 * @throws {TypeError} If it is not a variable, not float32, or disposed.
 */
export function _checkVariable(param: unknown, where: string): void {
  const variable = param as
    | Partial<
      Record<"assign" | "dataId" | "size" | "name" | "shape", unknown> & {
        dtype: unknown;
        isDisposed: unknown;
      }
    >
    | null;
  if (
    typeof variable !== "object" || variable === null ||
    typeof variable.assign !== "function" ||
    typeof variable.dataId !== "object" || typeof variable.size !== "number" ||
    typeof variable.name !== "string" || !Array.isArray(variable.shape)
  ) {
    throw new TypeError(
      `Expected ${where} to be a tf.Variable but found ${_describe(param)}`,
    );
  }
  if (variable.dtype !== "float32") {
    throw new TypeError(
      `Expected ${where} to be a float32 tf.Variable but found dtype ${
        _describe(variable.dtype)
      }`,
    );
  }
  if (variable.isDisposed === true) {
    throw new TypeError(
      `Expected ${where} to be a live tf.Variable but it was disposed`,
    );
  }
}
