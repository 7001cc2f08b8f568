// Copyright 2026 the weight-decay authors. MIT license.
// WebGPU plumbing shared by the GPU engines: kernels cached per device, the lifecycle
// (destroyed, device lost) that every public call checks, and reading ranges back.

import { _describe } from "./_describe.ts";

/** A compiled kernel and the layout of its one bind group. */
export interface _Kernel {
  readonly layout: GPUBindGroupLayout;
  readonly pipeline: GPUComputePipeline;
}

// Weakly keyed, so a device can be destroyed or lost and collected with its kernels.
const _kernels = new WeakMap<GPUDevice, Map<string, _Kernel>>();

/**
 * The kernel `key` for `device`, built by `build` the first time it is asked for.
 */
export function _cachedKernel(
  device: GPUDevice,
  key: string,
  build: (device: GPUDevice) => _Kernel,
): _Kernel {
  let cache = _kernels.get(device);
  if (cache === undefined) _kernels.set(device, cache = new Map());
  let kernel = cache.get(key);
  if (kernel === undefined) cache.set(key, kernel = build(device));
  return kernel;
}

/**
 * Builds a compute kernel from WGSL whose bind group holds, in order: the chunk table
 * (read-only storage), the step's values (read-only storage, dynamic offset), then one
 * storage buffer per entry of `values`, of that type.
 *
 * @param entryPoint The name of the kernel's compute entry point.
 */
export function _buildKernel(
  device: GPUDevice,
  label: string,
  code: string,
  values: readonly GPUBufferBindingType[],
  entryPoint: string,
): _Kernel {
  const entries: GPUBindGroupLayoutEntry[] = [
    {
      binding: 0,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type: "read-only-storage" },
    },
    {
      binding: 1,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type: "read-only-storage", hasDynamicOffset: true },
    },
  ];
  values.forEach((type, b) =>
    entries.push({
      binding: b + 2,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type },
    })
  );
  const layout = device.createBindGroupLayout({
    label: `${label} bind group layout`,
    entries,
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

/**
 * Tracks whether an engine may still be used: not destroyed, and its device not lost.
 */
export class _Lifecycle {
  readonly #name: string;
  #destroyed = false;
  #lost: GPUDeviceLostInfo | undefined;
  readonly #whenLost: Promise<never>;

  constructor(device: GPUDevice, name: string) {
    this.#name = name;
    this.#whenLost = device.lost.then((info) => {
      this.#lost = info;
      throw this.#lostError();
    });
    // Reads race against this promise; nobody else awaits it.
    this.#whenLost.catch(() => {});
  }

  /** Marks the engine destroyed; returns false if it already was. */
  destroy(): boolean {
    if (this.#destroyed) return false;
    this.#destroyed = true;
    return true;
  }

  /**
   * @throws {Error} If the engine was destroyed or its device lost.
   */
  check(): void {
    if (this.#destroyed) throw new Error(`${this.#name} has been destroyed`);
    if (this.#lost !== undefined) throw this.#lostError();
  }

  /** Settles like `promise`, or rejects with the device-lost error if the device is lost first. */
  race<T>(promise: Promise<T>): Promise<T> {
    return Promise.race([promise, this.#whenLost]);
  }

  #lostError(): Error {
    const info = this.#lost!;
    return new Error(
      `${this.#name} cannot run: its GPU device was lost (reason: ${info.reason}${
        info.message ? `, ${info.message}` : ""
      })`,
    );
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
 * @throws {Error} If the device is lost before the map completes.
 */
export async function _readRanges(
  device: GPUDevice,
  lifecycle: _Lifecycle,
  ranges: readonly _Range[],
  label: string,
): Promise<ArrayBuffer> {
  let result = new ArrayBuffer(0);
  await _readBack(device, lifecycle, [ranges], label, (bytes) => {
    result = bytes.slice(0);
  });
  return result;
}

/**
 * Reads lists of byte ranges back to the host: each list into a staging buffer of its
 * own, all copied in one submit, so they show one moment of the queue even when more
 * work is submitted while waiting; then maps the staging buffers one at a time.
 *
 * @param each Gets each list's bytes, concatenated, with its index; the bytes are
 * valid only during the call. Lists without bytes are skipped.
 * @throws {Error} If the device is lost before a map completes.
 */
export async function _readBack(
  device: GPUDevice,
  lifecycle: _Lifecycle,
  lists: readonly (readonly _Range[])[],
  label: string,
  each: (bytes: ArrayBuffer, index: number) => void,
): Promise<void> {
  const sizes = lists.map((ranges) =>
    ranges.reduce((bytes, range) => bytes + range.size, 0)
  );
  if (sizes.every((size) => size === 0)) return;
  const stagings = sizes.map((size, i) =>
    size === 0 ? undefined : device.createBuffer({
      label: `${label} staging ${i}`,
      size,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    })
  );
  try {
    const encoder = device.createCommandEncoder({ label: `${label} copy` });
    lists.forEach((ranges, i) => {
      let at = 0;
      for (const { buffer, offset, size } of ranges) {
        encoder.copyBufferToBuffer(buffer, offset, stagings[i]!, at, size);
        at += size;
      }
    });
    device.queue.submit([encoder.finish()]);
    for (const [i, staging] of stagings.entries()) {
      if (staging === undefined) continue;
      await lifecycle.race(staging.mapAsync(GPUMapMode.READ));
      lifecycle.check();
      each(staging.getMappedRange(), i);
      // Freed as soon as it is read, so at most one mapped copy is alive at a time.
      staging.destroy();
      stagings[i] = undefined;
    }
  } finally {
    for (const staging of stagings) staging?.destroy();
  }
}
