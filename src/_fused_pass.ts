// Copyright 2026 the weight-decay authors. MIT license.
// One fused compute pass per step, shared by the GPU engines: chunk tables, a ring of
// per-step slots checked by a gate, the engine state on the GPU, bind groups made once,
// and the recording of a step into the caller's encoder or a submit of its own inside
// error scopes, allocating no GPU object.

import type { _DecayPlan, _PlannedDispatch } from "./_decay_plan.ts";
import {
  _cachedKernel,
  type _Kernel,
  type _Lifecycle,
  _scoped,
} from "./_gpu.ts";
import { ENGINE_STATE_BYTES, STEP_HEADER_BYTES } from "./decay_kernel.ts";
import { _describe } from "./_describe.ts";

/** Ring slots of per-step values: how many steps may wait for their submit. */
export const RING_SLOTS = 64;
/**
 * Laps of the ring a gate tells apart: a slot rewritten exactly a multiple of
 * `RING_SLOTS * RING_LAPS` steps later would pass its check.
 */
export const RING_LAPS = 1024;

/** One kernel's dispatches: per dispatch, the bindings after the ones the pass provides. */
export interface _StageSpec {
  readonly kernel: _Kernel;
  readonly bindings: readonly (readonly GPUBufferBinding[])[];
}

/** What a fused pass is made of. */
export interface _FusedPassSpec {
  /** The prefix of every GPU object's label, naming the engine's purpose. */
  readonly label: string;
  /** The engine's class name, for messages. */
  readonly engine: string;
  /** What one step is called in messages, e.g. "decay". */
  readonly stepName: string;
  readonly plan: _DecayPlan;
  readonly lifecycle: _Lifecycle;
  /** How many groups the step's values hold, and 32-bit words per group. */
  readonly groups: number;
  readonly groupWords: number;
  /**
   * The gate, one workgroup: its bindings are the slot header, its own lap (both with
   * dynamic offsets), the state, then `bindings[0]`.
   */
  readonly gate: _StageSpec;
  /**
   * The updates, one dispatch per planned dispatch: chunk table, step slot (dynamic
   * offset), state (read-only), then `bindings[d]`.
   */
  readonly update: _StageSpec;
  /**
   * Dispatches before the gate, one per planned dispatch with work, of `workgroups[d]`
   * workgroups: chunk table, then `bindings[d]`.
   */
  readonly reduce?: _StageSpec & { readonly workgroups: readonly number[] };
  /** One dispatch between the reduction and the gate, over `bindings[0]`. */
  readonly fold?: _StageSpec & { readonly workgroups: number };
}

/** A step's values as the engine fills them: the header, then each group's words. */
export interface _StepValues {
  readonly f32: Float32Array<ArrayBuffer>;
  readonly u32: Uint32Array<ArrayBuffer>;
}

/** The first 32-bit word of a group's values in a slot. */
export const GROUP_VALUES_START = STEP_HEADER_BYTES / 4;

/** A dispatch as recorded: its bind group and grid. */
interface _Dispatch {
  readonly bindGroup: GPUBindGroup;
  readonly gridX: number;
  readonly gridY: number;
}

/**
 * The fused pass of one engine: `step` and `encode` take the engine's `prepare`, which
 * fills the step's values for its learning rate, or refuses the step by throwing.
 */
export class _FusedPass {
  /** The engine state on the GPU (`EngineState` in the WGSL), for reads and loads. */
  readonly state: GPUBuffer;
  readonly #device: GPUDevice;
  readonly #spec: _FusedPassSpec;
  readonly #values: _StepValues;
  readonly #slotBytes: number;
  readonly #lapBytes: number;
  readonly #own: readonly GPUBuffer[];
  readonly #ring: GPUBuffer;
  readonly #gate: _Dispatch;
  readonly #updates: readonly _Dispatch[];
  readonly #reduces: readonly _Dispatch[];
  readonly #fold: _Dispatch | undefined;
  readonly #offsets = new Uint32Array(2);
  readonly #submitList: GPUCommandBuffer[] = [];
  readonly #encoderDescriptor: GPUCommandEncoderDescriptor;
  readonly #passDescriptor: GPUComputePassDescriptor;
  /** Steps recorded into each encoder not yet dropped, for the per-encoder limit. */
  readonly #perEncoder = new WeakMap<GPUCommandEncoder, number>();
  /** Every step recorded so far: its slot and lap come from this count. */
  #recorded = 0;

  constructor(device: GPUDevice, spec: _FusedPassSpec) {
    const { label, plan } = spec;
    const align = device.limits.minStorageBufferOffsetAlignment;
    const stepBytes = STEP_HEADER_BYTES +
      Math.max(1, spec.groups) * spec.groupWords * 4;
    this.#slotBytes = Math.ceil(stepBytes / align) * align;
    this.#lapBytes = align;
    const values = new ArrayBuffer(stepBytes);
    this.#values = {
      f32: new Float32Array(values),
      u32: new Uint32Array(values),
    };
    const tables = _tablesBuffer(device, label, plan.dispatches, align);
    this.#ring = device.createBuffer({
      label: `${label} step ring`,
      size: this.#slotBytes * RING_SLOTS,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
    });
    this.state = device.createBuffer({
      label: `${label} state`,
      size: ENGINE_STATE_BYTES,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC |
        GPUBufferUsage.COPY_DST,
    });
    this.#own = [tables.buffer, this.#ring, this.state];
    const laps = _lapTable(device, align);
    const stage = (
      kernel: _Kernel,
      d: number,
      head: GPUBufferBinding[],
      rest: readonly GPUBufferBinding[],
    ) =>
      device.createBindGroup({
        label: `${label} ${
          kernel === spec.gate.kernel ? "gate" : "bind group"
        } ${d}`,
        layout: kernel.layout,
        entries: [...head, ...rest].map((resource, binding) => ({
          binding,
          resource,
        })),
      });
    const slot = { buffer: this.#ring, offset: 0, size: stepBytes };
    const state = { buffer: this.state };
    const dispatches = (
      { kernel, bindings }: _StageSpec,
      head: (d: number) => GPUBufferBinding[],
    ) =>
      plan.dispatches.flatMap(({ gridX, gridY, chunkCount }, d) =>
        chunkCount === 0 ? [] : [{
          bindGroup: stage(kernel, d, head(d), bindings[d]!),
          gridX,
          gridY,
        }]
      );
    this.#updates = dispatches(spec.update, (d) => [
      tables.binding(d),
      slot,
      state,
    ]);
    const { reduce, fold } = spec;
    this.#reduces = reduce === undefined
      ? []
      : dispatches(reduce, (d) => [tables.binding(d)]).map((dispatch, i) => ({
        ...dispatch,
        gridX: reduce.workgroups[i]!,
        gridY: 1,
      }));
    this.#fold = fold === undefined ? undefined : {
      bindGroup: stage(fold.kernel, 0, [], fold.bindings[0]!),
      gridX: fold.workgroups,
      gridY: 1,
    };
    this.#gate = {
      bindGroup: stage(spec.gate.kernel, 0, [
        { buffer: this.#ring, offset: 0, size: STEP_HEADER_BYTES },
        { buffer: laps, offset: 0, size: 4 },
        state,
      ], spec.gate.bindings[0] ?? []),
      gridX: 1,
      gridY: 1,
    };
    this.#device = device;
    this.#spec = spec;
    this.#encoderDescriptor = { label: `${label} step` };
    this.#passDescriptor = { label: `${label} ${spec.stepName} pass` };
  }

  /**
   * Takes one step now: `prepare(lr, values)` checks `lr` and fills the step's values
   * (it throws to refuse the step); if it returns true, the pass is recorded into an
   * encoder of its own and submitted, inside error scopes: a GPU error makes every
   * later call on the engine throw.
   *
   * @param prepare Fills the values for `lr`; returns false if the step changes nothing.
   */
  step(
    lr: number,
    prepare: (lr: number, values: _StepValues) => boolean,
  ): void {
    if (!prepare(lr, this.#values)) return;
    const { error } = _scoped(this.#device, () => {
      const encoder = this.#device.createCommandEncoder(
        this.#encoderDescriptor,
      );
      this.#record(encoder);
      this.#submitList[0] = encoder.finish();
      this.#device.queue.submit(this.#submitList);
    });
    this.#spec.lifecycle.watch("step", error);
  }

  /**
   * Records one step into the caller's `encoder`, as `step` does into its own. Errors
   * of the recording itself are the encoder's: WebGPU reports them when it is finished.
   *
   * @throws {TypeError} If `encoder` is not a `GPUCommandEncoder`.
   * @throws {RangeError} If the encoder already holds a ring's worth of steps; then
   * `prepare` is not called.
   */
  encode(
    encoder: GPUCommandEncoder,
    lr: number,
    prepare: (lr: number, values: _StepValues) => boolean,
  ): void {
    if (
      typeof (encoder as Partial<GPUCommandEncoder>)?.beginComputePass !==
        "function"
    ) {
      throw new TypeError(
        `Expected a GPUCommandEncoder but found ${_describe(encoder)}`,
      );
    }
    const count = (this.#perEncoder.get(encoder) ?? 0) + 1;
    if (count > RING_SLOTS) {
      const { stepName, engine } = this.#spec;
      throw new RangeError(
        `Expected at most ${RING_SLOTS} ${stepName} steps in one command encoder (${engine}.maxEncodesPerSubmit) but this is step ${count}; submit and start a new encoder`,
      );
    }
    if (!prepare(lr, this.#values)) return;
    this.#perEncoder.set(encoder, count);
    const { error } = _scoped(this.#device, () => this.#record(encoder));
    this.#spec.lifecycle.watch("encode", error);
  }

  /** Frees what the pass made (the shared lap table stays with the device). */
  destroy(): void {
    for (const buffer of this.#own) buffer.destroy();
    this.#submitList.length = 0;
  }

  /** Writes this step's values into the next ring slot and records the pass. */
  #record(encoder: GPUCommandEncoder): void {
    const step = this.#recorded++;
    const slotOffset = (step % RING_SLOTS) * this.#slotBytes;
    const lap = Math.floor(step / RING_SLOTS) % RING_LAPS;
    const values = this.#values;
    values.u32[0] = lap;
    this.#device.queue.writeBuffer(this.#ring, slotOffset, values.u32);
    const pass = encoder.beginComputePass(this.#passDescriptor);
    const offsets = this.#offsets;
    const { reduce, fold, gate, update } = this.#spec;
    if (reduce !== undefined) {
      pass.setPipeline(reduce.kernel.pipeline);
      for (const { bindGroup, gridX, gridY } of this.#reduces) {
        pass.setBindGroup(0, bindGroup);
        pass.dispatchWorkgroups(gridX, gridY);
      }
    }
    if (fold !== undefined) {
      pass.setPipeline(fold.kernel.pipeline);
      pass.setBindGroup(0, this.#fold!.bindGroup);
      pass.dispatchWorkgroups(this.#fold!.gridX);
    }
    offsets[0] = slotOffset;
    offsets[1] = lap * this.#lapBytes;
    pass.setPipeline(gate.kernel.pipeline);
    pass.setBindGroup(0, this.#gate.bindGroup, offsets, 0, 2);
    pass.dispatchWorkgroups(1);
    pass.setPipeline(update.kernel.pipeline);
    for (const { bindGroup, gridX, gridY } of this.#updates) {
      pass.setBindGroup(0, bindGroup, offsets, 0, 1);
      pass.dispatchWorkgroups(gridX, gridY);
    }
    pass.end();
  }
}

/** The chunk tables of every dispatch in one buffer, each at an aligned offset. */
function _tablesBuffer(
  device: GPUDevice,
  label: string,
  dispatches: readonly _PlannedDispatch[],
  align: number,
): { buffer: GPUBuffer; binding(d: number): GPUBufferBinding } {
  const offsets: number[] = [];
  let bytes = 0;
  for (const { chunkTable } of dispatches) {
    offsets.push(bytes);
    bytes += Math.ceil(chunkTable.byteLength / align) * align;
  }
  const buffer = device.createBuffer({
    label: `${label} chunk tables`,
    size: Math.max(16, bytes),
    usage: GPUBufferUsage.STORAGE,
    mappedAtCreation: true,
  });
  const mapped = new Uint32Array(buffer.getMappedRange());
  dispatches.forEach(({ chunkTable }, d) =>
    mapped.set(chunkTable, offsets[d]! / 4)
  );
  buffer.unmap();
  return {
    buffer,
    binding: (d) => ({
      buffer,
      offset: offsets[d]!,
      size: dispatches[d]!.chunkTable.byteLength,
    }),
  };
}

/**
 * The table of laps every gate reads its own lap from, through a dynamic offset: entry
 * `k`, at byte `k * align`, holds `k`. Made once per device and never changed.
 */
function _lapTable(device: GPUDevice, align: number): GPUBuffer {
  return _cachedKernel(device, "lap table", (d) => {
    const buffer = d.createBuffer({
      label: "weight-decay lap table",
      size: RING_LAPS * align,
      usage: GPUBufferUsage.STORAGE,
      mappedAtCreation: true,
    });
    const words = new Uint32Array(buffer.getMappedRange());
    for (let lap = 0; lap < RING_LAPS; lap++) words[lap * align / 4] = lap;
    buffer.unmap();
    return buffer;
  });
}
