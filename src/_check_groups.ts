// Copyright 2026 the weight-decay authors. MIT license.
// Validation of the groups handed to a decay engine, shared by every engine.

import type { ParamGroup } from "./groups.ts";
import { _describe } from "./_describe.ts";
import { _checkKeys } from "./_check_keys.ts";

/** A group as an engine keeps it: its own arrays, so later edits by the caller change nothing. */
export interface _CheckedGroup<P> {
  readonly weightDecay: number;
  readonly lrScale: number;
  readonly params: readonly P[];
  readonly names: readonly string[];
  /** Each parameter's other names (tied weights), parallel to `params`. */
  readonly aliases: readonly (readonly string[])[];
}

/**
 * Checks the shape of groups and that no parameter is in two places.
 *
 * @param checkParam Checks one parameter; `where` names it in messages.
 * @throws {TypeError} If groups is not an array of `{ weightDecay, params }`, a group
 * has a key it does not know (such as PyTorch's `lr`), a parameter appears twice, or
 * no group holds a parameter.
 * @throws {RangeError} If a weight decay or lr scale is not a finite number >= 0.
 */
export function _checkGroups<P>(
  groups: readonly ParamGroup<P>[],
  checkParam: (param: unknown, where: string) => void,
): _CheckedGroup<P>[] {
  if (!Array.isArray(groups)) {
    throw new TypeError(
      `Expected groups to be an array of { weightDecay, params } but found ${
        _describe(groups)
      }`,
    );
  }
  const seen = new Map<unknown, string>();
  const checked = groups.map((group: unknown, g): _CheckedGroup<P> => {
    if (typeof group !== "object" || group === null) {
      throw new TypeError(
        `Expected group ${g} to be { weightDecay, params } but found ${
          _describe(group)
        }`,
      );
    }
    _checkKeys(group, `group ${g}`, GROUP_KEYS);
    const { weightDecay, lrScale = 1, params, names, aliases } =
      group as Partial<
        ParamGroup<P>
      >;
    _checkValue(weightDecay, `group ${g} weightDecay`);
    _checkValue(lrScale, `group ${g} lrScale`);
    if (!Array.isArray(params)) {
      throw new TypeError(
        `Expected group ${g} params to be an array but found ${
          _describe(params)
        }`,
      );
    }
    const named = Array.isArray(names) && names.length === params.length &&
      names.every((n) => typeof n === "string");
    const ownNames = params.map((_, i) => named ? names[i]! : `#${i}`);
    params.forEach((param, i) => {
      const where = `group ${g} parameter ${_describe(ownNames[i])}`;
      const earlier = seen.get(param);
      if (earlier !== undefined) {
        throw new TypeError(
          `Expected each parameter in one place but ${where} is also ${earlier}; it would be decayed twice`,
        );
      }
      seen.set(param, where);
      checkParam(param, where);
    });
    return {
      weightDecay: (weightDecay as number) + 0,
      lrScale: lrScale + 0,
      params: [...params],
      names: ownNames,
      aliases: _checkAliases(aliases, params.length, g),
    };
  });
  if (seen.size === 0) {
    throw new TypeError(
      `Expected groups to hold at least one parameter but found ${
        groups.length === 0 ? "no group" : `${groups.length} empty groups`
      }: an engine without parameters would silently do nothing`,
    );
  }
  return checked;
}

const GROUP_KEYS = [
  "weightDecay",
  "lrScale",
  "params",
  "names",
  "aliases",
] as const;

function _checkAliases(
  aliases: unknown,
  count: number,
  g: number,
): (readonly string[])[] {
  if (aliases === undefined) return Array.from({ length: count }, () => []);
  if (
    !Array.isArray(aliases) || aliases.length !== count ||
    !aliases.every((list) =>
      Array.isArray(list) && list.every((name) => typeof name === "string")
    )
  ) {
    throw new TypeError(
      `Expected group ${g} aliases to be, per parameter, an array of its other names but found ${
        _describe(aliases)
      }`,
    );
  }
  return aliases.map((list: string[]) => [...list]);
}

function _checkValue(value: unknown, what: string): void {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new RangeError(
      `Expected ${what} to be a finite number >= 0 but found ${
        _describe(value)
      }`,
    );
  }
}

/** A parameter held on the host: values in a Float32Array. */
export interface _HostParam {
  readonly data: Float32Array;
  readonly shape?: readonly number[];
}

/**
 * Checks that a parameter holds its values in a `Float32Array` that agrees with its shape.
 *
 * @throws {TypeError} If it has no `Float32Array` data.
 * @throws {RangeError} If its shape does not hold `data.length` values.
 */
function _checkHostParam(param: unknown, where: string): void {
  const data = (param as Partial<_HostParam> | null)?.data;
  if (!(data instanceof Float32Array)) {
    throw new TypeError(
      `Expected ${where} to hold its values in a Float32Array but found ${
        _describe(data)
      }`,
    );
  }
  const shape = (param as _HostParam).shape;
  if (shape === undefined) return;
  const size = Array.isArray(shape)
    ? shape.reduce((n: number, d: number) => n * d, 1)
    : NaN;
  if (size !== data.length) {
    throw new RangeError(
      `Expected ${where} shape ${
        _describe(shape)
      } to hold its ${data.length} values`,
    );
  }
}

/** A byte range of some memory (an `ArrayBuffer`, a `GPUBuffer`) that one parameter holds. */
export interface _Extent {
  readonly memory: object;
  readonly begin: number;
  readonly end: number;
  /** The parameter, for messages: `group 0 parameter "fc.weight"`. */
  readonly where: string;
}

/**
 * Checks that no two extents share bytes: a parameter held twice would be decayed twice.
 *
 * @param memoryKind How the message names the memory, e.g. "one buffer".
 * @throws {TypeError} Naming the two parameters that overlap.
 */
export function _checkNoOverlap(
  extents: readonly _Extent[],
  memoryKind: string,
): void {
  const sorted = extents.filter((e) => e.end > e.begin).toSorted((a, b) =>
    a.begin - b.begin
  );
  const furthest = new Map<object, _Extent>();
  for (const extent of sorted) {
    const last = furthest.get(extent.memory);
    if (last !== undefined && last.end > extent.begin) {
      throw new TypeError(
        `Expected parameters to hold separate memory but ${last.where} and ${extent.where} overlap in ${memoryKind}; each would be decayed twice`,
      );
    }
    if (last === undefined || extent.end > last.end) {
      furthest.set(extent.memory, extent);
    }
  }
}

/**
 * Checks that no two host parameters share memory: each would be decayed twice.
 *
 * @throws {TypeError} Naming the two parameters that overlap.
 */
function _checkNoSharedMemory(
  groups: readonly _CheckedGroup<_HostParam>[],
): void {
  _checkNoOverlap(
    groups.flatMap((group, g) =>
      group.params.map(({ data }, i) => ({
        memory: data.buffer,
        begin: data.byteOffset,
        end: data.byteOffset + data.byteLength,
        where: `group ${g} parameter ${_describe(group.names[i])}`,
      }))
    ),
    "one ArrayBuffer",
  );
}

/**
 * Checks groups of host parameters: their shape, each parameter's data, and that no two
 * parameters share memory.
 *
 * @throws {TypeError} As `_checkGroups`, `_checkHostParam` and `_checkNoSharedMemory`.
 * @throws {RangeError} As `_checkGroups` and `_checkHostParam`.
 */
export function _checkHostGroups<P extends _HostParam>(
  groups: readonly ParamGroup<P>[],
): _CheckedGroup<P>[] {
  const checked = _checkGroups(groups, _checkHostParam);
  _checkNoSharedMemory(checked);
  return checked;
}

/** The error for a parameter that is in none of an engine's groups. */
export function _foreignParam(engine: string, param: unknown): TypeError {
  return new TypeError(
    `Expected a parameter of this ${engine} (one of the groups it was made with) but found ${
      _describe(param)
    }`,
  );
}

/** A host parameter as an engine captured it: the array it holds, and its length then. */
export interface _HostEntry<P extends _HostParam = _HostParam> {
  /** Its name in its group. */
  readonly name: string;
  /** Its other names (tied weights). */
  readonly aliases: readonly string[];
  /** Names it in messages, e.g. `group 0 parameter "fc.bias"`. */
  readonly where: string;
  readonly param: P;
  readonly data: Float32Array;
  readonly size: number;
}

/** Captures the host parameters of checked groups, in group order. */
export function _hostEntries<P extends _HostParam>(
  groups: readonly _CheckedGroup<P>[],
): _HostEntry<P>[] {
  return groups.flatMap((group, g) =>
    group.params.map((param, i) => ({
      name: group.names[i]!,
      aliases: group.aliases[i]!,
      where: `group ${g} parameter ${_describe(group.names[i])}`,
      param,
      data: param.data,
      size: param.data.length,
    }))
  );
}

/**
 * Checks that every host parameter still holds its values in the array it had when
 * the engine was made, with the same length: not detached, not resized, not replaced.
 *
 * @throws {TypeError} Naming the first parameter that changed; the caller has changed
 * nothing yet.
 */
export function _checkHostUnchanged(entries: readonly _HostEntry[]): void {
  for (let i = 0; i < entries.length; i++) {
    const { where, param, data, size } = entries[i]!;
    if (param.data === data && data.length === size) continue;
    const found = param.data !== data
      ? "its data was replaced by another array"
      : (data.buffer as ArrayBuffer).detached
      ? "its ArrayBuffer was detached"
      : `its data now holds ${data.length} values`;
    throw new TypeError(
      `Expected ${where} to still hold its ${size} values in the array it had when the engine was made but ${found}`,
    );
  }
}
