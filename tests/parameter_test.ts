// Copyright 2026 the weight-decay authors. MIT license.
import assert from "node:assert/strict";
import { namedParameters, Parameter } from "../mod.ts";
import { ResNet50 } from "./_models.ts";

Deno.test("Parameter keeps a Float32Array as given and copies a number array", () => {
  const data = new Float32Array([1, 2, 3]);
  const wrapped = new Parameter(data);
  assert.equal(wrapped.data, data);
  assert.deepEqual(wrapped.shape, [3]);
  assert.equal(wrapped.size, 3);

  const copied = new Parameter([1.5, 2.5], [1, 2]);
  assert.deepEqual([...copied.data], [1.5, 2.5]);
  assert.deepEqual(copied.shape, [1, 2]);
  assert.ok(Object.isFrozen(copied.shape));
});

Deno.test("Parameter accepts empty tensors and scalars", () => {
  assert.equal(new Parameter([], [0, 5]).size, 0);
  assert.deepEqual(new Parameter([7], []).shape, []);
});

Deno.test("Parameter rejects data that is not Float32Array or numbers", () => {
  assert.throws(() => new Parameter(new Float64Array(2) as never), {
    name: "TypeError",
    message:
      "Expected parameter data to be a Float32Array or an array of numbers but found a Float64Array",
  });
  assert.throws(() => new Parameter([1, "2"] as never), {
    name: "TypeError",
    message:
      'Expected parameter data to hold only numbers but found "2" at index 1',
  });
});

Deno.test("Parameter rejects a shape that disagrees with its data", () => {
  assert.throws(() => new Parameter([1, 2, 3], [2, 2]), {
    name: "RangeError",
    message: "Expected shape [2, 2] to hold 4 values but data has 3",
  });
  assert.throws(() => new Parameter([1, 2], [2.5] as never), {
    name: "TypeError",
    message:
      "Expected shape to be an array of non-negative integers but found [2.5]",
  });
  assert.throws(() => new Parameter([1, 2], [-2, -1]), TypeError);
});

Deno.test("namedParameters() names a ResNet-50 like torchvision", () => {
  const named = namedParameters(new ResNet50());
  assert.equal(named.length, 161);
  assert.equal(named.reduce((n, p) => n + p.param.size, 0), 25_557_032);
  assert.deepEqual(named.slice(0, 4).map((p) => p.name), [
    "conv1.weight",
    "bn1.weight",
    "bn1.bias",
    "layer1.0.conv1.weight",
  ]);
  assert.ok(named.some((p) => p.name === "layer1.0.downsample.1.bias"));
  assert.deepEqual(named.slice(-2).map((p) => p.name), [
    "fc.weight",
    "fc.bias",
  ]);
});

Deno.test("namedParameters() gives the nearest non-array, non-Map holder as owner", () => {
  const weight = new Parameter([1]);
  const inMap = new Parameter([2]);
  const block = {
    weights: [weight],
    table: new Map<unknown, unknown>([["w", inMap], [3, new Parameter([9])]]),
    set: new Set([new Parameter([4])]),
  };
  const named = namedParameters([block]);
  assert.deepEqual(named.map((p) => p.name), [
    "0.weights.0",
    "0.table.w",
    "0.table.3",
    "0.set.0",
  ]);
  for (const { owner } of named) assert.equal(owner, block);
  const top = namedParameters([new Parameter([1])]);
  assert.equal(top[0]!.owner, undefined);
  assert.ok(!("owner" in top[0]!));
});

Deno.test("namedParameters() yields a tied parameter once with the names that hold it directly", () => {
  const embedding = new Parameter([1, 2]);
  const encoder = { embed: embedding };
  const decoder = { project: embedding, alsoEmbed: embedding };
  const named = namedParameters({ encoder, decoder, again: encoder });
  assert.equal(named.length, 1);
  assert.equal(named[0]!.name, "encoder.embed");
  // "again.embed" is the same holder and key met through a shared layer: no alias.
  assert.deepEqual(named[0]!.aliases, [
    { name: "decoder.project", owner: decoder },
    { name: "decoder.alsoEmbed", owner: decoder },
  ]);
});

Deno.test("namedParameters() rejects a parameter under a Map key it cannot name", () => {
  const model = { table: new Map([[{}, new Parameter([1])]]) };
  assert.throws(() => namedParameters(model), {
    name: "TypeError",
    message:
      'Expected the Map at "table" to hold parameters under string or number keys but found an object',
  });
});

Deno.test("namedParameters() walks a graph-shaped model once per layer", () => {
  // Each layer lists every earlier layer as an input: 2^n paths, n layers.
  const layers: { weight: Parameter; inputs: unknown[] }[] = [];
  for (let i = 0; i < 200; i++) {
    layers.push({ weight: new Parameter([i]), inputs: [...layers] });
  }
  const started = performance.now();
  const named = namedParameters({ layers });
  const elapsed = performance.now() - started;
  assert.equal(named.length, 200);
  assert.ok(named.every((p) => p.aliases === undefined));
  assert.equal(named[199]!.name, "layers.199.weight");
  assert.ok(elapsed < 2_000, `${elapsed} ms`);
});

Deno.test("namedParameters() walks a chain 100,000 layers deep without recursion", () => {
  type Layer = { weight: Parameter; next?: Layer; prev?: Layer };
  const head: Layer = { weight: new Parameter([0]) };
  let tail = head;
  for (let i = 1; i < 100_000; i++) {
    const layer: Layer = { weight: new Parameter([i]), prev: tail };
    tail.next = layer;
    tail = layer;
  }
  const started = performance.now();
  const named = namedParameters({ head });
  const elapsed = performance.now() - started;
  assert.equal(named.length, 100_000);
  assert.equal(named[2]!.name, "head.next.next.weight");
  assert.equal(named[99_999]!.param, tail.weight);
  assert.ok(elapsed < 10_000, `${elapsed} ms`);
});

Deno.test("namedParameters() skips cycles instead of hanging", () => {
  const layer: Record<string, unknown> = { weight: new Parameter([1]) };
  layer.parent = layer;
  const model = { layer, list: [] as unknown[] };
  model.list.push(model);
  assert.deepEqual(namedParameters(model).map((p) => p.name), ["layer.weight"]);
});

Deno.test("namedParameters() never calls getters and skips binary data", () => {
  let called = false;
  const model = {
    weight: new Parameter([1]),
    get computed() {
      called = true;
      return new Parameter([2]);
    },
    buffer: new Float32Array(1_000_000),
    raw: new ArrayBuffer(8),
  };
  assert.deepEqual(namedParameters(model).map((p) => p.name), ["weight"]);
  assert.equal(called, false);
});

Deno.test("namedParameters() finds other tensor types with isParameter", () => {
  class Tensor {
    constructor(readonly values: number[]) {}
  }
  const model = { dense: { kernel: new Tensor([1]), bias: new Tensor([2]) } };
  const named = namedParameters(model, {
    isParameter: (v): v is Tensor => v instanceof Tensor,
  });
  assert.deepEqual(named.map((p) => p.name), ["dense.kernel", "dense.bias"]);
  assert.ok(named[0]!.param instanceof Tensor);
});

Deno.test("namedParameters() rejects a root that is no model", () => {
  assert.throws(() => namedParameters(null as never), {
    name: "TypeError",
    message: "Expected root to be an object but found null",
  });
  assert.throws(() => namedParameters(new Parameter([1])), {
    name: "TypeError",
    message:
      "Expected root to be a model holding parameters but found a parameter",
  });
  assert.throws(() => namedParameters({}, { isParameter: 3 as never }), {
    name: "TypeError",
    message: "Expected isParameter to be a function but found 3",
  });
});
