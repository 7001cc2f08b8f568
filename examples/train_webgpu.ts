// deno-lint-ignore-file no-console
// Copyright 2026 the weight-decay authors. MIT license.
/**
 * Trains a two-layer MLP entirely on WebGPU, with its parameters in a
 * {@linkcode GpuDecay} arena and the decoupled weight decay fused into each training
 * step's own submission.
 *
 * What it shows:
 *
 * - The model is plain `Parameter`s, named with `namedParameters` and grouped with a
 *   basecls policy (`[[0, "bias"], 1e-2]`: weights decay, biases do not).
 * - `GpuDecay.create` uploads them once into one storage buffer; the WGSL kernels
 *   (forward, loss gradient, backward, SGD update) bind each tensor where it lives with
 *   `decay.binding(param)`, so nothing is copied between the model and the optimizer.
 * - Each step records the forward and backward pass, then `decay.encode(encoder, lr)`,
 *   then the SGD update, into one command encoder, and submits it once: the decay comes
 *   right before the update, as in `torch.optim.AdamW`. The learning rate follows a
 *   warmup + cosine schedule, so every step's decay factor differs.
 * - The data is a regression onto a fixed random "teacher" network (seeded, so every run
 *   is the same). The loss is read back only every few steps, since each read waits for
 *   the GPU (a map round trip of ~11 ms in Deno). The run fails if the loss does not
 *   fall, or on any WebGPU validation error.
 *
 * Run it from the repository root (WebGPU needs no permission flag):
 *
 * ```sh
 * ./tools/deno run examples/train_webgpu.ts
 * ```
 *
 * @module
 */

import {
  getParamGroups,
  GpuDecay,
  namedParameters,
  Parameter,
  type ParamGroup,
} from "@decoupled/weight-decay";

// --- the problem -------------------------------------------------------------------

const SAMPLES = 256;
const INPUTS = 8;
const HIDDEN = 32;
const OUTPUTS = 4;
const TEACHER_HIDDEN = 16;
const TEACHER_GAIN = 2;
const SEED = 2026;

const STEPS = 400;
const WARMUP_STEPS = 20;
const PEAK_LR = 0.2;
/** Weights decay by 1e-2 per unit of learning rate; biases (rule 0) not at all. */
const POLICY = [[0, "bias"], 1e-2] as const;
/** Loss is read back at these intervals, and after the last step. */
const LOG_EVERY = 50;
/** The run fails unless the final loss is at most this fraction of the first. */
const REQUIRED_LOSS_RATIO = 0.1;

/** Threads per workgroup in every training kernel. */
const WORKGROUP_SIZE = 64;

// --- the model, on the host ----------------------------------------------------------

/**
 * A fully connected layer, `y = weight · x + bias`, initialised like PyTorch's (uniform
 * in ±gain/√inputs).
 */
class Linear {
  readonly weight: Parameter;
  readonly bias: Parameter;

  constructor(inputs: number, outputs: number, next: () => number, gain = 1) {
    const bound = gain / Math.sqrt(inputs);
    const uniform = (size: number) =>
      Float32Array.from({ length: size }, () => (next() * 2 - 1) * bound);
    this.weight = new Parameter(uniform(outputs * inputs), [outputs, inputs]);
    this.bias = new Parameter(uniform(outputs), [outputs]);
  }

  /** The layer on one sample, on the host (for the teacher), then `activation`. */
  apply(x: Float32Array, activation: (v: number) => number): Float32Array {
    const [outputs, inputs] = this.weight.shape as [number, number];
    return Float32Array.from({ length: outputs }, (_, row) => {
      let sum = this.bias.data[row]!;
      for (let col = 0; col < inputs; col++) {
        sum += this.weight.data[row * inputs + col]! * x[col]!;
      }
      return activation(sum);
    });
  }
}

/** The student: `out(tanh(hidden(x)))`, trained on the GPU. */
interface Mlp {
  hidden: Linear;
  out: Linear;
}

/** A deterministic generator (mulberry32) of numbers in [0, 1). */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Samples in rows: `inputs` is [SAMPLES, INPUTS], `targets` [SAMPLES, OUTPUTS]. */
interface Dataset {
  // Backed by an ArrayBuffer (not a SharedArrayBuffer), as queue.writeBuffer requires.
  inputs: Float32Array<ArrayBuffer>;
  targets: Float32Array<ArrayBuffer>;
}

/**
 * Inputs uniform in [-1, 1), and as targets the outputs of a random teacher MLP of the
 * same form: a problem the student can fit well, so its loss must fall far.
 */
function teacherData(next: () => number): Dataset {
  // A gain above 1 so the teacher's tanh is far from linear.
  const teacher = {
    hidden: new Linear(INPUTS, TEACHER_HIDDEN, next, TEACHER_GAIN),
    out: new Linear(TEACHER_HIDDEN, OUTPUTS, next),
  };
  const inputs = Float32Array.from(
    { length: SAMPLES * INPUTS },
    () => next() * 2 - 1,
  );
  const targets = new Float32Array(SAMPLES * OUTPUTS);
  for (let n = 0; n < SAMPLES; n++) {
    const x = inputs.subarray(n * INPUTS, (n + 1) * INPUTS);
    const h = teacher.hidden.apply(x, Math.tanh);
    targets.set(teacher.out.apply(h, (v) => v), n * OUTPUTS);
  }
  return { inputs, targets };
}

/** Linear warmup to `PEAK_LR`, then cosine decay to 0 at the last step. */
function learningRate(step: number): number {
  if (step < WARMUP_STEPS) return PEAK_LR * (step + 1) / WARMUP_STEPS;
  const progress = (step - WARMUP_STEPS) / (STEPS - 1 - WARMUP_STEPS);
  return PEAK_LR * 0.5 * (1 + Math.cos(Math.PI * progress));
}

// --- the kernels ---------------------------------------------------------------------

/**
 * Forward pass, loss gradient and backward pass to the hidden pre-activations. The
 * parameters are bound read-only here: WebGPU treats every range of one buffer as one
 * resource, so a dispatch cannot read one arena range and write another.
 */
const MLP_WGSL = /* wgsl */ `
override SAMPLES: u32;
override INPUTS: u32;
override HIDDEN: u32;
override OUTPUTS: u32;

// The data set, written once.
@group(0) @binding(0) var<storage, read> inputs: array<f32>;   // [SAMPLES, INPUTS]
@group(0) @binding(1) var<storage, read> targets: array<f32>;  // [SAMPLES, OUTPUTS]
// The parameters: ranges of the GpuDecay arena, from decay.binding(param).
@group(0) @binding(2) var<storage, read> hidden_weight: array<f32>;  // [HIDDEN, INPUTS]
@group(0) @binding(3) var<storage, read> hidden_bias: array<f32>;    // [HIDDEN]
@group(0) @binding(4) var<storage, read> out_weight: array<f32>;     // [OUTPUTS, HIDDEN]
@group(0) @binding(5) var<storage, read> out_bias: array<f32>;       // [OUTPUTS]
// Activations and gradients, the example's own buffers.
@group(0) @binding(6) var<storage, read_write> hidden: array<f32>;         // tanh(hidden(x)), [SAMPLES, HIDDEN]
@group(0) @binding(7) var<storage, read_write> out_grad: array<f32>;       // dLoss/dy, [SAMPLES, OUTPUTS]
@group(0) @binding(8) var<storage, read_write> squared_error: array<f32>;  // (y - target)^2, [SAMPLES, OUTPUTS]
@group(0) @binding(9) var<storage, read_write> hidden_grad: array<f32>;    // dLoss/d(pre-tanh), [SAMPLES, HIDDEN]

// One thread per (sample, hidden unit): hidden = tanh(hidden_weight x + hidden_bias).
@compute @workgroup_size(${WORKGROUP_SIZE})
fn hidden_forward(@builtin(global_invocation_id) id: vec3u) {
  let n = id.x / HIDDEN;
  let j = id.x % HIDDEN;
  if (n >= SAMPLES) { return; }
  var sum = hidden_bias[j];
  for (var i = 0u; i < INPUTS; i++) {
    sum += hidden_weight[j * INPUTS + i] * inputs[n * INPUTS + i];
  }
  hidden[id.x] = tanh(sum);
}

// One thread per (sample, output): y = out_weight hidden + out_bias, and the gradient of
// the mean squared error over all SAMPLES * OUTPUTS values.
@compute @workgroup_size(${WORKGROUP_SIZE})
fn output_forward_and_loss_gradient(@builtin(global_invocation_id) id: vec3u) {
  let n = id.x / OUTPUTS;
  let k = id.x % OUTPUTS;
  if (n >= SAMPLES) { return; }
  var y = out_bias[k];
  for (var j = 0u; j < HIDDEN; j++) {
    y += out_weight[k * HIDDEN + j] * hidden[n * HIDDEN + j];
  }
  let error = y - targets[id.x];
  squared_error[id.x] = error * error;
  out_grad[id.x] = 2.0 * error / f32(SAMPLES * OUTPUTS);
}

// One thread per (sample, hidden unit): back through out_weight and tanh.
@compute @workgroup_size(${WORKGROUP_SIZE})
fn hidden_backward(@builtin(global_invocation_id) id: vec3u) {
  let n = id.x / HIDDEN;
  let j = id.x % HIDDEN;
  if (n >= SAMPLES) { return; }
  var grad = 0.0;
  for (var k = 0u; k < OUTPUTS; k++) {
    grad += out_weight[k * HIDDEN + j] * out_grad[n * OUTPUTS + k];
  }
  let h = hidden[id.x];
  hidden_grad[id.x] = grad * (1.0 - h * h);
}
`;

/**
 * Plain SGD on one `Linear` layer, given the gradient at its output: one pipeline per
 * layer, its shape set by override constants.
 */
const SGD_WGSL = /* wgsl */ `
override SAMPLES: u32;
override ROWS: u32;  // the layer's outputs
override COLS: u32;  // its inputs

struct Step { lr: f32 }
@group(0) @binding(0) var<uniform> step: Step;
// The layer's parameters, in the arena; written, so bound read-write.
@group(0) @binding(1) var<storage, read_write> weight: array<f32>;  // [ROWS, COLS]
@group(0) @binding(2) var<storage, read_write> bias: array<f32>;    // [ROWS]
// What the layer saw and the loss gradient at its output, this step.
@group(0) @binding(3) var<storage, read> layer_input: array<f32>;  // [SAMPLES, COLS]
@group(0) @binding(4) var<storage, read> output_grad: array<f32>;  // [SAMPLES, ROWS]

// One thread per weight of a row, and one more for the row's bias (column COLS).
@compute @workgroup_size(${WORKGROUP_SIZE})
fn sgd_update(@builtin(global_invocation_id) id: vec3u) {
  let row = id.x / (COLS + 1u);
  let col = id.x % (COLS + 1u);
  if (row >= ROWS) { return; }
  var grad = 0.0;
  for (var n = 0u; n < SAMPLES; n++) {
    let g = output_grad[n * ROWS + row];
    if (col == COLS) {
      grad += g;
    } else {
      grad += g * layer_input[n * COLS + col];
    }
  }
  if (col == COLS) {
    bias[row] -= step.lr * grad;
  } else {
    weight[row * COLS + col] -= step.lr * grad;
  }
}
`;

// --- GPU resources -------------------------------------------------------------------

/** The example's own buffers: data, activations, gradients, the lr, and a loss readback. */
interface Buffers {
  inputs: GPUBuffer;
  targets: GPUBuffer;
  hidden: GPUBuffer;
  outGrad: GPUBuffer;
  squaredError: GPUBuffer;
  hiddenGrad: GPUBuffer;
  step: GPUBuffer;
  lossReadback: GPUBuffer;
}

/** Creates the example's buffers; `owned` destroys them when disposed. */
function createBuffers(
  device: GPUDevice,
  owned: DisposableStack,
  data: Dataset,
): Buffers {
  const create = (label: string, size: number, usage: number) =>
    owned.adopt(
      device.createBuffer({ label, size, usage }),
      (buffer) => buffer.destroy(),
    );
  const uploaded = (label: string, values: Float32Array<ArrayBuffer>) => {
    const buffer = create(
      label,
      values.byteLength,
      GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
    );
    device.queue.writeBuffer(buffer, 0, values);
    return buffer;
  };
  const scratch = (label: string, floats: number, extra = 0) =>
    create(label, floats * 4, GPUBufferUsage.STORAGE | extra);
  return {
    inputs: uploaded("mlp inputs", data.inputs),
    targets: uploaded("mlp targets", data.targets),
    hidden: scratch("mlp hidden activations", SAMPLES * HIDDEN),
    outGrad: scratch("mlp output gradient", SAMPLES * OUTPUTS),
    squaredError: scratch(
      "mlp squared error",
      SAMPLES * OUTPUTS,
      GPUBufferUsage.COPY_SRC,
    ),
    hiddenGrad: scratch("mlp hidden gradient", SAMPLES * HIDDEN),
    step: create(
      "sgd learning rate",
      16, // a uniform struct's size rounds up to 16 bytes
      GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    ),
    lossReadback: create(
      "loss readback",
      SAMPLES * OUTPUTS * 4,
      GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    ),
  };
}

/** A pipeline and the one bind group it runs with, plus how many threads it needs. */
interface Kernel {
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  threads: number;
}

/**
 * The dispatches of a training step, in order: forward and backward, then the SGD
 * updates. Each binds the parameters at their arena ranges, `decay.binding(param)`.
 */
function createKernels(
  device: GPUDevice,
  model: Mlp,
  decay: GpuDecay,
  buffers: Buffers,
): { backward: Kernel[]; update: Kernel[] } {
  const mlpModule = device.createShaderModule({
    label: "mlp forward and backward",
    code: MLP_WGSL,
  });
  const sgdModule = device.createShaderModule({
    label: "sgd update of a linear layer",
    code: SGD_WGSL,
  });
  const shape = { SAMPLES, INPUTS, HIDDEN, OUTPUTS };
  const param = (p: Parameter) => decay.binding(p);
  const buffer = (b: GPUBuffer) => ({ buffer: b });

  const kernel = (
    label: string,
    module: GPUShaderModule,
    entryPoint: string,
    constants: Record<string, number>,
    resources: Record<number, GPUBufferBinding>,
    threads: number,
  ): Kernel => {
    const pipeline = device.createComputePipeline({
      label: `${label} pipeline`,
      layout: "auto",
      compute: { module, entryPoint, constants },
    });
    const bindGroup = device.createBindGroup({
      label: `${label} bind group`,
      layout: pipeline.getBindGroupLayout(0),
      entries: Object.entries(resources).map(([binding, resource]) => ({
        binding: Number(binding),
        resource,
      })),
    });
    return { pipeline, bindGroup, threads };
  };

  const { hidden, out } = model;
  const kernels = [
    kernel("hidden forward", mlpModule, "hidden_forward", shape, {
      0: buffer(buffers.inputs),
      2: param(hidden.weight),
      3: param(hidden.bias),
      6: buffer(buffers.hidden),
    }, SAMPLES * HIDDEN),
    kernel(
      "output forward and loss gradient",
      mlpModule,
      "output_forward_and_loss_gradient",
      shape,
      {
        1: buffer(buffers.targets),
        4: param(out.weight),
        5: param(out.bias),
        6: buffer(buffers.hidden),
        7: buffer(buffers.outGrad),
        8: buffer(buffers.squaredError),
      },
      SAMPLES * OUTPUTS,
    ),
    kernel("hidden backward", mlpModule, "hidden_backward", shape, {
      4: param(out.weight),
      6: buffer(buffers.hidden),
      7: buffer(buffers.outGrad),
      9: buffer(buffers.hiddenGrad),
    }, SAMPLES * HIDDEN),
    // The output layer is updated only after hidden_backward has read its weights.
    kernel("sgd update out", sgdModule, "sgd_update", {
      SAMPLES,
      ROWS: OUTPUTS,
      COLS: HIDDEN,
    }, {
      0: buffer(buffers.step),
      1: param(out.weight),
      2: param(out.bias),
      3: buffer(buffers.hidden),
      4: buffer(buffers.outGrad),
    }, OUTPUTS * (HIDDEN + 1)),
    kernel("sgd update hidden", sgdModule, "sgd_update", {
      SAMPLES,
      ROWS: HIDDEN,
      COLS: INPUTS,
    }, {
      0: buffer(buffers.step),
      1: param(hidden.weight),
      2: param(hidden.bias),
      3: buffer(buffers.inputs),
      4: buffer(buffers.hiddenGrad),
    }, HIDDEN * (INPUTS + 1)),
  ];
  return { backward: kernels.slice(0, -2), update: kernels.slice(-2) };
}

// --- training ------------------------------------------------------------------------

/** Records dispatches as one compute pass. */
function recordPass(
  encoder: GPUCommandEncoder,
  label: string,
  kernels: Kernel[],
) {
  const pass = encoder.beginComputePass({ label });
  for (const { pipeline, bindGroup, threads } of kernels) {
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(Math.ceil(threads / WORKGROUP_SIZE));
  }
  pass.end();
}

/** Maps the loss readback buffer (filled by this step's submit) and averages it. */
async function readLoss(readback: GPUBuffer): Promise<number> {
  await readback.mapAsync(GPUMapMode.READ);
  const squaredErrors = new Float32Array(readback.getMappedRange());
  const loss = squaredErrors.reduce((sum, e) => sum + e, 0) /
    squaredErrors.length;
  readback.unmap();
  return loss;
}

/** The L2 norm of a tensor's values. */
function norm(values: Float32Array): number {
  return Math.sqrt(values.reduce((sum, v) => sum + v * v, 0));
}

/** Prints which parameters each group holds, as the policy decided. */
function printGroups(groups: ParamGroup[]): void {
  for (const { weightDecay, names } of groups) {
    console.log(`weight decay ${weightDecay}: ${names.join(", ")}`);
  }
}

/**
 * Prints each parameter's norm before and after training, and how much the decay alone
 * scaled its group over the run: the product of the per-step factors
 * `fround(1 - lr * weightDecay)` that `GpuDecay` applied.
 */
function printDecaySummary(
  groups: ParamGroup[],
  initialNorms: Map<Parameter, number>,
): void {
  for (const { weightDecay, params, names } of groups) {
    let scale = 1;
    for (let step = 0; step < STEPS; step++) {
      scale *= Math.fround(1 - learningRate(step) * weightDecay);
    }
    const effect = weightDecay === 0
      ? "not decayed"
      : `decay alone scaled it by ${scale.toFixed(4)}`;
    params.forEach((param, i) => {
      console.log(
        `${names[i]}: norm ${initialNorms.get(param)!.toFixed(3)} -> ${
          norm(param.data).toFixed(3)
        }, ${effect} (weight decay ${weightDecay})`,
      );
    });
  }
}

/** Trains the MLP; returns the first and last loss read back. */
async function train(device: GPUDevice): Promise<[number, number]> {
  const next = seededRandom(SEED);
  const data = teacherData(next);
  const model: Mlp = {
    hidden: new Linear(INPUTS, HIDDEN, next),
    out: new Linear(HIDDEN, OUTPUTS, next),
  };
  const groups = getParamGroups(namedParameters(model), POLICY);
  printGroups(groups);
  const initialNorms = new Map(
    groups.flatMap((g) => g.params).map((p) => [p, norm(p.data)]),
  );

  using owned = new DisposableStack();
  using decay = GpuDecay.create(device, groups);
  const buffers = createBuffers(device, owned, data);
  const kernels = createKernels(device, model, decay, buffers);

  const sgdLr = new Float32Array(1); // the SGD kernels' uniform, reused every step
  const losses: number[] = [];
  for (let step = 0; step < STEPS; step++) {
    const lr = learningRate(step);
    sgdLr[0] = lr;
    // Queued after the previous step's submit and before this one's, so each step reads
    // its own lr. (Several steps per submit would need one slot per step, as GpuDecay
    // keeps for its factors.)
    device.queue.writeBuffer(buffers.step, 0, sgdLr);
    const encoder = device.createCommandEncoder({ label: "mlp training step" });
    recordPass(encoder, "mlp forward and backward", kernels.backward);
    // Decay right before the update, as torch.optim.AdamW does: the gradient was taken
    // at the parameters before the decay, and the update applies it to the decayed ones.
    decay.encode(encoder, lr);
    recordPass(encoder, "mlp sgd update", kernels.update);
    const logged = step % LOG_EVERY === 0 || step === STEPS - 1;
    if (logged) {
      encoder.copyBufferToBuffer(
        buffers.squaredError,
        0,
        buffers.lossReadback,
        0,
        buffers.lossReadback.size,
      );
    }
    device.queue.submit([encoder.finish()]);
    if (logged) {
      // The loss of the parameters this step started from.
      const loss = await readLoss(buffers.lossReadback);
      losses.push(loss);
      console.log(
        `step ${String(step).padStart(3)}  lr ${lr.toFixed(4)}  loss ${
          loss.toFixed(6)
        }`,
      );
    }
  }

  await decay.syncToHost(); // arena -> Parameter.data, as before saving a checkpoint
  printDecaySummary(groups, initialNorms);
  return [losses[0]!, losses.at(-1)!];
}

/**
 * Runs `work` inside a validation error scope and throws on any validation error, which
 * would otherwise only be logged while the run went on.
 */
async function failOnValidationError<T>(
  device: GPUDevice,
  work: () => Promise<T>,
): Promise<T> {
  device.pushErrorScope("validation");
  const outcome = await work().then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  const validation = await device.popErrorScope();
  if (validation !== null) {
    // Usually the cause of any other failure, so it is reported first.
    throw new Error(`WebGPU validation error: ${validation.message}`, {
      cause: outcome.ok ? undefined : outcome.error,
    });
  }
  if (!outcome.ok) throw outcome.error;
  return outcome.value;
}

async function main(): Promise<void> {
  const adapter = await navigator.gpu.requestAdapter();
  if (adapter === null) throw new Error("No WebGPU adapter available");
  const device = await adapter.requestDevice({ label: "train_webgpu device" });
  const started = performance.now();
  try {
    console.log(`adapter: ${adapter.info.description || adapter.info.vendor}`);
    const [first, last] = await failOnValidationError(
      device,
      () => train(device),
    );
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `loss ${first.toFixed(6)} -> ${last.toFixed(6)} (x${
        (last / first).toFixed(3)
      }) in ${STEPS} steps, ${seconds.toFixed(2)} s`,
    );
    if (!(last <= REQUIRED_LOSS_RATIO * first)) {
      throw new Error(
        `Expected the final loss to be at most ${REQUIRED_LOSS_RATIO} of the first (${first}) but found ${last}`,
      );
    }
  } finally {
    device.destroy();
  }
}

await main();
