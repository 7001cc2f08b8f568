// Copyright 2026 the weight-decay authors. MIT license.
// Random models and random policies, grouped by getParamGroups() and by a small
// reference written here from basecls' get_param_groups, which must agree.
import assert from "node:assert/strict";
import {
  explain,
  getParamGroups,
  type GroupPolicy,
  namedParameters,
  NORM_TYPES,
  Parameter,
  type WeightDecayPolicy,
  where,
} from "../mod.ts";
import { random } from "./_models.ts";

class Module {}
class Linear extends Module {}
class Conv2d extends Module {}
class Embedding extends Module {}
class BatchNorm2d extends Module {}
class SyncBatchNorm extends BatchNorm2d {}
class LayerNorm extends Module {}
class RMSNorm extends LayerNorm {}
class Attention extends Module {}
const CLASSES = [
  Linear,
  Conv2d,
  Embedding,
  BatchNorm2d,
  SyncBatchNorm,
  LayerNorm,
  RMSNorm,
  Attention,
];
const KEYS = [
  "weight",
  "bias",
  "gamma",
  "beta",
  "scale",
  "kernel",
  "emb",
  "qkv",
  "proj",
  "norm",
];
const REGEXES = [
  "bias",
  "weight$",
  "^blocks\\.",
  "norm",
  "\\.0\\.",
  "emb",
  "gamma|beta",
  "^x",
  "qkv\\.",
  "(proj|kernel)",
];
const VALUES = [0, 1e-5, 1e-4, -1, 5e-2, 0.1, -0];
const SCALES = [0, 0.1, 0.65, 1, 10, -1, -0];

interface Expected {
  name: string;
  param: Parameter;
  owner: object;
  aliases: { name: string; owner: object }[];
}

/** A random model, and what a correct walker yields for it, written down while building it. */
function randomModel(
  next: () => number,
): { model: object; expected: Expected[] } {
  const pick = <T>(items: readonly T[]): T =>
    items[Math.floor(next() * items.length)]!;
  const expected: Expected[] = [];
  const byParam = new Map<Parameter, Expected>();
  const build = (
    path: string,
    depth: number,
    owner: object | undefined,
  ): object => {
    const kind = depth === 0
      ? "module"
      : pick(["module", "module", "array", "map"] as const);
    const container: object = kind === "array"
      ? []
      : kind === "map"
      ? new Map()
      : new (pick(CLASSES))();
    const holder = kind === "module" ? container : owner!;
    const count = 1 + Math.floor(next() * 4);
    const used = new Set<string>();
    for (let i = 0; i < count; i++) {
      const key = kind === "array"
        ? String(i)
        : pick(KEYS) + (next() < 0.3 ? "_x" : "");
      if (used.has(key)) continue;
      used.add(key);
      const name = path === "" ? key : `${path}.${key}`;
      let child: object;
      if (depth < 3 && next() < 0.4) {
        child = build(name, depth + 1, holder);
      } else {
        const reuse = byParam.size > 0 && next() < 0.15;
        const param = reuse
          ? pick([...byParam.keys()])
          : new Parameter(new Float32Array(1 + Math.floor(next() * 6)));
        const known = byParam.get(param);
        if (known === undefined) {
          const entry = { name, param, owner: holder, aliases: [] };
          byParam.set(param, entry);
          expected.push(entry);
        } else {
          known.aliases.push({ name, owner: holder });
        }
        child = param;
      }
      if (container instanceof Map) container.set(key, child);
      else (container as Record<string, object>)[key] = child;
    }
    return container;
  };
  return { model: build("", 0, undefined), expected };
}

type RandomPolicy = { policy: WeightDecayPolicy; json: boolean };

function randomRules(
  next: () => number,
  values: readonly number[],
  defaults: readonly number[],
): RandomPolicy {
  const pick = <T>(items: readonly T[]): T =>
    items[Math.floor(next() * items.length)]!;
  const rules: [number, unknown][] = [];
  let json = true;
  const count = Math.floor(next() * 5);
  for (let i = 0; i < count; i++) {
    const kind = pick([
      "regex",
      "regex",
      "RegExp",
      "class",
      "names",
      "mixed",
      "norms",
      "where",
    ]);
    const value = pick(values);
    if (kind === "regex") rules.push([value, pick(REGEXES)]);
    else if (kind === "names") {
      rules.push([value, [pick(CLASSES).name, pick(CLASSES).name]]);
    } else if (kind === "norms") rules.push([value, NORM_TYPES]);
    else {
      json = false;
      if (kind === "RegExp") {
        rules.push([value, new RegExp(pick(REGEXES), "g")]);
      } else if (kind === "class") rules.push([value, pick(CLASSES)]);
      else if (kind === "mixed") {
        rules.push([value, [pick(CLASSES), pick(CLASSES).name]]);
      } else {rules.push([
          value,
          where(({ param }) => param.size <= 2),
        ]);}
    }
  }
  const fallback = pick(defaults);
  const policy = count === 0 && next() < 0.5 ? fallback : [...rules, fallback];
  return { policy: policy as WeightDecayPolicy, json };
}

/** A bare weight-decay policy, or a group policy with or without an lrScale policy. */
function randomPolicy(
  next: () => number,
): { policy: WeightDecayPolicy | GroupPolicy; json: boolean } {
  const weightDecay = randomRules(next, VALUES, [0, 1e-4, 5e-2]);
  const form = Math.floor(next() * 3);
  if (form === 0) return weightDecay;
  if (form === 1) {
    return {
      policy: { weightDecay: weightDecay.policy },
      json: weightDecay.json,
    };
  }
  const lrScale = randomRules(next, SCALES, [1, 0, 0.5, 2]);
  return {
    policy: { weightDecay: weightDecay.policy, lrScale: lrScale.policy },
    json: weightDecay.json && lrScale.json,
  };
}

/** Whether a basecls pattern matches, with Python's isinstance and re.findall written out. */
function referenceHit(
  name: string,
  owner: object,
  param: Parameter,
  pattern: unknown,
): boolean {
  if (typeof pattern === "string" || pattern instanceof RegExp) {
    const source = typeof pattern === "string" ? pattern : pattern.source;
    return [...name.matchAll(new RegExp(source, "g"))].length > 0;
  }
  if (typeof pattern === "function") return owner instanceof pattern;
  if (Array.isArray(pattern)) {
    return pattern.some((t) =>
      typeof t === "function" ? owner instanceof t : isNamed(owner, t)
    );
  }
  return (pattern as { where: (p: unknown) => boolean }).where({
    name,
    param,
    owner,
  });
}

/** basecls' `_get_weight_decay`: the value (the default for a negative one) and the rule. */
function referenceDecision(
  name: string,
  owner: object,
  param: Parameter,
  policy: readonly unknown[],
): [number, number] {
  const fallback = policy[policy.length - 1] as number;
  for (let i = 0; i < policy.length; i++) {
    const entry = policy[i];
    if (typeof entry === "number") return [entry, -1];
    const [value, pattern] = entry as [number, unknown];
    if (referenceHit(name, owner, param, pattern)) {
      return [value < 0 ? fallback : value, i];
    }
  }
  throw new Error("unreachable: the policy ends with a number");
}

function isNamed(owner: object, name: string): boolean {
  for (
    let o = Object.getPrototypeOf(owner);
    o !== null;
    o = Object.getPrototypeOf(o)
  ) {
    if (o.constructor.name === name) return true;
  }
  return false;
}

const asList = (policy: WeightDecayPolicy): readonly unknown[] =>
  typeof policy === "number" ? [policy] : policy as readonly unknown[];

/**
 * basecls' `get_param_groups`, keyed by the pair (weight decay, lrScale) with each
 * decided as basecls decides the weight decay; unused rules with their reasons.
 */
function referenceGroups(
  expected: Expected[],
  policy: WeightDecayPolicy | GroupPolicy,
) {
  const both = typeof policy === "object" && !Array.isArray(policy)
    ? policy as GroupPolicy
    : { weightDecay: policy as WeightDecayPolicy };
  const wdList = asList(both.weightDecay as WeightDecayPolicy);
  const scaleList = asList((both.lrScale ?? 1) as WeightDecayPolicy);
  const groups: {
    weightDecay: number;
    lrScale: number;
    params: Parameter[];
    names: string[];
    aliases: string[][];
  }[] = [];
  const conflicts: unknown[] = [];
  const decided: [number, number][] = [];
  for (const { name, param, owner, aliases } of expected) {
    const [wd, rule] = referenceDecision(name, owner, param, wdList);
    const [scale, scaleRule] = referenceDecision(
      name,
      owner,
      param,
      scaleList,
    );
    decided.push([rule, scaleRule]);
    let group = groups.find((g) => g.weightDecay === wd && g.lrScale === scale);
    if (group === undefined) {
      group = {
        weightDecay: wd,
        lrScale: scale,
        params: [],
        names: [],
        aliases: [],
      };
      groups.push(group);
    }
    group.params.push(param);
    group.names.push(name);
    group.aliases.push(aliases.map((a) => a.name));
    for (const alias of aliases) {
      const [aliasWd] = referenceDecision(
        alias.name,
        alias.owner,
        param,
        wdList,
      );
      const [aliasScale] = referenceDecision(
        alias.name,
        alias.owner,
        param,
        scaleList,
      );
      if (aliasWd !== wd || aliasScale !== scale) {
        conflicts.push({
          name,
          alias: alias.name,
          weightDecay: wd + 0,
          aliasWeightDecay: aliasWd + 0,
          lrScale: scale + 0,
          aliasLrScale: aliasScale + 0,
        });
      }
    }
  }
  const unused = (which: "weightDecay" | "lrScale", list: readonly unknown[]) =>
    list.slice(0, -1).flatMap((entry, i) => {
      const column = which === "weightDecay" ? 0 : 1;
      if (decided.some((d) => d[column] === i)) return [];
      const pattern = (entry as [number, unknown])[1];
      const first = expected.findIndex((e) =>
        referenceHit(e.name, e.owner, e.param, pattern)
      );
      return [{
        policy: which,
        rule: i,
        reason: first === -1 ? "no match" : "shadowed",
        ...(first === -1 ? {} : { shadowedBy: decided[first]![column] }),
      }];
    });
  return {
    // Groups list their tied parameters' other names only when they hold one.
    groups: groups.map(({ aliases, ...g }) => ({
      ...g,
      weightDecay: g.weightDecay + 0,
      lrScale: g.lrScale + 0,
      ...(aliases.some((list) => list.length > 0) ? { aliases } : {}),
    })),
    unused: [...unused("weightDecay", wdList), ...unused("lrScale", scaleList)],
    conflicts,
  };
}

Deno.test("getParamGroups() agrees with a basecls reference on random models and weight-decay and lrScale policies", () => {
  const cases = 400;
  let tied = 0, negative = 0, scaled = 0;
  for (let seed = 1; seed <= cases; seed++) {
    const next = random(seed);
    const { model, expected } = randomModel(next);
    const { policy, json } = randomPolicy(next);
    const why = `seed ${seed}`;
    const walked = namedParameters(model);
    assert.deepEqual(
      walked.map((p) => [p.name, p.param, p.owner, p.aliases ?? []]),
      expected.map((p) => [p.name, p.param, p.owner, p.aliases]),
      why,
    );
    const reference = referenceGroups(expected, policy);
    const groups = getParamGroups(walked, policy);
    assert.deepEqual(groups, reference.groups, why);
    const explained = explain(walked, policy);
    assert.deepEqual(
      explained.unusedRules.map(({ pattern: _, ...rest }) => rest),
      reference.unused,
      why,
    );
    assert.deepEqual(explained.aliasConflicts, reference.conflicts, why);

    const grouped = groups.flatMap((g) => g.params);
    assert.equal(
      grouped.length,
      new Set(grouped).size,
      `${why}: a parameter is in two groups`,
    );
    assert.equal(
      grouped.length,
      expected.length,
      `${why}: a parameter was lost`,
    );
    if (json) {
      const parsed = JSON.parse(JSON.stringify(policy));
      assert.deepEqual(
        getParamGroups(walked, parsed),
        groups,
        `${why}: JSON round trip`,
      );
    }
    tied += expected.some((e) => e.aliases.length > 0) ? 1 : 0;
    const lists = Array.isArray(policy)
      ? [policy]
      : typeof policy === "object"
      ? [
        (policy as GroupPolicy).weightDecay,
        (policy as GroupPolicy).lrScale ?? 1,
      ]
      : [];
    negative += lists.some((list) =>
        Array.isArray(list) &&
        (list as unknown[]).some((r) =>
          Array.isArray(r) && (r[0] as number) < 0
        )
      )
      ? 1
      : 0;
    scaled += typeof policy === "object" && !Array.isArray(policy) &&
        groups.some((g) => g.lrScale !== 1)
      ? 1
      : 0;
  }
  assert.ok(tied > cases / 10, `only ${tied} models had tied parameters`);
  assert.ok(
    negative > cases / 10,
    `only ${negative} policies had negative rules`,
  );
  assert.ok(scaled > cases / 10, `only ${scaled} cases had lrScales`);
});
