// Copyright 2026 the weight-decay authors. MIT license.
// Checkpoints: save, load and continue bit for bit on every engine (sharded on the GPU),
// files PyTorch wrote, tied weights, and bad files that change nothing.
import assert from "node:assert/strict";
import {
  CpuAdamW,
  CpuDecay,
  getParamGroups,
  GpuAdamW,
  GpuDecay,
  loadCheckpoint,
  namedParameters,
  Parameter,
  type ParamGroup,
  readSafetensors,
  SafetensorsError,
  saveCheckpoint,
  writeSafetensors,
} from "../mod.ts";
import { outwardGradients, random, randomData } from "./_models.ts";
import { gpuTest } from "./_gpu.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url);

/** A small model of odd sizes; the embedding is larger than a 4 KiB shard. */
function model(seed: number): ParamGroup[] {
  const next = random(seed);
  const p = (...shape: number[]) =>
    new Parameter(randomData(shape.reduce((a, b) => a * b, 1), next), shape);
  return getParamGroups(
    [
      { name: "embed.weight", param: p(300, 5) },
      { name: "blocks.0.fc.weight", param: p(7, 3) },
      { name: "blocks.0.fc.bias", param: p(7) },
      { name: "norm.weight", param: p(5) },
      { name: "empty", param: p(0) },
    ],
    {
      weightDecay: [[0, "bias|norm|empty"], 0.1],
      lrScale: [[0.5, "^blocks"], 1],
    },
  );
}

const paramsOf = (groups: ParamGroup[]) => groups.flatMap((g) => g.params);
const valuesOf = (groups: ParamGroup[]) =>
  paramsOf(groups).map((p) => [...p.data]);

async function tempDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

type Engine = {
  step(lr: number): void;
  destroy?(): void;
  syncToHost?(): Promise<void>;
};

/** Steps an engine with gradients of each step's seed. */
function train(
  engine: Engine,
  groups: ParamGroup[],
  steps: number[],
  writeGrad?: (p: Parameter, g: Float32Array) => void,
) {
  for (const seed of steps) {
    const grads = outwardGradients(paramsOf(groups), seed);
    paramsOf(groups).forEach((p, i) => {
      if (writeGrad) writeGrad(p, grads[i]!);
      else p.grad = grads[i]!;
    });
    engine.step(1e-2);
  }
}

Deno.test("CpuAdamW and CpuDecay resume from a checkpoint bit for bit", async () => {
  await tempDir(async (dir) => {
    for (const kind of ["adamw", "decay"] as const) {
      const create = (g: ParamGroup[]) =>
        kind === "adamw"
          ? new CpuAdamW(g, { maxGradNorm: 1 })
          : new CpuDecay(g);
      const whole = model(1);
      const wholeEngine = create(whole);
      train(wholeEngine, whole, [1, 2, 3, 4, 5, 6]);

      const first = model(1);
      const firstEngine = create(first);
      train(firstEngine, first, [1, 2, 3]);
      await saveCheckpoint(`${dir}/${kind}`, firstEngine);

      const resumed = model(99); // other values: all of them come from the checkpoint
      const resumedEngine = create(resumed);
      await loadCheckpoint(`${dir}/${kind}`, resumedEngine);
      train(resumedEngine, resumed, [4, 5, 6]);
      assert.deepEqual(valuesOf(resumed), valuesOf(whole), kind);
      if (resumedEngine instanceof CpuAdamW) {
        assert.deepEqual(
          resumedEngine.state(),
          (wholeEngine as CpuAdamW).state(),
        );
      }
    }
  });
});

gpuTest(
  "GpuAdamW and GpuDecay resume from a sharded checkpoint bit for bit, host and GPU agreeing",
  async (device) => {
    await tempDir(async (dir) => {
      const options = { maxShardBytes: 4096, skipNonFinite: true };
      const whole = model(2);
      const wholeEngine = GpuAdamW.create(device, whole, options);
      assert.ok(wholeEngine.buffers.length >= 2, "several shards");
      const write = (e: GpuAdamW) => (p: Parameter, g: Float32Array) =>
        e.writeGrad(p, g);
      train(wholeEngine, whole, [1, 2, 3, 4, 5], write(wholeEngine));
      await wholeEngine.syncToHost();

      const first = model(2);
      const firstEngine = GpuAdamW.create(device, first, options);
      train(firstEngine, first, [1, 2, 3], write(firstEngine));
      await saveCheckpoint(dir, firstEngine);
      firstEngine.destroy();

      const resumed = model(42);
      using resumedEngine = GpuAdamW.create(device, resumed, options);
      await loadCheckpoint(dir, resumedEngine);
      // Host and GPU agree right after the load.
      const host = valuesOf(resumed);
      await resumedEngine.syncToHost();
      assert.deepEqual(valuesOf(resumed), host);
      assert.equal((await resumedEngine.state()).step, 3);
      train(resumedEngine, resumed, [4, 5], write(resumedEngine));
      await resumedEngine.syncToHost();
      assert.deepEqual(valuesOf(resumed), valuesOf(whole));
      assert.deepEqual(
        JSON.parse(JSON.stringify(await resumedEngine.state())),
        JSON.parse(JSON.stringify(await wholeEngine.state())),
      );

      // A CPU engine loads the GPU's checkpoint: the same state.
      const cpuGroups = model(7);
      const cpu = new CpuAdamW(cpuGroups, { skipNonFinite: true });
      await loadCheckpoint(dir, cpu);
      assert.equal(cpu.state().step, 3);

      // GpuDecay over the same layout.
      const decayed = model(3);
      const decay = GpuDecay.create(device, decayed, { maxShardBytes: 4096 });
      decay.step(0.5);
      await saveCheckpoint(`${dir}/decay`, decay);
      const loaded = model(4);
      using again = GpuDecay.create(device, loaded, { maxShardBytes: 4096 });
      await loadCheckpoint(`${dir}/decay`, again);
      await decay.syncToHost();
      assert.deepEqual(valuesOf(loaded), valuesOf(decayed));
      await again.syncToHost();
      assert.deepEqual(valuesOf(loaded), valuesOf(decayed));
      decay.destroy();
      wholeEngine.destroy();
    });
  },
);

Deno.test("saveCheckpoint writes PyTorch's layout: F32 tensors by name, moments and the step", async () => {
  await tempDir(async (dir) => {
    const groups = model(5);
    const adamw = new CpuAdamW(groups, { betas: [0.9, 0.95] });
    train(adamw, groups, [1, 2]);
    await saveCheckpoint(dir, adamw);
    using modelFile = await readSafetensors(`${dir}/model.safetensors`);
    assert.deepEqual(modelFile.metadata, { format: "pt", step: "2" });
    assert.deepEqual(
      [...modelFile.tensors.values()].map((t) => [t.name, t.dtype, t.shape]),
      groups.flatMap((g) =>
        g.params.map((p, i) => [g.names[i], "F32", p.shape])
      ),
    );
    using optimizer = await readSafetensors(`${dir}/optimizer.safetensors`);
    assert.equal(optimizer.metadata.step, "2");
    assert.equal(optimizer.metadata.betas, "[0.9,0.95]");
    assert.equal(optimizer.metadata.format, "weight-decay adamw");
    const state = adamw.state();
    for (const { name, m, v } of state.params) {
      assert.deepEqual(await optimizer.read(`${name}.exp_avg`), m);
      assert.deepEqual(await optimizer.read(`${name}.exp_avg_sq`), v);
    }
  });
});

Deno.test("loadCheckpoint loads a state_dict PyTorch wrote, F16 and BF16 exactly, by name", async () => {
  const tiny = JSON.parse(
    await Deno.readTextFile(new URL("safetensors/tiny_model.json", FIXTURES)),
  );
  const names = [
    "conv.weight",
    "conv.bias",
    "fc.weight",
    "fc.bias",
    "bn.weight",
  ];
  const params = names.map((name) => {
    const { shape } = tiny.tensors[name];
    return new Parameter(
      new Float32Array(shape.reduce((a: number, b: number) => a * b, 1)),
      shape,
    );
  });
  const decay = new CpuDecay([{ weightDecay: 0.1, params, names }]);
  await tempDir(async (dir) => {
    await Deno.copyFile(
      new URL("safetensors/tiny_model.safetensors", FIXTURES),
      `${dir}/model.safetensors`,
    );
    // The state_dict holds buffers too (running stats, an I64 count): strict says so.
    await assert.rejects(
      loadCheckpoint(dir, decay),
      (error: Error) => {
        assert.ok(error instanceof SafetensorsError);
        assert.match(
          error.message,
          /to hold exactly the tensors of the CpuDecay but found unexpected key\(s\): "bn\.num_batches_tracked", "bn\.bias", "bn\.running_mean", "bn\.running_var", "layers\.0\.bias", "layers\.0\.weight" \(pass \{ strict: false \} to load what matches\)$/,
        );
        return true;
      },
    );
    assert.ok(
      params.every((p) => p.data.every((x) => x === 0)),
      "nothing loaded",
    );
    await loadCheckpoint(dir, decay, { strict: false });
    names.forEach((name, i) =>
      assert.deepEqual(
        [...new Uint32Array(params[i]!.data.buffer)],
        tiny.tensors[name].f32_bits,
        name,
      )
    );
  });

  const halves = JSON.parse(
    await Deno.readTextFile(new URL("safetensors/halves.json", FIXTURES)),
  );
  const halfNames = Object.keys(halves.tensors);
  const halfParams = halfNames.map((n) => {
    const { shape } = halves.tensors[n];
    const size = shape.reduce((a: number, b: number) => a * b, 1);
    return new Parameter(new Float32Array(size), shape);
  });
  await tempDir(async (dir) => {
    await Deno.copyFile(
      new URL("safetensors/halves.safetensors", FIXTURES),
      `${dir}/model.safetensors`,
    );
    await loadCheckpoint(
      dir,
      new CpuDecay([{ weightDecay: 0, params: halfParams, names: halfNames }]),
    );
    halfNames.forEach((name, i) =>
      assert.deepEqual(
        [...new Uint32Array(halfParams[i]!.data.buffer)],
        halves.tensors[name].f32_bits,
        name,
      )
    );
  });
});

Deno.test("loadCheckpoint takes a tied weight under either name, or both when they agree", async () => {
  const tied = JSON.parse(
    await Deno.readTextFile(new URL("checkpoint/tied.json", FIXTURES)),
  );
  class Embedding {
    weight = new Parameter(new Float32Array(15), [5, 3]);
  }
  class LayerNorm {
    weight = new Parameter(new Float32Array(3));
    bias = new Parameter(new Float32Array(3));
  }
  const fresh = () => {
    const embed = new Embedding();
    return { embed, norm: new LayerNorm(), head: { weight: embed.weight } };
  };
  for (const file of ["tied_both", "tied_dedup"]) {
    await tempDir(async (dir) => {
      await Deno.copyFile(
        new URL(`checkpoint/${file}.safetensors`, FIXTURES),
        `${dir}/model.safetensors`,
      );
      const m = fresh();
      const groups = getParamGroups(namedParameters(m), 0.1);
      await loadCheckpoint(dir, new CpuAdamW(groups));
      assert.deepEqual(
        [...new Uint32Array(m.embed.weight.data.buffer)],
        tied.bits["embed.weight"],
      );
      assert.deepEqual(
        [...new Uint32Array(m.norm.bias.data.buffer)],
        tied.bits["norm.bias"],
      );
    });
  }
  await tempDir(async (dir) => {
    const values = new Float32Array(15).fill(1);
    await writeSafetensors(`${dir}/model.safetensors`, {
      "embed.weight": { shape: [5, 3], data: values },
      "head.weight": {
        shape: [5, 3],
        data: values.map((v, i) => i === 7 ? 2 : v),
      },
      "norm.weight": { shape: [3], data: new Float32Array(3) },
      "norm.bias": { shape: [3], data: new Float32Array(3) },
    });
    const m = fresh();
    await assert.rejects(
      loadCheckpoint(
        dir,
        new CpuDecay(getParamGroups(namedParameters(m), 0.1)),
      ),
      /Expected the names "embed\.weight" and "head\.weight" of one tied parameter in .* to hold the same values but element 7 is 1 and 2$/,
    );
    assert.ok(m.embed.weight.data.every((v) => v === 0), "nothing loaded");
  });
});

Deno.test("loadCheckpoint of only model.safetensors gives an AdamW engine zero moments at step 0; a decay engine ignores optimizer.safetensors", async () => {
  await tempDir(async (dir) => {
    const groups = model(8);
    const decay = new CpuDecay(groups);
    decay.step(0.5);
    await saveCheckpoint(dir, decay);
    const into = model(10);
    const fresh = new CpuAdamW(into);
    train(fresh, into, [1, 2]);
    await loadCheckpoint(dir, fresh);
    assert.deepEqual(valuesOf(into), valuesOf(groups));
    const state = fresh.state();
    assert.equal(state.step, 0);
    assert.ok(
      state.params.every((p) =>
        p.m.every((x) => x === 0) && p.v.every((x) => x === 0)
      ),
    );

    const adamGroups = model(11);
    const withMoments = new CpuAdamW(adamGroups);
    train(withMoments, adamGroups, [1]);
    await saveCheckpoint(`${dir}/adamw`, withMoments);
    const decayInto = model(12);
    await loadCheckpoint(`${dir}/adamw`, new CpuDecay(decayInto));
    assert.deepEqual(valuesOf(decayInto), valuesOf(adamGroups));
  });
});

Deno.test("loadCheckpoint with strict: false loads what matches and keeps the rest", async () => {
  await tempDir(async (dir) => {
    const groups = model(13);
    await writeSafetensors(`${dir}/model.safetensors`, {
      "norm.weight": { shape: [5], data: new Float32Array([1, 2, 3, 4, 5]) },
      "extra": { shape: [1], data: new Float32Array([9]) },
    });
    const before = valuesOf(groups);
    const decay = new CpuDecay(groups);
    await assert.rejects(
      loadCheckpoint(dir, decay),
      /found missing key\(s\): "embed\.weight", "blocks\.0\.fc\.weight", .*; unexpected key\(s\): "extra" \(pass \{ strict: false \} to load what matches\)$/,
    );
    assert.deepEqual(valuesOf(groups), before);
    await loadCheckpoint(dir, decay, { strict: false });
    const norm = paramsOf(groups).find((p) =>
      p.shape[0] === 5 && p.shape.length === 1
    )!;
    assert.deepEqual([...norm.data], [1, 2, 3, 4, 5]);
    assert.deepEqual(
      valuesOf(groups).filter((v) => v.length !== 5),
      before.filter((v) => v.length !== 5),
    );
  });
});

/** Saves a small AdamW checkpoint, spoils it with `spoil`, and expects `pattern` and no change. */
async function assertBadCheckpoint(
  spoil: (dir: string) => Promise<void>,
  pattern: RegExp,
) {
  await tempDir(async (dir) => {
    const saved = model(20);
    const adamw = new CpuAdamW(saved);
    train(adamw, saved, [1, 2]);
    await saveCheckpoint(dir, adamw);
    await spoil(dir);
    const into = model(21);
    const engine = new CpuAdamW(into);
    train(engine, into, [3]);
    const before = {
      values: valuesOf(into),
      state: JSON.stringify(engine.state()),
    };
    await assert.rejects(loadCheckpoint(dir, engine), (error: Error) => {
      assert.ok(error instanceof SafetensorsError, `${error}`);
      assert.match(error.message, pattern);
      return true;
    });
    assert.deepEqual(valuesOf(into), before.values, "parameters unchanged");
    assert.equal(
      JSON.stringify(engine.state()),
      before.state,
      "moments unchanged",
    );
  });
}

Deno.test("loadCheckpoint rejects bad files and changes nothing", async () => {
  const model_ = (dir: string) => `${dir}/model.safetensors`;
  const optimizer = (dir: string) => `${dir}/optimizer.safetensors`;
  const rewrite = async (
    path: string,
    change: (
      tensors: Map<string, { shape: number[]; data: Float32Array }>,
      meta: Record<string, string>,
    ) => void,
  ) => {
    const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
    let metadata: Record<string, string>;
    {
      using file = await readSafetensors(path);
      metadata = { ...file.metadata };
      for (const [name, info] of file.tensors) {
        tensors.set(name, {
          shape: [...info.shape],
          data: await file.read(name),
        });
      }
    }
    change(tensors, metadata);
    await writeSafetensors(path, tensors, { metadata });
  };
  await assertBadCheckpoint(
    (dir) =>
      rewrite(
        model_(dir),
        (t) =>
          t.set("norm.weight", {
            shape: [1, 5],
            data: t.get("norm.weight")!.data,
          }),
      ),
    /Size mismatch for "norm\.weight" of .*: the file has shape \[1, 5\], the engine's parameter "norm\.weight" has shape \[5\]$/,
  );
  await assertBadCheckpoint(
    (dir) =>
      rewrite(
        optimizer(dir),
        (t) => t.get("norm.weight.exp_avg_sq")!.data[3] = -1,
      ),
    /Expected tensor "norm\.weight\.exp_avg_sq" of .* to hold finite values >= 0 but found -1 at element 3$/,
  );
  await assertBadCheckpoint(
    (dir) =>
      rewrite(
        optimizer(dir),
        (t) => t.get("embed.weight.exp_avg")!.data[1000] = NaN,
      ),
    /Expected tensor "embed\.weight\.exp_avg" of .* to hold finite values but found NaN at element 1000$/,
  );
  await assertBadCheckpoint(
    (dir) => rewrite(optimizer(dir), (_, meta) => delete meta.step),
    /to hold the step count as metadata "step", a decimal integer from 0 to 2 \*\* 32 - 1, but found undefined$/,
  );
  await assertBadCheckpoint(
    (dir) => rewrite(optimizer(dir), (_, meta) => meta.step = "1"),
    /but the model is of step 2 and the optimizer of step 1: a save stopped between the two files$/,
  );
  await assertBadCheckpoint(
    async (dir) => {
      const bytes = await Deno.readFile(model_(dir));
      await Deno.writeFile(model_(dir), bytes.subarray(0, bytes.length - 10));
    },
    /^Invalid safetensors file .*model\.safetensors": /,
  );
  await assertBadCheckpoint(
    async (dir) => {
      await writeSafetensors(model_(dir), {
        "embed.weight": {
          dtype: "I32",
          shape: [300, 5],
          bytes: new Uint8Array(6000),
        },
      });
    },
    /Expected tensor "embed\.weight" of .* to be F32, F16 or BF16 but found I32$/,
  );
});

Deno.test("loadCheckpoint survives random truncations and byte flips: a SafetensorsError and no change, or a whole load", async () => {
  await tempDir(async (dir) => {
    const saved = model(30);
    await saveCheckpoint(`${dir}/good`, new CpuDecay(saved));
    const good = await Deno.readFile(`${dir}/good/model.safetensors`);
    const next = random(31);
    let rejected = 0;
    for (let trial = 0; trial < 150; trial++) {
      const bytes = good.slice();
      let spoiled: Uint8Array = bytes;
      if (trial % 3 === 0) {
        spoiled = bytes.subarray(0, Math.floor(next() * bytes.length));
      } else {
        for (let flips = 1 + Math.floor(next() * 3); flips > 0; flips--) {
          bytes[
            Math.floor(
              next() *
                Math.min(bytes.length, trial % 3 === 1 ? 400 : bytes.length),
            )
          ]! ^= 1 << Math.floor(next() * 8);
        }
      }
      await Deno.mkdir(`${dir}/t`, { recursive: true });
      await Deno.writeFile(`${dir}/t/model.safetensors`, spoiled);
      const into = model(32);
      const before = valuesOf(into);
      try {
        await loadCheckpoint(`${dir}/t`, new CpuDecay(into));
        // Loaded: every parameter came from the file (a flip may change a value).
        assert.notDeepEqual(valuesOf(into), before);
      } catch (error) {
        assert.ok(
          error instanceof SafetensorsError,
          `trial ${trial}: ${error}`,
        );
        assert.deepEqual(valuesOf(into), before, `trial ${trial}: changed`);
        rejected++;
      }
    }
    assert.ok(
      rejected > 50,
      `only ${rejected} of 150 spoiled files were rejected`,
    );
  });
});

Deno.test("saveCheckpoint and loadCheckpoint refuse what is no engine, and unknown options", async () => {
  await assert.rejects(saveCheckpoint("/tmp/x", {} as never), {
    name: "TypeError",
    message:
      "Expected saveCheckpoint() to get a CpuDecay, GpuDecay, CpuAdamW or GpuAdamW but found an object",
  });
  const decay = new CpuDecay(model(40));
  await assert.rejects(
    loadCheckpoint("/tmp/x", decay, { strinct: true } as never),
    {
      name: "TypeError",
      message:
        'Expected loadCheckpoint() options to have only the keys strict but found "strinct"',
    },
  );
  await assert.rejects(
    loadCheckpoint("/nonexistent/dir", decay),
    (error: Error) =>
      error instanceof Deno.errors.NotFound &&
      /holds no model\.safetensors/.test(error.message),
  );
});
