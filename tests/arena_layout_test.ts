// Copyright 2026 the weight-decay authors. MIT license.
import assert from "node:assert/strict";
import { _layoutArena } from "../src/_arena_layout.ts";
import { random } from "./_models.ts";

Deno.test("_layoutArena() packs tensors group after group at 256-byte offsets", () => {
  const layout = _layoutArena([[3, 100], [64, 0, 1]], 1 << 20, 256);
  const offsets = layout.pieces.map((group) =>
    group.map((pieces) => pieces.map((p) => p.byteOffset))
  );
  assert.deepEqual(offsets, [[[0], [256]], [[768], [], [1024]]]);
  assert.deepEqual(layout.groupRanges, [[
    { group: 0, beginByte: 0, endByte: 656 },
    { group: 1, beginByte: 768, endByte: 1028 },
  ]]);
  assert.deepEqual(layout.shardBytes, [1040], "used bytes rounded up to 16");
});

Deno.test("_layoutArena() starts a new shard for a tensor that does not fit", () => {
  const layout = _layoutArena([[750, 750, 750]], 4096, 256); // 3,000 bytes each
  assert.deepEqual(
    layout.pieces[0]!.map((pieces) =>
      pieces.map((p) => [p.shard, p.byteOffset])
    ),
    [
      [[0, 0]],
      [[1, 0]],
      [[2, 0]],
    ],
  );
});

Deno.test("_layoutArena() splits a tensor larger than a shard across shards", () => {
  const layout = _layoutArena([[10], [2500]], 4096, 256); // 10,000 bytes in 4,096-byte shards
  assert.deepEqual(layout.pieces[1]![0], [
    { shard: 1, byteOffset: 0, start: 0, count: 1024 },
    { shard: 2, byteOffset: 0, start: 1024, count: 1024 },
    { shard: 3, byteOffset: 0, start: 2048, count: 452 },
  ]);
  assert.deepEqual(layout.shardBytes, [48, 4096, 4096, 1808]);
});

Deno.test("_layoutArena() gives an empty model no shards", () => {
  assert.deepEqual(_layoutArena([[], [0, 0]], 4096, 256), {
    shardBytes: [],
    pieces: [[], [[], []]],
    groupRanges: [],
  });
});

Deno.test("_layoutArena() covers every value exactly once on random layouts", () => {
  for (let seed = 1; seed <= 300; seed++) {
    const next = random(seed);
    const align = 256;
    const limit = align * (1 + Math.floor(next() * 40));
    const sizes = Array.from(
      { length: 1 + Math.floor(next() * 4) },
      () =>
        Array.from(
          { length: Math.floor(next() * 8) },
          () => Math.floor(next() * (limit / 2)),
        ),
    );
    const layout = _layoutArena(sizes, limit, align);
    const why = `seed ${seed}`;
    const used = layout.shardBytes.map(() => [] as [number, number, number][]);
    sizes.forEach((groupSizes, g) =>
      groupSizes.forEach((size, i) => {
        const pieces = layout.pieces[g]![i]!;
        assert.equal(pieces.reduce((n, p) => n + p.count, 0), size, why);
        let start = 0;
        for (const piece of pieces) {
          assert.equal(piece.start, start, `${why}: pieces in order`);
          start += piece.count;
          assert.ok(
            piece.byteOffset + piece.count * 4 <= limit,
            `${why}: piece within its shard`,
          );
          used[piece.shard]!.push([
            piece.byteOffset,
            piece.byteOffset + piece.count * 4,
            g,
          ]);
        }
        if (pieces.length > 0) {
          assert.equal(
            pieces[0]!.byteOffset % align,
            0,
            `${why}: aligned start`,
          );
        }
      })
    );
    used.forEach((ranges, s) => {
      ranges.sort((a, b) => a[0] - b[0]);
      for (let r = 1; r < ranges.length; r++) {
        assert.ok(
          ranges[r]![0] >= ranges[r - 1]![1],
          `${why}: pieces overlap in shard ${s}`,
        );
      }
      assert.ok(
        layout.shardBytes[s]! <= limit && layout.shardBytes[s]! % 16 === 0,
        why,
      );
      for (const [begin, end, g] of ranges) {
        const range = layout.groupRanges[s]!.find((r) => r.group === g)!;
        assert.ok(
          range.beginByte <= begin && end <= range.endByte,
          `${why}: group range covers its pieces`,
        );
      }
      const groupRanges = layout.groupRanges[s]!;
      for (let r = 1; r < groupRanges.length; r++) {
        // Ranges are read as whole vec4s: the next group must start past the last one's vec4.
        assert.ok(
          groupRanges[r]!.beginByte >=
            Math.ceil(groupRanges[r - 1]!.endByte / 16) * 16,
          why,
        );
      }
    });
  }
});
