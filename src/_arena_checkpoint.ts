// Copyright 2026 the weight-decay authors. MIT license.
// Checkpoints of the GPU engines: the arena read one shard at a time straight into the
// file, and loads written one bounded chunk at a time, so the host never holds more
// than the model and one shard.

import type { _Arena, _Slot } from "./_arena.ts";
import type {
  _CheckpointAccess,
  _Fill,
  _MomentSet,
} from "./_checkpoint_access.ts";
import { type _Lifecycle, _scoped } from "./_gpu.ts";
import { _checkHostUnchanged } from "./_check_groups.ts";
import { _engineReader } from "./_engine_state.ts";
import { ENGINE_STATE_BYTES, STATE_STEP } from "./decay_kernel.ts";

/** Values per chunk when loading moments: 16 MiB of f32. */
const LOAD_CHUNK = 1 << 22;
/** The most bytes handed to one write of a file. */
const WRITE_BYTES = 8 << 20;

/** What the access of a GPU engine is made of. */
export interface _ArenaCheckpointSpec {
  readonly engine: string;
  readonly label: string;
  readonly device: GPUDevice;
  readonly lifecycle: _Lifecycle;
  /** The engine state the gates keep, read with every shard. */
  readonly state: GPUBuffer;
  readonly arena: _Arena;
  readonly params: readonly GPUBuffer[];
  /** AdamW's moments, with the hyperparameters for the metadata. */
  readonly moments?: {
    readonly "exp_avg": readonly GPUBuffer[];
    readonly "exp_avg_sq": readonly GPUBuffer[];
    readonly metadata: Readonly<Record<string, string>>;
  };
}

/** The checkpoint access of an arena engine. */
export function _arenaCheckpoint(
  spec: _ArenaCheckpointSpec,
): _CheckpointAccess {
  const { arena, device, lifecycle, state, params, moments } = spec;
  const slots = [...arena.slots.values()];
  const read = _engineReader(device, lifecycle, state, spec.label);
  return {
    engine: spec.engine,
    slots: slots.map(({ name, aliases, param, size, data }) => ({
      name,
      aliases,
      shape: param.shape ?? [size],
      size,
      data,
    })),
    ...(moments === undefined ? {} : {
      optimizer: {
        metadata: moments.metadata,
        step: async () =>
          (await read("saveCheckpoint")([], () => {}))[STATE_STEP]!,
        load: (step, loaded, fill) =>
          _loadMoments(spec, slots, moments, step, loaded, fill),
      },
    }),
    checkHost: () => _checkHostUnchanged(slots),
    async stream(set, write) {
      const shards = set === "params" ? params : moments![set];
      const pieces = _piecesByShard(slots, shards.length);
      for (const [s, buffer] of shards.entries()) {
        await read("saveCheckpoint")(
          [[{ buffer, offset: 0, size: buffer.size }]],
          async (bytes) => {
            for (const { byteOffset, count } of pieces[s]!) {
              // In bounded writes: the runtime may copy what it is given to write.
              for (let at = 0; at < count * 4; at += WRITE_BYTES) {
                await write(
                  new Uint8Array(
                    bytes,
                    byteOffset + at,
                    Math.min(WRITE_BYTES, count * 4 - at),
                  ),
                );
              }
            }
          },
        );
      }
    },
    async paramsLoaded(loaded) {
      // A shard at a time, each written and done before the next, so the runtime holds
      // one shard's staging copy at most.
      for (let shard = 0; shard < params.length; shard++) {
        const { error } = _scoped(device, () => {
          slots.forEach((slot, i) => {
            if (loaded[i]) {
              _writeChunk(device.queue, params, slot, 0, slot.data, shard);
            }
          });
          device.queue.submit([]);
        });
        lifecycle.watch("loadCheckpoint", error);
        await device.queue.onSubmittedWorkDone();
      }
      if (loaded.every(Boolean)) return;
      // What the files lacked keeps the GPU's values: the host catches up with them.
      await arena.syncToHost(read("loadCheckpoint"), params);
    },
  };
}

/** Each shard's pieces in slot order, which is their order in the file. */
function _piecesByShard(
  slots: readonly _Slot[],
  shards: number,
): { byteOffset: number; count: number }[][] {
  const pieces: { byteOffset: number; count: number }[][] = Array.from(
    { length: shards },
    () => [],
  );
  for (const slot of slots) {
    for (const { shard, byteOffset, count } of slot.pieces) {
      pieces[shard]!.push({ byteOffset, count });
    }
  }
  return pieces;
}

/**
 * Writes the moments of the loaded slots a chunk at a time, each chunk handed to the
 * queue before the next is read, then the step count onto the GPU.
 */
async function _loadMoments(
  { device, lifecycle, state }: _ArenaCheckpointSpec,
  slots: readonly _Slot[],
  moments: NonNullable<_ArenaCheckpointSpec["moments"]>,
  step: number,
  loaded: readonly boolean[],
  fill: _Fill,
): Promise<void> {
  const scratch = new Float32Array(
    Math.min(LOAD_CHUNK, Math.max(1, ...slots.map((s) => s.size))),
  );
  for (const [i, slot] of slots.entries()) {
    if (!loaded[i]) continue;
    for (
      const set of ["exp_avg", "exp_avg_sq"] as const satisfies _MomentSet[]
    ) {
      for (let start = 0; start < slot.size; start += scratch.length) {
        const chunk = scratch.subarray(
          0,
          Math.min(scratch.length, slot.size - start),
        );
        await fill(i, set, start, chunk);
        const { error } = _scoped(device, () => {
          _writeChunk(device.queue, moments[set], slot, start, chunk);
          device.queue.submit([]);
        });
        lifecycle.watch("loadCheckpoint", error);
        await device.queue.onSubmittedWorkDone();
      }
    }
  }
  const words = new Uint32Array(ENGINE_STATE_BYTES / 4);
  words[STATE_STEP] = step;
  const { error } = _scoped(
    device,
    () => device.queue.writeBuffer(state, 0, words),
  );
  lifecycle.watch("loadCheckpoint", error);
}

/**
 * Queues elements `[start, start + chunk.length)` of a slot into the shards holding them
 * (only into shard `only`, if given).
 */
function _writeChunk(
  queue: GPUQueue,
  shards: readonly GPUBuffer[],
  slot: _Slot,
  start: number,
  chunk: Float32Array,
  only?: number,
): void {
  const end = start + chunk.length;
  for (const piece of slot.pieces) {
    if (only !== undefined && piece.shard !== only) continue;
    const from = Math.max(start, piece.start);
    const to = Math.min(end, piece.start + piece.count);
    if (from >= to) continue;
    queue.writeBuffer(
      shards[piece.shard]!,
      piece.byteOffset + (from - piece.start) * 4,
      chunk as Float32Array<ArrayBuffer>,
      from - start,
      to - from,
    );
  }
}
