// Copyright 2026 the weight-decay authors. MIT license.
// What checkpoints need of an engine, kept off the engines' public surface: each engine
// registers its access when it is made, and saveCheckpoint / loadCheckpoint look it up.

import { _checkHostUnchanged, type _HostEntry } from "./_check_groups.ts";

/** One parameter as a checkpoint sees it, in the engine's order. */
export interface _CheckpointSlot {
  readonly name: string;
  /** Its other names (tied weights): a file may list it under any of them. */
  readonly aliases: readonly string[];
  readonly shape: readonly number[];
  readonly size: number;
  /** The host array the engine holds it in (the parameter's `data`). */
  readonly data: Float32Array;
}

/** A moment set of an AdamW engine. */
export type _MomentSet = "exp_avg" | "exp_avg_sq";

/** Reads elements `[start, start + target.length)` of slot `index`'s tensor of `set`. */
export type _Fill = (
  index: number,
  set: _MomentSet,
  start: number,
  target: Float32Array,
) => Promise<void>;

/** An AdamW engine's part of a checkpoint. */
export interface _OptimizerAccess {
  /** The hyperparameters, as strings for the file's metadata. */
  readonly metadata: Readonly<Record<string, string>>;
  /** The step count, read with the engine state on the GPU. */
  step(): Promise<number>;
  /**
   * Loads moments and the step count: `fill` gives the values of the slots whose
   * `loaded` flag is set (the others keep theirs); values were checked by the caller.
   */
  load(step: number, loaded: readonly boolean[], fill: _Fill): Promise<void>;
}

/** What checkpoints need of an engine. */
export interface _CheckpointAccess {
  /** The engine's class name, for messages. */
  readonly engine: string;
  readonly slots: readonly _CheckpointSlot[];
  readonly optimizer?: _OptimizerAccess;
  /**
   * Checks that every parameter still holds its values in the array the engine has.
   *
   * @throws {TypeError} Naming one detached, resized or replaced.
   */
  checkHost(): void;
  /**
   * Hands the values of `set`, in slot order and without gaps, to `write`, a piece at a
   * time: the whole host array of each slot, or on the GPU one shard's worth at a time.
   * Each piece is valid until its `write` settles.
   */
  stream(
    set: "params" | _MomentSet,
    write: (bytes: Uint8Array) => Promise<void>,
  ): Promise<void>;
  /**
   * Takes the host arrays of the slots whose `loaded` flag is set as the parameters'
   * values (a GPU engine uploads them; its other parameters' host arrays are brought up
   * to date from the GPU, so host and GPU agree).
   */
  paramsLoaded(loaded: readonly boolean[]): Promise<void>;
}

const _registry = new WeakMap<object, () => _CheckpointAccess>();

/** Registers how checkpoints reach `engine`. */
export function _registerCheckpoint(
  engine: object,
  access: () => _CheckpointAccess,
): void {
  _registry.set(engine, access);
}

/** How checkpoints reach `engine`, or undefined for anything else. */
export function _checkpointAccess(
  engine: unknown,
): _CheckpointAccess | undefined {
  return typeof engine === "object" && engine !== null
    ? _registry.get(engine)?.()
    : undefined;
}

/** The bytes of an f32 array, as a file takes them. */
export function _bytesOf(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/**
 * The access of a host engine: its parameters' own arrays, and for AdamW its moments,
 * written as they are.
 */
export function _hostCheckpoint(
  engine: string,
  entries: readonly _HostEntry[],
  moments?: (set: _MomentSet, index: number) => Float32Array,
  optimizer?: _OptimizerAccess,
): _CheckpointAccess {
  return {
    engine,
    slots: entries.map(({ name, aliases, param, size, data }) => ({
      name,
      aliases,
      shape: param.shape ?? [size],
      size,
      data,
    })),
    ...(optimizer === undefined ? {} : { optimizer }),
    checkHost: () => _checkHostUnchanged(entries),
    async stream(set, write) {
      _checkHostUnchanged(entries);
      for (const [i, { data }] of entries.entries()) {
        await write(_bytesOf(set === "params" ? data : moments!(set, i)));
      }
    },
    paramsLoaded: () => Promise.resolve(),
  };
}
