// Copyright 2026 the weight-decay authors. MIT license.
/**
 * Grouping: every parameter of a source assigned to one weight-decay group by a policy.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { NamedParameter, Parameter, ParamSource } from "./parameter.ts";
import {
  type ParsedPolicy,
  parsePolicy,
  PolicyError,
  type WeightDecayPolicy,
} from "./policy.ts";
import { _describe } from "./_describe.ts";

/**
 * Parameters that share one weight decay, as an optimizer's parameter group.
 *
 * @typeParam P The parameter type.
 */
export interface ParamGroup<P = Parameter> {
  /** The group's weight decay, finite and >= 0. */
  weightDecay: number;
  /** The parameters, in source order. */
  params: P[];
  /** Their names, parallel to `params`. */
  names: string[];
}

/**
 * The two log methods grouping uses; a LogTape `Logger` has them, and so can any other
 * logger with a small adapter.
 */
export interface GroupLogger {
  /** Logs a message template with its properties at info level. */
  info(message: string, properties: Record<string, unknown>): void;
  /** Logs a message template with its properties at warning level. */
  warn(message: string, properties: Record<string, unknown>): void;
}

/** Options for {@linkcode getParamGroups}. */
export interface GetParamGroupsOptions {
  /**
   * Where groups, unused rules and alias conflicts are logged.
   *
   * @default {getLogger(["weight-decay"])}
   */
  logger?: GroupLogger;
}

/** How one parameter was decided, as {@linkcode explain} reports it. */
export interface Assignment {
  /** The name the parameter was decided under (the first the source gave). */
  name: string;
  /** The value applied. */
  weightDecay: number;
  /**
   * The index of the rule that matched, or -1 when none did and the default applied.
   * A matching rule with a negative value shows its index with the default's value.
   */
  rule: number;
  /** The parameter's other names, when it is tied; empty otherwise. */
  aliases: string[];
}

/** A tied parameter whose other name would have been given another value. */
export interface AliasConflict {
  /** The name that decided the parameter. */
  name: string;
  /** The other name. */
  alias: string;
  /** The value applied, decided under `name`. */
  weightDecay: number;
  /** The value the policy gives `alias`. */
  aliasWeightDecay: number;
}

/** What {@linkcode explain} finds. */
export interface Explanation {
  /** One entry per distinct parameter, in source order. */
  assignments: Assignment[];
  /**
   * Indexes of rules that decided no parameter: they matched nothing (often a typo such
   * as `"bais"`), or only parameters an earlier rule had taken.
   */
  unusedRules: number[];
  /** Tied parameters whose aliases the policy would have given another value. */
  aliasConflicts: AliasConflict[];
}

/**
 * Assigns every parameter to a weight-decay group, with the semantics of MegEngine
 * basecls `get_param_groups`.
 *
 * For each parameter, in source order, the rules are tried first to last; the first
 * that matches gives the value (a negative value: the default), and when none matches
 * the default applies. Parameters with equal values share a group; groups come in the
 * order their first parameter appears. A tied parameter (one object under several
 * names) is grouped once, under its first name.
 *
 * With more than one group, each group's names are logged once at info level under the
 * category `["weight-decay"]`; rules that decided nothing and tied parameters whose
 * names disagree are logged as warnings. Nothing is printed unless the application
 * configures LogTape.
 *
 * @typeParam P The parameter type.
 * @param source The named parameters: an iterable, or an object with `namedParameters()`.
 * @param policy The weight-decay policy, or a policy from {@linkcode parsePolicy}.
 * @param options Where to log.
 * @returns The groups, each with its weight decay, parameters and names.
 * @throws {PolicyError} If the policy is malformed, the source names two different
 * parameters alike, or a {@linkcode where} predicate fails.
 * @throws {TypeError} If the source is not iterable or yields something other than
 * `{ name, param }` entries.
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
 * ```
 */
export function getParamGroups<P>(
  source: ParamSource<P>,
  policy: WeightDecayPolicy | ParsedPolicy,
  options: GetParamGroupsOptions = {},
): ParamGroup<P>[] {
  const logger = options.logger ?? getLogger(["weight-decay"]);
  const { entries, explanation, parsed } = _decideAll(source, policy);
  const groups = new Map<number, ParamGroup<P>>();
  entries.forEach((entry, i) => {
    const { weightDecay } = explanation.assignments[i]!;
    let group = groups.get(weightDecay);
    if (group === undefined) {
      group = { weightDecay, params: [], names: [] };
      groups.set(weightDecay, group);
    }
    group.params.push(entry.param);
    group.names.push(entry.name);
  });
  _log(logger, [...groups.values()], explanation, parsed);
  return [...groups.values()];
}

/**
 * Shows, for every parameter, which rule decided it and the value it gets; which rules
 * decided nothing; and which tied parameters' names the policy treats differently.
 *
 * @typeParam P The parameter type.
 * @param source The named parameters: an iterable, or an object with `namedParameters()`.
 * @param policy The weight-decay policy, or a policy from {@linkcode parsePolicy}.
 * @returns The assignments in source order, the unused rule indexes and the alias conflicts.
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
 * assert.deepEqual(unusedRules, [0]);
 * assert.deepEqual(assignments[1], {
 *   name: "fc.bias",
 *   weightDecay: 1e-4,
 *   rule: -1,
 *   aliases: [],
 * });
 * ```
 */
export function explain<P>(
  source: ParamSource<P>,
  policy: WeightDecayPolicy | ParsedPolicy,
): Explanation {
  return _decideAll(source, policy).explanation;
}

interface _Entry<P> {
  name: string;
  param: P;
  owner?: object;
  aliases: { name: string; owner?: object }[];
}

function _decideAll<P>(
  source: ParamSource<P>,
  policy: WeightDecayPolicy | ParsedPolicy,
): {
  entries: _Entry<P>[];
  explanation: Explanation;
  parsed: ParsedPolicy;
} {
  const parsed = parsePolicy(policy);
  const entries = _collect(source);
  const used = new Set<number>();
  const aliasConflicts: AliasConflict[] = [];
  const assignments = entries.map((entry): Assignment => {
    const { rule, weightDecay } = parsed.decide(entry);
    used.add(rule);
    for (const alias of entry.aliases) {
      const aliasWeightDecay =
        parsed.decide({ ...alias, param: entry.param }).weightDecay;
      if (aliasWeightDecay !== weightDecay) {
        aliasConflicts.push({
          name: entry.name,
          alias: alias.name,
          weightDecay,
          aliasWeightDecay,
        });
      }
    }
    return {
      name: entry.name,
      weightDecay,
      rule,
      aliases: entry.aliases.map((a) => a.name),
    };
  });
  const unusedRules = parsed.rules.map((r) => r.index).filter((index) =>
    !used.has(index)
  );
  return {
    entries,
    explanation: { assignments, unusedRules, aliasConflicts },
    parsed,
  };
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
  return [...byParam.values()];
}

function _iterate<P>(source: ParamSource<P>): Iterable<unknown> {
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
  groups: ParamGroup<P>[],
  { unusedRules, aliasConflicts }: Explanation,
  policy: ParsedPolicy,
): void {
  if (groups.length > 1) {
    for (const { weightDecay, names } of groups) {
      logger.info(
        "Parameters with weight decay {weightDecay} ({count}): {names}",
        {
          weightDecay,
          count: names.length,
          names,
        },
      );
    }
  }
  for (const ruleIndex of unusedRules) {
    const rule = policy.rules[ruleIndex]!;
    logger.warn(
      "Rule {ruleIndex} {pattern} decided no parameter: a typo, or an earlier rule takes all it matches",
      { ruleIndex, pattern: rule.description },
    );
  }
  for (const conflict of aliasConflicts) {
    logger.warn(
      "Tied parameter {name} gets weight decay {weightDecay}, but its alias {alias} would get {aliasWeightDecay}",
      { ...conflict },
    );
  }
}
