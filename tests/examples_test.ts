// Copyright 2026 the weight-decay authors. MIT license.
import assert from "node:assert/strict";
import { ignoreGpu } from "./_gpu.ts";

/** Runs an example as its own process from the repository root, as a user would. */
async function runExample(path: string) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", path],
    cwd: new URL("..", import.meta.url),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code,
    stdout: decoder.decode(stdout),
    stderr: decoder.decode(stderr),
  };
}

Deno.test({
  name:
    "examples/train_adamw.ts trains a linear regression on the GPU until its loss falls 100-fold",
  ignore: ignoreGpu,
  async fn() {
    const { code, stdout, stderr } = await runExample(
      "examples/train_adamw.ts",
    );
    assert.equal(code, 0, `exit code ${code}: ${stderr}`);
    const match = /^loss (\S+) -> (\S+) in 300 steps$/m.exec(stdout);
    assert.ok(match, stdout);
    assert.ok(Number(match[2]) < Number(match[1]) / 100, stdout);
  },
});
