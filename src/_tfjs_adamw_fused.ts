// Copyright 2026 the weight-decay authors. MIT license.
// TfjsAdamW's step on TensorFlow.js's webgpu backend: a GpuAdamW arena of the slots
// with gradients, with copies between it and the buffers the backend keeps tensors in.
// Per step, in one submission of its own: each gradient is copied in (and a variable
// whose data changed since the arena last matched it), one GpuAdamW pass runs, and each
// variable's new values are copied back into its own buffer. The moments and the step
// count stay in the arena until something else needs them in their tensors (another
// path, getWeights), which `flush` copies them into. It reads internals of
// @tensorflow/tfjs-backend-webgpu (checked against 4.22) as `_TfjsFusedPass` does; a
// step it cannot take this way is left to the per-variable path.

import type { _Tensor, _Tf, _Variable } from "./_tfjs_adamw_types.ts";
import type { _Active, _Slot } from "./_tfjs_adamw_slots.ts";
import type { _Piece } from "./_arena_layout.ts";
import type { ParamGroup } from "./groups.ts";
import type { AdamWOptions } from "./adamw.ts";
import type { _StepContext } from "./_tfjs_adamw_ops.ts";
import {
  type _GpuAdamWInternals,
  _gpuAdamWInternals,
  GpuAdamW,
} from "./gpu_adamw.ts";
import { Parameter } from "./parameter.ts";
import { _Lifecycle, _scoped } from "./_gpu.ts";
import { STATE_STEP } from "./decay_kernel.ts";
import {
  _absent,
  type _TensorData,
  type _WebGpuBackend,
} from "./_tfjs_fused.ts";

const LABEL = "weight-decay tfjs adamw";
/** Where a copy reads: a tensor's GPU buffer, or the values the backend holds on the CPU. */
type _Source = GPUBuffer | Float32Array | Int32Array;
/** Usage every buffer the path copies between needs. */
const COPY_USAGE = GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** A slot in the arena: where its values lie in each buffer set. */
interface _Member {
  readonly slot: _Slot;
  readonly pieces: readonly _Piece[];
}

/** A GpuAdamW over the slots with gradients, and what the arena last matched. */
interface _Engine {
  readonly backend: _WebGpuBackend;
  readonly adamw: GpuAdamW;
  readonly internals: _GpuAdamWInternals;
  readonly lifecycle: _Lifecycle;
  readonly members: readonly _Member[];
  /** The slot indexes it holds, joined: which steps it can take. */
  readonly signature: string;
  /**
   * Per member, the tensor data (`dataId`) the arena holds the values of, for its
   * variable and its moments; and the step count's. A tensor whose data is another was
   * assigned since, and is copied in again.
   */
  synced: { p?: object; m?: object; v?: object }[];
  step?: object;
}

/** A copy into the arena: from `source` into buffer set `set` at `member`'s pieces. */
interface _CopyIn {
  readonly source: _Source;
  readonly set: readonly GPUBuffer[];
  readonly member: _Member;
}

/** The fused path of one TfjsAdamW. */
export class _TfjsAdamWFused {
  readonly #groups: readonly { weightDecay: number; lrScale: number }[];
  readonly #options: AdamWOptions;
  #engine: _Engine | undefined;
  /** Whether the arena holds newer moments and step count than their tensors. */
  #ahead = false;
  /**
   * One per device the path ran on, kept across rebuilds: a failure reported after its
   * engine was replaced still makes every later call throw.
   */
  readonly #lifecycles = new Map<GPUDevice, _Lifecycle>();

  constructor(
    groups: readonly { weightDecay: number; lrScale: number }[],
    options: AdamWOptions,
  ) {
    this.#groups = groups;
    this.#options = options;
  }

  /**
   * @throws {Error} If the path's GPU work failed or its device was lost: the state it
   * holds can no longer be trusted.
   */
  check(): void {
    for (const lifecycle of this.#lifecycles.values()) lifecycle.check();
  }

  /**
   * Takes one step as one submission, after everything TensorFlow.js has recorded.
   *
   * @returns The step count after the step, when the host knows it (without
   * `skipNonFinite`); or undefined, having changed nothing, if a tensor of the step is
   * not in a GPU buffer of this backend (or its CPU copy): held by another backend, in
   * a texture, or of another dtype.
   * @throws {Error} If the GPU work failed before, or GpuAdamW refuses the step.
   */
  step(
    tf: _Tf,
    backend: _WebGpuBackend,
    context: _StepContext,
    lr: number,
  ): { readonly count: number | undefined } | undefined {
    const { active, step } = context;
    const signature = active.map(({ slot }) => slot.index).join(",");
    const reuse = this.#engine?.backend === backend &&
      this.#engine.signature === signature;
    // The tensors read: each variable and gradient, and, unless the arena is ahead of
    // them, the moments and the step count.
    const readsState = !(reuse && this.#ahead);
    const readable =
      active.every(({ slot, variable, grad }) =>
        _source(backend, variable, "float32") !== undefined &&
        _source(backend, grad, "float32") !== undefined &&
        (!readsState || (_source(backend, slot.m!, "float32") !== undefined &&
          _source(backend, slot.v!, "float32") !== undefined))
      ) && (!readsState || _source(backend, step, "int32") !== undefined);
    if (!readable) return undefined;
    if (!reuse) this.#rebuild(tf, backend, active, step);
    const engine = this.#engine!;
    engine.lifecycle.check();
    const { internals } = engine;
    const copies: _CopyIn[] = [];
    const synced: { p?: object; m?: object; v?: object }[] = [];
    engine.members.forEach((member, i) => {
      const { variable, grad, slot } = active[i]!;
      const was = engine.synced[i]!;
      const now = { ...was };
      synced.push(now);
      const copy = (tensor: _Tensor, set: readonly GPUBuffer[]) =>
        copies.push({
          source: _source(backend, tensor, "float32")!,
          set,
          member,
        });
      copy(grad, internals.grads);
      if (was.p !== variable.dataId) copy(variable, internals.params);
      if (this.#ahead) return;
      if (was.m !== slot.m!.dataId) copy(slot.m!, internals.firstMoments);
      if (was.v !== slot.v!.dataId) copy(slot.v!, internals.secondMoments);
      now.m = slot.m!.dataId;
      now.v = slot.v!.dataId;
    });
    const stepSource = !this.#ahead && engine.step !== step.dataId
      ? _source(backend, step, "int32")!
      : undefined;
    // Owning their data alone lets the variables be written in place; done before
    // TensorFlow.js's queue is flushed, which carries any upload this takes.
    const targets = active.map(({ variable }) =>
      _ownedBuffer(tf, backend, variable, "float32")
    );
    _flushTensorFlow(backend);
    const { device } = backend;
    const { error } = _scoped(device, () => {
      const encoder = device.createCommandEncoder({ label: `${LABEL} step` });
      for (const copy of copies) _copyIn(encoder, device.queue, copy);
      if (stepSource !== undefined) {
        _copyIn(encoder, device.queue, {
          source: stepSource,
          set: [internals.state],
          member: STEP_MEMBER,
        });
      }
      engine.adamw.encode(encoder, lr);
      engine.members.forEach(({ pieces }, i) => {
        for (const { shard, byteOffset, start, count } of pieces) {
          encoder.copyBufferToBuffer(
            internals.params[shard]!,
            byteOffset,
            targets[i]!,
            start * 4,
            count * 4,
          );
        }
      });
      device.queue.submit([encoder.finish()]);
    });
    engine.lifecycle.watch("step", error);
    active.forEach(({ variable }, i) => {
      _dropHostCopy(backend, variable);
      engine.synced[i] = { ...synced[i]!, p: variable.dataId };
    });
    engine.step = step.dataId;
    this.#ahead = true;
    const known = context.knownStep;
    return {
      count: this.#options.skipNonFinite || known === undefined
        ? undefined
        : known + 1,
    };
  }

  /**
   * Copies the moments and the step count from the arena into their tensors, if the
   * arena is ahead of them.
   *
   * @throws {Error} If the GPU work failed before, or a moment shares its data with
   * another tensor while the current backend is not the arena's (it cannot be given
   * data of its own there).
   */
  flush(tf: _Tf, step: _Variable): void {
    const engine = this.#engine;
    if (engine === undefined || !this.#ahead) return;
    engine.lifecycle.check();
    const { backend, internals, members } = engine;
    const owned = (tensor: _Tensor, dtype: "float32" | "int32") =>
      _ownedBuffer(tf, backend, tensor as _Variable, dtype);
    const targets = members.map(({ slot }) => ({
      m: owned(slot.m!, "float32"),
      v: owned(slot.v!, "float32"),
    }));
    const stepTarget = owned(step, "int32");
    _flushTensorFlow(backend);
    const { device } = backend;
    const { error } = _scoped(device, () => {
      const encoder = device.createCommandEncoder({ label: `${LABEL} flush` });
      members.forEach(({ pieces }, i) => {
        for (const { shard, byteOffset, start, count } of pieces) {
          encoder.copyBufferToBuffer(
            internals.firstMoments[shard]!,
            byteOffset,
            targets[i]!.m,
            start * 4,
            count * 4,
          );
          encoder.copyBufferToBuffer(
            internals.secondMoments[shard]!,
            byteOffset,
            targets[i]!.v,
            start * 4,
            count * 4,
          );
        }
      });
      encoder.copyBufferToBuffer(
        internals.state,
        STATE_STEP * 4,
        stepTarget,
        0,
        4,
      );
      device.queue.submit([encoder.finish()]);
    });
    engine.lifecycle.watch("flush", error);
    members.forEach(({ slot }, i) => {
      _dropHostCopy(backend, slot.m!);
      _dropHostCopy(backend, slot.v!);
      engine.synced[i]!.m = slot.m!.dataId;
      engine.synced[i]!.v = slot.v!.dataId;
    });
    _dropHostCopy(backend, step);
    engine.step = step.dataId;
    this.#ahead = false;
  }

  /**
   * Forgets the arena's moments and step count: their tensors were given new values
   * (`setWeights`), which the next step copies in.
   */
  discardState(): void {
    this.#ahead = false;
  }

  /** Frees the arena; the tensors stay TensorFlow.js's. */
  destroy(): void {
    this.#engine?.adamw.destroy();
    this.#engine = undefined;
    this.#ahead = false;
  }

  /** Builds the engine for `active` on `backend`, after bringing the old one's state home. */
  #rebuild(
    tf: _Tf,
    backend: _WebGpuBackend,
    active: readonly _Active[],
    step: _Variable,
  ): void {
    this.flush(tf, step);
    const parameters = new Map<_Slot, Parameter>();
    const groups = this.#groups.map((group): ParamGroup<Parameter> => ({
      weightDecay: group.weightDecay,
      lrScale: group.lrScale,
      params: [],
      names: [],
    }));
    for (const { slot } of active) {
      // Zeros, never read: the arena is filled by copies. A large Float32Array is
      // zero pages until written, so this costs little host memory.
      const parameter = new Parameter(new Float32Array(slot.size), slot.shape);
      parameters.set(slot, parameter);
      groups[slot.group]!.params.push(parameter);
      groups[slot.group]!.names.push(slot.name);
    }
    const { device } = backend;
    const adamw = GpuAdamW.create(device, groups, this.#options);
    const internals = _gpuAdamWInternals(adamw);
    this.#engine?.adamw.destroy();
    let lifecycle = this.#lifecycles.get(device);
    if (lifecycle === undefined) {
      lifecycle = new _Lifecycle(device, "TfjsAdamW");
      this.#lifecycles.set(device, lifecycle);
    }
    this.#engine = {
      backend,
      adamw,
      internals,
      lifecycle,
      members: active.map(({ slot }) => ({
        slot,
        pieces: internals.arena.slots.get(parameters.get(slot))!.pieces,
      })),
      signature: active.map(({ slot }) => slot.index).join(","),
      synced: active.map(() => ({})),
    };
    this.#ahead = false;
  }
}

/** The step count's one value, at the start of the engine state. */
const STEP_MEMBER: _Member = {
  slot: undefined!,
  pieces: [{ shard: 0, byteOffset: STATE_STEP * 4, start: 0, count: 1 }],
};

/** Where a copy can read the tensor's values, if the backend holds them usably. */
function _source(
  backend: _WebGpuBackend,
  tensor: _Tensor,
  dtype: "float32" | "int32",
): _Source | undefined {
  const data = _dataOf(backend, tensor, dtype);
  if (data === undefined) return undefined;
  const { resource, values } = data;
  if (_absent(resource)) {
    const Values = dtype === "float32" ? Float32Array : Int32Array;
    return values instanceof Values && values.length === tensor.size
      ? values
      : undefined;
  }
  return resource instanceof GPUBuffer &&
      (resource.usage & COPY_USAGE) === COPY_USAGE &&
      resource.size >= tensor.size * 4
    ? resource
    : undefined;
}

/** The backend's data of a tensor of `dtype`, if it holds it (real, not complex). */
function _dataOf(
  backend: _WebGpuBackend,
  tensor: _Tensor,
  dtype: string,
): _TensorData | undefined {
  if (!backend.tensorMap.has(tensor.dataId)) return undefined;
  const data = backend.tensorMap.get(tensor.dataId);
  return data.dtype === dtype && _absent(data.complexTensorInfos)
    ? data
    : undefined;
}

/**
 * The GPU buffer of a variable that may be written in place: its data held by it alone
 * in a buffer of the backend's. Data shared with another tensor (or the caller's, as
 * from `tf.tensor({ buffer })`) is replaced by new data of the variable's own first,
 * made on the current backend, which must then be `backend`; the caller has copied the
 * old values already, if it needs them.
 *
 * @throws {Error} If the data is shared and the current backend is another.
 */
function _ownedBuffer(
  tf: _Tf,
  backend: _WebGpuBackend,
  variable: _Variable,
  dtype: "float32" | "int32",
): GPUBuffer {
  let data = _dataOf(backend, variable, dtype);
  if (data === undefined || data.refCount !== 1 || data.external === true) {
    if (tf.backend() !== backend) {
      throw new Error(
        `TfjsAdamW cannot copy its state back from the WebGPU arena into a tensor that shares its data while the backend is ${tf.getBackend()}: switch back to the webgpu backend first`,
      );
    }
    tf.tidy(() => variable.assign(tf.zeros(variable.shape, dtype)));
    data = _dataOf(backend, variable, dtype)!;
  }
  if (_absent(data.resource)) backend.uploadToGPU(variable.dataId);
  return backend.tensorMap.get(variable.dataId).resource as GPUBuffer;
}

/** Submits what TensorFlow.js has recorded, so the step's own submission comes after it. */
function _flushTensorFlow(backend: _WebGpuBackend): void {
  if (backend.commandEncoder === null) return;
  backend.endComputePassEncoder();
  backend.submitQueue();
}

/** Drops the backend's CPU copy of a tensor the path wrote on the GPU: it is stale. */
function _dropHostCopy(backend: _WebGpuBackend, tensor: _Tensor): void {
  backend.tensorMap.get(tensor.dataId).values = null;
}

/** Records (or, from CPU values, queues) the copy of a tensor into the arena. */
function _copyIn(
  encoder: GPUCommandEncoder,
  queue: GPUQueue,
  { source, set, member }: _CopyIn,
): void {
  for (const { shard, byteOffset, start, count } of member.pieces) {
    if (source instanceof GPUBuffer) {
      encoder.copyBufferToBuffer(
        source,
        start * 4,
        set[shard]!,
        byteOffset,
        count * 4,
      );
    } else {
      queue.writeBuffer(
        set[shard]!,
        byteOffset,
        source as Float32Array<ArrayBuffer>,
        start,
        count,
      );
    }
  }
}
