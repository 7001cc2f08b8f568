// Copyright 2026 the weight-decay authors. MIT license.
// The fused path of TfjsDecay: one GpuDecay pass over the GPU buffers that the
// TensorFlow.js WebGPU backend keeps its variables in. It reads internals of
// @tensorflow/tfjs-backend-webgpu (checked against 4.22), found structurally, so a
// backend without them is simply not fused.

import type { DecayOptions } from "./decay_step.ts";
import type { ParamGroup } from "./groups.ts";
import type { VariableLike } from "./tfjs_types.ts";
import type { _CheckedGroup } from "./_check_groups.ts";
import { GpuDecay } from "./gpu_decay.ts";

/** What the backend keeps per tensor data (`TensorData` in tfjs-backend-webgpu). */
export interface _TensorData {
  readonly dtype: string;
  /** How many tensors share the data: in-place decay is safe only when it is 1. */
  readonly refCount: number;
  /** A CPU copy: the data itself until first uploaded, and a cache after a read. */
  values: unknown;
  /** The GPU copy: a `GPUBuffer`, a `GPUTexture`, or nothing before upload. */
  readonly resource?: unknown;
  /** True when the buffer is the caller's (`createTensorFromGPUData` zero-copy). */
  readonly external?: boolean;
  readonly complexTensorInfos?: unknown;
}

/** The parts of tfjs-backend-webgpu's `WebGPUBackend` the fused path uses. */
export interface _WebGpuBackend {
  readonly device: GPUDevice;
  readonly tensorMap: {
    has(dataId: object): boolean;
    get(dataId: object): _TensorData;
  };
  /** The encoder the backend records its kernels into; submitted in batches. */
  readonly commandEncoder: GPUCommandEncoder | null;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  /** Submits `commandEncoder` and releases what waited for that submit. */
  submitQueue(): void;
  /** Moves the data of a tensor held on the CPU into a GPU buffer. */
  uploadToGPU(dataId: object): void;
}

/** The backend, if it is TensorFlow.js's WebGPU backend as the fused path knows it. */
export function _asWebGpuBackend(backend: unknown): _WebGpuBackend | undefined {
  const candidate = backend as Partial<Record<keyof _WebGpuBackend, unknown>>;
  const tensorMap = candidate?.tensorMap as
    | Partial<_WebGpuBackend["tensorMap"]>
    | undefined;
  const device = candidate?.device as Partial<GPUDevice> | undefined;
  const usable = typeof device?.createBindGroup === "function" &&
    typeof tensorMap?.has === "function" &&
    typeof tensorMap.get === "function" &&
    "commandEncoder" in candidate &&
    typeof candidate.ensureCommandEncoderReady === "function" &&
    typeof candidate.endComputePassEncoder === "function" &&
    typeof candidate.submitQueue === "function" &&
    typeof candidate.uploadToGPU === "function";
  return usable ? backend as _WebGpuBackend : undefined;
}

/**
 * Decays the variables in place with one `GpuDecay.fromBuffers` pass. The engine binds
 * the buffers it was built with, and TensorFlow.js gives a variable a new buffer on
 * every `assign` (so every optimizer step), so each step compares the buffers and
 * rebuilds the engine when one changed.
 */
export class _TfjsFusedPass {
  /** The groups as the pass decays them: without variables that never change. */
  readonly #groups: readonly _CheckedGroup<VariableLike>[];
  readonly #options: DecayOptions | undefined;
  readonly #variables: readonly VariableLike[];
  #engine: GpuDecay | undefined;
  #device: GPUDevice | undefined;
  /** Per variable, the buffer the engine binds. */
  #bound: readonly GPUBuffer[] = [];

  constructor(
    groups: readonly _CheckedGroup<VariableLike>[],
    options: DecayOptions | undefined,
  ) {
    this.#groups = groups.map((group) => {
      const kept = (_: unknown, i: number) =>
        group.weightDecay !== 0 && group.params[i]!.size > 0;
      return {
        weightDecay: group.weightDecay,
        lrScale: group.lrScale,
        params: group.params.filter(kept),
        names: group.names.filter(kept),
        aliases: group.aliases.filter(kept),
      };
    });
    this.#options = options;
    this.#variables = this.#groups.flatMap((g) => g.params);
  }

  /**
   * Applies one step as one pass, after the work TensorFlow.js has recorded so far.
   *
   * @returns False, having changed nothing, when a variable's data cannot be decayed in
   * place: it is shared with another tensor, held by another backend or in a texture,
   * or is a buffer the backend does not own.
   */
  step(backend: _WebGpuBackend, lr: number): boolean {
    const data: _TensorData[] = [];
    for (const variable of this.#variables) {
      const found = _inPlaceData(backend, variable);
      if (found === undefined) return false;
      data.push(found);
    }
    this.#variables.forEach((variable, i) => {
      if (_absent(data[i]!.resource)) backend.uploadToGPU(variable.dataId);
    });
    const engine = this.#engineFor(
      backend.device,
      data.map((d) => d.resource as GPUBuffer),
    );
    // A copy read back earlier would go stale; the buffer is the truth from now on.
    for (const d of data) d.values = null;
    backend.ensureCommandEncoderReady();
    backend.endComputePassEncoder();
    engine.encode(backend.commandEncoder!, lr);
    backend.submitQueue();
    return true;
  }

  /** Frees the engine's own buffers; the variables' buffers stay the backend's. */
  destroy(): void {
    this.#engine?.destroy();
    this.#engine = undefined;
    this.#bound = [];
  }

  #engineFor(device: GPUDevice, buffers: readonly GPUBuffer[]): GpuDecay {
    if (
      this.#engine !== undefined && device === this.#device &&
      buffers.every((buffer, i) => buffer === this.#bound[i])
    ) {
      return this.#engine;
    }
    let next = 0;
    const groups = this.#groups.map((group): ParamGroup<GPUBufferBinding> => ({
      weightDecay: group.weightDecay,
      lrScale: group.lrScale,
      params: group.params.map((variable) => ({
        buffer: buffers[next++]!,
        offset: 0,
        size: variable.size * 4,
      })),
      names: [...group.names],
    }));
    const engine = GpuDecay.fromBuffers(device, groups, this.#options);
    this.#engine?.destroy();
    this.#engine = engine;
    this.#device = device;
    this.#bound = buffers;
    return engine;
  }
}

/** The variable's data, if the pass may scale it in place. */
function _inPlaceData(
  backend: _WebGpuBackend,
  variable: VariableLike,
): _TensorData | undefined {
  const { dataId } = variable;
  if (!backend.tensorMap.has(dataId)) return undefined;
  const data = backend.tensorMap.get(dataId);
  if (
    data.refCount !== 1 || data.external === true || data.dtype !== "float32" ||
    !_absent(data.complexTensorInfos)
  ) {
    return undefined;
  }
  const { resource } = data;
  if (_absent(resource)) return _absent(data.values) ? undefined : data;
  return resource instanceof GPUBuffer &&
      (resource.usage & GPUBufferUsage.STORAGE) !== 0 &&
      resource.size >= variable.size * 4
    ? data
    : undefined;
}

/** TensorFlow.js leaves fields unset as null or undefined, interchangeably. */
export function _absent(value: unknown): value is null | undefined {
  return value === null || value === undefined;
}
