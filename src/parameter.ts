// Copyright 2026 the weight-decay authors. MIT license.
/**
 * Host-side parameters and the object-tree walker that names them.
 *
 * @module
 */

import { _describe } from "./_describe.ts";
import { _isTfjsModel } from "./_tfjs_model.ts";

/**
 * A host-side tensor: a `Float32Array` of values with a shape.
 *
 * The data is used as given, never copied, so a `Parameter` can wrap memory the
 * caller already owns; {@linkcode CpuDecay} changes it in place.
 *
 * @example Basic usage
 * ```ts
 * import { Parameter } from "@decoupled/weight-decay";
 * import assert from "node:assert/strict";
 *
 * const weight = new Parameter([1, 2, 3, 4, 5, 6], [2, 3]);
 * assert.equal(weight.size, 6);
 * assert.deepEqual(weight.shape, [2, 3]);
 * assert.ok(weight.data instanceof Float32Array);
 * ```
 */
export class Parameter {
  /** The values, in row-major order. Changed in place by the decay engines. */
  readonly data: Float32Array;
  /** The dimensions; their product is {@linkcode Parameter.size}. */
  readonly shape: readonly number[];
  /** The number of values, `data.length`. */
  readonly size: number;
  /** The gradient, read by `CpuAdamW`; the same length as `data` when set. */
  grad?: Float32Array;

  /**
   * Wraps values as a parameter.
   *
   * @param data The values: a `Float32Array`, used as is, or an array of numbers, copied
   * into a new `Float32Array`.
   * @param shape The dimensions, non-negative integers whose product is the number of
   * values. Defaults to `[data.length]`.
   * @throws {TypeError} If `data` is neither a `Float32Array` nor an array of numbers, or
   * `shape` is not an array of non-negative integers.
   * @throws {RangeError} If the shape does not hold exactly `data.length` values.
   */
  constructor(
    data: Float32Array | readonly number[],
    shape?: readonly number[],
  ) {
    this.data = _toFloat32(data);
    this.shape = Object.freeze(
      shape === undefined
        ? [this.data.length]
        : _checkShape(shape, this.data.length),
    );
    this.size = this.data.length;
  }
}

function _toFloat32(data: unknown): Float32Array {
  if (data instanceof Float32Array) return data;
  if (!Array.isArray(data)) {
    throw new TypeError(
      `Expected parameter data to be a Float32Array or an array of numbers but found ${
        _describe(data)
      }`,
    );
  }
  const index = data.findIndex((value) => typeof value !== "number");
  if (index !== -1) {
    throw new TypeError(
      `Expected parameter data to hold only numbers but found ${
        _describe(data[index])
      } at index ${index}`,
    );
  }
  return Float32Array.from(data as number[]);
}

function _checkShape(shape: unknown, length: number): number[] {
  if (
    !Array.isArray(shape) ||
    !shape.every((dim) => Number.isSafeInteger(dim) && dim >= 0)
  ) {
    throw new TypeError(
      `Expected shape to be an array of non-negative integers but found ${
        _describe(shape)
      }`,
    );
  }
  const product = shape.reduce((total: number, dim: number) => total * dim, 1);
  if (product !== length) {
    throw new RangeError(
      `Expected shape ${
        _describe(shape)
      } to hold ${product} values but data has ${length}`,
    );
  }
  return [...shape];
}

/**
 * A parameter with the dotted name it has in its model and the object that holds it.
 *
 * @typeParam P The parameter type: {@linkcode Parameter}, or any tensor type (a
 * TensorFlow.js `Variable`, a `GPUBuffer`).
 */
export interface NamedParameter<P = Parameter> {
  /** The PyTorch-style dotted name, e.g. `"layers.0.attn.qkv.weight"`. */
  name: string;
  /** The parameter itself. */
  param: P;
  /** The layer that holds the parameter; class patterns test it. */
  owner?: object;
  /** Other names of a tied parameter (one tensor reachable under several names). */
  aliases?: readonly { name: string; owner?: object }[];
}

/**
 * Where parameters come from: an iterable of named parameters, or an object with a
 * `namedParameters()` method (a model class of your own).
 *
 * @typeParam P The parameter type.
 */
export type ParamSource<P = Parameter> =
  | Iterable<NamedParameter<P>>
  | { namedParameters(): Iterable<NamedParameter<P>> };

/** Options for {@linkcode namedParameters}. */
export interface NamedParametersOptions<P> {
  /**
   * Tells parameters from the containers around them. Values it accepts are leaves: the
   * walker yields them and does not look inside.
   *
   * @default {(value) => value instanceof Parameter}
   */
  isParameter?: (value: unknown) => value is P;
}

/**
 * Walks an object tree of layers and names every parameter in it, PyTorch style.
 *
 * It visits own enumerable string-keyed data properties (getters are never called),
 * arrays and `Set`s by index (a `Set` in insertion order), and `Map` entries with string
 * or number keys, joining the keys with dots:
 * `{ encoder: { layers: [{ bias }] } }` gives `"encoder.layers.0.bias"`. The `owner` of
 * a parameter is the nearest object holding it that is not an `Array`, `Set` or `Map`,
 * so for `block.weights[0]` it is `block`. Typed arrays, `ArrayBuffer`s and other binary
 * views are not searched.
 *
 * Every object is walked once, the first time it is met, as PyTorch's
 * `named_modules()` memo does; meeting it again (a shared layer, a back pointer, a
 * cycle, a graph-shaped model whose layers list their inputs) costs nothing more. A
 * parameter reachable twice (tied weights: an embedding reused as the output layer) is
 * yielded once, under the first name found, with its other names in `aliases`: each
 * name under which an object holds it directly. The names a parameter has only through
 * a shared layer met again are not aliases (they would grow exponentially with the
 * model). The walk is iterative, so nesting depth is not limited by the call stack, and
 * its cost is linear in objects plus references.
 *
 * @typeParam P The parameter type.
 * @param root The model: any object tree.
 * @param options How to recognise parameters.
 * @returns The parameters in the order found, each with its name, owner and aliases.
 * @throws {TypeError} If `root` is not an object, `isParameter` is not a function, or a
 * `Map` holds a parameter under a key that is neither a string nor a number.
 *
 * @example Naming the parameters of a small model
 * ```ts
 * import { namedParameters, Parameter } from "@decoupled/weight-decay";
 * import assert from "node:assert/strict";
 *
 * class Linear {
 *   weight = new Parameter([1, 2]);
 *   bias = new Parameter([0]);
 * }
 * const embedding = new Parameter([3, 4]);
 * const model = { embed: { embedding }, layers: [new Linear()], head: { embedding } };
 *
 * const named = namedParameters(model);
 * assert.deepEqual(named.map((p) => p.name), [
 *   "embed.embedding",
 *   "layers.0.weight",
 *   "layers.0.bias",
 * ]);
 * assert.ok(named[1]!.owner instanceof Linear);
 * assert.deepEqual(named[0]!.aliases?.map((a) => a.name), ["head.embedding"]);
 * ```
 */
export function namedParameters<P = Parameter>(
  root: object,
  options: NamedParametersOptions<P> = {},
): NamedParameter<P>[] {
  if (typeof root !== "object" || root === null) {
    throw new TypeError(
      `Expected root to be an object but found ${_describe(root)}`,
    );
  }
  const isParameter = options.isParameter ?? _isParameterInstance;
  if (typeof isParameter !== "function") {
    throw new TypeError(
      `Expected isParameter to be a function but found ${
        _describe(isParameter)
      }`,
    );
  }
  if (isParameter(root)) {
    throw new TypeError(
      "Expected root to be a model holding parameters but found a parameter",
    );
  }
  if (_isTfjsModel(root)) {
    throw new TypeError(
      'Expected root to be an object tree of Parameters but found a TensorFlow.js model; use tfjsNamedParameters(model), from "@decoupled/weight-decay/tfjs"',
    );
  }
  const found = new Map<
    P,
    NamedParameter<P> & { aliases: { name: string; owner?: object }[] }
  >();
  const visited = new Set<object>([root]);
  // Depth first, children in order, as a recursive walk would go; one frame per object.
  const stack: _Frame[] = [_frame(root, "", undefined, isParameter)];
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    const next = frame.children.next();
    if (next.done) {
      stack.pop();
      continue;
    }
    const [key, child] = next.value;
    const name = frame.path === "" ? key : `${frame.path}.${key}`;
    if (isParameter(child)) {
      const entry = frame.holder === undefined
        ? { name }
        : { name, owner: frame.holder };
      const first = found.get(child);
      if (first === undefined) {
        found.set(child, { ...entry, param: child, aliases: [] });
      } else first.aliases.push(entry);
    } else if (_isWalkable(child) && !visited.has(child)) {
      visited.add(child);
      stack.push(_frame(child, name, frame.holder, isParameter));
    }
  }
  return [...found.values()].map(({ aliases, ...entry }) =>
    aliases.length === 0 ? entry : { ...entry, aliases }
  );
}

/** One object being walked: its name, the owner of what it holds, and its children left. */
interface _Frame {
  readonly path: string;
  readonly holder: object | undefined;
  readonly children: Iterator<[string, unknown]>;
}

function _frame(
  value: object,
  path: string,
  owner: object | undefined,
  isParameter: (value: unknown) => boolean,
): _Frame {
  const container = Array.isArray(value) || value instanceof Map ||
    value instanceof Set;
  return {
    path,
    holder: container ? owner : value,
    children: _children(value, path, isParameter),
  };
}

function _isParameterInstance(value: unknown): value is never {
  return value instanceof Parameter;
}

function _isWalkable(value: unknown): value is object {
  return typeof value === "object" && value !== null &&
    !ArrayBuffer.isView(value) &&
    !(value instanceof ArrayBuffer) && !(value instanceof SharedArrayBuffer) &&
    !(value instanceof Promise) && !(value instanceof WeakMap) &&
    !(value instanceof WeakSet) && !(value instanceof Date) &&
    !(value instanceof RegExp);
}

function* _children(
  value: object,
  path: string,
  isParameter: (value: unknown) => boolean,
): Generator<[string, unknown]> {
  if (value instanceof Map) {
    for (const [key, child] of value) {
      if (typeof key === "string" || typeof key === "number") {
        yield [String(key), child];
      } else if (isParameter(child)) {
        throw new TypeError(
          `Expected the Map at ${
            _describe(path === "" ? "<root>" : path)
          } to hold parameters under string or number keys but found ${
            _describe(key)
          }`,
        );
      }
    }
    return;
  }
  if (value instanceof Set) {
    let index = 0;
    for (const child of value) yield [String(index++), child];
    return;
  }
  const descriptors = Object.getOwnPropertyDescriptors(value);
  for (const key of Object.keys(value)) {
    const descriptor = descriptors[key];
    if (descriptor !== undefined && "value" in descriptor) {
      yield [key, descriptor.value];
    }
  }
}
