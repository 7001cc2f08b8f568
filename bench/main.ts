// Copyright 2026 the weight-decay authors. MIT license.
/**
 * Every benchmark, one section after another, then one table of every figure:
 *
 *   deno task bench                         (every section but the heavy ones)
 *   deno task bench --only AdamW,Groups     (some sections)
 *   deno task bench --json results.json     (also write the results; or BENCH_JSON=...)
 *
 * `tools/performance_doc.ts` runs this and turns the JSON into `docs/performance.md`.
 * A new comparison is a {@linkcode Section} in a file of its own, added to `SECTIONS`.
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
import { runBenchmarks, type Section } from "./_harness.ts";

/** Every section, in the order they run. */
export const SECTIONS: readonly Section[] = [
  decaySection,
  adamwSection,
  groupsSection,
  tfjsSection,
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
