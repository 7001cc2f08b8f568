// Copyright 2026 the weight-decay authors. MIT license.
// Runs each example as its users would, in a subprocess from the repository root, and
// checks what it prints. GPU examples are ignored (visibly) without a WebGPU adapter.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { ignoreGpu } from "./_gpu.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** Runs `deno run ...args` from the repository root; returns its exit code and output. */
async function runDeno(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...args],
    cwd: ROOT,
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

/** The losses of `step N  lr X  loss Y` lines, in order. */
function losses(stdout: string): number[] {
  return [...stdout.matchAll(/^step +\d+ +lr +\S+ +loss +(\S+)$/gm)].map((m) =>
    Number(m[1])
  );
}

Deno.test({
  name:
    "examples/train_webgpu.ts trains an MLP in a GpuDecay arena and its loss falls",
  ignore: ignoreGpu,
  async fn() {
    // WebGPU needs no permission flag, so the example runs with none.
    const { code, stdout, stderr } = await runDeno([
      "examples/train_webgpu.ts",
    ]);
    assert.equal(code, 0, `exit code ${code}\n${stdout}\n${stderr}`);
    const trace = losses(stdout);
    assert.ok(trace.length >= 2, `no loss lines in:\n${stdout}`);
    assert.ok(
      trace.every(Number.isFinite),
      `a loss is not finite: ${trace}`,
    );
    assert.ok(
      trace.at(-1)! < 0.1 * trace[0]!,
      `loss did not fall tenfold: ${trace}`,
    );
    assert.match(stdout, /^hidden\.bias: .*not decayed \(weight decay 0\)$/m);
    assert.match(stdout, /^hidden\.weight: .*decay alone scaled it by 0\.\d+/m);
  },
});

Deno.test({
  name:
    "examples/checkpoint.ts resumes a saved GpuAdamW run that equals the uninterrupted one",
  ignore: ignoreGpu,
  async fn() {
    const { code, stdout, stderr } = await runDeno([
      "--allow-read",
      "--allow-write",
      "examples/checkpoint.ts",
    ]);
    assert.equal(code, 0, `exit code ${code}\n${stdout}\n${stderr}`);
    assert.match(
      stdout,
      /^saved step 19 \(\d+ shards\) to model\.safetensors, optimizer\.safetensors$/m,
    );
    assert.match(stdout, /^loaded step 19 into a fresh engine$/m);
    assert.match(stdout, /^steps that ran: 39 of 40 \(step 7 was skipped\)$/m);
    assert.match(
      stdout,
      /^resumed run equals the uninterrupted one bit for bit: true$/m,
    );
  },
});

/** The losses of `epoch N  loss Y` lines, in order. */
function epochLosses(stdout: string): number[] {
  return [...stdout.matchAll(/^epoch +\d+ +loss +(\S+) +\S+ s$/gm)].map((m) =>
    Number(m[1])
  );
}

for (const backend of ["cpu", "webgpu"] as const) {
  Deno.test({
    name:
      `examples/train_tfjs.ts trains with AdamW on tfjs's ${backend} backend, leaving biases and norm weights undecayed`,
    ignore: backend === "webgpu" && ignoreGpu,
    async fn() {
      // TensorFlow.js needs no permission flag here either.
      const { code, stdout, stderr } = await runDeno([
        "examples/train_tfjs.ts",
        ...(backend === "webgpu" ? ["--webgpu"] : []),
      ]);
      assert.equal(code, 0, `exit code ${code}\n${stdout}\n${stderr}`);
      assert.match(stdout, new RegExp(`^backend: ${backend}$`, "m"));
      const trace = epochLosses(stdout);
      assert.ok(trace.length >= 2, `no loss lines in:\n${stdout}`);
      assert.ok(
        trace.at(-1)! < 0.5 * trace[0]!,
        `loss did not halve: ${trace}`,
      );
      for (const name of ["hidden1.bias", "bn.gamma", "bn.beta", "ln.gamma"]) {
        assert.match(
          stdout,
          new RegExp(`^${name}: .*not decayed \\(weight decay 0\\)$`, "m"),
        );
      }
      assert.match(
        stdout,
        /^hidden1\.kernel: .*decay alone scaled it by 0\.99/m,
      );
      assert.doesNotMatch(stdout, /moving_mean|moving_variance/);
      assert.match(
        stdout,
        new RegExp(
          `optimizer path: ${backend === "webgpu" ? "fused" : "host"}$`,
          "m",
        ),
      );
    },
  });
}

Deno.test({
  name:
    "examples/train_adamw.ts trains a linear regression with GpuAdamW until its loss falls 100-fold",
  ignore: ignoreGpu,
  async fn() {
    const { code, stdout, stderr } = await runDeno([
      "--quiet",
      "examples/train_adamw.ts",
    ]);
    assert.equal(code, 0, `exit code ${code}\n${stdout}\n${stderr}`);
    const match = /^loss (\S+) -> (\S+) in 300 steps$/m.exec(stdout);
    assert.ok(match, stdout);
    assert.ok(Number(match[2]) < Number(match[1]) / 100, stdout);
  },
});
