// Copyright 2026 the weight-decay authors. MIT license.
import assert from "node:assert/strict";
import {
  CpuDecay,
  explain,
  getParamGroups,
  NORM_TYPES,
  type ParamGroup,
} from "../mod.ts";
import { TfjsDecay, tfjsNamedParameters } from "../tfjs.ts";
import { assertSameF32, instrument } from "./_gpu.ts";
import {
  type BackendName,
  hostTwin,
  normModel,
  tf,
  tfjsTest,
  tfl,
  webgpuDevice,
} from "./_tfjs.ts";

const MOBILE_POLICY = [[0, "bias"], [0, NORM_TYPES], 4e-5] as const;
/** Decays everything, each kind of parameter by a different amount. */
const ALL_DECAY_POLICY = [[0.02, "bias"], [0.05, NORM_TYPES], 0.1] as const;
const BACKENDS: readonly BackendName[] = ["cpu", "webgpu"];

/** A variable that owns its data alone (the initial tensor is freed). */
function variableOf(values: number[]): tf.Variable {
  return tf.tidy(() => tf.variable(tf.tensor1d(values)));
}

/** The error `fn` throws. */
function thrown(fn: () => void): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error("Expected a throw");
}

const namesOf = (model: tfl.LayersModel) =>
  tfjsNamedParameters(model).map((p) => p.name);

/** Asserts the variables hold exactly the host parameters' bits. */
async function assertMatchesHost(
  groups: readonly ParamGroup<tf.Variable>[],
  host: readonly ParamGroup[],
): Promise<void> {
  for (const [g, group] of groups.entries()) {
    for (const [i, variable] of group.params.entries()) {
      const { flushed, nanPayloads } = assertSameF32(
        await variable.data() as Float32Array,
        host[g]!.params[i]!.data,
        group.names[i]!,
      );
      assert.equal(flushed + nanPayloads, 0, "normal values match exactly");
    }
  }
}

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

// --- TfjsDecay ----------------------------------------------------------------------

for (const backend of BACKENDS) {
  tfjsTest(
    "TfjsDecay matches CpuDecay bit for bit over several steps",
    backend,
    async () => {
      const model = normModel(3);
      const groups = getParamGroups(
        tfjsNamedParameters<tf.Variable>(model),
        ALL_DECAY_POLICY,
      );
      const host = await hostTwin(groups);
      using decay = new TfjsDecay(tf, groups);
      const cpu = new CpuDecay(host);
      for (const lr of [0.1, 0.05, 1, 0, 0.003]) {
        decay.step(lr);
        cpu.step(lr);
      }
      assert.equal(
        decay.lastPath,
        backend === "webgpu" ? "fused" : "per-variable",
      );
      await assertMatchesHost(groups, host);
      model.dispose();
    },
  );

  tfjsTest(
    "TfjsDecay leaks no tensor",
    backend,
    async () => {
      const model = normModel();
      const groups = getParamGroups(
        tfjsNamedParameters<tf.Variable>(model),
        MOBILE_POLICY,
      );
      for (const fused of [true, false]) {
        using decay = new TfjsDecay(tf, groups, { fused });
        decay.step(0.1);
        const tensors = tf.memory().numTensors;
        for (let i = 0; i < 5; i++) decay.step(0.1);
        assert.equal(tf.memory().numTensors, tensors, `fused: ${fused}`);
        await groups[0]!.params[0]!.data();
      }
      model.dispose();
    },
  );

  tfjsTest(
    "TfjsDecay.step() rejects a bad lr before changing anything",
    backend,
    async () => {
      const model = normModel();
      const groups = getParamGroups(
        tfjsNamedParameters<tf.Variable>(model),
        [[0.6, "bias"], 0.1],
      );
      const host = await hostTwin(groups);
      using decay = new TfjsDecay(tf, groups);
      const cpu = new CpuDecay(host);
      const tensors = tf.memory().numTensors;
      for (const lr of [-1e-3, NaN, Infinity, "0.1", 2]) {
        const expected = thrown(() => cpu.step(lr as number));
        assert.throws(() => decay.step(lr as number), {
          name: expected.name,
          message: expected.message,
        });
      }
      assert.throws(() => decay.step(NaN), {
        name: "RangeError",
        message: "Expected lr to be a finite number >= 0 but found NaN",
      });
      assert.throws(() => decay.step(2), {
        name: "RangeError",
        message:
          "Expected lr * weightDecay <= 1 so parameters keep their sign, but group 1 has lr * weightDecay = 2 * 0.6 = 1.2, a factor of -0.19999999999999996",
      });
      assert.equal(tf.memory().numTensors, tensors);
      assert.equal(decay.lastPath, undefined, "no step ran");
      await assertMatchesHost(groups, host);
      model.dispose();
    },
  );
}

tfjsTest(
  "TfjsDecay skips groups whose factor is 1 on the per-variable path",
  "cpu",
  async () => {
    const model = normModel();
    const groups = getParamGroups(
      tfjsNamedParameters<tf.Variable>(model),
      MOBILE_POLICY,
    );
    const dataIds = groups.map((g) => g.params.map((v) => v.dataId));
    using decay = new TfjsDecay(tf, groups);
    decay.step(0.5);
    assert.ok(
      groups[0]!.params.every((v, i) => v.dataId !== dataIds[0]![i]),
      "decayed variables were assigned",
    );
    assert.ok(
      groups[1]!.params.every((v, i) => v.dataId === dataIds[1]![i]),
      "weight decay 0: not even assigned",
    );
    const tiny = new TfjsDecay(tf, groups);
    const before = await hostTwin(groups);
    tiny.step(1e-9); // Math.fround(1 - 1e-9 * 4e-5) === 1
    assert.equal(tiny.lastPath, undefined, "nothing to do");
    await assertMatchesHost(groups, before);
    model.dispose();
  },
);

tfjsTest(
  "TfjsDecay scales the decay as each scaling mode says",
  "cpu",
  async () => {
    const weight = variableOf([1]);
    const run = async (options: ConstructorParameters<typeof TfjsDecay>[2]) => {
      weight.assign(tf.ones([1]));
      new TfjsDecay(
        tf,
        [{ weightDecay: 0.1, params: [weight], names: ["w"] }],
        options,
      )
        .step(0.5);
      return (await weight.data())[0];
    };
    assert.equal(await run({ scaling: "lr" }), Math.fround(1 - 0.5 * 0.1));
    assert.equal(
      await run({ scaling: "schedule", maxLr: 2 }),
      Math.fround(1 - 0.25 * 0.1),
    );
    assert.equal(await run({ scaling: "independent" }), Math.fround(1 - 0.1));
    assert.equal(
      await run({ scaling: "corrected", maxLr: 2 }),
      Math.fround(1 - 0.125 * 0.1),
    );
    assert.throws(
      () => new TfjsDecay(tf, [], { scaling: "schedule" }),
      {
        name: "RangeError",
        message:
          'Expected maxLr to be a finite number > 0 for scaling "schedule" but found undefined',
      },
    );
    weight.dispose();
  },
);

tfjsTest(
  "new TfjsDecay() rejects what it cannot decay",
  "cpu",
  () => {
    const weight = variableOf([1, 2]);
    const one = (param: unknown): ParamGroup<tf.Variable>[] => [{
      weightDecay: 0.1,
      params: [param as tf.Variable],
      names: ["w"],
    }];
    assert.throws(() => new TfjsDecay({} as typeof tf, one(weight)), {
      name: "TypeError",
      message:
        'Expected tf to be the TensorFlow.js namespace (import * as tf from "@tensorflow/tfjs") but found an object without tidy, mul, scalar, backend',
    });
    const tensor = tf.tensor1d([1]);
    assert.throws(() => new TfjsDecay(tf, one(tensor)), {
      name: "TypeError",
      message:
        'Expected group 0 parameter "w" to be a tf.Variable but found a Tensor',
    });
    const counts = tf.tidy(() => tf.variable(tf.tensor1d([1], "int32")));
    assert.throws(() => new TfjsDecay(tf, one(counts)), {
      name: "TypeError",
      message:
        'Expected group 0 parameter "w" to be a float32 tf.Variable but found dtype "int32"',
    });
    assert.throws(
      () =>
        new TfjsDecay(tf, [
          { weightDecay: 0.1, params: [weight], names: ["a"] },
          { weightDecay: 0, params: [weight], names: ["b"] },
        ]),
      {
        name: "TypeError",
        message:
          'Expected each parameter in one place but group 1 parameter "b" is also group 0 parameter "a"; it would be decayed twice',
      },
    );
    const gone = variableOf([1]);
    gone.dispose();
    assert.throws(() => new TfjsDecay(tf, one(gone)), {
      name: "TypeError",
      message:
        'Expected group 0 parameter "w" to be a live tf.Variable but it was disposed',
    });
    tf.dispose([weight, tensor, counts]);
  },
);

tfjsTest(
  "TfjsDecay.step() refuses a disposed variable before changing any",
  "cpu",
  async () => {
    const kept = variableOf([1, 2]);
    const gone = variableOf([3]);
    using decay = new TfjsDecay(tf, [{
      weightDecay: 0.5,
      params: [kept, gone],
      names: ["kept", "gone"],
    }]);
    gone.dispose();
    assert.throws(() => decay.step(1), {
      name: "Error",
      message:
        'Expected group 0 parameter "gone" to be a live tf.Variable but it was disposed',
    });
    assert.deepEqual([...await kept.data()], [1, 2]);
    kept.dispose();
  },
);

tfjsTest(
  "TfjsDecay.destroy() is safe twice and makes step throw",
  "cpu",
  () => {
    const weight = variableOf([1]);
    const decay = new TfjsDecay(tf, [{
      weightDecay: 0.1,
      params: [weight],
      names: ["w"],
    }]);
    {
      using scoped = decay;
      scoped.step(0.1);
    }
    decay.destroy();
    assert.throws(() => decay.step(0.1), {
      name: "Error",
      message: "TfjsDecay has been destroyed",
    });
    assert.equal(weight.isDisposed, false, "destroy() never frees a variable");
    weight.dispose();
  },
);

// --- the fused path on webgpu -------------------------------------------------------

/** Runs `fn` with the webgpu backend's device instrumented, so calls are counted. */
async function withCountedDevice(
  fn: (counts: Record<string, number>) => Promise<void> | void,
): Promise<void> {
  const backend = tf.backend() as unknown as {
    device: GPUDevice;
    commandEncoder: GPUCommandEncoder | null;
    submitQueue(): void;
  };
  // Work recorded before counting goes out first, so counts hold only what fn causes.
  if (backend.commandEncoder !== null) backend.submitQueue();
  const real = backend.device;
  const { device, counts } = instrument(real);
  backend.device = device;
  try {
    await fn(counts);
  } finally {
    backend.device = real;
  }
}

tfjsTest(
  "TfjsDecay decays every variable in one fused pass per step, and runs no tfjs kernel",
  "webgpu",
  async () => {
    const model = normModel(5);
    const groups = getParamGroups(
      tfjsNamedParameters<tf.Variable>(model),
      ALL_DECAY_POLICY,
    );
    const variables = groups.flatMap((g) => g.params).length;
    const host = await hostTwin(groups);
    const cpu = new CpuDecay(host);
    using decay = new TfjsDecay(tf, groups);
    await withCountedDevice(async (counts) => {
      decay.step(0.2); // builds the pass: the variables' data is on the CPU until now
      cpu.step(0.2);
      const built = { ...counts };
      for (const lr of [0.1, 0.3, 0.05]) {
        decay.step(lr);
        cpu.step(lr);
      }
      assert.equal(decay.lastPath, "fused");
      assert.equal(counts.beginComputePass, 4, "one pass per step");
      const perDispatch =
        webgpuDevice().limits.maxStorageBuffersPerShaderStage - 3;
      assert.equal(
        counts.dispatchWorkgroups,
        4 * (1 + Math.ceil(variables / perDispatch)),
        "per step, the gate and one dispatch per batch of bindings",
      );
      assert.equal(
        counts.createBindGroup,
        built.createBindGroup,
        "no rebuild while buffers stay, and no tf.mul (each kernel makes a bind group)",
      );
      await assertMatchesHost(groups, host);
    });
    model.dispose();
  },
);

tfjsTest(
  "TfjsDecay stays bit-exact after the optimizer reassigns every variable, rebuilding its pass",
  "webgpu",
  async () => {
    const model = normModel(7);
    const groups = getParamGroups(
      tfjsNamedParameters<tf.Variable>(model),
      MOBILE_POLICY,
    );
    model.compile({ optimizer: tf.train.adam(0.01), loss: "meanSquaredError" });
    const xs = tf.randomNormal([16, 4]);
    const ys = tf.randomNormal([16, 2]);
    using decay = new TfjsDecay(tf, groups);
    await withCountedDevice(async (counts) => {
      for (let step = 0; step < 3; step++) {
        const dataIds = groups[0]!.params.map((v) => v.dataId);
        await model.trainOnBatch(xs, ys);
        assert.ok(
          groups[0]!.params.every((v, i) => v.dataId !== dataIds[i]),
          "Adam assigned new data",
        );
        // Reading caches each value on the host, which the decay must invalidate.
        const host = await hostTwin(groups);
        const bindGroups = counts.createBindGroup ?? 0;
        const passes = counts.beginComputePass ?? 0;
        decay.step(0.01);
        new CpuDecay(host).step(0.01);
        assert.equal(decay.lastPath, "fused");
        assert.equal(counts.beginComputePass, passes + 1);
        assert.ok(counts.createBindGroup! > bindGroups, "the pass was rebuilt");
        await assertMatchesHost(groups, host);
      }
    });
    tf.dispose([xs, ys]);
    model.dispose();
  },
);

tfjsTest(
  "TfjsDecay runs after the work TensorFlow.js has queued but not submitted",
  "webgpu",
  async () => {
    const weight = variableOf([1, 2, 3, 4]);
    using decay = new TfjsDecay(tf, [{
      weightDecay: 0.5,
      params: [weight],
      names: ["w"],
    }]);
    decay.step(0.5); // uploads the variable, so the next assign runs on the GPU
    const backend = tf.backend() as unknown as { commandEncoder: unknown };
    tf.tidy(() => weight.assign(tf.add(weight, 10)));
    assert.notEqual(backend.commandEncoder, null, "tfjs still holds the add");
    decay.step(1);
    assert.equal(decay.lastPath, "fused");
    const f = Math.fround(0.75);
    const expected = [1, 2, 3, 4].map((x) =>
      Math.fround(Math.fround(Math.fround(x * f) + 10) * 0.5)
    );
    assert.deepEqual([...await weight.data()], expected);
    weight.dispose();
  },
);

tfjsTest(
  "TfjsDecay falls back to per-variable for a variable whose data another tensor shares",
  "webgpu",
  async () => {
    const initial = tf.tensor1d([2, 4]);
    const weight = tf.variable(initial); // shares initial's data until assigned
    using decay = new TfjsDecay(tf, [{
      weightDecay: 0.5,
      params: [weight],
      names: ["w"],
    }]);
    decay.step(1);
    assert.equal(decay.lastPath, "per-variable");
    assert.deepEqual(
      [...await initial.data()],
      [2, 4],
      "the other tensor is untouched",
    );
    assert.deepEqual([...await weight.data()], [1, 2]);
    decay.step(1);
    assert.equal(
      decay.lastPath,
      "fused",
      "assign gave the variable data of its own",
    );
    assert.deepEqual([...await weight.data()], [0.5, 1]);
    assert.deepEqual([...await initial.data()], [2, 4]);
    tf.dispose([initial, weight]);
  },
);

tfjsTest(
  "TfjsDecay with fused: false keeps to the per-variable path on webgpu",
  "webgpu",
  async () => {
    const model = normModel(9);
    const groups = getParamGroups(
      tfjsNamedParameters<tf.Variable>(model),
      ALL_DECAY_POLICY,
    );
    const host = await hostTwin(groups);
    using decay = new TfjsDecay(tf, groups, { fused: false });
    const cpu = new CpuDecay(host);
    for (const lr of [0.1, 0.7]) {
      decay.step(lr);
      cpu.step(lr);
    }
    assert.equal(decay.lastPath, "per-variable");
    await assertMatchesHost(groups, host);
    model.dispose();
  },
);

tfjsTest(
  "TfjsDecay steps on whichever backend is current, fused once the data is on webgpu",
  "webgpu",
  async () => {
    // Data moves from cpu to webgpu, not back: tfjs-backend-webgpu reads synchronously
    // through an OffscreenCanvas, which Deno lacks.
    await tf.setBackend("cpu");
    const model = normModel(11);
    const groups = getParamGroups(
      tfjsNamedParameters<tf.Variable>(model),
      ALL_DECAY_POLICY,
    );
    const host = await hostTwin(groups);
    using decay = new TfjsDecay(tf, groups);
    const cpu = new CpuDecay(host);
    decay.step(0.1);
    cpu.step(0.1);
    assert.equal(decay.lastPath, "per-variable");
    await tf.setBackend("webgpu");
    decay.step(0.2); // the data is still the cpu backend's: tf.mul moves it
    cpu.step(0.2);
    assert.equal(decay.lastPath, "per-variable");
    decay.step(0.3);
    cpu.step(0.3);
    assert.equal(decay.lastPath, "fused");
    await assertMatchesHost(groups, host);
    model.dispose();
  },
);
