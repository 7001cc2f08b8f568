// Copyright 2026 the weight-decay authors. MIT license.
import assert from "node:assert/strict";
import { explain, getParamGroups, NORM_TYPES } from "../mod.ts";
import { tfjsNamedParameters } from "../tfjs.ts";
import { normModel, type tf, tfjsTest, tfl } from "./_tfjs.ts";

const MOBILE_POLICY = [[0, "bias"], [0, NORM_TYPES], 4e-5] as const;

const namesOf = (model: tfl.LayersModel) =>
  tfjsNamedParameters(model).map((p) => p.name);

// --- tfjsNamedParameters ------------------------------------------------------------

tfjsTest(
  "tfjsNamedParameters() names trainable weights layerName.weightName, owned by their layers",
  "cpu",
  () => {
    const model = normModel();
    const named = tfjsNamedParameters<tf.Variable>(model);
    assert.deepEqual(named.map((p) => p.name), [
      "stem.kernel",
      "stem.bias",
      "bn.gamma",
      "bn.beta",
      "block.fc.kernel",
      "block.fc.bias",
      "block.ln.gamma",
      "block.ln.beta",
      "norm.gamma",
      "norm.beta",
      "head.kernel",
      "head.bias",
    ]);
    const block = model.getLayer("block") as tfl.Sequential;
    const owners = [
      model.getLayer("stem"),
      model.getLayer("bn"),
      block.getLayer("fc"),
      block.getLayer("ln"),
      model.getLayer("norm"),
      model.getLayer("head"),
    ];
    assert.deepEqual(
      named.map((p) => p.owner),
      owners.flatMap((layer) => [layer, layer]),
    );
    assert.deepEqual(
      named.map((p) => p.param),
      model.trainableWeights.map((w) => w.read()),
      "the params are the variables training updates",
    );
    assert.ok(named.every((p) => p.aliases === undefined));
    model.dispose();
  },
);

tfjsTest(
  "tfjsNamedParameters() leaves out moving statistics and frozen layers and models",
  "cpu",
  () => {
    const model = normModel();
    const bn = model.getLayer("bn");
    assert.equal(bn.weights.length, 4, "gamma, beta, moving mean and variance");
    model.getLayer("head").trainable = false;
    assert.deepEqual(namesOf(model), [
      "stem.kernel",
      "stem.bias",
      "bn.gamma",
      "bn.beta",
      "block.fc.kernel",
      "block.fc.bias",
      "block.ln.gamma",
      "block.ln.beta",
      "norm.gamma",
      "norm.beta",
    ]);
    model.getLayer("block").trainable = false;
    assert.deepEqual(namesOf(model), [
      "stem.kernel",
      "stem.bias",
      "bn.gamma",
      "bn.beta",
      "norm.gamma",
      "norm.beta",
    ]);
    model.dispose();
  },
);

tfjsTest(
  "tfjsNamedParameters() names default-named layers as TensorFlow.js does, before it makes variable names unique",
  "cpu",
  () => {
    const make = () =>
      tfl.sequential({
        layers: [
          tfl.layers.dense({ units: 2, inputShape: [3] }),
          tfl.layers.dense({ units: 1, name: "out" }),
        ],
      });
    const first = make();
    const second = make(); // its "out/kernel" variable is renamed "out/kernel_1"
    const dense = second.layers[0]!;
    assert.match(dense.name, /^dense_Dense\d+$/);
    assert.notEqual(
      second.getLayer("out").trainableWeights[0]!.name,
      "out/kernel",
    );
    assert.deepEqual(namesOf(second), [
      `${dense.name}.kernel`,
      `${dense.name}.bias`,
      "out.kernel",
      "out.bias",
    ]);
    first.dispose();
    second.dispose();
  },
);

tfjsTest(
  "tfjsNamedParameters() gives a weight reachable twice one entry with an alias",
  "cpu",
  () => {
    const shared = tfl.layers.dense({ units: 3, name: "shared" });
    const block = tfl.sequential({
      name: "block",
      layers: [
        tfl.layers.dense({ units: 3, inputShape: [3], name: "pre" }),
        shared,
      ],
    });
    const input = tfl.input({ shape: [3] });
    const output = block.apply(shared.apply(input)) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: output });
    assert.equal(model.trainableWeights.length, 6, "tfjs lists shared twice");
    const named = tfjsNamedParameters(model);
    assert.deepEqual(
      named.map((p) => [p.name, p.aliases?.map((a) => a.name)]),
      [
        ["shared.kernel", ["block.shared.kernel"]],
        ["shared.bias", ["block.shared.bias"]],
        ["block.pre.kernel", undefined],
        ["block.pre.bias", undefined],
      ],
    );
    assert.equal(named[0]!.aliases![0]!.owner, shared);
    const groups = getParamGroups(named, MOBILE_POLICY);
    assert.equal(
      groups.flatMap((g) => g.params).length,
      4,
      "a shared weight is in one group once",
    );
    model.dispose();
  },
);

tfjsTest(
  "tfjsNamedParameters() names a wrapper's weights under the wrapper, which owns them",
  "cpu",
  () => {
    const input = tfl.input({ shape: [5, 3] });
    const rnn = tfl.layers.simpleRNN({
      units: 2,
      returnSequences: true,
      name: "rnn",
      recurrentInitializer: "glorotUniform",
    });
    const bi = tfl.layers.bidirectional({
      layer: rnn as tfl.RNN,
      name: "bi",
    });
    const td = tfl.layers.timeDistributed({
      layer: tfl.layers.dense({ units: 1, name: "frame" }),
      name: "td",
    });
    const output = td.apply(bi.apply(input)) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: output });
    const named = tfjsNamedParameters(model);
    assert.deepEqual(named.map((p) => p.name), [
      "bi.forward_rnn.kernel",
      "bi.forward_rnn.recurrent_kernel",
      "bi.forward_rnn.bias",
      "bi.backward_rnn.kernel",
      "bi.backward_rnn.recurrent_kernel",
      "bi.backward_rnn.bias",
      "td.kernel",
      "td.bias",
    ]);
    assert.deepEqual(
      named.map((p) => p.owner),
      [bi, bi, bi, bi, bi, bi, td, td],
    );
    model.dispose();
  },
);

Deno.test("tfjsNamedParameters() rejects what is not a layers model", () => {
  assert.throws(() => tfjsNamedParameters({} as tfl.LayersModel), {
    name: "TypeError",
    message:
      "Expected model to be a TensorFlow.js LayersModel with a layers array but found an object",
  });
  const weight = { originalName: "fc/kernel", read: () => [1, 2] };
  const layer = { name: "fc", trainableWeights: [weight] };
  const model = { name: "m", layers: [layer], trainableWeights: [weight] };
  assert.throws(() => tfjsNamedParameters(model), {
    name: "TypeError",
    message:
      'Expected weight "fc.kernel" to read as a tf.Variable but found [1, 2]',
  });
});

// --- grouping -----------------------------------------------------------------------

tfjsTest(
  "getParamGroups() with the basecls mobile policy leaves tfjs biases and norm weights undecayed",
  "cpu",
  () => {
    const model = normModel();
    const named = tfjsNamedParameters(model);
    const groups = getParamGroups(named, MOBILE_POLICY);
    assert.deepEqual(groups.map((g) => [g.weightDecay, g.names]), [
      [4e-5, ["stem.kernel", "block.fc.kernel", "head.kernel"]],
      [0, [
        "stem.bias",
        "bn.gamma",
        "bn.beta",
        "block.fc.bias",
        "block.ln.gamma",
        "block.ln.beta",
        "norm.gamma",
        "norm.beta",
        "head.bias",
      ]],
    ]);
    // tfjs calls norm weights gamma and beta: "bias" matches none of them, so the
    // NORM_TYPES rule (1), matched by layer class, is what keeps them undecayed.
    const rules = Object.fromEntries(
      explain(named, MOBILE_POLICY).assignments.map((a) => [a.name, a.rule]),
    );
    assert.deepEqual(
      [rules["bn.gamma"], rules["bn.beta"], rules["block.ln.beta"]],
      [1, 1, 1],
    );
    assert.equal(rules["stem.bias"], 0);
    const withoutNormRule = getParamGroups(named, [[0, "bias"], 4e-5]);
    assert.ok(
      withoutNormRule[0]!.names.includes("bn.beta"),
      "without [0, NORM_TYPES] tfjs norm weights would decay",
    );
    model.dispose();
  },
);
