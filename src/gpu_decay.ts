// Copyright 2026 the weight-decay authors. MIT license.
/**
 * Decoupled weight decay on WebGPU: every parameter of every group in one compute pass
 * per step, over a packed arena or over the caller's own buffers.
 *
 * @module
 */

import type { DecayOptions, DecayStep } from "./decay_step.ts";
import type { ParamGroup } from "./groups.ts";
import type { Parameter } from "./parameter.ts";
import {
  ARENA_DECAY_WGSL,
  buffersDecayWgsl,
  DECAY_CHUNK_ELEMENTS,
  DECAY_GATE_WGSL,
  DECAY_GROUP_WORDS,
} from "./decay_kernel.ts";
import { _DecayPlan, type _SegmentSpec } from "./_decay_plan.ts";
import { _checkScaling, _DecayFactors, type _Scaling } from "./_factors.ts";
import {
  type _CheckedGroup,
  _checkGroups,
  _checkHostGroups,
  _checkNoOverlap,
  _foreignParam,
} from "./_check_groups.ts";
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
import { _Arena, _bindingOf } from "./_arena.ts";
import {
  _FusedPass,
  type _StepValues,
  GROUP_VALUES_START,
  RING_SLOTS,
} from "./_fused_pass.ts";
import { _engineReader } from "./_engine_state.ts";
import { _checkKeys } from "./_check_keys.ts";
import { _registerCheckpoint } from "./_checkpoint_access.ts";
import { _arenaCheckpoint } from "./_arena_checkpoint.ts";
import { _describe } from "./_describe.ts";

/** Options of {@linkcode GpuDecay.create}. */
export interface GpuDecayOptions extends DecayOptions {
  /**
   * The most bytes in one arena shard; rounded down to a multiple of 256. Lower it to
   * test sharding; it cannot exceed the device's `maxStorageBufferBindingSize` or
   * `maxBufferSize`.
   *
   * @default {the smaller of device.limits.maxStorageBufferBindingSize and maxBufferSize}
   */
  maxShardBytes?: number;
}

/** What `binding` and `read` need to know of one decayed tensor. */
interface _Location {
  /** Its name in its group, for messages. */
  readonly name: string;
  /** Where its bytes are, in order: one range, or several for a tensor that spans shards. */
  readonly ranges: readonly _Range[];
}

/** Everything an engine is made of, built by `create` or `fromBuffers`. */
interface _Parts {
  readonly device: GPUDevice;
  readonly lifecycle: _Lifecycle;
  readonly factors: _DecayFactors;
  readonly plan: _DecayPlan;
  readonly pass: _FusedPass;
  readonly owned: readonly GPUBuffer[];
  readonly buffers: readonly GPUBuffer[];
  readonly locations: ReadonlyMap<unknown, _Location>;
  /** The layout of the parameters in `buffers`, in arena mode. */
  readonly arena?: _Arena;
  /** In `fromBuffers` mode, each caller buffer with a parameter that lives in it. */
  readonly callerBuffers?: readonly { buffer: GPUBuffer; name: string }[];
}

const NAME = "GpuDecay";
const LABEL = "weight-decay";

/**
 * Applies decoupled weight decay to every parameter in one fused WebGPU compute pass
 * per step, bit for bit the same as {@linkcode CpuDecay}.
 *
 * {@linkcode GpuDecay.create} packs the parameters into an *arena*: one storage buffer
 * (or a few shards, each within `maxStorageBufferBindingSize`), sorted by group, each
 * tensor at a 256-byte aligned offset so your own kernels bind it with
 * {@linkcode GpuDecay.binding}. {@linkcode GpuDecay.fromBuffers} decays buffers you
 * already keep, one per tensor, in place.
 *
 * Per step the host computes one factor per group, writes them with one
 * `queue.writeBuffer`, and records one compute pass with one dispatch per shard; the
 * cost does not grow with the number of tensors, groups with weight decay 0 cost
 * nothing, and nothing is allocated but the command encoder a submit needs.
 *
 * You own the device: the engine never requests, configures or destroys it, and
 * `destroy()` frees only the buffers the engine made.
 *
 * @example Decay fused into a training step's own submission
 * ```ts ignore
 * import { GpuDecay, getParamGroups, namedParameters, NORM_TYPES } from "@decoupled/weight-decay";
 *
 * const adapter = await navigator.gpu.requestAdapter();
 * const device = await adapter!.requestDevice();
 * const groups = getParamGroups(namedParameters(model), [[0, "bias"], [0, NORM_TYPES], 0.05]);
 * using decay = GpuDecay.create(device, groups);
 *
 * // Your kernels read and write each tensor in the arena:
 * const weight = decay.binding(model.fc.weight); // { buffer, offset, size }
 *
 * for (const batch of batches) {
 *   const encoder = device.createCommandEncoder();
 *   recordForwardBackwardAndUpdate(encoder, batch); // your passes
 *   decay.encode(encoder, schedule.lr());            // one more pass, same submit
 *   device.queue.submit([encoder.finish()]);
 * }
 * await decay.syncToHost(); // arena -> every Parameter.data, to save a checkpoint
 * ```
 */
export class GpuDecay implements DecayStep {
  /**
   * The size of the ring of per-step slots. Every `step` and `encode` takes the next
   * slot, written when its step is recorded, so a step recorded with `encode` must be
   * submitted before this many more steps are recorded (by `encode` into any encoder,
   * or by `step`). Encoding more than this many steps into one encoder throws; across
   * encoders the GPU checks: a step whose slot was rewritten is refused, with every
   * later step, and the next read (`read`, `syncToHost`) throws. No step ever runs with
   * another step's values.
   */
  static readonly maxEncodesPerSubmit: number = RING_SLOTS;

  /**
   * The buffers the parameters live in: the arena shards made by `create`, or the
   * caller's own buffers given to `fromBuffers`.
   */
  readonly buffers: readonly GPUBuffer[];

  readonly #parts: _Parts;
  readonly #lifecycle: _Lifecycle;
  /** Computes this step's factors; false if none changes anything, so nothing is recorded. */
  readonly #prepare = (lr: number, values: _StepValues): boolean => {
    const { plan, factors } = this.#parts;
    const groupFactors = factors.compute(lr);
    if (!plan.changes(groupFactors)) return false;
    this.#checkCallerBuffers();
    values.f32.set(groupFactors, GROUP_VALUES_START);
    return true;
  };

  private constructor(parts: _Parts) {
    this.#parts = parts;
    this.buffers = Object.freeze([...parts.buffers]);
    this.#lifecycle = parts.lifecycle;
    _registerCheckpoint(this, () => {
      this.#lifecycle.check();
      const arena = this.#arena("saveCheckpoint and loadCheckpoint");
      return _arenaCheckpoint({
        engine: NAME,
        label: LABEL,
        device: parts.device,
        lifecycle: parts.lifecycle,
        state: parts.pass.state,
        arena,
        params: parts.buffers,
      });
    });
  }

  /**
   * Packs the groups' parameters into an arena on `device` and uploads their values.
   *
   * From then on the arena holds the parameters' values: read them with
   * {@linkcode GpuDecay.read} or copy them all back into `Parameter.data` with
   * {@linkcode GpuDecay.syncToHost}. Upload goes one shard at a time, so the host
   * never holds more than the model and one shard.
   *
   * @param device The device to run on; yours, never destroyed by the engine.
   * @param groups The parameter groups, e.g. from {@linkcode getParamGroups}.
   * @param options The decay scaling, and the shard size.
   * @returns The engine.
   * @throws {TypeError} If `device` is not a `GPUDevice`, the groups are malformed, a
   * parameter has no `Float32Array` data, or two parameters share memory.
   * @throws {RangeError} If a weight decay is not finite and >= 0, the scaling needs a
   * missing `maxLr`, or `maxShardBytes` is below 256 or above the device's limits.
   *
   * @example Stepping an arena and reading it back
   * ```ts ignore
   * import { GpuDecay, Parameter } from "@decoupled/weight-decay";
   *
   * const device = await (await navigator.gpu.requestAdapter())!.requestDevice();
   * const weight = new Parameter([1, 2, 3]);
   * using decay = GpuDecay.create(device, [{ weightDecay: 0.1, params: [weight], names: ["w"] }]);
   * decay.step(0.5); // factor Math.fround(1 - 0.5 * 0.1)
   * console.log(await decay.read(weight)); // Float32Array [0.95, 1.9, 2.85] (in f32)
   * ```
   */
  static create(
    device: GPUDevice,
    groups: ParamGroup<Parameter>[],
    options?: GpuDecayOptions,
  ): GpuDecay {
    _checkDevice(device);
    _checkKeys(options, "GpuDecay options", CREATE_OPTION_KEYS);
    const scaling = _checkScaling(options);
    const checked = _checkHostGroups(groups);
    // Groups that decay come first, so each dispatch ends with its last decaying chunk.
    const order = [...checked.keys()].sort((a, b) =>
      Number(checked[b]!.weightDecay > 0) - Number(checked[a]!.weightDecay > 0)
    );
    const arena = new _Arena(device, checked, options?.maxShardBytes, order);
    const lifecycle = new _Lifecycle(device, NAME);
    const { result, error } = _scoped(device, () => {
      const shards = arena.createShards(device, `${LABEL} arena`, "values");
      const locations = new Map<unknown, _Location>();
      for (const [param, slot] of arena.slots) {
        locations.set(param, {
          name: slot.name,
          ranges: arena.ranges(slot, shards),
        });
      }
      const kernel = _cachedKernel(
        device,
        "arena decay",
        (d) =>
          _buildKernel(
            d,
            `${LABEL} arena decay`,
            ARENA_DECAY_WGSL,
            _updateBindings(["storage"]),
            "decay",
          ),
      );
      return _assemble(
        device,
        lifecycle,
        checked,
        scaling,
        arena.segments,
        kernel,
        shards.map((s) => [{ buffer: s }]),
        { owned: shards, buffers: shards, locations, arena },
      );
    });
    lifecycle.watch("create", error);
    return new GpuDecay(result);
  }

  /**
   * Decays buffers you own, in place, in one pass per step: for models that already
   * keep one `GPUBuffer` per tensor.
   *
   * Each parameter is a `GPUBuffer` (all of it) or a `GPUBufferBinding` (a byte range:
   * offset and size multiples of 4, not necessarily 16 or 256). Buffers need `STORAGE`
   * usage, and `COPY_SRC` to be read back. As many buffers as the adapter's
   * `maxStorageBuffersPerShaderStage` allows share one dispatch; all dispatches share one
   * pass. {@linkcode GpuDecay.binding} and {@linkcode GpuDecay.read} take the buffer or
   * binding object you passed.
   *
   * @param device The device the buffers belong to.
   * @param groups Groups of buffers or buffer bindings.
   * @param options The decay scaling.
   * @returns The engine; `buffers` lists your buffers, which `destroy()` leaves alone.
   * @throws {TypeError} If a parameter is neither a buffer nor a binding, lacks `STORAGE`
   * usage, or overlaps another (it would be decayed twice).
   * @throws {RangeError} If a binding's offset or size is not a multiple of 4 or runs past
   * its buffer, or a single tensor is larger than `maxStorageBufferBindingSize`.
   *
   * @example Decaying buffers a model already has
   * ```ts ignore
   * import { GpuDecay } from "@decoupled/weight-decay";
   *
   * const decay = GpuDecay.fromBuffers(device, [
   *   { weightDecay: 0.05, params: [kernelBuffer], names: ["dense.kernel"] },
   *   { weightDecay: 0, params: [{ buffer: biasBuffer, offset: 0, size: 40 }], names: ["dense.bias"] },
   * ]);
   * decay.step(1e-3);
   * ```
   */
  static fromBuffers(
    device: GPUDevice,
    groups: ParamGroup<GPUBuffer | GPUBufferBinding>[],
    options?: DecayOptions,
  ): GpuDecay {
    _checkDevice(device);
    _checkKeys(options, "GpuDecay.fromBuffers() options", DECAY_OPTION_KEYS, {
      maxShardBytes: "fromBuffers() decays your buffers as they are; no arena",
    });
    const scaling = _checkScaling(options);
    const checked = _checkGroups(groups, _checkBufferTarget);
    const targets = checked.flatMap((group, g) =>
      group.params.map((param, i) => ({
        param,
        group: g,
        range: _toRange(param),
        name: group.names[i]!,
      }))
    );
    _checkNoOverlap(
      targets.map(({ range, group, name }) => ({
        memory: range.buffer,
        begin: range.offset,
        end: range.offset + range.size,
        where: `group ${group} parameter ${_describe(name)}`,
      })),
      "one buffer",
    );
    const windows = _bindingWindows(device, targets);
    const perDispatch = Math.max(
      1,
      device.limits.maxStorageBuffersPerShaderStage - 3,
    );
    // Each distinct window gets the next binding: dispatch w / perDispatch, binding w % perDispatch.
    const windowIndex = new Map<GPUBufferBinding, number>();
    for (const window of windows.values()) {
      if (!windowIndex.has(window)) windowIndex.set(window, windowIndex.size);
    }
    const dispatchCount = Math.ceil(windowIndex.size / perDispatch);
    const dispatchWindows: GPUBufferBinding[][] = Array.from(
      { length: dispatchCount },
      () => [],
    );
    for (const [window, w] of windowIndex) {
      dispatchWindows[Math.floor(w / perDispatch)]!.push(window);
    }
    const segments: _SegmentSpec[][] = dispatchWindows.map(() => []);
    for (const target of targets) {
      const window = windows.get(target);
      if (window === undefined) continue;
      const w = windowIndex.get(window)!;
      const begin = (target.range.offset - window.offset!) / 4;
      segments[Math.floor(w / perDispatch)]!.push({
        group: target.group,
        binding: w % perDispatch,
        begin,
        end: begin + target.range.size / 4,
      });
    }
    const lifecycle = new _Lifecycle(device, NAME);
    const { result, error } = _scoped(device, () => {
      const placeholder = device.createBuffer({
        label: `${LABEL} unused binding`,
        size: 16,
        usage: GPUBufferUsage.STORAGE,
      });
      const kernel = _cachedKernel(
        device,
        `buffers decay ${perDispatch}`,
        (d) =>
          _buildKernel(
            d,
            `${LABEL} buffers decay`,
            buffersDecayWgsl(perDispatch),
            _updateBindings(Array(perDispatch).fill("storage")),
            "decay",
          ),
      );
      const bindings = dispatchWindows.map((list) =>
        Array.from(
          { length: perDispatch },
          (_, b) => list[b] ?? { buffer: placeholder },
        )
      );
      const locations = new Map<unknown, _Location>(
        targets.map((t) => [t.param, { name: t.name, ranges: [t.range] }]),
      );
      const callerBuffers = new Map<GPUBuffer, string>();
      for (const { range, name } of targets) {
        if (!callerBuffers.has(range.buffer)) {
          callerBuffers.set(range.buffer, name);
        }
      }
      return _assemble(
        device,
        lifecycle,
        checked,
        scaling,
        segments,
        kernel,
        bindings,
        {
          owned: [placeholder],
          buffers: [...callerBuffers.keys()],
          locations,
          callerBuffers: [...callerBuffers].map(([buffer, name]) => ({
            buffer,
            name,
          })),
        },
      );
    });
    lifecycle.watch("fromBuffers", error);
    return new GpuDecay(result);
  }

  /**
   * Applies one step of decay in its own submission.
   *
   * @param lr The learning rate, finite and >= 0.
   * @throws {RangeError} If `lr` is negative or not finite, or `s(lr) * weightDecay > 1`
   * for a group; nothing is written or recorded then.
   * @throws {Error} If the engine was destroyed or its device lost.
   */
  step(lr: number): void {
    this.#lifecycle.check();
    this.#parts.pass.step(lr, this.#prepare);
  }

  /**
   * Records one step of decay as one compute pass in your encoder, so it runs in your
   * training step's own submission. Each call applies its own `lr`, also when several are
   * recorded before one submit (up to {@linkcode GpuDecay.maxEncodesPerSubmit}).
   *
   * @param encoder Your command encoder, not yet finished; submit it as usual.
   * @param lr The learning rate, finite and >= 0.
   * @throws {RangeError} If `lr` is bad as for {@linkcode GpuDecay.step}, or more than
   * `maxEncodesPerSubmit` steps are recorded into one encoder; nothing is recorded then.
   * @throws {TypeError} If `encoder` is not a `GPUCommandEncoder`.
   * @throws {Error} If the engine was destroyed or its device lost.
   */
  encode(encoder: GPUCommandEncoder, lr: number): void {
    this.#lifecycle.check();
    this.#parts.pass.encode(encoder, lr, this.#prepare);
  }

  /**
   * Where a parameter lives, for your own kernels to bind.
   *
   * In the arena every parameter of a shard lies in one `GPUBuffer`. WebGPU treats a
   * writable storage binding as exclusive within one dispatch, so a kernel that writes
   * one parameter and reads another of the same shard must bind both as `read_write`
   * storage (a `read-only-storage` binding of the same buffer fails validation).
   *
   * @param param A parameter given to `create`, or a buffer or binding given to `fromBuffers`.
   * @returns Its buffer, byte offset (256-byte aligned in the arena) and byte size.
   * @throws {TypeError} If the parameter is not one of this engine's.
   * @throws {RangeError} If it has no values, or spans two arena shards (then raise
   * `maxShardBytes`, up to the device's `maxStorageBufferBindingSize`).
   * @throws {Error} If the engine was destroyed.
   */
  binding(param: Parameter | GPUBuffer | GPUBufferBinding): GPUBufferBinding {
    this.#lifecycle.check();
    const { ranges, name } = this.#locate(param);
    return _bindingOf(ranges, name, this.#parts.device);
  }

  /**
   * Reads one parameter's current values from the GPU. A read issued after `step` sees
   * that step; after `encode`, submit the encoder first. Each read is one map round
   * trip; to read a whole model use {@linkcode GpuDecay.syncToHost}.
   *
   * @param param A parameter given to `create`, or a buffer or binding given to `fromBuffers`.
   * @returns A new array of its values.
   * @throws {TypeError} If the parameter is not one of this engine's, or its buffer lacks
   * `COPY_SRC` usage.
   * @throws {Error} If the engine was destroyed, its device lost (also while waiting),
   * the copy failed on the GPU (a destroyed buffer), or the GPU refused a step.
   */
  async read(
    param: Parameter | GPUBuffer | GPUBufferBinding,
  ): Promise<Float32Array> {
    this.#lifecycle.check();
    const { ranges } = this.#locate(param);
    for (const { buffer } of ranges) {
      if ((buffer.usage & GPUBufferUsage.COPY_SRC) === 0) {
        throw new TypeError(
          `Expected the buffer of parameter ${
            this.#nameOf(param)
          } to have COPY_SRC usage to be read`,
        );
      }
    }
    const chunks: Float32Array[] = [];
    await this.#readBack("read")([ranges], (bytes) => {
      chunks.push(new Float32Array(bytes.slice(0)));
    });
    return chunks[0] ?? new Float32Array(0);
  }

  /**
   * Copies the arena back into every parameter's `data`, mapping each shard once: call
   * it before saving a checkpoint or evaluating on the host. The values are those of
   * the moment of the call: steps submitted while it waits do not show. All or
   * nothing: every parameter's `data` is checked first, and nothing is written unless
   * every copy succeeded on the GPU.
   *
   * @throws {TypeError} If the engine decays caller-owned buffers (`fromBuffers`), or a
   * parameter's `data` was detached, resized or replaced since `create`.
   * @throws {Error} If the engine was destroyed, its device lost (also while waiting), a
   * copy failed on the GPU (e.g. an arena shard was destroyed), or the GPU refused a
   * step (see {@linkcode GpuDecay.maxEncodesPerSubmit}); nothing is written then.
   */
  async syncToHost(): Promise<void> {
    this.#lifecycle.check();
    await this.#arena("syncToHost").syncToHost(
      this.#readBack("syncToHost"),
      this.#parts.buffers,
    );
  }

  /**
   * Uploads every parameter's `data` into the arena, e.g. after loading a checkpoint into
   * the parameters. Queued before any later step.
   *
   * @throws {TypeError} If the engine decays caller-owned buffers, or a parameter's data
   * was detached, resized or replaced since `create`; nothing is queued then.
   * @throws {Error} If the engine was destroyed, its device lost, or its GPU work failed.
   */
  syncFromHost(): void {
    this.#lifecycle.check();
    const arena = this.#arena("syncFromHost");
    const { device, buffers, lifecycle } = this.#parts;
    const { error } = _scoped(
      device,
      () => arena.syncFromHost(device.queue, buffers),
    );
    lifecycle.watch("syncFromHost", error);
  }

  /**
   * Frees the GPU buffers this engine made (never the device, never your buffers).
   * Safe to call twice; any other call afterwards throws.
   */
  destroy(): void {
    if (!this.#lifecycle.destroy()) return;
    for (const buffer of this.#parts.owned) buffer.destroy();
    this.#parts.pass.destroy();
  }

  /** Calls {@linkcode GpuDecay.destroy}, so `using decay = GpuDecay.create(...)` frees it. */
  [Symbol.dispose](): void {
    this.destroy();
  }

  /** Reads ranges back after the engine state, which must show no refused step. */
  #readBack(operation: string) {
    const { device, lifecycle, pass } = this.#parts;
    return _engineReader(device, lifecycle, pass.state, LABEL)(operation);
  }

  /**
   * Checks what can be checked of the caller's buffers before a step: none may be
   * mapped (a submit that uses a mapped buffer fails as a whole).
   *
   * @throws {TypeError} Naming a parameter whose buffer is mapped or being mapped.
   */
  #checkCallerBuffers(): void {
    const buffers = this.#parts.callerBuffers;
    if (buffers === undefined) return;
    for (let i = 0; i < buffers.length; i++) {
      const { buffer, name } = buffers[i]!;
      if (buffer.mapState !== "unmapped") {
        throw new TypeError(
          `Expected the buffer of parameter ${
            _describe(name)
          } to be unmapped for the step, but it is ${buffer.mapState}; unmap it first`,
        );
      }
    }
  }

  #locate(param: unknown): _Location {
    const location = this.#parts.locations.get(param);
    if (location === undefined) throw _foreignParam(NAME, param);
    return location;
  }

  #nameOf(param: unknown): string {
    return _describe(this.#parts.locations.get(param)?.name ?? param);
  }

  #arena(method: string): _Arena {
    if (this.#parts.arena === undefined) {
      throw new TypeError(
        `${method}() needs an arena made by GpuDecay.create; this engine decays buffers you own`,
      );
    }
    return this.#parts.arena;
  }
}

const DECAY_OPTION_KEYS = ["scaling", "maxLr"];
const CREATE_OPTION_KEYS = [...DECAY_OPTION_KEYS, "maxShardBytes"];

/** The update kernels' bindings: chunk table, step slot, state, then `values`. */
function _updateBindings(
  values: readonly GPUBufferBindingType[],
): ReturnType<typeof _bindings> {
  return [
    { type: "read-only-storage" },
    { type: "read-only-storage", dynamic: true },
    { type: "read-only-storage" },
    ..._bindings(...values),
  ];
}

/** The decay gate: slot header and own lap (dynamic offsets), then the state. */
function _gateKernel(device: GPUDevice): _Kernel {
  return _cachedKernel(
    device,
    "decay gate",
    (d) =>
      _buildKernel(d, `${LABEL} gate`, DECAY_GATE_WGSL, [
        { type: "read-only-storage", dynamic: true },
        { type: "read-only-storage", dynamic: true },
        { type: "storage" },
      ], "gate"),
  );
}

/** Builds the factors and the fused pass common to both modes. */
function _assemble(
  device: GPUDevice,
  lifecycle: _Lifecycle,
  groups: readonly _CheckedGroup<unknown>[],
  scaling: _Scaling,
  segments: readonly (readonly _SegmentSpec[])[],
  kernel: _Kernel,
  values: readonly (readonly GPUBufferBinding[])[],
  rest: Pick<
    _Parts,
    "owned" | "buffers" | "locations" | "arena" | "callerBuffers"
  >,
): _Parts {
  const plan = new _DecayPlan(
    segments,
    groups.map((g) => g.weightDecay),
    device.limits.maxComputeWorkgroupsPerDimension,
    { chunkElements: DECAY_CHUNK_ELEMENTS, direct: rest.arena !== undefined },
  );
  return {
    ...rest,
    device,
    lifecycle,
    plan,
    factors: new _DecayFactors(groups, scaling),
    pass: new _FusedPass(device, {
      label: LABEL,
      engine: NAME,
      stepName: "decay",
      plan,
      lifecycle,
      groups: groups.length,
      groupWords: DECAY_GROUP_WORDS,
      gate: { kernel: _gateKernel(device), bindings: [] },
      update: { kernel, bindings: values },
    }),
  };
}

function _isBuffer(value: unknown): value is GPUBuffer {
  const candidate = value as Partial<GPUBuffer> | null;
  return typeof candidate?.mapAsync === "function" &&
    typeof candidate.size === "number" &&
    typeof candidate.usage === "number";
}

function _checkBufferTarget(param: unknown, where: string): void {
  const buffer = _isBuffer(param)
    ? param
    : (param as Partial<GPUBufferBinding> | null)?.buffer;
  if (!_isBuffer(buffer)) {
    throw new TypeError(
      `Expected ${where} to be a GPUBuffer or a GPUBufferBinding but found ${
        _describe(param)
      }`,
    );
  }
  if ((buffer.usage & GPUBufferUsage.STORAGE) === 0) {
    throw new TypeError(
      `Expected the buffer of ${where} to have STORAGE usage (${
        buffer.label || "unlabelled"
      })`,
    );
  }
  const { offset = 0, size = buffer.size - offset } = _isBuffer(param)
    ? {}
    : param as GPUBufferBinding;
  if (
    !Number.isSafeInteger(offset) || !Number.isSafeInteger(size) ||
    offset % 4 !== 0 || size % 4 !== 0
  ) {
    throw new RangeError(
      `Expected ${where} to have an offset and size that are multiples of 4 but found offset ${offset}, size ${size}`,
    );
  }
  if (offset < 0 || size < 0 || offset + size > buffer.size) {
    throw new RangeError(
      `Expected ${where} to lie inside its buffer of ${buffer.size} bytes but found offset ${offset}, size ${size}`,
    );
  }
}

function _toRange(param: GPUBuffer | GPUBufferBinding): _Range {
  if (_isBuffer(param)) return { buffer: param, offset: 0, size: param.size };
  const offset = param.offset ?? 0;
  return {
    buffer: param.buffer,
    offset,
    size: param.size ?? param.buffer.size - offset,
  };
}

interface _Target {
  readonly param: unknown;
  readonly group: number;
  readonly range: _Range;
  readonly name: string;
}

/**
 * The range of its buffer each target is bound through: the whole buffer when it fits
 * one binding, else windows of at most `maxStorageBufferBindingSize` at aligned offsets.
 */
function _bindingWindows(
  device: GPUDevice,
  targets: readonly _Target[],
): Map<_Target, GPUBufferBinding> {
  const maxBinding = Math.floor(device.limits.maxStorageBufferBindingSize / 4) *
    4;
  const align = device.limits.minStorageBufferOffsetAlignment;
  const windows = new Map<_Target, GPUBufferBinding>();
  const whole = new Map<GPUBuffer, GPUBufferBinding>();
  const open = new Map<GPUBuffer, GPUBufferBinding>();
  const byOffset = targets.filter((t) => t.range.size > 0).toSorted((a, b) =>
    a.range.offset - b.range.offset
  );
  for (const target of byOffset) {
    const { buffer, offset, size } = target.range;
    if (buffer.size <= maxBinding) {
      if (!whole.has(buffer)) {
        whole.set(buffer, { buffer, offset: 0, size: buffer.size });
      }
      windows.set(target, whole.get(buffer)!);
      continue;
    }
    if (size > maxBinding) {
      throw new RangeError(
        `Parameter ${
          _describe(target.name)
        } has ${size} bytes, more than one binding holds (maxStorageBufferBindingSize ${maxBinding}); request a device with a larger limit`,
      );
    }
    let window = open.get(buffer);
    if (window === undefined || offset + size > window.offset! + window.size!) {
      const start = Math.floor(offset / align) * align;
      window = {
        buffer,
        offset: start,
        size: Math.min(maxBinding, buffer.size - start),
      };
      if (offset + size > start + window.size!) {
        throw new RangeError(
          `Parameter ${
            _describe(target.name)
          } at byte ${offset} of its buffer does not fit one binding window from the aligned offset ${start} (maxStorageBufferBindingSize ${maxBinding}); request a device with a larger limit`,
        );
      }
      open.set(buffer, window);
    }
    windows.set(target, window);
  }
  return windows;
}
