// Copyright 2026 the weight-decay authors. MIT license.
// The host side of the kernels' contract (see decay_kernel.ts): static lookup tables
// made once, and the per-step run table written into memory made once.

import {
  CHUNK_ELEMENTS,
  ENTRY_BYTES,
  RUN_TABLE_HEADER_BYTES,
} from "./decay_kernel.ts";

/** A range of one group's elements in one value binding of a dispatch. */
export interface _SegmentSpec {
  readonly group: number;
  readonly binding: number;
  /** First element, in the kernel's element unit. */
  readonly begin: number;
  /** One past the last element. */
  readonly end: number;
}

interface _Run {
  readonly group: number;
  readonly firstSegment: number;
  readonly endSegment: number;
  readonly chunks: number;
}

/** One dispatch: its static lookup table and the runs a step may activate. */
export interface _PlannedDispatch {
  /**
   * The static table the kernel finds its work in: 4 u32 per segment, or with `direct`
   * 2 u32 per chunk (its run, and where its values end).
   */
  readonly lookupTable: Uint32Array<ArrayBuffer>;
  /** Chunks of the lookup table with `direct`: the workgroups of every step. */
  readonly directChunks: number;
  /** Byte offset of this dispatch's run table in a ring slot, a multiple of `slotAlign`. */
  readonly runTableOffset: number;
  /** Bytes of this dispatch's run table binding. */
  readonly runTableBytes: number;
  readonly runs: readonly _Run[];
}

/** Stable sort of segments by group, so each group's segments are consecutive. */
function _byGroup(segments: readonly _SegmentSpec[]): _SegmentSpec[] {
  return segments.filter((s) => s.end > s.begin).map((s, i) => ({ s, i }))
    .sort((a, b) => a.s.group - b.s.group || a.i - b.i).map(({ s }) => s);
}

/** What a kernel's run table holds besides its runs. */
export interface _PlanOptions {
  /**
   * Per-step f32 scalars the kernel reads after the four header words (`run_count`,
   * `chunk_count`, padding), the same in every dispatch's table.
   *
   * @default {0}
   */
  readonly stepScalars?: number;
  /**
   * Whether every group runs every step, for kernels that do more than scale, with one
   * lookup entry per chunk: chunk `c` covers elements from `c * CHUNK_ELEMENTS`, so every
   * segment must start at a multiple of `CHUNK_ELEMENTS`. Otherwise groups whose factor
   * is 1 are left out of a step, and the kernel searches segments.
   *
   * @default {false}
   */
  readonly direct?: boolean;
}

/**
 * The tables of a fused pass, and the memory its per-step run tables are written
 * into. `write` allocates nothing.
 */
export class _DecayPlan {
  readonly dispatches: readonly _PlannedDispatch[];
  /** Bytes of one ring slot: every dispatch's run table. */
  readonly slotBytes: number;
  /** The run tables of the last `write`, as bytes ready for `writeBuffer`. */
  readonly slot: ArrayBuffer;
  /** Workgroups with work per dispatch after the last `write`. */
  readonly chunks: Uint32Array;
  readonly #words: Uint32Array;
  readonly #floats: Float32Array;
  readonly #headerWords: number;
  readonly #direct: boolean;

  /**
   * @param dispatchSegments Per dispatch, its segments (empty ones are dropped).
   * @param slotAlign The alignment of dynamic storage offsets (`minStorageBufferOffsetAlignment`).
   */
  constructor(
    dispatchSegments: readonly (readonly _SegmentSpec[])[],
    slotAlign: number,
    { stepScalars = 0, direct = false }: _PlanOptions = {},
  ) {
    // Runs start 16-byte aligned, as the kernels' RunTable structs lay them out.
    const headerBytes = RUN_TABLE_HEADER_BYTES +
      Math.ceil(stepScalars / 4) * 16;
    this.#headerWords = headerBytes / 4;
    this.#direct = direct;
    let offset = 0;
    this.dispatches = dispatchSegments.map((specs) => {
      const segments = _byGroup(specs);
      const segmentTable = new Uint32Array(Math.max(1, segments.length) * 4);
      const runs: _Run[] = [];
      let chunk = 0;
      segments.forEach((segment, i) => {
        const chunks = Math.ceil(
          (segment.end - segment.begin) / CHUNK_ELEMENTS,
        );
        segmentTable.set(
          [segment.begin, segment.end, chunk, segment.binding],
          i * 4,
        );
        const last = runs[runs.length - 1];
        if (last?.group === segment.group) {
          runs[runs.length - 1] = {
            ...last,
            endSegment: i + 1,
            chunks: last.chunks + chunks,
          };
        } else {
          runs.push({
            group: segment.group,
            firstSegment: i,
            endSegment: i + 1,
            chunks,
          });
        }
        chunk += chunks;
      });
      const runTableBytes = headerBytes +
        ENTRY_BYTES * Math.max(1, runs.length);
      const runTableOffset = offset;
      offset += Math.ceil(runTableBytes / slotAlign) * slotAlign;
      const { table, chunks } = direct
        ? _chunkTable(segments, runs)
        : { table: segmentTable, chunks: 0 };
      return {
        lookupTable: table,
        directChunks: chunks,
        runTableOffset,
        runTableBytes,
        runs,
      };
    });
    this.slotBytes = Math.max(offset, slotAlign);
    this.slot = new ArrayBuffer(this.slotBytes);
    this.#words = new Uint32Array(this.slot);
    this.#floats = new Float32Array(this.slot);
    this.chunks = new Uint32Array(this.dispatches.length);
  }

  /**
   * Writes the run tables of one step: one run per group, less those whose factor is 1
   * unless the plan is `direct`.
   *
   * @param factors One f32 factor per group.
   * @param stepScalars The plan's per-step scalars, if it has any.
   * @returns The workgroups with work, over all dispatches.
   */
  write(factors: Float32Array, stepScalars?: Float32Array): number {
    let total = 0;
    const words = this.#words;
    const floats = this.#floats;
    const runsAt = this.#headerWords;
    for (let d = 0; d < this.dispatches.length; d++) {
      const { runs, runTableOffset, directChunks } = this.dispatches[d]!;
      const header = runTableOffset / 4;
      if (stepScalars !== undefined) floats.set(stepScalars, header + 4);
      let count = 0;
      let chunk = 0;
      for (let r = 0; r < runs.length; r++) {
        const run = runs[r]!;
        const factor = factors[run.group]!;
        if (factor === 1 && !this.#direct) continue;
        const at = header + runsAt + count * 4;
        words[at] = run.firstSegment;
        words[at + 1] = run.endSegment;
        words[at + 2] = chunk;
        floats[at + 3] = factor;
        chunk += run.chunks;
        count++;
      }
      if (this.#direct) chunk = directChunks;
      words[header] = count;
      words[header + 1] = chunk;
      this.chunks[d] = chunk;
      total += chunk;
    }
    return total;
  }
}

/**
 * The direct lookup table: for each chunk from element 0 to the last segment's end, the
 * index of the run whose segment holds it and where that segment ends within it. A chunk
 * of no segment keeps end 0: no work.
 */
function _chunkTable(
  segments: readonly _SegmentSpec[],
  runs: readonly _Run[],
): { table: Uint32Array<ArrayBuffer>; chunks: number } {
  const chunks = Math.ceil(
    segments.reduce((last, s) => Math.max(last, s.end), 0) / CHUNK_ELEMENTS,
  );
  const table = new Uint32Array(Math.max(1, chunks) * 2);
  runs.forEach((run, r) => {
    for (
      const { begin, end } of segments.slice(run.firstSegment, run.endSegment)
    ) {
      if (begin % CHUNK_ELEMENTS !== 0) {
        throw new Error(
          `A direct plan needs segments that start at a chunk, not ${begin}`,
        );
      }
      for (
        let chunk = begin / CHUNK_ELEMENTS;
        chunk * CHUNK_ELEMENTS < end;
        chunk++
      ) {
        table.set([r, Math.min((chunk + 1) * CHUNK_ELEMENTS, end)], chunk * 2);
      }
    }
  });
  return { table, chunks };
}

/**
 * Records one dispatch per planned dispatch with work, into an open compute pass.
 * Allocates nothing: dynamic offsets go through `offsets`, an array made once.
 *
 * @param slotOffset The byte offset of this step's slot in the ring.
 * @param offsets Scratch for dynamic offsets, one entry per dispatch.
 */
export function _recordDispatches(
  pass: GPUComputePassEncoder,
  pipeline: GPUComputePipeline,
  bindGroups: readonly GPUBindGroup[],
  plan: _DecayPlan,
  slotOffset: number,
  offsets: Uint32Array,
  maxPerDimension: number,
): void {
  pass.setPipeline(pipeline);
  for (let d = 0; d < bindGroups.length; d++) {
    const chunks = plan.chunks[d]!;
    if (chunks === 0) continue;
    offsets[d] = slotOffset + plan.dispatches[d]!.runTableOffset;
    pass.setBindGroup(0, bindGroups[d]!, offsets, d, 1);
    // One grid dimension holds at most maxPerDimension workgroups; surplus ones return.
    const y = Math.ceil(chunks / maxPerDimension);
    pass.dispatchWorkgroups(Math.ceil(chunks / y), y);
  }
}
