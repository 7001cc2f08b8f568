// Copyright 2026 the weight-decay authors. MIT license.
import assert from "node:assert/strict";
import {
  CpuAdamW,
  getParamGroups,
  type GroupPolicy,
  NORM_TYPES,
  Parameter,
  type ParamGroup,
} from "../mod.ts";
import {
  registerTfjsAdamW,
  type TfjsAdamW,
  tfjsAdamW,
  type TfjsAdamWOptions,
  type TfjsAdamWPath,
  tfjsNamedParameters,
  warmupCosine,
} from "../tfjs.ts";
import { bits, instrument } from "./_gpu.ts";
import { maxUlpDistance } from "./_ulp.ts";
import { random, randomData } from "./_models.ts";
import {
  type BackendName,
  hostTwin,
  normModel,
  tf,
  tfjsTest,
  tfl,
  webgpuDevice,
} from "./_tfjs.ts";

const BACKENDS: readonly BackendName[] = ["cpu", "webgpu"];
/** A TfjsAdamW with TensorFlow.js's own types, as tfjsAdamW() returns it. */
type AdamW = tf.Optimizer & TfjsAdamW;
/** Decay but not on biases and norms, and a head that learns twice as fast. */
const POLICY: GroupPolicy = {
  weightDecay: [[0, "bias"], [0, NORM_TYPES], 0.1],
  lrScale: [[2, "^head\\."], [0.5, "^stem\\."], 1],
};
/**
 * How far from CpuAdamW the paths that are not bit for bit may land, per step: the
 * bound GpuAdamW is tested with. The per-variable path rounds each moment's
 * multiply-add twice where CpuAdamW fuses it; WGSL's sqrt and division need not be
 * correctly rounded.
 */
const ULP_PER_STEP = 4;

/** The path a backend's fast path is. */
const FAST_PATH: Record<BackendName, TfjsAdamWPath> = {
  cpu: "host",
  webgpu: "fused",
};

/** The error `fn` throws, or the rejection of what it returns. */
async function failure(fn: () => unknown): Promise<Error> {
  try {
    await fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error("Expected a throw");
}

/** A model's groups under POLICY, with their host twins for CpuAdamW. */
async function setUp(seed = 1, policy: GroupPolicy = POLICY) {
  const model = normModel(seed);
  const groups = getParamGroups(
    tfjsNamedParameters<tf.Variable>(model),
    policy,
  );
  return { model, groups, host: await hostTwin(groups) };
}

/**
 * Seeded gradients for every variable: as tensors keyed by variable name, and on the
 * host twins. `poison` puts a value into the first gradient.
 */
function gradients(
  groups: readonly ParamGroup<tf.Variable>[],
  host: readonly ParamGroup[],
  next: () => number,
  poison?: number,
): Record<string, tf.Tensor> {
  const grads: Record<string, tf.Tensor> = {};
  groups.forEach((group, g) =>
    group.params.forEach((variable, i) => {
      const data = randomData(variable.size, next);
      if (poison !== undefined && g === 0 && i === 0) data[0] = poison;
      host[g]!.params[i]!.grad = data;
      grads[variable.name] = tf.tensor(data, variable.shape);
    })
  );
  return grads;
}

/** One step of both optimizers with the same seeded gradients. */
function stepBoth(
  optimizer: AdamW,
  reference: CpuAdamW,
  groups: readonly ParamGroup<tf.Variable>[],
  host: readonly ParamGroup[],
  next: () => number,
  lr: number,
  poison?: number,
): void {
  const grads = gradients(groups, host, next, poison);
  optimizer.applyGradients(grads);
  reference.step(lr);
  tf.dispose(Object.values(grads));
}

/** Which part of the state a distance is about. */
type Part = "p" | "m" | "v";

/**
 * The largest error of `actual` in ULP of the largest `expected` value: a normwise
 * distance, for values that may cancel to nearly nothing, where ULP of the value
 * itself would measure the cancellation rather than the arithmetic.
 */
function normwiseUlpDistance(
  actual: Float32Array,
  expected: Float32Array,
): number {
  let error = 0;
  let scale = 0;
  expected.forEach((e, i) => {
    error = Math.max(error, Math.abs(actual[i]! - e));
    scale = Math.max(scale, Math.abs(e));
  });
  if (error === 0) return 0;
  return error / 2 ** (Math.floor(Math.log2(scale)) - 23);
}

/**
 * The largest distances in ULP between the optimizer and CpuAdamW over parameters, first
 * moments and second moments, value by value or (for the parts in `normwise`) normwise;
 * and asserts that their step counts agree.
 */
async function distance(
  optimizer: AdamW,
  reference: CpuAdamW,
  groups: readonly ParamGroup<tf.Variable>[],
  host: readonly ParamGroup[],
  normwise: readonly Part[] = [],
): Promise<Record<Part, number>> {
  const weights = await optimizer.getWeights();
  const state = reference.state();
  const n = state.params.length;
  const iter = await weights[0]!.tensor.data();
  const step = weights.length === 2 * n + 2
    ? (await weights[2 * n + 1]!.tensor.data())[0]
    : iter[0];
  assert.equal(step, state.step, "step count");
  tf.dispose(weights[0]!.tensor);
  const result = { p: 0, m: 0, v: 0 };
  const add = (part: Part, actual: Float32Array, expected: Float32Array) => {
    const measure = normwise.includes(part)
      ? normwiseUlpDistance
      : maxUlpDistance;
    result[part] = Math.max(result[part], measure(actual, expected));
  };
  const values = async (t: tf.Tensor) => await t.data() as Float32Array;
  let k = 0;
  for (const [g, group] of groups.entries()) {
    for (const [i, variable] of group.params.entries()) {
      add("p", await values(variable), host[g]!.params[i]!.data);
      add("m", await values(weights[1 + k]!.tensor), state.params[k]!.m);
      add("v", await values(weights[1 + n + k]!.tensor), state.params[k]!.v);
      k++;
    }
  }
  return result;
}

/** Asserts that `optimizer` is within ULP_PER_STEP ULP per step of CpuAdamW everywhere. */
async function assertNear(
  optimizer: AdamW,
  reference: CpuAdamW,
  groups: readonly ParamGroup<tf.Variable>[],
  host: readonly ParamGroup[],
  steps: number,
  what: string,
  normwise: readonly Part[] = [],
): Promise<void> {
  const ulps = await distance(optimizer, reference, groups, host, normwise);
  const how = normwise.length === 0
    ? ""
    : `, ${normwise.join(" and ")} normwise`;
  // deno-lint-ignore no-console -- the measured bound, for the README
  console.log(`${what}, ${steps} steps: max ULP ${JSON.stringify(ulps)}${how}`);
  const bound = ULP_PER_STEP * steps;
  for (const [name, ulp] of Object.entries(ulps)) {
    assert.ok(
      ulp <= bound,
      `${what}: ${name} is ${ulp} ULP off, over ${bound}`,
    );
  }
}

/** Every variable's values, copied. */
async function valuesOf(
  variables: readonly tf.Variable[],
): Promise<Float32Array[]> {
  return await Promise.all(
    variables.map(async (v) => (await v.data() as Float32Array).slice()),
  );
}

// --- numerics -----------------------------------------------------------------------

tfjsTest(
  "tfjsAdamW on the cpu backend is CpuAdamW bit for bit, with lrScale groups, clipping and a schedule",
  "cpu",
  async () => {
    const { model, groups, host } = await setUp(2);
    const schedule = warmupCosine({
      initLr: 1e-3,
      peakLr: 0.05,
      warmupSteps: 3,
      decaySteps: 8,
    });
    const options = { maxGradNorm: 2, betas: [0.8, 0.99] as const, eps: 1e-6 };
    using optimizer = tfjsAdamW(tf, groups, {
      ...options,
      learningRate: schedule,
    });
    const reference = new CpuAdamW(host, options);
    const next = random(3);
    for (let step = 0; step < 10; step++) {
      stepBoth(optimizer, reference, groups, host, next, schedule(step));
      assert.equal(optimizer.lastPath, "host");
    }
    assert.deepEqual(await distance(optimizer, reference, groups, host), {
      p: 0,
      m: 0,
      v: 0,
    });
    model.dispose();
  },
);

tfjsTest(
  `tfjsAdamW's fused pass agrees with CpuAdamW within ${ULP_PER_STEP} ULP per step`,
  "webgpu",
  async () => {
    const { model, groups, host } = await setUp(4);
    using optimizer = tfjsAdamW(tf, groups, {
      learningRate: 0.02,
      maxGradNorm: 3,
    });
    const reference = new CpuAdamW(host, { maxGradNorm: 3 });
    const next = random(5);
    const steps = 10;
    for (let step = 0; step < steps; step++) {
      stepBoth(optimizer, reference, groups, host, next, 0.02);
      assert.equal(optimizer.lastPath, "fused");
    }
    // The gradients take random signs, so values cancel towards zero, where a distance
    // in ULP stops meaning anything: p and m are compared with the tensor's largest
    // value (a clip coefficient an ULP apart moves every value by an ULP of its own).
    await assertNear(optimizer, reference, groups, host, steps, "fused pass", [
      "p",
      "m",
    ]);
    model.dispose();
  },
);

for (const backend of BACKENDS) {
  tfjsTest(
    `tfjsAdamW's per-variable path agrees with CpuAdamW within ${ULP_PER_STEP} ULP per step`,
    backend,
    async () => {
      const { model, groups, host } = await setUp(6);
      const options = { maxGradNorm: 3, fused: false };
      using optimizer = tfjsAdamW(tf, groups, {
        ...options,
        learningRate: 0.02,
      });
      const reference = new CpuAdamW(host, { maxGradNorm: 3 });
      const next = random(7);
      const steps = 10;
      for (let step = 0; step < steps; step++) {
        stepBoth(optimizer, reference, groups, host, next, 0.02);
        assert.equal(optimizer.lastPath, "per-variable");
      }
      // m = m + (1 - beta1) * (g - m) cancels where g changes sign, and rounds twice
      // where CpuAdamW rounds once: its error is small next to the largest m, not to m;
      // and p, which moves by m, likewise.
      await assertNear(
        optimizer,
        reference,
        groups,
        host,
        steps,
        "per-variable",
        ["p", "m"],
      );
      model.dispose();
    },
  );

  for (const fused of [true, false]) {
    const path = fused ? FAST_PATH[backend] : "per-variable";
    tfjsTest(
      `tfjsAdamW with skipNonFinite skips steps with NaN or Infinity on the ${path} path, and later steps count only those that ran`,
      backend,
      async () => {
        const { model, groups, host } = await setUp(8);
        using optimizer = tfjsAdamW(tf, groups, {
          learningRate: 0.01,
          skipNonFinite: true,
          fused,
        });
        const reference = new CpuAdamW(host, { skipNonFinite: true });
        const next = random(9);
        const variables = groups.flatMap((g) => g.params);
        stepBoth(optimizer, reference, groups, host, next, 0.01);
        const before = await valuesOf(variables);
        for (const poison of [NaN, Infinity, -Infinity, 3e38]) {
          stepBoth(optimizer, reference, groups, host, next, 0.01, poison);
          assert.equal(optimizer.lastPath, path);
        }
        const after = await valuesOf(variables);
        after.forEach((values, i) =>
          assert.deepEqual(bits(values), bits(before[i]!), "skipped")
        );
        for (let step = 0; step < 3; step++) {
          stepBoth(optimizer, reference, groups, host, next, 0.01);
        }
        assert.equal(optimizer.iterations, 8);
        const weights = await optimizer.getWeights();
        assert.equal(weights.at(-1)!.name, "step");
        assert.deepEqual([...await weights.at(-1)!.tensor.data()], [4]);
        tf.dispose(weights[0]!.tensor);
        if (path === "host") {
          const exact = await distance(optimizer, reference, groups, host);
          assert.deepEqual(exact, { p: 0, m: 0, v: 0 });
        } else {
          // The host cannot know the device's step count, so step sizes come from the
          // table of bias corrections, within an ULP: an error small next to the
          // update, not next to a parameter near zero.
          await assertNear(optimizer, reference, groups, host, 8, path, [
            "p",
            "m",
          ]);
        }
        model.dispose();
      },
    );
  }
}

// --- TensorFlow.js's optimizer contract -----------------------------------------------

for (const backend of BACKENDS) {
  tfjsTest(
    "tfjsAdamW trains a model with compile and fit, its tensor count the same after every batch",
    backend,
    async () => {
      const model = normModel(10);
      const groups = getParamGroups(tfjsNamedParameters(model), POLICY);
      using optimizer = tfjsAdamW(tf, groups, {
        learningRate: warmupCosine({
          peakLr: 0.02,
          warmupSteps: 4,
          decaySteps: 40,
        }),
      });
      model.compile({ optimizer, loss: "meanSquaredError" });
      const xs = tf.randomNormal([64, 4], 0, 1, "float32", 11);
      const ys = tf.tanh(
        tf.matMul(xs, tf.randomNormal([4, 2], 0, 1, "float32", 12)),
      );
      const counts: number[] = [];
      const history = await model.fit(xs, ys, {
        epochs: 5,
        batchSize: 16,
        shuffle: false,
        verbose: 0,
        callbacks: {
          onBatchEnd: () => void counts.push(tf.memory().numTensors),
          // Without it, fit keeps each epoch's logs as a tensor.
          onEpochEnd: () => {},
        },
      });
      const losses = history.history.loss as number[];
      assert.ok(losses.at(-1)! < losses[0]!, `loss did not fall: ${losses}`);
      assert.equal(optimizer.iterations, 20);
      assert.equal(optimizer.lastPath, FAST_PATH[backend]);
      assert.ok(counts.every((n) => n === counts[0]), `${counts}`);
      tf.dispose([xs, ys]);
      model.dispose();
    },
  );

  tfjsTest(
    "tfjsAdamW works with optimizer.minimize over all or some variables",
    backend,
    async () => {
      const w = tf.variable(tf.tensor1d([1, -2, 3]), true, "minimize/w");
      const b = tf.variable(tf.scalar(0.5), true, "minimize/b");
      using optimizer = tfjsAdamW(tf, [
        { weightDecay: 0.1, params: [w], names: ["w"] },
        { weightDecay: 0, params: [b], names: ["b"] },
      ], { learningRate: 0.1 });
      const loss = () => tf.sum(tf.square(tf.add(w, b))) as tf.Scalar;
      const first = optimizer.minimize(loss, true)!;
      const start = (await first.data())[0]!;
      first.dispose();
      for (let i = 0; i < 20; i++) optimizer.minimize(loss);
      const bBefore = (await b.data())[0];
      optimizer.minimize(loss, false, [w]);
      assert.equal((await b.data())[0], bBefore, "b is not in varList");
      const end = tf.tidy(loss);
      assert.ok((await end.data())[0]! < start / 10);
      tf.dispose([end, w, b]);
    },
  );

  for (const fused of [true, false]) {
    for (const skipNonFinite of [false, true]) {
      const path = fused ? FAST_PATH[backend] : "per-variable";
      tfjsTest(
        `tf.memory().numTensors is the same after every step on the ${path} path${
          skipNonFinite ? " with skipNonFinite" : ""
        }`,
        backend,
        async () => {
          const { model, groups, host } = await setUp(13);
          using optimizer = tfjsAdamW(tf, groups, { fused, skipNonFinite });
          const next = random(14);
          const grads = gradients(groups, host, next);
          optimizer.applyGradients(grads);
          const count = tf.memory().numTensors;
          for (let step = 0; step < 4; step++) {
            optimizer.applyGradients(grads);
            assert.equal(optimizer.lastPath, path);
            assert.equal(
              tf.memory().numTensors,
              count,
              `after step ${step + 2}`,
            );
          }
          tf.dispose(Object.values(grads));
          model.dispose();
        },
      );
    }
  }

  tfjsTest(
    "getWeights() names and orders the state as tf.train.adam does",
    backend,
    async () => {
      const { model, groups, host } = await setUp(15);
      const variables = groups.flatMap((g) => g.params);
      using optimizer = tfjsAdamW(tf, groups);
      const adam = tf.train.adam(1e-3);
      const grads = gradients(groups, host, random(16));
      optimizer.applyGradients(grads);
      // tf.train.adam orders its moments as the gradients come; give them in group order.
      adam.applyGradients(
        variables.map((v) => ({ name: v.name, tensor: grads[v.name]! })),
      );
      const ours = await optimizer.getWeights();
      const theirs = await adam.getWeights();
      assert.deepEqual(ours.map((w) => w.name), theirs.map((w) => w.name));
      assert.equal(ours[1]!.name, `${variables[0]!.name}/m`);
      assert.deepEqual(
        ours.map((w) => [w.tensor.dtype, w.tensor.shape]),
        theirs.map((w) => [w.tensor.dtype, w.tensor.shape]),
      );
      tf.dispose([ours[0]!.tensor, theirs[0]!.tensor, ...Object.values(grads)]);
      adam.dispose();
      model.dispose();
    },
  );

  tfjsTest(
    "setWeights() restores getWeights()'s state: training continues exactly as without the round trip",
    backend,
    async () => {
      const { model, groups, host } = await setUp(17);
      const variables = groups.flatMap((g) => g.params);
      const options: TfjsAdamWOptions = { learningRate: 0.01, maxGradNorm: 1 };
      using first = tfjsAdamW(tf, groups, options);
      const next = random(18);
      const batches = Array.from(
        { length: 5 },
        () => gradients(groups, host, next),
      );
      for (const grads of batches.slice(0, 3)) first.applyGradients(grads);
      // Copies, since the optimizer goes on updating its own tensors.
      const saved = await Promise.all(
        (await first.getWeights()).map(async ({ name, tensor }) => ({
          name,
          tensor: tf.tensor(
            await (tensor as tf.Tensor).data(),
            (tensor as tf.Tensor).shape,
            tensor.dtype as "float32" | "int32",
          ),
        })),
      );
      const midway = await valuesOf(variables);
      for (const grads of batches.slice(3)) first.applyGradients(grads);
      const uninterrupted = await valuesOf(variables);

      variables.forEach((v, i) => v.assign(tf.tensor(midway[i]!, v.shape)));
      using second = tfjsAdamW(tf, groups, options);
      await second.setWeights(saved);
      assert.equal(second.iterations, 3);
      for (const grads of batches.slice(3)) second.applyGradients(grads);
      assert.equal(second.lastPath, FAST_PATH[backend]);
      (await valuesOf(variables)).forEach((values, i) =>
        assert.deepEqual(
          bits(values),
          bits(uninterrupted[i]!),
          variables[i]!.name,
        )
      );
      tf.dispose([
        ...saved.map((w) => w.tensor),
        ...batches.flatMap(Object.values),
      ]);
      model.dispose();
    },
  );

  tfjsTest(
    "model.save with includeOptimizer and tf.loadLayersModel continue training exactly where it stopped",
    backend,
    async () => {
      const build = () =>
        tfl.sequential({
          layers: [
            // Names with underscores, which tfjs-layers camel-cases in optimizer configs.
            tfl.layers.dense({
              units: 8,
              inputShape: [4],
              name: "dense_in",
              kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }),
            }),
            tfl.layers.batchNormalization({ name: "batch_norm_1" }),
            tfl.layers.dense({
              units: 2,
              name: "head_out",
              kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }),
            }),
          ],
        });
      const compile = (model: tfl.LayersModel) => {
        const groups = getParamGroups(tfjsNamedParameters(model), {
          weightDecay: [[0, "bias"], [0, NORM_TYPES], 0.05],
          lrScale: [[3, "^head_out\\."], 1],
        });
        model.compile({
          optimizer: tfjsAdamW(tf, groups, {
            learningRate: warmupCosine({
              peakLr: 0.02,
              warmupSteps: 3,
              decaySteps: 30,
            }),
            maxGradNorm: Infinity,
            skipNonFinite: true,
          }),
          loss: "meanSquaredError",
        });
      };
      const xs = tf.randomNormal([32, 4], 0, 1, "float32", 19);
      const ys = tf.randomNormal([32, 2], 0, 1, "float32", 20);
      const fit = (model: tfl.LayersModel, epochs: number) =>
        model.fit(xs, ys, { epochs, batchSize: 8, shuffle: false, verbose: 0 });

      const uninterrupted = build();
      compile(uninterrupted);
      await fit(uninterrupted, 4);

      const saving = build();
      compile(saving);
      await fit(saving, 2);
      let artifacts: tf.io.ModelArtifacts | undefined;
      await saving.save(
        tf.io.withSaveHandler((saved) => {
          artifacts = saved;
          return Promise.resolve({
            modelArtifactsInfo: {
              dateSaved: new Date(),
              modelTopologyType: "JSON",
            },
          });
        }),
        { includeOptimizer: true },
      );
      // Through JSON, as model.json on disk: tfjs-layers then camel-cases the config.
      const { weightData, ...json } = artifacts!;
      const loaded = await tfl.loadLayersModel(tf.io.fromMemory({
        ...JSON.parse(JSON.stringify(json)),
        weightData,
      }));
      const optimizer = loaded.optimizer as unknown as AdamW;
      assert.equal(optimizer.iterations, 8);
      const names = (model: tfl.LayersModel) =>
        (model.optimizer as unknown as AdamW).getConfig().groups;
      assert.deepEqual(
        JSON.stringify(names(loaded)).replaceAll(/_\d+"/g, '"'),
        JSON.stringify(names(saving)).replaceAll(/_\d+"/g, '"'),
        "names with underscores are not camel-cased, and variables are bound",
      );
      await fit(loaded, 2);
      assert.equal(optimizer.lastPath, FAST_PATH[backend]);
      const expected = await valuesOf(
        uninterrupted.trainableWeights.map((w) => w.read() as tf.Variable),
      );
      const found = await valuesOf(
        loaded.trainableWeights.map((w) => w.read() as tf.Variable),
      );
      found.forEach((values, i) =>
        assert.deepEqual(
          bits(values),
          bits(expected[i]!),
          loaded.trainableWeights[i]!.name,
        )
      );
      for (const model of [uninterrupted, saving, loaded]) {
        (model.optimizer as unknown as AdamW).dispose();
        model.dispose();
      }
      tf.dispose([xs, ys]);
    },
  );

  tfjsTest(
    "dispose() frees every tensor the optimizer made, and later calls throw",
    backend,
    async () => {
      const { model, groups, host } = await setUp(21);
      const grads = gradients(groups, host, random(22));
      const before = tf.memory().numTensors;
      const optimizer = tfjsAdamW(tf, groups);
      optimizer.applyGradients(grads);
      optimizer.applyGradients(grads);
      assert.equal(optimizer.lastPath, FAST_PATH[backend]);
      optimizer.dispose();
      optimizer.dispose();
      assert.equal(tf.memory().numTensors, before);
      const error = await failure(() => optimizer.applyGradients(grads));
      assert.equal(error.message, "TfjsAdamW has been disposed");
      await assert.rejects(() => optimizer.getWeights(), {
        message: "TfjsAdamW has been disposed",
      });
      tf.dispose(Object.values(grads));
      model.dispose();
    },
  );

  tfjsTest(
    "a trainable variable in no group is a TypeError naming it, and nothing changes",
    backend,
    async () => {
      const model = tfl.sequential({
        layers: [
          tfl.layers.dense({ units: 3, inputShape: [2], name: "first" }),
        ],
      });
      const groups = getParamGroups(tfjsNamedParameters(model), 0.01);
      using optimizer = tfjsAdamW(tf, groups);
      model.add(tfl.layers.dense({ units: 1, name: "added_later" }));
      model.compile({ optimizer, loss: "meanSquaredError" });
      const variables = model.trainableWeights.map((w) =>
        w.read() as tf.Variable
      );
      const before = await valuesOf(variables);
      const xs = tf.ones([4, 2]);
      const ys = tf.ones([4, 1]);
      const error = await failure(() =>
        model.fit(xs, ys, { epochs: 1, verbose: 0 })
      );
      assert.ok(error instanceof TypeError);
      assert.match(
        error.message,
        /^Expected every variable with a gradient to be in one of the optimizer's groups but found "added_later\/kernel(_\d+)?" in none: make the groups from the finished model/,
      );
      (await valuesOf(variables)).forEach((values, i) =>
        assert.deepEqual(bits(values), bits(before[i]!))
      );
      assert.equal(optimizer.iterations, 0);
      tf.dispose([xs, ys]);
      model.dispose();
    },
  );

  tfjsTest(
    "a step without gradients for some variables leaves them and their moments as they are",
    backend,
    async () => {
      const { model, groups, host } = await setUp(23);
      using optimizer = tfjsAdamW(tf, groups, {
        learningRate: 0.01,
        maxGradNorm: 1,
      });
      const variables = groups.flatMap((g) => g.params);
      const next = random(24);
      const all = gradients(groups, host, next);
      optimizer.applyGradients(all);
      const before = await valuesOf(variables);
      const weightsBefore = await optimizer.getWeights();
      const momentsBefore = await Promise.all(
        weightsBefore.slice(1).map(async (w) =>
          (await w.tensor.data()).slice()
        ),
      );
      tf.dispose(weightsBefore[0]!.tensor);
      // Only the decayed group gets gradients: the others keep their values.
      const some = Object.fromEntries(
        groups[0]!.params.map((v) => [v.name, all[v.name]!]),
      );
      optimizer.applyGradients({ ...some, [groups[1]!.params[0]!.name]: null });
      assert.equal(optimizer.lastPath, FAST_PATH[backend]);
      const after = await valuesOf(variables);
      const weightsAfter = await optimizer.getWeights();
      const momentsAfter = await Promise.all(
        weightsAfter.slice(1).map(async (w) => await w.tensor.data()),
      );
      const n = variables.length;
      const same = (a: ArrayLike<number>, b: ArrayLike<number>) =>
        Array.from(a).every((x, i) => Object.is(x, b[i]));
      variables.forEach((v, k) => {
        const stepped = groups[0]!.params.includes(v);
        assert.equal(same(after[k]!, before[k]!), !stepped, v.name);
        for (const at of [k, n + k]) {
          assert.equal(same(momentsAfter[at]!, momentsBefore[at]!), !stepped);
        }
      });
      tf.dispose([weightsAfter[0]!.tensor, ...Object.values(all)]);
      model.dispose();
    },
  );
}

tfjsTest(
  "setWeights() takes tf.train.adam's state for the same variables",
  "cpu",
  async () => {
    const { model, groups, host } = await setUp(25);
    const variables = groups.flatMap((g) => g.params);
    const adam = tf.train.adam(1e-3);
    const grads = gradients(groups, host, random(26));
    const ordered = variables.map((v) => ({
      name: v.name,
      tensor: grads[v.name]!,
    }));
    adam.applyGradients(ordered);
    adam.applyGradients(ordered);
    using optimizer = tfjsAdamW(tf, groups);
    const theirs = await adam.getWeights();
    await optimizer.setWeights(theirs);
    assert.equal(optimizer.iterations, 2);
    const ours = await optimizer.getWeights();
    assert.equal(
      ours.length,
      theirs.length,
      "no step entry: the step count is iter",
    );
    for (const [i, { tensor }] of ours.entries()) {
      assert.deepEqual([...tensor.dataSync()], [
        ...theirs[i]!.tensor.dataSync(),
      ]);
    }
    tf.dispose([ours[0]!.tensor, theirs[0]!.tensor, ...Object.values(grads)]);
    adam.dispose();
    model.dispose();
  },
);

tfjsTest(
  "setWeights() checks every weight before it loads any",
  "cpu",
  async () => {
    const { model, groups, host } = await setUp(27);
    using optimizer = tfjsAdamW(tf, groups);
    const grads = gradients(groups, host, random(28));
    optimizer.applyGradients(grads);
    const good = await optimizer.getWeights();
    const n = (good.length - 1) / 2;
    const snapshot = async () =>
      (await optimizer.getWeights()).slice(1).map((
        w,
      ) => [...w.tensor.dataSync()]);
    const before = await snapshot();
    const negative = tf.neg(good[1 + n]!.tensor as tf.Tensor);
    const transposed = tf.zeros([...good[1]!.tensor.shape].reverse());
    const half = tf.scalar(1.5, "float32");
    const cases: [
      typeof good,
      ErrorConstructor | RangeErrorConstructor | TypeErrorConstructor,
      RegExp,
    ][] = [
      [
        good.slice(1),
        RangeError,
        new RegExp(
          `^Expected ${
            2 * n + 1
          } weights \\(iter, then the first and the second moment of each of the ${n} parameters\\) or ${
            2 * n + 2
          } \\(and the step count\\) but found ${2 * n}$`,
        ),
      ],
      [
        [good[0]!, { ...good[1]!, name: "other/m" }, ...good.slice(2)],
        TypeError,
        /^Expected weight 1 to be "stem\/kernel(_\d+)?\/m" of parameter "stem.kernel" but found "other\/m"$/,
      ],
      [
        [good[0]!, { ...good[1]!, tensor: transposed }, ...good.slice(2)],
        RangeError,
        /^Expected weight "stem\/kernel(_\d+)?\/m" to have the shape \[4, 8\] of parameter "stem.kernel" but found \[8, 4\]$/,
      ],
      [
        [good[0]!, ...good.slice(1, 1 + n), {
          ...good[1 + n]!,
          tensor: negative,
        }, ...good.slice(2 + n)],
        RangeError,
        /^Expected state.params\[0\].v of parameter "stem.kernel" to hold finite values >= 0 but found -\S+ at index \d+$/,
      ],
      [
        [{ name: "iter", tensor: half }, ...good.slice(1)],
        RangeError,
        /^Expected weight 0 \(iter\) to be one integer >= 0 but found \[1.5\]$/,
      ],
      [
        [good[0]!, null as unknown as (typeof good)[0], ...good.slice(2)],
        TypeError,
        /^Expected weight 1 to be \{ name, tensor \} but found null$/,
      ],
    ];
    for (const [weights, type, message] of cases) {
      const error = await failure(() => optimizer.setWeights(weights));
      assert.ok(error instanceof type, `${error}`);
      assert.match(error.message, message);
      assert.deepEqual(await snapshot(), before);
      assert.equal(optimizer.iterations, 1);
    }
    tf.dispose([
      good[0]!.tensor,
      negative,
      transposed,
      half,
      ...Object.values(grads),
    ]);
    model.dispose();
  },
);

// --- serialization ------------------------------------------------------------------

tfjsTest(
  "tfjsAdamW's class is registered with tf.serialization, and fromConfig takes getConfig()'s data back through JSON",
  "cpu",
  () => {
    registerTfjsAdamW(tf);
    const registered = tf.serialization.SerializationMap.getMap().classNameMap[
      "TfjsAdamW"
    ];
    assert.ok(registered !== undefined, "registered as TfjsAdamW");
    const model = tfl.sequential({
      layers: [
        tfl.layers.dense({ units: 2, inputShape: [3], name: "fc_1" }),
        tfl.layers.layerNormalization({ name: "layer_norm_1" }),
      ],
    });
    const groups = getParamGroups(tfjsNamedParameters<tf.Variable>(model), {
      weightDecay: [[0, NORM_TYPES], 0.02],
      lrScale: [[0.5, "^layer_norm"], 1],
    });
    using optimizer = tfjsAdamW(tf, groups, {
      learningRate: 0.003,
      betas: [0.8, 0.9],
      eps: 1e-7,
      maxGradNorm: Infinity,
      scaling: "corrected",
    });
    assert.ok(optimizer instanceof registered[0]);
    assert.equal(optimizer.getClassName(), "TfjsAdamW");
    const config = optimizer.getConfig();
    assert.deepEqual(JSON.parse(JSON.stringify(config)), {
      learningRate: 0.003,
      betas: [0.8, 0.9],
      eps: 1e-7,
      maxGradNorm: "Infinity",
      skipNonFinite: false,
      scaling: "corrected",
      maxLr: 0.003,
      fused: true,
      groups: [
        {
          weightDecay: 0.02,
          lrScale: 1,
          params: [
            {
              name: "fc_1.kernel",
              shape: [3, 2],
              variable: { name: groups[0]!.params[0]!.name },
            },
            {
              name: "fc_1.bias",
              shape: [2],
              variable: { name: groups[0]!.params[1]!.name },
            },
          ],
        },
        {
          weightDecay: 0,
          lrScale: 0.5,
          params: [
            {
              name: "layer_norm_1.gamma",
              shape: [2],
              variable: { name: groups[1]!.params[0]!.name },
            },
            {
              name: "layer_norm_1.beta",
              shape: [2],
              variable: { name: groups[1]!.params[1]!.name },
            },
          ],
        },
      ],
    });
    // As tfjs-layers deserializes a training config read from model.json.
    const restored = tf.serialization.SerializationMap.getMap()
      .classNameMap["TfjsAdamW"]![1](
        registered[0],
        { ...JSON.parse(JSON.stringify(config)), customObjects: {} },
      ) as unknown as AdamW;
    assert.deepEqual(restored.getConfig(), config);
    restored.dispose();
    model.dispose();
  },
);

tfjsTest(
  "a learning rate that is a plain function trains but cannot be saved",
  "cpu",
  async () => {
    const w = tf.variable(tf.tensor1d([1, 2]), true, "plain/w");
    using optimizer = tfjsAdamW(tf, [{
      weightDecay: 0,
      params: [w],
      names: ["w"],
    }], {
      learningRate: (step) => 0.1 / (step + 1),
    });
    const host = new Parameter([1, 2]);
    const reference = new CpuAdamW([{
      weightDecay: 0,
      params: [host],
      names: ["w"],
    }]);
    const grad = tf.tensor1d([1, -1]);
    host.grad = new Float32Array([1, -1]);
    for (const lr of [0.1, 0.05]) {
      optimizer.applyGradients({ [w.name]: grad });
      reference.step(lr);
    }
    assert.deepEqual([...await w.data()], [...host.data]);
    const error = await failure(() => optimizer.getConfig());
    assert.ok(error instanceof TypeError);
    assert.match(
      error.message,
      /^Expected a learning rate that can be saved with the model \(a number, or a schedule from warmupCosine\) but found /,
    );
    const bad = tfjsAdamW(tf, [{ weightDecay: 0, params: [w], names: ["w"] }], {
      learningRate: () => NaN,
    });
    const thrown = await failure(() => bad.applyGradients({ [w.name]: grad }));
    assert.ok(thrown instanceof RangeError);
    assert.equal(
      thrown.message,
      "Expected learningRate(0) to be a finite number >= 0 but found NaN",
    );
    bad.dispose();
    tf.dispose([grad, w]);
  },
);

tfjsTest(
  "a loaded optimizer binds saved parameters by variable name, and refuses one of another shape",
  "cpu",
  async () => {
    const make = (units: number) =>
      tfl.sequential({
        layers: [tfl.layers.dense({ units, inputShape: [2], name: "bound" })],
      });
    const saved = make(3);
    using optimizer = tfjsAdamW(
      tf,
      getParamGroups(tfjsNamedParameters(saved), 0.1),
    );
    const config = JSON.parse(JSON.stringify(optimizer.getConfig()));
    const Class = tf.serialization.SerializationMap.getMap()
      .classNameMap["TfjsAdamW"]!;
    const restore = () => Class[1](Class[0], config) as unknown as AdamW;

    const same = make(3); // its variables are "bound/kernel_1", "bound/bias_1"
    const kernel = same.getLayer("bound").trainableWeights[0]!
      .read() as tf.Variable;
    assert.notEqual(kernel.name, "bound/kernel");
    const restored = restore();
    const grad = tf.onesLike(kernel);
    restored.applyGradients({ [kernel.name]: grad });
    assert.equal(restored.lastPath, "host");
    const weights = await restored.getWeights();
    assert.equal(weights[1]!.name, `${kernel.name}/m`);
    assert.ok(
      weights[1]!.tensor.dataSync().every((m) => m === Math.fround(0.1)),
    );
    tf.dispose([weights[0]!.tensor, grad]);
    restored.dispose();

    const other = make(4);
    const wrong = other.getLayer("bound").trainableWeights[0]!
      .read() as tf.Variable;
    const mismatched = restore();
    const wrongGrad = tf.onesLike(wrong);
    const error = await failure(() =>
      mismatched.applyGradients({ [wrong.name]: wrongGrad })
    );
    assert.ok(error instanceof RangeError);
    assert.match(
      error.message,
      /^Expected variable "bound\/kernel_\d+" to have the shape \[2, 3\] of the saved parameter "bound.kernel" but found \[2, 4\]$/,
    );
    mismatched.dispose();

    const twice = JSON.parse(JSON.stringify(config));
    twice.groups[0].params[1].variable.name = "bound/kernel_7";
    const duplicate = await failure(() => Class[1](Class[0], twice));
    assert.ok(duplicate instanceof TypeError);
    assert.equal(
      duplicate.message,
      'Expected the saved parameters to have distinct TensorFlow.js names but "bound.kernel" and "bound.bias" are both "bound/kernel" (tfjs-layers cannot load such a model either: "Duplicate weight name")',
    );
    tf.dispose(wrongGrad);
    for (const model of [saved, same, other]) model.dispose();
  },
);

// --- arguments ----------------------------------------------------------------------

tfjsTest(
  "tfjsAdamW() rejects unknown options with what to use instead",
  "cpu",
  () => {
    const w = tf.variable(tf.tensor1d([1]), true, "options/w");
    const groups = [{ weightDecay: 0, params: [w], names: ["w"] }];
    const cases: [Record<string, unknown>, string][] = [
      [{ lr: 1e-3 }, '"lr"; use learningRate'],
      [
        { weight_decay: 0.1 },
        '"weight_decay"; set weightDecay per group, e.g. with getParamGroups',
      ],
      [{ beta1: 0.9 }, '"beta1"; use betas: [beta1, beta2]'],
      [{ epsilon: 1e-8 }, '"epsilon"; use eps'],
      [{ clipnorm: 1 }, '"clipnorm"; use maxGradNorm'],
    ];
    for (const [options, tail] of cases) {
      assert.throws(() => tfjsAdamW(tf, groups, options as TfjsAdamWOptions), {
        name: "TypeError",
        message:
          `Expected TfjsAdamW options to have only the keys learningRate, betas, eps, maxGradNorm, skipNonFinite, scaling, maxLr, fused but found ${tail}`,
      });
    }
    assert.throws(
      () => tfjsAdamW(tf, [{ ...groups[0]!, lr: 0 } as never]),
      {
        name: "TypeError",
        message:
          /^Expected group 0 to have only the keys weightDecay, lrScale, params, names, aliases but found "lr"/,
      },
    );
    assert.throws(() => tfjsAdamW(tf, groups, { learningRate: -1 }), {
      name: "RangeError",
      message: "Expected learningRate to be a finite number >= 0 but found -1",
    });
    assert.throws(
      () => tfjsAdamW(tf, groups, { learningRate: "1e-3" as never }),
      {
        name: "TypeError",
        message:
          'Expected learningRate to be a number or a function of the step (such as warmupCosine(...)) but found "1e-3"',
      },
    );
    assert.throws(
      () =>
        tfjsAdamW(tf, groups, { learningRate: () => 1, scaling: "schedule" }),
      {
        name: "RangeError",
        message:
          'Expected maxLr to be a finite number > 0 for scaling "schedule" but found undefined',
      },
    );
    assert.throws(() => tfjsAdamW({ tidy() {} } as never, groups), {
      name: "TypeError",
      message:
        /^Expected tf to be the TensorFlow.js namespace \(import \* as tf from "@tensorflow\/tfjs"\) but found an object without tensor, scalar, /,
    });
    assert.throws(
      () =>
        tfjsAdamW(tf, [{
          weightDecay: 0,
          params: [tf.tensor1d([1]) as never],
          names: ["t"],
        }]),
      {
        name: "TypeError",
        message:
          'Expected group 0 parameter "t" to be a tf.Variable but found a Tensor',
      },
    );
    w.dispose();
  },
);

tfjsTest(
  "applyGradients() rejects gradients it cannot use, changing nothing",
  "cpu",
  async () => {
    const w = tf.variable(tf.tensor2d([[1, 2]]), true, "grads/w");
    using optimizer = tfjsAdamW(tf, [{
      weightDecay: 0,
      params: [w],
      names: ["w"],
    }]);
    const cases: [unknown, string, string | RegExp][] = [
      [
        { "no/such": tf.ones([1, 2]) },
        "TypeError",
        'Expected each gradient to be keyed by the name of a registered tf.Variable but found "no/such", which names none (was it disposed?)',
      ],
      [
        { [w.name]: tf.ones([2, 1]) },
        "RangeError",
        'Expected the gradient of "w" to have its shape [1, 2] but found [2, 1]',
      ],
      [
        { [w.name]: tf.ones([1, 2], "int32") },
        "TypeError",
        'Expected the gradient of "w" to be a float32 tensor but found dtype "int32"',
      ],
      [
        [{ name: w.name, tensor: tf.ones([1, 2]) }, {
          name: w.name,
          tensor: tf.ones([1, 2]),
        }],
        "TypeError",
        'Expected one gradient per variable but found two for "grads/w"',
      ],
      [
        42,
        "TypeError",
        "Expected gradients as { [variableName]: tensor } or [{ name, tensor }] but found 42",
      ],
    ];
    for (const [grads, name, message] of cases) {
      const error = await failure(() =>
        optimizer.applyGradients(grads as never)
      );
      assert.equal(error.name, name);
      assert.ok(
        typeof message === "string"
          ? error.message === message
          : message.test(error.message),
        error.message,
      );
    }
    assert.deepEqual([...await w.data()], [1, 2]);
    assert.equal(optimizer.iterations, 0);
    assert.equal(optimizer.lastPath, undefined);
    w.dispose();
  },
);

// --- the fused pass on webgpu -------------------------------------------------------

/** The webgpu backend's internals these tests reach for. */
interface WebGpuBackend {
  device: GPUDevice;
  commandEncoder: GPUCommandEncoder | null;
  submitQueue(): void;
  tensorMap: { get(dataId: object): { resource?: unknown; refCount: number } };
}

tfjsTest(
  "a fused step is one submission with one compute pass, two copies per variable, and no new bind group",
  "webgpu",
  async () => {
    const { model, groups, host } = await setUp(29);
    const variables = groups.flatMap((g) => g.params).length;
    using optimizer = tfjsAdamW(tf, groups, { maxGradNorm: 1 });
    const next = random(30);
    const batches = Array.from(
      { length: 4 },
      () => gradients(groups, host, next),
    );
    const backend = tf.backend() as unknown as WebGpuBackend;
    if (backend.commandEncoder !== null) backend.submitQueue();
    const real = backend.device;
    const { device, counts } = instrument(real);
    backend.device = device;
    try {
      optimizer.applyGradients(batches[0]!); // builds the arena, copies every tensor in
      const built = { ...counts };
      for (const grads of batches.slice(1)) optimizer.applyGradients(grads);
      const delta = (key: string) => (counts[key] ?? 0) - (built[key] ?? 0);
      assert.equal(optimizer.lastPath, "fused");
      assert.equal(delta("submit"), 3, "one submission per step");
      assert.equal(delta("beginComputePass"), 3, "one compute pass per step");
      assert.equal(
        delta("dispatchWorkgroups"),
        3 * 4,
        "the gradient-norm reduction, its fold, the gate and the update, over one shard",
      );
      assert.equal(
        delta("copyBufferToBuffer") + delta("writeBuffer"),
        3 * (2 * variables + 1),
        "each gradient in (a copy, or a write of its CPU copy), each variable out, and GpuAdamW's per-step values",
      );
      for (
        const create of [
          "createBindGroup",
          "createBuffer",
          "createComputePipeline",
        ]
      ) {
        assert.equal(delta(create), 0, create);
      }
    } finally {
      backend.device = real;
    }
    tf.dispose(batches.flatMap(Object.values));
    model.dispose();
  },
);

tfjsTest(
  "the fused path hands its state to the per-variable path and back",
  "webgpu",
  async () => {
    const { model, groups, host } = await setUp(31);
    using optimizer = tfjsAdamW(tf, groups, {
      learningRate: 0.01,
      skipNonFinite: true,
    });
    const reference = new CpuAdamW(host, { skipNonFinite: true });
    const next = random(32);
    const paths: (TfjsAdamWPath | undefined)[] = [];
    for (const onCpu of [false, true, false, true, true, false]) {
      // Gradients left on the cpu backend cannot be copied by the fused path.
      if (onCpu) await tf.setBackend("cpu");
      const grads = gradients(groups, host, next);
      if (onCpu) await tf.setBackend("webgpu");
      optimizer.applyGradients(grads);
      reference.step(0.01);
      paths.push(optimizer.lastPath);
      tf.dispose(Object.values(grads));
    }
    assert.deepEqual(paths, [
      "fused",
      "per-variable",
      "fused",
      "per-variable",
      "per-variable",
      "fused",
    ]);
    await assertNear(optimizer, reference, groups, host, 6, "mixed paths", [
      "p",
      "m",
    ]);
    model.dispose();
  },
);

tfjsTest(
  "a fused step gives a variable that shares its data its own, leaving the other tensor as it was",
  "webgpu",
  async () => {
    const initial = tf.tensor1d([1, 2, 3, 4]);
    await initial.data();
    const weight = tf.variable(initial, true, "shared/w");
    const backend = tf.backend() as unknown as WebGpuBackend;
    assert.equal(backend.tensorMap.get(weight.dataId).refCount, 2, "shared");
    using optimizer = tfjsAdamW(tf, [{
      weightDecay: 0.5,
      params: [weight],
      names: ["w"],
    }], {
      learningRate: 0.1,
    });
    const grad = tf.tensor1d([1, 1, -1, -1]);
    optimizer.applyGradients({ [weight.name]: grad });
    assert.equal(optimizer.lastPath, "fused");
    assert.deepEqual([...await initial.data()], [1, 2, 3, 4]);
    const f = Math.fround(1 - 0.1 * 0.5);
    const expected = [1, 2, 3, 4].map((x, i) =>
      Math.fround(Math.fround(x * f) + (i < 2 ? -1 : 1) * Math.fround(0.1))
    );
    assert.ok(
      maxUlpDistance(
        await weight.data() as Float32Array,
        Float32Array.from(expected),
      ) <= 2,
    );
    tf.dispose([initial, weight, grad]);
  },
);

tfjsTest(
  "a GPU error in a fused step never becomes values: every later call throws it",
  "webgpu",
  async () => {
    const weight = tf.variable(tf.tensor1d([1, 2, 3, 4]), true, "broken/w");
    using optimizer = tfjsAdamW(tf, [{
      weightDecay: 0.5,
      params: [weight],
      names: ["w"],
    }]);
    const grad = tf.tensor1d([1, 1, 1, 1]);
    optimizer.applyGradients({ [weight.name]: grad });
    const backend = tf.backend() as unknown as WebGpuBackend;
    // The copy back into this buffer fails validation, inside the step's error scope.
    (backend.tensorMap.get(weight.dataId).resource as GPUBuffer).destroy();
    optimizer.applyGradients({ [weight.name]: grad });
    await webgpuDevice().queue.onSubmittedWorkDone();
    await new Promise((resolve) => setTimeout(resolve, 0));
    const error = await failure(() =>
      optimizer.applyGradients({ [weight.name]: grad })
    );
    assert.match(
      error.message,
      /^TfjsAdamW.step failed on the GPU, so the engine can no longer be trusted and refuses every call: /,
    );
    await assert.rejects(() => optimizer.getWeights(), {
      message: error.message,
    });
    tf.dispose(grad);
    // The variable's buffer is gone; disposing it hands nothing back to the pool.
    backend.tensorMap.get(weight.dataId).resource = null;
    weight.dispose();
  },
);

// --- the schedule ---------------------------------------------------------------------

Deno.test("warmupCosine() follows optax's warmup_cosine_decay_schedule", () => {
  const schedule = warmupCosine({
    initLr: 0.1,
    peakLr: 1,
    warmupSteps: 4,
    decaySteps: 14,
    endLr: 0.2,
  });
  const values = [0, 2, 4, 9, 14, 20].map(schedule);
  // optax.warmup_cosine_decay_schedule(0.1, 1.0, 4, 14, 0.2), in f64.
  const expected = [0.1, 0.55, 1, 0.6, 0.2, 0.2];
  values.forEach((value, i) =>
    assert.ok(Math.abs(value - expected[i]!) < 1e-12, `${i}: ${value}`)
  );
  assert.equal(
    warmupCosine({ peakLr: 2, warmupSteps: 0, decaySteps: 2 })(0),
    2,
  );
});

Deno.test("warmupCosine() rejects bad options and steps", () => {
  const cases: [unknown, string, string][] = [
    [
      { peakLr: -1, warmupSteps: 0, decaySteps: 1 },
      "RangeError",
      "Expected peakLr to be a finite number >= 0 but found -1",
    ],
    [
      { peakLr: 1, warmupSteps: 1.5, decaySteps: 3 },
      "RangeError",
      "Expected warmupSteps to be an integer >= 0 but found 1.5",
    ],
    [
      { peakLr: 1, warmupSteps: 3, decaySteps: 3 },
      "RangeError",
      "Expected decaySteps (the whole schedule, warmup included) to be an integer greater than warmupSteps (3) but found 3",
    ],
    [
      { peakLr: 1, warmupSteps: 0, decaySteps: 3, total: 4 },
      "TypeError",
      'Expected warmupCosine options to have only the keys initLr, peakLr, warmupSteps, decaySteps, endLr but found "total"',
    ],
    [
      undefined,
      "TypeError",
      "Expected warmupCosine options { peakLr, warmupSteps, decaySteps } but found undefined",
    ],
  ];
  for (const [options, name, message] of cases) {
    assert.throws(() => warmupCosine(options as never), { name, message });
  }
  assert.throws(
    () => warmupCosine({ peakLr: 1, warmupSteps: 0, decaySteps: 2 })(-1),
    {
      name: "RangeError",
      message: "Expected step to be a finite number >= 0 but found -1",
    },
  );
});
