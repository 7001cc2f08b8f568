// Copyright 2026 the weight-decay authors. MIT license.
/**
 * Regenerates the table of errors in docs/errors.md from the catalogue in
 * tests/_bad_inputs.ts, running every case (GPU ones on this machine's adapter) so the
 * table shows the messages users really get:
 *
 *   ./tools/deno run --allow-read --allow-write --allow-run tools/error_table.ts
 *
 * @module
 */

import { checkedMessages, errorTable } from "../tests/_bad_inputs.ts";

const PAGE = new URL("../docs/errors.md", import.meta.url);
const START = "<!-- errors:start -->";
const END = "<!-- errors:end -->";

const adapter = await navigator.gpu.requestAdapter();
if (adapter === null) {
  throw new Error("No WebGPU adapter: the GPU rows of the table need one");
}
const device = await adapter.requestDevice();
const table = errorTable(checkedMessages(device));
device.destroy();

const page = await Deno.readTextFile(PAGE);
const start = page.indexOf(START);
const end = page.indexOf(END);
if (start === -1 || end < start) {
  throw new Error(`docs/errors.md has no ${START} ... ${END} section`);
}
await Deno.writeTextFile(
  PAGE,
  `${page.slice(0, start + START.length)}\n${table}\n${page.slice(end)}`,
);

// Lay the table out as `deno fmt` would, so the page stays format-clean.
const fmt = await new Deno.Command(Deno.execPath(), {
  args: ["fmt", "docs/errors.md"],
  cwd: new URL("..", import.meta.url),
}).output();
if (!fmt.success) {
  throw new Error(
    `deno fmt docs/errors.md failed: ${new TextDecoder().decode(fmt.stderr)}`,
  );
}
