// Copyright 2026 the weight-decay authors. MIT license.
// The host side of the kernels' contract (see decay_kernel.ts): chunk tables and grids
// made once, and the per-step values and recording, which allocate nothing.

import { CHUNK_BYTES } from "./decay_kernel.ts";

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

/** How a kernel cuts its work. */
export interface _PlanOptions {
  /** Elements per chunk: one workgroup's work, as the kernel has it. */
  readonly chunkElements: number;
  /**
   * Whether groups with weight decay 0 get chunks too: for kernels that do more than
   * decay. Otherwise they are left out, and cost nothing.
   *
   * @default {false}
   */
  readonly everyGroup?: boolean;
  /**
   * Whether chunk `c` starts at element `c * chunkElements`, for the arena kernels,
   * which compute a chunk's start from its index instead of reading it: every segment
   * must start at a chunk boundary (the arena starts every group at one). Chunks of
   * left-out groups and of padding stay in the table, empty, except at the end of a
   * dispatch, which is trimmed: so lay out the groups that decay first.
   *
   * @default {false}
   */
  readonly direct?: boolean;
}

/** Cuts each dispatch's segments into chunks of at most `chunkElements`. */
export class _DecayPlan {
  readonly dispatches: readonly _PlannedDispatch[];
  /** The groups that have chunks, for telling whether a step changes anything. */
  readonly #chunked: Uint32Array;
  readonly #everyGroup: boolean;

  /**
   * @param dispatchSegments Per dispatch, its segments.
   * @param weightDecays Each group's weight decay.
   * @param maxPerDimension The most workgroups in one grid dimension.
   */
  constructor(
    dispatchSegments: readonly (readonly _SegmentSpec[])[],
    weightDecays: readonly number[],
    maxPerDimension: number,
    { chunkElements, everyGroup = false, direct = false }: _PlanOptions,
  ) {
    const chunked = (group: number) => everyGroup || weightDecays[group]! > 0;
    this.#chunked = Uint32Array.from([...weightDecays.keys()].filter(chunked));
    this.#everyGroup = everyGroup;
    this.dispatches = dispatchSegments.map((segments) => {
      const kept = segments.filter((s) => chunked(s.group) && s.end > s.begin);
      const entries = direct
        ? _directChunks(kept, chunkElements)
        : _packedChunks(kept, chunkElements);
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
  }

  /**
   * Whether a step with these factors changes anything: some group with chunks has a
   * factor other than 1, or the kernel does more than decay.
   *
   * @param factors One f32 factor per group.
   */
  changes(factors: Float32Array): boolean {
    const chunked = this.#chunked;
    if (this.#everyGroup) return chunked.length > 0;
    for (let i = 0; i < chunked.length; i++) {
      if (factors[chunked[i]!] !== 1) return true;
    }
    return false;
  }
}

/** Chunk table entries (begin, end, group, binding) cutting each segment in turn. */
function _packedChunks(
  segments: readonly _SegmentSpec[],
  size: number,
): number[] {
  const entries: number[] = [];
  for (const { group, binding, begin, end } of segments) {
    for (let start = begin; start < end; start += size) {
      entries.push(
        start,
        Math.min(end, start + size),
        group,
        binding,
      );
    }
  }
  return entries;
}

/** Chunk table entries where entry `c` is the chunk starting at `c * size`. */
function _directChunks(
  segments: readonly _SegmentSpec[],
  size: number,
): number[] {
  const count = Math.ceil(
    Math.max(0, ...segments.map((s) => s.end)) / size,
  );
  const entries = Array.from(
    { length: count },
    (_, c) => [c * size, c * size, 0, 0],
  );
  for (const { group, binding, begin, end } of segments) {
    if (begin % size !== 0) {
      throw new Error(
        `A direct chunk table needs segments that start at a chunk, not at ${begin}`,
      );
    }
    for (let start = begin; start < end; start += size) {
      entries[start / size] = [
        start,
        Math.min(end, start + size),
        group,
        binding,
      ];
    }
  }
  return entries.flat();
}
