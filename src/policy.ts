// Copyright 2026 the weight-decay authors. MIT license.
/**
 * The policy language: ordered `[value, pattern]` rules and a default, parsed and
 * validated once into matchers.
 *
 * @module
 */

import type { NamedParameter, Parameter } from "./parameter.ts";
import { _causeMessage, _describe } from "./_describe.ts";
import { _compileStringPattern } from "./_regex.ts";

/** Any class: a pattern that matches when the owner is an instance of it. */
export type Constructor = abstract new (...args: never[]) => unknown;

/**
 * A predicate pattern, made with {@linkcode where}. Wrapping keeps predicates apart
 * from classes, which are functions too.
 */
export interface Where<P = unknown> {
  /**
   * Decides whether the rule matches a parameter; must return a boolean.
   *
   * @param param The parameter, with its name and owner.
   * @returns Whether the rule matches.
   */
  where(param: NamedParameter<P>): boolean;
}

/**
 * What a rule matches.
 *
 * - a `string`: a regular expression in [RE2 syntax](https://github.com/google/re2/wiki/Syntax)
 *   *searched* in the dotted name, like Python's `re.search` (`"bias"` matches
 *   `"layers.0.bias"`; anchor with `^` and `$`). RE2 matches in time linear in the
 *   name, so no pattern can hang. Python's `(?P<name>...)`, `(?i)` and `\A` work
 *   unchanged; Python's `\Z`, `(?#...)` and `{,n}` are rejected with their RE2
 *   spelling (`\z`, nothing, `{0,n}`), and lookarounds and backreferences with the
 *   advice to pass a `RegExp`. `\d`, `\w`, `\s` and `\b` are ASCII;
 * - a `RegExp`: searched the same way by JavaScript's engine (it is the caller's
 *   code), without `lastIndex` side effects (a `y` flag anchors at the start of the
 *   name, a `g` flag changes nothing);
 * - a class: the parameter's owner is an instance of it;
 * - an array of classes and class names: the owner is an instance of any of them (a
 *   name matches any class of that name on the owner's prototype chain, so subclasses
 *   match, like Python's `isinstance`);
 * - a {@linkcode Where} predicate.
 */
export type Pattern =
  | string
  | RegExp
  | Constructor
  | readonly (Constructor | string)[]
  | Where;

/** A rule: parameters that match `pattern` get `value`; a negative value means "use the default". */
export type Rule = readonly [value: number, pattern: Pattern];

/**
 * A weight-decay policy: a default value, or rules followed by the default.
 *
 * @example The two policies from the basecls documentation
 * ```ts
 * import { NORM_TYPES, parsePolicy, type WeightDecayPolicy } from "@decoupled/weight-decay";
 * import assert from "node:assert/strict";
 *
 * // Biases get 1e-5 (norm biases too: the first matching rule wins), norm weights 0.
 * const resnet: WeightDecayPolicy = [[1e-5, "bias"], [0, NORM_TYPES], 1e-4];
 * // Mobile models: no decay on any bias or normalization layer.
 * const mobile: WeightDecayPolicy = [[0, "bias"], [0, NORM_TYPES], 4e-5];
 *
 * const bias = { name: "layer1.0.bn1.bias", param: null };
 * assert.equal(parsePolicy(resnet).decide(bias).weightDecay, 1e-5);
 * assert.equal(parsePolicy(mobile).decide(bias).weightDecay, 0);
 * ```
 */
export type WeightDecayPolicy = number | readonly [...Rule[], number];

/**
 * Class names of the common normalization layers, of PyTorch, MegEngine and
 * TensorFlow.js. Use it as a pattern, `[0, NORM_TYPES]`, or spread it into a longer list.
 *
 * @example Matching normalization layers by class name
 * ```ts
 * import { getParamGroups, NORM_TYPES, Parameter } from "@decoupled/weight-decay";
 * import assert from "node:assert/strict";
 *
 * class LayerNorm {
 *   weight = new Parameter([1]);
 * }
 * class Linear {
 *   weight = new Parameter([1]);
 * }
 * const source = [
 *   { name: "ln.weight", param: new Parameter([1]), owner: new LayerNorm() },
 *   { name: "fc.weight", param: new Parameter([1]), owner: new Linear() },
 * ];
 * const groups = getParamGroups(source, [[0, NORM_TYPES], 1e-4]);
 * assert.deepEqual(groups.map((g) => g.names), [["ln.weight"], ["fc.weight"]]);
 * ```
 */
export const NORM_TYPES: readonly string[] = Object.freeze([
  "BatchNorm1d",
  "BatchNorm2d",
  "BatchNorm3d",
  "SyncBatchNorm",
  "GroupNorm",
  "InstanceNorm1d",
  "InstanceNorm2d",
  "InstanceNorm3d",
  "LayerNorm",
  "RMSNorm",
  "LocalResponseNorm",
  "BatchNormalization",
  "LayerNormalization",
]);

/** Fields of a {@linkcode PolicyError}, where they apply. */
export interface PolicyErrorOptions extends ErrorOptions {
  /** The index of the policy entry at fault. */
  ruleIndex?: number;
  /** The parameter being grouped when the error arose. */
  parameterName?: string;
  /** The value that was wrong. */
  received?: unknown;
  /** Which policy of a `GroupPolicy` is at fault, when the policy has two. */
  policy?: "weightDecay" | "lrScale";
}

/**
 * A policy, or a parameter source, that cannot be used: the message says what was
 * expected and what was found, and the fields say where.
 *
 * @example Catching a malformed rule
 * ```ts
 * import { parsePolicy, PolicyError } from "@decoupled/weight-decay";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => parsePolicy([[0, "bias", "extra"], 1e-4]), (error) => {
 *   assert.ok(error instanceof PolicyError);
 *   assert.equal(error.ruleIndex, 0);
 *   return true;
 * });
 * ```
 */
export class PolicyError extends Error {
  /** The index of the policy entry at fault, when one is. */
  readonly ruleIndex?: number;
  /** The parameter being grouped when the error arose, when one was. */
  readonly parameterName?: string;
  /** The value that was wrong, when there is one. */
  readonly received?: unknown;
  /** Which policy of a `GroupPolicy` is at fault, when the policy has two. */
  readonly policy?: "weightDecay" | "lrScale";

  /**
   * Makes a policy error.
   *
   * @param message What was expected and what was found.
   * @param options Where the error is, and its cause.
   */
  constructor(message: string, options: PolicyErrorOptions = {}) {
    super(
      message,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "PolicyError";
    if (options.ruleIndex !== undefined) this.ruleIndex = options.ruleIndex;
    if (options.parameterName !== undefined) {
      this.parameterName = options.parameterName;
    }
    if ("received" in options) this.received = options.received;
    if (options.policy !== undefined) this.policy = options.policy;
  }
}

/**
 * Wraps a predicate as a pattern, e.g. timm's rule "no decay on 1-D parameters".
 *
 * @typeParam P The parameter type the predicate reads: {@linkcode Parameter} unless
 * given (`where<tf.Variable>(...)` for TensorFlow.js variables).
 * @param test Decides whether a parameter matches; called with its name, the parameter
 * and its owner, and must return a boolean.
 * @returns A pattern for a rule.
 * @throws {TypeError} If `test` is not a function.
 *
 * @example No decay on biases and norm scales, found by their shape
 * ```ts
 * import { getParamGroups, Parameter, where } from "@decoupled/weight-decay";
 * import assert from "node:assert/strict";
 *
 * const oneDimensional = where(({ param }) => param.shape.length <= 1);
 * const source = [
 *   { name: "fc.weight", param: new Parameter([1, 2, 3, 4], [2, 2]) },
 *   { name: "fc.bias", param: new Parameter([0, 0]) },
 * ];
 * const groups = getParamGroups(source, [[0, oneDimensional], 0.05]);
 * assert.deepEqual(groups.map((g) => [g.weightDecay, g.names]), [
 *   [0.05, ["fc.weight"]],
 *   [0, ["fc.bias"]],
 * ]);
 * ```
 */
export function where<P = Parameter>(
  // NoInfer: P is never guessed from the context (which says `unknown`), so it is
  // Parameter unless written, and `param` has its real type without casts.
  test: (param: NamedParameter<NoInfer<P>>) => boolean,
): Where<NoInfer<P>> {
  if (typeof test !== "function") {
    throw new TypeError(
      `Expected where() to get a function but found ${_describe(test)}`,
    );
  }
  return Object.freeze({ where: test });
}

/** How a parsed rule matches: the three kinds of test a pattern can become. */
export type PatternKind = "regex" | "class" | "where";

/** One validated rule of a {@linkcode ParsedPolicy}. */
export interface ParsedRule {
  /** The index of the rule in the policy. */
  readonly index: number;
  /** The rule's value; negative means "use the default". */
  readonly value: number;
  /** The pattern as written. */
  readonly pattern: Pattern;
  /** Which kind of test the pattern is. */
  readonly kind: PatternKind;
  /** A short spelling of the pattern for messages, e.g. `"bias"` or `[LayerNorm, BatchNorm2d]`. */
  readonly description: string;
  /**
   * Tests the rule against one parameter.
   *
   * @throws {PolicyError} If a {@linkcode where} predicate throws or returns a non-boolean.
   */
  matches(param: NamedParameter<unknown>): boolean;
}

/** Which rule decided a parameter, and the value it gets. */
export interface Decision {
  /** The index of the rule that matched, or -1 when none did and the default applied. */
  rule: number;
  /** The value applied: the default's when no rule matched or the matching rule's value is negative. */
  weightDecay: number;
}

/**
 * A validated policy, ready to decide parameters. Make one with {@linkcode parsePolicy}
 * to check a policy early or to reuse it; every function that takes a policy also takes one.
 */
export class ParsedPolicy {
  /** The rules, first to last. */
  readonly rules: readonly ParsedRule[];
  /** The value of parameters no rule decides; finite and >= 0. */
  readonly defaultValue: number;

  /**
   * Holds already validated rules; use {@linkcode parsePolicy} to make one.
   *
   * @param rules The rules, first to last.
   * @param defaultValue The default value.
   */
  constructor(rules: readonly ParsedRule[], defaultValue: number) {
    this.rules = Object.freeze([...rules]);
    this.defaultValue = defaultValue;
    Object.freeze(this);
  }

  /**
   * Decides one parameter: the first rule whose pattern matches gives the value; a
   * negative value, or no match, gives the default.
   *
   * @param param The parameter, with its name and owner.
   * @returns The deciding rule's index (-1 for the default) and the value applied.
   * @throws {PolicyError} If a {@linkcode where} predicate throws or returns a non-boolean.
   *
   * @example
   * ```ts
   * import { parsePolicy } from "@decoupled/weight-decay";
   * import assert from "node:assert/strict";
   *
   * const policy = parsePolicy([[0, "bias"], [-1, "^head\\."], 1e-4]);
   * assert.deepEqual(policy.decide({ name: "fc.bias", param: null }), { rule: 0, weightDecay: 0 });
   * assert.deepEqual(policy.decide({ name: "head.bias", param: null }), { rule: 0, weightDecay: 0 });
   * assert.deepEqual(policy.decide({ name: "head.w", param: null }), { rule: 1, weightDecay: 1e-4 });
   * assert.deepEqual(policy.decide({ name: "fc.w", param: null }), { rule: -1, weightDecay: 1e-4 });
   * ```
   */
  decide(param: NamedParameter<unknown>): Decision {
    const { rule, value } = _firstMatch(this.rules, this.defaultValue, param);
    return { rule, weightDecay: value };
  }
}

/**
 * The first rule that matches gives the value (a negative value: the default); none
 * matches: the default, with rule -1.
 */
export function _firstMatch(
  rules: readonly ParsedRule[],
  defaultValue: number,
  param: NamedParameter<unknown>,
): { rule: number; value: number } {
  for (const rule of rules) {
    if (rule.matches(param)) {
      return {
        rule: rule.index,
        value: rule.value < 0 ? defaultValue : rule.value,
      };
    }
  }
  return { rule: -1, value: defaultValue };
}

/**
 * Validates a policy and compiles its patterns.
 *
 * Takes values as a JSON parser makes them, so a policy can live in a config file:
 * `parsePolicy(JSON.parse(text))`. String patterns are RE2 regular expressions, so
 * most Python patterns of basecls configs port unchanged; Python constructs that RE2
 * lacks are rejected with their RE2 spelling.
 *
 * @param policy A number (the default for every parameter), or a non-empty array of
 * `[value, pattern]` rules ending with the default number.
 * @returns The validated policy; passing it where a policy is taken skips re-validation.
 * @throws {PolicyError} If the policy is malformed: empty, without a numeric default
 * last, with a default below 0, a value that is not a finite number, an entry that is
 * not a `[value, pattern]` pair, a pattern of the wrong kind, or an invalid regex. The
 * error's `ruleIndex` names the entry at fault.
 *
 * @example Parsing a policy from a config file
 * ```ts
 * import { parsePolicy } from "@decoupled/weight-decay";
 * import assert from "node:assert/strict";
 *
 * const text = '[[0, "bias"], [0, ["LayerNorm", "BatchNorm2d"]], 5e-2]';
 * const policy = parsePolicy(JSON.parse(text));
 * assert.equal(policy.rules.length, 2);
 * assert.equal(policy.defaultValue, 0.05);
 * assert.equal(policy.rules[1]!.kind, "class");
 * ```
 */
export function parsePolicy(policy: unknown): ParsedPolicy {
  if (policy instanceof ParsedPolicy) return policy;
  const { rules, defaultValue } = _parseRuleList(policy, WEIGHT_DECAY);
  return new ParsedPolicy(rules, defaultValue);
}

/** How messages name a kind of policy and its values. */
export interface _PolicyLabels {
  /** The policy, with its article, e.g. "a weight-decay policy". */
  readonly policy: string;
  /** Its values, e.g. "weight decay". */
  readonly value: string;
  /** A default to suggest, e.g. "1e-4". */
  readonly example: string;
  /** What else the policy may be, in the message for a wrong kind of value. */
  readonly alternatives: string;
}

const WEIGHT_DECAY: _PolicyLabels = {
  policy: "a weight-decay policy",
  value: "weight decay",
  example: "1e-4",
  alternatives: "a number, or rules followed by a default number",
};

/**
 * Validates a number or a list of rules ending with a default: the shape every policy
 * of rules shares.
 *
 * @throws {PolicyError} As {@linkcode parsePolicy} does, in the words of `labels`.
 */
export function _parseRuleList(
  policy: unknown,
  labels: _PolicyLabels,
): { rules: ParsedRule[]; defaultValue: number } {
  if (typeof policy === "number") {
    return { rules: [], defaultValue: _checkDefault(policy, 0, true, labels) };
  }
  if (!Array.isArray(policy)) {
    throw new PolicyError(
      `Expected ${labels.policy} (${labels.alternatives}) but found ${
        _describe(policy)
      }`,
      { received: policy },
    );
  }
  if (policy.length === 0) {
    throw new PolicyError(
      `Expected ${labels.policy} to end with a default number but found an empty list`,
      { received: policy },
    );
  }
  const last = policy.length - 1;
  const defaultValue = _checkDefault(policy[last], last, false, labels);
  const rules = policy.slice(0, last).map((rule, index) =>
    _parseRule(rule, index)
  );
  return { rules, defaultValue };
}

function _checkDefault(
  value: unknown,
  index: number,
  alone: boolean,
  labels: _PolicyLabels,
): number {
  const where = alone
    ? `the default ${labels.value}`
    : `the default ${labels.value} (entry ${index})`;
  if (typeof value !== "number") {
    const hint = Array.isArray(value)
      ? `; the last entry must be a bare number such as ${labels.example}, after the rules`
      : "";
    throw new PolicyError(
      `Expected ${where} to be a number but found ${_describe(value)}${hint}`,
      {
        ruleIndex: index,
        received: value,
      },
    );
  }
  if (!Number.isFinite(value) || value < 0) {
    throw new PolicyError(
      `Expected ${where} to be a finite number >= 0 but found ${
        _describe(value)
      }`,
      { ruleIndex: index, received: value },
    );
  }
  return value + 0; // -0 and 0 are one value
}

function _parseRule(rule: unknown, index: number): ParsedRule {
  const fail = (message: string, received: unknown = rule): never => {
    throw new PolicyError(`Rule ${index} ${message}`, {
      ruleIndex: index,
      received,
    });
  };
  if (typeof rule === "number") {
    fail(
      `is a bare number (${
        _describe(rule)
      }) but only the last entry may be the default; write a rule as [value, pattern]`,
    );
  }
  if (!Array.isArray(rule) || rule.length !== 2) {
    fail(`must be a [value, pattern] pair but found ${_describe(rule)}`);
  }
  const [value, pattern] = rule as unknown[];
  if (typeof value !== "number" || !Number.isFinite(value)) {
    fail(
      `must have a finite number as its value (negative means "use the default") but found ${
        _describe(value)
      }`,
      value,
    );
  }
  const matcher = _compilePattern(pattern, index);
  return Object.freeze({
    index,
    value: (value as number) + 0,
    pattern: pattern as Pattern,
    kind: matcher.kind,
    description: matcher.description,
    matches: matcher.matches,
  });
}

interface _Matcher {
  kind: PatternKind;
  description: string;
  matches(param: NamedParameter<unknown>): boolean;
}

function _compilePattern(pattern: unknown, index: number): _Matcher {
  if (typeof pattern === "string") return _stringMatcher(pattern, index);
  if (pattern instanceof RegExp) return _regexMatcher(pattern);
  if (typeof pattern === "function") {
    return _classMatcher([_checkClass(pattern, index)]);
  }
  if (Array.isArray(pattern)) {
    return _classMatcher(
      pattern.map((entry) => _checkClassEntry(entry, index)),
    );
  }
  if (typeof pattern === "object" && pattern !== null && "where" in pattern) {
    const test = (pattern as { where: unknown }).where;
    if (typeof test !== "function") {
      _patternError(
        index,
        `a where() object must hold a function but holds ${_describe(test)}`,
      );
    }
    return _whereMatcher(test as Where["where"], index);
  }
  return _patternError(
    index,
    `must be a regex string, a RegExp, a class, an array of classes or class names, or where(predicate) but found ${
      _describe(pattern)
    }`,
    pattern,
  );
}

function _patternError(
  index: number,
  detail: string,
  received?: unknown,
): never {
  throw new PolicyError(`Rule ${index} pattern ${detail}`, {
    ruleIndex: index,
    received,
  });
}

function _stringMatcher(source: string, index: number): _Matcher {
  const compiled = _compileStringPattern(source, index);
  return {
    kind: "regex",
    description: JSON.stringify(source),
    matches: ({ name }) => compiled.search(name),
  };
}

function _regexMatcher(regex: RegExp): _Matcher {
  // A private copy without `g`, reset before each test: results never depend on call order.
  const own = new RegExp(regex.source, regex.flags.replace("g", ""));
  return {
    kind: "regex",
    description: regex.flags === ""
      ? JSON.stringify(regex.source)
      : String(regex),
    matches({ name }) {
      own.lastIndex = 0;
      return own.test(name);
    },
  };
}

function _checkClass(candidate: unknown, index: number): Constructor {
  const prototype = (candidate as { prototype?: unknown }).prototype;
  if (typeof prototype !== "object" || prototype === null) {
    _patternError(
      index,
      `is ${
        _describe(candidate)
      } without a prototype, so it is no class; wrap predicates as where((p) => ...)`,
      candidate,
    );
  }
  return candidate as Constructor;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function _checkClassEntry(entry: unknown, index: number): Constructor | string {
  if (typeof entry === "function") return _checkClass(entry, index);
  if (typeof entry === "string") {
    if (!IDENTIFIER.test(entry)) {
      _patternError(
        index,
        `lists ${
          _describe(entry)
        } as a class name, but class names are identifiers; to search parameter names, use the regex as the whole pattern`,
        entry,
      );
    }
    return entry;
  }
  return _patternError(
    index,
    `array must hold classes and class names but holds ${_describe(entry)}`,
    entry,
  );
}

function _classMatcher(classes: readonly (Constructor | string)[]): _Matcher {
  const constructors = classes.filter((c): c is Constructor =>
    typeof c === "function"
  );
  const names = new Set(
    classes.filter((c): c is string => typeof c === "string"),
  );
  const spelled = classes.map((c) =>
    typeof c === "string" ? c : c.name || "<anonymous class>"
  );
  return {
    kind: "class",
    description: `[${spelled.join(", ")}]`,
    matches({ owner }) {
      if (typeof owner !== "object" || owner === null) return false;
      for (const constructor of constructors) {
        if (owner instanceof constructor) return true;
      }
      return names.size > 0 && _hasClassNamed(owner, names);
    },
  };
}

/** True if any class on the owner's prototype chain has one of the names (or a TensorFlow.js `className`). */
function _hasClassNamed(owner: object, names: ReadonlySet<string>): boolean {
  for (
    let prototype = Object.getPrototypeOf(owner);
    prototype !== null;
    prototype = Object.getPrototypeOf(prototype)
  ) {
    if (!Object.hasOwn(prototype, "constructor")) continue;
    const constructor = prototype.constructor;
    if (typeof constructor !== "function") continue;
    if (names.has(constructor.name)) return true;
    if (
      Object.hasOwn(constructor, "className") &&
      names.has(constructor.className)
    ) return true;
  }
  return false;
}

function _whereMatcher(test: Where["where"], index: number): _Matcher {
  return {
    kind: "where",
    description: `where(${test.name || "predicate"})`,
    matches(param) {
      let result: unknown;
      try {
        result = test(param);
      } catch (cause) {
        throw new PolicyError(
          `Rule ${index} where() predicate threw on parameter ${
            _describe(param.name)
          }: ${_causeMessage(cause)}`,
          { ruleIndex: index, parameterName: param.name, cause },
        );
      }
      if (typeof result !== "boolean") {
        throw new PolicyError(
          `Rule ${index} where() predicate must return a boolean but returned ${
            _describe(result)
          } for parameter ${_describe(param.name)}`,
          { ruleIndex: index, parameterName: param.name, received: result },
        );
      }
      return result;
    },
  };
}
