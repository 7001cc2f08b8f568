// Copyright 2026 the weight-decay authors. MIT license.
import assert from "node:assert/strict";
import { _compileStringPattern } from "../src/_regex.ts";
import { PolicyError } from "../mod.ts";

const NAMES = [
  "layers.0.bias",
  "head.bias",
  "fc.BIAS",
  "bias",
  "blocks.0.norm1.weight",
  "layers.1.attn.qkv.weight",
  "a\nb",
  "ln.LayerNorm.weight",
  "",
];

/**
 * Pattern, the names Python 3.11's `re.search` finds it in, and those `re.match`
 * matches, computed once with Python at development time.
 */
const PYTHON: readonly [string, string[], string[]][] = [
  ["bias", ["layers.0.bias", "head.bias", "bias"], ["bias"]],
  ["^head\\.", ["head.bias"], ["head.bias"]],
  ["(?i)BIAS", ["layers.0.bias", "head.bias", "fc.BIAS", "bias"], ["bias"]],
  ["(?P<n>bias)$", ["layers.0.bias", "head.bias", "bias"], ["bias"]],
  ["\\Abias", ["bias"], ["bias"]],
  ["norm\\d\\.weight$", ["blocks.0.norm1.weight"], []],
  ["(?s)a.b", ["a\nb"], ["a\nb"]],
  ["a.b", [], []],
  ["layers\\.(?:0|1)\\.", ["layers.0.bias", "layers.1.attn.qkv.weight"], [
    "layers.0.bias",
    "layers.1.attn.qkv.weight",
  ]],
  ["\\bqkv\\b", ["layers.1.attn.qkv.weight"], []],
  ["(?i:layernorm)\\.weight", ["ln.LayerNorm.weight"], []],
  ["weight$", [
    "blocks.0.norm1.weight",
    "layers.1.attn.qkv.weight",
    "ln.LayerNorm.weight",
  ], []],
  ["^$", [""], [""]],
  ["(?m)^b", ["bias", "blocks.0.norm1.weight", "a\nb"], [
    "bias",
    "blocks.0.norm1.weight",
  ]],
  ["[.]bias", ["layers.0.bias", "head.bias"], []],
  ["\\.\\d+\\.", [
    "layers.0.bias",
    "blocks.0.norm1.weight",
    "layers.1.attn.qkv.weight",
  ], []],
  ["embed|bias", ["layers.0.bias", "head.bias", "bias"], ["bias"]],
];

Deno.test("_compileStringPattern() searches and matches at the start like Python's re.search and re.match", () => {
  for (const [source, searched, matched] of PYTHON) {
    const pattern = _compileStringPattern(source, 0);
    assert.deepEqual(NAMES.filter(pattern.search), searched, source);
    assert.deepEqual(
      NAMES.filter((name) => pattern.matchAtStart(name) !== null),
      matched,
      source,
    );
  }
});

Deno.test("_compileStringPattern() answers catastrophic patterns in linear time", () => {
  // Pattern, name, re.search found it, re.match matched it.
  const cases: [string, string, boolean, boolean][] = [
    [
      "^(\\w+\\.?)+\\.bias$",
      "encoder.layers.0.attention.self.query.weight",
      false,
      false,
    ],
    [
      "^(\\w+\\.?)+\\.bias$",
      "encoder.layers.0.attention.self.query.bias",
      true,
      true,
    ],
    ["(a+)+$", `${"a".repeat(29)}!`, false, false],
    ["(a|a)*$", `${"a".repeat(29)}!`, true, false],
    ["(a|a)*b", "a".repeat(10_000), false, false],
    ["\\w*\\w*\\w*\\w*x", "a".repeat(10_000), false, false],
  ];
  for (const [source, name, searched, matched] of cases) {
    const start = performance.now();
    const pattern = _compileStringPattern(source, 0);
    assert.equal(pattern.search(name), searched, source);
    assert.equal(pattern.matchAtStart(name) !== null, matched, source);
    const elapsed = performance.now() - start;
    assert.ok(elapsed < 1000, `${source} took ${elapsed} ms`);
  }
});

Deno.test("_compileStringPattern() names the rule in its PolicyError", () => {
  assert.throws(() => _compileStringPattern("bias\\Z", 3), (error) => {
    assert.ok(error instanceof PolicyError);
    assert.equal(
      error.message,
      'Rule 3 pattern "bias\\\\Z" uses Python\'s "\\Z" anchor, which RE2 lacks; write "bias\\\\z"',
    );
    assert.equal(error.ruleIndex, 3);
    assert.equal(error.received, "bias\\Z");
    return true;
  });
});
