// Copyright 2026 the weight-decay authors. MIT license.
/**
 * Every benchmark, one section after another, then one table of every figure:
 *
 *   deno task bench                         (every section but the heavy ones)
 *   deno task bench --only AdamW,Groups     (some sections)
 *   deno task bench --json results.json     (also write the results; or BENCH_JSON=...)
 *
 * `tools/performance_doc.ts` runs this and turns the JSON into `docs/performance.md`.
 *
 * New comparisons are a {@linkcode Section} exported from a file of their own, with no
 * work at the top level (the file is imported even when its section does not run),
 * then added to `SECTIONS`. E.g. TensorFlow.js's optimizer against GpuAdamW:
 *
 * ```ts ignore
 * export const tfjsAdamWSection: Section = {
 *   name: "TensorFlow.js AdamW",
 *   async *comparisons() {
 *     const { tf, models, device, flush } = await tfjsWebGpu(); // from tfjs_bench.ts
 *     const optimizer = tf.train.adam(1e-3); // ... and a GpuAdamW over the same model
 *     yield {
 *       title: "48 variables",
 *       timer: { kind: "gpu", device, steps: 16, flush },
 *       variants: [{ name: "tf.train.adam", step: ... }, { name: "GpuAdamW", step: ... }],
 *       figures: [{ label: "GpuAdamW", candidate: "GpuAdamW", baseline: "tf.train.adam" }],
 *       destroy() { ... },
 *     };
 *   },
 * };
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { adamwSection } from "./adamw_bench.ts";
import { bigModelSection } from "./big_model_bench.ts";
import { decaySection } from "./decay_bench.ts";
import { groupsSection } from "./groups_bench.ts";
import { planningSection } from "./planning_bench.ts";
import { regexSection } from "./regex_bench.ts";
import { tfjsSection } from "./tfjs_bench.ts";
import { tfjsAdamWSection } from "./tfjs_adamw_bench.ts";
import { runBenchmarks, type Section } from "./_harness.ts";

/** Every section, in the order they run. */
export const SECTIONS: readonly Section[] = [
  decaySection,
  adamwSection,
  groupsSection,
  tfjsSection,
  tfjsAdamWSection,
  regexSection,
  planningSection,
  bigModelSection,
];

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { json: { type: "string" }, only: { type: "string" } },
  });
  await runBenchmarks(SECTIONS, {
    only: values.only?.split(",").map((name) => name.trim()),
    json: values.json ?? Deno.env.get("BENCH_JSON"),
  });
}
