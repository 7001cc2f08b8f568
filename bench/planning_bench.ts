// Copyright 2026 the weight-decay authors. MIT license.
/**
 * What planning costs, timed alone (no baseline): `GpuDecay.fromBuffers` over 100,000
 * small caller-owned buffers (made once), and the `namedParameters` walk of a
 * 100,000-deep chain and of a 200-layer graph where each layer lists every earlier one
 * as its input (a walk that does not remember what it met would take 2^200 steps).
 * Run by `deno task bench`.
 *
 * @module
 */

import { GpuDecay, namedParameters, Parameter } from "../mod.ts";
import type { Section } from "./_harness.ts";

const BUFFERS = 100_000;
/** Floats per buffer: a bias or a small norm. */
const FLOATS = 64;
const DEPTH = 100_000;
const LAYERS = 200;

/** The planning comparisons: one timed variant each. */
export const planningSection: Section = {
  name: "Planning",
  async *comparisons({ device }) {
    const buffers = Array.from(
      { length: BUFFERS },
      (_, i) =>
        device.createBuffer({
          label: `bench small buffer ${i}`,
          size: FLOATS * 4,
          usage: GPUBufferUsage.STORAGE,
        }),
    );
    // Two groups, as weights and biases would be, so the plan has two ranges of chunks.
    const groups = [0.05, 1e-4].map((weightDecay, g) => ({
      weightDecay,
      lrScale: 1,
      params: buffers.filter((_, i) => i % 2 === g),
      names: [],
    }));
    const name = "GpuDecay.fromBuffers, then destroy";
    yield {
      title: `GpuDecay.fromBuffers over ${
        BUFFERS.toLocaleString("en-US")
      } buffers of ${FLOATS} floats, 2 groups`,
      timer: { kind: "host", minMs: 0 },
      variants: [{
        name,
        step: () => GpuDecay.fromBuffers(device, groups).destroy(),
      }],
      figures: [{
        label: "fromBuffers",
        candidate: name,
        goal: { belowMs: 2000 },
      }],
      destroy: () => buffers.forEach((buffer) => buffer.destroy()),
    };
    yield walk(
      `namedParameters, a chain ${DEPTH.toLocaleString("en-US")} deep`,
      chain(),
    );
    yield walk(
      `namedParameters, ${LAYERS} layers, each listing every earlier layer`,
      graph(),
    );
  },
};

function walk(title: string, model: object) {
  const name = "namedParameters";
  return {
    title,
    timer: { kind: "host", minMs: 100 } as const,
    variants: [{ name, step: () => void namedParameters(model) }],
    figures: [{ label: "namedParameters", candidate: name }],
  };
}

/** `{ weight, next: { weight, next: ... } }`, a parameter at every level. */
function chain(): object {
  let node: object = { weight: new Parameter([1]) };
  for (let i = 1; i < DEPTH; i++) {
    node = { weight: new Parameter([1]), next: node };
  }
  return node;
}

/** Layer i holds a weight, a bias and `inputs`: layers 0 to i - 1. */
function graph(): object {
  const layers: { weight: Parameter; bias: Parameter; inputs: object[] }[] = [];
  for (let i = 0; i < LAYERS; i++) {
    layers.push({
      weight: new Parameter(new Float32Array(16)),
      bias: new Parameter(new Float32Array(4)),
      inputs: [...layers],
    });
  }
  return { layers };
}
