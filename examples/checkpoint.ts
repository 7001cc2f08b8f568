// deno-lint-ignore-file no-console
// Copyright 2026 the weight-decay authors. MIT license.
/**
 * Stops a training run, saves it, resumes it in a fresh engine, and checks that the
 * resumed run equals the one that never stopped, bit for bit.
 *
 * What it shows:
 *
 * - `saveCheckpoint(dir, adamw)` writes `model.safetensors` (every parameter by name,
 *   as PyTorch's `load_state_dict` takes it) and `optimizer.safetensors` (both moments
 *   and the GPU's step count), reading the arenas one shard at a time.
 * - `loadCheckpoint(dir, fresh)` checks both files, then loads them into an engine made
 *   from other values: the parameters, the moments and the step count all come back.
 * - The run clips gradients by their global norm and skips a step whose gradients are
 *   not finite, on the GPU: the skipped step does not count, before or after the save.
 * - The gradients of a linear regression are computed on the host from the
 *   parameters, so both runs see exactly the same ones.
 *
 * Run it from the repository root (it writes a temporary directory):
 *
 * ```sh
 * ./tools/deno run --allow-read --allow-write examples/checkpoint.ts
 * ```
 *
 * @module
 */

import {
  getParamGroups,
  GpuAdamW,
  loadCheckpoint,
  Parameter,
  saveCheckpoint,
} from "@decoupled/weight-decay";

const SAMPLES = 64;
const FEATURES = 16;
const STEPS = 40;
const SAVED_AT = 20;
/** A step whose gradient is poisoned with a NaN: skipped, and not counted. */
const POISONED_STEP = 7;
const OPTIONS = { maxGradNorm: 1, skipNonFinite: true, maxShardBytes: 256 };

/** A seeded generator, so every run sees the same data. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32 - 0.5;
  };
}

const next = seeded(2026);
const x = Float32Array.from({ length: SAMPLES * FEATURES }, next);
const truth = Float32Array.from({ length: FEATURES }, () => 4 * next());
const y = Float32Array.from({ length: SAMPLES }, (_, i) => {
  let sum = 0.5;
  for (let j = 0; j < FEATURES; j++) sum += x[i * FEATURES + j]! * truth[j]!;
  return sum;
});

/** A fresh model and its engine; `fill` gives the starting values. */
function make(device: GPUDevice, fill: number) {
  const weight = new Parameter(new Float32Array(FEATURES).fill(fill), [
    1,
    FEATURES,
  ]);
  const bias = new Parameter([fill]);
  const groups = getParamGroups(
    [{ name: "fc.weight", param: weight }, { name: "fc.bias", param: bias }],
    [[0, "bias"], 0.01],
  );
  return { weight, bias, adamw: GpuAdamW.create(device, groups, OPTIONS) };
}

type Run = ReturnType<typeof make>;

/** The mean squared error's gradients at the parameters' current values. */
function gradients({ weight, bias }: Run): [Float32Array, Float32Array] {
  const dWeight = new Float32Array(FEATURES);
  const dBias = new Float32Array(1);
  for (let i = 0; i < SAMPLES; i++) {
    let error = bias.data[0]! - y[i]!;
    for (let j = 0; j < FEATURES; j++) {
      error += x[i * FEATURES + j]! * weight.data[j]!;
    }
    for (let j = 0; j < FEATURES; j++) {
      dWeight[j]! += 2 * error * x[i * FEATURES + j]! / SAMPLES;
    }
    dBias[0]! += 2 * error / SAMPLES;
  }
  return [dWeight, dBias];
}

async function train(run: Run, from: number, to: number): Promise<void> {
  for (let step = from; step < to; step++) {
    await run.adamw.syncToHost(); // the gradients are computed on the host
    const [dWeight, dBias] = gradients(run);
    if (step === POISONED_STEP) dWeight[3] = NaN;
    run.adamw.writeGrad(run.weight, dWeight);
    run.adamw.writeGrad(run.bias, dBias);
    run.adamw.step(0.2 * (1 - step / STEPS));
  }
  await run.adamw.syncToHost();
}

function loss({ weight, bias }: Run): number {
  let sum = 0;
  for (let i = 0; i < SAMPLES; i++) {
    let error = bias.data[0]! - y[i]!;
    for (let j = 0; j < FEATURES; j++) {
      error += x[i * FEATURES + j]! * weight.data[j]!;
    }
    sum += error * error;
  }
  return sum / SAMPLES;
}

const adapter = await navigator.gpu.requestAdapter();
if (adapter === null) throw new Error("No WebGPU adapter");
const device = await adapter.requestDevice();
const dir = await Deno.makeTempDir({ prefix: "weight-decay-checkpoint-" });
try {
  const whole = make(device, 0);
  const initialLoss = loss(whole);
  await train(whole, 0, STEPS);
  const wholeState = await whole.adamw.state();

  const first = make(device, 0);
  await train(first, 0, SAVED_AT);
  await saveCheckpoint(dir, first.adamw);
  const files = [...Deno.readDirSync(dir)].map((f) => f.name).sort();
  console.log(
    `saved step ${
      (await first.adamw.state()).step
    } (${first.adamw.buffers.length} shards) to ${files.join(", ")}`,
  );
  first.adamw.destroy();

  const resumed = make(device, 9); // other values: all of them come from the checkpoint
  await loadCheckpoint(dir, resumed.adamw);
  console.log(
    `loaded step ${(await resumed.adamw.state()).step} into a fresh engine`,
  );
  await train(resumed, SAVED_AT, STEPS);
  const resumedState = await resumed.adamw.state();

  const same =
    JSON.stringify([...resumed.weight.data, ...resumed.bias.data]) ===
      JSON.stringify([...whole.weight.data, ...whole.bias.data]) &&
    JSON.stringify(resumedState) === JSON.stringify(wholeState);
  console.log(
    `steps that ran: ${wholeState.step} of ${STEPS} (step ${POISONED_STEP} was skipped)`,
  );
  console.log(`loss ${initialLoss.toFixed(4)} -> ${loss(resumed).toFixed(4)}`);
  console.log(`resumed run equals the uninterrupted one bit for bit: ${same}`);
  whole.adamw.destroy();
  resumed.adamw.destroy();
  if (
    !same || wholeState.step !== STEPS - 1 ||
    !(loss(resumed) < initialLoss / 10)
  ) {
    Deno.exit(1);
  }
} finally {
  await Deno.remove(dir, { recursive: true });
  device.destroy();
}
