// deno-lint-ignore-file no-console
// Copyright 2026 the weight-decay authors. MIT license.
/**
 * Checkpoints of a GPT-2 medium layout (355M parameters, 1.4 GB of f32, several arena
 * shards) through `GpuAdamW`: the peak resident memory of `saveCheckpoint` and
 * `loadCheckpoint` above what the process held before (the host model, and on a software
 * adapter the arenas too), and their throughput as a ratio to a plain
 * `Deno.writeFile` / `Deno.readFile` of the same bytes, side by side in one run:
 *
 *   deno task bench:checkpoint
 *
 * It needs about 9 GB of memory on a software adapter and 8.5 GB of disk (two
 * checkpoints' worth, deleted afterwards), and a few minutes. Linux only (it reads
 * /proc/self/status and resets the peak through /proc/self/clear_refs).
 *
 * @module
 */

import {
  getParamGroups,
  GpuAdamW,
  loadCheckpoint,
  namedParameters,
  NORM_TYPES,
  saveCheckpoint,
} from "../mod.ts";
import { adapterInfo, benchContext } from "./_harness.ts";
import { gpt2Medium, memory, resetPeak } from "./_gpt2.ts";

const ROUNDS = 3;
const GIB = 2 ** 30;
const MIB = 2 ** 20;

const median = (values: number[]) =>
  values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)]!;
const spread = (values: number[]) =>
  `${median(values).toFixed(2)} (min ${Math.min(...values).toFixed(2)}, max ${
    Math.max(...values).toFixed(2)
  })`;

const { adapter, device } = await benchContext();
const groups = getParamGroups(
  namedParameters(gpt2Medium()),
  [[0, "bias"], [0, NORM_TYPES], 0.1],
);
const started = performance.now();
using adamw = GpuAdamW.create(device, groups);
const floats = groups.reduce(
  (n, g) => n + g.params.reduce((m, p) => m + p.size, 0),
  0,
);
const modelBytes = floats * 4;
const largestShard = Math.max(...adamw.buffers.map((b) => b.size));
console.log(`WebGPU adapter: ${adapterInfo(adapter).description}`);
console.log(
  `GPT-2 medium layout: ${(floats / 1e6).toFixed(1)}M parameters, ${
    (modelBytes / GIB).toFixed(2)
  } GiB, ${adamw.buffers.length} shards of at most ${
    (largestShard / MIB).toFixed(0)
  } MiB; a checkpoint holds ${(3 * modelBytes / GIB).toFixed(2)} GiB`,
);

const dir = await Deno.makeTempDir({ prefix: "weight-decay-bench-" });
const plain = new Uint8Array(modelBytes); // the baseline's bytes, as many as the model
const savePeaks: number[] = [];
const loadPeaks: number[] = [];
const saveRatios: number[] = [];
const loadRatios: number[] = [];
try {
  for (let round = 0; round < ROUNDS; round++) {
    // Ours: the model and both moment arenas, one shard at a time.
    let before = memory().rss;
    resetPeak();
    let t0 = performance.now();
    await saveCheckpoint(`${dir}/ours`, adamw);
    const save = performance.now() - t0;
    savePeaks.push((memory().peak - before) / MIB);

    before = memory().rss;
    resetPeak();
    t0 = performance.now();
    await loadCheckpoint(`${dir}/ours`, adamw);
    await device.queue.onSubmittedWorkDone();
    const load = performance.now() - t0;
    loadPeaks.push((memory().peak - before) / MIB);

    // The same bytes written and read plainly: three model-sized files.
    t0 = performance.now();
    for (const name of ["a", "b", "c"]) {
      await Deno.writeFile(`${dir}/${name}.bin`, plain);
    }
    const plainWrite = performance.now() - t0;
    t0 = performance.now();
    for (const name of ["a", "b", "c"]) {
      await Deno.readFile(`${dir}/${name}.bin`);
    }
    const plainRead = performance.now() - t0;
    saveRatios.push(plainWrite / save);
    loadRatios.push(plainRead / load);
    console.log(
      `round ${round + 1}: save ${(save / 1000).toFixed(1)} s (plain write ${
        (plainWrite / 1000).toFixed(1)
      } s), load ${(load / 1000).toFixed(1)} s (plain read ${
        (plainRead / 1000).toFixed(1)
      } s)`,
    );
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
console.log(
  `peak resident memory above the process's, MiB (one shard is ${
    (largestShard / MIB).toFixed(0)
  } MiB): save ${spread(savePeaks)}, load ${spread(loadPeaks)}`,
);
console.log(
  `throughput relative to Deno.writeFile / Deno.readFile of the same bytes: save ${
    spread(saveRatios)
  }x, load ${spread(loadRatios)}x`,
);
console.log(
  `(saveCheckpoint flushes each file to disk before renaming it into place; Deno.writeFile does not flush. loadCheckpoint reads optimizer.safetensors twice: once to check every moment, once to load.)`,
);
console.log(
  `bench took ${((performance.now() - started) / 1000).toFixed(0)} s`,
);
