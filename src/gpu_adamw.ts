// Copyright 2026 the weight-decay authors. MIT license.
/**
 * AdamW on WebGPU: decoupled weight decay and the Adam update of every parameter in one
 * compute pass per step, over arenas of parameters, gradients and moments, with the
 * step count, gradient clipping and the non-finite check on the GPU.
 *
 * @module
 */

import type { AdamWOptions, AdamWState, AdamWStateJson } from "./adamw.ts";
import type { ParamGroup } from "./groups.ts";
import type { Parameter } from "./parameter.ts";
import {
  ADAMW_CHUNK_ELEMENTS,
  ADAMW_CONFIG_BYTES,
  ADAMW_GATE_WGSL,
  ADAMW_GROUP_WORDS,
  ARENA_ADAMW_WGSL,
  ENGINE_STATE_BYTES,
  FLAG_CLIP,
  FLAG_NORM,
  FLAG_SKIP,
  FOLD_PARTIALS,
  GRAD_NORM_FOLD_WGSL,
  GRAD_NORM_REDUCE_WGSL,
  PARTIAL_BYTES,
  REDUCE_CHUNKS,
  STATE_GRAD_NORM,
  STATE_NORMED,
  STATE_STEP,
  WORKGROUP_SIZE,
} from "./decay_kernel.ts";
import { _checkScaling, _DecayFactors } from "./_factors.ts";
import { _checkHostGroups, _foreignParam } from "./_check_groups.ts";
import {
  _bindings,
  _buildKernel,
  _cachedKernel,
  _checkDevice,
  type _Kernel,
  _Lifecycle,
  type _Range,
  _scoped,
} from "./_gpu.ts";
import { _Arena, _bindingOf, type _Slot } from "./_arena.ts";
import { _DecayPlan } from "./_decay_plan.ts";
import {
  _FusedPass,
  type _StepValues,
  GROUP_VALUES_START,
  RING_SLOTS,
} from "./_fused_pass.ts";
import {
  type _AdamWHyper,
  _adamWMetadata,
  _biasCorrection2Sqrt,
  _checkAdamWOptions,
  _checkState,
  _checkStepSizes,
  _checkValues,
  _inverseBiasCorrection1,
  _jsonFriendly,
  ADAMW_OPTION_HINTS,
  ADAMW_OPTION_KEYS,
} from "./_adamw.ts";
import { _engineReader } from "./_engine_state.ts";
import { _checkKeys } from "./_check_keys.ts";
import { _registerCheckpoint } from "./_checkpoint_access.ts";
import { _arenaCheckpoint } from "./_arena_checkpoint.ts";
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
  readonly lifecycle: _Lifecycle;
  readonly arena: _Arena;
  /** The four buffer sets of the arena layout. */
  readonly params: readonly GPUBuffer[];
  readonly grads: readonly GPUBuffer[];
  readonly firstMoments: readonly GPUBuffer[];
  readonly secondMoments: readonly GPUBuffer[];
  /** Buffers made for the pass besides the arenas: constants and partials. */
  readonly owned: readonly GPUBuffer[];
  readonly plan: _DecayPlan;
  readonly pass: _FusedPass;
  readonly factors: _DecayFactors;
  readonly hyper: _AdamWHyper;
  /** The hyperparameters, as a checkpoint's metadata records them. */
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * What the TensorFlow.js adapter reads and writes of a GpuAdamW besides its public API:
 * the buffer sets, to copy tensors in and out, and the engine state, to move the step
 * count between the GPU and a tensor.
 */
export interface _GpuAdamWInternals {
  readonly arena: _Arena;
  readonly params: readonly GPUBuffer[];
  readonly grads: readonly GPUBuffer[];
  readonly firstMoments: readonly GPUBuffer[];
  readonly secondMoments: readonly GPUBuffer[];
  /** The engine state; its word `STATE_STEP` is the step count. */
  readonly state: GPUBuffer;
}

let _internalsOf: (adamw: GpuAdamW) => _GpuAdamWInternals;

/** The internals of a GpuAdamW, for the TensorFlow.js adapter. */
export function _gpuAdamWInternals(adamw: GpuAdamW): _GpuAdamWInternals {
  return _internalsOf(adamw);
}

const NAME = "GpuAdamW";
const LABEL = "weight-decay adamw";
const OPTION_KEYS = [...ADAMW_OPTION_KEYS, "maxShardBytes"];

/**
 * AdamW in one fused WebGPU compute pass per step, driven by parameter groups: per
 * value, the group's decoupled decay `p = p * Math.fround(1 - s(lr_g) * weightDecay)`
 * with `lr_g = lr * lrScale`, then Adam with bias correction in the op order of
 * `torch.optim.AdamW`'s default CPU path (see {@linkcode CpuAdamW}). It agrees with
 * {@linkcode CpuAdamW} within a few f32 ULP: WGSL's `sqrt` and `/` need not be
 * correctly rounded, nor `fma` fused. (On llvmpipe `fma` rounds twice, and the moments
 * then equal bit for bit those of PyTorch's path without fused multiply-adds,
 * `ATEN_CPU_CAPABILITY=default`; `tests/torch_adamw_test.ts` measures both.)
 *
 * Parameters, gradients and both moments live in four *arenas* of one layout (that of
 * {@linkcode GpuDecay}: sorted by group, each tensor 256-byte aligned, split into shards
 * within `maxStorageBufferBindingSize`, each group starting a 32 KiB chunk). Your
 * kernels read a parameter through {@linkcode GpuAdamW.binding} and write its gradient
 * through
 * {@linkcode GpuAdamW.gradBinding}; or upload gradients from the host with
 * {@linkcode GpuAdamW.writeGrad}. Gradients persist until overwritten.
 *
 * Per step the host computes each group's decay factor and learning rate in f64 and
 * rounds them to f32, writes them with one `queue.writeBuffer`, and records one
 * compute pass: a one-workgroup gate, then one
 * dispatch per shard (with `maxGradNorm` or `skipNonFinite`, one more per shard first,
 * which reduces the gradients' global norm). The cost does not grow with the number of
 * tensors or groups, nothing is read back, and nothing is allocated but the command
 * encoder a submit needs.
 *
 * The step count `t` lives on the GPU, as PyTorch's `capturable` AdamW keeps it: the
 * gate advances it only when the step runs, so a step recorded into an encoder that is
 * never submitted, or skipped by `skipNonFinite`, does not count, and every later bias
 * correction stays right. The bias corrections come from a table indexed by the GPU's
 * count, filled by the host in f64 and each rounded once to f32, as exact as
 * `CpuAdamW`'s; the step size is `lr_g * (1 / (1 - b1^t))` in f32, as there.
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
   * buffers are submitted: each takes one slot of a ring of per-step values, and a slot
   * is reused after this many. Encoding more into one encoder throws; across encoders
   * the GPU checks: a step whose slot was rewritten is refused, with every later step
   * (none runs with another step's values or step count), and the next read throws.
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
  /**
   * Validates `lr`, then writes each group's factor and lr. Always records: even a model
   * of empty tensors counts steps.
   */
  readonly #prepare = (lr: number, values: _StepValues): boolean => {
    const { factors, hyper } = this.#parts;
    const groupFactors = factors.compute(lr);
    _checkStepSizes(factors.groupLr, hyper);
    const { f32 } = values;
    for (let g = 0; g < groupFactors.length; g++) {
      const at = GROUP_VALUES_START + g * ADAMW_GROUP_WORDS;
      f32[at] = groupFactors[g]!;
      f32[at + 1] = factors.groupLr[g]!;
    }
    return true;
  };

  static {
    _internalsOf = (adamw) => {
      const { arena, params, grads, firstMoments, secondMoments, pass } =
        adamw.#parts;
      return {
        arena,
        params,
        grads,
        firstMoments,
        secondMoments,
        state: pass.state,
      };
    };
  }

  private constructor(parts: _Parts) {
    this.#parts = parts;
    this.buffers = Object.freeze([...parts.params]);
    this.#lifecycle = parts.lifecycle;
    _registerCheckpoint(this, () => {
      this.#lifecycle.check();
      return _arenaCheckpoint({
        engine: NAME,
        label: LABEL,
        device: parts.device,
        lifecycle: parts.lifecycle,
        state: parts.pass.state,
        arena: parts.arena,
        params: parts.params,
        moments: {
          "exp_avg": parts.firstMoments,
          "exp_avg_sq": parts.secondMoments,
          metadata: parts.metadata,
        },
      });
    });
  }

  /**
   * Packs the groups' parameters into an arena on `device`, uploads their values, and
   * makes zeroed arenas of the same layout for gradients and both moments.
   *
   * @param device The device to run on; yours, never destroyed by the engine.
   * @param groups The parameter groups, e.g. from {@linkcode getParamGroups}.
   * @param options Adam's betas and eps, clipping and skipping, the decay scaling, and
   * the shard size.
   * @returns The engine, at step 0.
   * @throws {TypeError} If `device` is not a `GPUDevice`, the groups are malformed or
   * have an unknown key, a parameter has no `Float32Array` data, two parameters share
   * memory, `betas` is not a pair, or an option is unknown.
   * @throws {RangeError} If a weight decay or lrScale is not finite and >= 0, a beta is
   * not in [0, 1), `eps` is not finite and at least `2 ** -126`, `maxGradNorm` is not >
   * 0, the scaling needs a missing `maxLr`, `maxShardBytes` is below 256 or above the
   * device's limits, or `beta2` is so close to 1 that its bias corrections need a table
   * larger than one binding.
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
    _checkKeys(options, "GpuAdamW options", OPTION_KEYS, ADAMW_OPTION_HINTS);
    const scaling = _checkScaling(options);
    const hyper = _checkAdamWOptions(options);
    const checked = _checkHostGroups(groups);
    const arena = new _Arena(device, checked, options?.maxShardBytes);
    const constants = _adamWConstants(device, hyper);
    const plan = new _DecayPlan(
      arena.segments,
      checked.map((g) => g.weightDecay),
      device.limits.maxComputeWorkgroupsPerDimension,
      { chunkElements: ADAMW_CHUNK_ELEMENTS, everyGroup: true, direct: true },
    );
    const lifecycle = new _Lifecycle(device, NAME);
    const { result, error } = _scoped(device, () => {
      const params = arena.createShards(
        device,
        `${LABEL} parameters`,
        "values",
      );
      const zeros = (name: string) =>
        arena.createShards(device, `${LABEL} ${name}`, "zeros");
      const grads = zeros("gradients");
      const firstMoments = zeros("first moments");
      const secondMoments = zeros("second moments");
      const constantsBuffer = _constantsBuffer(device, constants);
      const norm = (hyper.maxGradNorm !== 0 || hyper.skipNonFinite)
        ? _partials(device, plan)
        : undefined;
      const folded = norm?.folded ?? device.createBuffer({
        label: `${LABEL} no partials`,
        size: PARTIAL_BYTES,
        usage: GPUBufferUsage.STORAGE,
      });
      const pass = new _FusedPass(device, {
        label: LABEL,
        engine: NAME,
        stepName: "AdamW",
        plan,
        lifecycle,
        groups: checked.length,
        groupWords: ADAMW_GROUP_WORDS,
        gate: {
          kernel: _kernel(device, "gate"),
          bindings: [[{ buffer: constantsBuffer }, { buffer: folded }]],
        },
        update: {
          kernel: _kernel(device, "update"),
          bindings: params.map((shard, s) => [
            { buffer: constantsBuffer },
            ...[shard, grads[s]!, firstMoments[s]!, secondMoments[s]!].map((
              buffer,
            ) => ({ buffer })),
          ]),
        },
        ...(norm === undefined ? {} : {
          reduce: {
            kernel: _kernel(device, "reduce"),
            bindings: grads.map((buffer, s) => [{ buffer }, norm.binding(s)]),
            workgroups: norm.workgroups,
          },
          fold: {
            kernel: _kernel(device, "fold"),
            bindings: [[{ buffer: norm.partials }, { buffer: norm.folded }]],
            workgroups: norm.foldWorkgroups,
          },
        }),
      });
      return {
        device,
        lifecycle,
        arena,
        params,
        grads,
        firstMoments,
        secondMoments,
        owned: [constantsBuffer, folded, ...(norm ? [norm.partials] : [])],
        plan,
        pass,
        factors: new _DecayFactors(checked, scaling),
        hyper,
        metadata: _adamWMetadata(hyper, scaling),
      };
    });
    lifecycle.watch("create", error);
    return new GpuAdamW(result);
  }

  /**
   * Takes one AdamW step now: records it and submits it. Use
   * {@linkcode GpuAdamW.encode} to put it into your own submission instead.
   *
   * @param lr The learning rate, finite and >= 0.
   * @throws {RangeError} If `lr` is negative or not finite, a group's learning rate,
   * decay factor or step size is not finite (in f32), or `s(lr) * weightDecay > 1` for a
   * group; nothing is written or recorded then.
   * @throws {Error} If the engine was destroyed, its device lost, or its GPU work failed.
   */
  step(lr: number): void {
    this.#lifecycle.check();
    this.#parts.pass.step(lr, this.#prepare);
  }

  /**
   * Records one AdamW step as one compute pass in your encoder, so it runs in your
   * training step's own submission after your backward pass. Each call applies its own
   * `lr`, also when several are recorded before one submit (up to
   * {@linkcode GpuAdamW.maxEncodesPerSubmit}); the step counts once it runs.
   *
   * @param encoder Your command encoder, not yet finished; submit it as usual.
   * @param lr The learning rate, finite and >= 0.
   * @throws {RangeError} If `lr` is bad as for {@linkcode GpuAdamW.step}, or more than
   * `maxEncodesPerSubmit` steps are recorded into one encoder; nothing is recorded then.
   * @throws {TypeError} If `encoder` is not a `GPUCommandEncoder`.
   * @throws {Error} If the engine was destroyed, its device lost, or its GPU work failed.
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
   * @throws {Error} If the engine was destroyed, its device lost, or its GPU work failed.
   */
  writeGrad(param: Parameter, grad: Float32Array): void {
    this.#lifecycle.check();
    const slot = this.#slot(param);
    _checkValues(
      grad,
      slot.size,
      `the gradient of parameter ${_describe(slot.name)}`,
    );
    const { arena, device, grads, lifecycle } = this.#parts;
    const { error } = _scoped(
      device,
      () => arena.write(device.queue, grads, slot, grad),
    );
    lifecycle.watch("writeGrad", error);
  }

  /**
   * Reads one parameter's current values from the GPU. A read issued after `step` sees
   * that step; after `encode`, submit the encoder first. Each read is one map round
   * trip; to read a whole model use {@linkcode GpuAdamW.syncToHost}.
   *
   * @param param A parameter given to `create`.
   * @returns A new array of its values.
   * @throws {TypeError} If the parameter is not one of this engine's.
   * @throws {Error} If the engine was destroyed, its device lost (also while waiting),
   * the copy failed on the GPU, or the GPU refused a step.
   */
  async read(param: Parameter): Promise<Float32Array> {
    this.#lifecycle.check();
    const { arena, params } = this.#parts;
    const ranges = arena.ranges(this.#slot(param), params);
    const chunks: Float32Array[] = [];
    await this.#readBack("read")([ranges], (bytes) => {
      chunks.push(new Float32Array(bytes.slice(0)));
    });
    return chunks[0] ?? new Float32Array(0);
  }

  /**
   * Copies the parameter arena back into every parameter's `data`, mapping each shard
   * once. The values are those of the moment of the call: steps submitted while it
   * waits do not show. All or nothing, as {@linkcode GpuDecay.syncToHost}.
   *
   * @throws {TypeError} If a parameter's `data` was detached, resized or replaced since
   * `create`; nothing is read then.
   * @throws {Error} If the engine was destroyed, its device lost (also while waiting), a
   * copy failed on the GPU, or the GPU refused a step; nothing is written then.
   */
  async syncToHost(): Promise<void> {
    this.#lifecycle.check();
    const { arena, params } = this.#parts;
    await arena.syncToHost(this.#readBack("syncToHost"), params);
  }

  /**
   * Uploads every parameter's `data` into the arena, e.g. after loading a checkpoint into
   * the parameters. Queued before any later step.
   *
   * @throws {TypeError} If a parameter's data was detached, resized or replaced since
   * `create`; nothing is queued then.
   * @throws {Error} If the engine was destroyed, its device lost, or its GPU work failed.
   */
  syncFromHost(): void {
    this.#lifecycle.check();
    const { arena, device, params, lifecycle } = this.#parts;
    const { error } = _scoped(
      device,
      () => arena.syncFromHost(device.queue, params),
    );
    lifecycle.watch("syncFromHost", error);
  }

  /**
   * The global gradient norm of the last step that ran, before clipping: the value
   * PyTorch's `clip_grad_norm_` returns, reduced on the GPU in that step's own pass. A
   * step skipped by `skipNonFinite` has one too (NaN or Infinity).
   *
   * @returns The norm, an f32 value.
   * @throws {TypeError} If neither `maxGradNorm` nor `skipNonFinite` is set, since the
   * norm is computed only then (set `maxGradNorm: Infinity` to compute it without
   * clipping).
   * @throws {Error} If no step has run yet; or as {@linkcode GpuAdamW.read} does.
   */
  async gradNorm(): Promise<number> {
    this.#lifecycle.check();
    const { maxGradNorm, skipNonFinite } = this.#parts.hyper;
    if (maxGradNorm === 0 && !skipNonFinite) {
      throw new TypeError(
        "gradNorm() needs maxGradNorm or skipNonFinite, which compute the norm; set maxGradNorm: Infinity to compute it without clipping",
      );
    }
    const words = await this.#readBack("gradNorm")([], () => {});
    if (words[STATE_NORMED] === 0) {
      throw new Error("GpuAdamW.gradNorm(): no step has run yet");
    }
    return new Float32Array(words.buffer)[STATE_GRAD_NORM]!;
  }

  /**
   * The optimizer state for a checkpoint: the GPU's step count and both moments of
   * every parameter, as of the moment of the call (steps submitted while it waits do
   * not show; steps recorded with `encode` count once they run). Save the parameters
   * too, with {@linkcode GpuAdamW.syncToHost}, or both with `saveCheckpoint`.
   *
   * @returns The state, which {@linkcode GpuAdamW.loadState} and
   * {@linkcode CpuAdamW.loadState} take back, also through JSON.
   * @throws {Error} As {@linkcode GpuAdamW.read} does; nothing is returned then.
   */
  async state(): Promise<AdamWState> {
    this.#lifecycle.check();
    const { arena, firstMoments, secondMoments } = this.#parts;
    const slots = [...arena.slots.values()];
    const moments = slots.map(({ size }) => [
      new Float32Array(size),
      new Float32Array(size),
    ]);
    const index = new Map(slots.map((slot, i) => [slot, i]));
    let step = 0;
    await arena.download(
      async (lists, each) => {
        const words = await this.#readBack("state")(lists, each);
        step = words[STATE_STEP]!;
      },
      [firstMoments, secondMoments],
      (slot, set) => moments[index.get(slot)!]![set]!,
    );
    return _jsonFriendly({
      step,
      params: slots.map(({ name }, i) => ({
        name,
        m: moments[i]![0]!,
        v: moments[i]![1]!,
      })),
    });
  }

  /**
   * Restores a state saved by `state()` of this engine, or of another
   * {@linkcode GpuAdamW} or a {@linkcode CpuAdamW} over the same groups, as it is or
   * after a JSON round trip: the step count (onto the GPU) and both moments, queued
   * before any later step. Restore the parameters with
   * {@linkcode GpuAdamW.syncFromHost}, or by creating the engine from them, or both
   * with `loadCheckpoint`.
   *
   * @param state The step count and moments, one entry per parameter in order.
   * @throws {TypeError} If the state is not `{ step, params }`, an entry names another
   * parameter, or a moment is neither a `Float32Array` nor an array of numbers.
   * @throws {RangeError} If the step is not an integer from 0 to `2 ** 32 - 1`, the
   * number of entries or of a moment's values is wrong, a first moment is not finite,
   * or a second moment is negative or not finite (the message names the parameter and
   * the index). Nothing changes when it throws.
   * @throws {Error} If the engine was destroyed, its device lost, or its GPU work failed.
   */
  loadState(state: AdamWState | AdamWStateJson): void {
    this.#lifecycle.check();
    const { step, params } = _checkState(state, [
      ...this.#parts.arena.slots.values(),
    ]);
    this.#loadChecked(step, (i) => params[i]!);
  }

  /**
   * Queues the upload of a checked state: the step count onto the GPU, and each
   * parameter's moments from `moments(index)`.
   */
  #loadChecked(
    step: number,
    moments: (
      index: number,
    ) => { readonly m: Float32Array; readonly v: Float32Array },
  ): void {
    const { arena, device, firstMoments, secondMoments, pass, lifecycle } =
      this.#parts;
    const { error } = _scoped(device, () => {
      arena.upload(device.queue, firstMoments, (_, i) => moments(i).m);
      arena.upload(device.queue, secondMoments, (_, i) => moments(i).v);
      const words = new Uint32Array(ENGINE_STATE_BYTES / 4);
      words[STATE_STEP] = step;
      device.queue.writeBuffer(pass.state, 0, words);
    });
    lifecycle.watch("loadState", error);
  }

  /**
   * Frees the GPU buffers this engine made (never the device). Safe to call twice; any
   * other call afterwards throws.
   */
  destroy(): void {
    if (!this.#lifecycle.destroy()) return;
    const { params, grads, firstMoments, secondMoments, owned, pass } =
      this.#parts;
    for (const set of [params, grads, firstMoments, secondMoments, owned]) {
      for (const buffer of set) buffer.destroy();
    }
    pass.destroy();
  }

  /** Calls {@linkcode GpuAdamW.destroy}, so `using adamw = GpuAdamW.create(...)` frees it. */
  [Symbol.dispose](): void {
    this.destroy();
  }

  /** Reads ranges back after the engine state, which must show no refused step. */
  #readBack(operation: string) {
    const { device, lifecycle, pass } = this.#parts;
    return _engineReader(device, lifecycle, pass.state, LABEL)(operation);
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

/** AdamW's three kernels, cached per device. */
function _kernel(
  device: GPUDevice,
  which: "gate" | "update" | "reduce" | "fold",
): _Kernel {
  return _cachedKernel(device, `adamw ${which}`, (d) => {
    switch (which) {
      case "gate":
        return _buildKernel(d, `${LABEL} gate`, ADAMW_GATE_WGSL, [
          { type: "read-only-storage", dynamic: true },
          { type: "read-only-storage", dynamic: true },
          { type: "storage" },
          ..._bindings("read-only-storage", "read-only-storage"),
        ], "gate");
      case "update":
        return _buildKernel(d, `${LABEL} arena`, ARENA_ADAMW_WGSL, [
          { type: "read-only-storage" },
          { type: "read-only-storage", dynamic: true },
          ..._bindings(
            "read-only-storage",
            "read-only-storage",
            "storage",
            "read-only-storage",
            "storage",
            "storage",
          ),
        ], "adamw");
      case "reduce":
        return _buildKernel(
          d,
          `${LABEL} gradient norm`,
          GRAD_NORM_REDUCE_WGSL,
          _bindings("read-only-storage", "read-only-storage", "storage"),
          "reduce",
        );
      case "fold":
        return _buildKernel(
          d,
          `${LABEL} gradient norm fold`,
          GRAD_NORM_FOLD_WGSL,
          _bindings("read-only-storage", "storage"),
          "fold",
        );
    }
  });
}

/** AdamW's constants as the kernels read them: the config, then the bias-correction table. */
function _adamWConstants(
  device: GPUDevice,
  hyper: _AdamWHyper,
): ArrayBuffer {
  const table = _biasCorrectionTable(device, hyper);
  const bytes = new ArrayBuffer(ADAMW_CONFIG_BYTES + table.byteLength);
  const f32 = new Float32Array(bytes, 0, ADAMW_CONFIG_BYTES / 4);
  const u32 = new Uint32Array(bytes, 0, ADAMW_CONFIG_BYTES / 4);
  const weight = Math.fround(1 - hyper.beta1);
  const fromGrad = Math.abs(weight) >= 0.5;
  f32[0] = fromGrad ? weight - 1 : weight;
  u32[1] = fromGrad ? 1 : 0;
  f32[2] = hyper.beta2;
  f32[3] = 1 - hyper.beta2;
  f32[4] = hyper.eps;
  const norm = hyper.maxGradNorm !== 0 || hyper.skipNonFinite;
  const clip = Number.isFinite(hyper.maxGradNorm) && hyper.maxGradNorm > 0;
  f32[5] = clip ? hyper.maxGradNorm : 0;
  u32[6] = (norm ? FLAG_NORM : 0) | (clip ? FLAG_CLIP : 0) |
    (hyper.skipNonFinite ? FLAG_SKIP : 0);
  new Float32Array(bytes, ADAMW_CONFIG_BYTES).set(table);
  return bytes;
}

/**
 * Entry t: `1 / (1 - beta1^t)` and `sqrt(1 - beta2^t)` in f64, each rounded once to f32,
 * up to the first t where both are exactly 1 (every later t reads that entry).
 *
 * @throws {RangeError} If the table would not fit one binding.
 */
function _biasCorrectionTable(
  device: GPUDevice,
  { beta1, beta2 }: _AdamWHyper,
): Float32Array {
  const limit = Math.floor(
    (Math.min(
      device.limits.maxStorageBufferBindingSize,
      device.limits.maxBufferSize,
    ) - ADAMW_CONFIG_BYTES) / 8,
  );
  const entries: number[] = [1, 1];
  for (let t = 1;; t++) {
    if (t >= limit) {
      throw new RangeError(
        `Expected betas whose bias corrections reach 1 in f32 within ${limit} steps (the device's maxStorageBufferBindingSize) but found [${beta1}, ${beta2}]`,
      );
    }
    const first = _inverseBiasCorrection1(beta1, t);
    const second = _biasCorrection2Sqrt(beta2, t);
    entries.push(first, second);
    if (first === 1 && second === 1) break;
  }
  return Float32Array.from(entries);
}

function _constantsBuffer(
  device: GPUDevice,
  constants: ArrayBuffer,
): GPUBuffer {
  const buffer = device.createBuffer({
    label: `${LABEL} constants`,
    size: constants.byteLength,
    usage: GPUBufferUsage.STORAGE,
    mappedAtCreation: true,
  });
  new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(constants));
  buffer.unmap();
  return buffer;
}

/**
 * The gradient-norm buffers: per shard, one partial per lane of its reduction's
 * workgroups (one per `REDUCE_CHUNKS` chunks), one shard's after another; and the
 * folded partials the gate sums.
 */
function _partials(device: GPUDevice, plan: _DecayPlan): {
  partials: GPUBuffer;
  folded: GPUBuffer;
  binding(shard: number): GPUBufferBinding;
  workgroups: number[];
  foldWorkgroups: number;
} {
  // Shards without chunks get no dispatch, so no workgroups here either.
  const workgroups = plan.dispatches.filter((d) => d.chunkCount > 0).map((d) =>
    Math.ceil(d.chunkCount / REDUCE_CHUNKS)
  );
  const offsets: number[] = [];
  let entries = 0;
  for (const count of workgroups) {
    offsets.push(entries * PARTIAL_BYTES);
    entries += count * WORKGROUP_SIZE;
  }
  const buffer = (label: string, count: number) =>
    device.createBuffer({
      label: `${LABEL} gradient norm ${label}`,
      size: Math.max(1, count) * PARTIAL_BYTES,
      usage: GPUBufferUsage.STORAGE,
    });
  const folds = Math.ceil(entries / FOLD_PARTIALS);
  const partials = buffer("partials", entries);
  // The reduce bindings follow the dispatches with work, in order.
  const withWork = plan.dispatches.flatMap((d, i) =>
    d.chunkCount > 0 ? [i] : []
  );
  return {
    partials,
    folded: buffer("folded", folds),
    binding: (shard) => {
      const at = withWork.indexOf(shard);
      return at === -1
        ? { buffer: partials, offset: 0, size: PARTIAL_BYTES }
        : {
          buffer: partials,
          offset: offsets[at]!,
          size: workgroups[at]! * WORKGROUP_SIZE * PARTIAL_BYTES,
        };
    },
    workgroups,
    foldWorkgroups: Math.max(1, Math.ceil(folds / WORKGROUP_SIZE)),
  };
}
