// Copyright 2026 the weight-decay authors. MIT license.
// Host parameters packed into an arena: one layout, any number of buffer sets laid out by
// it (parameters, gradients, moments), and the copies between those and the host.

import { _layoutArena, type _Piece } from "./_arena_layout.ts";
import { ARENA_GROUP_ELEMENTS } from "./decay_kernel.ts";
import type { _SegmentSpec } from "./_decay_plan.ts";
import {
  type _CheckedGroup,
  _checkHostUnchanged,
  type _HostEntry,
  type _HostParam,
} from "./_check_groups.ts";
import type { _Range } from "./_gpu.ts";
import { _describe } from "./_describe.ts";

/** Where one parameter lives, the same in every buffer set of its arena. */
export interface _Slot extends _HostEntry {
  /** Its name in its group, for messages. */
  readonly name: string;
  /** Its pieces: none for an empty tensor, several for one that spans shards. */
  readonly pieces: readonly _Piece[];
}

/** Reads lists of ranges back, as `_readWithState` does for an engine. */
export type _ReadBack = (
  lists: readonly (readonly _Range[])[],
  each: (bytes: ArrayBuffer, index: number) => void,
) => Promise<unknown>;

/** Usage of every arena buffer: bound as storage, read back, written from the host. */
const SHARD_USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC |
  GPUBufferUsage.COPY_DST;

/**
 * The layout of host parameters in arena shards, each tensor 256-byte aligned and the
 * shards sorted by group, so that each group is one range per shard.
 */
export class _Arena {
  /** Every parameter's slot, keyed by the parameter, in group order. */
  readonly slots: ReadonlyMap<unknown, _Slot>;
  /** Bytes of each shard. */
  readonly shardBytes: readonly number[];
  /** Per shard, one kernel dispatch: its groups' ranges in `vec4<f32>` units. */
  readonly segments: readonly (readonly _SegmentSpec[])[];

  /**
   * Lays out the parameters for `device`.
   *
   * @param maxShardBytes The caller's shard limit, if any.
   * @param order The groups' order in the arena, by index; by default their own.
   * @throws {RangeError} If `maxShardBytes` is below 256 or above the device's limits.
   */
  constructor(
    device: GPUDevice,
    groups: readonly _CheckedGroup<_HostParam>[],
    maxShardBytes: number | undefined,
    order: readonly number[] = [...groups.keys()],
  ) {
    const align = Math.max(256, device.limits.minStorageBufferOffsetAlignment);
    const layout = _layoutArena(
      order.map((g) => groups[g]!.params.map((p) => p.data.length)),
      _shardLimit(device, maxShardBytes),
      align,
      // Every group starts a chunk, so the kernels find a chunk's start from its index.
      Math.max(align, ARENA_GROUP_ELEMENTS * 16),
    );
    const slots = new Map<unknown, _Slot>();
    order.forEach((g, at) => {
      const group = groups[g]!;
      group.params.forEach((param, i) =>
        slots.set(param, {
          name: group.names[i]!,
          aliases: group.aliases[i]!,
          where: `group ${g} parameter ${_describe(group.names[i])}`,
          param,
          data: param.data,
          pieces: layout.pieces[at]![i]!,
          size: param.data.length,
        })
      );
    });
    this.slots = slots;
    this.shardBytes = layout.shardBytes;
    this.segments = layout.groupRanges.map((ranges) =>
      ranges.map(({ group, beginByte, endByte }): _SegmentSpec => ({
        group: order[group]!,
        binding: 0,
        begin: beginByte / 16,
        end: Math.ceil(endByte / 16),
      }))
    );
  }

  /**
   * Makes one buffer set: a buffer per shard, labelled `${label} shard ${s}`, holding
   * the parameters' values, or zeros.
   */
  createShards(
    device: GPUDevice,
    label: string,
    contents: "values" | "zeros",
  ): GPUBuffer[] {
    return this.shardBytes.map((size, s) => {
      const shard = device.createBuffer({
        label: `${label} shard ${s}`,
        size,
        usage: SHARD_USAGE,
        mappedAtCreation: contents === "values",
      });
      if (contents === "zeros") return shard;
      const mapped = new Float32Array(shard.getMappedRange());
      for (const { param, pieces } of this.slots.values()) {
        for (const piece of pieces) {
          if (piece.shard !== s) continue;
          mapped.set(
            param.data.subarray(piece.start, piece.start + piece.count),
            piece.byteOffset / 4,
          );
        }
      }
      shard.unmap();
      // An empty submit hands the shard's staging copy to the queue now, so it is freed
      // before the next shard's is made: without it every staging copy lives until the
      // device is next polled, a second full host copy of the model (measured: the
      // upload of a 1 GiB arena peaked 2.1 GiB above the model, and 1.2 GiB with it).
      device.queue.submit([]);
      return shard;
    });
  }

  /** The byte ranges of `slot` in the buffer set `shards`. */
  ranges(slot: _Slot, shards: readonly GPUBuffer[]): _Range[] {
    return slot.pieces.map((piece) => ({
      buffer: shards[piece.shard]!,
      offset: piece.byteOffset,
      size: piece.count * 4,
    }));
  }

  /**
   * Copies buffer sets to the host: every shard of every set in one submit, so the copy
   * is of one moment even if more steps are submitted meanwhile; then maps the shards one
   * at a time, so the host holds at most one shard besides the targets.
   *
   * @param target Where a parameter's values in set `set` go: an array of its size.
   * @throws {Error} As `readBack` does.
   */
  async download(
    readBack: _ReadBack,
    sets: readonly (readonly GPUBuffer[])[],
    target: (slot: _Slot, set: number) => Float32Array,
  ): Promise<void> {
    const shardCount = this.shardBytes.length;
    const lists = sets.flatMap((shards) =>
      shards.map((buffer) => [{ buffer, offset: 0, size: buffer.size }])
    );
    await readBack(lists, (bytes, index) => {
      const set = Math.floor(index / shardCount);
      const shard = index % shardCount;
      for (const slot of this.slots.values()) {
        for (const piece of slot.pieces) {
          if (piece.shard !== shard) continue;
          target(slot, set).set(
            new Float32Array(bytes, piece.byteOffset, piece.count),
            piece.start,
          );
        }
      }
    });
  }

  /**
   * Queues the upload of `source(slot, index)` into the buffer set `shards` for every
   * parameter it gives values for, `index` counting slots in order; the caller has
   * checked the lengths.
   */
  upload(
    queue: GPUQueue,
    shards: readonly GPUBuffer[],
    source: (slot: _Slot, index: number) => Float32Array | undefined,
  ): void {
    let index = 0;
    let shard = 0;
    for (const slot of this.slots.values()) {
      const values = source(slot, index++);
      if (values === undefined) continue;
      const first = slot.pieces[0]?.shard ?? shard;
      // As in createShards: an empty submit hands the writes so far to the queue, so
      // the host holds at most one shard's staging copy at a time.
      if (first !== shard) queue.submit([]);
      shard = slot.pieces[slot.pieces.length - 1]?.shard ?? shard;
      this.write(queue, shards, slot, values);
    }
    queue.submit([]);
  }

  /** Queues the upload of one parameter's `values` (`slot.size` of them) into `shards`. */
  write(
    queue: GPUQueue,
    shards: readonly GPUBuffer[],
    slot: _Slot,
    values: Float32Array,
  ): void {
    for (const piece of slot.pieces) {
      queue.writeBuffer(
        shards[piece.shard]!,
        piece.byteOffset,
        values as Float32Array<ArrayBuffer>,
        piece.start,
        piece.count,
      );
    }
  }

  /**
   * Copies the buffer set `shards` into every parameter's `data`, as `download` does,
   * after checking every destination: nothing is written unless all can be.
   *
   * @throws {TypeError} If a parameter's data was detached, resized or replaced since
   * it was laid out; nothing is read then.
   * @throws {Error} As `readBack` does, before anything is written.
   */
  syncToHost(readBack: _ReadBack, shards: readonly GPUBuffer[]): Promise<void> {
    _checkHostUnchanged([...this.slots.values()]);
    return this.download(readBack, [shards], (slot) => slot.data);
  }

  /**
   * Queues the upload of every parameter's `data` into the buffer set `shards`.
   *
   * @throws {TypeError} If a parameter's data was detached, resized or replaced since
   * it was laid out; nothing is queued then.
   */
  syncFromHost(queue: GPUQueue, shards: readonly GPUBuffer[]): void {
    _checkHostUnchanged([...this.slots.values()]);
    this.upload(queue, shards, (slot) => slot.data);
  }
}

/**
 * The one range a parameter is bound through.
 *
 * @throws {RangeError} If it has no values, or spans several arena shards.
 */
export function _bindingOf(
  ranges: readonly _Range[],
  name: string,
  device: GPUDevice,
): GPUBufferBinding {
  if (ranges.length !== 1) {
    const what = ranges.length === 0
      ? "has no values, and a binding cannot be empty"
      : `spans ${ranges.length} arena shards and cannot be bound as one range; raise maxShardBytes, or request a device with a larger maxStorageBufferBindingSize (now ${device.limits.maxStorageBufferBindingSize})`;
    throw new RangeError(`Parameter ${_describe(name)} ${what}`);
  }
  const { buffer, offset, size } = ranges[0]!;
  return { buffer, offset, size };
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
