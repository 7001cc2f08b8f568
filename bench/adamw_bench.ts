// deno-lint-ignore-file no-console
// Copyright 2026 the weight-decay authors. MIT license.
/**
 * The fused AdamW step against what it replaces and against what it cannot beat, on a
 * ResNet-50 layout and on 2,000 tensors of 1,000 values:
 *
 * - *fused*: `GpuAdamW.step()`, one pass, one dispatch per shard, over the arenas;
 * - *four passes*: decay, first moment, second moment and update, one whole-buffer pass
 *   each, as unfused element-wise kernels do it (more memory traffic);
 * - *per-tensor dispatch*: the AdamW kernel dispatched once per tensor, as a loop over
 *   tensors does it;
 * - *single-buffer limit*: the same math once over the same bytes, one buffer each for
 *   p, g, m and v, with no tables: the speed a fused multi-tensor step aims for.
 *
 * Every variant computes exactly the same per-value math (`ADAMW_MATH_WGSL`), writes its
 * scalars with one `writeBuffer` and submits once per step. `onSubmittedWorkDone` costs
 * ~11 ms in Deno even for an empty queue, so each variant is timed as K steps then one
 * wait, less one step then one wait: the marginal cost `(T(K) - T(1)) / (K - 1)`, the
 * median over rounds that take turns between variants.
 *
 * Run with `deno task bench` (or `deno bench --allow-read --allow-env bench/`).
 *
 * @module
 */

import {
  getParamGroups,
  GpuAdamW,
  namedParameters,
  NORM_TYPES,
  type ParamGroup,
} from "../mod.ts";
import { ADAMW_MATH_WGSL } from "../src/decay_kernel.ts";
import { manyTensors, random, randomData, ResNet50 } from "../tests/_models.ts";
import { adapterName, testAdapter } from "../tests/_gpu.ts";

const POLICY = [[0, "bias"], [0, NORM_TYPES], 0.05] as const;
const LR = 1e-3;
const ROUNDS = 5;

/** Bytes of the baselines' step uniform: AdamWScalars, then the decay factor. */
const STEP_BYTES = 256;

/**
 * The baselines: a plain grid of workgroups of 256 threads, each over 1,024 vec4s (the
 * arena kernel's chunk), with no table lookup, scalars loaded once as the arena kernel
 * loads them.
 */
const BASELINE_WGSL = /* wgsl */ `${ADAMW_MATH_WGSL}
struct Step {
  adam: AdamWScalars,
  factor: f32,
}

@group(0) @binding(0) var<storage, read> step: Step;
@group(0) @binding(1) var<storage, read_write> param: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> grad: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> exp_avg: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> exp_avg_sq: array<vec4<f32>>;
${
  [
    [
      "fused",
      `let next = adamw_step(s, factor, param[i], grad[i], exp_avg[i], exp_avg_sq[i]);
      param[i] = next.p;
      exp_avg[i] = next.m;
      exp_avg_sq[i] = next.v;`,
    ],
    ["decay", "param[i] = param[i] * factor;"],
    ["first", "exp_avg[i] = first_moment(s, exp_avg[i], grad[i]);"],
    [
      "second",
      "exp_avg_sq[i] = second_moment(s, exp_avg_sq[i], grad[i]);",
    ],
    [
      "update",
      "param[i] = adam_update(s, param[i], exp_avg[i], exp_avg_sq[i]);",
    ],
  ].map(([name, body]) => `
@compute @workgroup_size(256)
fn ${name}(
  @builtin(workgroup_id) workgroup: vec3<u32>,
  @builtin(num_workgroups) grid: vec3<u32>,
  @builtin(local_invocation_index) lane: u32,
) {
  let begin = (workgroup.x + workgroup.y * grid.x) * 1024u;
  let n = arrayLength(&param);
  let s = step.adam;
  let factor = step.factor;
  for (var k = 0u; k < 4u; k++) {
    let i = begin + k * 256u + lane;
    if (i < n) {
      ${body}
    }
  }
}`).join("\n")
}
`;

/** A variant: takes one step, submitted. */
type Step = () => void;

/** Baseline kernels over buffers laid out like an engine's arena shard. */
class Baselines {
  readonly #device: GPUDevice;
  readonly #stepBuffer: GPUBuffer;
  readonly #stepValues = new Float32Array(STEP_BYTES / 4);
  readonly #pipelines: Record<string, GPUComputePipeline> = {};
  readonly #whole: GPUBindGroup;
  readonly #tensors: { bindGroup: GPUBindGroup; workgroups: number }[];
  readonly #workgroups: number;

  constructor(device: GPUDevice, adamw: GpuAdamW, groups: ParamGroup[]) {
    this.#device = device;
    const [shard, ...more] = adamw.buffers;
    if (shard === undefined || more.length > 0) {
      throw new Error("the baselines need a model that fits one shard");
    }
    this.#stepBuffer = device.createBuffer({
      label: "bench step scalars",
      size: STEP_BYTES,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
    });
    const buffers = [
      "parameters",
      "gradients",
      "first moments",
      "second moments",
    ]
      .map((name) =>
        device.createBuffer({
          label: `bench ${name}`,
          size: shard.size,
          usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
        })
      );
    const next = random(5);
    for (const buffer of buffers.slice(0, 2)) {
      const values = randomData(shard.size / 4, next);
      device.queue.writeBuffer(buffer, 0, values as Float32Array<ArrayBuffer>);
    }
    const entries: GPUBindGroupLayoutEntry[] = [0, 1, 2, 3, 4].map((b) => ({
      binding: b,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type: b === 0 || b === 2 ? "read-only-storage" : "storage" },
    }));
    const layout = device.createBindGroupLayout({
      label: "bench baselines",
      entries,
    });
    const module = device.createShaderModule({
      label: "bench baselines",
      code: BASELINE_WGSL,
    });
    const pipelineLayout = device.createPipelineLayout({
      label: "bench baselines",
      bindGroupLayouts: [layout],
    });
    for (const name of ["fused", "decay", "first", "second", "update"]) {
      this.#pipelines[name] = device.createComputePipeline({
        label: `bench ${name}`,
        layout: pipelineLayout,
        compute: { module, entryPoint: name },
      });
    }
    const bindGroup = (offset: number, size: number) =>
      device.createBindGroup({
        label: "bench baselines",
        layout,
        entries: [
          { binding: 0, resource: { buffer: this.#stepBuffer } },
          ...buffers.map((buffer, b) => ({
            binding: b + 1,
            resource: { buffer, offset, size },
          })),
        ],
      });
    this.#whole = bindGroup(0, shard.size);
    this.#workgroups = Math.ceil(shard.size / 16 / 1024);
    // Each tensor where the engine put it, rounded up to whole vec4s.
    this.#tensors = groups.flatMap((g) => g.params).filter((p) => p.size > 0)
      .map((param) => {
        const { offset } = adamw.binding(param);
        const size = Math.ceil(param.size / 4) * 16;
        return {
          bindGroup: bindGroup(offset!, size),
          workgroups: Math.ceil(size / 16 / 1024),
        };
      });
    // beta1, 1 - beta1, beta2, 1 - beta2, step size, sqrt(1 - beta2^t), eps, -, factor
    this.#stepValues.set([0.9, 0.1, 0.999, 0.001, 1e-3, 0.03, 1e-8, 0, 0.9999]);
  }

  /** The same math in one pass over one buffer each, no tables. */
  readonly limit: Step = () =>
    this.#submit((encoder) => this.#pass(encoder, "fused"));

  /** Decay, m, v and update as four passes over the whole buffers. */
  readonly fourPasses: Step = () =>
    this.#submit((encoder) => {
      for (const name of ["decay", "first", "second", "update"]) {
        this.#pass(encoder, name);
      }
    });

  /** The fused math dispatched once per tensor, all in one pass. */
  readonly perTensor: Step = () =>
    this.#submit((encoder) => {
      const pass = encoder.beginComputePass({ label: "bench per tensor" });
      pass.setPipeline(this.#pipelines.fused!);
      for (const { bindGroup, workgroups } of this.#tensors) {
        pass.setBindGroup(0, bindGroup);
        pass.dispatchWorkgroups(workgroups);
      }
      pass.end();
    });

  #submit(record: (encoder: GPUCommandEncoder) => void): void {
    const device = this.#device;
    device.queue.writeBuffer(this.#stepBuffer, 0, this.#stepValues);
    const encoder = device.createCommandEncoder({ label: "bench step" });
    record(encoder);
    device.queue.submit([encoder.finish()]);
  }

  /** One pass of kernel `name` over the whole buffers. */
  #pass(encoder: GPUCommandEncoder, name: string): void {
    const pass = encoder.beginComputePass({ label: `bench ${name}` });
    pass.setPipeline(this.#pipelines[name]!);
    pass.setBindGroup(0, this.#whole);
    const y = Math.ceil(this.#workgroups / 65535);
    pass.dispatchWorkgroups(Math.ceil(this.#workgroups / y), y);
    pass.end();
  }
}

async function time(device: GPUDevice, step: Step, steps: number) {
  await device.queue.onSubmittedWorkDone();
  const start = performance.now();
  for (let i = 0; i < steps; i++) step();
  await device.queue.onSubmittedWorkDone();
  return performance.now() - start;
}

/**
 * Marginal ms per step of each variant, `(T(K) - T(1)) / (K - 1)` from the medians of
 * T(1) and T(K) over the rounds, the variants taking turns within each round.
 */
async function measure(
  device: GPUDevice,
  variants: Record<string, Step>,
  steps: number,
  rounds: number,
): Promise<Record<string, number>> {
  const ones: Record<string, number[]> = {};
  const manys: Record<string, number[]> = {};
  for (let r = 0; r < rounds; r++) {
    for (const [name, step] of Object.entries(variants)) {
      (ones[name] ??= []).push(await time(device, step, 1));
      (manys[name] ??= []).push(await time(device, step, steps));
    }
  }
  const median = (values: number[]) =>
    values.sort((a, b) => a - b)[values.length >> 1]!;
  return Object.fromEntries(
    Object.keys(variants).map((name) => [
      name,
      (median(manys[name]!) - median(ones[name]!)) / (steps - 1),
    ]),
  );
}

interface Layout {
  readonly name: string;
  readonly groups: ParamGroup[];
  readonly steps: number;
}

if (testAdapter === null) {
  console.warn("No WebGPU adapter: the AdamW benchmarks are skipped");
} else {
  const device = await testAdapter.requestDevice();
  const layouts: Layout[] = [
    {
      name: "ResNet-50 (161 tensors, 25.6M values)",
      groups: getParamGroups(
        namedParameters(new ResNet50("random", 3)),
        POLICY,
      ),
      steps: 6,
    },
    {
      name: "2,000 tensors of 1,000 values",
      groups: getParamGroups(
        namedParameters(manyTensors(2000, 1000, "random", 4)),
        POLICY,
      ),
      steps: 16,
    },
  ];
  console.log(
    `AdamW step on ${adapterName()}: marginal ms per step over ${ROUNDS} rounds`,
  );
  for (const { name, groups, steps } of layouts) {
    const adamw = GpuAdamW.create(device, groups);
    const next = random(6);
    for (const param of groups.flatMap((g) => g.params)) {
      adamw.writeGrad(param, randomData(param.size, next));
    }
    const baselines = new Baselines(device, adamw, groups);
    const variants: Record<string, Step> = {
      "single-buffer limit": baselines.limit,
      "fused (GpuAdamW)": () => adamw.step(LR),
      "four passes": baselines.fourPasses,
      "per-tensor dispatch": baselines.perTensor,
    };
    const ms = await measure(device, variants, steps, ROUNDS);
    const limit = ms["single-buffer limit"]!;
    console.log(`\n${name}`);
    for (const [variant, value] of Object.entries(ms)) {
      console.log(
        `  ${variant.padEnd(22)} ${value.toFixed(2).padStart(8)} ms   ${
          (limit / value).toFixed(2)
        }x the limit's speed`,
      );
    }
    const fused = ms["fused (GpuAdamW)"]!;
    console.log(
      `  fused is ${
        (ms["four passes"]! / fused).toFixed(2)
      }x as fast as four passes, ${
        (ms["per-tensor dispatch"]! / fused).toFixed(2)
      }x as fast as per-tensor dispatch`,
    );
    for (const [variant, step] of Object.entries(variants)) {
      Deno.bench({
        name: `${variant}, ${steps} steps then one wait`,
        group: name,
        baseline: variant === "single-buffer limit",
        n: 3,
        warmup: 1,
        async fn() {
          for (let i = 0; i < steps; i++) step();
          await device.queue.onSubmittedWorkDone();
        },
      });
    }
  }
}
