// deno-lint-ignore-file no-console
// Copyright 2026 the weight-decay authors. MIT license.
/**
 * Trains a linear regression on WebGPU with `GpuAdamW`: a WGSL kernel reads the
 * parameters through `binding()` and writes their gradients through `gradBinding()`, and
 * AdamW runs as one more pass in the same submit. The bias is exempt from weight decay.
 * Exits with status 1 if the loss does not fall below 1% of where it started.
 *
 * Run with `deno run examples/train_adamw.ts`.
 *
 * @module
 */

import {
  getParamGroups,
  GpuAdamW,
  namedParameters,
  Parameter,
} from "@decoupled/weight-decay";

const SAMPLES = 256;
const FEATURES = 8;
const STEPS = 300;

/** Mean squared error of `y ≈ x · weight + bias`, as the gradient kernel differentiates it. */
const GRADIENT_WGSL = /* wgsl */ `
const SAMPLES: u32 = ${SAMPLES}u;
const FEATURES: u32 = ${FEATURES}u;

@group(0) @binding(0) var<storage, read> x: array<f32>;  // SAMPLES x FEATURES, row-major
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> weight_grad: array<f32>;
@group(0) @binding(5) var<storage, read_write> bias_grad: array<f32>;

// Thread j < FEATURES computes d loss / d weight[j]; thread FEATURES, d loss / d bias.
@compute @workgroup_size(${FEATURES + 1})
fn gradient(@builtin(local_invocation_index) j: u32) {
  var sum = 0.0;
  for (var i = 0u; i < SAMPLES; i++) {
    var prediction = bias[0];
    for (var k = 0u; k < FEATURES; k++) { prediction += x[i * FEATURES + k] * weight[k]; }
    let residual = prediction - y[i];
    sum += select(residual, residual * x[i * FEATURES + j], j < FEATURES);
  }
  let grad = 2.0 * sum / f32(SAMPLES);
  if (j < FEATURES) { weight_grad[j] = grad; } else { bias_grad[0] = grad; }
}
`;

/** A deterministic generator, so every run sees the same data. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

// Synthetic data: y = x · trueWeight + trueBias + a little noise.
const next = random(42);
const trueWeight = Array.from({ length: FEATURES }, () => next() * 4 - 2);
const trueBias = 0.5;
const x = Float32Array.from(
  { length: SAMPLES * FEATURES },
  () => next() * 2 - 1,
);
const y = Float32Array.from(
  { length: SAMPLES },
  (_, i) =>
    trueWeight.reduce((sum, w, k) => sum + w * x[i * FEATURES + k]!, trueBias) +
    (next() - 0.5) * 0.01,
);

function loss(weight: Float32Array, bias: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < SAMPLES; i++) {
    let prediction = bias[0]!;
    for (let k = 0; k < FEATURES; k++) {
      prediction += x[i * FEATURES + k]! * weight[k]!;
    }
    sum += (prediction - y[i]!) ** 2;
  }
  return sum / SAMPLES;
}

const adapter = await navigator.gpu.requestAdapter();
if (adapter === null) {
  console.error("No WebGPU adapter");
  Deno.exit(1);
}
const device = await adapter.requestDevice();

const model = {
  linear: {
    weight: new Parameter(new Float32Array(FEATURES)),
    bias: new Parameter([0]),
  },
};
const groups = getParamGroups(namedParameters(model), [[0, "bias"], 1e-4]);
using adamw = GpuAdamW.create(device, groups);
const { weight, bias } = model.linear;

const data = (values: Float32Array<ArrayBuffer>, label: string) => {
  const buffer = device.createBuffer({
    label,
    size: values.byteLength,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(buffer, 0, values);
  return buffer;
};
const module = device.createShaderModule({
  label: "linear regression gradient",
  code: GRADIENT_WGSL,
});
const gradient = device.createComputePipeline({
  label: "linear regression gradient",
  layout: "auto",
  compute: { module, entryPoint: "gradient" },
});
const resources = [
  { buffer: data(x, "x") },
  { buffer: data(y, "y") },
  adamw.binding(weight),
  adamw.binding(bias),
  adamw.gradBinding(weight),
  adamw.gradBinding(bias),
];
const bindGroup = device.createBindGroup({
  label: "linear regression gradient",
  layout: gradient.getBindGroupLayout(0),
  entries: resources.map((resource, binding) => ({ binding, resource })),
});

const before = loss(weight.data, bias.data);
for (let step = 0; step < STEPS; step++) {
  const encoder = device.createCommandEncoder({ label: "training step" });
  const pass = encoder.beginComputePass({ label: "gradient" });
  pass.setPipeline(gradient);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(1);
  pass.end();
  adamw.encode(encoder, 0.05 * (1 - step / STEPS)); // linear decay of the lr
  device.queue.submit([encoder.finish()]);
}
await adamw.syncToHost();
const after = loss(weight.data, bias.data);

console.log(
  `loss ${before.toFixed(4)} -> ${after.toFixed(6)} in ${STEPS} steps`,
);
console.log(`bias ${bias.data[0]!.toFixed(3)} (true ${trueBias})`);
if (!(after < before / 100)) {
  console.error("the loss did not fall below 1% of where it started");
  Deno.exit(1);
}
