// Copyright 2026 the weight-decay authors. MIT license.
import assert from "node:assert/strict";
import {
  explain,
  getParamGroups,
  type GroupPolicy,
  namedParameters,
  NORM_TYPES,
  Parameter,
  parseGroupPolicy,
  PolicyError,
  where,
} from "../mod.ts";

class Linear {
  weight = new Parameter([1, 2, 3, 4], [2, 2]);
  bias = new Parameter([0, 0]);
}
class LayerNorm {
  weight = new Parameter([1, 1]);
  bias = new Parameter([0, 0]);
}
const model = () => ({
  backbone: { fc: new Linear(), norm: new LayerNorm() },
  head: new Linear(),
});

Deno.test("getParamGroups() keys groups by weight decay and lrScale, in order of first appearance", () => {
  const policy: GroupPolicy = {
    weightDecay: [[0, "bias"], [0, NORM_TYPES], 0.05],
    lrScale: [[0.1, "^backbone\\."], 1],
  };
  const groups = getParamGroups(namedParameters(model()), policy);
  assert.deepEqual(groups.map((g) => [g.weightDecay, g.lrScale, g.names]), [
    [0.05, 0.1, ["backbone.fc.weight"]],
    [0, 0.1, [
      "backbone.fc.bias",
      "backbone.norm.weight",
      "backbone.norm.bias",
    ]],
    [0.05, 1, ["head.weight"]],
    [0, 1, ["head.bias"]],
  ]);
});

Deno.test("getParamGroups() gives a bare weight-decay policy lrScale 1 and the same groups as before", () => {
  const source = namedParameters(model());
  const bare = getParamGroups(source, [[0, "bias"], 0.05]);
  const wrapped = getParamGroups(source, { weightDecay: [[0, "bias"], 0.05] });
  assert.deepEqual(bare, wrapped);
  assert.deepEqual(bare.map((g) => [g.weightDecay, g.lrScale]), [
    [0.05, 1],
    [0, 1],
  ]);
});

Deno.test("lrScale rules take a negative value as the default, like weight-decay rules", () => {
  const groups = getParamGroups(namedParameters(model()), {
    weightDecay: 0,
    lrScale: [[-1, "^head\\.bias"], [2, "^head\\."], 0.5],
  });
  assert.deepEqual(groups.map((g) => [g.lrScale, g.names]), [
    [0.5, [
      "backbone.fc.weight",
      "backbone.fc.bias",
      "backbone.norm.weight",
      "backbone.norm.bias",
      "head.bias",
    ]],
    [2, ["head.weight"]],
  ]);
});

Deno.test("a group policy survives a JSON round trip", () => {
  const policy: GroupPolicy = {
    weightDecay: [[0, "bias"], [0, ["LayerNorm"]], 0.05],
    lrScale: [[0, "^backbone\\."], [10, "head"], 1],
  };
  const source = namedParameters(model());
  assert.deepEqual(
    getParamGroups(source, JSON.parse(JSON.stringify(policy))),
    getParamGroups(source, policy),
  );
  const parsed = parseGroupPolicy(policy);
  assert.equal(parseGroupPolicy(parsed), parsed);
  assert.deepEqual(
    getParamGroups(source, parsed),
    getParamGroups(source, policy),
  );
});

Deno.test("explain() reports both values, both deciding rules and unused rules of both policies", () => {
  const { assignments, unusedRules } = explain(namedParameters(model()), {
    weightDecay: [[0, "bias"], [1, "bais"], 0.05],
    lrScale: [[0, "^backbone\\."], [3, "backbone"], [10, "^haed"], 1],
  });
  assert.deepEqual(assignments[1], {
    name: "backbone.fc.bias",
    weightDecay: 0,
    rule: 0,
    lrScale: 0,
    lrScaleRule: 0,
    aliases: [],
  });
  assert.deepEqual(assignments[4], {
    name: "head.weight",
    weightDecay: 0.05,
    rule: -1,
    lrScale: 1,
    lrScaleRule: -1,
    aliases: [],
  });
  assert.deepEqual(unusedRules, [
    { policy: "weightDecay", rule: 1, pattern: "bais", reason: "no match" },
    {
      policy: "lrScale",
      rule: 1,
      pattern: "backbone",
      reason: "shadowed",
      shadowedBy: 0,
    },
    { policy: "lrScale", rule: 2, pattern: "^haed", reason: "no match" },
  ]);
});

Deno.test("where() reads the parameter's own type without casts", () => {
  const oneDimensional = where(({ param }) => param.shape.length <= 1);
  const groups = getParamGroups(namedParameters(model()), {
    weightDecay: [[0, oneDimensional], 0.05],
    lrScale: [[2, where(({ param }) => param.size > 2)], 1],
  });
  assert.deepEqual(groups.map((g) => [g.weightDecay, g.lrScale]), [
    [0.05, 2],
    [0, 1],
  ]);
});

Deno.test("parseGroupPolicy() names unknown keys and what to use instead", () => {
  const cases: [unknown, string][] = [
    [
      { weightDecay: 0, lr_scale: 1 },
      'Expected a group policy to have only the keys weightDecay and lrScale but found "lr_scale"; use lrScale',
    ],
    [
      { weight_decay: 0.05 },
      'Expected a group policy to have only the keys weightDecay and lrScale but found "weight_decay"; use weightDecay',
    ],
    [
      { lrScale: 1 },
      "Expected a group policy { weightDecay, lrScale? } to have weightDecay but found none",
    ],
  ];
  for (const [policy, message] of cases) {
    assert.throws(() => parseGroupPolicy(policy), {
      name: "PolicyError",
      message,
    });
  }
});

Deno.test("parseGroupPolicy() says which policy a bad rule is in", () => {
  assert.throws(
    () => parseGroupPolicy({ weightDecay: 0, lrScale: [[1, "("], 1] }),
    (error) => {
      assert.ok(error instanceof PolicyError);
      assert.equal(error.policy, "lrScale");
      assert.equal(error.ruleIndex, 0);
      assert.match(
        error.message,
        /^lrScale rule 0 pattern "\(" is not a valid/,
      );
      return true;
    },
  );
  assert.throws(
    () => parseGroupPolicy({ weightDecay: 0, lrScale: [[1, "x"], -1] }),
    {
      name: "PolicyError",
      message:
        "Expected the default lrScale (entry 1) to be a finite number >= 0 but found -1",
    },
  );
  assert.throws(() => parseGroupPolicy({ weightDecay: 0, lrScale: "1" }), {
    name: "PolicyError",
    message:
      'Expected an lr-scale policy (a number, rules followed by a default number, or { layerDecay, groupMatcher }) but found "1"',
  });
  assert.throws(
    () => parseGroupPolicy({ weightDecay: [[0, 5], 1] }),
    (error) => {
      assert.ok(error instanceof PolicyError);
      assert.equal(error.policy, "weightDecay");
      assert.match(error.message, /^Rule 0 pattern must be/);
      return true;
    },
  );
});

Deno.test("an lrScale where() predicate that throws is reported as an lrScale rule", () => {
  const broken = where(() => {
    throw new Error("boom");
  });
  assert.throws(
    () =>
      getParamGroups(namedParameters(model()), {
        weightDecay: 0,
        lrScale: [[2, broken], 1],
      }),
    (error) => {
      assert.ok(error instanceof PolicyError);
      assert.equal(error.policy, "lrScale");
      assert.equal(
        error.message,
        'lrScale rule 0 where() predicate threw on parameter "backbone.fc.weight": boom',
      );
      return true;
    },
  );
});

Deno.test("getParamGroups() gives every parameter of real timm models timm's layer-decay lr_scale", () => {
  const dir = new URL("./fixtures/timm/", import.meta.url);
  const files = [...Deno.readDirSync(dir)].filter((f) =>
    f.name.endsWith(".json")
  );
  assert.ok(files.length >= 11);
  for (const file of files) {
    const fixture = JSON.parse(Deno.readTextFileSync(new URL(file.name, dir)));
    const source = fixture.names.map((name: string) => ({
      name,
      param: new Parameter([0]),
    }));
    const lrScale = {
      layerDecay: fixture.layerDecay,
      groupMatcher: fixture.groupMatcher,
      minScale: fixture.minScale,
    };
    const policy: GroupPolicy = { weightDecay: [[0, "bias"], 0.05], lrScale };
    const groups = getParamGroups(source, policy);
    const scaleOf = new Map<string, number>();
    for (const g of groups) {
      for (const name of g.names) scaleOf.set(name, g.lrScale);
    }
    fixture.names.forEach((name: string, i: number) => {
      const timm = fixture.scales[i];
      const ours = scaleOf.get(name);
      assert.ok(
        ours === timm || ours === fixture.correctlyRounded[fixture.layers[i]],
        `${fixture.arch} ${name}: ${ours} but timm gives ${timm}`,
      );
    });
    const { assignments } = explain(source, policy);
    assert.deepEqual(
      assignments.map((a) => a.layer),
      fixture.layers,
      fixture.arch,
    );
    assert.ok(assignments.every((a) => a.lrScaleRule === -1));
  }
});

Deno.test("a layer-decay lrScale decides all names together and refuses one at a time", () => {
  const { lrScale } = parseGroupPolicy({
    weightDecay: 0,
    lrScale: { layerDecay: 0.5, groupMatcher: { blocks: "^blocks\\.(\\d+)" } },
  });
  assert.equal(lrScale.layerDecay, true);
  assert.throws(() => lrScale.decide({ name: "blocks.0.w", param: null }), {
    name: "TypeError",
    message:
      "Expected a policy of rules to decide one parameter, but layer decay puts every name in a layer together: use decideAll(params), explain() or getParamGroups()",
  });
  assert.throws(
    () => parseGroupPolicy({ weightDecay: 0, lrScale: { layer_decay: 0.75 } }),
    (error) => {
      assert.ok(error instanceof PolicyError);
      assert.equal(error.policy, "lrScale");
      assert.match(
        error.message,
        /^Layer decay spec has unknown key "layer_decay"/,
      );
      return true;
    },
  );
});
