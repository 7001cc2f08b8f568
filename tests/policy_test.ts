// Copyright 2026 the weight-decay authors. MIT license.
import assert from "node:assert/strict";
import {
  NORM_TYPES,
  ParsedPolicy,
  parsePolicy,
  PolicyError,
  where,
} from "../mod.ts";

/** Asserts that `fn` throws a PolicyError with this message and rule index. */
function assertPolicyError(
  fn: () => unknown,
  message: string | RegExp,
  ruleIndex?: number,
) {
  assert.throws(fn, (error) => {
    assert.ok(
      error instanceof PolicyError,
      `expected a PolicyError, got ${error}`,
    );
    assert.equal(error.name, "PolicyError");
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    assert.equal(error.ruleIndex, ruleIndex);
    return true;
  });
}

const at = (name: string, owner?: object) => ({
  name,
  param: null,
  ...(owner ? { owner } : {}),
});

Deno.test("parsePolicy() takes a bare number as the default for everything", () => {
  const policy = parsePolicy(1e-5);
  assert.equal(policy.defaultValue, 1e-5);
  assert.deepEqual(policy.rules, []);
  assert.deepEqual(policy.decide(at("anything")), {
    rule: -1,
    weightDecay: 1e-5,
  });
  assert.deepEqual(parsePolicy([1e-5]).decide(at("x")), {
    rule: -1,
    weightDecay: 1e-5,
  });
});

Deno.test("parsePolicy() searches string patterns anywhere in the name, like re.findall", () => {
  const policy = parsePolicy([
    [1, "bias"],
    [2, "^head\\."],
    [3, "norm\\d$"],
    0,
  ]);
  assert.equal(policy.decide(at("layers.0.bias")).weightDecay, 1);
  assert.equal(policy.decide(at("biasing.weight")).weightDecay, 1);
  assert.equal(policy.decide(at("head.weight")).weightDecay, 2);
  assert.equal(policy.decide(at("x.head.weight")).weightDecay, 0);
  assert.equal(policy.decide(at("block.norm2")).weightDecay, 3);
  assert.equal(policy.decide(at("block.norm2.weight")).weightDecay, 0);
});

Deno.test("parsePolicy() gives RegExp patterns no state between calls", () => {
  const global = /bias/g;
  const sticky = /layers/y;
  const policy = parsePolicy([[1, global], [2, sticky], 0]);
  for (let i = 0; i < 3; i++) {
    assert.equal(policy.decide(at("a.bias")).weightDecay, 1);
    assert.equal(policy.decide(at("layers.0.weight")).weightDecay, 2);
    assert.equal(
      policy.decide(at("x.layers.0.weight")).weightDecay,
      0,
      "y anchors at the start",
    );
  }
  assert.equal(global.lastIndex, 0, "the caller's RegExp is never used");
  assert.equal(
    parsePolicy([[1, /BIAS/i], 0]).decide(at("fc.bias")).weightDecay,
    1,
  );
});

Deno.test("parsePolicy() matches classes by instanceof, so subclasses match", () => {
  class Norm {}
  class LayerNorm extends Norm {}
  class Linear {}
  const policy = parsePolicy([[0, Norm], 1]);
  assert.equal(policy.decide(at("ln.weight", new LayerNorm())).weightDecay, 0);
  assert.equal(policy.decide(at("fc.weight", new Linear())).weightDecay, 1);
  assert.equal(
    policy.decide(at("loose.weight")).weightDecay,
    1,
    "no owner matches no class",
  );
});

Deno.test("parsePolicy() matches class names along the prototype chain", () => {
  class BatchNorm2d {}
  class FrozenBatchNorm2d extends BatchNorm2d {}
  class Dense {
    static className = "Dense";
  }
  class MyDense extends Dense {}
  const policy = parsePolicy([[0, NORM_TYPES], [5, ["Dense"]], 1]);
  assert.equal(
    policy.decide(at("bn.weight", new FrozenBatchNorm2d())).weightDecay,
    0,
  );
  assert.equal(policy.decide(at("fc.kernel", new MyDense())).weightDecay, 5);
  assert.equal(policy.decide(at("plain", {})).weightDecay, 1);
  const minified = new (class _a {
    static className = "LayerNormalization";
  })();
  assert.equal(
    policy.decide(at("ln.gamma", minified)).weightDecay,
    0,
    "TensorFlow.js className",
  );
});

Deno.test("parsePolicy() mixes classes and class names in one array; an empty array matches nothing", () => {
  class GroupNorm {}
  class Custom {}
  const policy = parsePolicy([[0, [Custom, "GroupNorm"]], [7, []], 1]);
  assert.equal(policy.decide(at("a", new Custom())).weightDecay, 0);
  assert.equal(policy.decide(at("b", new GroupNorm())).weightDecay, 0);
  assert.equal(policy.decide(at("c", {})).weightDecay, 1);
  assert.equal(policy.rules[1]!.description, "[]");
});

Deno.test("parsePolicy() stops at a negative rule and applies the default", () => {
  const policy = parsePolicy([[-1, "^head"], [0, "bias"], 3e-4]);
  assert.deepEqual(policy.decide(at("head.bias")), {
    rule: 0,
    weightDecay: 3e-4,
  });
  assert.deepEqual(policy.decide(at("body.bias")), { rule: 1, weightDecay: 0 });
});

Deno.test("parsePolicy() runs where() predicates with name, param and owner", () => {
  const owner = {};
  const seen: unknown[] = [];
  const policy = parsePolicy([[
    0,
    where((p) => {
      seen.push(p);
      return p.name.endsWith("scale");
    }),
  ], 1]);
  assert.equal(
    policy.decide({ name: "ln.scale", param: 42, owner }).weightDecay,
    0,
  );
  assert.deepEqual(seen, [{ name: "ln.scale", param: 42, owner }]);
  assert.equal(policy.rules[0]!.kind, "where");
});

Deno.test("parsePolicy() turns a failing where() predicate into a PolicyError naming the parameter", () => {
  const throwing = parsePolicy([[0, "x"], [
    0,
    where(() => {
      throw new Error("boom");
    }),
  ], 1]);
  assert.throws(() => throwing.decide(at("fc.weight")), (error) => {
    assert.ok(error instanceof PolicyError);
    assert.equal(
      error.message,
      'Rule 1 where() predicate threw on parameter "fc.weight": boom',
    );
    assert.equal(error.ruleIndex, 1);
    assert.equal(error.parameterName, "fc.weight");
    assert.equal((error.cause as Error).message, "boom");
    return true;
  });
  const promising = parsePolicy([[
    0,
    where((() => Promise.resolve(true)) as never),
  ], 1]);
  assertPolicyError(
    () => promising.decide(at("w")),
    'Rule 0 where() predicate must return a boolean but returned a Promise for parameter "w"',
    0,
  );
  assert.throws(() => where("bias" as never), {
    name: "TypeError",
    message: 'Expected where() to get a function but found "bias"',
  });
});

Deno.test("parsePolicy() takes JSON policies unchanged", () => {
  const text =
    '[[1e-5, "bias"], [0, ["BatchNorm2d", "LayerNorm"]], [-1, "^fc\\\\."], 1e-4]';
  const policy = parsePolicy(JSON.parse(text));
  class LayerNorm {}
  assert.equal(policy.decide(at("fc.bias")).weightDecay, 1e-5);
  assert.equal(policy.decide(at("ln.weight", new LayerNorm())).weightDecay, 0);
  assert.deepEqual(policy.decide(at("fc.weight")), {
    rule: 2,
    weightDecay: 1e-4,
  });
});

Deno.test("parsePolicy() returns a frozen ParsedPolicy that it takes back as is", () => {
  const policy = parsePolicy([[0, "bias"], 1]);
  assert.ok(policy instanceof ParsedPolicy);
  assert.equal(parsePolicy(policy), policy);
  assert.ok(Object.isFrozen(policy) && Object.isFrozen(policy.rules));
  assert.ok(Object.is(parsePolicy([[-0, "x"], -0]).defaultValue, 0), "-0 is 0");
});

Deno.test("parsePolicy() rejects policies that are not a number or a list", () => {
  assertPolicyError(
    () => parsePolicy("1e-4"),
    'Expected a weight-decay policy (a number, or rules followed by a default number) but found "1e-4"',
  );
  assertPolicyError(
    () => parsePolicy([]),
    "Expected a weight-decay policy to end with a default number but found an empty list",
  );
  assertPolicyError(() => parsePolicy(null), /but found null$/);
});

Deno.test("parsePolicy() rejects a missing, non-numeric or negative default", () => {
  assertPolicyError(
    () => parsePolicy([[0, "bias"]]),
    'Expected the default weight decay (entry 0) to be a number but found [0, "bias"]; the last entry must be a bare number such as 1e-4, after the rules',
    0,
  );
  assertPolicyError(
    () => parsePolicy([[0, "bias"], "1e-4"]),
    'Expected the default weight decay (entry 1) to be a number but found "1e-4"',
    1,
  );
  assertPolicyError(
    () => parsePolicy(-1),
    "Expected the default weight decay to be a finite number >= 0 but found -1",
    0,
  );
  assertPolicyError(
    () => parsePolicy([[0, "a"], NaN]),
    "Expected the default weight decay (entry 1) to be a finite number >= 0 but found NaN",
    1,
  );
  assertPolicyError(() => parsePolicy(Infinity), /found Infinity$/, 0);
});

Deno.test("parsePolicy() rejects rules that are not [value, pattern] pairs", () => {
  assertPolicyError(
    () => parsePolicy([[0, "bias", "extra"], 1]),
    'Rule 0 must be a [value, pattern] pair but found [0, "bias", "extra"]',
    0,
  );
  assertPolicyError(
    () => parsePolicy([[0, "a"], "bias", 1]),
    'Rule 1 must be a [value, pattern] pair but found "bias"',
    1,
  );
  assertPolicyError(
    () => parsePolicy([[0, "a"], 1e-5, 1]),
    "Rule 1 is a bare number (0.00001) but only the last entry may be the default; write a rule as [value, pattern]",
    1,
  );
  assertPolicyError(
    () => parsePolicy([{ value: 0, pattern: "x" }, 1]),
    /Rule 0 must be a/,
    0,
  );
});

Deno.test("parsePolicy() rejects rule values that are not finite numbers", () => {
  for (const value of [NaN, Infinity, -Infinity, "0", null]) {
    assertPolicyError(
      () => parsePolicy([[0, "a"], [value, "bias"], 1]),
      /^Rule 1 must have a finite number as its value \(negative means "use the default"\) but found/,
      1,
    );
  }
});

Deno.test("parsePolicy() rejects patterns of the wrong kind", () => {
  assertPolicyError(
    () => parsePolicy([[0, 42], 1]),
    "Rule 0 pattern must be a regex string, a RegExp, a class, an array of classes or class names, or where(predicate) but found 42",
    0,
  );
  assertPolicyError(
    () => parsePolicy([[0, (p: { name: string }) => p.name === "x"], 1]),
    "Rule 0 pattern is an anonymous function without a prototype, so it is no class; wrap predicates as where((p) => ...)",
    0,
  );
  assertPolicyError(
    () => parsePolicy([[0, ["Batch Norm"]], 1]),
    'Rule 0 pattern lists "Batch Norm" as a class name, but class names are identifiers; to search parameter names, use the regex as the whole pattern',
    0,
  );
  assertPolicyError(
    () => parsePolicy([[0, [["LayerNorm"]]], 1]),
    'Rule 0 pattern array must hold classes and class names but holds ["LayerNorm"]',
    0,
  );
  assertPolicyError(
    () => parsePolicy([[0, { where: "bias" }], 1]),
    'Rule 0 pattern a where() object must hold a function but holds "bias"',
    0,
  );
});

Deno.test("parsePolicy() reports an invalid regex with the regex error", () => {
  assert.throws(() => parsePolicy([[0, "a"], [0, "layers.(0"], 1]), (error) => {
    assert.ok(error instanceof PolicyError);
    assert.equal(
      error.message,
      'Rule 1 pattern "layers.(0" is not a valid regular expression: Invalid regular expression: /layers.(0/: Unterminated group',
    );
    assert.ok(error.cause instanceof SyntaxError);
    return true;
  });
});

Deno.test("parsePolicy() shows the JavaScript spelling of Python-only regex syntax", () => {
  const cases: [string, string][] = [
    ["(?P<layer>\\d+)\\.bias", '"(?<layer>\\\\d+)\\\\.bias"'],
    ["(?P<n>a)(?P=n)", '"(?<n>a)\\\\k<n>"'],
    ["(?i)bias", '"(?i:bias)"'],
    ["bias\\Z", '"bias$"'],
    ["\\Ahead", '"^head"'],
    ["bias(?#the bias)", '"bias"'],
  ];
  for (const [python, javascript] of cases) {
    assertPolicyError(
      () => parsePolicy([[0, python], 1]),
      new RegExp(
        `lack; write ${javascript.replaceAll(/[\\^$.()?+*[\]{}|]/g, "\\$&")}$`,
      ),
      0,
    );
  }
  // Escaped characters are not Python syntax: "\\(?P<" is a literal parenthesis.
  assert.equal(
    parsePolicy([[0, "\\(\\?P<x>"], 1]).decide(at("(?P<x>")).weightDecay,
    0,
  );
  assert.equal(
    parsePolicy([[0, "\\\\Z"], 1]).decide(at("a\\Z")).weightDecay,
    0,
  );
});

Deno.test("NORM_TYPES lists the PyTorch and TensorFlow.js normalization layers and is frozen", () => {
  for (
    const name of [
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
    ]
  ) assert.ok(NORM_TYPES.includes(name), name);
  assert.ok(Object.isFrozen(NORM_TYPES));
});
