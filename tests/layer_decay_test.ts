// Copyright 2026 the weight-decay authors. MIT license.
import assert from "node:assert/strict";
import { PolicyError } from "../mod.ts";
import {
  type _LayerTable,
  _parseLayerDecay,
  type LayerDecay,
} from "../src/layer_decay.ts";
import { _compileStringPattern } from "../src/_regex.ts";

/** What tools/timm_fixtures.py writes: one timm model under param_groups_layer_decay. */
interface TimmFixture {
  arch: string;
  layerDecay: number;
  minScale: number;
  groupMatcher: LayerDecay["groupMatcher"];
  layerCount: number;
  names: string[];
  layers: number[];
  scales: number[];
  /** Layers whose scale this libm's pow rounds wrongly, with the correctly rounded one. */
  correctlyRounded: Record<string, number>;
}

const FIXTURES = new URL("./fixtures/timm/", import.meta.url);

function readFixtures(): TimmFixture[] {
  return [...Deno.readDirSync(FIXTURES)]
    .filter((entry) => entry.name.endsWith(".json"))
    .map((entry) => entry.name)
    .sort()
    .map((name) => JSON.parse(Deno.readTextFileSync(new URL(name, FIXTURES))));
}

const specOf = (fixture: TimmFixture): LayerDecay => ({
  layerDecay: fixture.layerDecay,
  groupMatcher: fixture.groupMatcher,
  minScale: fixture.minScale,
});

/** The layer of each name, in order. */
const layersOf = (spec: unknown, names: readonly string[]) =>
  _parseLayerDecay(spec).layers(names).assignments.map((a) => a.layer);

/** Asserts that `fn` throws a PolicyError with exactly this message. */
function assertPolicyError(
  fn: () => unknown,
  message: string,
  parameterName?: string,
) {
  assert.throws(fn, (error) => {
    assert.ok(error instanceof PolicyError, `expected a PolicyError: ${error}`);
    assert.equal(error.name, "PolicyError");
    assert.equal(error.message, message);
    assert.equal(error.parameterName, parameterName);
    return true;
  });
}

Deno.test("layers() gives every name of real timm models timm's layer and lr_scale", () => {
  const fixtures = readFixtures();
  assert.ok(fixtures.length >= 11, `only ${fixtures.length} fixtures`);
  for (const fixture of fixtures) {
    const table = _parseLayerDecay(specOf(fixture)).layers(fixture.names);
    assert.equal(table.layerCount, fixture.layerCount, fixture.arch);
    assert.deepEqual(
      table.assignments.map((a) => a.layer),
      fixture.layers,
      fixture.arch,
    );
    table.assignments.forEach(({ layer, scale }, i) => {
      const timm = fixture.scales[i];
      if (scale === timm) return;
      // Where the C library's pow is not correctly rounded, another libm may be.
      assert.equal(
        scale,
        fixture.correctlyRounded[layer],
        `${fixture.arch} ${fixture.names[i]}: ${scale} but timm gives ${timm}`,
      );
    });
  }
});

Deno.test("layers() numbers ViT-B/16 as timm does: stem 0, blocks 1-12, norm with block 11, head 13", () => {
  const vit = readFixtures().find((f) => f.arch === "vit_base_patch16_224")!;
  const table = _parseLayerDecay(specOf(vit)).layers(vit.names);
  const layerOf = (name: string) =>
    table.assignments[vit.names.indexOf(name)]?.layer;
  assert.equal(layerOf("cls_token"), 0);
  assert.equal(layerOf("patch_embed.proj.weight"), 0);
  assert.equal(layerOf("blocks.0.attn.qkv.weight"), 1);
  assert.equal(layerOf("blocks.11.mlp.fc2.bias"), 12);
  assert.equal(layerOf("norm.weight"), 12);
  assert.equal(layerOf("head.weight"), 13);
  assert.equal(table.scales[0], 0.75 ** 13);
  assert.equal(table.scales[13], 1);
});

Deno.test("layers() gives a null entry no pattern but keeps its ordinal, as timm does", () => {
  const table = _parseLayerDecay({
    layerDecay: 0.5,
    groupMatcher: { skipped: null, b: "^b", a: "^a" },
  }).layers(["a", "b"]);
  assert.deepEqual(table.assignments.map((a) => a.key), [[2], [1]]);
  assert.deepEqual(table.assignments.map((a) => a.layer), [1, 0]);
  // The null entry matches nothing: a name it would describe is unmatched.
  assert.deepEqual(
    layersOf({ layerDecay: 0.5, groupMatcher: { skipped: null, b: "^b" } }, [
      "skipped",
      "b",
    ]),
    [1, 0],
  );
});

Deno.test("layers() joins a key ending in 99999 to the layer before it (MATCH_PREV_GROUP)", () => {
  const spec = {
    layerDecay: 0.5,
    groupMatcher: {
      blocks: [["^blocks\\.(\\d+)", null], ["^norm", [99999]]],
    },
  };
  const table = _parseLayerDecay(spec).layers([
    "blocks.0.w",
    "blocks.1.w",
    "norm.w",
    "head.w",
  ]);
  assert.deepEqual(table.assignments.map((a) => a.layer), [0, 1, 1, 2]);
  assert.deepEqual(table.assignments[2]?.key, [0, 99999]);
  assert.equal(table.layerCount, 3);
  // Without the suffix, norm is a layer of its own.
  assert.deepEqual(
    layersOf(
      {
        layerDecay: 0.5,
        groupMatcher: { blocks: "^blocks\\.(\\d+)", n: "^norm" },
      },
      ["blocks.0.w", "blocks.1.w", "norm.w"],
    ),
    [0, 1, 2],
  );
});

Deno.test("layers() joins on 99999 wherever it comes from, and not for the first key", () => {
  // A captured 99999 ends the key too, as in timm (k[-1] == 99999).
  assert.deepEqual(
    layersOf({ layerDecay: 0.5, groupMatcher: { a: "^a\\.(\\d+)" } }, [
      "a.3",
      "a.99999",
    ]),
    [0, 0],
  );
  // timm starts at lid -1 and always counts the first key: it cannot join anything.
  assert.deepEqual(
    layersOf({ layerDecay: 0.5, groupMatcher: { a: [["^a", [99999]]] } }, [
      "a",
      "b",
    ]),
    [0, 1],
  );
  assert.deepEqual(
    layersOf(
      { layerDecay: 0.5, groupMatcher: { a: "^a\\.(\\d+)" } },
      ["a.99999", "b"],
    ),
    [0, 1],
  );
});

Deno.test("layers() puts names no regex matches in the last layer, with scale 1", () => {
  const table = _parseLayerDecay({
    layerDecay: 0.5,
    groupMatcher: { stem: "^stem", blocks: "^blocks\\.(\\d+)" },
  }).layers(["head.w", "stem.w", "blocks.7.w", "fc_norm.w"]);
  assert.deepEqual(table.assignments.map((a) => a.layer), [2, 0, 1, 2]);
  assert.deepEqual(table.assignments[0]?.key, [Infinity]);
  assert.equal(table.assignments[0]?.pattern, undefined);
  assert.deepEqual(table.scales, [0.25, 0.5, 1]);
  // An empty matcher leaves every name unmatched: one layer.
  const one = _parseLayerDecay({ layerDecay: 0.5, groupMatcher: {} })
    .layers(["a", "b"]);
  assert.equal(one.layerCount, 1);
  assert.deepEqual(one.assignments.map((a) => a.scale), [1, 1]);
});

Deno.test("layers() sorts keys as number tuples: numerically, a prefix first", () => {
  const spec = {
    layerDecay: 0.5,
    groupMatcher: {
      a: [["^a\\.(\\d+)\\.(\\d+)", null], ["^a\\.(\\d+)", null]],
    },
  };
  const names = ["a.1.0", "a.1", "a.10", "a.9", "a.0.5"];
  const table = _parseLayerDecay(spec).layers(names);
  assert.deepEqual(table.assignments.map((a) => a.key), [
    [0, 1, 0],
    [0, 1],
    [0, 10],
    [0, 9],
    [0, 0, 5],
  ]);
  // [0, 0, 5] < [0, 1] < [0, 1, 0] < [0, 9] < [0, 10]
  assert.deepEqual(table.assignments.map((a) => a.layer), [2, 1, 4, 3, 0]);
});

Deno.test("layers() gives a downsample suffix [0] the key of block 0, as timm's Swin and ConvNeXt do", () => {
  const spec = {
    layerDecay: 0.5,
    groupMatcher: {
      stem: "^stem",
      blocks: [
        ["^stages\\.(\\d+)\\.downsample", [0]],
        ["^stages\\.(\\d+)\\.blocks\\.(\\d+)", null],
      ],
    },
  };
  const table = _parseLayerDecay(spec).layers([
    "stem.w",
    "stages.0.blocks.0.w",
    "stages.1.downsample.w",
    "stages.1.blocks.0.w",
    "stages.1.blocks.1.w",
  ]);
  assert.deepEqual(table.assignments.map((a) => a.layer), [0, 1, 2, 2, 3]);
  assert.deepEqual(table.assignments.map((a) => a.pattern?.pair), [
    undefined,
    1,
    0,
    1,
    1,
  ]);
  assert.equal(table.assignments[2]?.pattern?.entry, "blocks");
});

Deno.test("layers() matches at the start of the name like re.match, not anywhere and not whole", () => {
  // timm's ResNet stem: the alternatives bn1 and maxpool are anchored too.
  const spec = {
    layerDecay: 0.5,
    groupMatcher: {
      stem: "^conv1|bn1|maxpool",
      blocks: "^layer(\\d+)\\.(\\d+)",
    },
  };
  const names = ["conv1.weight", "bn1.weight", "layer1.0.bn1.weight", "fc.w"];
  const table = _parseLayerDecay(spec).layers(names);
  assert.deepEqual(table.assignments.map((a) => a.key), [
    [0],
    [0],
    [1, 1, 0],
    [Infinity],
  ]);
  // Without "^" a regex still anchors at the start; the rest of the name may follow.
  assert.deepEqual(
    layersOf({ layerDecay: 0.5, groupMatcher: { n: "norm" } }, [
      "fc_norm.weight",
      "norm.weight",
    ]),
    [1, 0],
  );
});

Deno.test("layers() tries entries in order, then pairs in order; the first match wins", () => {
  const spec = {
    layerDecay: 0.5,
    groupMatcher: {
      first: [["^x", null], ["^x\\.(\\d+)", null]],
      second: "^x\\.(\\d+)",
    },
  };
  const [assignment] = _parseLayerDecay(spec).layers(["x.3"]).assignments;
  assert.deepEqual(assignment?.key, [0]);
  assert.equal(assignment?.pattern?.regex, "^x");
});

Deno.test("layers() reads captures as Python's float() does and joins equal numbers", () => {
  // timm gives these names layers 0, 1, 1, 2 and 0, 0, 1 (float("-0") == 0.0).
  const spec = { layerDecay: 0.5, groupMatcher: { x: "^x\\.(.*)" } };
  assert.deepEqual(
    layersOf(spec, ["x. 5 ", "x.1_0", "x.1e1", "x.inf"]),
    [0, 1, 1, 2],
  );
  assert.deepEqual(layersOf(spec, ["x.-0", "x.0", "x.1"]), [0, 0, 1]);
  assert.deepEqual(layersOf(spec, ["x.+.5", "x.5.", "x.-INFINITY"]), [1, 2, 0]);
});

Deno.test("layers() clamps scales at minScale and computes layerDecay ** (L - 1 - i)", () => {
  const names = ["blocks.0", "blocks.1", "blocks.2", "blocks.3", "head"];
  const matcher = { blocks: "^blocks\\.(\\d+)" };
  const scales = (spec: object) => _parseLayerDecay(spec).layers(names).scales;
  assert.deepEqual(scales({ layerDecay: 0.5, groupMatcher: matcher }), [
    0.0625,
    0.125,
    0.25,
    0.5,
    1,
  ]);
  assert.deepEqual(
    scales({ layerDecay: 0.5, groupMatcher: matcher, minScale: 0.2 }),
    [0.2, 0.2, 0.25, 0.5, 1],
  );
  assert.deepEqual(
    scales({ layerDecay: 0.5, groupMatcher: matcher, minScale: 1 }),
    [1, 1, 1, 1, 1],
  );
  assert.deepEqual(
    scales({ layerDecay: 1, groupMatcher: matcher }),
    [1, 1, 1, 1, 1],
  );
  assert.deepEqual(
    scales({ layerDecay: 0.65, groupMatcher: matcher }),
    [0.65 ** 4, 0.65 ** 3, 0.65 ** 2, 0.65, 1],
  );
});

Deno.test("layers() of no names is empty", () => {
  const table = _parseLayerDecay({ layerDecay: 0.5, groupMatcher: {} })
    .layers([]);
  assert.deepEqual(table, { layerCount: 0, scales: [], assignments: [] });
});

Deno.test("layers() gives the same layers to the spec after a JSON round trip", () => {
  const specs: unknown[] = readFixtures().map(specOf);
  specs.push({
    layerDecay: 0.65,
    groupMatcher: { skip: null, a: [["^a\\.(\\d+)", [1, 2]]], b: "^b" },
    minScale: 0.1,
  });
  const names = readFixtures().flatMap((f) => f.names).concat(["a.1", "b"]);
  const summary = (table: _LayerTable) =>
    table.assignments.map(({ layer, scale, key }) => [layer, scale, key]);
  for (const spec of specs) {
    const copy = JSON.parse(JSON.stringify(spec));
    assert.deepEqual(
      summary(_parseLayerDecay(copy).layers(names)),
      summary(_parseLayerDecay(spec).layers(names)),
    );
  }
});

Deno.test("_compileStringPattern().matchAtStart() matches at index 0 on every call, whatever came before", () => {
  const match = _compileStringPattern("a(\\d)|b", "regex").matchAtStart;
  assert.deepEqual(match("a1.x"), ["1"]);
  assert.deepEqual(match("b"), [undefined]);
  assert.equal(match("xa1"), null);
  assert.deepEqual(match("a2"), ["2"]);
});

// About 0.1-0.3 s here on a shared two-core machine; the bound leaves room for a slow CI.
Deno.test("layers() puts 100,000 names in layers in linear time, under 2 s", () => {
  const names: string[] = ["cls_token", "pos_embed", "patch_embed.proj.weight"];
  for (let block = 0; names.length < 100_000; block++) {
    for (const part of ["norm1", "attn.qkv", "attn.proj", "norm2", "mlp.fc1"]) {
      names.push(
        `blocks.${block}.${part}.weight`,
        `blocks.${block}.${part}.bias`,
      );
    }
  }
  names.length = 100_000;
  const parsed = _parseLayerDecay({
    layerDecay: 0.75,
    groupMatcher: {
      stem: "^cls_token|reg_token|pos_embed|patch_embed",
      blocks: [["^blocks\\.(\\d+)", null], ["^norm", [99999]]],
    },
  });
  const start = performance.now();
  const table = parsed.layers(names);
  const elapsed = performance.now() - start;
  assert.equal(table.assignments.length, 100_000);
  assert.equal(table.layerCount, 10_001);
  assert.ok(elapsed < 2000, `took ${elapsed.toFixed(0)} ms`);
});

Deno.test("layers() rejects a group that did not take part in the match, as timm fails on float(None)", () => {
  const parsed = _parseLayerDecay({
    layerDecay: 0.5,
    groupMatcher: { blocks: [["^blocks\\.(\\d+)?", null]] },
  });
  assertPolicyError(
    () => parsed.layers(["blocks.1", "blocks.x"]),
    'groupMatcher entry "blocks" pair 0 regex "^blocks\\\\.(\\\\d+)?" matched parameter "blocks.x" but its group 1 did not take part in the match; timm fails there too (float(None)), so make the group required',
    "blocks.x",
  );
});

Deno.test("layers() rejects captures that are not numbers to Python's float()", () => {
  const parsed = _parseLayerDecay({
    layerDecay: 0.5,
    groupMatcher: { any: "^(\\w*)" },
  });
  const prefix = 'groupMatcher entry "any" regex "^(\\\\w*)" matched parameter';
  assertPolicyError(
    () => parsed.layers(["head.weight"]),
    `${prefix} "head.weight" but its group 1 captured "head", which is not a number (timm reads groups with Python's float())`,
    "head.weight",
  );
  assertPolicyError(
    () => parsed.layers([".weight"]),
    `${prefix} ".weight" but its group 1 captured "", which is not a number (timm reads groups with Python's float())`,
    ".weight",
  );
  assertPolicyError(
    () => parsed.layers(["1__0"]),
    `${prefix} "1__0" but its group 1 captured "1__0", which is not a number (timm reads groups with Python's float())`,
    "1__0",
  );
  assertPolicyError(
    () => parsed.layers(["nan"]),
    `${prefix} "nan" but its group 1 captured "nan", which is NaN; NaN keys cannot be sorted`,
    "nan",
  );
  const anything = _parseLayerDecay({
    layerDecay: 0.5,
    groupMatcher: { x: "^x\\.(.*)" },
  });
  assertPolicyError(
    () => anything.layers(["x.٣"]),
    'groupMatcher entry "x" regex "^x\\\\.(.*)" matched parameter "x.٣" but its group 1 captured "٣", which is not ASCII; only ASCII numbers are read here',
    "x.٣",
  );
});

/** Bad specs and the exact message each gets. */
const BAD_SPECS: readonly (readonly [string, unknown, string])[] = [
  [
    "null",
    null,
    "Expected a layer decay spec { layerDecay, groupMatcher, minScale? } but found null",
  ],
  [
    "an array",
    [0.75],
    "Expected a layer decay spec { layerDecay, groupMatcher, minScale? } but found [0.75]",
  ],
  [
    "a Map",
    new Map(),
    "Expected a layer decay spec { layerDecay, groupMatcher, minScale? } but found a Map",
  ],
  [
    "timm's layer_decay",
    { layer_decay: 0.75, groupMatcher: {} },
    'Layer decay spec has unknown key "layer_decay": use layerDecay',
  ],
  [
    "timm's group_matcher",
    { layerDecay: 0.75, group_matcher: {} },
    'Layer decay spec has unknown key "group_matcher": use groupMatcher',
  ],
  [
    "timm's min_scale",
    { layerDecay: 0.75, groupMatcher: {}, min_scale: 0 },
    'Layer decay spec has unknown key "min_scale": use minScale',
  ],
  [
    "timm's no_opt_scale",
    { layerDecay: 0.75, groupMatcher: {}, no_opt_scale: 0.01 },
    `Layer decay spec has unknown key "no_opt_scale": timm's no_opt_scale has no counterpart`,
  ],
  [
    "another key",
    { layerDecay: 0.75, groupMatcher: {}, lr: 1 },
    'Layer decay spec has unknown key "lr": expected layerDecay, groupMatcher and minScale',
  ],
  [
    "no layerDecay",
    { groupMatcher: {} },
    "Expected layerDecay to be a number in (0, 1] but found undefined",
  ],
  [
    "layerDecay 0",
    { layerDecay: 0, groupMatcher: {} },
    "Expected layerDecay to be a number in (0, 1] but found 0",
  ],
  [
    "layerDecay above 1",
    { layerDecay: 1.5, groupMatcher: {} },
    "Expected layerDecay to be a number in (0, 1] but found 1.5",
  ],
  [
    "layerDecay NaN",
    { layerDecay: NaN, groupMatcher: {} },
    "Expected layerDecay to be a number in (0, 1] but found NaN",
  ],
  [
    "layerDecay a string",
    { layerDecay: "0.75", groupMatcher: {} },
    'Expected layerDecay to be a number in (0, 1] but found "0.75"',
  ],
  [
    "minScale negative",
    { layerDecay: 0.75, groupMatcher: {}, minScale: -0.1 },
    "Expected minScale to be a number in [0, 1] but found -0.1",
  ],
  [
    "minScale above 1",
    { layerDecay: 0.75, groupMatcher: {}, minScale: Infinity },
    "Expected minScale to be a number in [0, 1] but found Infinity",
  ],
  [
    "minScale NaN",
    { layerDecay: 0.75, groupMatcher: {}, minScale: NaN },
    "Expected minScale to be a number in [0, 1] but found NaN",
  ],
  [
    "minScale null",
    { layerDecay: 0.75, groupMatcher: {}, minScale: null },
    "Expected minScale to be a number in [0, 1] but found null",
  ],
  [
    "no groupMatcher",
    { layerDecay: 0.75 },
    "Expected groupMatcher to be a plain object of timm group_matcher entries but found undefined",
  ],
  [
    "groupMatcher an array",
    { layerDecay: 0.75, groupMatcher: [["^a", null]] },
    'Expected groupMatcher to be a plain object of timm group_matcher entries but found [["^a", null]]',
  ],
  [
    "groupMatcher a Map",
    { layerDecay: 0.75, groupMatcher: new Map([["stem", "^stem"]]) },
    "Expected groupMatcher to be a plain object of timm group_matcher entries but found a Map",
  ],
  [
    "an integer-like key",
    { layerDecay: 0.75, groupMatcher: { stem: "^stem", 12: "^blocks" } },
    'groupMatcher key "12" is integer-like, so JavaScript lists it before the other keys and its ordinal would be wrong; use a name such as "layer12"',
  ],
  [
    "an entry of a wrong type",
    { layerDecay: 0.75, groupMatcher: { stem: 5 } },
    'groupMatcher entry "stem" must be a regex string, null, or an array of [regex, suffix] pairs but found 5',
  ],
  [
    "an entry that is an object",
    { layerDecay: 0.75, groupMatcher: { stem: { regex: "^stem" } } },
    'groupMatcher entry "stem" must be a regex string, null, or an array of [regex, suffix] pairs but found an object',
  ],
  [
    "a bare regex in an array entry",
    { layerDecay: 0.75, groupMatcher: { blocks: ["^blocks"] } },
    'groupMatcher entry "blocks" pair 0 must be a [regex, suffix] pair but found "^blocks"',
  ],
  [
    "a pair without a suffix",
    { layerDecay: 0.75, groupMatcher: { blocks: [["^a", null], ["^norm"]] } },
    'groupMatcher entry "blocks" pair 1 must be a [regex, suffix] pair but found ["^norm"]',
  ],
  [
    "a triple",
    { layerDecay: 0.75, groupMatcher: { blocks: [["^a", null, 1]] } },
    'groupMatcher entry "blocks" pair 0 must be a [regex, suffix] pair but found ["^a", null, 1]',
  ],
  [
    "a hole in an array entry",
    { layerDecay: 0.75, groupMatcher: { blocks: new Array(1) } },
    'groupMatcher entry "blocks" pair 0 must be a [regex, suffix] pair but found undefined',
  ],
  [
    "a regex that is not a string",
    { layerDecay: 0.75, groupMatcher: { blocks: [[/^a/, null]] } },
    'groupMatcher entry "blocks" pair 0 must have a regex string first but found /^a/',
  ],
  [
    "a suffix that is a bare number",
    { layerDecay: 0.75, groupMatcher: { blocks: [["^norm", 99999]] } },
    'groupMatcher entry "blocks" pair 0 must have a suffix that is null or an array of finite numbers but found 99999',
  ],
  [
    "a suffix of strings",
    { layerDecay: 0.75, groupMatcher: { blocks: [["^norm", ["0"]]] } },
    'groupMatcher entry "blocks" pair 0 must have a suffix that is null or an array of finite numbers but found ["0"]',
  ],
  [
    "a suffix with NaN",
    { layerDecay: 0.75, groupMatcher: { blocks: [["^norm", [1, NaN]]] } },
    'groupMatcher entry "blocks" pair 0 must have a suffix that is null or an array of finite numbers but found [1, NaN]',
  ],
  [
    "a suffix with a hole",
    { layerDecay: 0.75, groupMatcher: { blocks: [["^norm", new Array(1)]] } },
    'groupMatcher entry "blocks" pair 0 must have a suffix that is null or an array of finite numbers but found [undefined]',
  ],
  [
    "an invalid regex string",
    { layerDecay: 0.75, groupMatcher: { stem: "^(stem" } },
    'groupMatcher entry "stem" regex "^(stem" is not a valid regular expression (RE2 syntax): missing closing ): "^(stem"',
  ],
  [
    "an invalid regex in a pair",
    {
      layerDecay: 0.75,
      groupMatcher: { a: "^a", b: [["^b", null], ["*", null]] },
    },
    'groupMatcher entry "b" pair 1 regex "*" is not a valid regular expression (RE2 syntax): missing argument to repetition operator: "*"',
  ],
];

for (const [what, spec, message] of BAD_SPECS) {
  Deno.test(`_parseLayerDecay() rejects ${what} with a PolicyError`, () => {
    assertPolicyError(() => _parseLayerDecay(spec), message);
  });
}

Deno.test("_parseLayerDecay() bounds the quoted values in its messages", () => {
  const long = "x".repeat(1000);
  assert.throws(
    () => _parseLayerDecay({ layerDecay: 0.5, groupMatcher: { [long]: 5 } }),
    (error) => {
      assert.ok(error instanceof PolicyError);
      assert.ok(error.message.length < 400, error.message);
      assert.match(error.message, /… \(cut, 1002 characters\)/);
      return true;
    },
  );
});

Deno.test("_parseLayerDecay() takes specs without a prototype, and a missing minScale as 0", () => {
  const matcher = Object.assign(Object.create(null), { a: "^a" });
  const spec = Object.assign(Object.create(null), {
    layerDecay: 0.5,
    groupMatcher: matcher,
  });
  const parsed = _parseLayerDecay(spec);
  assert.equal(parsed.minScale, 0);
  assert.deepEqual(parsed.layers(["a", "b"]).scales, [0.5, 1]);
});
