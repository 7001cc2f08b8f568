// Copyright 2026 the weight-decay authors. MIT license.
// Every read of a GPU engine also copies the engine state the gates keep, in the same
// submit, and checks it before any value reaches the host: a step the GPU refused
// makes the read fail, never hand back values that lack it.

import { type _Lifecycle, type _Range, _readBack } from "./_gpu.ts";
import { ENGINE_STATE_BYTES, STATE_FAULT } from "./decay_kernel.ts";
import { RING_SLOTS } from "./_fused_pass.ts";

/**
 * Reads `lists` back as {@linkcode _readBack} does, after the engine state: if a gate
 * found a rewritten slot, the read rejects (and the engine fails) before `each` sees
 * anything.
 *
 * @returns The engine state's words, as of the read.
 */
export async function _readWithState(
  device: GPUDevice,
  lifecycle: _Lifecycle,
  state: GPUBuffer,
  lists: readonly (readonly _Range[])[],
  label: string,
  operation: string,
  each: (bytes: ArrayBuffer, index: number) => void | Promise<void>,
): Promise<Uint32Array> {
  const words = new Uint32Array(ENGINE_STATE_BYTES / 4);
  await _readBack(
    device,
    lifecycle,
    [[{ buffer: state, offset: 0, size: ENGINE_STATE_BYTES }], ...lists],
    label,
    operation,
    (bytes, index) => {
      if (index > 0) return each(bytes, index - 1);
      words.set(new Uint32Array(bytes));
      if (words[STATE_FAULT] !== 0) {
        throw lifecycle.fail(
          operation,
          `a step's ring slot was rewritten before the step ran (more than ${RING_SLOTS} steps were recorded while its command encoder waited for its submit), so the GPU refused it and every later step`,
        );
      }
    },
  );
  return words;
}

/**
 * The reads of one engine: `read(operation)` reads lists of ranges as
 * {@linkcode _readWithState} does, its staging buffers labelled by the operation.
 */
export function _engineReader(
  device: GPUDevice,
  lifecycle: _Lifecycle,
  state: GPUBuffer,
  label: string,
): (
  operation: string,
) => (
  lists: readonly (readonly _Range[])[],
  each: (bytes: ArrayBuffer, index: number) => void | Promise<void>,
) => Promise<Uint32Array> {
  return (operation) => (lists, each) =>
    _readWithState(
      device,
      lifecycle,
      state,
      lists,
      `${label} ${operation}`,
      operation,
      each,
    );
}
