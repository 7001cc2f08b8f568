// Copyright 2026 the weight-decay authors. MIT license.
// What the fused AdamW step is measured against, over buffers laid out like the
// engine's arena shard: the same math in one kernel over one buffer each for p, g, m
// and v (the limit), in four passes, once per tensor, and with the gradient norm
// computed on the host from gradients read back each step.

import {
  _biasCorrection2Sqrt,
  _inverseBiasCorrection1,
} from "../src/_adamw.ts";
import { ADAMW_CHUNK_ELEMENTS, ADAMW_MATH_WGSL } from "../src/decay_kernel.ts";

/**
 * Each kernel calls `adamw_step`, the arena kernel's own per-value math, and keeps what
 * its pass computes; a pass that must not change a value gets inputs that leave it as
 * it is (a moment lerped with weight 0, beta2 1), so every pass computes exactly what
 * the fused kernel computes. Each workgroup does one arena chunk (`1024` vec4s, 4 per
 * thread), its scalars loaded once, as the arena kernel does; no chunk table.
 */
const BASELINE_WGSL = /* wgsl */ `${ADAMW_MATH_WGSL}
struct Baseline {
  config: AdamWConfig,
  factor: f32,                 // the decay factor, Math.fround(1 - lr * weightDecay)
  step_size: f32,              // lr / (1 - beta1^t), as the arena kernel computes it
  bias_correction2_sqrt: f32,  // sqrt(1 - beta2^t)
  clip: f32,                   // the gradient's clip coefficient (1: none)
}

@group(0) @binding(0) var<storage, read> baseline: Baseline;
@group(0) @binding(1) var<storage, read_write> param: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> grad: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> exp_avg: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> exp_avg_sq: array<vec4<f32>>;

// The config of a pass that leaves both moments as they are: m lerps with weight 0 and
// v keeps beta2 * v + 0.
fn keep_moments(config: AdamWConfig) -> AdamWConfig {
  var keep = config;
  keep.lerp_weight = 0.0;
  keep.lerp_from_grad = 0u;
  keep.beta2 = 1.0;
  keep.one_minus_beta2 = 0.0;
  return keep;
}
${
  Object.entries({
    limit:
      `let next = adamw_step(b.config, b.factor, b.step_size, b.bias_correction2_sqrt,
                            param[i], grad[i] * b.clip, exp_avg[i], exp_avg_sq[i]);
      param[i] = next.p;
      exp_avg[i] = next.m;
      exp_avg_sq[i] = next.v;`,
    // p * factor + (-0 * 0) / eps is p * factor exactly.
    decay: `param[i] = adamw_step(keep_moments(b.config), b.factor, 0.0, 1.0,
                                param[i], zero, zero, zero).p;`,
    first: `exp_avg[i] = adamw_step(b.config, 1.0, 0.0, 1.0,
                                  zero, grad[i] * b.clip, exp_avg[i], zero).m;`,
    second: `exp_avg_sq[i] = adamw_step(b.config, 1.0, 0.0, 1.0,
                                     zero, grad[i] * b.clip, zero, exp_avg_sq[i]).v;`,
    update: `param[i] = adamw_step(keep_moments(b.config), 1.0, b.step_size,
                                 b.bias_correction2_sqrt, param[i], zero,
                                 exp_avg[i], exp_avg_sq[i]).p;`,
  }).map(([name, body]) => `
@compute @workgroup_size(256)
fn ${name}(
  @builtin(workgroup_id) workgroup: vec3<u32>,
  @builtin(num_workgroups) grid: vec3<u32>,
  @builtin(local_invocation_index) lane: u32,
) {
  let begin = (workgroup.x + workgroup.y * grid.x) * ${ADAMW_CHUNK_ELEMENTS}u;
  let n = arrayLength(&param);
  let b = baseline;
  let zero = vec4(0.0);
  for (var k = 0u; k < ${ADAMW_CHUNK_ELEMENTS / 256}u; k++) {
    let i = begin + k * 256u + lane;
    if (i < n) {
      ${body}
    }
  }
}`).join("\n")
}
`;

const KERNELS = ["limit", "decay", "first", "second", "update"] as const;
/** Bytes of the `Baseline` struct. */
const BASELINE_BYTES = 48;
const BETA1 = 0.9;
const BETA2 = 0.999;
const EPS = 1e-8;
/** The step count the baselines' bias corrections are for: the engine's first step. */
const STEP = 1;

/** The hyperparameters of the baselines' step. */
export interface BaselineStep {
  readonly lr: number;
  readonly weightDecay: number;
  /** The clipping threshold of {@linkcode AdamWBaselines.hostClipped}. */
  readonly maxGradNorm: number;
}

/** An engine's first shard, as the baselines copy it. */
export interface ShardLayout {
  /** The parameter shard (`engine.buffers[0]`). */
  readonly params: GPUBuffer;
  /** The gradient shard (`engine.gradBinding(param).buffer`). */
  readonly grads: GPUBuffer;
  /** Where each tensor lives, from `engine.binding(param)`. */
  readonly tensors: readonly GPUBufferBinding[];
}

/** One dispatch: a bind group and its workgroups. */
interface Dispatch {
  readonly bindGroup: GPUBindGroup;
  readonly workgroups: number;
}

/**
 * The AdamW baselines over one shard's worth of p, g, m and v: the engine's first shard,
 * copied, with each tensor where the engine put it.
 */
export class AdamWBaselines {
  readonly #device: GPUDevice;
  readonly #grads: GPUBuffer;
  /** p, g, m, v, then the staging buffer the host-clipped step reads gradients into. */
  readonly #buffers: readonly GPUBuffer[];
  readonly #uniform: GPUBuffer;
  readonly #values = new ArrayBuffer(BASELINE_BYTES);
  readonly #pipelines: Record<string, GPUComputePipeline> = {};
  readonly #whole: Dispatch;
  readonly #tensors: readonly Dispatch[];
  readonly #maxGradNorm: number;

  /**
   * @param device The engine's device.
   * @param shard The engine's shard whose layout, parameters and gradients to copy.
   * @param step The learning rate, weight decay and clipping threshold.
   */
  constructor(device: GPUDevice, shard: ShardLayout, step: BaselineStep) {
    const { params, grads, tensors } = shard;
    this.#device = device;
    this.#grads = grads;
    this.#maxGradNorm = step.maxGradNorm;
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST |
      GPUBufferUsage.COPY_SRC;
    const make = (name: string, bufferUsage = usage) =>
      device.createBuffer({
        label: `bench adamw ${name}`,
        size: params.size,
        usage: bufferUsage,
      });
    this.#buffers = [
      ...["parameters", "gradients", "first moments", "second moments"].map(
        (name) => make(name),
      ),
      make("staging", GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST),
    ];
    this.#uniform = device.createBuffer({
      label: "bench adamw step",
      size: BASELINE_BYTES,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
    });
    this.#fillValues(step);
    const layout = this.#buildPipelines();
    const dispatch = (offset: number, size: number): Dispatch => ({
      bindGroup: device.createBindGroup({
        label: "bench adamw baselines",
        layout,
        entries: [
          { binding: 0, resource: { buffer: this.#uniform } },
          ...this.#buffers.slice(0, 4).map((buffer, b) => ({
            binding: b + 1,
            resource: { buffer, offset, size },
          })),
        ],
      }),
      workgroups: Math.ceil(size / 16 / ADAMW_CHUNK_ELEMENTS),
    });
    this.#whole = dispatch(0, params.size);
    this.#tensors = tensors.map(({ offset, size }) =>
      dispatch(offset ?? 0, Math.ceil(size! / 16) * 16)
    );
    this.reset(params);
  }

  /** The parameters the baselines step, for checks. */
  get params(): GPUBuffer {
    return this.#buffers[0]!;
  }

  /**
   * Starts over: parameters from `params` (the engine's, or a copy), gradients from the
   * engine, zero moments.
   *
   * @param params A buffer of the shard's size holding the parameters to start from.
   */
  reset(params: GPUBuffer): void {
    const [p, g, m, v] = this.#buffers;
    const encoder = this.#device.createCommandEncoder({
      label: "bench adamw reset",
    });
    encoder.copyBufferToBuffer(params, 0, p!, 0, p!.size);
    encoder.copyBufferToBuffer(this.#grads, 0, g!, 0, g!.size);
    encoder.clearBuffer(m!);
    encoder.clearBuffer(v!);
    this.#device.queue.submit([encoder.finish()]);
  }

  /** The same math in one pass over one buffer each, no tables. */
  readonly limit = (): void => this.#submit(1, ["limit"]);

  /** Decay, m, v and update as four passes over the whole buffers. */
  readonly fourPasses = (): void =>
    this.#submit(1, ["decay", "first", "second", "update"]);

  /** The limit's kernel dispatched once per tensor, all in one pass. */
  readonly perTensor = (): void => this.#submit(1, ["limit"], this.#tensors);

  /**
   * Clipping by the global norm on the host: copy the gradients to a staging buffer,
   * map it, sum the squares, then step (the limit's kernel) with the coefficient, or
   * skip the step if the sum is not finite. The round trip the GPU reduction avoids.
   */
  readonly hostClipped = async (): Promise<void> => {
    const [, g, , , staging] = this.#buffers;
    const encoder = this.#device.createCommandEncoder({
      label: "bench adamw read gradients",
    });
    encoder.copyBufferToBuffer(g!, 0, staging!, 0, g!.size);
    this.#device.queue.submit([encoder.finish()]);
    await staging!.mapAsync(GPUMapMode.READ);
    const grads = new Float32Array(staging!.getMappedRange());
    let squares = 0;
    for (let i = 0; i < grads.length; i++) squares += grads[i]! * grads[i]!;
    staging!.unmap();
    if (!Number.isFinite(squares)) return;
    const norm = Math.sqrt(squares);
    this.#submit(Math.min(1, this.#maxGradNorm / (norm + 1e-6)), ["limit"]);
  };

  /** Frees the baselines' buffers. */
  destroy(): void {
    for (const buffer of [...this.#buffers, this.#uniform]) buffer.destroy();
  }

  #fillValues({ lr, weightDecay }: BaselineStep): void {
    const f32 = new Float32Array(this.#values);
    const u32 = new Uint32Array(this.#values);
    // AdamWConfig as GpuAdamW writes it for betas (0.9, 0.999), eps 1e-8.
    const weight = Math.fround(1 - BETA1);
    const fromGrad = Math.abs(weight) >= 0.5;
    f32[0] = fromGrad ? weight - 1 : weight;
    u32[1] = fromGrad ? 1 : 0;
    f32[2] = BETA2;
    f32[3] = 1 - BETA2;
    f32[4] = EPS;
    f32[8] = Math.fround(1 - lr * weightDecay);
    // As the arena kernel computes it: the group's f32 lr times the table's f32
    // 1 / (1 - beta1^t), one f32 multiply.
    f32[9] = Math.fround(
      Math.fround(lr) * _inverseBiasCorrection1(BETA1, STEP),
    );
    f32[10] = _biasCorrection2Sqrt(BETA2, STEP);
  }

  #buildPipelines(): GPUBindGroupLayout {
    const device = this.#device;
    const layout = device.createBindGroupLayout({
      label: "bench adamw baselines",
      entries: [0, 1, 2, 3, 4].map((binding) => ({
        binding,
        visibility: GPUShaderStage.COMPUTE,
        buffer: {
          type: binding === 0 || binding === 2
            ? "read-only-storage"
            : "storage",
        },
      })),
    });
    const module = device.createShaderModule({
      label: "bench adamw baselines",
      code: BASELINE_WGSL,
    });
    const pipelineLayout = device.createPipelineLayout({
      label: "bench adamw baselines",
      bindGroupLayouts: [layout],
    });
    for (const name of KERNELS) {
      this.#pipelines[name] = device.createComputePipeline({
        label: `bench adamw ${name}`,
        layout: pipelineLayout,
        compute: { module, entryPoint: name },
      });
    }
    return layout;
  }

  /**
   * Writes the step's scalars with clip coefficient `clip`, then submits one pass per
   * kernel, each with `dispatches` (default: the whole buffers).
   */
  #submit(
    clip: number,
    kernels: readonly (typeof KERNELS)[number][],
    dispatches: readonly Dispatch[] = [this.#whole],
  ): void {
    const device = this.#device;
    new Float32Array(this.#values)[11] = clip;
    device.queue.writeBuffer(this.#uniform, 0, this.#values);
    const encoder = device.createCommandEncoder({ label: "bench adamw step" });
    for (const kernel of kernels) {
      const pass = encoder.beginComputePass({ label: `bench adamw ${kernel}` });
      pass.setPipeline(this.#pipelines[kernel]!);
      for (const { bindGroup, workgroups } of dispatches) {
        pass.setBindGroup(0, bindGroup);
        const y = Math.ceil(workgroups / 65535);
        pass.dispatchWorkgroups(Math.ceil(workgroups / y), y);
      }
      pass.end();
    }
    device.queue.submit([encoder.finish()]);
  }
}
