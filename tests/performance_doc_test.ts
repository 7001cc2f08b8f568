// Copyright 2026 the weight-decay authors. MIT license.
// docs/performance.md is generated from the bench's own output (docs/performance.json),
// so its figures cannot drift from a run: rendering the JSON again gives the page.
import assert from "node:assert/strict";
import { figureKeys, performanceDoc } from "../tools/performance_doc.ts";

const DOCS = new URL("../docs/", import.meta.url);

Deno.test("docs/performance.md is what tools/performance_doc.ts renders from docs/performance.json", async () => {
  const results = JSON.parse(
    await Deno.readTextFile(new URL("performance.json", DOCS)),
  );
  const page = await Deno.readTextFile(new URL("performance.md", DOCS));
  assert.equal(
    page,
    await performanceDoc(results),
    "docs/performance.md was edited by hand or is stale: run deno task bench:doc",
  );
  // Every figure the issues ask for is in the run.
  const keys = figureKeys(results).join("\n");
  for (
    const wanted of [
      /clipping and skipping/,
      /ViT-B/,
      /rebuild/i,
      /fromBuffers/,
      /tfjsAdamW/,
    ]
  ) {
    assert.match(keys, wanted);
  }
});

Deno.test("the README states the committed bench run's duration, in whole minutes", async () => {
  const { durationMs } = JSON.parse(
    await Deno.readTextFile(new URL("performance.json", DOCS)),
  );
  const readme = await Deno.readTextFile(new URL("../README.md", DOCS));
  const minutes = Math.max(1, Math.round(durationMs / 60_000));
  assert.match(
    readme,
    new RegExp(`\\(about ${minutes} minutes? here;`),
    `README.md should say the bench takes about ${minutes} minutes, as the run in docs/performance.json did`,
  );
});
