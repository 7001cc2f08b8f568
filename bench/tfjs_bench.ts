// Copyright 2026 the weight-decay authors. MIT license.
// deno-lint-ignore-file no-console
/**
 * TfjsDecay's fused WebGPU pass against its per-variable path (`tf.mul` + `assign` per
 * variable), on a model of dense and layer normalization layers:
 *
 *   deno task bench:tfjs     (or: deno bench --allow-read --allow-env bench/tfjs_bench.ts)
 *
 * `deno bench` prints each entry as a ratio of its group's baseline. WebGPU entries run
 * `STEPS` steps, then submit what TensorFlow.js still holds and wait once for the queue
 * (a wait alone costs ~11 ms in Deno).
 *
 * In training every optimizer step gives each variable a new buffer (`assign`), so the
 * fused pass is rebuilt before it runs: the "rebuild" entry times that alone. Timing
 * optimizer + decay end to end is left out on purpose: on Deno with a software adapter
 * each step of tfjs kernels gets slower the longer a process runs (2x over a few
 * seconds, with tfjs's own memory flat), so entries run later would look worse.
 *
 * @module
 */

import {
  CpuDecay,
  getParamGroups,
  GpuDecay,
  NORM_TYPES,
  type ParamGroup,
} from "../mod.ts";
import { TfjsDecay, tfjsNamedParameters } from "../tfjs.ts";
import { adapterName, ignoreGpu } from "../tests/_gpu.ts";
import { deepModel, hostTwin, tf } from "../tests/_tfjs.ts";

/** Every group decays, so both paths touch every variable. */
const POLICY = [[1e-5, "bias"], [5e-5, NORM_TYPES], 1e-4] as const;
const STEPS = 32;
const BLOCKS = 12;
const WIDTH = 64;
const LR = 1e-3;

/**
 * The variables of a fresh model on the current backend, grouped by POLICY. On webgpu
 * their data is moved to the GPU first, where the first training step puts it: tfjs
 * runs an op on the CPU while all its inputs are small and still there.
 */
function modelGroups(): ParamGroup<tf.Variable>[] {
  const groups = getParamGroups(
    tfjsNamedParameters<tf.Variable>(deepModel(BLOCKS, WIDTH)),
    POLICY,
  );
  const upload = new TfjsDecay(tf, groups);
  upload.step(LR);
  upload.destroy();
  return groups;
}

const variables = BLOCKS * 4;
const DECAY = `webgpu: decay of ${variables} variables, ${STEPS} steps`;
const CPU = `cpu backend: decay of ${variables} variables`;

/** The internals of tfjs-backend-webgpu 4.22 the benchmark reads. */
interface WebGpuBackend {
  device: GPUDevice;
  commandEncoder: GPUCommandEncoder | null;
  submitQueue(): void;
  tensorMap: { get(dataId: object): { resource: GPUBuffer } };
}

/** Submits what TensorFlow.js's webgpu backend holds, and waits for the queue. */
async function finish(): Promise<void> {
  const backend = tf.backend() as unknown as WebGpuBackend;
  if (backend.commandEncoder !== null) backend.submitQueue();
  await backend.device.queue.onSubmittedWorkDone();
}

function webgpuBench(
  group: string,
  name: string,
  makeStep: () => () => void,
  baseline = false,
): void {
  let step: (() => void) | undefined;
  Deno.bench({
    name,
    group,
    baseline,
    ignore: ignoreGpu,
    warmup: 2,
    n: 10,
    async fn(b) {
      await tf.setBackend("webgpu");
      step ??= makeStep();
      await finish();
      b.start();
      for (let i = 0; i < STEPS; i++) step();
      await finish();
      b.end();
    },
  });
}

function decayStep(fused: boolean): () => void {
  const decay = new TfjsDecay(tf, modelGroups(), { fused });
  return () => decay.step(LR);
}

/** What a step with new buffers adds: the pass rebuilt over the variables' buffers. */
function rebuildStep(): () => void {
  const backend = tf.backend() as unknown as WebGpuBackend;
  const groups = modelGroups().map((group) => ({
    ...group,
    params: group.params.map((variable) => ({
      buffer: backend.tensorMap.get(variable.dataId).resource,
      offset: 0,
      size: variable.size * 4,
    })),
  }));
  return () => GpuDecay.fromBuffers(backend.device, groups).destroy();
}

if (ignoreGpu) {
  console.log("No WebGPU adapter: the webgpu benchmarks are IGNORED");
} else {
  await tf.setBackend("webgpu");
  console.log(`tfjs webgpu backend on: ${adapterName()}`);
}
webgpuBench(
  DECAY,
  "per-variable (tf.mul + assign)",
  () => decayStep(false),
  true,
);
webgpuBench(
  DECAY,
  "fused (one pass, buffers unchanged)",
  () => decayStep(true),
);
webgpuBench(
  DECAY,
  "rebuilding the fused pass alone (GpuDecay.fromBuffers + destroy)",
  rebuildStep,
);

// --- the cpu backend, against CpuDecay on the same values ----------------------------
await tf.setBackend("cpu");
const cpuGroups = modelGroups();
const tfjsCpu = new TfjsDecay(tf, cpuGroups);
const hostDecay = new CpuDecay(await hostTwin(cpuGroups));
Deno.bench({
  name: "CpuDecay on the same values",
  group: CPU,
  baseline: true,
  warmup: 20,
  fn: () => hostDecay.step(LR),
});
Deno.bench({
  name: "TfjsDecay per-variable on the cpu backend",
  group: CPU,
  warmup: 20,
  async fn(b) {
    await tf.setBackend("cpu");
    b.start();
    tfjsCpu.step(LR);
    b.end();
  },
});
