// Copyright 2026 the weight-decay authors. MIT license.
// One fused compute pass per step, shared by the GPU engines: chunk tables, a ring of
// per-step values and bind groups made once, and the recording of a step into the
// caller's encoder or a submit of its own, allocating nothing but that submit's encoder.

import {
  _DecayPlan,
  type _PlanOptions,
  _recordDispatches,
  type _SegmentSpec,
} from "./_decay_plan.ts";
import type { _Kernel } from "./_gpu.ts";
import { _describe } from "./_describe.ts";

/** Ring slots of per-step values: how many `encode` calls may wait for one submit. */
export const RING_SLOTS = 64;

/** What a fused pass is made of. */
export interface _FusedPassSpec {
  /** The prefix of every GPU object's label, naming the engine's purpose. */
  readonly label: string;
  /** The engine's class name, for messages. */
  readonly engine: string;
  /** What one step is called in messages, e.g. "decay". */
  readonly stepName: string;
  readonly kernel: _Kernel;
  /** Per dispatch, its segments. */
  readonly segments: readonly (readonly _SegmentSpec[])[];
  /** Per dispatch, the value buffers its bind group holds after the two tables. */
  readonly values: readonly (readonly GPUBufferBinding[])[];
  /** Each group's weight decay. */
  readonly weightDecays: readonly number[];
  readonly plan: _PlanOptions;
}

/**
 * The fused pass of one engine: `step` and `encode` take the engine's `prepare`, which
 * fills `plan` with `plan.write` for the step's learning rate.
 */
export class _FusedPass {
  readonly plan: _DecayPlan;
  readonly #device: GPUDevice;
  readonly #spec: _FusedPassSpec;
  readonly #tables: GPUBuffer;
  readonly #ring: GPUBuffer;
  readonly #bindGroups: readonly GPUBindGroup[];
  readonly #offsets: Uint32Array;
  readonly #submitList: GPUCommandBuffer[] = [];
  readonly #encoderDescriptor: GPUCommandEncoderDescriptor;
  readonly #passDescriptor: GPUComputePassDescriptor;
  #nextSlot = 0;
  #lastEncoder: GPUCommandEncoder | undefined;
  #encodesIntoLast = 0;

  constructor(device: GPUDevice, spec: _FusedPassSpec) {
    const { label, kernel } = spec;
    const align = device.limits.minStorageBufferOffsetAlignment;
    const plan = new _DecayPlan(
      spec.segments,
      spec.weightDecays,
      align,
      device.limits.maxComputeWorkgroupsPerDimension,
      spec.plan,
    );
    const tableOffsets: number[] = [];
    let tableBytes = 0;
    for (const { chunkTable } of plan.dispatches) {
      tableOffsets.push(tableBytes);
      tableBytes += Math.ceil(chunkTable.byteLength / align) * align;
    }
    const tables = device.createBuffer({
      label: `${label} chunk tables`,
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
      label: `${label} step ring`,
      size: plan.slotBytes * RING_SLOTS,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
    });
    this.#bindGroups = plan.dispatches.map(({ chunkTable }, d) =>
      device.createBindGroup({
        label: `${label} bind group ${d}`,
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
            resource: { buffer: ring, offset: 0, size: plan.stepBytes },
          },
          ...spec.values[d]!.map((resource, b) => ({
            binding: b + 2,
            resource,
          })),
        ],
      })
    );
    this.plan = plan;
    this.#device = device;
    this.#spec = spec;
    this.#tables = tables;
    this.#ring = ring;
    this.#offsets = new Uint32Array(1);
    this.#encoderDescriptor = { label: `${label} step` };
    this.#passDescriptor = { label: `${label} ${spec.stepName} pass` };
  }

  /**
   * Takes one step now: `prepare(lr)` checks `lr` and fills `plan` (it throws to refuse
   * the step); if any workgroup has work, the pass is recorded into an encoder of its own
   * and submitted.
   *
   * @param prepare Fills `plan` for `lr`; returns false if the step changes nothing.
   */
  step(lr: number, prepare: (lr: number) => boolean): void {
    if (!prepare(lr)) return;
    const encoder = this.#device.createCommandEncoder(this.#encoderDescriptor);
    this.#recordPass(encoder);
    this.#submitList[0] = encoder.finish();
    this.#device.queue.submit(this.#submitList);
  }

  /**
   * Records one step into the caller's `encoder`, as `step` does into its own.
   *
   * @throws {TypeError} If `encoder` is not a `GPUCommandEncoder`.
   * @throws {RangeError} If the encoder already holds a ring's worth of steps; then
   * `prepare` is not called.
   */
  encode(
    encoder: GPUCommandEncoder,
    lr: number,
    prepare: (lr: number) => boolean,
  ): void {
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
      const { stepName, engine } = this.#spec;
      throw new RangeError(
        `Expected at most ${RING_SLOTS} ${stepName} steps in one command encoder (${engine}.maxEncodesPerSubmit) but this is step ${count}; submit and start a new encoder`,
      );
    }
    if (!prepare(lr)) return;
    this.#lastEncoder = encoder;
    this.#encodesIntoLast = count;
    this.#recordPass(encoder);
  }

  /** Frees the tables and the ring. */
  destroy(): void {
    this.#tables.destroy();
    this.#ring.destroy();
    this.#submitList.length = 0;
    this.#lastEncoder = undefined;
  }

  /** Writes this step's values into the next ring slot and records the pass. */
  #recordPass(encoder: GPUCommandEncoder): void {
    const { plan } = this;
    const slotOffset = this.#nextSlot * plan.slotBytes;
    this.#nextSlot = (this.#nextSlot + 1) % RING_SLOTS;
    this.#device.queue.writeBuffer(this.#ring, slotOffset, plan.step);
    const pass = encoder.beginComputePass(this.#passDescriptor);
    _recordDispatches(
      pass,
      this.#spec.kernel.pipeline,
      this.#bindGroups,
      plan,
      slotOffset,
      this.#offsets,
    );
    pass.end();
  }
}
