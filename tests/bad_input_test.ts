// Copyright 2026 the weight-decay authors. MIT license.
import assert from "node:assert/strict";
import {
  BAD_INPUTS,
  checkedMessages,
  errorTable,
  fixture,
  snapshot,
  thrown,
} from "./_bad_inputs.ts";
import { gpuTest } from "./_gpu.ts";

const PAGE_START = "<!-- errors:start -->";
const PAGE_END = "<!-- errors:end -->";

Deno.test("every bad host input throws its documented error, names the culprit and changes nothing", () => {
  const cases = BAD_INPUTS.filter((bad) => !bad.gpu);
  assert.ok(cases.length >= 30, `only ${cases.length} host cases`);
  for (const bad of cases) {
    const f = fixture();
    const before = snapshot(f);
    const error = thrown(bad, f);
    assert.ok(error instanceof bad.error, `${bad.what}: ${error}`);
    assert.equal((error as Error).name, bad.error.name, bad.what);
    if (typeof bad.message === "string") {
      assert.equal((error as Error).message, bad.message, bad.what);
    } else assert.match((error as Error).message, bad.message, bad.what);
    assert.deepEqual(snapshot(f), before, `${bad.what}: a parameter changed`);
  }
});

gpuTest(
  "every bad GPU input throws its documented error and changes nothing",
  (device) => {
    const messages = checkedMessages(device);
    assert.equal(messages.length, BAD_INPUTS.length);
    assert.ok(BAD_INPUTS.filter((bad) => bad.gpu).length >= 5);
  },
);

gpuTest(
  "the table of errors lists the catalogue with its real messages",
  async (device) => {
    const page = await Deno.readTextFile(
      new URL("../docs/errors.md", import.meta.url),
    );
    const start = page.indexOf(PAGE_START);
    const end = page.indexOf(PAGE_END);
    assert.ok(
      start !== -1 && end > start,
      `docs/errors.md needs ${PAGE_START} ... ${PAGE_END}`,
    );
    const table = page.slice(start + PAGE_START.length, end);
    assert.deepEqual(
      cells(table),
      cells(errorTable(checkedMessages(device))),
      "docs/errors.md's table of errors is out of date: run ./tools/deno run --allow-read --allow-write --allow-run tools/error_table.ts",
    );
  },
);

/** A markdown table's cells, trimmed, without the separator row: layout does not matter. */
function cells(table: string): string[][] {
  return table.trim().split("\n")
    .filter((line) => !/^\|[\s|:-]+\|$/.test(line))
    .map((line) =>
      line.split(/(?<!\\)\|/).slice(1, -1).map((cell) => cell.trim())
    );
}
