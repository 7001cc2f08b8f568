// Copyright 2026 the weight-decay authors. MIT license.
// The host side of the kernels' contract (see decay_kernel.ts): chunk tables and grids
// made once, and the per-step recording, which allocates nothing.

import { CHUNK_BYTES, CHUNK_ELEMENTS } from "./decay_kernel.ts";

/** A range of one group's elements in one value binding of a dispatch. */
export interface _SegmentSpec {
  readonly group: number;
  readonly binding: number;
  /** First element, in the kernel's element unit. */
  readonly begin: number;
  /** One past the last element. */
  readonly end: number;
}

/** One dispatch: its chunk table and the grid that covers it. */
export interface _PlannedDispatch {
  /** The chunk table as the kernel reads it (4 u32 per chunk; one unused entry if empty). */
  readonly chunkTable: Uint32Array<ArrayBuffer>;
  /** Workgroups with work; 0 means the dispatch is never recorded. */
  readonly chunkCount: number;
  readonly gridX: number;
  readonly gridY: number;
}

/**
 * Cuts each dispatch's segments into chunks of at most `CHUNK_ELEMENTS`, leaving out
 * groups that never decay (weight decay 0), and finds each dispatch's grid.
 */
export class _DecayPlan {
  readonly dispatches: readonly _PlannedDispatch[];
  /** Bytes of one ring slot: the per-group factors, rounded up to the offset alignment. */
  readonly slotBytes: number;
  /** Bytes of the factors binding: 4 per group. */
  readonly factorBytes: number;
  readonly #decaying: Uint32Array;

  /**
   * @param dispatchSegments Per dispatch, its segments.
   * @param weightDecays Each group's weight decay.
   * @param slotAlign The alignment of dynamic storage offsets (`minStorageBufferOffsetAlignment`).
   * @param maxPerDimension The most workgroups in one grid dimension.
   */
  constructor(
    dispatchSegments: readonly (readonly _SegmentSpec[])[],
    weightDecays: readonly number[],
    slotAlign: number,
    maxPerDimension: number,
  ) {
    this.#decaying = Uint32Array.from(
      weightDecays.flatMap((weightDecay, group) =>
        weightDecay > 0 ? [group] : []
      ),
    );
    this.dispatches = dispatchSegments.map((segments) => {
      const entries: number[] = [];
      for (const { group, binding, begin, end } of segments) {
        if (weightDecays[group] === 0) continue;
        for (let start = begin; start < end; start += CHUNK_ELEMENTS) {
          entries.push(
            start,
            Math.min(end, start + CHUNK_ELEMENTS),
            group,
            binding,
          );
        }
      }
      const chunkCount = entries.length / 4;
      // One grid dimension holds at most maxPerDimension workgroups; surplus ones return.
      const gridY = Math.max(1, Math.ceil(chunkCount / maxPerDimension));
      return {
        chunkTable: entries.length === 0
          ? new Uint32Array(CHUNK_BYTES / 4)
          : Uint32Array.from(entries),
        chunkCount,
        gridX: Math.ceil(chunkCount / gridY),
        gridY,
      };
    });
    this.factorBytes = Math.max(4, weightDecays.length * 4);
    this.slotBytes = Math.ceil(this.factorBytes / slotAlign) * slotAlign;
  }

  /** True if some group that has chunks changes at these factors (its factor is not 1). */
  hasWork(factors: Float32Array): boolean {
    const decaying = this.#decaying;
    for (let i = 0; i < decaying.length; i++) {
      if (factors[decaying[i]!] !== 1) return true;
    }
    return false;
  }
}

/**
 * Records one dispatch per planned dispatch with chunks, into an open compute pass.
 * Allocates nothing: dynamic offsets go through `offsets`, an array made once.
 *
 * @param slotOffset The byte offset of this step's factors in the ring.
 * @param offsets Scratch for dynamic offsets, at least one entry.
 */
export function _recordDispatches(
  pass: GPUComputePassEncoder,
  pipeline: GPUComputePipeline,
  bindGroups: readonly GPUBindGroup[],
  plan: _DecayPlan,
  slotOffset: number,
  offsets: Uint32Array,
): void {
  pass.setPipeline(pipeline);
  offsets[0] = slotOffset;
  for (let d = 0; d < bindGroups.length; d++) {
    const dispatch = plan.dispatches[d]!;
    if (dispatch.chunkCount === 0) continue;
    pass.setBindGroup(0, bindGroups[d]!, offsets, 0, 1);
    pass.dispatchWorkgroups(dispatch.gridX, dispatch.gridY);
  }
}
