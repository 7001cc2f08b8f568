// Copyright 2026 the weight-decay authors. MIT license.
/**
 * What linear-time string patterns cost: grouping a BERT-like model of 100,009
 * parameters with string patterns, which run on RE2, against the same patterns as
 * `RegExp` objects, which run on JavaScript's backtracking engine. The model and the
 * policies are shared with `bench/pattern_bench.ts`, the same comparison as a
 * `deno bench` file. Run by `deno task bench`.
 *
 * @module
 */

import {
  getParamGroups,
  namedParameters,
  NORM_TYPES,
  Parameter,
  type WeightDecayPolicy,
} from "../mod.ts";
import type { Section } from "./_harness.ts";

const LAYERS = 6250;

class Linear {
  weight = new Parameter(new Float32Array(1));
  bias = new Parameter(new Float32Array(1));
}
class LayerNorm {
  weight = new Parameter(new Float32Array(1));
  bias = new Parameter(new Float32Array(1));
}
class Embedding {
  weight = new Parameter(new Float32Array(1));
}

/** 16 parameters a layer, plus embeddings, pooler and classifier. */
export function bertLike(): object {
  const layer = () => ({
    attention: {
      self: { query: new Linear(), key: new Linear(), value: new Linear() },
      output: { dense: new Linear(), LayerNorm: new LayerNorm() },
    },
    intermediate: { dense: new Linear() },
    output: { dense: new Linear(), LayerNorm: new LayerNorm() },
  });
  return {
    embeddings: {
      word_embeddings: new Embedding(),
      position_embeddings: new Embedding(),
      token_type_embeddings: new Embedding(),
      LayerNorm: new LayerNorm(),
    },
    encoder: { layers: Array.from({ length: LAYERS }, layer) },
    pooler: { dense: new Linear() },
    head: new Linear(),
  };
}

/** The basecls ResNet policy. */
export const BASECLS = (bias: string | RegExp): WeightDecayPolicy => [
  [1e-5, bias],
  [0, NORM_TYPES],
  1e-4,
];

/** Rules as ported timm and transformers configs write them; most names try them all. */
export const RULES = [
  "^head\\.",
  "(?:^|\\.)(?:pos_embed|cls_token|position_embeddings)$",
  "^encoder\\.layers\\.\\d+\\.attention\\.self\\.(?:query|key)\\.",
  "\\.\\d+\\.output\\.LayerNorm\\.",
  "\\.(?:bias|LayerNorm\\.weight)$",
  "embeddings",
  "bias",
];
export const MANY = (asRegExp: boolean): WeightDecayPolicy => [
  ...RULES.map((rule, i) =>
    [i * 1e-6, asRegExp ? new RegExp(rule) : rule] as const
  ),
  [0, NORM_TYPES],
  1e-4,
];

const REGEXP = "RegExp objects (JavaScript's engine)";
const STRINGS = "string patterns (RE2)";

/** getParamGroups with string patterns against RegExp objects, for two policies. */
export const regexSection: Section = {
  name: "Patterns",
  async *comparisons() {
    const source = namedParameters(bertLike());
    const count = source.length.toLocaleString("en-US");
    for (
      const [what, strings, regexps] of [
        ["basecls policy", BASECLS("bias"), BASECLS(/bias/)],
        ["7 regex rules", MANY(false), MANY(true)],
      ] as const
    ) {
      yield {
        title: `getParamGroups, ${what}, ${count} parameters`,
        timer: { kind: "host", minMs: 200 },
        variants: [
          { name: REGEXP, step: () => void getParamGroups(source, regexps) },
          { name: STRINGS, step: () => void getParamGroups(source, strings) },
        ],
        figures: [{ label: "strings", candidate: STRINGS, baseline: REGEXP }],
      };
    }
  },
};
