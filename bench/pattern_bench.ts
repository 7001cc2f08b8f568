// Copyright 2026 the weight-decay authors. MIT license.
/**
 * What linear-time string patterns cost: grouping a BERT-like model of 100,009
 * parameters (`encoder.layers.6249.attention.self.query.weight`, ...) with string
 * patterns, which run on RE2, against the same patterns as `RegExp` objects, which run
 * on JavaScript's backtracking engine (what string patterns used before):
 *
 *   deno bench bench/pattern_bench.ts
 *
 * The model and the policies are those of the Patterns section of `deno task bench`
 * (`bench/regex_bench.ts`).
 *
 * @module
 */

import { getParamGroups, namedParameters, parsePolicy } from "../mod.ts";
import { BASECLS, bertLike, MANY, RULES } from "./regex_bench.ts";

const source = namedParameters(bertLike());

for (
  const [group, strings, regexps] of [
    ["basecls policy, 100,009 parameters", BASECLS("bias"), BASECLS(/bias/)],
    ["7 regex rules, 100,009 parameters", MANY(false), MANY(true)],
  ] as const
) {
  Deno.bench({
    name: "RegExp objects (JavaScript engine)",
    group,
    baseline: true,
    fn: () => void getParamGroups(source, regexps),
  });
  Deno.bench({
    name: "strings (RE2)",
    group,
    fn: () => void getParamGroups(source, strings),
  });
}

// A fresh source each time, or the engines' caches would hide the compile.
let salt = 0;
const fresh = () => RULES.map((rule) => `${rule}|never${salt++}`);
const first = { name: source[5]!.name, param: null };
Deno.bench({
  name: "RegExp objects (JavaScript engine)",
  group: "parse 7 rules and decide one name",
  baseline: true,
  fn: () =>
    void parsePolicy([...fresh().map((r) => [0, new RegExp(r)] as const), 1])
      .decide(first),
});
Deno.bench({
  name: "strings (RE2)",
  group: "parse 7 rules and decide one name",
  fn: () =>
    void parsePolicy([...fresh().map((r) => [0, r] as const), 1]).decide(
      first,
    ),
});

const LONG = "encoder.layers.0.attention.self.query.weight";
Deno.bench({
  name: '"^(\\\\w+\\\\.?)+\\\\.bias$" (hangs a backtracking engine)',
  group: "catastrophic patterns, as strings",
  fn: () =>
    void parsePolicy([[0, "^(\\w+\\.?)+\\.bias$"], 1]).decide(
      { name: LONG, param: null },
    ),
});
Deno.bench({
  name: '"(a+)+$" on 30 characters',
  group: "catastrophic patterns, as strings",
  fn: () =>
    void parsePolicy([[0, "(a+)+$"], 1]).decide(
      { name: `${"a".repeat(29)}!`, param: null },
    ),
});
