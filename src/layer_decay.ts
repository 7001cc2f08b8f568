// Copyright 2026 the weight-decay authors. MIT license.
/**
 * Layer-wise learning-rate decay: timm's `group_matcher` turns parameter names into
 * layers, and each layer gets a learning-rate scale that shrinks towards the input.
 *
 * @module
 */

import { _describe } from "./_describe.ts";
import { PolicyError } from "./policy.ts";
import { _compileStringPattern } from "./_regex.ts";

/**
 * Layer-wise learning-rate decay, as in BEiT (Bao et al., "BEiT: BERT Pre-Training of
 * Image Transformers", 2021) and timm's `param_groups_layer_decay`: layers near the
 * input get a smaller learning rate.
 *
 * `groupMatcher` gives each parameter name a key, with the semantics of timm's
 * `group_with_matcher`, so a timm model's `group_matcher(coarse=False)` ports as is
 * (tuples become arrays):
 *
 * - entries, in insertion order, get ordinals 0, 1, …; a `null` entry matches nothing
 *   but keeps its ordinal;
 * - a string entry is one regex, an array entry a list of `[regex, suffix]` pairs tried
 *   in order; a regex matches at the start of the name, like Python's `re.match` (the
 *   rest of the name may follow; `"bn1"` does not match `"layer1.0.bn1.weight"`);
 * - the first regex that matches gives the key `[ordinal, ...captured groups as
 *   numbers, ...suffix]`; a name no regex matches gets `[Infinity]`, the last layer;
 * - the distinct keys, sorted as number tuples (a prefix first: `[1] < [1, 0]`),
 *   become layers 0, 1, …, L-1, except that a key whose last number is 99999 (timm's
 *   `MATCH_PREV_GROUP`) joins the layer before it.
 *
 * Layer `i` then gets the learning-rate scale
 *
 * ```text
 * scale_i = max(minScale, layerDecay ** (L - 1 - i))
 * ```
 *
 * so the last layer (the head, and every unmatched name) gets 1. Layers depend on the
 * whole set of names, as timm computes them over `model.named_parameters()`.
 *
 * Integer-like keys (`"0"`) are rejected, since JavaScript lists them before every
 * other key and the ordinals would be wrong. A captured group must read as a number the
 * way Python's `float()` reads it (ASCII only), and must take part in the match: timm
 * fails on both as well. timm's `no_opt_scale` has no counterpart.
 *
 * @example ViT-B/16: the stem is layer 0, `blocks.i` layer i + 1, the final norm joins the last block
 * ```ts
 * import { explain, type LayerDecay, Parameter } from "@decoupled/weight-decay";
 * import assert from "node:assert/strict";
 *
 * // timm VisionTransformer.group_matcher(coarse=False), as JSON
 * const vit: LayerDecay = {
 *   layerDecay: 0.75,
 *   groupMatcher: {
 *     stem: "^cls_token|reg_token|pos_embed|patch_embed",
 *     blocks: [["^blocks\\.(\\d+)", null], ["^norm", [99999]]],
 *   },
 * };
 * const names = ["cls_token", "patch_embed.proj.weight"];
 * for (let i = 0; i < 12; i++) names.push(`blocks.${i}.attn.qkv.weight`);
 * names.push("norm.weight", "head.weight");
 * const source = names.map((name) => ({ name, param: new Parameter([0]) }));
 *
 * const { assignments } = explain(source, { weightDecay: 0.05, lrScale: vit });
 * const scaleOf = (name: string) => assignments.find((a) => a.name === name)!.lrScale;
 * assert.equal(scaleOf("cls_token"), 0.75 ** 13);
 * assert.equal(scaleOf("blocks.0.attn.qkv.weight"), 0.75 ** 12);
 * assert.equal(scaleOf("norm.weight"), 0.75);
 * assert.equal(scaleOf("head.weight"), 1);
 * ```
 */
export interface LayerDecay {
  /** The factor between one layer's scale and the next's; a number in (0, 1]. */
  layerDecay: number;
  /**
   * timm's `group_matcher` in dict form, as JSON: a regex string, `null`, or a list of
   * `[regex, suffix]` pairs per entry, where a suffix is `null` or a list of numbers
   * appended to the key (timm writes `MATCH_PREV_GROUP` as `[99999]`).
   */
  groupMatcher: Readonly<
    Record<
      string,
      string | readonly (readonly [string, readonly number[] | null])[] | null
    >
  >;
  /**
   * The smallest scale any layer gets (timm `min_scale`); a number in [0, 1].
   *
   * @default {0}
   */
  minScale?: number;
}

/** timm's `MATCH_PREV_GROUP`: a key ending in it joins the layer before it. */
const MATCH_PREV_GROUP = 99999;

/**
 * Matches a regex at the start of a name, like Python's `re.match`: the captured groups
 * (`undefined` for one that did not take part), or `null` when it does not match.
 */
export type _MatchAtStart = (name: string) => (string | undefined)[] | null;

/** One regex of a group matcher, where it comes from and what it adds to a key. */
export interface _MatcherPattern {
  /** The `groupMatcher` key of its entry. */
  readonly entry: string;
  /** Its index in an array entry; `undefined` for a string entry. */
  readonly pair: number | undefined;
  /** The regex as written. */
  readonly regex: string;
  /** The entry's ordinal, the key's first number. */
  readonly ordinal: number;
  /** The numbers that end the key (`[]` for a `null` suffix). */
  readonly suffix: readonly number[];
  /** Tests a name. */
  readonly match: _MatchAtStart;
}

/** The layer of one name, and how it was found. */
export interface _LayerAssignment {
  /** The layer id, 0 (nearest the input) to `layerCount - 1`. */
  readonly layer: number;
  /** The layer's learning-rate scale. */
  readonly scale: number;
  /** timm's sort key: `[ordinal, ...captures, ...suffix]`, or `[Infinity]` when unmatched. */
  readonly key: readonly number[];
  /** The regex that matched first; `undefined` when none did. */
  readonly pattern: _MatcherPattern | undefined;
}

/** The layers of a set of names. */
export interface _LayerTable {
  /** How many layers the names fall into. */
  readonly layerCount: number;
  /** The scale of each layer, by layer id. */
  readonly scales: readonly number[];
  /** One assignment per name, in the order of the names. */
  readonly assignments: readonly _LayerAssignment[];
}

/** A validated {@linkcode LayerDecay}; make one with {@linkcode _parseLayerDecay}. */
export class _ParsedLayerDecay {
  /** The factor between adjacent layers' scales, in (0, 1]. */
  readonly layerDecay: number;
  /** The smallest scale, in [0, 1]. */
  readonly minScale: number;
  /** Every regex, in the order they are tried. */
  readonly patterns: readonly _MatcherPattern[];

  /**
   * Holds validated parts; use {@linkcode _parseLayerDecay} to make one.
   *
   * @param layerDecay The factor between adjacent layers' scales.
   * @param minScale The smallest scale.
   * @param patterns Every regex, in the order they are tried.
   */
  constructor(
    layerDecay: number,
    minScale: number,
    patterns: readonly _MatcherPattern[],
  ) {
    this.layerDecay = layerDecay;
    this.minScale = minScale;
    this.patterns = Object.freeze([...patterns]);
    Object.freeze(this);
  }

  /**
   * Puts every name in its layer. All names at once: a name's layer id depends on which
   * keys the other names have. Linear in the names, plus sorting the distinct keys.
   *
   * @param names Every parameter name, as timm's `model.named_parameters()` gives them.
   * @returns The layer count, each layer's scale, and one assignment per name.
   * @throws {PolicyError} If a captured group did not take part in the match, or does
   * not read as a number.
   */
  layers(names: readonly string[]): _LayerTable {
    const keys = new Map<string, _Key>();
    const nameKeys: _Key[] = [];
    const namePatterns: (_MatcherPattern | undefined)[] = [];
    for (const name of names) {
      const { numbers, pattern } = this.#keyOf(name);
      // String(-0) is "0": -0 and 0 share a key, as equal floats do in a Python dict.
      const text = numbers.join(",");
      let key = keys.get(text);
      if (key === undefined) {
        key = { numbers: Object.freeze(numbers), layer: -1 };
        keys.set(text, key);
      }
      nameKeys.push(key);
      namePatterns.push(pattern);
    }
    const layerCount = _numberLayers([...keys.values()]);
    const scales = Array.from(
      { length: layerCount },
      (_, layer) => this.#scale(layerCount - 1 - layer),
    );
    const assignments = nameKeys.map((key, i) => ({
      layer: key.layer,
      scale: scales[key.layer]!,
      key: key.numbers,
      pattern: namePatterns[i],
    }));
    return { layerCount, scales, assignments };
  }

  /** `max(minScale, layerDecay ** exponent)`, as timm computes it. */
  #scale(exponent: number): number {
    // V8 computes `**` with the C library's pow, as CPython's float ** int does: the same
    // bits on the same platform. Except exponent 2, which V8 computes as x * x, correctly
    // rounded; glibc's pow(x, 2) is one ULP off that for about 0.08% of random x.
    return Math.max(this.minScale, this.layerDecay ** exponent);
  }

  #keyOf(
    name: string,
  ): { numbers: number[]; pattern: _MatcherPattern | undefined } {
    for (const pattern of this.patterns) {
      const captures = pattern.match(name);
      if (captures === null) continue;
      const numbers = [pattern.ordinal];
      for (let i = 0; i < captures.length; i++) {
        numbers.push(_captureNumber(captures[i], i + 1, pattern, name));
      }
      numbers.push(...pattern.suffix);
      return { numbers, pattern };
    }
    return { numbers: [Infinity], pattern: undefined };
  }
}

interface _Key {
  readonly numbers: readonly number[];
  layer: number;
}

/** Gives sorted keys layer ids as timm does; returns the layer count. */
function _numberLayers(keys: _Key[]): number {
  keys.sort((a, b) => _compareKeys(a.numbers, b.numbers));
  let layer = -1;
  for (const key of keys) {
    if (layer < 0 || key.numbers.at(-1) !== MATCH_PREV_GROUP) layer++;
    key.layer = layer;
  }
  return layer + 1;
}

/** Python's tuple order on number tuples: the first difference decides, a prefix first. */
function _compareKeys(a: readonly number[], b: readonly number[]): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  }
  return a.length - b.length;
}

/** What `\d+` captures, the common case, read alike by Python and JavaScript. */
const DECIMAL = /^\d+$/;
/** Whitespace Python's `float()` strips, in ASCII. */
const PY_SPACE = "[\\t-\\r\\x1c-\\x1f ]*";
/** Python's `digitpart`: digits, single underscores between them. */
const PY_DIGITS = "\\d(?:_?\\d)*";
/** Python's `float()` syntax for finite numbers, in ASCII. */
const PY_FINITE = new RegExp(
  `^${PY_SPACE}([+-]?(?:(?:${PY_DIGITS})?\\.${PY_DIGITS}|${PY_DIGITS}\\.?)(?:[eE][+-]?${PY_DIGITS})?)${PY_SPACE}$`,
);
/** Python's `float()` syntax for infinities and NaN. */
const PY_SPECIAL = new RegExp(
  `^${PY_SPACE}([+-]?)(inf|infinity|nan)${PY_SPACE}$`,
  "i",
);

/**
 * A captured group as the number timm's `float()` makes of it.
 *
 * @throws {PolicyError} If the group did not take part in the match, or is not a number
 * to Python's `float()`, or is NaN (NaN keys do not sort).
 */
function _captureNumber(
  text: string | undefined,
  group: number,
  pattern: _MatcherPattern,
  name: string,
): number {
  const fail = (detail: string): never => {
    throw new PolicyError(
      `${_location(pattern.entry, pattern.pair)} regex ${
        _describe(pattern.regex)
      } matched parameter ${_describe(name)} but ${detail}`,
      { parameterName: name, received: text },
    );
  };
  if (text === undefined) {
    return fail(
      `its group ${group} did not take part in the match; timm fails there too (float(None)), so make the group required`,
    );
  }
  const value = DECIMAL.test(text) ? Number(text) : _pythonFloat(text);
  if (value === undefined) {
    return fail(
      // deno-lint-ignore no-control-regex
      /[^\x00-\x7f]/.test(text)
        ? `its group ${group} captured ${
          _describe(text)
        }, which is not ASCII; only ASCII numbers are read here`
        : `its group ${group} captured ${
          _describe(text)
        }, which is not a number (timm reads groups with Python's float())`,
    );
  }
  if (Number.isNaN(value)) {
    return fail(
      `its group ${group} captured ${
        _describe(text)
      }, which is NaN; NaN keys cannot be sorted`,
    );
  }
  return value + 0;
}

/** What Python's `float(text)` gives, for ASCII text; `undefined` where it raises. */
function _pythonFloat(text: string): number | undefined {
  const finite = PY_FINITE.exec(text);
  if (finite !== null) return Number(finite[1]!.replaceAll("_", ""));
  const special = PY_SPECIAL.exec(text);
  if (special === null) return undefined;
  if (special[2]!.toLowerCase() === "nan") return NaN;
  return special[1] === "-" ? -Infinity : Infinity;
}

/** How timm spells the keys of a layer decay spec, and what to do instead. */
const TIMM_SPELLINGS: Readonly<Record<string, string>> = {
  "layer_decay": "use layerDecay",
  "group_matcher": "use groupMatcher",
  "min_scale": "use minScale",
  "no_opt_scale": "timm's no_opt_scale has no counterpart",
};

const SPEC_KEYS: readonly string[] = ["layerDecay", "groupMatcher", "minScale"];

/**
 * Validates a {@linkcode LayerDecay} and compiles its regexes.
 *
 * @param spec The spec, e.g. parsed from JSON.
 * @returns The parsed spec, ready to put names in layers.
 * @throws {PolicyError} If the spec is not a plain object with exactly the keys of
 * {@linkcode LayerDecay}, `layerDecay` is not in (0, 1], `minScale` is not in [0, 1],
 * `groupMatcher` is not a plain object, has an integer-like key, or an entry that is not
 * a regex string, `null` or a list of `[regex, suffix]` pairs, a suffix is not `null` or
 * a list of finite numbers, or a regex is invalid.
 */
export function _parseLayerDecay(spec: unknown): _ParsedLayerDecay {
  if (!_isPlainObject(spec)) {
    throw new PolicyError(
      `Expected a layer decay spec { layerDecay, groupMatcher, minScale? } but found ${
        _describe(spec)
      }`,
      { received: spec },
    );
  }
  for (const key of Object.keys(spec)) {
    if (SPEC_KEYS.includes(key)) continue;
    const hint = Object.hasOwn(TIMM_SPELLINGS, key)
      ? TIMM_SPELLINGS[key]
      : "expected layerDecay, groupMatcher and minScale";
    throw new PolicyError(
      `Layer decay spec has unknown key ${_describe(key)}: ${hint}`,
      { received: key },
    );
  }
  const { layerDecay, groupMatcher, minScale = 0 } = spec;
  if (
    typeof layerDecay !== "number" || !(layerDecay > 0 && layerDecay <= 1)
  ) {
    throw new PolicyError(
      `Expected layerDecay to be a number in (0, 1] but found ${
        _describe(layerDecay)
      }`,
      { received: layerDecay },
    );
  }
  if (typeof minScale !== "number" || !(minScale >= 0 && minScale <= 1)) {
    throw new PolicyError(
      `Expected minScale to be a number in [0, 1] but found ${
        _describe(minScale)
      }`,
      { received: minScale },
    );
  }
  return new _ParsedLayerDecay(
    layerDecay,
    minScale + 0,
    _parseGroupMatcher(groupMatcher),
  );
}

function _parseGroupMatcher(matcher: unknown): _MatcherPattern[] {
  if (!_isPlainObject(matcher)) {
    throw new PolicyError(
      `Expected groupMatcher to be a plain object of timm group_matcher entries but found ${
        _describe(matcher)
      }`,
      { received: matcher },
    );
  }
  return Object.entries(matcher).flatMap(([entry, value], ordinal) => {
    if (/^(?:0|[1-9]\d*)$/.test(entry)) {
      throw new PolicyError(
        `groupMatcher key ${
          _describe(entry)
        } is integer-like, so JavaScript lists it before the other keys and its ordinal would be wrong; use a name such as ${
          _describe(`layer${entry}`)
        }`,
        { received: entry },
      );
    }
    if (value === null) return [];
    if (typeof value === "string") {
      return [_pattern(entry, undefined, ordinal, value, null)];
    }
    if (!Array.isArray(value)) {
      throw new PolicyError(
        `${
          _location(entry, undefined)
        } must be a regex string, null, or an array of [regex, suffix] pairs but found ${
          _describe(value)
        }`,
        { received: value },
      );
    }
    // Array.from: a hole is an entry too, not one to skip.
    return Array.from(value, (pair: unknown, index) => {
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new PolicyError(
          `${
            _location(entry, index)
          } must be a [regex, suffix] pair but found ${_describe(pair)}`,
          { received: pair },
        );
      }
      return _pattern(entry, index, ordinal, pair[0], pair[1]);
    });
  });
}

function _pattern(
  entry: string,
  pair: number | undefined,
  ordinal: number,
  regex: unknown,
  suffix: unknown,
): _MatcherPattern {
  const where = _location(entry, pair);
  if (typeof regex !== "string") {
    throw new PolicyError(
      `${where} must have a regex string first but found ${_describe(regex)}`,
      { received: regex },
    );
  }
  const numbers: unknown[] | undefined = suffix === null
    ? []
    : Array.isArray(suffix)
    ? Array.from(suffix)
    : undefined;
  if (
    numbers === undefined ||
    !numbers.every((n) => typeof n === "number" && Number.isFinite(n))
  ) {
    throw new PolicyError(
      `${where} must have a suffix that is null or an array of finite numbers but found ${
        _describe(numbers ?? suffix)
      }`,
      { received: suffix },
    );
  }
  // RE2, as string patterns of policies: linear time, so a config cannot hang the process.
  const match: _MatchAtStart = _compileStringPattern(regex, `${where} regex`)
    .matchAtStart;
  return Object.freeze({
    entry,
    pair,
    regex,
    ordinal,
    suffix: Object.freeze(numbers.map((n) => (n as number) + 0)),
    match,
  });
}

function _location(entry: string, pair: number | undefined): string {
  const where = `groupMatcher entry ${_describe(entry)}`;
  return pair === undefined ? where : `${where} pair ${pair}`;
}

function _isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
