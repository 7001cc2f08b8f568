// Copyright 2026 the weight-decay authors. MIT license.
/**
 * Group policies: a weight-decay policy and a learning-rate scale policy, decided
 * independently, so that groups carry both values as timm's and mmengine's do.
 *
 * @module
 */

import type { NamedParameter } from "./parameter.ts";
import {
  _firstMatch,
  _parseRuleList,
  type _PolicyLabels,
  type ParsedPolicy,
  type ParsedRule,
  parsePolicy,
  PolicyError,
  type Rule,
  type WeightDecayPolicy,
} from "./policy.ts";
import { _describe } from "./_describe.ts";
import { KEY_HINTS } from "./_check_keys.ts";
import {
  type _LayerTable,
  type _ParsedLayerDecay,
  _parseLayerDecay,
  type LayerDecay,
} from "./layer_decay.ts";

/**
 * A learning-rate scale policy: rules in the language of {@linkcode WeightDecayPolicy}
 * (first match wins, a negative value means "use the default", the default last and
 * >= 0), whose values multiply the learning rate of the parameters they decide; or a
 * {@linkcode LayerDecay}, timm's layer-wise lr decay.
 *
 * A group with scale `s` steps with `lr * s` wherever the learning rate appears (the
 * decay factor and the Adam update), as timm's scheduler sets
 * `param_group["lr"] = lr * param_group["lr_scale"]`; a scale of 0 freezes the group.
 */
export type ScalePolicy = number | readonly [...Rule[], number] | LayerDecay;

/**
 * A policy for both values a group carries: its weight decay, with basecls semantics,
 * and its learning-rate scale, decided independently of it (default: 1 for every
 * parameter). JSON configs take the same shape:
 * `{"weightDecay": [[0, "bias"], 0.05], "lrScale": [[0, "^backbone\\."], 1]}`.
 *
 * @example A frozen backbone and a head at ten times the learning rate
 * ```ts
 * import { getParamGroups, type GroupPolicy, Parameter } from "@decoupled/weight-decay";
 * import assert from "node:assert/strict";
 *
 * const policy: GroupPolicy = {
 *   weightDecay: [[0, "bias"], 0.05],
 *   lrScale: [[0, "^backbone\\."], [10, "^head\\."], 1],
 * };
 * const source = [
 *   { name: "backbone.conv.weight", param: new Parameter([1]) },
 *   { name: "backbone.conv.bias", param: new Parameter([0]) },
 *   { name: "head.fc.weight", param: new Parameter([1]) },
 * ];
 * const groups = getParamGroups(source, policy);
 * assert.deepEqual(groups.map((g) => [g.weightDecay, g.lrScale, g.names]), [
 *   [0.05, 0, ["backbone.conv.weight"]],
 *   [0, 0, ["backbone.conv.bias"]],
 *   [0.05, 10, ["head.fc.weight"]],
 * ]);
 * ```
 */
export interface GroupPolicy {
  /** The weight decay of each parameter. */
  weightDecay: WeightDecayPolicy | ParsedPolicy;
  /**
   * The learning-rate scale of each parameter.
   *
   * @default {1}
   */
  lrScale?: ScalePolicy | ParsedScalePolicy;
}

/** Which rule decided a parameter's learning-rate scale, and the scale it gets. */
export interface ScaleDecision {
  /**
   * The index of the rule that matched, or -1 when none did and the default applied
   * (always -1 under layer decay).
   */
  rule: number;
  /** The scale applied. */
  lrScale: number;
  /** Under layer decay, the parameter's layer: 0 nearest the input. */
  layer?: number;
}

const LR_SCALE: _PolicyLabels = {
  policy: "an lr-scale policy",
  value: "lrScale",
  example: "1",
  alternatives:
    "a number, rules followed by a default number, or { layerDecay, groupMatcher }",
};

/**
 * A validated learning-rate scale policy, of rules or of layer decay;
 * {@linkcode parseGroupPolicy} makes one.
 */
export class ParsedScalePolicy {
  /** The rules, first to last; none under layer decay. */
  readonly rules: readonly ParsedRule[];
  /** The scale of parameters no rule decides; finite and >= 0 (1 under layer decay). */
  readonly defaultValue: number;
  /** Whether the scales come from a {@linkcode LayerDecay}, which decides all names together. */
  readonly layerDecay: boolean;
  readonly #layers: _ParsedLayerDecay | undefined;

  /**
   * Holds already validated rules; use {@linkcode parseGroupPolicy} to make one.
   *
   * @param rules The rules, first to last.
   * @param defaultValue The default scale.
   * @param layers A parsed layer decay, instead of rules.
   */
  constructor(
    rules: readonly ParsedRule[],
    defaultValue: number,
    layers?: _ParsedLayerDecay,
  ) {
    this.rules = Object.freeze([...rules]);
    this.defaultValue = defaultValue;
    this.layerDecay = layers !== undefined;
    this.#layers = layers;
    Object.freeze(this);
  }

  /**
   * Decides one parameter's scale by the rules, as {@linkcode ParsedPolicy.decide} does
   * its weight decay.
   *
   * @param param The parameter, with its name and owner.
   * @returns The deciding rule's index (-1 for the default) and the scale applied.
   * @throws {PolicyError} If a `where()` predicate throws or returns a non-boolean.
   * @throws {TypeError} Under layer decay, where a layer depends on every name: use
   * {@linkcode ParsedScalePolicy.decideAll}.
   *
   * @example
   * ```ts
   * import { parseGroupPolicy } from "@decoupled/weight-decay";
   * import assert from "node:assert/strict";
   *
   * const { lrScale } = parseGroupPolicy({ weightDecay: 0, lrScale: [[0.1, "^backbone\\."], 1] });
   * assert.deepEqual(lrScale.decide({ name: "backbone.w", param: null }), { rule: 0, lrScale: 0.1 });
   * assert.deepEqual(lrScale.decide({ name: "head.w", param: null }), { rule: -1, lrScale: 1 });
   * ```
   */
  decide(param: NamedParameter<unknown>): ScaleDecision {
    if (this.#layers !== undefined) {
      throw new TypeError(
        "Expected a policy of rules to decide one parameter, but layer decay puts every name in a layer together: use decideAll(params), explain() or getParamGroups()",
      );
    }
    try {
      const { rule, value } = _firstMatch(
        this.rules,
        this.defaultValue,
        param,
      );
      return { rule, lrScale: value };
    } catch (error) {
      throw _inScalePolicy(error);
    }
  }

  /**
   * Decides every parameter's scale: by the rules, one by one, or by layer decay, all
   * names together (a layer's id depends on which keys the other names have, as timm's
   * `param_groups_layer_decay` computes them over `model.named_parameters()`).
   *
   * @param params Every parameter, in source order, each under its first name.
   * @returns One decision per parameter, in order.
   * @throws {PolicyError} If a `where()` predicate fails, or a layer-decay regex captures
   * a group that is not a number.
   *
   * @example Layer decay over a tiny ViT
   * ```ts
   * import { parseGroupPolicy } from "@decoupled/weight-decay";
   * import assert from "node:assert/strict";
   *
   * const { lrScale } = parseGroupPolicy({
   *   weightDecay: 0.05,
   *   lrScale: {
   *     layerDecay: 0.5,
   *     groupMatcher: { stem: "^patch_embed", blocks: [["^blocks\\.(\\d+)", null]] },
   *   },
   * });
   * const names = ["patch_embed.proj.weight", "blocks.0.fc.weight", "blocks.1.fc.weight", "head.weight"];
   * const decided = lrScale.decideAll(names.map((name) => ({ name, param: null })));
   * assert.deepEqual(decided.map((d) => d.lrScale), [0.125, 0.25, 0.5, 1]);
   * assert.deepEqual(decided.map((d) => d.layer), [0, 1, 2, 3]);
   * ```
   */
  decideAll(params: readonly NamedParameter<unknown>[]): ScaleDecision[] {
    if (this.#layers === undefined) return params.map((p) => this.decide(p));
    const table: _LayerTable = _inPolicy(
      "lrScale",
      () => this.#layers!.layers(params.map((p) => p.name)),
    );
    return table.assignments.map(({ layer, scale }) => ({
      rule: -1,
      lrScale: scale,
      layer,
    }));
  }
}

/** Both validated policies of a {@linkcode GroupPolicy}. */
export interface ParsedGroupPolicy {
  /** The weight-decay policy. */
  readonly weightDecay: ParsedPolicy;
  /** The learning-rate scale policy; a bare weight-decay policy gets scale 1 throughout. */
  readonly lrScale: ParsedScalePolicy;
}

/**
 * Validates a group policy: a bare weight-decay policy (every lrScale 1), or
 * `{ weightDecay, lrScale }`, as a JSON parser makes them.
 *
 * @param policy The policy.
 * @returns Both parsed policies; every function that takes a policy takes this too.
 * @throws {PolicyError} If either policy is malformed (the error's `policy` field says
 * which of a `{ weightDecay, lrScale }` pair), or the object lacks `weightDecay` or has
 * another key (the message names the key and the right one, e.g. `lr_scale` ->
 * `lrScale`).
 *
 * @example A config file with both policies
 * ```ts
 * import { parseGroupPolicy } from "@decoupled/weight-decay";
 * import assert from "node:assert/strict";
 *
 * const text = '{"weightDecay": [[0, "bias"], 0.05], "lrScale": [[0.1, "^backbone\\\\."], 1]}';
 * const policy = parseGroupPolicy(JSON.parse(text));
 * assert.equal(policy.weightDecay.defaultValue, 0.05);
 * assert.equal(policy.lrScale.rules[0]!.value, 0.1);
 * ```
 */
export function parseGroupPolicy(policy: unknown): ParsedGroupPolicy {
  if (_isParsedGroupPolicy(policy)) return policy;
  if (!_isPlainObject(policy)) {
    return _frozen({
      weightDecay: parsePolicy(policy),
      lrScale: new ParsedScalePolicy([], 1),
    });
  }
  for (const key of Object.keys(policy)) {
    if (key === "weightDecay" || key === "lrScale") continue;
    const hint = KEY_HINTS[key];
    throw new PolicyError(
      `Expected a group policy to have only the keys weightDecay and lrScale but found ${
        _describe(key)
      }${hint === undefined ? "" : `; ${hint}`}`,
      { received: key },
    );
  }
  if (!("weightDecay" in policy)) {
    throw new PolicyError(
      "Expected a group policy { weightDecay, lrScale? } to have weightDecay but found none",
      { received: policy },
    );
  }
  const { weightDecay, lrScale = 1 } = policy as GroupPolicy;
  return _frozen({
    weightDecay: _inPolicy("weightDecay", () => parsePolicy(weightDecay)),
    lrScale: lrScale instanceof ParsedScalePolicy ? lrScale : _inPolicy(
      "lrScale",
      () => {
        if (typeof lrScale === "object" && !Array.isArray(lrScale)) {
          return new ParsedScalePolicy([], 1, _parseLayerDecay(lrScale));
        }
        const { rules, defaultValue } = _parseRuleList(lrScale, LR_SCALE);
        return new ParsedScalePolicy(rules, defaultValue);
      },
    ),
  });
}

/** An object literal or JSON object: not an array, a ParsedPolicy or another class. */
function _isPlainObject(value: unknown): value is object {
  if (typeof value !== "object" || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

const _parsedGroupPolicies = new WeakSet<object>();

function _frozen(policy: ParsedGroupPolicy): ParsedGroupPolicy {
  const frozen = Object.freeze(policy);
  _parsedGroupPolicies.add(frozen);
  return frozen;
}

function _isParsedGroupPolicy(value: unknown): value is ParsedGroupPolicy {
  return typeof value === "object" && value !== null &&
    _parsedGroupPolicies.has(value);
}

/** Runs a parse, marking its PolicyError with the policy it is in. */
function _inPolicy<T>(policy: "weightDecay" | "lrScale", parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (policy === "lrScale") throw _inScalePolicy(error);
    if (error instanceof PolicyError) throw _withPolicy(error, error.message);
    throw error;
  }
}

/** An error of a rule of an lr-scale policy, worded as such: "lrScale rule 0 ...". */
function _inScalePolicy(error: unknown): unknown {
  if (!(error instanceof PolicyError) || error.policy !== undefined) {
    return error;
  }
  const message = error.message.startsWith("Rule ")
    ? `lrScale rule ${error.message.slice("Rule ".length)}`
    : error.message;
  return _withPolicy(error, message, "lrScale");
}

function _withPolicy(
  error: PolicyError,
  message: string,
  policy: "weightDecay" | "lrScale" = "weightDecay",
): PolicyError {
  return new PolicyError(message, {
    policy,
    ...(error.ruleIndex === undefined ? {} : { ruleIndex: error.ruleIndex }),
    ...(error.parameterName === undefined
      ? {}
      : { parameterName: error.parameterName }),
    ...("received" in error ? { received: error.received } : {}),
    ...(error.cause === undefined ? {} : { cause: error.cause }),
  });
}
