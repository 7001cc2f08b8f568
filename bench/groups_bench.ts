// Copyright 2026 the weight-decay authors. MIT license.
/**
 * What many groups cost: timm's layer-wise lr decay on a ViT-B/16 gives 28 groups
 * (14 layers, each with and without weight decay); the same fused step with 3 groups
 * over the same bytes should be no faster. The parameters are timm's
 * `vit_base_patch16_224` names (from the layer-decay fixture) with their real shapes.
 * Run by `deno task bench`.
 *
 * @module
 */

import {
  getParamGroups,
  GpuAdamW,
  GpuDecay,
  type GroupPolicy,
  type LayerDecay,
  type NamedParameter,
  Parameter,
  type ParamGroup,
} from "../mod.ts";
import type { Comparison, Section } from "./_harness.ts";

const LR = 1e-3;
/** No decay for biases and norms, as timm's `param_groups_weight_decay` has it. */
const WEIGHT_DECAY = [[0, "bias"], [0, "(?:^|\\.)norm\\d?\\."], 0.05] as const;
/** Three groups, decaying the same tensors: the stem apart. */
const THREE_GROUPS = [
  [0, "bias"],
  [0, "(?:^|\\.)norm\\d?\\."],
  [0.01, "^(?:cls_token|pos_embed|patch_embed)"],
  0.05,
] as const;

const EMBED = 768;
const MLP = 3072;
const PATCH = 16;
const TOKENS = 197;
const CLASSES = 1000;

/** Shapes of ViT-B/16's parameters by name pattern; blocks are all alike. */
const SHAPES: readonly (readonly [RegExp, readonly number[]])[] = [
  [/^cls_token$/, [1, 1, EMBED]],
  [/^pos_embed$/, [1, TOKENS, EMBED]],
  [/^patch_embed\.proj\.weight$/, [EMBED, 3, PATCH, PATCH]],
  [/\.attn\.qkv\.weight$/, [3 * EMBED, EMBED]],
  [/\.attn\.qkv\.bias$/, [3 * EMBED]],
  [/\.attn\.proj\.weight$/, [EMBED, EMBED]],
  [/\.mlp\.fc1\.weight$/, [MLP, EMBED]],
  [/\.mlp\.fc1\.bias$/, [MLP]],
  [/\.mlp\.fc2\.weight$/, [EMBED, MLP]],
  [/^head\.weight$/, [CLASSES, EMBED]],
  [/^head\.bias$/, [CLASSES]],
  // Every other bias and every norm is one vector of the embedding width.
  [/(?:\.bias|norm\d?\.weight)$/, [EMBED]],
];

/** The layer-decay fixture: timm's names and group matcher. */
interface Fixture {
  readonly names: readonly string[];
  readonly layerDecay: number;
  readonly groupMatcher: LayerDecay["groupMatcher"];
}

/**
 * ViT-B/16's parameters, zeros, in timm's order.
 *
 * @returns The named parameters, and the fixture's layer decay.
 * @throws {Error} If a fixture name has no known shape.
 */
export async function vitBase(): Promise<{
  params: NamedParameter[];
  layerDecay: LayerDecay;
}> {
  const url = new URL(
    "../tests/fixtures/timm/vit_base_patch16_224.json",
    import.meta.url,
  );
  const fixture = JSON.parse(await Deno.readTextFile(url)) as Fixture;
  const params = fixture.names.map((name) => {
    const shape = SHAPES.find(([pattern]) => pattern.test(name))?.[1];
    if (shape === undefined) throw new Error(`No ViT-B shape for ${name}`);
    const size = shape.reduce((a, b) => a * b, 1);
    return { name, param: new Parameter(new Float32Array(size), shape) };
  });
  return {
    params,
    layerDecay: {
      layerDecay: fixture.layerDecay,
      groupMatcher: fixture.groupMatcher,
    },
  };
}

/** Fused decay and fused AdamW: layer decay's groups against three. */
export const groupsSection: Section = {
  name: "Groups",
  async *comparisons({ device }) {
    const { params, layerDecay } = await vitBase();
    const policy: GroupPolicy = {
      weightDecay: WEIGHT_DECAY,
      lrScale: layerDecay,
    };
    const many = getParamGroups(params, policy);
    const three = getParamGroups(params, THREE_GROUPS);
    const floats = params.reduce((n, p) => n + p.param.size, 0);
    const title = `ViT-B/16 (${params.length} tensors, ${
      (floats / 1e6).toFixed(1)
    }M floats)`;
    yield comparison(device, "decay", title, many, three, (groups) => {
      const decay = GpuDecay.create(device, groups);
      return { step: () => decay.step(LR), destroy: () => decay.destroy() };
    }, 4);
    yield comparison(device, "AdamW", title, many, three, (groups) => {
      const adamw = GpuAdamW.create(device, groups);
      return { step: () => adamw.step(LR), destroy: () => adamw.destroy() };
    }, 3);
  },
};

/** A fused engine's step, and how to free it. */
interface Engine {
  step(): void;
  destroy(): void;
}

function comparison(
  device: GPUDevice,
  what: string,
  title: string,
  many: ParamGroup[],
  three: ParamGroup[],
  create: (groups: ParamGroup[]) => Engine,
  steps: number,
): Comparison {
  const layerDecay = `${what}, layer decay (${many.length} groups)`;
  const plain = `${what}, ${three.length} groups`;
  const engines = [create(many), create(three)];
  return {
    title: `${title}, fused ${what}`,
    timer: { kind: "gpu", device, steps },
    repetitions: 7,
    variants: [
      { name: plain, step: engines[1]!.step },
      { name: layerDecay, step: engines[0]!.step },
    ],
    figures: [{
      label: `fused ${what}, ${many.length} groups`,
      candidate: layerDecay,
      baseline: plain,
      goal: { atLeast: 0.95 },
    }],
    notes: [
      `layer decay: timm's vit_base_patch16_224 group matcher, layerDecay 0.75; the ${three.length} groups decay the same tensors`,
    ],
    destroy: () => engines.forEach((engine) => engine.destroy()),
  };
}
