// Copyright 2026 the weight-decay authors. MIT license.
// The host side of the kernels' contract (see decay_kernel.ts): static segment tables
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

/** One dispatch: its static segment table and the runs a step may activate. */
export interface _PlannedDispatch {
  /** The segment table as the kernel reads it (4 u32 per segment). */
  readonly segmentTable: Uint32Array<ArrayBuffer>;
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
   * Whether groups whose factor is 1 are left out of a step: true for pure decay, false
   * for kernels that do more than scale.
   *
   * @default {true}
   */
  readonly skipUnitFactors?: boolean;
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
  readonly #skipUnitFactors: boolean;

  /**
   * @param dispatchSegments Per dispatch, its segments (empty ones are dropped).
   * @param slotAlign The alignment of dynamic storage offsets (`minStorageBufferOffsetAlignment`).
   */
  constructor(
    dispatchSegments: readonly (readonly _SegmentSpec[])[],
    slotAlign: number,
    { stepScalars = 0, skipUnitFactors = true }: _PlanOptions = {},
  ) {
    // Runs start 16-byte aligned, as the kernels' RunTable structs lay them out.
    const headerBytes = RUN_TABLE_HEADER_BYTES +
      Math.ceil(stepScalars / 4) * 16;
    this.#headerWords = headerBytes / 4;
    this.#skipUnitFactors = skipUnitFactors;
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
      return { segmentTable, runTableOffset, runTableBytes, runs };
    });
    this.slotBytes = Math.max(offset, slotAlign);
    this.slot = new ArrayBuffer(this.slotBytes);
    this.#words = new Uint32Array(this.slot);
    this.#floats = new Float32Array(this.slot);
    this.chunks = new Uint32Array(this.dispatches.length);
  }

  /**
   * Writes the run tables of one step: one run per group, less those whose factor is 1
   * if the plan skips them.
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
      const { runs, runTableOffset } = this.dispatches[d]!;
      const header = runTableOffset / 4;
      if (stepScalars !== undefined) floats.set(stepScalars, header + 4);
      let count = 0;
      let chunk = 0;
      for (let r = 0; r < runs.length; r++) {
        const run = runs[r]!;
        const factor = factors[run.group]!;
        if (factor === 1 && this.#skipUnitFactors) continue;
        const at = header + runsAt + count * 4;
        words[at] = run.firstSegment;
        words[at + 1] = run.endSegment;
        words[at + 2] = chunk;
        floats[at + 3] = factor;
        chunk += run.chunks;
        count++;
      }
      words[header] = count;
      words[header + 1] = chunk;
      this.chunks[d] = chunk;
      total += chunk;
    }
    return total;
  }
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
