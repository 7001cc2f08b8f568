// Copyright 2026 the weight-decay authors. MIT license.
// The GPT-2 medium layout of the big benchmarks, and resident memory from /proc (Linux).

import { Parameter } from "../mod.ts";

class Linear {
  weight: Parameter;
  bias: Parameter;
  constructor(inputs: number, outputs: number) {
    this.weight = zeros([inputs, outputs]);
    this.bias = zeros([outputs]);
  }
}
class LayerNorm {
  weight = zeros([1024]);
  bias = zeros([1024]);
}
class Embedding {
  weight: Parameter;
  constructor(count: number, width: number) {
    this.weight = zeros([count, width]);
  }
}

function zeros(shape: number[]): Parameter {
  return new Parameter(
    new Float32Array(shape.reduce((a, b) => a * b, 1)),
    shape,
  );
}

/** GPT-2 medium: 24 blocks of width 1024, a 50,257-token vocabulary; 355M parameters. */
export function gpt2Medium(): object {
  const block = () => ({
    ln_1: new LayerNorm(),
    attn: { c_attn: new Linear(1024, 3072), c_proj: new Linear(1024, 1024) },
    ln_2: new LayerNorm(),
    mlp: { c_fc: new Linear(1024, 4096), c_proj: new Linear(4096, 1024) },
  });
  return {
    wte: new Embedding(50257, 1024),
    wpe: new Embedding(1024, 1024),
    h: Array.from({ length: 24 }, block),
    ln_f: new LayerNorm(),
  };
}

/** Resident memory now and its peak since the last reset, in bytes. */
export function memory(): { rss: number; peak: number } {
  const status = Deno.readTextFileSync("/proc/self/status");
  const field = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)![1]) * 1024;
  return { rss: field("VmRSS"), peak: field("VmHWM") };
}

/** Resets the peak resident memory to the current one. */
export function resetPeak(): void {
  Deno.writeTextFileSync("/proc/self/clear_refs", "5");
}
