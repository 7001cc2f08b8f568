// Copyright 2026 the weight-decay authors. MIT license.
/**
 * A GPT-2 medium layout (355M parameters, 1.4 GB of f32) through GpuDecay: the arena
 * needs several shards, and the token embedding (206 MB) is larger than one shard, so
 * it is split across two. Reports the peak memory of the upload (Linux) and times the
 * fused step against the plain scale kernel over the same bytes:
 *
 *   deno task bench:big
 *
 * A heavy section, run only when named: it needs about 5 GB of memory on a software
 * adapter (the model on the host, the arena, and the baseline's buffers) and a few
 * minutes.
 *
 * @module
 */

import {
  getParamGroups,
  GpuDecay,
  namedParameters,
  NORM_TYPES,
} from "../mod.ts";
import { singleBufferScale } from "./_baselines.ts";
import { gpt2Medium, memory, resetPeak } from "./_gpt2.ts";
import type { Section } from "./_harness.ts";

const GIB = 2 ** 30;
const MIB = 2 ** 20;

/** The GPT-2 medium comparison: fused decay against the scale kernel, several shards. */
export const bigModelSection: Section = {
  name: "Big model",
  heavy: true,
  async *comparisons({ device }) {
    const model = gpt2Medium();
    // Every group decays, so the fused step touches the same bytes as the baseline.
    const groups = getParamGroups(namedParameters(model), [
      [1e-5, "bias"],
      [5e-5, NORM_TYPES],
      0.1,
    ]);
    const floats = groups.reduce(
      (n, g) => n + g.params.reduce((m, p) => m + p.size, 0),
      0,
    );
    const modelBytes = floats * 4;
    const before = memory();
    resetPeak();
    const decay = GpuDecay.create(device, groups);
    await device.queue.onSubmittedWorkDone();
    const uploadPeak = memory().peak - before.rss;
    const largestShard = Math.max(...decay.buffers.map((b) => b.size));
    const scale = singleBufferScale(device, floats);
    const limit =
      "scale kernel over the same bytes (one dispatch per 128 MiB buffer)";
    const fused = "GpuDecay.step (fused)";
    yield {
      title: `GPT-2 medium (${(floats / 1e6).toFixed(0)}M floats, ${
        (modelBytes / GIB).toFixed(2)
      } GiB, ${decay.buffers.length} shards of at most ${
        (largestShard / MIB).toFixed(0)
      } MiB)`,
      timer: { kind: "gpu", device, steps: 2 },
      variants: [
        { name: limit, step: scale.step },
        { name: fused, step: () => decay.step(1e-3) },
      ],
      figures: [{
        label: "fused",
        candidate: fused,
        baseline: limit,
        terms: "limit",
      }],
      notes: [
        `upload: resident memory peaked ${
          (uploadPeak / GIB).toFixed(2)
        } GiB above the model on the host: the arena (${
          (modelBytes / GIB).toFixed(2)
        } GiB, in host memory on a software adapter) and ${
          ((uploadPeak - modelBytes) / MIB).toFixed(0)
        } MiB of staging; a second full host copy would add ${
          (modelBytes / GIB).toFixed(2)
        } GiB more`,
      ],
      destroy() {
        decay.destroy();
        scale.destroy();
      },
    };
  },
};
