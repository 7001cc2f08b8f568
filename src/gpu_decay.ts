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
import { ARENA_DECAY_WGSL, buffersDecayWgsl } from "./decay_kernel.ts";
import { _layoutArena, type _Piece } from "./_arena_layout.ts";
import {
  _DecayPlan,
  _recordDispatches,
  type _SegmentSpec,
} from "./_decay_plan.ts";
import { _checkScaling, _DecayFactors } from "./_factors.ts";
import {
  type _CheckedGroup,
  _checkGroups,
  _checkHostParam,
  _checkNoOverlap,
  _checkNoSharedMemory,
} from "./_check_groups.ts";
import {
  _buildKernel,
  _cachedKernel,
  type _Kernel,
  _Lifecycle,
  type _Range,
  _readRanges,
} from "./_gpu.ts";
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

/** What `binding`, `read` and the sync methods need to know of one decayed tensor. */
interface _Location {
  /** Its name in its group, for messages. */
  readonly name: string;
  /** Where its bytes are, in order: one range, or several for a tensor that spans shards. */
  readonly ranges: readonly _Range[];
  /** The host parameter and its pieces, in arena mode. */
  readonly host?: {
    readonly param: { readonly data: Float32Array };
    readonly pieces: readonly _Piece[];
  };
}

/** Everything an engine is made of, built by `create` or `fromBuffers`. */
interface _Parts {
  readonly device: GPUDevice;
  readonly factors: _DecayFactors;
  readonly plan: _DecayPlan;
  readonly kernel: _Kernel;
  readonly bindGroups: readonly GPUBindGroup[];
  readonly ring: GPUBuffer;
  readonly owned: readonly GPUBuffer[];
  readonly buffers: readonly GPUBuffer[];
  readonly locations: ReadonlyMap<unknown, _Location>;
  readonly arena: boolean;
}

const NAME = "GpuDecay";
const LABEL = "weight-decay";
/** Ring slots of per-step factors: how many `encode` calls may wait for one submit. */
const RING_SLOTS = 64;

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
   * The size of the ring of per-step factor slots. Every `step` and `encode` takes the
   * next slot, and a slot is written when its step is recorded, so a step recorded with
   * `encode` must be submitted before this many more steps are recorded (by `encode`
   * into any encoder, or by `step`); otherwise its factors are overwritten. Encoding
   * more than this many steps into one encoder throws; across encoders the engine
   * cannot see your submits, so keep to the limit.
   */
  static readonly maxEncodesPerSubmit: number = RING_SLOTS;

  /**
   * The buffers the parameters live in: the arena shards made by `create`, or the
   * caller's own buffers given to `fromBuffers`.
   */
  readonly buffers: readonly GPUBuffer[];

  readonly #parts: _Parts;
  readonly #lifecycle: _Lifecycle;
  readonly #offsets: Uint32Array;
  readonly #submitList: GPUCommandBuffer[] = [];
  readonly #encoderDescriptor: GPUCommandEncoderDescriptor = {
    label: `${LABEL} step`,
  };
  readonly #passDescriptor: GPUComputePassDescriptor = {
    label: `${LABEL} decay pass`,
  };
  #nextSlot = 0;
  #lastEncoder: GPUCommandEncoder | undefined;
  #encodesIntoLast = 0;

  private constructor(parts: _Parts) {
    this.#parts = parts;
    this.buffers = Object.freeze([...parts.buffers]);
    this.#lifecycle = new _Lifecycle(parts.device, NAME);
    this.#offsets = new Uint32Array(1);
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
    const scaling = _checkScaling(options);
    const shardLimit = _shardLimit(device, options?.maxShardBytes);
    const checked = _checkGroups(groups, _checkHostParam);
    _checkNoSharedMemory(checked);

    const align = Math.max(256, device.limits.minStorageBufferOffsetAlignment);
    const layout = _layoutArena(
      checked.map((g) => g.params.map((p) => p.data.length)),
      shardLimit,
      align,
    );
    const shards = layout.shardBytes.map((bytes, s) => {
      const shard = device.createBuffer({
        label: `${LABEL} arena shard ${s}`,
        size: bytes,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC |
          GPUBufferUsage.COPY_DST,
        mappedAtCreation: true,
      });
      const mapped = new Float32Array(shard.getMappedRange());
      checked.forEach((group, g) =>
        group.params.forEach((param, i) => {
          for (const piece of layout.pieces[g]![i]!) {
            if (piece.shard !== s) continue;
            mapped.set(
              param.data.subarray(piece.start, piece.start + piece.count),
              piece.byteOffset / 4,
            );
          }
        })
      );
      shard.unmap();
      // An empty submit hands the shard's staging copy to the queue now, so it is freed
      // before the next shard's is made: without it every staging copy lives until the
      // device is next polled, a second full host copy of the model (measured: the
      // upload of a 1 GiB arena peaked 2.1 GiB above the model, and 1.2 GiB with it).
      device.queue.submit([]);
      return shard;
    });

    const locations = new Map<unknown, _Location>();
    checked.forEach((group, g) =>
      group.params.forEach((param, i) => {
        const pieces = layout.pieces[g]![i]!;
        locations.set(param, {
          name: group.names[i]!,
          ranges: pieces.map((p) => ({
            buffer: shards[p.shard]!,
            offset: p.byteOffset,
            size: p.count * 4,
          })),
          host: { param, pieces },
        });
      })
    );
    const segments = layout.groupRanges.map((ranges) =>
      ranges.map(({ group, beginByte, endByte }): _SegmentSpec => ({
        group,
        binding: 0,
        begin: beginByte / 16,
        end: Math.ceil(endByte / 16),
      }))
    );
    const kernel = _cachedKernel(
      device,
      "arena",
      (d) => _buildKernel(d, `${LABEL} arena decay`, ARENA_DECAY_WGSL, 1),
    );
    return new GpuDecay(
      _assemble(
        device,
        checked,
        scaling,
        segments,
        kernel,
        shards.map((s) => [{ buffer: s }]),
        {
          owned: shards,
          buffers: shards,
          locations,
          arena: true,
        },
      ),
    );
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
      device.limits.maxStorageBuffersPerShaderStage - 2,
    );
    const windowList = [...new Set(windows.values())];
    const dispatchWindows: GPUBufferBinding[][] = [];
    for (let w = 0; w < windowList.length; w += perDispatch) {
      dispatchWindows.push(windowList.slice(w, w + perDispatch));
    }
    const segments = dispatchWindows.map((list) =>
      targets.filter((t) => list.includes(windows.get(t)!)).map(
        (t): _SegmentSpec => {
          const window = windows.get(t)!;
          const begin = (t.range.offset - window.offset!) / 4;
          return {
            group: t.group,
            binding: list.indexOf(window),
            begin,
            end: begin + t.range.size / 4,
          };
        },
      )
    );
    const placeholder = device.createBuffer({
      label: `${LABEL} unused binding`,
      size: 16,
      usage: GPUBufferUsage.STORAGE,
    });
    const kernel = _cachedKernel(
      device,
      `buffers ${perDispatch}`,
      (d) =>
        _buildKernel(
          d,
          `${LABEL} buffers decay`,
          buffersDecayWgsl(perDispatch),
          perDispatch,
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
    return new GpuDecay(
      _assemble(device, checked, scaling, segments, kernel, bindings, {
        owned: [placeholder],
        buffers: [...new Set(targets.map((t) => t.range.buffer))],
        locations,
        arena: false,
      }),
    );
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
    if (!this.#prepare(lr)) return;
    const { device } = this.#parts;
    const encoder = device.createCommandEncoder(this.#encoderDescriptor);
    this.#record(encoder);
    this.#submitList[0] = encoder.finish();
    device.queue.submit(this.#submitList);
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
    if (
      typeof (encoder as Partial<GPUCommandEncoder>)?.beginComputePass !==
        "function"
    ) {
      throw new TypeError(
        `Expected a GPUCommandEncoder but found ${_describe(encoder)}`,
      );
    }
    const count = encoder === this.#lastEncoder ? this.#encodesIntoLast + 1 : 1;
    if (count > RING_SLOTS) {
      throw new RangeError(
        `Expected at most ${RING_SLOTS} decay steps in one command encoder (GpuDecay.maxEncodesPerSubmit) but this is step ${count}; submit and start a new encoder`,
      );
    }
    if (!this.#prepare(lr)) return;
    this.#lastEncoder = encoder;
    this.#encodesIntoLast = count;
    this.#record(encoder);
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
    const { ranges } = this.#locate(param);
    if (ranges.length !== 1) {
      const what = ranges.length === 0
        ? "has no values, and a binding cannot be empty"
        : `spans ${ranges.length} arena shards and cannot be bound as one range; raise maxShardBytes, or request a device with a larger maxStorageBufferBindingSize (now ${this.#parts.device.limits.maxStorageBufferBindingSize})`;
      throw new RangeError(`Parameter ${this.#nameOf(param)} ${what}`);
    }
    const { buffer, offset, size } = ranges[0]!;
    return { buffer, offset, size };
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
   * @throws {Error} If the engine was destroyed or its device lost, also while waiting.
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
    const bytes = await _readRanges(
      this.#parts.device,
      this.#lifecycle,
      ranges,
      `${LABEL} read`,
    );
    return new Float32Array(bytes);
  }

  /**
   * Copies the arena back into every parameter's `data`, mapping each shard once: call
   * it before saving a checkpoint or evaluating on the host.
   *
   * @throws {TypeError} If the engine decays caller-owned buffers (`fromBuffers`).
   * @throws {Error} If the engine was destroyed or its device lost, also while waiting.
   */
  async syncToHost(): Promise<void> {
    this.#lifecycle.check();
    const shards = this.#arenaShards("syncToHost");
    for (let s = 0; s < shards.length; s++) {
      const shard = shards[s]!;
      const bytes = await _readRanges(
        this.#parts.device,
        this.#lifecycle,
        [{ buffer: shard, offset: 0, size: shard.size }],
        `${LABEL} sync shard ${s}`,
      );
      for (const { host } of this.#parts.locations.values()) {
        for (const piece of host!.pieces) {
          if (piece.shard !== s) continue;
          host!.param.data.set(
            new Float32Array(bytes, piece.byteOffset, piece.count),
            piece.start,
          );
        }
      }
    }
  }

  /**
   * Uploads every parameter's `data` into the arena, e.g. after loading a checkpoint into
   * the parameters. Queued before any later step.
   *
   * @throws {TypeError} If the engine decays caller-owned buffers, or a parameter's data
   * no longer has the length it had at `create`.
   * @throws {Error} If the engine was destroyed or its device lost.
   */
  syncFromHost(): void {
    this.#lifecycle.check();
    const shards = this.#arenaShards("syncFromHost");
    const locations = [...this.#parts.locations.values()];
    for (const { host, ranges } of locations) {
      const expected = ranges.reduce((n, r) => n + r.size / 4, 0);
      if (host!.param.data.length !== expected) {
        throw new TypeError(
          `Expected parameter ${
            this.#nameOf(host!.param)
          } to still hold ${expected} values but its data has ${
            host!.param.data.length
          }`,
        );
      }
    }
    const { queue } = this.#parts.device;
    for (const { host } of locations) {
      for (const piece of host!.pieces) {
        queue.writeBuffer(
          shards[piece.shard]!,
          piece.byteOffset,
          host!.param.data as Float32Array<ArrayBuffer>,
          piece.start,
          piece.count,
        );
      }
    }
  }

  /**
   * Frees the GPU buffers this engine made (never the device, never your buffers).
   * Safe to call twice; any other call afterwards throws.
   */
  destroy(): void {
    if (!this.#lifecycle.destroy()) return;
    for (const buffer of this.#parts.owned) buffer.destroy();
    this.#submitList.length = 0;
    this.#lastEncoder = undefined;
  }

  /** Calls {@linkcode GpuDecay.destroy}, so `using decay = GpuDecay.create(...)` frees it. */
  [Symbol.dispose](): void {
    this.destroy();
  }

  /** Computes this step's factors; false if none changes anything, so nothing is recorded. */
  #prepare(lr: number): boolean {
    const { factors, plan } = this.#parts;
    return plan.hasWork(factors.compute(lr));
  }

  /** Writes this step's factors into the next ring slot and records the pass. */
  #record(encoder: GPUCommandEncoder): void {
    const { device, plan, ring, kernel, bindGroups, factors } = this.#parts;
    const slotOffset = this.#nextSlot * plan.slotBytes;
    this.#nextSlot = (this.#nextSlot + 1) % RING_SLOTS;
    device.queue.writeBuffer(ring, slotOffset, factors.values);
    const pass = encoder.beginComputePass(this.#passDescriptor);
    _recordDispatches(
      pass,
      kernel.pipeline,
      bindGroups,
      plan,
      slotOffset,
      this.#offsets,
    );
    pass.end();
  }

  #locate(param: unknown): _Location {
    const location = this.#parts.locations.get(param);
    if (location === undefined) {
      throw new TypeError(
        `Expected a parameter of this GpuDecay (one of the groups it was made with) but found ${
          _describe(param)
        }`,
      );
    }
    return location;
  }

  #nameOf(param: unknown): string {
    return _describe(this.#parts.locations.get(param)?.name ?? param);
  }

  #arenaShards(method: string): readonly GPUBuffer[] {
    if (!this.#parts.arena) {
      throw new TypeError(
        `${method}() needs an arena made by GpuDecay.create; this engine decays buffers you own`,
      );
    }
    return this.#parts.buffers;
  }
}

/** Builds the tables, the ring and the bind groups common to both modes. */
function _assemble(
  device: GPUDevice,
  groups: readonly _CheckedGroup<unknown>[],
  scaling: ReturnType<typeof _checkScaling>,
  segments: readonly (readonly _SegmentSpec[])[],
  kernel: _Kernel,
  valueBindings: readonly (readonly GPUBufferBinding[])[],
  rest: Pick<_Parts, "owned" | "buffers" | "locations" | "arena">,
): _Parts {
  const align = device.limits.minStorageBufferOffsetAlignment;
  const weightDecays = groups.map((g) => g.weightDecay);
  const plan = new _DecayPlan(
    segments,
    weightDecays,
    align,
    device.limits.maxComputeWorkgroupsPerDimension,
  );
  const tableOffsets: number[] = [];
  let tableBytes = 0;
  for (const { chunkTable } of plan.dispatches) {
    tableOffsets.push(tableBytes);
    tableBytes += Math.ceil(chunkTable.byteLength / align) * align;
  }
  const tables = device.createBuffer({
    label: `${LABEL} chunk tables`,
    size: Math.max(16, tableBytes),
    usage: GPUBufferUsage.STORAGE,
    mappedAtCreation: true,
  });
  const mapped = new Uint32Array(tables.getMappedRange());
  plan.dispatches.forEach(({ chunkTable }, d) =>
    mapped.set(chunkTable, tableOffsets[d]! / 4)
  );
  tables.unmap();
  const ring = device.createBuffer({
    label: `${LABEL} factor ring`,
    size: plan.slotBytes * RING_SLOTS,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
  });
  const bindGroups = plan.dispatches.map(({ chunkTable }, d) =>
    device.createBindGroup({
      label: `${LABEL} bind group ${d}`,
      layout: kernel.layout,
      entries: [
        {
          binding: 0,
          resource: {
            buffer: tables,
            offset: tableOffsets[d]!,
            size: chunkTable.byteLength,
          },
        },
        {
          binding: 1,
          resource: { buffer: ring, offset: 0, size: plan.factorBytes },
        },
        ...valueBindings[d]!.map((resource, b) => ({
          binding: b + 2,
          resource,
        })),
      ],
    })
  );
  return {
    ...rest,
    device,
    factors: new _DecayFactors(weightDecays, scaling),
    plan,
    kernel,
    bindGroups,
    ring,
    owned: [...rest.owned, tables, ring],
  };
}

function _checkDevice(device: unknown): asserts device is GPUDevice {
  const candidate = device as Partial<GPUDevice> | null | undefined;
  if (
    typeof candidate?.createBuffer !== "function" ||
    typeof candidate.queue !== "object"
  ) {
    throw new TypeError(`Expected a GPUDevice but found ${_describe(device)}`);
  }
}

function _shardLimit(device: GPUDevice, requested: number | undefined): number {
  const limit = Math.min(
    device.limits.maxStorageBufferBindingSize,
    device.limits.maxBufferSize,
  );
  if (requested === undefined) return Math.floor(limit / 256) * 256;
  if (
    typeof requested !== "number" || !Number.isFinite(requested) ||
    requested < 256 || requested > limit
  ) {
    throw new RangeError(
      `Expected maxShardBytes to be a number from 256 to ${limit} (the device's maxStorageBufferBindingSize and maxBufferSize) but found ${
        _describe(requested)
      }`,
    );
  }
  return Math.floor(requested / 256) * 256;
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
