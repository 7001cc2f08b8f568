// Copyright 2026 the weight-decay authors. MIT license.
/**
 * AdamW on WebGPU: decoupled weight decay and the Adam update of every parameter in one
 * compute pass per step, over arenas of parameters, gradients and moments.
 *
 * @module
 */

import type { AdamWOptions, AdamWState } from "./adamw.ts";
import type { ParamGroup } from "./groups.ts";
import type { Parameter } from "./parameter.ts";
import {
  ADAMW_CHUNK_ELEMENTS,
  ADAMW_SCALARS,
  ARENA_ADAMW_WGSL,
} from "./decay_kernel.ts";
import { _checkScaling, _DecayFactors } from "./_factors.ts";
import { _checkHostGroups, _foreignParam } from "./_check_groups.ts";
import {
  _buildKernel,
  _cachedKernel,
  _checkDevice,
  _Lifecycle,
  _readRanges,
} from "./_gpu.ts";
import { _Arena, _bindingOf, type _Slot } from "./_arena.ts";
import { _FusedPass, RING_SLOTS } from "./_fused_pass.ts";
import {
  _AdamWScalars,
  _checkAdamWOptions,
  _checkState,
  _checkValues,
} from "./_adamw.ts";
import { _describe } from "./_describe.ts";

/**
 * Options of {@linkcode GpuAdamW.create}: those of {@linkcode AdamWOptions}, and the
 * shard size of the arenas.
 *
 * @example Small shards, to see a model split across several buffers
 * ```ts ignore
 * import { GpuAdamW, type GpuAdamWOptions } from "@decoupled/weight-decay";
 *
 * const options: GpuAdamWOptions = { betas: [0.9, 0.95], eps: 1e-8, maxShardBytes: 1 << 20 };
 * using adamw = GpuAdamW.create(device, groups, options);
 * console.log(adamw.buffers.length); // one per MiB of parameters
 * ```
 */
export interface GpuAdamWOptions extends AdamWOptions {
  /**
   * The most bytes in one shard of each arena; rounded down to a multiple of 256. Lower
   * it to test sharding; it cannot exceed the device's `maxStorageBufferBindingSize` or
   * `maxBufferSize`.
   *
   * @default {the smaller of device.limits.maxStorageBufferBindingSize and maxBufferSize}
   */
  maxShardBytes?: number;
}

/** Everything an engine is made of, built by `create`. */
interface _Parts {
  readonly device: GPUDevice;
  readonly arena: _Arena;
  /** The four buffer sets of the arena layout. */
  readonly params: readonly GPUBuffer[];
  readonly grads: readonly GPUBuffer[];
  readonly firstMoments: readonly GPUBuffer[];
  readonly secondMoments: readonly GPUBuffer[];
  readonly pass: _FusedPass;
  readonly factors: _DecayFactors;
  readonly scalars: _AdamWScalars;
}

const NAME = "GpuAdamW";
const LABEL = "weight-decay adamw";

/**
 * AdamW in one fused WebGPU compute pass per step, driven by weight-decay groups: per
 * value, the group's decoupled decay `p = p * Math.fround(1 - s(lr) * weightDecay)`, then
 * Adam with bias correction in the op order of PyTorch's fused CUDA AdamW. It agrees
 * with {@linkcode CpuAdamW} within a few f32 ULP: WGSL's `sqrt` and `/` need not be
 * correctly rounded.
 *
 * Parameters, gradients and both moments live in four *arenas* of one layout (that of
 * {@linkcode GpuDecay}: sorted by group, each tensor 256-byte aligned, split into shards
 * within `maxStorageBufferBindingSize`, each group starting a 32 KiB chunk). Your
 * kernels read a parameter through {@linkcode GpuAdamW.binding} and write its gradient
 * through
 * {@linkcode GpuAdamW.gradBinding}; or upload gradients from the host with
 * {@linkcode GpuAdamW.writeGrad}. Gradients persist until overwritten.
 *
 * Per step the host computes one decay factor per group and the step's scalars
 * (`lr / (1 - b1^t)`, `sqrt(1 - b2^t)`, ...) in f64, rounds them to f32, writes them with
 * one `queue.writeBuffer`, and records one compute pass with one dispatch per shard: the
 * cost does not grow with the number of tensors, and nothing is allocated but the
 * command encoder a submit needs. The engine counts the steps.
 *
 * You own the device: the engine never requests, configures or destroys it, and
 * `destroy()` frees only the buffers the engine made.
 *
 * @example A training step: your backward pass writes gradients, then one AdamW pass
 * ```ts ignore
 * import { getParamGroups, GpuAdamW, namedParameters, NORM_TYPES } from "@decoupled/weight-decay";
 *
 * const device = await (await navigator.gpu.requestAdapter())!.requestDevice();
 * const groups = getParamGroups(namedParameters(model), [[0, "bias"], [0, NORM_TYPES], 0.05]);
 * using adamw = GpuAdamW.create(device, groups, { betas: [0.9, 0.95] });
 *
 * // Your kernels bind each tensor and its gradient:
 * const weight = adamw.binding(model.fc.weight);
 * const weightGrad = adamw.gradBinding(model.fc.weight);
 *
 * for (const batch of batches) {
 *   const encoder = device.createCommandEncoder();
 *   recordForwardBackward(encoder, batch); // writes every gradient
 *   adamw.encode(encoder, schedule.lr());  // one more pass, same submit
 *   device.queue.submit([encoder.finish()]);
 * }
 * await adamw.syncToHost(); // arena -> every Parameter.data
 * const state = await adamw.state(); // step count and moments, for the checkpoint
 * ```
 */
export class GpuAdamW {
  /**
   * How many {@linkcode GpuAdamW.encode} calls may be recorded before their command
   * buffers are submitted: each takes one slot of a ring of per-step tables, and a slot
   * is reused after this many. Encoding more into one encoder throws.
   */
  static readonly maxEncodesPerSubmit: number = RING_SLOTS;

  /**
   * The shards of the parameter arena, as {@linkcode GpuDecay.buffers}: one buffer, or a
   * few for a model larger than `maxStorageBufferBindingSize`. Gradients and moments
   * live in arenas of the same layout.
   */
  readonly buffers: readonly GPUBuffer[];

  readonly #parts: _Parts;
  readonly #lifecycle: _Lifecycle;
  #step = 0;
  /**
   * Validates `lr`, then counts the step and writes its factors and scalars; returns the
   * workgroups with work (0 for a model without values: nothing to record).
   */
  readonly #prepare = (lr: number): boolean => {
    const { pass, factors, scalars } = this.#parts;
    const groupFactors = factors.compute(lr);
    this.#step++;
    return pass.plan.write(groupFactors, scalars.compute(lr, this.#step));
  };

  private constructor(parts: _Parts) {
    this.#parts = parts;
    this.buffers = Object.freeze([...parts.params]);
    this.#lifecycle = new _Lifecycle(parts.device, NAME);
  }

  /**
   * Packs the groups' parameters into an arena on `device`, uploads their values, and
   * makes zeroed arenas of the same layout for gradients and both moments.
   *
   * @param device The device to run on; yours, never destroyed by the engine.
   * @param groups The parameter groups, e.g. from {@linkcode getParamGroups}.
   * @param options Adam's betas and eps, the decay scaling, and the shard size.
   * @returns The engine, at step 0.
   * @throws {TypeError} If `device` is not a `GPUDevice`, the groups are malformed, a
   * parameter has no `Float32Array` data, two parameters share memory, or `betas` is
   * not a pair.
   * @throws {RangeError} If a weight decay is not finite and >= 0, a beta is not in
   * [0, 1), `eps` is not finite and at least `2 ** -126`, the scaling needs a missing
   * `maxLr`, or `maxShardBytes` is below 256 or above the device's limits.
   *
   * @example Stepping with gradients from the host
   * ```ts ignore
   * import { GpuAdamW, Parameter } from "@decoupled/weight-decay";
   *
   * const device = await (await navigator.gpu.requestAdapter())!.requestDevice();
   * const weight = new Parameter([1, 2, 3]);
   * using adamw = GpuAdamW.create(device, [{ weightDecay: 0.1, params: [weight], names: ["w"] }]);
   * adamw.writeGrad(weight, new Float32Array([0.5, -0.5, 0]));
   * adamw.step(0.01);
   * console.log(await adamw.read(weight)); // about [0.989, 2.008, 2.9997]
   * ```
   */
  static create(
    device: GPUDevice,
    groups: ParamGroup<Parameter>[],
    options?: GpuAdamWOptions,
  ): GpuAdamW {
    _checkDevice(device);
    const scaling = _checkScaling(options);
    const hyper = _checkAdamWOptions(options);
    const checked = _checkHostGroups(groups);
    const arena = new _Arena(device, checked, options?.maxShardBytes);
    const params = arena.createShards(device, `${LABEL} parameters`, "values");
    const zeros = (name: string) =>
      arena.createShards(device, `${LABEL} ${name}`, "zeros");
    const grads = zeros("gradients");
    const firstMoments = zeros("first moments");
    const secondMoments = zeros("second moments");
    const kernel = _cachedKernel(
      device,
      "adamw",
      (d) =>
        _buildKernel(d, `${LABEL} arena`, ARENA_ADAMW_WGSL, [
          "storage",
          "read-only-storage",
          "storage",
          "storage",
        ], "adamw"),
    );
    const pass = new _FusedPass(device, {
      label: LABEL,
      engine: NAME,
      stepName: "AdamW",
      kernel,
      segments: arena.segments,
      values: params.map((shard, s) =>
        [shard, grads[s]!, firstMoments[s]!, secondMoments[s]!].map((
          buffer,
        ) => ({ buffer }))
      ),
      weightDecays: checked.map((g) => g.weightDecay),
      plan: {
        chunkElements: ADAMW_CHUNK_ELEMENTS,
        stepScalars: ADAMW_SCALARS,
        everyGroup: true,
        direct: true,
      },
    });
    return new GpuAdamW({
      device,
      arena,
      params,
      grads,
      firstMoments,
      secondMoments,
      pass,
      factors: new _DecayFactors(checked, scaling),
      scalars: new _AdamWScalars(hyper),
    });
  }

  /**
   * Takes one AdamW step now: records it and submits it. Use
   * {@linkcode GpuAdamW.encode} to put it into your own submission instead.
   *
   * @param lr The learning rate, finite and >= 0.
   * @throws {RangeError} If `lr` is negative or not finite, or `s(lr) * weightDecay > 1`
   * for a group; nothing is written or recorded then, and the step count is unchanged.
   * @throws {Error} If the engine was destroyed or its device lost.
   */
  step(lr: number): void {
    this.#lifecycle.check();
    this.#parts.pass.step(lr, this.#prepare);
  }

  /**
   * Records one AdamW step as one compute pass in your encoder, so it runs in your
   * training step's own submission after your backward pass. Each call applies its own
   * `lr` and step count, also when several are recorded before one submit (up to
   * {@linkcode GpuAdamW.maxEncodesPerSubmit}).
   *
   * @param encoder Your command encoder, not yet finished; submit it as usual.
   * @param lr The learning rate, finite and >= 0.
   * @throws {RangeError} If `lr` is bad as for {@linkcode GpuAdamW.step}, or more than
   * `maxEncodesPerSubmit` steps are recorded into one encoder; nothing is recorded then.
   * @throws {TypeError} If `encoder` is not a `GPUCommandEncoder`.
   * @throws {Error} If the engine was destroyed or its device lost.
   */
  encode(encoder: GPUCommandEncoder, lr: number): void {
    this.#lifecycle.check();
    this.#parts.pass.encode(encoder, lr, this.#prepare);
  }

  /**
   * Where a parameter's values live, for your kernels to read (or write, e.g. to
   * initialize them).
   *
   * @param param A parameter given to `create`.
   * @returns Its buffer, byte offset (256-byte aligned) and byte size.
   * @throws {TypeError} If the parameter is not one of this engine's.
   * @throws {RangeError} If it has no values, or spans two arena shards (then raise
   * `maxShardBytes`, up to the device's `maxStorageBufferBindingSize`).
   * @throws {Error} If the engine was destroyed.
   */
  binding(param: Parameter): GPUBufferBinding {
    return this.#bindingIn(this.#parts.params, param);
  }

  /**
   * Where a parameter's gradient lives, for your backward pass to write before each
   * step. It has the parameter's size and alignment, and starts at zero.
   *
   * @param param A parameter given to `create`.
   * @returns Its gradient's buffer, byte offset (256-byte aligned) and byte size.
   * @throws {TypeError} If the parameter is not one of this engine's.
   * @throws {RangeError} If it has no values, or spans two arena shards.
   * @throws {Error} If the engine was destroyed.
   */
  gradBinding(param: Parameter): GPUBufferBinding {
    return this.#bindingIn(this.#parts.grads, param);
  }

  /**
   * Uploads a parameter's gradient from the host, queued before any later step.
   *
   * @param param A parameter given to `create`.
   * @param grad Its gradient: a `Float32Array` of the parameter's size.
   * @throws {TypeError} If the parameter is not one of this engine's, or `grad` is not a
   * `Float32Array`.
   * @throws {RangeError} If `grad` does not hold the parameter's number of values.
   * @throws {Error} If the engine was destroyed or its device lost.
   */
  writeGrad(param: Parameter, grad: Float32Array): void {
    this.#lifecycle.check();
    const slot = this.#slot(param);
    _checkValues(
      grad,
      slot.size,
      `the gradient of parameter ${_describe(slot.name)}`,
    );
    const { arena, device, grads } = this.#parts;
    arena.write(device.queue, grads, slot, grad);
  }

  /**
   * Reads one parameter's current values from the GPU. A read issued after `step` sees
   * that step; after `encode`, submit the encoder first. Each read is one map round
   * trip; to read a whole model use {@linkcode GpuAdamW.syncToHost}.
   *
   * @param param A parameter given to `create`.
   * @returns A new array of its values.
   * @throws {TypeError} If the parameter is not one of this engine's.
   * @throws {Error} If the engine was destroyed or its device lost, also while waiting.
   */
  async read(param: Parameter): Promise<Float32Array> {
    this.#lifecycle.check();
    const { arena, device, params } = this.#parts;
    const bytes = await _readRanges(
      device,
      this.#lifecycle,
      arena.ranges(this.#slot(param), params),
      `${LABEL} read`,
    );
    return new Float32Array(bytes);
  }

  /**
   * Copies the parameter arena back into every parameter's `data`, mapping each shard
   * once. The values are those of the moment of the call: steps submitted while it
   * waits do not show.
   *
   * @throws {Error} If the engine was destroyed or its device lost, also while waiting.
   */
  async syncToHost(): Promise<void> {
    this.#lifecycle.check();
    const { arena, device, params } = this.#parts;
    await arena.syncToHost(device, this.#lifecycle, params, `${LABEL} sync`);
  }

  /**
   * Uploads every parameter's `data` into the arena, e.g. after loading a checkpoint into
   * the parameters. Queued before any later step.
   *
   * @throws {TypeError} If a parameter's data no longer has the length it had at `create`.
   * @throws {Error} If the engine was destroyed or its device lost.
   */
  syncFromHost(): void {
    this.#lifecycle.check();
    const { arena, device, params } = this.#parts;
    arena.syncFromHost(device.queue, params);
  }

  /**
   * The optimizer state for a checkpoint: the step count and both moments of every
   * parameter, as of the moment of the call (steps submitted while it waits do not
   * show; steps recorded with `encode` count once their encoder is submitted). Save the
   * parameters too, with {@linkcode GpuAdamW.syncToHost}.
   *
   * @returns The state, which {@linkcode GpuAdamW.loadState} and
   * {@linkcode CpuAdamW.loadState} take back.
   * @throws {Error} If the engine was destroyed or its device lost, also while waiting.
   */
  async state(): Promise<AdamWState> {
    this.#lifecycle.check();
    const { arena, device, firstMoments, secondMoments } = this.#parts;
    const step = this.#step;
    const slots = [...arena.slots.values()];
    const moments = slots.map(({ size }) => [
      new Float32Array(size),
      new Float32Array(size),
    ]);
    const index = new Map(slots.map((slot, i) => [slot, i]));
    await arena.download(
      device,
      this.#lifecycle,
      [firstMoments, secondMoments],
      `${LABEL} state`,
      (slot, set) => moments[index.get(slot)!]![set]!,
    );
    return {
      step,
      params: slots.map(({ name }, i) => ({
        name,
        m: moments[i]![0]!,
        v: moments[i]![1]!,
      })),
    };
  }

  /**
   * Restores a state saved by `state()` of this engine, or of another
   * {@linkcode GpuAdamW} or a {@linkcode CpuAdamW} over the same groups: the step count
   * and both moments, queued before any later step. Restore the parameters with
   * {@linkcode GpuAdamW.syncFromHost}, or by creating the engine from them.
   *
   * @param state The step count and moments, one entry per parameter in order.
   * @throws {TypeError} If the state is not `{ step, params }`, an entry names another
   * parameter, or a moment is not a `Float32Array`.
   * @throws {RangeError} If the step is not an integer >= 0, or the number of entries or
   * of a moment's values is wrong. Nothing changes when it throws.
   * @throws {Error} If the engine was destroyed or its device lost.
   */
  loadState(state: AdamWState): void {
    this.#lifecycle.check();
    const { arena, device, firstMoments, secondMoments } = this.#parts;
    const { step, params } = _checkState(state, [...arena.slots.values()]);
    arena.upload(device.queue, firstMoments, (_, i) => params[i]!.m);
    arena.upload(device.queue, secondMoments, (_, i) => params[i]!.v);
    this.#step = step;
  }

  /**
   * Frees the GPU buffers this engine made (never the device). Safe to call twice; any
   * other call afterwards throws.
   */
  destroy(): void {
    if (!this.#lifecycle.destroy()) return;
    const { params, grads, firstMoments, secondMoments, pass } = this.#parts;
    for (const set of [params, grads, firstMoments, secondMoments]) {
      for (const buffer of set) buffer.destroy();
    }
    pass.destroy();
  }

  /** Calls {@linkcode GpuAdamW.destroy}, so `using adamw = GpuAdamW.create(...)` frees it. */
  [Symbol.dispose](): void {
    this.destroy();
  }

  #bindingIn(set: readonly GPUBuffer[], param: Parameter): GPUBufferBinding {
    this.#lifecycle.check();
    const slot = this.#slot(param);
    const { arena, device } = this.#parts;
    return _bindingOf(arena.ranges(slot, set), slot.name, device);
  }

  #slot(param: unknown): _Slot {
    const slot = this.#parts.arena.slots.get(param);
    if (slot === undefined) throw _foreignParam(NAME, param);
    return slot;
  }
}
