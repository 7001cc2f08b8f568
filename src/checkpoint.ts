// Copyright 2026 the weight-decay authors. MIT license.
/**
 * Checkpoints in safetensors, the format PyTorch, JAX and Hugging Face share: a
 * directory with `model.safetensors` (every parameter under its PyTorch-style name) and,
 * for AdamW engines, `optimizer.safetensors` (both moments and the step count).
 *
 * @module
 */

import type { CpuDecay } from "./cpu_decay.ts";
import type { CpuAdamW } from "./cpu_adamw.ts";
import type { GpuDecay } from "./gpu_decay.ts";
import type { GpuAdamW } from "./gpu_adamw.ts";
import {
  type _CheckpointAccess,
  _checkpointAccess,
  type _CheckpointSlot,
  type _MomentSet,
} from "./_checkpoint_access.ts";
import {
  _readElements,
  _SafetensorsWriter,
  readSafetensors,
  SafetensorsError,
  type SafetensorsFile,
  type SafetensorsTensorInfo,
} from "./safetensors.ts";
import { _checkKeys } from "./_check_keys.ts";
import { _describe } from "./_describe.ts";

/** Every engine a checkpoint saves and loads. */
export type CheckpointEngine = CpuDecay | GpuDecay | CpuAdamW | GpuAdamW;

/** Options of {@linkcode loadCheckpoint}. */
export interface LoadCheckpointOptions {
  /**
   * Whether the files must hold exactly the engine's parameters (and, for AdamW, their
   * moments), as PyTorch's `load_state_dict(strict=True)`: a missing or an unexpected
   * name is an error that lists them. With `false`, what matches is loaded and the rest
   * keeps its values. A wrong shape is an error either way.
   *
   * @default {true}
   */
  strict?: boolean;
}

const MODEL = "model.safetensors";
const OPTIMIZER = "optimizer.safetensors";
/** Values per chunk when checking and comparing tensors: 4 MiB of f32. */
const CHECK_CHUNK = 1 << 20;
/** Names listed in a message of missing or unexpected names, at most. */
const LISTED = 20;

/**
 * Saves an engine's training state to a directory (made if missing):
 * `model.safetensors` holds every parameter as F32 under its name, in the layout
 * PyTorch's `model.load_state_dict(safetensors.torch.load_file(path))` loads for a
 * model with the same names; for `CpuAdamW` and `GpuAdamW`, `optimizer.safetensors`
 * holds `"<name>.exp_avg"` and `"<name>.exp_avg_sq"` of every parameter, with the step
 * count (metadata `"step"`, decimal) and the hyperparameters in its metadata.
 *
 * Each file is written to a temporary file beside it, flushed and renamed into place,
 * so a crash leaves the old file or the new one, never half of one; both files record
 * the step, so a load notices a save that stopped between the two. A GPU engine's
 * arenas are read one shard at a time, straight into the file: the host holds at most
 * one shard besides the model. Do not submit steps until the promise settles.
 *
 * @param dir The checkpoint directory, as a path or a `file:` URL.
 * @param engine The engine whose parameters (and moments) to save.
 * @throws {TypeError} If `engine` is not one of the engines, or is a `GpuDecay` over
 * buffers you own (`fromBuffers`), or a host parameter's data was detached, resized or
 * replaced.
 * @throws {Error} If the engine was destroyed or failed, or a GPU read fails; no file
 * is replaced then. Deno's errors if the directory cannot be written.
 *
 * @example Save, load into a fresh engine, and continue
 * ```ts
 * import { CpuAdamW, loadCheckpoint, Parameter, saveCheckpoint } from "@decoupled/weight-decay";
 * import assert from "node:assert/strict";
 *
 * const make = () => {
 *   const weight = new Parameter([1, 2, 3, 4], [2, 2]);
 *   return { weight, adamw: new CpuAdamW([{ weightDecay: 0.1, params: [weight], names: ["fc.weight"] }]) };
 * };
 * const run = make();
 * run.weight.grad = new Float32Array([0.1, -0.2, 0.3, -0.4]);
 * run.adamw.step(1e-2);
 * const dir = await Deno.makeTempDir();
 * await saveCheckpoint(dir, run.adamw);
 *
 * const resumed = make();
 * await loadCheckpoint(dir, resumed.adamw);
 * assert.deepEqual(resumed.weight.data, run.weight.data);
 * assert.deepEqual(resumed.adamw.state(), run.adamw.state());
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function saveCheckpoint(
  dir: string | URL,
  engine: CheckpointEngine,
): Promise<void> {
  const access = _access(engine, "saveCheckpoint");
  const { slots, optimizer } = access;
  await Deno.mkdir(dir, { recursive: true });
  const step = optimizer === undefined ? undefined : await optimizer.step();
  const stepMetadata: Record<string, string> = step === undefined
    ? {}
    : { step: String(step) };
  await _write(
    _inDir(dir, MODEL),
    slots.map(({ name, shape }) => ({ name, dtype: "F32" as const, shape })),
    { format: "pt", ...stepMetadata },
    (write) => access.stream("params", write),
  );
  if (optimizer === undefined) return;
  const moments = (set: _MomentSet) =>
    slots.map(({ name, shape }) => ({
      name: `${name}.${set}`,
      dtype: "F32" as const,
      shape,
    }));
  await _write(
    _inDir(dir, OPTIMIZER),
    [...moments("exp_avg"), ...moments("exp_avg_sq")],
    {
      format: "weight-decay adamw",
      engine: access.engine,
      ...optimizer.metadata,
      ...stepMetadata,
    },
    async (write) => {
      await access.stream("exp_avg", write);
      await access.stream("exp_avg_sq", write);
    },
  );
}

/**
 * Loads a checkpoint saved by {@linkcode saveCheckpoint}, or a `model.safetensors` that
 * PyTorch wrote (`safetensors.torch.save_file(model.state_dict(), path)`), into an
 * engine, by name: F32, F16 and BF16 tensors load exactly as f32; a tied parameter may
 * be listed under any of its names, and under several when they agree. A directory with
 * only `model.safetensors` loads into an AdamW engine with zero moments at step 0; a
 * decay engine ignores `optimizer.safetensors`. A GPU engine gets its arenas written
 * and every `Parameter.data` too (host and GPU agree, as after `syncToHost`), a bounded
 * chunk at a time.
 *
 * Everything is checked before anything is loaded: names, shapes and dtypes, tied
 * names that disagree, the step count, and every moment (first moments finite, second
 * moments finite and >= 0). A bad file changes nothing.
 *
 * @param dir The checkpoint directory, as a path or a `file:` URL.
 * @param engine The engine to load into.
 * @param options Whether names must match exactly.
 * @throws {SafetensorsError} If a file is not valid safetensors, a name is missing or
 * unexpected (with `strict`), a shape or dtype does not fit, tied names disagree, the
 * step count is missing or malformed or differs between the files, or a moment is out
 * of range; nothing changes then.
 * @throws {TypeError} If `engine` is not one of the engines (or is a `GpuDecay` over
 * buffers you own), or an option is unknown.
 * @throws {Deno.errors.NotFound} If the directory holds no `model.safetensors`.
 * @throws {Error} If the engine was destroyed or failed.
 */
export async function loadCheckpoint(
  dir: string | URL,
  engine: CheckpointEngine,
  options?: LoadCheckpointOptions,
): Promise<void> {
  _checkKeys(options, "loadCheckpoint() options", ["strict"]);
  const strict = options?.strict ?? true;
  if (typeof strict !== "boolean") {
    throw new TypeError(
      `Expected strict to be a boolean but found ${_describe(strict)}`,
    );
  }
  const access = _access(engine, "loadCheckpoint");
  access.checkHost();
  using model = await _open(_inDir(dir, MODEL), dir);
  const params = await _planParams(model, access, strict);
  using optimizerFile = access.optimizer === undefined
    ? undefined
    : await _openIfPresent(_inDir(dir, OPTIMIZER));
  const moments = optimizerFile === undefined
    ? undefined
    : await _planMoments(optimizerFile, model, access, strict);

  // Checked: now load.
  for (const [i, slot] of access.slots.entries()) {
    const source = params.sources[i];
    if (source !== undefined) await model.readInto(source, slot.data);
  }
  await access.paramsLoaded(params.sources.map((s) => s !== undefined));
  if (access.optimizer === undefined) return;
  if (moments === undefined) {
    // Only the model: a fresh optimizer, zero moments at step 0.
    await access.optimizer.load(
      0,
      access.slots.map(() => true),
      (_i, _set, _start, target) => Promise.resolve(void target.fill(0)),
    );
    return;
  }
  await access.optimizer.load(
    moments.step,
    moments.sources.map((s) => s !== undefined),
    (i, set, start, target) =>
      _readElements(optimizerFile!, moments.sources[i]![set], start, target),
  );
}

function _access(engine: unknown, operation: string): _CheckpointAccess {
  const access = _checkpointAccess(engine);
  if (access === undefined) {
    throw new TypeError(
      `Expected ${operation}() to get a CpuDecay, GpuDecay, CpuAdamW or GpuAdamW but found ${
        _describe(engine)
      }`,
    );
  }
  return access;
}

/** A file of the checkpoint directory, as a path or URL like the directory. */
function _inDir(dir: string | URL, file: string): string | URL {
  if (dir instanceof URL) {
    return new URL(file, dir.href.endsWith("/") ? dir : `${dir.href}/`);
  }
  if (typeof dir !== "string") {
    throw new TypeError(
      `Expected the checkpoint directory to be a path or a file: URL but found ${
        _describe(dir)
      }`,
    );
  }
  return dir.endsWith("/") ? `${dir}${file}` : `${dir}/${file}`;
}

async function _write(
  file: string | URL,
  entries: Parameters<typeof _SafetensorsWriter.create>[1],
  metadata: Record<string, string>,
  fill: (write: (bytes: Uint8Array) => Promise<void>) => Promise<void>,
): Promise<void> {
  await using writer = await _SafetensorsWriter.create(file, entries, metadata);
  await fill((bytes) => writer.write(bytes));
  await writer.commit();
}

async function _open(
  file: string | URL,
  dir: string | URL,
): Promise<SafetensorsFile> {
  try {
    return await readSafetensors(file);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw new Deno.errors.NotFound(
      `No checkpoint in ${_describe(String(dir))}: it holds no ${MODEL}`,
      { cause: error },
    );
  }
}

async function _openIfPresent(
  file: string | URL,
): Promise<SafetensorsFile | undefined> {
  try {
    return await readSafetensors(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

const READABLE: ReadonlySet<string> = new Set(["F32", "F16", "BF16"]);

/** Which tensor of the file each slot loads from (undefined: none, under `strict: false`). */
async function _planParams(
  file: SafetensorsFile,
  access: _CheckpointAccess,
  strict: boolean,
): Promise<{ sources: (string | undefined)[] }> {
  const missing: string[] = [];
  const used = new Set<string>();
  const sources: (string | undefined)[] = [];
  for (const slot of access.slots) {
    const found = [slot.name, ...slot.aliases].filter((n) =>
      file.tensors.has(n)
    );
    for (const name of found) {
      _checkFits(file, file.tensors.get(name)!, slot);
      used.add(name);
    }
    for (const other of found.slice(1)) {
      await _checkSame(file, found[0]!, other, slot);
    }
    if (found.length === 0) missing.push(slot.name);
    sources.push(found[0]);
  }
  const unexpected = [...file.tensors.keys()].filter((n) => !used.has(n));
  if (strict) _checkExact(file, access, missing, unexpected);
  return { sources };
}

/** Each slot's moment tensors, and the step count, of an optimizer file. */
async function _planMoments(
  file: SafetensorsFile,
  model: SafetensorsFile,
  access: _CheckpointAccess,
  strict: boolean,
): Promise<{
  step: number;
  sources: (Record<_MomentSet, string> | undefined)[];
}> {
  const step = _step(file, "required")!;
  const modelStep = _step(model, "optional");
  if (modelStep !== undefined && modelStep !== step) {
    throw new SafetensorsError(
      `Expected ${MODEL} and ${OPTIMIZER} of one save but the model is of step ${modelStep} and the optimizer of step ${step}: a save stopped between the two files`,
      { path: file.path },
    );
  }
  const missing: string[] = [];
  const used = new Set<string>();
  const sources = [];
  for (const slot of access.slots) {
    const names = [slot.name, ...slot.aliases];
    const of = (set: _MomentSet) =>
      names.map((n) => `${n}.${set}`).find((n) => file.tensors.has(n));
    const found = {
      "exp_avg": of("exp_avg"),
      "exp_avg_sq": of("exp_avg_sq"),
    };
    for (const set of ["exp_avg", "exp_avg_sq"] as const) {
      const name = found[set];
      if (name === undefined) {
        missing.push(`${slot.name}.${set}`);
        continue;
      }
      used.add(name);
      _checkFits(file, file.tensors.get(name)!, slot);
      await _checkMoment(file, name, slot.size, set === "exp_avg_sq");
    }
    sources.push(
      found.exp_avg !== undefined && found.exp_avg_sq !== undefined
        ? found as Record<_MomentSet, string>
        : undefined,
    );
  }
  const unexpected = [...file.tensors.keys()].filter((n) => !used.has(n));
  if (strict) _checkExact(file, access, missing, unexpected);
  return { step, sources };
}

function _step(
  file: SafetensorsFile,
  need: "required" | "optional",
): number | undefined {
  const text = file.metadata.step;
  if (text === undefined && need === "optional") return undefined;
  const step = text !== undefined && /^(0|[1-9]\d*)$/.test(text)
    ? Number(text)
    : NaN;
  if (!(step < 2 ** 32)) {
    throw new SafetensorsError(
      `Expected ${
        _describe(file.path)
      } to hold the step count as metadata "step", a decimal integer from 0 to 2 ** 32 - 1, but found ${
        _describe(text)
      }`,
      { path: file.path },
    );
  }
  return step;
}

/** Checks a tensor's dtype and shape against the parameter it loads into. */
function _checkFits(
  file: SafetensorsFile,
  info: SafetensorsTensorInfo,
  slot: _CheckpointSlot,
): void {
  if (!READABLE.has(info.dtype)) {
    throw new SafetensorsError(
      `Expected tensor ${_describe(info.name)} of ${
        _describe(file.path)
      } to be F32, F16 or BF16 but found ${info.dtype}`,
      { path: file.path, tensor: info.name },
    );
  }
  const same = info.shape.length === slot.shape.length &&
    info.shape.every((d, i) => d === slot.shape[i]);
  if (!same) {
    throw new SafetensorsError(
      `Size mismatch for ${_describe(info.name)} of ${
        _describe(file.path)
      }: the file has shape ${_describe(info.shape)}, the engine's parameter ${
        _describe(slot.name)
      } has shape ${_describe(slot.shape)}`,
      { path: file.path, tensor: info.name },
    );
  }
}

/** Checks that two names of one tied parameter hold the same values. */
async function _checkSame(
  file: SafetensorsFile,
  first: string,
  other: string,
  slot: _CheckpointSlot,
): Promise<void> {
  const a = new Float32Array(Math.min(CHECK_CHUNK, slot.size));
  const b = new Float32Array(a.length);
  const aBits = new Uint32Array(a.buffer);
  const bBits = new Uint32Array(b.buffer);
  for (let start = 0; start < slot.size; start += a.length) {
    const count = Math.min(a.length, slot.size - start);
    await _readElements(file, first, start, a.subarray(0, count));
    await _readElements(file, other, start, b.subarray(0, count));
    for (let i = 0; i < count; i++) {
      if (aBits[i] === bBits[i]) continue;
      throw new SafetensorsError(
        `Expected the names ${_describe(first)} and ${
          _describe(other)
        } of one tied parameter in ${
          _describe(file.path)
        } to hold the same values but element ${start + i} is ${a[i]} and ${
          b[i]
        }`,
        { path: file.path, tensor: other },
      );
    }
  }
}

/** Checks a moment's values, a chunk at a time: finite, and >= 0 for a second moment. */
async function _checkMoment(
  file: SafetensorsFile,
  name: string,
  size: number,
  second: boolean,
): Promise<void> {
  const chunk = new Float32Array(Math.min(CHECK_CHUNK, Math.max(1, size)));
  for (let start = 0; start < size; start += chunk.length) {
    const values = chunk.subarray(0, Math.min(chunk.length, size - start));
    await _readElements(file, name, start, values);
    for (let i = 0; i < values.length; i++) {
      const value = values[i]!;
      if (Number.isFinite(value) && !(second && value < 0)) continue;
      throw new SafetensorsError(
        `Expected tensor ${_describe(name)} of ${
          _describe(file.path)
        } to hold ${
          second ? "finite values >= 0" : "finite values"
        } but found ${_describe(value)} at element ${start + i}`,
        { path: file.path, tensor: name },
      );
    }
  }
}

/** Missing and unexpected names, listed as PyTorch's `load_state_dict` lists them. */
function _checkExact(
  file: SafetensorsFile,
  access: _CheckpointAccess,
  missing: readonly string[],
  unexpected: readonly string[],
): void {
  if (missing.length === 0 && unexpected.length === 0) return;
  const list = (names: readonly string[]) =>
    names.slice(0, LISTED).map((n) => _describe(n)).join(", ") +
    (names.length > LISTED ? ` and ${names.length - LISTED} more` : "");
  const parts = [
    ...(missing.length === 0 ? [] : [`missing key(s): ${list(missing)}`]),
    ...(unexpected.length === 0
      ? []
      : [`unexpected key(s): ${list(unexpected)}`]),
  ];
  throw new SafetensorsError(
    `Expected ${
      _describe(file.path)
    } to hold exactly the tensors of the ${access.engine} but found ${
      parts.join("; ")
    } (pass { strict: false } to load what matches)`,
    { path: file.path },
  );
}
