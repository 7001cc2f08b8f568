// Copyright 2026 the weight-decay authors. MIT license.
// TensorFlow.js for tests and benchmarks (test-only dependencies: the adapter itself
// never imports it), the models they use, and a test wrapper that runs on a chosen
// backend and, on webgpu, fails on any WebGPU error.

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-webgpu";
import * as tfl from "@tensorflow/tfjs-layers";
import assert from "node:assert/strict";
import { Parameter, type ParamGroup } from "../mod.ts";
import { ignoreGpu } from "./_gpu.ts";
import { random, randomData } from "./_models.ts";

export { tf, tfl };

// Deno looks like Node.js to TensorFlow.js, whose cpu backend then prints a banner
// about tfjs-node on first use. The flag is read only there once tfjs is loaded, so
// turning it off here silences the banner and changes nothing else.
tf.env().set("IS_NODE", false);

/** The backends the adapter is tested on. */
export type BackendName = "cpu" | "webgpu";

// The webgpu backend keeps one device for the whole process; made here, outside any
// test, it is not reported as a resource leaked by the first test that uses it.
if (!ignoreGpu) {
  assert.ok(
    await tf.setBackend("webgpu"),
    'tf.setBackend("webgpu") failed with an adapter present',
  );
}

/** The device of the webgpu backend. */
export function webgpuDevice(): GPUDevice {
  return (tf.backend() as unknown as { device: GPUDevice }).device;
}

/**
 * A test on one backend. On webgpu it is ignored without an adapter (as GPU tests are)
 * and runs inside validation and out-of-memory error scopes on the backend's device,
 * failing on any WebGPU error, TensorFlow.js's own included.
 */
export function tfjsTest(
  name: string,
  backend: BackendName,
  fn: () => Promise<void> | void,
): void {
  Deno.test({
    name: `${name} (${backend})`,
    ignore: backend === "webgpu" && ignoreGpu,
    async fn() {
      assert.ok(await tf.setBackend(backend), `no ${backend} backend`);
      if (backend === "cpu") return await fn();
      const device = webgpuDevice();
      device.pushErrorScope("validation");
      device.pushErrorScope("out-of-memory");
      let failure: unknown;
      try {
        await fn();
      } catch (error) {
        failure = error;
      }
      const outOfMemory = await device.popErrorScope();
      const validation = await device.popErrorScope();
      if (failure !== undefined) throw failure;
      if (validation !== null) {
        throw new Error(`WebGPU validation error: ${validation.message}`);
      }
      if (outOfMemory !== null) {
        throw new Error(`WebGPU out-of-memory error: ${outOfMemory.message}`);
      }
    },
  });
}

/**
 * A model with every kind of layer the adapter names: dense layers, a batch
 * normalization, a layer normalization, and a nested model with its own dense and layer
 * normalization. Weights are set from a seeded generator, values in the normal range.
 */
export function normModel(seed = 1): tfl.LayersModel {
  const block = tfl.sequential({
    name: "block",
    layers: [
      tfl.layers.dense({ units: 8, inputShape: [8], name: "fc" }),
      tfl.layers.layerNormalization({ name: "ln" }),
    ],
  });
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 8, inputShape: [4], name: "stem" }),
      tfl.layers.batchNormalization({ name: "bn" }),
      block,
      tfl.layers.layerNormalization({ name: "norm" }),
      tfl.layers.dense({ units: 2, name: "head" }),
    ],
  });
  fillSeeded(model.trainableWeights.map((w) => w.read() as tf.Variable), seed);
  return model;
}

/** An MLP of `blocks` dense + layer normalization blocks: 4 variables per block. */
export function deepModel(blocks: number, width: number): tfl.LayersModel {
  const layers: tfl.layers.Layer[] = [];
  for (let b = 0; b < blocks; b++) {
    layers.push(
      tfl.layers.dense({
        units: width,
        ...(b === 0 ? { inputShape: [width] } : {}),
        name: `fc${b}`,
      }),
      tfl.layers.layerNormalization({ name: `ln${b}` }),
    );
  }
  const model = tfl.sequential({ layers });
  fillSeeded(model.trainableWeights.map((w) => w.read() as tf.Variable), 1);
  return model;
}

/** Gives each variable seeded values with exponents over several binades. */
export function fillSeeded(
  variables: readonly tf.Variable[],
  seed: number,
): void {
  const next = random(seed);
  for (const variable of variables) {
    tf.tidy(() =>
      variable.assign(
        tf.tensor(randomData(variable.size, next), variable.shape, "float32"),
      )
    );
  }
}

/** Host copies of the groups' variables, for CpuDecay to compute what to expect. */
export async function hostTwin(
  groups: readonly ParamGroup<tf.Variable>[],
): Promise<ParamGroup[]> {
  return await Promise.all(groups.map(async (group) => ({
    ...group,
    params: await Promise.all(
      group.params.map(async (variable) =>
        new Parameter((await variable.data() as Float32Array).slice())
      ),
    ),
  })));
}
