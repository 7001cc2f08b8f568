// Copyright 2026 the weight-decay authors. MIT license.
// The parameters of a TfjsAdamW: one slot per parameter in group order, each with its
// variable (once bound) and both moments, and how slots are saved in an optimizer
// config and bound again, by name, to the variables of a model loaded from it.

import type {
  _NamedTensor,
  _Tensor,
  _Tf,
  _Variable,
} from "./_tfjs_adamw_types.ts";
import { _describe } from "./_describe.ts";

/** One parameter of the optimizer. */
export interface _Slot {
  /** Its place in group order: the order of its moments in the optimizer's weights. */
  readonly index: number;
  readonly group: number;
  /** Its name in its group (`"fc.kernel"`), for messages and configs. */
  readonly name: string;
  readonly shape: readonly number[];
  readonly size: number;
  /** Its variable's name without the `_N` TensorFlow.js appends to keep names unique. */
  readonly key: string;
  /** Its variable's name when the slot was saved; the bound variable's name wins. */
  readonly savedName: string;
  variable: _Variable | undefined;
  m: _Variable | undefined;
  v: _Variable | undefined;
}

/** A slot with a gradient in this step. */
export interface _Active {
  readonly slot: _Slot;
  readonly variable: _Variable;
  readonly grad: _Tensor;
}

/**
 * The name a variable keeps across processes and re-created models: its unique name
 * without the `_N` suffix TensorFlow.js adds when a name is taken (`"fc/kernel_1"` is
 * `"fc/kernel"`, the weight's scoped name, which tfjs-layers saves weights under).
 */
export function _variableKey(name: string): string {
  return name.replace(/_\d+$/, "");
}

/** The name of the slot's variable now: the bound one's, else the saved one. */
export function _variableName(slot: _Slot): string {
  return slot.variable?.name ?? slot.savedName;
}

/** Makes the slot's moments, zeros of its shape, if it has none. */
export function _ensureMoments(tf: _Tf, slot: _Slot): void {
  if (slot.m !== undefined && slot.v !== undefined) return;
  tf.tidy(() => {
    slot.m ??= tf.variable(tf.zeros(slot.shape, "float32"), false);
    slot.v ??= tf.variable(tf.zeros(slot.shape, "float32"), false);
  });
}

/**
 * Finds the slot of each variable that gets a gradient: by identity for bound slots,
 * else by its key among the unbound ones (which it then binds).
 */
export class _SlotIndex {
  readonly slots: readonly _Slot[];
  readonly #bound = new Map<_Variable, _Slot>();
  readonly #unbound = new Map<string, _Slot>();

  /**
   * @throws {TypeError} If two unbound slots share a key: binding them would be a guess.
   */
  constructor(slots: readonly _Slot[]) {
    this.slots = slots;
    for (const slot of slots) {
      if (slot.variable !== undefined) {
        this.#bound.set(slot.variable, slot);
        continue;
      }
      const other = this.#unbound.get(slot.key);
      if (other !== undefined) {
        throw new TypeError(
          `Expected the saved parameters to have distinct TensorFlow.js names but ${
            _describe(other.name)
          } and ${_describe(slot.name)} are both ${
            _describe(slot.key)
          } (tfjs-layers cannot load such a model either: "Duplicate weight name")`,
        );
      }
      this.#unbound.set(slot.key, slot);
    }
  }

  /**
   * The slots with gradients, in slot order, binding unbound slots on the way.
   *
   * @throws {TypeError} If a gradient is not keyed by a registered variable's name, its
   * variable is in no group, a variable has two gradients, or a gradient is not a
   * float32 tensor.
   * @throws {RangeError} If a gradient's or a variable's shape is not its slot's.
   */
  resolve(
    tf: _Tf,
    gradients: Record<string, unknown> | readonly _NamedTensor[],
  ): _Active[] {
    const entries: [unknown, unknown][] = Array.isArray(gradients)
      ? gradients.map((entry: Partial<_NamedTensor> | null) => [
        entry?.name,
        entry?.tensor,
      ])
      : typeof gradients === "object" && gradients !== null
      ? Object.entries(gradients)
      : _badGradients(gradients);
    const registered = tf.engine().registeredVariables;
    const found = new Map<_Slot, _Active>();
    for (const [name, grad] of entries) {
      // TensorFlow.js passes variables without a gradient this step as null.
      if (grad === null || grad === undefined) continue;
      const variable = typeof name === "string" ? registered[name] : undefined;
      if (variable === undefined) {
        throw new TypeError(
          `Expected each gradient to be keyed by the name of a registered tf.Variable but found ${
            _describe(name)
          }, which names none (was it disposed?)`,
        );
      }
      const slot = this.#slotOf(tf, variable);
      if (found.has(slot)) {
        throw new TypeError(
          `Expected one gradient per variable but found two for ${
            _describe(variable.name)
          }`,
        );
      }
      _checkGradient(grad, slot);
      found.set(slot, { slot, variable, grad: grad as _Tensor });
    }
    return [...found.values()].sort((a, b) => a.slot.index - b.slot.index);
  }

  #slotOf(tf: _Tf, variable: _Variable): _Slot {
    const bound = this.#bound.get(variable);
    if (bound !== undefined) return bound;
    const slot = this.#unbound.get(_variableKey(variable.name));
    if (slot === undefined) {
      throw new TypeError(
        `Expected every variable with a gradient to be in one of the optimizer's groups but found ${
          _describe(variable.name)
        } in none: make the groups from the finished model, with every layer added, and before training`,
      );
    }
    if (!_sameShape(variable.shape, slot.shape)) {
      throw new RangeError(
        `Expected variable ${_describe(variable.name)} to have the shape ${
          _describe(slot.shape)
        } of the saved parameter ${_describe(slot.name)} but found ${
          _describe(variable.shape)
        }`,
      );
    }
    slot.variable = variable;
    this.#bound.set(variable, slot);
    this.#unbound.delete(slot.key);
    _ensureMoments(tf, slot);
    return slot;
  }
}

function _badGradients(gradients: unknown): never {
  throw new TypeError(
    `Expected gradients as { [variableName]: tensor } or [{ name, tensor }] but found ${
      _describe(gradients)
    }`,
  );
}

function _checkGradient(grad: unknown, slot: _Slot): void {
  const tensor = grad as Partial<_Tensor>;
  const where = `the gradient of ${_describe(slot.name)}`;
  if (typeof tensor !== "object" || typeof tensor.dataId !== "object") {
    throw new TypeError(
      `Expected ${where} to be a tf.Tensor but found ${_describe(grad)}`,
    );
  }
  if (tensor.dtype !== "float32") {
    throw new TypeError(
      `Expected ${where} to be a float32 tensor but found dtype ${
        _describe(tensor.dtype)
      }`,
    );
  }
  if (!Array.isArray(tensor.shape) || !_sameShape(tensor.shape, slot.shape)) {
    throw new RangeError(
      `Expected ${where} to have its shape ${_describe(slot.shape)} but found ${
        _describe(tensor.shape)
      }`,
    );
  }
}

/** Whether two shapes are equal. */
export function _sameShape(
  a: readonly number[],
  b: readonly number[],
): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** A slot as a config holds it; every string under a `name` key (see below). */
export interface _SlotConfig {
  readonly name: string;
  readonly shape: readonly number[];
  readonly variable: { readonly name: string };
}

/**
 * A slot as saved in an optimizer config. tfjs-layers camel-cases every string of an
 * optimizer config when it loads a model (`"bn_1.gamma"` would come back as
 * `"bn1.gamma"`) except the values of keys called `name`, so every name is saved
 * under one.
 */
export function _slotConfig(slot: _Slot): _SlotConfig {
  return {
    name: slot.name,
    shape: [...slot.shape],
    variable: { name: _variableName(slot) },
  };
}

/**
 * The unbound slot a saved slot config describes.
 *
 * @throws {TypeError} If it is not `{ name, shape, variable: { name } }`.
 */
export function _slotFromConfig(
  config: unknown,
  index: number,
  group: number,
  where: string,
): _Slot {
  const { name, shape, variable } = (config ?? {}) as Partial<_SlotConfig>;
  const valid = typeof name === "string" && Array.isArray(shape) &&
    shape.every((d) => Number.isSafeInteger(d) && d >= 0) &&
    typeof variable?.name === "string";
  if (!valid) {
    throw new TypeError(
      `Expected ${where} to be { name, shape, variable: { name } } but found ${
        _describe(config)
      }`,
    );
  }
  return {
    index,
    group,
    name,
    shape: Object.freeze([...shape]),
    size: shape.reduce((n: number, d: number) => n * d, 1),
    key: _variableKey(variable.name),
    savedName: variable.name,
    variable: undefined,
    m: undefined,
    v: undefined,
  };
}
