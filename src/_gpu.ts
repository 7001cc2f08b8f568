// Copyright 2026 the weight-decay authors. MIT license.
// WebGPU plumbing shared by the GPU engines: kernels cached per device, the lifecycle
// (destroyed, device lost, a failed submission) that every public call checks, the
// error scopes around the engine's own GPU work, and reading ranges back.

import { _causeMessage, _clip, _describe } from "./_describe.ts";

/** A compiled kernel and the layout of its one bind group. */
export interface _Kernel {
  readonly layout: GPUBindGroupLayout;
  readonly pipeline: GPUComputePipeline;
}

// Weakly keyed, so a device can be destroyed or lost and collected with its kernels.
const _kernels = new WeakMap<GPUDevice, Map<string, unknown>>();

/**
 * The object `key` for `device` (a kernel, a constant buffer), built by `build` the
 * first time it is asked for.
 */
export function _cachedKernel<T = _Kernel>(
  device: GPUDevice,
  key: string,
  build: (device: GPUDevice) => T,
): T {
  let cache = _kernels.get(device);
  if (cache === undefined) _kernels.set(device, cache = new Map());
  let kernel = cache.get(key) as T | undefined;
  if (kernel === undefined) cache.set(key, kernel = build(device));
  return kernel;
}

/** One binding of a kernel's bind group. */
export interface _BindingSpec {
  readonly type: GPUBufferBindingType;
  /** Bound with a dynamic offset (per-step values). */
  readonly dynamic?: boolean;
}

/** Bindings of these types, in order, none dynamic. */
export function _bindings(
  ...types: readonly GPUBufferBindingType[]
): _BindingSpec[] {
  return types.map((type) => ({ type }));
}

/**
 * Builds a compute kernel from WGSL whose one bind group holds `bindings` in order,
 * numbered from 0.
 *
 * @param entryPoint The name of the kernel's compute entry point.
 */
export function _buildKernel(
  device: GPUDevice,
  label: string,
  code: string,
  bindings: readonly _BindingSpec[],
  entryPoint: string,
): _Kernel {
  const layout = device.createBindGroupLayout({
    label: `${label} bind group layout`,
    entries: bindings.map(({ type, dynamic = false }, binding) => ({
      binding,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type, hasDynamicOffset: dynamic },
    })),
  });
  const module = device.createShaderModule({ label: `${label} shader`, code });
  const pipeline = device.createComputePipeline({
    label: `${label} pipeline`,
    layout: device.createPipelineLayout({
      label: `${label} pipeline layout`,
      bindGroupLayouts: [layout],
    }),
    compute: { module, entryPoint },
  });
  return { layout, pipeline };
}

/**
 * Checks that `device` looks like a `GPUDevice`.
 *
 * @throws {TypeError} If it does not.
 */
export function _checkDevice(device: unknown): asserts device is GPUDevice {
  const candidate = device as Partial<GPUDevice> | null | undefined;
  if (
    typeof candidate?.createBuffer !== "function" ||
    typeof candidate.queue !== "object"
  ) {
    throw new TypeError(`Expected a GPUDevice but found ${_describe(device)}`);
  }
}

/** The error filters every scope of the engine's own GPU work opens, innermost last. */
const SCOPES: readonly GPUErrorFilter[] = [
  "internal",
  "out-of-memory",
  "validation",
];

/**
 * Runs `work` (GPU calls only, no awaits) inside validation, out-of-memory and internal
 * error scopes, so that errors it causes reach the engine instead of the caller's
 * scopes or the void.
 *
 * @returns What `work` returns, and a promise of the first GPU error it caused (or null).
 */
export function _scoped<T>(
  device: GPUDevice,
  work: () => T,
): { result: T; error: Promise<GPUError | null> } {
  for (const filter of SCOPES) device.pushErrorScope(filter);
  const pop = () => SCOPES.map(() => device.popErrorScope());
  let result: T;
  try {
    result = work();
  } catch (thrown) {
    // Popped even when work throws, so the device's scope stack stays balanced.
    for (const popped of pop()) popped.catch(() => {});
    throw thrown;
  }
  const error = Promise.all(pop()).then((errors) =>
    errors.find((e) => e !== null) ?? null
  );
  return { result, error };
}

/**
 * Tracks whether an engine may still be used: not destroyed, its device not lost, and
 * none of its own GPU work rejected. The last two are sticky, like a lost device: every
 * later call throws the error.
 */
export class _Lifecycle {
  readonly #name: string;
  #destroyed = false;
  #failure: Error | undefined;
  readonly #whenFailed: Promise<never>;
  readonly #lostPromise: Promise<GPUDeviceLostInfo>;
  #fail!: (error: Error) => void;

  constructor(device: GPUDevice, name: string) {
    this.#name = name;
    this.#whenFailed = new Promise<never>((_, reject) => {
      this.#fail = reject;
    });
    // Reads race against this promise; nobody else awaits it.
    this.#whenFailed.catch(() => {});
    this.#lostPromise = device.lost;
    device.lost.then((info) =>
      this.#record(
        new Error(
          `${name} cannot run: its GPU device was lost (reason: ${info.reason}${
            info.message ? `, ${_causeMessage(info.message)}` : ""
          })`,
        ),
      )
    );
  }

  /** Resolves true once the device is lost, or false after a macrotask. */
  lostSoon(): Promise<boolean> {
    return Promise.race([
      this.#lostPromise.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 0)),
    ]);
  }

  /** Marks the engine destroyed; returns false if it already was. */
  destroy(): boolean {
    if (this.#destroyed) return false;
    this.#destroyed = true;
    return true;
  }

  /**
   * @throws {Error} If the engine was destroyed, its device lost, or its GPU work failed.
   */
  check(): void {
    if (this.#destroyed) throw new Error(`${this.#name} has been destroyed`);
    if (this.#failure !== undefined) throw this.#failure;
  }

  /**
   * Makes the engine fail from now on, because `operation` failed on the GPU.
   *
   * @returns The error every later call throws.
   */
  fail(operation: string, cause: unknown): Error {
    const error = new Error(
      `${this.#name}.${operation} failed on the GPU, so the engine can no longer be trusted and refuses every call: ${
        cause instanceof GPUError || typeof cause === "string"
          ? _clip(typeof cause === "string" ? cause : cause.message)
          : _causeMessage(cause)
      }`,
      { cause },
    );
    return this.#record(error);
  }

  /** Watches the GPU error of the engine's own `operation`: the next call throws it. */
  watch(operation: string, error: Promise<GPUError | null>): void {
    error.then((found) => {
      if (found !== null) this.fail(operation, found);
    });
  }

  /** Settles like `promise`, or rejects with the engine's failure if it fails first. */
  race<T>(promise: Promise<T>): Promise<T> {
    return Promise.race([promise, this.#whenFailed]);
  }

  #record(error: Error): Error {
    if (this.#failure === undefined) {
      this.#failure = error;
      this.#fail(error);
    }
    return this.#failure;
  }
}

/** A byte range of a GPU buffer to read. */
export interface _Range {
  readonly buffer: GPUBuffer;
  readonly offset: number;
  readonly size: number;
}

/**
 * Reads byte ranges back to the host in one submit and one map.
 *
 * @returns The ranges' bytes, concatenated.
 * @throws {Error} As {@linkcode _readBack} does.
 */
export async function _readRanges(
  device: GPUDevice,
  lifecycle: _Lifecycle,
  ranges: readonly _Range[],
  label: string,
  operation: string,
): Promise<ArrayBuffer> {
  let result = new ArrayBuffer(0);
  await _readBack(device, lifecycle, [ranges], label, operation, (bytes) => {
    result = bytes.slice(0);
  });
  return result;
}

/**
 * Reads lists of byte ranges back to the host: each list into a staging buffer of its
 * own, all copied in one submit inside error scopes, so they show one moment of the
 * queue even when more work is submitted while waiting; then maps the staging buffers
 * one at a time. Nothing is handed to `each` before every copy is known to have
 * succeeded: a failed copy rejects, and makes the engine fail.
 *
 * @param each Gets each list's bytes, concatenated, with its index; the bytes are
 * valid only until the call (or the promise it returns) ends. Lists without bytes are
 * skipped.
 * @throws {Error} If a copy fails on the GPU (a destroyed or foreign buffer), the device
 * is lost before a map completes, or the engine failed before.
 */
export async function _readBack(
  device: GPUDevice,
  lifecycle: _Lifecycle,
  lists: readonly (readonly _Range[])[],
  label: string,
  operation: string,
  each: (bytes: ArrayBuffer, index: number) => void | Promise<void>,
): Promise<void> {
  const sizes = lists.map((ranges) =>
    ranges.reduce((bytes, range) => bytes + range.size, 0)
  );
  if (sizes.every((size) => size === 0)) return;
  const { result: stagings, error } = _scoped(device, () => {
    const stagings = sizes.map((size, i) =>
      size === 0 ? undefined : device.createBuffer({
        label: `${label} staging ${i}`,
        size,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      })
    );
    const encoder = device.createCommandEncoder({ label: `${label} copy` });
    lists.forEach((ranges, i) => {
      let at = 0;
      for (const { buffer, offset, size } of ranges) {
        if (size === 0) continue;
        encoder.copyBufferToBuffer(buffer, offset, stagings[i]!, at, size);
        at += size;
      }
    });
    device.queue.submit([encoder.finish()]);
    return stagings;
  });
  try {
    const failed = await lifecycle.race(error);
    if (failed !== null) throw await _failure(lifecycle, operation, failed);
    for (const [i, staging] of stagings.entries()) {
      if (staging === undefined) continue;
      try {
        await lifecycle.race(staging.mapAsync(GPUMapMode.READ));
      } catch (cause) {
        throw await _failure(lifecycle, operation, cause);
      }
      lifecycle.check();
      await each(staging.getMappedRange(), i);
      // Freed as soon as it is read, so at most one mapped copy is alive at a time.
      staging.destroy();
      stagings[i] = undefined;
    }
  } finally {
    for (const staging of stagings) staging?.destroy();
  }
}

/**
 * The error of a failed read: the device's loss if it was lost meanwhile (which fails
 * every copy and map), else the engine's failure for `cause`.
 */
async function _failure(
  lifecycle: _Lifecycle,
  operation: string,
  cause: unknown,
): Promise<unknown> {
  await lifecycle.lostSoon();
  try {
    lifecycle.check();
  } catch (error) {
    return error;
  }
  return lifecycle.fail(operation, cause);
}
