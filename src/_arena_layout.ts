// Copyright 2026 the weight-decay authors. MIT license.
// Where each parameter lives in the arena: pure arithmetic, tested without a GPU.

/** A part of a tensor stored contiguously in one shard; a tensor has one, or several if it spans shards. */
export interface _Piece {
  /** The shard holding it. */
  readonly shard: number;
  /** Its byte offset in the shard, a multiple of the alignment for a tensor's first piece. */
  readonly byteOffset: number;
  /** Its first element in the tensor. */
  readonly start: number;
  /** Its number of elements. */
  readonly count: number;
}

/** One group's byte range in one shard. */
export interface _GroupRange {
  readonly group: number;
  readonly beginByte: number;
  readonly endByte: number;
}

/** The packed arena. */
export interface _ArenaLayout {
  /** Bytes of each shard's buffer: its used bytes rounded up to 16. */
  readonly shardBytes: readonly number[];
  /** Per group, per parameter: its pieces (none for an empty tensor). */
  readonly pieces: readonly (readonly (readonly _Piece[])[])[];
  /** Per shard: the byte range of each group with values there, in group order. */
  readonly groupRanges: readonly (readonly _GroupRange[])[];
}

/**
 * Packs tensors group after group, each starting at an `align`-byte boundary, into
 * shards of at most `shardLimit` bytes. A tensor that does not fit in what is left of a
 * shard starts the next one; a tensor larger than a shard starts a shard of its own
 * and continues across as many as it needs.
 *
 * @param sizes Per group, the element count of each tensor (4 bytes each).
 * @param shardLimit The most bytes in one shard: a multiple of `align`.
 * @param align The alignment of each tensor's start: a multiple of 16.
 * @param groupAlign The alignment of each group's start in a shard: a multiple of
 * `align`.
 */
export function _layoutArena(
  sizes: readonly (readonly number[])[],
  shardLimit: number,
  align: number,
  groupAlign: number = align,
): _ArenaLayout {
  const used: number[] = [];
  const ranges: _GroupRange[][] = [];
  let shard = -1;
  let cursor = shardLimit; // no shard open yet
  const openShard = () => {
    shard++;
    used.push(0);
    ranges.push([]);
    cursor = 0;
  };
  const record = (group: number, begin: number, end: number) => {
    used[shard] = Math.max(used[shard]!, end);
    const shardRanges = ranges[shard]!;
    const last = shardRanges[shardRanges.length - 1];
    if (last?.group === group) {
      shardRanges[shardRanges.length - 1] = { ...last, endByte: end };
    } else shardRanges.push({ group, beginByte: begin, endByte: end });
  };

  const pieces = sizes.map((groupSizes, group) => {
    cursor = Math.min(shardLimit, Math.ceil(cursor / groupAlign) * groupAlign);
    return groupSizes.map((size) => {
      const bytes = size * 4;
      if (bytes === 0) return [];
      if (
        cursor + bytes > shardLimit && (bytes <= shardLimit || cursor > 0)
      ) openShard();
      const tensorPieces: _Piece[] = [];
      for (let start = 0; start < size;) {
        if (cursor === shardLimit) openShard();
        const count = Math.min(size - start, (shardLimit - cursor) / 4);
        tensorPieces.push({ shard, byteOffset: cursor, start, count });
        record(group, cursor, cursor + count * 4);
        cursor += count * 4;
        start += count;
      }
      cursor = Math.min(shardLimit, Math.ceil(cursor / align) * align);
      return tensorPieces;
    });
  });
  return {
    shardBytes: used.map((bytes) => Math.ceil(bytes / 16) * 16),
    pieces,
    groupRanges: ranges,
  };
}
