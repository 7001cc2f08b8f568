// Copyright 2026 the weight-decay authors. MIT license.
/**
 * TfjsDecay on TensorFlow.js's webgpu backend, on an MLP of 12 dense + layer
 * normalization blocks of width 64 (48 variables):
 *
 * - its fused pass against its per-variable path (`tf.mul` + `assign` per variable);
 * - the *rebuild*: in training every optimizer step gives each variable a new buffer
 *   (`assign`), so the next decay step finds new buffers and rebuilds its fused pass
 *   over them. Timed on the host, around `TfjsDecay.step` only: after an assign, against
 *   after the same ops with their results dropped (the buffers unchanged).
 *
 * TensorFlow.js is loaded only when this section runs. Run by `deno task bench`.
 *
 * @module
 */

import { getParamGroups, NORM_TYPES, type ParamGroup } from "../mod.ts";
import { TfjsDecay, tfjsNamedParameters } from "../tfjs.ts";
import type * as tfjs from "@tensorflow/tfjs-core";
import type { Comparison, Section } from "./_harness.ts";

/** Every group decays, so both paths touch every variable. */
const POLICY = [[1e-5, "bias"], [5e-5, NORM_TYPES], 1e-4] as const;
const BLOCKS = 12;
const WIDTH = 64;
const LR = 1e-3;
const MODEL =
  `the model: an MLP of ${BLOCKS} dense + layer normalization blocks of width ${WIDTH}, from tests/_tfjs.ts`;
const PER_VARIABLE = "TfjsDecay per-variable (tf.mul + assign)";
const FUSED = "TfjsDecay fused (one pass)";
const UNCHANGED = "TfjsDecay.step, buffers unchanged";
const NEW_BUFFERS = "TfjsDecay.step after an assign (new buffers: rebuilds)";

type Tf = typeof tfjs;
type Variable = tfjs.Variable;

/** The internals of tfjs-backend-webgpu 4.22 the benchmark reads. */
interface WebGpuBackend {
  device: GPUDevice;
  commandEncoder: GPUCommandEncoder | null;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

/** TensorFlow.js on its webgpu backend, as a GPU timer needs it. */
export interface TfjsWebGpu {
  readonly tf: Tf;
  /** The test models of `tests/_tfjs.ts`. */
  readonly models: typeof import("../tests/_tfjs.ts");
  /** The backend's device: the timer's device. */
  readonly device: GPUDevice;
  /** Submits what the backend still holds: the timer's `flush`. */
  readonly flush: () => void;
}

/**
 * Loads TensorFlow.js (only when called, so that other sections never load it) and
 * switches it to its webgpu backend.
 *
 * @returns The namespace, the test models, the backend's device and a flush.
 * @throws {Error} If the webgpu backend cannot start.
 */
export async function tfjsWebGpu(): Promise<TfjsWebGpu> {
  const models = await import("../tests/_tfjs.ts");
  const { tf } = models;
  if (!await tf.setBackend("webgpu")) {
    throw new Error('tf.setBackend("webgpu") failed');
  }
  const backend = tf.backend() as unknown as WebGpuBackend;
  return {
    tf,
    models,
    device: backend.device,
    // What tfjs does before it submits: end the compute pass its ops left open.
    flush() {
      if (backend.commandEncoder === null) return;
      backend.endComputePassEncoder();
      backend.submitQueue();
    },
  };
}

/** The TensorFlow.js comparisons, on its webgpu backend. */
export const tfjsSection: Section = {
  name: "TensorFlow.js",
  async *comparisons() {
    const { tf, models: { deepModel }, device, flush } = await tfjsWebGpu();
    const modelGroups = () =>
      uploaded(
        tf,
        getParamGroups(
          tfjsNamedParameters<Variable>(deepModel(BLOCKS, WIDTH)),
          POLICY,
        ),
      );
    const title = `${BLOCKS * 4} variables on the webgpu backend`;
    yield paths(tf, device, flush, modelGroups, title);
    yield rebuild(tf, device, flush, modelGroups(), title);
  },
};

/**
 * The groups, with every variable's data moved to the GPU, where the first training
 * step puts it: tfjs runs an op on the CPU while all its inputs are small and there.
 */
function uploaded(tf: Tf, groups: ParamGroup<Variable>[]) {
  const upload = new TfjsDecay(tf, groups);
  upload.step(LR);
  upload.destroy();
  return groups;
}

function paths(
  tf: Tf,
  device: GPUDevice,
  flush: () => void,
  modelGroups: () => ParamGroup<Variable>[],
  title: string,
): Comparison {
  const perVariable = new TfjsDecay(tf, modelGroups(), { fused: false });
  const fused = new TfjsDecay(tf, modelGroups());
  return {
    title: `${title}: fused or per-variable`,
    timer: { kind: "gpu", device, steps: 32, flush },
    repetitions: 9,
    variants: [
      { name: PER_VARIABLE, step: () => perVariable.step(LR) },
      { name: FUSED, step: () => fused.step(LR) },
    ],
    figures: [{ label: "fused", candidate: FUSED, baseline: PER_VARIABLE }],
    notes: [
      MODEL,
      "K steps, then what TensorFlow.js still holds is submitted, then one wait",
    ],
    destroy() {
      perVariable.destroy();
      fused.destroy();
    },
  };
}

function rebuild(
  tf: Tf,
  device: GPUDevice,
  flush: () => void,
  groups: ParamGroup<Variable>[],
  title: string,
): Comparison {
  const decay = new TfjsDecay(tf, groups);
  const variables = groups.flatMap((g) => g.params);
  // What an optimizer does: a new value per variable, from an op on the variable.
  const update = (assign: boolean) => () =>
    tf.tidy(() => {
      const zero = tf.scalar(0);
      for (const variable of variables) {
        const value = tf.add(variable, zero);
        if (assign) variable.assign(value);
      }
    });
  const step = () => {
    decay.step(LR);
    if (decay.lastPath !== "fused") {
      throw new Error(`TfjsDecay took the ${decay.lastPath} path, not fused`);
    }
  };
  return {
    title: `${title}: rebuilding the fused pass`,
    timer: {
      kind: "host",
      minMs: 300,
      settle: async () => {
        flush();
        await device.queue.onSubmittedWorkDone();
      },
    },
    repetitions: 9,
    variants: [
      { name: UNCHANGED, step, before: update(false) },
      { name: NEW_BUFFERS, step, before: update(true) },
    ],
    figures: [
      {
        label: "a step that rebuilds",
        candidate: NEW_BUFFERS,
        baseline: UNCHANGED,
      },
      {
        label: "the rebuild",
        candidate: NEW_BUFFERS,
        baseline: UNCHANGED,
        terms: "extra",
      },
      { label: "a step that rebuilds", candidate: NEW_BUFFERS },
      { label: "a step with the same buffers", candidate: UNCHANGED },
    ],
    notes: [
      MODEL,
      "host time of TfjsDecay.step alone; before each step, untimed, tf.add(variable, 0) per variable, assigned or dropped",
    ],
    destroy: () => decay.destroy(),
  };
}
