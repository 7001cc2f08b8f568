// Copyright 2026 the weight-decay authors. MIT license.
/**
 * Grouping: every parameter of a source assigned to one weight-decay group by a policy.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { NamedParameter, Parameter, ParamSource } from "./parameter.ts";
import type {
  ParsedPolicy,
  ParsedRule,
  Pattern,
  WeightDecayPolicy,
} from "./policy.ts";
import { PolicyError } from "./policy.ts";
import {
  type GroupPolicy,
  type ParsedGroupPolicy,
  parseGroupPolicy,
  type ScaleDecision,
} from "./group_policy.ts";
import { _describe } from "./_describe.ts";
import { _checkKeys } from "./_check_keys.ts";
import { _isTfjsModel } from "./_tfjs_model.ts";

/**
 * Parameters that share one weight decay and one learning-rate scale, as an optimizer's
 * parameter group.
 *
 * @typeParam P The parameter type.
 */
export interface ParamGroup<P = Parameter> {
  /** The group's weight decay, finite and >= 0. */
  weightDecay: number;
  /**
   * The group's learning-rate scale, finite and >= 0: engines step the group with
   * `lr * lrScale`. Groups made from a bare weight-decay policy have 1.
   *
   * @default {1}
   */
  lrScale?: number;
  /** The parameters, in source order. */
  params: P[];
  /** Their names, parallel to `params`. */
  names: string[];
  /**
   * The other names of tied parameters, parallel to `params` (empty for a parameter
   * with one name); set by {@linkcode getParamGroups} only on groups that hold a tied
   * parameter. Checkpoints use them to load a PyTorch `state_dict`, which lists a tied
   * tensor under each of its names.
   */
  aliases?: (readonly string[])[];
}

/** A group as {@linkcode getParamGroups} makes it: its lrScale always set. */
export type DecidedParamGroup<P = Parameter> = ParamGroup<P> & {
  lrScale: number;
};

/**
 * The two log methods grouping uses. A LogTape `Logger` (it has a `category`) gets
 * message templates and their properties; any other logger, such as `console`, gets the
 * rendered message as its one argument.
 */
export interface GroupLogger {
  /** Logs at info level. */
  info(message: string, properties?: Record<string, unknown>): void;
  /** Logs at warning level. */
  warn(message: string, properties?: Record<string, unknown>): void;
}

/** Options for {@linkcode getParamGroups}. */
export interface GetParamGroupsOptions {
  /**
   * Where groups, unused rules and alias conflicts are logged: a LogTape logger, or a
   * console-like object.
   *
   * @default {getLogger(["weight-decay"])}
   */
  logger?: GroupLogger;
}

/** How one parameter was decided, as {@linkcode explain} reports it. */
export interface Assignment {
  /** The name the parameter was decided under (the first the source gave). */
  name: string;
  /** The weight decay applied. */
  weightDecay: number;
  /**
   * The index of the weight-decay rule that matched, or -1 when none did and the
   * default applied. A matching rule with a negative value shows its index with the
   * default's value.
   */
  rule: number;
  /** The learning-rate scale applied. */
  lrScale: number;
  /**
   * The index of the lr-scale rule that matched, as `rule` is for the weight decay; -1
   * under layer decay.
   */
  lrScaleRule: number;
  /** Under layer decay, the parameter's layer: 0 nearest the input. */
  layer?: number;
  /** The parameter's other names, when it is tied; empty otherwise. */
  aliases: string[];
}

/** A tied parameter whose other name would have been given other values. */
export interface AliasConflict {
  /** The name that decided the parameter. */
  name: string;
  /** The other name. */
  alias: string;
  /** The weight decay applied, decided under `name`. */
  weightDecay: number;
  /** The weight decay the policy gives `alias`. */
  aliasWeightDecay: number;
  /** The learning-rate scale applied, decided under `name`. */
  lrScale: number;
  /** The learning-rate scale the policy gives `alias`. */
  aliasLrScale: number;
}

/** A rule that decided no parameter, and why. */
export interface UnusedRule {
  /** The policy it belongs to. */
  policy: "weightDecay" | "lrScale";
  /** Its index in that policy. */
  rule: number;
  /** Its pattern as written: a regex source, `/source/flags`, `[ClassA, ClassB]` or `where(name)`. */
  pattern: string;
  /**
   * Why it decided nothing: `"no match"` (it matches no parameter: often a typo such as
   * `"bais"`), or `"shadowed"` (every parameter it matches was decided by an earlier
   * rule, `shadowedBy`).
   */
  reason: "no match" | "shadowed";
  /** For `"shadowed"`: the earlier rule that decided the first parameter it matches. */
  shadowedBy?: number;
}

/** What {@linkcode explain} finds. */
export interface Explanation {
  /** One entry per distinct parameter, in source order. */
  assignments: Assignment[];
  /** Rules of either policy that decided no parameter, weight-decay rules first. */
  unusedRules: UnusedRule[];
  /** Tied parameters whose aliases the policy would have given other values. */
  aliasConflicts: AliasConflict[];
}

/** Every kind of policy {@linkcode getParamGroups} and {@linkcode explain} take. */
export type AnyGroupPolicy =
  | WeightDecayPolicy
  | ParsedPolicy
  | GroupPolicy
  | ParsedGroupPolicy;

/**
 * Assigns every parameter to a group by a policy: its weight decay with the semantics
 * of MegEngine basecls `get_param_groups`, and, with a {@linkcode GroupPolicy}, its
 * learning-rate scale, decided independently.
 *
 * For each parameter, in source order, the rules are tried first to last; the first
 * that matches gives the value (a negative value: the default), and when none matches
 * the default applies. Parameters with equal values (the pair of weight decay and
 * lrScale) share a group; groups come in the order their first parameter appears. A
 * tied parameter (one object under several names) is grouped once, under its first
 * name.
 *
 * With more than one group, each group's names are logged once at info level under the
 * category `["weight-decay"]`; rules that decided nothing and tied parameters whose
 * names disagree are logged as warnings. Nothing is printed unless the application
 * configures LogTape.
 *
 * @typeParam P The parameter type.
 * @param source The named parameters: an iterable, or an object with `namedParameters()`.
 * @param policy A weight-decay policy, a `{ weightDecay, lrScale }` group policy, or
 * either parsed.
 * @param options Where to log.
 * @returns The groups, each with its weight decay, lrScale, parameters and names.
 * @throws {PolicyError} If the policy is malformed, the source names two different
 * parameters alike, or a `where()` predicate fails.
 * @throws {TypeError} If the source is not iterable, yields nothing, or yields
 * something other than `{ name, param }` entries; or an option is unknown.
 *
 * @example The basecls ResNet policy
 * ```ts
 * import { getParamGroups, NORM_TYPES, Parameter } from "@decoupled/weight-decay";
 * import assert from "node:assert/strict";
 *
 * class Conv2d {
 *   weight = new Parameter(new Float32Array(9));
 * }
 * class BatchNorm2d {
 *   weight = new Parameter([1]);
 *   bias = new Parameter([0]);
 * }
 * const conv = new Conv2d();
 * const bn = new BatchNorm2d();
 * const source = [
 *   { name: "conv.weight", param: conv.weight, owner: conv },
 *   { name: "bn.weight", param: bn.weight, owner: bn },
 *   { name: "bn.bias", param: bn.bias, owner: bn },
 * ];
 *
 * const groups = getParamGroups(source, [[1e-5, "bias"], [0, NORM_TYPES], 1e-4]);
 * assert.deepEqual(groups.map((g) => [g.weightDecay, g.names]), [
 *   [1e-4, ["conv.weight"]],
 *   [0, ["bn.weight"]],
 *   [1e-5, ["bn.bias"]],
 * ]);
 * assert.ok(groups.every((g) => g.lrScale === 1));
 * ```
 */
export function getParamGroups<P>(
  source: ParamSource<P>,
  policy: AnyGroupPolicy,
  options: GetParamGroupsOptions = {},
): DecidedParamGroup<P>[] {
  _checkKeys(options, "getParamGroups() options", ["logger"], {
    log: "logger",
  });
  const logger = options.logger ?? getLogger(["weight-decay"]);
  const { entries, explanation } = _decideAll(source, policy);
  // Keyed by both values; String() tells finite numbers apart, and -0 is 0 by now.
  const groups = new Map<string, DecidedParamGroup<P>>();
  const aliases = new Map<DecidedParamGroup<P>, string[][]>();
  entries.forEach((entry, i) => {
    const { weightDecay, lrScale } = explanation.assignments[i]!;
    const key = `${weightDecay} ${lrScale}`;
    let group = groups.get(key);
    if (group === undefined) {
      group = { weightDecay, lrScale, params: [], names: [] };
      groups.set(key, group);
      aliases.set(group, []);
    }
    group.params.push(entry.param);
    group.names.push(entry.name);
    aliases.get(group)!.push(entry.aliases.map((a) => a.name));
  });
  const ordered = [...groups.values()];
  for (const group of ordered) {
    const names = aliases.get(group)!;
    if (names.some((list) => list.length > 0)) group.aliases = names;
  }
  _log(logger, ordered, explanation);
  return ordered;
}

/**
 * Shows, for every parameter, which rules decided it and the values it gets; which
 * rules decided nothing, and why; and which tied parameters' names the policy treats
 * differently.
 *
 * @typeParam P The parameter type.
 * @param source The named parameters: an iterable, or an object with `namedParameters()`.
 * @param policy As for {@linkcode getParamGroups}.
 * @returns The assignments in source order, the unused rules and the alias conflicts.
 * @throws {PolicyError} As {@linkcode getParamGroups} does.
 * @throws {TypeError} As {@linkcode getParamGroups} does.
 *
 * @example Finding a typo in a rule
 * ```ts
 * import { explain, Parameter } from "@decoupled/weight-decay";
 * import assert from "node:assert/strict";
 *
 * const source = [
 *   { name: "fc.weight", param: new Parameter([1]) },
 *   { name: "fc.bias", param: new Parameter([0]) },
 * ];
 * const { assignments, unusedRules } = explain(source, [[0, "bais"], 1e-4]);
 * assert.deepEqual(unusedRules, [
 *   { policy: "weightDecay", rule: 0, pattern: "bais", reason: "no match" },
 * ]);
 * assert.deepEqual(assignments[1], {
 *   name: "fc.bias",
 *   weightDecay: 1e-4,
 *   rule: -1,
 *   lrScale: 1,
 *   lrScaleRule: -1,
 *   aliases: [],
 * });
 * ```
 */
export function explain<P>(
  source: ParamSource<P>,
  policy: AnyGroupPolicy,
): Explanation {
  return _decideAll(source, policy).explanation;
}

interface _Entry<P> {
  name: string;
  param: P;
  owner?: object;
  aliases: { name: string; owner?: object }[];
}

/** The values one name gets from both policies, with the deciding rules. */
interface _Decided {
  weightDecay: number;
  rule: number;
  lrScale: number;
  lrScaleRule: number;
  layer?: number;
}

function _decideAll<P>(
  source: ParamSource<P>,
  policy: AnyGroupPolicy,
): {
  entries: _Entry<P>[];
  explanation: Explanation;
  parsed: ParsedGroupPolicy;
} {
  const parsed = parseGroupPolicy(policy);
  const entries = _collect(source);
  const scales = parsed.lrScale.decideAll(entries);
  const decide = (
    param: NamedParameter<unknown>,
    { rule: lrScaleRule, lrScale, layer }: ScaleDecision,
  ): _Decided => {
    const { rule, weightDecay } = parsed.weightDecay.decide(param);
    return {
      weightDecay,
      rule,
      lrScale,
      lrScaleRule,
      ...(layer === undefined ? {} : { layer }),
    };
  };
  const aliasConflicts: AliasConflict[] = [];
  const assignments = entries.map((entry, i): Assignment => {
    const scale = scales[i]!;
    const decided = decide(entry, scale);
    for (const alias of entry.aliases) {
      // Layer decay puts a parameter in one layer, by its first name, as timm does.
      const aliased = { ...alias, param: entry.param };
      const other = decide(
        aliased,
        parsed.lrScale.layerDecay ? scale : parsed.lrScale.decide(aliased),
      );
      if (
        other.weightDecay !== decided.weightDecay ||
        other.lrScale !== decided.lrScale
      ) {
        aliasConflicts.push({
          name: entry.name,
          alias: alias.name,
          weightDecay: decided.weightDecay,
          aliasWeightDecay: other.weightDecay,
          lrScale: decided.lrScale,
          aliasLrScale: other.lrScale,
        });
      }
    }
    return {
      name: entry.name,
      ...decided,
      aliases: entry.aliases.map((a) => a.name),
    };
  });
  const unusedRules = [
    ..._unusedRules(
      "weightDecay",
      parsed.weightDecay.rules,
      entries,
      assignments.map((a) => a.rule),
    ),
    ..._unusedRules(
      "lrScale",
      parsed.lrScale.rules,
      entries,
      assignments.map((a) => a.lrScaleRule),
    ),
  ];
  return {
    entries,
    explanation: { assignments, unusedRules, aliasConflicts },
    parsed,
  };
}

/**
 * The rules no parameter was decided by, each with the reason: tested again on every
 * parameter (only these rules, only here) to tell a rule that matches nothing from one
 * that earlier rules shadow.
 */
function _unusedRules<P>(
  policy: UnusedRule["policy"],
  rules: readonly ParsedRule[],
  entries: readonly _Entry<P>[],
  deciding: readonly number[],
): UnusedRule[] {
  const used = new Set(deciding);
  return rules.filter((rule) => !used.has(rule.index)).map((rule) => {
    const first = entries.findIndex((entry) => rule.matches(entry));
    const base = {
      policy,
      rule: rule.index,
      pattern: _asWritten(rule.pattern, rule),
    };
    return first === -1
      ? { ...base, reason: "no match" as const }
      : { ...base, reason: "shadowed" as const, shadowedBy: deciding[first]! };
  });
}

function _asWritten(pattern: Pattern, rule: ParsedRule): string {
  return typeof pattern === "string" ? pattern : rule.description;
}

/** Reads a source once: checks each entry, folds repeated parameters into aliases. */
function _collect<P>(source: ParamSource<P>): _Entry<P>[] {
  const byParam = new Map<P, _Entry<P>>();
  const byName = new Map<string, P>();
  const claim = (name: string, param: P): boolean => {
    const holder = byName.get(name);
    if (holder === undefined) {
      byName.set(name, param);
      return true;
    }
    if (holder !== param) {
      throw new PolicyError(
        `Expected each parameter name once but ${
          _describe(name)
        } names two different parameters`,
        { parameterName: name },
      );
    }
    return false;
  };
  let position = 0;
  for (const item of _iterate(source)) {
    const { name, param, owner, aliases } = _checkEntry<P>(item, position++);
    const known = byParam.get(param);
    const entry: _Entry<P> = known ??
      { name, param, aliases: [], ...(owner === undefined ? {} : { owner }) };
    if (known === undefined) {
      claim(name, param);
      byParam.set(param, entry);
    } else if (claim(name, param)) {
      entry.aliases.push(owner === undefined ? { name } : { name, owner });
    }
    for (const alias of aliases) {
      if (claim(alias.name, param)) entry.aliases.push(alias);
    }
  }
  if (byParam.size === 0) {
    throw new TypeError(
      "Expected source to yield at least one parameter but it yielded none: namedParameters(model) finds Parameter instances (pass isParameter for other tensor types), and a TensorFlow.js model needs tfjsNamedParameters(model)",
    );
  }
  return [...byParam.values()];
}

function _iterate<P>(source: ParamSource<P>): Iterable<unknown> {
  if (_isTfjsModel(source)) {
    throw new TypeError(
      'Expected source to be an iterable of { name, param } but found a TensorFlow.js model; pass tfjsNamedParameters(model), from "@decoupled/weight-decay/tfjs"',
    );
  }
  if (typeof source === "object" && source !== null) {
    if (Symbol.iterator in source) return source;
    if (
      typeof (source as { namedParameters?: unknown }).namedParameters ===
        "function"
    ) {
      const named = (source as { namedParameters(): unknown })
        .namedParameters();
      if (
        typeof named === "object" && named !== null && Symbol.iterator in named
      ) {
        return named as Iterable<unknown>;
      }
      throw new TypeError(
        `Expected namedParameters() to return an iterable but it returned ${
          _describe(named)
        }`,
      );
    }
  }
  throw new TypeError(
    `Expected source to be an iterable of { name, param } or an object with namedParameters() but found ${
      _describe(source)
    }; for a plain object tree, pass namedParameters(model)`,
  );
}

function _checkEntry<P>(item: unknown, position: number): NamedParameter<P> & {
  aliases: readonly { name: string; owner?: object }[];
} {
  const at = `source entry ${position}`;
  if (typeof item !== "object" || item === null) {
    throw new TypeError(
      `Expected ${at} to be { name, param } but found ${_describe(item)}`,
    );
  }
  const { name, param, owner, aliases = [] } = item as Partial<
    NamedParameter<P>
  >;
  if (typeof name !== "string") {
    throw new TypeError(
      `Expected ${at} to have a string name but found ${_describe(name)}`,
    );
  }
  if (param === undefined || param === null) {
    throw new TypeError(
      `Expected ${at} (${_describe(name)}) to have a param but found ${param}`,
    );
  }
  if (owner !== undefined && (typeof owner !== "object" || owner === null)) {
    throw new TypeError(
      `Expected ${at} (${_describe(name)}) owner to be an object but found ${
        _describe(owner)
      }`,
    );
  }
  if (
    !Array.isArray(aliases) ||
    !aliases.every((a) => typeof a?.name === "string")
  ) {
    throw new TypeError(
      `Expected ${at} (${
        _describe(name)
      }) aliases to be an array of { name } but found ${_describe(aliases)}`,
    );
  }
  return { name, param, aliases, ...(owner === undefined ? {} : { owner }) };
}

function _log<P>(
  logger: GroupLogger,
  groups: readonly DecidedParamGroup<P>[],
  { unusedRules, aliasConflicts }: Explanation,
): void {
  const log = _isLogTape(logger)
    ? (level: "info" | "warn", message: string, props: _Props) =>
      logger[level](message, props)
    : (level: "info" | "warn", message: string, props: _Props) =>
      logger[level](_render(message, props));
  if (groups.length > 1) {
    for (const { weightDecay, lrScale, names } of groups) {
      log(
        "info",
        "Parameters with weight decay {weightDecay} and lrScale {lrScale} ({count}): {names}",
        { weightDecay, lrScale, count: names.length, names },
      );
    }
  }
  for (const unused of unusedRules) {
    const rule = unused.policy === "lrScale" ? "lrScale rule" : "Rule";
    const props = { ...unused, ruleIndex: unused.rule };
    if (unused.reason === "no match") {
      log(
        "warn",
        `${rule} {ruleIndex} {pattern} matched no parameter: a typo?`,
        props,
      );
    } else {
      log(
        "warn",
        `${rule} {ruleIndex} {pattern} decided no parameter: rule {shadowedBy} decides every parameter it matches`,
        props,
      );
    }
  }
  for (const conflict of aliasConflicts) {
    log(
      "warn",
      "Tied parameter {name} gets weight decay {weightDecay} and lrScale {lrScale}, but its alias {alias} would get {aliasWeightDecay} and {aliasLrScale}",
      { ...conflict },
    );
  }
}

type _Props = Record<string, unknown>;

/** A LogTape logger renders templates itself; it has a category. */
function _isLogTape(logger: GroupLogger): boolean {
  const category = (logger as { category?: unknown }).category;
  return Array.isArray(category) &&
    typeof (logger as { getChild?: unknown }).getChild === "function";
}

/** A template with its placeholders filled in, for loggers that do not render them. */
function _render(template: string, props: _Props): string {
  return template.replaceAll(
    /\{(\w+)\}/g,
    (whole, key: string) => key in props ? _renderValue(props[key]) : whole,
  );
}

function _renderValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(_renderValue).join(", ")}]`;
  return String(value);
}
