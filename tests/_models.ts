// Copyright 2026 the weight-decay authors. MIT license.
// Model fixtures shared by tests and benchmarks: a ResNet-50 with PyTorch's layer
// classes and parameter names, a model of many small tensors, and random groups.

import { Parameter, type ParamGroup } from "../mod.ts";

/** How a fixture fills its parameters. */
export type Fill = "zeros" | "random";

/** A deterministic generator (mulberry32), so failures can be replayed from a seed. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Values in [-1, 1) with random exponents, so products cover many binades. */
export function randomData(size: number, next: () => number): Float32Array {
  const data = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    data[i] = (next() * 2 - 1) * 2 ** Math.floor(next() * 8 - 4);
  }
  return data;
}

function makeParameter(
  shape: number[],
  fill: Fill,
  next: () => number,
): Parameter {
  const size = shape.reduce((a, b) => a * b, 1);
  return new Parameter(
    fill === "zeros" ? new Float32Array(size) : randomData(size, next),
    shape,
  );
}

export class Conv2d {
  weight: Parameter;
  constructor(
    out: number,
    inp: number,
    kernel: number,
    fill: Fill,
    next: () => number,
  ) {
    this.weight = makeParameter([out, inp, kernel, kernel], fill, next);
  }
}

export class BatchNorm2d {
  weight: Parameter;
  bias: Parameter;
  constructor(channels: number, fill: Fill, next: () => number) {
    this.weight = makeParameter([channels], fill, next);
    this.bias = makeParameter([channels], fill, next);
  }
}

export class Linear {
  weight: Parameter;
  bias: Parameter;
  constructor(out: number, inp: number, fill: Fill, next: () => number) {
    this.weight = makeParameter([out, inp], fill, next);
    this.bias = makeParameter([out], fill, next);
  }
}

export class Bottleneck {
  conv1: Conv2d;
  bn1: BatchNorm2d;
  conv2: Conv2d;
  bn2: BatchNorm2d;
  conv3: Conv2d;
  bn3: BatchNorm2d;
  downsample?: [Conv2d, BatchNorm2d];
  constructor(inp: number, width: number, fill: Fill, next: () => number) {
    const out = width * 4;
    this.conv1 = new Conv2d(width, inp, 1, fill, next);
    this.bn1 = new BatchNorm2d(width, fill, next);
    this.conv2 = new Conv2d(width, width, 3, fill, next);
    this.bn2 = new BatchNorm2d(width, fill, next);
    this.conv3 = new Conv2d(out, width, 1, fill, next);
    this.bn3 = new BatchNorm2d(out, fill, next);
    if (inp !== out) {
      this.downsample = [
        new Conv2d(out, inp, 1, fill, next),
        new BatchNorm2d(out, fill, next),
      ];
    }
  }
}

/** torchvision's ResNet-50: 161 parameter tensors, 25,557,032 values. */
export class ResNet50 {
  conv1: Conv2d;
  bn1: BatchNorm2d;
  layer1: Bottleneck[];
  layer2: Bottleneck[];
  layer3: Bottleneck[];
  layer4: Bottleneck[];
  fc: Linear;
  constructor(fill: Fill = "zeros", seed = 1) {
    const next = random(seed);
    this.conv1 = new Conv2d(64, 3, 7, fill, next);
    this.bn1 = new BatchNorm2d(64, fill, next);
    let inp = 64;
    const stage = (blocks: number, width: number) =>
      Array.from({ length: blocks }, () => {
        const block = new Bottleneck(inp, width, fill, next);
        inp = width * 4;
        return block;
      });
    this.layer1 = stage(3, 64);
    this.layer2 = stage(4, 128);
    this.layer3 = stage(6, 256);
    this.layer4 = stage(3, 512);
    this.fc = new Linear(1000, 2048, fill, next);
  }
}

/** `count` tensors of `size` values each, named `blocks.<i>.weight`, owned by a Linear-like block. */
export function manyTensors(
  count: number,
  size: number,
  fill: Fill = "zeros",
  seed = 1,
): {
  blocks: { weight: Parameter }[];
} {
  const next = random(seed);
  return {
    blocks: Array.from(
      { length: count },
      () => ({ weight: makeParameter([size], fill, next) }),
    ),
  };
}

/** The same parameters twice, as two independent sets of Parameter objects. */
export function twin(groups: ParamGroup[]): ParamGroup[] {
  return groups.map((g) => ({
    ...g,
    params: g.params.map((p) => new Parameter(p.data.slice(), p.shape)),
  }));
}

/** Groups of `count` tensors of random sizes, many of them not multiples of 4. */
export function randomGroups(
  count: number,
  maxSize: number,
  seed: number,
): ParamGroup[] {
  const next = random(seed);
  const groups: ParamGroup[] = [0.1, 0, 0.5, 1e-3].map((weightDecay) => ({
    weightDecay,
    params: [],
    names: [],
  }));
  for (let i = 0; i < count; i++) {
    const group = groups[Math.floor(next() * groups.length)]!;
    group.params.push(
      new Parameter(randomData(Math.floor(next() * maxSize), next)),
    );
    group.names.push(`t${i}`);
  }
  return groups;
}

/** Per parameter, random gradients whose sign moves the parameter away from zero. */
export function outwardGradients(
  params: readonly Parameter[],
  seed: number,
): Float32Array[] {
  const next = random(seed);
  return params.map((param) => {
    const grad = randomData(param.size, next);
    for (let i = 0; i < grad.length; i++) {
      const size = Math.abs(grad[i]!);
      grad[i] = param.data[i]! < 0 ? size : -size;
    }
    return grad;
  });
}
