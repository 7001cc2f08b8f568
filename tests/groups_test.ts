// Copyright 2026 the weight-decay authors. MIT license.
import assert from "node:assert/strict";
import { configure, getLogger, type LogRecord, reset } from "@logtape/logtape";
import {
  explain,
  getParamGroups,
  namedParameters,
  NORM_TYPES,
  Parameter,
  parsePolicy,
  PolicyError,
} from "../mod.ts";
import { BatchNorm2d, Conv2d, Linear, ResNet50 } from "./_models.ts";

const RESNET_POLICY = [[1e-5, "bias"], [0, NORM_TYPES], 1e-4] as const;
const MOBILE_POLICY = [[0, "bias"], [0, NORM_TYPES], 4e-5] as const;

/** Runs `fn` with LogTape recording `category` (by default ours), and returns the records. */
async function capturingLogs(
  fn: () => void,
  category: string[] = ["weight-decay"],
): Promise<LogRecord[]> {
  const records: LogRecord[] = [];
  await configure({
    sinks: { buffer: (record) => records.push(record) },
    loggers: [
      { category, lowestLevel: "debug", sinks: ["buffer"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
    ],
  });
  try {
    fn();
  } finally {
    await reset();
  }
  return records;
}

/** A record's message with its values quoted as LogTape's text formatter quotes them. */
const rendered = (record: LogRecord) =>
  record.message.map((part, i) => i % 2 === 0 ? part : JSON.stringify(part))
    .join("");

Deno.test("getParamGroups() follows the basecls ResNet policy on a ResNet-50", () => {
  const model = new ResNet50();
  const groups = getParamGroups(namedParameters(model), RESNET_POLICY);
  assert.deepEqual(groups.map((g) => g.weightDecay), [1e-4, 0, 1e-5]);
  const [conv, norm, bias] = groups;
  assert.equal(
    conv!.names.length,
    53 + 1,
    "53 convolutions and the classifier weight",
  );
  assert.ok(
    conv!.names.every((n) =>
      n.endsWith("weight") && !/bn|downsample\.1/.test(n)
    ),
  );
  assert.equal(norm!.names.length, 53, "every norm weight");
  assert.ok(
    norm!.names.every((n) => /bn\d\.weight$|downsample\.1\.weight$/.test(n)),
  );
  assert.equal(
    bias!.names.length,
    53 + 1,
    "every norm bias and the classifier bias get 1e-5",
  );
  assert.ok(
    bias!.names.includes("fc.bias") && bias!.names.includes("bn1.bias"),
  );
  assert.equal(
    bias!.params[0],
    model.bn1.bias,
    "params are the model's own objects",
  );
});

Deno.test("getParamGroups() follows the basecls mobile policy: no decay on biases and norms", () => {
  const groups = getParamGroups(namedParameters(new ResNet50()), MOBILE_POLICY);
  assert.deepEqual(groups.map((g) => [g.weightDecay, g.names.length]), [[
    4e-5,
    54,
  ], [0, 107]]);
});

Deno.test("getParamGroups() gives norm biases the first matching rule", () => {
  const bn = new BatchNorm2d(2, "zeros", Math.random);
  const source = [{ name: "bn.weight", param: bn.weight, owner: bn }, {
    name: "bn.bias",
    param: bn.bias,
    owner: bn,
  }];
  const biasFirst = getParamGroups(source, [
    [1e-5, "bias"],
    [0, NORM_TYPES],
    1e-4,
  ]);
  assert.deepEqual(biasFirst.map((g) => [g.weightDecay, g.names]), [[0, [
    "bn.weight",
  ]], [1e-5, [
    "bn.bias",
  ]]]);
  const normFirst = getParamGroups(source, [
    [0, NORM_TYPES],
    [1e-5, "bias"],
    1e-4,
  ]);
  assert.deepEqual(normFirst.map((g) => [g.weightDecay, g.names]), [[0, [
    "bn.weight",
    "bn.bias",
  ]]]);
});

Deno.test("getParamGroups() orders groups by first appearance and keeps source order inside", () => {
  const p = (name: string) => ({ name, param: new Parameter([0]) });
  const source = [
    p("a.bias"),
    p("a.weight"),
    p("b.bias"),
    p("b.weight"),
    p("c.scale"),
  ];
  const groups = getParamGroups(source, [[0, "bias"], [0.5, "scale"], 0.1]);
  assert.deepEqual(groups.map((g) => [g.weightDecay, g.names]), [
    [0, ["a.bias", "b.bias"]],
    [0.1, ["a.weight", "b.weight"]],
    [0.5, ["c.scale"]],
  ]);
  assert.deepEqual(groups[1]!.params, [source[1]!.param, source[3]!.param]);
});

Deno.test("getParamGroups() puts rules and the default of equal value in one group", () => {
  const p = (name: string) => ({ name, param: new Parameter([0]) });
  const groups = getParamGroups([p("x.bias"), p("x.w"), p("y.bias")], [
    [1e-4, "bias"],
    [-1, "w"],
    1e-4,
  ]);
  assert.equal(groups.length, 1);
  assert.deepEqual(groups[0]!.names, ["x.bias", "x.w", "y.bias"]);
  const zeros = getParamGroups([p("a"), p("b")], [[-0, "a"], 0]);
  assert.equal(zeros.length, 1);
  assert.ok(Object.is(zeros[0]!.weightDecay, 0));
});

Deno.test("getParamGroups() takes a model with namedParameters() and a parsed policy", () => {
  const fc = new Linear(2, 2, "zeros", Math.random);
  const model = { namedParameters: () => namedParameters({ fc }) };
  const groups = getParamGroups(model, parsePolicy([[0, "bias"], 1]));
  assert.deepEqual(groups.map((g) => g.names), [["fc.weight"], ["fc.bias"]]);
});

Deno.test("getParamGroups() rejects a source without parameters, with a hint", () => {
  assert.throws(() => getParamGroups([], 1e-4), {
    name: "TypeError",
    message:
      "Expected source to yield at least one parameter but it yielded none: namedParameters(model) finds Parameter instances (pass isParameter for other tensor types), and a TensorFlow.js model needs tfjsNamedParameters(model)",
  });
  const tfjsModel = { name: "m", layers: [], trainableWeights: [] };
  assert.throws(() => getParamGroups(tfjsModel as never, 1e-4), {
    name: "TypeError",
    message:
      'Expected source to be an iterable of { name, param } but found a TensorFlow.js model; pass tfjsNamedParameters(model), from "@decoupled/weight-decay/tfjs"',
  });
  assert.throws(() => namedParameters(tfjsModel), {
    name: "TypeError",
    message:
      'Expected root to be an object tree of Parameters but found a TensorFlow.js model; use tfjsNamedParameters(model), from "@decoupled/weight-decay/tfjs"',
  });
});

Deno.test("getParamGroups() groups a tied parameter once, under its first name", () => {
  const embedding = new Parameter([1, 2]);
  const model = {
    embed: { weight: embedding },
    head: { weight: embedding },
    bias: new Parameter([0]),
  };
  const groups = getParamGroups(namedParameters(model), [[0, "bias"], 0.1]);
  assert.deepEqual(groups.map((g) => g.names), [["embed.weight"], ["bias"]]);
  // The other names travel with the group, for loading a state_dict that lists both.
  assert.deepEqual(groups[0]!.aliases, [["head.weight"]]);
  assert.equal(groups[1]!.aliases, undefined);
  // Any source, not only the walker: repeated entries become aliases.
  const repeated = getParamGroups([
    { name: "embed.weight", param: embedding },
    { name: "head.weight", param: embedding },
    { name: "embed.weight", param: embedding },
  ], 0.1);
  assert.deepEqual(repeated.map((g) => g.params.length), [1]);
});

Deno.test("getParamGroups() rejects two different parameters under one name", () => {
  for (
    const source of [
      [{ name: "fc.weight", param: new Parameter([1]) }, {
        name: "fc.weight",
        param: new Parameter([1]),
      }],
      [
        { name: "a", param: new Parameter([1]), aliases: [{ name: "b" }] },
        { name: "b", param: new Parameter([1]) },
      ],
    ]
  ) {
    assert.throws(() => getParamGroups(source, 0.1), (error) => {
      assert.ok(error instanceof PolicyError);
      assert.match(
        error.message,
        /^Expected each parameter name once but "(fc\.weight|b)" names two different parameters$/,
      );
      assert.ok(
        error.parameterName === "fc.weight" || error.parameterName === "b",
      );
      assert.equal(error.ruleIndex, undefined);
      return true;
    });
  }
});

Deno.test("getParamGroups() rejects sources that yield malformed entries", () => {
  assert.throws(
    () => getParamGroups({ fc: new Parameter([1]) } as never, 0.1),
    {
      name: "TypeError",
      message:
        "Expected source to be an iterable of { name, param } or an object with namedParameters() but found an object; for a plain object tree, pass namedParameters(model)",
    },
  );
  assert.throws(
    () =>
      getParamGroups([{ name: 3, param: new Parameter([1]) }] as never, 0.1),
    {
      name: "TypeError",
      message: "Expected source entry 0 to have a string name but found 3",
    },
  );
  assert.throws(
    () =>
      getParamGroups(
        [{ name: "a", param: new Parameter([1]) }, { name: "b" }] as never,
        0.1,
      ),
    {
      name: "TypeError",
      message:
        'Expected source entry 1 ("b") to have a param but found undefined',
    },
  );
  assert.throws(
    () => getParamGroups({ namedParameters: () => 3 } as never, 0.1),
    {
      name: "TypeError",
      message:
        "Expected namedParameters() to return an iterable but it returned 3",
    },
  );
});

Deno.test("getParamGroups() validates the policy before reading the source", () => {
  let read = false;
  const source = {
    *[Symbol.iterator]() {
      read = true;
      yield { name: "a", param: new Parameter([1]) };
    },
  };
  assert.throws(() => getParamGroups(source, [[0, "("], 1]), PolicyError);
  assert.equal(read, false);
});

Deno.test("getParamGroups() logs each group's names once when there are several", async () => {
  const fc = new Linear(1, 1, "zeros", Math.random);
  const source = namedParameters({ fc });
  const records = await capturingLogs(() =>
    getParamGroups(source, [[0, "bias"], 1e-4])
  );
  const infos = records.filter((r) => r.level === "info");
  assert.equal(infos.length, 2);
  assert.deepEqual(infos.map((r) => r.category), [["weight-decay"], [
    "weight-decay",
  ]]);
  assert.deepEqual(infos.map((r) => r.properties.names), [["fc.weight"], [
    "fc.bias",
  ]]);
  assert.deepEqual(infos.map((r) => r.properties.weightDecay), [1e-4, 0]);
  assert.equal(
    rendered(infos[1]!),
    'Parameters with weight decay 0 and lrScale 1 (1): ["fc.bias"]',
  );

  const single = await capturingLogs(() => getParamGroups(source, 1e-4));
  assert.deepEqual(single, [], "one group: nothing to say");
});

Deno.test("getParamGroups() warns about rules that decided nothing", async () => {
  const fc = new Linear(1, 1, "zeros", Math.random);
  const records = await capturingLogs(() =>
    getParamGroups(namedParameters({ fc }), [[0, "bais"], [0, "bias"], [
      1,
      "fc",
    ], 1e-4])
  );
  const warnings = records.filter((r) => r.level === "warning");
  assert.deepEqual(warnings.map((r) => r.properties.ruleIndex), [0]);
  assert.equal(
    rendered(warnings[0]!),
    'Rule 0 "bais" matched no parameter: a typo?',
  );
});

Deno.test("getParamGroups() takes a LogTape logger of the caller's category", async () => {
  const source = [{ name: "a", param: 1 }, { name: "b", param: 2 }];
  const logger = getLogger(["my-app", "grouping"]);
  const records = await capturingLogs(
    () => getParamGroups(source, [[0, "a"], 1], { logger }),
    ["my-app"],
  );
  assert.deepEqual(records.map((r) => r.category), [
    ["my-app", "grouping"],
    ["my-app", "grouping"],
  ]);
});

Deno.test("getParamGroups() gives a console-like logger rendered messages", () => {
  const calls: unknown[][] = [];
  const logger = {
    info: (...args: unknown[]) => calls.push(["info", ...args]),
    warn: (...args: unknown[]) => calls.push(["warn", ...args]),
  };
  getParamGroups([{ name: "a", param: 1 }, { name: "b", param: 2 }], {
    weightDecay: [[0, "a"], [0, "zz"], 1],
    lrScale: [[2, "a"], [3, "a"], 1],
  }, { logger });
  assert.deepEqual(calls, [
    ["info", 'Parameters with weight decay 0 and lrScale 2 (1): ["a"]'],
    ["info", 'Parameters with weight decay 1 and lrScale 1 (1): ["b"]'],
    ["warn", 'Rule 1 "zz" matched no parameter: a typo?'],
    [
      "warn",
      'lrScale rule 1 "a" decided no parameter: rule 0 decides every parameter it matches',
    ],
  ]);
});

Deno.test("getParamGroups() rejects options it does not know", () => {
  const source = [{ name: "a", param: 1 }];
  assert.throws(() => getParamGroups(source, 1, { lr: 0.1 } as never), {
    name: "TypeError",
    message:
      'Expected getParamGroups() options to have only the keys logger but found "lr"; pass the learning rate to step(lr), and scale it per group with lrScale',
  });
});

Deno.test("explain() names the rule that decided each parameter", () => {
  const conv = new Conv2d(1, 1, 1, "zeros", Math.random);
  const bn = new BatchNorm2d(1, "zeros", Math.random);
  const { assignments, unusedRules, aliasConflicts } = explain(
    namedParameters({ conv, bn }),
    [[-1, "^conv"], [1e-5, "bias"], [0, NORM_TYPES], [3, "never"], 1e-4],
  );
  const at = (weightDecay: number, rule: number) => ({
    weightDecay,
    rule,
    lrScale: 1,
    lrScaleRule: -1,
    aliases: [],
  });
  assert.deepEqual(assignments, [
    { name: "conv.weight", ...at(1e-4, 0) },
    { name: "bn.weight", ...at(0, 2) },
    { name: "bn.bias", ...at(1e-5, 1) },
  ]);
  assert.deepEqual(unusedRules, [
    { policy: "weightDecay", rule: 3, pattern: "never", reason: "no match" },
  ]);
  assert.deepEqual(aliasConflicts, []);
});

Deno.test("explain() counts a rule shadowed by an earlier one as unused", () => {
  const source = [{ name: "fc.bias", param: new Parameter([0]) }];
  assert.deepEqual(
    explain(source, [[0, "bias"], [1e-5, "fc\\.bias"], 1]).unusedRules,
    [{
      policy: "weightDecay",
      rule: 1,
      pattern: "fc\\.bias",
      reason: "shadowed",
      shadowedBy: 0,
    }],
  );
});

Deno.test("explain() lists a tied parameter with all its names and reports disagreeing aliases", async () => {
  class Embedding {
    weight = new Parameter([1, 2, 3]);
  }
  class Linear {
    constructor(public weight: Parameter) {}
  }
  const embed = new Embedding();
  const model = { embed, lmHead: new Linear(embed.weight) };
  const policy = [[0, [Embedding]], 0.1] as const;
  const { assignments, aliasConflicts } = explain(
    namedParameters(model),
    policy,
  );
  assert.deepEqual(assignments, [{
    name: "embed.weight",
    weightDecay: 0,
    rule: 0,
    lrScale: 1,
    lrScaleRule: -1,
    aliases: ["lmHead.weight"],
  }]);
  assert.deepEqual(aliasConflicts, [
    {
      name: "embed.weight",
      alias: "lmHead.weight",
      weightDecay: 0,
      aliasWeightDecay: 0.1,
      lrScale: 1,
      aliasLrScale: 1,
    },
  ]);
  const records = await capturingLogs(() =>
    getParamGroups(namedParameters(model), policy)
  );
  const warnings = records.filter((r) => r.level === "warning");
  assert.equal(warnings.length, 1);
  assert.equal(
    rendered(warnings[0]!),
    'Tied parameter "embed.weight" gets weight decay 0 and lrScale 1, but its alias "lmHead.weight" would get 0.1 and 1',
  );
  const agreeing = explain(namedParameters(model), [[0, "weight"], 0.1]);
  assert.deepEqual(agreeing.aliasConflicts, []);
});
