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

Deno.test("parsePolicy() searches string patterns anywhere in the name, like re.search", () => {
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

Deno.test("parsePolicy() reports an invalid regex with RE2's error", () => {
  assert.throws(() => parsePolicy([[0, "a"], [0, "layers.(0"], 1]), (error) => {
    assert.ok(error instanceof PolicyError);
    assert.equal(
      error.message,
      'Rule 1 pattern "layers.(0" is not a valid regular expression (RE2 syntax): missing closing ): "layers.(0"',
    );
    assert.equal(error.ruleIndex, 1);
    assert.ok(error.cause instanceof Error);
    return true;
  });
});

Deno.test("parsePolicy() bounds the message of a long invalid regex", () => {
  const long = `(${"a".repeat(9_000)}`;
  assert.throws(() => parsePolicy([[0, long], 1]), (error) => {
    assert.ok(error instanceof PolicyError);
    assert.match(
      error.message,
      /^Rule 0 pattern "\(a+… \(cut, 9003 characters\) is not a valid regular expression \(RE2 syntax\): missing closing \): "\(a+… \(cut, 9003 characters\)$/,
    );
    assert.ok(error.message.length < 600, `${error.message.length} characters`);
    assert.equal(error.received, long);
    return true;
  });
});

Deno.test("parsePolicy() rejects a string pattern over 10,000 characters at once, with a bounded message", () => {
  const huge = `(${"a".repeat(1_000_000)}`;
  const started = performance.now();
  assert.throws(() => parsePolicy([[0, huge], 1]), (error) => {
    assert.ok(error instanceof PolicyError);
    assert.match(
      error.message,
      /^Rule 0 pattern "\(a+… \(cut, 1000003 characters\) is longer than 10000 characters, the most a string pattern may have; a RegExp object has no limit$/,
    );
    assert.equal(error.ruleIndex, 0);
    return true;
  });
  assert.ok(performance.now() - started < 1000);
});

Deno.test("parsePolicy() takes Python regexes of basecls configs unchanged", () => {
  const text =
    '[[0, "(?i)BIAS"], [1, "(?P<block>\\\\d+)\\\\.norm"], [2, "\\\\Ahead\\\\."], [3, "(?s)a.b"], 9]';
  const policy = parsePolicy(JSON.parse(text));
  assert.equal(policy.decide(at("fc.Bias")).weightDecay, 0);
  assert.equal(policy.decide(at("blocks.3.norm.weight")).weightDecay, 1);
  assert.equal(policy.decide(at("blocks.x.norm.weight")).weightDecay, 9);
  assert.equal(policy.decide(at("head.weight")).weightDecay, 2);
  assert.equal(policy.decide(at("x.head.weight")).weightDecay, 9);
  assert.equal(policy.decide(at("a\nb")).weightDecay, 3);
  assert.equal(policy.rules[1]!.description, '"(?P<block>\\\\d+)\\\\.norm"');
});

Deno.test("parsePolicy() matches catastrophic regexes in linear time", () => {
  const start = performance.now();
  const policy = parsePolicy([[0, "^(\\w+\\.?)+\\.bias$"], [1, "(a+)+$"], 2]);
  assert.equal(
    policy.decide(at("encoder.layers.0.attention.self.query.weight")).rule,
    -1,
  );
  assert.equal(policy.decide(at("encoder.layers.0.attention.bias")).rule, 0);
  assert.equal(policy.decide(at(`${"a".repeat(29)}!`)).rule, -1);
  assert.equal(policy.decide(at("a".repeat(30))).rule, 1);
  const elapsed = performance.now() - start;
  assert.ok(elapsed < 1000, `took ${elapsed} ms`);
});

Deno.test("parsePolicy() shows the RE2 spelling of Python constructs that RE2 lacks", () => {
  const cases: [string, string][] = [
    [
      "bias\\Z",
      'Rule 0 pattern "bias\\\\Z" uses Python\'s "\\Z" anchor, which RE2 lacks; write "bias\\\\z"',
    ],
    [
      "bias(?#the bias)",
      'Rule 0 pattern "bias(?#the bias)" uses a Python comment "(?#...)", which RE2 lacks; write "bias"',
    ],
    [
      "(?a)blocks\\.\\d+",
      'Rule 0 pattern "(?a)blocks\\\\.\\\\d+" uses Python\'s "(?a)", "(?u)" or "(?L)" flag (RE2\'s classes are ASCII), which RE2 lacks; write "blocks\\\\.\\\\d+"',
    ],
    [
      "(?iu)BIAS",
      'Rule 0 pattern "(?iu)BIAS" uses Python\'s "(?a)", "(?u)" or "(?L)" flag (RE2\'s classes are ASCII), which RE2 lacks; write "(?i)BIAS"',
    ],
    [
      "layers\\.\\d{,2}\\.",
      'Rule 0 pattern "layers\\\\.\\\\d{,2}\\\\." uses Python\'s "{,n}" repeat, which RE2 lacks; write "layers\\\\.\\\\d{0,2}\\\\."',
    ],
    [
      "\\u00e9",
      'Rule 0 pattern "\\\\u00e9" uses a "\\u" escape, which RE2 lacks; write "\\\\x{00e9}"',
    ],
    [
      "(?#x)a{,3}\\Z",
      'Rule 0 pattern "(?#x)a{,3}\\\\Z" uses Python\'s "{,n}" repeat and a Python comment "(?#...)" and Python\'s "\\Z" anchor, which RE2 lacks; write "a{0,3}\\\\z"',
    ],
    [
      "(?x) bias  # comment",
      'Rule 0 pattern "(?x) bias  # comment" uses Python\'s verbose flag "(?x)"; RE2 lacks it; write the pattern without it, its whitespace and its comments',
    ],
  ];
  for (const [python, message] of cases) {
    assertPolicyError(() => parsePolicy([[0, python], 1]), message, 0);
  }
  // Escaped or in a class, these are text: "\\(\\?P<" is a literal parenthesis.
  assert.equal(
    parsePolicy([[0, "\\(\\?P<x>"], 1]).decide(at("(?P<x>")).weightDecay,
    0,
  );
  assert.equal(
    parsePolicy([[0, "\\\\Z"], 1]).decide(at("a\\Z")).weightDecay,
    0,
  );
  for (const text of ["[{,3}]", "\\{,3}", "\\Q{,3}"]) {
    assert.equal(
      parsePolicy([[0, text], 1]).decide(at("a{,3}")).weightDecay,
      0,
    );
  }
});

Deno.test("parsePolicy() sends lookarounds and backreferences to RegExp objects", () => {
  const advice =
    "; RE2 lacks it, so that matching stays linear in time; pass a RegExp object, which runs as JavaScript";
  const cases: [string, string][] = [
    ["(?<!ln)\\.bias", 'a lookbehind "(?<=...)" or "(?<!...)"'],
    ["bias(?=$)", 'a lookahead "(?=...)" or "(?!...)"'],
    ["(?P<n>\\w)(?P=n)", 'a backreference such as "\\1" or "(?P=name)"'],
    ["(\\w)\\1", 'a backreference such as "\\1" or "(?P=name)"'],
  ];
  for (const [source, what] of cases) {
    assertPolicyError(
      () => parsePolicy([[0, source], 1]),
      `Rule 0 pattern ${JSON.stringify(source)} uses ${what}${advice}`,
      0,
    );
  }
  const policy = parsePolicy([[0, /(?<!ln)\.bias/], 1]);
  assert.equal(policy.decide(at("fc.bias")).weightDecay, 0);
  assert.equal(policy.decide(at("ln.bias")).weightDecay, 1);
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
